//! The conformance pack (`scenarios/conformance/`) against the emulator's `rfc6750` profile
//! with every laxity switch off (every property held) and with each switch on in turn
//! (exactly that switch's property violated, no other); against the `qseow` profile (Qlik's
//! policy reported as policy); and against a real verifier built on PyJWT (`tests/peers/`).

use std::collections::BTreeMap;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use jwtprobe::client::ClientSettings;
use jwtprobe::embedded::pack as init;
use jwtprobe::mock::{self, TlsMode};
use jwtprobe::runner::conformance::{ConformanceReport, Verdict};
use jwtprobe::runner::{self, Filters, NoEvents, Plan, RunOptions, RunResult};
use test_case::test_case;

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the pack in `pack` against `base`.
async fn run_pack(pack: &Utf8Path, base: &url::Url, emulator: bool) -> RunResult {
    let read = jwtprobe::scenario::read(&[pack]).unwrap_or_else(|e| panic!("{}", e.render()));
    let plan = Plan::build(&read, &Filters::default(), &BTreeMap::new()).expect("keys load");
    let settings = RunOptions {
        base_url: base.clone(),
        emulator,
        client: ClientSettings {
            timeout: Duration::from_secs(10),
            ..ClientSettings::default()
        },
        vars: BTreeMap::new(),
        now: chrono::Utc::now().timestamp(),
        prefix: None,
    };
    runner::run(&plan, &settings, &mut NoEvents).await
}

/// Starts the emulator from config text written next to the fixture keys' folder.
async fn emulator(config: &str, dir: &Utf8Path) -> mock::MockServer {
    let cert = repo().join("fixtures/keys/qlik-signing.cert.pem");
    let text = config.replace("../keys/qlik-signing.cert.pem", cert.as_str());
    let path = dir.join("mock.yaml");
    fs_err::write(&path, text).expect("write config");
    let config = mock::read_config(&path).unwrap_or_else(|d| panic!("{d:?}"));
    mock::start(config, "127.0.0.1:0".parse().expect("addr"), TlsMode::Plain)
        .await
        .expect("emulator starts")
}

fn verdicts(report: &ConformanceReport, verdict: Verdict) -> Vec<String> {
    report
        .properties
        .iter()
        .filter(|p| p.verdict == verdict)
        .map(|p| p.id.clone())
        .collect()
}

fn rfc6750_config() -> String {
    fs_err::read_to_string(repo().join("fixtures/mock/rfc6750.yaml")).expect("fixture")
}

#[tokio::test]
async fn pack_holds_every_property_against_the_strict_rfc6750_emulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let server = emulator(&rfc6750_config(), dir).await;
    let result = run_pack(
        &repo().join("scenarios/conformance"),
        &server.base_url,
        true,
    )
    .await;
    server.shutdown().await;
    let report = result.conformance.expect("a conformance report");
    assert!(report.properties.len() >= 25, "{report:#?}");
    assert_eq!(verdicts(&report, Verdict::Violated), Vec::<String>::new());
    assert_eq!(verdicts(&report, Verdict::Error), Vec::<String>::new());
    assert_eq!(verdicts(&report, Verdict::NotApplicable), ["ecdsa-zero"]);
    assert_eq!(report.verdict("valid-token"), Some(Verdict::Held));
    assert_eq!(report.verdict("crit"), Some(Verdict::Held));
    assert_eq!(report.verdict("prefix-case"), Some(Verdict::Held));
    // An rfc6750 target says why, in the standard header.
    let challenge = report
        .properties
        .iter()
        .find(|p| p.id == "expired")
        .and_then(|p| p.evidence.first())
        .and_then(|e| e.www_authenticate.clone())
        .expect("a challenge");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

