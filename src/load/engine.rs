//! The load engine: virtual users, the open and closed models, and the aggregator.
//!
//! [`run`] drives a [`Transport`] (what one virtual user sends; [`super::http`] is the real
//! one, tests use fakes) under a [`Model`]:
//!
//! - [`Model::Rate`] (open): the pacer thread releases intended send times into a lock-free
//!   queue (`async-channel`) that a fixed set of virtual users serve. Each arrival is one
//!   request (the user's next step). Latency is measured from the intended time, so when
//!   every user is busy the wait shows up as latency and as backlog, and the run is marked as
//!   not having kept its schedule.
//! - [`Model::Users`] (closed): N users each loop over their steps as fast as answers come,
//!   with an optional think time between requests; intended time equals actual send.
//!
//! Each user records into its own [`Recorder`]; the aggregator loop drains every recorder
//! once per interval, writes the interval to the HdrHistogram log when there is one, adds it
//! to the totals and reports progress. Samples of the warm-up are not recorded. A stop signal
//! (SIGINT, SIGTERM) ends the run early and still returns everything measured.
//!
//! The wall time is bounded: when the schedule (warm-up plus the measured duration) is over,
//! requests still in flight or still queued get [`END_GRACE`] to finish; then they are
//! cancelled and counted in [`LoadResult::cancelled`], so a target that never answers cannot
//! stretch a `--duration 2s` run to the request timeout times the backlog. A stop signal
//! cancels what is in flight after one second.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinSet;

use super::pacer::{self, Backlog, Health, PacerReport, Schedule, Shard};
use super::sink::{IntervalSink, RunFacts, SinkError};
use super::stats::{ErrorClass, Percentiles, Recorder, Sample, SampleOutcome, SeriesKey, Stats};

/// What one virtual user sends; implemented by the HTTP transport and by test fakes.
pub trait Transport: Send + Sync + 'static {
    /// The state of one virtual user (its client, cookies, token, position in the steps).
    type User: Send + 'static;

    /// The series table; [`Sent::series`] indexes it.
    fn series(&self) -> Arc<[SeriesKey]>;

    /// Creates virtual user number `index`.
    fn new_user(&self, index: u64) -> Self::User;

    /// Opens what the user's first request needs (its connection, TLS handshake included)
    /// before the clock starts, so that connecting is never measured as latency. Failures are
    /// left for the first request to find and count. The default does nothing.
    fn connect<'a>(&'a self, user: &'a mut Self::User) -> impl Future<Output = ()> + Send + 'a {
        let _ = user;
        std::future::ready(())
    }

    /// Sends the user's next request. Token minting done here is recorded with
    /// [`Recorder::record_mint`] and must happen before `started`.
    fn send<'a>(
        &'a self,
        user: &'a mut Self::User,
        recorder: &'a Recorder,
    ) -> impl Future<Output = Sent> + Send + 'a;
}

/// How long requests in flight (or queued) at the end of the schedule may still take before
/// they are cancelled.
pub const END_GRACE: Duration = Duration::from_secs(2);

/// What a transport reports about one request.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The series of the request.
    pub series: usize,
    /// When the request was handed to the client.
    pub started: Instant,
    /// When the response was read (or the error known).
    pub finished: Instant,
    /// What happened.
    pub outcome: SampleOutcome,
}

/// The load model.
#[derive(Debug, Clone)]
pub enum Model {
    /// Open model: a fixed arrival rate served by `users` virtual users at most.
    Rate {
        /// The schedule (stages, warm-up, request limit, shard).
        schedule: Schedule,
        /// The virtual users serving the arrivals (the most requests in flight at once).
        users: u64,
    },
    /// Closed model: `users` virtual users looping over their steps.
    Users {
        /// Virtual users across all shards.
        users: u64,
        /// Pause after each request.
        think: Duration,
        /// Measured duration (after warm-up); `None` runs until `requests` are done.
        duration: Option<Duration>,
        /// Measured requests across all shards; `None` for no limit.
        requests: Option<u64>,
        /// Warm-up whose samples are not recorded.
        warmup: Duration,
        /// This process's share.
        shard: Shard,
    },
}

