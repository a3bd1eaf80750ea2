//! Signing and verification throughput: `token::verify` (parse, signature, claims, identity)
//! and `token::Minter` per algorithm, plus raw aws-lc-rs signing and verification as the floors.
//! `verify-claims` adds building the full header and claims maps, which `verify` defers.
//!
//! Run: `cargo bench --bench crypto` (or `-- 'RS256/2048'` for one size). Keys for 2048-bit RSA,
//! EC and Ed25519 come from `fixtures/keys`; 3072/4096-bit RSA keys are generated when a selected
//! case needs them.
//!
//! The built executable also has a plain loop mode, outside criterion, for side-by-side runs
//! with `openssl speed` (`benches/crypto-vs-openssl.sh`) and for instruction counts under
//! callgrind:
//!
//! ```text
//! crypto-<hash> --loop verify/RS256/2048 --seconds 3   # ops/s, like `openssl speed`
//! crypto-<hash> --loop mint/RS256/2048 --ops 200       # exactly 200 operations
//! ```
//!
//! It runs the same closure as the criterion bench of that id, counts operations until the time
//! is up (the clock is read every 8 operations) and prints
//! `<id> <ops> <cpu seconds> <wall seconds> <ops per cpu second> <ops per wall second>`. CPU time
//! is this thread's time on a CPU (`/proc/thread-self/schedstat`), the divisor `openssl speed`
//! uses by default (user CPU time), so time taken by other processes counts on neither side.

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use criterion::{Criterion, Throughput};
use jwtprobe::jose::Alg;
use jwtprobe::keys::{KeyKind, PrivateKey, generate, read_key_file};
use jwtprobe::token::{self, Minter, Signer, VerifyKey, VerifyPolicy};
use serde_json::{Map, Value, json};

/// A fixed "now" well inside the tokens' validity.
const NOW: i64 = 1_800_000_000;

fn fixture_key(name: &str) -> PrivateKey {
    let path = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/keys")
        .join(name);
    match read_key_file(&path, None) {
        Ok(bundle) => match bundle.private {
            Some(key) => key,
            None => panic!("fixture `{path}` holds no private key"),
        },
        Err(e) => panic!("failed to load fixture `{path}`: {e}"),
    }
}

fn generated_rsa(bits: usize) -> PrivateKey {
    match generate(KeyKind::Rsa { bits }, "jwtprobe-bench", 1) {
        Ok((key, _)) => key,
        Err(e) => panic!("failed to generate an RSA {bits} key: {e}"),
    }
}

