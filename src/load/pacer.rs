//! Pacing for the open model: a schedule of intended send times and the thread that keeps it.
//!
//! A [`Schedule`] turns stages (constant rate, linear ramp) into arrival offsets: arrival `k`
//! is sent when the integral of the rate since the start reaches `k`, so 500/s for 2 s is
//! exactly 1,000 arrivals at 0, 2 ms, 4 ms, … A [`Shard`] `i/n` keeps the global arrivals whose
//! index is `i` modulo `n`: every process takes rate/n, the shards interleave, and a request
//! limit splits with the remainder spread over the first shards, deterministically.
//!
//! [`run_pacer`] runs on a dedicated OS thread, not on a tokio timer (whose 1 ms wheel would
//! add up to a millisecond to every latency measured from the schedule). It waits for each
//! intended time through a [`Clock`] — [`SpinClock`] sleeps until shortly before the deadline
//! and yields in a loop for the rest — and hands the intended [`Instant`] to the workers. Its
//! own lateness (wake-up minus deadline) is recorded in a histogram: that is the noise floor
//! of every latency the run reports. It also watches the backlog of arrivals released but not
//! yet picked up by a worker; [`PacerReport::schedule_kept`] says whether the generator kept
//! up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::stats;

/// One part of a rate schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateStage {
    /// A constant rate (per second) for a duration.
    Constant {
        /// Arrivals per second.
        rate: f64,
        /// How long the stage lasts.
        duration: Duration,
    },
    /// A linear change of rate (per second) over a duration.
    Ramp {
        /// The rate at the start of the stage.
        from: f64,
        /// The rate at the end of the stage.
        to: f64,
        /// How long the stage lasts.
        over: Duration,
    },
}

impl RateStage {
    fn duration(&self) -> Duration {
        match *self {
            Self::Constant { duration, .. } => duration,
            Self::Ramp { over, .. } => over,
        }
    }

    /// Expected arrivals in the whole stage.
    fn arrivals(&self) -> f64 {
        match *self {
            Self::Constant { rate, duration } => rate * duration.as_secs_f64(),
            Self::Ramp { from, to, over } => (from + to) / 2.0 * over.as_secs_f64(),
        }
    }

    /// Seconds into the stage at which `m` arrivals have accumulated; `None` if never.
    fn time_of(&self, m: f64) -> Option<f64> {
        if m <= 0.0 {
            return Some(0.0);
        }
        match *self {
            Self::Constant { rate, .. } => (rate > 0.0).then(|| m / rate),
            Self::Ramp { from, to, over } => {
                let secs = over.as_secs_f64();
                if secs <= 0.0 {
                    return None;
                }
                // Solve a·t² + b·t = m with a = (to − from)/(2T), b = from, in the form that
                // stays stable as a → 0.
                let a = (to - from) / (2.0 * secs);
                let b = from;
                let disc = b * b + 4.0 * a * m;
                if disc < 0.0 {
                    return None;
                }
                let denom = b + disc.sqrt();
                (denom > 0.0).then(|| 2.0 * m / denom)
            }
        }
    }

    /// The rate at the start of the stage.
    pub fn start_rate(&self) -> f64 {
        match *self {
            Self::Constant { rate, .. } => rate,
            Self::Ramp { from, .. } => from,
        }
    }

    /// The highest rate in the stage.
    pub fn peak_rate(&self) -> f64 {
        match *self {
            Self::Constant { rate, .. } => rate,
            Self::Ramp { from, to, .. } => from.max(to),
        }
    }
}

/// Which share of the work this process takes: shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's index, `0 ≤ index < count`.
    pub index: u64,
    /// How many processes share the work.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parses `i/n` (0-based `i < n`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("expected `INDEX/COUNT` like `0/4`, found `{text}`"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("shard index `{i}` is not a whole number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count `{n}` is not a whole number"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "shard index must be below the count (0-based), found `{text}`"
            ));
        }
        Ok(Self { index, count })
    }

    /// This shard's part of `total` items: `total / count`, plus one for the first
    /// `total % count` shards.
    pub fn share(&self, total: u64) -> u64 {
        total / self.count + u64::from(self.index < total % self.count)
    }

    /// True when global item `k` belongs to this shard.
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }
}

