//! `jwtprobe probe`: send a token to a URL and explain the answer.
//!
//! The probe mints a token with the identity asked for, sends `GET URL` with
//! `Authorization: Bearer`, and prints the status, the relevant headers and the session cookie
//! (redacted). When the proxy refuses, it sends variant requests (without the prefix, with other
//! claim casings, without `exp`, with a fresh `exp`, RS256, without `kid`, with an xrfkey,
//! signed with a random key, without any token), chosen one at a time by
//! [`diagnosis::next_variant`] from what came back so far, and prints the most likely cause from
//! [`diagnosis::diagnose`]. It never sends more than
//! `--max-requests` requests and says how many it sent.
//!
//! The reasoning lives in [`jwtprobe::probe`] and is pure; this file is the I/O around it.

use std::time::Duration;

use camino::Utf8PathBuf;
use http::{HeaderMap, HeaderValue, Method, header};
use rand::Rng as _;
use serde_json::{Map, Value, json};
use url::Url;

use super::keyfile::{DEFAULT_PASSWORD_ENV, read_key};
use super::keys::key_matches;
use super::token::{minter, resolve_time, signer_for};
use super::{CliError, CmdResult, Exit, runtime};
use jwtprobe::client::{Client, ClientSettings, Exchange, Request};
use jwtprobe::jose::Alg;
use jwtprobe::keys::{self, KeyKind};
use jwtprobe::mock;
use jwtprobe::probe::{self as diagnosis, Answer, Cause, ClaimNames, Facts, Observation, Variant};
use jwtprobe::token::human_span;
use jwtprobe::token::{self, Signer};

/// Arguments of this command.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
jwtprobe probe https://qlik.example.com/jwt/hub/ --key keys/QlikClient.key.pem \
--cert keys/QlikClient.cert.pem --user alice --directory CORP --insecure\n  \
jwtprobe probe https://qlik.example.com/jwt/hub/ --key keys/QlikClient.key.pem \
--user alice --directory CORP --insecure -q\n  \
jwtprobe probe https://qlik.example.com/jwt/hub/ --key keys/QlikClient.key.pem \
--user alice --directory CORP --insecure -v\n\n\
On a 4xx it sends its variant requests (no token, without the prefix on Qlik, other claim \
casings, no exp, a fresh exp, RS256, no kid, a random key), reads WWW-Authenticate (error, \
error_description), and prints the most likely cause in one sentence: wrong key or \
certificate, expired token, clock skew, claim names, algorithm not allowed, unknown kid. Use \
--profile rfc6750 for a proxy that is not Qlik. It never sends more than --max-requests \
requests. Tokens and cookie values are never printed in full. \
Each accepted request opens a proxy session for the user (Qlik allows 5 per user by default).\n\n\
Exit codes: 0 the token is accepted, 1 bad command line, 3 key unreadable or URL unreachable, \
4 the proxy refuses (the cause is printed).")]
pub(crate) struct Args {
    /// The URL to open, prefix included (`https://host/jwt/hub/`).
    #[arg(value_name = "URL")]
    pub(crate) url: Url,
    /// The signing key (PEM, DER, PFX or JWK).
    #[arg(long, value_name = "FILE")]
    pub(crate) key: Utf8PathBuf,
    /// The certificate pasted into the virtual proxy, to check locally that it matches the key.
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: Option<Utf8PathBuf>,
    /// The user id.
    #[arg(long, value_name = "USER")]
    pub(crate) user: String,
    /// The user directory.
    #[arg(long, value_name = "DIRECTORY")]
    pub(crate) directory: String,
    /// The claim holding the user id (the virtual proxy's "JWT attribute for user ID").
    #[arg(long, value_name = "NAME", default_value = "UserId")]
    pub(crate) user_claim: String,
    /// The claim holding the user directory ("JWT attribute for user directory").
    #[arg(long, value_name = "NAME", default_value = "UserDirectory")]
    pub(crate) directory_claim: String,
    /// The signing algorithm (default: RS256 for an RSA key).
    #[arg(long, value_name = "ALG")]
    pub(crate) alg: Option<String>,
    /// The token's expiry: an offset such as `+5m`, or `omit` for none.
    #[arg(
        long,
        value_name = "TIME",
        default_value = "+5m",
        allow_hyphen_values = true
    )]
    pub(crate) exp: String,
    /// The audience (`aud`), when the virtual proxy requires one.
    #[arg(long, value_name = "AUD")]
    pub(crate) aud: Option<String>,
    /// The issuer (`iss`), when the proxy requires one.
    #[arg(long, value_name = "ISS")]
    pub(crate) iss: Option<String>,
    /// The `kid` header of the token.
    #[arg(long, value_name = "KID")]
    pub(crate) kid: Option<String>,
    /// What kind of proxy answers: `qseow` (and the other Qlik profiles) adds the prefix and
    /// xrfkey checks; `rfc6750` or `generic` reads only the Bearer challenge.
    #[arg(long, value_enum, default_value = "qseow")]
    pub(crate) profile: jwtprobe::jose::ProfileName,
    /// Accept any TLS certificate from the server (Qlik installs with a self-signed one).
    #[arg(long, short = 'k', conflicts_with = "ca")]
    pub(crate) insecure: bool,
    /// A PEM file of CA certificates to trust for the server.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<Utf8PathBuf>,
    /// The most requests sent, the first one included.
    #[arg(long, value_name = "N", default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub(crate) max_requests: u16,
    /// Time limit of one request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) timeout: Duration,
    /// The environment variable holding the password of a PFX key file.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_PASSWORD_ENV)]
    pub(crate) password_env: String,
    /// Print only the result (the most likely cause); the exchange and the variants are
    /// printed otherwise.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Also print every exchange, variants included: the request line and headers, and the
    /// response status with its `WWW-Authenticate` and other relevant headers (tokens and
    /// cookie values redacted).
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,
}

