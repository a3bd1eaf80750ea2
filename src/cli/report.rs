//! `jwtprobe report`: turn saved JSON reports and interval logs into HTML and Markdown, and the
//! report flags every command shares (`--html`, `--summary-md`, `-` for stdout).

use std::io::Write as _;

use camino::{Utf8Path, Utf8PathBuf};

use super::{CliError, CmdResult, Exit};
use jwtprobe::report::hlog::{self, LogContents};
use jwtprobe::report::{self, Meta, html, markdown};

/// Turn a saved report into a self-contained HTML page or a Markdown summary.
///
/// The input is a JSON report written by `run --json` (`jwtprobe.run/1`) or `load --json` /
/// `merge --json` (`jwtprobe.load/1`), or one or more HdrHistogram interval logs from
/// `load --hdr-log` (merged as `jwtprobe merge` does). A load JSON report given with interval
/// logs takes its plots over time from the logs.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe report reports/run.json --html reports/run.html
  jwtprobe report all.json shard-0.hlog shard-1.hlog --html
  jwtprobe report shard-0.hlog shard-1.hlog --html merged.html --summary-md -

Exit codes: 0 written, 1 bad command line, 2 an input is not a jwtprobe report, 3 an input \
is unreadable or the output unwritable.")]
pub(crate) struct Args {
    /// A JSON report, or interval logs (`.hlog`).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) inputs: Vec<Utf8PathBuf>,
    /// Write the HTML page (default file `reports/report.html`; `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/report.html")]
    pub(crate) html: Option<Utf8PathBuf>,
    /// Write the Markdown summary (without a file: `$GITHUB_STEP_SUMMARY` when set, else stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub(crate) summary_md: Option<Option<Utf8PathBuf>>,
}

/// A report's JSON and which kind it is.
#[derive(Debug)]
pub(crate) enum Saved {
    /// A `jwtprobe.run/1` report.
    Run(serde_json::Value),
    /// A `jwtprobe.load/1` report.
    Load(serde_json::Value),
}

impl Saved {
    /// The HTML page.
    pub(crate) fn html(&self) -> String {
        match self {
            Self::Run(v) => html::run(v),
            Self::Load(v) => html::load(v),
        }
    }

    /// The Markdown summary.
    pub(crate) fn markdown(&self) -> String {
        match self {
            Self::Run(v) => markdown::run(v),
            Self::Load(v) => markdown::load(v),
        }
    }
}

/// Reads the inputs into one report.
pub(crate) fn read_inputs(inputs: &[Utf8PathBuf]) -> Result<Saved, CliError> {
    let (logs, jsons): (Vec<&Utf8PathBuf>, Vec<&Utf8PathBuf>) = inputs.iter().partition(|p| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("hlog"))
    });
    if jsons.len() > 1 {
        return Err(CliError::usage(anyhow::anyhow!(
            "give one JSON report at a time, not {}",
            jsons.len()
        )));
    }
    let merged = if logs.is_empty() {
        None
    } else {
        let mut merged = LogContents::default();
        for path in &logs {
            let log =
                hlog::read_file(path).map_err(|e| CliError::runtime(anyhow::Error::new(e)))?;
            merged.merge(&log);
        }
        Some(merged)
    };
    let Some(path) = jsons.first() else {
        let merged = merged.unwrap_or_default();
        let summary = super::merge::summary_of(&merged, &[]);
        let meta = Meta::now(window_start(&merged), "(from interval logs)");
        return Ok(Saved::Load(report::load::to_json(&summary, &meta)));
    };
    let text = fs_err::read_to_string(path).map_err(|e| {
        CliError::runtime(anyhow::Error::new(e).context(format!("failed to read report `{path}`")))
    })?;
    let mut value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        CliError::invalid(anyhow::anyhow!(
            "`{path}` is not JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match value.get("schema").and_then(serde_json::Value::as_str) {
        Some(report::RUN_SCHEMA) => Ok(Saved::Run(value)),
        Some(report::load::JSON_SCHEMA) => {
            if let Some(merged) = &merged {
                let summary = super::merge::summary_of(merged, &[]);
                let fresh = report::load::to_json(&summary, &Meta::now(window_start(merged), ""));
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("timeline".to_owned(), fresh["timeline"].clone());
                }
            }
            Ok(Saved::Load(value))
        }
        other => Err(CliError::invalid(anyhow::anyhow!(
            "`{path}` is not a jwtprobe report (schema {})",
            other.map_or_else(|| "missing".to_owned(), |s| format!("`{s}`"))
        ))
        .with_hint(format!(
            "give a report written by `--json` (schema `{}` or `{}`) or `.hlog` interval logs",
            report::RUN_SCHEMA,
            report::load::JSON_SCHEMA
        ))),
    }
}

fn window_start(merged: &LogContents) -> std::time::SystemTime {
    let start = merged.window.map_or(0.0, |(a, _)| a.max(0.0));
    std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(start)
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
    if args.html.is_none() && args.summary_md.is_none() {
        return Err(CliError::usage(anyhow::anyhow!(
            "say what to write: `--html [FILE]` or `--summary-md [FILE]`"
        )));
    }
    let saved = read_inputs(&args.inputs)?;
    if let Some(path) = &args.html {
        write_html(path, &saved.html(), false).map_err(CliError::runtime)?;
    }
    if let Some(choice) = &args.summary_md {
        write_summary_md(choice.as_deref(), &saved.markdown(), false).map_err(CliError::runtime)?;
    }
    Ok(Exit::Success)
}

/// Writes the HTML page and says so on stderr (unless `quiet` or it went to stdout).
pub(crate) fn write_html(path: &Utf8Path, html: &str, quiet: bool) -> Result<(), anyhow::Error> {
    report::write_output("HTML", path, html.as_bytes())?;
    if !quiet && !report::is_stdout(path) {
        eprintln!("wrote HTML report `{path}`");
    }
    Ok(())
}

/// Writes the Markdown summary: to `path`, or without one to `$GITHUB_STEP_SUMMARY`
/// (appended, as GitHub expects) when set, else to stdout.
pub(crate) fn write_summary_md(
    path: Option<&Utf8Path>,
    text: &str,
    quiet: bool,
) -> Result<(), anyhow::Error> {
    let step_summary = std::env::var("GITHUB_STEP_SUMMARY")
        .ok()
        .filter(|s| !s.is_empty());
    match (path, step_summary) {
        (Some(path), _) => {
            report::write_output("Markdown", path, text.as_bytes())?;
            if !quiet && !report::is_stdout(path) {
                eprintln!("wrote Markdown summary `{path}`");
            }
        }
        (None, Some(file)) => {
            let mut f = fs_err::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .map_err(|e| {
                    anyhow::Error::new(e).context(format!(
                        "failed to write Markdown summary `{file}` (`$GITHUB_STEP_SUMMARY`)"
                    ))
                })?;
            f.write_all(text.as_bytes())?;
            if !quiet {
                eprintln!("appended Markdown summary to `$GITHUB_STEP_SUMMARY`");
            }
        }
        (None, None) => report::write_output("Markdown", Utf8Path::new("-"), text.as_bytes())?,
    }
    Ok(())
}
