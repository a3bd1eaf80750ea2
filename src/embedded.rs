//! Files built into the binary: the emulator configs, the fixture keys they and the shipped
//! suites name, and the shipped suites themselves.
//!
//! `cargo install` copies only the binary, so everything `jwtprobe mock`, `jwtprobe run`
//! against the emulator and `jwtprobe init` need from the repository is embedded here at
//! compile time (`include_dir!`). Paths are relative to the repository root
//! (`scenarios/qlik/suite.yaml`, `fixtures/keys/qlik-signing.key.pem`), so files written out
//! with [`write_files`] keep the relative references between them (`../../fixtures/keys/…`).
//!
//! The conformance pack that `jwtprobe init` writes, with its starter profiles, is in [`pack`].
//!
//! The fixture keys are test keys, published in the repository; they are never secrets.

use camino::{Utf8Path, Utf8PathBuf};
use include_dir::{Dir, include_dir};

pub mod pack;

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
    fixtures_dir_in(&tmp)
}

/// [`fixtures_dir`] under `tmp`.
fn fixtures_dir_in(tmp: &Utf8Path) -> Result<Utf8PathBuf, WriteError> {
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
    // Several jwtprobe processes may share the folder at once (parallel CI jobs, tests): a
    // file that already holds its bytes is left alone, and a missing or damaged one is
    // written beside its place and renamed over it, so no reader ever sees half a file.
    for file in &files {
        let path = dir.join(&file.path);
        if fs_err::read(&path).is_ok_and(|bytes| bytes == file.contents) {
            continue;
        }
        let err = |path: &Utf8Path| {
            let path = path.to_owned();
            move |source| WriteError { path, source }
        };
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(err(parent))?;
        }
        let partial = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4().simple()));
        fs_err::write(&partial, file.contents).map_err(err(&partial))?;
        fs_err::rename(&partial, &path).map_err(err(&path))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_dir_repairs_a_damaged_file_and_readers_never_see_half_a_file() {
        // A private temporary folder: other tests read the shared one meanwhile.
        let tmp = tempfile::tempdir().expect("temp dir");
        let tmp = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).expect("utf-8 temp dir");
        let dir = fixtures_dir_in(&tmp).expect("written");
        let config = dir.join("fixtures/mock/qseow.yaml");
        let expected = mock_config("qseow").expect("built in").as_bytes();
        fs_err::write(&config, b"half a fi").expect("damage it");
        assert_eq!(fixtures_dir_in(&tmp).expect("written again"), dir);
        assert_eq!(fs_err::read(&config).expect("read"), expected);
        // Writers and readers at once: every read is a whole file. (The damage is put in place
        // by a rename too, so that only fixtures_dir's own writes could be seen half done.)
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let config = config.clone();
                let tmp = tmp.clone();
                std::thread::spawn(move || {
                    let damage = config.with_extension(format!("damage-{i}"));
                    for _ in 0..50 {
                        fs_err::write(&damage, b"damaged").expect("damage");
                        fs_err::rename(&damage, &config).expect("damage it");
                        fixtures_dir_in(&tmp).expect("written");
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let config = config.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let bytes = fs_err::read(&config).unwrap_or_default();
                        assert!(
                            bytes == expected || bytes == b"damaged",
                            "a reader saw {} bytes",
                            bytes.len()
                        );
                    }
                })
            })
            .collect();
        for w in workers.into_iter().chain(readers) {
            w.join().expect("no panic");
        }
        fixtures_dir_in(&tmp).expect("written");
        assert_eq!(fs_err::read(&config).expect("read"), expected);
    }

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
