//! `jwtprobe run`: every check kind against wiremock stubs (passing and failing), the shipped
//! suites against the emulator, redaction in every output, and runtime errors.

use std::collections::BTreeMap;
use std::time::Duration;

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};
use jwtprobe::client::ClientSettings;
use jwtprobe::runner::{self, Filters, NoEvents, Plan, RunOptions, RunResult, StepStatus};
use test_case::test_case;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The repository root (for fixtures).
fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes a suite and one scenario into a temp dir; the suite signs with the fixture key.
fn write_scenario(dir: &Utf8Path, scenario: &str) -> Utf8PathBuf {
    let key = repo().join("fixtures/keys/qlik-signing.key.pem");
    let suite = format!(
        "name: t\nprofile: generic\nprefix: jwt\nidentity: {{ user: alice, directory: CORP }}\n\
         keys:\n  signing: {{ file: {key} }}\n\
         defaults:\n  token: {{ key: signing, alg: RS256, claims: {{ exp: +1h }} }}\n"
    );
    fs_err::write(dir.join("suite.yaml"), suite).unwrap();
    let path = dir.join("scenario.yaml");
    fs_err::write(&path, scenario).unwrap();
    path
}

/// Reads and runs the scenario in `dir` against `base`.
async fn run_dir(dir: &Utf8Path, base: &str) -> RunResult {
    let read = jwtprobe::scenario::read(&[dir]).unwrap_or_else(|e| panic!("{}", e.render()));
    let plan = Plan::build(&read, &Filters::default(), &BTreeMap::new()).unwrap();
    let settings = RunOptions {
        base_url: base.parse().unwrap(),
        emulator: false,
        client: ClientSettings {
            timeout: Duration::from_secs(5),
            ..ClientSettings::default()
        },
        vars: BTreeMap::new(),
        now: chrono::Utc::now().timestamp(),
        prefix: None,
    };
    runner::run(&plan, &settings, &mut NoEvents).await
}

/// A stub answering `GET /jwt/x` with a fixed response.
async fn stub(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwt/x"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn canned() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(
            r#"{"userId":"alice","data":[{"type":"User","n":3}],"groups":["a","b"]}"#,
            "application/json; charset=utf-8",
        )
        .insert_header("x-trace", "abc-123")
        .append_header(
            "set-cookie",
            "X-Qlik-Session-jwt=0f5e2b9a-1111-2222-3333-444455556666; Path=/; HttpOnly; Secure; SameSite=None; Max-Age=1800",
        )
}

