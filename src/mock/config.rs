//! The emulator's config: virtual proxies, the default virtual proxy, the Qlik Cloud tenant and
//! the profile whose defaults fill every status the sources do not pin.
//!
//! [`read_config`] reads a YAML file the way scenarios are read
//! ([`diag::schema::read_validated`](crate::diag::schema::read_validated)): YAML with a span
//! for every node, validated against the JSON Schema generated from the file's serde form
//! ([`schema()`]), deserialized, then checked for what a schema cannot say (a certificate file
//! that does not exist, a duration that does not parse, a prefix used twice). It returns either
//! a [`MockConfig`] or every problem at once as [`Diagnostic`]s pointing at `file:line:col`.
//! Paths in the file (the JWT certificate) are relative to the config file. The certificate is
//! read and parsed here, once.

use std::sync::OnceLock;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;

use crate::diag::schema::{self, Checker, FileText, Wording};
use crate::diag::yaml::{SpanMap, push_pointer};
use crate::diag::{Diagnostic, Span, did_you_mean};
use crate::jose::{Alg, ProfileName};
use crate::keys::{self, PublicKey};

/// The profiles the emulator behaves like; `qseow-401` and `generic` are target profiles
/// with nothing to emulate.
pub(crate) const EMULATED_PROFILES: [ProfileName; 4] = [
    ProfileName::Qseow,
    ProfileName::QseowPre2024,
    ProfileName::QlikCloud,
    ProfileName::Rfc6750,
];