/// A rate schedule: an optional warm-up, the measured stages, and bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Warm-up before the measured stages, at the first stage's starting rate; its arrivals
    /// are sent but not recorded.
    pub warmup: Duration,
    /// The measured stages, in order.
    pub stages: Vec<RateStage>,
    /// At most this many measured arrivals across all shards; `None` for no limit.
    pub requests: Option<u64>,
    /// This process's share.
    pub shard: Shard,
}

/// One intended send released by the pacer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Offset of the intended send from the start of the run.
    pub offset: Duration,
    /// False during warm-up: the sample is not recorded.
    pub measured: bool,
}

impl Schedule {
    /// A constant rate for a duration, without warm-up or limit.
    pub fn constant(rate: f64, duration: Duration) -> Self {
        Self {
            warmup: Duration::ZERO,
            stages: vec![RateStage::Constant { rate, duration }],
            requests: None,
            shard: Shard::default(),
        }
    }

    /// Total length of the schedule, warm-up included.
    pub fn length(&self) -> Duration {
        self.warmup
            + self
                .stages
                .iter()
                .map(RateStage::duration)
                .sum::<Duration>()
    }

    /// The highest rate anywhere in the schedule, for this shard.
    pub fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .map(RateStage::peak_rate)
            .fold(0.0, f64::max)
            / self.shard.count as f64
    }

    /// This shard's arrivals, in order.
    pub fn arrivals(&self) -> Arrivals {
        let mut phases = Vec::new();
        if !self.warmup.is_zero() {
            let rate = self.stages.first().map_or(0.0, RateStage::start_rate);
            phases.push(Phase {
                start: Duration::ZERO,
                stages: vec![RateStage::Constant {
                    rate,
                    duration: self.warmup,
                }],
                measured: false,
                limit: None,
            });
        }
        phases.push(Phase {
            start: self.warmup,
            stages: self.stages.clone(),
            measured: true,
            limit: self.requests,
        });
        Arrivals {
            phases,
            shard: self.shard,
            phase: 0,
            stage: 0,
            stage_start: 0.0,
            stage_base: 0.0,
            k: 0,
        }
    }
}

#[derive(Debug, Clone)]
struct Phase {
    start: Duration,
    stages: Vec<RateStage>,
    measured: bool,
    limit: Option<u64>,
}

/// The iterator of a shard's arrivals (see [`Schedule::arrivals`]).
#[derive(Debug, Clone)]
pub struct Arrivals {
    phases: Vec<Phase>,
    shard: Shard,
    phase: usize,
    stage: usize,
    /// Seconds from the phase start to the current stage's start.
    stage_start: f64,
    /// Arrivals accumulated before the current stage (fractional).
    stage_base: f64,
    /// The next global arrival index within the phase.
    k: u64,
}

impl Iterator for Arrivals {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        loop {
            let phase = self.phases.get(self.phase)?;
            if phase.limit.is_some_and(|limit| self.k >= limit) {
                self.next_phase();
                continue;
            }
            let Some(stage) = phase.stages.get(self.stage) else {
                self.next_phase();
                continue;
            };
            // Skip to the first index this shard owns.
            let rem = self.k % self.shard.count;
            if rem != self.shard.index {
                self.k += (self.shard.index + self.shard.count - rem) % self.shard.count;
                continue;
            }
            let m = self.k as f64 - self.stage_base;
            match stage.time_of(m) {
                Some(t) if t < stage.duration().as_secs_f64() => {
                    self.k += 1;
                    let secs = self.stage_start + t;
                    return Some(Arrival {
                        offset: phase.start + Duration::from_nanos((secs * 1e9).round() as u64),
                        measured: phase.measured,
                    });
                }
                _ => {
                    self.stage_base += stage.arrivals();
                    self.stage_start += stage.duration().as_secs_f64();
                    self.stage += 1;
                }
            }
        }
    }
}

impl Arrivals {
    fn next_phase(&mut self) {
        self.phase += 1;
        self.stage = 0;
        self.stage_start = 0.0;
        self.stage_base = 0.0;
        self.k = 0;
    }
}

