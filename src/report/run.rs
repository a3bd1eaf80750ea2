//! The run's console output and JSON report (`jwtprobe.run/1`).
//!
//! Failed checks are rendered with [`diag::Diagnostic`] so the terminal, JUnit, JSON and HTML
//! show the same text, pointing at the YAML line of the expectation. The YAML text comes from
//! the [`Sources`] the scenarios were read from, never from the disk again.
//!
//! [`diag::Diagnostic`]: crate::diag::Diagnostic

use std::fmt::Write as _;
use std::time::Duration;

use super::color::Palette;
use super::{ReportError, RunReport};
use crate::diag::{Diagnostic, printable};
use crate::runner::{RunResult, ScenarioResult, StepResult, StepStatus};
use crate::scenario::Sources;

/// The JSON report's schema name and version.
pub const RUN_SCHEMA: &str = "jwtprobe.run/1";

/// Renders the failures of a step as diagnostics, one per failed check, or the error text.
pub fn render_step_problems(
    scenario: &ScenarioResult,
    step: &StepResult,
    sources: &Sources,
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
                let source = outcome.at.as_ref().and_then(|at| sources.get(&at.file));
                out.push_str(&diag.render(source));
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            out
        }
        StepStatus::Error(error) => {
            let source = error.at.as_ref().and_then(|at| sources.get(&at.file));
            let mut out = error
                .to_diagnostic(&scenario.name, &step.name)
                .render(source);
            for cause in error.causes() {
                let _ = writeln!(out, "  caused by: {}", printable(cause));
            }
            out
        }
        StepStatus::Skipped { reason } => format!(
            "skipped: step `{}` of scenario `{}`: {reason}\n",
            step.name, scenario.name
        ),
    }
}

/// How much the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Only failed scenarios (with their diagnostics) and the closing summary (`-q`).
    Quiet,
    /// A line per scenario, failed steps with diagnostics, the summary.
    #[default]
    Normal,
    /// Every step too (`-v`).
    Verbose,
}

/// Formats progress and the summary of a run for stderr.
#[derive(Debug, Default)]
pub struct ConsoleReporter {
    sources: Sources,
    verbosity: Verbosity,
    palette: Palette,
}

impl ConsoleReporter {
    /// A console reporter drawing YAML lines from `sources`.
    pub fn new(sources: Sources, verbosity: Verbosity, palette: Palette) -> Self {
        Self {
            sources,
            verbosity,
            palette,
        }
    }

