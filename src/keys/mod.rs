//! Load, generate and write the keys that sign and verify tokens.
//!
//! [`read_key_file`] reads a key file in any of the forms a Qlik administrator meets (PEM in its
//! PKCS#1, PKCS#8, SEC1, SPKI and X.509 forms, several blocks in one file, DER, PFX/PKCS#12 as
//! Windows exports it, and JWK) into a [`KeyBundle`]: a [`PrivateKey`], a [`PublicKey`] and a
//! [`Certificate`], whichever the file holds. [`generate`] makes a fresh key and a self-signed
//! certificate ready to paste into the QMC "JWT certificate" field, and [`write_bundle`] writes a
//! bundle out as PEM files.
//!
//! Keys are parsed once, with aws-lc-rs, and are cheap to clone (they share their parsed form),
//! so the [`token`](crate::token) module can sign and verify on its hot path without parsing
//! again. Debug output of a key never shows key material.
//!
//! This module is synchronous; it reads and writes files but does no network I/O.

mod der;
mod generate;
mod jwk;
mod read;

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, VerificationAlgorithm,
};
use camino::Utf8PathBuf;

use crate::jose::Alg;

pub use generate::{WrittenFiles, generate, write_bundle};
pub use read::{read_key_file, read_pfx};

/// The public key of a JWK, or of the first key of a JWK Set (what a `jku` URL serves);
/// `None` when the text holds no RSA, EC or OKP key.
#[must_use]
pub fn public_key_from_jwk(text: &str) -> Option<PublicKey> {
    match jwk::parse(text).ok()? {
        jwk::JwkKey::Public(public) => Some(public),
        jwk::JwkKey::Private(private) => Some(private.public_key().clone()),
        jwk::JwkKey::Secret(_) => None,
    }
}

/// The kind of an asymmetric key: its algorithm family and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// An RSA key.
    Rsa {
        /// Modulus length in bits (2048, 3072, 4096, …).
        bits: usize,
    },
    /// An ECDSA key on NIST P-256 (signs ES256).
    EcP256,
    /// An ECDSA key on NIST P-384 (signs ES384).
    EcP384,
    /// An Ed25519 key (signs EdDSA).
    Ed25519,
}

impl KeyKind {
    /// The signature algorithms a key of this kind can compute (key-pair algorithms only).
    #[must_use]
    pub fn algorithms(self) -> &'static [Alg] {
        match self {
            Self::Rsa { .. } => &[
                Alg::RS256,
                Alg::RS384,
                Alg::RS512,
                Alg::PS256,
                Alg::PS384,
                Alg::PS512,
            ],
            Self::EcP256 => &[Alg::ES256],
            Self::EcP384 => &[Alg::ES384],
            Self::Ed25519 => &[Alg::EdDSA],
        }
    }
}

impl KeyKind {
    /// The algorithm a key of this kind signs with when none is named: RS256 for RSA, ES256,
    /// ES384, EdDSA.
    #[must_use]
    pub fn default_alg(self) -> Alg {
        match self {
            Self::Rsa { .. } => Alg::RS256,
            Self::EcP256 => Alg::ES256,
            Self::EcP384 => Alg::ES384,
            Self::Ed25519 => Alg::EdDSA,
        }
    }

    /// The kind of key that computes `alg` (`rsa_bits` sets the RSA modulus length); `None`
    /// for HMAC and `none`, which need no key pair.
    #[must_use]
    pub fn for_alg(alg: Alg, rsa_bits: usize) -> Option<Self> {
        match alg {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                Some(Self::Rsa { bits: rsa_bits })
            }
            Alg::ES256 => Some(Self::EcP256),
            Alg::ES384 => Some(Self::EcP384),
            Alg::EdDSA => Some(Self::Ed25519),
            Alg::HS256 | Alg::HS384 | Alg::HS512 | Alg::None => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA {bits}-bit"),
            Self::EcP256 => f.write_str("EC P-256"),
            Self::EcP384 => f.write_str("EC P-384"),
            Self::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// The ring verification algorithm of a key-pair algorithm; `None` for HMAC and `none`.
fn verification(alg: Alg) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Alg::EdDSA => &signature::ED25519,
        Alg::HS256 | Alg::HS384 | Alg::HS512 | Alg::None => return None,
    })
}

