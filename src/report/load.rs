//! Load reports: the summary table and the JSON summary (`jwtprobe.load/1`).
//!
//! Every writer reads a [`Summary`], which both a finished run and a merge of interval logs
//! produce, so `jwtprobe load` and `jwtprobe merge` print and write the same thing (JUnit in
//! [`super::junit::load`], HTML in [`super::html::load`]). Latency
//! figures come in two flavours everywhere: `latency` is measured from the intended send time
//! (coordinated omission corrected; the number to gate on) and `service` from the actual
//! send (uncorrected). All times are whole microseconds with the precision described in
//! [`crate::load::stats`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use camino::Utf8Path;
use hdrhistogram::Histogram;

use super::color::Palette;
use super::hlog::Timeline;
use super::{Meta, ReportError};
use crate::load::stats::{Percentiles, Series, SeriesKey, Stats, format_us};
use crate::load::threshold::ThresholdVerdict;

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
    pub verdicts: &'a [ThresholdVerdict],
    /// The run's intervals, when an interval log was written or read (for plots over time).
    pub timeline: Option<&'a Timeline>,
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

/// The summary table printed on stderr at the end of a run.
pub fn summary_table(s: &Summary<'_>) -> String {
    summary_table_with(s, Palette::default())
}

/// [`summary_table`] with the verdict words painted by `palette`.
pub fn summary_table_with(s: &Summary<'_>, palette: Palette) -> String {
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
            "schedule: {}, the generator fell behind: {}",
            palette.warn("NOT KEPT"),
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
                if v.passed {
                    palette.pass("pass")
                } else {
                    palette.fail("FAIL")
                },
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
    distribution: Vec<DistributionPoint>,
}

/// One point of a percentile distribution (HdrHistogram's percentile plot).
#[derive(Debug, serde::Serialize)]
struct DistributionPoint {
    /// The percentile, 0 to 100.
    percentile: f64,
    /// Latency from the intended send at that percentile, µs.
    latency_us: u64,
    /// Service time at that percentile, µs.
    service_us: u64,
}

/// The percentiles of the distribution plot: halving the distance to 100% each tick, as
/// HdrHistogram's `outputPercentileDistribution` does, until the tail holds one value.
fn distribution(series: &Series) -> Vec<DistributionPoint> {
    let count = series.latency.len().max(series.service.len());
    if count == 0 {
        return Vec::new();
    }
    let mut points = Vec::new();
    let mut remaining: f64 = 1.0;
    loop {
        let q = 1.0 - remaining;
        points.push(DistributionPoint {
            percentile: q * 100.0,
            latency_us: series.latency.value_at_quantile(q),
            service_us: series.service.value_at_quantile(q),
        });
        // Four points per halving; stop once fewer than one value lies beyond.
        remaining /= 2f64.powf(0.25);
        if remaining * (count as f64) < 1.0 || points.len() > 200 {
            break;
        }
    }
    points.push(DistributionPoint {
        percentile: 100.0,
        latency_us: series.latency.max(),
        service_us: series.service.max(),
    });
    points
}

fn series_json(s: &Summary<'_>, series: &Series, key: Option<&SeriesKey>) -> SeriesJson {
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
        distribution: distribution(series),
    }
}

