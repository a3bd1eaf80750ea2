//! `jwtprobe load`: run scenarios under load.

use super::{CliError, CmdResult};

/// Arguments of this command.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> CmdResult {
    Err(CliError::usage(anyhow::anyhow!("this command is not built yet")))
}
