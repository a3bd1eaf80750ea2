//! The scenario model: what a suite file and a scenario file hold once read and validated.
//!
//! The types derive `serde::Deserialize` (from the YAML, through `serde_json::Value`) and
//! `schemars::JsonSchema` (the schema printed by `jwtprobe schema` and used to validate every
//! file before it is deserialized). Shorthand forms (`status: 200`, `X-Qlik-Session-jwt:
//! absent`, `content-type: text/html`) are accepted by small "form" types and turned into the
//! one full form here, so the runner and `check` only ever see the full form.

use std::collections::BTreeMap;
use std::time::Duration;

use camino::Utf8PathBuf;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::diag::Located;
use crate::jose::{Alg, Encoding, ProfileName, SignatureMode};

/// A value read from a file together with where it was written.
///
/// Deserializes exactly like `T` (the YAML does not change); `at` is filled after
/// deserialization from the span map, so a failing check can point at its YAML line.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the value was written; `None` for values not read from a file.
    pub at: Option<Located>,
}

impl<T> Spanned<T> {
    /// A value that was not read from a file.
    pub fn new(value: T) -> Self {
        Self { value, at: None }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::new)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// Variables: names to values. YAML numbers and booleans are accepted and kept as text.
pub type Vars = BTreeMap<String, String>;

/// What a suite file (`suite.yaml`) holds: what its scenarios share.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The file the suite was read from.
    #[serde(skip)]
    pub path: Utf8PathBuf,
    /// The suite's name; defaults to the name of its directory.
    #[serde(default)]
    pub name: String,
    /// What the target is expected to answer (`qseow`, `qseow-401`, `qseow-pre2024`,
    /// `qlik-cloud`, `rfc6750`, `generic`), with optional status overrides.
    #[serde(default)]
    pub profile: ProfileSpec,
    /// The base URL of the target (`https://qlik.example.com`); `--target` overrides it. When
    /// absent, the built-in emulator is used.
    #[serde(default)]
    pub target: Option<String>,
    /// The virtual proxy prefix put before every step's `path` (`jwt` gives `/jwt/hub/`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Claim names and the identity added to every token.
    #[serde(default)]
    pub identity: Identity,
    /// Keys that token blocks name with `key:`.
    #[serde(default)]
    pub keys: BTreeMap<String, KeySpec>,
    /// Variables for `${VAR}` templates (environment and `--var` override them).
    #[serde(default, deserialize_with = "de_vars")]
    #[schemars(with = "BTreeMap<String, ScalarText>")]
    pub vars: Vars,
    /// Defaults applied to every step of every scenario of the suite.
    #[serde(default)]
    pub defaults: StepDefaults,
    /// Load settings shared by the suite's scenarios.
    #[serde(default)]
    pub load: Option<LoadBlock>,
    /// What the target is configured to accept, for the conformance pack: allowed algorithms,
    /// whether `exp` is required, leeway, audience and issuer, the loopback key server.
    #[serde(default)]
    pub conformance: Option<ConformanceTarget>,
}

/// The target's token policy as the conformance pack needs it (`conformance:` in a suite).
///
/// Each value is also a template variable for the pack's scenarios: `${audience}`,
/// `${issuer}`, `${exp_past_leeway}` (an `exp` one second past the leeway), `${key_server}`
/// (the loopback key server's base URL), and the identity: `${user_claim}`,
/// `${directory_claim}`, `${user}`, `${directory}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConformanceTarget {
    /// The algorithms the target accepts (`[RS256]`); every other one must be refused.
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// Whether the target requires `exp` (RFC 8725 §3.10 recommends it; Qlik does not).
    #[serde(default)]
    pub exp_required: bool,
    /// The clock tolerance the target allows on `exp`, `nbf` and `iat` (`0s`; at most a few
    /// minutes, RFC 7519 §4.1.4).
    #[serde(default, deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub leeway: Option<Duration>,
    /// The `aud` the target checks, when it checks one.
    #[serde(default)]
    pub audience: Option<String>,
    /// The `iss` the target checks, when it checks one.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Properties (by id) that are the product's documented policy here, with the reason: the
    /// report says `policy` for them instead of held or violated. Added to the profile's own.
    #[serde(default)]
    pub policy: BTreeMap<String, String>,
    /// The files the loopback key server serves for `jku` and `x5u` (relative to the suite).
    #[serde(default)]
    pub key_server: Option<KeyServerFiles>,
}

/// What the loopback key server serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyServerFiles {
    /// A JWK Set, served at `${key_server}/jwks.json` (relative to the suite file).
    #[schemars(with = "String")]
    pub jwks: Utf8PathBuf,
    /// A PEM certificate, served at `${key_server}/cert.pem` (relative to the suite file).
    #[schemars(with = "String")]
    pub certificate: Utf8PathBuf,
}

