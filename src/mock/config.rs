//! The emulator's config: virtual proxies, the default virtual proxy, the Qlik Cloud tenant and
//! the profile whose defaults fill every status the sources do not pin.
//!
//! [`read_config`] reads a YAML file with `saphyr` (every node keeps its line and column),
//! checks every key and value, and returns either a [`MockConfig`] or every problem at once as
//! [`Diagnostic`]s pointing at `file:line:col`. Paths in the file (the JWT certificate)
//! are relative to the config file. The certificate is read and parsed here, once.

use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::diag::yaml::{self, SpanMap, push_pointer};
use crate::diag::{self, Diagnostic, Located, Span};
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
    /// The config key of every switch, in the order above.
    pub const KEYS: [&'static str; 15] = [
        "accept_no_exp",
        "ignore_nbf",
        "ignore_iat",
        "extra_algorithms",
        "leeway",
        "kid_selects_file",
        "trust_embedded_key",
        "fetch_key_url",
        "ignore_crit",
        "accept_malformed_exp",
        "accept_query_token",
        "case_insensitive_claims",
        "case_insensitive_prefix",
        "ignore_audience",
        "ignore_issuer",
    ];

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

/// Parses config text; `resolve` turns a path written in the file into a path to open.
pub(crate) fn parse_config(
    source: &str,
    file: &Utf8Path,
    resolve: &dyn Fn(&Utf8Path) -> Utf8PathBuf,
) -> Result<MockConfig, Vec<Diagnostic>> {
    let (root, spans) = yaml::parse(source).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| diag_at(file, e.span, e.message, e.hint))
            .collect::<Vec<_>>()
    })?;
    let mut r = Reader {
        root: &root,
        spans: &spans,
        file,
        diags: Vec::new(),
        resolve,
    };
    let config = r.config();
    match config {
        Some(c) if r.diags.is_empty() => Ok(c),
        _ => {
            if r.diags.is_empty() {
                r.diags.push(diag_at(
                    file,
                    Span::START,
                    "invalid config".to_owned(),
                    None,
                ));
            }
            r.diags
                .sort_by_key(|d| d.location.as_ref().map(|l| (l.span.line, l.span.col)));
            Err(r.diags)
        }
    }
}

fn diag_at(file: &Utf8Path, span: Span, label: String, hint: Option<String>) -> Diagnostic {
    Diagnostic::new(format!("invalid mock config `{file}`"), label)
        .at(Some(Located::new(file, span)))
        .with_hint_opt(hint)
}

fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    diag::did_you_mean(word, candidates).map(str::to_owned)
}

const TOP_KEYS: &[&str] = &[
    "profile",
    "debug_reasons",
    "max_header_bytes",
    "unknown_prefix_status",
    "default_proxy",
    "virtual_proxies",
    "cloud",
];
const DEFAULT_PROXY_KEYS: &[&str] = &["windows_auth_pattern"];
const VP_KEYS: &[&str] = &[
    "prefix",
    "description",
    "session_cookie_name",
    "cookie",
    "jwt_certificate",
    "algorithms",
    "user_id_claim",
    "user_directory_claim",
    "attribute_map",
    "audience",
    "leeway",
    "session_inactivity_timeout",
    "max_header_bytes",
    "max_sessions_per_user",
    "host_allow_list",
    "additional_response_headers",
    "bearer_scheme_case_insensitive",
    "statuses",
    "issuer",
    "exp_required",
    "kid",
    "laxity",
];
const COOKIE_KEYS: &[&str] = &["http_only", "domain", "https", "http"];
const TRANSPORT_KEYS: &[&str] = &["secure", "same_site"];
const MAPPING_KEYS: &[&str] = &["claim", "attribute", "mandatory"];
const VP_STATUS_KEYS: &[&str] = &[
    "reject",
    "no_token",
    "host_denied",
    "session_limit",
    "logout",
    "csrftoken",
    "header_too_large",
];
const CLOUD_KEYS: &[&str] = &[
    "tenant_hosts",
    "issuer",
    "kid",
    "certificate",
    "algorithms",
    "audience",
    "max_lifetime",
    "clock_tolerance",
    "session_inactivity_timeout",
    "replay_cache_capacity",
    "rate_limit_per_minute",
    "statuses",
];
const CLOUD_STATUS_KEYS: &[&str] = &["invalid_request", "unauthorized", "rate_limited"];

