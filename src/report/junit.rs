//! JUnit XML in the dialect of Jenkins xUnit's `junit-10.xsd`, which every CI server reads.
//!
//! `run`: one `<testsuite>` per scenario, one `<testcase>` per step; a failed check is a
//! `<failure type="check">` whose text is the diagnostic with its YAML line; a step that could
//! not run is an `<error>` typed by its error class. `load`: one `<testsuite>`, one
//! `<testcase>` per threshold (a breach is a `<failure type="threshold">`), or one passing
//! testcase when there are no thresholds.
//!
//! Every `<testsuite>` carries `timestamp`, `hostname` and `<properties>` with the target and
//! the tool's version. Class names derive from the scenario path relative to the current
//! folder (`scenarios/qlik/expired.yaml` → `scenarios.qlik.expired`), so an absolute path does
//! not leak the build machine's folders into test names.
//!
//! The XML is written here rather than with `quick-junit` because `junit-10.xsd` rejects
//! attributes that crate always writes (`skipped` and `timestamp` on `<testsuites>`,
//! `<properties>` inside `<testcase>`); `tests/it/reports.rs` validates both reports against
//! the XSD.

use std::fmt::Write as _;
use std::time::Duration;

use camino::Utf8Path;

use super::load::Summary;
use super::{Meta, RunReport, render_step_problems};
use crate::runner::StepStatus;