/// The URL's prefix (its first path segment, unless that is a keyword of the Qlik proxy, as
/// [`mock::is_qlik_keyword`] says) and the path below it. The emulator's own endpoints
/// (`/health`) are no keywords here: on a real server they may be a prefix.
fn split_prefix(url: &Url) -> (Option<String>, String) {
    let path = url.path();
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = match trimmed.find('/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, "/"),
    };
    if first.is_empty() || mock::is_qlik_keyword(first) {
        (None, path.to_owned())
    } else {
        (Some(first.to_owned()), rest.to_owned())
    }
}

/// Everything needed to build each variant's request.
struct Prober {
    client: Client,
    url: Url,
    signer: Signer,
    alg: Alg,
    names: ClaimNames,
    user: String,
    directory: String,
    aud: Option<String>,
    iss: Option<String>,
    kid: Option<String>,
    now: i64,
    base_exp: Option<i64>,
    /// The key kind of `--key`, for the random key of the same kind.
    kind: Option<KeyKind>,
}

impl Prober {
    fn claims(&self, names: &[&ClaimNames], exp: Option<i64>) -> Map<String, Value> {
        let mut claims = Map::new();
        for n in names {
            claims.insert(n.user.clone(), json!(self.user));
            claims.insert(n.directory.clone(), json!(self.directory));
        }
        if let Some(aud) = &self.aud {
            claims.insert("aud".to_owned(), json!(aud));
        }
        if let Some(iss) = &self.iss {
            claims.insert("iss".to_owned(), json!(iss));
        }
        claims.insert("iat".to_owned(), json!(self.now - 10));
        if let Some(exp) = exp {
            claims.insert("exp".to_owned(), json!(exp));
        }
        claims
    }

