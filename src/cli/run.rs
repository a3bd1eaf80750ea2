//! `jwtprobe run`: run scenarios against the emulator or a target, check every step, report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use camino::Utf8PathBuf;

use super::target::{self, TargetArgs};
use super::{CliError, CmdResult, Exit};
use crate::client::ClientSettings;
use crate::report::run::Verbosity;
use crate::report::{self, ConsoleReporter, Meta, RunReport};
use crate::runner::{self, EventSink, Filters, Plan, RunResult, StepStatus};
use crate::scenario;

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
pub struct Args {
    /// Scenario files or folders (a folder's `suite.yaml` applies to its scenarios).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<Utf8PathBuf>,
    /// Where to send requests.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Set a template variable (`--var user=alice`); wins over suite and scenario `vars`.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Which scenarios to take.
    #[command(flatten)]
    pub filters: Filters,
    /// Override every suite's virtual proxy prefix (`--prefix jwt`; `--prefix ''` for none).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Write a JUnit XML report (default file `reports/junit.xml`; `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/junit.xml")]
    pub junit: Option<Utf8PathBuf>,
    /// Write a JSON report of every exchange (default file `reports/run.json`; `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/run.json")]
    pub json: Option<Utf8PathBuf>,
    /// Write a self-contained HTML report (default file `reports/run.html`; `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/run.html")]
    pub html: Option<Utf8PathBuf>,
    /// Write the Markdown summary (without a file: `$GITHUB_STEP_SUMMARY` when set, else
    /// stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub summary_md: Option<Option<Utf8PathBuf>>,
    /// Total time limit of one request (`30s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Time limit to connect to the target.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
    /// The largest response body read, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    pub body_cap: usize,
    /// Print every step, not only failures.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print only failed scenarios and the summary.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
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

/// Parses `NAME=VALUE`.
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, found `{text}`")),
    }
}

/// Prints each scenario as it finishes.
struct Console {
    reporter: ConsoleReporter,
    /// The steps of the scenario running now, kept so that an interrupted scenario is
    /// reported with what it did.
    steps: Vec<runner::StepResult>,
    /// When the scenario running now started.
    started: Instant,
}

impl EventSink for Console {
    fn scenario_started(&mut self, _scenario: &runner::PlannedScenario) {
        self.steps.clear();
        self.started = Instant::now();
    }
    fn step_finished(&mut self, _scenario: &runner::PlannedScenario, step: &runner::StepResult) {
        self.steps.push(step.clone());
    }
    fn scenario_finished(&mut self, result: &runner::ScenarioResult) {
        self.steps.clear();
        eprint!("{}", self.reporter.scenario(result));
    }
}

/// The result of a scenario stopped by `signal`: the steps that finished, an error for the
/// step in flight and the rest skipped.
fn interrupted_scenario(
    planned: &runner::PlannedScenario,
    finished: Vec<runner::StepResult>,
    started: Instant,
    signal: &str,
) -> runner::ScenarioResult {
    let scenario = &planned.scenario;
    let mut steps = finished;
    for (i, step) in scenario.steps.iter().enumerate().skip(steps.len()) {
        let status = if i == steps.len() {
            StepStatus::Error {
                message: format!("interrupted by {signal} while this step was running"),
                class: Some("interrupted".to_owned()),
            }
        } else {
            StepStatus::Skipped {
                reason: format!("the run was interrupted by {signal}"),
            }
        };
        steps.push(runner::StepResult {
            name: step.name.clone(),
            status,
            request: None,
            response: None,
            timings: None,
            duration: Duration::ZERO,
        });
    }
    runner::ScenarioResult {
        name: scenario.name.clone(),
        path: scenario.path.clone(),
        tags: scenario.tags.clone(),
        steps,
        duration: started.elapsed(),
        // An interrupted scenario decides nothing about its property.
        conformance: None,
    }
}

/// Reads scenarios, or returns exit 2 with every diagnostic rendered.
pub fn read_scenarios(
    paths: &[Utf8PathBuf],
    vars: &BTreeMap<String, String>,
) -> Result<scenario::Catalog, CliError> {
    let options = scenario::ReadOptions {
        vars: vars.clone(),
        ..scenario::ReadOptions::default()
    };
    scenario::read_with(paths, &options).map_err(|errors| {
        let rendered = errors.render();
        CliError::invalid(anyhow::Error::new(errors))
            .with_rendered(rendered)
            .with_hint("`jwtprobe validate PATH` checks files without sending anything; `docs/scenarios.md` describes the format")
    })
}

