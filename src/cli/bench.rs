//! `jwtprobe bench`: measure verification throughput without cargo.
//!
//! `bench verify` measures [`token::verify`] (the path the emulator uses: parse, signature with
//! a key parsed once, `exp`, identity claims) on a pre-minted token, first on one OS thread and
//! then on N, and prints operations per second per algorithm, per thread and in total, with the
//! scaling from one thread. The criterion benches (`benches/crypto.rs`) measure the same path.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{CliError, CmdResult, Exit};
use jwtprobe::jose::Alg;
use jwtprobe::keys::{self, KeyKind};
use jwtprobe::token::{self, Minter, Signer, VerifyKey, VerifyPolicy};

/// The `bench` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Measure token verification throughput per algorithm on 1 and N threads.
    Verify(VerifyArgs),
}

/// Arguments of `bench verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
jwtprobe bench verify --alg RS256,ES256,EdDSA --threads 4 --duration 5s\n\n\
Each algorithm runs twice: on 1 thread, then on N threads, for the duration each. The token \
is minted once and the key parsed once, as the emulator does; every operation is a full \
`token::verify` (decode, signature, exp, UserId/UserDirectory claims).")]
pub(crate) struct VerifyArgs {
    /// Algorithms to measure, comma-separated: RS256, RS384, RS512, PS256, PS384, PS512,
    /// ES256, ES384, EdDSA, HS256, HS384, HS512.
    #[arg(
        long,
        value_name = "ALG,…",
        value_delimiter = ',',
        default_value = "RS256"
    )]
    pub(crate) alg: Vec<String>,
    /// Threads for the second run (default: the number of CPU cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) threads: Option<u16>,
    /// How long each run lasts (`5s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) duration: Duration,
    /// RSA key size in bits: 2048, 3072 or 4096.
    #[arg(long, value_name = "BITS", default_value_t = 2048)]
    pub(crate) bits: usize,
}

/// Runs a subcommand.
pub(crate) fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Verify(args) => verify(&args),
    }
}

/// A token and the policy that accepts it, for one algorithm.
struct Subject {
    alg: Alg,
    key: String,
    token: String,
    policy: VerifyPolicy,
}

fn subject(alg: Alg, bits: usize, now: i64) -> Result<Subject, CliError> {
    if alg == Alg::None {
        return Err(CliError::usage(anyhow::anyhow!(
            "`none` has no signature to verify; pick a signing algorithm"
        )));
    }
    let kind = KeyKind::for_alg(alg, bits);
    let (signer, key, label) = match kind {
        Some(kind) => {
            let (private, _) = keys::generate(kind, "jwtprobe-bench", 1).map_err(|e| {
                let err = CliError::usage(e);
                if matches!(kind, KeyKind::Rsa { .. }) {
                    err.with_hint("use --bits 2048, 3072 or 4096")
                } else {
                    err
                }
            })?;
            let public = private.public_key().clone();
            (
                Signer::Key(private),
                VerifyKey::Public(public),
                kind.to_string(),
            )
        }
        None => {
            let mut secret = vec![0u8; 32];
            rand::fill(&mut secret[..]);
            (
                Signer::Hmac(secret.clone()),
                VerifyKey::Hmac(secret.into()),
                "secret 256-bit".to_owned(),
            )
        }
    };
    // The same Qlik-like claims as `benches/crypto.rs`, so the two measurements agree.
    let mut claims = Map::new();
    claims.insert("UserId".to_owned(), json!("alice"));
    claims.insert("UserDirectory".to_owned(), json!("QLIK"));
    claims.insert("name".to_owned(), json!("Alice Example"));
    claims.insert("email".to_owned(), json!("alice@example.com"));
    claims.insert("groups".to_owned(), json!(["analysts", "sales"]));
    claims.insert("iat".to_owned(), Value::from(now - 10));
    claims.insert("exp".to_owned(), Value::from(now + 3600));
    let token = Minter::new(alg, &signer)
        .and_then(|m| m.mint(&claims))
        .map_err(|e| CliError::runtime(anyhow::Error::new(e).context("failed to mint the token")))?
        .into_exposed();
    let policy = VerifyPolicy {
        algs: vec![alg],
        key,
        user_claim: Some("UserId".to_owned()),
        directory_claim: Some("UserDirectory".to_owned()),
        audience: None,
        leeway_s: 0,
    };
    token::verify(&token, &policy, now).map_err(|r| {
        CliError::runtime(anyhow::anyhow!(
            "the benchmark token for `{alg}` does not verify: {r}"
        ))
    })?;
    Ok(Subject {
        alg,
        key: label,
        token,
        policy,
    })
}

/// Operations counted by each thread and the time each ran.
struct Run {
    per_thread: Vec<(u64, Duration)>,
}

impl Run {
    /// Sum over threads of each thread's own rate.
    fn total_rate(&self) -> f64 {
        self.per_thread.iter().map(|(n, d)| rate(*n, *d)).sum()
    }

