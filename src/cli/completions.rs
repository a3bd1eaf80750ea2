//! `jwtprobe completions`: print shell completions.

use std::io::Write as _;

use clap::CommandFactory as _;
use clap_complete::Shell;

use super::{CliError, CmdResult, Exit};

/// Arguments of this command.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
jwtprobe completions bash > ~/.local/share/bash-completion/completions/jwtprobe\n  \
jwtprobe completions zsh > \"${fpath[1]}/_jwtprobe\"\n  \
jwtprobe completions fish > ~/.config/fish/completions/jwtprobe.fish\n  \
jwtprobe completions powershell >> $PROFILE")]
pub(crate) struct Args {
    /// The shell: bash, zsh, fish, powershell or elvish.
    #[arg(value_enum, value_name = "SHELL")]
    pub(crate) shell: Shell,
}

/// Runs the command: writes the completion script to stdout.
pub(crate) fn run(args: Args) -> CmdResult {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "jwtprobe", &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            CliError::runtime(anyhow::Error::new(e).context("failed to write the completions"))
        })?;
    Ok(Exit::Success)
}