// Each case: the `expect` block, and whether it passes against `canned()`.
#[test_case("status: 200", true; "status exact passes")]
#[test_case("status: 201", false; "status exact fails")]
#[test_case("status: [200, 204]", true; "status list passes")]
#[test_case("status: [401, 403]", false; "status list fails")]
#[test_case("status: 2xx", true; "status class passes")]
#[test_case("status: 4xx", false; "status class fails")]
#[test_case("status: accept", true; "status named passes")]
#[test_case("status: reject", false; "status named fails")]
#[test_case("headers: { X-Trace: abc-123 }", true; "header equals passes case insensitive name")]
#[test_case("headers: { x-trace: abc }", false; "header equals fails")]
#[test_case("headers: { content-type: { contains: json } }", true; "header contains passes")]
#[test_case("headers: { content-type: { contains: html } }", false; "header contains fails")]
#[test_case("headers: { x-trace: { regex: '^abc-\\d+$' } }", true; "header regex passes")]
#[test_case("headers: { x-trace: { regex: '^xyz' } }", false; "header regex fails")]
#[test_case("headers: { www-authenticate: { absent: true } }", true; "header absent passes")]
#[test_case("headers: { x-trace: { absent: true } }", false; "header absent fails")]
#[test_case("cookies: { X-Qlik-Session-jwt: present }", true; "cookie present passes")]
#[test_case("cookies: { X-Qlik-Session-other: present }", false; "cookie present fails")]
#[test_case("cookies: { X-Qlik-Session-other: absent }", true; "cookie absent passes")]
#[test_case("cookies: { X-Qlik-Session-jwt: absent }", false; "cookie absent fails")]
#[test_case("cookies: { X-Qlik-Session-jwt: { http_only: true, secure: true } }", true; "cookie flags pass")]
#[test_case("cookies: { X-Qlik-Session-jwt: { secure: false } }", false; "cookie secure fails")]
#[test_case("cookies: { X-Qlik-Session-jwt: { same_site: none, path: / } }", true; "cookie samesite and path pass")]
#[test_case("cookies: { X-Qlik-Session-jwt: { same_site: lax } }", false; "cookie samesite fails")]
#[test_case("cookies: { X-Qlik-Session-jwt: { max_age: 1800 } }", true; "cookie max age passes")]
#[test_case("cookies: { X-Qlik-Session-jwt: { max_age: 60 } }", false; "cookie max age fails")]
#[test_case("cookies: { X-Qlik-Session-jwt: { value: 0f5e2b9a-1111-2222-3333-444455556666 } }", true; "cookie value passes")]
#[test_case("cookies: { X-Qlik-Session-jwt: { value: nope } }", false; "cookie value fails")]
#[test_case("body: { contains: alice }", true; "body contains passes")]
#[test_case("body: { contains: bob }", false; "body contains fails")]
#[test_case("body: { not_contains: bob }", true; "body not contains passes")]
#[test_case("body: { not_contains: alice }", false; "body not contains fails")]
#[test_case("body: { regex: '\"n\":\\d' }", true; "body regex passes")]
#[test_case("body: { regex: '\"n\":\"' }", false; "body regex fails")]
#[test_case("body: { json: '$.userId', equals: alice }", true; "json equals passes")]
#[test_case("body: { json: '$.userId', equals: bob }", false; "json equals fails")]
#[test_case("body: { json: '$.data[0].n', gt: 2 }", true; "json gt passes")]
#[test_case("body: { json: '$.data[0].n', lt: 2 }", false; "json lt fails")]
#[test_case("body: { json: '$.groups', len: 2 }", true; "json len passes")]
#[test_case("body: { json: '$.nothing', exists: true }", false; "json exists fails")]
#[test_case("duration_below: 10s", true; "duration passes")]
#[tokio::test]
async fn check_kinds_pass_and_fail_as_written(expect: &str, passes: bool) {
    let server = stub(canned()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8Path::from_path(dir.path()).unwrap();
    write_scenario(
        dir,
        &format!(
            "name: s\nsteps:\n  - name: one\n    request: {{ path: /x }}\n    expect:\n      {expect}\n"
        ),
    );
    let result = run_dir(dir, &server.uri()).await;
    let status = &result.scenarios[0].steps[0].status;
    assert_eq!(status.is_passed(), passes, "{status:?}");
    if !passes {
        let StepStatus::Failed { outcomes } = status else {
            panic!("expected a failed check, got {status:?}");
        };
        let failed = outcomes.iter().find(|o| !o.passed).unwrap();
        let at = failed
            .at
            .as_ref()
            .expect("a failed check points at its YAML");
        assert_eq!(at.span.line, 6, "the expectation is on line 6: {failed:?}");
    }
}

#[tokio::test]
async fn duration_bound_fails_for_a_slow_response() {
    let server = stub(canned().set_delay(Duration::from_millis(300))).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8Path::from_path(dir.path()).unwrap();
    write_scenario(
        dir,
        "name: s\nsteps:\n  - name: one\n    request: { path: /x }\n    expect: { duration_below: 50ms }\n",
    );
    let result = run_dir(dir, &server.uri()).await;
    assert!(matches!(
        result.scenarios[0].steps[0].status,
        StepStatus::Failed { .. }
    ));
}

#[tokio::test]
async fn bearer_token_is_sent_and_session_cookie_carries_to_the_next_step() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwt/login"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).append_header("set-cookie", "sid=s1; Path=/"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwt/me"))
        .and(wiremock::matchers::header("cookie", "sid=s1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8Path::from_path(dir.path()).unwrap();
    write_scenario(
        dir,
        "name: s\nsteps:\n  - name: login\n    request: { path: /login }\n    expect: { status: 200 }\n  \
         - name: me\n    token: { placement: none }\n    request: { path: /me }\n    expect: { status: 204 }\n",
    );
    let result = run_dir(dir, &server.uri()).await;
    assert_eq!(result.totals().passed, 2, "{result:#?}");
    let requests = server.received_requests().await.unwrap();
    let auth = requests[0].headers["authorization"].to_str().unwrap();
    assert!(auth.starts_with("Bearer ey"), "{auth}");
    assert!(!requests[1].headers.contains_key("authorization"));
}

#[tokio::test]
async fn capture_feeds_a_later_step() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwt/first"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"abc42"}"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwt/second/abc42"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello abc42"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8Path::from_path(dir.path()).unwrap();
    write_scenario(
        dir,
        "name: s\nsteps:\n  - name: first\n    request: { path: /first }\n    capture: { id: { json: $.id } }\n    expect: { status: 200 }\n  \
         - name: second\n    request: { path: '/second/${id}' }\n    expect: { status: 200, body: { contains: 'hello ${id}' } }\n  \
         - name: third\n    request: { path: '/second/${id}' }\n    expect: { body: { contains: 'bye ${id}' } }\n",
    );
    let result = run_dir(dir, &server.uri()).await;
    let t = result.totals();
    assert_eq!((t.passed, t.failed), (2, 1), "{result:#?}");
    let StepStatus::Failed { outcomes } = &result.scenarios[0].steps[2].status else {
        panic!("third step must fail");
    };
    assert!(outcomes[0].expected.contains("bye abc42"), "{outcomes:?}");
}

