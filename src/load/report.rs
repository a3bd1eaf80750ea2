//! Load reports: the summary table, the JSON summary (`jwtprobe.load/1`) and JUnit.
//!
//! Every writer reads a [`Summary`], which both a finished run and a merge of interval logs
//! produce, so `jwtprobe load` and `jwtprobe merge` print and write the same thing. Latency
//! figures come in two flavours everywhere: `latency` is measured from the intended send time
//! (coordinated omission corrected; the number to gate on) and `service` from the actual
//! send (uncorrected). All times are whole microseconds with the precision described in
//! [`super::stats`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use camino::Utf8Path;
use hdrhistogram::Histogram;

use super::stats::{Percentiles, Series, Stats, format_us};
use super::threshold::Verdict;

/// The schema name and version of the JSON summary.
pub const JSON_SCHEMA: &str = "jwtprobe.load/1";

/// Everything a load report shows.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    /// The statistics of the measured window.
    pub stats: &'a Stats,
    /// Length of the measured window (warm-up excluded).
    pub elapsed: Duration,
    /// How the load was generated, for people: `rate 500/s`, `users 20`, `merged 4 logs`.
    pub model: String,
    /// The pacer's own lateness (open model only).
    pub pacer: Option<&'a Histogram<u64>>,
    /// The largest backlog of arrivals waiting for a worker (open model only).
    pub max_backlog: Option<u64>,
    /// Whether the generator kept its schedule.
    pub schedule_kept: bool,
    /// Why it did not.
    pub schedule_notes: Vec<String>,
    /// Whether the run was stopped early (SIGINT or SIGTERM).
    pub interrupted: bool,
    /// Requests cancelled at the end of the run (in flight or queued after the grace, or at a
    /// stop signal); they are in no other count.
    pub cancelled: u64,
    /// Thresholds and their results.
    pub verdicts: &'a [Verdict],
}

impl Summary<'_> {
    /// Requests per second of a series over the measured window.
    fn rps(&self, series: &Series) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            series.requests() as f64 / secs
        } else {
            0.0
        }
    }

    /// True when any threshold failed.
    pub fn breached(&self) -> bool {
        self.verdicts.iter().any(|v| !v.passed)
    }
}

/// An error writing a report file.
#[derive(Debug, thiserror::Error)]
#[error("failed to write {kind} report `{path}`")]
pub struct ReportError {
    /// Which report (`JSON`, `JUnit`).
    pub kind: &'static str,
    /// The file.
    pub path: camino::Utf8PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// The summary table printed on stderr at the end of a run.
pub fn summary_table(s: &Summary<'_>) -> String {
    let mut out = String::new();
    let all = s.stats.overall();
    let _ = writeln!(
        out,
        "load: {} requests in {:.2}s ({:.1}/s, {}), {} errors ({:.3}%){}",
        all.requests(),
        s.elapsed.as_secs_f64(),
        s.rps(&all),
        s.model,
        all.error_count(),
        all.error_rate().unwrap_or(0.0) * 100.0,
        if s.interrupted { ", interrupted" } else { "" },
    );
    if let Some(pacer) = s.pacer.filter(|h| !h.is_empty()) {
        let p = Percentiles::of(pacer);
        let _ = writeln!(
            out,
            "pacer lateness (noise floor): p50 {} p99 {} max {}{}",
            format_us(p.p50),
            format_us(p.p99),
            format_us(p.max),
            s.max_backlog
                .map(|b| format!(", max backlog {b}"))
                .unwrap_or_default(),
        );
    }
    if s.schedule_kept {
        let _ = writeln!(out, "schedule: kept");
    } else {
        let _ = writeln!(
            out,
            "schedule: NOT KEPT, the generator fell behind: {}",
            s.schedule_notes.join("; ")
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<32} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "series", "requests", "errors", "p50", "p90", "p99", "p99.9", "max", "svc p50", "svc p99"
    );
    let row = |out: &mut String, name: &str, series: &Series| {
        let l = Percentiles::of(&series.latency);
        let v = Percentiles::of(&series.service);
        let name: String = if name.chars().count() > 32 {
            name.chars().take(31).chain(['…']).collect()
        } else {
            name.to_owned()
        };
        let _ = writeln!(
            out,
            "{:<32} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            name,
            series.requests(),
            series.error_count(),
            format_us(l.p50),
            format_us(l.p90),
            format_us(l.p99),
            format_us(l.p99_9),
            format_us(l.max),
            format_us(v.p50),
            format_us(v.p99),
        );
    };
    for (key, series) in &s.stats.series {
        row(&mut out, &key.to_string(), series);
    }
    if s.stats.series.len() > 1 {
        row(&mut out, "all", &all);
    }
    if !all.statuses.is_empty() {
        let statuses: Vec<String> = all
            .statuses
            .iter()
            .map(|(st, n)| format!("{st} ×{n}"))
            .collect();
        let _ = writeln!(out, "statuses: {}", statuses.join(", "));
    }
    if !all.errors.is_empty() {
        let errors: Vec<String> = all
            .errors
            .iter()
            .map(|(c, n)| format!("{c} ×{n}"))
            .collect();
        let _ = writeln!(out, "errors: {}", errors.join(", "));
        // The first message of each class: what went wrong. See: issue #13.
        for (class, message) in &s.stats.first_errors {
            let first = message.lines().next().unwrap_or_default();
            let _ = writeln!(out, "  first {class}: {}", crate::diag::printable(first));
        }
    }
    if let Some(mint) = s.stats.mint.as_ref().filter(|h| !h.is_empty()) {
        let p = Percentiles::of(mint);
        let _ = writeln!(
            out,
            "token minting (not in latency): {} tokens, p50 {} p99 {} max {}",
            p.count,
            format_us(p.p50),
            format_us(p.p99),
            format_us(p.max)
        );
    }
    if !s.verdicts.is_empty() {
        let _ = writeln!(out, "thresholds:");
        for v in s.verdicts {
            let _ = writeln!(
                out,
                "  {}  {}  (actual {})",
                if v.passed { "pass" } else { "FAIL" },
                v.threshold,
                v.actual_text
            );
        }
    }
    out
}

/// One series in the JSON summary.
#[derive(Debug, serde::Serialize)]
struct SeriesJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'static str>,
    requests: u64,
    responses: u64,
    errors: u64,
    error_rate: f64,
    rps: f64,
    latency_us: Percentiles,
    service_us: Percentiles,
    lateness_us: Percentiles,
    statuses: BTreeMap<String, u64>,
    error_classes: BTreeMap<&'static str, u64>,
}

