//! The probe's plan of variant requests and its diagnosis, without any I/O (`jwtprobe probe`
//! is the I/O around it).
//!
//! [`next_variant`] looks at the answers observed so far and picks the next request; once the
//! base token is refused it always sends the variants that separate the usual causes (no
//! token, every claim casing, a fresh `exp`, a fresh random key, and RS256 or no `kid` when the
//! base token differs there) before concluding. [`diagnose`] turns the whole table of
//! (variant → answer) into one [`Cause`], whose Display is the one-sentence explanation the
//! probe prints. Both are pure, so every diagnosis is unit-tested from a table written by hand.
//!
//! The rules follow `reference/qlik-proxy.md` for Qlik (the virtual proxy answers every
//! unusable token with the same bare 400, an unknown prefix with 400 "The http request header
//! is incorrect", no token with 401, a prefix-less URL with a 302 to
//! `internal_*_authentication`, a QRS call without an xrfkey with 403 "XSRF prevention check
//! failed") and `reference/rfc6750-profile.md` for other proxies: `WWW-Authenticate: Bearer
//! error="invalid_token"` means the proxy did verify the token, so the probe never says it
//! ignores it.

use std::fmt;

/// A pair of claim names: the user id claim and the user directory claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// The user id claim (`UserId`).
    pub user: String,
    /// The user directory claim (`UserDirectory`).
    pub directory: String,
}

