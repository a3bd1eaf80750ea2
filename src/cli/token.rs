//! `jwtprobe token`: mint a token, and inspect one the way the proxy would judge it.
//!
//! `token mint` prints the full token: that is the explicit request to see it, so it is the one
//! command that shows a token in full. `token inspect` decodes a token, checks its signature
//! with a certificate, and lists every reason a profile (the QSEoW virtual proxy, the Qlik
//! Cloud tenant, or a generic proxy) would refuse it, through [`token::inspect`]. It never
//! echoes the signature: the token is shown through [`token::redact`].

use std::io::Read as _;
use std::time::Duration;

use camino::Utf8PathBuf;
use serde_json::{Map, Value, json};

use super::keyfile::{DEFAULT_PASSWORD_ENV, read_key};
use super::{CliError, CmdResult, Exit};
use jwtprobe::jose::{Alg, Encoding, ProfileName};
use jwtprobe::keys::KeyKind;
use jwtprobe::token::{
    self, Inspection, Minter, Part, Rejection, SignatureStatus, Signer, VerifyKey, VerifyPolicy,
};
use jwtprobe::token::{human_span, rfc3339};

/// The `token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Mint a signed token and print it (in full: that is what this command is for).
    Mint(MintArgs),
    /// Decode a token, check its signature and list every reason the proxy would refuse it.
    Inspect(InspectArgs),
}

/// Arguments of `token mint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
jwtprobe token mint --key keys/QlikClient.key.pem --claim UserId=alice \
--claim UserDirectory=CORP --claim 'groups:=[\"sales\",\"eu\"]' --exp +1h\n\n\
The full token goes to stdout (this command exists to show it; keep it out of logs). \
Claims: `name=value` gives a string, `name:=<json>` any JSON value (numbers, arrays, objects). \
Times: `+1h`, `-5m`, `30s`, an RFC 3339 date, or seconds since the epoch.")]
pub(crate) struct MintArgs {
    /// The signing key: PEM, DER, PFX (password from `--password-env`) or JWK (a `kty: oct`
    /// JWK for HS256/384/512).
    #[arg(long, value_name = "FILE")]
    pub(crate) key: Utf8PathBuf,
    /// The algorithm. Default: RS256 for an RSA key, ES256/ES384 for EC keys, EdDSA for
    /// Ed25519, HS256 for a secret.
    #[arg(long, value_name = "ALG")]
    pub(crate) alg: Option<String>,
    /// A claim: `name=value` (a string) or `name:=<json>` (any JSON). Repeatable.
    #[arg(long = "claim", short = 'c', value_name = "NAME=VALUE")]
    pub(crate) claims: Vec<String>,
    /// Expiry (`exp`): `+1h`, `-5m`, an RFC 3339 date or seconds since the epoch. Without it
    /// the token has no `exp` (the Qlik virtual proxy accepts that).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub(crate) exp: Option<String>,
    /// Not before (`nbf`), in the same forms as `--exp`.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub(crate) nbf: Option<String>,
    /// Add `iat` (issued at): now.
    #[arg(long)]
    pub(crate) iat: bool,
    /// The `kid` header.
    #[arg(long, value_name = "KID")]
    pub(crate) kid: Option<String>,
    /// An extra header field: `name=value` or `name:=<json>`. Repeatable.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub(crate) headers: Vec<String>,
    /// The audience (`aud`); repeat it for an array.
    #[arg(long, value_name = "AUD")]
    pub(crate) aud: Vec<String>,
    /// The environment variable holding the password of a PFX key file.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_PASSWORD_ENV)]
    pub(crate) password_env: String,
}

/// Who is "expected" to read the claims, in messages.
fn judge_word(profile: ProfileName) -> &'static str {
    match profile {
        ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024 => {
            "the virtual proxy"
        }
        ProfileName::QlikCloud => "the tenant",
        ProfileName::Generic | ProfileName::Rfc6750 => "the proxy",
    }
}

