//! Mint JWTs as exact bytes, and verify them.
//!
//! [`mint`] turns a [`TokenSpec`] into a compact token: the header and payload JSON serialized
//! exactly as given (insertion order kept) or used verbatim ([`Part::Raw`]), signed with the
//! [`TokenSpec::sign_alg`] whatever the header's `alg` claims, then passed through a
//! [`SignatureMode`] (valid, empty, omitted, bit-flipped, truncated, random) and an [`Encoding`].
//! That is what the attack catalogue needs: `alg: none`, key confusion ([`Signer::Hmac`] over a
//! certificate's PEM text), wrong keys, altered signatures. [`Minter`] is the hot path for load
//! runs and benches: key and encoded header prepared once.
//!
//! [`verify`] is the one verification path, shared by the Qlik emulator, `token inspect` and the
//! benches; [`inspect`] runs the same checks but reports every reason, not just the first.
//! [`redact`](redact::redact) is how a token is shown anywhere in output.
//!
//! This module is synchronous and does no I/O; it imports only [`keys`](crate::keys).

pub(crate) mod pick;
pub mod redact;
mod transform;
mod verify;

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use crate::jose::{Alg, Encoding, SignatureMode};
use crate::keys::{KeyKind, PrivateKey};

pub use redact::{redact, redact_in_text, redact_secret};
pub use transform::{TransformError, json_serialization, tamper_claims};
pub use verify::{
    Checks, HmacKey, Inspection, Rejection, SignatureStatus, Verified, VerifyKey, VerifyPolicy,
    human_span, human_time, inspect, inspect_with, rfc3339, verify, verify_with,
};

/// The HMAC digest of an HMAC algorithm; `None` for the others.
fn hmac_of(alg: Alg) -> Option<hmac::Algorithm> {
    match alg {
        Alg::HS256 => Some(hmac::HMAC_SHA256),
        Alg::HS384 => Some(hmac::HMAC_SHA384),
        Alg::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

/// A header or payload: JSON to serialize, or text to use verbatim.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// A JSON object, serialized compactly in insertion order.
    Json(Map<String, Value>),
    /// Exact text (duplicate keys, broken JSON, anything), base64-encoded as is.
    Raw(String),
}

impl Part {
    fn to_bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>, MintError> {
        match self {
            Self::Json(map) => serde_json::to_vec(map)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| MintError::Json(e.to_string())),
            Self::Raw(text) => Ok(std::borrow::Cow::Borrowed(text.as_bytes())),
        }
    }
}

/// What computes the signature.
#[derive(Clone)]
pub enum Signer {
    /// A private key, for the RSA, ECDSA and EdDSA algorithms.
    Key(PrivateKey),
    /// An HMAC secret, for HS256/384/512. Key confusion passes a certificate's or public key's
    /// PEM text here.
    Hmac(Vec<u8>),
    /// No key: only `sign_alg: none` works.
    Unsigned,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(k) => f.debug_tuple("Key").field(k).finish(),
            Self::Hmac(secret) => write!(f, "Hmac(len {})", secret.len()),
            Self::Unsigned => f.write_str("Unsigned"),
        }
    }
}

/// The base64 engine of an encoding.
fn engine(encoding: Encoding) -> &'static GeneralPurpose {
    match encoding {
        Encoding::Base64Url => &URL_SAFE_NO_PAD,
        Encoding::Base64UrlPadded => &URL_SAFE,
        Encoding::Base64 => &STANDARD,
    }
}

/// Everything that decides a token's bytes.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// The header. Its `alg` is whatever it says (it may differ from `sign_alg`, or be absent).
    pub header: Part,
    /// The payload (claims).
    pub payload: Part,
    /// The algorithm actually computed over `header.payload`; `None` computes no signature.
    pub sign_alg: Alg,
    /// What computes the signature.
    pub signer: Signer,
    /// What happens to the signature afterwards.
    pub signature: SignatureMode,
    /// How the segments are encoded.
    pub encoding: Encoding,
}