/// What the pacer waits with; injectable so tests can run on virtual time.
pub trait Clock: Send {
    /// The current time.
    fn now(&self) -> Instant;
    /// Returns at `deadline` or as soon as possible after it.
    fn wait_until(&mut self, deadline: Instant);
}

/// The real clock: sleeps until `spin` before the deadline, then yields in a loop.
///
/// Linux wakes a sleeping thread up to ~50 µs late (timer slack) plus scheduling delay; the
/// final spin absorbs that at the cost of some CPU (about `spin` × rate per second).
#[derive(Debug, Clone, Copy)]
pub struct SpinClock {
    /// How long before the deadline sleeping stops and spinning starts.
    pub spin: Duration,
}

impl Default for SpinClock {
    fn default() -> Self {
        Self {
            spin: Duration::from_micros(80),
        }
    }
}

impl Clock for SpinClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wait_until(&mut self, deadline: Instant) {
        let now = Instant::now();
        if deadline > now + self.spin {
            std::thread::sleep(deadline - now - self.spin);
        }
        while Instant::now() < deadline {
            std::thread::yield_now();
        }
    }
}

/// Arrivals released to workers and picked up by them; their difference is the backlog.
#[derive(Debug, Default)]
pub struct Backlog {
    released: AtomicU64,
    taken: AtomicU64,
}

impl Backlog {
    /// Called by a worker when it picks up an arrival.
    pub fn take(&self) {
        self.taken.fetch_add(1, Ordering::Relaxed);
    }

    /// Arrivals released but not yet picked up.
    pub fn current(&self) -> u64 {
        let released = self.released.load(Ordering::Relaxed);
        released.saturating_sub(self.taken.load(Ordering::Relaxed))
    }
}

/// When a run counts as one whose generator did not keep its schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    /// The most arrivals that may wait for a free worker at once.
    pub max_backlog: u64,
    /// The highest acceptable p99 of send lateness (actual minus intended send).
    pub max_lateness_p99: Duration,
}

impl Health {
    /// The default bounds for a peak rate: a backlog of 100 ms of arrivals (at least 100) and
    /// a p99 send lateness of 5 ms.
    pub fn for_rate(peak_rate: f64) -> Self {
        Self {
            max_backlog: ((peak_rate / 10.0).ceil() as u64).max(100),
            max_lateness_p99: Duration::from_millis(5),
        }
    }
}

/// What the pacer measured about itself.
#[derive(Debug, Clone)]
pub struct PacerReport {
    /// The pacer's wake-up lateness for measured arrivals, µs: the noise floor of every
    /// latency measured from the schedule.
    pub lateness: Histogram<u64>,
    /// Arrivals released (warm-up included).
    pub released: u64,
    /// The largest backlog seen (arrivals released but not yet picked up by a worker).
    pub max_backlog: u64,
    /// True when the pacer was stopped before its schedule ended (Ctrl-C, request limit).
    pub stopped: bool,
}

impl PacerReport {
    /// An empty report (no arrivals yet).
    pub fn new() -> Self {
        Self {
            lateness: stats::histogram(),
            released: 0,
            max_backlog: 0,
            stopped: false,
        }
    }

    /// Whether the generator kept its schedule: the backlog stayed within bounds and the p99
    /// of `send_lateness` (from the workers' samples, in µs) is within bounds. Returns the
    /// reason when it did not.
    pub fn schedule_kept(
        &self,
        health: &Health,
        send_lateness: &Histogram<u64>,
    ) -> Result<(), String> {
        if self.max_backlog > health.max_backlog {
            return Err(format!(
                "up to {} requests waited for a free worker (bound {})",
                self.max_backlog, health.max_backlog
            ));
        }
        let limit = stats::duration_us(health.max_lateness_p99);
        let p99 = send_lateness.value_at_quantile(0.99);
        if !send_lateness.is_empty() && p99 > limit {
            return Err(format!(
                "p99 send lateness {} exceeds {}",
                stats::format_us(p99),
                stats::format_us(limit)
            ));
        }
        Ok(())
    }
}

impl Default for PacerReport {
    fn default() -> Self {
        Self::new()
    }
}