/// The security property a conformance scenario checks (`conformance:` in a scenario).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Property {
    /// A short stable id (`alg-none`); matrix variants of a scenario share it.
    pub id: String,
    /// What a conforming verifier does, as a security reviewer reads it ("refuses unsigned
    /// tokens (`alg: none`)").
    pub property: String,
    /// Where the property comes from (`RFC 8725 §3.1; jwt-attacks.md B1`).
    pub source: String,
    /// The property applies only when the target has this setting: `audience`, `issuer`,
    /// `exp_required`, `prefix`.
    #[serde(default)]
    pub requires: Option<String>,
    /// The variant does not apply when the target allows this algorithm (templated:
    /// `${alg}`).
    #[serde(default)]
    pub unless_allowed: Option<String>,
    /// The variant applies only when the target allows this algorithm (templated).
    #[serde(default)]
    pub when_allowed: Option<String>,
    /// The property is violated when the target fetched anything from the loopback key
    /// server during the scenario (`jku`, `x5u`), even if it then refused the token.
    #[serde(default)]
    pub no_key_fetch: bool,
}

/// The identity put into every token unless a token block says `identity: false`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Name of the user claim, as configured on the virtual proxy; default `UserId`.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Name of the directory claim; default `UserDirectory`.
    #[serde(default = "default_directory_claim")]
    pub directory_claim: String,
    /// The user id; default `jwtprobe`.
    #[serde(default = "default_user")]
    pub user: String,
    /// The user directory; default `JWTPROBE`.
    #[serde(default = "default_directory")]
    pub directory: String,
    /// More claims added to every token (for example `email` or `groups`).
    #[serde(default)]
    pub extra_claims: Map<String, Value>,
}

fn default_user_claim() -> String {
    "UserId".into()
}
fn default_directory_claim() -> String {
    "UserDirectory".into()
}
fn default_user() -> String {
    "jwtprobe".into()
}
fn default_directory() -> String {
    "JWTPROBE".into()
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            user_claim: default_user_claim(),
            directory_claim: default_directory_claim(),
            user: default_user(),
            directory: default_directory(),
            extra_claims: Map::new(),
        }
    }
}

/// Where a key comes from.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum KeySpec {
    /// A key file: PEM, DER, PFX/P12 or JWK; relative paths are relative to the suite file.
    File {
        /// The path of the file; its place is where a key file that cannot be loaded points.
        #[schemars(with = "String")]
        file: Spanned<Utf8PathBuf>,
        /// The environment variable that holds the PFX password, if any.
        #[serde(default)]
        password_env: Option<Spanned<String>>,
    },
    /// An HMAC secret (templates such as `${JWT_SECRET}` are allowed).
    Secret {
        /// The secret text.
        secret: Spanned<String>,
    },
    /// A key generated for the run: `rsa2048`, `ec256`, `ec384` or `ed25519`.
    Generate {
        /// The kind of key to generate.
        generate: Spanned<GeneratedKey>,
    },
}

/// A kind of key that can be generated for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GeneratedKey {
    /// RSA, 2048 bits.
    Rsa2048,
    /// ECDSA on P-256.
    Ec256,
    /// ECDSA on P-384.
    Ec384,
    /// Ed25519.
    Ed25519,
}

/// Defaults for every step of a suite.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDefaults {
    /// Headers sent with every request (a step's own headers win).
    #[serde(default, deserialize_with = "de_vars")]
    #[schemars(with = "BTreeMap<String, ScalarText>")]
    pub headers: BTreeMap<String, String>,
    /// Timeout of every request (`5s`); `--timeout` overrides it.
    #[serde(default, deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub timeout: Option<Duration>,
    /// The token block every scenario starts from.
    #[serde(default)]
    pub token: Option<TokenBlock>,
    /// Where the suite's token block names its key (`key:`), else where the block is written;
    /// a token built from this block alone that cannot be built points here.
    #[serde(skip)]
    pub token_at: Option<Located>,
}

/// A scenario file: named steps sent in order, sharing one cookie jar.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The file the scenario was read from.
    #[serde(skip)]
    pub path: Utf8PathBuf,
    /// The scenario's name, shown in reports (suffixed `[variant]` for matrix variants).
    pub name: String,
    /// A longer description, for reports.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags for `--tag` and `--skip-tag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The suite file, relative to this file; default: `suite.yaml` next to it, if any.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub suite: Option<Utf8PathBuf>,
    /// Variables of this scenario (they override the suite's).
    #[serde(default, deserialize_with = "de_vars")]
    #[schemars(with = "BTreeMap<String, ScalarText>")]
    pub vars: Vars,
    /// The token of every step (merged over the suite's identity; a step may override it).
    #[serde(default)]
    pub token: Option<TokenBlock>,
    /// Variants: the scenario runs once per entry, with the entry's variables added.
    #[serde(default, deserialize_with = "de_matrix")]
    #[schemars(with = "Option<Vec<BTreeMap<String, ScalarText>>>")]
    pub matrix: Option<Matrix>,
    /// The steps, in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
    /// Load settings for `jwtprobe load` (they override the suite's).
    #[serde(default)]
    pub load: Option<LoadBlock>,
    /// The security property this scenario checks, for the conformance report.
    #[serde(default)]
    pub conformance: Option<Property>,
    /// Where the scenario's token block names its key (`key:`), else where the block is
    /// written; a step whose token cannot be built points here when it has no block of its own.
    #[serde(skip)]
    pub token_at: Option<Located>,
}

