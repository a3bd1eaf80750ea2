//! HdrHistogram interval logs: written during a run, read and merged by `jwtprobe merge`.
//!
//! [`HlogWriter`] is the engine's [`IntervalSink`]: `jwtprobe load` hands one to
//! [`crate::load::engine::run`], which writes each interval through the trait as the run goes
//! (`load` never imports `report`).
//!
//! The log is the format of HdrHistogram's `HistogramLogWriter` (version 1.3): a
//! `#[StartTime: …]` and `#[BaseTime: …]` header, then one line per interval and series,
//! `Tag=<tag>,<offset s>,<length s>,<max ms>,<V2 compressed histogram, base64>`. HdrHistogram's
//! own tools (`HistogramLogProcessor`, `HistogramLogAnalyzer`) read it; values are in
//! microseconds (pass `-outputValueUnitRatio 1000` to the Java processor for milliseconds)
//! and the max column is in milliseconds.
//!
//! Tags are `latency:<step>:<mode>`, `service:<step>:<mode>`, `lateness:<step>:<mode>`,
//! `mint` and `pacer`, where `<step>` is percent-encoded (tags may not hold spaces or commas).
//! Counts that are not histograms (responses by status, errors by class) travel in comment
//! lines that HdrHistogram tools ignore: `#jwtprobe-counts <tag suffix> {json}` per interval,
//! and `#jwtprobe-run {json}` once at the end with the run's window and health. Merging adds
//! histograms per tag and counts per key, so a merged log gives exactly the totals and
//! percentiles of the union of the shards' samples.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use camino::{Utf8Path, Utf8PathBuf};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use crate::load::sink::{IntervalSink, RunFacts, SinkError};
use crate::load::stats::{self, ErrorClass, Series, SeriesKey, Stats};
use crate::scenario::SessionMode;

/// Values are recorded in microseconds; the Interval_Max column is written in milliseconds.
const MAX_VALUE_DIVISOR: f64 = 1000.0;

