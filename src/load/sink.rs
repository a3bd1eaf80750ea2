//! Where the engine sends its intervals as a run goes.
//!
//! The engine drains its recorders once per interval and hands each interval to an
//! [`IntervalSink`]; at the end it hands over the pacer's lateness and the run's [`RunFacts`].
//! `load` defines the trait and never writes a file format itself: the HdrHistogram interval
//! log that implements it lives in `crate::report::hlog` (every output format is `report`'s),
//! and `cli` wires the two together.

use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::stats::Stats;

/// Facts about a run that the end of its interval log records.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunFacts {
    /// Offset of the measured window's start from the log's StartTime, seconds (the warm-up).
    pub measured_from_s: f64,
    /// Length of the measured window, seconds.
    pub measured_s: f64,
    /// Whether the generator kept its schedule.
    pub schedule_kept: bool,
    /// Why it did not, when it did not.
    pub schedule_note: Option<String>,
    /// Whether the run was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// Which shard wrote the log (`i/n`), if sharded.
    pub shard: Option<String>,
}

/// A sink's failure to write; its text (and causes) are the sink's own, naming the file.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SinkError(pub Box<dyn std::error::Error + Send + Sync>);

/// Receives a run's intervals as the engine drains them.
pub trait IntervalSink: Send + std::fmt::Debug {
    /// The wall-clock time interval offsets count from (the log's StartTime).
    fn start(&self) -> SystemTime;

    /// Records one interval: every non-empty series of `stats`, measured from `offset` (since
    /// [`IntervalSink::start`]) for `length`.
    fn write_interval(
        &mut self,
        offset: Duration,
        length: Duration,
        stats: &Stats,
    ) -> Result<(), SinkError>;

    /// Records the pacer's lateness (one histogram for the whole run) and the run's facts, and
    /// flushes; called once, at the end of the run.
    fn finish(
        self: Box<Self>,
        pacer: Option<&Histogram<u64>>,
        facts: &RunFacts,
    ) -> Result<(), SinkError>;
}