/// Runs the binary with arguments and returns (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("jwtprobe")
        .unwrap()
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(120))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_suites_pass_against_the_emulator_and_write_reports() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("run.json");
    let (code, _out, err) = cli(&[
        "run",
        "scenarios/qlik",
        "scenarios/qlik-cloud",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 failed, 0 errors"), "{err}");
    let junit = fs_err::read_to_string(&junit).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&json).unwrap()).unwrap();
    let steps = json["totals"]["passed"].as_u64().unwrap();
    assert!(steps >= 80, "{steps}");
    assert_eq!(
        junit.matches("<testcase ").count() as u64,
        steps,
        "one testcase per step"
    );
}

#[test]
fn no_secret_appears_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("run.json");
    let (code, out, err) = cli(&[
        "run",
        "scenarios/qlik/session-cookie.yaml",
        "scenarios/qlik/key-confusion.yaml",
        "scenarios/qlik/bad-signatures.yaml",
        "scenarios/qlik-cloud/login.yaml",
        "--verbose",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let outputs = [
        out,
        err,
        fs_err::read_to_string(&junit).unwrap(),
        fs_err::read_to_string(&json).unwrap(),
    ];
    let report: serde_json::Value = serde_json::from_str(&outputs[3]).unwrap();
    // Every token sent is reported redacted: header.payload plus a fingerprint, never the
    // signature; every cookie value is hidden.
    let mut tokens = 0;
    for step in report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["steps"].as_array().unwrap())
    {
        if let Some(t) = step["request"]["token"].as_str() {
            tokens += 1;
            let segments: Vec<&str> = t.split('.').collect();
            assert!(segments.len() >= 2, "{t}");
            if let Some(sig) = segments.get(2) {
                assert!(
                    sig.is_empty() || sig.contains("sig:"),
                    "token signature not redacted: {t}"
                );
            }
        }
        for (name, value) in step["response"]["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| Some((h[0].as_str()?, h[1].as_str()?)))
        {
            if name == "set-cookie" {
                let value_part = value.split(';').next().unwrap();
                let cookie_value = value_part.split_once('=').unwrap().1;
                assert!(
                    cookie_value.matches('-').count() < 4,
                    "a session id leaked: {value}"
                );
            }
        }
    }
    assert!(tokens > 5);
    // The private key, its certificate-as-HMAC-secret and any long base64url run that looks
    // like a signature never appear.
    let key = fs_err::read_to_string(repo().join("fixtures/keys/qlik-signing.key.pem")).unwrap();
    let key_chunk = key.lines().nth(5).unwrap();
    let sig_like =
        regex::Regex::new(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{16,}").unwrap();
    let uuid = regex::Regex::new(r"=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .unwrap();
    for text in &outputs {
        assert!(!text.contains("PRIVATE KEY"));
        assert!(!text.contains(key_chunk));
        assert!(
            sig_like.find(text).is_none(),
            "signature-like text: {:?}",
            sig_like.find(text)
        );
        assert!(
            uuid.find(text).is_none(),
            "a cookie value leaked: {:?}",
            uuid.find(text)
        );
    }
}

#[test]
fn unreadable_key_is_a_runtime_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    fs_err::write(
        d.join("suite.yaml"),
        "name: t\nkeys:\n  signing: { file: does-not-exist.pem }\ndefaults:\n  token: { key: signing }\n",
    )
    .unwrap();
    fs_err::write(
        d.join("a.yaml"),
        "name: a\nsteps:\n  - name: one\n    request: { path: /x }\n    expect: { status: 200 }\n",
    )
    .unwrap();
    let (code, _, err) = cli(&["run", d.as_str()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("does-not-exist.pem"), "{err}");
}

#[test]
fn refused_target_is_exit_3_and_reports_are_still_written() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let target = format!("http://{addr}");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/qlik/expired-token.yaml",
        "--target",
        &target,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&addr.to_string()), "names the URL: {err}");
    let junit = fs_err::read_to_string(&junit).unwrap();
    assert!(junit.contains("<error"), "{junit}");
}