impl Model {
    /// Describes the model for people: `rate 500/s`, `users 20`.
    pub fn describe(&self) -> String {
        match self {
            Self::Rate { schedule, .. } => {
                let peak = schedule.peak_rate();
                if schedule.stages.len() == 1 {
                    format!("rate {peak}/s")
                } else {
                    format!("rate up to {peak}/s in {} stages", schedule.stages.len())
                }
            }
            Self::Users { users, shard, .. } => format!("users {}", shard.share(*users)),
        }
    }

    fn warmup(&self) -> Duration {
        match self {
            Self::Rate { schedule, .. } => schedule.warmup,
            Self::Users { warmup, .. } => *warmup,
        }
    }
}

/// Progress reported once per interval.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Time since the start (warm-up included).
    pub elapsed: Duration,
    /// True while warming up.
    pub warming_up: bool,
    /// Measured requests so far.
    pub requests: u64,
    /// Measured errors so far.
    pub errors: u64,
    /// Requests per second in the last interval.
    pub rate: f64,
    /// p99 of latency so far, µs.
    pub p99_us: u64,
}

/// How a run is driven besides its model.
#[derive(Debug)]
pub struct EngineSettings {
    /// The load model.
    pub model: Model,
    /// How often the aggregator drains the workers (and writes a log interval).
    pub interval: Duration,
    /// Where to write the intervals as the run goes (the interval log of
    /// `crate::report::hlog`), if anywhere.
    pub hlog: Option<Box<dyn IntervalSink>>,
    /// The shard, recorded in the log.
    pub shard: Option<Shard>,
}

/// What a run measured.
#[derive(Debug)]
pub struct LoadResult {
    /// Everything recorded in the measured window.
    pub stats: Stats,
    /// Wall-clock start of the run.
    pub started: SystemTime,
    /// Length of the measured window (warm-up excluded).
    pub elapsed: Duration,
    /// The pacer's report (open model).
    pub pacer: Option<PacerReport>,
    /// `Ok` when the generator kept its schedule, else why not.
    pub schedule: Result<(), String>,
    /// True when the run was stopped early.
    pub interrupted: bool,
    /// Requests cancelled at the end: in flight or queued when the grace ran out (or when a
    /// stop signal came); not in `stats`.
    pub cancelled: u64,
    /// Writing the interval log failed (the run itself went on).
    pub hlog_error: Option<SinkError>,
}