/// Matrix variants: each a map of variables.
pub type Matrix = Vec<Vars>;

impl Scenario {
    /// Expands the matrix: one scenario per variant, named `name[variant]`, with the
    /// variant's variables added to `vars`. Without a matrix, returns the scenario itself.
    ///
    /// A variant is labelled by its `name` variable if it has one, else by its values joined
    /// with `,`.
    pub fn expand(&self) -> Vec<Self> {
        let Some(matrix) = &self.matrix else {
            return vec![self.clone()];
        };
        matrix
            .iter()
            .map(|variant| {
                let mut s = self.clone();
                s.matrix = None;
                s.name = format!("{}[{}]", self.name, variant_label(variant));
                s.vars
                    .extend(variant.iter().map(|(k, v)| (k.clone(), v.clone())));
                s
            })
            .collect()
    }
}

/// The label of a matrix variant.
pub fn variant_label(variant: &Vars) -> String {
    if let Some(name) = variant.get("name") {
        return name.clone();
    }
    variant.values().cloned().collect::<Vec<_>>().join(",")
}

/// One request and what its response must look like.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step's name, unique in its scenario; shown in reports.
    pub name: String,
    /// The request to send.
    #[serde(default)]
    pub request: RequestSpec,
    /// A token block for this step only, merged over the scenario's.
    #[serde(default)]
    pub token: Option<TokenBlock>,
    /// The checks on the response.
    #[serde(default)]
    pub expect: Expect,
    /// Values taken from the response for later steps (`${name}`).
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
    /// Where the step was written (its `name:`).
    #[serde(skip)]
    pub at: Option<Located>,
    /// Where the step's `request:` is written; a request that cannot be built points here.
    #[serde(skip)]
    pub request_at: Option<Located>,
    /// Where the step's token block names its key (`key:`), else where the block is written;
    /// a token that cannot be built points here.
    #[serde(skip)]
    pub token_at: Option<Located>,
}

/// The request of a step.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// HTTP method; default `GET`. Any token is allowed (`PROPFIND`).
    #[serde(default = "default_method")]
    pub method: String,
    /// Path below the prefix (`/hub/`); default `/`.
    #[serde(default = "default_path")]
    pub path: String,
    /// A path sent as is, without the prefix (`/internal_windows_authentication/`).
    #[serde(default)]
    pub raw_path: Option<String>,
    /// Overrides the suite's prefix; `""` means no prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Query parameters.
    #[serde(default, deserialize_with = "de_vars")]
    #[schemars(with = "BTreeMap<String, ScalarText>")]
    pub query: BTreeMap<String, String>,
    /// Request headers.
    #[serde(default, deserialize_with = "de_vars")]
    #[schemars(with = "BTreeMap<String, ScalarText>")]
    pub headers: BTreeMap<String, String>,
    /// The request body.
    #[serde(default)]
    pub body: Option<Body>,
    /// Follow redirects (default no: a 302 is something to check).
    #[serde(default)]
    pub follow_redirects: bool,
    /// The Qlik `xrfkey` for `/qrs/` and `/qps/` paths: `auto` (default), `off`, or
    /// `{header: bool, query: bool}`.
    #[serde(default)]
    pub xrfkey: XrfMode,
    /// Timeout of this request (`2s`).
    #[serde(default, deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub timeout: Option<Duration>,
}

fn default_method() -> String {
    "GET".into()
}
fn default_path() -> String {
    "/".into()
}

impl Default for RequestSpec {
    fn default() -> Self {
        Self {
            method: default_method(),
            path: default_path(),
            raw_path: None,
            prefix: None,
            query: BTreeMap::new(),
            headers: BTreeMap::new(),
            body: None,
            follow_redirects: false,
            xrfkey: XrfMode::default(),
            timeout: None,
        }
    }
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Body {
    /// Text sent as is.
    Text(String),
    /// JSON, sent with `Content-Type: application/json`.
    Json {
        /// The JSON value.
        json: Value,
    },
    /// A form, sent as `application/x-www-form-urlencoded`.
    Form {
        /// The fields.
        #[schemars(with = "BTreeMap<String, ScalarText>")]
        #[serde(deserialize_with = "de_vars")]
        form: BTreeMap<String, String>,
    },
}

/// How the Qlik `xrfkey` is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum XrfMode {
    /// `auto` (on for `/qrs/` and `/qps/` under a Qlik profile) or `off`.
    Switch(XrfSwitch),
    /// Exactly which parts to send (to test a mismatch).
    Parts {
        /// Send the `X-Qlik-Xrfkey` header.
        header: bool,
        /// Send the `xrfkey` query parameter.
        query: bool,
    },
}

impl Default for XrfMode {
    fn default() -> Self {
        Self::Switch(XrfSwitch::Auto)
    }
}

/// `auto` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum XrfSwitch {
    /// Added for `/qrs/` and `/qps/` paths under a Qlik profile.
    Auto,
    /// Never added.
    Off,
}

