//! The keys a suite names, loaded once per run.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

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

/// An error loading a suite key.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// A key file could not be loaded.
    #[error("failed to load key `{name}` of suite `{suite}`")]
    Load {
        /// The key's name in the suite.
        name: String,
        /// The suite file.
        suite: Utf8PathBuf,
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
    },
    /// A secret's template could not be rendered.
    #[error("failed to render the secret of key `{name}`")]
    Secret {
        /// The key's name.
        name: String,
        /// The cause.
        #[source]
        source: crate::scenario::template::TemplateError,
    },
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
            let key =
                match spec {
                    KeySpec::File { file, password_env } => {
                        let password = match password_env {
                            Some(var) => Some(std::env::var(var).map_err(|_| {
                                KeyRingError::MissingPassword {
                                    name: name.clone(),
                                    var: var.clone(),
                                }
                            })?),
                            None => None,
                        };
                        let path = if file.is_absolute() {
                            file.clone()
                        } else {
                            base_dir.join(file)
                        };
                        let bundle =
                            keys::read_key_file(&path, password.as_deref()).map_err(|source| {
                                KeyRingError::Load {
                                    name: name.clone(),
                                    suite: suite.to_owned(),
                                    source,
                                }
                            })?;
                        RingKey::Bundle(Box::new(bundle))
                    }
                    KeySpec::Secret { secret } => {
                        let text = crate::scenario::template::render(secret, lookup).map_err(
                            |source| KeyRingError::Secret {
                                name: name.clone(),
                                source,
                            },
                        )?;
                        RingKey::Secret(keys::HmacSecret::new(text.into_bytes()))
                    }
                    KeySpec::Generate { generate } => {
                        let kind = match generate {
                            GeneratedKey::Rsa2048 => KeyKind::Rsa { bits: 2048 },
                            GeneratedKey::Ec256 => KeyKind::EcP256,
                            GeneratedKey::Ec384 => KeyKind::EcP384,
                            GeneratedKey::Ed25519 => KeyKind::Ed25519,
                        };
                        let (private, certificate) = keys::generate(kind, "jwtprobe-generated", 1)
                            .map_err(|source| KeyRingError::Load {
                                name: name.clone(),
                                suite: suite.to_owned(),
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
