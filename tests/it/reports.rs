//! Reports: JUnit against Jenkins xUnit's `junit-10.xsd`, JSON against `schemas/*.schema.json`,
//! the interval log read back by the Python HdrHistogram reader, the HTML pages rendered in
//! headless Chromium (no console message, no network request, the plotted p99 is the JSON's),
//! the Markdown summary, `-` for stdout, and `jwtprobe report` giving the same page as `--html`.
//!
//! The external tools (`xmllint`, `python3` with `hdrh`, `chromium`) are installed by
//! `.ci/run`. Where one is missing a test says so and passes, except under `CI=true`, where a
//! missing tool fails the test: CI must never skip these checks silently.

use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary folder with a plain-HTTP-free emulator config (no session limit), a suite with
/// one failing and one passing scenario, and a load scenario.
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
    let suite = format!(
        "name: t\nprofile: qseow\nprefix: jwt\nidentity: {{ user: alice, directory: CORP }}\n\
         keys:\n  signing: {{ file: {keys}/qlik-signing.key.pem }}\n\
         defaults:\n  token: {{ key: signing, alg: RS256, claims: {{ exp: +1h }} }}\n"
    );
    for folder in ["run", "load"] {
        fs_err::create_dir_all(root.join(folder)).expect("mkdir");
        fs_err::write(root.join(folder).join("suite.yaml"), &suite).expect("write suite");
    }
    fs_err::write(
        root.join("run/expired.yaml"),
        "name: expired token wrongly expected to pass\ntoken:\n  key: signing\n  claims: { exp: -5m }\nsteps:\n  - name: open the hub\n    request: { path: /hub/ }\n    expect:\n      status: 200\n",
    )
    .expect("write scenario");
    fs_err::write(
        root.join("run/valid.yaml"),
        "name: valid token opens the hub\nsteps:\n  - name: open the hub\n    request: { path: /hub/ }\n    expect: { status: accept }\n",
    )
    .expect("write scenario");
    fs_err::write(
        root.join("load/hub.yaml"),
        "name: hub\nsteps:\n  - name: open-hub\n    request: { path: /hub/ }\n    expect: { status: accept }\n",
    )
    .expect("write scenario");
    Fixture { _dir: dir, root }
}

/// Runs jwtprobe in `dir` against the fixture's emulator (plain HTTP).
fn jwtprobe(fx: &Fixture, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::cargo_bin("jwtprobe").expect("binary");
    cmd.current_dir(&fx.root)
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1")
        .args(args);
    if matches!(args.first(), Some(&"run" | &"load")) {
        cmd.args([
            "--mock-config",
            fx.root.join("mock.yaml").as_str(),
            "--mock-http",
        ]);
    }
    let out = cmd
        .timeout(Duration::from_secs(120))
        .output()
        .expect("jwtprobe ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether an external tool answers; under `CI=true` a missing tool fails the test.
fn tool_available(program: &str, args: &[&str], why: &str) -> bool {
    let ok = StdCommand::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "`{program} {}` failed: {why} is required in CI (`.ci/run` installs it)",
        args.join(" ")
    );
    eprintln!("skipped: `{program}` is not available ({why}); `.ci/run` installs it");
    false
}

fn xmllint_validates(xml: &Utf8Path) {
    let xsd = repo().join("tests/fixtures/junit/junit-10.xsd");
    let out = StdCommand::new("xmllint")
        .args(["--noout", "--schema", xsd.as_str(), xml.as_str()])
        .output()
        .expect("xmllint ran");
    assert!(
        out.status.success(),
        "{xml} is not valid against junit-10.xsd:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        fs_err::read_to_string(xml).unwrap_or_default()
    );
}

fn read_json(path: &Utf8Path) -> serde_json::Value {
    serde_json::from_str(&fs_err::read_to_string(path).expect("report written"))
        .expect("report is JSON")
}

fn assert_matches_schema(value: &serde_json::Value, schema_file: &str) {
    let schema: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(repo().join(schema_file)).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{schema_file} rejects the report:\n{}",
        errors.join("\n")
    );
}