/// Arguments of `token inspect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
jwtprobe token inspect eyJhbGciOi… --cert keys/QlikClient.cert.pem\n  \
pbpaste | jwtprobe token inspect - --cert cert.pem --user-claim userid --directory-claim userdirectory\n\n\
Exit codes: 0 the proxy would accept the token, 1 bad command line, 3 unreadable certificate \
or input, 4 the proxy would refuse it (every reason is listed). The signature is never shown.")]
pub(crate) struct InspectArgs {
    /// The token, or `-` to read it from stdin. A leading `Bearer ` is ignored.
    #[arg(value_name = "TOKEN|-")]
    pub(crate) token: String,
    /// The certificate (or public key, or JWK) the proxy trusts; without it the signature is
    /// not checked.
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: Option<Utf8PathBuf>,
    /// The proxy the token is judged for.
    #[arg(long, value_enum, default_value = "qseow")]
    pub(crate) profile: ProfileName,
    /// The claim holding the user id (default `UserId` on qseow).
    #[arg(long, value_name = "NAME")]
    pub(crate) user_claim: Option<String>,
    /// The claim holding the user directory (default `UserDirectory` on qseow).
    #[arg(long, value_name = "NAME")]
    pub(crate) directory_claim: Option<String>,
    /// The audience `aud` must contain (default `qlik.api/login/jwt-session` on qlik-cloud).
    // `--audience` is the old spelling, kept as a hidden alias.
    #[arg(long = "aud", alias = "audience", value_name = "AUD")]
    pub(crate) audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub(crate) leeway: Duration,
    /// The algorithms the proxy accepts (`RS256,ES256`), instead of the profile's.
    #[arg(long, value_name = "ALG,…", value_delimiter = ',')]
    pub(crate) algorithms: Vec<String>,
    /// Print a JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// The environment variable holding the password of a PFX given as `--cert`.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_PASSWORD_ENV)]
    pub(crate) password_env: String,
}

/// Runs a subcommand.
pub(crate) fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Mint(args) => mint(&args),
        Command::Inspect(args) => inspect(&args),
    }
}

// ---------------------------------------------------------------------------------------------
// Times

/// What a time claim means now: "expired 5 minutes ago", "valid for 55 minutes", ….
fn time_meaning(name: &str, t: i64, now: i64) -> String {
    match name {
        "exp" if t <= now => format!("expired {} ago", human_span(now - t)),
        "exp" => format!("valid for {}", human_span(t - now)),
        "nbf" if t > now => format!("not valid for another {}", human_span(t - now)),
        "nbf" => format!("valid since {} ago", human_span(now - t)),
        "iat" if t > now => format!("issued {} in the future", human_span(t - now)),
        _ => format!("issued {} ago", human_span(now - t)),
    }
}

const TIME_CLAIMS: [&str; 3] = ["exp", "nbf", "iat"];

// ---------------------------------------------------------------------------------------------
// Mint

/// Parses `name=value` (a string) or `name:=<json>` (any JSON value).
pub(crate) fn parse_assignment(text: &str) -> Result<(String, Value), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!(
            "expected `name=value` or `name:=<json>`, found `{text}`"
        ));
    };
    if let Some(name) = name.strip_suffix(':') {
        if name.is_empty() {
            return Err(format!("missing name before `:=` in `{text}`"));
        }
        let value = serde_json::from_str(value)
            .map_err(|e| format!("invalid JSON after `{name}:=`: {e}"))?;
        return Ok((name.to_owned(), value));
    }
    if name.is_empty() {
        return Err(format!("missing name before `=` in `{text}`"));
    }
    Ok((name.to_owned(), Value::String(value.to_owned())))
}

/// Resolves a time option (`+1h`, RFC 3339, a number) against `now`.
pub(crate) fn resolve_time(flag: &str, text: &str, now: i64) -> Result<Option<i64>, CliError> {
    jwtprobe::scenario::time::resolve(&Value::String(text.to_owned()), now)
        .map_err(|e| CliError::usage(anyhow::Error::new(e).context(format!("invalid `{flag}`"))))
}

/// The algorithm a key signs with when `--alg` is not given.
pub(crate) fn natural_alg(kind: Option<KeyKind>) -> Alg {
    kind.map_or(Alg::HS256, KeyKind::default_alg)
}

