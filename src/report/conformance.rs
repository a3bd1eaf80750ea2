//! The conformance report: one verdict per security property, as a security reviewer reads
//! it ("violated: refuses tokens without `exp`"), in the console and in JUnit (one testcase
//! per property in a suite named `conformance`). The JSON report carries the same verdicts in
//! its `conformance` member, serialized from [`ConformanceReport`].
//!
//! The verdicts are decided in `runner::conformance`; this file only renders them.

use std::fmt::Write as _;

use crate::runner::conformance::{ConformanceReport, PropertyVerdict, Verdict};

/// The console block: a line per property, the evidence of violations under it, a count.
#[must_use]
pub fn console(report: &ConformanceReport) -> String {
    let mut out = String::from("\nconformance (security property → verdict):\n");
    let width = report
        .properties
        .iter()
        .map(|p| p.id.len())
        .max()
        .unwrap_or(0);
    for p in &report.properties {
        let _ = writeln!(
            out,
            "  {:<14} {:<width$}  {}",
            p.verdict.word(),
            p.id,
            p.property
        );
        if let Some(note) = &p.note {
            let _ = writeln!(out, "  {:<14} {:<width$}    {note}", "", "");
        }
        if p.verdict == Verdict::Violated {
            for e in &p.evidence {
                let _ = writeln!(
                    out,
                    "  {:<14} {:<width$}    evidence: {}",
                    "",
                    "",
                    e.describe()
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} properties: {} held, {} violated, {} policy, {} not applicable, {} errors",
        report.properties.len(),
        report.count(Verdict::Held),
        report.count(Verdict::Violated),
        report.count(Verdict::Policy),
        report.count(Verdict::NotApplicable),
        report.count(Verdict::Error),
    );
    out
}

/// How one property reads in JUnit: held and policy pass, violated fails, not applicable is
/// skipped, error errors. Returns the element to put in its `<testcase>` (empty when it passes)
/// and which count it adds to.
#[must_use]
pub fn junit_case(p: &PropertyVerdict) -> (String, JunitOutcome) {
    use super::junit::{element, escape};
    let evidence = p
        .evidence
        .iter()
        .map(|e| e.describe())
        .collect::<Vec<_>>()
        .join("\n");
    match p.verdict {
        // A success has no message in JUnit; the JSON report and the console carry the
        // policy note.
        Verdict::Held | Verdict::Policy => (String::new(), JunitOutcome::Passed),
        Verdict::Violated => (
            element(
                "failure",
                "violated",
                &format!(
                    "violated: {} ({} of {} variants; source: {})",
                    p.property, p.violations, p.variants, p.source
                ),
                &evidence,
            ),
            JunitOutcome::Failure,
        ),
        Verdict::NotApplicable => (
            format!(
                "<skipped message=\"{}\"/>",
                escape(&format!(
                    "not applicable: {}",
                    p.note.as_deref().unwrap_or("no variant applies")
                ))
            ),
            JunitOutcome::Skipped,
        ),
        Verdict::Error => {
            let message = p
                .note
                .clone()
                .unwrap_or_else(|| "a variant could not run".to_owned());
            (
                element("error", "error", &message, &evidence),
                JunitOutcome::Error,
            )
        }
    }
}

/// What a property's testcase counts as in its suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JunitOutcome {
    /// Held or policy.
    Passed,
    /// Violated.
    Failure,
    /// Could not be decided.
    Error,
    /// Not applicable.
    Skipped,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::conformance::Evidence;

    fn verdict(id: &str, verdict: Verdict) -> PropertyVerdict {
        PropertyVerdict {
            id: id.to_owned(),
            property: format!("{id} is refused"),
            source: "RFC 8725 §3.1".to_owned(),
            verdict,
            note: None,
            variants: 2,
            violations: usize::from(verdict == Verdict::Violated),
            evidence: vec![Evidence {
                scenario: format!("{id}[x]"),
                step: "send".to_owned(),
                status: Some(200),
                www_authenticate: None,
                key_fetches: 0,
            }],
        }
    }

    fn sample() -> ConformanceReport {
        ConformanceReport {
            properties: vec![
                verdict("alg-none", Verdict::Held),
                verdict("exp-required", Verdict::Violated),
                verdict("audience", Verdict::NotApplicable),
            ],
        }
    }

    #[test]
    fn console_names_each_property_with_its_verdict_and_evidence() {
        let text = console(&sample());
        assert!(text.contains("held           alg-none"), "{text}");
        assert!(text.contains("violated       exp-required"), "{text}");
        assert!(
            text.contains("evidence: status 200 (exp-required[x]: send)"),
            "{text}"
        );
        assert!(text.contains("3 properties: 1 held, 1 violated, 0 policy, 1 not applicable"));
    }

    #[test]
    fn junit_cases_fail_violations_and_skip_what_does_not_apply() {
        let report = sample();
        let cases: Vec<_> = report.properties.iter().map(junit_case).collect();
        assert_eq!(cases[0], (String::new(), JunitOutcome::Passed));
        assert_eq!(cases[1].1, JunitOutcome::Failure);
        assert!(
            cases[1].0.contains("violated: exp-required is refused"),
            "{}",
            cases[1].0
        );
        assert!(
            cases[1].0.starts_with("<failure type=\"violated\""),
            "{}",
            cases[1].0
        );
        assert_eq!(cases[2].1, JunitOutcome::Skipped);
        assert!(cases[2].0.starts_with("<skipped"), "{}", cases[2].0);
    }
}