fn series_json(
    s: &Summary<'_>,
    series: &Series,
    key: Option<&super::stats::SeriesKey>,
) -> SeriesJson {
    SeriesJson {
        step: key.map(|k| k.step.clone()),
        session: key.map(|k| k.session.as_str()),
        requests: series.requests(),
        responses: series.responses(),
        errors: series.error_count(),
        error_rate: series.error_rate().unwrap_or(0.0),
        rps: s.rps(series),
        latency_us: Percentiles::of(&series.latency),
        service_us: Percentiles::of(&series.service),
        lateness_us: Percentiles::of(&series.lateness),
        statuses: series
            .statuses
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        error_classes: series
            .errors
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect(),
    }
}

/// The JSON summary, schema `jwtprobe.load/1`.
///
/// Fields: `schema`; `model`; `elapsed_s` (measured window); `interrupted`; `cancelled`
/// (requests cancelled at the end, see `engine::END_GRACE`); `schedule_kept`
/// and `schedule_notes`; `pacer` (`lateness_us` percentiles, `max_backlog`) or null;
/// `overall` and `steps[]` (each with `step`, `session`, `requests`, `responses`, `errors`,
/// `error_rate`, `rps`, `latency_us` (from the intended send), `service_us` (from the actual
/// send), `lateness_us`, each with `count`, `min`, `mean`, `p50`, `p90`, `p99`, `p99_9`,
/// `p99_99`, `max`; `statuses` and `error_classes` counts); `mint_us` or null; `thresholds[]`
/// (`threshold`, `passed`, `actual`, `actual_text`); `first_errors` (the first message of
/// each error class, by class).
pub fn to_json(s: &Summary<'_>) -> serde_json::Value {
    let all = s.stats.overall();
    let steps: Vec<SeriesJson> = s
        .stats
        .series
        .iter()
        .map(|(key, series)| series_json(s, series, Some(key)))
        .collect();
    serde_json::json!({
        "schema": JSON_SCHEMA,
        "model": s.model,
        "elapsed_s": s.elapsed.as_secs_f64(),
        "interrupted": s.interrupted,
        "cancelled": s.cancelled,
        "schedule_kept": s.schedule_kept,
        "schedule_notes": s.schedule_notes,
        "pacer": s.pacer.map(|p| serde_json::json!({
            "lateness_us": Percentiles::of(p),
            "max_backlog": s.max_backlog,
        })),
        "overall": series_json(s, &all, None),
        "steps": steps,
        "mint_us": s.stats.mint.as_ref().map(Percentiles::of),
        "first_errors": s.stats.first_errors,
        "thresholds": s.verdicts,
    })
}

/// Writes the JSON summary to `path`.
pub fn write_json(path: &Utf8Path, s: &Summary<'_>) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(&to_json(s)).unwrap_or_default();
    fs_err::write(path, text + "\n").map_err(|source| ReportError {
        kind: "JSON",
        path: path.to_owned(),
        source,
    })
}