/// Parses `--alg`.
pub(crate) fn parse_alg(text: &str) -> Result<Alg, CliError> {
    text.parse::<Alg>().map_err(CliError::usage)
}

/// Reads a key file and returns the signer and algorithm for it.
pub(crate) fn signer_for(
    key: &camino::Utf8Path,
    alg: Option<&str>,
    password_env: &str,
) -> Result<(Signer, Alg), CliError> {
    let bundle = read_key(key, password_env)?;
    let alg = match alg {
        Some(a) => parse_alg(a)?,
        // A certificate or public key alone gets the RSA default, and then the error that
        // it cannot sign.
        None if bundle.private.is_none() && bundle.secret.is_none() => Alg::RS256,
        None => natural_alg(
            bundle
                .private
                .as_ref()
                .map(jwtprobe::keys::PrivateKey::kind),
        ),
    };
    let signer = if alg.is_hmac() {
        match &bundle.secret {
            Some(secret) => Signer::Hmac(secret.expose().to_vec()),
            None => {
                return Err(CliError::usage(anyhow::anyhow!(
                    "`{alg}` needs an HMAC secret, but `{key}` holds none"
                ))
                .with_hint("give a JWK with `kty: oct`, or use RS256 with a private key"));
            }
        }
    } else if alg == Alg::None {
        Signer::Unsigned
    } else {
        match bundle.private {
            Some(private) => Signer::Key(private),
            None => {
                return Err(CliError::runtime(anyhow::anyhow!(
                    "`{key}` holds no private key: a certificate or public key cannot sign"
                ))
                .with_hint("give the private key (`jwtprobe keys import` writes one from a PFX)"));
            }
        }
    };
    Ok((signer, alg))
}

/// Builds a minter for `alg` with extra header fields (after `alg` and `typ`).
pub(crate) fn minter(
    alg: Alg,
    signer: &Signer,
    extra_header: Vec<(String, Value)>,
) -> Result<Minter, CliError> {
    let mut header = token::standard_header(alg);
    for (k, v) in extra_header {
        header.insert(k, v);
    }
    Minter::with_header(&Part::Json(header), alg, signer, Encoding::Base64Url)
        .map_err(|e| CliError::usage(anyhow::Error::new(e).context("failed to mint the token")))
}

fn mint(args: &MintArgs) -> CmdResult {
    let now = chrono::Utc::now().timestamp();
    let mut claims = Map::new();
    for text in &args.claims {
        let (k, v) = parse_assignment(text)
            .map_err(|e| CliError::usage(anyhow::anyhow!("invalid `--claim`: {e}")))?;
        claims.insert(k, v);
    }
    match args.aud.as_slice() {
        [] => {}
        [one] => {
            claims.insert("aud".to_owned(), Value::String(one.clone()));
        }
        many => {
            claims.insert("aud".to_owned(), json!(many));
        }
    }
    if args.iat {
        claims.insert("iat".to_owned(), json!(now));
    }
    for (flag, name, text) in [("--nbf", "nbf", &args.nbf), ("--exp", "exp", &args.exp)] {
        if let Some(text) = text {
            match resolve_time(flag, text, now)? {
                Some(t) => claims.insert(name.to_owned(), json!(t)),
                None => claims.remove(name),
            };
        }
    }
    let mut extra = Vec::new();
    if let Some(kid) = &args.kid {
        extra.push(("kid".to_owned(), Value::String(kid.clone())));
    }
    for text in &args.headers {
        extra.push(
            parse_assignment(text)
                .map_err(|e| CliError::usage(anyhow::anyhow!("invalid `--header`: {e}")))?,
        );
    }
    let (signer, alg) = signer_for(&args.key, args.alg.as_deref(), &args.password_env)?;
    let token = minter(alg, &signer, extra)?.mint(&claims).map_err(|e| {
        CliError::runtime(anyhow::Error::new(e).context("failed to mint the token"))
    })?;
    print_token(token.expose());
    Ok(Exit::Success)
}

#[expect(
    clippy::print_stdout,
    reason = "printing the token is what `token mint` is for"
)]
fn print_token(token: &str) {
    println!("{token}");
}