/// Qlik-like claims: identity, groups and times.
fn claims() -> Map<String, Value> {
    match json!({
        "UserId": "alice",
        "UserDirectory": "QLIK",
        "name": "Alice Example",
        "email": "alice@example.com",
        "groups": ["analysts", "sales"],
        "iat": NOW - 10,
        "exp": NOW + 3600,
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

struct Case {
    /// Benchmark id: `RS256/2048`, `ES256`, ….
    id: String,
    alg: Alg,
    signer: Signer,
    key: VerifyKey,
    /// Raw signing baseline, for key-pair algorithms.
    raw: Option<(PrivateKey, Alg)>,
}

fn key_case(id: &str, alg: Alg, key: &PrivateKey) -> Case {
    Case {
        id: id.to_owned(),
        alg,
        signer: Signer::Key(key.clone()),
        key: VerifyKey::Public(key.public_key().clone()),
        raw: alg.is_asymmetric().then(|| (key.clone(), alg)),
    }
}

/// The cases whose id `wanted` accepts; keys are loaded or generated only when a case needs them.
fn cases(wanted: impl Fn(&str) -> bool) -> Vec<Case> {
    let rsa2048 = OnceCell::new();
    let rsa3072 = OnceCell::new();
    let rsa4096 = OnceCell::new();
    let mut cases = Vec::new();
    for (alg, name) in [
        (Alg::RS256, "RS256"),
        (Alg::RS384, "RS384"),
        (Alg::RS512, "RS512"),
    ] {
        for (bits, key) in [(2048, &rsa2048), (3072, &rsa3072), (4096, &rsa4096)] {
            let id = format!("{name}/{bits}");
            if wanted(&id) {
                let key = key.get_or_init(|| match bits {
                    2048 => fixture_key("qlik-signing.key.pem"),
                    _ => generated_rsa(bits),
                });
                cases.push(key_case(&id, alg, key));
            }
        }
    }
    if wanted("PS256/2048") {
        let key = rsa2048.get_or_init(|| fixture_key("qlik-signing.key.pem"));
        cases.push(key_case("PS256/2048", Alg::PS256, key));
    }
    for (id, alg, file) in [
        ("ES256", Alg::ES256, "ec256.key.pem"),
        ("ES384", Alg::ES384, "ec384.key.pem"),
        ("EdDSA", Alg::EdDSA, "ed25519.key.pem"),
    ] {
        if wanted(id) {
            cases.push(key_case(id, alg, &fixture_key(file)));
        }
    }
    if wanted("HS256") {
        let secret = b"jwtprobe-bench-hmac-secret-0123456789".to_vec();
        cases.push(Case {
            id: "HS256".to_owned(),
            alg: Alg::HS256,
            signer: Signer::Hmac(secret.clone()),
            key: VerifyKey::Hmac(secret.into()),
            raw: None,
        });
    }
    cases
}

fn minter(case: &Case) -> Minter {
    match Minter::new(case.alg, &case.signer) {
        Ok(m) => m,
        Err(e) => panic!("failed to prepare minting for `{}`: {e}", case.id),
    }
}

/// The emulator's policy for a case: its algorithm, the identity claims Qlik requires.
fn policy(case: &Case) -> VerifyPolicy {
    VerifyPolicy {
        algs: vec![case.alg],
        key: case.key.clone(),
        user_claim: Some("UserId".to_owned()),
        directory_claim: Some("UserDirectory".to_owned()),
        audience: None,
        leeway_s: 0,
    }
}

/// One measured operation: what a bench id runs per iteration, with its inputs prepared.
type Op = Box<dyn FnMut()>;

/// The groups, in the order criterion runs them.
const GROUPS: [&str; 5] = ["verify", "verify-claims", "raw-verify", "mint", "raw-sign"];

/// The operation that bench `<group>/<case id>` measures; `None` when the group does not apply
/// to the case (raw operations for HMAC).
fn operation(group: &str, case: &Case) -> Option<Op> {
    // The raw floors sign and verify a message the size of a token's signing input.
    let message = vec![b'e'; 260];
    match group {
        // The emulator's path: `token::verify` on a pre-minted token with the policy built once.
        "verify" => {
            let (token, policy) = verify_inputs(case);
            Some(Box::new(move || {
                let _ = black_box(token::verify(black_box(&token), black_box(&policy), NOW));
            }))
        }
        // What a caller that needs every claim pays: `verify` defers building the header and
        // claims maps until `Verified::claims` is called (the emulator does on some paths).
        "verify-claims" => {
            let (token, policy) = verify_inputs(case);
            Some(Box::new(move || {
                let _ = black_box(
                    token::verify(black_box(&token), black_box(&policy), NOW)
                        .map(|v| v.claims().len() + v.header().len()),
                );
            }))
        }
        // The floor: aws-lc-rs verification alone, with the key parsed once.
        "raw-verify" => match (&case.raw, &case.key) {
            (Some((key, alg)), VerifyKey::Public(public)) => {
                let sig = match key.sign(*alg, &message) {
                    Ok(sig) => sig,
                    Err(e) => panic!("failed to sign for `{}`: {e}", case.id),
                };
                let (alg, public) = (*alg, public.clone());
                Some(Box::new(move || {
                    black_box(public.verify(alg, black_box(&message), black_box(&sig)));
                }))
            }
            _ => None,
        },
        // `Minter::mint`: serialize the claims, base64url, sign, encode the signature.
        "mint" => {
            let minter = minter(case);
            let claims = claims();
            Some(Box::new(move || {
                let _ = black_box(minter.mint(black_box(&claims)));
            }))
        }
        // The floor: aws-lc-rs signing alone.
        "raw-sign" => case.raw.clone().map(|(key, alg)| -> Op {
            Box::new(move || {
                let _ = black_box(key.sign(alg, black_box(&message)));
            })
        }),
        _ => None,
    }
}

/// A token minted for `case` and the emulator's policy that accepts it.
fn verify_inputs(case: &Case) -> (String, VerifyPolicy) {
    let token = match minter(case).mint(&claims()) {
        Ok(t) => t.into_exposed(),
        Err(e) => panic!("failed to mint for `{}`: {e}", case.id),
    };
    let policy = policy(case);
    assert!(
        token::verify(&token, &policy, NOW).is_ok(),
        "the `{}` bench token verifies",
        case.id
    );
    (token, policy)
}

fn crypto(c: &mut Criterion) {
    let cases = cases(|_| true);
    for group_name in GROUPS {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(1));
        for case in &cases {
            // `verify-claims` only for one RSA size and HMAC: the extra cost does not depend on
            // the algorithm.
            if group_name == "verify-claims" && case.id != "RS256/2048" && case.id != "HS256" {
                continue;
            }
            if let Some(mut op) = operation(group_name, case) {
                group.bench_function(case.id.as_str(), |b| b.iter(&mut op));
            }
        }
        group.finish();
    }
}

/// This thread's time on a CPU so far (`/proc/thread-self/schedstat`, nanoseconds); `None` where
/// the file is missing.
fn cpu_time() -> Option<Duration> {
    let text = fs_err::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// `--loop <group>/<case id> (--seconds S | --ops N)`: see the module documentation.
fn run_loop(args: &[String]) {
    let usage = "usage: crypto --loop <group>/<case id> (--seconds S | --ops N)";
    let [id, flag, value] = args else {
        panic!("{usage}");
    };
    let Some((group, case_id)) = id.split_once('/').filter(|(g, _)| GROUPS.contains(g)) else {
        panic!("unknown bench id `{id}` (groups: {})", GROUPS.join(", "));
    };
    let Some(case) = cases(|c| c == case_id).pop() else {
        panic!("unknown case `{case_id}` in `{id}`");
    };
    let Some(mut op) = operation(group, &case) else {
        panic!("`{group}` does not apply to `{case_id}`");
    };
    let (ops, cpu, wall) = match (flag.as_str(), value.parse::<f64>()) {
        ("--ops", Ok(n)) if n >= 0.0 => {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a count"
            )]
            let n = n as u64;
            let (cpu, wall) = (cpu_time(), Instant::now());
            (0..n).for_each(|_| op());
            (n, cpu, wall)
        }
        ("--seconds", Ok(s)) if s > 0.0 => {
            // A short warm-up, then operations until the wall clock says the time is up (as
            // `openssl speed`'s alarm does), counted in batches of 8 between clock reads.
            let warm_up = Duration::from_secs_f64((s / 10.0).min(0.3));
            let start = Instant::now();
            while start.elapsed() < warm_up {
                op();
            }
            let limit = Duration::from_secs_f64(s);
            let (cpu, wall) = (cpu_time(), Instant::now());
            let mut n = 0u64;
            while wall.elapsed() < limit {
                for _ in 0..8 {
                    op();
                }
                n += 8;
            }
            (n, cpu, wall)
        }
        _ => panic!("{usage}"),
    };
    let wall = wall.elapsed().as_secs_f64();
    let cpu = cpu_time()
        .zip(cpu)
        .map_or(wall, |(end, start)| (end - start).as_secs_f64());
    #[expect(clippy::cast_precision_loss, reason = "a rate")]
    let (per_cpu, per_wall) = (ops as f64 / cpu, ops as f64 / wall);
    #[expect(clippy::print_stdout, reason = "the loop mode's result")]
    {
        println!("{id} {ops} {cpu:.6} {wall:.6} {per_cpu:.1} {per_wall:.1}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--loop") {
        run_loop(&args[1..]);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    crypto(&mut criterion);
    criterion.final_summary();
}