#[test]
fn tls_failure_without_insecure_is_exit_3() {
    // The emulator serves a self-signed certificate; without --insecure a real target with such
    // a certificate must fail the handshake. Start one with `jwtprobe mock --tls` is heavier, so
    // use the library to serve and the CLI to connect.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = jwtprobe::mock::read_config(&repo().join("fixtures/mock/qseow.yaml")).unwrap();
    let server = rt
        .block_on(jwtprobe::mock::start(
            config,
            "127.0.0.1:0".parse().unwrap(),
            jwtprobe::mock::TlsMode::SelfSigned,
        ))
        .unwrap();
    let target = server.base_url.to_string();
    let (code, _, err) = cli(&[
        "run",
        "scenarios/qlik/expired-token.yaml",
        "--target",
        &target,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.to_lowercase().contains("tls"), "{err}");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/qlik/expired-token.yaml",
        "--target",
        &target,
        "--insecure",
    ]);
    assert_eq!(code, 0, "{err}");
    rt.block_on(server.shutdown());
}

#[test]
fn failed_check_is_exit_4_and_points_at_the_yaml_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    fs_err::copy(
        repo().join("scenarios/qlik/suite.yaml"),
        d.join("suite.yaml"),
    )
    .unwrap();
    let suite = fs_err::read_to_string(d.join("suite.yaml"))
        .unwrap()
        .replace("../../fixtures", repo().join("fixtures").as_str());
    fs_err::write(d.join("suite.yaml"), suite).unwrap();
    fs_err::write(
        d.join("wrong.yaml"),
        "name: wrong expectation\nsteps:\n  - name: open-hub\n    request: { path: /hub/ }\n    expect:\n      status: 200\n      cookies: { X-Qlik-Session-jwt: absent }\n",
    )
    .unwrap();
    let (code, _, err) = cli(&["run", d.as_str()]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("wrong.yaml:7:"), "{err}");
    assert!(err.contains("check failed in step `open-hub`"), "{err}");
}