// ---------------------------------------------------------------------------------------------
// Inspect

/// What the profile and flags resolve to.
struct Judge {
    profile: ProfileName,
    policy: VerifyPolicy,
    /// Whether the policy's key is real (else the signature is not checked).
    has_key: bool,
}

fn judge(args: &InspectArgs) -> Result<Judge, CliError> {
    let (key, has_key) = match &args.cert {
        Some(path) => {
            let bundle = read_key(path, &args.password_env)?;
            let key = match (bundle.public, bundle.secret) {
                (Some(public), _) => VerifyKey::Public(public),
                (None, Some(secret)) => VerifyKey::Hmac(secret.expose().into()),
                (None, None) => {
                    return Err(CliError::runtime(anyhow::anyhow!(
                        "`{path}` holds no certificate, public key or secret to verify with"
                    )));
                }
            };
            (key, true)
        }
        // A placeholder: without a key the signature is not judged (see `inspect`).
        None => (VerifyKey::Hmac(Vec::new().into()), false),
    };
    let rs = vec![Alg::RS256, Alg::RS384, Alg::RS512];
    let (algs, user, directory, audience) = match args.profile {
        ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024 => (
            rs,
            Some("UserId".to_owned()),
            Some("UserDirectory".to_owned()),
            None,
        ),
        ProfileName::QlikCloud => (
            rs,
            None,
            None,
            Some("qlik.api/login/jwt-session".to_owned()),
        ),
        ProfileName::Generic => (
            Alg::ALL.into_iter().filter(|a| *a != Alg::None).collect(),
            None,
            None,
            None,
        ),
        ProfileName::Rfc6750 => (vec![Alg::RS256], None, None, None),
    };
    let algs = if args.algorithms.is_empty() {
        algs
    } else {
        args.algorithms
            .iter()
            .map(|a| {
                Alg::from_name(a).ok_or_else(|| {
                    CliError::usage(anyhow::anyhow!(
                        "unknown algorithm `{a}` in `--algorithms` (RS256, ES256, …)"
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let leeway_s = i64::try_from(args.leeway.as_secs()).unwrap_or(i64::MAX);
    Ok(Judge {
        profile: args.profile,
        policy: VerifyPolicy {
            algs,
            key,
            user_claim: args.user_claim.clone().or(user),
            directory_claim: args.directory_claim.clone().or(directory),
            audience: args.audience.clone().or(audience),
            leeway_s,
        },
        has_key,
    })
}

/// Reads the token argument (or stdin for `-`), trimmed, without a `Bearer ` prefix.
fn read_token(arg: &str) -> Result<String, CliError> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| {
            CliError::runtime(anyhow::Error::new(e).context("failed to read the token from stdin"))
        })?;
        s
    } else {
        arg.to_owned()
    };
    let trimmed = text.trim();
    let token = match trimmed.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => trimmed,
    };
    if token.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!("the token is empty")));
    }
    Ok(token.to_owned())
}

/// Checks Qlik Cloud's own rules that `token::inspect` does not know.
fn qlik_cloud_rejections(inspection: &Inspection) -> Vec<Rejection> {
    let mut out = Vec::new();
    if let Some(header) = &inspection.header
        && !header.contains_key("kid")
    {
        out.push(Rejection::InvalidIdentity(
            "the header has no `kid`; the tenant needs the key ID of its identity provider"
                .to_owned(),
        ));
    }
    let Some(claims) = &inspection.claims else {
        return out;
    };
    // `aud` is checked by the policy's audience, which names the expected value.
    for name in jwtprobe::mock::CLOUD_REQUIRED_CLAIMS
        .into_iter()
        .filter(|c| *c != "aud")
    {
        if !claims.contains_key(name) {
            out.push(Rejection::MissingClaim {
                name: name.to_owned(),
                near_miss: claims
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(name))
                    .cloned(),
            });
        }
    }
    if let (Some(exp), Some(nbf)) = (
        claims.get("exp").and_then(Value::as_i64),
        claims.get("nbf").and_then(Value::as_i64),
    ) && exp - nbf > 3600
    {
        out.push(Rejection::InvalidIdentity(format!(
            "`exp` is {} after `nbf`; the tenant allows at most 1 hour",
            human_span(exp - nbf)
        )));
    }
    out
}

