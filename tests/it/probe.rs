//! `jwtprobe probe` names the cause of a refusal on the emulator's `rfc6750` profile (a
//! resource server that answers `WWW-Authenticate: Bearer error="invalid_token"`) and on
//! `qseow` (a bare 400): wrong key, expired token, clock skew, claim names, an algorithm not
//! allowed, an unknown `kid`. It always sends its variant requests before concluding and never
//! says "not set to JWT" to a proxy that answered `invalid_token`.

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};
use jwtprobe::mock::{self, MockClock, MockServer, TlsMode};
use test_case::test_case;

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    repo().join("fixtures/keys").join(name).to_string()
}

/// The target of a case: its emulator config and the probe arguments it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Rfc6750,
    Qseow,
}

impl Target {
    fn config(self) -> String {
        let file = match self {
            Self::Rfc6750 => "fixtures/mock/rfc6750.yaml",
            Self::Qseow => "fixtures/mock/qseow.yaml",
        };
        let text = fs_err::read_to_string(repo().join(file)).expect("fixture config");
        let text = text.replace("../keys/", &format!("{}/", repo().join("fixtures/keys")));
        match self {
            // The resource server knows its key by this id.
            Self::Rfc6750 => text.replace(
                "    exp_required: true\n",
                "    exp_required: true\n    kid: jwtprobe-signing\n",
            ),
            Self::Qseow => text,
        }
    }

    fn args(self) -> Vec<String> {
        let mut args = vec!["--profile".to_owned()];
        match self {
            Self::Rfc6750 => args.extend(
                [
                    "rfc6750",
                    "--aud",
                    "jwtprobe-conformance",
                    "--iss",
                    "https://issuer.jwtprobe.test",
                ]
                .map(str::to_owned),
            ),
            Self::Qseow => args.push("qseow".to_owned()),
        }
        args
    }

    fn path(self) -> &'static str {
        match self {
            Self::Rfc6750 => "jwt/resource",
            Self::Qseow => "jwt/hub/",
        }
    }
}

async fn start(target: Target, clock: MockClock, dir: &Utf8Path) -> MockServer {
    let path = dir.join("mock.yaml");
    fs_err::write(&path, target.config()).expect("config written");
    let config = mock::read_config(&path).unwrap_or_else(|d| panic!("{d:?}"));
    mock::start_with_clock(
        config,
        "127.0.0.1:0".parse().expect("addr"),
        TlsMode::Plain,
        clock,
    )
    .await
    .expect("emulator started")
}

