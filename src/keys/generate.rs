//! Generating keys with self-signed certificates, and writing bundles out as PEM files.

use std::io::Write as _;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use camino::{Utf8Path, Utf8PathBuf};
use chrono::Datelike as _;

use super::{Certificate, KeyBundle, KeyError, KeyFormatError, KeyKind, PrivateKey};

/// Generates a private key of `kind` (RSA 2048/3072/4096, EC P-256/P-384, Ed25519) and a
/// self-signed certificate for it with common name `cn`, valid from today for `days` days.
///
/// The certificate's PEM ([`Certificate::pem`]) is what goes into the QMC "JWT certificate"
/// field of a Qlik virtual proxy.
///
/// # Errors
/// [`KeyError::Generate`] when the size is unsupported or the certificate cannot be made.
pub fn generate(kind: KeyKind, cn: &str, days: u32) -> Result<(PrivateKey, Certificate), KeyError> {
    let fail = |msg: String| KeyError::Generate {
        kind,
        cause: KeyFormatError::InvalidKey(msg),
    };
    let pkcs8 = match kind {
        KeyKind::Rsa { bits } => {
            let size = match bits {
                2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
                other => {
                    return Err(fail(format!(
                        "unsupported RSA size {other} (expected 2048, 3072 or 4096)"
                    )));
                }
            };
            let key = aws_lc_rs::rsa::KeyPair::generate(size)
                .map_err(|_| fail("RSA key generation failed".to_owned()))?;
            AsDer::<Pkcs8V1Der<'static>>::as_der(&key).map(|d| d.as_ref().to_vec())
        }
        KeyKind::EcP256 | KeyKind::EcP384 => {
            let alg = if kind == KeyKind::EcP256 {
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING
            };
            EcdsaKeyPair::generate(alg)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec())
        }
        KeyKind::Ed25519 => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
    }
    .map_err(|_| fail("key generation failed".to_owned()))?;

    let private = PrivateKey::from_pkcs8_der(&pkcs8).map_err(&fail)?;
    let rc_key = rcgen::KeyPair::try_from(pkcs8.as_slice())
        .map_err(|e| fail(format!("rcgen rejected the key: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, cn);
    params.distinguished_name = dn;
    let today = chrono::Utc::now().date_naive();
    let end = today
        .checked_add_days(chrono::Days::new(u64::from(days)))
        .ok_or_else(|| fail(format!("{days} days is too long a validity")))?;
    let ymd = |d: chrono::NaiveDate| {
        // Month and day always fit in a u8.
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    params.not_before = ymd(today);
    params.not_after = ymd(end);
    let cert = params
        .self_signed(&rc_key)
        .map_err(|e| fail(format!("failed to sign the certificate: {e}")))?;
    let certificate = Certificate::from_der(cert.der()).map_err(&fail)?;
    Ok((private, certificate))
}

/// The files [`write_bundle`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenFiles {
    /// `<stem>.key.pem`: the private key as PKCS#8 PEM, mode 0600 on Unix.
    pub private: Option<Utf8PathBuf>,
    /// `<stem>.cert.pem`: the certificate PEM (paste into the QMC).
    pub certificate: Option<Utf8PathBuf>,
    /// `<stem>.pub.pem`: the public key as SPKI PEM.
    pub public: Option<Utf8PathBuf>,
}

/// Writes what `bundle` holds into `dir` as PEM files named after the bundle's source
/// (`QlikClient.pfx` → `QlikClient.key.pem`, `QlikClient.cert.pem`, `QlikClient.pub.pem`).
///
/// The private key file is created with mode 0600 on Unix. Existing files are never
/// overwritten: that is an error.
///
/// # Errors
/// [`KeyError::Write`] naming the file that could not be written.
pub fn write_bundle(bundle: &KeyBundle, dir: &Utf8Path) -> Result<WrittenFiles, KeyError> {
    let stem = bundle.source.file_stem().unwrap_or("key");
    let mut written = WrittenFiles::default();
    if let Some(private) = &bundle.private {
        let path = dir.join(format!("{stem}.key.pem"));
        let pem = private.to_pkcs8_pem().map_err(|e| KeyError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_new(&path, pem.as_bytes(), true)?;
        written.private = Some(path);
    }
    if let Some(cert) = &bundle.certificate {
        let path = dir.join(format!("{stem}.cert.pem"));
        write_new(&path, cert.pem().as_bytes(), false)?;
        written.certificate = Some(path);
    }
    if let Some(public) = &bundle.public {
        let path = dir.join(format!("{stem}.pub.pem"));
        write_new(&path, public.to_spki_pem().as_bytes(), false)?;
        written.public = Some(path);
    }
    Ok(written)
}

fn write_new(path: &Utf8Path, contents: &[u8], secret: bool) -> Result<(), KeyError> {
    let err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(err)?;
    file.write_all(contents).map_err(err)?;
    Ok(())
}
