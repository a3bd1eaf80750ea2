//! The `rfc6750` profile: a plain bearer-token resource server behind a path prefix, the
//! conformance pack's test double.
//!
//! No token: 401 with `WWW-Authenticate: Bearer realm="jwtprobe"` (RFC 6750 §3.1: no error
//! code). A bad token: 401 with `error="invalid_token"` and an `error_description`. A valid
//! token: 200 with the identity as JSON; no sessions, no cookies. The prefix matches exactly
//! (`/JWT/` is not `/jwt/`). Each laxity switch of the virtual proxy turns off the check behind
//! one security property; with every switch off this profile holds every property the pack
//! checks.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::response::Response;
use base64::Engine as _;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use super::qseow::VpRuntime;
use super::verify::reason;
use super::{AuthHeader, Ctx, RouteClass, auth_header, status};
use crate::jose::Alg;
use crate::keys::{self, Certificate};
use crate::token::{HmacKey, Rejection, Verified, VerifyKey};

/// The realm every challenge names.
const REALM: &str = "jwtprobe";

/// Answers a request on the `rfc6750` profile.
pub(crate) async fn handle(ctx: &Ctx<'_>) -> Response {
    let inner = ctx.inner();
    let path = ctx.parts.uri.path();
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let prefix = trimmed.split('/').next().unwrap_or("");
    let Some(vp) = inner.vps.iter().find(|vp| vp.serves(prefix)) else {
        inner.hits.route(RouteClass::UnknownPrefix);
        let r = super::json(StatusCode::NOT_FOUND, &json!({"error": "not_found"}));
        return ctx.with_reason(r, &format!("no resource server at prefix `{prefix}`"));
    };
    inner.hits.route(RouteClass::OtherVp);
    if ctx.header_bytes() > vp.config.max_header_bytes {
        inner.hits.route(RouteClass::Refused);
        let mut r = super::text(
            status(vp.config.statuses.header_too_large),
            "text/plain; charset=utf-8",
            "request header fields too large",
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return ctx.with_reason(r, "request headers too large");
    }
    let token = match auth_header(ctx.headers(), vp.config.bearer_scheme_case_insensitive) {
        AuthHeader::Bearer("") => {
            return challenge(
                ctx,
                StatusCode::BAD_REQUEST,
                Some(("invalid_request", "the Bearer credentials are empty")),
            );
        }
        AuthHeader::Bearer(token) => token.to_owned(),
        AuthHeader::Absent | AuthHeader::OtherScheme => match query_token(ctx, vp) {
            Some(token) => token,
            None => return challenge(ctx, StatusCode::UNAUTHORIZED, None),
        },
    };
    match verify(ctx, vp, &token).await {
        Ok(verified) => {
            inner.hits.accepted.fetch_add(1, Ordering::Relaxed);
            super::json(
                StatusCode::OK,
                &json!({
                    "user": verified.user_id,
                    "directory": verified.user_directory,
                    "alg": verified.alg.name(),
                }),
            )
        }
        Err(r) => {
            let description = r.to_string();
            let response = challenge(
                ctx,
                status(vp.config.statuses.reject),
                Some(("invalid_token", &description)),
            );
            ctx.with_reason(response, &reason(&r))
        }
    }
}

/// The token in `?access_token=`, under the `accept_query_token` laxity switch (RFC 6750 §2.3
/// says a resource server should not take it).
fn query_token(ctx: &Ctx<'_>, vp: &VpRuntime) -> Option<String> {
    if !vp.config.laxity.accept_query_token {
        return None;
    }
    url::form_urlencoded::parse(ctx.parts.uri.query()?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// A 401 (or 400) with the Bearer challenge; `error` is the RFC 6750 error code and its
/// description.
fn challenge(ctx: &Ctx<'_>, code: StatusCode, error: Option<(&str, &str)>) -> Response {
    let inner = ctx.inner();
    match error {
        Some(("invalid_token", _)) => inner.hits.rejected.fetch_add(1, Ordering::Relaxed),
        _ => inner.hits.no_token.fetch_add(1, Ordering::Relaxed),
    };
    let mut value = format!("Bearer realm=\"{REALM}\"");
    if let Some((code, description)) = error {
        let clean: String = description
            .chars()
            .map(|c| {
                if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                    c
                } else {
                    '\''
                }
            })
            .take(200)
            .collect();
        value.push_str(&format!(
            ", error=\"{code}\", error_description=\"{clean}\""
        ));
    }
    let mut r = super::json(
        code,
        &json!({"error": error.map_or("unauthorized", |(c, _)| c)}),
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    let why = error.map_or("no bearer token", |(_, d)| d).to_owned();
    ctx.with_reason(r, &why)
}

/// The token's header, decoded leniently (the verifier judges it properly).
fn header_of(token: &str) -> Map<String, Value> {
    let first = token.split('.').next().unwrap_or("");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Verifies with the configured certificate, or with the key a laxity switch lets the token
/// choose (`kid` as a file name, an embedded `jwk`/`x5c`, a fetched `jku`/`x5u`).
async fn verify(ctx: &Ctx<'_>, vp: &VpRuntime, token: &str) -> Result<Verified, Rejection> {
    let now = ctx.inner().clock.now_s();
    let lax = &vp.config.laxity;
    let header = header_of(token);
    let kid = header.get("kid").and_then(Value::as_str);
    if lax.kid_selects_file
        && let Some(kid) = kid
    {
        // What a server that opens `kid` as a key file reads: nothing from `/dev/null`, and
        // the injected `'1'` from an SQL lookup. Nothing is read from disk here.
        let secret: Option<&[u8]> = if kid.contains("/dev/null") {
            Some(b"")
        } else if kid.contains('\'') {
            Some(b"1")
        } else {
            None
        };
        if let Some(secret) = secret {
            let hmac = vec![Alg::HS256, Alg::HS384, Alg::HS512];
            return vp.verifier().verify_with_key(
                token,
                VerifyKey::Hmac(HmacKey::new(secret)),
                Some(hmac),
                now,
            );
        }
    }
    if let (Some(expected), Some(kid)) = (&vp.config.kid, kid)
        && expected != kid
    {
        return Err(Rejection::Malformed(format!(
            "no key is known by `kid` `{kid}`"
        )));
    }
    if lax.trust_embedded_key
        && let Some(key) = embedded_key(&header)
    {
        return vp
            .verifier()
            .verify_with_key(token, VerifyKey::Public(key), None, now);
    }
    if lax.fetch_key_url
        && let Some(key) = fetched_key(&header).await
    {
        return vp
            .verifier()
            .verify_with_key(token, VerifyKey::Public(key), None, now);
    }
    vp.verifier().verify(token, now)
}

/// The key in the header's `jwk`, or in the first certificate of `x5c`.
fn embedded_key(header: &Map<String, Value>) -> Option<keys::PublicKey> {
    if let Some(jwk) = header.get("jwk") {
        return keys::public_key_from_jwk(&jwk.to_string());
    }
    let first = header.get("x5c")?.as_array()?.first()?.as_str()?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(first)
        .ok()?;
    Certificate::from_der(&der)
        .ok()
        .map(|c| c.public_key().clone())
}

/// The key served at the header's `jku` (a JWK Set) or `x5u` (a PEM certificate).
async fn fetched_key(header: &Map<String, Value>) -> Option<keys::PublicKey> {
    let (url, is_jwks) = match (header.get("jku"), header.get("x5u")) {
        (Some(Value::String(u)), _) => (u.clone(), true),
        (_, Some(Value::String(u))) => (u.clone(), false),
        _ => return None,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let text = client.get(&url).send().await.ok()?.text().await.ok()?;
    if is_jwks {
        return keys::public_key_from_jwk(&text);
    }
    let block = pem::parse(text.as_bytes()).ok()?;
    Certificate::from_der(block.contents())
        .ok()
        .map(|c| c.public_key().clone())
}
