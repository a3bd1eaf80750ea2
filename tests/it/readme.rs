//! Every `jwtprobe` command the README shows, run as written (issue #12: a README load command
//! failed 100 % on the built-in emulator and no test noticed).
//!
//! The commands are read from the README's `sh` blocks at test time, so a command added to the
//! README is run without touching this file. Only what cannot run here is rewritten, each
//! rewrite listed in [`rewrite`]: an example host becomes a local emulator, long durations
//! shrink to two seconds, a placeholder file becomes its fixture. A command that names a
//! placeholder this file does not know fails the test, so the README cannot drift into
//! commands nobody ran.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `jwtprobe …` commands of the README's shell blocks, continuation lines joined and
/// trailing comments dropped (`cargo run --release --` counts as `jwtprobe`).
fn readme_commands(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let fence = line.trim_start();
        if let Some(lang) = fence.strip_prefix("```") {
            in_shell = !in_shell && matches!(lang.trim(), "sh" | "bash" | "shell");
            pending.clear();
            continue;
        }
        if !in_shell {
            continue;
        }
        // A comment after the command starts at ` #` outside quotes (the README's commands
        // quote nothing with a `#` in it).
        let code = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        let code = code.trim();
        if let Some(head) = code.strip_suffix('\\') {
            pending.push_str(head.trim());
            pending.push(' ');
            continue;
        }
        pending.push_str(code);
        let command = std::mem::take(&mut pending);
        let command = command
            .strip_prefix("cargo run --release -- ")
            .map(|rest| format!("jwtprobe {rest}"))
            .unwrap_or(command);
        if command.starts_with("jwtprobe ") {
            commands.push(command);
        }
    }
    commands
}

/// The README's example Qlik host (a QSEoW emulator stands in for it).
const QLIK_HOST: &str = "https://qlik.example.com";
/// The README's example of another proxy (an RFC 6750 emulator stands in for it).
const OTHER_HOST: &str = "https://api.example.com";
/// Placeholder files in README commands and the fixtures that stand in for them.
const PLACEHOLDER_FILES: &[(&str, &str)] = &[("key.pem", "fixtures/keys/qlik-signing.key.pem")];
/// The most one README command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// Where the README's example hosts point during the test.
struct Hosts<'a> {
    qlik: &'a str,
    other: &'a str,
}

/// Rewrites a README command into arguments that run here: the example hosts become local
/// emulators, placeholder files their fixtures, durations over two seconds `2s`. Returns `None`
/// for a word this test does not know how to run (an unknown example host).
fn rewrite(command: &str, hosts: &Hosts<'_>) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut words = command.split_whitespace().skip(1).peekable();
    while let Some(word) = words.next() {
        let word = word.trim_matches('"');
        let base = |host: &str| word.strip_prefix(host).map(str::to_owned);
        if let Some(rest) = base(QLIK_HOST) {
            args.push(format!("{}{rest}", hosts.qlik.trim_end_matches('/')));
        } else if let Some(rest) = base(OTHER_HOST) {
            args.push(format!("{}{rest}", hosts.other.trim_end_matches('/')));
        } else if word.contains(".example.") {
            return None;
        } else if let Some((_, fixture)) = PLACEHOLDER_FILES.iter().find(|(p, _)| *p == word) {
            args.push((*fixture).to_owned());
        } else if word == "--duration" {
            args.push(word.to_owned());
            let value = words.next()?;
            let long = humantime::parse_duration(value).ok()? > Duration::from_secs(2);
            args.push(if long {
                "2s".to_owned()
            } else {
                value.to_owned()
            });
        } else {
            args.push(word.to_owned());
        }
    }
    Some(args)
}

/// The emulator over HTTPS, as a stand-in for the README's example host.
struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_emulator(dir: &Utf8Path, profile: &str, tls: bool) -> Emulator {
    let mut args = vec!["mock", "--listen", "127.0.0.1:0", "--profile", profile];
    if tls {
        args.push("--tls");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwtprobe"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator started");
    let stdout = child.stdout.take().expect("emulator stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("emulator printed its address");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line `{first}`"))
        .to_owned();
    Emulator { child, url }
}

/// A working folder with copies of the shipped scenarios and fixtures, as a user's checkout.
fn workdir() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8 temp dir");
    for folder in ["scenarios", "fixtures"] {
        copy_dir(&repo().join(folder), &root.join(folder));
    }
    (dir, root)
}

fn copy_dir(from: &Utf8Path, to: &Utf8Path) {
    fs_err::create_dir_all(to).expect("mkdir");
    for entry in fs_err::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let path = Utf8PathBuf::from_path_buf(entry.path()).expect("utf-8 path");
        let dest = to.join(path.file_name().expect("file name"));
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            fs_err::copy(&path, &dest).expect("copy");
        }
    }
}