/// A token block: how to build the token of a step. Every field is optional; blocks merge
/// field by field (suite defaults, then scenario, then step), `header` and `claims` key by key.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBlock {
    /// A key named in the suite, or `none` for no key.
    #[serde(default)]
    pub key: Option<String>,
    /// The `alg` written in the header and, unless `sign_alg` is set, the one computed.
    #[serde(default)]
    pub alg: Option<String>,
    /// The algorithm actually computed, apart from the one claimed; `none` = no signature.
    #[serde(default)]
    pub sign_alg: Option<Alg>,
    /// Use PEM text as the HMAC secret (key confusion): `certificate`, `public_key` or a key
    /// name.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// Header fields (any JSON); the string `omit` removes a field.
    #[serde(default)]
    pub header: Option<Map<String, Value>>,
    /// Claims (any JSON); `exp`, `nbf`, `iat` take offsets (`-5m`), RFC 3339, numbers or
    /// `omit`.
    #[serde(default)]
    pub claims: Option<Map<String, Value>>,
    /// Add the suite identity claims (default `true`).
    #[serde(default)]
    pub identity: Option<bool>,
    /// Exact header JSON text, replacing `header`.
    #[serde(default)]
    pub raw_header: Option<String>,
    /// Exact payload JSON text, replacing `claims`.
    #[serde(default)]
    pub raw_payload: Option<String>,
    /// What to do with the signature.
    #[serde(default)]
    pub signature: Option<SignatureMode>,
    /// How the segments are encoded.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// A literal string sent as the token (JWE, two segments, garbage).
    #[serde(default)]
    pub raw: Option<String>,
    /// Where the token goes.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// Text before the token in the Authorization header (default `Bearer`; any case or
    /// spacing).
    #[serde(default)]
    pub scheme: Option<String>,
    /// The cookie or query parameter name, for cookie or query placement.
    #[serde(default)]
    pub name: Option<String>,
    /// Claims changed *after* signing (header and signature kept): a tampered payload.
    #[serde(default)]
    pub tamper_claims: Option<Map<String, Value>>,
    /// The JWS serialization sent: `compact` (default), `json_flattened` or `json_general`
    /// (RFC 7515 §7.2).
    #[serde(default)]
    pub serialization: Option<Serialization>,
    /// Pads the token with a claim `pad` of this many bytes (an oversize token).
    #[serde(default)]
    pub pad_bytes: Option<usize>,
}

/// The JWS serialization of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Serialization {
    /// `header.payload.signature` (what a bearer token is).
    Compact,
    /// `{"protected": …, "payload": …, "signature": …}`.
    JsonFlattened,
    /// `{"payload": …, "signatures": [{"protected": …, "signature": …}]}`.
    JsonGeneral,
}

impl TokenBlock {
    /// Returns `self` with every field that `over` sets replaced; `header` and `claims` merge
    /// key by key (the later block wins).
    #[must_use]
    pub fn merged(&self, over: &Self) -> Self {
        fn merge_map(
            a: &Option<Map<String, Value>>,
            b: &Option<Map<String, Value>>,
        ) -> Option<Map<String, Value>> {
            match (a, b) {
                (Some(a), Some(b)) => {
                    let mut m = a.clone();
                    m.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
                    Some(m)
                }
                (a, None) => a.clone(),
                (None, b) => b.clone(),
            }
        }
        Self {
            key: over.key.clone().or_else(|| self.key.clone()),
            alg: over.alg.clone().or_else(|| self.alg.clone()),
            sign_alg: over.sign_alg.or(self.sign_alg),
            hmac_secret: over
                .hmac_secret
                .clone()
                .or_else(|| self.hmac_secret.clone()),
            header: merge_map(&self.header, &over.header),
            claims: merge_map(&self.claims, &over.claims),
            identity: over.identity.or(self.identity),
            raw_header: over.raw_header.clone().or_else(|| self.raw_header.clone()),
            raw_payload: over
                .raw_payload
                .clone()
                .or_else(|| self.raw_payload.clone()),
            signature: over.signature.or(self.signature),
            encoding: over.encoding.or(self.encoding),
            raw: over.raw.clone().or_else(|| self.raw.clone()),
            placement: over.placement.or(self.placement),
            scheme: over.scheme.clone().or_else(|| self.scheme.clone()),
            name: over.name.clone().or_else(|| self.name.clone()),
            tamper_claims: over
                .tamper_claims
                .clone()
                .or_else(|| self.tamper_claims.clone()),
            serialization: over.serialization.or(self.serialization),
            pad_bytes: over.pad_bytes.or(self.pad_bytes),
        }
    }
}

/// Where the token is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// `Authorization: <scheme> <token>` (default).
    Header,
    /// A cookie named by `name`.
    Cookie,
    /// A query parameter named by `name`.
    Query,
    /// Not sent at all.
    None,
}

/// The checks on a response (YAML key `expect`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The status: `200`, `[200, 204]`, `4xx`, or a name from the profile (`reject`).
    #[serde(default)]
    pub status: Option<Spanned<StatusExpect>>,
    /// Header checks by name (names compare case-insensitively).
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<TextCheck>>,
    /// Cookie checks by exact name, read from `Set-Cookie`. `X-Qlik-Session-jwt` does not match
    /// `X-Qlik-Session-jwt-HTTP`: write the name the proxy sets.
    #[serde(default)]
    pub cookies: BTreeMap<String, Spanned<CookieCheck>>,
    /// Body checks: one map or a list of maps.
    #[serde(default, deserialize_with = "de_one_or_many")]
    #[schemars(with = "OneOrMany<BodyCheck>")]
    pub body: Vec<Spanned<BodyCheck>>,
    /// The response must arrive in less than this (`500ms`).
    #[serde(default, deserialize_with = "de_opt_spanned_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub duration_below: Option<Spanned<Duration>>,
}