/// Runs the checks of a profile over a token at `now`.
fn examine(token: &str, judge: &Judge, now: i64) -> Inspection {
    let checks = token::Checks {
        exp_required: judge.profile == ProfileName::Rfc6750,
        ..token::Checks::STRICT
    };
    let mut inspection = token::inspect_with(token, Some(&judge.policy), &checks, now);
    if !judge.has_key {
        inspection.signature = SignatureStatus::NoKey;
        inspection
            .rejections
            .retain(|r| !matches!(r, Rejection::BadSignature));
    }
    if judge.profile == ProfileName::QlikCloud {
        inspection
            .rejections
            .extend(qlik_cloud_rejections(&inspection));
    }
    inspection
}

/// A rejection as a Qlik administrator reads it; near misses name both spellings.
fn rejection_text(r: &Rejection, profile: ProfileName) -> String {
    match r {
        Rejection::MissingClaim {
            name,
            near_miss: Some(near),
        } => format!(
            "claim `{near}` found; {} expects `{name}` (claim names are case-sensitive)",
            judge_word(profile)
        ),
        other => other.to_string(),
    }
}

fn signature_text(inspection: &Inspection, cert: Option<&Utf8PathBuf>) -> String {
    match (&inspection.signature, cert) {
        (SignatureStatus::Verified, Some(c)) => format!("signature verified with `{c}`"),
        (SignatureStatus::Invalid, Some(c)) => {
            format!("signature does NOT verify with `{c}`: signed with another key, or altered")
        }
        (SignatureStatus::NoKey, _) => {
            "signature not checked: give the proxy's certificate with --cert".to_owned()
        }
        (other, _) => format!("signature {other}"),
    }
}

fn signature_code(status: &SignatureStatus) -> &'static str {
    match status {
        SignatureStatus::Verified => "verified",
        SignatureStatus::Invalid => "invalid",
        SignatureStatus::Unsigned => "unsigned",
        SignatureStatus::NotChecked(_) => "not_checked",
        SignatureStatus::NoKey => "no_key",
    }
}

fn inspect(args: &InspectArgs) -> CmdResult {
    let judge = judge(args)?;
    let token = read_token(&args.token)?;
    let now = chrono::Utc::now().timestamp();
    let inspection = examine(&token, &judge, now);
    let report = if args.json {
        inspection_json(&token, &inspection, &judge, args.cert.as_ref(), now)
    } else {
        inspection_text(&token, &inspection, &judge, args.cert.as_ref(), now)
    };
    print_report(&report);
    Ok(if inspection.is_accepted() {
        Exit::Success
    } else {
        Exit::CheckFailed
    })
}

