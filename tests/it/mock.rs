//! The emulator on a real socket: `127.0.0.1:0` over HTTP and HTTPS, driven with reqwest.

use std::net::SocketAddr;
use std::time::Duration;

use camino::Utf8PathBuf;
use jwtprobe::jose::Alg;
use jwtprobe::keys;
use jwtprobe::mock::{self, MockConfig, RouteClass, TlsMode};
use jwtprobe::token::{self, Signer, TokenSpec};
use serde_json::{Map, Value, json};

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn config() -> MockConfig {
    MockConfig::fixture_default(&repo()).expect("the default fixture config is valid")
}

fn token(user: &str) -> String {
    let key = keys::read_key_file(&repo().join("fixtures/keys/qlik-signing.key.pem"), None)
        .expect("fixture key")
        .private
        .expect("a private key");
    let mut claims = Map::new();
    claims.insert("UserId".to_owned(), json!(user));
    claims.insert("UserDirectory".to_owned(), json!("ACME"));
    token::mint(&TokenSpec::new(claims, Alg::RS256, Signer::Key(key)))
        .expect("minted")
        .into_exposed()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test]
async fn http_emulator_issues_a_session_cookie_that_later_requests_reuse() {
    let server = mock::start(config(), loopback(), TlsMode::Plain)
        .await
        .expect("started");
    assert_eq!(server.base_url.scheme(), "http");
    assert_ne!(server.addr.port(), 0);
    let c = client();
    let url = |path: &str| server.base_url.join(path).expect("url");
    let health = c.get(url("health")).send().await.expect("health");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("body"), "ok");

    let r = c
        .get(url("jwt/qps/user"))
        .bearer_auth(token("alice"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        set_cookie.starts_with("X-Qlik-Session-jwt-HTTP="),
        "{set_cookie}"
    );
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(body["userId"], "alice");

    let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
    let r = c
        .get(url("jwt/hub/"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none());

    let r = c
        .get(url("jwt/hub/"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 400);
    let r = c
        .get(url("hub/"))
        .header("user-agent", "curl/8")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 302);

    let hits = server.hits();
    assert_eq!(hits.total, 5);
    assert_eq!((hits.accepted, hits.rejected), (1, 1));
    assert_eq!(hits.route(RouteClass::DefaultProxy), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn https_emulator_serves_a_generated_certificate_and_secure_cookie() {
    let server = mock::start(config(), loopback(), TlsMode::SelfSigned)
        .await
        .expect("started");
    assert_eq!(server.base_url.scheme(), "https");
    let r = client()
        .get(
            server
                .base_url
                .join("jwt/qrs/about?xrfkey=abcdefghij012345")
                .expect("url"),
        )
        .header("X-Qlik-Xrfkey", "abcdefghij012345")
        .bearer_auth(token("bob"))
        .send()
        .await
        .expect("sent over TLS");
    assert_eq!(r.status(), 200);
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        set_cookie.starts_with("X-Qlik-Session-jwt="),
        "{set_cookie}"
    );
    assert!(
        set_cookie.contains("; Secure; SameSite=None"),
        "{set_cookie}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_header_closes_the_connection_after_400() {
    let server = mock::start(config(), loopback(), TlsMode::Plain)
        .await
        .expect("started");
    let r = client()
        .get(server.base_url.join("jwt/hub/").expect("url"))
        .bearer_auth("a".repeat(20_000))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_accepting_connections() {
    let server = mock::start(config(), loopback(), TlsMode::Plain)
        .await
        .expect("started");
    let url = server.base_url.join("health").expect("url");
    server.shutdown().await;
    let outcome = client().get(url).send().await;
    assert!(outcome.is_err(), "the port no longer answers");
}
