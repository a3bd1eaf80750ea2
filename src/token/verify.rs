//! The one verification path: [`verify`] (first reason) and [`inspect`] (every reason).

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::hmac_of;
use super::pick::{PickError, pick};
use crate::jose::Alg;
use crate::keys::PublicKey;

/// What a token must satisfy; built once (the key is parsed once) and shared.
#[derive(Debug, Clone)]
pub struct VerifyPolicy {
    /// The algorithms accepted in the header's `alg`; `none` is refused unless listed.
    pub algs: Vec<Alg>,
    /// The key that checks signatures.
    pub key: VerifyKey,
    /// The claim that must hold the user id (Qlik: `UserId`), exact case; `None` skips it.
    pub user_claim: Option<String>,
    /// The claim that must hold the user directory (Qlik: `UserDirectory`); `None` skips it.
    pub directory_claim: Option<String>,
    /// The audience the `aud` claim must contain; `None` skips the check.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_s: i64,
}

/// The checks of a verifier beyond the signature and the identity claims, each of which a
/// real proxy may relax (the emulator's laxity switches turn them off one by one).
///
/// [`Checks::STRICT`] is what [`verify`] applies: `exp`, when present, must be a number and in
/// the future; `nbf` and `iat` must not be in the future; `crit` and `b64: false` are refused
/// (jwtprobe understands no JWS extension, RFC 7515 §4.1.11); claim names match exactly.
/// A missing `exp` is accepted (RFC 7519 makes it optional; Qlik documents it); a profile that
/// requires it sets `exp_required`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks {
    /// Refuse a token without `exp`.
    pub exp_required: bool,
    /// Refuse an `exp` or `nbf` that is not a number (`"exp": "1700000000"`); off, a malformed
    /// value is ignored.
    pub time_claims_numeric: bool,
    /// Refuse a token whose `nbf` is in the future (beyond the leeway).
    pub nbf: bool,
    /// Refuse a token whose `iat` is in the future (beyond the leeway).
    pub iat: bool,
    /// Refuse a header with `crit` (no extension is understood) or with `b64` other than `true`.
    pub crit: bool,
    /// The issuer the `iss` claim must equal; `None` skips the check.
    pub issuer: Option<String>,
    /// Match the identity claim names exactly (off: a claim differing only in case is taken).
    pub exact_claim_names: bool,
}

impl Checks {
    /// Every check on, `exp` optional, no issuer.
    pub const STRICT: Self = Self {
        exp_required: false,
        time_claims_numeric: true,
        nbf: true,
        iat: true,
        crit: true,
        issuer: None,
        exact_claim_names: true,
    };
}

impl Default for Checks {
    fn default() -> Self {
        Self::STRICT
    }
}

/// The key a [`VerifyPolicy`] checks signatures with.
#[derive(Clone)]
pub enum VerifyKey {
    /// A public key (from the certificate the proxy trusts), for RSA, ECDSA and EdDSA.
    Public(PublicKey),
    /// An HMAC secret, for HS256/384/512 (`secret.into()` from a `Vec<u8>` or a byte slice).
    Hmac(HmacKey),
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Public(k) => f.debug_tuple("Public").field(k).finish(),
            Self::Hmac(s) => write!(f, "Hmac(len {})", s.len()),
        }
    }
}

/// An HMAC secret prepared once for HS256, HS384 and HS512 (each key's inner and outer pads
/// hashed up front), so that verifying a token does not redo it; cheap to clone.
#[derive(Clone)]
pub struct HmacKey {
    len: usize,
    keys: Arc<[hmac::Key; 3]>,
}

impl HmacKey {
    /// Prepares `secret` for the three HMAC algorithms.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        let key = |alg| hmac::Key::new(alg, secret);
        Self {
            len: secret.len(),
            keys: Arc::new([
                key(hmac::HMAC_SHA256),
                key(hmac::HMAC_SHA384),
                key(hmac::HMAC_SHA512),
            ]),
        }
    }

    /// The secret's length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the secret is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The prepared key for `alg`.
    fn key(&self, alg: hmac::Algorithm) -> Option<&hmac::Key> {
        self.keys.iter().find(|k| k.algorithm() == alg)
    }
}

impl From<&[u8]> for HmacKey {
    fn from(secret: &[u8]) -> Self {
        Self::new(secret)
    }
}

impl From<Vec<u8>> for HmacKey {
    fn from(secret: Vec<u8>) -> Self {
        Self::new(&secret)
    }
}

/// A token that passed every check.
///
/// Verification reads only what it checks (`alg`, `exp`, `nbf`, `aud`, the identity claims);
/// the full header and claims are parsed from the kept JSON on first use of [`header`] or
/// [`claims`], so a caller that needs only the identity pays nothing for them.
///
/// [`header`]: Self::header
/// [`claims`]: Self::claims
#[derive(Clone)]
pub struct Verified {
    /// The header's `alg`, one the policy accepts.
    pub alg: Alg,
    /// The value of the policy's user claim, when the policy names one.
    pub user_id: Option<String>,
    /// The value of the policy's directory claim, when the policy names one.
    pub user_directory: Option<String>,
    /// The decoded header JSON followed by the decoded payload JSON.
    json: Vec<u8>,
    /// Where the payload starts in `json`.
    header_len: usize,
    header: OnceLock<Map<String, Value>>,
    claims: OnceLock<Map<String, Value>>,
}

impl Verified {
    /// The decoded header, parsed on first use.
    #[must_use]
    pub fn header(&self) -> &Map<String, Value> {
        self.header.get_or_init(|| object_of(self.header_json()))
    }

    /// The decoded claims, parsed on first use (insertion order kept; of duplicate names, the
    /// last value, as verification saw it).
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.get_or_init(|| object_of(self.claims_json()))
    }

    /// The header JSON exactly as decoded from the token.
    #[must_use]
    pub fn header_json(&self) -> &[u8] {
        &self.json[..self.header_len]
    }

    /// The payload JSON exactly as decoded from the token.
    #[must_use]
    pub fn claims_json(&self) -> &[u8] {
        &self.json[self.header_len..]
    }
}

/// Parses JSON that verification already checked is an object. That check accepts exactly what
/// `serde_json` accepts, so the empty fallback is never taken; it only keeps this panic-free.
fn object_of(json: &[u8]) -> Map<String, Value> {
    serde_json::from_slice(json).unwrap_or_default()
}

impl PartialEq for Verified {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg
            && self.user_id == other.user_id
            && self.user_directory == other.user_directory
            && self.json == other.json
            && self.header_len == other.header_len
    }
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("alg", &self.alg)
            .field("user_id", &self.user_id)
            .field("user_directory", &self.user_directory)
            .field("header", self.header())
            .field("claims", self.claims())
            .finish()
    }
}

/// Why a token is refused. Display is written for a Qlik administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url segments of JSON objects; the text says what is wrong.
    Malformed(String),
    /// An encrypted token (five segments); the proxy expects a signed one.
    Jwe,
    /// The header's `alg` is not one the policy accepts (the text is the `alg` value).
    AlgNotAllowed(String),
    /// The signature does not verify with the policy's key.
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired {
        /// The `exp` claim, seconds since the Unix epoch.
        exp: i64,
        /// The time of the check, seconds since the Unix epoch.
        now: i64,
    },
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid {
        /// The `nbf` claim, seconds since the Unix epoch.
        nbf: i64,
        /// The time of the check, seconds since the Unix epoch.
        now: i64,
    },
    /// The `aud` claim does not contain the expected audience.
    AudienceMismatch {
        /// The audience the policy expects.
        expected: String,
        /// What the token has (array members joined with `, `); `None` when `aud` is absent.
        actual: Option<String>,
    },
    /// An identity claim is absent.
    MissingClaim {
        /// The claim name the policy expects (exact case).
        name: String,
        /// A claim present under a name that differs only in case (`userid` for `UserId`).
        near_miss: Option<String>,
    },
    /// An identity claim is present but unusable; the text says why.
    InvalidIdentity(String),
    /// The header lists critical extensions (`crit`) or uses `b64: false` (RFC 7797), which
    /// are not understood, or `crit` itself is malformed; the text says which.
    Critical(String),
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture {
        /// The `iat` claim, seconds since the Unix epoch.
        iat: i64,
        /// The time of the check, seconds since the Unix epoch.
        now: i64,
    },
    /// The `iss` claim is not the expected issuer.
    IssuerMismatch {
        /// The issuer expected.
        expected: String,
        /// What the token has; `None` when `iss` is absent.
        actual: Option<String>,
    },
}