/// An error writing or reading an interval log.
#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    /// The file could not be created or written.
    #[error("failed to write HdrHistogram log `{path}`")]
    Write {
        /// The log file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be read.
    #[error("failed to read HdrHistogram log `{path}`")]
    Read {
        /// The log file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid interval log.
    #[error("invalid HdrHistogram log `{path}` at byte {offset}: {reason}")]
    Invalid {
        /// The log file.
        path: Utf8PathBuf,
        /// Byte offset of the bad line.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Counts {
    #[serde(default)]
    statuses: BTreeMap<String, u64>,
    #[serde(default)]
    errors: BTreeMap<String, u64>,
}

/// Writes an interval log as a run goes.
pub struct HlogWriter<W: Write> {
    out: W,
    path: Utf8PathBuf,
    serializer: V2DeflateSerializer,
    start: SystemTime,
}

impl<W: Write> std::fmt::Debug for HlogWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlogWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl HlogWriter<BufWriter<fs_err::File>> {
    /// Creates `path` and writes the header; `start` is the run's start (StartTime/BaseTime).
    pub fn create(path: &Utf8Path, start: SystemTime) -> Result<Self, HlogError> {
        let file = fs_err::File::create(path).map_err(|source| HlogError::Write {
            path: path.to_owned(),
            source,
        })?;
        Self::new(BufWriter::new(file), path, start)
    }
}

impl<W: Write> HlogWriter<W> {
    /// Writes the header to `out`; `path` names the log in errors.
    pub fn new(mut out: W, path: &Utf8Path, start: SystemTime) -> Result<Self, HlogError> {
        let path = path.to_owned();
        let io = |source| HlogError::Write {
            path: path.clone(),
            source,
        };
        let mut serializer = V2DeflateSerializer::new();
        {
            let mut builder = IntervalLogWriterBuilder::new();
            builder
                .add_comment("[Histogram log format version 1.3]")
                .add_comment("jwtprobe load: values in microseconds, max column in milliseconds")
                .with_start_time(start)
                .with_base_time(start)
                .with_max_value_divisor(MAX_VALUE_DIVISOR);
            builder
                .begin_log_with(&mut out, &mut serializer)
                .map_err(io)?;
        }
        out.write_all(
            b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
        )
        .map_err(io)?;
        Ok(Self {
            out,
            path,
            serializer,
            start,
        })
    }

    /// The log's StartTime (and BaseTime): interval offsets count from here.
    pub fn start(&self) -> SystemTime {
        self.start
    }

    fn io_error(&self, source: std::io::Error) -> HlogError {
        HlogError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn write_histogram(
        &mut self,
        h: &Histogram<u64>,
        offset: Duration,
        length: Duration,
        tag: &str,
    ) -> Result<(), HlogError> {
        use hdrhistogram::serialization::interval_log::IntervalLogWriterError as E;
        let Some(tag) = Tag::new(tag) else {
            // Tags are built from encoded names, so this cannot happen; say so if it does.
            return Err(self.io_error(std::io::Error::other(format!("invalid log tag `{tag}`"))));
        };
        // Every write builds a writer anew, so the divisor must be set here too: without it the
        // Interval_Max column came out in microseconds under a header that says milliseconds.
        let result = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(MAX_VALUE_DIVISOR)
            .begin_log_with(&mut self.out, &mut self.serializer)
            .map_err(E::IoError)
            .and_then(|mut w| w.write_histogram(h, offset, length, Some(tag)));
        result.map_err(|e| match e {
            E::IoError(source) => self.io_error(source),
            E::SerializeError(e) => self.io_error(std::io::Error::other(format!(
                "failed to serialize a histogram: {e:?}"
            ))),
        })
    }

    /// Writes one interval: every non-empty series of `stats`, recorded from `offset` (since
    /// the start) for `length`.
    pub fn write_interval(
        &mut self,
        offset: Duration,
        length: Duration,
        stats: &Stats,
    ) -> Result<(), HlogError> {
        for (key, series) in &stats.series {
            if series.is_empty() {
                continue;
            }
            let suffix = tag_suffix(key);
            for (kind, h) in [
                ("latency", &series.latency),
                ("service", &series.service),
                ("lateness", &series.lateness),
            ] {
                if !h.is_empty() {
                    self.write_histogram(h, offset, length, &format!("{kind}:{suffix}"))?;
                }
            }
            let counts = Counts {
                statuses: series
                    .statuses
                    .iter()
                    .map(|(s, n)| (s.to_string(), *n))
                    .collect(),
                errors: series
                    .errors
                    .iter()
                    .map(|(c, n)| (c.as_str().to_owned(), *n))
                    .collect(),
            };
            let json = serde_json::to_string(&counts).unwrap_or_default();
            writeln!(self.out, "#jwtprobe-counts {suffix} {json}").map_err(|e| self.io_error(e))?;
        }
        if let Some(mint) = stats.mint.as_ref().filter(|h| !h.is_empty()) {
            self.write_histogram(mint, offset, length, "mint")?;
        }
        self.out.flush().map_err(|e| self.io_error(e))
    }

    /// Writes the pacer's lateness (one histogram for the whole run) and the run's facts, and
    /// flushes the log.
    pub fn finish(
        mut self,
        pacer: Option<&Histogram<u64>>,
        facts: &RunFacts,
    ) -> Result<(), HlogError> {
        if let Some(pacer) = pacer.filter(|h| !h.is_empty()) {
            let from = Duration::from_secs_f64(facts.measured_from_s.max(0.0));
            let length = Duration::from_secs_f64(facts.measured_s.max(0.0));
            self.write_histogram(pacer, from, length, "pacer")?;
        }
        let json = serde_json::to_string(facts).unwrap_or_default();
        writeln!(self.out, "#jwtprobe-run {json}").map_err(|e| self.io_error(e))?;
        self.out.flush().map_err(|e| self.io_error(e))
    }
}

impl<W: Write + Send> IntervalSink for HlogWriter<W> {
    fn start(&self) -> SystemTime {
        self.start
    }

    fn write_interval(
        &mut self,
        offset: Duration,
        length: Duration,
        stats: &Stats,
    ) -> Result<(), SinkError> {
        Self::write_interval(self, offset, length, stats).map_err(|e| SinkError(Box::new(e)))
    }

    fn finish(
        self: Box<Self>,
        pacer: Option<&Histogram<u64>>,
        facts: &RunFacts,
    ) -> Result<(), SinkError> {
        Self::finish(*self, pacer, facts).map_err(|e| SinkError(Box::new(e)))
    }
}

/// Encodes a series key as a tag suffix: `<percent-encoded step>:<mode>`.
fn tag_suffix(key: &SeriesKey) -> String {
    let mut out = String::new();
    for b in key.step.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push(':');
    out.push_str(key.session.as_str());
    out
}

/// Decodes [`tag_suffix`].
fn parse_tag_suffix(suffix: &str) -> Option<SeriesKey> {
    let (step, mode) = suffix.rsplit_once(':')?;
    let session = SessionMode::parse(mode)?;
    let mut bytes = Vec::with_capacity(step.len());
    let raw = step.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = step.get(i + 1..i + 3)?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    Some(SeriesKey::new(String::from_utf8(bytes).ok()?, session))
}

/// What one log (or several merged) holds.
#[derive(Debug, Clone, Default)]
pub struct LogContents {
    /// The statistics, summed over every interval.
    pub stats: Stats,
    /// The pacer's lateness, when the run was paced.
    pub pacer: Option<Histogram<u64>>,
    /// The measured window as seconds since the Unix epoch, `(start, end)`.
    pub window: Option<(f64, f64)>,
    /// Whether every merged run kept its schedule; `None` when no log said.
    pub schedule_kept: Option<bool>,
    /// Reasons runs did not keep their schedule.
    pub schedule_notes: Vec<String>,
    /// Whether any merged run was interrupted.
    pub interrupted: bool,
    /// How many logs were merged into this.
    pub logs: usize,
    /// Every interval, all series summed, by its offset from the log's start in whole
    /// seconds (as milliseconds). Shards started together write intervals at the same
    /// offsets, so merged logs sum interval by interval.
    pub timeline: Timeline,
}

/// One interval of a run: every series summed, and the interval's length.
#[derive(Debug, Clone, Default)]
pub struct TimelinePoint {
    /// Length of the interval, seconds.
    pub length_s: f64,
    /// Every series of the interval added together (latency, service, statuses, errors).
    pub all: Series,
}

/// A run's intervals by offset from the start of its log, in milliseconds rounded to whole
/// seconds (intervals are one second long while running).
pub type Timeline = BTreeMap<i64, TimelinePoint>;

impl LogContents {
    /// Length of the measured window (zero when unknown).
    pub fn elapsed(&self) -> Duration {
        self.window
            .map(|(a, b)| Duration::from_secs_f64((b - a).max(0.0)))
            .unwrap_or_default()
    }

    /// Adds another log into this one: histograms and counts are summed, the window is the
    /// union of both.
    pub fn merge(&mut self, other: &Self) {
        self.stats.add(&other.stats);
        if let Some(p) = &other.pacer {
            stats::add_into(self.pacer.get_or_insert_with(stats::histogram), p);
        }
        self.window = match (self.window, other.window) {
            (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
            (a, b) => a.or(b),
        };
        self.schedule_kept = match (self.schedule_kept, other.schedule_kept) {
            (Some(a), Some(b)) => Some(a && b),
            (a, b) => a.or(b),
        };
        self.schedule_notes
            .extend(other.schedule_notes.iter().cloned());
        self.interrupted |= other.interrupted;
        self.logs += other.logs;
        for (at, point) in &other.timeline {
            let mine = self.timeline.entry(*at).or_default();
            mine.length_s = mine.length_s.max(point.length_s);
            mine.all.add(&point.all);
        }
    }
}

/// Reads an interval log written by [`HlogWriter`] from a file.
pub fn read_file(path: &Utf8Path) -> Result<LogContents, HlogError> {
    let bytes = fs_err::read(path).map_err(|source| HlogError::Read {
        path: path.to_owned(),
        source,
    })?;
    read(&bytes, path)
}

/// Reads an interval log from bytes; `path` names it in errors.
pub fn read(bytes: &[u8], path: &Utf8Path) -> Result<LogContents, HlogError> {
    let invalid = |offset: usize, reason: String| HlogError::Invalid {
        path: path.to_owned(),
        offset,
        reason,
    };
    let mut contents = LogContents {
        logs: 1,
        ..LogContents::default()
    };
    let mut start_time: Option<f64> = None;
    let mut base_time: Option<f64> = None;
    let mut interval_window: Option<(f64, f64)> = None;
    let mut facts: Option<RunFacts> = None;
    let mut deserializer = Deserializer::new();
    // Intervals by offset from the log's start, rounded to whole seconds (as milliseconds).
    let mut relative: BTreeMap<i64, TimelinePoint> = BTreeMap::new();
    for entry in IntervalLogIterator::new(bytes) {
        let entry = entry.map_err(|e| {
            let hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset } =
                e;
            invalid(offset, "not an interval log line".to_owned())
        })?;
        match entry {
            LogEntry::StartTime(t) => start_time = Some(t.as_secs_f64()),
            LogEntry::BaseTime(t) => base_time = Some(t.as_secs_f64()),
            LogEntry::Interval(interval) => {
                let offset = offset_of(bytes, interval.encoded_histogram());
                let encoded = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .map_err(|e| invalid(offset, format!("bad base64: {e}")))?;
                let h: Histogram<u64> = deserializer
                    .deserialize(&mut encoded.as_slice())
                    .map_err(|e| invalid(offset, format!("bad histogram: {e:?}")))?;
                let begin = interval.start_timestamp().as_secs_f64();
                let end = begin + interval.duration().as_secs_f64();
                let tag = interval
                    .tag()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default();
                if tag != "pacer" {
                    interval_window = Some(match interval_window {
                        Some((a, b)) => (a.min(begin), b.max(end)),
                        None => (begin, end),
                    });
                }
                add_tagged(&mut contents, &tag, &h).map_err(|reason| invalid(offset, reason))?;
                if let Some((kind, _)) = tag.split_once(':') {
                    let point = relative.entry(whole_seconds_ms(begin)).or_default();
                    point.length_s = point.length_s.max(end - begin);
                    match kind {
                        "latency" => stats::add_into(&mut point.all.latency, &h),
                        "service" => stats::add_into(&mut point.all.service, &h),
                        "lateness" => stats::add_into(&mut point.all.lateness, &h),
                        _ => {}
                    }
                }
            }
        }
    }
    // Comment lines carry the counts and facts; HdrHistogram's parser skips them.
    let text = String::from_utf8_lossy(bytes);
    let mut line_offset = 0;
    // A counts line follows the histograms of its interval; this is that interval's start.
    let mut current_interval: Option<i64> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if let Some(start) = interval_start(trimmed) {
            current_interval = Some(whole_seconds_ms(start));
        }
        if let Some(rest) = trimmed.strip_prefix("#jwtprobe-counts ") {
            let (suffix, json) = rest
                .split_once(' ')
                .ok_or_else(|| invalid(line_offset, "counts line without data".to_owned()))?;
            let key = parse_tag_suffix(suffix)
                .ok_or_else(|| invalid(line_offset, format!("bad series `{suffix}`")))?;
            let counts: Counts = serde_json::from_str(json)
                .map_err(|e| invalid(line_offset, format!("bad counts: {e}")))?;
            let series = contents.stats.series.entry(key).or_default();
            let mut point = current_interval.map(|at| &mut relative.entry(at).or_default().all);
            for (status, n) in counts.statuses {
                let status: u16 = status
                    .parse()
                    .map_err(|_| invalid(line_offset, format!("bad status `{status}`")))?;
                *series.statuses.entry(status).or_insert(0) += n;
                if let Some(point) = point.as_deref_mut() {
                    *point.statuses.entry(status).or_insert(0) += n;
                }
            }
            for (class, n) in counts.errors {
                let class = ErrorClass::parse(&class).ok_or_else(|| {
                    invalid(line_offset, format!("unknown error class `{class}`"))
                })?;
                *series.errors.entry(class).or_insert(0) += n;
                if let Some(point) = point.as_deref_mut() {
                    *point.errors.entry(class).or_insert(0) += n;
                }
            }
        } else if let Some(json) = trimmed.strip_prefix("#jwtprobe-run ") {
            facts = Some(
                serde_json::from_str(json)
                    .map_err(|e| invalid(line_offset, format!("bad run facts: {e}")))?,
            );
        }
        line_offset += line.len();
    }
    let base = base_time.or(start_time).unwrap_or(0.0);
    contents.timeline = relative;
    contents.window = match &facts {
        Some(f) => Some((
            base + f.measured_from_s,
            base + f.measured_from_s + f.measured_s,
        )),
        None => interval_window.map(|(a, b)| (base + a, base + b)),
    };
    if let Some(f) = facts {
        contents.schedule_kept = Some(f.schedule_kept);
        contents.schedule_notes.extend(f.schedule_note);
        contents.interrupted = f.interrupted;
    }
    Ok(contents)
}

/// An offset in seconds rounded to whole seconds, as milliseconds (the timeline's key).
fn whole_seconds_ms(seconds: f64) -> i64 {
    seconds.round() as i64 * 1000
}

/// The start offset of an interval line (`[Tag=…,]<start>,<length>,<max>,<histogram>`).
fn interval_start(line: &str) -> Option<f64> {
    if line.starts_with('#') || line.starts_with('"') {
        return None;
    }
    let rest = match line.strip_prefix("Tag=") {
        Some(tagged) => tagged.split_once(',')?.1,
        None => line,
    };
    rest.split(',').next()?.parse().ok()
}

/// Byte offset of `part` (a slice of `whole`) within `whole`.
fn offset_of(whole: &[u8], part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

fn add_tagged(contents: &mut LogContents, tag: &str, h: &Histogram<u64>) -> Result<(), String> {
    match tag {
        "pacer" => stats::add_into(contents.pacer.get_or_insert_with(stats::histogram), h),
        "mint" => stats::add_into(contents.stats.mint.get_or_insert_with(stats::histogram), h),
        _ => {
            let (kind, suffix) = tag
                .split_once(':')
                .ok_or_else(|| format!("unknown tag `{tag}`"))?;
            let key = parse_tag_suffix(suffix).ok_or_else(|| format!("bad series tag `{tag}`"))?;
            let series: &mut Series = contents.stats.series.entry(key).or_default();
            let target = match kind {
                "latency" => &mut series.latency,
                "service" => &mut series.service,
                "lateness" => &mut series.lateness,
                _ => return Err(format!("unknown tag `{tag}`")),
            };
            stats::add_into(target, h);
        }
    }
    Ok(())
}

/// Seconds since the Unix epoch.
pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::load::stats::{Sample, SampleOutcome};

    fn series_with(values: impl IntoIterator<Item = u64>, status: u16) -> Series {
        let mut s = Series::new();
        let t0 = Instant::now();
        for v in values {
            s.record(&Sample {
                series: 0,
                intended: t0,
                started: t0 + Duration::from_micros(v / 10),
                finished: t0 + Duration::from_micros(v),
                outcome: SampleOutcome::Response {
                    status,
                    error: (status >= 400).then_some(ErrorClass::AuthReject),
                },
            });
        }
        s
    }

    fn log(stats: &[Stats], start: SystemTime, facts: &RunFacts) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = HlogWriter::new(&mut buf, Utf8Path::new("mem.hlog"), start).unwrap();
        for (i, s) in stats.iter().enumerate() {
            w.write_interval(Duration::from_secs(i as u64), Duration::from_secs(1), s)
                .unwrap();
        }
        let mut pacer = stats::histogram();
        pacer.record(7).unwrap();
        w.finish(Some(&pacer), facts).unwrap();
        buf
    }

    fn facts(kept: bool) -> RunFacts {
        RunFacts {
            measured_from_s: 0.0,
            measured_s: 2.0,
            schedule_kept: kept,
            schedule_note: (!kept).then(|| "late".to_owned()),
            interrupted: false,
            shard: None,
        }
    }

    fn stats_of(step: &str, series: Series) -> Stats {
        let mut s = Stats::new();
        s.series
            .insert(SeriesKey::new(step, SessionMode::Bearer), series);
        s
    }

    #[test]
    fn log_round_trips_histograms_counts_and_odd_step_names() {
        let step = "open the hub, 100%: ok";
        let a = stats_of(step, series_with(1..=500, 200));
        let b = stats_of(step, series_with([90_000], 400));
        let start = SystemTime::now();
        let bytes = log(&[a.clone(), b.clone()], start, &facts(true));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("#[Histogram log format version 1.3]\n"),
            "{text}"
        );
        assert!(text.contains("#[StartTime: "));
        assert!(text.contains("Tag=latency:open%20the%20hub%2C%20100%25%3A%20ok:bearer,"));
        let read = read(&bytes, Utf8Path::new("mem.hlog")).unwrap();
        let mut expected = a;
        expected.add(&b);
        let got = read.stats.step(step).unwrap();
        let want = expected.step(step).unwrap();
        assert_eq!(got.latency, want.latency);
        assert_eq!(got.service, want.service);
        assert_eq!(got.statuses, want.statuses);
        assert_eq!(got.errors, want.errors);
        assert_eq!(read.pacer.as_ref().map(Histogram::len), Some(1));
        assert_eq!(read.schedule_kept, Some(true));
        let elapsed = read.elapsed().as_secs_f64();
        assert!((elapsed - 2.0).abs() < 0.01, "{elapsed}");
    }

    #[test]
    fn merging_two_shard_logs_equals_their_union() {
        let start = SystemTime::now();
        let shard_a = stats_of("hub", series_with((1..=2000).map(|v| v * 3), 200));
        let shard_b = stats_of("hub", series_with((1..=1000).map(|v| v * 50), 200));
        let mut fail = Series::new();
        fail.errors.insert(ErrorClass::Timeout, 4);
        let mut shard_b2 = shard_b.clone();
        shard_b2
            .series
            .insert(SeriesKey::new("hub", SessionMode::Cookie), fail);
        let log_a = read(
            &log(std::slice::from_ref(&shard_a), start, &facts(true)),
            "a".into(),
        )
        .unwrap();
        let log_b = read(
            &log(std::slice::from_ref(&shard_b2), start, &facts(false)),
            "b".into(),
        )
        .unwrap();
        let mut merged = log_a.clone();
        merged.merge(&log_b);

        let mut union = shard_a;
        union.add(&shard_b2);
        let (m, u) = (merged.stats.overall(), union.overall());
        assert_eq!(m.requests(), 3004);
        assert_eq!(m.requests(), u.requests());
        assert_eq!(m.errors, u.errors);
        for q in [0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                m.latency.value_at_quantile(q),
                u.latency.value_at_quantile(q),
                "quantile {q}"
            );
        }
        assert_eq!(merged.schedule_kept, Some(false));
        assert_eq!(merged.logs, 2);
        assert_eq!(merged.pacer.as_ref().map(Histogram::len), Some(2));
    }

    #[test]
    fn shards_started_apart_merge_their_timelines_interval_by_interval() {
        let start = SystemTime::now();
        let one = stats_of("hub", series_with(1..=10, 200));
        let two = stats_of("hub", series_with(1..=30, 200));
        let log_a = read(
            &log(&[one.clone(), two.clone()], start, &facts(true)),
            "a".into(),
        );
        let later = start + Duration::from_millis(400);
        let log_b = read(&log(&[one, two], later, &facts(true)), "b".into());
        let mut merged = log_a.unwrap();
        merged.merge(&log_b.unwrap());
        let counts: Vec<u64> = merged
            .timeline
            .values()
            .map(|p| p.all.latency.len())
            .collect();
        assert_eq!(counts, vec![20, 60]);
        assert_eq!(
            merged.timeline.keys().copied().collect::<Vec<_>>(),
            vec![0, 1000]
        );
    }

    #[test]
    fn garbage_is_an_invalid_log_error() {
        let err = read(b"not a log\n", "x.hlog".into()).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid HdrHistogram log `x.hlog`"),
            "{err}"
        );
    }

    #[test]
    fn tag_suffix_round_trips() {
        for step in ["a", "open hub", "ü/x,y:z%", ""] {
            let key = SeriesKey::new(step, SessionMode::Cookie);
            assert_eq!(parse_tag_suffix(&tag_suffix(&key)), Some(key));
        }
    }
}
