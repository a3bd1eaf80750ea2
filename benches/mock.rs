//! The emulator's router without a socket: one accepted and one rejected token per iteration.
//!
//! Run with `cargo bench --bench mock`. The accepted case carries a live session cookie too, so
//! it measures verification plus a session lookup, not session creation (which the session limit
//! would cap).

use std::hint::black_box;

use axum::body::Body;
use camino::Utf8PathBuf;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Request, header};
use jwtprobe::jose::Alg;
use jwtprobe::keys;
use jwtprobe::mock::{self, MockClock, MockConfig, MockState};
use jwtprobe::token::{self, Signer, TokenSpec};
use serde_json::{Map, json};
use tower::ServiceExt as _;

fn bench_router(c: &mut Criterion) {
    let repo = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = MockConfig::fixture_default(&repo).expect("fixture config");
    let state = MockState::new(config, MockClock::system(), false);
    let key = keys::read_key_file(&repo.join("fixtures/keys/qlik-signing.key.pem"), None)
        .expect("fixture key")
        .private
        .expect("a private key");
    let mut claims = Map::new();
    claims.insert("UserId".to_owned(), json!("bench"));
    claims.insert("UserDirectory".to_owned(), json!("ACME"));
    let good = token::mint(&TokenSpec::new(claims, Alg::RS256, Signer::Key(key)))
        .expect("minted")
        .into_exposed();
    // Change one character well inside the signature (every bit of it is significant there).
    let at = good.len() - 20;
    let swapped = if &good[at..=at] == "A" { "B" } else { "A" };
    let bad = format!("{}{swapped}{}", &good[..at], &good[at + 1..]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let router = mock::app(state);

    let request = |token: &str, cookie: Option<&str>| {
        let mut b = Request::builder()
            .uri("/jwt/hub/")
            .header(header::HOST, "127.0.0.1")
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b.body(Body::empty()).expect("request")
    };
    let first = rt
        .block_on(router.clone().oneshot(request(&good, None)))
        .expect("response");
    let cookie = first
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();

    let mut group = c.benchmark_group("mock_router");
    group.throughput(Throughput::Elements(1));
    group.bench_function("accepted_token", |b| {
        b.iter(|| {
            let response = rt
                .block_on(router.clone().oneshot(request(&good, Some(&cookie))))
                .expect("response");
            assert_eq!(response.status(), 200);
            black_box(response)
        });
    });
    group.bench_function("rejected_token", |b| {
        b.iter(|| {
            let response = rt
                .block_on(router.clone().oneshot(request(&bad, None)))
                .expect("response");
            assert_eq!(response.status(), 400);
            black_box(response)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_router);
criterion_main!(benches);
