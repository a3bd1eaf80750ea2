//! The conformance report: one verdict per security property, as a security reviewer reads
//! it ("violated: refuses tokens without `exp`"), in the console and in JUnit (one testcase
//! per property in a suite named `conformance`). The JSON report carries the same verdicts in
//! its `conformance` member, serialized from [`ConformanceReport`].
//!
//! The verdicts are decided in `runner::conformance`; this file only renders them.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

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

/// Adds a `conformance` test suite with one testcase per property: held and policy pass,
/// violated fails, not applicable is skipped, error errors.
pub fn add_to_junit(junit: &mut Report, report: &ConformanceReport) {
    let mut suite = TestSuite::new("conformance");
    for p in &report.properties {
        let mut case = TestCase::new(format!("{}: {}", p.id, p.property), status(p));
        case.set_classname("conformance");
        suite.add_test_case(case);
    }
    junit.add_test_suite(suite);
}

fn status(p: &PropertyVerdict) -> TestCaseStatus {
    let evidence = p
        .evidence
        .iter()
        .map(|e| e.describe())
        .collect::<Vec<_>>()
        .join("\n");
    match p.verdict {
        Verdict::Held => TestCaseStatus::success(),
        // Quick-junit has no message on a success; the JSON report and the console carry
        // the policy note.
        Verdict::Policy => TestCaseStatus::success(),
        Verdict::Violated => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "violated: {} ({} of {} variants; source: {})",
                p.property, p.violations, p.variants, p.source
            ));
            s.set_type("violated");
            s.set_description(evidence);
            s
        }
        Verdict::NotApplicable => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!(
                "not applicable: {}",
                p.note.as_deref().unwrap_or("no variant applies")
            ));
            s
        }
        Verdict::Error => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(
                p.note
                    .clone()
                    .unwrap_or_else(|| "a variant could not run".to_owned()),
            );
            s.set_type("error");
            s
        }
    }
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
    fn junit_has_one_testcase_per_property() {
        let mut junit = Report::new("jwtprobe");
        add_to_junit(&mut junit, &sample());
        let xml = junit.to_string().unwrap();
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        assert!(xml.contains("violated: exp-required is refused"), "{xml}");
        assert!(xml.contains("<skipped"), "{xml}");
    }
}
