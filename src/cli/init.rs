//! `jwtprobe init`: write a starter suite with the conformance pack into a folder.
//!
//! The pack and its starter profiles are built into the binary ([`jwtprobe::embedded::pack`]), so
//! `init` works wherever the binary is.

use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit};
use jwtprobe::embedded::pack::{self, InitProfile, PackError};

/// Write a starter suite with the conformance pack into DIR.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
jwtprobe init --profile qseow my-pack\n  \
jwtprobe run my-pack --target https://qlik.example.com --insecure\n\n\
Edit my-pack/suite.yaml (target, prefix, claim names, keys, allowed algorithms, exp, leeway, \
audience, issuer) to point the pack at your proxy; the scenarios stay as they are.")]
pub(crate) struct Args {
    /// The folder to create (it must not exist or be empty).
    #[arg(value_name = "DIR")]
    pub(crate) dir: Utf8PathBuf,
    /// The kind of proxy the starter profile describes.
    #[arg(long, value_enum, default_value = "rfc6750")]
    pub(crate) profile: InitProfile,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
    let written = pack::write_pack(&args.dir, args.profile).map_err(|e| match e {
        PackError::NotEmpty { .. } => {
            CliError::usage(e).with_hint("choose a new folder; init never overwrites files")
        }
        PackError::CreateDir { .. } | PackError::Write { .. } => CliError::runtime(e),
    })?;
    eprintln!(
        "wrote the conformance pack ({} files) to `{}`; edit `{}` to point it at your proxy, then `jwtprobe run {}`",
        written.len(),
        args.dir,
        args.dir.join("suite.yaml"),
        args.dir
    );
    Ok(Exit::Success)
}
