//! Scenario files: the model, reading with spans, validation with did-you-mean, templates and
//! time offsets.
//!
//! [`read`] takes files and directories and returns a [`Catalog`]: every scenario with its
//! [`Suite`] and resolved [`Profile`]. Each file goes through four stages, and every problem
//! of every file is reported at once as a [`Diagnostic`] pointing at `file:line:col`:
//!
//! 1. [`yaml::parse`]: YAML (saphyr marked nodes) to `serde_json::Value` plus a span per JSON
//!    pointer;
//! 2. [`schema::validate`]: the JSON Schema generated from the model, with human messages;
//! 3. deserialization into the model ([`Scenario`], [`Suite`]), then [`Spanned`] values get
//!    their location;
//! 4. semantic checks: key names the suite defines, status codes and outcome names, regexes,
//!    JSONPaths, time values, captures used before they are captured, unknown variables.
//!
//! [`template::render`] and [`time::resolve`] are used by the runner at run time.
//!
//! This module is synchronous; it reads files and the environment, and nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

use crate::diag::{self, Diagnostic};

mod model;
mod profile;
mod read;
pub mod schema;
mod semantic;
pub mod template;
pub mod time;

pub use model::{
    Body, BodyCheck, BodyCheckKind, Capture, CaptureKind, ConformanceTarget, Connections,
    CookieCheck, Expect, GeneratedKey, Identity, KeyServerFiles, KeySpec, LoadBlock, LoadModel,
    Matrix, Placement, ProfileSpec, Property, RequestSpec, Scenario, Serialization, SessionMode,
    Spanned, Stage, StatusExpect, Step, StepDefaults, Suite, TextCheck, TokenBlock, TokenReuse,
    Vars, XrfMode, XrfSwitch, variant_label,
};
pub use profile::Profile;
pub use read::{ReadOptions, read, read_text, read_with};

/// The YAML reader of the first stage, shared with the mock's config reader: [`diag::yaml`].
pub use crate::diag::yaml;

/// The JSON Schema of a scenario file (what `jwtprobe schema` prints).
pub fn schema() -> serde_json::Value {
    schema::scenario_schema()
}

/// Every scenario read, each with its suite and profile (the runner's [`crate::runner::Plan`]
/// is built from it).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The scenarios in the order read (files sorted by name within a directory); matrix
    /// variants are not expanded (see [`Scenario::expand`] and [`Catalog::expanded`]).
    pub scenarios: Vec<SuiteScenario>,
    /// The number of files read, suites included.
    pub files: usize,
    /// The text of every file read, for rendering diagnostics later (check failures).
    pub sources: Sources,
}

impl Catalog {
    /// Every scenario with matrix variants expanded, in order.
    pub fn expanded(&self) -> Vec<SuiteScenario> {
        self.scenarios
            .iter()
            .flat_map(|p| {
                p.scenario
                    .expand()
                    .into_iter()
                    .map(|scenario| SuiteScenario {
                        scenario,
                        suite: Arc::clone(&p.suite),
                        profile: p.profile.clone(),
                    })
            })
            .collect()
    }
}

/// A scenario with what it needs from its suite.
#[derive(Debug, Clone)]
pub struct SuiteScenario {
    /// The scenario.
    pub scenario: Scenario,
    /// Its suite (a default suite when the scenario has none).
    pub suite: Arc<Suite>,
    /// The suite's profile, resolved.
    pub profile: Profile,
}

/// The text of files read, by path, to render diagnostics with their source line.
#[derive(Debug, Clone, Default)]
pub struct Sources(BTreeMap<Utf8PathBuf, String>);

impl Sources {
    /// The text of a file, if it was read.
    pub fn get(&self, path: &Utf8Path) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }

    /// Records the text of a file.
    pub fn insert(&mut self, path: Utf8PathBuf, text: String) {
        self.0.insert(path, text);
    }

    /// Renders diagnostics with the source lines of the files they point into.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        diag::render_all(diagnostics, |p| self.get(p))
    }
}

/// An error reading one scenario or suite file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioReadError {
    /// The file (or directory) could not be read.
    #[error("failed to read scenario `{path}`")]
    Read {
        /// The path.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the scenario format.
    #[error("invalid scenario `{path}`")]
    Invalid {
        /// The file.
        path: Utf8PathBuf,
        /// Every problem found in it, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

impl ScenarioReadError {
    /// The diagnostics of this error (an unreadable file gets one without a location).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Read { path, source } => {
                vec![Diagnostic::new(
                    format!("failed to read scenario `{path}`"),
                    format!("caused by: {source}"),
                )]
            }
            Self::Invalid { diagnostics, .. } => diagnostics.clone(),
        }
    }
}

/// Every error of a [`read`]: one entry per file that failed, with the sources to render them.
#[derive(Debug, thiserror::Error)]
#[error("{}", summary(.errors))]
pub struct ScenarioReadErrors {
    /// One error per failing file.
    pub errors: Vec<ScenarioReadError>,
    /// The text of every file read.
    pub sources: Sources,
}

fn summary(errors: &[ScenarioReadError]) -> String {
    let problems: usize = errors
        .iter()
        .map(|e| match e {
            ScenarioReadError::Read { .. } => 1,
            ScenarioReadError::Invalid { diagnostics, .. } => diagnostics.len().max(1),
        })
        .sum();
    let files = errors.len();
    format!(
        "invalid scenarios: {problems} {} in {files} {}",
        if problems == 1 { "problem" } else { "problems" },
        if files == 1 { "file" } else { "files" }
    )
}

impl ScenarioReadErrors {
    /// Every diagnostic of every file, in order.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.errors
            .iter()
            .flat_map(ScenarioReadError::diagnostics)
            .collect()
    }

    /// Every diagnostic rendered in the house style, with source lines.
    pub fn render(&self) -> String {
        self.sources.render(&self.diagnostics())
    }
}
