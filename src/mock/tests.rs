//! Handler tests: every §9 row the emulator implements, through the router without a socket.

use std::time::Duration;

use axum::body::Body;
use camino::{Utf8Path, Utf8PathBuf};
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use serde_json::{Map, Value, json};
use test_case::test_case;
use tower::ServiceExt as _;

use super::config::parse_config;
use super::qseow::XSRF_TEXT;
use super::*;
use crate::jose::Alg;
use crate::keys::{self, PrivateKey};
use crate::token::{self, Part, Signer, TokenSpec};

/// The pinned time of every test, in seconds since the Unix epoch.
const NOW: i64 = 1_750_000_000;
const XRF: &str = "abcdefghij012345";

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn private_key(name: &str) -> PrivateKey {
    let bundle =
        keys::read_key_file(&repo().join("fixtures/keys").join(name), None).expect("fixture key");
    bundle.private.expect("a private key")
}

fn claims(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn alice() -> Map<String, Value> {
    claims(json!({ "UserId": "alice", "UserDirectory": "ACME" }))
}

fn mint_with(claims: Map<String, Value>, alg: Alg, signer: Signer) -> String {
    token::mint(&TokenSpec::new(claims, alg, signer))
        .expect("minted")
        .into_exposed()
}

fn mint(claims: Map<String, Value>) -> String {
    mint_with(
        claims,
        Alg::RS256,
        Signer::Key(private_key("qlik-signing.key.pem")),
    )
}

fn config_text(text: &str) -> MockConfig {
    let dir = repo().join("fixtures/mock");
    parse_config(text, Utf8Path::new("test.yaml"), &|rel: &Utf8Path| {
        dir.join(rel)
    })
    .expect("valid test config")
}

fn fixture(name: &str) -> MockConfig {
    read_config(&repo().join("fixtures/mock").join(name)).expect("valid fixture")
}

fn state() -> MockState {
    MockState::new(fixture("qseow.yaml"), MockClock::manual(NOW), false)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// `name=value` of the first Set-Cookie, for a Cookie header.
    fn cookie_pair(&self) -> String {
        self.set_cookies()
            .first()
            .and_then(|c| c.split(';').next())
            .unwrap_or_default()
            .to_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(state: &MockState, request: Request<Body>) -> Reply {
    let response = app(state.clone())
        .oneshot(request)
        .await
        .expect("infallible router");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(uri: &str) -> http::request::Builder {
    Request::builder()
        .uri(uri)
        .header(header::HOST, "qlik.test")
}

fn about() -> http::request::Builder {
    get(&format!("/jwt/qrs/about?xrfkey={XRF}")).header("X-Qlik-Xrfkey", XRF)
}

async fn with_token(state: &MockState, token: &str) -> Reply {
    send(
        state,
        about()
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

async fn with_cookie(state: &MockState, uri: &str, cookie: &str) -> Reply {
    send(
        state,
        get(uri)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

// Row 1.
#[tokio::test]
async fn valid_token_opens_qrs_about_and_sets_the_http_session_cookie() {
    let state = state();
    let r = with_token(&state, &mint(alice())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.json()["schemaPath"], "About");
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 1);
    let (pair, attrs) = cookies[0].split_once("; ").expect("attributes");
    let (name, value) = pair.split_once('=').expect("name=value");
    assert_eq!(name, "X-Qlik-Session-jwt-HTTP");
    assert!(uuid::Uuid::parse_str(value).is_ok(), "{value}");
    assert_eq!(attrs, "Path=/; HttpOnly");
    assert_eq!(state.hits().accepted, 1);
}

#[tokio::test]
async fn over_https_the_cookie_has_no_suffix_and_is_secure_samesite_none() {
    let state = MockState::new(fixture("qseow.yaml"), MockClock::manual(NOW), true);
    let r = with_token(&state, &mint(alice())).await;
    let cookie = &r.set_cookies()[0];
    assert!(cookie.starts_with("X-Qlik-Session-jwt="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; Secure; SameSite=None"),
        "{cookie}"
    );
}

#[test_case(Alg::RS256 ; "rs256")]
#[test_case(Alg::RS384 ; "rs384")]
#[test_case(Alg::RS512 ; "rs512")]
#[tokio::test]
async fn every_rs_algorithm_is_accepted(alg: Alg) {
    let token = mint_with(
        alice(),
        alg,
        Signer::Key(private_key("qlik-signing.key.pem")),
    );
    assert_eq!(with_token(&state(), &token).await.status, StatusCode::OK);
}

// Row 19.
#[tokio::test]
async fn extra_claims_and_groups_array_are_accepted_and_mapped() {
    let state = state();
    let mut c = alice();
    c.insert("groups".to_owned(), json!(["sales", "emea"]));
    c.insert("exp".to_owned(), json!(NOW + 300));
    c.insert("department".to_owned(), json!("R&D"));
    let r = send(
        &state,
        get("/jwt/api/hub/v1/user/info")
            .header(header::AUTHORIZATION, format!("Bearer {}", mint(c)))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let user = &r.json()["data"][0];
    assert_eq!(user["type"], "User");
    assert_eq!(user["attributes"]["userId"], "alice");
    assert_eq!(user["attributes"]["userDirectory"], "ACME");
    assert_eq!(user["attributes"]["Group"], json!(["sales", "emea"]));
    assert!(user["attributes"].get("department").is_none());
}

// Rows 2 and 32.
#[tokio::test]
async fn cookie_alone_is_accepted_until_the_idle_timeout() {
    let state = state();
    let cookie = with_token(&state, &mint(alice())).await.cookie_pair();
    state.clock().advance(Duration::from_secs(29 * 60));
    let r = send(
        &state,
        about()
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["schemaPath"], "About");
    assert!(r.set_cookies().is_empty(), "no new session");
    // Idle for 30 minutes and one second since the last request.
    state.clock().advance(Duration::from_secs(30 * 60 + 1));
    let r = with_cookie(&state, "/jwt/hub/", &cookie).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[test_case("other" ; "signed with another key")]
#[test_case("tampered" ; "tampered payload")]
#[test_case("none" ; "alg none")]
#[test_case("hs256-cert" ; "hs256 signed with the certificate")]
#[test_case("es256" ; "es256")]
#[test_case("ps256" ; "ps256")]
#[test_case("jwe" ; "five segments")]
#[test_case("two" ; "two segments")]
#[test_case("base64" ; "invalid base64")]
#[test_case("expired" ; "expired")]
#[test_case("nbf" ; "nbf in the future")]
#[test_case("case" ; "wrong case claim name")]
#[test_case("no-dir" ; "missing directory")]
#[test_case("empty" ; "empty user id")]
#[test_case("space" ; "whitespace user id")]
#[test_case("backslash" ; "backslash in user id")]
#[test_case("empty-bearer" ; "empty bearer token")]
#[tokio::test]
async fn unusable_token_gets_the_same_bare_reject_and_no_cookie(kind: &str) {
    let signing = || Signer::Key(private_key("qlik-signing.key.pem"));
    let with = |k: &str, v: Value| {
        let mut c = alice();
        c.insert(k.to_owned(), v);
        c
    };
    let token = match kind {
        "other" => mint_with(
            alice(),
            Alg::RS256,
            Signer::Key(private_key("other.key.pem")),
        ),
        "tampered" => {
            let good = mint(alice());
            let forged = mint(claims(
                json!({ "UserId": "admin", "UserDirectory": "ACME" }),
            ));
            let g: Vec<&str> = good.split('.').collect();
            let f: Vec<&str> = forged.split('.').collect();
            format!("{}.{}.{}", g[0], f[1], g[2])
        }
        "none" => mint_with(alice(), Alg::None, Signer::Unsigned),
        "hs256-cert" => {
            let pem =
                fs_err::read(repo().join("fixtures/keys/qlik-signing.cert.pem")).expect("cert");
            mint_with(alice(), Alg::HS256, Signer::Hmac(pem))
        }
        "es256" => mint_with(
            alice(),
            Alg::ES256,
            Signer::Key(private_key("ec256.key.pem")),
        ),
        "ps256" => mint_with(alice(), Alg::PS256, signing()),
        "jwe" => "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d".to_owned(),
        "two" => mint(alice())
            .rsplit_once('.')
            .map(|(a, _)| a.to_owned())
            .unwrap_or_default(),
        "base64" => "%%%.***.!!!".to_owned(),
        "expired" => mint(with("exp", json!(NOW - 5))),
        "nbf" => mint(with("nbf", json!(NOW + 600))),
        "case" => mint(claims(
            json!({ "userid": "alice", "UserDirectory": "ACME" }),
        )),
        "no-dir" => mint(claims(json!({ "UserId": "alice" }))),
        "empty" => mint(with("UserId", json!(""))),
        "space" => mint(with("UserId", json!("   "))),
        "backslash" => mint(with("UserId", json!("ACME\\alice"))),
        _ => String::new(),
    };
    let state = state();
    let r = with_token(&state, &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.set_cookies().is_empty());
    assert!(r.header(REASON_HEADER).is_some_and(|v| !v.is_empty()));
    assert!(r.header("www-authenticate").is_none());
    // The body is the same for every reason (compare with an expired token's).
    let reference = with_token(&state, &mint(with("exp", json!(NOW - 100)))).await;
    assert_eq!(r.body, reference.body);
    assert_eq!(state.hits().rejected, 2);
}

#[tokio::test]
async fn reason_header_names_the_rejection() {
    let mut c = alice();
    c.remove("UserId");
    c.insert("userId".to_owned(), json!("alice"));
    let r = with_token(&state(), &mint(c)).await;
    let reason = r.header(REASON_HEADER).unwrap_or_default();
    assert!(reason.starts_with("missing_claim"), "{reason}");
    assert!(reason.contains("userId"), "{reason}");
}

#[tokio::test]
async fn without_debug_reasons_the_reject_carries_no_reason() {
    let text = "profile: qseow\ndebug_reasons: false\nvirtual_proxies:\n  - prefix: jwt\n    jwt_certificate: ../keys/qlik-signing.cert.pem\n    user_id_claim: UserId\n    user_directory_claim: UserDirectory\n";
    let state = MockState::new(config_text(text), MockClock::manual(NOW), false);
    let r = with_token(&state, "garbage").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header(REASON_HEADER).is_none());
}

// Rows 20 and 21.
#[tokio::test]
async fn audience_is_checked_only_where_configured() {
    let state = state();
    let mut c = alice();
    c.insert("aud".to_owned(), json!("someone-else"));
    let token = mint(c);
    assert_eq!(with_token(&state, &token).await.status, StatusCode::OK);
    let on_aud_vp = |t: &str| {
        get(&format!("/jwtaud/qrs/about?xrfkey={XRF}"))
            .header("X-Qlik-Xrfkey", XRF)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .expect("request")
    };
    let r = send(&state, on_aud_vp(&token)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.header(REASON_HEADER)
            .is_some_and(|v| v.starts_with("audience_mismatch"))
    );
    let mut c = alice();
    c.insert("aud".to_owned(), json!("qlik.jwtprobe.test"));
    assert_eq!(
        send(&state, on_aud_vp(&mint(c))).await.status,
        StatusCode::OK
    );
}

// Row 10.
#[tokio::test]
async fn bad_token_with_a_good_cookie_is_rejected() {
    let state = state();
    let cookie = with_token(&state, &mint(alice())).await.cookie_pair();
    let r = send(
        &state,
        get("/jwt/hub/")
            .header(header::COOKIE, &cookie)
            .header(header::AUTHORIZATION, "Bearer x.y.z")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

// Row 9.
#[tokio::test]
async fn valid_token_for_another_user_creates_a_new_session() {
    let state = state();
    let first = with_token(&state, &mint(alice())).await.cookie_pair();
    let bob = mint(claims(json!({ "UserId": "bob", "UserDirectory": "ACME" })));
    let r = send(
        &state,
        get("/jwt/qps/user")
            .header(header::COOKIE, &first)
            .header(header::AUTHORIZATION, format!("Bearer {bob}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["userId"], "bob");
    let second = r.cookie_pair();
    assert!(!second.is_empty() && second != first);
    // The same user's token with its own cookie reuses the session.
    let r = send(
        &state,
        get("/jwt/hub/")
            .header(header::COOKIE, &second)
            .header(header::AUTHORIZATION, format!("Bearer {bob}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.set_cookies().is_empty());
}

// Rows 6 and 7.
#[tokio::test]
async fn qps_user_echoes_the_identity_and_delete_logs_out_every_session() {
    let state = state();
    let one = with_token(&state, &mint(alice())).await.cookie_pair();
    let two = with_token(&state, &mint(alice())).await.cookie_pair();
    assert_ne!(one, two);
    let r = with_cookie(
        &state,
        "/jwt/qps/user?targetUri=https://qlik.test/jwt/hub",
        &one,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({ "userId": "alice", "userDirectory": "ACME", "userName": "alice", "logoutUri": "http://qlik.test/jwt/qps/user" })
    );
    let r = send(
        &state,
        get("/jwt/qps/user")
            .method("DELETE")
            .header(header::COOKIE, &one)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        with_cookie(&state, "/jwt/hub/", &one).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_cookie(&state, "/jwt/hub/", &two).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// Row 30.
#[test_case(None, None ; "no xrfkey at all")]
#[test_case(Some(XRF), None ; "query only")]
#[test_case(None, Some(XRF) ; "header only")]
#[test_case(Some(XRF), Some("abcdefghij012346") ; "mismatch")]
#[test_case(Some("abcdefghij01234"), Some("abcdefghij01234") ; "fifteen characters")]
#[test_case(Some("abcdefghij01234-"), Some("abcdefghij01234-") ; "not alphanumeric")]
#[tokio::test]
async fn qrs_without_a_matching_xrfkey_is_refused(query: Option<&str>, head: Option<&str>) {
    let state = state();
    let uri = match query {
        Some(k) => format!("/jwt/qrs/about?xrfkey={k}"),
        None => "/jwt/qrs/about".to_owned(),
    };
    let mut b = get(&uri).header(header::AUTHORIZATION, format!("Bearer {}", mint(alice())));
    if let Some(h) = head {
        b = b.header("X-Qlik-Xrfkey", h);
    }
    let r = send(&state, b.body(Body::empty()).expect("request")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, XSRF_TEXT);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[tokio::test]
async fn xrfkey_parameter_name_is_case_insensitive_and_applies_to_other_qps_routes() {
    let state = state();
    let token = format!("Bearer {}", mint(alice()));
    let r = send(
        &state,
        get(&format!("/jwt/qrs/about?Xrfkey={XRF}"))
            .header("X-Qlik-Xrfkey", XRF)
            .header(header::AUTHORIZATION, &token)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &state,
        get("/jwt/qps/ticket")
            .header(header::AUTHORIZATION, &token)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &state,
        get("/jwt/qps/user")
            .header(header::AUTHORIZATION, &token)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

// Row 3.
#[tokio::test]
async fn csrftoken_answers_204_with_the_token_and_404_before_november_2024() {
    let token = format!("Bearer {}", mint(alice()));
    let req = || {
        get("/jwt/qps/csrftoken")
            .header(header::AUTHORIZATION, &token)
            .body(Body::empty())
            .expect("request")
    };
    let r = send(&state(), req()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.header("qlik-csrf-token").map(str::len), Some(32));
    assert_eq!(r.set_cookies().len(), 1, "the call alone creates a session");
    let pre = MockState::new(fixture("qseow-pre2024.yaml"), MockClock::manual(NOW), false);
    let r = send(&pre, req()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.header("qlik-csrf-token").is_none());
}

// Rows 4 and 5.
#[test_case("/jwt/hub/" ; "hub with slash")]
#[test_case("/jwt/hub" ; "hub")]
#[test_case("/jwt/sense/app/0c8a1b2c-3d4e-5f60-7a8b-9c0d1e2f3a4b" ; "sense app")]
#[tokio::test]
async fn hub_and_app_pages_answer_an_html_shell(uri: &str) {
    let r = send(
        &state(),
        get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", mint(alice())))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.body.contains("<html>"));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("qlik-csrf-token"),
        "additional response header"
    );
}

// Rows 22, 23 and 24.
#[tokio::test]
async fn no_token_gets_401_without_challenge_or_redirect() {
    let state = state();
    for auth in [None, Some("Basic YWxpY2U6cHc=")] {
        let mut b = get("/jwt/hub/");
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        let r = send(&state, b.body(Body::empty()).expect("request")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.header("www-authenticate").is_none());
        assert!(r.header("location").is_none());
        assert!(r.set_cookies().is_empty());
    }
    assert_eq!(state.hits().no_token, 2);
}

#[tokio::test]
async fn lowercase_bearer_with_extra_spaces_is_accepted_unless_strict() {
    let token = mint(alice());
    let req = || {
        get("/jwt/hub/")
            .header(header::AUTHORIZATION, format!("bearer   {token}"))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(send(&state(), req()).await.status, StatusCode::OK);
    let text = "profile: qseow\nvirtual_proxies:\n  - prefix: jwt\n    jwt_certificate: ../keys/qlik-signing.cert.pem\n    user_id_claim: UserId\n    user_directory_claim: UserDirectory\n    bearer_scheme_case_insensitive: false\n";
    let strict = MockState::new(config_text(text), MockClock::manual(NOW), false);
    assert_eq!(send(&strict, req()).await.status, StatusCode::UNAUTHORIZED);
}

// Row 25.
#[tokio::test]
async fn oversized_headers_get_400_and_connection_close() {
    let big = "a".repeat(17_000);
    let r = send(
        &state(),
        get("/jwt/hub/")
            .header(header::AUTHORIZATION, format!("Bearer {big}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.header("connection"), Some("close"));
}

// Row 26.
#[tokio::test]
async fn unknown_prefix_gets_400_header_incorrect_page() {
    let r = send(
        &state(),
        get("/nosuch/hub/")
            .header(header::AUTHORIZATION, format!("Bearer {}", mint(alice())))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.body.contains("The http request header is incorrect"));
}

// Rows 27 and 28.
#[test_case("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "internal_windows_authentication" ; "windows user agent")]
#[test_case("curl/8.5.0", "internal_forms_authentication" ; "curl")]
#[tokio::test]
async fn prefixless_request_redirects_by_user_agent_and_ignores_the_token(ua: &str, page: &str) {
    let r = send(
        &state(),
        get("/hub/")
            .header(header::USER_AGENT, ua)
            .header(header::AUTHORIZATION, format!("Bearer {}", mint(alice())))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    let location = r.header("location").unwrap_or_default();
    let prefix = format!("http://qlik.test/{page}/?targetId=");
    let target = location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{location}"));
    assert!(uuid::Uuid::parse_str(target).is_ok(), "{target}");
    assert!(r.set_cookies().is_empty());
}

// Row 29.
#[tokio::test]
async fn windows_authentication_page_challenges_with_negotiate_and_ntlm() {
    let r = send(
        &state(),
        get("/internal_windows_authentication/?targetId=x")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let challenges: Vec<&str> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(challenges, ["Negotiate", "NTLM"]);
}

// Row 31.
#[tokio::test]
async fn host_outside_the_allow_list_gets_403() {
    let text = "profile: qseow\nvirtual_proxies:\n  - prefix: jwt\n    jwt_certificate: ../keys/qlik-signing.cert.pem\n    user_id_claim: UserId\n    user_directory_claim: UserDirectory\n    host_allow_list: [qlik.example.com]\n";
    let state = MockState::new(config_text(text), MockClock::manual(NOW), false);
    let token = format!("Bearer {}", mint(alice()));
    let req = |host: &str| {
        Request::builder()
            .uri("/jwt/hub/")
            .header(header::HOST, host)
            .header(header::AUTHORIZATION, &token)
            .body(Body::empty())
            .expect("request")
    };
    let r = send(&state, req("10.0.0.1:443")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.set_cookies().is_empty());
    assert_eq!(
        send(&state, req("QLIK.example.com:443")).await.status,
        StatusCode::OK
    );
}

// Row 33.
#[tokio::test]
async fn sixth_session_for_a_user_is_denied() {
    let state = state();
    for _ in 0..5 {
        assert_eq!(
            with_token(&state, &mint(alice())).await.status,
            StatusCode::OK
        );
    }
    let r = with_token(&state, &mint(alice())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, "Access denied");
    assert!(r.set_cookies().is_empty());
    // Another user is not affected; after the idle timeout alice may log in again.
    assert_eq!(
        with_token(
            &state,
            &mint(claims(json!({ "UserId": "bob", "UserDirectory": "ACME" })))
        )
        .await
        .status,
        StatusCode::OK
    );
    state.clock().advance(Duration::from_secs(31 * 60));
    assert_eq!(
        with_token(&state, &mint(alice())).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn health_answers_ok_without_authentication_and_counters_add_up() {
    let state = state();
    let r = send(&state, get("/health").body(Body::empty()).expect("request")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok"));
    with_token(&state, &mint(alice())).await;
    with_token(&state, "bad").await;
    let hits = state.hits();
    assert_eq!(hits.total, 3);
    assert_eq!(hits.route(RouteClass::Health), 1);
    assert_eq!(hits.route(RouteClass::Qrs), 2);
    assert_eq!((hits.accepted, hits.rejected), (1, 1));
}

// Qlik Cloud, rows C1-C7.

fn cloud_state() -> MockState {
    MockState::new(fixture("qlik-cloud.yaml"), MockClock::manual(NOW), false)
}

fn cloud_claims() -> Map<String, Value> {
    claims(json!({
        "iss": "jwtprobe.test",
        "aud": "qlik.api/login/jwt-session",
        "sub": "auth0|alice",
        "subType": "user",
        "name": "Alice",
        "email": "alice@example.com",
        "email_verified": true,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 3600,
        "groups": ["sales"],
    }))
}

fn cloud_token(claims: Map<String, Value>, kid: Option<&str>) -> String {
    let mut header = token::standard_header(Alg::RS256);
    if let Some(kid) = kid {
        header.insert("kid".to_owned(), json!(kid));
    }
    let mut spec = TokenSpec::new(
        claims,
        Alg::RS256,
        Signer::Key(private_key("qlik-signing.key.pem")),
    );
    spec.header = Part::Json(header);
    token::mint(&spec).expect("minted").into_exposed()
}

async fn login(state: &MockState, token: &str) -> Reply {
    send(
        state,
        Request::builder()
            .method("POST")
            .uri("/login/jwt-session")
            .header(header::HOST, "tenant.test")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn cloud_login_sets_the_session_cookies_and_csrf_token_follows() {
    let state = cloud_state();
    let r = login(&state, &cloud_token(cloud_claims(), Some("jwtprobe-test"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "OK");
    let names: Vec<String> = r
        .set_cookies()
        .iter()
        .filter_map(|c| c.split('=').next().map(str::to_owned))
        .collect();
    assert_eq!(
        names,
        ["eas.sid", "eas.sid.sig", "_csrfToken", "_csrfToken.sig"]
    );
    let cookie = r
        .set_cookies()
        .iter()
        .filter_map(|c| c.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ");
    let r = with_cookie(&state, "/api/v1/csrf-token", &cookie).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.header("qlik-csrf-token").is_some());
    let r = with_cookie(&state, "/api/v1/users/me", &cookie).await;
    assert_eq!(r.json()["subject"], "auth0|alice");
    let r = send(
        &state,
        get("/api/v1/csrf-token")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[test_case("missing-nbf", 400, "JWT_LOGIN_VALIDATIONS Missing required claim: nbf" ; "missing nbf")]
#[test_case("missing-jti", 400, "JWT_LOGIN_VALIDATIONS Missing required claim: jti" ; "missing jti")]
#[test_case("window", 400, "exp - nbf exceeds 3600 seconds" ; "window over an hour")]
#[test_case("no-kid", 400, "Missing required header: kid" ; "no kid")]
#[test_case("wrong-kid", 401, "Unknown kid" ; "wrong kid")]
#[test_case("wrong-iss", 401, "Invalid issuer" ; "wrong issuer")]
#[test_case("wrong-aud", 401, "Invalid audience" ; "wrong audience")]
#[test_case("hs256", 401, "alg_not_allowed" ; "hs256")]
#[test_case("expired", 401, "expired" ; "expired")]
#[test_case("other-key", 401, "bad_signature" ; "other key")]
#[tokio::test]
async fn cloud_login_refusals_use_the_error_envelope(kind: &str, code: u16, detail: &str) {
    let mut c = cloud_claims();
    let mut kid = Some("jwtprobe-test");
    let token = match kind {
        "hs256" => {
            let mut header = token::standard_header(Alg::HS256);
            header.insert("kid".to_owned(), json!("jwtprobe-test"));
            let mut spec = TokenSpec::new(c, Alg::HS256, Signer::Hmac(b"secret".to_vec()));
            spec.header = Part::Json(header);
            token::mint(&spec).expect("minted").into_exposed()
        }
        "other-key" => {
            let mut header = token::standard_header(Alg::RS256);
            header.insert("kid".to_owned(), json!("jwtprobe-test"));
            let mut spec = TokenSpec::new(c, Alg::RS256, Signer::Key(private_key("other.key.pem")));
            spec.header = Part::Json(header);
            token::mint(&spec).expect("minted").into_exposed()
        }
        _ => {
            match kind {
                "missing-nbf" => drop(c.remove("nbf")),
                "missing-jti" => drop(c.remove("jti")),
                "window" => drop(c.insert("exp".to_owned(), json!(NOW + 3601))),
                "no-kid" => kid = None,
                "wrong-kid" => kid = Some("other"),
                "wrong-iss" => drop(c.insert("iss".to_owned(), json!("evil.test"))),
                "wrong-aud" => drop(c.insert("aud".to_owned(), json!("qlik.api"))),
                "expired" => drop(c.insert("exp".to_owned(), json!(NOW - 1))),
                _ => {}
            }
            cloud_token(c, kid)
        }
    };
    let r = login(&cloud_state(), &token).await;
    assert_eq!(r.status.as_u16(), code, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = r.json();
    let error = &body["errors"][0];
    assert_eq!(error["status"], code.to_string());
    assert!(
        error["detail"].as_str().is_some_and(|d| d.contains(detail)),
        "{error}"
    );
    if code == 400 {
        assert_eq!(error["title"], "Invalid token request");
        assert_eq!(error["code"], "INTERNAL-TOKEN-1");
    }
    let trace = body["traceId"].as_str().unwrap_or_default();
    assert!(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trace}"
    );
    assert!(r.set_cookies().is_empty());
}

#[tokio::test]
async fn cloud_replayed_jti_is_rejected() {
    let state = cloud_state();
    let token = cloud_token(cloud_claims(), Some("jwtprobe-test"));
    assert_eq!(login(&state, &token).await.status, StatusCode::OK);
    let r = login(&state, &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("jti replay"), "{}", r.body);
}

#[tokio::test]
async fn cloud_unknown_tenant_host_gets_login_2() {
    let text = "profile: qlik-cloud\ncloud:\n  tenant_hosts: [tenant.example.com]\n  issuer: jwtprobe.test\n  kid: jwtprobe-test\n  certificate: ../keys/qlik-signing.cert.pem\n";
    let state = MockState::new(config_text(text), MockClock::manual(NOW), false);
    let r = login(&state, &cloud_token(cloud_claims(), Some("jwtprobe-test"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["errors"][0]["code"], "LOGIN-2");
    assert_eq!(
        r.json()["errors"][0]["title"],
        "No authentication configured for this hostname"
    );
}

#[tokio::test]
async fn cloud_login_rate_limit_answers_429() {
    let text = "profile: qlik-cloud\ncloud:\n  issuer: jwtprobe.test\n  kid: jwtprobe-test\n  certificate: ../keys/qlik-signing.cert.pem\n  rate_limit_per_minute: 2\n";
    let state = MockState::new(config_text(text), MockClock::manual(NOW), false);
    for _ in 0..2 {
        assert_eq!(
            login(&state, &cloud_token(cloud_claims(), Some("jwtprobe-test")))
                .await
                .status,
            StatusCode::OK
        );
    }
    let r = login(&state, &cloud_token(cloud_claims(), Some("jwtprobe-test"))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
}

mod bearer {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(auth).expect("valid header"),
        );
        h
    }

    #[test]
    fn bearer_scheme_matches_any_case_and_spacing_when_lenient() {
        assert_eq!(
            auth_header(&headers("bearer  abc"), true),
            AuthHeader::Bearer("abc")
        );
        assert_eq!(
            auth_header(&headers("BEARER abc "), true),
            AuthHeader::Bearer("abc")
        );
        assert_eq!(
            auth_header(&headers("Basic dXNlcg=="), true),
            AuthHeader::OtherScheme
        );
        assert_eq!(auth_header(&HeaderMap::new(), true), AuthHeader::Absent);
    }

    #[test]
    fn bearer_scheme_is_exact_when_strict() {
        assert_eq!(
            auth_header(&headers("Bearer abc"), false),
            AuthHeader::Bearer("abc")
        );
        assert_eq!(
            auth_header(&headers("bearer abc"), false),
            AuthHeader::OtherScheme
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Strict by default on every profile: `crit`, `b64`, the prefix's case (issue 11).

/// A token with extra header fields, validly signed with the trusted key.
fn mint_header(extra: Value) -> String {
    let mut header = token::standard_header(Alg::RS256);
    header.extend(claims(extra));
    token::mint(&TokenSpec {
        header: Part::Json(header),
        ..TokenSpec::new(
            alice(),
            Alg::RS256,
            Signer::Key(private_key("qlik-signing.key.pem")),
        )
    })
    .expect("minted")
    .into_exposed()
}

#[test_case(json!({"crit": ["x-unknown"], "x-unknown": 1}) ; "unknown extension")]
#[test_case(json!({"crit": ["b64"], "b64": false}) ; "b64 false")]
#[test_case(json!({"crit": "x-unknown", "x-unknown": 1}) ; "crit not a list")]
#[test_case(json!({"crit": []}) ; "crit empty")]
#[test_case(json!({"crit": ["alg"]}) ; "crit names a registered header")]
#[test_case(json!({"b64": false}) ; "b64 false without crit")]
#[tokio::test]
async fn validly_signed_token_with_crit_is_rejected_on_qseow(extra: Value) {
    let r = with_token(&state(), &mint_header(extra)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.header(REASON_HEADER)
            .is_some_and(|h| h.starts_with("crit:")),
        "{:?}",
        r.header(REASON_HEADER)
    );
    assert!(r.set_cookies().is_empty());
}

#[tokio::test]
async fn prefix_in_another_case_is_not_the_virtual_proxy() {
    let r = send(
        &state(),
        get("/JWT/hub/")
            .header(header::AUTHORIZATION, format!("Bearer {}", mint(alice())))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("The http request header is incorrect"));
    assert!(r.set_cookies().is_empty());
}

fn rfc6750() -> MockState {
    MockState::new(fixture("rfc6750.yaml"), MockClock::manual(NOW), false)
}

/// Claims the rfc6750 fixture accepts: identity, audience, issuer, `exp`, `iat`.
fn rfc6750_claims() -> Map<String, Value> {
    claims(json!({
        "UserId": "alice",
        "UserDirectory": "ACME",
        "aud": "jwtprobe-conformance",
        "iss": "https://issuer.jwtprobe.test",
        "iat": NOW - 10,
        "exp": NOW + 300,
    }))
}

async fn bearer(state: &MockState, uri: &str, token: &str) -> Reply {
    send(
        state,
        get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn rfc6750_answers_like_a_bearer_resource_server() {
    let state = rfc6750();
    let ok = bearer(&state, "/jwt/resource", &mint(rfc6750_claims())).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["user"], "alice");
    assert!(ok.set_cookies().is_empty());

    let mut expired = rfc6750_claims();
    expired.insert("exp".into(), json!(NOW - 60));
    let refused = bearer(&state, "/jwt/resource", &mint(expired)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let challenge = refused.header("www-authenticate").expect("a challenge");
    assert!(
        challenge.starts_with(
            "Bearer realm=\"jwtprobe\", error=\"invalid_token\", error_description=\"token expired"
        ),
        "{challenge}"
    );

    let none = send(
        &state,
        get("/jwt/resource").body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"jwtprobe\"")
    );

    let other_case = bearer(&state, "/JWT/resource", &mint(rfc6750_claims())).await;
    assert_eq!(other_case.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rfc6750_requires_exp_unless_its_laxity_switch_says_otherwise() {
    let mut no_exp = rfc6750_claims();
    no_exp.shift_remove("exp");
    let token = mint(no_exp);
    let strict = bearer(&rfc6750(), "/jwt/resource", &token).await;
    assert_eq!(strict.status, StatusCode::UNAUTHORIZED);
    let text = fs_err::read_to_string(repo().join("fixtures/mock/rfc6750.yaml")).expect("fixture");
    let lax = config_text(&text.replace("accept_no_exp: false", "accept_no_exp: true"));
    let lax = MockState::new(lax, MockClock::manual(NOW), false);
    assert_eq!(
        bearer(&lax, "/jwt/resource", &token).await.status,
        StatusCode::OK
    );
}