/// The digest an RSA algorithm signs; `None` for the others.
fn rsa_digest(alg: Alg) -> Option<&'static digest::Algorithm> {
    match alg {
        Alg::RS256 | Alg::PS256 => Some(&digest::SHA256),
        Alg::RS384 | Alg::PS384 => Some(&digest::SHA384),
        Alg::RS512 | Alg::PS512 => Some(&digest::SHA512),
        _ => None,
    }
}

/// A signature algorithm that the key cannot compute or check (RS256 with an EC key, HS256 or
/// `none` with any key pair, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("algorithm `{alg}` does not fit a {kind} key (it fits {})", crate::diag::backticked(.kind.algorithms()))]
pub struct KeyMismatch {
    /// The algorithm asked for.
    pub alg: Alg,
    /// The kind of the key at hand.
    pub kind: KeyKind,
}

/// A private key, parsed once; cheap to clone.
///
/// Its Debug output shows the kind only, never key material; [`PrivateKey::to_pkcs8_pem`] is the
/// one explicit way to get the key out.
#[derive(Clone)]
pub struct PrivateKey {
    inner: Arc<PrivateInner>,
}

struct PrivateInner {
    material: Material,
    public: PublicKey,
    rng: SystemRandom,
}

enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, KeyKind),
    Ed25519(Ed25519KeyPair),
}

