//! HDR statistics for load runs: per-step series, recorders and their aggregation.
//!
//! Every measurement ([`Sample`]) lands in a [`Series`]: three HDR histograms (latency from
//! the intended send time, service time from the actual send, and send lateness) plus counts
//! by status and by [`ErrorClass`]. A series is keyed by step and [`SessionMode`] (the scenario's)
//! ([`SeriesKey`]): a request that carries the bearer token and one that only reuses the
//! session cookie take different code paths in the proxy, so they are never mixed.
//!
//! Workers record into their own [`Recorder`] (a mutex that only the aggregator ever contends
//! for, once per interval); the aggregator drains every recorder into a [`Stats`] at interval
//! boundaries with [`Recorder::drain_into`]. Nothing is stored per request, so memory stays flat
//! however long a run is. Overall figures are the exact sum of the per-step histograms
//! ([`Stats::overall`]), never an average of percentiles.
//!
//! Lossy statistics, defined here and nowhere else:
//! - Durations are recorded in whole microseconds, rounded to the nearest microsecond.
//! - Histograms keep 3 significant digits over 1 µs … 60 s ([`LOWEST_US`], [`HIGHEST_US`],
//!   [`SIGNIFICANT_DIGITS`]): values up to 2,048 µs are exact; above that a value shares its
//!   bucket with values within 0.1 % of it, and a percentile reports the highest value of its
//!   bucket (so it errs on the slow side by at most 0.1 %).
//! - Values above 60 s are recorded as 60 s.
//! - Only requests that got an HTTP response are in the histograms; transport errors
//!   (connect, TLS, timeout, other) are counted by class but have no latency.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::scenario::SessionMode;

/// The smallest value a histogram tells apart, in microseconds.
pub const LOWEST_US: u64 = 1;
/// The largest value a histogram holds, in microseconds (60 s); larger values are clamped.
pub const HIGHEST_US: u64 = 60_000_000;
/// Significant decimal digits kept by every histogram.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A new, empty histogram with the load bounds (1 µs … 60 s, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    // Auto-resizing from a small start keeps per-worker histograms small for sub-millisecond
    // runs; values are clamped to `HIGHEST_US` before recording, so the bound still holds and
    // the bucket layout (lowest 1, 3 digits) is the same as a fully allocated one.
    let mut h = Histogram::new_with_bounds(LOWEST_US, 2 * 2048, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// Converts a duration to whole microseconds (rounded to nearest), clamped to [`HIGHEST_US`].
pub fn duration_us(d: Duration) -> u64 {
    let us = (d.as_nanos() + 500) / 1000;
    u64::try_from(us).unwrap_or(u64::MAX).min(HIGHEST_US)
}

/// Records a duration into a histogram (clamped to [`HIGHEST_US`]).
fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = duration_us(d);
    // The value is clamped to `HIGHEST_US` and the histogram auto-resizes, so this only fails
    // if memory for the resize cannot be addressed; clamping then keeps the count.
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// Adds one histogram into another; both use the same layout, so this is exact.
pub(crate) fn add_into(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if from.is_empty() {
        return;
    }
    // Both histograms auto-resize and share the lowest value and precision, so addition
    // cannot fail; a failure would be a programming error, and we keep counts anyway.
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            let value = v.value_iterated_to().min(HIGHEST_US);
            if into.record_n(value, v.count_at_value()).is_err() {
                into.saturating_record_n(value, v.count_at_value());
            }
        }
    }
}

/// The one class list, kept at this path for the maps of [`Stats`] that are keyed by it.
pub use crate::client::ErrorClass;

/// The class a transport failure counts under in load: a body over the cap counts as `other`,
/// as it always has in load's reports (`run` names it `body_too_large`).
pub fn counted_class(class: ErrorClass) -> ErrorClass {
    match class {
        ErrorClass::BodyTooLarge => ErrorClass::Other,
        class => class,
    }
}

/// What identifies a series: the step and how the request authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The step's name (unique within a load run).
    pub step: String,
    /// How the request authenticated.
    pub session: SessionMode,
}

impl SeriesKey {
    /// A key for a step and mode.
    pub fn new(step: impl Into<String>, session: SessionMode) -> Self {
        Self {
            step: step.into(),
            session,
        }
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.step, self.session)
    }
}

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOutcome {
    /// The target answered; `error` is set when the answer counts as an error.
    Response {
        /// The HTTP status.
        status: u16,
        /// [`ErrorClass::AuthReject`] or [`ErrorClass::Check`] when the answer failed the step.
        error: Option<ErrorClass>,
    },
    /// No answer: the request failed in transport (or its token could not be minted).
    Failed(ErrorClass),
}