impl Expect {
    /// Whether the block has no checks at all.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.headers.is_empty()
            && self.cookies.is_empty()
            && self.body.is_empty()
            && self.duration_below.is_none()
    }
}

/// The expected status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusExpect {
    /// Exactly this code.
    Code(u16),
    /// Any of these codes.
    AnyOf(Vec<u16>),
    /// Any code of this class (`4` for `4xx`).
    Class(u8),
    /// A name the profile maps to codes (`reject`, `no_token`, `accept`, …).
    Named(String),
}

impl std::fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c}"),
            Self::AnyOf(cs) => {
                let list: Vec<String> = cs.iter().map(u16::to_string).collect();
                write!(f, "one of [{}]", list.join(", "))
            }
            Self::Class(c) => write!(f, "{c}xx"),
            Self::Named(n) => write!(f, "{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for StatusExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Code(i64),
            List(Vec<i64>),
            Text(String),
        }
        let clamp = |c: i64| u16::try_from(c).unwrap_or(0);
        Ok(match Form::deserialize(deserializer)? {
            Form::Code(c) => Self::Code(clamp(c)),
            Form::List(cs) => Self::AnyOf(cs.into_iter().map(clamp).collect()),
            Form::Text(t) => status_from_text(&t),
        })
    }
}

/// Reads a status written as text: `4xx` is a class, `404` a code, anything else a name.
pub(crate) fn status_from_text(t: &str) -> StatusExpect {
    let b = t.as_bytes();
    if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && b[1..].eq_ignore_ascii_case(b"xx") {
        return StatusExpect::Class(b[0] - b'0');
    }
    if let Ok(code) = t.parse::<u16>() {
        return StatusExpect::Code(code);
    }
    StatusExpect::Named(t.to_owned())
}

impl JsonSchema for StatusExpect {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StatusExpect".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An HTTP status code, a list of codes, a class such as `4xx`, or an outcome name from the profile (`reject`, `no_token`, `accept`, …).",
            "anyOf": [
                { "type": "integer" },
                { "type": "array", "items": { "type": "integer" }, "minItems": 1 },
                { "type": "string" }
            ]
        })
    }
}

/// A check on a text value (a header): every set field must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(from = "TextCheckForm")]
pub struct TextCheck {
    /// The value equals this.
    pub equals: Option<String>,
    /// The value contains this.
    pub contains: Option<String>,
    /// The value matches this regex.
    pub regex: Option<String>,
    /// `true`: the header must be absent; `false`: it must be present.
    pub absent: Option<bool>,
}

/// How a text check may be written: a string (equals) or a map.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum TextCheckForm {
    /// The value equals this string.
    Equals(String),
    /// The full form.
    Full(TextCheckSpec),
}

/// The full form of a text check.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TextCheckSpec {
    /// The value equals this.
    #[serde(default)]
    equals: Option<String>,
    /// The value contains this.
    #[serde(default)]
    contains: Option<String>,
    /// The value matches this regex.
    #[serde(default)]
    regex: Option<String>,
    /// `true`: the header must be absent.
    #[serde(default)]
    absent: Option<bool>,
}

impl From<TextCheckForm> for TextCheck {
    fn from(form: TextCheckForm) -> Self {
        match form {
            TextCheckForm::Equals(equals) => Self {
                equals: Some(equals),
                ..Self::default()
            },
            TextCheckForm::Full(s) => Self {
                equals: s.equals,
                contains: s.contains,
                regex: s.regex,
                absent: s.absent,
            },
        }
    }
}

/// A check on a cookie set by the response (`Set-Cookie`): every set field must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(from = "CookieCheckForm")]
pub struct CookieCheck {
    /// `true`: the cookie must be set; `false`: it must not be. Implied `true` by any other
    /// field.
    pub present: Option<bool>,
    /// The value equals this.
    pub value: Option<String>,
    /// The value contains this.
    pub contains: Option<String>,
    /// The `HttpOnly` attribute is (`true`) or is not (`false`) set.
    pub http_only: Option<bool>,
    /// The `Secure` attribute is (`true`) or is not (`false`) set.
    pub secure: Option<bool>,
    /// The `SameSite` attribute, compared case-insensitively (`None`, `Lax`, `Strict`).
    pub same_site: Option<String>,
    /// The `Path` attribute.
    pub path: Option<String>,
    /// The `Max-Age` attribute, in seconds.
    pub max_age: Option<i64>,
}

/// How a cookie check may be written.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum CookieCheckForm {
    /// `present` or `absent`.
    State(CookieState),
    /// The full form.
    Full(CookieCheckSpec),
}

/// The shorthand of a cookie check.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum CookieState {
    /// The cookie is set.
    Present,
    /// The cookie is not set.
    Absent,
}

