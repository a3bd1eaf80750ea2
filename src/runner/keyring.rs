//! The keys a suite names, loaded once per run.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::diag::{Diagnostic, Located, source};
use crate::keys::{self, KeyBundle, KeyKind};
use crate::scenario::{GeneratedKey, KeySpec};

/// A key as the runner uses it: a file's bundle, or an HMAC secret.
#[derive(Debug, Clone)]
pub enum RingKey {
    /// A key file (or a generated key): private key, public key and/or certificate.
    Bundle(Box<KeyBundle>),
    /// An HMAC secret.
    Secret(crate::keys::HmacSecret),
}

/// The suite's keys by name.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: BTreeMap<String, RingKey>,
}

/// An error loading a suite key, before any step runs; each points at the suite's value that
/// caused it (the key's `file:`, `password_env:`, `secret:` or `generate:`), like every other
/// bad input.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// A key file could not be loaded.
    #[error("failed to load key `{name}` of suite `{suite}`")]
    Load {
        /// The key's name in the suite.
        name: String,
        /// The suite file.
        suite: Utf8PathBuf,
        /// Where the suite names the file (or the kind of key to generate).
        at: Option<Box<Located>>,
        /// The cause.
        #[source]
        source: keys::KeyError,
    },
    /// The password variable named by `password_env` is not set.
    #[error("environment variable `{var}` (the password of key `{name}`) is not set")]
    MissingPassword {
        /// The key's name.
        name: String,
        /// The variable.
        var: String,
        /// Where the suite names the variable.
        at: Option<Box<Located>>,
    },
    /// A secret's template could not be rendered.
    #[error("failed to render the secret of key `{name}`")]
    Secret {
        /// The key's name.
        name: String,
        /// Where the suite writes the secret.
        at: Option<Box<Located>>,
        /// The cause.
        #[source]
        source: crate::scenario::template::TemplateError,
    },
}

impl KeyRingError {
    /// Where the suite writes the value that caused the error.
    pub fn at(&self) -> Option<&Located> {
        match self {
            Self::Load { at, .. } | Self::MissingPassword { at, .. } | Self::Secret { at, .. } => {
                at.as_deref()
            }
        }
    }

    /// A hint for the user, when we know the likely fix.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Load { source, .. } => source.hint().map(str::to_owned),
            Self::MissingPassword { var, .. } => Some(format!("set `{var}` to the PFX password")),
            Self::Secret { .. } => None,
        }
    }

    /// The error as a diagnostic: this error's message, the caret at [`at`](Self::at) with a
    /// short label, and the hint. The causes are not repeated in it; the caller prints the
    /// chain under it.
    pub fn diagnostic(&self) -> Diagnostic {
        let label = match self {
            Self::Load {
                source: keys::KeyError::Read { .. },
                ..
            } => "cannot be read",
            Self::Load {
                source: keys::KeyError::Generate { .. },
                ..
            } => "cannot be generated",
            Self::Load { .. } => "cannot be loaded",
            Self::MissingPassword { .. } => "not set",
            Self::Secret { .. } => "cannot be rendered",
        };
        Diagnostic::new(self.to_string(), label)
            .at(self.at().cloned())
            .with_hint_opt(self.hint())
    }

    /// The place of the error rendered for the terminal ([`Diagnostic::render_location`]):
    /// `--> suite.yaml:7:11`, the suite's line and a caret under the value. The suite was read
    /// moments before the keys; its text is read again (within the reader's limits) only to
    /// show the line, and without it only the `-->` line is shown. Empty when the error has
    /// no place (a suite built in code).
    pub fn render_location(&self) -> String {
        if self.at().is_none() {
            return String::new();
        }
        let diagnostic = self.diagnostic();
        let text = diagnostic
            .file()
            .and_then(|file| source::read_text(file, source::MAX_SOURCE_BYTES).ok());
        diagnostic.render_location(text.as_deref())
    }
}