/// The failing run of the fixture with every report written; returns (exit, stderr).
fn failing_run(fx: &Fixture) -> (i32, String) {
    let (code, _out, err) = jwtprobe(
        fx,
        &[
            "run",
            "run",
            "--junit",
            "out/junit.xml",
            "--json",
            "out/run.json",
            "--html",
            "out/run.html",
            "--summary-md",
            "out/summary.md",
        ],
    );
    (code, err)
}

/// A short load run of the fixture with every report written.
fn load_run(fx: &Fixture) {
    let (code, _out, err) = jwtprobe(
        fx,
        &[
            "load",
            "load",
            "--rate",
            "50",
            "--duration",
            "3s",
            "--threshold",
            "p99 < 10s",
            "--threshold",
            "error_rate < 100%",
            "--json",
            "out/load.json",
            "--junit",
            "out/load.xml",
            "--hdr-log",
            "out/load.hlog",
            "--html",
            "out/load.html",
            "--summary-md",
            "out/load.md",
        ],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn run_reports_agree_on_the_failed_check() {
    let fx = fixture();
    let (code, err) = failing_run(&fx);
    assert_eq!(code, 4, "{err}");
    let out = fx.root.join("out");
    let json = read_json(&out.join("run.json"));
    assert_eq!(json["totals"]["failed"], 1);
    assert_eq!(json["meta"]["tool"], "jwtprobe");
    let failed = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["steps"].as_array().unwrap())
        .find(|s| s["status"] == "failed")
        .expect("a failed step");
    let diagnostic = failed["diagnostic"].as_str().unwrap();
    // The YAML line and caret come from the text read at the start, not the disk.
    assert!(diagnostic.contains("status: 200"), "{diagnostic}");
    assert!(diagnostic.contains("^^^"), "{diagnostic}");
    let junit = fs_err::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure type=\"check\""), "{junit}");
    assert!(junit.contains("classname=\"run.expired."), "{junit}");
    assert!(junit.contains("hostname=\""), "{junit}");
    assert!(
        junit.contains("<property name=\"jwtprobe.version\""),
        "{junit}"
    );
    let html = fs_err::read_to_string(out.join("run.html")).unwrap();
    assert!(html.contains("status: 200"), "the HTML shows the YAML line");
    assert!(html.contains(">FAILED<"), "the HTML says the run failed");
    let md = fs_err::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.starts_with("### jwtprobe run: ❌ failed"), "{md}");
    assert!(
        md.contains("| expired token wrongly expected to pass | open the hub | status |"),
        "{md}"
    );
}

#[test]
fn junit_reports_are_valid_against_jenkins_junit_10_xsd() {
    if !tool_available(
        "xmllint",
        &["--version"],
        "xmllint (Debian `libxml2-utils`)",
    ) {
        return;
    }
    let fx = fixture();
    let (code, err) = failing_run(&fx);
    assert_eq!(code, 4, "{err}");
    load_run(&fx);
    xmllint_validates(&fx.root.join("out/junit.xml"));
    xmllint_validates(&fx.root.join("out/load.xml"));
}