impl fmt::Display for ClaimNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`/`{}`", self.user, self.directory)
    }
}

/// One request the probe can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variant {
    /// The request as asked: the token with the given claim names and `exp`.
    Base,
    /// No `Authorization` header at all.
    NoToken,
    /// The same request without the first path segment (the prefix).
    WithoutPrefix,
    /// The same request with an `xrfkey` query parameter and `X-Qlik-Xrfkey` header.
    Xrfkey,
    /// A token carrying the identity under every casing of the claim names at once.
    AllCasings,
    /// A token with the identity under these claim names only.
    Casing(ClaimNames),
    /// A token without `exp`.
    NoExp,
    /// A token that expires in one hour.
    ExpInOneHour,
    /// The same claims signed with a freshly generated key the proxy cannot know.
    OtherKey,
    /// The same token signed with RS256 (the algorithm every JWT proxy accepts), when the base
    /// token uses another algorithm with an RSA key.
    Rs256,
    /// The same token without its `kid` header.
    NoKid,
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Base => f.write_str("the token as asked"),
            Self::NoToken => f.write_str("no Authorization header"),
            Self::WithoutPrefix => f.write_str("the URL without its prefix"),
            Self::Xrfkey => f.write_str("with an xrfkey"),
            Self::AllCasings => f.write_str("claims in every casing at once"),
            Self::Casing(names) => write!(f, "claims {names}"),
            Self::NoExp => f.write_str("a token without exp"),
            Self::ExpInOneHour => f.write_str("a fresh token with exp in 1 hour"),
            Self::OtherKey => f.write_str("signed with a fresh random key"),
            Self::Rs256 => f.write_str("signed with RS256"),
            Self::NoKid => f.write_str("a token without kid"),
        }
    }
}

/// What the server answered to one variant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The start of the body (at most a few KiB), as text.
    pub body: String,
    /// Whether the response sets a cookie (a session: the token was accepted).
    pub sets_cookie: bool,
    /// The emulator's debug reason header (`x-jwtprobe-mock-reason`), when present.
    pub reason: Option<String>,
    /// The `WWW-Authenticate` header (several joined with `, `), when present.
    pub challenge: Option<String>,
}

impl Answer {
    /// A 302 to the default virtual proxy's Windows or forms login.
    fn is_login_redirect(&self) -> bool {
        (300..400).contains(&self.status)
            && self.location.as_deref().is_some_and(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("internal_windows_authentication")
                    || l.contains("internal_forms_authentication")
            })
    }

    /// The QRS/QPS answer to a missing or wrong xrfkey.
    fn is_xsrf_refusal(&self) -> bool {
        self.status == 403
            && self
                .body
                .to_ascii_lowercase()
                .contains("xsrf prevention check failed")
    }

    /// The answer to a prefix no virtual proxy has (or one not linked to this proxy).
    fn is_unknown_prefix(&self) -> bool {
        self.status == 400
            && self
                .body
                .to_ascii_lowercase()
                .contains("http request header is incorrect")
    }

    /// Whether the proxy let the token through: a session cookie, a 2xx, a redirect that is
    /// not to a login page, or an xrfkey refusal (which comes after authentication).
    fn token_accepted(&self) -> bool {
        self.sets_cookie
            || (200..300).contains(&self.status)
            || ((300..400).contains(&self.status) && !self.is_login_redirect())
            || self.is_xsrf_refusal()
    }

    /// The same answer (status, body, challenge and debug reason): the proxy could not tell
    /// them apart.
    fn same_as(&self, other: &Self) -> bool {
        self.status == other.status
            && self.body == other.body
            && self.reason == other.reason
            && self.challenge == other.challenge
    }

    /// A parameter of the Bearer challenge (`error`, `error_description`), unquoted.
    #[must_use]
    pub fn bearer_param(&self, name: &str) -> Option<String> {
        let challenge = self.challenge.as_deref()?;
        let at = challenge
            .find("Bearer")
            .or_else(|| challenge.find("bearer"))?;
        let mut rest = &challenge[at + 6..];
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            let (key, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
            } else {
                let end = after.find([',', ' ']).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if key.trim().eq_ignore_ascii_case(name) {
                return Some(value.to_owned());
            }
            if tail.is_empty() {
                return None;
            }
            rest = tail;
        }
    }

    /// Whether the proxy said it verified the token and refused it (RFC 6750
    /// `error="invalid_token"`).
    fn is_invalid_token(&self) -> bool {
        self.bearer_param("error").as_deref() == Some("invalid_token")
    }
}

/// One row of the table: a variant and what came back (or why nothing did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The request sent.
    pub variant: Variant,
    /// The answer, or the error text when the request failed.
    pub outcome: Result<Answer, String>,
}

/// What the probe knows before sending anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The URL's first path segment when it can be a prefix (not a Qlik keyword).
    pub prefix: Option<String>,
    /// The host name of the URL.
    pub host: String,
    /// Whether the path below the prefix is a QRS or QPS REST call (`/qrs/…`, `/qps/…`).
    pub rest_api: bool,
    /// The claim names asked for.
    pub names: ClaimNames,
    /// Seconds from now to the base token's `exp`; `None` when it has none.
    pub base_exp_s: Option<i64>,
    /// The `--key` file, for messages.
    pub key: String,
    /// The `--cert` file and whether it holds `--key`'s public key.
    pub cert: Option<(String, bool)>,
    /// The base token's algorithm (`RS256`).
    pub alg: String,
    /// Whether `--key` is an RSA key (so an RS256 variant can be signed).
    pub rsa: bool,
    /// The base token's `kid`, when it has one.
    pub kid: Option<String>,
    /// Whether the target is a Qlik proxy (prefix and xrfkey variants make sense).
    pub qlik: bool,
}

/// The most likely reason for the answer, in one sentence (its Display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The token was accepted.
    Accepted,
    /// The token was accepted (a session was opened) but the path answered this status.
    AcceptedButStatus {
        /// The status of the base request.
        status: u16,
    },
    /// The URL has no prefix: the default virtual proxy redirected to its login page.
    NoPrefix,
    /// The prefix is a virtual proxy with Windows or forms login, not JWT.
    NotJwtProxy {
        /// The prefix.
        prefix: String,
    },
    /// No virtual proxy answers for the prefix (or it is not linked to this proxy).
    UnknownPrefix {
        /// The prefix.
        prefix: String,
        /// Whether the URL without the prefix reached the default virtual proxy.
        default_answers: bool,
    },
    /// The token is fine; the QRS/QPS wants an xrfkey.
    MissingXrfkey {
        /// Whether the request with an xrfkey succeeded.
        confirmed: bool,
    },
    /// The QRS/QPS refused the request even with an xrfkey.
    XsrfEvenWithXrfkey,
    /// The host name is not on the virtual proxy's host allow list.
    HostDenied {
        /// The host.
        host: String,
    },
    /// 403 only with a token: the proxy read it but denies access (session limit, rules).
    AccessDenied,
    /// The proxy reads the identity under other claim names that differ only in case.
    ClaimCasing {
        /// The names asked for.
        expected: ClaimNames,
        /// The pair the proxy accepted, when a single pair was tried and accepted.
        accepted: Option<ClaimNames>,
    },
    /// A token without `exp` (or with a longer one) is accepted: the proxy's clock is ahead.
    ClockSkew {
        /// Seconds from now to the refused token's `exp`.
        base_exp_s: i64,
        /// Whether a token expiring in one hour was accepted, when one was tried.
        hour_ok: Option<bool>,
    },
    /// The token gets the same answer as no token at all.
    TokenIgnored {
        /// That status.
        status: u16,
    },
    /// `--cert` does not hold `--key`'s public key.
    CertDoesNotMatchKey {
        /// The `--cert` file.
        cert: String,
        /// The `--key` file.
        key: String,
    },
    /// Tokens signed with `--key` are refused exactly like ones signed with a random key.
    WrongCertificate {
        /// The `--key` file.
        key: String,
        /// The `--cert` file, when given (and it matches the key).
        cert: Option<String>,
    },
    /// The proxy tells `--key` from a random key but still refuses the claims.
    ClaimsRefused,
    /// The base token had expired, and a fresh one is accepted.
    Expired {
        /// Seconds since the base token's `exp`.
        ago_s: i64,
    },
    /// The algorithm of the base token is refused; RS256 is accepted.
    AlgNotAllowed {
        /// The refused algorithm.
        alg: String,
    },
    /// The proxy knows no key by the base token's `kid`; the token without it is accepted.
    UnknownKid {
        /// The `kid`.
        kid: String,
    },
    /// The proxy verified the token and refused it (`error="invalid_token"`) and no variant
    /// is accepted; its own description, when it gave one.
    InvalidToken {
        /// The `error_description`.
        description: Option<String>,
    },
    /// The server failed (5xx).
    ServerError {
        /// The status.
        status: u16,
    },
    /// Nothing explains the refusal.
    Inconclusive {
        /// The status of the base request (0 when it failed).
        status: u16,
    },
}

impl Cause {
    /// Whether the token was accepted as sent.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted)
    }

    /// The sentence for people, in the words of the target: Qlik's ("the virtual proxy's
    /// attribute fields", "JWT certificate") or any proxy's.
    #[must_use]
    pub fn sentence(&self, qlik: bool) -> String {
        let text = self.to_string();
        if qlik {
            return text;
        }
        text.replace(
            "the virtual proxy's attribute fields are",
            "the proxy's claim names are",
        )
        .replace(
            "into the virtual proxy's \"JWT certificate\" field",
            "into the proxy's trusted keys",
        )
    }
}

/// How a claim-name pair reads: "lowercase", "uppercase", or the names themselves.
fn casing_words(names: &ClaimNames) -> String {
    let both = format!("{}{}", names.user, names.directory);
    if both == both.to_lowercase() {
        "lowercase".to_owned()
    } else if both == both.to_uppercase() {
        "uppercase".to_owned()
    } else {
        format!("`{}` and `{}`", names.user, names.directory)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted => f.write_str("the proxy accepts the token: nothing to explain"),
            Self::AcceptedButStatus { status } => write!(
                f,
                "the proxy accepts the token (it opened a session) but the path answers {status}: \
                 the token is fine, check the path of the URL"
            ),
            Self::NoPrefix => f.write_str(
                "the URL has no virtual proxy prefix, so the default virtual proxy answered with a \
                 redirect to its login page and ignored the token: put the JWT virtual proxy's \
                 prefix first in the path (`https://host/<prefix>/hub/`)",
            ),
            Self::NotJwtProxy { prefix } => write!(
                f,
                "the virtual proxy `{prefix}` redirects to Windows or forms login instead of \
                 reading the token: set its authentication method to JWT in the QMC"
            ),
            Self::UnknownPrefix {
                prefix,
                default_answers,
            } => {
                write!(
                    f,
                    "the proxy does not know the prefix `{prefix}` (400 \"The http request header \
                     is incorrect\""
                )?;
                if *default_answers {
                    f.write_str(", while the URL without it reaches the default virtual proxy")?;
                }
                write!(
                    f,
                    "): create the virtual proxy `{prefix}` or link it to this proxy service in \
                     the QMC"
                )
            }
            Self::MissingXrfkey { confirmed } => write!(
                f,
                "the token is accepted but the QRS/QPS refuses the request without an xrfkey \
                 (403 \"XSRF prevention check failed\"){}: add `xrfkey=<16 letters or digits>` \
                 to the query and the same value in an `X-Qlik-Xrfkey` header",
                if *confirmed {
                    " and accepts it with one"
                } else {
                    ""
                }
            ),
            Self::XsrfEvenWithXrfkey => f.write_str(
                "the token is accepted but the QRS/QPS answers 403 \"XSRF prevention check \
                 failed\" even with a matching xrfkey parameter and header: check that nothing \
                 (a `#` in the URL, a proxy in front) cuts the query string",
            ),
            Self::HostDenied { host } => write!(
                f,
                "the proxy refuses the host name `{host}` before looking at any token (403 with \
                 and without one): add `{host}` to the virtual proxy's host allow list"
            ),
            Self::AccessDenied => f.write_str(
                "the proxy answers 403 only when a token is sent, so it read the token but denies \
                 access: the user probably holds the most proxy sessions allowed (5 by default; \
                 log out with `DELETE /<prefix>/qps/user` or reuse the session cookie) or lacks \
                 access rights",
            ),
            Self::ClaimCasing {
                expected,
                accepted: Some(accepted),
            } => write!(
                f,
                "the proxy rejects {expected} but accepts {accepted}: the virtual proxy's \
                 attribute fields are {}",
                casing_words(accepted)
            ),
            Self::ClaimCasing {
                expected,
                accepted: None,
            } => write!(
                f,
                "the proxy rejects {expected} but accepts a token carrying them in several \
                 casings at once: the virtual proxy's attribute fields differ from these names \
                 in case only (see \"JWT attribute for user ID\" and \"for user directory\" in \
                 the QMC)"
            ),
            Self::ClockSkew {
                base_exp_s,
                hour_ok: Some(false),
            } => write!(
                f,
                "the proxy rejects a token that expires in {} and one that expires in 1 hour but \
                 accepts one without `exp`: its clock is more than an hour ahead of this \
                 machine's; synchronize the clocks (NTP)",
                crate::token::human_span(*base_exp_s)
            ),
            Self::ClockSkew { base_exp_s, .. } => write!(
                f,
                "the proxy rejects a token that expires in {} but accepts a longer-lived one: its \
                 clock is ahead of this machine's (clock skew); synchronize the clocks (NTP) or \
                 mint with a longer `exp`",
                crate::token::human_span(*base_exp_s)
            ),
            Self::TokenIgnored { status } => write!(
                f,
                "the proxy answers the token exactly as it answers no token at all ({status}): \
                 this virtual proxy is probably not set to JWT authentication, or something in \
                 front of it drops the `Authorization` header"
            ),
            Self::CertDoesNotMatchKey { cert, key } => write!(
                f,
                "`{cert}` does not hold the public key of `{key}` and the proxy refuses the \
                 token: paste the certificate of the signing key into the virtual proxy's \"JWT \
                 certificate\" field, or sign with the key of the certificate it holds"
            ),
            Self::WrongCertificate { key, cert } => write!(
                f,
                "every token signed with `{key}` is refused exactly like one signed with a fresh \
                 random key, so the proxy probably does not hold this key's certificate: paste \
                 {} into the virtual proxy's \"JWT certificate\" field",
                match cert {
                    Some(c) => format!("`{c}`"),
                    None => format!("the certificate of `{key}`"),
                }
            ),
            Self::Expired { ago_s } => write!(
                f,
                "the token expired {} ago and a fresh one is accepted: mint tokens with an `exp` \
                 in the future (`--exp +5m`)",
                crate::token::human_span(*ago_s)
            ),
            Self::AlgNotAllowed { alg } => write!(
                f,
                "the proxy refuses `{alg}` but accepts the same token signed with RS256: the \
                 algorithm is not in the proxy's allowed set; sign with RS256 or allow `{alg}`"
            ),
            Self::UnknownKid { kid } => write!(
                f,
                "the proxy refuses the token with `kid` `{kid}` but accepts it without a `kid`: \
                 it knows no key by that id; use the key id the proxy is configured with"
            ),
            Self::InvalidToken {
                description: Some(d),
            } => write!(
                f,
                "the proxy verified the token and refused it (invalid_token: \"{d}\"), and no \
                 variant is accepted: check the certificate, audience, issuer and claims it \
                 requires"
            ),
            Self::InvalidToken { description: None } => f.write_str(
                "the proxy verified the token and refused it (invalid_token), and no variant is \
                 accepted: check the certificate, audience, issuer and claims it requires",
            ),
            Self::ClaimsRefused => f.write_str(
                "the proxy answers a token signed with `--key` differently from one signed with a \
                 random key, so it probably trusts the key but refuses the claims: check the user \
                 and directory values, the audience (`--aud`) and any mandatory attribute mapping",
            ),
            Self::ServerError { status } => write!(
                f,
                "the server failed with {status}: a token problem gives a 4xx, so look at the \
                 proxy's and the engine's logs"
            ),
            Self::Inconclusive { status } => write!(
                f,
                "the proxy refuses the token with {status} and no variant explains why: check \
                 the virtual proxy's JWT settings (certificate, attribute names, audience)"
            ),
        }
    }
}

