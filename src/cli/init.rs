//! `jwtprobe init`: write a starter suite with the conformance pack into a folder.
//!
//! The pack's files are compiled into the binary (`include_str!` of `scenarios/conformance/`),
//! so `init` works wherever the binary is; the target profile (`suite.yaml`) is the shipped
//! one for `rfc6750` and one of `src/cli/init/*.yaml` for the Qlik profiles. Editing that one
//! file points the pack at another proxy (`docs/conformance.md`).

use camino::{Utf8Path, Utf8PathBuf};

use super::{CliError, CmdResult, Exit};

/// Write a starter suite with the conformance pack into DIR.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
jwtprobe init --profile qseow my-pack\n  \
jwtprobe run my-pack --target https://qlik.example.com --insecure\n\n\
Edit my-pack/suite.yaml (target, prefix, claim names, keys, allowed algorithms, exp, leeway, \
audience, issuer) to point the pack at your proxy; the scenarios stay as they are.")]
pub struct Args {
    /// The folder to create (it must not exist or be empty).
    #[arg(value_name = "DIR")]
    pub dir: Utf8PathBuf,
    /// The kind of proxy the starter profile describes.
    #[arg(long, value_enum, default_value = "rfc6750")]
    pub profile: InitProfile,
}

/// The starter profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitProfile {
    /// A resource server following RFC 6750 (401 with `WWW-Authenticate: Bearer`).
    Rfc6750,
    /// A Qlik Sense Enterprise on Windows JWT virtual proxy.
    Qseow,
    /// A Qlik Cloud tenant's `/login/jwt-session`.
    QlikCloud,
}

macro_rules! file {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../scenarios/conformance/", $name)),
        )
    };
}

/// Every file of the pack but its profile: (path in the pack, text).
pub const PACK: &[(&str, &str)] = &[
    file!("00-valid-token.yaml"),
    file!("alg-none.yaml"),
    file!("alg-pinning.yaml"),
    file!("audience.yaml"),
    file!("claim-names-case.yaml"),
    file!("crit.yaml"),
    file!("duplicate-members.yaml"),
    file!("ecdsa-zero.yaml"),
    file!("embedded-key.yaml"),
    file!("exp-required.yaml"),
    file!("expired.yaml"),
    file!("iat-future.yaml"),
    file!("identity-required.yaml"),
    file!("issuer.yaml"),
    file!("jws-json.yaml"),
    file!("key-confusion.yaml"),
    file!("key-url.yaml"),
    file!("kid.yaml"),
    file!("leeway.yaml"),
    file!("malformed-exp.yaml"),
    file!("nbf-future.yaml"),
    file!("oversize-token.yaml"),
    file!("payload-tampered.yaml"),
    file!("prefix-case.yaml"),
    file!("query-token.yaml"),
    file!("signature-required.yaml"),
    file!("keys/README.md"),
    file!("keys/attacker.cert.pem"),
    file!("keys/attacker.jwks.json"),
    file!("keys/attacker.key.pem"),
    file!("keys/target.cert.pem"),
    file!("keys/target.key.pem"),
];

/// The profile (`suite.yaml`) a starter suite gets.
#[must_use]
pub fn profile_text(profile: InitProfile) -> &'static str {
    match profile {
        InitProfile::Rfc6750 => include_str!("../../scenarios/conformance/suite.yaml"),
        InitProfile::Qseow => include_str!("init/qseow.yaml"),
        InitProfile::QlikCloud => include_str!("init/qlik-cloud.yaml"),
    }
}

/// Writes the pack and the profile into `dir`; returns the files written.
///
/// # Errors
/// A message naming the folder when it is not empty or a file cannot be written.
pub fn write_pack(dir: &Utf8Path, profile: InitProfile) -> Result<Vec<Utf8PathBuf>, CliError> {
    if dir.exists()
        && fs_err::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(
            CliError::usage(anyhow::anyhow!("`{dir}` exists and is not empty"))
                .with_hint("choose a new folder; init never overwrites files"),
        );
    }
    let mut written = Vec::new();
    let files = PACK
        .iter()
        .copied()
        .chain(std::iter::once(("suite.yaml", profile_text(profile))));
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|e| {
                CliError::runtime(
                    anyhow::Error::new(e).context(format!("failed to create `{parent}`")),
                )
            })?;
        }
        fs_err::write(&path, text).map_err(|e| {
            CliError::runtime(anyhow::Error::new(e).context(format!("failed to write `{path}`")))
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Runs the command.
pub fn run(args: Args) -> CmdResult {
    let written = write_pack(&args.dir, args.profile)?;
    eprintln!(
        "wrote the conformance pack ({} files) to `{}`; edit `{}` to point it at your proxy, then `jwtprobe run {}`",
        written.len(),
        args.dir,
        args.dir.join("suite.yaml"),
        args.dir
    );
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_pack_is_every_file_of_scenarios_conformance() {
        let root = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/conformance");
        let mut on_disk = Vec::new();
        for dir in [root.clone(), root.join("keys")] {
            for entry in fs_err::read_dir(&dir).expect("pack folder") {
                let path = Utf8PathBuf::from_path_buf(entry.expect("entry").path()).expect("utf-8");
                if path.is_file() {
                    on_disk.push(path.strip_prefix(&root).expect("below").to_string());
                }
            }
        }
        on_disk.retain(|p| p != "suite.yaml");
        on_disk.sort();
        let mut embedded: Vec<String> = PACK.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "add new pack files to `PACK` in src/cli/init.rs"
        );
    }

    #[test]
    fn init_refuses_a_folder_that_is_not_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = Utf8Path::from_path(dir.path()).expect("utf-8");
        fs_err::write(dir.join("x"), "").expect("write");
        let err = write_pack(dir, InitProfile::Qseow).unwrap_err();
        assert!(
            err.error.to_string().contains("is not empty"),
            "{}",
            err.error
        );
    }
}