/// Characters QMC allows in a prefix.
fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_' | b'~')
        })
}

/// Walks the spanned document and collects diagnostics.
struct Reader<'a> {
    /// The document as JSON.
    root: &'a Value,
    /// Where each node of the document is.
    spans: &'a SpanMap,
    file: &'a Utf8Path,
    diags: Vec<Diagnostic>,
    resolve: &'a dyn Fn(&Utf8Path) -> Utf8PathBuf,
}

impl Reader<'_> {
    fn error(&mut self, pointer: &str, label: impl Into<String>, hint: Option<String>) {
        let span = self.spans.nearest(pointer).unwrap_or(Span::START);
        self.diags
            .push(diag_at(self.file, span, label.into(), hint));
    }

    /// The mapping at `pointer`, after reporting unknown keys.
    fn object<'v>(
        &mut self,
        value: &'v Value,
        pointer: &str,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.error(pointer, "expected a mapping", None);
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                let child = push_pointer(pointer, key);
                let pos = self.spans.key(&child).unwrap_or(Span::START);
                let hint = did_you_mean(key, known).map(|c| format!("did you mean `{c}`?"));
                self.diags.push(diag_at(
                    self.file,
                    pos,
                    format!("unknown key `{key}`"),
                    hint,
                ));
            }
        }
        Some(map)
    }

    /// Deserializes `map[key]`, reporting a type error at the value. `None` when absent or bad.
    fn field<T: DeserializeOwned>(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        key: &str,
        expected: &str,
    ) -> Option<T> {
        let value = map.get(key)?;
        if value.is_null() {
            return None;
        }
        match serde_json::from_value::<T>(value.clone()) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    &format!("{pointer}/{key}"),
                    format!("expected {expected}"),
                    None,
                );
                None
            }
        }
    }

    fn required_string(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        key: &str,
    ) -> Option<String> {
        if !map.contains_key(key) || map.get(key).is_some_and(Value::is_null) {
            self.error(pointer, format!("missing key `{key}`"), None);
            return None;
        }
        let s: String = self.field(map, pointer, key, "a string")?;
        if s.trim().is_empty() {
            self.error(
                &format!("{pointer}/{key}"),
                format!("`{key}` must not be empty"),
                None,
            );
            return None;
        }
        Some(s)
    }

    fn status(&mut self, map: &Map<String, Value>, pointer: &str, key: &str, default: u16) -> u16 {
        match self.field::<i64>(map, pointer, key, "an HTTP status code (100-599)") {
            Some(code) if (100..=599).contains(&code) => u16::try_from(code).unwrap_or(default),
            Some(_) => {
                self.error(
                    &format!("{pointer}/{key}"),
                    "expected an HTTP status code (100-599)",
                    None,
                );
                default
            }
            None => default,
        }
    }

    /// A duration: a humantime string (`30m`, `500ms`) or a number of `unit_secs` seconds.
    fn duration(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        key: &str,
        unit_secs: u64,
        default: Duration,
    ) -> Duration {
        let at = format!("{pointer}/{key}");
        match map.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => Duration::from_secs(v.saturating_mul(unit_secs)),
                None => {
                    self.error(&at, "expected a duration such as `30m` or `500ms`", None);
                    default
                }
            },
            Some(Value::String(s)) => match humantime::parse_duration(s.trim()) {
                Ok(d) => d,
                Err(e) => {
                    self.error(
                        &at,
                        format!("expected a duration such as `30m` or `500ms` ({e})"),
                        None,
                    );
                    default
                }
            },
            Some(_) => {
                self.error(&at, "expected a duration such as `30m` or `500ms`", None);
                default
            }
        }
    }

    fn algorithms(&mut self, map: &Map<String, Value>, pointer: &str) -> Vec<Alg> {
        let default = vec![Alg::RS256, Alg::RS384, Alg::RS512];
        self.algorithms_at(map, pointer, "algorithms", default)
    }

    fn algorithms_at(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        key: &str,
        default: Vec<Alg>,
    ) -> Vec<Alg> {
        let Some(names) = self.field::<Vec<String>>(map, pointer, key, "a list of algorithm names")
        else {
            return default;
        };
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match Alg::asymmetric().find(|a| a.name() == name) {
                Some(a) => out.push(a),
                None => {
                    let candidates: Vec<&str> = Alg::asymmetric().map(Alg::name).collect();
                    let hint =
                        did_you_mean(name, &candidates).map(|c| format!("did you mean `{c}`?"));
                    self.error(
                        &format!("{pointer}/{key}/{i}"),
                        format!("unknown or keyless algorithm `{name}` (HS* and none cannot be verified with a certificate)"),
                        hint,
                    );
                }
            }
        }
        out
    }

    fn public_key(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        key: &str,
    ) -> Option<(Utf8PathBuf, PublicKey)> {
        let rel = self.required_string(map, pointer, key)?;
        let path = (self.resolve)(Utf8Path::new(&rel));
        let at = format!("{pointer}/{key}");
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
                            &at,
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
                self.error(&at, label, e.hint().map(str::to_owned));
                None
            }
        }
    }

    fn config(&mut self) -> Option<MockConfig> {
        let root = self.root;
        let map = self.object(root, "", TOP_KEYS)?;
        let profile = match self.field::<String>(map, "", "profile", "a profile name") {
            Some(name) => match EMULATED_PROFILES.into_iter().find(|p| p.name() == name) {
                Some(p) => p,
                None => {
                    let names = EMULATED_PROFILES.map(ProfileName::name);
                    let hint = did_you_mean(&name, &names).map(|c| format!("did you mean `{c}`?"));
                    self.error("/profile", format!("unknown profile `{name}` (expected qseow, qseow-pre2024, qlik-cloud or rfc6750)"), hint);
                    ProfileName::Qseow
                }
            },
            None => {
                if !map.contains_key("profile") {
                    self.error(
                        "",
                        "missing key `profile` (qseow, qseow-pre2024, qlik-cloud or rfc6750)",
                        None,
                    );
                }
                ProfileName::Qseow
            }
        };
        let debug_reasons = self
            .field(map, "", "debug_reasons", "true or false")
            .unwrap_or(true);
        let max_header_bytes = self
            .field(map, "", "max_header_bytes", "a number of bytes")
            .unwrap_or(16384);
        let unknown_prefix_status = self.status(map, "", "unknown_prefix_status", 400);
        let default_proxy = match map.get("default_proxy") {
            Some(v) => {
                let m = self.object(v, "/default_proxy", DEFAULT_PROXY_KEYS);
                let pattern = m.and_then(|m| {
                    self.field(m, "/default_proxy", "windows_auth_pattern", "a string")
                });
                DefaultProxyConfig {
                    windows_auth_pattern: pattern.unwrap_or_else(|| "Windows".to_owned()),
                }
            }
            None => DefaultProxyConfig {
                windows_auth_pattern: "Windows".to_owned(),
            },
        };
        let mut virtual_proxies = Vec::new();
        if let Some(list) = map.get("virtual_proxies") {
            match list.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(vp) = self.virtual_proxy(
                            item,
                            &format!("/virtual_proxies/{i}"),
                            profile,
                            max_header_bytes,
                        ) {
                            if virtual_proxies
                                .iter()
                                .any(|o: &VirtualProxyConfig| o.prefix == vp.prefix)
                            {
                                self.error(
                                    &format!("/virtual_proxies/{i}/prefix"),
                                    format!("prefix `{}` is used twice", vp.prefix),
                                    None,
                                );
                            }
                            if virtual_proxies.iter().any(|o: &VirtualProxyConfig| {
                                o.session_cookie_name == vp.session_cookie_name
                            }) {
                                self.error(
                                    &format!("/virtual_proxies/{i}/session_cookie_name"),
                                    "the session cookie name must be unique per virtual proxy",
                                    None,
                                );
                            }
                            virtual_proxies.push(vp);
                        }
                    }
                }
                None => self.error(
                    "/virtual_proxies",
                    "expected a list of virtual proxies",
                    None,
                ),
            }
        }
        let cloud = match map.get("cloud") {
            Some(v) => self.cloud(v),
            None => None,
        };
        match profile {
            ProfileName::QlikCloud if !map.contains_key("cloud") => {
                self.error(
                    "/profile",
                    "profile `qlik-cloud` needs a `cloud` section",
                    None,
                );
            }
            ProfileName::Qseow | ProfileName::QseowPre2024 | ProfileName::Rfc6750
                if map.contains_key("cloud") =>
            {
                self.error(
                    "/cloud",
                    format!(
                        "a `cloud` section needs profile `qlik-cloud`, not `{}`",
                        profile.name()
                    ),
                    None,
                );
            }
            ProfileName::Qseow | ProfileName::QseowPre2024 | ProfileName::Rfc6750
                if !map.contains_key("virtual_proxies") =>
            {
                self.error(
                    "",
                    format!(
                        "profile `{}` needs at least one entry in `virtual_proxies`",
                        profile.name()
                    ),
                    None,
                );
            }
            _ => {}
        }
        Some(MockConfig {
            path: self.file.to_owned(),
            profile,
            debug_reasons,
            max_header_bytes,
            unknown_prefix_status,
            default_proxy,
            virtual_proxies,
            cloud,
        })
    }

    fn cookie(&mut self, map: &Map<String, Value>, pointer: &str) -> CookieAttributes {
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
        let Some(v) = map.get("cookie") else {
            return attrs;
        };
        let at = format!("{pointer}/cookie");
        let Some(m) = self.object(v, &at, COOKIE_KEYS) else {
            return attrs;
        };
        if let Some(b) = self.field(m, &at, "http_only", "true or false") {
            attrs.http_only = b;
        }
        attrs.domain = self.field(m, &at, "domain", "a domain name");
        for (key, slot) in [("https", &mut attrs.https), ("http", &mut attrs.http)] {
            let Some(t) = m.get(key) else { continue };
            let tat = format!("{at}/{key}");
            let Some(tm) = self.object(t, &tat, TRANSPORT_KEYS) else {
                continue;
            };
            if let Some(b) = self.field(tm, &tat, "secure", "true or false") {
                slot.secure = b;
            }
            if let Some(name) =
                self.field::<String>(tm, &tat, "same_site", "no_attribute, none, lax or strict")
            {
                match SameSite::from_name(&name) {
                    Some(s) => slot.same_site = s,
                    None => self.error(
                        &format!("{tat}/same_site"),
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
        value: &Value,
        pointer: &str,
        profile: ProfileName,
        max_header_bytes: usize,
    ) -> Option<VirtualProxyConfig> {
        let map = self.object(value, pointer, VP_KEYS)?;
        let prefix = self.required_string(map, pointer, "prefix");
        if let Some(p) = &prefix
            && !valid_prefix(p)
        {
            self.error(
                &format!("{pointer}/prefix"),
                "a prefix may hold only lowercase letters, digits and `-._~`",
                Some(format!(
                    "try `{}`",
                    p.to_ascii_lowercase().trim_matches('/')
                )),
            );
        }
        if let Some(p) = &prefix
            && super::route::is_reserved(p)
        {
            self.error(
                &format!("{pointer}/prefix"),
                format!("`{p}` is a reserved path segment and cannot be a prefix"),
                None,
            );
        }
        let cookie_name =
            self.field::<String>(map, pointer, "session_cookie_name", "a cookie name");
        let cookie = self.cookie(map, pointer);
        let key = self.public_key(map, pointer, "jwt_certificate");
        let algorithms = self.algorithms(map, pointer);
        let user_id_claim = self.required_string(map, pointer, "user_id_claim");
        let user_directory_claim = self.required_string(map, pointer, "user_directory_claim");
        let mut attribute_map = Vec::new();
        if let Some(list) = map.get("attribute_map") {
            let at = format!("{pointer}/attribute_map");
            match list.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let iat = format!("{at}/{i}");
                        let Some(m) = self.object(item, &iat, MAPPING_KEYS) else {
                            continue;
                        };
                        let claim = self.required_string(m, &iat, "claim");
                        let attribute = self.required_string(m, &iat, "attribute");
                        let mandatory = self
                            .field(m, &iat, "mandatory", "true or false")
                            .unwrap_or(false);
                        if let (Some(claim), Some(attribute)) = (claim, attribute) {
                            attribute_map.push(AttributeMapping {
                                claim,
                                attribute,
                                mandatory,
                            });
                        }
                    }
                }
                None => self.error(
                    &at,
                    "expected a list of `{claim, attribute, mandatory}`",
                    None,
                ),
            }
        }
        let audience = self.field(map, pointer, "audience", "a string");
        let issuer = self.field(map, pointer, "issuer", "a string");
        let kid = self.field(map, pointer, "kid", "a string");
        let exp_required = self
            .field(map, pointer, "exp_required", "true or false")
            .unwrap_or(profile == ProfileName::Rfc6750);
        let laxity = self.laxity(map, pointer);
        let leeway = self.duration(map, pointer, "leeway", 1, Duration::ZERO);
        let timeout = self.duration(
            map,
            pointer,
            "session_inactivity_timeout",
            60,
            Duration::from_secs(30 * 60),
        );
        let vp_max_header = self
            .field(map, pointer, "max_header_bytes", "a number of bytes")
            .unwrap_or(max_header_bytes);
        let max_sessions_per_user = self
            .field(
                map,
                pointer,
                "max_sessions_per_user",
                "a number (0 turns the limit off)",
            )
            .unwrap_or(5);
        let host_allow_list: Vec<String> = self
            .field(map, pointer, "host_allow_list", "a list of host names")
            .unwrap_or_default();
        for (i, host) in host_allow_list.iter().enumerate() {
            if host.contains("://") || host.contains('/') || host.contains(':') {
                self.error(
                    &format!("{pointer}/host_allow_list/{i}"),
                    "a host name only: no scheme, port or path",
                    None,
                );
            }
        }
        let additional_response_headers = self.headers(map, pointer);
        let bearer_scheme_case_insensitive = self
            .field(
                map,
                pointer,
                "bearer_scheme_case_insensitive",
                "true or false",
            )
            .unwrap_or(true);
        let statuses = self.vp_statuses(map, pointer, profile);
        let prefix = prefix?;
        let (jwt_certificate, public_key) = key?;
        Some(VirtualProxyConfig {
            session_cookie_name: cookie_name.unwrap_or_else(|| format!("X-Qlik-Session-{prefix}")),
            prefix,
            cookie,
            jwt_certificate,
            public_key,
            algorithms,
            user_id_claim: user_id_claim?,
            user_directory_claim: user_directory_claim?,
            attribute_map,
            audience,
            issuer,
            exp_required,
            kid,
            laxity,
            leeway_s: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX),
            session_inactivity_timeout: timeout,
            max_header_bytes: vp_max_header,
            max_sessions_per_user,
            host_allow_list,
            additional_response_headers,
            bearer_scheme_case_insensitive,
            statuses,
        })
    }

    fn laxity(&mut self, map: &Map<String, Value>, pointer: &str) -> Laxity {
        let mut lax = Laxity::default();
        let Some(v) = map.get("laxity") else {
            return lax;
        };
        let at = format!("{pointer}/laxity");
        let Some(m) = self.object(v, &at, &Laxity::KEYS) else {
            return lax;
        };
        let switch = |r: &mut Self, key: &str, slot: &mut bool| {
            if let Some(b) = r.field(m, &at, key, "true or false") {
                *slot = b;
            }
        };
        switch(self, "accept_no_exp", &mut lax.accept_no_exp);
        switch(self, "ignore_nbf", &mut lax.ignore_nbf);
        switch(self, "ignore_iat", &mut lax.ignore_iat);
        switch(self, "kid_selects_file", &mut lax.kid_selects_file);
        switch(self, "trust_embedded_key", &mut lax.trust_embedded_key);
        switch(self, "fetch_key_url", &mut lax.fetch_key_url);
        switch(self, "ignore_crit", &mut lax.ignore_crit);
        switch(self, "accept_malformed_exp", &mut lax.accept_malformed_exp);
        switch(self, "accept_query_token", &mut lax.accept_query_token);
        switch(
            self,
            "case_insensitive_claims",
            &mut lax.case_insensitive_claims,
        );
        switch(
            self,
            "case_insensitive_prefix",
            &mut lax.case_insensitive_prefix,
        );
        switch(self, "ignore_audience", &mut lax.ignore_audience);
        switch(self, "ignore_issuer", &mut lax.ignore_issuer);
        if m.contains_key("extra_algorithms") {
            lax.extra_algorithms = self.algorithms_at(m, &at, "extra_algorithms", Vec::new());
        }
        let leeway = self.duration(m, &at, "leeway", 1, Duration::ZERO);
        lax.leeway_s = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        lax
    }

    fn headers(&mut self, map: &Map<String, Value>, pointer: &str) -> Vec<(String, String)> {
        let Some(v) = map.get("additional_response_headers") else {
            return Vec::new();
        };
        let at = format!("{pointer}/additional_response_headers");
        let Some(m) = v.as_object() else {
            self.error(&at, "expected a mapping of header name to value", None);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, value) in m {
            let hat = push_pointer(&at, name);
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    self.error(&hat, "expected a header value", None);
                    continue;
                }
            };
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                let pos = self.spans.key(&hat).unwrap_or(Span::START);
                self.diags.push(diag_at(
                    self.file,
                    pos,
                    format!("`{name}` is not a valid header name"),
                    None,
                ));
                continue;
            }
            if http::HeaderValue::from_str(&text).is_err() {
                self.error(&hat, "not a valid header value", None);
                continue;
            }
            out.push((name.clone(), text));
        }
        out
    }

    fn vp_statuses(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        profile: ProfileName,
    ) -> VpStatuses {
        let rfc = profile == ProfileName::Rfc6750;
        let mut s = VpStatuses {
            reject: if rfc { 401 } else { 400 },
            no_token: 401,
            host_denied: 403,
            session_limit: 403,
            logout: 200,
            csrftoken: if profile == ProfileName::QseowPre2024 {
                404
            } else {
                204
            },
            header_too_large: if rfc { 431 } else { 400 },
        };
        let Some(v) = map.get("statuses") else {
            return s;
        };
        let at = format!("{pointer}/statuses");
        let Some(m) = self.object(v, &at, VP_STATUS_KEYS) else {
            return s;
        };
        s.reject = self.status(m, &at, "reject", s.reject);
        s.no_token = self.status(m, &at, "no_token", s.no_token);
        s.host_denied = self.status(m, &at, "host_denied", s.host_denied);
        s.session_limit = self.status(m, &at, "session_limit", s.session_limit);
        s.logout = self.status(m, &at, "logout", s.logout);
        s.csrftoken = self.status(m, &at, "csrftoken", s.csrftoken);
        s.header_too_large = self.status(m, &at, "header_too_large", s.header_too_large);
        s
    }

    fn cloud(&mut self, value: &Value) -> Option<CloudConfig> {
        let at = "/cloud";
        let map = self.object(value, at, CLOUD_KEYS)?;
        let tenant_hosts = self
            .field(map, at, "tenant_hosts", "a list of host names")
            .unwrap_or_default();
        let issuer = self.required_string(map, at, "issuer");
        let kid = self.required_string(map, at, "kid");
        let key = self.public_key(map, at, "certificate");
        let algorithms = self.algorithms(map, at);
        let audience = self
            .field(map, at, "audience", "a string")
            .unwrap_or_else(|| "qlik.api/login/jwt-session".to_owned());
        let max_lifetime = self.duration(map, at, "max_lifetime", 1, Duration::from_secs(3600));
        let tolerance = self.duration(map, at, "clock_tolerance", 1, Duration::ZERO);
        let timeout = self.duration(
            map,
            at,
            "session_inactivity_timeout",
            60,
            Duration::from_secs(3600),
        );
        let replay_cache_capacity = self
            .field(map, at, "replay_cache_capacity", "a number")
            .unwrap_or(100_000);
        if replay_cache_capacity == 0 {
            self.error(
                "/cloud/replay_cache_capacity",
                "must be at least 1 (replay detection cannot be turned off)",
                None,
            );
        }
        let rate_limit_per_minute = self
            .field(
                map,
                at,
                "rate_limit_per_minute",
                "a number (0 turns the limit off)",
            )
            .unwrap_or(0);
        let mut statuses = CloudStatuses {
            invalid_request: 400,
            unauthorized: 401,
            rate_limited: 429,
        };
        if let Some(v) = map.get("statuses") {
            let sat = "/cloud/statuses";
            if let Some(m) = self.object(v, sat, CLOUD_STATUS_KEYS) {
                statuses.invalid_request =
                    self.status(m, sat, "invalid_request", statuses.invalid_request);
                statuses.unauthorized = self.status(m, sat, "unauthorized", statuses.unauthorized);
                statuses.rate_limited = self.status(m, sat, "rate_limited", statuses.rate_limited);
            }
        }
        let (certificate, public_key) = key?;
        Some(CloudConfig {
            tenant_hosts,
            issuer: issuer?,
            kid: kid?,
            certificate,
            public_key,
            algorithms,
            audience,
            max_lifetime,
            clock_tolerance_s: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
            session_inactivity_timeout: timeout,
            replay_cache_capacity,
            rate_limit_per_minute,
            statuses,
        })
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
