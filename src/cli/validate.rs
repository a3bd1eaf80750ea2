//! `jwtprobe validate`: check scenario files without sending anything.

use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit};
use jwtprobe::scenario::{self, ReadOptions};

/// Check scenario files without sending anything.
///
/// Reads every file (a folder's `suite.yaml` applies to its scenarios), validates it against
/// the scenario format, and prints every problem of every file with `file:line:col`, the line,
/// a caret and a hint. It refuses everything `run` and `load` would refuse before sending:
/// load blocks (rates, user counts, durations within their limits) and thresholds included.
/// Exit code 0 when all are valid, 2 when any is invalid.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe validate scenarios/qlik scenarios/qlik-cloud
  jwtprobe validate scenarios/load --var user=alice -q

Exit codes: 0 all valid, 1 bad command line, 2 any file is invalid.")]
pub(crate) struct Args {
    /// Scenario files or folders.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<Utf8PathBuf>,
    /// Count a template variable as defined (`--var user=alice`), as `run --var` would.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = jwtprobe::settings::parse_var)]
    pub(crate) vars: Vec<(String, String)>,
    /// Do not report `${VAR}` references that no suite, scenario, `--var` or environment
    /// variable defines.
    #[arg(long)]
    pub(crate) allow_unknown_vars: bool,
    /// Print nothing when every file is valid.
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
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
            // Thresholds are parsed by the load engine's parser, as `load` would.
            let mut texts: Vec<jwtprobe::scenario::Spanned<String>> = Vec::new();
            for planned in &plan.scenarios {
                let blocks = [planned.scenario.load.as_ref(), planned.suite.load.as_ref()];
                for t in blocks.into_iter().flatten().flat_map(|b| &b.thresholds) {
                    if !texts
                        .iter()
                        .any(|seen| seen.at == t.at && seen.value == t.value)
                    {
                        texts.push(t.clone());
                    }
                }
            }
            let parsed = jwtprobe::settings::parse_thresholds(&texts)?;
            // A threshold on a step must name one (`step` or `scenario/step`), as `load` checks.
            let names: Vec<&str> = plan
                .scenarios
                .iter()
                .flat_map(|p| p.scenario.steps.iter().map(|s| s.name.as_str()))
                .collect();
            let mut rendered = String::new();
            for (t, at) in &parsed {
                let known = t.step.as_deref().is_none_or(|step| {
                    names
                        .iter()
                        .any(|n| step == *n || step.ends_with(&format!("/{n}")))
                });
                if !known && let Err(e) = t.validate(&names) {
                    rendered.push_str(&jwtprobe::settings::render_threshold_error(
                        &e,
                        &jwtprobe::scenario::Spanned {
                            value: e.text.clone(),
                            at: at.clone(),
                        },
                    ));
                }
            }
            if !rendered.is_empty() {
                return Err(CliError::invalid(anyhow::anyhow!(
                    "a load threshold names an unknown step"
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