impl PrivateKey {
    fn from_material(material: Material) -> Result<Self, String> {
        let spki = match &material {
            Material::Rsa(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Material::Ec(k, _) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Material::Ed25519(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| "failed to encode the public key".to_owned())?;
        let public = PublicKey::from_spki_der(&spki)?;
        Ok(Self {
            inner: Arc::new(PrivateInner {
                material,
                public,
                rng: SystemRandom::new(),
            }),
        })
    }

    /// Parses a PKCS#8 DER private key (RSA, EC P-256/P-384 or Ed25519).
    ///
    /// # Errors
    /// A message naming why the bytes are not a supported PKCS#8 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, String> {
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Self::from_material(Material::Rsa(k));
        }
        if let Ok(k) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Self::from_material(Material::Ec(k, KeyKind::EcP256));
        }
        if let Ok(k) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, der) {
            return Self::from_material(Material::Ec(k, KeyKind::EcP384));
        }
        if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Self::from_material(Material::Ed25519(k));
        }
        Err("not an RSA (2048 bits or more), EC P-256, EC P-384 or Ed25519 PKCS#8 key".to_owned())
    }

    /// Parses a PKCS#1 `RSAPrivateKey` DER structure.
    ///
    /// # Errors
    /// A message naming why the bytes are not a supported RSA key.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        let k = RsaKeyPair::from_der(der).map_err(|e| format!("invalid PKCS#1 RSA key: {e}"))?;
        Self::from_material(Material::Rsa(k))
    }

    /// Parses a SEC1 `ECPrivateKey` DER structure on P-256 or P-384.
    ///
    /// # Errors
    /// A message naming why the bytes are not a supported EC key.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, String> {
        if let Ok(k) =
            EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
        {
            return Self::from_material(Material::Ec(k, KeyKind::EcP256));
        }
        if let Ok(k) =
            EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, der)
        {
            return Self::from_material(Material::Ec(k, KeyKind::EcP384));
        }
        Err("not an EC P-256 or P-384 SEC1 key".to_owned())
    }

    pub(crate) fn from_ec_components(
        kind: KeyKind,
        d: &[u8],
        point: &[u8],
    ) -> Result<Self, String> {
        let alg = match kind {
            KeyKind::EcP256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            KeyKind::EcP384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            _ => return Err(format!("{kind} is not an EC curve")),
        };
        let k = EcdsaKeyPair::from_private_key_and_public_key(alg, d, point)
            .map_err(|e| format!("invalid EC key: {e}"))?;
        Self::from_material(Material::Ec(k, kind))
    }

    pub(crate) fn from_ed25519_components(seed: &[u8], public: &[u8]) -> Result<Self, String> {
        let k = Ed25519KeyPair::from_seed_and_public_key(seed, public)
            .map_err(|e| format!("invalid Ed25519 key: {e}"))?;
        Self::from_material(Material::Ed25519(k))
    }

    /// The kind of this key.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.inner.public.kind()
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.inner.public
    }

    /// Signs `msg` with `alg`; the signature is in JWS form (ECDSA as fixed-length `r || s`).
    ///
    /// # Errors
    /// [`KeyMismatch`] when `alg` does not fit this key (RS256 with an EC key, ES384 with a P-256
    /// key, …).
    pub fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyMismatch> {
        let mismatch = || KeyMismatch {
            alg,
            kind: self.kind(),
        };
        match &self.inner.material {
            Material::Rsa(k) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    Alg::RS256 => &signature::RSA_PKCS1_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_SHA512,
                    Alg::PS256 => &signature::RSA_PSS_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_SHA384,
                    Alg::PS512 => &signature::RSA_PSS_SHA512,
                    _ => return Err(mismatch()),
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(padding, &self.inner.rng, msg, &mut sig)
                    .map_err(|_| mismatch())?;
                Ok(sig)
            }
            Material::Ec(k, kind) => {
                let fits = matches!(
                    (alg, kind),
                    (Alg::ES256, KeyKind::EcP256) | (Alg::ES384, KeyKind::EcP384)
                );
                if !fits {
                    return Err(mismatch());
                }
                let sig = k.sign(&self.inner.rng, msg).map_err(|_| mismatch())?;
                Ok(sig.as_ref().to_vec())
            }
            Material::Ed25519(k) => {
                if alg != Alg::EdDSA {
                    return Err(mismatch());
                }
                Ok(k.sign(msg).as_ref().to_vec())
            }
        }
    }

    /// The key as PKCS#8 DER. Explicit only: this is key material.
    ///
    /// # Errors
    /// A message when the key cannot be encoded (does not happen for keys this module parsed).
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, String> {
        let der = match &self.inner.material {
            Material::Rsa(k) => {
                AsDer::<Pkcs8V1Der<'static>>::as_der(k).map(|d| d.as_ref().to_vec())
            }
            Material::Ec(k, _) => k.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
            Material::Ed25519(k) => k.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|_| "failed to encode the private key as PKCS#8".to_owned())
    }

    /// The key as a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Explicit only: this is key
    /// material, and nothing in jwtprobe prints it unless the user asks.
    ///
    /// # Errors
    /// A message when the key cannot be encoded (does not happen for keys this module parsed).
    pub fn to_pkcs8_pem(&self) -> Result<String, String> {
        Ok(pem_encode("PRIVATE KEY", self.to_pkcs8_der()?))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

/// A public key, parsed once for every algorithm it fits; cheap to clone.
#[derive(Clone)]
pub struct PublicKey {
    inner: Arc<PublicInner>,
}

struct PublicInner {
    kind: KeyKind,
    spki_der: Vec<u8>,
    /// One parsed key per algorithm that fits, so verification never parses.
    parsed: Vec<(Alg, ParsedPublicKey)>,
}

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` (what `-----BEGIN PUBLIC KEY-----` holds).
    ///
    /// # Errors
    /// A message naming why the bytes are not a supported public key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        use x509_parser::prelude::FromDer;
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| format!("invalid SubjectPublicKeyInfo: {e}"))?;
        let kind = kind_of_spki(&spki)?;
        let mut parsed = Vec::with_capacity(6);
        for &alg in kind.algorithms() {
            let Some(verification) = verification(alg) else {
                continue;
            };
            let key = ParsedPublicKey::new(verification, der)
                .map_err(|e| format!("invalid {kind} public key: {e}"))?;
            parsed.push((alg, key));
        }
        Ok(Self {
            inner: Arc::new(PublicInner {
                kind,
                spki_der: der.to_vec(),
                parsed,
            }),
        })
    }

    /// Parses a PKCS#1 `RSAPublicKey` DER structure (`-----BEGIN RSA PUBLIC KEY-----`).
    ///
    /// # Errors
    /// A message naming why the bytes are not an RSA public key.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        let parsed = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
            .map_err(|e| format!("invalid PKCS#1 RSA public key: {e}"))?;
        let spki: PublicKeyX509Der<'static> = parsed
            .as_der()
            .map_err(|_| "failed to encode the RSA public key".to_owned())?;
        Self::from_spki_der(spki.as_ref())
    }

    /// The kind of this key.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.inner.kind
    }

    /// Whether this key can check signatures of `alg` (never an HMAC algorithm or `none`).
    #[must_use]
    pub fn fits(&self, alg: Alg) -> bool {
        self.inner.parsed.iter().any(|(a, _)| *a == alg)
    }

    /// Checks `sig` over `msg` with `alg`; false when the signature is wrong or `alg` does not
    /// fit this key (an HMAC algorithm or `none` never does). Uses the key parsed at construction: no parsing.
    ///
    /// RSA hashes `msg` here (on the stack) and checks the signature over the digest, the same
    /// check as `verify_sig` without the digest context that path allocates and sets up on every
    /// call.
    #[must_use]
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        let Some((_, key)) = self.inner.parsed.iter().find(|(a, _)| *a == alg) else {
            return false;
        };
        match rsa_digest(alg) {
            Some(d) => key.verify_digest_sig(&digest::digest(d, msg), sig).is_ok(),
            None => key.verify_sig(msg, sig).is_ok(),
        }
    }

    /// The DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.inner.spki_der
    }

    /// The key as a `-----BEGIN PUBLIC KEY-----` PEM.
    #[must_use]
    pub fn to_spki_pem(&self) -> String {
        pem_encode("PUBLIC KEY", self.inner.spki_der.clone())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.inner.spki_der == other.inner.spki_der
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

fn kind_of_spki(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<KeyKind, String> {
    use x509_parser::oid_registry::{
        OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
        OID_SIG_ED25519,
    };
    let oid = &spki.algorithm.algorithm;
    if *oid == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size(),
            _ => return Err("invalid RSA public key".to_owned()),
        };
        Ok(KeyKind::Rsa { bits })
    } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        match curve {
            Some(c) if c == OID_EC_P256 => Ok(KeyKind::EcP256),
            Some(c) if c == OID_NIST_EC_P384 => Ok(KeyKind::EcP384),
            Some(c) => Err(format!(
                "unsupported EC curve `{c}` (expected P-256 or P-384)"
            )),
            None => Err("EC public key without a named curve".to_owned()),
        }
    } else if *oid == OID_SIG_ED25519 {
        Ok(KeyKind::Ed25519)
    } else {
        Err(format!(
            "unsupported public key algorithm `{oid}` (expected RSA, EC or Ed25519)"
        ))
    }
}

/// An X.509 certificate: the public key a Qlik virtual proxy trusts.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<CertInner>,
}

struct CertInner {
    der: Vec<u8>,
    pem: String,
    subject: String,
    issuer: String,
    not_before: i64,
    not_after: i64,
    public: PublicKey,
}

impl Certificate {
    /// Parses a DER X.509 certificate.
    ///
    /// # Errors
    /// A message naming why the bytes are not a certificate with a supported key.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("invalid X.509 certificate: {e}"))?;
        let public = PublicKey::from_spki_der(cert.public_key().raw)?;
        Ok(Self {
            inner: Arc::new(CertInner {
                der: der.to_vec(),
                pem: pem_encode("CERTIFICATE", der.to_vec()),
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                not_before: cert.validity().not_before.timestamp(),
                not_after: cert.validity().not_after.timestamp(),
                public,
            }),
        })
    }

    /// The DER encoding.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The `-----BEGIN CERTIFICATE-----` PEM text, as pasted into the QMC "JWT certificate"
    /// field. This text is also the HMAC secret of the key-confusion attack.
    #[must_use]
    pub fn pem(&self) -> &str {
        &self.inner.pem
    }

    /// The subject, RFC 4514 style (`CN=jwtprobe-test`).
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// The issuer, RFC 4514 style; equals the subject for a self-signed certificate.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Start of validity, seconds since the Unix epoch.
    #[must_use]
    pub fn not_before(&self) -> i64 {
        self.inner.not_before
    }

    /// End of validity, seconds since the Unix epoch.
    #[must_use]
    pub fn not_after(&self) -> i64 {
        self.inner.not_after
    }

    /// The certified public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.inner.public
    }

    /// SHA-1 of the DER, upper-case hex without separators, as Windows shows the thumbprint.
    #[must_use]
    pub fn sha1_thumbprint(&self) -> String {
        hex_upper(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, self.der())
                .as_ref(),
        )
    }

    /// SHA-256 of the DER, upper-case hex without separators.
    #[must_use]
    pub fn sha256_thumbprint(&self) -> String {
        hex_upper(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.der()).as_ref())
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.inner.subject)
            .field("not_after", &self.inner.not_after)
            .field("key", &self.inner.public.kind())
            .finish_non_exhaustive()
    }
}

/// What one key file holds.
#[derive(Clone)]
pub struct KeyBundle {
    /// The private key, when the file holds one.
    pub private: Option<PrivateKey>,
    /// The public key: the one in the file, else the certificate's, else the private key's.
    pub public: Option<PublicKey>,
    /// The (first) certificate, when the file holds one.
    pub certificate: Option<Certificate>,
    /// A symmetric secret (a JWK with `kty: oct`), for the HMAC algorithms.
    pub secret: Option<HmacSecret>,
    /// The file it was read from (or a label such as `generated` for a fresh key).
    pub source: Utf8PathBuf,
}

impl fmt::Debug for KeyBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyBundle")
            .field("source", &self.source)
            .field("private", &self.private)
            .field("public", &self.public)
            .field("certificate", &self.certificate)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A symmetric HMAC secret. Debug shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacSecret(Vec<u8>);

impl HmacSecret {
    /// Wraps secret bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Explicit only: this is key material.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacSecret(len {})", self.0.len())
    }
}

/// An error loading, generating or writing a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("failed to read key file `{path}`")]
    Read {
        /// The file.
        path: Utf8PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but does not hold a usable key.
    #[error("failed to load key `{path}`")]
    Load {
        /// The file.
        path: Utf8PathBuf,
        /// Why it is not usable.
        #[source]
        cause: KeyFormatError,
    },
    /// A key could not be generated.
    #[error("failed to generate a {kind} key")]
    Generate {
        /// The kind asked for.
        kind: KeyKind,
        /// What failed.
        #[source]
        cause: KeyFormatError,
    },
    /// A key file could not be written.
    #[error("failed to write key file `{path}`")]
    Write {
        /// The file.
        path: Utf8PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl KeyError {
    /// A hint for the user, when we know the likely fix.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Load { cause, .. } => cause.hint(),
            Self::Write { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
                Some("remove the existing file or write to another directory")
            }
            _ => None,
        }
    }

    /// Whether the error is a PKCS#12 MAC failure, which nearly always means a wrong password.
    #[must_use]
    pub fn is_wrong_password(&self) -> bool {
        matches!(
            self,
            Self::Load {
                cause: KeyFormatError::PfxMac { .. },
                ..
            }
        )
    }
}

/// Why a key file's content is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// Nothing in the file looks like a key.
    #[error("expected a PEM, DER, PFX or JWK key")]
    UnknownFormat,
    /// The PKCS#12 MAC did not verify: a wrong (or missing) password.
    #[error("PKCS#12 MAC verification failed")]
    PfxMac {
        /// Whether a password was given at all.
        password_given: bool,
    },
    /// The PFX could not be decoded (unsupported encryption, corrupt file).
    #[error("invalid PFX/PKCS#12 file: {0}")]
    Pfx(String),
    /// A PEM private key encrypted with a passphrase.
    #[error("encrypted PEM private keys are not supported")]
    EncryptedPem,
    /// The PEM text could not be decoded.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A PEM block of a kind that holds no usable key.
    #[error("PEM block `{0}` holds no key or certificate")]
    UnsupportedPemBlock(String),
    /// The key inside the file is malformed or of an unsupported kind.
    #[error("{0}")]
    InvalidKey(String),
    /// The JWK is malformed or of an unsupported kind.
    #[error("invalid JWK: {0}")]
    Jwk(String),
}

impl KeyFormatError {
    /// A hint for the user, when we know the likely fix.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::PfxMac {
                password_given: true,
            } => Some("check the PFX password"),
            Self::PfxMac {
                password_given: false,
            } => Some("the PFX is protected by a password: give it"),
            Self::EncryptedPem => Some(
                "decrypt it first: `openssl pkey -in encrypted.pem -out key.pem`, or use the PFX",
            ),
            Self::UnknownFormat => Some(
                "give the private key (PEM, DER, PFX or JWK) or the certificate the proxy trusts",
            ),
            _ => None,
        }
    }
}

pub(crate) fn pem_encode(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn hex_upper(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}
