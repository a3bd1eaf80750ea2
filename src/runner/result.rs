//! What a run produced: one [`StepResult`] per step, grouped by scenario.
//!
//! These types are already redacted: a [`StepResult`] never holds a full token, an
//! Authorization value or a cookie value, so every reporter can print them as they are.

use std::time::{Duration, SystemTime};

use camino::Utf8PathBuf;
use serde::Serialize;

use crate::check::Outcome;
use crate::client::ErrorClass;
use crate::diag::{Diagnostic, Located};

/// How a step ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    /// Every check passed.
    Passed,
    /// At least one check failed; holds every outcome (passed ones too).
    Failed {
        /// The outcomes of all checks of the step.
        outcomes: Vec<Outcome>,
    },
    /// The step could not run: minting, sending or templating failed.
    Error(StepError),
    /// The step did not run because an earlier step of its scenario could not run.
    Skipped {
        /// Why.
        reason: String,
    },
}

impl StepStatus {
    /// Whether the step passed.
    pub fn is_passed(&self) -> bool {
        matches!(self, Self::Passed)
    }
}

/// Why a step could not run, and where in its scenario file.
///
/// Serialized as the JSON report's `message`, `class` and `at` fields of an error step;
/// rendered with [`crate::diag::Diagnostic`] like a parse error (see `report::run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepError {
    /// The error and its causes, one per line, already redacted.
    pub message: String,
    /// What failed; reported as `class` (`connect`, `timeout`, `interrupted`, …, or `null`).
    #[serde(rename = "class")]
    pub kind: StepErrorKind,
    /// The YAML the error points at: the step (a send failure, an interrupt), its `request:`
    /// (a request that cannot be built), the `key:` of the token block that built its token
    /// (or the block), or the expectation whose template failed. `None` for scenarios not read
    /// from a file.
    pub at: Option<Located>,
}

impl StepError {
    /// An error of `kind` with its message, at `at`.
    pub fn new(kind: StepErrorKind, message: impl Into<String>, at: Option<Located>) -> Self {
        Self {
            message: message.into(),
            kind,
            at,
        }
    }

    /// The error as a diagnostic: ``step `s` of scenario `n` could not run`` with the caret
    /// under [`Self::at`] and the first line of the message as its label. The causes (the
    /// message's further lines) are not in it: see [`Self::causes`].
    pub fn to_diagnostic(&self, scenario: &str, step: &str) -> Diagnostic {
        Diagnostic::new(
            format!("step `{step}` of scenario `{scenario}` could not run"),
            self.message.lines().next().unwrap_or_default(),
        )
        .at(self.at.clone())
    }

    /// The causes of the error (the message's lines after the first), outermost first.
    pub fn causes(&self) -> impl Iterator<Item = &str> {
        self.message.lines().skip(1)
    }
}

/// What kind of failure stopped a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepErrorKind {
    /// The request was sent but failed in transport (connect, TLS, timeout, body cap, other).
    Send(ErrorClass),
    /// The HTTP client of the scenario could not be built (a CA file, TLS settings).
    Client,
    /// The token could not be built: a key that does not fit, a template, a time claim,
    /// minting or a transform.
    Token,
    /// The request could not be built: a template, the method, the URL, a header or the body.
    Request,
    /// A template in an expectation could not be rendered.
    Expect,
    /// A stop signal (SIGINT, SIGTERM) ended the run while the step was in flight.
    Interrupted,
}

impl StepErrorKind {
    /// The `class` of the JSON report and the `type` of the JUnit `<error>`: the transport
    /// class of a send failure, `interrupted`, or `None` for errors in building the request.
    pub fn class(self) -> Option<&'static str> {
        match self {
            Self::Send(class) => Some(class.as_str()),
            Self::Interrupted => Some("interrupted"),
            Self::Client | Self::Token | Self::Request | Self::Expect => None,
        }
    }
}

impl Serialize for StepErrorKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.class().serialize(serializer)
    }
}

/// A request as reported, with secrets redacted.
#[derive(Debug, Clone, Serialize)]
pub struct RequestSummary {
    /// The method.
    pub method: String,
    /// The URL, with a token in the query redacted.
    pub url: String,
    /// Headers in the order sent, with Authorization and Cookie values redacted.
    pub headers: Vec<(String, String)>,
    /// The redacted token sent (header.payload plus a signature fingerprint), if any.
    pub token: Option<String>,
}