impl Rejection {
    /// A short stable name for logs and counters (`bad_signature`, `expired`, …).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Jwe => "jwe",
            Self::AlgNotAllowed(_) => "alg_not_allowed",
            Self::BadSignature => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::AudienceMismatch { .. } => "audience_mismatch",
            Self::MissingClaim { .. } => "missing_claim",
            Self::InvalidIdentity(_) => "invalid_identity",
            Self::Critical(_) => "crit",
            Self::IssuedInFuture { .. } => "iat_in_future",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
        }
    }
}

/// `2025-01-01T00:00:00Z`, or the number itself when it is out of range (messages, `token
/// inspect`, `keys show`).
#[must_use]
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// "5 minutes", "1 hour", "3 days", "2 years": a rough human duration, rounded down, sign
/// dropped. The one wording of a time span in every message (verify, inspect, probe).
#[must_use]
pub fn human_span(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (n, unit) = match s {
        0..60 => (s, "second"),
        60..3600 => (s / 60, "minute"),
        3600..86_400 => (s / 3600, "hour"),
        86_400..31_536_000 => (s / 86_400, "day"),
        _ => (s / 31_536_000, "year"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// "in 55 minutes" or "5 minutes ago": `t` against `now`, both in seconds since the Unix epoch.
#[must_use]
pub fn human_time(t: i64, now: i64) -> String {
    if t >= now {
        format!("in {}", human_span(t - now))
    } else {
        format!("{} ago", human_span(now - t))
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed token: {why}"),
            Self::Jwe => f.write_str(
                "the token is encrypted (JWE, 5 segments); the proxy expects a signed JWT (3 segments)",
            ),
            Self::AlgNotAllowed(alg) if alg == "none" => {
                f.write_str("algorithm `none` (an unsigned token) is not accepted")
            }
            Self::AlgNotAllowed(alg) => write!(f, "algorithm `{alg}` is not accepted"),
            Self::BadSignature => f.write_str(
                "signature does not verify with the configured certificate \
                 (signed with another key, or the token was altered)",
            ),
            Self::Expired { exp, now } => write!(
                f,
                "token expired {} ago (exp {})",
                human_span(now - exp),
                rfc3339(*exp)
            ),
            Self::NotYetValid { nbf, now } => write!(
                f,
                "token is not valid for another {} (nbf {})",
                human_span(nbf - now),
                rfc3339(*nbf)
            ),
            Self::AudienceMismatch {
                expected,
                actual: Some(actual),
            } => write!(f, "audience `{actual}` does not match the expected `{expected}`"),
            Self::AudienceMismatch {
                expected,
                actual: None,
            } => write!(f, "claim `aud` is missing; expected `{expected}`"),
            Self::MissingClaim {
                name,
                near_miss: Some(near),
            } => write!(
                f,
                "claim `{name}` is missing; found `{near}`, which differs only in case"
            ),
            Self::MissingClaim {
                name,
                near_miss: None,
            } => write!(f, "claim `{name}` is missing"),
            Self::InvalidIdentity(why) => f.write_str(why),
            Self::Critical(why) => f.write_str(why),
            Self::IssuedInFuture { iat, now } => write!(
                f,
                "token was issued {} in the future (iat {})",
                human_span(iat - now),
                rfc3339(*iat)
            ),
            Self::IssuerMismatch {
                expected,
                actual: Some(actual),
            } => write!(f, "issuer `{actual}` does not match the expected `{expected}`"),
            Self::IssuerMismatch {
                expected,
                actual: None,
            } => write!(f, "claim `iss` is missing; expected `{expected}`"),
        }
    }
}

impl std::error::Error for Rejection {}

/// Whether and how the signature was checked, for [`Inspection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// It verifies with the policy's key.
    Verified,
    /// It does not verify with the policy's key.
    Invalid,
    /// `alg: none` with an empty signature: nothing to check.
    Unsigned,
    /// It could not be checked; the text says why (unknown `alg`, HMAC with a public key, …).
    NotChecked(String),
    /// No key was given, so it was not checked.
    NoKey,
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verified => f.write_str("verified"),
            Self::Invalid => f.write_str("does not verify"),
            Self::Unsigned => f.write_str("none (unsigned token)"),
            Self::NotChecked(why) => write!(f, "not checked: {why}"),
            Self::NoKey => f.write_str("not checked: no key given"),
        }
    }
}

/// Everything [`inspect`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// How many dot-separated segments the token has.
    pub segments: usize,
    /// The decoded header, when it decodes to a JSON object.
    pub header: Option<Map<String, Value>>,
    /// The decoded claims, when they decode to a JSON object.
    pub claims: Option<Map<String, Value>>,
    /// The header's `alg`, as written.
    pub alg: Option<String>,
    /// Whether the signature was checked, and the result.
    pub signature: SignatureStatus,
    /// Every reason the policy refuses the token; empty when it would be accepted.
    pub rejections: Vec<Rejection>,
    /// The user claim's value, when present and valid.
    pub user_id: Option<String>,
    /// The directory claim's value, when present and valid.
    pub user_directory: Option<String>,
}

impl Inspection {
    /// Whether the policy accepts the token (no rejection).
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        self.rejections.is_empty()
    }
}

/// Longest signature accepted: 1024 bytes (RSA 8192).
const MAX_SIG: usize = 1024;

/// Longest token accepted: 1 MiB, far above what any proxy lets through in a header (8–64 KiB),
/// so that a huge input is refused before it is decoded.
const MAX_TOKEN_LEN: usize = 1 << 20;

fn too_long(len: usize) -> Rejection {
    Rejection::Malformed(format!(
        "the token is {len} bytes long; at most {MAX_TOKEN_LEN} bytes are accepted"
    ))
}

fn not_base64(what: &str, e: &base64::DecodeError) -> Rejection {
    Rejection::Malformed(format!("the {what} is not base64url ({e})"))
}

fn not_object(what: &str) -> Rejection {
    Rejection::Malformed(format!("the {what} is JSON but not an object"))
}

fn not_json(what: &str, e: &serde_json::Error) -> Rejection {
    Rejection::Malformed(format!("the {what} is not valid JSON ({e})"))
}

fn pick_error(what: &str, e: &PickError) -> Rejection {
    match e {
        PickError::NotObject => not_object(what),
        PickError::Json(e) => not_json(what, e),
    }
}

fn decode_json(segment: &str, what: &str) -> Result<Map<String, Value>, Rejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| not_base64(what, &e))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(not_object(what)),
        Err(e) => Err(not_json(what, &e)),
    }
}

fn segments_error(n: usize) -> Rejection {
    if n == 5 {
        Rejection::Jwe
    } else {
        Rejection::Malformed(format!(
            "expected 3 segments separated by dots (header.payload.signature), found {n}"
        ))
    }
}

/// The SIMD base64url decoder (no padding). It accepts exactly what [`URL_SAFE_NO_PAD`] accepts
/// (the 64 URL-safe symbols, no `=`, a length that is not 1 modulo 4, zero trailing bits) and
/// decodes it to the same bytes, but its error says nothing; so it runs first, and on a refusal
/// the `base64` crate decodes again to name the error. Agreement is tested below.
const FAST_BASE64: base64_simd::Base64 = base64_simd::URL_SAFE_NO_PAD;

/// Appends the base64url decoding of `segment` to `out`, as `URL_SAFE_NO_PAD.decode_vec`.
fn decode_append(segment: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    let len = out.len();
    if FAST_BASE64.decode_append(segment, out).is_ok() {
        return Ok(());
    }
    out.truncate(len);
    URL_SAFE_NO_PAD.decode_vec(segment, out)
}

/// The signature segment decoded into `buf` by the SIMD decoder alone; its length, or `None`
/// when the segment is too long or not valid base64url (then it may also hold a dot).
fn decode_sig_fast(segment: &str, buf: &mut [u8; MAX_SIG]) -> Option<usize> {
    if segment.len() > MAX_SIG * 4 / 3 + 4 {
        return None;
    }
    let len = FAST_BASE64.decoded_length(segment.as_bytes()).ok()?;
    let dst = buf.get_mut(..len)?;
    FAST_BASE64
        .decode(segment.as_bytes(), base64_simd::Out::from_slice(dst))
        .ok()?;
    Some(len)
}

/// Decodes the signature segment into `buf`; returns its length.
fn decode_sig(segment: &str, buf: &mut [u8; MAX_SIG]) -> Result<usize, Rejection> {
    if segment.len() > MAX_SIG * 4 / 3 + 4 {
        return Err(Rejection::BadSignature);
    }
    if let Some(len) = decode_sig_fast(segment, buf) {
        return Ok(len);
    }
    URL_SAFE_NO_PAD
        .decode_slice(segment, buf)
        .map_err(|e| Rejection::Malformed(format!("the signature is not base64url ({e})")))
}

fn header_alg(alg: Option<&Value>) -> Result<&str, Rejection> {
    match alg {
        Some(Value::String(alg)) => Ok(alg),
        Some(_) => Err(Rejection::Malformed(
            "`alg` in the header is not a string".to_owned(),
        )),
        None => Err(Rejection::Malformed("the header has no `alg`".to_owned())),
    }
}

