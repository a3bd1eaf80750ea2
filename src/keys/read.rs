//! Reading key files: format detection, PEM, DER, PFX/PKCS#12 and JWK.

use camino::Utf8Path;

use super::jwk::{self, JwkKey};
use super::{Certificate, KeyBundle, KeyError, KeyFormatError, PrivateKey, PublicKey};

/// What one file yielded, before the public key is chosen.
#[derive(Default)]
struct Found {
    private: Option<PrivateKey>,
    public: Option<PublicKey>,
    certificate: Option<Certificate>,
    secret: Option<super::HmacSecret>,
}

impl Found {
    fn into_bundle(self, path: &Utf8Path) -> KeyBundle {
        let public = self
            .public
            .or_else(|| self.certificate.as_ref().map(|c| c.public_key().clone()))
            .or_else(|| self.private.as_ref().map(|k| k.public_key().clone()));
        KeyBundle {
            private: self.private,
            public,
            certificate: self.certificate,
            secret: self.secret,
            source: path.to_owned(),
        }
    }

    fn is_empty(&self) -> bool {
        self.private.is_none()
            && self.public.is_none()
            && self.certificate.is_none()
            && self.secret.is_none()
    }
}

/// The largest key file read (1 MiB); PEM, DER, PFX and JWK files are a few KiB.
pub(crate) const MAX_KEY_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a regular file of at most [`MAX_KEY_FILE_BYTES`]: `/dev/zero`, a FIFO or a huge file
/// is refused before it is read.
fn read_bounded(path: &Utf8Path) -> Result<Vec<u8>, KeyError> {
    crate::diag::source::read_bytes(path, MAX_KEY_FILE_BYTES).map_err(|e| KeyError::Read {
        path: path.to_owned(),
        source: match e {
            crate::diag::source::SourceError::Io { source, .. } => source,
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.label()),
        },
    })
}

/// Reads a key file, detecting its format: PEM (PKCS#1, PKCS#8, SEC1, SPKI, PKCS#1 public,
/// X.509, several blocks in one file), DER (the same structures), PFX/PKCS#12, or JWK.
///
/// `password` unlocks a PFX; a PFX read without one is tried with the empty password.
///
/// # Errors
/// [`KeyError::Read`] when the file cannot be read, [`KeyError::Load`] naming the file and the
/// cause when its content is not a usable key.
pub fn read_key_file(path: &Utf8Path, password: Option<&str>) -> Result<KeyBundle, KeyError> {
    let bytes = read_bounded(path)?;
    let load = |cause| KeyError::Load {
        path: path.to_owned(),
        cause,
    };
    let is_pfx_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"));
    if is_pfx_name {
        return parse_pfx(&bytes, password)
            .map(|f| f.into_bundle(path))
            .map_err(load);
    }
    parse_any(&bytes, password)
        .map(|f| f.into_bundle(path))
        .map_err(load)
}

/// Reads a PFX/PKCS#12 file (Windows certificate export) with its password.
///
/// # Errors
/// As [`read_key_file`]; a wrong password is [`KeyFormatError::PfxMac`].
pub fn read_pfx(path: &Utf8Path, password: Option<&str>) -> Result<KeyBundle, KeyError> {
    let bytes = read_bounded(path)?;
    parse_pfx(&bytes, password)
        .map(|f| f.into_bundle(path))
        .map_err(|cause| KeyError::Load {
            path: path.to_owned(),
            cause,
        })
}

fn parse_any(bytes: &[u8], password: Option<&str>) -> Result<Found, KeyFormatError> {
    let text = std::str::from_utf8(bytes).ok();
    if let Some(text) = text {
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('{') {
            return match jwk::parse(trimmed)? {
                JwkKey::Private(k) => Ok(Found {
                    private: Some(k),
                    ..Found::default()
                }),
                JwkKey::Public(k) => Ok(Found {
                    public: Some(k),
                    ..Found::default()
                }),
                JwkKey::Secret(s) => Ok(Found {
                    secret: Some(s),
                    ..Found::default()
                }),
            };
        }
        if text.contains("-----BEGIN ") {
            return parse_pem(text);
        }
    }
    if bytes.first() == Some(&0x30) {
        if let Some(found) = parse_der(bytes) {
            return Ok(found);
        }
        return match parse_pfx(bytes, password) {
            Ok(found) => Ok(found),
            Err(KeyFormatError::Pfx(_)) => Err(KeyFormatError::UnknownFormat),
            Err(other) => Err(other),
        };
    }
    Err(KeyFormatError::UnknownFormat)
}