    /// The token a variant sends, or `None` for no token.
    fn token_for(&self, variant: &Variant) -> Result<Option<String>, CliError> {
        let base = [&self.names];
        let mut alg = self.alg;
        let mut kid = self.kid.clone();
        let (claims, signer) = match variant {
            Variant::NoToken => return Ok(None),
            Variant::Base | Variant::WithoutPrefix | Variant::Xrfkey => {
                (self.claims(&base, self.base_exp), None)
            }
            Variant::Rs256 => {
                alg = Alg::RS256;
                (self.claims(&base, self.base_exp), None)
            }
            Variant::NoKid => {
                kid = None;
                (self.claims(&base, self.base_exp), None)
            }
            Variant::AllCasings => {
                let others = diagnosis::casings(&self.names);
                let all: Vec<&ClaimNames> = base.into_iter().chain(others.iter()).collect();
                (self.claims(&all, self.base_exp), None)
            }
            Variant::Casing(names) => (self.claims(&[names], self.base_exp), None),
            Variant::NoExp => (self.claims(&base, None), None),
            Variant::ExpInOneHour => (self.claims(&base, Some(self.now + 3600)), None),
            Variant::OtherKey => (
                self.claims(&base, self.base_exp),
                Some(self.random_signer()?),
            ),
        };
        let signer = signer.as_ref().unwrap_or(&self.signer);
        let header = kid
            .map(|k| vec![("kid".to_owned(), Value::String(k))])
            .unwrap_or_default();
        let token = minter(alg, signer, header)?.mint(&claims).map_err(|e| {
            CliError::runtime(anyhow::Error::new(e).context("failed to mint the token"))
        })?;
        Ok(Some(token.into_exposed()))
    }

    /// A signer the proxy cannot know: a fresh key of `--key`'s kind, or a random secret.
    fn random_signer(&self) -> Result<Signer, CliError> {
        match self.kind {
            Some(kind) => {
                let (private, _) =
                    keys::generate(kind, "jwtprobe-random", 1).map_err(CliError::runtime)?;
                Ok(Signer::Key(private))
            }
            None => {
                let mut secret = vec![0u8; 32];
                rand::fill(&mut secret[..]);
                Ok(Signer::Hmac(secret))
            }
        }
    }

    fn request_for(&self, variant: &Variant, token: Option<&str>) -> Result<Request, CliError> {
        let mut url = self.url.clone();
        let mut headers = HeaderMap::new();
        match variant {
            Variant::WithoutPrefix => {
                let (_, rest) = split_prefix(&self.url);
                url.set_path(&rest);
            }
            Variant::Xrfkey => {
                let key: String = rand::rng()
                    .sample_iter(&rand::distr::Alphanumeric)
                    .take(16)
                    .map(char::from)
                    .collect();
                url.query_pairs_mut().append_pair("xrfkey", &key);
                if let Ok(v) = HeaderValue::from_str(&key) {
                    headers.insert("x-qlik-xrfkey", v);
                }
            }
            _ => {}
        }
        if let Some(token) = token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| {
                CliError::runtime(anyhow::Error::new(e).context("the token is not a header value"))
            })?;
            headers.insert(header::AUTHORIZATION, value);
        }
        Ok(Request {
            method: Method::GET,
            url,
            headers,
            body: None,
            follow_redirects: false,
            timeout: None,
        })
    }
}

/// What the diagnosis needs from an exchange.
fn answer_of(exchange: &Exchange) -> Answer {
    let text = |name: &str| {
        exchange
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let cap = exchange.body.len().min(4096);
    Answer {
        status: exchange.status,
        location: text("location"),
        body: String::from_utf8_lossy(&exchange.body[..cap]).into_owned(),
        sets_cookie: exchange.headers.contains_key(header::SET_COOKIE),
        reason: text(jwtprobe::mock::REASON_HEADER),
        challenge: {
            let all: Vec<String> = exchange
                .headers
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            (!all.is_empty()).then(|| all.join(", "))
        },
    }
}

/// Headers worth showing a Qlik administrator; cookie and CSRF values are redacted.
const SHOWN_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "set-cookie",
    "www-authenticate",
    "qlik-csrf-token",
    jwtprobe::mock::REASON_HEADER,
];