// The laxity matrix: each switch of the emulator breaks exactly one property.
#[test_case("accept_no_exp: false", "accept_no_exp: true", "exp-required")]
#[test_case("ignore_nbf: false", "ignore_nbf: true", "nbf-future")]
#[test_case("ignore_iat: false", "ignore_iat: true", "iat-future")]
#[test_case("extra_algorithms: []", "extra_algorithms: [RS384]", "alg-pinning")]
#[test_case("\n      leeway: 0s", "\n      leeway: 5m", "leeway")]
#[test_case("kid_selects_file: false", "kid_selects_file: true", "kid")]
#[test_case(
    "trust_embedded_key: false",
    "trust_embedded_key: true",
    "embedded-key"
)]
#[test_case("fetch_key_url: false", "fetch_key_url: true", "key-url")]
#[test_case("ignore_crit: false", "ignore_crit: true", "crit")]
#[test_case(
    "accept_malformed_exp: false",
    "accept_malformed_exp: true",
    "malformed-exp"
)]
#[test_case("accept_query_token: false", "accept_query_token: true", "query-token")]
#[test_case(
    "case_insensitive_claims: false",
    "case_insensitive_claims: true",
    "claim-names-case"
)]
#[test_case(
    "case_insensitive_prefix: false",
    "case_insensitive_prefix: true",
    "prefix-case"
)]
#[test_case("ignore_audience: false", "ignore_audience: true", "audience")]
#[test_case("ignore_issuer: false", "ignore_issuer: true", "issuer")]
#[tokio::test]
async fn each_laxity_switch_violates_exactly_its_property(off: &str, on: &str, property: &str) {
    let base = rfc6750_config();
    assert!(base.contains(off), "the fixture has `{off}`");
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let server = emulator(&base.replacen(off, on, 1), dir).await;
    let result = run_pack(
        &repo().join("scenarios/conformance"),
        &server.base_url,
        true,
    )
    .await;
    server.shutdown().await;
    let report = result.conformance.expect("a conformance report");
    assert_eq!(
        verdicts(&report, Verdict::Violated),
        [property],
        "{report:#?}"
    );
    assert_eq!(verdicts(&report, Verdict::Error), Vec::<String>::new());
}

#[tokio::test]
async fn pack_ported_to_qseow_reports_qliks_policy_as_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    // `jwtprobe init --profile qseow`: the pack with the qseow profile, nothing else changed.
    let pack = dir.join("pack");
    init::write_pack(&pack, init::InitProfile::Qseow).expect("init writes the pack");
    let config = fs_err::read_to_string(repo().join("fixtures/mock/qseow.yaml")).expect("fixture");
    let server = emulator(&config, dir).await;
    let result = run_pack(&pack, &server.base_url, true).await;
    server.shutdown().await;
    let report = result.conformance.expect("a conformance report");
    assert_eq!(
        verdicts(&report, Verdict::Violated),
        Vec::<String>::new(),
        "{report:#?}"
    );
    assert_eq!(verdicts(&report, Verdict::Error), Vec::<String>::new());
    assert_eq!(verdicts(&report, Verdict::Policy), ["exp-required"]);
    let policy = report
        .properties
        .iter()
        .find(|p| p.id == "exp-required")
        .and_then(|p| p.note.clone())
        .expect("a policy note");
    assert!(policy.ends_with("observed: accepted"), "{policy}");
    assert_eq!(
        verdicts(&report, Verdict::NotApplicable),
        ["audience", "ecdsa-zero", "issuer"]
    );
    // RS384 and RS512 are Qlik's documented set: those variants do not apply; the rest hold.
    assert_eq!(report.verdict("alg-pinning"), Some(Verdict::Held));
    assert!(!result.scenarios.iter().any(|s| !s.passed()));
}