    fn mean_rate(&self) -> f64 {
        self.total_rate() / self.per_thread.len().max(1) as f64
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// Verifies on `threads` OS threads until `duration` has passed.
///
/// One thread is the calling thread itself, the others are spawned; each counts its own
/// operations and reads the clock every 16 of them, so the loop around `token::verify` is the
/// same as criterion's in `benches/crypto.rs` (no shared flag, no extra thread waking up).
fn measure(subject: &Subject, threads: usize, duration: Duration, now: i64) -> Run {
    let per_thread = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|_| scope.spawn(|| verify_for(subject, duration, now)))
            .collect();
        let mut runs = vec![verify_for(subject, duration, now)];
        runs.extend(
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or((0, duration))),
        );
        runs
    });
    Run { per_thread }
}

/// Verifies on this thread until `duration` has passed; the operations done and the time taken.
fn verify_for(subject: &Subject, duration: Duration, now: i64) -> (u64, Duration) {
    let start = Instant::now();
    let mut count = 0u64;
    loop {
        // Read the clock every 16 operations: cheap next to a verification.
        for _ in 0..16 {
            let outcome = token::verify(black_box(&subject.token), &subject.policy, now);
            black_box(outcome.is_ok());
        }
        count += 16;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return (count, elapsed);
        }
    }
}

/// `58123.4` → `58,123`.
fn thousands(x: f64) -> String {
    let n = x.round().max(0.0) as u64;
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verify(args: &VerifyArgs) -> CmdResult {
    if args.duration.is_zero() || args.duration > Duration::from_secs(600) {
        return Err(CliError::usage(anyhow::anyhow!(
            "`--duration` must be between 1ms and 10m, found {}",
            humantime::format_duration(args.duration)
        )));
    }
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let mut algs = Vec::new();
    for name in &args.alg {
        let name = name.trim();
        let alg = Alg::from_name(name)
            .or_else(|| Alg::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name)))
            .ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "unknown algorithm `{name}` (expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, HS384 or HS512)"
                ))
            })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    let now = chrono::Utc::now().timestamp();
    let subjects = algs
        .into_iter()
        .map(|alg| subject(alg, args.bits, now))
        .collect::<Result<Vec<_>, _>>()?;

    eprintln!(
        "measuring token::verify for {} per run, 1 thread then {threads}; {} CPU cores available",
        humantime::format_duration(args.duration),
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    let mut rows = Vec::new();
    for subject in &subjects {
        // A short warm-up so the first run does not pay for cold caches.
        measure(
            subject,
            1,
            (args.duration / 10).min(Duration::from_millis(300)),
            now,
        );
        let one = measure(subject, 1, args.duration, now);
        let base = one.total_rate();
        rows.push(row(subject, 1, &one, base));
        if threads > 1 {
            let many = measure(subject, threads, args.duration, now);
            rows.push(row(subject, threads, &many, base));
        }
    }
    print_table(&rows);
    Ok(Exit::Success)
}

/// One table row: alg, key, threads, total ops/s, per-thread ops/s, scaling.
type Row = [String; 6];

fn row(subject: &Subject, threads: usize, run: &Run, base: f64) -> Row {
    let total = run.total_rate();
    let scaling = if base > 0.0 { total / base } else { 0.0 };
    [
        subject.alg.name().to_owned(),
        subject.key.clone(),
        threads.to_string(),
        thousands(total),
        thousands(run.mean_rate()),
        format!("{scaling:.2}x"),
    ]
}

#[expect(
    clippy::print_stdout,
    reason = "the throughput table is this command's data"
)]
fn print_table(rows: &[Row]) {
    let header: Row = [
        "alg".to_owned(),
        "key".to_owned(),
        "threads".to_owned(),
        "total ops/s".to_owned(),
        "ops/s/thread".to_owned(),
        "scaling".to_owned(),
    ];
    let mut widths = [0usize; 6];
    for r in std::iter::once(&header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(rows) {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {:>w5$}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
        );
        println!("{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(58_123.4), "58,123");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn every_signing_algorithm_gets_a_token_that_verifies() {
        let now = 1_800_000_000;
        for alg in [Alg::ES256, Alg::EdDSA, Alg::HS256] {
            let s = subject(alg, 2048, now).unwrap();
            assert!(token::verify(&s.token, &s.policy, now).is_ok(), "{alg}");
        }
        assert!(subject(Alg::None, 2048, now).is_err());
    }

    #[test]
    fn measured_runs_count_operations_on_every_thread() {
        let now = 1_800_000_000;
        let s = subject(Alg::HS256, 2048, now).unwrap();
        let run = measure(&s, 2, Duration::from_millis(20), now);
        assert_eq!(run.per_thread.len(), 2);
        assert!(run.per_thread.iter().all(|(n, _)| *n > 0));
        assert!(run.total_rate() > 0.0);
    }
}