/// One load measurement.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Index of the series in the run's series table (see [`Recorder::new`]).
    pub series: usize,
    /// Time the schedule meant the request to be sent; latency is measured from here so that
    /// a late send (coordinated omission) shows up as latency. Equal to `started` in the
    /// closed model.
    pub intended: Instant,
    /// Time the request was actually handed to the client.
    pub started: Instant,
    /// Time the response body was read completely (or the error was known).
    pub finished: Instant,
    /// What happened.
    pub outcome: SampleOutcome,
}

/// The statistics of one series.
#[derive(Debug, Clone)]
pub struct Series {
    /// Latency from the intended send time to the end of the response, µs ("corrected").
    pub latency: Histogram<u64>,
    /// Service time from the actual send to the end of the response, µs ("uncorrected").
    pub service: Histogram<u64>,
    /// Send lateness: actual send minus intended send, µs.
    pub lateness: Histogram<u64>,
    /// Responses by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Errors by class (responses that failed their step included).
    pub errors: BTreeMap<ErrorClass, u64>,
}

impl Default for Series {
    fn default() -> Self {
        Self::new()
    }
}

impl Series {
    /// An empty series.
    pub fn new() -> Self {
        Self {
            latency: histogram(),
            service: histogram(),
            lateness: histogram(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    /// Records one sample.
    pub fn record(&mut self, sample: &Sample) {
        match sample.outcome {
            SampleOutcome::Response { status, error } => {
                record(
                    &mut self.latency,
                    sample.finished.saturating_duration_since(sample.intended),
                );
                record(
                    &mut self.service,
                    sample.finished.saturating_duration_since(sample.started),
                );
                *self.statuses.entry(status).or_insert(0) += 1;
                if let Some(class) = error {
                    *self.errors.entry(class).or_insert(0) += 1;
                }
            }
            SampleOutcome::Failed(class) => {
                *self.errors.entry(class).or_insert(0) += 1;
            }
        }
        record(
            &mut self.lateness,
            sample.started.saturating_duration_since(sample.intended),
        );
    }

    /// Requests sent (answered or failed in transport).
    pub fn requests(&self) -> u64 {
        self.responses() + self.transport_errors()
    }

    /// Requests that got an HTTP response.
    pub fn responses(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Requests that failed in transport (no response).
    pub fn transport_errors(&self) -> u64 {
        self.errors
            .iter()
            .filter(|(c, _)| !matches!(c, ErrorClass::AuthReject | ErrorClass::Check))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that count as errors (transport errors and failed responses).
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Errors divided by requests; `None` when nothing was sent.
    pub fn error_rate(&self) -> Option<f64> {
        let requests = self.requests();
        (requests > 0).then(|| self.error_count() as f64 / requests as f64)
    }

    /// Adds another series into this one (exact: histograms and counts are summed).
    pub fn add(&mut self, other: &Self) {
        add_into(&mut self.latency, &other.latency);
        add_into(&mut self.service, &other.service);
        add_into(&mut self.lateness, &other.lateness);
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_insert(0) += n;
        }
        for (class, n) in &other.errors {
            *self.errors.entry(*class).or_insert(0) += n;
        }
    }

    /// Empties the series, keeping its allocations.
    pub fn reset(&mut self) {
        self.latency.reset();
        self.service.reset();
        self.lateness.reset();
        self.statuses.clear();
        self.errors.clear();
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty() && self.errors.is_empty() && self.lateness.is_empty()
    }
}

/// Statistics of a whole run (or of one interval): every series, plus token minting.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// The series, by step and session mode.
    pub series: BTreeMap<SeriesKey, Series>,
    /// Time spent minting tokens inside the timed phase (fresh and refreshed tokens), µs.
    /// Reported apart: it is generator work, not target latency.
    pub mint: Option<Histogram<u64>>,
    /// The first message recorded for each error class (a status, or the transport error with
    /// any query string cut), so a summary says what went wrong, not only how often. "First"
    /// is per drain: across workers it is one of the first.
    pub first_errors: BTreeMap<ErrorClass, String>,
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds another set of statistics into this one (exact).
    pub fn add(&mut self, other: &Self) {
        for (key, series) in &other.series {
            self.series.entry(key.clone()).or_default().add(series);
        }
        if let Some(mint) = &other.mint {
            add_into(self.mint.get_or_insert_with(histogram), mint);
        }
        for (class, message) in &other.first_errors {
            self.first_errors
                .entry(*class)
                .or_insert_with(|| message.clone());
        }
    }

    /// The exact sum of every series: the overall figures.
    pub fn overall(&self) -> Series {
        let mut all = Series::new();
        for series in self.series.values() {
            all.add(series);
        }
        all
    }

    /// The exact sum of every series of one step (all session modes); `None` for an unknown
    /// step.
    pub fn step(&self, step: &str) -> Option<Series> {
        let mut found = None;
        for (key, series) in &self.series {
            if key.step == step {
                found.get_or_insert_with(Series::new).add(series);
            }
        }
        found
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.series.values().all(Series::is_empty)
            && self.mint.as_ref().is_none_or(Histogram::is_empty)
    }
}

/// What a worker records into: its own series table, drained by the aggregator.
///
/// Cloning a recorder gives another handle to the same table. The mutex is only contended
/// when the aggregator drains it (once per interval), so recording costs an uncontended lock
/// and three histogram increments.
#[derive(Debug, Clone)]
pub struct Recorder {
    keys: Arc<[SeriesKey]>,
    inner: Arc<Mutex<RecorderTable>>,
}

#[derive(Debug)]
struct RecorderTable {
    series: Vec<Series>,
    mint: Histogram<u64>,
    first_errors: BTreeMap<ErrorClass, String>,
}

impl Recorder {
    /// A recorder for the given series table; [`Sample::series`] indexes `keys`.
    pub fn new(keys: Arc<[SeriesKey]>) -> Self {
        let series = keys.iter().map(|_| Series::new()).collect();
        Self {
            keys,
            inner: Arc::new(Mutex::new(RecorderTable {
                series,
                mint: histogram(),
                first_errors: BTreeMap::new(),
            })),
        }
    }

    /// The series table.
    pub fn keys(&self) -> &[SeriesKey] {
        &self.keys
    }

    /// Records one sample; a sample naming a series outside the table is ignored.
    pub fn record(&self, sample: &Sample) {
        let mut table = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = table.series.get_mut(sample.series) {
            series.record(sample);
        }
    }

    /// Records the time spent minting one token.
    pub fn record_mint(&self, took: Duration) {
        let mut table = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        record(&mut table.mint, took);
    }

    /// Keeps `message()` as the first message of `class`, unless one is kept already (then
    /// `message` is not called). Query strings are cut from it: a token may travel in one.
    pub fn note_error(&self, class: ErrorClass, message: impl FnOnce() -> String) {
        let mut table = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let std::collections::btree_map::Entry::Vacant(slot) = table.first_errors.entry(class) {
            slot.insert(cut_queries(&message()));
        }
    }

    /// Moves everything recorded so far into `into` and empties this recorder.
    pub fn drain_into(&self, into: &mut Stats) {
        let mut table = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, series) in self.keys.iter().zip(table.series.iter_mut()) {
            if series.is_empty() {
                continue;
            }
            into.series.entry(key.clone()).or_default().add(series);
            series.reset();
        }
        if !table.mint.is_empty() {
            add_into(into.mint.get_or_insert_with(histogram), &table.mint);
            table.mint.reset();
        }
        // Kept (not moved), so that the next drain does not note a later message.
        for (class, message) in &table.first_errors {
            into.first_errors
                .entry(*class)
                .or_insert_with(|| message.clone());
        }
    }
}

/// Replaces every URL query string in a message (`?access_token=…`) with `?…`.
fn cut_queries(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_query = false;
    for c in message.chars() {
        if in_query {
            if c.is_whitespace() || c == '`' || c == ')' {
                in_query = false;
                out.push(c);
            }
            continue;
        }
        out.push(c);
        if c == '?' {
            in_query = true;
            out.push('…');
        }
    }
    out
}

/// Percentiles of one histogram, in microseconds, as reports show them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Percentiles {
    /// Number of values.
    pub count: u64,
    /// Smallest value.
    pub min: u64,
    /// Mean (exact to the bucket precision).
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// Largest value.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            min: h.min(),
            mean: if h.is_empty() { 0.0 } else { h.mean() },
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            p99_99: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

/// Formats microseconds for people: `87µs`, `1.25ms`, `3.10s`.
pub fn format_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2}s", us as f64 / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_message_of_each_class_is_kept_with_queries_cut() {
        let keys: Arc<[SeriesKey]> = Arc::from(Vec::new());
        let recorder = Recorder::new(keys);
        recorder.note_error(ErrorClass::Timeout, || {
            "request to `http://h/x?access_token=secret` timed out".to_owned()
        });
        recorder.note_error(ErrorClass::Timeout, || {
            unreachable!("only the first is kept")
        });
        recorder.note_error(ErrorClass::Check, || "status 500".to_owned());
        let mut stats = Stats::new();
        recorder.drain_into(&mut stats);
        assert_eq!(
            stats.first_errors[&ErrorClass::Timeout],
            "request to `http://h/x?…` timed out"
        );
        assert_eq!(stats.first_errors[&ErrorClass::Check], "status 500");
    }

    fn sample(series: usize, late_us: u64, service_us: u64, outcome: SampleOutcome) -> Sample {
        let intended = Instant::now();
        let started = intended + Duration::from_micros(late_us);
        Sample {
            series,
            intended,
            started,
            finished: started + Duration::from_micros(service_us),
            outcome,
        }
    }

    fn ok(status: u16) -> SampleOutcome {
        SampleOutcome::Response {
            status,
            error: None,
        }
    }

    #[test]
    fn latency_counts_from_intended_time_and_service_from_actual_send() {
        let mut s = Series::new();
        s.record(&sample(0, 900, 100, ok(200)));
        assert_eq!(s.latency.max(), 1000);
        assert_eq!(s.service.max(), 100);
        assert_eq!(s.lateness.max(), 900);
        assert_eq!(s.statuses[&200], 1);
    }

    #[test]
    fn transport_error_is_counted_but_has_no_latency() {
        let mut s = Series::new();
        s.record(&sample(
            0,
            0,
            50,
            SampleOutcome::Failed(ErrorClass::Connect),
        ));
        s.record(&sample(
            0,
            0,
            50,
            SampleOutcome::Response {
                status: 400,
                error: Some(ErrorClass::AuthReject),
            },
        ));
        assert_eq!(s.latency.len(), 1);
        assert_eq!(s.requests(), 2);
        assert_eq!(s.transport_errors(), 1);
        assert_eq!(s.error_count(), 2);
        assert_eq!(s.error_rate(), Some(1.0));
    }

    #[test]
    fn values_above_sixty_seconds_are_clamped() {
        assert_eq!(duration_us(Duration::from_secs(3600)), HIGHEST_US);
        assert_eq!(duration_us(Duration::from_nanos(1_499)), 1);
        assert_eq!(duration_us(Duration::from_nanos(1_500)), 2);
    }

    #[test]
    fn recorder_drains_into_stats_and_starts_empty_again() {
        let keys: Arc<[SeriesKey]> = Arc::from(vec![
            SeriesKey::new("open hub", SessionMode::Bearer),
            SeriesKey::new("open hub", SessionMode::Cookie),
        ]);
        let recorder = Recorder::new(keys);
        recorder.record(&sample(0, 1, 10, ok(200)));
        recorder.record(&sample(1, 1, 10, ok(200)));
        recorder.record(&sample(1, 1, 10, ok(302)));
        recorder.record_mint(Duration::from_micros(250));
        let mut stats = Stats::new();
        recorder.drain_into(&mut stats);
        assert_eq!(stats.series.len(), 2);
        assert_eq!(stats.overall().requests(), 3);
        assert_eq!(stats.step("open hub").map(|s| s.requests()), Some(3));
        assert_eq!(stats.mint.as_ref().map(Histogram::len), Some(1));
        let mut again = Stats::new();
        recorder.drain_into(&mut again);
        assert!(again.is_empty());
    }

    #[test]
    fn overall_is_the_exact_sum_of_series() {
        let mut a = Series::new();
        let mut b = Series::new();
        for i in 1..=1000 {
            a.record(&sample(0, 0, i, ok(200)));
            b.record(&sample(0, 0, i * 100, ok(200)));
        }
        let mut stats = Stats::new();
        stats
            .series
            .insert(SeriesKey::new("a", SessionMode::Bearer), a.clone());
        stats
            .series
            .insert(SeriesKey::new("b", SessionMode::Bearer), b.clone());
        let all = stats.overall();
        let mut union = histogram();
        add_into(&mut union, &a.service);
        add_into(&mut union, &b.service);
        assert_eq!(all.service.len(), 2000);
        assert_eq!(
            all.service.value_at_quantile(0.99),
            union.value_at_quantile(0.99)
        );
        assert_eq!(all.service.max(), b.service.max());
    }

    #[test]
    fn microseconds_format_for_people() {
        assert_eq!(format_us(87), "87µs");
        assert_eq!(format_us(1_250), "1.25ms");
        assert_eq!(format_us(3_100_000), "3.10s");
    }
}