impl TokenSpec {
    /// A plain, valid token: header `{"alg": <alg>, "typ": "JWT"}`, the given claims, signed
    /// with `alg` by `signer`, base64url.
    #[must_use]
    pub fn new(claims: Map<String, Value>, alg: Alg, signer: Signer) -> Self {
        Self {
            header: Part::Json(standard_header(alg)),
            payload: Part::Json(claims),
            sign_alg: alg,
            signer,
            signature: SignatureMode::Valid,
            encoding: Encoding::Base64Url,
        }
    }
}

/// The usual header: `{"alg": <alg>, "typ": "JWT"}`.
#[must_use]
pub fn standard_header(alg: Alg) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".to_owned(), Value::String(alg.name().to_owned()));
    header.insert("typ".to_owned(), Value::String("JWT".to_owned()));
    header
}

/// A compact token. Debug and Display are redacted (see [`redact()`]); [`Token::expose`] gives
/// the full text, to send or to print when the user asks for it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The full compact token. Explicit only: never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The full compact token, owned.
    #[must_use]
    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", redact(&self.0))
    }
}

/// An error minting a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// The signing algorithm does not fit the private key (RS256 with an EC key, …).
    #[error("algorithm `{alg}` cannot be computed with the signing key: it is an {kind} key")]
    KeyMismatch {
        /// The signing algorithm.
        alg: Alg,
        /// The key's kind.
        kind: KeyKind,
    },
    /// An HMAC algorithm with a private key instead of a secret.
    #[error("algorithm `{alg}` needs an HMAC secret, but the signer is an {kind} private key")]
    NeedsSecret {
        /// The signing algorithm.
        alg: Alg,
        /// The key's kind.
        kind: KeyKind,
    },
    /// A key-pair algorithm with an HMAC secret instead of a private key.
    #[error("algorithm `{alg}` needs a private key, but the signer is an HMAC secret")]
    NeedsKey {
        /// The signing algorithm.
        alg: Alg,
    },
    /// A signing algorithm but no signer.
    #[error("algorithm `{alg}` needs a key, but none was given")]
    NoKey {
        /// The signing algorithm.
        alg: Alg,
    },
    /// The cryptographic library failed to sign.
    #[error("failed to compute the `{alg}` signature")]
    Signing {
        /// The signing algorithm.
        alg: Alg,
    },
    /// A JSON part could not be serialized.
    #[error("failed to serialize the token JSON: {0}")]
    Json(String),
}

/// The prepared signing side: HMAC key or private key, checked against the algorithm once.
#[derive(Clone)]
enum Prepared {
    None,
    Hmac(Box<hmac::Key>),
    Key(PrivateKey),
}

impl Prepared {
    fn new(alg: Alg, signer: &Signer) -> Result<Self, MintError> {
        match (alg, signer) {
            (Alg::None, _) => Ok(Self::None),
            (_, Signer::Unsigned) => Err(MintError::NoKey { alg }),
            (a, Signer::Hmac(secret)) => match hmac_of(a) {
                Some(h) => Ok(Self::Hmac(Box::new(hmac::Key::new(h, secret)))),
                None => Err(MintError::NeedsKey { alg }),
            },
            (a, Signer::Key(key)) => {
                if !a.is_asymmetric() {
                    return Err(MintError::NeedsSecret {
                        alg,
                        kind: key.kind(),
                    });
                }
                if !key.kind().algorithms().contains(&a) {
                    return Err(MintError::KeyMismatch {
                        alg,
                        kind: key.kind(),
                    });
                }
                Ok(Self::Key(key.clone()))
            }
        }
    }

    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, MintError> {
        match self {
            Self::None => Ok(Vec::new()),
            Self::Hmac(key) => Ok(hmac::sign(key, msg).as_ref().to_vec()),
            Self::Key(key) => key.sign(alg, msg).map_err(|_| MintError::Signing { alg }),
        }
    }
}