/// Runs the command.
pub fn run(args: Args) -> CmdResult {
    let vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let read = read_scenarios(&args.paths, &vars)?;
    let filters = args.filters.clone();
    let plan = Plan::build(&read, &filters, &vars).map_err(|e| {
        let hint = key_hint(&e);
        let err = CliError::runtime(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    })?;
    if plan.scenarios.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no scenario matches the filters in {}",
            args.paths
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let rt = super::runtime()?;
    let started = std::time::SystemTime::now();
    let console = ConsoleReporter::new(read.sources.clone(), args.verbosity(), super::palette());
    let result = rt.block_on(run_plan(&plan, &args, vars, console))?;
    let console = ConsoleReporter::new(read.sources.clone(), args.verbosity(), super::palette());
    eprint!("{}", console.summary(&result));

    let meta = Meta::now(started, report::run::describe_target(&result));
    let report = RunReport {
        result: &result,
        sources: &read.sources,
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
pub fn exit_for(result: &RunResult) -> Exit {
    let mut exit = Exit::Success;
    for step in result.scenarios.iter().flat_map(|s| &s.steps) {
        match step.status {
            StepStatus::Error { .. } => exit = exit.worst(Exit::Runtime),
            StepStatus::Failed { .. } => exit = exit.worst(Exit::CheckFailed),
            StepStatus::Passed | StepStatus::Skipped { .. } => {}
        }
    }
    exit
}

/// A hint for a key that failed to load.
fn key_hint(e: &runner::KeyRingError) -> Option<String> {
    match e {
        runner::KeyRingError::Load { source, .. } => source.hint().map(str::to_owned),
        runner::KeyRingError::MissingPassword { var, .. } => {
            Some(format!("set `{var}` to the PFX password"))
        }
        runner::KeyRingError::Secret { .. } => None,
    }
}

/// Starts the targets, runs the scenarios in order (stopping early on Ctrl-C), and returns
/// what ran.
async fn run_plan(
    plan: &Plan,
    args: &Args,
    vars: BTreeMap<String, String>,
    reporter: ConsoleReporter,
) -> Result<RunResult, CliError> {
    let started = Instant::now();
    let cancel = super::cancel::Cancel::install();
    let resolved = target::start_for_plan(plan, &args.target).await?;
    let emulator = resolved.targets.is_emulator();
    let client = ClientSettings {
        insecure: args.target.insecure,
        ca_file: args.target.ca.clone(),
        connect_timeout: args.connect_timeout,
        timeout: args.timeout,
        body_cap: args.body_cap,
        cookies: true,
        pool_max_idle: None,
    };
    let now = chrono::Utc::now().timestamp();
    let mut console = Console {
        reporter,
        steps: Vec::new(),
        started: Instant::now(),
    };
    let mut scenarios = Vec::with_capacity(plan.scenarios.len());
    let mut first_url = None;
    let mut interrupted = cancel.which().is_some();
    let signalled = cancel.signalled();
    tokio::pin!(signalled);
    for (planned, settings) in
        resolved.settings_for(plan, &client, &vars, now, args.prefix.as_deref())
    {
        first_url.get_or_insert_with(|| settings.base_url.clone());
        let one = Plan {
            scenarios: vec![planned.clone()],
        };
        if interrupted {
            break;
        }
        tokio::select! {
            result = runner::run(&one, &settings, &mut console) => scenarios.extend(result.scenarios),
            signal = &mut signalled => {
                interrupted = true;
                let finished = std::mem::take(&mut console.steps);
                let stopped = interrupted_scenario(planned, finished, console.started, signal);
                eprint!("{}", console.reporter.scenario(&stopped));
                scenarios.push(stopped);
                eprintln!(
                    "interrupted: writing reports for the {} scenarios that ran",
                    scenarios.len()
                );
                break;
            }
        }
    }
    resolved.targets.shutdown().await;
    // The target the scenarios ran against: `--target`, else the suite's `target:` or the
    // emulator (the first scenario's base URL).
    let target = args
        .target
        .target
        .as_ref()
        .filter(|_| !emulator)
        .map(ToString::to_string)
        .or_else(|| first_url.map(|u| u.to_string()))
        .unwrap_or_default();
    let conformance = runner::conformance::report(&scenarios);
    Ok(RunResult {
        target,
        emulator,
        now,
        scenarios,
        duration: started.elapsed(),
        conformance,
        interrupted,
    })
}

/// Used by `load`: reads scenarios and builds the plan, mapping errors to exit codes.
pub fn build_plan(
    paths: &[Utf8PathBuf],
    filters: &Filters,
    vars: &BTreeMap<String, String>,
) -> Result<Plan, CliError> {
    let read = read_scenarios(paths, vars)?;
    Plan::build(&read, filters, vars)
        .context("failed to load the suite's keys")
        .map_err(CliError::runtime)
}