impl KeyRing {
    /// Loads every key of a suite; relative paths are relative to `base_dir` (the suite's
    /// folder). `lookup` resolves `${VAR}` in secrets.
    pub fn load(
        specs: &BTreeMap<String, KeySpec>,
        suite: &Utf8Path,
        base_dir: &Utf8Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, KeyRingError> {
        let mut keys = BTreeMap::new();
        for (name, spec) in specs {
            let key = match spec {
                KeySpec::File { file, password_env } => {
                    let password = match password_env {
                        Some(var) => Some(std::env::var(&var.value).map_err(|_| {
                            KeyRingError::MissingPassword {
                                name: name.clone(),
                                var: var.value.clone(),
                                at: var.at.clone().map(Box::new),
                            }
                        })?),
                        None => None,
                    };
                    let path = if file.value.is_absolute() {
                        file.value.clone()
                    } else {
                        base_dir.join(&file.value)
                    };
                    let bundle =
                        keys::read_key_file(&path, password.as_deref()).map_err(|source| {
                            KeyRingError::Load {
                                name: name.clone(),
                                suite: suite.to_owned(),
                                at: file.at.clone().map(Box::new),
                                source,
                            }
                        })?;
                    RingKey::Bundle(Box::new(bundle))
                }
                KeySpec::Secret { secret } => {
                    let text = crate::scenario::template::render(&secret.value, lookup).map_err(
                        |source| KeyRingError::Secret {
                            name: name.clone(),
                            at: secret.at.clone().map(Box::new),
                            source,
                        },
                    )?;
                    RingKey::Secret(keys::HmacSecret::new(text.into_bytes()))
                }
                KeySpec::Generate { generate } => {
                    let kind = match generate.value {
                        GeneratedKey::Rsa2048 => KeyKind::Rsa { bits: 2048 },
                        GeneratedKey::Ec256 => KeyKind::EcP256,
                        GeneratedKey::Ec384 => KeyKind::EcP384,
                        GeneratedKey::Ed25519 => KeyKind::Ed25519,
                    };
                    let (private, certificate) = keys::generate(kind, "jwtprobe-generated", 1)
                        .map_err(|source| KeyRingError::Load {
                            name: name.clone(),
                            suite: suite.to_owned(),
                            at: generate.at.clone().map(Box::new),
                            source,
                        })?;
                    RingKey::Bundle(Box::new(KeyBundle {
                        public: Some(private.public_key().clone()),
                        private: Some(private),
                        certificate: Some(certificate),
                        secret: None,
                        source: Utf8PathBuf::from(format!("<generated {name}>")),
                    }))
                }
            };
            keys.insert(name.clone(), key);
        }
        Ok(Self { keys })
    }

    /// The key of this name.
    pub fn get(&self, name: &str) -> Option<&RingKey> {
        self.keys.get(name)
    }

    /// The names of every key.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;

    use super::KeyRing;

    #[test]
    fn each_key_error_points_at_the_value_that_caused_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        fs_err::create_dir(root.join("folder")).unwrap();
        fs_err::write(
            root.join("suite.yaml"),
            "name: t\nkeys:\n  signing:\n    file: folder\n  hs:\n    secret: \"${UNSET}\"\n",
        )
        .unwrap();
        fs_err::write(
            root.join("s.yaml"),
            "name: s\nsteps:\n  - name: one\n    request: { path: /x }\n",
        )
        .unwrap();
        let catalog = crate::scenario::read(&[&root]).unwrap();
        let suite = &catalog.scenarios[0].suite;
        let Err(error) = KeyRing::load(&suite.keys, &suite.path, &root, &|_| None) else {
            panic!("a folder is not a key");
        };
        // `hs` sorts before `signing`: its secret names an unset variable.
        let at = error.at().unwrap();
        assert_eq!(
            (at.file.as_str(), at.span.line, at.span.col),
            (suite.path.as_str(), 6, 13)
        );
        let text = fs_err::read_to_string(root.join("suite.yaml")).unwrap();
        let rendered = error.diagnostic().render(Some(&text));
        assert!(
            rendered.contains("^^^^^^^^^^ cannot be rendered"),
            "{rendered}"
        );

        let mut keys = suite.keys.clone();
        keys.remove("hs");
        let Err(error) = KeyRing::load(&keys, &suite.path, &root, &|_| None) else {
            panic!("a folder is not a key");
        };
        let at = error.at().unwrap();
        assert_eq!((at.span.line, at.span.col), (4, 11));
        let rendered = error.diagnostic().render(Some(&text));
        assert!(
            rendered.contains("4 |     file: folder\n  |           ^^^^^^ cannot be read\n"),
            "{rendered}"
        );
    }
}
