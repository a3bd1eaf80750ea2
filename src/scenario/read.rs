//! Finding and reading scenario and suite files.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;

use super::schema::{self, FileKind};
use super::{
    Catalog, Profile, Scenario, ScenarioReadError, ScenarioReadErrors, Sources, Suite,
    SuiteScenario, semantic,
};
use crate::diag::schema::FileText;
use crate::diag::source::{self, SourceError};
use crate::diag::yaml::SpanMap;
use crate::diag::{self, Diagnostic, Located};

/// Options of [`read_with`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Variables given on the command line (`--var k=v`); they count as defined.
    pub vars: BTreeMap<String, String>,
    /// Report `${VAR}` without a default that no source defines (environment, `--var`, suite
    /// or scenario `vars`, matrix, captures). On by default.
    pub check_variables: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            vars: BTreeMap::new(),
            check_variables: true,
        }
    }
}

/// Reads scenarios from files and directories with the default options.
///
/// In a directory (searched recursively, entries sorted by name, hidden ones skipped),
/// `suite.yaml` (or `suite.yml`) is a suite and every other `*.yaml`/`*.yml` a scenario. A
/// scenario uses the suite it names (`suite: ../suite.yaml`, relative to itself) or else the
/// `suite.yaml` next to it, if any.
pub fn read<P: AsRef<Utf8Path>>(paths: &[P]) -> Result<Catalog, ScenarioReadErrors> {
    read_with(paths, &ReadOptions::default())
}

/// Reads scenarios from files and directories; see [`read`].
pub fn read_with<P: AsRef<Utf8Path>>(
    paths: &[P],
    options: &ReadOptions,
) -> Result<Catalog, ScenarioReadErrors> {
    let mut reader = Reader {
        options,
        sources: Sources::default(),
        errors: Vec::new(),
        suites: HashMap::new(),
        files: 0,
        given: None,
    };
    let mut files = Vec::new();
    for path in paths {
        reader.collect(path.as_ref(), &mut files);
    }
    reader.finish(files)
}

/// Reads one scenario from `text` as if it were the file `path` (its suite, if it names one or
/// has a `suite.yaml` beside it, is read from disk). For tests and fuzzing: every check of
/// [`read`] applies, nothing of `path` itself is read.
pub fn read_text(
    path: &Utf8Path,
    text: &str,
    options: &ReadOptions,
) -> Result<Catalog, ScenarioReadErrors> {
    let reader = Reader {
        options,
        sources: Sources::default(),
        errors: Vec::new(),
        suites: HashMap::new(),
        files: 0,
        given: Some((path.to_owned(), text.to_owned())),
    };
    let kind = if is_suite(path) {
        FileKind::Suite
    } else {
        FileKind::Scenario
    };
    reader.finish(vec![(path.to_owned(), kind)])
}

impl Reader<'_> {
    /// Reads every collected file; the plan or every error.
    fn finish(
        mut self,
        files: Vec<(Utf8PathBuf, FileKind)>,
    ) -> Result<Catalog, ScenarioReadErrors> {
        let reader = &mut self;
        let mut scenarios = Vec::new();
        for (path, kind) in files {
            match kind {
                FileKind::Suite => {
                    reader.suite(&path);
                }
                FileKind::Scenario => {
                    if let Some(planned) = reader.scenario(&path) {
                        scenarios.push(planned);
                    }
                }
            }
        }
        if self.errors.is_empty() {
            Ok(Catalog {
                scenarios,
                files: self.files,
                sources: self.sources,
            })
        } else {
            Err(ScenarioReadErrors {
                errors: self.errors,
                sources: self.sources,
            })
        }
    }
}

struct Reader<'a> {
    options: &'a ReadOptions,
    sources: Sources,
    errors: Vec<ScenarioReadError>,
    /// Suites read so far; `None` when the suite is invalid (its errors are already recorded).
    suites: HashMap<Utf8PathBuf, Option<Arc<Suite>>>,
    files: usize,
    /// A file's text given instead of read ([`read_text`]).
    given: Option<(Utf8PathBuf, String)>,
}

fn is_yaml(path: &Utf8Path) -> bool {
    matches!(path.extension(), Some("yaml" | "yml"))
}

fn is_suite(path: &Utf8Path) -> bool {
    matches!(path.file_name(), Some("suite.yaml" | "suite.yml"))
}