/// The body as one short line of text: tags dropped, spaces collapsed, at most 160 characters.
fn body_excerpt(body: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(160).collect();
        format!("{cut}…")
    } else {
        line
    }
}

fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The full report for the base exchange.
fn describe_base(exchange: &Exchange, token: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "GET {} -> {} {} ({} ms)",
        exchange.request.url,
        exchange.status,
        reason_phrase(exchange.status),
        exchange.elapsed.as_millis()
    );
    let _ = writeln!(out, "  token: {}", token::redact(token));
    for (name, shown) in shown_headers(&exchange.headers) {
        let _ = writeln!(out, "  {name}: {shown}");
    }
    let excerpt = body_excerpt(&String::from_utf8_lossy(&exchange.body));
    if !excerpt.is_empty() {
        let _ = writeln!(out, "  body: {excerpt}");
    }
    out
}

/// The [`SHOWN_HEADERS`] of a response, in that order, with cookie and CSRF values redacted.
fn shown_headers(headers: &HeaderMap) -> Vec<(&'static str, String)> {
    let mut shown = Vec::new();
    for name in SHOWN_HEADERS {
        for value in headers.get_all(*name) {
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = match *name {
                "set-cookie" => jwtprobe::runner::redact_cookies(&value),
                "qlik-csrf-token" => token::redact_secret(&value),
                _ => value.into_owned(),
            };
            shown.push((*name, value));
        }
    }
    shown
}

/// One exchange in full for `-v`: the request line and headers (`>`), then the response status
/// and its [`SHOWN_HEADERS`] (`<`), or why no response came. `token` (the one sent, if any) and
/// every cookie or credential value are redacted.
fn describe_exchange(
    request: &Request,
    token: Option<&str>,
    outcome: &Result<Exchange, jwtprobe::client::SendError>,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "    > {} {}",
        request.method,
        token::redact_in_text(request.url.as_str())
    );
    for (name, value) in &request.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        let shown =
            token::redact_in_text(&token::redact::redact_header(name.as_str(), &value, token));
        let _ = writeln!(out, "    > {name}: {shown}");
    }
    match outcome {
        Ok(exchange) => {
            let _ = writeln!(
                out,
                "    < {} {} ({} ms)",
                exchange.status,
                reason_phrase(exchange.status),
                exchange.elapsed.as_millis()
            );
            for (name, value) in shown_headers(&exchange.headers) {
                let _ = writeln!(out, "    < {name}: {}", token::redact_in_text(&value));
            }
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "    < no response: {}",
                jwtprobe::runner::error_text(e)
            );
        }
    }
    out
}

