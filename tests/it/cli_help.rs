//! Every command's `--help` has an example, and every example runs.
//!
//! Examples are the lines under `Example:`/`Examples:` in each command's help, as the binary
//! prints it (`cli` is private to the binary; subcommands are found from each help's
//! `Commands:` list). They run with
//! bash in an empty folder holding only the files built into the binary (the shipped suites,
//! fixture keys and emulator configs), as after `cargo install`, with the placeholders people
//! replace made concrete: `https://qlik.example.com` is an emulator started for the test,
//! `keys/QlikClient.*` are the fixture keys, `eyJhbGciOi…` and `pbpaste` give a minted token,
//! and the shells' completion folders live in the temporary `HOME`. Durations of `bench` are
//! shortened. An example passes when it exits 0 (or 4 for the few listed in [`REFUSALS`], which
//! show how a refused token is explained); servers (`jwtprobe mock`) pass once they print
//! their URL.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use camino::{Utf8Path, Utf8PathBuf};

/// Examples that show how a refusal is explained: they exit 4 by design.
const REFUSALS: &[&str] = &["--user-claim userid --directory-claim userdirectory"];

/// The help of a command (`jwtprobe run --help`) as the binary prints it, unwrapped.
fn help(path: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_jwtprobe"))
        .args(path.split_whitespace().skip(1))
        .arg("--help")
        .env("COLUMNS", "10000")
        .env("NO_COLOR", "1")
        .output()
        .expect("help printed");
    assert!(out.status.success(), "{path} --help: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The subcommands a help lists under `Commands:`, but `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The text from the options of a help on: the options (indented) and the command's
/// `after_help` (examples, exit codes), without the description above them.
fn after_help(help: &str) -> String {
    help.lines()
        .skip_while(|l| !l.starts_with("Options:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(command path, example line)` for every example of every command, in help order.
fn examples() -> Vec<(String, String)> {
    fn walk(path: &str, out: &mut Vec<(String, String)>) {
        let text = help(path);
        let after = after_help(&text);
        let mut in_examples = false;
        for line in after.lines() {
            if line.starts_with("Example") {
                in_examples = true;
                continue;
            }
            if line.trim().is_empty() {
                in_examples = false;
                continue;
            }
            if in_examples && line.starts_with("  ") {
                out.push((path.to_owned(), line.trim().to_owned()));
            }
        }
        for sub in subcommands(&text) {
            walk(&format!("{path} {sub}"), out);
        }
    }
    let mut out = Vec::new();
    walk("jwtprobe", &mut out);
    out
}

#[test]
fn every_command_has_an_example_in_its_help() {
    let with_examples: Vec<String> = examples().into_iter().map(|(c, _)| c).collect();
    fn leaves(path: &str, out: &mut Vec<String>) {
        let subs = subcommands(&help(path));
        if subs.is_empty() || path == "jwtprobe" {
            out.push(path.to_owned());
        }
        for sub in subs {
            leaves(&format!("{path} {sub}"), out);
        }
    }
    let mut all = Vec::new();
    leaves("jwtprobe", &mut all);
    let missing: Vec<&String> = all.iter().filter(|c| !with_examples.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "commands without an example: {missing:?}"
    );
}

/// A sandbox folder with the embedded files, as after `cargo install`.
fn sandbox() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8");
    let mut files = Vec::new();
    for name in jwtprobe::embedded::suites() {
        files.extend(jwtprobe::embedded::suite(name).expect("suite"));
    }
    files.extend(jwtprobe::embedded::fixture_keys());
    files.extend(jwtprobe::embedded::mock_configs());
    jwtprobe::embedded::write_files(&root, &files, false).expect("write sandbox");
    for folder in [
        ".local/share/bash-completion/completions",
        ".config/fish/completions",
        "zfunc",
    ] {
        fs_err::create_dir_all(root.join(folder)).expect("mkdir");
    }
    (dir, root)
}

/// A running `jwtprobe mock --tls` and its URL.
struct Emulator {
    child: std::process::Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(dir: &Utf8Path) -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwtprobe"))
        .current_dir(dir)
        .args(["mock", "--tls", "--listen", "127.0.0.1:0", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mock started");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    Emulator { child, url }
}

fn bin_dir() -> String {
    Utf8Path::new(env!("CARGO_BIN_EXE_jwtprobe"))
        .parent()
        .expect("bin dir")
        .to_string()
}

/// The example with its placeholders made concrete.
fn concrete(example: &str, emulator: &str, token: &str) -> String {
    example
        .replace("https://qlik.example.com", emulator)
        .replace(
            "keys/QlikClient.key.pem",
            "fixtures/keys/qlik-signing.key.pem",
        )
        .replace(
            "keys/QlikClient.cert.pem",
            "fixtures/keys/qlik-signing.cert.pem",
        )
        .replace(" cert.pem", " fixtures/keys/qlik-signing.cert.pem")
        .replace("QlikClient.pfx", "fixtures/keys/qlik-client.pfx")
        .replace(
            "JWTPROBE_PFX_PASSWORD='…'",
            "JWTPROBE_PFX_PASSWORD=test-password",
        )
        .replace("eyJhbGciOi…", token)
        .replace("--duration 5s", "--duration 100ms")
}

#[test]
fn every_help_example_runs() {
    let (_dir, root) = sandbox();
    let emulator = start_emulator(&root);
    let token = Command::new(env!("CARGO_BIN_EXE_jwtprobe"))
        .current_dir(&root)
        .args([
            "token",
            "mint",
            "--key",
            "fixtures/keys/qlik-signing.key.pem",
        ])
        .args(["--claim", "UserId=alice", "--claim", "UserDirectory=CORP"])
        .output()
        .expect("token minted");
    let token = String::from_utf8(token.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(token.starts_with("eyJ"), "{token}");
    fs_err::write(root.join("token.txt"), &token).unwrap();
    let prelude = format!(
        "set -o pipefail; export HOME='{root}'; export PATH='{}':\"$PATH\"; \
         pbpaste() {{ cat '{root}/token.txt'; }}; fpath=('' '{root}/zfunc'); PROFILE='{root}/profile.ps1'; ",
        bin_dir()
    );
    let mut failures = Vec::new();
    let all = examples();
    assert!(all.len() >= 20, "{all:?}");
    for (command, example) in &all {
        let line = concrete(example, &emulator.url, &token);
        if command == "jwtprobe mock" {
            // A server: it must come up and print its URL.
            let mut child = Command::new("bash")
                .current_dir(&root)
                .arg("-c")
                .arg(format!("{prelude} exec {line}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("bash");
            let mut first = String::new();
            let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first);
            let _ = child.kill();
            let _ = child.wait();
            if !first.starts_with("listening on ") {
                failures.push(format!("{line}\n  printed: {first}"));
            }
            continue;
        }
        let out = Command::new("bash")
            .current_dir(&root)
            .arg("-c")
            .arg(format!("{prelude} {line}"))
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("bash");
        let code = out.status.code().unwrap_or(-1);
        // An example passes by exiting 0, except the ones that show a refusal on purpose.
        let ok = code == 0 || (code == 4 && REFUSALS.iter().any(|r| line.contains(r)));
        if !ok {
            failures.push(format!(
                "{line}\n  exit {code}\n  stderr: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .rev()
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n          ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
