//! The administrator's commands through the binary: `keys import/generate/show`, `token
//! mint/inspect`, `probe` (every diagnosis, against the emulator on 127.0.0.1:0 or a wiremock
//! stub), `bench verify` and `completions`. Every output is searched for private key material.

use std::time::Duration;

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};
use jwtprobe::jose::Alg;
use jwtprobe::keys;
use jwtprobe::mock::{self, MockClock, MockServer, TlsMode};
use jwtprobe::token::{self, VerifyKey, VerifyPolicy};
use test_case::test_case;
use wiremock::matchers::{any, path};
use wiremock::{Mock, ResponseTemplate};

const PASSWORD: &str = "test-password";

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    repo().join("fixtures/keys").join(name).into_string()
}

fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = Utf8Path::from_path(dir.path())
        .expect("utf-8 temp dir")
        .to_owned();
    (dir, path)
}

/// One output of the binary.
struct Run {
    code: i32,
    out: String,
    err: String,
}

/// Fails when any private key material of the fixtures shows in `text`.
fn assert_no_key_material(text: &str) {
    assert!(
        !text.contains("PRIVATE KEY"),
        "a PEM private key was printed:\n{text}"
    );
    for key in ["qlik-signing.key.pem", "other.key.pem", "ec256.key.pem"] {
        let pem = fs_err::read_to_string(fixture(key)).expect("fixture key");
        // A base64 line from the middle of the key: never part of any output.
        let lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let chunk = lines[lines.len() / 2];
        assert!(
            !text.contains(chunk),
            "key material of `{key}` was printed:\n{text}"
        );
    }
}

/// Runs the binary with a PFX password in the environment (unless `env` overrides it).
fn cli_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut cmd = Command::cargo_bin("jwtprobe").expect("binary");
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env("JWTPROBE_PFX_PASSWORD", PASSWORD)
        .timeout(Duration::from_secs(120))
        .args(args);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let output = cmd.output().expect("ran");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_no_key_material(&run.out);
    assert_no_key_material(&run.err);
    run
}

fn cli(args: &[&str]) -> Run {
    cli_env(args, &[])
}

/// Runs the binary from async code (the emulator keeps serving on the runtime meanwhile).
async fn cli_async(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&args)
    })
    .await
    .expect("cli task")
}

/// Whether `text` holds a whole signed token (a signature longer than a fingerprint).
fn holds_full_token(text: &str) -> bool {
    regex::Regex::new(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}")
        .expect("regex")
        .is_match(text)
}

// ---------------------------------------------------------------------------------------------
// keys