fn inspection_text(
    token: &str,
    inspection: &Inspection,
    judge: &Judge,
    cert: Option<&Utf8PathBuf>,
    now: i64,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "token      {}", token::redact(token));
    match &inspection.header {
        Some(h) => {
            let _ = writeln!(out, "header     {}", Value::Object(h.clone()));
        }
        None => out.push_str("header     (not decodable)\n"),
    }
    match &inspection.claims {
        Some(claims) => {
            out.push_str("claims\n");
            let width = claims.keys().map(String::len).max().unwrap_or(0);
            for (name, value) in claims {
                let mut line = format!("  {name:<width$}  {value}");
                if TIME_CLAIMS.contains(&name.as_str())
                    && let Some(t) = value.as_i64()
                {
                    let _ = write!(line, " = {} ({})", rfc3339(t), time_meaning(name, t, now));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
        None => out.push_str("claims     (not decodable)\n"),
    }
    let _ = writeln!(out, "{}", signature_text(inspection, cert));
    let algs: Vec<&str> = judge.policy.algs.iter().map(|a| a.name()).collect();
    let _ = writeln!(
        out,
        "algorithms {} accepts {}",
        judge_word(judge.profile),
        algs.join(", ")
    );
    if let Some(header) = &inspection.header {
        if let Some(kid) = header.get("kid") {
            let _ = writeln!(
                out,
                "kid        {kid}: the proxy must know a key by this id, or ignore it"
            );
        }
        if let Some(crit) = header.get("crit") {
            let _ = writeln!(
                out,
                "crit       {crit}: a verifier must refuse the token unless it understands each \
                 listed extension (RFC 7515 §4.1.11)"
            );
        }
    }
    let profile = judge.profile.name();
    if inspection.is_accepted() {
        let _ = writeln!(
            out,
            "verdict    accepted: profile {profile} finds nothing to refuse"
        );
    } else {
        let n = inspection.rejections.len();
        let noun = if n == 1 { "reason" } else { "reasons" };
        let _ = writeln!(
            out,
            "verdict    REJECTED under profile {profile}, {n} {noun}:"
        );
        for r in &inspection.rejections {
            let _ = writeln!(out, "  - {}", rejection_text(r, judge.profile));
        }
    }
    out
}

fn inspection_json(
    token: &str,
    inspection: &Inspection,
    judge: &Judge,
    cert: Option<&Utf8PathBuf>,
    now: i64,
) -> String {
    let mut times = Map::new();
    if let Some(claims) = &inspection.claims {
        for name in TIME_CLAIMS {
            if let Some(t) = claims.get(name).and_then(Value::as_i64) {
                times.insert(
                    name.to_owned(),
                    json!({"value": t, "date": rfc3339(t), "meaning": time_meaning(name, t, now)}),
                );
            }
        }
    }
    let rejections: Vec<Value> = inspection
        .rejections
        .iter()
        .map(|r| json!({"code": r.code(), "message": rejection_text(r, judge.profile)}))
        .collect();
    let value = json!({
        "token": token::redact(token),
        "profile": judge.profile.name(),
        "header": inspection.header,
        "claims": inspection.claims,
        "times": times,
        "signature": {
            "status": signature_code(&inspection.signature),
            "message": signature_text(inspection, cert),
        },
        "accepted": inspection.is_accepted(),
        "rejections": rejections,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

#[expect(
    clippy::print_stdout,
    reason = "the inspection report is this command's data"
)]
fn print_report(report: &str) {
    print!("{report}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_give_strings_or_json() {
        assert_eq!(
            parse_assignment("UserId=alice").unwrap(),
            ("UserId".to_owned(), json!("alice"))
        );
        assert_eq!(
            parse_assignment("n:=3").unwrap(),
            ("n".to_owned(), json!(3))
        );
        assert_eq!(
            parse_assignment("groups:=[\"a\",\"b\"]").unwrap(),
            ("groups".to_owned(), json!(["a", "b"]))
        );
        assert_eq!(
            parse_assignment("eq=a=b").unwrap(),
            ("eq".to_owned(), json!("a=b"))
        );
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=x").is_err());
        assert!(parse_assignment("bad:=[").is_err());
    }

    #[test]
    fn time_claims_read_as_relative_phrases() {
        assert_eq!(time_meaning("exp", 700, 1000), "expired 5 minutes ago");
        assert_eq!(
            time_meaning("exp", 1000 + 3300, 1000),
            "valid for 55 minutes"
        );
        assert_eq!(
            time_meaning("nbf", 1120, 1000),
            "not valid for another 2 minutes"
        );
        assert_eq!(jwtprobe::token::human_time(1000 + 7200, 1000), "in 2 hours");
    }

    #[test]
    fn near_miss_names_both_spellings() {
        let r = Rejection::MissingClaim {
            name: "UserId".to_owned(),
            near_miss: Some("userid".to_owned()),
        };
        assert_eq!(
            rejection_text(&r, ProfileName::Qseow),
            "claim `userid` found; the virtual proxy expects `UserId` (claim names are case-sensitive)"
        );
    }

    #[test]
    fn bearer_prefix_is_ignored() {
        assert_eq!(read_token("Bearer a.b.c").unwrap(), "a.b.c");
        assert_eq!(read_token("  a.b.c \n").unwrap(), "a.b.c");
        assert!(read_token("  ").is_err());
    }
}