/// One line per variant: what it was and what came back.
fn describe_variant(observation: &Observation) -> String {
    let what = match &observation.variant {
        Variant::WithoutPrefix => "the URL without its prefix".to_owned(),
        other => other.to_string(),
    };
    let got = match &observation.outcome {
        Ok(a) => {
            let mut s = format!("{} {}", a.status, reason_phrase(a.status));
            if let Some(location) = &a.location {
                s.push_str(&format!(" -> {location}"));
            }
            if a.sets_cookie {
                s.push_str(" (session cookie set)");
            }
            if let Some(error) = a.bearer_param("error") {
                s.push_str(&format!(" (Bearer error={error}"));
                if let Some(d) = a.bearer_param("error_description") {
                    s.push_str(&format!(": {d}"));
                }
                s.push(')');
            }
            if let Some(reason) = &a.reason {
                s.push_str(&format!(" [emulator: {reason}]"));
            }
            s
        }
        Err(e) => format!("failed: {e}"),
    };
    format!("  {what:<44} {got}")
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
    if args.user.trim().is_empty() || args.directory.trim().is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "`--user` and `--directory` must not be empty"
        )));
    }
    if !matches!(args.url.scheme(), "http" | "https") {
        return Err(CliError::usage(anyhow::anyhow!(
            "unsupported URL `{}`: expected http:// or https://",
            args.url
        )));
    }
    let now = chrono::Utc::now().timestamp();
    let base_exp = resolve_time("--exp", &args.exp, now)?;
    let (signer, alg) = signer_for(&args.key, args.alg.as_deref(), &args.password_env)?;
    let kind = match &signer {
        Signer::Key(k) => Some(k.kind()),
        _ => None,
    };
    let mut notes = Vec::new();
    let cert = match &args.cert {
        Some(path) => {
            let bundle = read_key(path, &args.password_env)?;
            let public = bundle
                .certificate
                .as_ref()
                .map(|c| c.public_key().clone())
                .or(bundle.public);
            let matches = match (&signer, &bundle.certificate, public) {
                (Signer::Key(k), Some(c), _) => key_matches(k, c),
                (Signer::Key(k), None, Some(p)) => k.public_key().spki_der() == p.spki_der(),
                _ => true,
            };
            notes.push(if matches {
                format!("`{path}` holds the public key of `{}`", args.key)
            } else {
                format!(
                    "`{path}` does NOT hold the public key of `{}`: the proxy cannot verify \
                     these tokens with it",
                    args.key
                )
            });
            Some((path.to_string(), matches))
        }
        None => None,
    };
    let settings = ClientSettings {
        insecure: args.insecure,
        ca_file: args.ca.clone(),
        timeout: args.timeout,
        connect_timeout: args.timeout.min(Duration::from_secs(5)),
        // Each variant must be judged on its own token, never on a session from an earlier one.
        cookies: false,
        ..ClientSettings::default()
    };
    let client = Client::new(&settings).map_err(CliError::runtime)?;
    let names = ClaimNames {
        user: args.user_claim.clone(),
        directory: args.directory_claim.clone(),
    };
    let qlik = args.profile.is_qlik();
    let (prefix, rest) = split_prefix(&args.url);
    let rest_lower = rest.to_ascii_lowercase();
    let facts = Facts {
        prefix,
        host: args.url.host_str().unwrap_or_default().to_owned(),
        rest_api: rest_lower.starts_with("/qrs/") || rest_lower.starts_with("/qps/"),
        names: names.clone(),
        base_exp_s: base_exp.map(|e| e - now),
        key: args.key.to_string(),
        cert,
        alg: alg.name().to_owned(),
        rsa: kind.is_some_and(|k| k.algorithms().contains(&Alg::RS256)),
        kid: args.kid.clone(),
        qlik,
    };
    let prober = Prober {
        client,
        url: args.url.clone(),
        signer,
        alg,
        names,
        user: args.user.clone(),
        directory: args.directory.clone(),
        aud: args.aud.clone(),
        iss: args.iss.clone(),
        kid: args.kid.clone(),
        now,
        base_exp,
        kind,
    };
    let rt = runtime()?;
    rt.block_on(probe(
        &prober,
        &facts,
        usize::from(args.max_requests),
        &notes,
        args.quiet,
        args.verbose,
    ))
}

