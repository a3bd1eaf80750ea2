//! How tokens and secrets are shown in any output: never in full.
//!
//! [`redact`] keeps a token's header and payload (they are what a reader needs to debug) and
//! replaces the signature with a short fingerprint, so two outputs can still be compared.
//! [`redact_secret`] shows only the length and a fingerprint of a cookie value or HMAC secret.
//! [`redact_header`] applies both to a header value by name (Authorization, Cookie,
//! Set-Cookie, …); the run's request/response summaries and the checks' `actual` text both
//! use it, so every report shows a secret the same way.

use std::fmt::Write as _;

/// The first 8 hex digits of the SHA-256 of `bytes`.
fn fingerprint(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref()[..4]
        .iter()
        .fold(String::with_capacity(8), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A token for display: `<header>.<payload>.…sig:1a2b3c4d`.
///
/// The signature (and anything after the second dot) is replaced by the first 8 hex digits of
/// its SHA-256. An empty signature stays visible as `<header>.<payload>.`; a token with fewer
/// than two dots (garbage, or a secret pasted by mistake) is shown as [`redact_secret`] does.
#[must_use]
pub fn redact(token: &str) -> String {
    let mut parts = token.splitn(3, '.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return redact_secret(token);
    };
    match parts.next() {
        None => format!("{header}.{payload}"),
        Some("") => format!("{header}.{payload}."),
        Some(rest) => format!("{header}.{payload}.…sig:{}", fingerprint(rest.as_bytes())),
    }
}

/// A secret for display: `••••(len 36, sha256:1a2b3c4d)`.
#[must_use]
pub fn redact_secret(secret: &str) -> String {
    redact_secret_bytes(secret.as_bytes())
}

/// [`redact_secret`] for bytes.
#[must_use]
pub fn redact_secret_bytes(secret: &[u8]) -> String {
    format!("••••(len {}, sha256:{})", secret.len(), fingerprint(secret))
}

/// The names of headers whose values are secrets.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-qlik-session",
];

/// Redacts a header value: `token` (when it appears) becomes its [`redact`] form, cookie
/// values are hidden, and any other credential header keeps only its scheme.
#[must_use]
pub fn redact_header(name: &str, value: &str, token: Option<&str>) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "cookie" || lower == "set-cookie" {
        return redact_cookies(value);
    }
    if let Some(t) = token.filter(|t| !t.is_empty())
        && value.contains(t)
    {
        return value.replace(t, &redact(t));
    }
    if SECRET_HEADERS.contains(&lower.as_str()) {
        // An Authorization value we did not mint (a `Basic` header from the YAML): keep the
        // scheme, hide the rest.
        return match value.split_once(' ') {
            Some((scheme, rest)) => format!("{scheme} {}", redact_secret(rest)),
            None => redact_secret(value),
        };
    }
    value.to_owned()
}

/// Hides every cookie value in a `Cookie` or `Set-Cookie` header, keeping names and
/// attributes: `X-Qlik-Session-jwt=••••(len 36, sha256:…); Path=/; HttpOnly`.
#[must_use]
pub fn redact_cookies(value: &str) -> String {
    let mut parts = Vec::new();
    for (i, part) in value.split(';').enumerate() {
        let trimmed = part.trim();
        match trimmed.split_once('=') {
            // In a Set-Cookie only the first pair is the cookie; the rest are attributes.
            Some((k, v)) if i == 0 || !is_cookie_attribute(k) => {
                parts.push(format!("{k}={}", redact_secret(v)));
            }
            _ => parts.push(trimmed.to_owned()),
        }
    }
    parts.join("; ")
}

/// Whether `name` is a Set-Cookie attribute rather than a cookie.
fn is_cookie_attribute(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "path" | "domain" | "expires" | "max-age" | "samesite" | "secure" | "httponly" | "priority"
    )
}

/// Text with every JWT-shaped run in it (`eyJ…` header, payload and signature in base64url)
/// redacted by [`redact`]: for strings a user wrote that may hold a token, such as a matrix
/// label (`name[eyJ…]`) or a capture's value in a message.
#[must_use]
pub fn redact_in_text(text: &str) -> String {
    static JWT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = JWT.get_or_init(|| {
        regex::Regex::new(r"eyJ[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]*\.[A-Za-z0-9_=+/-]+")
            .expect("the pattern is a valid regex")
    });
    re.replace_all(text, |c: &regex::Captures<'_>| redact(&c[0]))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_inside_text_are_redacted_and_the_rest_kept() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJVc2VySWQiOiJhIn0.c2lnbmF0dXJlLXNlY3JldA";
        let shown = redact_in_text(&format!("replay[{token}] and eyJonly.two"));
        assert!(!shown.contains("c2lnbmF0dXJlLXNlY3JldA"), "{shown}");
        assert!(shown.starts_with("replay[eyJhbGciOiJSUzI1NiJ9.eyJVc2VySWQiOiJhIn0.…sig:"));
        assert!(shown.ends_with("] and eyJonly.two"), "{shown}");
    }

    #[test]
    fn redacted_token_keeps_header_and_payload_but_not_signature() {
        let shown = redact("aGVhZGVy.cGF5bG9hZA.c2lnbmF0dXJlLXNlY3JldA");
        assert!(shown.starts_with("aGVhZGVy.cGF5bG9hZA.…sig:"), "{shown}");
        assert!(!shown.contains("c2lnbmF0dXJlLXNlY3JldA"));
        assert_eq!(shown.len(), "aGVhZGVy.cGF5bG9hZA.…sig:".len() + 8);
    }

    #[test]
    fn different_signatures_get_different_fingerprints() {
        assert_ne!(redact("a.b.c1"), redact("a.b.c2"));
        assert_eq!(redact("a.b.c1"), redact("a.b.c1"));
    }

    #[test]
    fn empty_and_omitted_signatures_stay_visible() {
        assert_eq!(redact("a.b."), "a.b.");
        assert_eq!(redact("a.b"), "a.b");
    }

    #[test]
    fn single_segment_is_redacted_as_a_secret() {
        let shown = redact("supersecretvalue");
        assert!(!shown.contains("supersecret"));
        assert!(shown.contains("len 16"));
    }

    #[test]
    fn redacted_secret_shows_length_and_fingerprint_only() {
        let shown = redact_secret("0123456789abcdef0123456789abcdef0123");
        assert!(shown.starts_with("••••(len 36, sha256:"), "{shown}");
        assert!(!shown.contains("0123456789"));
    }
}
