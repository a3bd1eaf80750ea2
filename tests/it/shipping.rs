//! Shipping: the binary works outside the checkout (emulator configs and suites built in), the
//! Dockerfile is multi-stage and non-root and is the image the Kubernetes manifests run, and
//! the release profile strips what the profiling profile keeps.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use camino::Utf8PathBuf;

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn empty_dir() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8");
    (dir, root)
}

#[test]
fn mock_serves_the_built_in_config_from_an_empty_folder() {
    let (_dir, root) = empty_dir();
    for profile in ["qseow", "qlik-cloud"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jwtprobe"))
            .current_dir(&root)
            .args(["mock", "--profile", profile, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mock started");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let _ = child.kill();
        let out = child.wait_with_output().expect("mock stopped");
        assert!(
            line.starts_with("listening on http://127.0.0.1:"),
            "{profile}: {line}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn shipped_suite_runs_against_the_emulator_without_fixtures_mock_in_the_folder() {
    let (_dir, root) = empty_dir();
    let mut files = jwtprobe::embedded::suite("qlik-cloud").expect("suite embedded");
    files.extend(jwtprobe::embedded::fixture_keys());
    jwtprobe::embedded::write_files(&root, &files, false).expect("written");
    assert!(!root.join("fixtures/mock").exists());
    let out = assert_cmd::Command::cargo_bin("jwtprobe")
        .unwrap()
        .current_dir(&root)
        .args(["run", "scenarios/qlik-cloud", "-q"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("(built-in emulator)"), "{err}");
}

#[test]
fn unknown_built_in_profile_is_a_usage_error_naming_the_choices() {
    let out = assert_cmd::Command::cargo_bin("jwtprobe")
        .unwrap()
        .args(["mock", "--profile", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("qseow"), "{err}");
}

/// The stages of a Dockerfile: `(base image, stage name, instructions)`.
fn stages(text: &str) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(from) = line.strip_prefix("FROM ") {
            let parts: Vec<&str> = from.split_whitespace().collect();
            let name = match parts.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => (*name).to_owned(),
                _ => String::new(),
            };
            out.push((parts[0].to_owned(), name, Vec::new()));
        } else if let Some(stage) = out.last_mut() {
            stage.2.push(line.to_owned());
        }
    }
    out
}

#[test]
fn dockerfile_builds_in_one_stage_and_runs_non_root_in_a_small_one() {
    let text = fs_err::read_to_string(repo().join("Dockerfile")).unwrap();
    let stages = stages(&text);
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    let (build_base, build_name, build) = &stages[0];
    assert!(build_base.starts_with("rust:"), "{build_base}");
    assert!(
        build
            .iter()
            .any(|i| i.contains("cargo build --release --locked")),
        "{build:?}"
    );
    let (base, _, runtime) = stages.last().unwrap();
    assert!(
        base.contains("distroless") || base.contains("slim") || base.contains("alpine"),
        "a small base: {base}"
    );
    assert!(
        runtime
            .iter()
            .any(|i| i.starts_with("COPY --from=") && i.contains(build_name.as_str())),
        "the runtime copies the binary from the build stage: {runtime:?}"
    );
    let user = runtime
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("a USER instruction");
    assert!(
        !matches!(user.split(':').next(), Some("root" | "0")),
        "runs as {user}"
    );
    assert!(
        runtime.iter().any(|i| i.starts_with("ENTRYPOINT")),
        "{runtime:?}"
    );
    // Every file the build copies exists.
    for line in stages.iter().flat_map(|s| &s.2) {
        if let Some(rest) = line.strip_prefix("COPY ")
            && !rest.starts_with("--from")
        {
            let parts: Vec<&str> = rest
                .split_whitespace()
                .filter(|p| !p.starts_with("--"))
                .collect();
            for src in &parts[..parts.len() - 1] {
                assert!(repo().join(src).exists(), "COPY source `{src}` is missing");
            }
        }
    }
}

#[test]
fn kubernetes_manifests_run_the_image_the_dockerfile_builds() {
    let text = fs_err::read_to_string(repo().join("Dockerfile")).unwrap();
    let image = text
        .lines()
        .find_map(|l| l.split("docker build -t ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the Dockerfile says how to build and tag it");
    let mut seen = 0;
    for entry in fs_err::read_dir(repo().join("deploy/k8s")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let manifest = fs_err::read_to_string(&path).unwrap();
        for line in manifest.lines() {
            if let Some(rest) = line.trim().strip_prefix("image:") {
                let used = rest.split_whitespace().next().unwrap_or_default();
                assert_eq!(used, image, "{}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 2, "load and merge jobs name the image");
}

#[test]
fn release_profile_strips_and_profiling_profile_keeps_line_tables() {
    let manifest = fs_err::read_to_string(repo().join("Cargo.toml")).unwrap();
    let section = |name: &str| -> String {
        manifest
            .split(&format!("[profile.{name}]"))
            .nth(1)
            .map(|rest| rest.split("\n[").next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    let release = section("release");
    assert!(release.contains("strip = true"), "{release}");
    assert!(release.contains("debug = false"), "{release}");
    let profiling = section("profiling");
    assert!(profiling.contains("inherits = \"release\""), "{profiling}");
    assert!(
        profiling.contains("debug = \"line-tables-only\""),
        "{profiling}"
    );
}