/// The claim-name pairs found in Qlik's documentation and samples, most common first.
const KNOWN_SPELLINGS: [(&str, &str); 4] = [
    ("userid", "userdirectory"),
    ("userId", "userDirectory"),
    ("UserId", "UserDirectory"),
    ("UserID", "UserDirectory"),
];

/// Every other casing of the claim names worth trying: the known spellings, all lowercase,
/// camelCase, `…ID`, all uppercase and PascalCase, without the pair asked for and without
/// repeats.
pub fn casings(names: &ClaimNames) -> Vec<ClaimNames> {
    fn first(s: &str, upper: bool) -> String {
        let mut chars = s.chars();
        match chars.next() {
            Some(c) if upper => c.to_uppercase().chain(chars).collect(),
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    }
    fn id_upper(s: &str) -> String {
        match s.strip_suffix("Id").or_else(|| s.strip_suffix("id")) {
            Some(stem) => format!("{}ID", first(stem, true)),
            None => s.to_owned(),
        }
    }
    let (u, d) = (&names.user, &names.directory);
    // The spellings Qlik's own examples use come first; word boundaries cannot be recovered
    // from an all-lowercase name, so they are listed rather than computed.
    let known = KNOWN_SPELLINGS
        .iter()
        .filter(|(ku, kd)| ku.eq_ignore_ascii_case(u) && kd.eq_ignore_ascii_case(d))
        .map(|(ku, kd)| ((*ku).to_owned(), (*kd).to_owned()));
    let computed = [
        (u.to_lowercase(), d.to_lowercase()),
        (first(u, false), first(d, false)),
        (id_upper(u), first(d, true)),
        (u.to_uppercase(), d.to_uppercase()),
        (first(u, true), first(d, true)),
    ];
    let mut out: Vec<ClaimNames> = Vec::new();
    for (user, directory) in known.chain(computed) {
        let pair = ClaimNames { user, directory };
        if pair != *names && !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

fn find<'a>(observed: &'a [Observation], variant: &Variant) -> Option<&'a Result<Answer, String>> {
    observed
        .iter()
        .find(|o| o.variant == *variant)
        .map(|o| &o.outcome)
}

fn answer<'a>(observed: &'a [Observation], variant: &Variant) -> Option<&'a Answer> {
    find(observed, variant).and_then(|r| r.as_ref().ok())
}

