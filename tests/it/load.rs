//! Load mode end to end: the engine and the HTTP transport against the emulator on
//! `127.0.0.1:0`, and the `load` and `merge` commands. Every run is short and bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};
use jwtprobe::client::ClientSettings;
use jwtprobe::load::engine::{self, EngineSettings, LoadResult, Model};
use jwtprobe::load::http::{HttpSettings, HttpTransport, TokenStrategy};
use jwtprobe::load::pacer::{Schedule, Shard};
use jwtprobe::load::sink::IntervalSink;
use jwtprobe::load::stats::ErrorClass;
use jwtprobe::mock::{self, MockServer, TlsMode};
use jwtprobe::report::hlog::HlogWriter;
use jwtprobe::runner::{self, Filters, RunOptions};
use jwtprobe::scenario::{Connections, SessionMode};

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary folder with an emulator config without the 5-sessions-per-user limit (every
/// bearer request opens a session) and a one-step scenario that opens the hub.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Utf8PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8 temp dir");
    let keys = repo().join("fixtures/keys");
    let config = fs_err::read_to_string(repo().join("fixtures/mock/qseow.yaml"))
        .expect("emulator fixture")
        .replace("max_sessions_per_user: 5", "max_sessions_per_user: 0")
        .replace("../keys/", &format!("{keys}/"));
    fs_err::write(root.join("mock.yaml"), config).expect("write config");
    fs_err::create_dir_all(root.join("load")).expect("mkdir");
    fs_err::write(
        root.join("load/suite.yaml"),
        format!(
            "name: load\nprofile: qseow\nprefix: jwt\nidentity: {{ user: alice, directory: CORP }}\n\
             keys:\n  signing: {{ file: {keys}/qlik-signing.key.pem }}\n\
             defaults:\n  token: {{ key: signing, alg: RS256, claims: {{ exp: +1h }} }}\n"
        ),
    )
    .expect("write suite");
    fs_err::write(
        root.join("load/hub.yaml"),
        "name: hub\nsteps:\n  - name: open-hub\n    request: { path: /hub/ }\n    expect: { status: accept }\n",
    )
    .expect("write scenario");
    Fixture { _dir: dir, root }
}

async fn emulator(root: &Utf8Path) -> MockServer {
    let config = mock::read_config(&root.join("mock.yaml")).expect("valid emulator config");
    mock::start(
        config,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        TlsMode::Plain,
    )
    .await
    .expect("emulator started")
}

fn transport(root: &Utf8Path, server: &MockServer, session: SessionMode) -> HttpTransport {
    transport_with(root, server, session, Connections::Shared)
}

fn transport_with(
    root: &Utf8Path,
    server: &MockServer,
    session: SessionMode,
    connections: Connections,
) -> HttpTransport {
    transport_at(
        root,
        &server.base_url,
        session,
        connections,
        TokenStrategy::Shared,
    )
}

fn transport_at(
    root: &Utf8Path,
    base_url: &url::Url,
    session: SessionMode,
    connections: Connections,
    tokens: TokenStrategy,
) -> HttpTransport {
    transport_trusting(root, base_url, session, connections, tokens, false)
}

/// As [`transport_at`]; `insecure` accepts any certificate (the emulator's self-signed one).
fn transport_trusting(
    root: &Utf8Path,
    base_url: &url::Url,
    session: SessionMode,
    connections: Connections,
    tokens: TokenStrategy,
    insecure: bool,
) -> HttpTransport {
    let read = jwtprobe::scenario::read(&[root.join("load")]).expect("valid scenario");
    let plan = runner::Plan::build(&read, &Filters::default(), &BTreeMap::new()).expect("plan");
    let now = chrono::Utc::now().timestamp();
    let client = ClientSettings {
        timeout: Duration::from_secs(5),
        cookies: false,
        insecure,
        ..ClientSettings::default()
    };
    let settings = RunOptions {
        base_url: base_url.clone(),
        emulator: true,
        client: client.clone(),
        vars: BTreeMap::new(),
        now,
        prefix: None,
    };
    let prepared = runner::prepare(&plan, &settings).expect("prepared");
    HttpTransport::new(
        &prepared,
        HttpSettings {
            client,
            connections,
            tokens,
            session,
            pinned_now: now,
        },
    )
    .expect("transport")
}

