//! Every output format of jwtprobe: console, JUnit, JSON, HTML, the Markdown summary and the
//! HdrHistogram interval log.
//!
//! Two typed results feed every format: a [`RunReport`] (a [`RunResult`] from the runner plus
//! the text of the scenario files it ran, so failures show their YAML line without reading the
//! disk again) and a [`load::Summary`] (a finished load run, or interval logs merged by
//! `jwtprobe merge`). Each format is a function of one of them and a [`Meta`] (when, where and
//! by which version the report was made):
//!
//! | format | run | load |
//! |---|---|---|
//! | console | [`run::ConsoleReporter`] | [`load::summary_table`] |
//! | JUnit (Jenkins `junit-10.xsd`) | [`junit::run`] | [`junit::load`] |
//! | JSON (`schemas/*.schema.json`) | [`run::json`] | [`load::to_json`] |
//! | HTML (one self-contained file) | [`html::run`] | [`html::load`] |
//! | Markdown summary | [`markdown::run`] | [`markdown::load`] |
//!
//! The HTML and Markdown renderers read the JSON value, so `jwtprobe report` turns a saved
//! JSON report into the same HTML as `--html` on the run. The HdrHistogram interval log
//! ([`hlog`]) is written while a load runs: its writer is the engine's
//! [`crate::load::sink::IntervalSink`], and `jwtprobe merge` and `jwtprobe report` read it back.
//! Results arrive already redacted (see
//! [`crate::token::redact`](mod@crate::token::redact)); reporters never drive a run.

use std::io::Write as _;

use camino::{Utf8Path, Utf8PathBuf};

use crate::runner::RunResult;
use crate::scenario::Sources;

pub mod color;
pub mod conformance;
pub mod hlog;
pub mod html;
pub mod junit;
pub mod load;
pub mod markdown;
pub mod run;

pub use run::{ConsoleReporter, RUN_SCHEMA, fmt_duration, render_step_problems};

/// An error writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file (or stdout) could not be written.
    #[error("failed to write {kind} report `{path}`")]
    Write {
        /// Which report (`JSON`, `JUnit`, `HTML`, `Markdown`).
        kind: &'static str,
        /// The report file (`-` for stdout).
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The report could not be serialized.
    #[error("failed to serialize {kind} report `{path}`")]
    Serialize {
        /// Which report.
        kind: &'static str,
        /// The report file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// When, where and by what a report was made; shown in JUnit, JSON, HTML and Markdown.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Meta {
    /// The tool's name, `jwtprobe`.
    pub tool: String,
    /// The tool's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The machine that ran the requests.
    pub hostname: String,
    /// When the run started, RFC 3339 in UTC with second precision.
    pub started: String,
    /// The target's base URL, or a description when there were several.
    pub target: String,
}

impl Meta {
    /// A description of a run started at `started` against `target`, on this machine.
    pub fn now(started: std::time::SystemTime, target: impl Into<String>) -> Self {
        let started: chrono::DateTime<chrono::Utc> = started.into();
        Self {
            tool: "jwtprobe".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            target: target.into(),
        }
    }
}

/// A finished `jwtprobe run` as every format sees it.
#[derive(Debug, Clone, Copy)]
pub struct RunReport<'a> {
    /// What ran, already redacted.
    pub result: &'a RunResult,
    /// The text of the scenario files, for the YAML line under each failed check.
    pub sources: &'a Sources,
    /// When and where.
    pub meta: &'a Meta,
}

/// Writes a report to `path`, creating parent folders; `-` writes to stdout.
pub fn write_output(kind: &'static str, path: &Utf8Path, bytes: &[u8]) -> Result<(), ReportError> {
    let wrap = |source| ReportError::Write {
        kind,
        path: path.to_owned(),
        source,
    };
    if path.as_str() == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .map_err(wrap);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_str().is_empty()) {
        fs_err::create_dir_all(parent).map_err(wrap)?;
    }
    fs_err::write(path, bytes).map_err(wrap)
}

/// Whether `path` means stdout (`-`), so callers skip their `wrote … report` line.
pub fn is_stdout(path: &Utf8Path) -> bool {
    path.as_str() == "-"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_output_creates_parent_folders() {
        let dir = std::env::temp_dir().join(format!("jwtprobe-report-{}", uuid::Uuid::new_v4()));
        let dir = Utf8PathBuf::from_path_buf(dir).unwrap();
        let path = dir.join("a/b/report.txt");
        write_output("JSON", &path, b"x").unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "x");
        fs_err::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn meta_names_tool_version_and_utc_start() {
        let meta = Meta::now(std::time::UNIX_EPOCH, "https://h");
        assert_eq!(meta.tool, "jwtprobe");
        assert_eq!(meta.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(meta.started, "1970-01-01T00:00:00Z");
        assert!(!meta.hostname.is_empty());
    }
}