/// The JUnit report: one testcase per threshold (a breach is a failure), or one passing
/// testcase for the run when there are no thresholds.
pub fn junit(s: &Summary<'_>, name: &str) -> quick_junit::Report {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("load: {name}"));
    suite.set_time(s.elapsed);
    suite.add_property(Property::new("model", s.model.clone()));
    suite.add_property(Property::new("schedule_kept", s.schedule_kept.to_string()));
    suite.add_property(Property::new("interrupted", s.interrupted.to_string()));
    suite.add_property(Property::new("cancelled", s.cancelled.to_string()));
    suite.set_system_out(summary_table(s));
    if s.verdicts.is_empty() {
        let mut case = TestCase::new("load run", TestCaseStatus::success());
        case.set_classname(name.to_owned());
        case.set_time(s.elapsed);
        suite.add_test_case(case);
    }
    for v in s.verdicts {
        let status = if v.passed {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(format!(
                "threshold `{}` breached: actual {}",
                v.threshold, v.actual_text
            ));
            st.set_type("threshold");
            st
        };
        let mut case = TestCase::new(format!("threshold {}", v.threshold), status);
        case.set_classname(name.to_owned());
        case.add_property(Property::new("actual", v.actual_text.clone()));
        suite.add_test_case(case);
    }
    let mut report = Report::new("jwtprobe load");
    report.set_time(s.elapsed);
    report.add_test_suite(suite);
    report
}

/// Writes the JUnit report to `path`.
pub fn write_junit(path: &Utf8Path, s: &Summary<'_>, name: &str) -> Result<(), ReportError> {
    let err = |source| ReportError {
        kind: "JUnit",
        path: path.to_owned(),
        source,
    };
    let text = junit(s, name)
        .to_string()
        .map_err(|e| err(std::io::Error::other(e.to_string())))?;
    fs_err::write(path, text).map_err(err)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::load::stats::{ErrorClass, Outcome, Sample, SeriesKey, SessionMode};
    use crate::load::threshold;

    fn stats() -> Stats {
        let mut series = Series::new();
        let t0 = Instant::now();
        for i in 1..=100 {
            series.record(&Sample {
                series: 0,
                intended: t0,
                started: t0 + Duration::from_micros(5),
                finished: t0 + Duration::from_micros(100 * i),
                outcome: Outcome::Response {
                    status: 200,
                    error: None,
                },
            });
        }
        series.record(&Sample {
            series: 0,
            intended: t0,
            started: t0,
            finished: t0,
            outcome: Outcome::Failed(ErrorClass::Connect),
        });
        let mut stats = Stats::new();
        stats
            .series
            .insert(SeriesKey::new("open hub", SessionMode::Bearer), series);
        stats
    }

    fn summary<'a>(stats: &'a Stats, verdicts: &'a [Verdict]) -> Summary<'a> {
        Summary {
            stats,
            elapsed: Duration::from_secs(2),
            model: "rate 50/s".to_owned(),
            pacer: None,
            max_backlog: None,
            schedule_kept: true,
            schedule_notes: Vec::new(),
            interrupted: false,
            cancelled: 0,
            verdicts,
        }
    }

    #[test]
    fn json_summary_has_schema_percentiles_and_counts() {
        let stats = stats();
        let json = to_json(&summary(&stats, &[]));
        assert_eq!(json["schema"], "jwtprobe.load/1");
        assert_eq!(json["overall"]["requests"], 101);
        assert_eq!(json["overall"]["errors"], 1);
        assert_eq!(json["overall"]["rps"], 50.5);
        assert_eq!(json["overall"]["latency_us"]["max"], 10_000 + 7);
        assert_eq!(json["overall"]["statuses"]["200"], 100);
        assert_eq!(json["overall"]["error_classes"]["connect"], 1);
        assert_eq!(json["steps"][0]["step"], "open hub");
        assert_eq!(json["steps"][0]["session"], "bearer");
        assert_eq!(json["schedule_kept"], true);
        for key in ["p50", "p90", "p99", "p99_9", "p99_99", "max"] {
            assert!(json["overall"]["service_us"][key].is_u64(), "{key}");
        }
    }

    #[test]
    fn breached_threshold_is_a_failed_junit_testcase() {
        let stats = stats();
        let verdicts: Vec<Verdict> = ["p99 < 1ms", "error_rate < 5%"]
            .iter()
            .map(|t| {
                threshold::parse(t)
                    .unwrap()
                    .evaluate(&stats, Duration::from_secs(2))
            })
            .collect();
        let s = summary(&stats, &verdicts);
        assert!(s.breached());
        let xml = junit(&s, "smoke").to_string().unwrap();
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("threshold `p99 &lt; 1ms` breached"), "{xml}");
        let table = summary_table(&s);
        assert!(table.contains("FAIL  p99 < 1ms"), "{table}");
        assert!(table.contains("pass  error_rate < 5%"), "{table}");
    }
}
