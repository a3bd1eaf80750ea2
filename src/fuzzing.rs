//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpus:
//! each takes arbitrary bytes, runs one parser on them, and panics only when the parser
//! breaks a property (a crash, a hang past its bound, or two implementations disagreeing).
//! Not a stable API; hidden from the docs.
//!
//! The targets: the scenario loader ([`scenario`]), token verification ([`verify`]) and the
//! JSON member picker behind it ([`pick`]), the load generator's HTTP/1.1 response parser
//! ([`lean_response`]) and the emulator's request handling ([`mock_request`]).

use std::sync::OnceLock;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;

use crate::jose::Alg;
use crate::token::{VerifyKey, VerifyPolicy};

/// The repository root, for the fixtures the targets read once.
fn repo() -> &'static Utf8Path {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Reads `bytes` as a scenario file (a suite when it starts with `#suite`).
pub fn scenario(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let name = if text.starts_with("#suite") {
        "suite.yaml"
    } else {
        "fuzz.yaml"
    };
    // A path with no suite beside it: only the text is read.
    let path = Utf8PathBuf::from(format!("/nonexistent-fuzz-dir/{name}"));
    if let Err(errors) = crate::scenario::read_text(&path, text, &Default::default()) {
        // Rendering must not panic either (carets on odd spans, multibyte text).
        let _ = errors.render();
    }
}

/// A policy for [`verify`]: RS256 with the fixture certificate and HS256 with a known secret.
fn policies() -> &'static [VerifyPolicy; 2] {
    static POLICIES: OnceLock<[VerifyPolicy; 2]> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let cert = repo().join("fixtures/keys/qlik-signing.cert.pem");
        let public = crate::keys::read_key_file(&cert, None)
            .ok()
            .and_then(|b| b.public)
            .expect("the fixture certificate reads");
        let base = |algs: Vec<Alg>, key: VerifyKey| VerifyPolicy {
            algs,
            key,
            user_claim: Some("UserId".to_owned()),
            directory_claim: Some("UserDirectory".to_owned()),
            audience: Some("qlik.api".to_owned()),
            leeway_s: 5,
        };
        [
            base(vec![Alg::RS256], VerifyKey::Public(public)),
            base(
                vec![Alg::HS256],
                VerifyKey::Hmac(b"fuzz-secret".as_slice().into()),
            ),
        ]
    })
}

/// Verifies `bytes` as a compact token (and inspects it) under both policies.
pub fn verify(bytes: &[u8]) {
    let Ok(token) = std::str::from_utf8(bytes) else {
        return;
    };
    for policy in policies() {
        let _ = crate::token::verify(token, policy, 1_700_000_000);
        let _ = crate::token::inspect(token, Some(policy), 1_700_000_000);
    }
}

/// Picks header and claim members from `bytes` as JSON; the fast path must agree with the
/// serde_json reference whenever it answers.
pub fn pick(bytes: &[u8]) {
    const NAMES: [&str; 5] = ["alg", "kid", "typ", "UserId", "exp"];
    let mut fast: [Option<Value>; 5] = Default::default();
    let fast_ok = crate::token::pick::pick(bytes, &NAMES, &mut fast).is_ok();
    let mut reference: [Option<Value>; 5] = Default::default();
    let reference_ok = crate::token::pick::pick_serde(bytes, &NAMES, &mut reference).is_ok();
    assert_eq!(
        fast_ok, reference_ok,
        "pick and serde_json disagree on validity"
    );
    if fast_ok {
        assert_eq!(fast, reference, "pick and serde_json disagree on values");
    }
}

/// Serves `bytes` as the whole answer of a loopback server (then closes) and reads it with
/// the load generator's HTTP/1.1 client, at most 64 KiB of body, within one second.
pub fn lean_response(bytes: &[u8]) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
    }
    thread_local! {
        // One listener for every input: binding one per input would use up the ports.
        static LISTENER: Option<std::net::TcpListener> = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .ok();
    }
    let Some(listener) = LISTENER.with(|l| l.as_ref().and_then(|l| l.try_clone().ok())) else {
        return;
    };
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let Ok(addr) = listener.local_addr() else {
                return;
            };
            let answer = bytes.to_vec();
            let server = tokio::spawn(async move {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head).await;
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
            let request = crate::client::Request {
                method: http::Method::GET,
                url: url::Url::parse(&format!("http://{addr}/x")).expect("url"),
                headers: http::HeaderMap::new(),
                body: None,
                follow_redirects: false,
                timeout: None,
            };
            let settings = crate::client::ClientSettings {
                timeout: Duration::from_secs(1),
                connect_timeout: Duration::from_secs(1),
                body_cap: 64 * 1024,
                ..Default::default()
            };
            let prepared = crate::client::lean::Prepared::from_request(&request, settings.timeout)
                .expect("a plain-HTTP request");
            let (answer, _) = crate::client::lean::send_timed(
                &prepared,
                None,
                None,
                &settings,
                None,
                &mut crate::client::lean::Timer::new(),
            )
            .await;
            if let Ok(answer) = answer {
                assert!(answer.body.len() <= settings.body_cap, "the body cap holds");
            }
            server.abort();
        });
    });
}

/// Sends `bytes` to the emulator's router as one request: the first line is the method and
/// path (`GET /jwt/hub/`), each further line a header (`name: value`), anything after an
/// empty line the body. Requests that `http` cannot represent are skipped.
pub fn mock_request(bytes: &[u8]) {
    use tower::ServiceExt as _;

    static STATE: OnceLock<crate::mock::MockState> = OnceLock::new();
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
    }
    let state = STATE.get_or_init(|| {
        let config =
            crate::mock::MockConfig::fixture_default(repo()).expect("the fixture config is valid");
        crate::mock::MockState::new(config, crate::mock::MockClock::system(), false)
    });
    let (head, body) = match bytes.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&bytes[..i], &bytes[i + 2..]),
        None => (bytes, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let mut parts = first.splitn(2, |&b| b == b' ');
    let method = parts.next().unwrap_or(b"GET");
    let path = parts.next().unwrap_or(b"/");
    let Ok(method) = http::Method::from_bytes(method) else {
        return;
    };
    let Ok(uri) = http::Uri::try_from(path) else {
        return;
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    let Ok(request) = builder.body(axum::body::Body::from(body.to_vec())) else {
        return;
    };
    let app = crate::mock::app(state.clone());
    RUNTIME.with(|rt| {
        let response = rt
            .block_on(app.oneshot(request))
            .expect("the router is infallible");
        let status = response.status().as_u16();
        assert!((100..=599).contains(&status), "status {status}");
    });
}