/// The full form of a cookie check.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CookieCheckSpec {
    /// The cookie is (or is not) set.
    #[serde(default)]
    present: Option<bool>,
    /// The value equals this.
    #[serde(default)]
    value: Option<String>,
    /// The value contains this.
    #[serde(default)]
    contains: Option<String>,
    /// `HttpOnly` is set.
    #[serde(default)]
    http_only: Option<bool>,
    /// `Secure` is set.
    #[serde(default)]
    secure: Option<bool>,
    /// The `SameSite` attribute.
    #[serde(default)]
    same_site: Option<String>,
    /// The `Path` attribute.
    #[serde(default)]
    path: Option<String>,
    /// The `Max-Age` attribute, in seconds.
    #[serde(default)]
    max_age: Option<i64>,
}

impl From<CookieCheckForm> for CookieCheck {
    fn from(form: CookieCheckForm) -> Self {
        match form {
            CookieCheckForm::State(CookieState::Present) => Self {
                present: Some(true),
                ..Self::default()
            },
            CookieCheckForm::State(CookieState::Absent) => Self {
                present: Some(false),
                ..Self::default()
            },
            CookieCheckForm::Full(s) => Self {
                present: s.present,
                value: s.value,
                contains: s.contains,
                http_only: s.http_only,
                secure: s.secure,
                same_site: s.same_site,
                path: s.path,
                max_age: s.max_age,
            },
        }
    }
}

/// A check on the response body. Exactly one of `equals`, `contains`, `not_contains`, `regex`
/// or `json` is the subject; with `json`, `equals`, `contains`, `exists`, `gt`, `lt` and `len`
/// compare the value the JSONPath selects (the first match).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyCheck {
    /// Without `json`: the body equals this text. With `json`: the selected value equals this
    /// JSON value.
    #[serde(default)]
    pub equals: Option<Value>,
    /// Without `json`: the body contains this text. With `json`: the selected string contains
    /// this text, or the selected array contains this value.
    #[serde(default)]
    pub contains: Option<Value>,
    /// The body does not contain this text.
    #[serde(default)]
    pub not_contains: Option<String>,
    /// The body matches this regex.
    #[serde(default)]
    pub regex: Option<String>,
    /// A JSONPath into the body (`$.data[0].type`).
    #[serde(default)]
    pub json: Option<String>,
    /// With `json`: the path selects something (`true`) or nothing (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
    /// With `json`: the selected number is greater than this.
    #[serde(default)]
    pub gt: Option<f64>,
    /// With `json`: the selected number is less than this.
    #[serde(default)]
    pub lt: Option<f64>,
    /// With `json`: the selected array, string or object has this length.
    #[serde(default)]
    pub len: Option<u64>,
}