fn apply_mode(mode: SignatureMode, alg: Alg, mut sig: Vec<u8>) -> Option<Vec<u8>> {
    match mode {
        SignatureMode::EcdsaZero => {
            let len = if alg == Alg::ES384 { 96 } else { 64 };
            sig = vec![0; len];
        }
        SignatureMode::Valid => {}
        SignatureMode::Empty => sig.clear(),
        SignatureMode::Omit => return None,
        SignatureMode::BitFlip => {
            if let Some(first) = sig.first_mut() {
                *first ^= 0x01;
            }
        }
        SignatureMode::Truncate => {
            let keep = sig.len() / 2;
            sig.truncate(keep);
        }
        SignatureMode::Random => {
            use rand::RngCore as _;
            rand::rng().fill_bytes(&mut sig);
        }
    }
    Some(sig)
}

/// Mints the token `spec` describes, byte for byte.
///
/// # Errors
/// [`MintError`] when `sign_alg` does not fit the signer (naming both), or signing fails.
pub fn mint(spec: &TokenSpec) -> Result<Token, MintError> {
    let prepared = Prepared::new(spec.sign_alg, &spec.signer)?;
    let engine = engine(spec.encoding);
    let header = spec.header.to_bytes()?;
    let payload = spec.payload.to_bytes()?;
    let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 700);
    engine.encode_string(&header, &mut out);
    out.push('.');
    engine.encode_string(&payload, &mut out);
    let sig = prepared.sign(spec.sign_alg, out.as_bytes())?;
    if let Some(sig) = apply_mode(spec.signature, spec.sign_alg, sig) {
        out.push('.');
        engine.encode_string(&sig, &mut out);
    }
    Ok(Token(out))
}

/// The hot path: a key, an algorithm and an encoded header prepared once; each
/// [`Minter::mint`] serializes the claims, signs and encodes. Cheap to clone and `Send + Sync`.
#[derive(Clone)]
pub struct Minter {
    alg: Alg,
    prepared: Prepared,
    encoding: Encoding,
    /// The encoded header followed by `.`.
    prefix: String,
}

