//! Write what a run produced: a console summary, JUnit XML and JSON.
//!
//! Reporters read a [`RunResult`] (already redacted by the runner) and never drive a run. The
//! console reporter also prints steps as they finish ([`ConsoleReporter::step`]). Failed checks
//! are rendered with [`diag::Diagnostic`] so the terminal, JUnit and JSON show the same text,
//! pointing at the YAML line of the expectation. Load reports live in `load::report`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::diag::Diagnostic;
use crate::runner::{RunResult, ScenarioResult, StepResult, StepStatus};

/// The JSON report's schema name and version.
pub const RUN_SCHEMA: &str = "jwtprobe.run/1";

/// An error writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be written.
    #[error("failed to write report `{path}`")]
    Write {
        /// The report file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The report could not be serialized.
    #[error("failed to serialize report `{path}`")]
    Serialize {
        /// The report file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Caches scenario file contents so diagnostics can show the offending line.
#[derive(Debug, Default)]
pub struct Sources {
    files: HashMap<Utf8PathBuf, Option<String>>,
}

impl Sources {
    /// The text of `path`, read once; `None` when it cannot be read.
    pub fn get(&mut self, path: &Utf8Path) -> Option<&str> {
        self.files
            .entry(path.to_owned())
            .or_insert_with(|| fs_err::read_to_string(path).ok())
            .as_deref()
    }
}

/// Renders the failures of a step as diagnostics, one per failed check, or the error text.
pub fn render_step_problems(
    scenario: &ScenarioResult,
    step: &StepResult,
    sources: &mut Sources,
) -> String {
    match &step.status {
        StepStatus::Passed => String::new(),
        StepStatus::Failed { outcomes } => {
            let mut out = String::new();
            for outcome in outcomes.iter().filter(|o| !o.passed) {
                let label = format!(
                    "expected {}, actual value is <{}>",
                    outcome.expected, outcome.actual
                );
                let diag = Diagnostic::new(
                    format!(
                        "check failed in step `{}` of scenario `{}`: {}",
                        step.name, scenario.name, outcome.check
                    ),
                    label,
                )
                .at(outcome.at.clone());
                let source = outcome
                    .at
                    .as_ref()
                    .and_then(|at| sources.get(&at.file).map(str::to_owned));
                out.push_str(&diag.render(source.as_deref()));
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            out
        }
        StepStatus::Error { message, .. } => format!(
            "error: step `{}` of scenario `{}` could not run\n{}\n",
            step.name,
            scenario.name,
            indent_causes(message)
        ),
        StepStatus::Skipped { reason } => format!(
            "skipped: step `{}` of scenario `{}`: {reason}\n",
            step.name, scenario.name
        ),
    }
}

/// Indents every line after the first as a `caused by:` line.
fn indent_causes(message: &str) -> String {
    let mut lines = message.lines();
    let mut out = format!("  {}", lines.next().unwrap_or_default());
    for line in lines {
        let _ = write!(out, "\n  caused by: {line}");
    }
    out
}

/// Prints progress and the summary of a run to stderr.
#[derive(Debug, Default)]
pub struct ConsoleReporter {
    sources: Sources,
    /// Print every step (`--verbose`), not just failures and scenario lines.
    pub verbose: bool,
}

impl ConsoleReporter {
    /// A console reporter; `verbose` prints every step, not just failures.
    pub fn new(verbose: bool) -> Self {
        Self {
            sources: Sources::default(),
            verbose,
        }
    }

    /// Formats one finished scenario: a line per scenario, failed steps with diagnostics.
    pub fn scenario(&mut self, scenario: &ScenarioResult) -> String {
        let mut out = String::new();
        let mark = if scenario.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{mark} {} ({} steps, {})",
            scenario.name,
            scenario.steps.len(),
            fmt_duration(scenario.duration)
        );
        for step in &scenario.steps {
            let word = match step.status {
                StepStatus::Passed => "ok",
                StepStatus::Failed { .. } => "FAILED",
                StepStatus::Error { .. } => "ERROR",
                StepStatus::Skipped { .. } => "skipped",
            };
            if self.verbose || !step.status.is_passed() {
                let status = step
                    .response
                    .as_ref()
                    .map(|r| format!(" -> {}", r.status))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {word:<7} {}{status} ({})",
                    step.name,
                    fmt_duration(step.duration)
                );
            }
            if !step.status.is_passed() {
                let text = render_step_problems(scenario, step, &mut self.sources);
                for line in text.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        // Names and excerpts come from scenario files and the target. See: issue #13.
        crate::diag::printable(&out).into_owned()
    }

    /// Formats the closing summary line(s).
    pub fn summary(&self, result: &RunResult) -> String {
        let t = result.totals();
        let failed_scenarios = result.scenarios.iter().filter(|s| !s.passed()).count();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n{} scenarios, {} steps against {}{} in {}",
            t.scenarios,
            t.passed + t.failed + t.errors + t.skipped,
            result.target,
            if result.emulator {
                " (built-in emulator)"
            } else {
                ""
            },
            fmt_duration(result.duration)
        );
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} errors, {} skipped ({} scenarios failed)",
            t.passed, t.failed, t.errors, t.skipped, failed_scenarios
        );
        if result.interrupted {
            let _ = writeln!(
                out,
                "interrupted: the run was stopped before it finished; the reports cover what ran"
            );
        }
        out
    }
}

