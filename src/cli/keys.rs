//! `jwtprobe keys`: import a PFX, generate a key and certificate, describe a key file.
//!
//! These replace the OpenSSL steps of the Qlik JWT setup guide. Output is written for a Qlik
//! administrator: the certificate's subject, validity and thumbprints (SHA-1 as Windows shows
//! it), and the files written. Private keys are only ever written to files (mode 0600), never
//! printed.

use camino::{Utf8Path, Utf8PathBuf};

use super::keyfile::{DEFAULT_PASSWORD_ENV, key_error, read_key};
use super::{CliError, CmdResult, Exit};
use jwtprobe::jose::Alg;
use jwtprobe::keys::{self, Certificate, KeyBundle, KeyKind, PrivateKey, PublicKey};
use jwtprobe::token::{human_time, rfc3339};

/// The `keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Turn a PFX/P12 exported from Windows into PEM files (key, certificate, public key).
    Import(ImportArgs),
    /// Generate a signing key and a self-signed certificate for the QMC "JWT certificate" field.
    Generate(GenerateArgs),
    /// Describe a key or certificate file (kind, size, thumbprints, validity), without secrets.
    Show(ShowArgs),
}

/// Arguments of `keys import`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
JWTPROBE_PFX_PASSWORD='…' jwtprobe keys import QlikClient.pfx --out keys/\n\n\
Writes keys/QlikClient.key.pem (private key, PKCS#8, mode 0600), keys/QlikClient.cert.pem \
(paste it into the QMC \"JWT certificate\" field) and keys/QlikClient.pub.pem. Reads PFX files \
as Windows exports them (AES-256 or 3DES) and legacy RC2-40 ones. Existing files are never \
overwritten.\n\nExit codes: 0 written, 1 bad command line, 3 unreadable file, wrong password or \
unwritable output.")]
pub(crate) struct ImportArgs {
    /// The PFX/P12 file.
    #[arg(value_name = "FILE.pfx")]
    pub(crate) file: Utf8PathBuf,
    /// The environment variable holding the PFX password. When it is not set, the empty
    /// password is tried.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_PASSWORD_ENV)]
    pub(crate) password_env: String,
    /// The folder to write the PEM files into (created when missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) out: Utf8PathBuf,
}

/// Arguments of `keys generate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
jwtprobe keys generate --cn qlik-jwt --days 730 --out keys/\n\n\
Writes keys/jwt-signing.key.pem (private key, mode 0600), keys/jwt-signing.cert.pem and \
keys/jwt-signing.pub.pem, and prints the certificate's thumbprint. Paste the certificate into \
the QMC: Virtual proxies → your JWT virtual proxy → Authentication → JWT certificate.")]
pub(crate) struct GenerateArgs {
    /// The algorithm the key will sign with: RS256, RS384, RS512 (RSA), ES256 (P-256),
    /// ES384 (P-384) or EdDSA (Ed25519). The Qlik virtual proxy accepts RS256/384/512 only.
    #[arg(long, value_name = "ALG", default_value = "RS256")]
    pub(crate) alg: String,
    /// RSA modulus size in bits: 2048, 3072 or 4096 (ignored for EC and Ed25519 keys).
    #[arg(long, value_name = "BITS", default_value_t = 2048)]
    pub(crate) bits: usize,
    /// The certificate's common name.
    #[arg(long, value_name = "NAME", default_value = "jwtprobe")]
    pub(crate) cn: String,
    /// How many days the certificate is valid, from today.
    #[arg(long, value_name = "N", default_value_t = 365)]
    pub(crate) days: u32,
    /// The file name stem: `<name>.key.pem`, `<name>.cert.pem`, `<name>.pub.pem`.
    #[arg(long, value_name = "NAME", default_value = "jwt-signing")]
    pub(crate) name: String,
    /// The folder to write the files into (created when missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Utf8PathBuf,
}