/// Releases `arrivals` at `start + offset` through `clock`, calling `release(intended,
/// measured)` for each; stops when the schedule ends, when `release` returns false, or when
/// `stop` is set. Meant to run on its own OS thread.
pub fn run_pacer(
    arrivals: Arrivals,
    start: Instant,
    clock: &mut dyn Clock,
    backlog: &Backlog,
    stop: &AtomicBool,
    mut release: impl FnMut(Instant, bool) -> bool,
) -> PacerReport {
    // Long waits are cut into slices so that a stop request is seen promptly.
    const SLICE: Duration = Duration::from_millis(50);
    let mut report = PacerReport::new();
    for arrival in arrivals {
        let deadline = start + arrival.offset;
        loop {
            if stop.load(Ordering::Relaxed) {
                report.stopped = true;
                return report;
            }
            let now = clock.now();
            if deadline <= now + SLICE {
                break;
            }
            clock.wait_until(now + SLICE);
        }
        clock.wait_until(deadline);
        let woke = clock.now();
        if arrival.measured {
            let us = stats::duration_us(woke.saturating_duration_since(deadline));
            let _ = report.lateness.record(us);
        }
        backlog.released.fetch_add(1, Ordering::Relaxed);
        report.released += 1;
        if !release(deadline, arrival.measured) {
            report.stopped = true;
            return report;
        }
        report.max_backlog = report.max_backlog.max(backlog.current());
    }
    report
}

/// A pacer thread started by [`spawn_pacer`].
#[derive(Debug)]
pub struct PacerThread {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<PacerReport>,
}

impl PacerThread {
    /// Asks the pacer to stop releasing arrivals.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for the pacer to finish and returns its report.
    pub fn join(self) -> PacerReport {
        self.handle.join().unwrap_or_default()
    }
}

