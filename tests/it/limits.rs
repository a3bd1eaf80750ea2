//! Malformed and hostile input files: each case of issue #13's list, re-run through the
//! command line, is a clean exit with a located message in bounded time and memory (every
//! command runs under a timeout and, on Unix, a 1 GiB address-space limit; a hang or a
//! runaway allocation fails the test instead of stalling the suite).

use std::time::Duration;

use assert_cmd::Command;
use camino::Utf8PathBuf;
use test_case::test_case;

/// The most any of these commands may take; they finish in well under a second.
const BOUND: Duration = Duration::from_secs(30);

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The most address space a command may use (1 GiB, set with `ulimit -v`): the cases that
/// took gigabytes before (aliases, user counts) must fail cleanly well inside it.
#[cfg(unix)]
const ADDRESS_SPACE_KIB: u32 = 1024 * 1024;

/// `jwtprobe` under the time bound and, on Unix, the address-space bound.
fn jwtprobe() -> Command {
    let bin = assert_cmd::cargo::cargo_bin("jwtprobe");
    #[cfg(unix)]
    let mut cmd = {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!(
                "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
            ))
            .arg(bin);
        cmd
    };
    #[cfg(not(unix))]
    let mut cmd = Command::new(bin);
    // glibc reserves 64 MiB of address space per malloc arena; two keep the bound meaningful
    // on machines with many cores.
    cmd.timeout(BOUND)
        .env("NO_COLOR", "1")
        .env("MALLOC_ARENA_MAX", "2");
    cmd
}

/// A temp dir holding a generic suite (signing with the fixture key) and `scenario.yaml`.
fn dir_with(scenario: &[u8]) -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    let key = repo().join("fixtures/keys/qlik-signing.key.pem");
    fs_err::write(
        root.join("suite.yaml"),
        format!(
            "name: t\nprofile: generic\nprefix: jwt\nidentity: {{ user: alice, directory: CORP }}\n\
             keys:\n  signing: {{ file: {key} }}\n\
             defaults:\n  token: {{ key: signing, alg: RS256, claims: {{ exp: +1h }} }}\n"
        ),
    )
    .unwrap();
    fs_err::write(root.join("scenario.yaml"), scenario).unwrap();
    (dir, root)
}