fn tried(observed: &[Observation], variant: &Variant) -> bool {
    find(observed, variant).is_some()
}

fn accepted(observed: &[Observation], variant: &Variant) -> bool {
    answer(observed, variant).is_some_and(Answer::token_accepted)
}

/// The next request worth sending after `observed`, or `None` when the table already says
/// enough. Requests come in order of how much they tell, so a small budget keeps the best ones.
pub fn next_variant(facts: &Facts, observed: &[Observation]) -> Option<Variant> {
    let Some(base) = find(observed, &Variant::Base) else {
        return Some(Variant::Base);
    };
    let base = base.as_ref().ok()?;
    if base.is_xsrf_refusal() {
        return (facts.rest_api && !tried(observed, &Variant::Xrfkey)).then_some(Variant::Xrfkey);
    }
    if base.token_accepted() || base.is_login_redirect() || !(400..500).contains(&base.status) {
        return None;
    }
    if !tried(observed, &Variant::NoToken) {
        return Some(Variant::NoToken);
    }
    if facts.qlik && facts.prefix.is_some() && !tried(observed, &Variant::WithoutPrefix) {
        return Some(Variant::WithoutPrefix);
    }
    if base.is_unknown_prefix() || base.status == 403 {
        // Host refused, access denied after authentication, an unknown prefix: no token
        // variant can change that.
        return None;
    }
    // Every variant below is sent before concluding, whatever the first answers suggest.
    let mut plan = vec![Variant::AllCasings];
    if facts.base_exp_s.is_some() {
        plan.push(Variant::NoExp);
    }
    plan.push(Variant::ExpInOneHour);
    if facts.rsa && facts.alg != "RS256" {
        plan.push(Variant::Rs256);
    }
    if facts.kid.is_some() {
        plan.push(Variant::NoKid);
    }
    plan.push(Variant::OtherKey);
    if let Some(next) = plan.into_iter().find(|v| !tried(observed, v)) {
        return Some(next);
    }
    // The single casings name the accepted one, when several at once were accepted.
    if accepted(observed, &Variant::AllCasings) {
        let all = casings(&facts.names);
        if all
            .iter()
            .any(|c| accepted(observed, &Variant::Casing(c.clone())))
        {
            return None;
        }
        return all
            .into_iter()
            .map(Variant::Casing)
            .find(|v| !tried(observed, v));
    }
    None
}