/// Runs the probe binary; returns (exit code, stdout).
async fn probe(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::cargo_bin("jwtprobe")
            .expect("binary")
            .args(&args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .expect("probe runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .expect("joined")
}

fn cause(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("most likely cause: "))
        .unwrap_or_else(|| panic!("no cause in:\n{out}"))
}

// Each case: the target, what is wrong (extra probe arguments, or the proxy's clock ahead by
// 30 minutes), and a phrase of the cause.
#[test_case(Target::Rfc6750, &["--key", "other"], false, "refused exactly like one signed with a fresh random key"; "rfc6750 wrong key")]
#[test_case(Target::Qseow, &["--key", "other"], false, "refused exactly like one signed with a fresh random key"; "qseow wrong key")]
#[test_case(Target::Rfc6750, &["--exp", "-5m"], false, "the token expired 5 minutes ago"; "rfc6750 expired")]
#[test_case(Target::Qseow, &["--exp", "-5m"], false, "the token expired 5 minutes ago"; "qseow expired")]
#[test_case(Target::Rfc6750, &[], true, "clock skew"; "rfc6750 clock skew")]
#[test_case(Target::Qseow, &[], true, "clock skew"; "qseow clock skew")]
#[test_case(Target::Rfc6750, &["--user-claim", "userid", "--directory-claim", "userdirectory"], false, "claim names are `UserId` and `UserDirectory`"; "rfc6750 claim names")]
#[test_case(Target::Qseow, &["--user-claim", "userid", "--directory-claim", "userdirectory"], false, "attribute fields are `UserId` and `UserDirectory`"; "qseow claim names")]
#[test_case(Target::Rfc6750, &["--alg", "RS512"], false, "refuses `RS512` but accepts the same token signed with RS256"; "rfc6750 algorithm")]
#[test_case(Target::Qseow, &["--alg", "PS256"], false, "refuses `PS256` but accepts the same token signed with RS256"; "qseow algorithm")]
#[test_case(Target::Rfc6750, &["--kid", "another-key"], false, "knows no key by that id"; "rfc6750 kid")]
#[tokio::test(flavor = "multi_thread")]
async fn probe_names_the_cause(target: Target, wrong: &[&str], clock_ahead: bool, phrase: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let clock = if clock_ahead {
        MockClock::manual(chrono::Utc::now().timestamp() + 1800)
    } else {
        MockClock::system()
    };
    let server = start(target, clock, dir).await;
    let url = server.base_url.join(target.path()).expect("url");
    let mut args: Vec<String> = ["probe", url.as_str(), "--key"].map(str::to_owned).to_vec();
    let key = match wrong {
        ["--key", "other", ..] => fixture("other.key.pem"),
        _ => fixture("qlik-signing.key.pem"),
    };
    args.push(key);
    args.extend(["--user", "alice", "--directory", "CORP"].map(str::to_owned));
    args.extend(target.args());
    if wrong.first() != Some(&"--key") {
        args.extend(wrong.iter().map(|s| (*s).to_owned()));
    }
    let (code, out) = probe(args).await;
    server.shutdown().await;
    assert_eq!(code, 4, "{out}");
    let cause = cause(&out);
    eprintln!("{target:?} {wrong:?}: {cause}");
    assert!(cause.contains(phrase), "{out}");
    assert!(!cause.contains("not set to JWT"), "{out}");
    if wrong == ["--exp", "-5m"] {
        // The claims line shows the token's real exp.
        assert!(out.contains(", expired 5 minutes ago"), "{out}");
    }
    // The variants ran before the conclusion: the random key and the fresh exp at least.
    assert!(out.contains("signed with a fresh random key"), "{out}");
    assert!(out.contains("a fresh token with exp in 1 hour"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_reads_the_bearer_challenge_and_never_says_the_token_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let server = start(Target::Rfc6750, MockClock::system(), dir).await;
    let url = server.base_url.join("jwt/resource").expect("url");
    // No audience and no issuer: the token is verified and refused for its claims.
    let args = [
        "probe",
        url.as_str(),
        "--key",
        &fixture("qlik-signing.key.pem"),
        "--user",
        "alice",
        "--directory",
        "CORP",
        "--profile",
        "rfc6750",
    ]
    .map(str::to_owned)
    .to_vec();
    let (code, out) = probe(args).await;
    server.shutdown().await;
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("(Bearer error=invalid_token: "), "{out}");
    let cause = cause(&out);
    assert!(cause.contains("verified the token and refused it"), "{out}");
    assert!(cause.contains("claim `aud` is missing"), "{out}");
    assert!(!cause.contains("not set to JWT"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_verbose_shows_every_exchange_with_its_challenge_and_no_full_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
    let server = start(Target::Rfc6750, MockClock::system(), dir).await;
    let url = server.base_url.join("jwt/resource").expect("url");
    // Signed with a key the resource server does not know: refused, and the variants run.
    let mut args: Vec<String> = ["probe", url.as_str(), "--key"].map(str::to_owned).to_vec();
    args.push(fixture("other.key.pem"));
    args.extend(["--user", "alice", "--directory", "CORP"].map(str::to_owned));
    args.extend(Target::Rfc6750.args());
    let (code, plain) = probe(args.clone()).await;
    args.push("-v".to_owned());
    let (verbose_code, verbose) = probe(args).await;
    server.shutdown().await;
    assert_eq!(code, 4, "{plain}");
    assert_eq!(verbose_code, 4, "{verbose}");
    assert_eq!(cause(&plain), cause(&verbose));
    // One request line per request sent, each with its status; the token redacted.
    let sent: usize = verbose
        .lines()
        .find_map(|l| l.strip_prefix("sent ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no request count in:\n{verbose}"));
    assert!(sent > 1, "{verbose}");
    let request_lines = verbose
        .lines()
        .filter(|l| l.starts_with(&format!("    > GET {url}")))
        .count();
    assert_eq!(request_lines, sent, "{verbose}");
    let status_lines = verbose
        .lines()
        .filter(|l| l.starts_with("    < 401 Unauthorized"))
        .count();
    assert!(status_lines >= 1, "{verbose}");
    assert!(
        verbose.contains("    < www-authenticate: Bearer "),
        "{verbose}"
    );
    assert!(
        verbose.contains("    > authorization: Bearer eyJ") && verbose.contains(".…sig:"),
        "{verbose}"
    );
    // Without -v none of it.
    assert!(!plain.contains("    > GET"), "{plain}");
    assert!(!plain.contains("< www-authenticate"), "{plain}");
    // No token in full: every JWT-shaped run ends where its signature would start.
    let full_token =
        regex::Regex::new(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]").unwrap();
    assert!(!full_token.is_match(&verbose), "{verbose}");
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_knows_kid_crit_and_the_profiles_algorithms() {
    let key = fixture("qlik-signing.key.pem");
    let (code, token) = probe(
        [
            "token",
            "mint",
            "--key",
            &key,
            "--claim",
            "UserId=alice",
            "--claim",
            "UserDirectory=CORP",
            "--exp",
            "-5m",
            "--kid",
            "k1",
            "--header",
            "crit:=[\"x-ext\"]",
            "--header",
            "x-ext=1",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    assert_eq!(code, 0, "{token}");
    let args = [
        "token",
        "inspect",
        token.trim(),
        "--cert",
        &fixture("qlik-signing.cert.pem"),
        "--profile",
        "rfc6750",
    ]
    .map(str::to_owned)
    .to_vec();
    let (code, out) = probe(args).await;
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("algorithms the proxy accepts RS256\n"),
        "{out}"
    );
    assert!(out.contains("kid        \"k1\""), "{out}");
    assert!(out.contains("crit       [\"x-ext\"]"), "{out}");
    assert!(
        out.contains("requires extension `x-ext`, which is not understood"),
        "{out}"
    );
    assert!(out.contains("expired 5 minutes ago"), "{out}");
    let signature = token.trim().rsplit('.').next().expect("a signature");
    assert!(!out.contains(signature), "{out}");
}