/// The subject of a body check, once validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BodyCheckKind<'a> {
    /// The body equals this text.
    Equals(&'a str),
    /// The body contains this text.
    Contains(&'a str),
    /// The body does not contain this text.
    NotContains(&'a str),
    /// The body matches this regex.
    Regex(&'a str),
    /// A JSONPath with its comparisons (the other fields of the check).
    Json(&'a str),
}

impl BodyCheck {
    /// The subject of the check, or a message saying why the combination is invalid.
    pub fn kind(&self) -> Result<BodyCheckKind<'_>, String> {
        if let Some(path) = &self.json {
            if self.not_contains.is_some() || self.regex.is_some() {
                return Err(
                    "`not_contains` and `regex` apply to the whole body, not to `json`".into(),
                );
            }
            let comparisons = [
                self.equals.is_some(),
                self.contains.is_some(),
                self.exists.is_some(),
                self.gt.is_some(),
                self.lt.is_some(),
                self.len.is_some(),
            ];
            if !comparisons.iter().any(|c| *c) {
                return Err(
                    "a `json` check needs one of `equals`, `contains`, `exists`, `gt`, `lt`, `len`"
                        .into(),
                );
            }
            return Ok(BodyCheckKind::Json(path));
        }
        if self.exists.is_some() || self.gt.is_some() || self.lt.is_some() || self.len.is_some() {
            return Err("`exists`, `gt`, `lt` and `len` need a `json` path".into());
        }
        let mut kinds = Vec::new();
        if let Some(v) = &self.equals {
            kinds.push(
                v.as_str()
                    .map(BodyCheckKind::Equals)
                    .ok_or("`equals` on the body takes a string")?,
            );
        }
        if let Some(v) = &self.contains {
            kinds.push(
                v.as_str()
                    .map(BodyCheckKind::Contains)
                    .ok_or("`contains` on the body takes a string")?,
            );
        }
        if let Some(v) = &self.not_contains {
            kinds.push(BodyCheckKind::NotContains(v));
        }
        if let Some(v) = &self.regex {
            kinds.push(BodyCheckKind::Regex(v));
        }
        match kinds.as_slice() {
            [one] => Ok(*one),
            [] => Err("a body check needs one of `equals`, `contains`, `not_contains`, `regex`, `json`".into()),
            _ => Err("a body check takes one of `equals`, `contains`, `not_contains`, `regex`; write a list entry for each".into()),
        }
    }
}

/// A value captured from a response for later steps. Exactly one of `cookie`, `header`,
/// `json` or `regex` is set; `from` applies to `regex`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// The value of the cookie of this name set by the response.
    #[serde(default)]
    pub cookie: Option<String>,
    /// The value of the header of this name.
    #[serde(default)]
    pub header: Option<String>,
    /// The value a JSONPath selects in the body (strings as is, other JSON as JSON text).
    #[serde(default)]
    pub json: Option<String>,
    /// The first capture group (or the whole match) of this regex.
    #[serde(default)]
    pub regex: Option<String>,
    /// What `regex` reads: `body` (default) or `header:<name>`.
    #[serde(default)]
    pub from: Option<String>,
}

/// The source of a capture, once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureKind<'a> {
    /// A cookie's value.
    Cookie(&'a str),
    /// A header's value.
    Header(&'a str),
    /// A JSONPath into the body.
    Json(&'a str),
    /// A regex over the body or over a header.
    Regex {
        /// The regex.
        regex: &'a str,
        /// The header to read; `None` reads the body.
        header: Option<&'a str>,
    },
}

impl Capture {
    /// The source of the capture, or a message saying why the combination is invalid.
    pub fn kind(&self) -> Result<CaptureKind<'_>, String> {
        let mut kinds = Vec::new();
        if let Some(c) = &self.cookie {
            kinds.push(CaptureKind::Cookie(c));
        }
        if let Some(h) = &self.header {
            kinds.push(CaptureKind::Header(h));
        }
        if let Some(j) = &self.json {
            kinds.push(CaptureKind::Json(j));
        }
        if let Some(r) = &self.regex {
            let header = match self.from.as_deref() {
                None | Some("body") => None,
                Some(f) => match f.strip_prefix("header:") {
                    Some(h) if !h.trim().is_empty() => Some(h.trim()),
                    _ => return Err(format!("`from` takes `body` or `header:<name>`, not `{f}`")),
                },
            };
            kinds.push(CaptureKind::Regex { regex: r, header });
        } else if self.from.is_some() {
            return Err("`from` applies only to a `regex` capture".into());
        }
        match kinds.as_slice() {
            [one] => Ok(*one),
            [] => Err("a capture needs one of `cookie`, `header`, `json`, `regex`".into()),
            _ => Err("a capture takes exactly one of `cookie`, `header`, `json`, `regex`".into()),
        }
    }
}

/// Load settings (`jwtprobe load`); command-line flags override them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBlock {
    /// `rate` (open model: requests per second) or `users` (closed model).
    #[serde(default)]
    pub model: Option<LoadModel>,
    /// Requests per second, for the rate model.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Stages of a ramp, instead of a fixed `rate` or `users`.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Concurrent users, for the users model.
    #[serde(default)]
    pub users: Option<u32>,
    /// Pause of each user between iterations (`100ms`).
    #[serde(default, deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub think: Option<Duration>,
    /// How long to run (`10s`).
    #[serde(default, deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Time at the start whose samples are not recorded (`2s`).
    #[serde(default, deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub warmup: Option<Duration>,
    /// How connections are reused.
    #[serde(default)]
    pub connections: Option<Connections>,
    /// Size of the shared connection pool.
    #[serde(default)]
    pub pool: Option<usize>,
    /// How tokens are reused.
    #[serde(default)]
    pub token: Option<TokenReuse>,
    /// Number of tokens in the pool, for `token: pool`.
    #[serde(default)]
    pub token_pool: Option<usize>,
    /// Whether requests after the first use the bearer token or the session cookie.
    #[serde(default)]
    pub session: Option<SessionMode>,
    /// Pass/fail thresholds (`p99 < 20ms`, `error_rate < 0.1%`, `open-hub.p99 < 10ms`), parsed
    /// by `load::threshold::parse`.
    #[serde(default)]
    pub thresholds: Vec<Spanned<String>>,
}

/// The load model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    /// Open model: a fixed arrival rate.
    Rate,
    /// Closed model: a fixed number of users.
    Users,
}

/// One stage of a ramp: hold (`rate`/`users` `for` a time) or ramp (`ramp_to` `over` a time).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Hold this rate (per second).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Hold this many users.
    #[serde(default)]
    pub users: Option<u32>,
    /// How long to hold (`10s`).
    #[serde(default, rename = "for", deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub hold: Option<Duration>,
    /// Ramp linearly to this rate (or user count, in the users model).
    #[serde(default)]
    pub ramp_to: Option<f64>,
    /// How long the ramp takes (`30s`).
    #[serde(default, deserialize_with = "de_opt_duration")]
    #[schemars(with = "Option<DurationText>")]
    pub over: Option<Duration>,
}

// One type for the `load:` block's `connections`, `load --connections` and the load
// transport's policy. Doc comments are the schema's text; `value(help)` is the command line's.
/// How connections are reused under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Connections {
    /// One connection per user.
    #[default]
    #[value(help = "One connection pool per virtual user")]
    PerUser,
    /// One shared pool.
    #[value(help = "One pool shared by every user")]
    Shared,
    /// A new connection per request.
    #[value(help = "A new connection for every request")]
    PerRequest,
}