fn allowed_alg(alg: &str, policy: &VerifyPolicy) -> Result<Alg, Rejection> {
    Alg::from_name(alg)
        .filter(|a| policy.algs.contains(a))
        .ok_or_else(|| Rejection::AlgNotAllowed(alg.to_owned()))
}

/// Checks a signature; `Err` explains why it could not be checked at all.
fn check_signature(alg: Alg, key: &VerifyKey, input: &[u8], sig: &[u8]) -> Result<bool, String> {
    match (alg, key) {
        (Alg::None, _) => Ok(sig.is_empty()),
        (a, VerifyKey::Hmac(secret)) => match hmac_of(a) {
            Some(h) => Ok(secret
                .key(h)
                .is_some_and(|key| hmac::verify(key, input, sig).is_ok())),
            None => Err(format!(
                "`{a}` needs a public key; the key given is an HMAC secret"
            )),
        },
        (a, VerifyKey::Public(public)) => {
            if !a.is_asymmetric() {
                Err(format!(
                    "`{a}` is an HMAC algorithm; the key given is a {} public key",
                    public.kind()
                ))
            } else if public.fits(a) {
                Ok(public.verify(a, input, sig))
            } else {
                Err(format!("`{a}` does not fit the {} key", public.kind()))
            }
        }
    }
}

fn numeric_claim(value: Option<&Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) => Ok(Some(v)),
            // Fractional NumericDates are allowed; the float-to-int cast saturates.
            #[expect(clippy::cast_possible_truncation, reason = "seconds, saturating")]
            None => Ok(n.as_f64().map(|f| f.floor() as i64)),
        },
        Some(_) => Err(Rejection::Malformed(format!(
            "claim `{name}` is not a number (a NumericDate, seconds since 1970)"
        ))),
    }
}

/// A time claim read for a check: `Ok(None)` when absent, or when malformed and `checks` let a
/// malformed value pass.
fn time_claim(
    value: Option<&Value>,
    name: &str,
    checks: &Checks,
) -> Result<Option<i64>, Rejection> {
    match numeric_claim(value, name) {
        Err(_) if !checks.time_claims_numeric => Ok(None),
        other => other,
    }
}

fn check_exp(exp: Option<&Value>, now: i64, leeway: i64, checks: &Checks) -> Result<(), Rejection> {
    if exp.is_none() && checks.exp_required {
        return Err(Rejection::MissingClaim {
            name: "exp".to_owned(),
            near_miss: None,
        });
    }
    match time_claim(exp, "exp", checks)? {
        Some(exp) if now >= exp.saturating_add(leeway) => Err(Rejection::Expired { exp, now }),
        _ => Ok(()),
    }
}

fn check_nbf(nbf: Option<&Value>, now: i64, leeway: i64, checks: &Checks) -> Result<(), Rejection> {
    if !checks.nbf {
        return Ok(());
    }
    match time_claim(nbf, "nbf", checks)? {
        Some(nbf) if now.saturating_add(leeway) < nbf => Err(Rejection::NotYetValid { nbf, now }),
        _ => Ok(()),
    }
}

fn check_iat(iat: Option<&Value>, now: i64, leeway: i64, checks: &Checks) -> Result<(), Rejection> {
    if !checks.iat {
        return Ok(());
    }
    match time_claim(iat, "iat", checks)? {
        Some(iat) if now.saturating_add(leeway) < iat => {
            Err(Rejection::IssuedInFuture { iat, now })
        }
        _ => Ok(()),
    }
}

fn check_issuer(iss: Option<&Value>, expected: &str) -> Result<(), Rejection> {
    match iss {
        Some(Value::String(iss)) if iss == expected => Ok(()),
        other => Err(Rejection::IssuerMismatch {
            expected: expected.to_owned(),
            actual: other.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
        }),
    }
}

/// Header parameters registered by RFC 7515 and RFC 7519; `crit` must not list them.
const REGISTERED_HEADERS: [&str; 12] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "zip",
];

/// RFC 7515 §4.1.11 and RFC 7797: `crit` lists extensions the recipient must understand or
/// refuse the token; jwtprobe understands none, so any `crit` is refused, with the reason a
/// malformed one is malformed. `b64` other than `true` (an unencoded payload) is refused too.
fn check_crit(crit: Option<&Value>, b64: Option<&Value>, header: &[u8]) -> Result<(), Rejection> {
    let refuse = |why: String| Err(Rejection::Critical(why));
    if let Some(crit) = crit {
        let Value::Array(names) = crit else {
            return refuse(
                "header `crit` is malformed: it must be a list of header names".to_owned(),
            );
        };
        if names.is_empty() {
            return refuse("header `crit` is malformed: it must not be empty".to_owned());
        }
        let present = object_of(header);
        for name in names {
            let Some(name) = name.as_str() else {
                return refuse(
                    "header `crit` is malformed: it must list header names (strings)".to_owned(),
                );
            };
            if REGISTERED_HEADERS.contains(&name) {
                return refuse(format!(
                    "header `crit` is malformed: it lists `{name}`, a registered header parameter"
                ));
            }
            if !present.contains_key(name) {
                return refuse(format!(
                    "header `crit` is malformed: it lists `{name}`, which the header does not have"
                ));
            }
        }
        let listed: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
        return refuse(if listed.contains(&"b64") {
            "header `crit` requires `b64` (RFC 7797 unencoded payload), which is not supported"
                .to_owned()
        } else {
            format!(
                "header `crit` requires extension `{}`, which is not understood",
                listed.join("`, `")
            )
        });
    }
    match b64 {
        None | Some(Value::Bool(true)) => Ok(()),
        Some(_) => refuse(
            "header `b64` asks for an unencoded payload (RFC 7797), which is not supported"
                .to_owned(),
        ),
    }
}