#[test]
fn invalid_scenario_is_exit_2_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    fs_err::write(
        d.join("bad.yaml"),
        "name: bad\nsteps:\n  - name: one\n    request: { path: /x }\n    expct: { status: 200 }\n",
    )
    .unwrap();
    let (code, _, err) = cli(&["run", d.as_str()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:5:5"), "{err}");
    assert!(err.contains("expect"), "did-you-mean: {err}");
}

#[test]
fn unknown_flag_is_exit_1() {
    let (code, _, _) = cli(&["run", "--no-such-flag", "scenarios/qlik"]);
    assert_eq!(code, 1);
}

#[test]
fn tag_filter_runs_only_tagged_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/qlik",
        "--tag",
        "smoke",
        "--skip-tag",
        "session",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&json).unwrap()).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    assert!(!scenarios.is_empty());
    for s in scenarios {
        let tags: Vec<&str> = s["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(
            tags.contains(&"smoke") && !tags.contains(&"session"),
            "{tags:?}"
        );
    }
}

/// Writes a generic suite and one scenario into `dir` that GETs `/jwt/x` expecting 200.
fn write_simple(dir: &Utf8Path, key_file: &Utf8Path) {
    let suite = format!(
        "name: t\nprofile: generic\nprefix: jwt\nkeys:\n  signing: {{ file: {key_file} }}\n\
         defaults:\n  token: {{ key: signing, alg: RS256 }}\n"
    );
    fs_err::write(dir.join("suite.yaml"), suite).unwrap();
    fs_err::write(
        dir.join("s.yaml"),
        "name: s\nsteps:\n  - name: one\n    request: { path: /x }\n    expect: { status: 200 }\n  \
         - name: two\n    request: { path: /x }\n    expect: { status: 200 }\n",
    )
    .unwrap();
}

/// Runs `jwtprobe run DIR --target URL EXTRA… --json FILE` and returns (code, stderr, report).
fn run_against(dir: &Utf8Path, url: &str, extra: &[&str]) -> (i32, String, serde_json::Value) {
    let json = dir.join("out.json");
    let mut args = vec![
        "run",
        dir.as_str(),
        "--target",
        url,
        "--json",
        json.as_str(),
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = cli(&args);
    let report = serde_json::from_str(&fs_err::read_to_string(&json).unwrap()).unwrap();
    (code, err, report)
}

#[test]
fn timeout_is_exit_3_naming_the_url_and_later_steps_are_skipped() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(stub(canned().set_delay(Duration::from_secs(3))));
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    write_simple(d, &repo().join("fixtures/keys/qlik-signing.key.pem"));
    let (code, err, report) = run_against(d, &server.uri(), &["--timeout", "300ms"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("timed out") && err.contains("/jwt/x"), "{err}");
    let steps = &report["scenarios"][0]["steps"];
    assert_eq!(steps[0]["status"], "error");
    assert_eq!(steps[0]["class"], "timeout");
    assert_eq!(steps[1]["status"], "skipped");
}

#[test]
fn body_over_the_cap_is_exit_3() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(stub(canned()));
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    write_simple(d, &repo().join("fixtures/keys/qlik-signing.key.pem"));
    let (code, err, report) = run_against(d, &server.uri(), &["--body-cap", "16"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("larger than the cap of 16 bytes"), "{err}");
    assert_eq!(
        report["scenarios"][0]["steps"][0]["class"],
        "body_too_large"
    );
}

#[test]
fn certificate_named_as_signing_key_is_a_step_error_saying_a_private_key_is_needed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(stub(canned()));
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    write_simple(d, &repo().join("fixtures/keys/qlik-signing.cert.pem"));
    let (code, err, _) = run_against(d, &server.uri(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("needs a private key"), "{err}");
}

#[test]
fn certificate_as_the_suite_s_default_key_points_at_the_key_reference_in_the_suite() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(stub(canned()));
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    write_simple(d, &repo().join("fixtures/keys/qlik-signing.cert.pem"));
    let (code, err, report) = run_against(d, &server.uri(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("needs a private key"), "{err}");
    let suite = d.join("suite.yaml");
    assert!(err.contains(&format!("--> {suite}:7:17")), "{err}");
    assert!(
        err.contains("7 |   token: { key: signing, alg: RS256 }\n"),
        "{err}"
    );
    assert!(err.contains("  |                 ^^^^^^^ "), "{err}");
    let step = &report["scenarios"][0]["steps"][0];
    assert_eq!(step["at"]["file"], suite.as_str());
    assert_eq!(step["at"]["span"]["line"], 7);
}

#[test]
fn refused_target_error_points_at_its_step_with_file_line_col_and_a_caret() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    write_simple(d, &repo().join("fixtures/keys/qlik-signing.key.pem"));
    let (code, err, report) = run_against(d, &format!("http://{addr}"), &[]);
    assert_eq!(code, 3, "{err}");
    let file = d.join("s.yaml");
    assert!(err.contains(&format!("--> {file}:3:11")), "{err}");
    assert!(err.contains("3 |   - name: one\n"), "{err}");
    assert!(err.contains("  |           ^^^ failed to connect"), "{err}");
    let step = &report["scenarios"][0]["steps"][0];
    assert_eq!(step["class"], "connect");
    assert_eq!(step["at"]["file"], file.as_str());
    assert_eq!(step["at"]["span"]["line"], 3);
    assert_eq!(step["at"]["span"]["col"], 11);
}

