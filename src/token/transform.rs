//! Transforms of a minted compact token: what an attacker does to a token *after* it was
//! signed. [`tamper_claims`] changes claims and keeps header and signature (a tampered
//! payload, so no fixture has to be edited by hand when keys change); [`json_serialization`]
//! re-packs the same three parts as JWS JSON (RFC 7515 §7.2), which a bearer-token verifier
//! must not accept.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// Why a token could not be transformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The token is not three dot-separated segments.
    #[error("the token is not a compact JWS (header.payload.signature)")]
    NotCompact,
    /// The payload is not base64url JSON of an object, so claims cannot be changed.
    #[error("the payload is not a base64url JSON object, so its claims cannot be changed")]
    PayloadNotObject,
}

fn segments(compact: &str) -> Result<(&str, &str, &str), TransformError> {
    let mut parts = compact.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) if !s.contains('.') => Ok((h, p, s)),
        _ => Err(TransformError::NotCompact),
    }
}

/// The token with `changes` merged into its claims after signing: header and signature are
/// kept, so the signature no longer covers the payload. A change whose value is the string
/// `omit` removes the claim.
///
/// # Errors
/// [`TransformError`] when the token is not compact or its payload is not a JSON object.
pub fn tamper_claims(
    compact: &str,
    changes: &Map<String, Value>,
) -> Result<String, TransformError> {
    let (h, p, s) = segments(compact)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| TransformError::PayloadNotObject)?;
    let mut claims: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| TransformError::PayloadNotObject)?;
    for (name, value) in changes {
        if value.as_str() == Some("omit") {
            claims.shift_remove(name);
        } else {
            claims.insert(name.clone(), value.clone());
        }
    }
    let payload = serde_json::to_vec(&claims).map_err(|_| TransformError::PayloadNotObject)?;
    Ok(format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(payload)))
}

/// The token's parts as JWS JSON: flattened (`{"protected", "payload", "signature"}`) or, with
/// `general`, `{"payload", "signatures": [{"protected", "signature"}]}`.
///
/// # Errors
/// [`TransformError::NotCompact`] when the token is not three segments.
pub fn json_serialization(compact: &str, general: bool) -> Result<String, TransformError> {
    let (h, p, s) = segments(compact)?;
    let value = if general {
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]})
    } else {
        json!({"protected": h, "payload": p, "signature": s})
    };
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn tampered_claims_keep_header_and_signature() {
        let token = format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "RS256"})),
            b64(&json!({"UserId": "alice", "exp": 1}))
        );
        let mut changes = Map::new();
        changes.insert("UserId".into(), json!("admin"));
        changes.insert("exp".into(), json!("omit"));
        let tampered = tamper_claims(&token, &changes).unwrap();
        let (h, p, s) = segments(&tampered).unwrap();
        assert_eq!(h, b64(&json!({"alg": "RS256"})));
        assert_eq!(s, "c2ln");
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        assert_eq!(claims, json!({"UserId": "admin"}));
    }

    #[test]
    fn json_serializations_hold_the_same_three_parts() {
        let flat: Value =
            serde_json::from_str(&json_serialization("a.b.c", false).unwrap()).unwrap();
        assert_eq!(
            flat,
            json!({"protected": "a", "payload": "b", "signature": "c"})
        );
        let general: Value =
            serde_json::from_str(&json_serialization("a.b.c", true).unwrap()).unwrap();
        assert_eq!(general["signatures"][0]["protected"], "a");
        assert_eq!(
            json_serialization("a.b", true),
            Err(TransformError::NotCompact)
        );
    }
}
