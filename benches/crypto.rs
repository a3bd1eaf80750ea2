//! Signing and verification throughput: `token::verify` (parse, signature, claims, identity)
//! and `token::Minter` per algorithm, plus raw aws-lc-rs signing and verification as the floors.
//! `verify-claims` adds building the full header and claims maps, which `verify` defers.
//!
//! Run: `cargo bench --bench crypto` (or `-- 'RS256/2048'` for one size). Keys for 2048-bit RSA,
//! EC and Ed25519 come from `fixtures/keys`; 3072/4096-bit RSA keys are generated at start.
//! `benches/crypto-vs-openssl.sh` compares the RS256/2048 numbers with `openssl speed`.

use std::hint::black_box;

use camino::Utf8PathBuf;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jwtprobe::keys::{KeyKind, PrivateKey, SignatureAlg, generate, read_key_file};
use jwtprobe::token::{self, Alg, Minter, Signer, VerifyKey, VerifyPolicy};
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
    raw: Option<(PrivateKey, SignatureAlg)>,
}

fn key_case(id: &str, alg: Alg, key: &PrivateKey) -> Case {
    Case {
        id: id.to_owned(),
        alg,
        signer: Signer::Key(key.clone()),
        key: VerifyKey::Public(key.public_key().clone()),
        raw: alg.asymmetric().map(|sa| (key.clone(), sa)),
    }
}

fn cases() -> Vec<Case> {
    let rsa2048 = fixture_key("qlik-signing.key.pem");
    let rsa3072 = generated_rsa(3072);
    let rsa4096 = generated_rsa(4096);
    let mut cases = Vec::new();
    for (alg, name) in [
        (Alg::RS256, "RS256"),
        (Alg::RS384, "RS384"),
        (Alg::RS512, "RS512"),
    ] {
        for (bits, key) in [(2048, &rsa2048), (3072, &rsa3072), (4096, &rsa4096)] {
            cases.push(key_case(&format!("{name}/{bits}"), alg, key));
        }
    }
    cases.push(key_case("PS256/2048", Alg::PS256, &rsa2048));
    cases.push(key_case("ES256", Alg::ES256, &fixture_key("ec256.key.pem")));
    cases.push(key_case("ES384", Alg::ES384, &fixture_key("ec384.key.pem")));
    cases.push(key_case(
        "EdDSA",
        Alg::EdDSA,
        &fixture_key("ed25519.key.pem"),
    ));
    let secret = b"jwtprobe-bench-hmac-secret-0123456789".to_vec();
    cases.push(Case {
        id: "HS256".to_owned(),
        alg: Alg::HS256,
        signer: Signer::Hmac(secret.clone()),
        key: VerifyKey::Hmac(secret),
        raw: None,
    });
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

fn bench_verify(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    for case in cases {
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
        group.bench_function(case.id.as_str(), |b| {
            b.iter(|| token::verify(black_box(&token), black_box(&policy), NOW));
        });
    }
    group.finish();

    // What a caller that needs every claim pays: `verify` defers building the header and claims
    // maps until `Verified::claims` is called (the emulator does on some paths).
    let mut group = c.benchmark_group("verify-claims");
    group.throughput(Throughput::Elements(1));
    for case in cases
        .iter()
        .filter(|c| c.id == "RS256/2048" || c.id == "HS256")
    {
        let token = match minter(case).mint(&claims()) {
            Ok(t) => t.into_exposed(),
            Err(e) => panic!("failed to mint for `{}`: {e}", case.id),
        };
        let policy = policy(case);
        group.bench_function(case.id.as_str(), |b| {
            b.iter(|| {
                token::verify(black_box(&token), black_box(&policy), NOW)
                    .map(|v| v.claims().len() + v.header().len())
            });
        });
    }
    group.finish();

    // The floor: aws-lc-rs verification alone, with the key parsed once.
    let mut group = c.benchmark_group("raw-verify");
    group.throughput(Throughput::Elements(1));
    let message = vec![b'e'; 260];
    for case in cases {
        if let (Some((key, alg)), VerifyKey::Public(public)) = (&case.raw, &case.key) {
            let sig = match key.sign(*alg, &message) {
                Ok(sig) => sig,
                Err(e) => panic!("failed to sign for `{}`: {e}", case.id),
            };
            group.bench_function(case.id.as_str(), |b| {
                b.iter(|| public.verify(*alg, black_box(&message), black_box(&sig)));
            });
        }
    }
    group.finish();
}

fn bench_mint(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("mint");
    group.throughput(Throughput::Elements(1));
    let claims = claims();
    for case in cases {
        let minter = minter(case);
        group.bench_function(case.id.as_str(), |b| {
            b.iter(|| minter.mint(black_box(&claims)));
        });
    }
    group.finish();

    // The floor: aws-lc-rs signing alone, on a message the size of a token's signing input.
    let mut group = c.benchmark_group("raw-sign");
    group.throughput(Throughput::Elements(1));
    let message = vec![b'e'; 260];
    for case in cases {
        if let Some((key, alg)) = &case.raw {
            group.bench_function(case.id.as_str(), |b| {
                b.iter(|| key.sign(*alg, black_box(&message)));
            });
        }
    }
    group.finish();
}

fn crypto(c: &mut Criterion) {
    let cases = cases();
    bench_verify(c, &cases);
    bench_mint(c, &cases);
}

criterion_group!(benches, crypto);
criterion_main!(benches);