#[test]
fn certificate_as_a_step_s_key_points_at_the_key_reference() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(stub(canned()));
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    let cert = repo().join("fixtures/keys/qlik-signing.cert.pem");
    fs_err::write(
        d.join("suite.yaml"),
        format!("name: t\nprofile: generic\nkeys:\n  signing: {{ file: {cert} }}\n"),
    )
    .unwrap();
    fs_err::write(
        d.join("s.yaml"),
        "name: s\nsteps:\n  - name: one\n    token: { key: signing, alg: RS256 }\n    \
         request: { path: /x }\n    expect: { status: 200 }\n",
    )
    .unwrap();
    let (code, err, report) = run_against(d, &server.uri(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("needs a private key"), "{err}");
    assert!(
        err.contains(&format!("--> {}:4:19", d.join("s.yaml"))),
        "{err}"
    );
    assert!(
        err.contains("4 |     token: { key: signing, alg: RS256 }\n"),
        "{err}"
    );
    assert!(err.contains("  |                   ^^^^^^^ "), "{err}");
    let step = &report["scenarios"][0]["steps"][0];
    assert_eq!(step["class"], serde_json::Value::Null);
    assert_eq!(step["at"]["span"]["line"], 4);
}

#[test]
fn capture_that_finds_nothing_points_at_its_step_and_skips_the_step_that_needs_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(stub(canned()));
    let dir = tempfile::tempdir().unwrap();
    let d = Utf8Path::from_path(dir.path()).unwrap();
    write_simple(d, &repo().join("fixtures/keys/qlik-signing.key.pem"));
    fs_err::write(
        d.join("s.yaml"),
        "name: s\nsteps:\n  - name: one\n    request: { path: /x }\n    \
         capture: { id: { json: $.nothing.here } }\n  \
         - name: two\n    request: { path: '/x/${id}' }\n",
    )
    .unwrap();
    let (code, err, report) = run_against(d, &server.uri(), &[]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(&format!("--> {}:3:11", d.join("s.yaml"))),
        "{err}"
    );
    assert!(
        err.contains("  |           ^^^ expected a value in the response"),
        "{err}"
    );
    let steps = &report["scenarios"][0]["steps"];
    assert_eq!(steps[0]["status"], "failed");
    assert_eq!(steps[1]["status"], "skipped");
}
