//! `jwtprobe validate`: check scenario files without sending anything.

use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit};
use crate::scenario::{self, ReadOptions};

/// Check scenario files without sending anything.
///
/// Reads every file (a folder's `suite.yaml` applies to its scenarios), validates it against
/// the scenario format, and prints every problem of every file with `file:line:col`, the line,
/// a caret and a hint.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe validate scenarios/qlik scenarios/qlik-cloud
  jwtprobe validate scenarios/load --var user=alice -q

Exit codes: 0 all valid, 1 bad command line, 2 any file is invalid.")]
pub struct Args {
    /// Scenario files or folders.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<Utf8PathBuf>,
    /// Count a template variable as defined (`--var user=alice`), as `run --var` would.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::run::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Do not report `${VAR}` references that no suite, scenario, `--var` or environment
    /// variable defines.
    #[arg(long)]
    pub allow_unknown_vars: bool,
    /// Print nothing when every file is valid.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: Args) -> CmdResult {
    let options = ReadOptions {
        vars: args.vars.into_iter().collect(),
        check_variables: !args.allow_unknown_vars,
    };
    match scenario::read_with(&args.paths, &options) {
        Ok(plan) => {
            // Files a suite names must exist where the runner will look for them.
            let mut seen = std::collections::BTreeSet::new();
            let missing: Vec<_> = plan
                .scenarios
                .iter()
                .filter(|p| seen.insert(p.suite.path.clone()))
                .flat_map(|p| p.suite.missing_files(plan.sources.get(&p.suite.path)))
                .collect();
            if !missing.is_empty() {
                let rendered = plan.sources.render(&missing);
                return Err(CliError::invalid(anyhow::anyhow!(
                    "invalid suites: {} missing {}",
                    missing.len(),
                    plural(missing.len(), "file", "files")
                ))
                .with_rendered(rendered));
            }
            let n = plan.scenarios.len();
            let m = plan.files;
            if args.quiet {
                return Ok(Exit::Success);
            }
            eprintln!(
                "ok: {n} {} in {m} {}",
                plural(n, "scenario", "scenarios"),
                plural(m, "file", "files")
            );
            Ok(Exit::Success)
        }
        Err(errors) => {
            let rendered = errors.render();
            Err(CliError::invalid(anyhow::Error::new(errors)).with_rendered(rendered))
        }
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