async fn drive(transport: HttpTransport, model: Model, hlog: Option<&Utf8Path>) -> LoadResult {
    let hlog = hlog.map(|p| {
        Box::new(HlogWriter::create(p, SystemTime::now()).expect("hlog")) as Box<dyn IntervalSink>
    });
    let settings = EngineSettings {
        model,
        interval: Duration::from_millis(250),
        hlog,
        shard: None,
    };
    // A bound on the whole run, in case anything hangs.
    let stop = tokio::time::sleep(Duration::from_secs(10));
    engine::run(Arc::new(transport), settings, stop, |_| {})
        .await
        .expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_rate_load_records_every_sample_the_emulator_served() {
    let fx = fixture();
    let server = emulator(&fx.root).await;
    let transport = transport(&fx.root, &server, SessionMode::Bearer);
    let model = Model::Rate {
        schedule: Schedule::constant(500.0, Duration::from_secs(2)),
        users: 20,
    };
    let result = drive(transport, model, None).await;
    let all = result.stats.overall();
    let served = server.hits().total;
    server.shutdown().await;
    assert!(!result.interrupted);
    assert!(
        (990..=1010).contains(&all.requests()),
        "recorded {}",
        all.requests()
    );
    assert_eq!(all.requests(), served, "recorded vs served");
    assert_eq!(all.error_count(), 0, "{:?}", all.errors);
    assert_eq!(all.statuses.get(&200).copied(), Some(all.requests()));
    assert_eq!(all.latency.len(), all.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_session_mode_reports_bearer_and_cookie_requests_apart() {
    let fx = fixture();
    let server = emulator(&fx.root).await;
    let transport = transport(&fx.root, &server, SessionMode::Cookie);
    let model = Model::Users {
        users: 2,
        think: Duration::ZERO,
        duration: None,
        requests: Some(40),
        warmup: Duration::ZERO,
        shard: Shard::default(),
    };
    let result = drive(transport, model, None).await;
    let hits = server.hits();
    server.shutdown().await;
    let bearer = result
        .stats
        .series
        .iter()
        .find(|(k, _)| k.session == SessionMode::Bearer)
        .map(|(_, s)| s.requests());
    let cookie = result
        .stats
        .series
        .iter()
        .find(|(k, _)| k.session == SessionMode::Cookie)
        .map(|(_, s)| s.requests());
    // Each of the two users signs in once with its token, then rides its own cookie.
    assert_eq!(bearer, Some(2));
    assert_eq!(cookie, Some(38));
    assert_eq!(result.stats.overall().error_count(), 0);
    assert_eq!(hits.accepted, 2, "{hits:?}");
    assert_eq!(hits.total, 40);
}

fn closed(users: u64, requests: u64) -> Model {
    Model::Users {
        users,
        think: Duration::ZERO,
        duration: None,
        requests: Some(requests),
        warmup: Duration::ZERO,
        shard: Shard::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_policy_records_exactly_what_the_emulator_served() {
    let fx = fixture();
    for connections in [
        Connections::PerUser,
        Connections::Shared,
        Connections::PerRequest,
    ] {
        for session in [SessionMode::Bearer, SessionMode::Cookie] {
            let server = emulator(&fx.root).await;
            let transport = transport_with(&fx.root, &server, session, connections);
            let result = drive(transport, closed(4, 120), None).await;
            let hits = server.hits();
            server.shutdown().await;
            let all = result.stats.overall();
            let what = format!("{connections:?} {session:?}");
            assert_eq!(all.requests(), 120, "{what}");
            assert_eq!(hits.total, 120, "{what}: served");
            assert_eq!(all.error_count(), 0, "{what}: {:?}", all.errors);
            assert_eq!(all.statuses.get(&200).copied(), Some(120), "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_stopped_target_count_as_connect_errors() {
    let fx = fixture();
    let server = emulator(&fx.root).await;
    let transport = transport_with(&fx.root, &server, SessionMode::Bearer, Connections::PerUser);
    server.shutdown().await;
    let result = drive(transport, closed(2, 10), None).await;
    let all = result.stats.overall();
    assert_eq!(all.requests(), 10);
    assert_eq!(all.errors.get(&ErrorClass::Connect).copied(), Some(10));
    assert!(all.statuses.is_empty());
    assert!(all.latency.is_empty(), "transport errors have no latency");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_two_shard_logs_gives_the_totals_of_both_runs() {
    let fx = fixture();
    let server = emulator(&fx.root).await;
    let mut totals = 0;
    for index in 0..2 {
        let mut schedule = Schedule::constant(200.0, Duration::from_millis(500));
        schedule.shard = Shard { index, count: 2 };
        let model = Model::Rate { schedule, users: 4 };
        let log = fx.root.join(format!("shard-{index}.hlog"));
        let result = drive(
            transport(&fx.root, &server, SessionMode::Bearer),
            model,
            Some(&log),
        )
        .await;
        assert!(result.hlog_error.is_none());
        totals += result.stats.overall().requests();
    }
    server.shutdown().await;
    assert_eq!(totals, 100);
    let output = Command::cargo_bin("jwtprobe")
        .expect("binary")
        .arg("merge")
        .arg(fx.root.join("shard-0.hlog"))
        .arg(fx.root.join("shard-1.hlog"))
        .arg("--json")
        .arg(fx.root.join("merged.json"))
        .arg("--threshold")
        .arg("requests >= 100")
        .timeout(Duration::from_secs(90))
        .output()
        .expect("merge ran");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(fx.root.join("merged.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["schema"], "jwtprobe.load/1");
    assert_eq!(json["overall"]["requests"], 100);
    assert_eq!(json["overall"]["latency_us"]["count"], 100);
}

#[test]
fn unknown_threshold_metric_exits_2_with_a_caret() {
    let fx = fixture();
    let output = Command::cargo_bin("jwtprobe")
        .expect("binary")
        .args([
            "load",
            fx.root.join("load").as_str(),
            "--rate",
            "10",
            "--duration",
            "1s",
        ])
        .args(["--threshold", "p99x < 20ms"])
        .timeout(Duration::from_secs(90))
        .output()
        .expect("load ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown metric `p99x`"), "{stderr}");
    assert!(stderr.contains("^^^^"), "{stderr}");
}

#[test]
fn breached_threshold_exits_5_and_fails_the_junit_testcase() {
    let fx = fixture();
    let junit = fx.root.join("junit.xml");
    let output = Command::cargo_bin("jwtprobe")
        .expect("binary")
        .args([
            "load",
            fx.root.join("load").as_str(),
            "--rate",
            "20",
            "--duration",
            "1s",
        ])
        .args([
            "--mock-config",
            fx.root.join("mock.yaml").as_str(),
            "--mock-http",
        ])
        .args(["--threshold", "p99 < 1us", "--threshold", "error_rate < 1%"])
        .args(["--junit", junit.as_str()])
        .timeout(Duration::from_secs(90))
        .output()
        .expect("load ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("FAIL  p99 < 1us"), "{stderr}");
    assert!(stderr.contains("pass  error_rate < 1%"), "{stderr}");
    let xml = fs_err::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("failures=\"1\""), "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_checks_are_judged_in_bearer_mode() {
    // The lean client skips the header map for steps that never read headers; a step with a
    // header check must still see them, passing and failing as written.
    let fx = fixture();
    for (wanted, passes) in [("text/html", true), ("application/x-nothing", false)] {
        fs_err::write(
            fx.root.join("load/hub.yaml"),
            format!(
                "name: hub\nsteps:\n  - name: open-hub\n    request: {{ path: /hub/ }}\n    \
                 expect:\n      status: accept\n      headers: {{ content-type: {{ contains: \"{wanted}\" }} }}\n"
            ),
        )
        .expect("write scenario");
        let server = emulator(&fx.root).await;
        let transport = transport(&fx.root, &server, SessionMode::Bearer);
        let result = drive(transport, closed(2, 20), None).await;
        server.shutdown().await;
        let all = result.stats.overall();
        assert_eq!(all.requests(), 20);
        let failed = all.errors.get(&ErrorClass::Check).copied().unwrap_or(0);
        assert_eq!(
            failed,
            if passes { 0 } else { 20 },
            "content-type contains {wanted}"
        );
    }
}

/// The distinct `UserId` claims of the bearer tokens a wiremock server received.
async fn distinct_users(server: &wiremock::MockServer) -> std::collections::BTreeSet<String> {
    use base64::Engine as _;
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter_map(|r| {
            let auth = r.headers.get("authorization")?.to_str().ok()?;
            let payload = auth.strip_prefix("Bearer ")?.split('.').nth(1)?;
            let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()?;
            let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
            Some(claims.get("UserId")?.as_str()?.to_owned())
        })
        .collect()
}

async fn accepting_server() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// How many distinct pool users a closed-model run of `requests` over 4 virtual users sends,
/// against a server that accepts everything and sets no cookie.
async fn pool_users_seen(session: SessionMode, pool: usize, requests: u64) -> usize {
    let fx = fixture();
    let server = accepting_server().await;
    let base = url::Url::parse(&server.uri()).expect("wiremock URL");
    let transport = transport_at(
        &fx.root,
        &base,
        session,
        Connections::Shared,
        TokenStrategy::Pool(pool),
    );
    let result = drive(transport, closed(4, requests), None).await;
    assert_eq!(result.stats.overall().requests(), requests);
    distinct_users(&server).await.len()
}

// See: issue #12 (`--token-pool 100000` minted 100k tokens but used about 50 of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_mode_walks_every_user_of_the_token_pool() {
    assert_eq!(pool_users_seen(SessionMode::Bearer, 300, 900).await, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_mode_keeps_one_pool_user_per_virtual_user() {
    // The server sets no cookie, so every request carries its virtual user's token.
    assert_eq!(pool_users_seen(SessionMode::Cookie, 20, 200).await, 4);
}

// See: issue #12 (HTTPS load went through reqwest, and the built-in emulator's certificate
// was not trusted by load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_load_runs_on_the_lean_client_and_records_what_the_emulator_served() {
    let fx = fixture();
    let config = mock::read_config(&fx.root.join("mock.yaml")).expect("valid emulator config");
    for session in [SessionMode::Bearer, SessionMode::Cookie] {
        let server = mock::start(
            config.clone(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            TlsMode::SelfSigned,
        )
        .await
        .expect("emulator started");
        assert_eq!(server.base_url.scheme(), "https");
        let transport = transport_trusting(
            &fx.root,
            &server.base_url,
            session,
            Connections::PerUser,
            TokenStrategy::Shared,
            true,
        );
        let result = drive(transport, closed(4, 120), None).await;
        let hits = server.hits();
        server.shutdown().await;
        let all = result.stats.overall();
        assert_eq!(all.requests(), 120, "{session:?}");
        assert_eq!(hits.total, 120, "{session:?}: served");
        assert_eq!(all.error_count(), 0, "{session:?}: {:?}", all.errors);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_a_tls_error_in_load() {
    let fx = fixture();
    let config = mock::read_config(&fx.root.join("mock.yaml")).expect("valid emulator config");
    let server = mock::start(
        config,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        TlsMode::SelfSigned,
    )
    .await
    .expect("emulator started");
    let transport = transport_trusting(
        &fx.root,
        &server.base_url,
        SessionMode::Bearer,
        Connections::PerUser,
        TokenStrategy::Shared,
        false,
    );
    let result = drive(transport, closed(2, 10), None).await;
    server.shutdown().await;
    let all = result.stats.overall();
    assert_eq!(all.requests(), 10);
    assert_eq!(
        all.errors.get(&ErrorClass::Tls).copied(),
        Some(10),
        "{:?}",
        all.errors
    );
}

// See: issue #12 (connections opened before the timed phase).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_users_connection_is_opened_before_the_clock_starts() {
    let fx = fixture();
    // A server that accepts and counts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = url::Url::parse(&format!(
        "http://{}",
        listener.local_addr().expect("address")
    ))
    .expect("url");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    let transport = transport_at(
        &fx.root,
        &base,
        SessionMode::Bearer,
        Connections::PerUser,
        TokenStrategy::Shared,
    );
    let settings = EngineSettings {
        model: closed(3, 30),
        interval: Duration::from_millis(250),
        hlog: None,
        shard: None,
    };
    // Stopped before the first request is due: only the connections were made.
    let result = engine::run(
        Arc::new(transport),
        settings,
        std::future::ready(()),
        |_| {},
    )
    .await
    .expect("run");
    server.abort();
    assert_eq!(result.stats.overall().requests(), 0);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
}