/// The `SameSite` attribute of a session cookie (the QMC's four choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// No `SameSite` attribute at all.
    NoAttribute,
    /// `SameSite=None` (needed for embedding; browsers also require `Secure`).
    None,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=Strict`.
    Strict,
}

impl SameSite {
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "no_attribute" | "noattribute" | "omit" => Some(Self::NoAttribute),
            "none" => Some(Self::None),
            "lax" => Some(Self::Lax),
            "strict" => Some(Self::Strict),
            _ => None,
        }
    }

    /// The attribute text, or `None` when no attribute is sent.
    #[must_use]
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            Self::NoAttribute => None,
            Self::None => Some("SameSite=None"),
            Self::Lax => Some("SameSite=Lax"),
            Self::Strict => Some("SameSite=Strict"),
        }
    }
}

/// Cookie attributes for one transport (HTTPS or plain HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieTransport {
    /// Whether the cookie carries `Secure`.
    pub secure: bool,
    /// The `SameSite` attribute.
    pub same_site: SameSite,
}

/// The attributes of a virtual proxy's session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieAttributes {
    /// Whether the cookie carries `HttpOnly` (default true).
    pub http_only: bool,
    /// The `Domain` attribute; `None` (the default) limits the cookie to the proxy host.
    pub domain: Option<String>,
    /// Attributes over HTTPS (default `Secure; SameSite=None`).
    pub https: CookieTransport,
    /// Attributes over plain HTTP (default no `Secure`, no `SameSite`).
    pub http: CookieTransport,
}

/// One extra claim mapped to a Qlik user attribute (QMC "JWT attribute mapping").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMapping {
    /// The claim name in the token (case-sensitive).
    pub claim: String,
    /// The attribute name Qlik uses for it.
    pub attribute: String,
    /// Whether a token without this claim is rejected.
    pub mandatory: bool,
}

/// The statuses a virtual proxy answers with where the sources do not pin them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpStatuses {
    /// Any unusable token (§9 rows 10-18, 20). Default 400.
    pub reject: u16,
    /// No token and no live session (§9 rows 22, 23, 32). Default 401.
    pub no_token: u16,
    /// The `Host` is not in the host allow list (row 31). Default 403.
    pub host_denied: u16,
    /// A new session would exceed `max_sessions_per_user` (row 33). Default 403.
    pub session_limit: u16,
    /// `DELETE /qps/user` (row 7). Default 200.
    pub logout: u16,
    /// `GET /qps/csrftoken` (row 3). Default 204 on `qseow`, 404 on `qseow-pre2024`.
    pub csrftoken: u16,
    /// Request headers larger than `max_header_bytes` (row 25). Default 400.
    pub header_too_large: u16,
}

/// The emulator's laxity switches: each turns off the check behind one security property of
/// the conformance pack (`scenarios/conformance/`), so a test can prove the pack notices it.
/// All off (the default) is a verifier that holds every property.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Laxity {
    /// Accept a token without `exp` even where the profile requires it.
    pub accept_no_exp: bool,
    /// Do not check `nbf`.
    pub ignore_nbf: bool,
    /// Do not check that `iat` is not in the future.
    pub ignore_iat: bool,
    /// Algorithms accepted on top of `algorithms`.
    pub extra_algorithms: Vec<Alg>,
    /// Clock tolerance added to `leeway` on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_s: i64,
    /// Resolve `kid` as a file name for an HMAC key, as vulnerable servers do: a `kid` naming
    /// `/dev/null` selects the empty secret (nothing is read from disk).
    pub kid_selects_file: bool,
    /// Verify with a key embedded in the header (`jwk`, or the first `x5c` certificate).
    pub trust_embedded_key: bool,
    /// Fetch the key at `jku` (or the certificate at `x5u`) and verify with it.
    pub fetch_key_url: bool,
    /// Ignore `crit` and `b64`.
    pub ignore_crit: bool,
    /// Accept an `exp` (or `nbf`, `iat`) that is not a number, ignoring it.
    pub accept_malformed_exp: bool,
    /// Take a token from the `access_token` query parameter.
    pub accept_query_token: bool,
    /// Take an identity claim whose name differs only in case.
    pub case_insensitive_claims: bool,
    /// Match the prefix in any case (`/JWT/` for `jwt`).
    pub case_insensitive_prefix: bool,
    /// Do not check `aud`.
    pub ignore_audience: bool,
    /// Do not check `iss`.
    pub ignore_issuer: bool,
}

impl Laxity {
    /// Whether every switch is off.
    #[must_use]
    pub fn is_strict(&self) -> bool {
        *self == Self::default()
    }
}

/// One JWT virtual proxy.
#[derive(Debug, Clone)]
pub struct VirtualProxyConfig {
    /// The prefix, lowercase, without slashes (`jwt` serves `/jwt/...`).
    pub prefix: String,
    /// The session cookie name over HTTPS; `-HTTP` is appended over plain HTTP.
    pub session_cookie_name: String,
    /// Session cookie attributes.
    pub cookie: CookieAttributes,
    /// The JWT certificate file (resolved against the config file's directory).
    pub jwt_certificate: Utf8PathBuf,
    /// The public key read from `jwt_certificate`, parsed once.
    pub public_key: PublicKey,
    /// The algorithms accepted; RS256, RS384 and RS512 by default (the documented set).
    pub algorithms: Vec<Alg>,
    /// The claim that holds the user ID (case-sensitive), e.g. `UserId`.
    pub user_id_claim: String,
    /// The claim that holds the user directory (case-sensitive), e.g. `UserDirectory`.
    pub user_directory_claim: String,
    /// Extra claims kept as session attributes.
    pub attribute_map: Vec<AttributeMapping>,
    /// The required `aud`, when set; without it `aud` is ignored.
    pub audience: Option<String>,
    /// The required `iss`, when set; without it `iss` is ignored.
    pub issuer: Option<String>,
    /// Whether a token needs `exp` (default false on the Qlik profiles, as Qlik documents; true
    /// on `rfc6750`).
    pub exp_required: bool,
    /// The `kid` the certificate is known by, when set: a token naming another `kid` is refused.
    pub kid: Option<String>,
    /// Clock tolerance for `exp`, `nbf` and `iat`, in seconds (default 0).
    pub leeway_s: i64,
    /// The laxity switches (all off by default).
    pub laxity: Laxity,
    /// How long a session lives without requests (default 30 minutes).
    pub session_inactivity_timeout: Duration,
    /// The largest request header block accepted, in bytes (default 16384).
    pub max_header_bytes: usize,
    /// The most live sessions one user may hold (default 5; 0 turns the limit off).
    pub max_sessions_per_user: u32,
    /// Host names allowed in the `Host` header; empty allows any host.
    pub host_allow_list: Vec<String>,
    /// Headers added to every response of this virtual proxy, in order.
    pub additional_response_headers: Vec<(String, String)>,
    /// Whether the `Bearer` scheme matches in any case and with extra spaces (default true).
    pub bearer_scheme_case_insensitive: bool,
    /// Statuses for the situations the sources do not pin.
    pub statuses: VpStatuses,
}

/// The default (prefix-less) virtual proxy: Windows or forms authentication, never JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultProxyConfig {
    /// A User-Agent containing this text is sent to Windows authentication (default `Windows`).
    pub windows_auth_pattern: String,
}

/// Statuses of the Qlik Cloud tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudStatuses {
    /// A required claim missing, a window over the limit or a replayed `jti` (C2, C3). Default 400.
    pub invalid_request: u16,
    /// Bad signature, unknown `kid`, wrong `iss`/`aud`, a refused alg, expired (C4, C5). Default 401.
    pub unauthorized: u16,
    /// Over the login rate limit (C6). Default 429.
    pub rate_limited: u16,
}

/// The Qlik Cloud tenant (profile `qlik-cloud`).
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// Host names served; another `Host` gets 401 `LOGIN-2`. Empty serves any host.
    pub tenant_hosts: Vec<String>,
    /// The identity provider's issuer; `iss` must equal it.
    pub issuer: String,
    /// The key ID; the token header's `kid` must equal it.
    pub kid: String,
    /// The certificate file (resolved against the config file's directory).
    pub certificate: Utf8PathBuf,
    /// The public key read from `certificate`, parsed once.
    pub public_key: PublicKey,
    /// The algorithms accepted (RS256, RS384, RS512 by default; never HS*).
    pub algorithms: Vec<Alg>,
    /// The required `aud` (default `qlik.api/login/jwt-session`).
    pub audience: String,
    /// The longest `exp - nbf` accepted (default 3600 s).
    pub max_lifetime: Duration,
    /// Clock tolerance for `exp` and `nbf`, in seconds (default 0).
    pub clock_tolerance_s: i64,
    /// How long a session lives without requests (default 1 hour).
    pub session_inactivity_timeout: Duration,
    /// The most `jti` values remembered for replay detection (default 100000); memory stays bounded.
    pub replay_cache_capacity: usize,
    /// Logins allowed per minute (the real tenant allows 100); 0 turns the limit off (default).
    pub rate_limit_per_minute: u32,
    /// Statuses for the situations the sources do not pin.
    pub statuses: CloudStatuses,
}

/// The whole emulator config.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The file it was read from.
    pub path: Utf8PathBuf,
    /// The profile.
    pub profile: ProfileName,
    /// Whether error responses carry `X-Jwtprobe-Mock-Reason` (the real proxy gives no reason).
    pub debug_reasons: bool,
    /// The header cap for requests that reach no virtual proxy (default 16384 bytes).
    pub max_header_bytes: usize,
    /// The status for an unknown prefix (default 400, "The http request header is incorrect").
    pub unknown_prefix_status: u16,
    /// The default (prefix-less) virtual proxy.
    pub default_proxy: DefaultProxyConfig,
    /// The JWT virtual proxies (profiles `qseow` and `qseow-pre2024`).
    pub virtual_proxies: Vec<VirtualProxyConfig>,
    /// The Qlik Cloud tenant (profile `qlik-cloud`).
    pub cloud: Option<CloudConfig>,
}

/// Reads and checks a config file. On failure, returns every problem found.
pub fn read_config(path: &Utf8Path) -> Result<MockConfig, Vec<Diagnostic>> {
    let source = fs_err::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(
            format!("failed to read mock config `{path}`"),
            e.to_string(),
        )]
    })?;
    let dir = path
        .parent()
        .map_or_else(|| Utf8PathBuf::from("."), Utf8Path::to_owned);
    let dir = if dir.as_str().is_empty() {
        Utf8PathBuf::from(".")
    } else {
        dir
    };
    parse_config(&source, path, &|rel: &Utf8Path| dir.join(rel))
}

impl MockConfig {
    /// The config `jwtprobe run` uses when no `--target` is given:
    /// `<repo_root>/fixtures/mock/qseow.yaml` and the fixture keys it names.
    pub fn fixture_default(repo_root: &Utf8Path) -> Result<Self, Vec<Diagnostic>> {
        read_config(&repo_root.join("fixtures/mock/qseow.yaml"))
    }

    /// The virtual proxy with this prefix (lowercase comparison).
    #[must_use]
    pub fn virtual_proxy(&self, prefix: &str) -> Option<&VirtualProxyConfig> {
        self.virtual_proxies
            .iter()
            .find(|vp| vp.prefix.eq_ignore_ascii_case(prefix))
    }
}

/// The JSON Schema of an emulator config file, generated from its serde form (`file::ConfigFile`).
#[must_use]
pub fn schema() -> Value {
    checker().schema().clone()
}

fn checker() -> &'static Checker {
    static CHECKER: OnceLock<Checker> = OnceLock::new();
    CHECKER.get_or_init(|| Checker::of::<file::ConfigFile>("jwtprobe mock config", WORDING))
}

/// The regex a prefix matches: the characters QMC allows in one.
const PREFIX_PATTERN: &str = "^[a-z0-9._~-]+$";

/// The messages of the config that the generic schema wording does not have (the labels of
/// the hand-written reader this one replaced).
const WORDING: Wording = Wording {
    missing_key_hint: |_| None,
    too_few_items: |_| None,
    wrong_type: |pointer| {
        let (parent, key) = pointer.rsplit_once('/')?;
        if key.ends_with("_status") || parent.ends_with("/statuses") {
            return Some("expected an HTTP status code (100-599)");
        }
        match key {
            "max_header_bytes" => Some("expected a number of bytes"),
            "max_sessions_per_user" | "rate_limit_per_minute" => {
                Some("expected a number (0 turns the limit off)")
            }
            "replay_cache_capacity" => Some("expected a number"),
            _ => None,
        }
    },
    value_noun: |pointer| match pointer {
        "/profile" => Some("profile"),
        _ => None,
    },
    patterns: &[(
        PREFIX_PATTERN,
        "lowercase letters, digits and `-._~` only in a prefix",
    )],
};

/// Parses config text; `resolve` turns a path written in the file into a path to open.
pub(crate) fn parse_config(
    source: &str,
    path: &Utf8Path,
    resolve: &dyn Fn(&Utf8Path) -> Utf8PathBuf,
) -> Result<MockConfig, Vec<Diagnostic>> {
    let headline = format!("invalid mock config `{path}`");
    let text = FileText {
        path,
        text: source,
        headline: &headline,
        empty_hint: None,
    };
    let (written, spans) = schema::read_validated::<file::ConfigFile>(&text, checker())?;
    let mut checks = Checks {
        text: &text,
        spans: &spans,
        diags: Vec::new(),
        resolve,
    };
    let config = checks.config(written);
    match config {
        Some(c) if checks.diags.is_empty() => Ok(c),
        _ => {
            if checks.diags.is_empty() {
                checks.error("", "invalid config", None);
            }
            schema::sort(&mut checks.diags);
            Err(checks.diags)
        }
    }
}

/// The config file as written: the serde form of the YAML, validated by the JSON Schema
/// generated from it before it is deserialized. Every optional key may also be written `~`.
mod file {
    use schemars::JsonSchema;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    use crate::jose::{Alg, ProfileName};

    /// The whole config.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct ConfigFile {
        /// The product the emulator behaves like: `qseow`, `qseow-pre2024`, `qlik-cloud` or
        /// `rfc6750`.
        pub(super) profile: ProfileName,
        /// Whether refusals carry `X-Jwtprobe-Mock-Reason` (default true).
        #[serde(default)]
        pub(super) debug_reasons: Option<bool>,
        /// The header cap for requests that reach no virtual proxy, in bytes (default 16384).
        #[serde(default)]
        pub(super) max_header_bytes: Option<usize>,
        /// The status for an unknown prefix (default 400).
        #[serde(default)]
        pub(super) unknown_prefix_status: Option<Status>,
        /// The default (prefix-less) virtual proxy.
        #[serde(default)]
        pub(super) default_proxy: Option<DefaultProxyFile>,
        /// The JWT virtual proxies (profiles `qseow`, `qseow-pre2024`, `rfc6750`).
        #[serde(default)]
        pub(super) virtual_proxies: Option<Vec<VirtualProxyFile>>,
        /// The Qlik Cloud tenant (profile `qlik-cloud`).
        #[serde(default)]
        pub(super) cloud: Option<CloudFile>,
    }

    /// An HTTP status code (100-599).
    #[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
    #[serde(transparent)]
    pub(super) struct Status(#[schemars(range(min = 100, max = 599))] pub(super) u16);

    /// A duration: text such as `30m` or `500ms`, or a whole number of the key's unit.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(untagged)]
    pub(super) enum DurationText {
        /// A whole number of the key's unit (seconds, or minutes for session timeouts).
        Number(u64),
        /// Text such as `30m` or `500ms`.
        Text(String),
    }

    /// The default (prefix-less) virtual proxy.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct DefaultProxyFile {
        /// A User-Agent containing this text is sent to Windows authentication (default
        /// `Windows`).
        #[serde(default)]
        pub(super) windows_auth_pattern: Option<String>,
    }

    /// One JWT virtual proxy.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct VirtualProxyFile {
        /// The prefix: lowercase letters, digits and `-._~` (`jwt` serves `/jwt/...`).
        #[schemars(regex(pattern = super::PREFIX_PATTERN))]
        pub(super) prefix: String,
        /// A note for the reader; not used.
        #[serde(default)]
        #[expect(dead_code, reason = "accepted for the reader of the file, never used")]
        pub(super) description: Option<String>,
        /// The session cookie name over HTTPS (default `X-Qlik-Session-<prefix>`).
        #[serde(default)]
        pub(super) session_cookie_name: Option<String>,
        /// Session cookie attributes.
        #[serde(default)]
        pub(super) cookie: Option<CookieFile>,
        /// The JWT certificate file, relative to the config file.
        pub(super) jwt_certificate: String,
        /// The algorithms accepted (default RS256, RS384, RS512); key-pair algorithms only.
        #[serde(default)]
        pub(super) algorithms: Option<Vec<Alg>>,
        /// The claim that holds the user ID.
        pub(super) user_id_claim: String,
        /// The claim that holds the user directory.
        pub(super) user_directory_claim: String,
        /// Extra claims kept as session attributes.
        #[serde(default)]
        pub(super) attribute_map: Option<Vec<MappingFile>>,
        /// The required `aud`, when set.
        #[serde(default)]
        pub(super) audience: Option<String>,
        /// The required `iss`, when set.
        #[serde(default)]
        pub(super) issuer: Option<String>,
        /// Whether a token needs `exp` (default false, true on `rfc6750`).
        #[serde(default)]
        pub(super) exp_required: Option<bool>,
        /// The `kid` the certificate is known by.
        #[serde(default)]
        pub(super) kid: Option<String>,
        /// The laxity switches.
        #[serde(default)]
        pub(super) laxity: Option<LaxityFile>,
        /// Clock tolerance for `exp`, `nbf` and `iat` (a number is seconds; default 0).
        #[serde(default)]
        pub(super) leeway: Option<DurationText>,
        /// How long a session lives without requests (a number is minutes; default 30m).
        #[serde(default)]
        pub(super) session_inactivity_timeout: Option<DurationText>,
        /// The largest request header block accepted, in bytes (default: the top-level one).
        #[serde(default)]
        pub(super) max_header_bytes: Option<usize>,
        /// The most live sessions one user may hold (default 5; 0 turns the limit off).
        #[serde(default)]
        pub(super) max_sessions_per_user: Option<u32>,
        /// Host names allowed in the `Host` header; empty allows any host.
        #[serde(default)]
        pub(super) host_allow_list: Option<Vec<String>>,
        /// Headers added to every response, in order.
        #[serde(default)]
        pub(super) additional_response_headers: Option<HeaderValues>,
        /// Whether the `Bearer` scheme matches in any case and with extra spaces (default
        /// true).
        #[serde(default)]
        pub(super) bearer_scheme_case_insensitive: Option<bool>,
        /// Statuses for the situations the sources do not pin.
        #[serde(default)]
        pub(super) statuses: Option<VpStatusesFile>,
    }

    /// Header names to values (text, numbers and booleans), in the order written.
    #[derive(Debug, Deserialize)]
    #[serde(transparent)]
    pub(super) struct HeaderValues(pub(super) Map<String, Value>);

    impl JsonSchema for HeaderValues {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            "HeaderValues".into()
        }

        fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
            schemars::json_schema!({
                "type": "object",
                "additionalProperties": { "type": ["string", "number", "boolean"] }
            })
        }
    }

    /// Session cookie attributes.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct CookieFile {
        /// Whether the cookie carries `HttpOnly` (default true).
        #[serde(default)]
        pub(super) http_only: Option<bool>,
        /// The `Domain` attribute (default none).
        #[serde(default)]
        pub(super) domain: Option<String>,
        /// Attributes over HTTPS (default `Secure; SameSite=None`).
        #[serde(default)]
        pub(super) https: Option<TransportFile>,
        /// Attributes over plain HTTP (default no `Secure`, no `SameSite`).
        #[serde(default)]
        pub(super) http: Option<TransportFile>,
    }

    /// Cookie attributes for one transport.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct TransportFile {
        /// Whether the cookie carries `Secure`.
        #[serde(default)]
        pub(super) secure: Option<bool>,
        /// `no_attribute`, `none`, `lax` or `strict` (any case).
        #[serde(default)]
        pub(super) same_site: Option<String>,
    }

    /// One claim mapped to a Qlik user attribute.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct MappingFile {
        /// The claim name in the token.
        pub(super) claim: String,
        /// The attribute name Qlik uses for it.
        pub(super) attribute: String,
        /// Whether a token without this claim is rejected (default false).
        #[serde(default)]
        pub(super) mandatory: Option<bool>,
    }

    /// The laxity switches (all off by default).
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct LaxityFile {
        /// Accept a token without `exp`.
        #[serde(default)]
        pub(super) accept_no_exp: Option<bool>,
        /// Do not check `nbf`.
        #[serde(default)]
        pub(super) ignore_nbf: Option<bool>,
        /// Do not check that `iat` is not in the future.
        #[serde(default)]
        pub(super) ignore_iat: Option<bool>,
        /// Algorithms accepted on top of `algorithms`.
        #[serde(default)]
        pub(super) extra_algorithms: Option<Vec<Alg>>,
        /// Clock tolerance added to `leeway` (a number is seconds).
        #[serde(default)]
        pub(super) leeway: Option<DurationText>,
        /// Resolve `kid` as a file name for an HMAC key.
        #[serde(default)]
        pub(super) kid_selects_file: Option<bool>,
        /// Verify with a key embedded in the header.
        #[serde(default)]
        pub(super) trust_embedded_key: Option<bool>,
        /// Fetch the key at `jku` (or the certificate at `x5u`).
        #[serde(default)]
        pub(super) fetch_key_url: Option<bool>,
        /// Ignore `crit` and `b64`.
        #[serde(default)]
        pub(super) ignore_crit: Option<bool>,
        /// Accept an `exp` (or `nbf`, `iat`) that is not a number.
        #[serde(default)]
        pub(super) accept_malformed_exp: Option<bool>,
        /// Take a token from the `access_token` query parameter.
        #[serde(default)]
        pub(super) accept_query_token: Option<bool>,
        /// Take an identity claim whose name differs only in case.
        #[serde(default)]
        pub(super) case_insensitive_claims: Option<bool>,
        /// Match the prefix in any case.
        #[serde(default)]
        pub(super) case_insensitive_prefix: Option<bool>,
        /// Do not check `aud`.
        #[serde(default)]
        pub(super) ignore_audience: Option<bool>,
        /// Do not check `iss`.
        #[serde(default)]
        pub(super) ignore_issuer: Option<bool>,
    }

    /// The statuses of a virtual proxy.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct VpStatusesFile {
        /// Any unusable token (default 400; 401 on `rfc6750`).
        #[serde(default)]
        pub(super) reject: Option<Status>,
        /// No token and no live session (default 401).
        #[serde(default)]
        pub(super) no_token: Option<Status>,
        /// The `Host` is not allowed (default 403).
        #[serde(default)]
        pub(super) host_denied: Option<Status>,
        /// A new session over the per-user limit (default 403).
        #[serde(default)]
        pub(super) session_limit: Option<Status>,
        /// `DELETE /qps/user` (default 200).
        #[serde(default)]
        pub(super) logout: Option<Status>,
        /// `GET /qps/csrftoken` (default 204; 404 on `qseow-pre2024`).
        #[serde(default)]
        pub(super) csrftoken: Option<Status>,
        /// Request headers over `max_header_bytes` (default 400; 431 on `rfc6750`).
        #[serde(default)]
        pub(super) header_too_large: Option<Status>,
    }

    /// The Qlik Cloud tenant.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct CloudFile {
        /// Host names served; empty serves any host.
        #[serde(default)]
        pub(super) tenant_hosts: Option<Vec<String>>,
        /// The identity provider's issuer.
        pub(super) issuer: String,
        /// The key ID.
        pub(super) kid: String,
        /// The certificate file, relative to the config file.
        pub(super) certificate: String,
        /// The algorithms accepted (default RS256, RS384, RS512); key-pair algorithms only.
        #[serde(default)]
        pub(super) algorithms: Option<Vec<Alg>>,
        /// The required `aud` (default `qlik.api/login/jwt-session`).
        #[serde(default)]
        pub(super) audience: Option<String>,
        /// The longest `exp - nbf` accepted (a number is seconds; default 1h).
        #[serde(default)]
        pub(super) max_lifetime: Option<DurationText>,
        /// Clock tolerance for `exp` and `nbf` (a number is seconds; default 0).
        #[serde(default)]
        pub(super) clock_tolerance: Option<DurationText>,
        /// How long a session lives without requests (a number is minutes; default 1h).
        #[serde(default)]
        pub(super) session_inactivity_timeout: Option<DurationText>,
        /// The most `jti` values remembered (default 100000, at least 1).
        #[serde(default)]
        pub(super) replay_cache_capacity: Option<usize>,
        /// Logins allowed per minute (default 0: no limit).
        #[serde(default)]
        pub(super) rate_limit_per_minute: Option<u32>,
        /// Statuses for the situations the sources do not pin.
        #[serde(default)]
        pub(super) statuses: Option<CloudStatusesFile>,
    }

    /// The statuses of the Qlik Cloud tenant.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(super) struct CloudStatusesFile {
        /// A required claim missing, a window over the limit or a replayed `jti` (default 400).
        #[serde(default)]
        pub(super) invalid_request: Option<Status>,
        /// Bad signature, unknown `kid`, wrong `iss`/`aud`, a refused alg, expired (default 401).
        #[serde(default)]
        pub(super) unauthorized: Option<Status>,
        /// Over the login rate limit (default 429).
        #[serde(default)]
        pub(super) rate_limited: Option<Status>,
    }
}

/// The checks the schema cannot express (files that must exist, names that must be unique,
/// durations, header names), each reported at its node, and the conversion of the file into
/// a [`MockConfig`].
struct Checks<'a> {
    text: &'a FileText<'a>,
    spans: &'a SpanMap,
    diags: Vec<Diagnostic>,
    resolve: &'a dyn Fn(&Utf8Path) -> Utf8PathBuf,
}

impl Checks<'_> {
    fn error(&mut self, pointer: &str, label: impl Into<String>, hint: Option<String>) {
        let span = self.spans.nearest(pointer).unwrap_or(Span::START);
        self.diags
            .push(self.text.diagnostic(span, label.into(), hint));
    }

    /// A required string, refused when blank.
    fn non_empty(&mut self, value: String, pointer: &str, key: &str) -> Option<String> {
        if value.trim().is_empty() {
            self.error(
                &format!("{pointer}/{key}"),
                format!("`{key}` must not be empty"),
                None,
            );
            return None;
        }
        Some(value)
    }

    /// A duration: humantime text (`30m`, `500ms`) or a number of `unit_secs` seconds.
    fn duration(
        &mut self,
        value: Option<file::DurationText>,
        at: &str,
        unit_secs: u64,
        default: Duration,
    ) -> Duration {
        match value {
            None => default,
            Some(file::DurationText::Number(n)) => Duration::from_secs(n.saturating_mul(unit_secs)),
            Some(file::DurationText::Text(s)) => match humantime::parse_duration(s.trim()) {
                Ok(d) => d,
                Err(e) => {
                    self.error(
                        at,
                        format!("expected a duration such as `30m` or `500ms` ({e})"),
                        None,
                    );
                    default
                }
            },
        }
    }

    /// The algorithms at `at`: key-pair algorithms only, since a certificate verifies them.
    fn algorithms(&mut self, algs: Option<Vec<Alg>>, at: &str, default: &[Alg]) -> Vec<Alg> {
        let Some(algs) = algs else {
            return default.to_vec();
        };
        let mut out = Vec::new();
        for (i, alg) in algs.into_iter().enumerate() {
            if alg.is_asymmetric() {
                out.push(alg);
            } else {
                self.error(
                    &format!("{at}/{i}"),
                    format!("unknown or keyless algorithm `{alg}` (HS* and none cannot be verified with a certificate)"),
                    None,
                );
            }
        }
        out
    }

    /// Reads the certificate or public key a path names, once.
    fn public_key(&mut self, rel: String, at: &str) -> Option<(Utf8PathBuf, PublicKey)> {
        let path = (self.resolve)(Utf8Path::new(&rel));
        match keys::read_key_file(&path, None) {
            Ok(bundle) => {
                let public = bundle
                    .certificate
                    .as_ref()
                    .map(|c| c.public_key().clone())
                    .or(bundle.public);
                match public {
                    Some(pk) => Some((path, pk)),
                    None => {
                        self.error(
                            at,
                            format!("`{path}` holds no certificate or public key"),
                            None,
                        );
                        None
                    }
                }
            }
            Err(e) => {
                let mut label = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    label.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                self.error(at, label, e.hint().map(str::to_owned));
                None
            }
        }
    }

    fn config(&mut self, written: file::ConfigFile) -> Option<MockConfig> {
        let profile = written.profile;
        if !EMULATED_PROFILES.contains(&profile) {
            let names = EMULATED_PROFILES.map(ProfileName::name);
            let hint = did_you_mean(profile.name(), &names).map(|c| format!("did you mean `{c}`?"));
            self.error(
                "/profile",
                format!(
                    "unknown profile `{profile}` (expected qseow, qseow-pre2024, qlik-cloud or rfc6750)"
                ),
                hint,
            );
        }
        let max_header_bytes = written.max_header_bytes.unwrap_or(16384);
        let default_proxy = DefaultProxyConfig {
            windows_auth_pattern: written
                .default_proxy
                .and_then(|d| d.windows_auth_pattern)
                .unwrap_or_else(|| "Windows".to_owned()),
        };
        let has_proxies = written.virtual_proxies.is_some();
        let mut virtual_proxies: Vec<VirtualProxyConfig> = Vec::new();
        for (i, item) in written.virtual_proxies.into_iter().flatten().enumerate() {
            let at = format!("/virtual_proxies/{i}");
            let Some(vp) = self.virtual_proxy(item, &at, profile, max_header_bytes) else {
                continue;
            };
            if virtual_proxies.iter().any(|o| o.prefix == vp.prefix) {
                self.error(
                    &format!("{at}/prefix"),
                    format!("prefix `{}` is used twice", vp.prefix),
                    None,
                );
            }
            if virtual_proxies
                .iter()
                .any(|o| o.session_cookie_name == vp.session_cookie_name)
            {
                self.error(
                    &format!("{at}/session_cookie_name"),
                    "the session cookie name must be unique per virtual proxy",
                    None,
                );
            }
            virtual_proxies.push(vp);
        }
        let has_cloud = written.cloud.is_some();
        let cloud = written.cloud.and_then(|c| self.cloud(c));
        match profile {
            ProfileName::QlikCloud if !has_cloud => {
                self.error(
                    "/profile",
                    "profile `qlik-cloud` needs a `cloud` section",
                    None,
                );
            }
            ProfileName::QlikCloud => {}
            _ if has_cloud => {
                self.error(
                    "/cloud",
                    format!("a `cloud` section needs profile `qlik-cloud`, not `{profile}`"),
                    None,
                );
            }
            _ if !has_proxies => {
                self.error(
                    "",
                    format!("profile `{profile}` needs at least one entry in `virtual_proxies`"),
                    None,
                );
            }
            _ => {}
        }
        Some(MockConfig {
            path: self.text.path.to_owned(),
            profile,
            debug_reasons: written.debug_reasons.unwrap_or(true),
            max_header_bytes,
            unknown_prefix_status: written.unknown_prefix_status.map_or(400, |s| s.0),
            default_proxy,
            virtual_proxies,
            cloud,
        })
    }

    fn cookie(&mut self, written: Option<file::CookieFile>, at: &str) -> CookieAttributes {
        let mut attrs = CookieAttributes {
            http_only: true,
            domain: None,
            https: CookieTransport {
                secure: true,
                same_site: SameSite::None,
            },
            http: CookieTransport {
                secure: false,
                same_site: SameSite::NoAttribute,
            },
        };
        let Some(c) = written else {
            return attrs;
        };
        attrs.http_only = c.http_only.unwrap_or(true);
        attrs.domain = c.domain;
        for (key, transport, slot) in [
            ("https", c.https, &mut attrs.https),
            ("http", c.http, &mut attrs.http),
        ] {
            let Some(t) = transport else { continue };
            if let Some(secure) = t.secure {
                slot.secure = secure;
            }
            if let Some(name) = t.same_site {
                match SameSite::from_name(&name) {
                    Some(s) => slot.same_site = s,
                    None => self.error(
                        &format!("{at}/{key}/same_site"),
                        "expected no_attribute, none, lax or strict",
                        None,
                    ),
                }
            }
        }
        attrs
    }

    fn virtual_proxy(
        &mut self,
        vp: file::VirtualProxyFile,
        at: &str,
        profile: ProfileName,
        max_header_bytes: usize,
    ) -> Option<VirtualProxyConfig> {
        let prefix = self.non_empty(vp.prefix, at, "prefix");
        if let Some(p) = &prefix
            && super::route::is_reserved(p)
        {
            self.error(
                &format!("{at}/prefix"),
                format!("`{p}` is a reserved path segment and cannot be a prefix"),
                None,
            );
        }
        let cookie = self.cookie(vp.cookie, &format!("{at}/cookie"));
        let certificate = self.non_empty(vp.jwt_certificate, at, "jwt_certificate");
        let key =
            certificate.and_then(|rel| self.public_key(rel, &format!("{at}/jwt_certificate")));
        let algorithms = self.algorithms(
            vp.algorithms,
            &format!("{at}/algorithms"),
            &[Alg::RS256, Alg::RS384, Alg::RS512],
        );
        let user_id_claim = self.non_empty(vp.user_id_claim, at, "user_id_claim");
        let user_directory_claim =
            self.non_empty(vp.user_directory_claim, at, "user_directory_claim");
        let mut attribute_map = Vec::new();
        for (i, m) in vp.attribute_map.into_iter().flatten().enumerate() {
            let mat = format!("{at}/attribute_map/{i}");
            let claim = self.non_empty(m.claim, &mat, "claim");
            let attribute = self.non_empty(m.attribute, &mat, "attribute");
            if let (Some(claim), Some(attribute)) = (claim, attribute) {
                attribute_map.push(AttributeMapping {
                    claim,
                    attribute,
                    mandatory: m.mandatory.unwrap_or(false),
                });
            }
        }
        let laxity = self.laxity(vp.laxity, &format!("{at}/laxity"));
        let leeway = self.duration(vp.leeway, &format!("{at}/leeway"), 1, Duration::ZERO);
        let timeout = self.duration(
            vp.session_inactivity_timeout,
            &format!("{at}/session_inactivity_timeout"),
            60,
            Duration::from_secs(30 * 60),
        );
        let host_allow_list = vp.host_allow_list.unwrap_or_default();
        for (i, host) in host_allow_list.iter().enumerate() {
            if host.contains("://") || host.contains('/') || host.contains(':') {
                self.error(
                    &format!("{at}/host_allow_list/{i}"),
                    "a host name only: no scheme, port or path",
                    None,
                );
            }
        }
        let additional_response_headers = self.headers(
            vp.additional_response_headers,
            &format!("{at}/additional_response_headers"),
        );
        let statuses = vp_statuses(vp.statuses, profile);
        let prefix = prefix?;
        let (jwt_certificate, public_key) = key?;
        Some(VirtualProxyConfig {
            session_cookie_name: vp
                .session_cookie_name
                .unwrap_or_else(|| format!("X-Qlik-Session-{prefix}")),
            prefix,
            cookie,
            jwt_certificate,
            public_key,
            algorithms,
            user_id_claim: user_id_claim?,
            user_directory_claim: user_directory_claim?,
            attribute_map,
            audience: vp.audience,
            issuer: vp.issuer,
            exp_required: vp.exp_required.unwrap_or(profile == ProfileName::Rfc6750),
            kid: vp.kid,
            laxity,
            leeway_s: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX),
            session_inactivity_timeout: timeout,
            max_header_bytes: vp.max_header_bytes.unwrap_or(max_header_bytes),
            max_sessions_per_user: vp.max_sessions_per_user.unwrap_or(5),
            host_allow_list,
            additional_response_headers,
            bearer_scheme_case_insensitive: vp.bearer_scheme_case_insensitive.unwrap_or(true),
            statuses,
        })
    }

    fn laxity(&mut self, written: Option<file::LaxityFile>, at: &str) -> Laxity {
        let Some(l) = written else {
            return Laxity::default();
        };
        let on = |b: Option<bool>| b.unwrap_or(false);
        let leeway = self.duration(l.leeway, &format!("{at}/leeway"), 1, Duration::ZERO);
        Laxity {
            accept_no_exp: on(l.accept_no_exp),
            ignore_nbf: on(l.ignore_nbf),
            ignore_iat: on(l.ignore_iat),
            extra_algorithms: self.algorithms(
                l.extra_algorithms,
                &format!("{at}/extra_algorithms"),
                &[],
            ),
            leeway_s: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX),
            kid_selects_file: on(l.kid_selects_file),
            trust_embedded_key: on(l.trust_embedded_key),
            fetch_key_url: on(l.fetch_key_url),
            ignore_crit: on(l.ignore_crit),
            accept_malformed_exp: on(l.accept_malformed_exp),
            accept_query_token: on(l.accept_query_token),
            case_insensitive_claims: on(l.case_insensitive_claims),
            case_insensitive_prefix: on(l.case_insensitive_prefix),
            ignore_audience: on(l.ignore_audience),
            ignore_issuer: on(l.ignore_issuer),
        }
    }

    fn headers(&mut self, written: Option<file::HeaderValues>, at: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, value) in written.map(|h| h.0).unwrap_or_default() {
            let hat = push_pointer(at, &name);
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                let span = self.spans.key(&hat).unwrap_or(Span::START);
                self.diags.push(self.text.diagnostic(
                    span,
                    format!("`{name}` is not a valid header name"),
                    None,
                ));
                continue;
            }
            if http::HeaderValue::from_str(&text).is_err() {
                self.error(&hat, "not a valid header value", None);
                continue;
            }
            out.push((name, text));
        }
        out
    }

    fn cloud(&mut self, c: file::CloudFile) -> Option<CloudConfig> {
        let at = "/cloud";
        let issuer = self.non_empty(c.issuer, at, "issuer");
        let kid = self.non_empty(c.kid, at, "kid");
        let key = self
            .non_empty(c.certificate, at, "certificate")
            .and_then(|rel| self.public_key(rel, "/cloud/certificate"));
        let algorithms = self.algorithms(
            c.algorithms,
            "/cloud/algorithms",
            &[Alg::RS256, Alg::RS384, Alg::RS512],
        );
        let max_lifetime = self.duration(
            c.max_lifetime,
            "/cloud/max_lifetime",
            1,
            Duration::from_secs(3600),
        );
        let tolerance = self.duration(
            c.clock_tolerance,
            "/cloud/clock_tolerance",
            1,
            Duration::ZERO,
        );
        let timeout = self.duration(
            c.session_inactivity_timeout,
            "/cloud/session_inactivity_timeout",
            60,
            Duration::from_secs(3600),
        );
        let replay_cache_capacity = c.replay_cache_capacity.unwrap_or(100_000);
        if replay_cache_capacity == 0 {
            self.error(
                "/cloud/replay_cache_capacity",
                "must be at least 1 (replay detection cannot be turned off)",
                None,
            );
        }
        let s = c.statuses;
        let pick = |f: fn(&file::CloudStatusesFile) -> Option<file::Status>, default: u16| {
            s.as_ref().and_then(f).map_or(default, |s| s.0)
        };
        let statuses = CloudStatuses {
            invalid_request: pick(|s| s.invalid_request, 400),
            unauthorized: pick(|s| s.unauthorized, 401),
            rate_limited: pick(|s| s.rate_limited, 429),
        };
        let (certificate, public_key) = key?;
        Some(CloudConfig {
            tenant_hosts: c.tenant_hosts.unwrap_or_default(),
            issuer: issuer?,
            kid: kid?,
            certificate,
            public_key,
            algorithms,
            audience: c
                .audience
                .unwrap_or_else(|| "qlik.api/login/jwt-session".to_owned()),
            max_lifetime,
            clock_tolerance_s: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
            session_inactivity_timeout: timeout,
            replay_cache_capacity,
            rate_limit_per_minute: c.rate_limit_per_minute.unwrap_or(0),
            statuses,
        })
    }
}

/// A virtual proxy's statuses: the file's, else the profile's defaults.
fn vp_statuses(written: Option<file::VpStatusesFile>, profile: ProfileName) -> VpStatuses {
    let rfc = profile == ProfileName::Rfc6750;
    let w = written.as_ref();
    let pick = |f: fn(&file::VpStatusesFile) -> Option<file::Status>, default: u16| {
        w.and_then(f).map_or(default, |s| s.0)
    };
    VpStatuses {
        reject: pick(|s| s.reject, if rfc { 401 } else { 400 }),
        no_token: pick(|s| s.no_token, 401),
        host_denied: pick(|s| s.host_denied, 403),
        session_limit: pick(|s| s.session_limit, 403),
        logout: pick(|s| s.logout, 200),
        csrftoken: pick(
            |s| s.csrftoken,
            if profile == ProfileName::QseowPre2024 {
                404
            } else {
                204
            },
        ),
        header_too_large: pick(|s| s.header_too_large, if rfc { 431 } else { 400 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Utf8PathBuf {
        Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn loc(d: &Diagnostic) -> (usize, usize) {
        d.location
            .as_ref()
            .map_or((0, 0), |l| (l.span.line, l.span.col))
    }

    fn parse(text: &str) -> Result<MockConfig, Vec<Diagnostic>> {
        let dir = repo().join("fixtures/mock");
        parse_config(text, Utf8Path::new("test.yaml"), &|rel: &Utf8Path| {
            dir.join(rel)
        })
    }

    const MINIMAL: &str = "profile: qseow\nvirtual_proxies:\n  - prefix: jwt\n    jwt_certificate: ../keys/qlik-signing.cert.pem\n    user_id_claim: UserId\n    user_directory_claim: UserDirectory\n";

    #[test]
    fn shipped_fixtures_are_valid() {
        for name in ["qseow.yaml", "qseow-pre2024.yaml", "qlik-cloud.yaml"] {
            let path = repo().join("fixtures/mock").join(name);
            if let Err(diags) = read_config(&path) {
                panic!("{name}: {diags:?}");
            }
        }
        let default = MockConfig::fixture_default(&repo()).expect("default fixture");
        assert_eq!(default.profile, ProfileName::Qseow);
        assert_eq!(
            default
                .virtual_proxy("jwt")
                .map(|vp| vp.session_cookie_name.as_str()),
            Some("X-Qlik-Session-jwt")
        );
    }

    #[test]
    fn unset_settings_take_the_documented_defaults() {
        let c = parse(MINIMAL).expect("valid");
        let vp = &c.virtual_proxies[0];
        assert_eq!(vp.session_cookie_name, "X-Qlik-Session-jwt");
        assert_eq!(vp.statuses.reject, 400);
        assert_eq!(vp.statuses.no_token, 401);
        assert_eq!(vp.statuses.csrftoken, 204);
        assert_eq!(vp.max_header_bytes, 16384);
        assert_eq!(vp.max_sessions_per_user, 5);
        assert_eq!(vp.session_inactivity_timeout, Duration::from_secs(1800));
        assert_eq!(vp.algorithms, vec![Alg::RS256, Alg::RS384, Alg::RS512]);
        assert!(vp.bearer_scheme_case_insensitive);
        assert!(c.debug_reasons);
        assert_eq!(c.default_proxy.windows_auth_pattern, "Windows");
    }

    #[test]
    fn pre2024_profile_answers_csrftoken_with_404() {
        let c = parse(&MINIMAL.replace("profile: qseow", "profile: qseow-pre2024")).expect("valid");
        assert_eq!(c.virtual_proxies[0].statuses.csrftoken, 404);
    }

    #[test]
    fn unknown_key_points_at_the_key_with_a_suggestion() {
        let text = MINIMAL.replace("    user_id_claim", "    user_id_clam");
        let diags = parse(&text).expect_err("typo");
        let d = diags
            .iter()
            .find(|d| d.label.contains("user_id_clam"))
            .expect("unknown key reported");
        assert_eq!(loc(d), (5, 5));
        assert_eq!(d.hint.as_deref(), Some("did you mean `user_id_claim`?"));
        assert_eq!(
            d.location.as_ref().map(ToString::to_string).as_deref(),
            Some("test.yaml:5:5")
        );
    }

    #[test]
    fn bad_status_points_at_the_value() {
        let text = format!("{MINIMAL}    statuses: {{ reject: 2OO }}\n");
        let diags = parse(&text).expect_err("bad status");
        assert_eq!(diags.len(), 1);
        assert_eq!(loc(&diags[0]), (7, 25));
        assert_eq!(diags[0].label, "expected an HTTP status code (100-599)");
        let rendered = diags[0].render(Some(&text));
        assert!(rendered.contains("--> test.yaml:7:25"), "{rendered}");
        assert!(
            rendered.starts_with("error: invalid mock config `test.yaml`"),
            "{rendered}"
        );
        assert!(
            rendered.contains("^^^ expected an HTTP status code"),
            "{rendered}"
        );
    }

    #[test]
    fn missing_certificate_file_is_reported_at_its_path() {
        let text = MINIMAL.replace("qlik-signing.cert.pem", "nosuch.pem");
        let diags = parse(&text).expect_err("missing file");
        assert_eq!(loc(&diags[0]), (4, 22));
        assert!(diags[0].label.contains("nosuch.pem"), "{}", diags[0].label);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "profile: qsew\nvirtual_proxies:\n  - prefix: JWT/x\n    jwt_certificate: ../keys/qlik-signing.cert.pem\n    user_directory_claim: UserDirectory\n    max_sessions_per_user: many\n";
        let diags = parse(text).expect_err("several problems");
        let labels: Vec<&str> = diags.iter().map(|d| d.label.as_str()).collect();
        assert!(
            labels.iter().any(|l| l.contains("unknown profile `qsew`")),
            "{labels:?}"
        );
        assert!(
            labels.iter().any(|l| l.contains("lowercase letters")),
            "{labels:?}"
        );
        assert!(
            labels
                .iter()
                .any(|l| l.contains("missing key `user_id_claim`")),
            "{labels:?}"
        );
        assert!(
            labels.iter().any(|l| l.contains("expected a number")),
            "{labels:?}"
        );
        assert_eq!(diags[0].hint.as_deref(), Some("did you mean `qseow`?"));
    }

    #[test]
    fn yaml_syntax_error_has_a_line() {
        let diags = parse("profile: [qseow\n").expect_err("bad yaml");
        assert!(
            diags[0].label.starts_with("invalid YAML"),
            "{}",
            diags[0].label
        );
        assert!(loc(&diags[0]).0 >= 1);
    }

    #[test]
    fn reserved_word_cannot_be_a_prefix() {
        let diags = parse(&MINIMAL.replace("prefix: jwt", "prefix: hub")).expect_err("reserved");
        assert!(diags[0].label.contains("reserved"), "{}", diags[0].label);
    }

    #[test]
    fn keyless_algorithm_is_refused_at_its_item() {
        let text = MINIMAL.replace(
            "    user_id_claim",
            "    algorithms: [RS256, HS256]\n    user_id_claim",
        );
        let diags = parse(&text).expect_err("keyless");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(loc(&diags[0]), (5, 25));
        assert!(
            diags[0].label.contains("keyless algorithm `HS256`"),
            "{diags:?}"
        );
    }

    #[test]
    fn target_profile_without_an_emulation_is_refused() {
        let diags = parse(&MINIMAL.replace("profile: qseow", "profile: generic"))
            .expect_err("not emulated");
        assert_eq!(loc(&diags[0]), (1, 10));
        assert!(
            diags[0].label.contains("unknown profile `generic`"),
            "{diags:?}"
        );
    }

    #[test]
    fn schema_errors_and_wording_match_the_config_keys() {
        let diags = parse(&format!(
            "{MINIMAL}    max_header_bytes: lots\n    leeway: [1]\n"
        ))
        .expect_err("wrong types");
        let labels: Vec<&str> = diags.iter().map(|d| d.label.as_str()).collect();
        assert!(labels.contains(&"expected a number of bytes"), "{labels:?}");
        assert!(
            labels
                .iter()
                .any(|l| l.starts_with("expected a whole number or a string")),
            "{labels:?}"
        );
        let schema = schema();
        assert_eq!(schema["title"], "jwtprobe mock config");
        assert!(
            schema["properties"]["virtual_proxies"].is_object(),
            "{schema}"
        );
    }

    #[test]
    fn cloud_section_needs_the_cloud_profile() {
        let text = "profile: qseow\ncloud:\n  issuer: x\n  kid: k\n  certificate: ../keys/qlik-signing.cert.pem\n";
        let diags = parse(text).expect_err("mismatch");
        assert!(
            diags
                .iter()
                .any(|d| d.label.contains("needs profile `qlik-cloud`")),
            "{diags:?}"
        );
    }
}