/// Removes `.` and `dir/..` from a path without touching the file system.
fn normalize(path: &Utf8Path) -> Utf8PathBuf {
    let mut out: Vec<camino::Utf8Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            camino::Utf8Component::CurDir => {}
            camino::Utf8Component::ParentDir
                if matches!(out.last(), Some(camino::Utf8Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        Utf8PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

impl Reader<'_> {
    fn collect(&mut self, path: &Utf8Path, files: &mut Vec<(Utf8PathBuf, FileKind)>) {
        let meta = match fs_err::metadata(path) {
            Ok(m) => m,
            Err(source) => {
                self.errors.push(ScenarioReadError::Read {
                    path: path.to_owned(),
                    source,
                });
                return;
            }
        };
        if !meta.is_dir() {
            let kind = if is_suite(path) {
                FileKind::Suite
            } else {
                FileKind::Scenario
            };
            files.push((path.to_owned(), kind));
            return;
        }
        let entries = match fs_err::read_dir(path) {
            Ok(entries) => entries,
            Err(source) => {
                self.errors.push(ScenarioReadError::Read {
                    path: path.to_owned(),
                    source,
                });
                return;
            }
        };
        let mut children: Vec<(Utf8PathBuf, bool)> = Vec::new();
        for entry in entries.flatten() {
            let Ok(child) = Utf8PathBuf::from_path_buf(entry.path()) else {
                continue;
            };
            if child.file_name().is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            children.push((child, is_dir));
        }
        children.sort();
        for (child, is_dir) in children {
            if is_dir {
                self.collect(&child, files);
            } else if is_yaml(&child) {
                let kind = if is_suite(&child) {
                    FileKind::Suite
                } else {
                    FileKind::Scenario
                };
                files.push((child, kind));
            }
        }
    }

    /// Reads, parses and schema-checks a file; records its text.
    fn load(
        &mut self,
        path: &Utf8Path,
        kind: FileKind,
    ) -> Result<(Value, SpanMap), ScenarioReadError> {
        let headline = headline(path, kind);
        let given = match &self.given {
            Some((p, text)) if p == path => Some(text.clone()),
            _ => None,
        };
        let read = given.map_or_else(|| source::read_text(path, source::MAX_SOURCE_BYTES), Ok);
        let text = match read {
            Ok(text) => text,
            Err(SourceError::Io { source, .. }) => {
                return Err(ScenarioReadError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
            Err(e) => {
                let d = Diagnostic::new(headline, e.label())
                    .at(Some(Located::new(path, e.span())))
                    .with_hint_opt(source_hint(&e));
                if let SourceError::NotUtf8 { lossy, .. } = e {
                    self.sources.insert(path.to_owned(), lossy);
                }
                return Err(invalid(path, vec![d]));
            }
        };
        self.files += 1;
        self.sources.insert(path.to_owned(), text);
        let file = FileText {
            path,
            text: self.sources.get(path).unwrap_or_default(),
            headline: &headline,
            empty_hint: Some("a scenario needs at least `name` and `steps`"),
        };
        let (value, spans) = diag::schema::parse_validated(&file, schema::checker(kind))
            .map_err(|diagnostics| invalid(path, diagnostics))?;
        Ok((value, spans))
    }

    /// Reads a suite once; `None` when it is invalid (its errors are recorded once).
    fn suite(&mut self, path: &Utf8Path) -> Option<Arc<Suite>> {
        let path = normalize(path);
        if let Some(cached) = self.suites.get(&path) {
            return cached.clone();
        }
        let result = self.read_suite(&path);
        let suite = match result {
            Ok(suite) => Some(Arc::new(suite)),
            Err(e) => {
                self.errors.push(e);
                None
            }
        };
        self.suites.insert(path, suite.clone());
        suite
    }

    fn read_suite(&mut self, path: &Utf8Path) -> Result<Suite, ScenarioReadError> {
        let (value, spans) = self.load(path, FileKind::Suite)?;
        let mut suite: Suite = deserialize(path, FileKind::Suite, &value, &spans)?;
        suite.path = path.to_owned();
        if suite.name.is_empty() {
            suite.name = path
                .parent()
                .and_then(Utf8Path::file_name)
                .unwrap_or("suite")
                .to_owned();
        }
        let diagnostics =
            semantic::check_suite(&mut suite, &spans, &headline(path, FileKind::Suite));
        if diagnostics.is_empty() {
            Ok(suite)
        } else {
            Err(invalid(path, diagnostics))
        }
    }

    fn scenario(&mut self, path: &Utf8Path) -> Option<SuiteScenario> {
        let (value, spans) = match self.load(path, FileKind::Scenario) {
            Ok(v) => v,
            Err(e) => {
                self.errors.push(e);
                return None;
            }
        };
        let dir = path.parent().unwrap_or(Utf8Path::new(""));
        let suite_path = match value.get("suite").and_then(Value::as_str) {
            Some(named) => Some(dir.join(named)),
            None => ["suite.yaml", "suite.yml"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file()),
        };
        let headline = headline(path, FileKind::Scenario);
        let suite = match &suite_path {
            Some(sp) if !sp.is_file() => {
                let span = spans.value("/suite").unwrap_or_default();
                let d = Diagnostic::new(headline, format!("suite file `{sp}` does not exist"))
                    .at(Some(Located::new(path, span)));
                self.errors.push(invalid(path, vec![d]));
                return None;
            }
            Some(sp) => Some(self.suite(sp)?),
            None => None,
        };
        let mut scenario: Scenario = match deserialize(path, FileKind::Scenario, &value, &spans) {
            Ok(s) => s,
            Err(e) => {
                self.errors.push(e);
                return None;
            }
        };
        scenario.path = path.to_owned();
        let suite = suite.unwrap_or_else(|| {
            Arc::new(Suite {
                path: dir.join("suite.yaml"),
                name: String::new(),
                ..Suite::default()
            })
        });
        let profile: Profile = suite.profile.resolve();
        let context = semantic::Context {
            file: path,
            headline: &headline,
            spans: &spans,
            source: self.sources.get(path).unwrap_or_default(),
            document: &value,
            suite: &suite,
            has_suite_file: suite_path.is_some(),
            profile: &profile,
            options: self.options,
        };
        let diagnostics = semantic::check_scenario(&mut scenario, &context);
        if !diagnostics.is_empty() {
            self.errors.push(invalid(path, diagnostics));
            return None;
        }
        Some(SuiteScenario {
            scenario,
            suite,
            profile,
        })
    }
}

fn headline(path: &Utf8Path, kind: FileKind) -> String {
    match kind {
        FileKind::Scenario => format!("invalid scenario `{path}`"),
        FileKind::Suite => format!("invalid suite `{path}`"),
    }
}

/// An invalid file, its diagnostics sorted in file order.
fn invalid(path: &Utf8Path, mut diagnostics: Vec<Diagnostic>) -> ScenarioReadError {
    diag::schema::sort(&mut diagnostics);
    ScenarioReadError::Invalid {
        path: path.to_owned(),
        diagnostics,
    }
}

/// A hint for a file that could not be read as text.
fn source_hint(e: &SourceError) -> Option<String> {
    match e {
        SourceError::NotRegular { .. } => {
            Some("scenario files must be regular files; remove or rename it".to_owned())
        }
        SourceError::TooLarge { .. } => {
            Some("split the file; scenarios are usually a few KiB".to_owned())
        }
        SourceError::NotUtf8 { .. } => Some("save the file as UTF-8".to_owned()),
        SourceError::Io { .. } => None,
    }
}

/// A value the schema let through but the model refused, at the value it names.
fn deserialize<T: serde::de::DeserializeOwned>(
    path: &Utf8Path,
    kind: FileKind,
    value: &Value,
    spans: &SpanMap,
) -> Result<T, ScenarioReadError> {
    let headline = headline(path, kind);
    let file = FileText {
        path,
        text: "",
        headline: &headline,
        empty_hint: None,
    };
    diag::schema::deserialize(&file, value, spans).map_err(|d| invalid(path, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_parent_components() {
        assert_eq!(
            normalize(Utf8Path::new("a/b/../suite.yaml")),
            Utf8PathBuf::from("a/suite.yaml")
        );
        assert_eq!(
            normalize(Utf8Path::new("./a/./b")),
            Utf8PathBuf::from("a/b")
        );
        assert_eq!(normalize(Utf8Path::new("../x")), Utf8PathBuf::from("../x"));
    }
}