/// The PyJWT peer (`tests/peers/pyjwt_server.py`), stopped when dropped.
struct Peer {
    child: std::process::Child,
    base: url::Url,
    version: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Closing stdin stops the server; kill is the fallback.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the PyJWT peer, or says why it cannot: under `CI=true` a missing python or package
/// fails the test (`.ci/run` installs them); elsewhere the test is skipped with a message.
fn pyjwt_peer() -> Option<Peer> {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let probe = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = match probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
            Err(e) => e.to_string(),
        };
        assert!(
            !ci,
            "python3 with pyjwt and cryptography is required under CI (`python3 -m pip install pyjwt cryptography`): {why}"
        );
        eprintln!("skipped: python3 with pyjwt and cryptography is not installed ({why})");
        return None;
    }
    let mut child = Command::new("python3")
        .arg(repo().join("tests/peers/pyjwt_server.py"))
        .arg(repo().join("scenarios/conformance/keys/target.cert.pem"))
        .args(["jwtprobe-conformance", "https://issuer.jwtprobe.test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.strip_prefix("PORT ").map(str::to_owned))
        .expect("the peer prints its port");
    let version = lines
        .next()
        .and_then(Result::ok)
        .unwrap_or_default()
        .replace("PYJWT ", "");
    Some(Peer {
        child,
        base: format!("http://127.0.0.1:{port}/").parse().expect("url"),
        version,
    })
}

#[tokio::test]
async fn pack_against_a_pyjwt_verifier_finds_what_docs_conformance_says() {
    let Some(peer) = pyjwt_peer() else { return };
    let result = run_pack(&repo().join("scenarios/conformance"), &peer.base, false).await;
    let report = result.conformance.expect("a conformance report");
    eprintln!("PyJWT {}", peer.version);
    for p in &report.properties {
        eprintln!(
            "{:<15} {:<20} {:?}",
            p.verdict.word(),
            p.id,
            p.evidence.first()
        );
    }
    assert_eq!(report.verdict("valid-token"), Some(Verdict::Held));
    assert_eq!(verdicts(&report, Verdict::Error), Vec::<String>::new());
    // What docs/conformance.md reports for this PyJWT deployment: PyJWT takes `exp` written as
    // a string (it converts with `int()`), and the stdlib server in front of it takes a 32 KiB
    // token; every other property holds.
    assert_eq!(
        verdicts(&report, Verdict::Violated),
        ["malformed-exp", "oversize-token"],
        "{report:#?}"
    );
    assert_eq!(verdicts(&report, Verdict::NotApplicable), ["ecdsa-zero"]);
}

#[tokio::test]
async fn pack_initialised_for_qlik_cloud_holds_against_the_cloud_emulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let pack = dir.join("pack");
    init::write_pack(&pack, init::InitProfile::QlikCloud).expect("init writes the pack");
    let config =
        fs_err::read_to_string(repo().join("fixtures/mock/qlik-cloud.yaml")).expect("fixture");
    let server = emulator(&config, dir).await;
    let result = run_pack(&pack, &server.base_url, true).await;
    server.shutdown().await;
    let report = result.conformance.expect("a conformance report");
    assert_eq!(
        verdicts(&report, Verdict::Violated),
        Vec::<String>::new(),
        "{report:#?}"
    );
    assert_eq!(verdicts(&report, Verdict::Error), Vec::<String>::new());
    assert_eq!(
        verdicts(&report, Verdict::NotApplicable),
        ["ecdsa-zero", "prefix-case"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn init_writes_a_pack_that_validates_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let pack = dir.join("my-pack");
    let (code, out) = jwtprobe(vec![
        "init".into(),
        "--profile".into(),
        "qseow".into(),
        pack.to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("suite.yaml"), "{out}");
    let (code, out) = jwtprobe(vec!["validate".into(), pack.to_string()]).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = jwtprobe(vec!["init".into(), pack.to_string()]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not empty"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// From the same trial: captures, tokens in matrix labels, the target in the summary.

/// Runs the binary in a blocking task; returns (exit code, stdout + stderr).
async fn jwtprobe(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = assert_cmd::Command::cargo_bin("jwtprobe")
            .expect("binary")
            .args(&args)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .expect("joined")
}

async fn ok_server() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn a_capture_that_finds_nothing_fails_its_step_and_skips_the_steps_that_need_it() {
    let server = ok_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    fs_err::write(
        dir.join("suite.yaml"),
        format!(
            "name: t\nprofile: generic\nprefix: jwt\ntarget: {}\n",
            server.uri()
        ),
    )
    .expect("suite");
    fs_err::write(
        dir.join("capture.yaml"),
        "name: capture\nsteps:\n  - name: first\n    request: { path: /a }\n    \
         capture: { sid: { header: x-session } }\n  - name: needs it\n    \
         request: { path: /b, headers: { x-session: \"${sid}\" } }\n  - name: independent\n    \
         request: { path: /c }\n    expect: { status: 200 }\n",
    )
    .expect("scenario");
    let json = dir.join("run.json");
    let (code, out) = jwtprobe(vec![
        "run".into(),
        dir.to_string(),
        "--json".into(),
        json.to_string(),
    ])
    .await;
    assert_eq!(code, 4, "{out}");
    // The summary names the target the suite gave.
    assert!(
        out.contains(&format!("steps against {}", server.uri())),
        "{out}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&json).expect("report")).expect("json");
    let steps = &report["scenarios"][0]["steps"];
    assert_eq!(steps[0]["status"], "failed", "{steps}");
    assert_eq!(steps[1]["status"], "skipped", "{steps}");
    assert!(
        steps[1]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("capture `sid`")),
        "{steps}"
    );
    assert_eq!(steps[2]["status"], "passed", "{steps}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_in_a_matrix_never_show_in_full_in_console_json_or_junit() {
    let server = ok_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let signatures = ["c2lnbmF0dXJlLW9uZS1zZWNyZXQ", "c2lnbmF0dXJlLXR3by1zZWNyZXQ"];
    let tokens: Vec<String> = signatures
        .iter()
        .map(|s| format!("eyJhbGciOiJSUzI1NiJ9.eyJVc2VySWQiOiJhbGljZSJ9.{s}"))
        .collect();
    fs_err::write(
        dir.join("suite.yaml"),
        format!(
            "name: t\nprofile: generic\nprefix: jwt\ntarget: {}\n",
            server.uri()
        ),
    )
    .expect("suite");
    fs_err::write(
        dir.join("matrix.yaml"),
        format!(
            "name: replay\nmatrix:\n  - {{ tok: {} }}\n  - {{ tok: {} }}\n\
             token: {{ raw: \"${{tok}}\" }}\nsteps:\n  - name: send ${{tok}}\n    \
             request: {{ path: /x }}\n    expect: {{ status: 201 }}\n",
            tokens[0], tokens[1]
        ),
    )
    .expect("scenario");
    let (json, junit) = (dir.join("run.json"), dir.join("junit.xml"));
    let (code, out) = jwtprobe(vec![
        "run".into(),
        dir.to_string(),
        "--verbose".into(),
        "--json".into(),
        json.to_string(),
        "--junit".into(),
        junit.to_string(),
    ])
    .await;
    assert_eq!(code, 4, "{out}");
    let json = fs_err::read_to_string(&json).expect("json");
    let junit = fs_err::read_to_string(&junit).expect("junit");
    for (what, text) in [("console", &out), ("JSON", &json), ("JUnit", &junit)] {
        for s in signatures {
            assert!(!text.contains(s), "{what} shows a full token:\n{text}");
        }
        assert!(
            text.contains("replay[eyJhbGciOiJSUzI1NiJ9.eyJVc2VySWQiOiJhbGljZSJ9.…sig:"),
            "{what}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_command_runs_the_pack_against_the_emulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let (json, junit) = (dir.join("run.json"), dir.join("junit.xml"));
    let (code, out) = jwtprobe(vec![
        "run".into(),
        repo().join("scenarios/conformance").to_string(),
        "--json".into(),
        json.to_string(),
        "--junit".into(),
        junit.to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    // The JSON report: one verdict per property, with its source and evidence.
    let report: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&json).expect("json")).expect("valid");
    let properties = report["conformance"]["properties"]
        .as_array()
        .expect("conformance.properties");
    assert_eq!(properties.len(), 26);
    let expired = properties
        .iter()
        .find(|p| p["id"] == "expired")
        .expect("expired");
    assert_eq!(expired["verdict"], "held");
    assert!(
        expired["source"]
            .as_str()
            .is_some_and(|s| s.contains("RFC 7519"))
    );
    assert_eq!(expired["evidence"][0]["status"], 401);
    assert!(
        expired["evidence"][0]["www_authenticate"]
            .as_str()
            .is_some_and(|w| w.contains("invalid_token")),
        "{expired}"
    );
    // JUnit: a `conformance` suite with one testcase per property.
    let xml = fs_err::read_to_string(&junit).expect("junit");
    let suite = xml
        .split("<testsuite name=\"conformance\"")
        .nth(1)
        .expect("a conformance testsuite");
    let suite = suite.split("</testsuite>").next().expect("closed");
    assert_eq!(suite.matches("<testcase ").count(), 26, "{suite}");
    assert!(
        suite.contains("expired: refuses an expired token"),
        "{suite}"
    );
    assert!(
        out.contains("conformance (security property → verdict):"),
        "{out}"
    );
    assert!(
        out.contains("26 properties: 25 held, 0 violated, 0 policy, 1 not applicable, 0 errors"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_a_key_file_a_copied_suite_no_longer_finds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let suite = fs_err::read_to_string(repo().join("scenarios/qlik/suite.yaml")).expect("suite");
    fs_err::write(dir.join("suite.yaml"), &suite).expect("suite");
    fs_err::copy(
        repo().join("scenarios/qlik/expired-token.yaml"),
        dir.join("expired-token.yaml"),
    )
    .expect("scenario");
    let (code, out) = jwtprobe(vec!["validate".into(), dir.to_string()]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("file `../../fixtures/keys/qlik-signing.key.pem` not found"),
        "{out}"
    );
    assert!(out.contains("suite.yaml:14:20"), "{out}");
}