#[expect(
    clippy::print_stdout,
    reason = "the exchange and the diagnosis are this command's data"
)]
async fn probe(
    prober: &Prober,
    facts: &Facts,
    max: usize,
    notes: &[String],
    quiet: bool,
    verbose: bool,
) -> CmdResult {
    // With `-q` only the result line is printed; everything else is the same.
    macro_rules! say {
        ($($arg:tt)*) => { if !quiet { println!($($arg)*); } };
    }
    for note in notes {
        say!("note: {note}");
    }
    let mut observed: Vec<Observation> = Vec::new();
    while observed.len() < max {
        let Some(variant) = diagnosis::next_variant(facts, &observed) else {
            break;
        };
        let token = prober.token_for(&variant)?;
        let request = prober.request_for(&variant, token.as_deref())?;
        // `-v` shows the request as sent, so it is kept before the client takes it.
        let sent = verbose.then(|| request.clone());
        let outcome = prober.client.send(request).await;
        let full = sent.map(|r| describe_exchange(&r, token.as_deref(), &outcome));
        if variant == Variant::Base {
            if let (Err(_), Some(full)) = (&outcome, &full) {
                print!("{full}");
            }
            let exchange = outcome.map_err(|e| {
                let hint = matches!(e, jwtprobe::client::SendError::Tls { .. })
                    .then_some("use --insecure for a self-signed certificate, or --ca FILE");
                let err = CliError::runtime(e);
                match hint {
                    Some(h) => err.with_hint(h),
                    None => err,
                }
            })?;
            let mut summary = format!(
                "  claims: {}={}, {}={}",
                prober.names.user, prober.user, prober.names.directory, prober.directory
            );
            match facts.base_exp_s {
                Some(s) if s > 0 => summary.push_str(&format!(", exp in {}", human_span(s))),
                Some(s) => summary.push_str(&format!(", expired {} ago", human_span(s))),
                None => summary.push_str(", no exp"),
            }
            if let Some(kid) = &prober.kid {
                summary.push_str(&format!(", kid {kid}"));
            }
            if !quiet {
                print!(
                    "{}",
                    describe_base(&exchange, token.as_deref().unwrap_or(""))
                );
            }
            say!("{summary}");
            if let Some(full) = &full {
                print!("{full}");
            }
            observed.push(Observation {
                variant,
                outcome: Ok(answer_of(&exchange)),
            });
            if observed.len() == 1 && diagnosis::next_variant(facts, &observed).is_some() {
                say!("diagnosis (variant requests):");
            }
        } else {
            let outcome = outcome
                .map(|e| answer_of(&e))
                .map_err(|e| jwtprobe::runner::error_text(&e));
            let observation = Observation { variant, outcome };
            say!("{}", describe_variant(&observation));
            if let Some(full) = &full {
                print!("{full}");
            }
            observed.push(observation);
        }
    }
    let cause = diagnosis::diagnose(facts, &observed);
    let sent = observed.len();
    let noun = if sent == 1 { "request" } else { "requests" };
    let sentence = cause.sentence(facts.qlik);
    if cause.is_accepted() {
        println!("result: {sentence}");
    } else {
        println!("most likely cause: {sentence}");
    }
    say!("sent {sent} {noun} (limit {max})");
    Ok(match cause {
        Cause::Accepted => Exit::Success,
        _ => Exit::CheckFailed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_the_first_segment_unless_it_is_a_keyword() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            split_prefix(&url("https://h/jwt/hub/")),
            (Some("jwt".to_owned()), "/hub/".to_owned())
        );
        assert_eq!(
            split_prefix(&url("https://h/hub/")),
            (None, "/hub/".to_owned())
        );
        assert_eq!(
            split_prefix(&url("https://h/jwt")),
            (Some("jwt".to_owned()), "/".to_owned())
        );
        assert_eq!(split_prefix(&url("https://h/")), (None, "/".to_owned()));
        assert_eq!(
            split_prefix(&url("https://h/QRS/about")),
            (None, "/QRS/about".to_owned())
        );
    }

    #[test]
    fn qlik_cloud_login_has_no_prefix_and_health_may_be_one() {
        let cases = [
            (
                "https://tenant.eu.qlikcloud.com/login/jwt-session",
                None,
                "/login/jwt-session",
            ),
            ("https://h/health/hub/", Some("health"), "/hub/"),
        ];
        for (text, prefix, rest) in cases {
            let (p, r) = split_prefix(&Url::parse(text).unwrap());
            assert_eq!((p.as_deref(), r.as_str()), (prefix, rest), "{text}");
        }
    }

    #[test]
    fn body_excerpt_drops_tags_and_keeps_the_message() {
        assert_eq!(
            body_excerpt(
                "<html><h1>400 - Bad Request</h1><p>The http request header is incorrect.</p></html>"
            ),
            "400 - Bad Request The http request header is incorrect."
        );
        assert!(body_excerpt(&"x".repeat(500)).ends_with('…'));
    }
}
