//! Scenario reading: invalid fixtures (one defect each, snapshot-tested), valid fixtures
//! parsed into the expected model, the shipped scenarios against the JSON Schema, and the
//! `validate` and `schema` commands.

use std::time::Duration;

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};
use jwtprobe::jose::ProfileName;
use jwtprobe::scenario::{
    self, Body, KeySpec, LoadModel, Placement, ScenarioReadError, StatusExpect, XrfMode, XrfSwitch,
    yaml,
};

const INVALID: &str = "fixtures/scenarios/invalid";
const VALID: &str = "fixtures/scenarios/valid";

/// The YAML files of a directory, recursively, sorted.
fn yaml_files(dir: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs_err::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<Utf8PathBuf> = entries
        .flatten()
        .filter_map(|e| Utf8PathBuf::from_path_buf(e.path()).ok())
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if matches!(path.extension(), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
    out
}

fn is_suite(path: &Utf8Path) -> bool {
    matches!(path.file_name(), Some("suite.yaml" | "suite.yml"))
}

fn invalid_fixtures() -> Vec<Utf8PathBuf> {
    yaml_files(Utf8Path::new(INVALID))
        .into_iter()
        .filter(|p| !is_suite(p))
        .collect()
}

#[test]
fn each_invalid_fixture_has_exactly_one_diagnostic_matching_its_snapshot() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fixtures = invalid_fixtures();
    assert!(
        fixtures.len() >= 13,
        "expected the invalid fixtures, found {fixtures:?}"
    );
    for path in fixtures {
        let Err(errors) = scenario::read(&[&path]) else {
            panic!("`{path}` should be invalid");
        };
        assert_eq!(errors.errors.len(), 1, "{path}: {errors:?}");
        let diagnostics = errors.diagnostics();
        assert_eq!(
            diagnostics.len(),
            1,
            "`{path}` should have one defect:\n{}",
            errors.render()
        );
        let stem = path.file_stem().unwrap_or("fixture").to_owned();
        insta::with_settings!({ filters => vec![(root, "[ROOT]")] }, {
            insta::assert_snapshot!(format!("invalid_{stem}"), format!("{}error: {errors}\n", errors.render()));
        });
    }
}

#[test]
fn invalid_fixtures_cover_every_named_defect() {
    let stems: Vec<String> = invalid_fixtures()
        .iter()
        .filter_map(|p| p.file_stem().map(str::to_owned))
        .collect();
    for want in [
        "unknown_key",
        "bad_status",
        "wrong_type",
        "unknown_key_name",
        "bad_regex",
        "bad_jsonpath",
        "bad_duration",
        "unknown_status_name",
        "unknown_var",
        "bad_yaml",
        "tab_indent",
        "duplicate_step",
        "missing_steps",
    ] {
        assert!(
            stems.iter().any(|s| s == want),
            "missing fixture `{want}.yaml`"
        );
    }
}

#[test]
fn reading_a_directory_reports_every_invalid_file_at_once() {
    let Err(errors) = scenario::read(&[INVALID]) else {
        panic!("the invalid fixtures should not read")
    };
    assert_eq!(errors.errors.len(), invalid_fixtures().len());
    assert!(
        errors
            .errors
            .iter()
            .all(|e| matches!(e, ScenarioReadError::Invalid { .. }))
    );
    assert!(
        errors.to_string().starts_with("invalid scenarios: "),
        "{errors}"
    );
}

#[test]
fn every_problem_of_one_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("many.yaml")).unwrap();
    fs_err::write(
        &path,
        "name: many\nsteps:\n  - name: a\n    expct: {}\n  - name: b\n    expect:\n      status: 2OO\n      duration_below: soon\n",
    )
    .unwrap();
    let Err(errors) = scenario::read(&[&path]) else {
        panic!("should be invalid")
    };
    let labels: Vec<String> = errors.diagnostics().into_iter().map(|d| d.label).collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert_eq!(labels[0], "unknown key `expct`");
    assert!(labels[1].starts_with("expected a duration"), "{labels:?}");
}

#[test]
fn missing_path_is_a_read_error_naming_it() {
    let Err(errors) = scenario::read(&["fixtures/scenarios/nope.yaml"]) else {
        panic!("should fail")
    };
    assert!(
        matches!(&errors.errors[0], ScenarioReadError::Read { path, .. } if path == "fixtures/scenarios/nope.yaml")
    );
}