/// The timeline as JSON: one object per interval.
fn timeline_json(timeline: &Timeline) -> Vec<serde_json::Value> {
    let first = timeline.keys().next().copied().unwrap_or_default();
    timeline
        .iter()
        .map(|(at, point)| {
            let all = &point.all;
            let l = Percentiles::of(&all.latency);
            let v = Percentiles::of(&all.service);
            serde_json::json!({
                "t_s": (at - first) as f64 / 1000.0,
                "length_s": point.length_s,
                "requests": all.requests(),
                "errors": all.error_count(),
                "rps": if point.length_s > 0.0 { all.requests() as f64 / point.length_s } else { 0.0 },
                "latency_p50_us": l.p50,
                "latency_p99_us": l.p99,
                "service_p50_us": v.p50,
                "service_p99_us": v.p99,
                "error_classes": all.errors.iter().map(|(k, n)| (k.as_str(), *n)).collect::<BTreeMap<_, _>>(),
            })
        })
        .collect()
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
///
/// Since the HTML report is drawn from this JSON, it also holds `meta` (tool, version,
/// hostname, start, target), each series' `distribution[]` (`percentile`, `latency_us`,
/// `service_us`) and `timeline[]` (one entry per interval; empty without an interval log).
/// `schemas/load.schema.json` is the full list.
pub fn to_json(s: &Summary<'_>, meta: &Meta) -> serde_json::Value {
    let all = s.stats.overall();
    let steps: Vec<SeriesJson> = s
        .stats
        .series
        .iter()
        .map(|(key, series)| series_json(s, series, Some(key)))
        .collect();
    serde_json::json!({
        "schema": JSON_SCHEMA,
        "meta": meta,
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
        "timeline": s.timeline.map(timeline_json).unwrap_or_default(),
    })
}

/// Writes the JSON summary to `path` (`-` for stdout).
pub fn write_json(path: &Utf8Path, s: &Summary<'_>, meta: &Meta) -> Result<(), ReportError> {
    let mut text = serde_json::to_string_pretty(&to_json(s, meta)).unwrap_or_default();
    text.push('\n');
    super::write_output("JSON", path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::load::stats::{ErrorClass, Sample, SampleOutcome};
    use crate::load::threshold;
    use crate::scenario::SessionMode;

    fn stats() -> Stats {
        let mut series = Series::new();
        let t0 = Instant::now();
        for i in 1..=100 {
            series.record(&Sample {
                series: 0,
                intended: t0,
                started: t0 + Duration::from_micros(5),
                finished: t0 + Duration::from_micros(100 * i),
                outcome: SampleOutcome::Response {
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
            outcome: SampleOutcome::Failed(ErrorClass::Connect),
        });
        let mut stats = Stats::new();
        stats
            .series
            .insert(SeriesKey::new("open hub", SessionMode::Bearer), series);
        stats
    }

    fn summary<'a>(stats: &'a Stats, verdicts: &'a [ThresholdVerdict]) -> Summary<'a> {
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
            timeline: None,
        }
    }

    #[test]
    fn json_summary_has_schema_percentiles_and_counts() {
        let stats = stats();
        let json = to_json(
            &summary(&stats, &[]),
            &Meta::now(std::time::UNIX_EPOCH, "t"),
        );
        assert_eq!(json["schema"], "jwtprobe.load/1");
        assert_eq!(json["overall"]["requests"], 101);
        assert_eq!(json["overall"]["errors"], 1);
        assert_eq!(json["overall"]["rps"], 50.5);
        assert_eq!(json["overall"]["latency_us"]["max"], 10_000 + 7);
        assert_eq!(json["overall"]["statuses"]["200"], 100);
        assert_eq!(json["overall"]["error_classes"]["connect"], 1);
        assert_eq!(json["steps"][0]["step"], "open hub");
        assert_eq!(json["steps"][0]["session"], "bearer");
        let dist = json["overall"]["distribution"].as_array().unwrap();
        assert_eq!(dist[0]["percentile"], 0.0);
        assert_eq!(dist.last().unwrap()["percentile"], 100.0);
        assert_eq!(
            dist.last().unwrap()["latency_us"],
            json["overall"]["latency_us"]["max"]
        );
        assert_eq!(json["schedule_kept"], true);
        for key in ["p50", "p90", "p99", "p99_9", "p99_99", "max"] {
            assert!(json["overall"]["service_us"][key].is_u64(), "{key}");
        }
    }

    fn fixed_meta() -> Meta {
        Meta {
            tool: "jwtprobe".to_owned(),
            version: "0.0.0".to_owned(),
            hostname: "host".to_owned(),
            started: "2026-01-01T00:00:00Z".to_owned(),
            target: "https://qlik.test".to_owned(),
        }
    }

    #[test]
    fn summary_table_html_and_markdown_of_a_fixed_run_look_like_this() {
        let stats = stats();
        let verdicts: Vec<ThresholdVerdict> = ["p99 < 5ms", "error_rate < 5%"]
            .iter()
            .map(|t| {
                threshold::parse(t)
                    .unwrap()
                    .evaluate(&stats, Duration::from_secs(2))
            })
            .collect();
        let s = summary(&stats, &verdicts);
        insta::assert_snapshot!("load_summary_table", summary_table(&s));
        let json = to_json(&s, &fixed_meta());
        insta::assert_snapshot!("load_markdown", super::super::markdown::load(&json));
        insta::assert_snapshot!("load_html", super::super::html::load(&json));
    }

    #[test]
    fn json_summary_of_a_fixed_run_looks_like_this() {
        let stats = stats();
        let verdicts: Vec<ThresholdVerdict> = ["p99 < 5ms", "error_rate < 5%"]
            .iter()
            .map(|t| {
                threshold::parse(t)
                    .unwrap()
                    .evaluate(&stats, Duration::from_secs(2))
            })
            .collect();
        let s = summary(&stats, &verdicts);
        let text = serde_json::to_string_pretty(&to_json(&s, &fixed_meta())).unwrap();
        insta::assert_snapshot!("load_json", text);
    }

    #[test]
    fn breached_threshold_is_a_failed_junit_testcase() {
        let stats = stats();
        let verdicts: Vec<ThresholdVerdict> = ["p99 < 1ms", "error_rate < 5%"]
            .iter()
            .map(|t| {
                threshold::parse(t)
                    .unwrap()
                    .evaluate(&stats, Duration::from_secs(2))
            })
            .collect();
        let s = summary(&stats, &verdicts);
        assert!(s.breached());
        let xml = super::super::junit::load(&s, "smoke", &Meta::now(std::time::UNIX_EPOCH, "t"));
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("threshold `p99 &lt; 1ms` breached"), "{xml}");
        let table = summary_table(&s);
        assert!(table.contains("FAIL  p99 < 1ms"), "{table}");
        assert!(table.contains("pass  error_rate < 5%"), "{table}");
    }
}
