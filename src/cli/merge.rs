//! `jwtprobe merge`: merge HdrHistogram interval logs from several shards into one summary.
//!
//! Histograms are added per tag and counts per key, never averaged, so the merged
//! percentiles are exactly those of the union of the shards' samples (see
//! [`jwtprobe::report::hlog`]).

use std::time::{Duration, UNIX_EPOCH};

use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit};
use jwtprobe::load::sink::RunFacts;
use jwtprobe::load::threshold::{self, ThresholdVerdict};
use jwtprobe::report::hlog::{self, HlogWriter, LogContents};
use jwtprobe::report::{self, Meta, junit, load::Summary};

/// Merge HdrHistogram interval logs written by `jwtprobe load --hdr-log` (one per shard).
///
/// Prints the combined summary, writes the merged log and reports, and exits 5 when a
/// threshold is breached across all shards together. The merged reports look exactly like a
/// single run's.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe merge shard-0.hlog shard-1.hlog --out all.hlog --json all.json --threshold 'p99 < 500ms'
  jwtprobe merge shard-*.hlog --html reports/merged.html --summary-md

Exit codes: 0 passed, 1 bad command line, 2 invalid threshold, 3 a log is \
unreadable or a report unwritable, 5 a threshold was breached.")]
pub(crate) struct Args {
    /// The interval logs to merge.
    #[arg(required = true, value_name = "LOG")]
    pub(crate) logs: Vec<Utf8PathBuf>,
    /// Write the merged interval log here.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<Utf8PathBuf>,
    /// Write the JSON summary (schema `jwtprobe.load/1`; `-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<Utf8PathBuf>,
    /// Write a JUnit report, one testcase per threshold (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<Utf8PathBuf>,
    /// Write the HTML report with latency plots (default file `reports/load.html`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load.html")]
    pub(crate) html: Option<Utf8PathBuf>,
    /// Write the Markdown summary (without a file: `$GITHUB_STEP_SUMMARY` when set, else
    /// stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub(crate) summary_md: Option<Option<Utf8PathBuf>>,
    /// Print only the outcome line and breached thresholds.
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
    /// A threshold evaluated over the merged logs (repeatable).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub(crate) thresholds: Vec<String>,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
    let mut merged = LogContents::default();
    for path in &args.logs {
        let log = hlog::read_file(path).map_err(|e| CliError::runtime(anyhow::Error::new(e)))?;
        merged.merge(&log);
    }
    let steps: Vec<String> = merged.stats.series.keys().map(|k| k.step.clone()).collect();
    let mut parsed = Vec::new();
    for text in &args.thresholds {
        let t = threshold::parse(text)
            .and_then(|t| t.validate(&steps).map(|()| t))
            .map_err(|e| {
                let hint = e.hint.clone();
                let err = CliError::invalid(anyhow::Error::new(e));
                match hint {
                    Some(h) => err.with_hint(h),
                    None => err,
                }
            })?;
        parsed.push(t);
    }
    let elapsed = merged.elapsed();
    let verdicts: Vec<_> = parsed
        .iter()
        .map(|t| t.evaluate(&merged.stats, elapsed))
        .collect();
    let summary = summary_of(&merged, &verdicts);
    let start = UNIX_EPOCH + Duration::from_secs_f64(merged.window.map_or(0.0, |w| w.0.max(0.0)));
    let meta = Meta::now(start, "(merged interval logs)");
    super::load::print_summary(&summary, args.quiet);
    let runtime = |e: anyhow::Error| CliError::runtime(e);
    if let Some(path) = &args.out {
        let (start, end) = merged.window.unwrap_or((0.0, 0.0));
        let start_time = UNIX_EPOCH + Duration::from_secs_f64(start.max(0.0));
        let mut writer =
            HlogWriter::create(path, start_time).map_err(|e| runtime(anyhow::Error::new(e)))?;
        let length = Duration::from_secs_f64((end - start).max(0.0));
        writer
            .write_interval(Duration::ZERO, length, &merged.stats)
            .map_err(|e| runtime(anyhow::Error::new(e)))?;
        let facts = RunFacts {
            measured_from_s: 0.0,
            measured_s: length.as_secs_f64(),
            schedule_kept: summary.schedule_kept,
            schedule_note: (!merged.schedule_notes.is_empty())
                .then(|| merged.schedule_notes.join("; ")),
            interrupted: merged.interrupted,
            shard: None,
        };
        writer
            .finish(merged.pacer.as_ref(), &facts)
            .map_err(|e| runtime(anyhow::Error::new(e)))?;
    }
    if let Some(path) = &args.json {
        report::load::write_json(path, &summary, &meta)
            .map_err(|e| runtime(anyhow::Error::new(e)))?;
    }
    if let Some(path) = &args.junit {
        report::write_output(
            "JUnit",
            path,
            junit::load(&summary, "merged", &meta).as_bytes(),
        )
        .map_err(|e| runtime(anyhow::Error::new(e)))?;
    }
    if args.html.is_some() || args.summary_md.is_some() {
        let json = report::load::to_json(&summary, &meta);
        if let Some(path) = &args.html {
            super::report::write_html(path, &report::html::load(&json), args.quiet)
                .map_err(runtime)?;
        }
        if let Some(choice) = &args.summary_md {
            super::report::write_summary_md(
                choice.as_deref(),
                &report::markdown::load(&json),
                args.quiet,
            )
            .map_err(runtime)?;
        }
    }
    Ok(if summary.breached() {
        Exit::ThresholdBreached
    } else {
        Exit::Success
    })
}

/// The summary of merged logs, with the given threshold verdicts.
pub(crate) fn summary_of<'a>(
    merged: &'a LogContents,
    verdicts: &'a [ThresholdVerdict],
) -> Summary<'a> {
    Summary {
        stats: &merged.stats,
        elapsed: merged.elapsed(),
        model: format!(
            "merged {} log{}",
            merged.logs,
            if merged.logs == 1 { "" } else { "s" }
        ),
        pacer: merged.pacer.as_ref(),
        max_backlog: None,
        schedule_kept: merged.schedule_kept.unwrap_or(true),
        schedule_notes: merged.schedule_notes.clone(),
        cancelled: 0,
        interrupted: merged.interrupted,
        verdicts,
        timeline: Some(&merged.timeline),
    }
}