/// Arguments of `keys show`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
jwtprobe keys show keys/QlikClient.cert.pem\n\n\
Reads PEM (PKCS#1, PKCS#8, SEC1, SPKI, X.509), DER, PFX/P12 and JWK. Prints what the file \
holds; never the private key itself.")]
pub(crate) struct ShowArgs {
    /// The key or certificate file.
    #[arg(value_name = "FILE")]
    pub(crate) file: Utf8PathBuf,
    /// The environment variable holding the password of a PFX file.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_PASSWORD_ENV)]
    pub(crate) password_env: String,
}

/// Runs a subcommand.
pub(crate) fn run(cmd: Command) -> CmdResult {
    match cmd {
        Command::Import(args) => import(&args),
        Command::Generate(args) => generate(&args),
        Command::Show(args) => show(&args),
    }
}

fn import(args: &ImportArgs) -> CmdResult {
    let password = std::env::var(&args.password_env).ok();
    let bundle = keys::read_pfx(&args.file, password.as_deref())
        .map_err(|e| key_error(e, &args.password_env, password.is_some()))?;
    if bundle.private.is_none() {
        return Err(CliError::runtime(anyhow::anyhow!(
            "the PFX `{}` holds no private key",
            args.file
        ))
        .with_hint("export the certificate again with \"Yes, export the private key\""));
    }
    let written = write(&bundle, &args.out)?;
    print_report(&describe(&bundle, now()), &written, None);
    Ok(Exit::Success)
}

/// The key kind asked for with `--alg` and `--bits`.
fn kind_for(alg: &str, bits: usize) -> Result<KeyKind, CliError> {
    // `RSA` and `Ed25519` name the key rather than an algorithm; both are accepted too.
    let named = match alg.to_ascii_uppercase().as_str() {
        "RSA" => Some(Alg::RS256),
        "ED25519" => Some(Alg::EdDSA),
        _ => Alg::asymmetric().find(|a| a.name().eq_ignore_ascii_case(alg)),
    };
    let Some(kind) = named.and_then(|a| KeyKind::for_alg(a, bits)) else {
        return Err(CliError::usage(anyhow::anyhow!(
            "unknown algorithm `{alg}` (expected RS256, RS384, RS512, ES256, ES384 or EdDSA)"
        )));
    };
    if matches!(kind, KeyKind::Rsa { .. }) && !matches!(bits, 2048 | 3072 | 4096) {
        return Err(CliError::usage(anyhow::anyhow!(
            "unsupported RSA size `{bits}` (expected 2048, 3072 or 4096)"
        )));
    }
    Ok(kind)
}

fn generate(args: &GenerateArgs) -> CmdResult {
    let kind = kind_for(&args.alg, args.bits)?;
    if args.name.is_empty() || args.name.contains(['/', '\\']) {
        return Err(CliError::usage(anyhow::anyhow!(
            "invalid file name stem `{}`: expected a name without slashes",
            args.name
        )));
    }
    if args.days == 0 {
        return Err(CliError::usage(anyhow::anyhow!(
            "`--days` must be at least 1"
        )));
    }
    let (private, certificate) =
        keys::generate(kind, &args.cn, args.days).map_err(CliError::runtime)?;
    let bundle = KeyBundle {
        public: Some(private.public_key().clone()),
        private: Some(private),
        certificate: Some(certificate),
        secret: None,
        // `write_bundle` names the files after the source's stem.
        source: Utf8PathBuf::from(format!("{}.generated", args.name)),
    };
    let written = write(&bundle, &args.out)?;
    let qmc = written.certificate.as_ref().map(|cert| {
        format!(
            "paste the whole of `{cert}` (with its BEGIN/END lines) into the QMC: Virtual \
             proxies → your JWT virtual proxy → Authentication → JWT certificate"
        )
    });
    let mut lines = describe(&bundle, now());
    if let Some(first) = lines.first_mut() {
        first.1 = format!("generated now ({kind})");
    }
    print_report(&lines, &written, qmc.as_deref());
    Ok(Exit::Success)
}

fn show(args: &ShowArgs) -> CmdResult {
    let bundle = read_key(&args.file, &args.password_env)?;
    print_lines(&describe(&bundle, now()));
    Ok(Exit::Success)
}

fn write(bundle: &KeyBundle, out: &Utf8Path) -> Result<keys::WrittenFiles, CliError> {
    fs_err::create_dir_all(out).map_err(|e| {
        CliError::runtime(
            anyhow::Error::new(e).context(format!("failed to create the output folder `{out}`")),
        )
    })?;
    keys::write_bundle(bundle, out).map_err(|e| {
        let hint = e.hint();
        let err = CliError::runtime(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One `label  value` line of a description.
type Line = (&'static str, String);

/// Describes what a bundle holds, without secret material: one `(label, value)` per line.
pub(crate) fn describe(bundle: &KeyBundle, now: i64) -> Vec<Line> {
    let mut lines: Vec<Line> = vec![("file", bundle.source.to_string())];
    if let Some(private) = &bundle.private {
        lines.push((
            "private key",
            format!("{} (present; never printed)", private.kind()),
        ));
        lines.push(("algorithms", algorithms(private.kind())));
    }
    if let Some(public) = &bundle.public {
        lines.push(("public key", public.kind().to_string()));
        lines.push(("key sha-256", spki_fingerprint(public)));
        if bundle.private.is_none() {
            lines.push(("algorithms", algorithms(public.kind())));
        }
    }
    if let Some(secret) = &bundle.secret {
        lines.push((
            "hmac secret",
            format!(
                "{} (HS256, HS384, HS512)",
                jwtprobe::token::redact::redact_secret_bytes(secret.expose())
            ),
        ));
    }
    if let Some(cert) = &bundle.certificate {
        lines.extend(describe_certificate(cert, now));
        if let Some(private) = &bundle.private {
            lines.push((
                "key matches",
                if key_matches(private, cert) {
                    "yes: the certificate holds this private key's public key".to_owned()
                } else {
                    "NO: the certificate holds another public key".to_owned()
                },
            ));
        }
    }
    lines
}

/// Whether `cert` certifies the public half of `private`.
pub(crate) fn key_matches(private: &PrivateKey, cert: &Certificate) -> bool {
    private.public_key().spki_der() == cert.public_key().spki_der()
}

fn describe_certificate(cert: &Certificate, now: i64) -> Vec<Line> {
    let validity = if now < cert.not_before() {
        format!(
            "not valid yet: starts {}",
            human_time(cert.not_before(), now)
        )
    } else if now > cert.not_after() {
        format!("EXPIRED {}", human_time(cert.not_after(), now))
    } else {
        format!("valid, expires {}", human_time(cert.not_after(), now))
    };
    vec![
        ("certificate", cert.subject().to_owned()),
        ("issuer", cert.issuer().to_owned()),
        (
            "valid",
            format!(
                "{} to {} ({validity})",
                rfc3339(cert.not_before()),
                rfc3339(cert.not_after())
            ),
        ),
        (
            "thumbprint",
            format!("{} (SHA-1, as Windows shows it)", cert.sha1_thumbprint()),
        ),
        ("sha-256", cert.sha256_thumbprint()),
    ]
}

fn algorithms(kind: KeyKind) -> String {
    kind.algorithms()
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// SHA-256 of the SubjectPublicKeyInfo, upper-case hex: equal for a key and its certificate.
fn spki_fingerprint(public: &PublicKey) -> String {
    use std::fmt::Write as _;
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public.spki_der())
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}

#[expect(
    clippy::print_stdout,
    reason = "the description is this command's data"
)]
fn print_lines(lines: &[Line]) {
    for (label, value) in lines {
        println!("{label:<12} {value}");
    }
}

#[expect(
    clippy::print_stdout,
    reason = "the certificate description and the paths written are this command's data"
)]
fn print_report(lines: &[Line], written: &keys::WrittenFiles, hint: Option<&str>) {
    print_lines(lines);
    let files = [
        (written.private.as_ref(), "private key, PKCS#8, mode 0600"),
        (
            written.certificate.as_ref(),
            "certificate: the QMC \"JWT certificate\"",
        ),
        (written.public.as_ref(), "public key"),
    ];
    let mut first = true;
    for (path, what) in files {
        if let Some(path) = path {
            let label = if first { "wrote" } else { "" };
            first = false;
            println!("{label:<12} {path} ({what})");
        }
    }
    if let Some(hint) = hint {
        println!("{:<12} {hint}", "next");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Utf8PathBuf {
        Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/keys")
            .join(name)
    }

    #[test]
    fn description_of_a_bundle_has_thumbprints_and_no_key_material() {
        let bundle = keys::read_key_file(&fixture("qlik-signing.bundle.pem"), None).unwrap();
        let text: String = describe(&bundle, 1_800_000_000)
            .into_iter()
            .map(|(l, v)| format!("{l} {v}\n"))
            .collect();
        assert!(
            text.contains("2F71991B0FB56E0A4E3A36648C9EEFDC25EA21FB"),
            "{text}"
        );
        assert!(text.contains("key matches  yes") || text.contains("key matches yes"));
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        let pem = fs_err::read_to_string(fixture("qlik-signing.key.pem")).unwrap();
        let chunk = pem.lines().nth(5).unwrap();
        assert!(!text.contains(chunk), "{text}");
    }

    #[test]
    fn key_and_another_certificate_do_not_match() {
        let key = keys::read_key_file(&fixture("qlik-signing.key.pem"), None).unwrap();
        let other = keys::read_key_file(&fixture("other.cert.pem"), None).unwrap();
        let mine = keys::read_key_file(&fixture("qlik-signing.cert.pem"), None).unwrap();
        let private = key.private.unwrap();
        assert!(!key_matches(&private, &other.certificate.unwrap()));
        assert!(key_matches(&private, &mine.certificate.unwrap()));
    }

    #[test]
    fn generate_refuses_unknown_algorithms_and_sizes() {
        assert!(kind_for("HS256", 2048).is_err());
        assert!(kind_for("RS256", 1024).is_err());
        assert_eq!(kind_for("es256", 2048).unwrap(), KeyKind::EcP256);
        assert_eq!(kind_for("EdDSA", 2048).unwrap(), KeyKind::Ed25519);
    }
}
