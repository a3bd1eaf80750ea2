//! `jwtprobe schema`: print the JSON Schema of the scenario format.

use anyhow::Context as _;
use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit};
use jwtprobe::scenario;

/// Print the JSON Schema of the scenario format.
///
/// YAML editors use it for completion and inline errors, for example with the YAML Language
/// Server: `# yaml-language-server: $schema=./scenario.schema.json` at the top of a file.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe schema --out scenario.schema.json
  jwtprobe schema --suite --out suite.schema.json")]
pub(crate) struct Args {
    /// Write the schema to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<Utf8PathBuf>,
    /// Print the schema of suite files (`suite.yaml`) instead of scenario files.
    #[arg(long)]
    pub(crate) suite: bool,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
    let schema = if args.suite {
        scenario::schema::suite_schema()
    } else {
        scenario::schema()
    };
    let mut text = serde_json::to_string_pretty(&schema)
        .context("failed to serialize the schema")
        .map_err(CliError::runtime)?;
    text.push('\n');
    match args.out {
        Some(path) => {
            fs_err::write(&path, text)
                .with_context(|| format!("failed to write schema `{path}`"))
                .map_err(CliError::runtime)?;
            eprintln!("wrote {path}");
        }
        None => print_schema(&text),
    }
    Ok(Exit::Success)
}

#[expect(clippy::print_stdout, reason = "the schema is this command's data")]
fn print_schema(text: &str) {
    print!("{text}");
}