fn check_audience(aud: Option<&Value>, expected: &str) -> Result<(), Rejection> {
    let mismatch = |actual| Rejection::AudienceMismatch {
        expected: expected.to_owned(),
        actual,
    };
    match aud {
        None => Err(mismatch(None)),
        Some(Value::String(aud)) if aud == expected => Ok(()),
        Some(Value::String(aud)) => Err(mismatch(Some(aud.clone()))),
        Some(Value::Array(auds)) => {
            if auds.iter().any(|a| a.as_str() == Some(expected)) {
                Ok(())
            } else {
                let joined = auds
                    .iter()
                    .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(mismatch(Some(joined)))
            }
        }
        Some(other) => Err(mismatch(Some(other.to_string()))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A claim name that differs from `name` only in case, in document order.
fn near_miss<'a>(mut names: impl Iterator<Item = &'a String>, name: &str) -> Option<String> {
    let lower = name.to_lowercase();
    names.find(|k| k.to_lowercase() == lower).cloned()
}

/// Checks an identity claim's value; `near` names a case-only near miss when it is absent
/// (called only then, since it may have to read every claim).
fn check_identity<'v>(
    value: Option<&'v Value>,
    name: &str,
    near: impl FnOnce() -> Option<String>,
) -> Result<&'v str, Rejection> {
    match value {
        None => Err(Rejection::MissingClaim {
            name: name.to_owned(),
            near_miss: near(),
        }),
        Some(Value::String(s)) if s.is_empty() => Err(Rejection::InvalidIdentity(format!(
            "claim `{name}` is empty"
        ))),
        Some(Value::String(s)) if s.trim().is_empty() => Err(Rejection::InvalidIdentity(format!(
            "claim `{name}` holds only whitespace"
        ))),
        Some(Value::String(s)) if s.contains('\\') => Err(Rejection::InvalidIdentity(format!(
            "claim `{name}` contains a backslash (`{s}`); put the directory in its own claim, \
             not `DIRECTORY\\user`"
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(Rejection::InvalidIdentity(format!(
            "claim `{name}` must be a string, found {}",
            json_kind(other)
        ))),
    }
}

/// The claim names [`verify`] reads, each once: `exp`, `nbf`, `iat`, then the audience, issuer
/// and identity claims (which may repeat a name: a policy could use `sub` for both).
struct Wanted<'p> {
    names: [&'p str; WANTED],
    len: usize,
}

/// The most claims [`verify`] reads: `exp`, `nbf`, `iat`, `aud`, `iss`, user, directory.
const WANTED: usize = 7;

impl<'p> Wanted<'p> {
    const EXP: usize = 0;
    const NBF: usize = 1;
    const IAT: usize = 2;

    fn new() -> Self {
        Self {
            names: ["exp", "nbf", "iat", "", "", "", ""],
            len: 3,
        }
    }

    /// The slot of `name`, added when new.
    fn slot(&mut self, name: &'p str) -> usize {
        if let Some(i) = self.names[..self.len].iter().position(|n| *n == name) {
            return i;
        }
        self.names[self.len] = name;
        self.len += 1;
        self.len - 1
    }

    fn names(&self) -> &[&'p str] {
        &self.names[..self.len]
    }
}

/// Verifies a compact token against `policy` at time `now` (seconds since the Unix epoch) and
/// returns the first reason to refuse it.
///
/// Checks in order: structure (at most 1 MiB, 3 segments, base64url, JSON objects; 5 segments
/// is a JWE), `alg` allowed (`none` only when listed), signature (with the key parsed once),
/// `exp` (absent is fine), `nbf`, audience, then the identity claims (exact case, a non-empty
/// string without a backslash). `leeway_s` applies to `exp` and `nbf`.
///
/// Header and payload are validated in full, but only the members checked are materialized;
/// [`Verified::header`] and [`Verified::claims`] parse the rest on demand.
///
/// The extension checks are [`Checks::STRICT`]: `crit` and `b64: false` are refused, `iat` and
/// `nbf` must not be in the future, `exp` is optional.
///
/// # Errors
/// The first [`Rejection`].
pub fn verify(token: &str, policy: &VerifyPolicy, now: i64) -> Result<Verified, Rejection> {
    verify_with(token, policy, &Checks::STRICT, now)
}

/// [`verify`] with the given [`Checks`] (`crit` after `alg`, then the signature, then `exp`,
/// `nbf`, `iat`, audience, issuer and identity).
///
/// # Errors
/// The first [`Rejection`].
pub fn verify_with(
    token: &str,
    policy: &VerifyPolicy,
    checks: &Checks,
    now: i64,
) -> Result<Verified, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(too_long(token.len()));
    }
    // The signature is decoded first, out of turn: once the SIMD decoder takes it, it holds no
    // dot, and the token no fourth segment, without a search through its longest segment.
    // When it does not, it is searched, and decoded again in turn (`decode_sig`, whose error
    // comes after those of the header and payload).
    let Some((h, rest)) = token.split_once('.') else {
        return Err(segments_error(1));
    };
    let Some((p, s)) = rest.split_once('.') else {
        return Err(segments_error(2));
    };
    let mut sig = [0u8; MAX_SIG];
    let fast_sig = decode_sig_fast(s, &mut sig);
    if fast_sig.is_none() && s.contains('.') {
        return Err(segments_error(token.split('.').count()));
    }

    // Header and payload are decoded into one buffer, kept for `Verified::header`/`claims`.
    let mut json = Vec::with_capacity((h.len() + p.len()) / 4 * 3 + 6);
    decode_append(h, &mut json).map_err(|e| not_base64("header", &e))?;
    let header_len = json.len();
    let mut head: [Option<Value>; 3] = Default::default();
    pick(&json, &["alg", "crit", "b64"], &mut head).map_err(|e| pick_error("header", &e))?;

    decode_append(p, &mut json).map_err(|e| not_base64("payload", &e))?;
    let mut wanted = Wanted::new();
    let aud_slot = policy.audience.as_deref().map(|a| (a, wanted.slot("aud")));
    let iss_slot = checks.issuer.as_deref().map(|i| (i, wanted.slot("iss")));
    let user_slot = policy.user_claim.as_deref().map(|n| (n, wanted.slot(n)));
    let dir_slot = policy
        .directory_claim
        .as_deref()
        .map(|n| (n, wanted.slot(n)));
    let mut values: [Option<Value>; WANTED] = Default::default();
    let payload = &json[header_len..];
    pick(payload, wanted.names(), &mut values[..wanted.len])
        .map_err(|e| pick_error("payload", &e))?;

    let sig_len = match fast_sig {
        Some(len) => len,
        None => decode_sig(s, &mut sig)?,
    };

    let alg = allowed_alg(header_alg(head[0].as_ref())?, policy)?;
    if checks.crit {
        check_crit(head[1].as_ref(), head[2].as_ref(), &json[..header_len])?;
    }
    let input = &token.as_bytes()[..h.len() + 1 + p.len()];
    if check_signature(alg, &policy.key, input, &sig[..sig_len]) != Ok(true) {
        return Err(Rejection::BadSignature);
    }

    check_exp(values[Wanted::EXP].as_ref(), now, policy.leeway_s, checks)?;
    check_nbf(values[Wanted::NBF].as_ref(), now, policy.leeway_s, checks)?;
    check_iat(values[Wanted::IAT].as_ref(), now, policy.leeway_s, checks)?;
    if let Some((expected, slot)) = aud_slot {
        check_audience(values[slot].as_ref(), expected)?;
    }
    if let Some((expected, slot)) = iss_slot {
        check_issuer(values[slot].as_ref(), expected)?;
    }
    if !checks.exact_claim_names {
        // The lax reading: a claim missing under its exact name is taken from a name that
        // differs only in case (what a case-insensitive proxy does).
        for (name, slot) in [user_slot, dir_slot].into_iter().flatten() {
            if values[slot].is_none()
                && let Some(near) = near_miss_in(payload, name)
            {
                values[slot] = object_of(payload).get(&near).cloned();
            }
        }
    }
    let identity = |named: Option<(&str, usize)>| {
        named
            .map(|(name, slot)| {
                check_identity(values[slot].as_ref(), name, || near_miss_in(payload, name))
                    .map(|_| slot)
            })
            .transpose()
    };
    let user_slot = identity(user_slot)?;
    let dir_slot = identity(dir_slot)?;
    // Both are valid strings: moved out of their slots, not copied (unless one claim is both).
    let user_id = user_slot.map(|slot| take_string(&mut values[slot]));
    let user_directory = dir_slot.map(|slot| match (&user_id, user_slot) {
        (Some(id), Some(user)) if user == slot => id.clone(),
        _ => take_string(&mut values[slot]),
    });
    Ok(Verified {
        alg,
        user_id,
        user_directory,
        json,
        header_len,
        header: OnceLock::new(),
        claims: OnceLock::new(),
    })
}

/// The string in a slot that [`check_identity`] accepted (empty if it somehow is not one).
fn take_string(slot: &mut Option<Value>) -> String {
    match slot.take() {
        Some(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The near miss for a missing claim: reads every claim name (the slow path, taken only when
/// the token is about to be refused).
fn near_miss_in(payload: &[u8], name: &str) -> Option<String> {
    near_miss(object_of(payload).keys(), name)
}

/// Decodes a token and reports every reason `policy` would refuse it, not just the first.
///
/// Header and claims are decoded even when the signature fails, and even when the token is
/// longer than [`verify`] accepts (that is reported as a rejection). Without a policy the signature
/// is not checked ([`SignatureStatus::NoKey`]) and only `exp`/`nbf` are judged (no leeway).
#[must_use]
pub fn inspect(token: &str, policy: Option<&VerifyPolicy>, now: i64) -> Inspection {
    inspect_with(token, policy, &Checks::STRICT, now)
}

/// [`inspect`] with the given [`Checks`].
#[must_use]
pub fn inspect_with(
    token: &str,
    policy: Option<&VerifyPolicy>,
    checks: &Checks,
    now: i64,
) -> Inspection {
    let segs: Vec<&str> = token.split('.').collect();
    let mut out = Inspection {
        segments: segs.len(),
        header: None,
        claims: None,
        alg: None,
        signature: SignatureStatus::NoKey,
        rejections: Vec::new(),
        user_id: None,
        user_directory: None,
    };
    if token.len() > MAX_TOKEN_LEN {
        out.rejections.push(too_long(token.len()));
    }
    if segs.len() != 3 {
        out.rejections.push(segments_error(segs.len()));
    }
    if segs.len() < 2 {
        out.signature = SignatureStatus::NotChecked("not a JWT".to_owned());
        return out;
    }
    match decode_json(segs[0], "header") {
        Ok(h) => out.header = Some(h),
        Err(r) => out.rejections.push(r),
    }
    // A JWE's second segment is an encrypted key, not claims.
    if segs.len() != 5 {
        match decode_json(segs[1], "payload") {
            Ok(c) => out.claims = Some(c),
            Err(r) => out.rejections.push(r),
        }
    }
    let mut sig_buf = [0u8; MAX_SIG];
    let sig = if segs.len() == 3 {
        match decode_sig(segs[2], &mut sig_buf) {
            Ok(n) => Some(&sig_buf[..n]),
            Err(r) => {
                out.rejections.push(r);
                None
            }
        }
    } else {
        None
    };

    if let Some(header) = &out.header {
        match header_alg(header.get("alg")) {
            Ok(alg) => out.alg = Some(alg.to_owned()),
            Err(r) => out.rejections.push(r),
        }
        if checks.crit {
            let json = serde_json::to_vec(header).unwrap_or_default();
            if let Err(r) = check_crit(header.get("crit"), header.get("b64"), &json) {
                out.rejections.push(r);
            }
        }
    }

    if let Some(policy) = policy {
        let alg = out.alg.as_deref().map(|a| (a, allowed_alg(a, policy)));
        if let Some((_, Err(r))) = &alg {
            out.rejections.push(r.clone());
        }
        let known = out.alg.as_deref().and_then(Alg::from_name);
        out.signature = match (known, sig) {
            (_, None) if segs.len() != 3 => {
                SignatureStatus::NotChecked("no signature segment".to_owned())
            }
            (_, None) => SignatureStatus::NotChecked("the signature is not base64url".to_owned()),
            (None, _) => SignatureStatus::NotChecked(match &out.alg {
                Some(a) => format!("unknown algorithm `{a}`"),
                None => "no `alg` in the header".to_owned(),
            }),
            (Some(Alg::None), Some([])) => SignatureStatus::Unsigned,
            (Some(a), Some(sig)) => {
                let input = &token.as_bytes()[..segs[0].len() + 1 + segs[1].len()];
                match check_signature(a, &policy.key, input, sig) {
                    Ok(true) => SignatureStatus::Verified,
                    Ok(false) => SignatureStatus::Invalid,
                    Err(why) => SignatureStatus::NotChecked(why),
                }
            }
        };
        // An algorithm already refused explains the signature; do not report it twice.
        let alg_allowed = matches!(alg, Some((_, Ok(_))));
        if alg_allowed
            && matches!(
                out.signature,
                SignatureStatus::Invalid | SignatureStatus::NotChecked(_)
            )
            && sig.is_some()
        {
            out.rejections.push(Rejection::BadSignature);
        }
    }

    let leeway = policy.map_or(0, |p| p.leeway_s);
    if let Some(claims) = &out.claims {
        // Without a policy nothing says `exp` is required.
        let time_checks = if policy.is_some() {
            checks.clone()
        } else {
            Checks {
                exp_required: false,
                ..checks.clone()
            }
        };
        if let Err(r) = check_exp(claims.get("exp"), now, leeway, &time_checks) {
            out.rejections.push(r);
        }
        if let Err(r) = check_nbf(claims.get("nbf"), now, leeway, checks) {
            out.rejections.push(r);
        }
        if let Err(r) = check_iat(claims.get("iat"), now, leeway, checks) {
            out.rejections.push(r);
        }
        if let Some(iss) = &checks.issuer
            && let Err(r) = check_issuer(claims.get("iss"), iss)
        {
            out.rejections.push(r);
        }
        if let Some(policy) = policy {
            if let Some(aud) = &policy.audience
                && let Err(r) = check_audience(claims.get("aud"), aud)
            {
                out.rejections.push(r);
            }
            if let Some(name) = &policy.user_claim {
                match check_identity(claims.get(name), name, || near_miss(claims.keys(), name)) {
                    Ok(v) => out.user_id = Some(v.to_owned()),
                    Err(r) => out.rejections.push(r),
                }
            }
            if let Some(name) = &policy.directory_claim {
                match check_identity(claims.get(name), name, || near_miss(claims.keys(), name)) {
                    Ok(v) => out.user_directory = Some(v.to_owned()),
                    Err(r) => out.rejections.push(r),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;
    use serde_json::json;

    use super::*;
    use crate::jose::SignatureMode;
    use crate::keys::{PrivateKey, read_key_file};
    use crate::token::{Part, Signer, TokenSpec, mint, standard_header};

    const NOW: i64 = 1_800_000_000;

    fn fixture(name: &str) -> crate::keys::KeyBundle {
        let path = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/keys")
            .join(name);
        read_key_file(&path, None).expect("fixture key loads")
    }

    fn signing_key() -> PrivateKey {
        fixture("qlik-signing.key.pem")
            .private
            .expect("private key")
    }

    fn policy() -> VerifyPolicy {
        VerifyPolicy {
            algs: vec![Alg::RS256],
            key: VerifyKey::Public(fixture("qlik-signing.cert.pem").public.expect("public key")),
            user_claim: Some("UserId".to_owned()),
            directory_claim: Some("UserDirectory".to_owned()),
            audience: None,
            leeway_s: 0,
        }
    }

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn good_claims() -> Value {
        json!({"UserId": "alice", "UserDirectory": "QLIK", "exp": NOW + 300})
    }

    fn rs256(claims: Value) -> String {
        mint(&TokenSpec::new(
            object(claims),
            Alg::RS256,
            Signer::Key(signing_key()),
        ))
        .expect("mint")
        .into_exposed()
    }

    fn minted(alg: Alg, signer: Signer) -> String {
        mint(&TokenSpec::new(object(good_claims()), alg, signer))
            .expect("mint")
            .into_exposed()
    }

    #[test]
    fn valid_token_yields_identity() {
        let verified = verify(&rs256(good_claims()), &policy(), NOW).expect("accepted");
        assert_eq!(verified.user_id.as_deref(), Some("alice"));
        assert_eq!(verified.user_directory.as_deref(), Some("QLIK"));
        assert_eq!(verified.header().get("alg"), Some(&json!("RS256")));
    }

    #[test]
    fn alg_none_is_refused_unless_listed() {
        let token = minted(Alg::None, Signer::Unsigned);
        assert_eq!(
            verify(&token, &policy(), NOW),
            Err(Rejection::AlgNotAllowed("none".to_owned()))
        );
        let mut open = policy();
        open.algs.push(Alg::None);
        assert!(verify(&token, &open, NOW).is_ok());
    }

    #[test]
    fn hmac_over_the_certificate_is_refused_even_when_hs256_is_listed() {
        let pem = fixture("qlik-signing.cert.pem")
            .certificate
            .expect("certificate")
            .pem()
            .as_bytes()
            .to_vec();
        let token = minted(Alg::HS256, Signer::Hmac(pem));
        assert_eq!(
            verify(&token, &policy(), NOW),
            Err(Rejection::AlgNotAllowed("HS256".to_owned()))
        );
        let mut lax = policy();
        lax.algs.push(Alg::HS256);
        assert_eq!(verify(&token, &lax, NOW), Err(Rejection::BadSignature));
    }

    #[test]
    fn es256_and_ps256_are_refused_under_an_rs256_policy() {
        let ec = fixture("ec256.key.pem").private.expect("ec key");
        assert_eq!(
            verify(&minted(Alg::ES256, Signer::Key(ec)), &policy(), NOW),
            Err(Rejection::AlgNotAllowed("ES256".to_owned()))
        );
        assert_eq!(
            verify(
                &minted(Alg::PS256, Signer::Key(signing_key())),
                &policy(),
                NOW
            ),
            Err(Rejection::AlgNotAllowed("PS256".to_owned()))
        );
    }

    #[test]
    fn token_signed_with_another_key_is_refused() {
        let other = fixture("other.key.pem").private.expect("other key");
        assert_eq!(
            verify(&minted(Alg::RS256, Signer::Key(other)), &policy(), NOW),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn tampered_payload_is_refused() {
        let token = rs256(good_claims());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"UserId":"admin","UserDirectory":"QLIK"}"#);
        assert_eq!(
            verify(&parts.join("."), &policy(), NOW),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn five_segments_are_a_jwe() {
        assert_eq!(verify("a.b.c.d.e", &policy(), NOW), Err(Rejection::Jwe));
        assert!(Rejection::Jwe.to_string().contains("JWE"));
    }

    #[test]
    fn two_segments_are_malformed() {
        let token = rs256(good_claims());
        let (h_p, _) = token.rsplit_once('.').expect("three segments");
        let Err(Rejection::Malformed(why)) = verify(h_p, &policy(), NOW) else {
            panic!("expected malformed");
        };
        assert!(why.contains("found 2"), "{why}");
    }

    #[test]
    fn bad_base64_and_bad_json_are_malformed() {
        let token = rs256(good_claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[0] = "not*base64";
        assert!(matches!(
            verify(&parts.join("."), &policy(), NOW),
            Err(Rejection::Malformed(_))
        ));
        let not_json = URL_SAFE_NO_PAD.encode(b"{not json");
        parts[0] = &not_json;
        assert!(matches!(
            verify(&parts.join("."), &policy(), NOW),
            Err(Rejection::Malformed(_))
        ));
        let padded = format!("{}=", &token.split('.').next().expect("header"));
        parts[0] = &padded;
        assert!(matches!(
            verify(&parts.join("."), &policy(), NOW),
            Err(Rejection::Malformed(_))
        ));
    }

    fn three_segments(token: &str) -> [&str; 3] {
        token
            .split('.')
            .collect::<Vec<_>>()
            .try_into()
            .expect("three segments")
    }

    #[test]
    fn segment_count_is_judged_before_any_segment() {
        let token = rs256(good_claims());
        let [h, p, s] = three_segments(&token);
        for (text, n) in [
            (String::new(), 1),
            ("!!!".to_owned(), 1),
            (h.to_owned(), 1),
            (format!("{h}."), 2),
            (format!("!.{p}"), 2),
            (format!("{h}.{p}.{s}."), 4),
            (format!("!.!.{s}.{s}"), 4),
            (format!("{h}.{p}.!.x"), 4),
            (format!("{h}.{p}.{}.x", "A".repeat(2000)), 4),
            (format!("{h}.{p}.{s}.{s}.{s}"), 5),
            (format!("!.{p}.{s}.x.y"), 5),
            (format!("{h}.{p}.{s}..."), 6),
            ("....".to_owned(), 5),
        ] {
            assert_eq!(
                verify(&text, &policy(), NOW),
                Err(segments_error(n)),
                "{text}"
            );
        }
    }

    #[test]
    fn header_and_payload_errors_come_before_signature_errors() {
        let token = rs256(good_claims());
        let [h, p, s] = three_segments(&token);
        let long = "A".repeat(MAX_SIG * 2);
        let not_json = URL_SAFE_NO_PAD.encode(b"{not json");
        for (text, prefix) in [
            (format!("!.{p}.!"), "the header is not base64url"),
            (format!("!.{p}.{long}"), "the header is not base64url"),
            (format!("{h}.!.!"), "the payload is not base64url"),
            (
                format!("{h}.{not_json}.{long}"),
                "the payload is not valid JSON",
            ),
            (format!("{h}.{p}.!"), "the signature is not base64url"),
            (format!("{h}.{p}.{s}="), "the signature is not base64url"),
            (format!("{h}.{p}.{s}B"), "the signature is not base64url"),
            (format!("{h}.{p}.{s}AAA"), "the signature is not base64url"),
        ] {
            let Err(Rejection::Malformed(why)) = verify(&text, &policy(), NOW) else {
                panic!("expected malformed for {text}");
            };
            assert!(why.starts_with(prefix), "{why} for {text}");
        }
        assert_eq!(
            verify(&format!("{h}.{p}.{long}"), &policy(), NOW),
            Err(Rejection::BadSignature)
        );
        // One symbol more or less still decodes, to other bytes: a signature that is wrong.
        let short = &s[..s.len() - 4];
        assert_eq!(
            verify(&format!("{h}.{p}.{short}"), &policy(), NOW),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn expired_token_is_refused_and_says_how_long_ago() {
        let token = rs256(json!({"UserId": "alice", "UserDirectory": "QLIK", "exp": NOW - 300}));
        let rejection = verify(&token, &policy(), NOW).expect_err("expired");
        assert_eq!(
            rejection,
            Rejection::Expired {
                exp: NOW - 300,
                now: NOW
            }
        );
        let text = rejection.to_string();
        assert!(
            text.starts_with("token expired 5 minutes ago (exp 2027-"),
            "{text}"
        );
        let mut lenient = policy();
        lenient.leeway_s = 600;
        assert!(verify(&token, &lenient, NOW).is_ok());
    }

    #[test]
    fn token_without_exp_is_accepted() {
        let token = rs256(json!({"UserId": "alice", "UserDirectory": "QLIK"}));
        assert!(verify(&token, &policy(), NOW).is_ok());
    }

    #[test]
    fn future_nbf_is_refused() {
        let token = rs256(json!({"UserId": "alice", "UserDirectory": "QLIK", "nbf": NOW + 600}));
        assert_eq!(
            verify(&token, &policy(), NOW),
            Err(Rejection::NotYetValid {
                nbf: NOW + 600,
                now: NOW
            })
        );
    }

    #[test]
    fn audience_must_match_when_the_policy_sets_one() {
        let mut with_aud = policy();
        with_aud.audience = Some("qlik.api".to_owned());
        let wrong = rs256(json!({"UserId": "alice", "UserDirectory": "QLIK", "aud": "other"}));
        assert_eq!(
            verify(&wrong, &with_aud, NOW),
            Err(Rejection::AudienceMismatch {
                expected: "qlik.api".to_owned(),
                actual: Some("other".to_owned())
            })
        );
        let absent = rs256(json!({"UserId": "alice", "UserDirectory": "QLIK"}));
        assert!(matches!(
            verify(&absent, &with_aud, NOW),
            Err(Rejection::AudienceMismatch { actual: None, .. })
        ));
        let listed =
            rs256(json!({"UserId": "alice", "UserDirectory": "QLIK", "aud": ["x", "qlik.api"]}));
        assert!(verify(&listed, &with_aud, NOW).is_ok());
    }

    #[test]
    fn claim_in_the_wrong_case_is_reported_as_a_near_miss() {
        let token = rs256(json!({"userid": "alice", "UserDirectory": "QLIK"}));
        let rejection = verify(&token, &policy(), NOW).expect_err("missing");
        assert_eq!(
            rejection,
            Rejection::MissingClaim {
                name: "UserId".to_owned(),
                near_miss: Some("userid".to_owned())
            }
        );
        assert_eq!(
            rejection.to_string(),
            "claim `UserId` is missing; found `userid`, which differs only in case"
        );
        let token = rs256(json!({"UserDirectory": "QLIK"}));
        assert_eq!(
            verify(&token, &policy(), NOW),
            Err(Rejection::MissingClaim {
                name: "UserId".to_owned(),
                near_miss: None
            })
        );
    }

    #[test]
    fn empty_whitespace_backslash_and_non_string_users_are_invalid() {
        for user in [json!(""), json!("   "), json!("QLIK\\alice"), json!(42)] {
            let token = rs256(json!({"UserId": user, "UserDirectory": "QLIK"}));
            let Err(Rejection::InvalidIdentity(why)) = verify(&token, &policy(), NOW) else {
                panic!("expected invalid identity for {user}");
            };
            assert!(why.contains("`UserId`"), "{why}");
        }
    }

    #[test]
    fn hmac_policy_verifies_hmac_tokens() {
        let secret = b"shared-secret".to_vec();
        let hs = VerifyPolicy {
            algs: vec![Alg::HS256],
            key: VerifyKey::Hmac(secret.clone().into()),
            ..policy()
        };
        assert!(verify(&minted(Alg::HS256, Signer::Hmac(secret)), &hs, NOW).is_ok());
        assert_eq!(
            verify(
                &minted(Alg::HS256, Signer::Hmac(b"wrong".to_vec())),
                &hs,
                NOW
            ),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn prepared_hmac_keys_verify_every_hmac_algorithm() {
        let secret = b"another-shared-secret".to_vec();
        let key: HmacKey = secret.as_slice().into();
        assert_eq!((key.len(), key.is_empty()), (secret.len(), false));
        assert_eq!(
            format!("{:?}", VerifyKey::Hmac(key.clone())),
            format!("Hmac(len {})", secret.len())
        );
        for alg in [Alg::HS256, Alg::HS384, Alg::HS512] {
            let hs = VerifyPolicy {
                algs: vec![alg],
                key: VerifyKey::Hmac(key.clone()),
                ..policy()
            };
            let good = minted(alg, Signer::Hmac(secret.clone()));
            assert!(verify(&good, &hs, NOW).is_ok(), "{alg}");
            let wrong = minted(alg, Signer::Hmac(b"wrong".to_vec()));
            assert_eq!(
                verify(&wrong, &hs, NOW),
                Err(Rejection::BadSignature),
                "{alg}"
            );
        }
    }

    #[test]
    fn inspect_lists_every_reason_at_once() {
        let other = fixture("other.key.pem").private.expect("other key");
        let spec = TokenSpec {
            header: Part::Json(standard_header(Alg::RS256)),
            ..TokenSpec::new(
                object(json!({"userid": "alice", "UserDirectory": "", "exp": NOW - 60})),
                Alg::RS256,
                Signer::Key(other),
            )
        };
        let token = mint(&spec).expect("mint");
        let inspection = inspect(token.expose(), Some(&policy()), NOW);
        assert_eq!(inspection.signature, SignatureStatus::Invalid);
        let codes: Vec<&str> = inspection.rejections.iter().map(Rejection::code).collect();
        assert_eq!(
            codes,
            [
                "bad_signature",
                "expired",
                "missing_claim",
                "invalid_identity"
            ]
        );
        assert_eq!(
            inspection.claims.as_ref().and_then(|c| c.get("userid")),
            Some(&json!("alice"))
        );
        assert!(!inspection.is_accepted());
    }

    #[test]
    fn inspect_without_policy_decodes_and_reports_no_key() {
        let token = rs256(good_claims());
        let inspection = inspect(&token, None, NOW);
        assert_eq!(inspection.signature, SignatureStatus::NoKey);
        assert_eq!(inspection.alg.as_deref(), Some("RS256"));
        assert!(inspection.is_accepted());
        let late = inspect(&token, None, NOW + 1000);
        assert!(matches!(late.rejections[..], [Rejection::Expired { .. }]));
    }

    #[test]
    fn inspect_reports_alg_none_without_a_bad_signature() {
        let token = minted(Alg::None, Signer::Unsigned);
        let inspection = inspect(&token, Some(&policy()), NOW);
        assert_eq!(inspection.signature, SignatureStatus::Unsigned);
        assert_eq!(
            inspection.rejections,
            [Rejection::AlgNotAllowed("none".to_owned())]
        );
    }

    #[test]
    fn inspect_of_a_valid_token_matches_verify() {
        let token = rs256(good_claims());
        let inspection = inspect(&token, Some(&policy()), NOW);
        assert_eq!(inspection.signature, SignatureStatus::Verified);
        assert!(inspection.is_accepted());
        assert_eq!(inspection.user_id.as_deref(), Some("alice"));
        let bad = mint(&TokenSpec {
            signature: SignatureMode::BitFlip,
            ..TokenSpec::new(
                object(good_claims()),
                Alg::RS256,
                Signer::Key(signing_key()),
            )
        })
        .expect("mint");
        assert_eq!(
            inspect(bad.expose(), Some(&policy()), NOW).rejections,
            [Rejection::BadSignature]
        );
    }

    /// An RS256 token over this exact payload text.
    fn rs256_payload(payload: &str) -> String {
        mint(&TokenSpec {
            payload: Part::Raw(payload.to_owned()),
            ..TokenSpec::new(Map::new(), Alg::RS256, Signer::Key(signing_key()))
        })
        .expect("mint")
        .into_exposed()
    }

    #[test]
    fn verified_header_and_claims_are_the_full_decoded_objects() {
        let token = rs256(json!({
            "UserId": "alice", "UserDirectory": "QLIK", "exp": NOW + 300,
            "groups": ["a", "b"], "extra": {"nested": [1, 2.5, null]}
        }));
        let verified = verify(&token, &policy(), NOW).expect("accepted");
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(
            Some(verified.header()),
            decode_json(segments[0], "header").ok().as_ref()
        );
        assert_eq!(
            Some(verified.claims()),
            decode_json(segments[1], "payload").ok().as_ref()
        );
        assert_eq!(
            verified.claims_json(),
            URL_SAFE_NO_PAD.decode(segments[1]).expect("base64url")
        );
        assert_eq!(verified.alg, Alg::RS256);
        assert_eq!(verified.header()["typ"], json!("JWT"));
    }

    #[test]
    fn duplicate_claims_are_judged_by_their_last_value() {
        let last_bad =
            rs256_payload(r#"{"UserId":"alice","UserDirectory":"QLIK","UserId":"QLIK\\bob"}"#);
        let Err(Rejection::InvalidIdentity(why)) = verify(&last_bad, &policy(), NOW) else {
            panic!("expected the last `UserId` to be judged");
        };
        assert!(why.contains("backslash"), "{why}");
        let last_good = rs256_payload(
            r#"{"UserId":42,"UserDirectory":"QLIK","UserId":"bob","exp":1,"exp":1900000000}"#,
        );
        let verified = verify(&last_good, &policy(), NOW).expect("accepted");
        assert_eq!(verified.user_id.as_deref(), Some("bob"));
        assert_eq!(verified.claims()["UserId"], json!("bob"));
        assert_eq!(verified.claims()["exp"], json!(1_900_000_000));
    }

    #[test]
    fn escaped_claim_names_and_values_are_unescaped() {
        let token =
            rs256_payload(r#"{"\u0055serId":"al\u00efce \"A\"","User\u0044irectory":"Q\/LIK"}"#);
        let verified = verify(&token, &policy(), NOW).expect("accepted");
        assert_eq!(verified.user_id.as_deref(), Some("al\u{ef}ce \"A\""));
        assert_eq!(verified.user_directory.as_deref(), Some("Q/LIK"));
        assert_eq!(verified.claims()["UserId"], json!("al\u{ef}ce \"A\""));
    }

    #[test]
    fn non_string_identities_name_their_json_kind() {
        for (user, kind) in [
            (json!(null), "null"),
            (json!(true), "a boolean"),
            (json!(1.5), "a number"),
            (json!(["alice"]), "an array"),
            (json!({"id": "alice"}), "an object"),
        ] {
            let token = rs256(json!({"UserId": user, "UserDirectory": "QLIK"}));
            assert_eq!(
                verify(&token, &policy(), NOW),
                Err(Rejection::InvalidIdentity(format!(
                    "claim `UserId` must be a string, found {kind}"
                )))
            );
        }
    }

    #[test]
    fn one_claim_can_serve_as_user_and_directory() {
        let same = VerifyPolicy {
            directory_claim: Some("UserId".to_owned()),
            ..policy()
        };
        let verified = verify(&rs256(good_claims()), &same, NOW).expect("accepted");
        assert_eq!(verified.user_id.as_deref(), Some("alice"));
        assert_eq!(verified.user_directory.as_deref(), Some("alice"));
    }

    #[test]
    fn invalid_json_in_an_unchecked_claim_is_malformed() {
        for payload in [
            r#"{"UserId":"alice","UserDirectory":"QLIK","x":"\ud800"}"#,
            r#"{"UserId":"alice","UserDirectory":"QLIK","x":1e999}"#,
            r#"{"UserId":"alice","UserDirectory":"QLIK","x":[1,}"#,
            r#"["UserId","alice"]"#,
        ] {
            let Err(Rejection::Malformed(why)) = verify(&rs256_payload(payload), &policy(), NOW)
            else {
                panic!("expected malformed for {payload}");
            };
            assert!(why.starts_with("the payload is "), "{why}");
            let inspection = inspect(&rs256_payload(payload), Some(&policy()), NOW);
            assert_eq!(inspection.claims, None, "{payload}");
        }
    }

    #[test]
    fn header_alg_must_be_a_string_and_present() {
        let spec = |header: &str| TokenSpec {
            header: Part::Raw(header.to_owned()),
            ..TokenSpec::new(
                object(good_claims()),
                Alg::RS256,
                Signer::Key(signing_key()),
            )
        };
        for (header, why) in [
            (r#"{"alg":256}"#, "`alg` in the header is not a string"),
            (r#"{"typ":"JWT"}"#, "the header has no `alg`"),
            (r#"{"alg":"none","alg":"RS256"}"#, ""),
        ] {
            let token = mint(&spec(header)).expect("mint");
            let result = verify(token.expose(), &policy(), NOW);
            if why.is_empty() {
                assert!(result.is_ok(), "the last `alg` wins: {result:?}");
            } else {
                assert_eq!(result, Err(Rejection::Malformed(why.to_owned())));
            }
        }
    }

    #[test]
    fn huge_tokens_are_refused_cleanly() {
        let big = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"UserId":"alice","UserDirectory":"QLIK","pad":"{}"}}"#,
            "x".repeat(MAX_TOKEN_LEN)
        ));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let token = format!("{header}.{big}.sig");
        let Err(Rejection::Malformed(why)) = verify(&token, &policy(), NOW) else {
            panic!("expected malformed");
        };
        assert!(why.contains("at most 1048576 bytes"), "{why}");
        let inspection = inspect(&token, Some(&policy()), NOW);
        assert_eq!(inspection.rejections[0], Rejection::Malformed(why));

        // Under the limit but nested far deeper than JSON parsing allows.
        let deep = format!(
            r#"{{"UserId":"alice","UserDirectory":"QLIK","x":{}{}}}"#,
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        let Err(Rejection::Malformed(why)) = verify(&rs256_payload(&deep), &policy(), NOW) else {
            panic!("expected malformed");
        };
        assert!(why.contains("recursion limit"), "{why}");

        // Large but well formed: accepted, and every claim is there.
        let wide = format!(
            r#"{{"UserId":"alice","UserDirectory":"QLIK","pad":"{}"}}"#,
            "y".repeat(500_000)
        );
        let verified = verify(&rs256_payload(&wide), &policy(), NOW).expect("accepted");
        assert_eq!(
            verified.claims()["pad"].as_str().map(str::len),
            Some(500_000)
        );
    }

    #[test]
    fn near_miss_is_found_on_the_slow_path_after_a_fast_miss() {
        let token = rs256_payload(r#"{"USERID":"a","userid":"b","UserDirectory":"QLIK"}"#);
        assert_eq!(
            verify(&token, &policy(), NOW),
            Err(Rejection::MissingClaim {
                name: "UserId".to_owned(),
                near_miss: Some("USERID".to_owned())
            })
        );
    }

    /// The signature decoding `decode_sig` had before its SIMD fast path, for agreement.
    fn decode_sig_reference(segment: &str, buf: &mut [u8; MAX_SIG]) -> Result<usize, Rejection> {
        if segment.len() > MAX_SIG * 4 / 3 + 4 {
            return Err(Rejection::BadSignature);
        }
        URL_SAFE_NO_PAD
            .decode_slice(segment, buf)
            .map_err(|e| Rejection::Malformed(format!("the signature is not base64url ({e})")))
    }

    /// Whether `decode_append` and `decode_sig` give exactly what the `base64` crate alone gives
    /// (bytes, or error), asserting it; returns whether the SIMD decoder accepted `text`.
    fn base64_paths_agree(text: &str) -> bool {
        let mut ours = b"kept".to_vec();
        let mut theirs = b"kept".to_vec();
        assert_eq!(
            decode_append(text, &mut ours),
            URL_SAFE_NO_PAD.decode_vec(text, &mut theirs),
            "{text:?}"
        );
        assert_eq!(ours, theirs, "{text:?}");
        let (mut ours, mut theirs) = ([0u8; MAX_SIG], [0u8; MAX_SIG]);
        let result = decode_sig(text, &mut ours);
        assert_eq!(result, decode_sig_reference(text, &mut theirs), "{text:?}");
        if let Ok(len) = result {
            assert_eq!(ours[..len], theirs[..len], "{text:?}");
        }
        FAST_BASE64.decode_to_vec(text).is_ok()
    }

    #[test]
    fn base64_fast_path_agrees_with_the_base64_crate_on_hand_picked_inputs() {
        for text in [
            "",
            "A",
            "AA",
            "AB",
            "AQ",
            "AAA",
            "AAB",
            "AAE",
            "AAAA",
            "AAAAA",
            "AA==",
            "AAA=",
            "AAAA=",
            "A=AA",
            "AA AA",
            "AA.A",
            "AA+A",
            "AA/A",
            "AA-_",
            "__-_",
            "QUJD\n",
            "\u{e9}AAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+AAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
        ] {
            base64_paths_agree(text);
        }
        // Around the longest signature: 1366 symbols are 1024 bytes, 1367 are one too many.
        for len in 1360..=1372 {
            base64_paths_agree(&"A".repeat(len));
            base64_paths_agree(&"_".repeat(len));
        }
        let token = rs256(good_claims());
        for segment in token.split('.') {
            assert!(base64_paths_agree(segment), "{segment}");
        }
    }

    #[test]
    fn base64_fast_path_agrees_with_the_base64_crate_on_generated_inputs() {
        const SYMBOLS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const OTHERS: [&str; 10] = [
            "+", "/", "=", "==", ".", " ", "\n", "\u{0}", "\u{7f}", "\u{e9}",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut below = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % n as u64).unwrap_or(0)
        };
        let (mut accepted, mut total) = (0, 0);
        for _ in 0..20_000 {
            let len = if below(8) == 0 {
                1300 + below(100)
            } else {
                below(400)
            };
            let mut text: String = (0..len)
                .map(|_| char::from(SYMBOLS[below(SYMBOLS.len())]))
                .collect();
            // Mostly valid, with zero trailing bits as an encoder writes them; sometimes not.
            match below(4) {
                0 if len > 0 => {
                    let at = below(len);
                    text.replace_range(at..=at, OTHERS[below(OTHERS.len())]);
                }
                1 => text.push_str(OTHERS[below(3) + 1]),
                2 => {}
                _ => {
                    let bytes = URL_SAFE_NO_PAD
                        .decode(&text[..len - len % 4])
                        .unwrap_or_default();
                    text = URL_SAFE_NO_PAD.encode(&bytes[..bytes.len().saturating_sub(below(3))]);
                }
            }
            total += 1;
            accepted += usize::from(base64_paths_agree(&text));
        }
        assert!(accepted > total / 5, "{accepted} of {total} accepted");
        assert!(accepted < total * 4 / 5, "{accepted} of {total} accepted");
    }

    fn rs256_with_header(extra: Value) -> String {
        let mut header = standard_header(Alg::RS256);
        header.extend(object(extra));
        mint(&TokenSpec {
            header: Part::Json(header),
            ..TokenSpec::new(
                object(good_claims()),
                Alg::RS256,
                Signer::Key(signing_key()),
            )
        })
        .expect("mint")
        .into_exposed()
    }

    #[test]
    fn crit_is_refused_with_the_reason_rfc_7515_gives() {
        let cases = [
            (
                json!({"crit": ["x-ext"], "x-ext": 1}),
                "requires extension `x-ext`, which is not understood",
            ),
            (json!({"crit": ["b64"], "b64": false}), "requires `b64`"),
            (
                json!({"crit": "x-ext", "x-ext": 1}),
                "must be a list of header names",
            ),
            (json!({"crit": []}), "must not be empty"),
            (json!({"crit": [1]}), "must list header names"),
            (
                json!({"crit": ["alg"]}),
                "lists `alg`, a registered header parameter",
            ),
            (
                json!({"crit": ["x-absent"]}),
                "lists `x-absent`, which the header does not have",
            ),
            (
                json!({"b64": false}),
                "header `b64` asks for an unencoded payload",
            ),
        ];
        for (extra, why) in cases {
            let token = rs256_with_header(extra.clone());
            match verify(&token, &policy(), NOW) {
                Err(Rejection::Critical(text)) => assert!(text.contains(why), "{extra}: {text}"),
                other => panic!("{extra}: {other:?}"),
            }
            let inspection = inspect(&token, Some(&policy()), NOW);
            assert!(
                inspection.rejections.iter().any(|r| r.code() == "crit"),
                "{extra}: {inspection:?}"
            );
        }
        // `b64: true` is the default meaning and harmless.
        assert!(verify(&rs256_with_header(json!({"b64": true})), &policy(), NOW).is_ok());
        let lax = Checks {
            crit: false,
            ..Checks::STRICT
        };
        let unknown = rs256_with_header(json!({"crit": ["x-ext"], "x-ext": 1}));
        assert!(verify_with(&unknown, &policy(), &lax, NOW).is_ok());
    }

    #[test]
    fn iat_in_the_future_is_refused_unless_turned_off() {
        let mut claims = good_claims();
        claims["iat"] = json!(NOW + 3600);
        let token = rs256(claims);
        assert!(matches!(
            verify(&token, &policy(), NOW),
            Err(Rejection::IssuedInFuture { .. })
        ));
        let lax = Checks {
            iat: false,
            ..Checks::STRICT
        };
        assert!(verify_with(&token, &policy(), &lax, NOW).is_ok());
    }

    #[test]
    fn exp_required_and_exp_as_a_string_follow_the_checks() {
        let strict_exp = Checks {
            exp_required: true,
            ..Checks::STRICT
        };
        let no_exp = rs256(json!({"UserId": "alice", "UserDirectory": "QLIK"}));
        assert_eq!(
            verify_with(&no_exp, &policy(), &strict_exp, NOW)
                .unwrap_err()
                .to_string(),
            "claim `exp` is missing"
        );
        let mut claims = good_claims();
        claims["exp"] = json!("9999999999");
        let text_exp = rs256(claims);
        assert!(matches!(
            verify_with(&text_exp, &policy(), &strict_exp, NOW),
            Err(Rejection::Malformed(_))
        ));
        let lax = Checks {
            time_claims_numeric: false,
            ..strict_exp
        };
        assert!(verify_with(&text_exp, &policy(), &lax, NOW).is_ok());
    }

    #[test]
    fn issuer_must_match_when_the_checks_name_one() {
        let checks = Checks {
            issuer: Some("https://idp.test".to_owned()),
            ..Checks::STRICT
        };
        let mut claims = good_claims();
        claims["iss"] = json!("https://evil.test");
        assert_eq!(
            verify_with(&rs256(claims), &policy(), &checks, NOW)
                .unwrap_err()
                .to_string(),
            "issuer `https://evil.test` does not match the expected `https://idp.test`"
        );
        let mut claims = good_claims();
        claims["iss"] = json!("https://idp.test");
        assert!(verify_with(&rs256(claims), &policy(), &checks, NOW).is_ok());
    }

    #[test]
    fn case_insensitive_claim_names_are_a_laxity() {
        let token = rs256(json!({"userid": "alice", "userdirectory": "CORP"}));
        assert!(matches!(
            verify(&token, &policy(), NOW),
            Err(Rejection::MissingClaim { .. })
        ));
        let lax = Checks {
            exact_claim_names: false,
            ..Checks::STRICT
        };
        let verified = verify_with(&token, &policy(), &lax, NOW).expect("lax accepts");
        assert_eq!(verified.user_id.as_deref(), Some("alice"));
    }

    #[test]
    fn human_durations_round_down_to_the_largest_unit() {
        assert_eq!(human_span(1), "1 second");
        assert_eq!(human_span(59), "59 seconds");
        assert_eq!(human_span(300), "5 minutes");
        assert_eq!(human_span(7200), "2 hours");
        assert_eq!(human_span(-86_400 * 3), "3 days");
    }
}