#[test_case("qlik-client.pfx"; "aes-256 pbes2 as Windows 10 exports")]
#[test_case("qlik-client-3des.pfx"; "3des as older Windows exports")]
#[test_case("qlik-client-legacy.pfx"; "legacy rc2-40")]
fn keys_import_writes_pem_files_and_prints_thumbprints(file: &str) {
    let (_dir, out) = temp();
    let run = cli(&["keys", "import", &fixture(file), "--out", out.as_str()]);
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.contains("CN=jwtprobe-test"), "{}", run.out);
    assert!(
        run.out.contains("2F71991B0FB56E0A4E3A36648C9EEFDC25EA21FB"),
        "{}",
        run.out
    );
    assert!(
        run.out
            .contains("7073903C826304BDBCAD46752847EAF138A746782F88F5F4CC1DA7B52A9BF59E"),
        "{}",
        run.out
    );
    let stem = file.trim_end_matches(".pfx");
    let key_path = out.join(format!("{stem}.key.pem"));
    for path in [
        &key_path,
        &out.join(format!("{stem}.cert.pem")),
        &out.join(format!("{stem}.pub.pem")),
    ] {
        assert!(path.is_file(), "{path} missing");
        assert!(
            run.out.contains(path.as_str()),
            "path {path} not printed:\n{}",
            run.out
        );
    }
    let written = fs_err::read_to_string(&key_path).expect("key written");
    assert!(
        written.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs_err::metadata(&key_path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The written key is the fixture's signing key.
    let imported = keys::read_key_file(&key_path, None).expect("written key reads");
    let original = keys::read_key_file(Utf8Path::new(&fixture("qlik-signing.key.pem")), None)
        .expect("fixture");
    assert_eq!(
        imported.public.expect("public").spki_der(),
        original.public.expect("public").spki_der()
    );
}

#[test]
fn keys_import_with_wrong_password_names_file_and_hint() {
    let (_dir, out) = temp();
    let file = fixture("qlik-client.pfx");
    let run = cli_env(
        &["keys", "import", &file, "--out", out.as_str()],
        &[("JWTPROBE_PFX_PASSWORD", Some("wrong"))],
    );
    assert_eq!(run.code, 3, "{}", run.err);
    assert!(run.err.contains(&file), "names the file: {}", run.err);
    assert!(
        run.err.contains("hint:") && run.err.contains("JWTPROBE_PFX_PASSWORD"),
        "{}",
        run.err
    );
    assert!(run.err.contains("MAC"), "{}", run.err);
    assert!(
        fs_err::read_dir(&out).expect("dir").next().is_none(),
        "nothing written"
    );
}

#[test]
fn keys_import_without_password_variable_tries_empty_password_then_hints() {
    let (_dir, out) = temp();
    let run = cli_env(
        &[
            "keys",
            "import",
            &fixture("qlik-client.pfx"),
            "--out",
            out.as_str(),
        ],
        &[("JWTPROBE_PFX_PASSWORD", None)],
    );
    assert_eq!(run.code, 3);
    assert!(
        run.err.contains("`JWTPROBE_PFX_PASSWORD` is not set"),
        "{}",
        run.err
    );
}

#[test]
fn keys_import_reads_the_password_from_the_named_variable() {
    let (_dir, out) = temp();
    let run = cli_env(
        &[
            "keys",
            "import",
            &fixture("qlik-client.pfx"),
            "--out",
            out.as_str(),
            "--password-env",
            "MY_PFX_SECRET",
        ],
        &[
            ("JWTPROBE_PFX_PASSWORD", None),
            ("MY_PFX_SECRET", Some(PASSWORD)),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.err);
}

#[test]
fn keys_import_of_a_damaged_file_is_one_error_naming_it() {
    let (_dir, out) = temp();
    let bytes = fs_err::read(fixture("qlik-client.pfx")).expect("fixture");
    let damaged = out.join("damaged.pfx");
    fs_err::write(&damaged, &bytes[..bytes.len() / 2]).expect("write");
    let run = cli(&[
        "keys",
        "import",
        damaged.as_str(),
        "--out",
        out.join("o").as_str(),
    ]);
    assert_eq!(run.code, 3);
    assert!(run.err.contains(damaged.as_str()), "{}", run.err);
    assert!(run.err.contains("JWTPROBE_PFX_PASSWORD"), "{}", run.err);
    assert_eq!(run.err.matches("error:").count(), 1, "{}", run.err);
}

#[test]
fn keys_import_never_overwrites_existing_files() {
    let (_dir, out) = temp();
    let args = [
        "keys",
        "import",
        &fixture("qlik-client.pfx"),
        "--out",
        out.as_str(),
    ];
    assert_eq!(cli(&args).code, 0);
    let again = cli(&args);
    assert_eq!(again.code, 3);
    assert!(again.err.contains("qlik-client.key.pem"), "{}", again.err);
    assert!(again.err.contains("hint:"), "{}", again.err);
}

#[test_case("RS256", "RSA 2048-bit")]
#[test_case("ES256", "EC P-256")]
#[test_case("EdDSA", "Ed25519")]
fn keys_generate_writes_a_key_and_a_certificate_for_the_qmc(alg: &str, kind: &str) {
    let (_dir, out) = temp();
    let run = cli(&[
        "keys",
        "generate",
        "--alg",
        alg,
        "--cn",
        "qlik-jwt",
        "--days",
        "30",
        "--out",
        out.as_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.err);
    let cert_path = out.join("jwt-signing.cert.pem");
    let cert = keys::read_key_file(&cert_path, None)
        .expect("certificate reads")
        .certificate
        .expect("a certificate");
    assert_eq!(cert.subject(), "CN=qlik-jwt");
    assert!(run.out.contains(&cert.sha1_thumbprint()), "{}", run.out);
    assert!(run.out.contains(kind), "{}", run.out);
    assert!(
        run.out.contains("JWT certificate"),
        "says where to paste it: {}",
        run.out
    );
    assert!(out.join("jwt-signing.key.pem").is_file());
    let key = fs_err::read_to_string(out.join("jwt-signing.key.pem")).expect("key");
    let key_line = key.lines().nth(1).expect("a base64 line");
    assert!(!run.out.contains(key_line) && !run.err.contains(key_line));
}

#[test]
fn generated_key_signs_tokens_that_its_certificate_verifies() {
    let (_dir, out) = temp();
    assert_eq!(cli(&["keys", "generate", "--out", out.as_str()]).code, 0);
    let key = out.join("jwt-signing.key.pem");
    let cert = out.join("jwt-signing.cert.pem");
    let mint = cli(&[
        "token",
        "mint",
        "--key",
        key.as_str(),
        "-c",
        "UserId=alice",
        "-c",
        "UserDirectory=CORP",
    ]);
    assert_eq!(mint.code, 0, "{}", mint.err);
    let inspect = cli(&["token", "inspect", mint.out.trim(), "--cert", cert.as_str()]);
    assert_eq!(inspect.code, 0, "{}{}", inspect.out, inspect.err);
    assert!(
        inspect.out.contains("signature verified"),
        "{}",
        inspect.out
    );
}

#[test]
fn keys_generate_rejects_an_unsupported_size() {
    let (_dir, out) = temp();
    let run = cli(&["keys", "generate", "--bits", "1000", "--out", out.as_str()]);
    assert_eq!(run.code, 1);
    assert!(run.err.contains("1000"), "{}", run.err);
}

#[test_case("qlik-signing.key.pem", "RSA 2048-bit"; "private key")]
#[test_case("qlik-signing.cert.pem", "2F71991B0FB56E0A4E3A36648C9EEFDC25EA21FB"; "certificate")]
#[test_case("qlik-client.pfx", "key matches  yes"; "pfx")]
#[test_case("ec256-sec1.key.pem", "EC P-256"; "sec1 key")]
#[test_case("hmac.jwk.json", "len 36"; "hmac secret")]
fn keys_show_describes_a_file_without_secrets(file: &str, expected: &str) {
    let run = cli(&["keys", "show", &fixture(file)]);
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.contains(expected), "{}", run.out);
    assert!(
        !run.out.contains("jwtprobe-test-hmac-secret"),
        "{}",
        run.out
    );
}

#[test]
fn keys_show_of_a_missing_file_names_it() {
    let run = cli(&["keys", "show", "no/such/key.pem"]);
    assert_eq!(run.code, 3);
    assert!(run.err.contains("no/such/key.pem"), "{}", run.err);
}

// ---------------------------------------------------------------------------------------------
// token

fn policy(cert: &str) -> VerifyPolicy {
    let public = keys::read_key_file(Utf8Path::new(&fixture(cert)), None)
        .expect("cert")
        .public
        .expect("public key");
    VerifyPolicy {
        algs: vec![Alg::RS256],
        key: VerifyKey::Public(public),
        user_claim: Some("UserId".to_owned()),
        directory_claim: Some("UserDirectory".to_owned()),
        audience: None,
        leeway_s: 0,
    }
}

fn mint(extra: &[&str]) -> String {
    let key = fixture("qlik-signing.key.pem");
    let mut args = vec!["token", "mint", "--key", key.as_str()];
    args.extend_from_slice(extra);
    let run = cli(&args);
    assert_eq!(run.code, 0, "{}", run.err);
    run.out.trim().to_owned()
}

#[test]
fn token_mint_prints_a_token_with_typed_claims_that_verifies() {
    let token = mint(&[
        "-c",
        "UserId=alice",
        "-c",
        "UserDirectory=CORP",
        "-c",
        "groups:=[\"sales\",\"eu\"]",
        "-c",
        "level:=3",
        "--exp",
        "+1h",
        "--iat",
        "--kid",
        "k1",
        "--header",
        "x5t=abc",
        "--aud",
        "qlik",
    ]);
    let now = chrono::Utc::now().timestamp();
    let verified = token::verify(&token, &policy("qlik-signing.cert.pem"), now).expect("verifies");
    assert_eq!(verified.user_id.as_deref(), Some("alice"));
    assert_eq!(
        verified.claims()["groups"],
        serde_json::json!(["sales", "eu"])
    );
    assert_eq!(verified.claims()["level"], serde_json::json!(3));
    assert_eq!(verified.claims()["aud"], serde_json::json!("qlik"));
    let exp = verified.claims()["exp"].as_i64().expect("exp");
    assert!((now + 3500..=now + 3700).contains(&exp), "{exp}");
    assert!(verified.claims().contains_key("iat"));
    assert_eq!(verified.header()["kid"], serde_json::json!("k1"));
    assert_eq!(verified.header()["x5t"], serde_json::json!("abc"));
    assert_eq!(verified.header()["alg"], serde_json::json!("RS256"));
}

#[test]
fn token_mint_signs_with_a_pfx_key() {
    let key = fixture("qlik-client-3des.pfx");
    let run = cli(&[
        "token",
        "mint",
        "--key",
        &key,
        "-c",
        "UserId=a",
        "-c",
        "UserDirectory=b",
    ]);
    assert_eq!(run.code, 0, "{}", run.err);
    let now = chrono::Utc::now().timestamp();
    token::verify(run.out.trim(), &policy("qlik-signing.cert.pem"), now).expect("verifies");
}

#[test]
fn token_mint_with_only_a_certificate_is_a_runtime_error() {
    let cert = fixture("qlik-signing.cert.pem");
    let run = cli(&["token", "mint", "--key", &cert, "-c", "UserId=a"]);
    assert_eq!(run.code, 3);
    assert!(
        run.err.contains(&cert) && run.err.contains("no private key"),
        "{}",
        run.err
    );
}

#[test_case(&["-c", "novalue"]; "claim without equals")]
#[test_case(&["-c", "n:=[1,"]; "claim with broken json")]
#[test_case(&["--exp", "soon"]; "unreadable time")]
#[test_case(&["--alg", "RS999"]; "unknown algorithm")]
fn token_mint_bad_arguments_are_usage_errors(extra: &[&str]) {
    let key = fixture("qlik-signing.key.pem");
    let mut args = vec!["token", "mint", "--key", key.as_str()];
    args.extend_from_slice(extra);
    let run = cli(&args);
    assert_eq!(run.code, 1, "{}", run.err);
    assert!(run.out.is_empty());
}

#[test]
fn token_inspect_accepts_a_good_token_and_shows_dates() {
    let token = mint(&[
        "-c",
        "UserId=alice",
        "-c",
        "UserDirectory=CORP",
        "--exp",
        "+1h",
    ]);
    let run = cli(&[
        "token",
        "inspect",
        &token,
        "--cert",
        &fixture("qlik-signing.cert.pem"),
    ]);
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(run.out.contains("signature verified"), "{}", run.out);
    assert!(
        run.out.contains("valid for 59 minutes") || run.out.contains("valid for 1 hour"),
        "{}",
        run.out
    );
    assert!(run.out.contains("\"alice\""), "{}", run.out);
    let signature = token.rsplit('.').next().expect("signature");
    assert!(
        !run.out.contains(signature),
        "the signature is never echoed"
    );
    assert!(run.out.contains("…sig:"), "{}", run.out);
}

#[test]
fn token_inspect_lists_every_reason_with_the_near_miss() {
    let token = mint(&[
        "--alg",
        "PS256",
        "-c",
        "userid=alice",
        "-c",
        "UserDirectory=CORP",
        "--exp",
        "-5m",
    ]);
    let run = cli(&[
        "token",
        "inspect",
        &token,
        "--cert",
        &fixture("qlik-signing.cert.pem"),
        "--audience",
        "qlik.example",
    ]);
    assert_eq!(run.code, 4, "{}", run.out);
    for expected in [
        "algorithm `PS256` is not accepted",
        "expired 5 minutes ago",
        "claim `userid` found; the virtual proxy expects `UserId`",
        "claim `aud` is missing; expected `qlik.example`",
        "4 reasons",
    ] {
        assert!(
            run.out.contains(expected),
            "missing `{expected}` in:\n{}",
            run.out
        );
    }
    assert!(!holds_full_token(&run.out), "{}", run.out);
}

#[test]
fn token_inspect_says_why_the_signature_fails() {
    let token = mint(&["-c", "UserId=alice", "-c", "UserDirectory=CORP"]);
    let run = cli(&[
        "token",
        "inspect",
        &token,
        "--cert",
        &fixture("other.cert.pem"),
    ]);
    assert_eq!(run.code, 4);
    assert!(run.out.contains("does NOT verify"), "{}", run.out);
    assert!(run.out.contains("signature does not verify"), "{}", run.out);
}

#[test]
fn token_inspect_reads_stdin_and_prints_json() {
    let token = mint(&["-c", "UserId=alice", "--nbf", "+10m"]);
    let mut cmd = Command::cargo_bin("jwtprobe").expect("binary");
    let output = cmd
        .current_dir(repo())
        .args(["token", "inspect", "-", "--json"])
        .write_stdin(format!("Bearer {token}\n"))
        .timeout(Duration::from_secs(60))
        .output()
        .expect("ran");
    assert_eq!(output.status.code(), Some(4));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(!holds_full_token(&out), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json["accepted"], false);
    assert_eq!(json["signature"]["status"], "no_key");
    let codes: Vec<&str> = json["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert_eq!(codes, ["not_yet_valid", "missing_claim"], "{out}");
    assert!(
        json["times"]["nbf"]["meaning"]
            .as_str()
            .expect("nbf")
            .starts_with("not valid for another")
    );
}

#[test]
fn token_inspect_honours_the_virtual_proxy_claim_names() {
    let token = mint(&["-c", "userid=alice", "-c", "userdirectory=CORP"]);
    let cert = fixture("qlik-signing.cert.pem");
    let args = ["token", "inspect", &token, "--cert", &cert];
    assert_eq!(cli(&args).code, 4);
    let mut custom = args.to_vec();
    custom.extend([
        "--user-claim",
        "userid",
        "--directory-claim",
        "userdirectory",
    ]);
    let run = cli(&custom);
    assert_eq!(run.code, 0, "{}", run.out);
}

#[test]
fn token_inspect_for_qlik_cloud_names_its_required_claims() {
    let token = mint(&["-c", "sub=alice", "--exp", "+2h", "--nbf", "-1m"]);
    let run = cli(&["token", "inspect", &token, "--profile", "qlik-cloud"]);
    assert_eq!(run.code, 4);
    for expected in [
        "claim `jti` is missing",
        "no `kid`",
        "at most 1 hour",
        "qlik.api/login/jwt-session",
    ] {
        assert!(
            run.out.contains(expected),
            "missing `{expected}`:\n{}",
            run.out
        );
    }
}

#[test]
fn token_inspect_of_garbage_is_a_rejection_and_a_missing_cert_a_runtime_error() {
    let run = cli(&["token", "inspect", "not-a-token"]);
    assert_eq!(run.code, 4);
    assert!(run.out.contains("malformed"), "{}", run.out);
    let token = mint(&["-c", "UserId=a"]);
    let run = cli(&["token", "inspect", &token, "--cert", "missing/cert.pem"]);
    assert_eq!(run.code, 3);
    assert!(run.err.contains("missing/cert.pem"), "{}", run.err);
}

// ---------------------------------------------------------------------------------------------
// probe against the emulator

/// A one-VP emulator config (debug reasons on) with absolute fixture paths.
fn vp_config(
    dir: &Utf8Path,
    cert: &str,
    user_claim: &str,
    directory_claim: &str,
    extra: &str,
) -> Utf8PathBuf {
    let yaml = format!(
        "profile: qseow\ndebug_reasons: true\nvirtual_proxies:\n  - prefix: jwt\n    \
         session_cookie_name: X-Qlik-Session-jwt\n    jwt_certificate: {}\n    \
         user_id_claim: {user_claim}\n    user_directory_claim: {directory_claim}\n{extra}",
        fixture(cert)
    );
    let path = dir.join("mock.yaml");
    fs_err::write(&path, yaml).expect("config written");
    path
}

async fn start(config: Option<&Utf8Path>, clock: MockClock, tls: TlsMode) -> MockServer {
    let config = match config {
        Some(path) => mock::read_config(path),
        None => mock::read_config(&repo().join("fixtures/mock/qseow.yaml")),
    }
    .unwrap_or_else(|d| panic!("invalid mock config: {d:?}"));
    mock::start_with_clock(config, "127.0.0.1:0".parse().expect("addr"), tls, clock)
        .await
        .expect("emulator started")
}

/// Probes `base` + `path` as alice/CORP with the fixture signing key.
async fn probe(base: &url::Url, path: &str, extra: &[&str]) -> Run {
    let url = base.join(path).expect("url");
    let mut args: Vec<String> = [
        "probe",
        url.as_str(),
        "--key",
        &fixture("qlik-signing.key.pem"),
        "--user",
        "alice",
        "--directory",
        "CORP",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let run = cli_async(args).await;
    assert!(
        !holds_full_token(&run.out),
        "a full token was printed:\n{}",
        run.out
    );
    run
}

fn cause(run: &Run) -> &str {
    run.out
        .lines()
        .find_map(|l| l.strip_prefix("most likely cause: "))
        .unwrap_or_else(|| panic!("no cause in:\n{}\n{}", run.out, run.err))
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_an_accepted_token_prints_status_and_redacted_cookie() {
    let server = start(None, MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    assert!(run.out.contains("-> 200 OK"), "{}", run.out);
    assert!(
        run.out
            .contains("set-cookie: X-Qlik-Session-jwt-HTTP=••••(len 36"),
        "{}",
        run.out
    );
    assert!(run.out.contains("sent 1 request (limit 12)"), "{}", run.out);
    assert_eq!(server.hits().total, 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_without_prefix_explains_the_default_proxy_redirect() {
    let server = start(None, MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).starts_with("the URL has no virtual proxy prefix"),
        "{}",
        run.out
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_with_an_unknown_prefix_says_it_is_not_linked() {
    let server = start(None, MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "nope/hub/", &[]).await;
    assert_eq!(run.code, 4);
    let cause = cause(&run);
    assert!(cause.contains("does not know the prefix `nope`"), "{cause}");
    assert!(
        cause.contains("reaches the default virtual proxy"),
        "{cause}"
    );
    assert!(run.out.contains("sent 3 requests"), "{}", run.out);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_the_qrs_without_xrfkey_says_to_add_one() {
    let server = start(None, MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/qrs/about", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).contains("accepts it with one: add `xrfkey="),
        "{}",
        run.out
    );
    assert!(run.out.contains("sent 2 requests"), "{}", run.out);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_finds_lowercase_attribute_fields() {
    let (_dir, dir) = temp();
    let config = vp_config(&dir, "qlik-signing.cert.pem", "userid", "userdirectory", "");
    let server = start(Some(&config), MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert_eq!(
        cause(&run),
        "the proxy rejects `UserId`/`UserDirectory` but accepts `userid`/`userdirectory`: \
         the virtual proxy's attribute fields are lowercase"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_finds_camel_case_attribute_fields() {
    let (_dir, dir) = temp();
    let config = vp_config(&dir, "qlik-signing.cert.pem", "userId", "userDirectory", "");
    let server = start(Some(&config), MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert!(
        cause(&run)
            .ends_with("the virtual proxy's attribute fields are `userId` and `userDirectory`"),
        "{}",
        run.out
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_detects_a_proxy_clock_ahead_of_ours() {
    let ahead = chrono::Utc::now().timestamp() + 1800;
    let server = start(None, MockClock::manual(ahead), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 4);
    let cause = cause(&run);
    assert!(
        cause.contains("rejects a token that expires in 5 minutes"),
        "{cause}"
    );
    assert!(cause.contains("clock skew"), "{cause}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_blames_the_certificate_when_a_random_key_is_refused_alike() {
    let (_dir, dir) = temp();
    let config = vp_config(&dir, "other.cert.pem", "UserId", "UserDirectory", "");
    let server = start(Some(&config), MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 4);
    let cause = cause(&run);
    assert!(
        cause.contains("refused exactly like one signed with a fresh random key"),
        "{cause}"
    );
    assert!(cause.contains("\"JWT certificate\""), "{cause}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_checks_locally_that_the_certificate_matches_the_key() {
    let (_dir, dir) = temp();
    let config = vp_config(&dir, "other.cert.pem", "UserId", "UserDirectory", "");
    let server = start(Some(&config), MockClock::system(), TlsMode::Plain).await;
    let cert = fixture("other.cert.pem");
    let run = probe(&server.base_url, "jwt/hub/", &["--cert", &cert]).await;
    assert_eq!(run.code, 4);
    assert!(
        run.out.contains("does NOT hold the public key"),
        "{}",
        run.out
    );
    assert!(
        cause(&run).starts_with(&format!("`{cert}` does not hold the public key")),
        "{}",
        run.out
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_says_the_claims_are_refused_when_only_the_audience_is_wrong() {
    // The stock `jwtaud` virtual proxy requires an audience the token lacks.
    let server = start(None, MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwtaud/hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).contains("trusts the key but refuses the claims"),
        "{}",
        run.out
    );
    let run = probe(
        &server.base_url,
        "jwtaud/hub/",
        &["--aud", "qlik.jwtprobe.test"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.out);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_names_a_host_missing_from_the_allow_list() {
    let (_dir, dir) = temp();
    let config = vp_config(
        &dir,
        "qlik-signing.cert.pem",
        "UserId",
        "UserDirectory",
        "    host_allow_list: [qlik.example.com]\n",
    );
    let server = start(Some(&config), MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).contains("refuses the host name `127.0.0.1`"),
        "{}",
        run.out
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_explains_a_refusal_after_authentication_by_the_session_limit() {
    let (_dir, dir) = temp();
    let config = vp_config(
        &dir,
        "qlik-signing.cert.pem",
        "UserId",
        "UserDirectory",
        "    max_sessions_per_user: 1\n",
    );
    let server = start(Some(&config), MockClock::system(), TlsMode::Plain).await;
    assert_eq!(probe(&server.base_url, "jwt/hub/", &[]).await.code, 0);
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).contains("holds the most proxy sessions allowed"),
        "{}",
        run.out
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_a_missing_path_blames_the_path_not_the_token() {
    let server = start(None, MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/no-such-page", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).contains("accepts the token (it opened a session) but the path answers 404"),
        "{}",
        run.out
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_never_sends_more_than_max_requests() {
    let (_dir, dir) = temp();
    let config = vp_config(&dir, "other.cert.pem", "UserId", "UserDirectory", "");
    let server = start(Some(&config), MockClock::system(), TlsMode::Plain).await;
    let run = probe(&server.base_url, "jwt/hub/", &["--max-requests", "3"]).await;
    assert_eq!(run.code, 4);
    assert!(run.out.contains("sent 3 requests (limit 3)"), "{}", run.out);
    assert_eq!(server.hits().total, 3);
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    let sent: u64 = run
        .out
        .lines()
        .find_map(|l| l.strip_prefix("sent "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(sent <= 12);
    assert_eq!(
        server.hits().total,
        3 + sent,
        "the count printed is the count sent"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_over_self_signed_tls_needs_insecure() {
    let server = start(None, MockClock::system(), TlsMode::SelfSigned).await;
    let run = probe(&server.base_url, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 3, "{}", run.err);
    assert!(
        run.err
            .contains(server.base_url.as_str().trim_end_matches('/')),
        "{}",
        run.err
    );
    assert!(run.err.contains("--insecure"), "{}", run.err);
    let run = probe(&server.base_url, "jwt/hub/", &["--insecure"]).await;
    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    assert!(run.out.contains("X-Qlik-Session-jwt=••••"), "{}", run.out);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_an_unreachable_url_is_a_runtime_error_naming_it() {
    // Bind and drop a listener so the port is (very probably) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let base: url::Url = format!("http://127.0.0.1:{port}/").parse().expect("url");
    let run = probe(&base, "jwt/hub/", &["--timeout", "3s"]).await;
    assert_eq!(run.code, 3);
    assert!(
        run.err.contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.err
    );
}

// ---------------------------------------------------------------------------------------------
// probe against stubs: the answers the emulator never gives

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_a_proxy_that_ignores_the_token_says_so() {
    let stub = wiremock::MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .mount(&stub)
        .await;
    let base: url::Url = stub.uri().parse().expect("url");
    let run = probe(&base, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).contains("exactly as it answers no token at all (401)"),
        "{}",
        run.out
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_a_ticket_virtual_proxy_says_to_switch_it_to_jwt() {
    let stub = wiremock::MockServer::start().await;
    Mock::given(path("/win/hub/"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            "/win/internal_windows_authentication/?targetId=1",
        ))
        .mount(&stub)
        .await;
    let base: url::Url = stub.uri().parse().expect("url");
    let run = probe(&base, "win/hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).contains("set its authentication method to JWT"),
        "{}",
        run.out
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_a_failing_server_does_not_blame_the_token() {
    let stub = wiremock::MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&stub)
        .await;
    let base: url::Url = stub.uri().parse().expect("url");
    let run = probe(&base, "jwt/hub/", &[]).await;
    assert_eq!(run.code, 4);
    assert!(
        cause(&run).starts_with("the server failed with 503"),
        "{}",
        run.out
    );
    assert!(run.out.contains("sent 1 request"), "{}", run.out);
}

// ---------------------------------------------------------------------------------------------
// bench, completions, help

#[test]
fn bench_verify_prints_a_row_per_algorithm_and_thread_count() {
    let run = cli(&[
        "bench",
        "verify",
        "--alg",
        "RS256,ES256,HS256",
        "--threads",
        "2",
        "--duration",
        "100ms",
    ]);
    assert_eq!(run.code, 0, "{}", run.err);
    let rows: Vec<&str> = run.out.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "{}", run.out);
    for (row, (alg, threads)) in rows.iter().zip([
        ("RS256", "1"),
        ("RS256", "2"),
        ("ES256", "1"),
        ("ES256", "2"),
        ("HS256", "1"),
        ("HS256", "2"),
    ]) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[0], alg, "{row}");
        assert!(cells.contains(&threads), "{row}");
        let total: u64 = cells[cells.len() - 3]
            .replace(',', "")
            .parse()
            .expect("ops/s");
        assert!(total > 0, "{row}");
        if threads == "1" {
            assert!(row.ends_with("1.00x"), "{row}");
        }
    }
}

#[test]
fn bench_verify_rejects_an_unknown_algorithm() {
    let run = cli(&["bench", "verify", "--alg", "RS257", "--duration", "10ms"]);
    assert_eq!(run.code, 1);
    assert!(run.err.contains("RS257"), "{}", run.err);
}

#[test_case("bash")]
#[test_case("zsh")]
#[test_case("fish")]
#[test_case("powershell")]
#[test_case("elvish")]
fn completions_cover_every_command(shell: &str) {
    let run = cli(&["completions", shell]);
    assert_eq!(run.code, 0, "{}", run.err);
    for command in ["probe", "keys", "token", "bench"] {
        assert!(run.out.contains(command), "{shell}: `{command}` missing");
    }
}

#[test_case(&["keys", "import"])]
#[test_case(&["keys", "generate"])]
#[test_case(&["keys", "show"])]
#[test_case(&["token", "mint"])]
#[test_case(&["token", "inspect"])]
#[test_case(&["probe"])]
#[test_case(&["bench", "verify"])]
#[test_case(&["completions"])]
fn every_admin_command_has_an_example_in_its_help(command: &[&str]) {
    let mut args = command.to_vec();
    args.push("--help");
    let run = cli(&args);
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.contains("Example"), "{}", run.out);
    assert!(run.out.contains("jwtprobe "), "{}", run.out);
}