/// Tries every DER structure we know; `None` when none fits.
fn parse_der(der: &[u8]) -> Option<Found> {
    if let Ok(c) = Certificate::from_der(der) {
        return Some(Found {
            certificate: Some(c),
            ..Found::default()
        });
    }
    if let Ok(k) = PrivateKey::from_pkcs8_der(der)
        .or_else(|_| PrivateKey::from_pkcs1_der(der))
        .or_else(|_| PrivateKey::from_sec1_der(der))
    {
        return Some(Found {
            private: Some(k),
            ..Found::default()
        });
    }
    if let Ok(k) = PublicKey::from_spki_der(der).or_else(|_| PublicKey::from_pkcs1_der(der)) {
        return Some(Found {
            public: Some(k),
            ..Found::default()
        });
    }
    None
}

fn parse_pem(text: &str) -> Result<Found, KeyFormatError> {
    let blocks = pem::parse_many(text).map_err(|e| KeyFormatError::Pem(e.to_string()))?;
    let mut found = Found::default();
    let mut skipped = None;
    for block in &blocks {
        let der = block.contents();
        let invalid =
            |e: String| KeyFormatError::InvalidKey(format!("in PEM block `{}`: {e}", block.tag()));
        let encrypted = block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"));
        match block.tag() {
            "ENCRYPTED PRIVATE KEY" => return Err(KeyFormatError::EncryptedPem),
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" if encrypted => {
                return Err(KeyFormatError::EncryptedPem);
            }
            "PRIVATE KEY" if found.private.is_none() => {
                found.private = Some(PrivateKey::from_pkcs8_der(der).map_err(invalid)?);
            }
            "RSA PRIVATE KEY" if found.private.is_none() => {
                found.private = Some(PrivateKey::from_pkcs1_der(der).map_err(invalid)?);
            }
            "EC PRIVATE KEY" if found.private.is_none() => {
                found.private = Some(PrivateKey::from_sec1_der(der).map_err(invalid)?);
            }
            "PUBLIC KEY" if found.public.is_none() => {
                found.public = Some(PublicKey::from_spki_der(der).map_err(invalid)?);
            }
            "RSA PUBLIC KEY" if found.public.is_none() => {
                found.public = Some(PublicKey::from_pkcs1_der(der).map_err(invalid)?);
            }
            // The first certificate is the leaf; the rest of a chain is not needed to verify.
            "CERTIFICATE" | "TRUSTED CERTIFICATE" if found.certificate.is_none() => {
                found.certificate = Some(Certificate::from_der(der).map_err(invalid)?);
            }
            "PRIVATE KEY"
            | "RSA PRIVATE KEY"
            | "EC PRIVATE KEY"
            | "PUBLIC KEY"
            | "RSA PUBLIC KEY"
            | "CERTIFICATE"
            | "TRUSTED CERTIFICATE"
            | "EC PARAMETERS" => {}
            other => skipped = Some(other.to_owned()),
        }
    }
    if found.is_empty() {
        return Err(match skipped {
            Some(tag) => KeyFormatError::UnsupportedPemBlock(tag),
            None => KeyFormatError::UnknownFormat,
        });
    }
    Ok(found)
}

fn parse_pfx(bytes: &[u8], password: Option<&str>) -> Result<Found, KeyFormatError> {
    use p12_keystore::error::Error as P12Error;
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password.unwrap_or("")).map_err(
        |e| match e {
            P12Error::MacError(_) => KeyFormatError::PfxMac {
                password_given: password.is_some(),
            },
            other => KeyFormatError::Pfx(other.to_string()),
        },
    )?;
    let mut found = Found::default();
    if let Some(bag) = archive.keys.first() {
        found.private = Some(
            PrivateKey::from_pkcs8_der(bag.key.as_der())
                .map_err(|e| KeyFormatError::InvalidKey(format!("in the PFX: {e}")))?,
        );
    }
    // Prefer the certificate that belongs to the key (same local key id), else the first one.
    let key_id = archive.keys.first().and_then(|k| k.local_key_id.clone());
    let leaf = archive
        .certs
        .iter()
        .find(|c| {
            key_id
                .as_ref()
                .is_some_and(|id| c.local_key_id.as_deref() == Some(id.0.as_slice()))
        })
        .or_else(|| archive.certs.first());
    if let Some(bag) = leaf {
        found.certificate = Some(
            Certificate::from_der(bag.cert.as_der())
                .map_err(|e| KeyFormatError::InvalidKey(format!("in the PFX: {e}")))?,
        );
    }
    if found.is_empty() {
        return Err(KeyFormatError::Pfx(
            "it holds no key and no certificate".to_owned(),
        ));
    }
    Ok(found)
}
