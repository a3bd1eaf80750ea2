//! Files built into the binary: the emulator configs, the fixture keys they and the shipped
//! suites name, and the shipped suites themselves.
//!
//! `cargo install` copies only the binary, so everything `jwtprobe mock`, `jwtprobe run`
//! against the emulator and `jwtprobe init` need from the repository is embedded here at
//! compile time (`include_dir!`). Paths are relative to the repository root
//! (`scenarios/qlik/suite.yaml`, `fixtures/keys/qlik-signing.key.pem`), so files written out
//! with [`write_files`] keep the relative references between them (`../../fixtures/keys/…`).
//!
//! The fixture keys are test keys, published in the repository; they are never secrets.

use camino::{Utf8Path, Utf8PathBuf};
use include_dir::{Dir, include_dir};

static MOCK: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/mock");
static KEYS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/keys");
static SCENARIOS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scenarios");

/// The emulator configs built in, by name (`fixtures/mock/<name>.yaml`).
pub const MOCK_PROFILES: [&str; 5] = [
    "qseow",
    "qseow-pre2024",
    "qseow-load",
    "qlik-cloud",
    "rfc6750",
];

/// One embedded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedFile {
    /// The path relative to the repository root, with `/` separators.
    pub path: String,
    /// The file's bytes.
    pub contents: &'static [u8],
}

fn files_of(dir: &'static Dir<'static>, root: &str, out: &mut Vec<EmbeddedFile>) {
    for file in dir.files() {
        if let Some(rel) = file.path().to_str() {
            out.push(EmbeddedFile {
                path: format!("{root}/{rel}"),
                contents: file.contents(),
            });
        }
    }
    for sub in dir.dirs() {
        files_of(sub, root, out);
    }
}

/// The names of the shipped suites (`qlik`, `qlik-cloud`, `load`), sorted.
pub fn suites() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = SCENARIOS.dirs().filter_map(|d| d.path().to_str()).collect();
    names.sort_unstable();
    names
}

/// The files of a shipped suite (`scenarios/<name>/…`), or `None` when there is no such suite.
/// The suite's keys live under `fixtures/keys/`: write [`fixture_keys`] beside it.
pub fn suite(name: &str) -> Option<Vec<EmbeddedFile>> {
    let dir = SCENARIOS.get_dir(name)?;
    let mut out = Vec::new();
    files_of(dir, "scenarios", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Some(out)
}

/// The fixture keys and certificates (`fixtures/keys/…`) that suites and emulator configs name.
pub fn fixture_keys() -> Vec<EmbeddedFile> {
    let mut out = Vec::new();
    files_of(&KEYS, "fixtures/keys", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The emulator configs (`fixtures/mock/…`).
pub fn mock_configs() -> Vec<EmbeddedFile> {
    let mut out = Vec::new();
    files_of(&MOCK, "fixtures/mock", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The text of a built-in emulator config (`qseow`, `qlik-cloud`, …).
pub fn mock_config(name: &str) -> Option<&'static str> {
    MOCK.get_file(format!("{name}.yaml"))?.contents_utf8()
}

/// An error writing embedded files out.
#[derive(Debug, thiserror::Error)]
#[error("failed to write `{path}`")]
pub struct WriteError {
    /// The file or folder.
    pub path: Utf8PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Writes `files` under `dest`, creating folders. Existing files are kept unless `overwrite`;
/// returns the paths written.
pub fn write_files(
    dest: &Utf8Path,
    files: &[EmbeddedFile],
    overwrite: bool,
) -> Result<Vec<Utf8PathBuf>, WriteError> {
    let mut written = Vec::new();
    for file in files {
        let path = dest.join(&file.path);
        if !overwrite && path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|source| WriteError {
                path: parent.to_owned(),
                source,
            })?;
        }
        fs_err::write(&path, file.contents).map_err(|source| WriteError {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// A folder holding the built-in emulator configs and fixture keys (`fixtures/mock`,
/// `fixtures/keys`), written once per version and process user under the temporary folder,
/// so the emulator can read them like files (configs name their certificates by path).
pub fn fixtures_dir() -> Result<Utf8PathBuf, WriteError> {
    let tmp = std::env::temp_dir();
    let tmp = Utf8PathBuf::from_path_buf(tmp).unwrap_or_else(|_| Utf8PathBuf::from("."));
    let mut files = mock_configs();
    files.extend(fixture_keys());
    // A fingerprint of the contents names the folder, so a rebuilt binary with changed
    // fixtures never reads an older copy.
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for f in &files {
        digest.update(f.path.as_bytes());
        digest.update(f.contents);
    }
    let hash: String = digest.finish().as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = tmp.join(format!("jwtprobe-{}-{hash}", env!("CARGO_PKG_VERSION")));
    // Rewriting identical bytes is harmless and repairs a partly written folder.
    write_files(&dir, &files, true)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_suites_are_embedded_with_their_suite_file() {
        let names = suites();
        for name in ["qlik", "qlik-cloud", "load"] {
            assert!(names.contains(&name), "{names:?}");
            let files = suite(name).unwrap();
            assert!(
                files
                    .iter()
                    .any(|f| f.path == format!("scenarios/{name}/suite.yaml")),
                "{files:?}"
            );
        }
        assert!(suite("nope").is_none());
    }

    #[test]
    fn every_mock_profile_has_a_config() {
        for name in MOCK_PROFILES {
            assert!(mock_config(name).is_some(), "{name}");
        }
    }

    #[test]
    fn write_files_keeps_existing_files_unless_told() {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("jwtprobe-embedded-{}", uuid::Uuid::new_v4()));
        let files = suite("load").unwrap();
        let first = write_files(&dir, &files, false).unwrap();
        assert_eq!(first.len(), files.len());
        assert!(write_files(&dir, &files, false).unwrap().is_empty());
        fs_err::remove_dir_all(&dir).unwrap();
    }
}