/// Starts [`run_pacer`] on a new OS thread with the real clock.
pub fn spawn_pacer(
    schedule: &Schedule,
    start: Instant,
    backlog: Arc<Backlog>,
    release: impl FnMut(Instant, bool) -> bool + Send + 'static,
) -> std::io::Result<PacerThread> {
    let stop = Arc::new(AtomicBool::new(false));
    let arrivals = schedule.arrivals();
    let thread_stop = Arc::clone(&stop);
    let handle = std::thread::Builder::new()
        .name("jwtprobe-pacer".to_owned())
        .spawn(move || {
            let mut clock = SpinClock::default();
            run_pacer(arrivals, start, &mut clock, &backlog, &thread_stop, release)
        })?;
    Ok(PacerThread { stop, handle })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Virtual time: waiting jumps to the deadline plus a fixed lag.
    struct ManualClock {
        now: Instant,
        lag: Duration,
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.now
        }
        fn wait_until(&mut self, deadline: Instant) {
            self.now = self.now.max(deadline + self.lag);
        }
    }

    fn offsets(schedule: &Schedule) -> Vec<Duration> {
        schedule.arrivals().map(|a| a.offset).collect()
    }

    #[test]
    fn constant_rate_for_two_seconds_gives_exactly_rate_times_duration() {
        let arrivals = offsets(&Schedule::constant(500.0, Duration::from_secs(2)));
        assert_eq!(arrivals.len(), 1000);
        assert_eq!(arrivals[0], Duration::ZERO);
        assert_eq!(arrivals[1], Duration::from_millis(2));
        assert_eq!(arrivals[999], Duration::from_millis(1998));
    }

    #[test]
    fn ramp_integrates_the_rate() {
        let schedule = Schedule {
            warmup: Duration::ZERO,
            stages: vec![
                RateStage::Ramp {
                    from: 0.0,
                    to: 100.0,
                    over: Duration::from_secs(10),
                },
                RateStage::Constant {
                    rate: 100.0,
                    duration: Duration::from_secs(1),
                },
            ],
            requests: None,
            shard: Shard::default(),
        };
        let arrivals = offsets(&schedule);
        // 500 in the ramp (average 50/s for 10 s) and 100 in the hold.
        assert!((599..=601).contains(&arrivals.len()), "{}", arrivals.len());
        // Arrivals get denser as the rate rises.
        let early = arrivals[2] - arrivals[1];
        let late = arrivals[400] - arrivals[399];
        assert!(early > late * 3, "{early:?} vs {late:?}");
        assert!(arrivals.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn shards_split_the_arrivals_without_overlap() {
        let whole = offsets(&Schedule::constant(300.0, Duration::from_secs(1)));
        let mut union = Vec::new();
        for index in 0..3 {
            let mut s = Schedule::constant(300.0, Duration::from_secs(1));
            s.shard = Shard { index, count: 3 };
            let part = offsets(&s);
            assert_eq!(part.len(), 100);
            union.extend(part);
        }
        union.sort();
        assert_eq!(union, whole);
    }

    #[test]
    fn request_limit_spreads_the_remainder_over_the_first_shards() {
        let shares: Vec<usize> = (0..4)
            .map(|index| {
                let mut s = Schedule::constant(1000.0, Duration::from_secs(10));
                s.requests = Some(10);
                s.shard = Shard { index, count: 4 };
                s.arrivals().count()
            })
            .collect();
        assert_eq!(shares, vec![3, 3, 2, 2]);
        assert_eq!(Shard { index: 1, count: 4 }.share(10), 3);
    }

    #[test]
    fn warmup_arrivals_are_sent_but_not_measured() {
        let mut s = Schedule::constant(100.0, Duration::from_secs(1));
        s.warmup = Duration::from_millis(500);
        s.requests = Some(10);
        let arrivals: Vec<Arrival> = s.arrivals().collect();
        assert_eq!(arrivals.iter().filter(|a| !a.measured).count(), 50);
        assert_eq!(arrivals.iter().filter(|a| a.measured).count(), 10);
        assert_eq!(arrivals[50].offset, Duration::from_millis(500));
    }

    #[test]
    fn shard_text_is_validated() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn pacer_records_its_own_lateness_and_releases_every_arrival() {
        let start = Instant::now();
        let mut clock = ManualClock {
            now: start,
            lag: Duration::from_micros(30),
        };
        let backlog = Backlog::default();
        let stop = AtomicBool::new(false);
        let mut released = Vec::new();
        let report = run_pacer(
            Schedule::constant(1000.0, Duration::from_secs(1)).arrivals(),
            start,
            &mut clock,
            &backlog,
            &stop,
            |intended, _| {
                released.push(intended);
                true
            },
        );
        assert_eq!(report.released, 1000);
        assert_eq!(released.len(), 1000);
        // Intended times are the schedule, not the (late) wake-ups.
        assert_eq!(released[10] - start, Duration::from_millis(10));
        assert_eq!(report.lateness.len(), 1000);
        assert_eq!(report.lateness.value_at_quantile(0.5), 30);
        // Nobody took anything: the backlog grew to everything released.
        assert_eq!(report.max_backlog, 1000);
        let health = Health::for_rate(1000.0);
        assert!(report.schedule_kept(&health, &stats::histogram()).is_err());
    }

    #[test]
    fn stopped_pacer_releases_nothing_more() {
        let start = Instant::now();
        let mut clock = ManualClock {
            now: start,
            lag: Duration::ZERO,
        };
        let backlog = Backlog::default();
        let stop = AtomicBool::new(false);
        let mut count = 0;
        let report = run_pacer(
            Schedule::constant(100.0, Duration::from_secs(60)).arrivals(),
            start,
            &mut clock,
            &backlog,
            &stop,
            |_, _| {
                count += 1;
                backlog.take();
                if count == 5 {
                    stop.store(true, Ordering::Relaxed);
                }
                true
            },
        );
        assert_eq!(count, 5);
        assert!(report.stopped);
        assert_eq!(report.max_backlog, 0);
    }

    #[test]
    fn late_sends_mark_the_schedule_as_not_kept() {
        let report = PacerReport::new();
        let health = Health::for_rate(100.0);
        let mut lateness = stats::histogram();
        lateness.record(100).unwrap();
        assert!(report.schedule_kept(&health, &lateness).is_ok());
        lateness.record_n(20_000, 10).unwrap();
        let why = report.schedule_kept(&health, &lateness).unwrap_err();
        assert!(why.contains("p99 send lateness"), "{why}");
    }
}
