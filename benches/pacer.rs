//! Pacer precision at 5,000 requests per second: how late the pacing thread wakes (its own
//! lateness, the noise floor of every latency measured from the schedule) and how late a
//! virtual user actually starts the request (pacer plus hand-off to the async runtime).
//!
//! A small harness, not criterion: the quantity is a distribution of lateness, not a
//! throughput. Run with `cargo bench --bench pacer` (optionally `-- RATE SECONDS`).

#![expect(
    clippy::print_stdout,
    reason = "a benchmark harness prints its results on stdout"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use jwtprobe::load::engine::{self, EngineSettings, Model, Sent, Transport};
use jwtprobe::load::pacer::Schedule;
use jwtprobe::load::stats::{Percentiles, Recorder, SampleOutcome, SeriesKey, format_us};
use jwtprobe::scenario::SessionMode;

/// A transport that answers at once, so lateness is all that is measured.
struct Instant0;

impl Transport for Instant0 {
    type User = ();

    fn series(&self) -> Arc<[SeriesKey]> {
        Arc::from(vec![SeriesKey::new("noop", SessionMode::Bearer)])
    }

    fn new_user(&self, _index: u64) {}

    async fn send(&self, _user: &mut (), _recorder: &Recorder) -> Sent {
        let now = Instant::now();
        Sent {
            series: 0,
            started: now,
            finished: now,
            outcome: SampleOutcome::Response {
                status: 200,
                error: None,
            },
        }
    }
}

/// CPU seconds used by this process so far (user + system), from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = fs_err::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

fn line(name: &str, p: &Percentiles) {
    println!(
        "{name:<34} n={:<7} p50 {:>8} p90 {:>8} p99 {:>8} p99.9 {:>8} max {:>8}",
        p.count,
        format_us(p.p50),
        format_us(p.p90),
        format_us(p.p99),
        format_us(p.p99_9),
        format_us(p.max)
    );
}

#[expect(clippy::print_stdout, reason = "a bench prints its measurements")]
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rate: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(5000.0);
    let secs: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cpu0 = cpu_seconds();
    let wall = Instant::now();
    let result = runtime
        .block_on(engine::run(
            Arc::new(Instant0),
            EngineSettings {
                model: Model::Rate {
                    schedule: Schedule::constant(rate, Duration::from_secs_f64(secs)),
                    users: 50,
                },
                interval: Duration::from_secs(1),
                hlog: None,
                shard: None,
            },
            std::future::pending(),
            |_| {},
        ))
        .expect("run");
    let wall = wall.elapsed().as_secs_f64();
    let all = result.stats.overall();
    println!("pacer at {rate}/s for {secs}s, 50 virtual users, 2 runtime threads");
    if let Some(pacer) = &result.pacer {
        line("pacer wake-up lateness", &Percentiles::of(&pacer.lateness));
    }
    line(
        "send lateness (pacer + hand-off)",
        &Percentiles::of(&all.lateness),
    );
    println!(
        "requests {} ({:.0}/s), schedule {}",
        all.requests(),
        all.requests() as f64 / result.elapsed.as_secs_f64().max(1e-9),
        match &result.schedule {
            Ok(()) => "kept".to_owned(),
            Err(why) => format!("NOT kept: {why}"),
        }
    );
    if let (Some(a), Some(b)) = (cpu0, cpu_seconds()) {
        println!(
            "generator CPU {:.2}s over {wall:.2}s wall ({:.0}% of one core), {:.1} µs per request",
            b - a,
            (b - a) / wall * 100.0,
            (b - a) / all.requests().max(1) as f64 * 1e6
        );
    }
}
