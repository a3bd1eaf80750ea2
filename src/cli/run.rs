//! `jwtprobe run`: run scenarios against the emulator or a target, check every step, report.

use std::time::Duration;

use camino::Utf8PathBuf;

use super::target::{self, TargetArgs};
use super::{CliError, CmdResult, Exit};
use jwtprobe::report::run::Verbosity;
use jwtprobe::report::{self, ConsoleReporter, Meta, RunReport};
use jwtprobe::runner::{self, EventSink, Filters, RunResult, StepStatus};
use jwtprobe::settings::{self, RunInput, RunSettings, ScenariosInput};

/// Run scenarios and check every step.
///
/// Without `--target` the scenarios run against the built-in emulator of the Qlik virtual
/// proxy; `--target https://qlik.example.com --insecure` runs them against a real server.
/// Every report flag takes an optional file; `-` writes it to stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe run scenarios/qlik
  jwtprobe run scenarios/qlik scenarios/qlik-cloud --junit reports/junit.xml --html reports/run.html
  jwtprobe run scenarios/qlik --tag smoke --json - --quiet

Exit codes: 0 all passed, 1 bad command line, 2 invalid scenario, \
3 runtime error (key unreadable, target unreachable, report unwritable), 4 a check failed, \
130 stopped by SIGINT or SIGTERM (reports written for what ran, marked interrupted).")]
pub(crate) struct Args {
    /// Scenario files or folders (a folder's `suite.yaml` applies to its scenarios).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<Utf8PathBuf>,
    /// Where to send requests.
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Set a template variable (`--var user=alice`); wins over suite and scenario `vars`.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = settings::parse_var)]
    pub(crate) vars: Vec<(String, String)>,
    /// Which scenarios to take.
    #[command(flatten)]
    pub(crate) filters: Filters,
    /// Override every suite's virtual proxy prefix (`--prefix jwt`; `--prefix ''` for none).
    #[arg(long, value_name = "PREFIX")]
    pub(crate) prefix: Option<String>,
    /// Write a JUnit XML report (default file `reports/junit.xml`; `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/junit.xml")]
    pub(crate) junit: Option<Utf8PathBuf>,
    /// Write a JSON report of every exchange (default file `reports/run.json`; `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/run.json")]
    pub(crate) json: Option<Utf8PathBuf>,
    /// Write a self-contained HTML report (default file `reports/run.html`; `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/run.html")]
    pub(crate) html: Option<Utf8PathBuf>,
    /// Write the Markdown summary (without a file: `$GITHUB_STEP_SUMMARY` when set, else
    /// stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub(crate) summary_md: Option<Option<Utf8PathBuf>>,
    /// Total time limit of one request (`30s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) timeout: Duration,
    /// Time limit to connect to the target.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) connect_timeout: Duration,
    /// The largest response body read, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub(crate) body_cap: usize,
    /// Print every step, not only failures.
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,
    /// Print only failed scenarios and the summary.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub(crate) quiet: bool,
}

impl Args {
    fn verbosity(&self) -> Verbosity {
        if self.quiet {
            Verbosity::Quiet
        } else if self.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }
}

/// Prints each scenario as it finishes.
struct Console {
    reporter: ConsoleReporter,
}

impl EventSink for Console {
    fn scenario_finished(&mut self, result: &runner::ScenarioResult) {
        eprint!("{}", self.reporter.scenario(result));
    }
}

impl Args {
    /// What `settings` resolves the run from.
    fn input(&self) -> RunInput {
        RunInput {
            scenarios: ScenariosInput {
                paths: self.paths.clone(),
                target: self.target.input(),
                vars: self.vars.clone(),
                filters: self.filters.clone(),
                prefix: self.prefix.clone(),
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
            },
            body_cap: self.body_cap,
        }
    }
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
    let settings = settings::resolve_run(&args.input())?;
    let rt = super::runtime()?;
    let started = std::time::SystemTime::now();
    let console =
        ConsoleReporter::new(settings.sources.clone(), args.verbosity(), super::palette());
    let result = rt.block_on(run_plan(&settings, &args.target, console))?;
    let console =
        ConsoleReporter::new(settings.sources.clone(), args.verbosity(), super::palette());
    eprint!("{}", console.summary(&result));

    let meta = Meta::now(started, report::run::describe_target(&result));
    let report = RunReport {
        result: &result,
        sources: &settings.sources,
        meta: &meta,
    };
    let mut exit = exit_for(&result);
    if result.interrupted {
        exit = exit.worst(Exit::Interrupted);
    }
    match write_reports(&args, &report) {
        Ok(()) => Ok(exit),
        Err(e) => {
            exit = exit.worst(Exit::Runtime);
            Err(CliError::new(exit, e))
        }
    }
}

/// Writes every report asked for; the first failure is returned after trying them all.
fn write_reports(args: &Args, report: &RunReport<'_>) -> Result<(), anyhow::Error> {
    let mut first_error: Option<anyhow::Error> = None;
    let mut keep = |r: Result<(), anyhow::Error>| {
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    };
    let said = |kind: &str, path: &camino::Utf8Path| {
        if !args.quiet && !report::is_stdout(path) {
            eprintln!("wrote {kind} report `{path}`");
        }
    };
    if let Some(path) = &args.junit {
        keep(
            report::write_output("JUnit", path, report::junit::run(report).as_bytes())
                .map(|()| said("JUnit", path))
                .map_err(anyhow::Error::new),
        );
    }
    if let Some(path) = &args.json {
        keep(
            report::run::write_json(report, path)
                .map(|()| said("JSON", path))
                .map_err(anyhow::Error::new),
        );
    }
    if args.html.is_some() || args.summary_md.is_some() {
        let json = report::run::json(report);
        if let Some(path) = &args.html {
            keep(super::report::write_html(
                path,
                &report::html::run(&json),
                args.quiet,
            ));
        }
        if let Some(choice) = &args.summary_md {
            keep(super::report::write_summary_md(
                choice.as_deref(),
                &report::markdown::run(&json),
                args.quiet,
            ));
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The exit code for a finished run: 3 when a step could not run, 4 when a check failed.
pub(crate) fn exit_for(result: &RunResult) -> Exit {
    let mut exit = Exit::Success;
    for step in result.scenarios.iter().flat_map(|s| &s.steps) {
        match step.status {
            StepStatus::Error(_) => exit = exit.worst(Exit::Runtime),
            StepStatus::Failed { .. } => exit = exit.worst(Exit::CheckFailed),
            StepStatus::Passed | StepStatus::Skipped { .. } => {}
        }
    }
    exit
}

/// Starts the emulators the plan needs, runs the whole plan (stopping early on SIGINT or
/// SIGTERM), and returns what ran.
async fn run_plan(
    settings: &RunSettings,
    target: &TargetArgs,
    reporter: ConsoleReporter,
) -> Result<RunResult, CliError> {
    let cancel = super::cancel::Cancel::install();
    let targets = target::start(settings.emulator_profiles(), target).await?;
    let (plan, options) = match settings.bind(|profile| targets.url(profile).cloned()) {
        Ok(bound) => bound,
        Err(e) => {
            targets.shutdown().await;
            return Err(e.into());
        }
    };
    let mut console = Console { reporter };
    let result = runner::run_until(&plan, &options, &mut console, cancel.signalled()).await;
    if result.interrupted && !result.scenarios.is_empty() {
        eprintln!(
            "interrupted: writing reports for the {} scenarios that ran",
            result.scenarios.len()
        );
    }
    targets.shutdown().await;
    Ok(result)
}