#[test]
fn readme_lists_the_quick_start_and_load_commands() {
    let readme = fs_err::read_to_string(repo().join("README.md")).expect("README");
    let commands = readme_commands(&readme);
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("jwtprobe run scenarios/qlik")),
        "{commands:#?}"
    );
    assert!(
        commands.iter().any(|c| c.starts_with("jwtprobe load ")),
        "{commands:#?}"
    );
}

#[test]
fn every_jwtprobe_command_in_the_readme_runs_and_passes() {
    let readme = fs_err::read_to_string(repo().join("README.md")).expect("README");
    let commands = readme_commands(&readme);
    let (_dir, root) = workdir();
    let qlik = start_emulator(&root, "qseow", true);
    // Another proxy with a certificate from a public CA, as `https://api.example.com` would
    // have: plain http here, since the README's command has no `--insecure` (the path and the
    // probe's reasoning are the same).
    let other = start_emulator(&root, "rfc6750", false);
    let hosts = Hosts {
        qlik: &qlik.url,
        other: &other.url,
    };
    let mut failures = Vec::new();
    for command in &commands {
        let Some(args) = rewrite(command, &hosts) else {
            failures.push(format!(
                "{command}\n  names a placeholder this test cannot run"
            ));
            continue;
        };
        if let Err(why) = run_command(&root, &args) {
            failures.push(format!(
                "{command}\n  ran as `jwtprobe {}`: {why}",
                args.join(" ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} README commands failed:\n{}",
        failures.len(),
        commands.len(),
        failures.join("\n")
    );
}

/// Runs one command in `root`: a server (`jwtprobe mock`) must print its URL and is then
/// stopped; `probe` must exit 0, or 4 with the cause it found; anything else must exit 0, all
/// within [`COMMAND_LIMIT`].
fn run_command(root: &Utf8Path, args: &[String]) -> Result<(), String> {
    let server = args.first().is_some_and(|a| a == "mock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwtprobe"))
        .args(args)
        .current_dir(root)
        .env_remove("JWTPROBE_TARGET")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("did not start: {e}"))?;
    if server {
        let mut first = String::new();
        let stdout = child.stdout.take().expect("server stdout");
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = child.kill();
        let _ = child.wait();
        return if first.starts_with("listening on ") {
            Ok(())
        } else {
            Err(format!("the server printed `{}`", first.trim()))
        };
    }
    // Both outputs are drained as they come, so a chatty command never blocks on a full pipe.
    let drain = |pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(pipe), &mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {COMMAND_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    // `probe` exits 4 when the proxy refuses the token; the README shows it explaining such a
    // refusal, so a printed cause is its passing result.
    let explained = args.first().is_some_and(|a| a == "probe")
        && status.code() == Some(4)
        && stdout.contains("most likely cause: ");
    if status.success() || explained {
        Ok(())
    } else {
        Err(format!(
            "{status} after {:.1?}\n{stderr}",
            started.elapsed()
        ))
    }
}

#[test]
fn rewrite_replaces_example_hosts_and_shortens_long_durations() {
    let hosts = Hosts {
        qlik: "https://127.0.0.1:1/",
        other: "https://127.0.0.1:2/",
    };
    let args = rewrite(
        "jwtprobe load x.yaml --target https://qlik.example.com --duration 30s --rate 5",
        &hosts,
    )
    .expect("known words");
    assert_eq!(
        args,
        [
            "load",
            "x.yaml",
            "--target",
            "https://127.0.0.1:1",
            "--duration",
            "2s",
            "--rate",
            "5"
        ]
    );
    let args = rewrite(
        "jwtprobe probe https://api.example.com/jwt/x --key key.pem",
        &hosts,
    )
    .expect("known words");
    assert_eq!(
        args,
        [
            "probe",
            "https://127.0.0.1:2/jwt/x",
            "--key",
            "fixtures/keys/qlik-signing.key.pem"
        ]
    );
    assert!(rewrite("jwtprobe probe https://other.example.org/jwt/hub", &hosts).is_none());
}

#[test]
fn commands_are_joined_across_continuation_lines_without_comments() {
    let readme = "text\n```sh\njwtprobe load a.yaml --rate 5 \\\n  --json x.json   # a comment\ncargo nextest run\n```\n```yaml\njwtprobe: no\n```\n";
    assert_eq!(
        readme_commands(readme),
        ["jwtprobe load a.yaml --rate 5 --json x.json"]
    );
}