#[test]
fn valid_fixtures_parse_into_the_expected_model() {
    let plan = scenario::read(&[VALID]).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(plan.files, 4);
    let names: Vec<&str> = plan
        .scenarios
        .iter()
        .map(|p| p.scenario.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "full session flow",
            "algorithms",
            "minimal with an explicit suite"
        ]
    );

    let full = &plan.scenarios[0];
    assert_eq!(full.suite.name, "valid-fixtures");
    assert_eq!(full.suite.prefix.as_deref(), Some("jwt"));
    assert_eq!(full.suite.identity.user, "alice");
    assert_eq!(
        full.suite.vars.get("port").map(String::as_str),
        Some("4243")
    );
    assert!(matches!(
        full.suite.keys.get("throwaway"),
        Some(KeySpec::Generate { .. })
    ));
    assert!(
        matches!(full.suite.keys.get("pfx"), Some(KeySpec::File { password_env: Some(e), .. }) if e.value == "JWTPROBE_PFX_PASSWORD")
    );
    assert_eq!(full.suite.defaults.timeout, Some(Duration::from_secs(5)));
    assert_eq!(full.profile.name, ProfileName::Qseow);
    assert_eq!(full.profile.status("reject"), Some(&[400, 401][..]));
    assert_eq!(full.profile.status("session_limit"), Some(&[403][..]));
    let load = full.suite.load.as_ref().expect("suite load block");
    assert_eq!(load.model, Some(LoadModel::Rate));
    assert_eq!(load.stages.len(), 2);
    assert_eq!(load.thresholds[1].value, "error_rate < 0.1%");
    assert_eq!(
        load.thresholds[1].at.as_ref().map(|l| l.span.line),
        Some(32)
    );

    let s = &full.scenario;
    assert_eq!(s.tags, ["qlik", "smoke"]);
    let step = &s.steps[0];
    assert_eq!(
        step.request.query.get("page").map(String::as_str),
        Some("1")
    );
    let e = &step.expect;
    let status = e.status.as_ref().expect("status");
    assert_eq!(status.value, StatusExpect::Code(200));
    let at = status.at.as_ref().expect("status location");
    assert_eq!(
        (at.file.as_str(), at.span.line, at.span.col),
        ("fixtures/scenarios/valid/full.yaml", 16, 15)
    );
    assert_eq!(
        e.headers["X-Frame-Options"].value.equals.as_deref(),
        Some("SAMEORIGIN")
    );
    assert_eq!(e.headers["WWW-Authenticate"].value.absent, Some(true));
    let session = &e.cookies["X-Qlik-Session-jwt"].value;
    assert_eq!(
        (session.http_only, session.same_site.as_deref()),
        (Some(true), Some("None"))
    );
    assert_eq!(e.cookies["X-Qlik-Session"].value.present, Some(false));
    assert_eq!(e.body.len(), 3);
    assert_eq!(e.body[2].at.as_ref().map(|l| l.span.line), Some(27));
    assert_eq!(
        e.duration_below.as_ref().map(|d| d.value),
        Some(Duration::from_millis(500))
    );
    assert_eq!(step.capture.len(), 2);

    let csrf = &s.steps[1];
    assert_eq!(
        csrf.token.as_ref().and_then(|t| t.placement),
        Some(Placement::None)
    );
    assert_eq!(csrf.request.xrfkey, XrfMode::Switch(XrfSwitch::Off));
    assert_eq!(
        csrf.expect.status.as_ref().map(|s| &s.value),
        Some(&StatusExpect::AnyOf(vec![200, 204]))
    );

    let apps = &s.steps[2];
    assert_eq!(apps.request.method, "POST");
    assert!(matches!(&apps.request.body, Some(Body::Json { .. })));
    assert_eq!(
        apps.request.xrfkey,
        XrfMode::Parts {
            header: true,
            query: false
        }
    );
    assert_eq!(apps.request.timeout, Some(Duration::from_secs(2)));
    assert_eq!(
        apps.expect.status.as_ref().map(|s| &s.value),
        Some(&StatusExpect::Class(2))
    );
    assert_eq!(apps.expect.body.len(), 1, "a single body map is one check");

    let expired = &s.steps[3];
    assert_eq!(expired.request.prefix.as_deref(), Some(""));
    assert_eq!(
        expired.expect.status.as_ref().map(|s| &s.value),
        Some(&StatusExpect::Named("reject".into()))
    );
    assert_eq!(expired.expect.body[1].value.gt, Some(399.0));

    let minimal = &plan.scenarios[2];
    assert_eq!(
        minimal.suite.name, "valid-fixtures",
        "an explicit `suite:` is followed"
    );
    assert_eq!(minimal.scenario.steps[0].request.path, "/");
}