impl fmt::Debug for Minter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minter")
            .field("alg", &self.alg)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl Minter {
    /// Prepares minting with the standard header (`{"alg": <alg>, "typ": "JWT"}`), base64url.
    ///
    /// # Errors
    /// [`MintError`] when `alg` does not fit `signer`.
    pub fn new(alg: Alg, signer: &Signer) -> Result<Self, MintError> {
        Self::with_header(
            &Part::Json(standard_header(alg)),
            alg,
            signer,
            Encoding::Base64Url,
        )
    }

    /// Prepares minting with a given header, signing algorithm and encoding.
    ///
    /// # Errors
    /// [`MintError`] when `sign_alg` does not fit `signer`, or the header cannot be serialized.
    pub fn with_header(
        header: &Part,
        sign_alg: Alg,
        signer: &Signer,
        encoding: Encoding,
    ) -> Result<Self, MintError> {
        let prepared = Prepared::new(sign_alg, signer)?;
        let bytes = header.to_bytes()?;
        let mut prefix = String::with_capacity(bytes.len() * 4 / 3 + 4);
        engine(encoding).encode_string(&bytes, &mut prefix);
        prefix.push('.');
        Ok(Self {
            alg: sign_alg,
            prepared,
            encoding,
            prefix,
        })
    }

    /// The signing algorithm.
    #[must_use]
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Mints a valid token with these claims (serialized in insertion order).
    ///
    /// # Errors
    /// [`MintError::Signing`] when the cryptographic library fails (not expected once the minter
    /// is built).
    pub fn mint(&self, claims: &Map<String, Value>) -> Result<Token, MintError> {
        let payload = serde_json::to_vec(claims).map_err(|e| MintError::Json(e.to_string()))?;
        self.mint_payload(&payload)
    }

    /// Mints a valid token with this exact payload text.
    ///
    /// # Errors
    /// As [`Minter::mint`].
    pub fn mint_payload(&self, payload: &[u8]) -> Result<Token, MintError> {
        let engine = engine(self.encoding);
        let mut out = String::with_capacity(self.prefix.len() + payload.len() * 4 / 3 + 700);
        out.push_str(&self.prefix);
        engine.encode_string(payload, &mut out);
        let sig = self.prepared.sign(self.alg, out.as_bytes())?;
        out.push('.');
        engine.encode_string(&sig, &mut out);
        Ok(Token(out))
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use serde_json::json;

    use super::*;
    use crate::keys::{KeyBundle, read_key_file};

    fn fixture(name: &str) -> KeyBundle {
        let path = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/keys")
            .join(name);
        read_key_file(&path, None).expect("fixture key loads")
    }

    fn private(name: &str) -> PrivateKey {
        fixture(name).private.expect("fixture has a private key")
    }

    fn claims() -> Map<String, Value> {
        let Value::Object(map) =
            json!({"UserId": "alice", "UserDirectory": "QLIK", "groups": ["a", "b"]})
        else {
            unreachable!("a JSON object literal")
        };
        map
    }

    fn b64(segment: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(segment).expect("base64url segment")
    }

    /// Decodes with jsonwebtoken, an independent verifier.
    fn jwt_decode(token: &Token, alg: Algorithm, key: &DecodingKey) -> Value {
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(token.expose(), key, &validation)
            .unwrap_or_else(|e| panic!("jsonwebtoken rejects our {alg:?} token: {e}"))
            .claims
    }

    fn spki_pem(key: &PrivateKey) -> String {
        key.public_key().to_spki_pem()
    }

    #[test]
    fn rsa_tokens_verify_with_jsonwebtoken() {
        let key = private("qlik-signing.key.pem");
        let decoding = DecodingKey::from_rsa_pem(spki_pem(&key).as_bytes()).expect("rsa pem");
        for (alg, jwt_alg) in [
            (Alg::RS256, Algorithm::RS256),
            (Alg::RS384, Algorithm::RS384),
            (Alg::RS512, Algorithm::RS512),
            (Alg::PS256, Algorithm::PS256),
            (Alg::PS384, Algorithm::PS384),
            (Alg::PS512, Algorithm::PS512),
        ] {
            let token =
                mint(&TokenSpec::new(claims(), alg, Signer::Key(key.clone()))).expect("mint");
            assert_eq!(
                jwt_decode(&token, jwt_alg, &decoding),
                Value::Object(claims())
            );
        }
    }

    #[test]
    fn ec_and_eddsa_tokens_verify_with_jsonwebtoken() {
        for (file, alg, jwt_alg) in [
            ("ec256.key.pem", Alg::ES256, Algorithm::ES256),
            ("ec384.key.pem", Alg::ES384, Algorithm::ES384),
            ("ed25519.key.pem", Alg::EdDSA, Algorithm::EdDSA),
        ] {
            let key = private(file);
            let pem = spki_pem(&key);
            let decoding = if alg == Alg::EdDSA {
                DecodingKey::from_ed_pem(pem.as_bytes())
            } else {
                DecodingKey::from_ec_pem(pem.as_bytes())
            }
            .expect("public pem");
            let token = mint(&TokenSpec::new(claims(), alg, Signer::Key(key))).expect("mint");
            assert_eq!(
                jwt_decode(&token, jwt_alg, &decoding),
                Value::Object(claims())
            );
        }
    }

    #[test]
    fn hmac_tokens_verify_with_jsonwebtoken() {
        let secret = b"a-shared-secret-of-reasonable-length!".to_vec();
        let decoding = DecodingKey::from_secret(&secret).expect("secret");
        for (alg, jwt_alg) in [
            (Alg::HS256, Algorithm::HS256),
            (Alg::HS384, Algorithm::HS384),
            (Alg::HS512, Algorithm::HS512),
        ] {
            let token =
                mint(&TokenSpec::new(claims(), alg, Signer::Hmac(secret.clone()))).expect("mint");
            assert_eq!(
                jwt_decode(&token, jwt_alg, &decoding),
                Value::Object(claims())
            );
        }
    }

    #[test]
    fn alg_none_produces_header_payload_and_empty_signature() {
        let token = mint(&TokenSpec::new(claims(), Alg::None, Signer::Unsigned)).expect("mint");
        let text = token.expose();
        assert!(text.ends_with('.'), "{text}");
        assert_eq!(text.matches('.').count(), 2);
        let header = text.split('.').next().expect("header segment");
        assert_eq!(b64(header), br#"{"alg":"none","typ":"JWT"}"#);
    }

    #[test]
    fn json_parts_keep_insertion_order() {
        let Value::Object(header) =
            json!({"typ": "JWT", "kid": "k1", "alg": "RS256", "crit": ["x"]})
        else {
            unreachable!("a JSON object literal")
        };
        let spec = TokenSpec {
            header: Part::Json(header),
            ..TokenSpec::new(
                claims(),
                Alg::RS256,
                Signer::Key(private("qlik-signing.key.pem")),
            )
        };
        let token = mint(&spec).expect("mint");
        let mut segments = token.expose().split('.');
        assert_eq!(
            b64(segments.next().expect("header")),
            br#"{"typ":"JWT","kid":"k1","alg":"RS256","crit":["x"]}"#
        );
        assert_eq!(
            b64(segments.next().expect("payload")),
            br#"{"UserId":"alice","UserDirectory":"QLIK","groups":["a","b"]}"#
        );
    }

    #[test]
    fn raw_parts_are_used_byte_for_byte() {
        let raw_header = r#"{"alg":"RS256","alg":"none"}"#;
        let raw_payload = r#"{"UserId":"a" "#;
        let spec = TokenSpec {
            header: Part::Raw(raw_header.to_owned()),
            payload: Part::Raw(raw_payload.to_owned()),
            ..TokenSpec::new(Map::new(), Alg::HS256, Signer::Hmac(b"k".to_vec()))
        };
        let token = mint(&spec).expect("mint");
        let segments: Vec<&str> = token.expose().split('.').collect();
        assert_eq!(b64(segments[0]), raw_header.as_bytes());
        assert_eq!(b64(segments[1]), raw_payload.as_bytes());
        let input = format!("{}.{}", segments[0], segments[1]);
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"k"), input.as_bytes());
        assert_eq!(b64(segments[2]), expected.as_ref());
    }

    #[test]
    fn header_alg_may_differ_from_the_algorithm_computed() {
        let mut header = standard_header(Alg::RS256);
        header.insert("kid".to_owned(), json!("k"));
        let secret = b"secret".to_vec();
        let spec = TokenSpec {
            header: Part::Json(header),
            ..TokenSpec::new(claims(), Alg::HS256, Signer::Hmac(secret.clone()))
        };
        let token = mint(&spec).expect("mint");
        let segments: Vec<&str> = token.expose().split('.').collect();
        assert_eq!(
            b64(segments[0]),
            br#"{"alg":"RS256","typ":"JWT","kid":"k"}"#
        );
        let input = format!("{}.{}", segments[0], segments[1]);
        let expected = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        assert_eq!(b64(segments[2]), expected.as_ref());
    }

    fn mode_token(mode: SignatureMode) -> (Token, Token) {
        let key = private("qlik-signing.key.pem");
        let valid = mint(&TokenSpec::new(
            claims(),
            Alg::RS256,
            Signer::Key(key.clone()),
        ))
        .expect("mint");
        let spec = TokenSpec {
            signature: mode,
            ..TokenSpec::new(claims(), Alg::RS256, Signer::Key(key))
        };
        (valid, mint(&spec).expect("mint"))
    }

    fn rs256_policy() -> VerifyPolicy {
        VerifyPolicy {
            algs: vec![Alg::RS256],
            key: VerifyKey::Public(fixture("qlik-signing.cert.pem").public.expect("public key")),
            user_claim: Some("UserId".to_owned()),
            directory_claim: Some("UserDirectory".to_owned()),
            audience: None,
            leeway_s: 0,
        }
    }

    #[test]
    fn empty_signature_mode_leaves_a_trailing_dot_and_fails() {
        let (valid, token) = mode_token(SignatureMode::Empty);
        let (h_p, _) = valid.expose().rsplit_once('.').expect("three segments");
        assert_eq!(token.expose(), format!("{h_p}."));
        assert_eq!(
            verify(token.expose(), &rs256_policy(), 0),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn omit_signature_mode_leaves_two_segments_and_fails() {
        let (valid, token) = mode_token(SignatureMode::Omit);
        let (h_p, _) = valid.expose().rsplit_once('.').expect("three segments");
        assert_eq!(token.expose(), h_p);
        assert!(matches!(
            verify(token.expose(), &rs256_policy(), 0),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn bitflip_signature_mode_changes_one_bit_and_fails() {
        let (valid, token) = mode_token(SignatureMode::BitFlip);
        let good = b64(valid.expose().rsplit_once('.').expect("sig").1);
        let bad = b64(token.expose().rsplit_once('.').expect("sig").1);
        assert_eq!(good.len(), bad.len());
        let differing_bits: u32 = good
            .iter()
            .zip(&bad)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(differing_bits, 1);
        assert_eq!(
            verify(token.expose(), &rs256_policy(), 0),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn truncate_signature_mode_keeps_the_first_half_and_fails() {
        let (valid, token) = mode_token(SignatureMode::Truncate);
        let good = b64(valid.expose().rsplit_once('.').expect("sig").1);
        let bad = b64(token.expose().rsplit_once('.').expect("sig").1);
        assert_eq!(bad, good[..good.len() / 2]);
        assert_eq!(
            verify(token.expose(), &rs256_policy(), 0),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn random_signature_mode_keeps_the_length_and_fails() {
        let (valid, token) = mode_token(SignatureMode::Random);
        let good = b64(valid.expose().rsplit_once('.').expect("sig").1);
        let bad = b64(token.expose().rsplit_once('.').expect("sig").1);
        assert_eq!(good.len(), bad.len());
        assert_ne!(good, bad);
        assert_eq!(
            verify(token.expose(), &rs256_policy(), 0),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn encodings_change_the_alphabet_and_padding() {
        let Value::Object(payload) = json!({"a": 1}) else {
            unreachable!("a JSON object literal")
        };
        for (encoding, engine) in [
            (Encoding::Base64UrlPadded, &URL_SAFE),
            (Encoding::Base64, &STANDARD),
        ] {
            let spec = TokenSpec {
                encoding,
                ..TokenSpec::new(payload.clone(), Alg::HS256, Signer::Hmac(b"k".to_vec()))
            };
            let token = mint(&spec).expect("mint");
            let segments: Vec<&str> = token.expose().split('.').collect();
            // `{"a":1}` is 7 bytes: its encoding needs one `=`.
            assert_eq!(segments[1], engine.encode(br#"{"a":1}"#));
            assert!(segments[1].ends_with('='));
            let input = format!("{}.{}", segments[0], segments[1]);
            let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"k"), input.as_bytes());
            assert_eq!(segments[2], engine.encode(mac.as_ref()));
        }
    }

    #[test]
    fn key_confusion_signs_hmac_over_the_certificate_pem() {
        let cert = fixture("qlik-signing.cert.pem")
            .certificate
            .expect("certificate");
        let pem = cert.pem().as_bytes().to_vec();
        let token = mint(&TokenSpec::new(
            claims(),
            Alg::HS256,
            Signer::Hmac(pem.clone()),
        ))
        .expect("mint");
        let decoding = DecodingKey::from_secret(&pem).expect("secret");
        assert_eq!(
            jwt_decode(&token, Algorithm::HS256, &decoding),
            Value::Object(claims())
        );
        // A proxy that trusts only RS256 refuses it.
        assert_eq!(
            verify(token.expose(), &rs256_policy(), 0),
            Err(Rejection::AlgNotAllowed("HS256".to_owned()))
        );
    }

    #[test]
    fn algorithm_that_does_not_fit_the_key_names_both() {
        let err = mint(&TokenSpec::new(
            claims(),
            Alg::RS256,
            Signer::Key(private("ec256.key.pem")),
        ))
        .expect_err("RS256 with an EC key");
        assert_eq!(
            err,
            MintError::KeyMismatch {
                alg: Alg::RS256,
                kind: KeyKind::EcP256
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("RS256") && text.contains("EC P-256"),
            "{text}"
        );
        let err = mint(&TokenSpec::new(
            claims(),
            Alg::ES384,
            Signer::Key(private("ec256.key.pem")),
        ))
        .expect_err("ES384 with a P-256 key");
        assert!(matches!(err, MintError::KeyMismatch { .. }));
    }

    #[test]
    fn signer_of_the_wrong_family_is_an_error() {
        let key = private("qlik-signing.key.pem");
        assert!(matches!(
            mint(&TokenSpec::new(claims(), Alg::HS256, Signer::Key(key))),
            Err(MintError::NeedsSecret { .. })
        ));
        assert!(matches!(
            mint(&TokenSpec::new(
                claims(),
                Alg::RS256,
                Signer::Hmac(b"s".to_vec())
            )),
            Err(MintError::NeedsKey { .. })
        ));
        assert!(matches!(
            mint(&TokenSpec::new(claims(), Alg::RS256, Signer::Unsigned)),
            Err(MintError::NoKey { .. })
        ));
    }

    #[test]
    fn minter_matches_one_shot_mint_for_deterministic_algorithms() {
        let key = private("qlik-signing.key.pem");
        let minter = Minter::new(Alg::RS256, &Signer::Key(key.clone())).expect("minter");
        let fast = minter.mint(&claims()).expect("mint");
        let slow = mint(&TokenSpec::new(claims(), Alg::RS256, Signer::Key(key))).expect("mint");
        assert_eq!(fast, slow);
        assert!(verify(fast.expose(), &rs256_policy(), 0).is_ok());
    }

    #[test]
    fn minter_refuses_an_algorithm_that_does_not_fit() {
        assert!(Minter::new(Alg::EdDSA, &Signer::Key(private("ec256.key.pem"))).is_err());
    }

    #[test]
    fn token_display_and_debug_hide_the_signature() {
        let token = mint(&TokenSpec::new(
            claims(),
            Alg::RS256,
            Signer::Key(private("qlik-signing.key.pem")),
        ))
        .expect("mint");
        let sig = token.expose().rsplit_once('.').expect("sig").1;
        for shown in [token.to_string(), format!("{token:?}")] {
            assert!(!shown.contains(sig), "{shown}");
            assert!(shown.contains("sig:"), "{shown}");
        }
    }

    #[test]
    fn signer_debug_hides_the_hmac_secret() {
        let shown = format!("{:?}", Signer::Hmac(b"topsecretvalue".to_vec()));
        assert!(
            !shown.contains("topsecret") && !shown.contains("116"),
            "{shown}"
        );
    }

    #[test]
    fn alg_names_round_trip_and_are_case_sensitive() {
        for alg in Alg::ALL {
            assert_eq!(alg.name().parse::<Alg>(), Ok(alg));
        }
        assert!("None".parse::<Alg>().is_err());
        assert!("rs256".parse::<Alg>().is_err());
    }
}
