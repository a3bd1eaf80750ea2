//! JSON Web Keys (RFC 7517): `kty` RSA, EC (P-256, P-384), OKP (Ed25519) and oct.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::{HmacSecret, KeyFormatError, KeyKind, PrivateKey, PublicKey, der};

/// What a JWK turned into.
pub(crate) enum JwkKey {
    Private(PrivateKey),
    Public(PublicKey),
    Secret(HmacSecret),
}

fn field(jwk: &Map<String, Value>, name: &str) -> Result<Option<Vec<u8>>, KeyFormatError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            // Some producers pad; accept both.
            let bytes = URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|e| {
                    KeyFormatError::Jwk(format!("member `{name}` is not base64url: {e}"))
                })?;
            Ok(Some(bytes))
        }
        Some(_) => Err(KeyFormatError::Jwk(format!(
            "member `{name}` is not a string"
        ))),
    }
}

fn required(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, KeyFormatError> {
    field(jwk, name)?.ok_or_else(|| KeyFormatError::Jwk(format!("member `{name}` is missing")))
}

/// Parses one JWK, or the first key of a JWK Set (`{"keys": [...]}`).
pub(crate) fn parse(text: &str) -> Result<JwkKey, KeyFormatError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| KeyFormatError::Jwk(format!("not valid JSON: {e}")))?;
    let jwk = match &value {
        Value::Object(m) => match m.get("keys") {
            Some(Value::Array(keys)) => keys
                .first()
                .and_then(Value::as_object)
                .ok_or_else(|| KeyFormatError::Jwk("the JWK Set holds no key".to_owned()))?,
            _ => m,
        },
        _ => return Err(KeyFormatError::Jwk("expected a JSON object".to_owned())),
    };
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or_else(|| KeyFormatError::Jwk("member `kty` is missing".to_owned()))?;
    let invalid = KeyFormatError::InvalidKey;
    match kty {
        "RSA" => {
            let n = required(jwk, "n")?;
            let e = required(jwk, "e")?;
            if let Some(d) = field(jwk, "d")? {
                let mut parts = vec![der::integer(&[0]), der::integer(&n), der::integer(&e)];
                parts.push(der::integer(&d));
                for name in ["p", "q", "dp", "dq", "qi"] {
                    parts.push(der::integer(&required(jwk, name)?));
                }
                PrivateKey::from_pkcs1_der(&der::sequence(&parts))
                    .map(JwkKey::Private)
                    .map_err(invalid)
            } else {
                let pkcs1 = der::sequence(&[der::integer(&n), der::integer(&e)]);
                PublicKey::from_pkcs1_der(&pkcs1)
                    .map(JwkKey::Public)
                    .map_err(invalid)
            }
        }
        "EC" => {
            let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or("");
            let (kind, alg): (
                KeyKind,
                &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm,
            ) = match crv {
                "P-256" => (
                    KeyKind::EcP256,
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                ),
                "P-384" => (
                    KeyKind::EcP384,
                    &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
                ),
                other => {
                    return Err(KeyFormatError::Jwk(format!(
                        "unsupported curve `{other}` (expected P-256 or P-384)"
                    )));
                }
            };
            let mut point = vec![0x04];
            point.extend(required(jwk, "x")?);
            point.extend(required(jwk, "y")?);
            if let Some(d) = field(jwk, "d")? {
                PrivateKey::from_ec_components(kind, &d, &point)
                    .map(JwkKey::Private)
                    .map_err(invalid)
            } else {
                use aws_lc_rs::encoding::AsDer as _;
                let parsed = aws_lc_rs::signature::ParsedPublicKey::new(alg, &point)
                    .map_err(|e| KeyFormatError::InvalidKey(format!("invalid EC point: {e}")))?;
                let spki = parsed
                    .as_der()
                    .map_err(|_| KeyFormatError::InvalidKey("invalid EC point".to_owned()))?;
                PublicKey::from_spki_der(spki.as_ref())
                    .map(JwkKey::Public)
                    .map_err(invalid)
            }
        }
        "OKP" => {
            let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or("");
            if crv != "Ed25519" {
                return Err(KeyFormatError::Jwk(format!(
                    "unsupported OKP curve `{crv}` (expected Ed25519)"
                )));
            }
            let x = required(jwk, "x")?;
            if let Some(d) = field(jwk, "d")? {
                PrivateKey::from_ed25519_components(&d, &x)
                    .map(JwkKey::Private)
                    .map_err(invalid)
            } else {
                use aws_lc_rs::encoding::AsDer as _;
                let parsed =
                    aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ED25519, &x)
                        .map_err(|e| {
                            KeyFormatError::InvalidKey(format!("invalid Ed25519 key: {e}"))
                        })?;
                let spki = parsed
                    .as_der()
                    .map_err(|_| KeyFormatError::InvalidKey("invalid Ed25519 key".to_owned()))?;
                PublicKey::from_spki_der(spki.as_ref())
                    .map(JwkKey::Public)
                    .map_err(invalid)
            }
        }
        "oct" => Ok(JwkKey::Secret(HmacSecret::new(required(jwk, "k")?))),
        other => Err(KeyFormatError::Jwk(format!(
            "unsupported `kty` `{other}` (expected RSA, EC, OKP or oct)"
        ))),
    }
}