/// Runs a command; returns its exit code and stderr.
fn outcome(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

const STEP: &str = "steps:\n  - name: open\n    request: { path: /x }\n";

fn block_nesting(levels: usize) -> String {
    format!("name: deep\nsteps:\n  {}x\n", "- ".repeat(levels))
}

fn alias_bomb(copies: usize, size: usize) -> String {
    let mut text = format!(
        "name: bomb\nvars:\n  big: &big {}\n  list:\n",
        "x".repeat(size)
    );
    for _ in 0..copies {
        text.push_str("    - *big\n");
    }
    text.push_str(STEP);
    text
}

// Each case: the scenario text, the message expected, the `line:col` (or a part of it).
#[test_case(block_nesting(10_000), "nests deeper than 64 levels", ":3:"; "block nesting of ten thousand levels")]
#[test_case(alias_bomb(2_000, 1024 * 1024), "expands to more than 16 MiB", ":"; "two thousand aliases of a megabyte")]
#[test_case(format!("name: s\nsteps:\n  - name: open\n    expect:\n      status: 99999999999999999999999999999999\n"), "this value does not fit here", ":5:15"; "status number past any integer")]
#[test_case(format!("name: t\nsteps:\n  - name: open\n    request: {{ path: /x, timeout: 99999999999999999d }}\n"), "too large", ":4:"; "timeout past any duration")]
#[test_case(format!("name: l\nload: {{ users: 100000000 }}\n{STEP}"), "expected between 1 and 10000 users", ":2:"; "a hundred million users")]
#[test_case(format!("name: l\nload: {{ rate: 1e12 }}\n{STEP}"), "at most 1000000 per second", ":2:"; "rate of a trillion")]
#[test_case(format!("name: l\nload: {{ rate: 0 }}\n{STEP}"), "expected a rate above 0", ":2:"; "rate zero")]
#[test_case(format!("name: l\nload: {{ users: 0 }}\n{STEP}"), "expected between 1 and", ":2:"; "users zero")]
#[test_case(format!("name: l\nload: {{ rate: 10, warmup: 100d }}\n{STEP}"), "expected at most 1h", ":2:"; "warmup of a hundred days")]
fn bad_scenario_is_a_located_exit_2_for_validate_run_and_load(
    scenario: String,
    message: &str,
    at: &str,
) {
    let (_dir, root) = dir_with(scenario.as_bytes());
    let file = root.join("scenario.yaml");
    for args in [
        vec!["validate", file.as_str()],
        vec!["run", file.as_str(), "--target", "http://127.0.0.1:9"],
        vec!["load", file.as_str(), "--target", "http://127.0.0.1:9"],
    ] {
        let (code, stderr) = outcome(jwtprobe().args(&args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("scenario.yaml{at}")),
            "{args:?} should point at `{at}`: {stderr}"
        );
    }
}

#[test]
fn non_utf8_scenario_is_located_by_byte_offset() {
    let (_dir, root) = dir_with(b"name: caf\xe9\nsteps: []\n");
    let (code, stderr) = outcome(jwtprobe().args(["validate", root.as_str()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("scenario.yaml:1:10"), "{stderr}");
    assert!(stderr.contains("invalid byte at offset 9"), "{stderr}");
}

#[test]
fn oversized_scenario_is_refused_before_parsing() {
    let big = format!("name: big\n# {}\n{STEP}", "x".repeat(5 * 1024 * 1024));
    let (_dir, root) = dir_with(big.as_bytes());
    let (code, stderr) = outcome(jwtprobe().args(["validate", root.as_str()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("larger than the limit of 4194304 bytes"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn fifo_named_like_a_scenario_is_refused_not_waited_on() {
    let (_dir, root) = dir_with(format!("name: ok\n{STEP}").as_bytes());
    let fifo = root.join("x.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, stderr) = outcome(jwtprobe().args(["validate", root.as_str()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("x.yaml:1:1"), "{stderr}");
    assert!(
        stderr.contains("a FIFO (named pipe), not a regular file"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn device_as_a_key_file_is_refused_without_reading_it() {
    let (_dir, root) = dir_with(format!("name: ok\n{STEP}").as_bytes());
    let suite = fs_err::read_to_string(root.join("suite.yaml")).unwrap();
    let key = repo().join("fixtures/keys/qlik-signing.key.pem");
    fs_err::write(
        root.join("suite.yaml"),
        suite.replace(key.as_str(), "/dev/zero"),
    )
    .unwrap();
    let (code, stderr) = outcome(jwtprobe().args(["run", root.as_str()]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("/dev/zero"), "{stderr}");
    assert!(stderr.contains("character device"), "{stderr}");
}

// Each case: a key file the suite names that cannot be loaded. The key ring is built before
// any step runs; the error keeps its message and causes (exit 3, as before) and points at the
// suite's `file:` value with a caret, like every other bad input.
#[test_case("folder", "", "this is a folder, not a regular file"; "a folder")]
#[test_case("notes.txt", "", "expected a PEM, DER, PFX or JWK key"; "a text file")]
#[test_case(
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/keys/qlik-client.pfx"),
    ", password_env: JWTPROBE_TEST_PFX_PASSWORD",
    "PKCS#12 MAC verification failed";
    "a pfx with the wrong password"
)]
fn key_file_that_cannot_be_loaded_points_at_its_file_value(file: &str, extra: &str, cause: &str) {
    let (_dir, root) = dir_with(format!("name: ok\n{STEP}").as_bytes());
    fs_err::create_dir(root.join("folder")).unwrap();
    fs_err::write(root.join("notes.txt"), "not a key\n").unwrap();
    let suite_file = root.join("suite.yaml");
    let suite = fs_err::read_to_string(&suite_file).unwrap();
    let key = repo().join("fixtures/keys/qlik-signing.key.pem");
    let written = format!("{file}{extra}");
    fs_err::write(&suite_file, suite.replace(key.as_str(), &written)).unwrap();
    let (code, stderr) = outcome(
        jwtprobe()
            .args(["run", root.as_str(), "--target", "http://127.0.0.1:9"])
            .env("JWTPROBE_TEST_PFX_PASSWORD", "wrong"),
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: failed to load key `signing` of suite `{suite_file}`\n --> {suite_file}:6:20\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("6 |   signing: {{ file: {written} }}\n")),
        "{stderr}"
    );
    let caret = format!("  | {}{} ", " ".repeat(19), "^".repeat(file.len()));
    assert!(stderr.contains(&caret), "{stderr}");
    assert!(
        stderr.contains(&format!("  caused by: {cause}\n")),
        "{stderr}"
    );
}

#[test]
fn load_points_at_a_key_file_that_cannot_be_loaded_as_run_does() {
    let (_dir, root) = dir_with(format!("name: ok\n{STEP}").as_bytes());
    fs_err::create_dir(root.join("folder")).unwrap();
    let suite_file = root.join("suite.yaml");
    let suite = fs_err::read_to_string(&suite_file).unwrap();
    let key = repo().join("fixtures/keys/qlik-signing.key.pem");
    fs_err::write(&suite_file, suite.replace(key.as_str(), "folder")).unwrap();
    let (code, stderr) = outcome(jwtprobe().args([
        "load",
        root.as_str(),
        "--target",
        "http://127.0.0.1:9",
        "--rate",
        "1",
        "--duration",
        "1s",
    ]));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: failed to load the suite's keys\n --> {suite_file}:6:20\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("6 |   signing: { file: folder }\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  caused by: this is a folder, not a regular file\n"),
        "{stderr}"
    );
}

#[test]
fn validate_points_at_a_missing_key_file_where_run_does() {
    let (_dir, root) = dir_with(format!("name: ok\n{STEP}").as_bytes());
    let suite_file = root.join("suite.yaml");
    let suite = fs_err::read_to_string(&suite_file).unwrap();
    let key = repo().join("fixtures/keys/qlik-signing.key.pem");
    // The same text earlier in the file must not draw the caret there.
    let suite = suite.replace("name: t", "name: gone.pem");
    fs_err::write(&suite_file, suite.replace(key.as_str(), "gone.pem")).unwrap();
    let (code, stderr) = outcome(jwtprobe().args(["validate", root.as_str()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("--> {suite_file}:6:20\n")),
        "{stderr}"
    );
    assert!(stderr.contains("file `gone.pem` not found"), "{stderr}");
    let (code, stderr) = outcome(jwtprobe().args(["run", root.as_str()]));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!("--> {suite_file}:6:20\n")),
        "{stderr}"
    );
}

// Each case: a threshold that `load` refuses; `validate` must refuse it too, at its place.
#[test_case("p1000 < 1ms"; "unknown percentile")]
#[test_case("p99 <"; "no value")]
#[test_case("opne.p99 < 10ms"; "unknown step")]
fn threshold_that_load_refuses_is_refused_by_validate(threshold: &str) {
    let scenario = format!("name: l\nload:\n  rate: 10\n  thresholds: [\"{threshold}\"]\n{STEP}");
    let (_dir, root) = dir_with(scenario.as_bytes());
    let (code, stderr) = outcome(jwtprobe().args(["validate", root.as_str()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("invalid threshold `{threshold}`")),
        "{stderr}"
    );
    assert!(stderr.contains("scenario.yaml:4:"), "{stderr}");
    let (load_code, load_err) =
        outcome(jwtprobe().args(["load", root.as_str(), "--target", "http://127.0.0.1:9"]));
    assert_eq!(load_code, 2, "{load_err}");
}

// Each case: flags beyond the limits `validate` applies to `load:` blocks.
#[test_case(&["--users", "100000000"], "`--users` must be between 1 and 10000"; "users")]
#[test_case(&["--rate", "1e12"], "`--rate` must be above 0"; "rate")]
#[test_case(&["--rate", "10", "--warmup", "100d"], "`--warmup` must be at most 1h"; "warmup")]
#[test_case(&["--rate", "10", "--duration", "30d"], "`--duration` must be above 0 and at most 7days"; "duration")]
fn load_flag_past_its_limit_is_a_usage_error(flags: &[&str], message: &str) {
    let (_dir, root) = dir_with(format!("name: l\n{STEP}").as_bytes());
    let (code, stderr) = outcome(
        jwtprobe()
            .args(["load", root.as_str(), "--target", "http://127.0.0.1:9"])
            .args(flags),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(message), "{stderr}");
}

#[test]
fn a_located_error_never_prints_raw_terminal_controls_from_the_file() {
    let (_dir, root) = dir_with(b"name: x\nsteps:\n  - name: open \x1b]0;owned\x07\n    expct: {}\n  - name: open \x1b]0;owned\x07\n");
    let (code, stderr) = outcome(jwtprobe().args(["validate", root.as_str()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// A fuzz target's library entry point.
type FuzzTarget = fn(&[u8]);

/// The fuzz targets of `fuzz/` and the library entry point each one calls.
const FUZZ_TARGETS: [(&str, FuzzTarget); 5] = [
    ("scenario", jwtprobe::fuzzing::scenario),
    ("verify", jwtprobe::fuzzing::verify),
    ("pick", jwtprobe::fuzzing::pick),
    ("lean_response", jwtprobe::fuzzing::lean_response),
    ("mock_request", jwtprobe::fuzzing::mock_request),
];

/// Every file of the fuzz corpus and every crash found so far (`fuzz/regressions/TARGET/`)
/// goes through its target on the stable toolchain: the fuzzers' findings stay fixed without
/// `cargo fuzz` in CI.
#[test]
fn fuzz_corpus_and_regressions_replay_through_every_target() {
    let mut replayed = 0;
    for (target, run) in FUZZ_TARGETS {
        for folder in ["fuzz/corpus", "fuzz/regressions"] {
            let dir = repo().join(folder).join(target);
            let Ok(entries) = fs_err::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for file in files {
                let bytes = fs_err::read(&file).unwrap();
                run(&bytes);
                replayed += 1;
            }
        }
    }
    assert!(
        replayed >= 25,
        "the corpus should be there, found {replayed} files"
    );
}
