//! Token verification for the emulator: one cached policy per virtual proxy.
//!
//! INTERIM: this mirrors the `token::verify` contract in `docs/internals.md` until the `token`
//! module lands; then [`Verifier::verify`] becomes a call to `token::verify` with the cached
//! policy, and this file keeps only the policy cache and the reason text.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::keys::{PublicKey, SignatureAlg};

/// Why a token was refused (the variants of `token::Rejection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    Malformed(String),
    Jwe,
    AlgNotAllowed(String),
    BadSignature,
    Expired { exp: i64, now: i64 },
    NotYetValid { nbf: i64, now: i64 },
    AudienceMismatch { expected: String, actual: Option<String> },
    MissingClaim { name: String, near_miss: Option<String> },
    InvalidIdentity(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed token: {why}"),
            Self::Jwe => write!(f, "encrypted token (JWE) not accepted"),
            Self::AlgNotAllowed(alg) => write!(f, "algorithm `{alg}` not allowed"),
            Self::BadSignature => write!(f, "bad signature"),
            Self::Expired { exp, now } => write!(f, "expired (exp {exp}, now {now})"),
            Self::NotYetValid { nbf, now } => write!(f, "not yet valid (nbf {nbf}, now {now})"),
            Self::AudienceMismatch { expected, actual } => {
                write!(f, "audience mismatch (expected `{expected}`, got {})", actual.as_deref().unwrap_or("none"))
            }
            Self::MissingClaim { name, near_miss: Some(near) } => {
                write!(f, "missing claim `{name}` (found `{near}`: claim names are case-sensitive)")
            }
            Self::MissingClaim { name, near_miss: None } => write!(f, "missing claim `{name}`"),
            Self::InvalidIdentity(why) => write!(f, "invalid identity: {why}"),
        }
    }
}

/// A verified token.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) user_id: Option<String>,
    pub(crate) user_directory: Option<String>,
}

/// What a token must satisfy, built once per virtual proxy.
#[derive(Debug, Clone)]
pub(crate) struct Verifier {
    pub(crate) algs: Vec<SignatureAlg>,
    pub(crate) key: PublicKey,
    pub(crate) user_claim: Option<String>,
    pub(crate) directory_claim: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway_s: i64,
}

fn decode_json(segment: &str, what: &str) -> Result<Map<String, Value>, Rejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Rejection::Malformed(format!("{what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Rejection::Malformed(format!("{what} is not a JSON object"))),
    }
}

fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| Rejection::Malformed(format!("`{name}` is not a number"))),
        Some(_) => Err(Rejection::Malformed(format!("`{name}` is not a number"))),
    }
}

impl Verifier {
    fn identity(&self, claims: &Map<String, Value>, name: &str) -> Result<String, Rejection> {
        let Some(value) = claims.get(name) else {
            let near_miss = claims.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
            return Err(Rejection::MissingClaim { name: name.to_owned(), near_miss });
        };
        let Some(text) = value.as_str() else {
            return Err(Rejection::InvalidIdentity(format!("`{name}` is not a string")));
        };
        if text.trim().is_empty() {
            return Err(Rejection::InvalidIdentity(format!("`{name}` is empty")));
        }
        if text.contains('\\') {
            return Err(Rejection::InvalidIdentity(format!("`{name}` contains a backslash")));
        }
        Ok(text.trim().to_owned())
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch); the first reason wins.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Verified, Rejection> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() == 5 {
            return Err(Rejection::Jwe);
        }
        let [h, p, s] = parts.as_slice() else {
            return Err(Rejection::Malformed(format!("{} segments, expected 3", parts.len())));
        };
        let header = decode_json(h, "header")?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("").to_owned();
        if header.contains_key("enc") {
            return Err(Rejection::Jwe);
        }
        let Some(alg) = self.algs.iter().copied().find(|a| a.name() == alg_name) else {
            return Err(Rejection::AlgNotAllowed(alg_name));
        };
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| Rejection::Malformed("signature is not base64url".to_owned()))?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        if !self.key.verify(alg, signing_input.as_bytes(), &sig) {
            return Err(Rejection::BadSignature);
        }
        let claims = decode_json(p, "payload")?;
        if let Some(exp) = time_claim(&claims, "exp")?
            && now >= exp.saturating_add(self.leeway_s)
        {
            return Err(Rejection::Expired { exp, now });
        }
        if let Some(nbf) = time_claim(&claims, "nbf")?
            && nbf > now.saturating_add(self.leeway_s)
        {
            return Err(Rejection::NotYetValid { nbf, now });
        }
        if let Some(expected) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => a == expected,
                Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(expected)),
                _ => false,
            };
            if !ok {
                let actual = claims.get("aud").map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned));
                return Err(Rejection::AudienceMismatch { expected: expected.clone(), actual });
            }
        }
        let user_id = self.user_claim.as_deref().map(|c| self.identity(&claims, c)).transpose()?;
        let user_directory = self.directory_claim.as_deref().map(|c| self.identity(&claims, c)).transpose()?;
        Ok(Verified { header, claims, user_id, user_directory })
    }
}