#[test]
fn matrix_expands_once_per_variant_with_suffixed_names() {
    let plan = scenario::read(&[format!("{VALID}/matrix.yaml")])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let expanded = plan.expanded();
    let names: Vec<&str> = expanded.iter().map(|p| p.scenario.name.as_str()).collect();
    assert_eq!(names, ["algorithms[RS256]", "algorithms[pss]"]);
    assert_eq!(
        expanded[1].scenario.vars.get("alg").map(String::as_str),
        Some("PS256")
    );
}

#[test]
fn validate_command_exits_2_with_rendered_diagnostics() {
    let out = Command::cargo_bin("jwtprobe")
        .unwrap()
        .args(["validate", &format!("{INVALID}/bad_status.yaml")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("status: 2OO\n  |               ^^^ expected an HTTP status code (100-599)"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: did you mean `200`?"), "{stderr}");
}

#[test]
fn validate_command_reports_counts_on_success() {
    let out = Command::cargo_bin("jwtprobe")
        .unwrap()
        .args(["validate", VALID])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ok: 3 scenarios in 4 files\n"
    );
}

#[test]
fn schema_command_prints_the_generated_schema() {
    let out = Command::cargo_bin("jwtprobe")
        .unwrap()
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    assert_eq!(printed, scenario::schema());
    assert!(printed.pointer("/properties/steps").is_some());
}

/// Validates a YAML file against a JSON Schema directly with `jsonschema`, independently of
/// the reader's own error mapping.
fn schema_errors(path: &Utf8Path, schema: &serde_json::Value) -> Vec<String> {
    let text = fs_err::read_to_string(path).unwrap();
    let (value, _) =
        yaml::parse(&text).unwrap_or_else(|e| panic!("`{path}` is not valid YAML: {e:?}"));
    let validator = jsonschema::validator_for(schema).expect("the schema compiles");
    validator
        .iter_errors(&value)
        .map(|e| format!("{path}: {} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_shipped_scenario_validates_against_the_schema_and_reads_cleanly() {
    let files = yaml_files(Utf8Path::new("scenarios"));
    let scenario_schema = scenario::schema();
    let suite_schema = scenario::schema::suite_schema();
    for path in &files {
        let schema = if is_suite(path) {
            &suite_schema
        } else {
            &scenario_schema
        };
        assert_eq!(schema_errors(path, schema), Vec::<String>::new());
    }
    if files.is_empty() {
        return;
    }
    let plan = scenario::read(&["scenarios"]).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(
        plan.files,
        files.len(),
        "every YAML file under scenarios/ is read"
    );
    let scenarios = files.iter().filter(|p| !is_suite(p)).count();
    assert_eq!(plan.scenarios.len(), scenarios);
}

#[test]
fn valid_fixtures_validate_against_the_schema() {
    let scenario_schema = scenario::schema();
    let suite_schema = scenario::schema::suite_schema();
    for path in yaml_files(Utf8Path::new(VALID)) {
        let schema = if is_suite(&path) {
            &suite_schema
        } else {
            &scenario_schema
        };
        assert_eq!(schema_errors(&path, schema), Vec::<String>::new());
    }
}

#[test]
fn suite_errors_point_into_the_suite_file_with_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    fs_err::write(
        root.join("suite.yaml"),
        "profile:\n  name: qseo\n  statuses: { reject: 70000 }\n",
    )
    .unwrap();
    fs_err::write(root.join("a.yaml"), "name: a\nsteps:\n  - name: s\n").unwrap();
    let Err(errors) = scenario::read(&[&root]) else {
        panic!("the suite is invalid")
    };
    let diagnostics = errors.diagnostics();
    let summary: Vec<(String, Option<String>)> = diagnostics
        .iter()
        .map(|d| (d.label.clone(), d.hint.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "unknown value `qseo`".to_owned(),
                Some("did you mean `qseow`?".to_owned())
            ),
            ("expected an HTTP status code (100-599)".to_owned(), None),
        ]
    );
    assert!(
        diagnostics
            .iter()
            .all(|d| d.message.starts_with("invalid suite `"))
    );
    assert_eq!(
        errors.errors.len(),
        1,
        "the suite is reported once, not per scenario"
    );
}