/// Formats a duration for people: `850µs`, `12.3ms`, `1.24s`.
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// Builds the JUnit report: one test suite per scenario, one test case per step.
pub fn junit(result: &RunResult) -> Report {
    let mut sources = Sources::default();
    let mut report = Report::new("jwtprobe");
    report.set_time(result.duration);
    for scenario in &result.scenarios {
        let mut suite = TestSuite::new(scenario.name.clone());
        suite.set_time(scenario.duration);
        // See: issue #13 (a cancelled run must not look complete).
        if result.interrupted {
            suite.add_property(quick_junit::Property::new("interrupted", "true"));
        }
        for step in &scenario.steps {
            let status = match &step.status {
                StepStatus::Passed => TestCaseStatus::success(),
                StepStatus::Failed { outcomes } => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let first = outcomes.iter().find(|o| !o.passed);
                    if let Some(o) = first {
                        s.set_message(format!(
                            "{}: expected {}, actual <{}>",
                            o.check, o.expected, o.actual
                        ));
                    }
                    s.set_type("check");
                    s.set_description(render_step_problems(scenario, step, &mut sources));
                    s
                }
                StepStatus::Error { message, class } => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(message.lines().next().unwrap_or_default().to_owned());
                    s.set_type(class.clone().unwrap_or_else(|| "error".to_owned()));
                    s.set_description(message.clone());
                    s
                }
                StepStatus::Skipped { reason } => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(reason.clone());
                    s
                }
            };
            let mut case = TestCase::new(step.name.clone(), status);
            case.set_classname(format!("{}.{}", classname(&scenario.path), scenario.name));
            case.set_time(step.duration);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
}

/// A JUnit class name from a scenario path: `scenarios/qlik/expired.yaml` → `scenarios.qlik.expired`.
fn classname(path: &Utf8Path) -> String {
    path.with_extension("")
        .components()
        .map(|c| c.as_str().replace('.', "_"))
        .filter(|c| c != "_" && c != "__")
        .collect::<Vec<_>>()
        .join(".")
}

/// Writes the JUnit report to `path`, creating parent folders.
pub fn write_junit(result: &RunResult, path: &Utf8Path) -> Result<(), ReportError> {
    let text = junit(result)
        .to_string()
        .map_err(|e| ReportError::Serialize {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
    write_file(path, text.as_bytes())
}

/// Builds the JSON report (`jwtprobe.run/1`).
pub fn json(result: &RunResult) -> serde_json::Value {
    let mut value = serde_json::json!({ "schema": RUN_SCHEMA, "totals": result.totals() });
    if let (Some(obj), Ok(serde_json::Value::Object(run))) =
        (value.as_object_mut(), serde_json::to_value(result))
    {
        obj.extend(run);
    }
    value
}

/// Writes the JSON report to `path`, creating parent folders.
pub fn write_json(result: &RunResult, path: &Utf8Path) -> Result<(), ReportError> {
    let text = serde_json::to_vec_pretty(&json(result)).map_err(|e| ReportError::Serialize {
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    write_file(path, &text)
}

/// Writes bytes to a report file, creating its folder.
pub fn write_file(path: &Utf8Path, bytes: &[u8]) -> Result<(), ReportError> {
    let wrap = |source| ReportError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_str().is_empty()) {
        fs_err::create_dir_all(parent).map_err(wrap)?;
    }
    fs_err::write(path, bytes).map_err(wrap)
}
