//! `jwtprobe merge`: merge HdrHistogram interval logs from several shards into one summary.
//!
//! Histograms are added per tag and counts per key, never averaged, so the merged
//! percentiles are exactly those of the union of the shards' samples (see
//! [`crate::load::hlog`]).

use std::time::{Duration, UNIX_EPOCH};

use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit};
use crate::load::hlog::{self, HlogWriter, LogContents, RunFacts};
use crate::load::report::{self, Summary};
use crate::load::threshold;

/// Merge HdrHistogram interval logs written by `jwtprobe load --hdr-log` (one per shard).
///
/// Example: `jwtprobe merge shard-*.hlog --out all.hlog --json all.json --threshold 'p99 <
/// 20ms'` prints the combined summary, writes the merged log and JSON, and exits 5 when a
/// threshold is breached across all shards together.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 passed, 1 bad command line, 2 invalid threshold, 3 a log is \
unreadable or a report unwritable, 5 a threshold was breached."
)]
pub struct Args {
    /// The interval logs to merge.
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<Utf8PathBuf>,
    /// Write the merged interval log here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<Utf8PathBuf>,
    /// Write the JSON summary (schema `jwtprobe.load/1`) here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<Utf8PathBuf>,
    /// Write a JUnit report, one testcase per threshold.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<Utf8PathBuf>,
    /// A threshold evaluated over the merged logs (repeatable).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
}

/// Runs the command.
pub fn run(args: Args) -> CmdResult {
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
    let summary = Summary {
        stats: &merged.stats,
        elapsed,
        model: format!(
            "merged {} log{}",
            merged.logs,
            if merged.logs == 1 { "" } else { "s" }
        ),
        pacer: merged.pacer.as_ref(),
        max_backlog: None,
        schedule_kept: merged.schedule_kept.unwrap_or(true),
        schedule_notes: merged.schedule_notes.clone(),
        interrupted: merged.interrupted,
        cancelled: 0,
        verdicts: &verdicts,
    };
    eprint!("{}", report::summary_table(&summary));
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
        report::write_json(path, &summary).map_err(|e| runtime(anyhow::Error::new(e)))?;
    }
    if let Some(path) = &args.junit {
        report::write_junit(path, &summary, "merged")
            .map_err(|e| runtime(anyhow::Error::new(e)))?;
    }
    Ok(if summary.breached() {
        Exit::ThresholdBreached
    } else {
        Exit::Success
    })
}
