//! `jwtprobe bench` subcommands.

use super::{CliError, CmdResult};

/// The `bench` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Not built yet.
    Placeholder,
}

/// Runs a subcommand.
pub fn run(_cmd: Command) -> CmdResult {
    Err(CliError::usage(anyhow::anyhow!("this command is not built yet")))
}