#[test]
fn json_reports_match_their_checked_in_schemas() {
    let fx = fixture();
    let (code, err) = failing_run(&fx);
    assert_eq!(code, 4, "{err}");
    load_run(&fx);
    assert_matches_schema(
        &read_json(&fx.root.join("out/run.json")),
        "schemas/run.schema.json",
    );
    let load = read_json(&fx.root.join("out/load.json"));
    assert_matches_schema(&load, "schemas/load.schema.json");
    assert!(
        !load["timeline"].as_array().unwrap().is_empty(),
        "a run with an interval log has a timeline"
    );
    // The schema is not vacuous: a report with a wrong unit type is rejected.
    let mut broken = load.clone();
    broken["overall"]["latency_us"]["p99"] = serde_json::json!("12ms");
    let schema: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(repo().join("schemas/load.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(!jsonschema::is_valid(&schema, &broken));
}

#[test]
fn interval_log_is_read_back_by_python_hdrhistogram_with_max_in_milliseconds() {
    if !tool_available(
        "python3",
        &["-c", "import hdrh.log"],
        "the Python `hdrhistogram` package (`pip install hdrhistogram`)",
    ) {
        return;
    }
    let fx = fixture();
    load_run(&fx);
    let log = fx.root.join("out/load.hlog");
    let out = StdCommand::new("python3")
        .arg(repo().join("tests/fixtures/hlog/read_hlog.py"))
        .arg(&log)
        .output()
        .expect("python ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).expect("script prints JSON");
    let json = read_json(&fx.root.join("out/load.json"));
    assert_eq!(
        read["latency_count"], json["overall"]["latency_us"]["count"],
        "the reader sees every latency sample"
    );
    assert!(read["intervals"].as_u64().unwrap() >= 3, "{read}");
    assert_eq!(
        read["max_mismatches"].as_array().unwrap().len(),
        0,
        "Interval_Max is the histogram's max in milliseconds: {read}"
    );
}

/// A Chromium binary, if one is installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|p| {
            StdCommand::new(p)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// What headless Chromium saw of a page.
struct Rendered {
    dom: String,
    console: Vec<String>,
    requests: Vec<String>,
}

/// Loads `page` in headless Chromium with a fresh profile; returns the DOM after load, the
/// console messages and the network requests the page made (from the net log: requests
/// whose network isolation key is the `file://` page, so the browser's own background
/// traffic is not counted). Saves a screenshot as `shot`.
fn render(browser: &str, page: &Utf8Path, work: &Utf8Path, shot: &Utf8Path) -> Rendered {
    let profile = work.join(format!("profile-{}", uuid::Uuid::new_v4()));
    let netlog = work.join(format!("net-{}.json", uuid::Uuid::new_v4()));
    let url = format!("file://{page}");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ];
    let out = StdCommand::new(browser)
        .args(common)
        .arg(format!("--user-data-dir={profile}"))
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--log-net-log={netlog}"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    let log: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&netlog).expect("net log written"))
            .expect("net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    let requests = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == start_job)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .map(str::to_owned)
        .collect();
    let shot_out = StdCommand::new(browser)
        .args(common)
        .arg(format!("--user-data-dir={profile}-shot"))
        .args(["--window-size=1280,2000", "--hide-scrollbars"])
        .arg(format!("--screenshot={shot}"))
        .arg(&url)
        .output()
        .expect("chromium ran");
    assert!(shot_out.status.success());
    Rendered {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
        requests,
    }
}

/// The value of `attr` on the first element whose opening tag contains `marker`.
fn attribute_after(dom: &str, marker: &str, attr: &str) -> Option<String> {
    let at = dom.find(marker)?;
    let tag_start = dom[..at].rfind('<')?;
    let tag_end = at + dom[at..].find('>')?;
    let tag = &dom[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(tag[from..from + len].to_owned())
}

#[test]
fn html_reports_render_offline_in_headless_chromium_with_the_runs_numbers() {
    let Some(browser) = chromium() else {
        tool_available("chromium", &["--version"], "Debian `chromium`");
        return;
    };
    let fx = fixture();
    let (code, err) = failing_run(&fx);
    assert_eq!(code, 4, "{err}");
    load_run(&fx);
    let out = fx.root.join("out");
    // Screenshots land in target/ so a person can look at them after the test.
    let shots = repo().join("target/report-screenshots");
    fs_err::create_dir_all(&shots).unwrap();

    // A control page that logs to the console and fetches an image: the checks must see both.
    let control = out.join("control.html");
    fs_err::write(
        &control,
        "<!DOCTYPE html><html><body><img src=\"http://127.0.0.1:9/x.png\"><script>console.error('control')</script></body></html>",
    )
    .unwrap();
    let seen = render(browser, &control, &out, &shots.join("control.png"));
    assert!(!seen.console.is_empty(), "the console check sees nothing");
    assert!(
        seen.requests.iter().any(|u| u.contains("127.0.0.1:9")),
        "the network check sees nothing: {:?}",
        seen.requests
    );

    let load = render(
        browser,
        &out.join("load.html"),
        &out,
        &shots.join("load.png"),
    );
    assert!(load.console.is_empty(), "console: {:?}", load.console);
    assert!(load.requests.is_empty(), "requests: {:?}", load.requests);
    let json = read_json(&out.join("load.json"));
    let p99 = json["overall"]["latency_us"]["p99"]
        .as_u64()
        .unwrap()
        .to_string();
    assert_eq!(
        attribute_after(&load.dom, "data-chart=\"distribution\"", "data-p99-us").as_deref(),
        Some(p99.as_str()),
        "the distribution plot carries the JSON's p99"
    );
    assert_eq!(
        attribute_after(
            &load.dom,
            "data-series=\"all\" data-metric=\"p99\"",
            "data-us"
        )
        .as_deref(),
        Some(p99.as_str()),
        "the key figures show the JSON's p99"
    );
    for chart in ["throughput", "latency-over-time"] {
        assert!(
            load.dom.contains(&format!("data-chart=\"{chart}\"")),
            "no {chart} plot"
        );
    }
    // The throughput line has one point per interval of the timeline.
    let intervals = json["timeline"].as_array().unwrap().len();
    let polyline = load.dom[load.dom.find("data-chart=\"throughput\"").unwrap()..]
        .split("points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(polyline.split(' ').count(), intervals, "{polyline}");

    let run = render(browser, &out.join("run.html"), &out, &shots.join("run.png"));
    assert!(run.console.is_empty(), "console: {:?}", run.console);
    assert!(run.requests.is_empty(), "requests: {:?}", run.requests);
    assert!(run.dom.contains("id=\"outcome\">FAILED<"), "outcome");
    assert!(run.dom.contains("status: 200"), "the failure's YAML line");
    assert!(
        run.dom.contains("data-metric=\"failed\">1<"),
        "the summary counts the failed step"
    );
}

#[test]
fn report_command_draws_the_same_page_from_saved_json_and_logs() {
    let fx = fixture();
    load_run(&fx);
    let (code, _out, err) = jwtprobe(
        &fx,
        &[
            "report",
            "out/load.json",
            "out/load.hlog",
            "--html",
            "out/again.html",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs_err::read_to_string(fx.root.join("out/again.html")).unwrap(),
        fs_err::read_to_string(fx.root.join("out/load.html")).unwrap()
    );
    let (code, err) = failing_run(&fx);
    assert_eq!(code, 4, "{err}");
    let (code, stdout, err) = jwtprobe(&fx, &["report", "out/run.json", "--html", "-"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        stdout,
        fs_err::read_to_string(fx.root.join("out/run.html")).unwrap()
    );
    // Logs alone give a load page too (as `merge` would).
    let (code, stdout, err) = jwtprobe(&fx, &["report", "out/load.hlog", "--summary-md", "-"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.starts_with("### jwtprobe load:"), "{stdout}");
    // Anything else is refused with a hint.
    let (code, _out, err) = jwtprobe(&fx, &["report", "run/suite.yaml", "--html", "-"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn dash_writes_each_report_to_stdout_and_quiet_keeps_stderr_short() {
    let fx = fixture();
    let (code, stdout, err) = jwtprobe(&fx, &["run", "run", "--json", "-", "--quiet"]);
    assert_eq!(code, 4, "{err}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is the JSON");
    assert_eq!(json["schema"], "jwtprobe.run/1");
    assert!(!fx.root.join("-").exists(), "no file named `-`");
    assert!(
        !err.contains("PASS valid token"),
        "quiet hides passing scenarios: {err}"
    );
    assert!(err.contains("FAIL expired token"), "{err}");
    let (code, stdout, err) = jwtprobe(&fx, &["run", "run", "--junit", "-", "-q"]);
    assert_eq!(code, 4, "{err}");
    assert!(stdout.starts_with("<?xml"), "{stdout}");
    let (code, stdout, err) = jwtprobe(&fx, &["run", "run", "--summary-md", "-q"]);
    assert_eq!(code, 4, "{err}");
    assert!(stdout.starts_with("### jwtprobe run"), "{stdout}");
}

#[test]
fn summary_md_without_a_file_appends_to_github_step_summary() {
    let fx = fixture();
    let file = fx.root.join("step-summary.md");
    fs_err::write(&file, "earlier step\n").unwrap();
    let out = Command::cargo_bin("jwtprobe")
        .unwrap()
        .current_dir(&fx.root)
        .env("GITHUB_STEP_SUMMARY", &file)
        .args(["run", "run/valid.yaml", "--summary-md", "--mock-http"])
        .args(["--mock-config", fx.root.join("mock.yaml").as_str()])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = fs_err::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("earlier step\n### jwtprobe run: ✅ passed"),
        "{text}"
    );
}

#[test]
fn color_always_paints_pass_and_fail_and_no_color_turns_auto_off() {
    let fx = fixture();
    let (_, _, err) = jwtprobe(&fx, &["--color", "always", "run", "run"]);
    assert!(err.contains("\u{1b}[1;31mFAIL\u{1b}[0m"), "{err}");
    assert!(err.contains("\u{1b}[1;32mPASS\u{1b}[0m"), "{err}");
    // The helper sets NO_COLOR; `auto` into a pipe is plain anyway.
    let (_, _, err) = jwtprobe(&fx, &["run", "run", "--color", "auto"]);
    assert!(!err.contains('\u{1b}'), "{err}");
}

fn snapshot_filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r#"time="[0-9.]+""#, r#"time="[TIME]""#),
        (r#"timestamp="[^"]+""#, r#"timestamp="[DATE]""#),
        (r#"hostname="[^"]+""#, r#"hostname="[HOST]""#),
        (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[PORT]"),
        (r"jwtprobe [0-9]+\.[0-9]+\.[0-9]+", "jwtprobe [VERSION]"),
        (r#"value="[0-9]+\.[0-9]+\.[0-9]+""#, r#"value="[VERSION]""#),
        (r"\([0-9.]+(µs|ms|s)\)", "([DURATION])"),
        (r"\b[0-9.]+(µs|ms|s)\b", "[DURATION]"),
        (r"\([0-9.]+s, ", "([DURATION], "),
        (
            r#"name="schedule_kept" value="(true|false)""#,
            r#"name="schedule_kept" value="[KEPT]""#,
        ),
    ]
}

#[test]
fn junit_markdown_and_console_of_a_failing_run_look_like_this() {
    let fx = fixture();
    let (code, err) = failing_run(&fx);
    assert_eq!(code, 4, "{err}");
    let out = fx.root.join("out");
    insta::with_settings!({ filters => snapshot_filters() }, {
        insta::assert_snapshot!("run_junit", fs_err::read_to_string(out.join("junit.xml")).unwrap());
        insta::assert_snapshot!("run_summary_md", fs_err::read_to_string(out.join("summary.md")).unwrap());
        insta::assert_snapshot!("run_console", err);
    });
}

#[test]
fn load_junit_and_markdown_look_like_this() {
    let fx = fixture();
    load_run(&fx);
    let out = fx.root.join("out");
    let junit = fs_err::read_to_string(out.join("load.xml")).unwrap();
    // The system-out table holds measured numbers; the snapshot keeps the structure.
    let junit = regex::Regex::new(r"(?s)<system-out>load: .*?</system-out>")
        .unwrap()
        .replace(&junit, "<system-out>[SUMMARY TABLE]</system-out>")
        .into_owned();
    let md = fs_err::read_to_string(out.join("load.md")).unwrap();
    let md = regex::Regex::new(r"[0-9]+\.[0-9]+ ms|[0-9]+(\.[0-9]+)? requests in [0-9.]+s|\([0-9.]+/s|[0-9.]+%\)|schedule \*\*not kept\*\*|schedule kept")
        .unwrap()
        .replace_all(&md, "[N]")
        .into_owned();
    insta::with_settings!({ filters => snapshot_filters() }, {
        insta::assert_snapshot!("load_junit", junit);
        insta::assert_snapshot!("load_summary_md", md);
    });
}