/// Escapes text for an XML attribute or element, dropping characters XML 1.0 forbids.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Seconds with millisecond precision, as `junit-10.xsd`'s `SUREFIRE_TIME` wants.
fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// A JUnit class name from a scenario path, relative to the current folder when under it:
/// `scenarios/qlik/expired.yaml` → `scenarios.qlik.expired`.
pub fn classname(path: &Utf8Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| camino::Utf8PathBuf::from_path_buf(d).ok());
    let relative = cwd
        .as_deref()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path);
    relative
        .with_extension("")
        .components()
        .filter_map(|c| match c {
            camino::Utf8Component::Normal(part) => Some(part.replace('.', "_")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// One testcase, already rendered.
struct Case {
    name: String,
    classname: String,
    time: Duration,
    /// `<failure …>`, `<error …>` or `<skipped …>` element, or empty.
    body: String,
}

/// One testsuite's counts and cases.
struct Suite {
    name: String,
    time: Duration,
    properties: Vec<(String, String)>,
    cases: Vec<Case>,
    system_out: Option<String>,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// A `<failure>`, `<error>` or similar element with its type, message and text, escaped.
pub fn element(kind: &str, r#type: &str, message: &str, text: &str) -> String {
    format!(
        "<{kind} type=\"{}\" message=\"{}\">{}</{kind}>",
        escape(r#type),
        escape(message),
        escape(text)
    )
}

fn document(name: &str, time: Duration, meta: &Meta, suites: &[Suite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(|s| s.failures).sum();
    let errors: usize = suites.iter().map(|s| s.errors).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
        escape(name),
        secs(time)
    );
    for (id, suite) in suites.iter().enumerate() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\" id=\"{id}\">",
            escape(&suite.name),
            suite.cases.len(),
            suite.failures,
            suite.errors,
            suite.skipped,
            secs(suite.time),
            escape(&meta.started),
            escape(&meta.hostname),
        );
        out.push_str("    <properties>\n");
        for (k, v) in &suite.properties {
            let _ = writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                escape(k),
                escape(v)
            );
        }
        out.push_str("    </properties>\n");
        for case in &suite.cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
                escape(&case.name),
                escape(&case.classname),
                secs(case.time)
            );
            if case.body.is_empty() {
                out.push_str("/>\n");
            } else {
                let _ = writeln!(out, ">\n      {}\n    </testcase>", case.body);
            }
        }
        if let Some(text) = &suite.system_out {
            let _ = writeln!(out, "    <system-out>{}</system-out>", escape(text));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn common_properties(meta: &Meta) -> Vec<(String, String)> {
    vec![
        ("target".to_owned(), meta.target.clone()),
        ("jwtprobe.version".to_owned(), meta.version.clone()),
    ]
}

/// The JUnit report of a run: one testsuite per scenario, one testcase per step, and when the
/// run has conformance verdicts one more testsuite, `conformance`, with one testcase per
/// security property.
pub fn run(report: &RunReport<'_>) -> String {
    let result = report.result;
    let mut suites = Vec::with_capacity(result.scenarios.len());
    for scenario in &result.scenarios {
        let class = {
            let path = classname(&scenario.path);
            if path.is_empty() {
                scenario.name.clone()
            } else {
                format!("{path}.{}", scenario.name)
            }
        };
        let mut suite = Suite {
            name: scenario.name.clone(),
            time: scenario.duration,
            properties: common_properties(report.meta),
            cases: Vec::with_capacity(scenario.steps.len()),
            system_out: None,
            failures: 0,
            errors: 0,
            skipped: 0,
        };
        suite
            .properties
            .push(("file".to_owned(), scenario.path.to_string()));
        // See: issue #13 (a cancelled run must not look complete).
        if result.interrupted {
            suite
                .properties
                .push(("interrupted".to_owned(), "true".to_owned()));
        }
        for step in &scenario.steps {
            let body = match &step.status {
                StepStatus::Passed => String::new(),
                StepStatus::Failed { outcomes } => {
                    suite.failures += 1;
                    let message = outcomes
                        .iter()
                        .find(|o| !o.passed)
                        .map(|o| {
                            format!(
                                "{}: expected {}, actual <{}>",
                                o.check, o.expected, o.actual
                            )
                        })
                        .unwrap_or_default();
                    let text = render_step_problems(scenario, step, report.sources);
                    element("failure", "check", &message, &text)
                }
                StepStatus::Error(error) => {
                    suite.errors += 1;
                    let text = render_step_problems(scenario, step, report.sources);
                    element(
                        "error",
                        error.kind.class().unwrap_or("error"),
                        error.message.lines().next().unwrap_or_default(),
                        &text,
                    )
                }
                StepStatus::Skipped { reason } => {
                    suite.skipped += 1;
                    format!("<skipped message=\"{}\"/>", escape(reason))
                }
            };
            suite.cases.push(Case {
                name: step.name.clone(),
                classname: class.clone(),
                time: step.duration,
                body,
            });
        }
        suites.push(suite);
    }
    if let Some(verdicts) = &result.conformance {
        suites.push(conformance_suite(verdicts, report.meta));
    }
    document("jwtprobe", result.duration, report.meta, &suites)
}

/// The `conformance` testsuite: one testcase per property (see
/// [`super::conformance::junit_case`]).
fn conformance_suite(
    verdicts: &crate::runner::conformance::ConformanceReport,
    meta: &Meta,
) -> Suite {
    use super::conformance::{JunitOutcome, junit_case};
    let mut suite = Suite {
        name: "conformance".to_owned(),
        time: Duration::ZERO,
        properties: common_properties(meta),
        cases: Vec::with_capacity(verdicts.properties.len()),
        system_out: None,
        failures: 0,
        errors: 0,
        skipped: 0,
    };
    for p in &verdicts.properties {
        let (body, outcome) = junit_case(p);
        match outcome {
            JunitOutcome::Passed => {}
            JunitOutcome::Failure => suite.failures += 1,
            JunitOutcome::Error => suite.errors += 1,
            JunitOutcome::Skipped => suite.skipped += 1,
        }
        suite.cases.push(Case {
            name: format!("{}: {}", p.id, p.property),
            classname: "conformance".to_owned(),
            time: Duration::ZERO,
            body,
        });
    }
    suite
}

/// The JUnit report of a load run: one testcase per threshold, or one passing testcase for
/// the run when there are none. `name` names the run (the scenario or `merged`).
pub fn load(summary: &Summary<'_>, name: &str, meta: &Meta) -> String {
    let mut suite = Suite {
        name: format!("load: {name}"),
        time: summary.elapsed,
        properties: common_properties(meta),
        cases: Vec::new(),
        system_out: Some(super::load::summary_table(summary)),
        failures: 0,
        errors: 0,
        skipped: 0,
    };
    suite.properties.extend([
        ("model".to_owned(), summary.model.clone()),
        (
            "schedule_kept".to_owned(),
            summary.schedule_kept.to_string(),
        ),
        ("interrupted".to_owned(), summary.interrupted.to_string()),
        ("cancelled".to_owned(), summary.cancelled.to_string()),
    ]);
    let class = format!("load.{}", name.replace('.', "_"));
    if summary.verdicts.is_empty() {
        suite.cases.push(Case {
            name: "load run".to_owned(),
            classname: class.clone(),
            time: summary.elapsed,
            body: String::new(),
        });
    }
    for v in summary.verdicts {
        let body = if v.passed {
            format!("<system-out>actual {}</system-out>", escape(&v.actual_text))
        } else {
            suite.failures += 1;
            element(
                "failure",
                "threshold",
                &format!(
                    "threshold `{}` breached: actual {}",
                    v.threshold, v.actual_text
                ),
                &format!("threshold `{}`: actual {}", v.threshold, v.actual_text),
            )
        };
        suite.cases.push(Case {
            name: format!("threshold {}", v.threshold),
            classname: class.clone(),
            time: Duration::ZERO,
            body,
        });
    }
    document("jwtprobe load", summary.elapsed, meta, &[suite])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_markup_quotes_and_control_characters() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("x\u{1b}[31m"), "x\\u{1b}[31m");
        assert_eq!(escape("tab\tnl\n"), "tab\tnl\n");
    }

    #[test]
    fn classname_of_an_absolute_path_outside_the_folder_has_no_leading_dot() {
        assert_eq!(
            // Never under the folder the tests run in.
            classname(Utf8Path::new(
                "/nonexistent-root/scenarios/qlik/expired.yaml"
            )),
            "nonexistent-root.scenarios.qlik.expired"
        );
        assert_eq!(
            classname(Utf8Path::new("scenarios/qlik/v1.2.yaml")),
            "scenarios.qlik.v1_2"
        );
        assert_eq!(classname(Utf8Path::new("../x/a.yaml")), "x.a");
    }

    #[test]
    fn classname_under_the_current_folder_is_relative() {
        let cwd = camino::Utf8PathBuf::from_path_buf(std::env::current_dir().unwrap()).unwrap();
        assert_eq!(
            classname(&cwd.join("scenarios/qlik/expired.yaml")),
            "scenarios.qlik.expired"
        );
    }
}