/// The most likely cause, from the table of answers.
pub fn diagnose(facts: &Facts, observed: &[Observation]) -> Cause {
    let Some(base) = answer(observed, &Variant::Base) else {
        return Cause::Inconclusive { status: 0 };
    };
    if base.is_xsrf_refusal() {
        return match answer(observed, &Variant::Xrfkey) {
            Some(a) if (200..300).contains(&a.status) => Cause::MissingXrfkey { confirmed: true },
            Some(_) => Cause::XsrfEvenWithXrfkey,
            None => Cause::MissingXrfkey { confirmed: false },
        };
    }
    if base.status >= 500 {
        return Cause::ServerError {
            status: base.status,
        };
    }
    if base.is_login_redirect() {
        return match &facts.prefix {
            Some(prefix) => Cause::NotJwtProxy {
                prefix: prefix.clone(),
            },
            None => Cause::NoPrefix,
        };
    }
    if base.token_accepted() {
        return if (200..400).contains(&base.status) {
            Cause::Accepted
        } else {
            Cause::AcceptedButStatus {
                status: base.status,
            }
        };
    }
    if !(400..500).contains(&base.status) {
        return Cause::Inconclusive {
            status: base.status,
        };
    }
    if base.is_unknown_prefix() {
        return Cause::UnknownPrefix {
            prefix: facts.prefix.clone().unwrap_or_default(),
            default_answers: answer(observed, &Variant::WithoutPrefix)
                .is_some_and(Answer::is_login_redirect),
        };
    }
    let no_token = answer(observed, &Variant::NoToken);
    if base.status == 403 && no_token.is_some_and(|nt| nt.status == 403) {
        return Cause::HostDenied {
            host: facts.host.clone(),
        };
    }
    if base.status == 403 {
        return Cause::AccessDenied;
    }
    let single = casings(&facts.names)
        .into_iter()
        .find(|c| accepted(observed, &Variant::Casing(c.clone())));
    if single.is_some() || accepted(observed, &Variant::AllCasings) {
        return Cause::ClaimCasing {
            expected: facts.names.clone(),
            accepted: single,
        };
    }
    if let Some(kid) = &facts.kid
        && accepted(observed, &Variant::NoKid)
    {
        return Cause::UnknownKid { kid: kid.clone() };
    }
    if accepted(observed, &Variant::Rs256) {
        return Cause::AlgNotAllowed {
            alg: facts.alg.clone(),
        };
    }
    if accepted(observed, &Variant::NoExp) || accepted(observed, &Variant::ExpInOneHour) {
        return match facts.base_exp_s {
            Some(s) if s <= 0 => Cause::Expired { ago_s: -s },
            base_exp_s => Cause::ClockSkew {
                base_exp_s: base_exp_s.unwrap_or(0),
                hour_ok: answer(observed, &Variant::ExpInOneHour).map(Answer::token_accepted),
            },
        };
    }
    // A proxy that says `invalid_token` read the token: never "the token is ignored".
    if no_token.is_some_and(|nt| nt.same_as(base)) && !base.is_invalid_token() {
        return Cause::TokenIgnored {
            status: base.status,
        };
    }
    if let Some((cert, false)) = &facts.cert {
        return Cause::CertDoesNotMatchKey {
            cert: cert.clone(),
            key: facts.key.clone(),
        };
    }
    match answer(observed, &Variant::OtherKey) {
        Some(other) if other.same_as(base) => Cause::WrongCertificate {
            key: facts.key.clone(),
            cert: facts.cert.as_ref().map(|(c, _)| c.clone()),
        },
        Some(_) if base.is_invalid_token() => Cause::InvalidToken {
            description: base.bearer_param("error_description"),
        },
        Some(_) => Cause::ClaimsRefused,
        None => Cause::Inconclusive {
            status: base.status,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(u: &str, d: &str) -> ClaimNames {
        ClaimNames {
            user: u.to_owned(),
            directory: d.to_owned(),
        }
    }

    fn facts() -> Facts {
        Facts {
            prefix: Some("jwt".to_owned()),
            host: "qlik.example.com".to_owned(),
            rest_api: false,
            names: names("UserId", "UserDirectory"),
            base_exp_s: Some(300),
            key: "key.pem".to_owned(),
            cert: None,
            alg: "RS256".to_owned(),
            rsa: true,
            kid: None,
            qlik: true,
        }
    }

    fn status(status: u16) -> Answer {
        Answer {
            status,
            ..Answer::default()
        }
    }

    /// The QSEoW answer to any unusable token: a bare 400.
    fn rejected() -> Answer {
        Answer {
            status: 400,
            body: "<h1>Bad Request</h1>".to_owned(),
            ..Answer::default()
        }
    }

    fn no_token() -> Answer {
        Answer {
            status: 401,
            body: "<h1>Unauthorized</h1>".to_owned(),
            ..Answer::default()
        }
    }

    fn session() -> Answer {
        Answer {
            status: 200,
            sets_cookie: true,
            ..Answer::default()
        }
    }

    fn login_redirect() -> Answer {
        Answer {
            status: 302,
            location: Some(
                "https://qlik.example.com/internal_forms_authentication/?targetId=1".to_owned(),
            ),
            ..Answer::default()
        }
    }

    /// Plays the planner against a server modelled as a function, as the driver would, and
    /// returns the table and the diagnosis.
    fn play(
        facts: &Facts,
        budget: usize,
        server: impl Fn(&Variant) -> Answer,
    ) -> (Vec<Observation>, Cause) {
        let mut observed = Vec::new();
        while observed.len() < budget {
            let Some(variant) = next_variant(facts, &observed) else {
                break;
            };
            let outcome = Ok(server(&variant));
            observed.push(Observation { variant, outcome });
        }
        let cause = diagnose(facts, &observed);
        (observed, cause)
    }

    /// A QSEoW virtual proxy whose answers come from `accepts` for token variants.
    fn qseow(accepts: impl Fn(&Variant) -> bool) -> impl Fn(&Variant) -> Answer {
        move |v| match v {
            Variant::NoToken => no_token(),
            Variant::WithoutPrefix => login_redirect(),
            v if accepts(v) => session(),
            _ => rejected(),
        }
    }

    #[test]
    fn casings_cover_lower_camel_id_and_upper_without_the_given_pair() {
        let all = casings(&names("UserId", "UserDirectory"));
        assert_eq!(
            all,
            vec![
                names("userid", "userdirectory"),
                names("userId", "userDirectory"),
                names("UserID", "UserDirectory"),
                names("USERID", "USERDIRECTORY"),
            ]
        );
        assert!(
            casings(&names("userid", "userdirectory")).contains(&names("UserId", "UserDirectory"))
        );
    }

    #[test]
    fn accepted_token_needs_one_request() {
        let (observed, cause) = play(&facts(), 12, |_| session());
        assert_eq!(observed.len(), 1);
        assert_eq!(cause, Cause::Accepted);
    }

    #[test]
    fn lowercase_attribute_fields_are_named_in_one_sentence() {
        let lower = Variant::Casing(names("userid", "userdirectory"));
        let (observed, cause) = play(
            &facts(),
            12,
            qseow(|v| *v == Variant::AllCasings || *v == lower),
        );
        assert!(observed.iter().any(|o| o.variant == lower));
        assert_eq!(
            cause.to_string(),
            "the proxy rejects `UserId`/`UserDirectory` but accepts `userid`/`userdirectory`: \
             the virtual proxy's attribute fields are lowercase"
        );
    }

    #[test]
    fn camel_case_attribute_fields_are_named() {
        let camel = Variant::Casing(names("userId", "userDirectory"));
        let (_, cause) = play(
            &facts(),
            12,
            qseow(|v| *v == Variant::AllCasings || *v == camel),
        );
        assert!(
            cause
                .to_string()
                .contains("are `userId` and `userDirectory`"),
            "{cause}"
        );
    }

    #[test]
    fn mixed_casing_accepted_only_all_at_once_is_still_a_casing_problem() {
        let (_, cause) = play(&facts(), 12, qseow(|v| *v == Variant::AllCasings));
        assert_eq!(
            cause,
            Cause::ClaimCasing {
                expected: names("UserId", "UserDirectory"),
                accepted: None
            }
        );
    }

    #[test]
    fn clock_ahead_is_clock_skew() {
        let (observed, cause) = play(
            &facts(),
            12,
            qseow(|v| matches!(v, Variant::NoExp | Variant::ExpInOneHour)),
        );
        assert!(observed.iter().any(|o| o.variant == Variant::ExpInOneHour));
        assert_eq!(
            cause,
            Cause::ClockSkew {
                base_exp_s: 300,
                hour_ok: Some(true)
            }
        );
        assert!(cause.to_string().contains("clock skew"), "{cause}");
    }

    #[test]
    fn clock_more_than_an_hour_ahead_says_so() {
        let (_, cause) = play(&facts(), 12, qseow(|v| *v == Variant::NoExp));
        assert!(
            cause.to_string().contains("more than an hour ahead"),
            "{cause}"
        );
    }

    #[test]
    fn identical_refusal_with_a_random_key_points_at_the_certificate() {
        let (observed, cause) = play(&facts(), 12, qseow(|_| false));
        assert!(observed.iter().any(|o| o.variant == Variant::OtherKey));
        assert_eq!(
            cause,
            Cause::WrongCertificate {
                key: "key.pem".to_owned(),
                cert: None
            }
        );
    }

    #[test]
    fn local_certificate_mismatch_outranks_the_random_key_comparison() {
        let mut f = facts();
        f.cert = Some(("cert.pem".to_owned(), false));
        let (_, cause) = play(&f, 12, qseow(|_| false));
        assert!(
            matches!(cause, Cause::CertDoesNotMatchKey { .. }),
            "{cause:?}"
        );
    }

    #[test]
    fn a_different_refusal_for_a_random_key_means_the_claims_are_refused() {
        let server = |v: &Variant| match v {
            Variant::NoToken => no_token(),
            Variant::WithoutPrefix => login_redirect(),
            Variant::OtherKey => Answer {
                reason: Some("bad signature".to_owned()),
                ..rejected()
            },
            _ => Answer {
                reason: Some("audience".to_owned()),
                ..rejected()
            },
        };
        let (_, cause) = play(&facts(), 12, server);
        assert_eq!(cause, Cause::ClaimsRefused);
    }

    #[test]
    fn unknown_prefix_stops_after_the_prefix_check() {
        let server = |v: &Variant| match v {
            Variant::WithoutPrefix => login_redirect(),
            Variant::NoToken | Variant::Base => Answer {
                status: 400,
                body: "<p>The http request header is incorrect.</p>".to_owned(),
                ..Answer::default()
            },
            _ => session(),
        };
        let (observed, cause) = play(&facts(), 12, server);
        assert_eq!(observed.len(), 3);
        assert_eq!(
            cause,
            Cause::UnknownPrefix {
                prefix: "jwt".to_owned(),
                default_answers: true
            }
        );
    }

    #[test]
    fn no_prefix_redirect_is_explained_without_variants() {
        let mut f = facts();
        f.prefix = None;
        let (observed, cause) = play(&f, 12, |_| login_redirect());
        assert_eq!(observed.len(), 1);
        assert_eq!(cause, Cause::NoPrefix);
        f.prefix = Some("win".to_owned());
        let (_, cause) = play(&f, 12, |_| login_redirect());
        assert_eq!(
            cause,
            Cause::NotJwtProxy {
                prefix: "win".to_owned()
            }
        );
    }

    #[test]
    fn xsrf_refusal_is_retried_with_an_xrfkey_on_rest_paths() {
        let mut f = facts();
        f.rest_api = true;
        let xsrf = Answer {
            status: 403,
            body: "XSRF prevention check failed. Possible XSRF discovered.".to_owned(),
            sets_cookie: true,
            ..Answer::default()
        };
        let server = |v: &Variant| match v {
            Variant::Xrfkey => status(200),
            _ => xsrf.clone(),
        };
        let (observed, cause) = play(&f, 12, server);
        assert_eq!(observed.len(), 2);
        assert_eq!(cause, Cause::MissingXrfkey { confirmed: true });
        let (_, cause) = play(&f, 12, |_| xsrf.clone());
        assert_eq!(cause, Cause::XsrfEvenWithXrfkey);
        f.rest_api = false;
        let (observed, cause) = play(&f, 12, |_| xsrf.clone());
        assert_eq!(observed.len(), 1);
        assert_eq!(cause, Cause::MissingXrfkey { confirmed: false });
    }

    #[test]
    fn forbidden_with_and_without_a_token_is_the_host_allow_list() {
        let forbidden = Answer {
            status: 403,
            body: "Forbidden".to_owned(),
            ..Answer::default()
        };
        let server = |v: &Variant| match v {
            Variant::WithoutPrefix => login_redirect(),
            _ => forbidden.clone(),
        };
        let (observed, cause) = play(&facts(), 12, server);
        assert_eq!(observed.len(), 3);
        assert_eq!(
            cause,
            Cause::HostDenied {
                host: "qlik.example.com".to_owned()
            }
        );
    }

    #[test]
    fn forbidden_only_with_a_token_is_access_denied() {
        let server = |v: &Variant| match v {
            Variant::NoToken => no_token(),
            Variant::WithoutPrefix => login_redirect(),
            _ => Answer {
                status: 403,
                body: "Access denied".to_owned(),
                ..Answer::default()
            },
        };
        let (observed, cause) = play(&facts(), 12, server);
        assert_eq!(observed.len(), 3);
        assert_eq!(cause, Cause::AccessDenied);
        assert!(cause.to_string().contains("sessions"), "{cause}");
    }

    #[test]
    fn a_token_answered_like_no_token_is_ignored() {
        let (_, cause) = play(&facts(), 12, |_| no_token());
        assert_eq!(cause, Cause::TokenIgnored { status: 401 });
    }

    #[test]
    fn accepted_token_on_a_missing_path_blames_the_path() {
        let answer = Answer {
            status: 404,
            sets_cookie: true,
            ..Answer::default()
        };
        let (observed, cause) = play(&facts(), 12, |_| answer.clone());
        assert_eq!(observed.len(), 1);
        assert_eq!(cause, Cause::AcceptedButStatus { status: 404 });
    }

    #[test]
    fn server_errors_are_not_blamed_on_the_token() {
        let (observed, cause) = play(&facts(), 12, |_| status(503));
        assert_eq!(observed.len(), 1);
        assert_eq!(cause, Cause::ServerError { status: 503 });
    }

    #[test]
    fn a_budget_too_small_leaves_the_cause_inconclusive() {
        let (observed, cause) = play(&facts(), 2, qseow(|_| false));
        assert_eq!(observed.len(), 2);
        assert_eq!(cause, Cause::Inconclusive { status: 400 });
    }

    #[test]
    fn the_planner_never_asks_for_more_than_a_dozen_requests() {
        // The worst case: every token variant refused, and the casing probe accepted only
        // all at once (so every single casing is tried).
        let (observed, _) = play(&facts(), 100, qseow(|v| *v == Variant::AllCasings));
        assert!(observed.len() <= 12, "{}", observed.len());
        let (observed, _) = play(&facts(), 100, qseow(|_| false));
        assert!(observed.len() <= 12, "{}", observed.len());
    }
}