// One type for the `load:` block's `token` and `load --token`.
/// How tokens are reused under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TokenReuse {
    /// One token for every request.
    #[value(help = "One token for every request")]
    Shared,
    /// A pool of tokens minted before the run.
    #[value(help = "A pool of distinct users minted before the run (`--token-pool`)")]
    Pool,
    /// A new token per request (minting is measured apart).
    #[value(help = "A new token per request (minting measured apart)")]
    Fresh,
    /// Tokens re-minted before they expire.
    #[value(help = "Tokens re-minted ahead of `exp`")]
    Refresh,
}

// One type for the `load:` block's `session`, `load --session`, and how a load sample
// authenticated (a series of the load statistics is keyed by step and mode; `bearer` or
// `cookie` in reports and interval-log tags).
/// Which credential requests after the first carry.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// The bearer token on every request.
    #[default]
    #[value(help = "The bearer token on every request")]
    Bearer,
    /// The session cookie from the first response.
    #[value(help = "The session cookie after the first request")]
    Cookie,
}

impl SessionMode {
    /// The mode as a lowercase word, as in reports and log tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Cookie => "cookie",
        }
    }

    /// Parses [`Self::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bearer" => Some(Self::Bearer),
            "cookie" => Some(Self::Cookie),
            _ => None,
        }
    }
}

impl std::fmt::Display for SessionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The target profile: a built-in name plus status overrides.
///
/// Written `profile: qseow` or `profile: {name: qseow-401, statuses: {reject: 401}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(from = "ProfileForm")]
pub struct ProfileSpec {
    /// The built-in profile.
    pub name: ProfileName,
    /// Outcome names mapped to codes, overriding (or adding to) the built-in ones.
    pub statuses: BTreeMap<String, Vec<u16>>,
}

/// How a profile may be written.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum ProfileForm {
    /// Just the name.
    Name(ProfileName),
    /// The name and overrides.
    Full(ProfileFull),
}

/// The full form of a profile.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProfileFull {
    /// The built-in profile.
    #[serde(default)]
    name: ProfileName,
    /// Outcome names mapped to a code or a list of codes.
    #[serde(default)]
    statuses: BTreeMap<String, CodeOrCodes>,
}

/// One code or a list of codes.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum CodeOrCodes {
    /// One code.
    One(#[schemars(range(min = 100, max = 599))] u16),
    /// Several codes.
    Many(#[schemars(inner(range(min = 100, max = 599)))] Vec<u16>),
}

impl From<ProfileForm> for ProfileSpec {
    fn from(form: ProfileForm) -> Self {
        match form {
            ProfileForm::Name(name) => Self {
                name,
                statuses: BTreeMap::new(),
            },
            ProfileForm::Full(f) => Self {
                name: f.name,
                statuses: f
                    .statuses
                    .into_iter()
                    .map(|(k, v)| {
                        let codes = match v {
                            CodeOrCodes::One(c) => vec![c],
                            CodeOrCodes::Many(cs) => cs,
                        };
                        (k, codes)
                    })
                    .collect(),
            },
        }
    }
}

/// One-or-many, for schemas only.
#[derive(JsonSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "only used to generate the schema")]
enum OneOrMany<T> {
    /// One item.
    One(T),
    /// A list of items.
    Many(Vec<T>),
}

/// A scalar written as text, for schemas only: strings, numbers and booleans are accepted.
pub(crate) struct ScalarText;

impl JsonSchema for ScalarText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ScalarText".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// A duration written as text (`500ms`, `2s`, `1m 30s`), for schemas only.
pub(crate) struct DurationText;

/// The pattern a duration must match (a subset of what `humantime` accepts).
pub(crate) const DURATION_PATTERN: &str =
    r"^\s*([0-9]+\s*(ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs|hour|hours|d|day|days)\s*)+$";

impl JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as `500ms`, `2s`, `1m 30s`.",
            "type": "string",
            "pattern": DURATION_PATTERN
        })
    }
}

/// Parses a duration written as text (`500ms`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| e.to_string())
}

fn scalar_text(v: Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(format!("expected text, found {other}")),
    }
}

fn de_vars<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            scalar_text(v)
                .map(|v| (k, v))
                .map_err(serde::de::Error::custom)
        })
        .collect()
}

fn de_matrix<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Matrix>, D::Error> {
    let raw = Option::<Vec<BTreeMap<String, Value>>>::deserialize(d)?;
    raw.map(|variants| {
        variants
            .into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| {
                        scalar_text(v)
                            .map(|v| (k, v))
                            .map_err(serde::de::Error::custom)
                    })
                    .collect()
            })
            .collect()
    })
    .transpose()
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| parse_duration(&s).map_err(serde::de::Error::custom))
        .transpose()
}

fn de_opt_spanned_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<Duration>>, D::Error> {
    de_opt_duration(d).map(|o| o.map(Spanned::new))
}

fn de_one_or_many<'de, D, T>(d: D) -> Result<Vec<Spanned<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match Form::<T>::deserialize(d)? {
        Form::Many(v) => v.into_iter().map(Spanned::new).collect(),
        Form::One(t) => vec![Spanned::new(t)],
    })
}