    /// Formats one finished scenario: a line per scenario, failed steps with diagnostics.
    pub fn scenario(&self, scenario: &ScenarioResult) -> String {
        let mut out = String::new();
        let passed = scenario.passed();
        if passed && self.verbosity == Verbosity::Quiet {
            return out;
        }
        let mark = if passed {
            self.palette.pass("PASS")
        } else {
            self.palette.fail("FAIL")
        };
        // Names and excerpts come from scenario files and from the target: control bytes are
        // shown escaped, never sent to the terminal (issue #13), and the colours stay ours.
        let _ = writeln!(
            out,
            "{mark} {} ({} steps, {})",
            printable(&scenario.name),
            scenario.steps.len(),
            fmt_duration(scenario.duration)
        );
        for step in &scenario.steps {
            let word = match step.status {
                StepStatus::Passed => "ok",
                StepStatus::Failed { .. } => "FAILED",
                StepStatus::Error(_) => "ERROR",
                StepStatus::Skipped { .. } => "skipped",
            };
            if self.verbosity == Verbosity::Verbose || !step.status.is_passed() {
                let status = step
                    .response
                    .as_ref()
                    .map(|r| format!(" -> {}", r.status))
                    .unwrap_or_default();
                let padded = format!("{word:<7}");
                let word = match step.status {
                    StepStatus::Passed => self.palette.pass(&padded),
                    StepStatus::Skipped { .. } => self.palette.dim(&padded),
                    _ => self.palette.fail(&padded),
                };
                let _ = writeln!(
                    out,
                    "    {word} {}{status} ({})",
                    printable(&step.name),
                    fmt_duration(step.duration)
                );
            }
            if !step.status.is_passed() {
                let text = render_step_problems(scenario, step, &self.sources);
                for line in printable(&text).lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        out
    }

    /// Formats the closing summary line(s).
    pub fn summary(&self, result: &RunResult) -> String {
        let t = result.totals();
        let failed_scenarios = result.scenarios.iter().filter(|s| !s.passed()).count();
        // The conformance verdicts, when the run has them, come before the totals.
        let mut out = result
            .conformance
            .as_ref()
            .map(super::conformance::console)
            .unwrap_or_default();
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
        let verdict = if t.failed + t.errors == 0 {
            self.palette.pass("PASSED")
        } else {
            self.palette.fail("FAILED")
        };
        let _ = writeln!(
            out,
            "{verdict}: {} passed, {} failed, {} errors, {} skipped ({} scenarios failed)",
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

/// Builds the JSON report (`jwtprobe.run/1`, see `schemas/run.schema.json`).
///
/// Each step that did not pass carries `diagnostic`: the text the terminal shows, with the
/// YAML line and caret, so the HTML report can be drawn from the JSON alone.
pub fn json(report: &RunReport<'_>) -> serde_json::Value {
    let result = report.result;
    let mut value = serde_json::json!({
        "schema": RUN_SCHEMA,
        "meta": report.meta,
        "totals": result.totals(),
    });
    if let (Some(obj), Ok(serde_json::Value::Object(run))) =
        (value.as_object_mut(), serde_json::to_value(result))
    {
        obj.extend(run);
    }
    for (i, scenario) in result.scenarios.iter().enumerate() {
        for (j, step) in scenario.steps.iter().enumerate() {
            if step.status.is_passed() {
                continue;
            }
            let text = render_step_problems(scenario, step, report.sources);
            if let Some(step_json) = value
                .pointer_mut(&format!("/scenarios/{i}/steps/{j}"))
                .and_then(serde_json::Value::as_object_mut)
            {
                step_json.insert("diagnostic".to_owned(), text.into());
            }
        }
    }
    value
}

/// The JSON report as pretty-printed bytes.
pub fn json_bytes(report: &RunReport<'_>) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&json(report)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The target and emulator flag of a result, for [`Meta`](super::Meta).
pub fn describe_target(result: &RunResult) -> String {
    if result.emulator {
        format!("{} (built-in emulator)", result.target)
    } else {
        result.target.clone()
    }
}

/// Writes the JSON report to `path` (`-` for stdout).
pub fn write_json(report: &RunReport<'_>, path: &camino::Utf8Path) -> Result<(), ReportError> {
    super::write_output("JSON", path, &json_bytes(report))
}

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;

    use super::*;
    use crate::check::Outcome;
    use crate::diag::{Located, Span};
    use crate::report::Meta;
    use crate::runner::{RequestSummary, ResponseSummary, Timings};

    const YAML: &str = "name: expired token\nsteps:\n  - name: open the hub\n    request:\n      url: /hub/\n    expect:\n      status: 200\n";

    /// A finished run fixed in every field: one scenario, a passed and a failed step.
    fn fixed_run() -> (RunResult, Sources, Meta) {
        let path = Utf8PathBuf::from("scenarios/qlik/expired.yaml");
        let start = YAML.find("200").unwrap();
        let at = Located::new(
            path.clone(),
            Span {
                start,
                end: start + 3,
                line: 7,
                col: 15,
            },
        );
        let request = RequestSummary {
            method: "GET".to_owned(),
            url: "https://qlik.test/jwt/hub/".to_owned(),
            headers: vec![(
                "authorization".to_owned(),
                "Bearer eyJh.eyJw.…sig:1a2b3c4d".to_owned(),
            )],
            token: Some("eyJh.eyJw.…sig:1a2b3c4d".to_owned()),
        };
        let response = |status: u16, body: &str| ResponseSummary {
            status,
            headers: vec![(
                "set-cookie".to_owned(),
                "X=••••(len 36, sha256:1a2b3c4d)".to_owned(),
            )],
            body_excerpt: body.to_owned(),
            body_len: body.len(),
        };
        let timings = Timings {
            started_unix_ms: 1_767_225_600_000,
            ttfb_us: 900,
            total_us: 1_000,
        };
        let passed = StepResult {
            name: "log in".to_owned(),
            status: StepStatus::Passed,
            request: Some(request.clone()),
            response: Some(response(200, "<h1>Hub</h1>")),
            timings: Some(timings),
            duration: Duration::from_micros(1_100),
        };
        let failed = StepResult {
            name: "open the hub".to_owned(),
            status: StepStatus::Failed {
                outcomes: vec![Outcome {
                    check: "status".to_owned(),
                    passed: false,
                    expected: "200".to_owned(),
                    actual: "400".to_owned(),
                    at: Some(at),
                }],
            },
            request: Some(request),
            response: Some(response(400, "<h1>Bad Request</h1>")),
            timings: Some(timings),
            duration: Duration::from_micros(1_300),
        };
        let result = RunResult {
            target: "https://qlik.test/".to_owned(),
            emulator: false,
            now: 1_767_225_600,
            scenarios: vec![ScenarioResult {
                name: "expired token".to_owned(),
                path: path.clone(),
                tags: vec!["qlik".to_owned()],
                steps: vec![passed, failed],
                duration: Duration::from_micros(2_500),
                conformance: None,
            }],
            duration: Duration::from_micros(3_000),
            conformance: None,
            interrupted: false,
        };
        let mut sources = Sources::default();
        sources.insert(path, YAML.to_owned());
        let meta = Meta {
            tool: "jwtprobe".to_owned(),
            version: "0.0.0".to_owned(),
            hostname: "host".to_owned(),
            started: "2026-01-01T00:00:00Z".to_owned(),
            target: "https://qlik.test/".to_owned(),
        };
        (result, sources, meta)
    }

    /// The fixed run with its failed step turned into an error at `at`: a refused connection
    /// with two causes.
    fn run_with_an_error_at(at: Option<Located>) -> (RunResult, Sources, Meta) {
        let (mut result, sources, meta) = fixed_run();
        let step = &mut result.scenarios[0].steps[1];
        step.status = StepStatus::Error(crate::runner::StepError::new(
            crate::runner::StepErrorKind::Send(crate::client::ErrorClass::Connect),
            "failed to connect to `https://qlik.test/jwt/hub/`\nerror sending request\nconnection refused",
            at,
        ));
        step.response = None;
        step.timings = None;
        (result, sources, meta)
    }

    #[test]
    fn runtime_error_points_at_its_step_with_a_caret_in_every_format() {
        let start = YAML.find("open the hub").unwrap();
        let at = Located::new(
            "scenarios/qlik/expired.yaml",
            Span {
                start,
                end: start + "open the hub".len(),
                line: 3,
                col: 11,
            },
        );
        let (result, sources, meta) = run_with_an_error_at(Some(at));
        let scenario = &result.scenarios[0];
        let text = render_step_problems(scenario, &scenario.steps[1], &sources);
        assert_eq!(
            text,
            "error: step `open the hub` of scenario `expired token` could not run\n\
             \x20--> scenarios/qlik/expired.yaml:3:11\n\
             \x20 |\n\
             3 |   - name: open the hub\n\
             \x20 |           ^^^^^^^^^^^^ failed to connect to `https://qlik.test/jwt/hub/`\n\
             \x20 |\n\
             \x20 caused by: error sending request\n\
             \x20 caused by: connection refused\n"
        );
        let report = RunReport {
            result: &result,
            sources: &sources,
            meta: &meta,
        };
        let json = json(&report);
        let step = &json["scenarios"][0]["steps"][1];
        assert_eq!(step["status"], "error");
        assert_eq!(step["class"], "connect");
        assert_eq!(step["at"]["file"], "scenarios/qlik/expired.yaml");
        assert_eq!(step["at"]["span"]["line"], 3);
        assert_eq!(step["at"]["span"]["col"], 11);
        assert_eq!(step["diagnostic"], text.as_str());
        let junit = crate::report::junit::run(&report);
        assert!(
            junit.contains("<error type=\"connect\" message=\"failed to connect to `https://qlik.test/jwt/hub/`\">"),
            "{junit}"
        );
        assert!(junit.contains("expired.yaml:3:11"), "{junit}");
        assert!(junit.contains("^^^^^^^^^^^^ failed to connect"), "{junit}");
    }

    #[test]
    fn runtime_error_without_a_place_shows_the_message_and_its_causes() {
        let (result, sources, _) = run_with_an_error_at(None);
        let scenario = &result.scenarios[0];
        let text = render_step_problems(scenario, &scenario.steps[1], &sources);
        assert_eq!(
            text,
            "error: step `open the hub` of scenario `expired token` could not run\n\
             \x20 failed to connect to `https://qlik.test/jwt/hub/`\n\
             \x20 caused by: error sending request\n\
             \x20 caused by: connection refused\n"
        );
    }

    #[test]
    fn json_report_of_a_fixed_run_looks_like_this() {
        let (result, sources, meta) = fixed_run();
        let report = RunReport {
            result: &result,
            sources: &sources,
            meta: &meta,
        };
        let dir = std::env::temp_dir().join(format!("jwtprobe-run-json-{}", uuid::Uuid::new_v4()));
        let path = camino::Utf8PathBuf::from_path_buf(dir)
            .unwrap()
            .join("run.json");
        write_json(&report, &path).unwrap();
        let written = fs_err::read_to_string(&path).unwrap();
        fs_err::remove_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(written.as_bytes(), json_bytes(&report));
        insta::assert_snapshot!("run_json", written);
    }
}