/// Runs the load until the model's bounds are reached or `stop` resolves.
pub async fn run<T: Transport>(
    transport: Arc<T>,
    settings: EngineSettings,
    stop: impl Future<Output = ()>,
    mut progress: impl FnMut(&Progress),
) -> Result<LoadResult, std::io::Error> {
    let EngineSettings {
        model,
        interval,
        mut hlog,
        shard,
    } = settings;
    let keys = transport.series();
    // Users (and their clients) are built before the clock starts, so that setting up
    // connections pools and TLS configuration is never measured.
    let user_numbers: Vec<u64> = match &model {
        Model::Rate { users, .. } => (0..(*users).max(1)).collect(),
        Model::Users { users, shard, .. } => (0..shard.share(*users))
            // Global user numbers stay distinct across shards (token pools, cookies).
            .map(|i| i * shard.count + shard.index)
            .collect(),
    };
    let mut prepared_users: Vec<T::User> = user_numbers
        .iter()
        .map(|&n| transport.new_user(n))
        .collect();
    // Connections are opened before the clock starts too, all users at once, each bounded by
    // its connect timeout.
    let mut connecting = JoinSet::new();
    for mut user in prepared_users.drain(..) {
        let transport = Arc::clone(&transport);
        connecting.spawn(async move {
            transport.connect(&mut user).await;
            user
        });
    }
    while let Some(joined) = connecting.join_next().await {
        match joined {
            Ok(user) => prepared_users.push(user),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    let started_wall = SystemTime::now();
    // A short lead lets every user wait on the queue before the first arrival is due.
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + model.warmup();
    // Log offsets count from the log's StartTime, written before the users were built.
    let log_base = hlog.as_ref().map_or(Duration::ZERO, |h| {
        started_wall.duration_since(h.start()).unwrap_or_default()
    });
    let stopping = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicU64::new(0));
    // When the schedule is over; after it plus the grace, what is left is cancelled.
    let schedule_end = match &model {
        Model::Rate { schedule, .. } => Some(start + schedule.length()),
        Model::Users { duration, .. } => duration.map(|d| measure_from + d),
    };
    let mut users: JoinSet<()> = JoinSet::new();
    let mut recorders = Vec::new();
    let backlog = Arc::new(Backlog::default());
    let mut pacer_thread = None;
    let mut health = None;

    match &model {
        Model::Rate { schedule, .. } => {
            health = Some(Health::for_rate(schedule.peak_rate()));
            // A lock-free MPMC hand-off: a free user takes the next released arrival without
            // waiting on a lock that another user holds while it waits (a locked receiver made
            // every arrival wake two tasks in turn and capped the rate on many cores).
            let (tx, rx) = async_channel::unbounded::<(Instant, bool)>();
            for mut user in prepared_users.drain(..) {
                let recorder = Recorder::new(Arc::clone(&keys));
                recorders.push(recorder.clone());
                let transport = Arc::clone(&transport);
                let rx = rx.clone();
                let backlog = Arc::clone(&backlog);
                let stopping = Arc::clone(&stopping);
                let in_flight = Arc::clone(&in_flight);
                users.spawn(async move {
                    loop {
                        let Ok((intended, measured)) = rx.recv().await else {
                            return;
                        };
                        if stopping.load(Ordering::Relaxed) {
                            return;
                        }
                        backlog.take();
                        in_flight.fetch_add(1, Ordering::Relaxed);
                        let sent = transport.send(&mut user, &recorder).await;
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        note_error(&recorder, &sent);
                        if measured {
                            recorder.record(&sample(intended, &sent));
                        }
                    }
                });
            }
            // Only the users receive: when the last one ends, the pacer's send fails and it stops.
            drop(rx);
            pacer_thread = Some(pacer::spawn_pacer(
                schedule,
                start,
                Arc::clone(&backlog),
                move |intended, measured| tx.try_send((intended, measured)).is_ok(),
            )?);
        }
        Model::Users {
            think,
            duration,
            requests,
            shard,
            ..
        } => {
            let limit = requests.map(|r| shard.share(r));
            let claimed = Arc::new(AtomicU64::new(0));
            let deadline = duration.map(|d| measure_from + d);
            for mut user in prepared_users.drain(..) {
                let recorder = Recorder::new(Arc::clone(&keys));
                recorders.push(recorder.clone());
                let transport = Arc::clone(&transport);
                let claimed = Arc::clone(&claimed);
                let stopping = Arc::clone(&stopping);
                let in_flight = Arc::clone(&in_flight);
                let think = *think;
                users.spawn(async move {
                    tokio::time::sleep_until(start.into()).await;
                    loop {
                        if stopping.load(Ordering::Relaxed) {
                            return;
                        }
                        let now = Instant::now();
                        if deadline.is_some_and(|d| now >= d) {
                            return;
                        }
                        let measured = now >= measure_from;
                        if measured
                            && let Some(limit) = limit
                            && claimed.fetch_add(1, Ordering::Relaxed) >= limit
                        {
                            return;
                        }
                        in_flight.fetch_add(1, Ordering::Relaxed);
                        let sent = transport.send(&mut user, &recorder).await;
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        note_error(&recorder, &sent);
                        if measured {
                            recorder.record(&sample(sent.started, &sent));
                        }
                        if !think.is_zero() {
                            tokio::time::sleep(think).await;
                        }
                    }
                });
            }
        }
    }

    // The aggregator: drain every recorder once per interval.
    let mut totals = Stats::new();
    let mut hlog_error = None;
    let mut ticker = tokio::time::interval_at((start + interval).into(), interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_tick = start;
    let mut interrupted = false;
    let mut cancelled = 0;
    let grace_over = tokio::time::sleep_until(
        schedule_end
            .map_or_else(far_future, |end| end + END_GRACE)
            .into(),
    );
    tokio::pin!(stop);
    tokio::pin!(grace_over);
    loop {
        tokio::select! {
            () = &mut grace_over => {
                // The schedule is over and the grace too: what is left is cancelled.
                stopping.store(true, Ordering::Relaxed);
                if let Some(p) = &pacer_thread {
                    p.stop();
                }
                cancelled = in_flight.load(Ordering::Relaxed) + backlog.current();
                users.abort_all();
                while users.join_next().await.is_some() {}
                break;
            }
            _ = ticker.tick() => {
                let now = Instant::now();
                let interval_stats = drain(&recorders);
                write_interval(&mut hlog, &mut hlog_error, log_base, start, last_tick, now, &interval_stats);
                let requests = interval_stats.overall().requests();
                totals.add(&interval_stats);
                let all = totals.overall();
                progress(&Progress {
                    elapsed: now.saturating_duration_since(start),
                    warming_up: now < measure_from,
                    requests: all.requests(),
                    errors: all.error_count(),
                    rate: requests as f64 / now.saturating_duration_since(last_tick).as_secs_f64().max(1e-9),
                    p99_us: Percentiles::of(&all.latency).p99,
                });
                last_tick = now;
            }
            () = &mut stop => {
                interrupted = true;
                break;
            }
            joined = users.join_next() => {
                if joined.is_none() {
                    break;
                }
            }
        }
    }
    if interrupted {
        stopping.store(true, Ordering::Relaxed);
        if let Some(p) = &pacer_thread {
            p.stop();
        }
        // Give requests in flight a moment to finish, then abandon them.
        let drain_users = async { while users.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(1), drain_users)
            .await
            .is_err()
        {
            cancelled = in_flight.load(Ordering::Relaxed);
            users.abort_all();
            while users.join_next().await.is_some() {}
        }
    }
    let finished = Instant::now();
    let pacer_report = match pacer_thread {
        Some(p) => {
            p.stop();
            Some(
                tokio::task::spawn_blocking(move || p.join())
                    .await
                    .unwrap_or_default(),
            )
        }
        None => None,
    };
    let last = drain(&recorders);
    write_interval(
        &mut hlog,
        &mut hlog_error,
        log_base,
        start,
        last_tick,
        finished,
        &last,
    );
    totals.add(&last);

    let elapsed = finished.saturating_duration_since(measure_from);
    let schedule = match (&pacer_report, &health) {
        (Some(report), Some(health)) => report.schedule_kept(health, &totals.overall().lateness),
        _ => Ok(()),
    };
    if let Some(writer) = hlog.take() {
        let facts = RunFacts {
            measured_from_s: (log_base + measure_from.saturating_duration_since(start))
                .as_secs_f64(),
            measured_s: elapsed.as_secs_f64(),
            schedule_kept: schedule.is_ok(),
            schedule_note: schedule.clone().err(),
            interrupted,
            shard: shard.map(|s| format!("{}/{}", s.index, s.count)),
        };
        if let Err(e) = writer.finish(pacer_report.as_ref().map(|p| &p.lateness), &facts) {
            hlog_error.get_or_insert(e);
        }
    }
    Ok(LoadResult {
        stats: totals,
        started: started_wall,
        elapsed,
        pacer: pacer_report,
        schedule,
        interrupted,
        cancelled,
        hlog_error,
    })
}

/// A deadline that is never reached (about 30 years on).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(30 * 365 * 24 * 3600)
}

/// Keeps a first message for the class of a failed request, when the transport kept none.
fn note_error(recorder: &Recorder, sent: &Sent) {
    match sent.outcome {
        SampleOutcome::Response {
            status,
            error: Some(class),
        } => recorder.note_error(class, || match class {
            ErrorClass::AuthReject => format!("status {status}, a reject status of the profile"),
            _ => format!("status {status}: a check of the step failed"),
        }),
        SampleOutcome::Failed(class) => recorder.note_error(class, || {
            match class {
                ErrorClass::Connect => "the connection could not be made",
                ErrorClass::Tls => "the TLS handshake failed",
                ErrorClass::Timeout => "no answer within the request timeout",
                _ => "the response could not be read or the request could not be built",
            }
            .to_owned()
        }),
        SampleOutcome::Response { error: None, .. } => {}
    }
}

fn sample(intended: Instant, sent: &Sent) -> Sample {
    Sample {
        series: sent.series,
        intended,
        started: sent.started,
        finished: sent.finished,
        outcome: sent.outcome,
    }
}

fn drain(recorders: &[Recorder]) -> Stats {
    let mut stats = Stats::new();
    for r in recorders {
        r.drain_into(&mut stats);
    }
    stats
}

/// Writes one interval to the log; the first failure is kept and later writes are skipped.
fn write_interval(
    hlog: &mut Option<Box<dyn IntervalSink>>,
    error: &mut Option<SinkError>,
    log_base: Duration,
    start: Instant,
    from: Instant,
    to: Instant,
    stats: &Stats,
) {
    let Some(writer) = hlog else {
        return;
    };
    if stats.is_empty() {
        return;
    }
    let offset = log_base + from.saturating_duration_since(start);
    let length = to.saturating_duration_since(from);
    if let Err(e) = writer.write_interval(offset, length, stats) {
        *error = Some(e);
        *hlog = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SessionMode;

    /// Answers every request after `service`, counting them.
    struct Fake {
        service: Duration,
        sent: AtomicU64,
    }

    impl Transport for Fake {
        type User = u64;

        fn series(&self) -> Arc<[SeriesKey]> {
            Arc::from(vec![SeriesKey::new("hub", SessionMode::Bearer)])
        }

        fn new_user(&self, index: u64) -> u64 {
            index
        }

        async fn send(&self, _user: &mut u64, _recorder: &Recorder) -> Sent {
            let started = Instant::now();
            self.sent.fetch_add(1, Ordering::Relaxed);
            if !self.service.is_zero() {
                tokio::time::sleep(self.service).await;
            }
            Sent {
                series: 0,
                started,
                finished: Instant::now(),
                outcome: SampleOutcome::Response {
                    status: 200,
                    error: None,
                },
            }
        }
    }

    fn fake(service: Duration) -> Arc<Fake> {
        Arc::new(Fake {
            service,
            sent: AtomicU64::new(0),
        })
    }

    fn settings(model: Model) -> EngineSettings {
        EngineSettings {
            model,
            interval: Duration::from_millis(100),
            hlog: None,
            shard: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_model_records_every_scheduled_request() {
        let transport = fake(Duration::ZERO);
        let model = Model::Rate {
            schedule: Schedule::constant(500.0, Duration::from_millis(400)),
            users: 4,
        };
        let result = run(
            Arc::clone(&transport),
            settings(model),
            std::future::pending(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(result.stats.overall().requests(), 200);
        assert_eq!(transport.sent.load(Ordering::Relaxed), 200);
        assert_eq!(result.pacer.as_ref().map(|p| p.released), Some(200));
        assert!(!result.interrupted);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warmup_requests_are_sent_but_not_recorded() {
        let transport = fake(Duration::ZERO);
        let mut schedule = Schedule::constant(200.0, Duration::from_millis(250));
        schedule.warmup = Duration::from_millis(100);
        let model = Model::Rate { schedule, users: 2 };
        let result = run(
            Arc::clone(&transport),
            settings(model),
            std::future::pending(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(transport.sent.load(Ordering::Relaxed), 70);
        assert_eq!(result.stats.overall().requests(), 50);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn users_model_stops_at_the_request_limit() {
        let transport = fake(Duration::from_millis(1));
        let model = Model::Users {
            users: 3,
            think: Duration::ZERO,
            duration: None,
            requests: Some(30),
            warmup: Duration::ZERO,
            shard: Shard::default(),
        };
        let result = run(
            Arc::clone(&transport),
            settings(model),
            std::future::pending(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(result.stats.overall().requests(), 30);
        assert_eq!(transport.sent.load(Ordering::Relaxed), 30);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stop_signal_ends_the_run_and_keeps_what_was_measured() {
        let transport = fake(Duration::ZERO);
        let model = Model::Rate {
            schedule: Schedule::constant(200.0, Duration::from_secs(60)),
            users: 2,
        };
        let stop = tokio::time::sleep(Duration::from_millis(200));
        let result = run(Arc::clone(&transport), settings(model), stop, |_| {})
            .await
            .unwrap();
        assert!(result.interrupted);
        let recorded = result.stats.overall().requests();
        assert!(recorded > 0 && recorded < 1000, "{recorded}");
        assert_eq!(recorded, transport.sent.load(Ordering::Relaxed));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn too_few_users_for_the_rate_mark_the_schedule_as_not_kept() {
        // One user, 20 ms per request, 500/s: the queue grows far past its bound.
        let transport = fake(Duration::from_millis(20));
        let model = Model::Rate {
            schedule: Schedule::constant(500.0, Duration::from_millis(600)),
            users: 1,
        };
        let stop = tokio::time::sleep(Duration::from_secs(2));
        let result = run(Arc::clone(&transport), settings(model), stop, |_| {})
            .await
            .unwrap();
        assert!(result.schedule.is_err(), "{:?}", result.schedule);
    }
}