/// A response as reported, with cookie values redacted.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseSummary {
    /// The status code.
    pub status: u16,
    /// Headers in order; Set-Cookie values redacted.
    pub headers: Vec<(String, String)>,
    /// The start of the body (at most 2 KiB, lossy UTF-8).
    pub body_excerpt: String,
    /// The full body length in bytes.
    pub body_len: usize,
}

/// Timings of one exchange.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timings {
    /// When the request was sent, as milliseconds since the Unix epoch.
    pub started_unix_ms: u128,
    /// Time to the response headers, in microseconds.
    pub ttfb_us: u128,
    /// Time to the end of the body, in microseconds.
    pub total_us: u128,
}

impl Timings {
    /// Builds timings from the client's measurements.
    pub fn new(started: SystemTime, ttfb: Duration, total: Duration) -> Self {
        Self {
            started_unix_ms: started
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            ttfb_us: ttfb.as_micros(),
            total_us: total.as_micros(),
        }
    }
}

/// The result of one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// The step's name.
    pub name: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: StepStatus,
    /// The request sent, if one was built.
    pub request: Option<RequestSummary>,
    /// The response, if one came.
    pub response: Option<ResponseSummary>,
    /// Timings, if a response came.
    pub timings: Option<Timings>,
    /// Wall time the step took, minting and checking included.
    #[serde(with = "duration_us")]
    pub duration: Duration,
}

/// The result of one scenario (one matrix variant counts as one scenario).
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// The scenario's name (with `[variant]` for matrix variants).
    pub name: String,
    /// The scenario file.
    pub path: Utf8PathBuf,
    /// Its tags.
    pub tags: Vec<String>,
    /// One result per step, in order.
    pub steps: Vec<StepResult>,
    /// Wall time of the whole scenario.
    #[serde(with = "duration_us")]
    pub duration: Duration,
    /// What the scenario found about its conformance property, when it checks one (the JSON
    /// report carries it in `conformance`, per property, instead).
    #[serde(skip)]
    pub conformance: Option<super::conformance::ScenarioFinding>,
}

impl ScenarioResult {
    /// Whether no step failed or could not run, and some step ran or the scenario does not
    /// apply to the target (a conformance variant skipped as not applicable).
    pub fn passed(&self) -> bool {
        let not_applicable = self
            .conformance
            .as_ref()
            .is_some_and(|c| c.outcome == super::conformance::Verdict::NotApplicable);
        not_applicable || self.steps.iter().all(|s| s.status.is_passed())
    }
}

/// Counts over a whole run.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Scenarios run.
    pub scenarios: usize,
    /// Steps that passed.
    pub passed: usize,
    /// Steps with a failed check.
    pub failed: usize,
    /// Steps that could not run.
    pub errors: usize,
    /// Steps skipped after an error.
    pub skipped: usize,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The base URL the run targeted.
    pub target: String,
    /// Whether the target was the built-in emulator.
    pub emulator: bool,
    /// The pinned "now" used for time claims, in seconds since the Unix epoch.
    pub now: i64,
    /// Every scenario, in the order run.
    pub scenarios: Vec<ScenarioResult>,
    /// Wall time of the run.
    #[serde(with = "duration_us")]
    pub duration: Duration,
    /// The conformance verdicts, property by property, when the run held conformance
    /// scenarios.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conformance: Option<super::conformance::ConformanceReport>,
    /// True when SIGINT or SIGTERM stopped the run: `scenarios` holds what ran, the step in
    /// flight as an error of class `interrupted`.
    pub interrupted: bool,
}

impl RunResult {
    /// Counts of steps by status.
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            scenarios: self.scenarios.len(),
            ..Totals::default()
        };
        for step in self.scenarios.iter().flat_map(|s| &s.steps) {
            match step.status {
                StepStatus::Passed => t.passed += 1,
                StepStatus::Failed { .. } => t.failed += 1,
                StepStatus::Error(_) => t.errors += 1,
                StepStatus::Skipped { .. } => t.skipped += 1,
            }
        }
        t
    }
}

/// Serializes a duration as whole microseconds.
mod duration_us {
    use std::time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u128(d.as_micros())
    }
}
