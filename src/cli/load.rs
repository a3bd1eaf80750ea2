//! `jwtprobe load`: run scenarios under fixed-rate or fixed-user load.
//!
//! Settings resolve in [`jwtprobe::settings`] (command line, then the scenario's or its suite's
//! `load:` block, then defaults). The whole plan is prepared once by `runner::prepare` and handed
//! to [`jwtprobe::load::plan::LoadPlan`], which checks the thresholds' steps, builds the
//! transport and drives the engine; this file starts the emulators, prints the console lines and
//! progress, creates the interval log and writes the reports. Reports are written even when
//! SIGINT (Ctrl-C) or SIGTERM stops the run (see [`super::cancel`]), marked interrupted, and the
//! exit code is then 130.

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use camino::{Utf8Path, Utf8PathBuf};

use super::target::{self, TargetArgs};
use super::{CliError, CmdResult, Exit};
use jwtprobe::load::engine::{self, Progress};
use jwtprobe::load::http::HttpSettings;
use jwtprobe::load::pacer::Shard;
use jwtprobe::load::plan::{LoadPlan, LoadPlanError, LoadPlanSettings, LoadRun};
use jwtprobe::load::sink::IntervalSink;
use jwtprobe::load::stats::{ErrorClass, format_us};
use jwtprobe::report::hlog::{self, HlogWriter};
use jwtprobe::report::{self, Meta, junit, load::Summary};
use jwtprobe::runner::{self, Filters};
use jwtprobe::scenario::{self, Spanned};
use jwtprobe::settings::{self, LoadInput, LoadSettings, ScenariosInput, SettingsError};

/// Run scenarios under fixed-rate (open) or fixed-user (closed) load.
///
/// Latency is measured from the intended send time in the rate model, so a target that
/// falls behind shows up as latency (coordinated omission), and from the actual send as
/// "service time".
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe load scenarios/load/bearer.yaml --rate 100 --duration 2s --threshold 'p99 < 500ms'
  jwtprobe load scenarios/load/bearer.yaml --mock-config fixtures/mock/qseow-load.yaml --users 4 --requests 200 --json - --html reports/load.html
  jwtprobe load scenarios/load/bearer.yaml --rate 100 --duration 2s --shard 0/2 --hdr-log shard-0.hlog
  jwtprobe load scenarios/load/bearer.yaml --rate 100 --duration 2s --shard 1/2 --hdr-log shard-1.hlog

Exit codes: 0 passed, 1 bad command line, 2 invalid scenario or threshold, \
3 runtime error (target unreachable, report unwritable), 5 a threshold (or the error budget) \
was breached, 130 stopped by SIGINT or SIGTERM (reports written, marked interrupted).")]
pub(crate) struct Args {
    /// Scenario files or folders; each virtual user loops over one scenario's steps.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<Utf8PathBuf>,
    /// Where to send requests.
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Open model: requests per second (across all shards).
    #[arg(long, value_name = "N")]
    pub(crate) rate: Option<f64>,
    /// Closed model: this many virtual users; with `--rate`, the most requests in flight.
    #[arg(long, value_name = "N")]
    pub(crate) users: Option<u64>,
    /// Pause of each user after each request (closed model).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) think: Option<Duration>,
    /// How long to measure (after the warm-up). Default 10s unless `--requests` is given.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Stop after this many measured requests (across all shards).
    #[arg(long, value_name = "N")]
    pub(crate) requests: Option<u64>,
    /// Time at the start whose samples are not recorded.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) warmup: Option<Duration>,
    /// Connection policy.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub(crate) connections: Option<scenario::Connections>,
    /// Token strategy.
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub(crate) token: Option<scenario::TokenReuse>,
    /// Number of distinct users for `--token pool`.
    #[arg(long, value_name = "N")]
    pub(crate) token_pool: Option<usize>,
    /// Session mode: the token on every request, or the session cookie after the first.
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) session: Option<scenario::SessionMode>,
    /// A threshold (`p99 < 20ms`, `error_rate < 0.1%`, `rps > 1000`, `STEP.p99 < 10ms`);
    /// repeatable, added to the scenario's.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub(crate) thresholds: Vec<String>,
    /// The share of requests that may fail (a check failed, or no answer) when no
    /// `error_rate` threshold is given: beyond it the run fails like a breached threshold
    /// (exit 5), so a run that is all errors is never green. `100%` turns it off.
    #[arg(long, value_name = "PERCENT", default_value = "10%")]
    pub(crate) error_budget: String,
    /// Take shard `i` of `n` (0-based) of the rate, users and requests.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub(crate) shard: Option<Shard>,
    /// Write the JSON summary (schema `jwtprobe.load/1`; default file `reports/load.json`;
    /// `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load.json")]
    pub(crate) json: Option<Utf8PathBuf>,
    /// Write an HdrHistogram interval log (default file `reports/load.hlog`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load.hlog")]
    pub(crate) hdr_log: Option<Utf8PathBuf>,
    /// Write a JUnit report, one testcase per threshold (default file `reports/load-junit.xml`;
    /// `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load-junit.xml")]
    pub(crate) junit: Option<Utf8PathBuf>,
    /// Write the HTML report with latency plots (default file `reports/load.html`; `-` for
    /// stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load.html")]
    pub(crate) html: Option<Utf8PathBuf>,
    /// Write the Markdown summary (without a file: `$GITHUB_STEP_SUMMARY` when set, else
    /// stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub(crate) summary_md: Option<Option<Utf8PathBuf>>,
    /// Which scenarios to take.
    #[command(flatten)]
    pub(crate) filters: Filters,
    /// Print only the outcome line and breached thresholds.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Print a progress line every interval (no spinner) and the target's settings.
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,
    /// Set a template variable (`--var user=alice`).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = settings::parse_var)]
    pub(crate) vars: Vec<(String, String)>,
    /// Override every suite's virtual proxy prefix.
    #[arg(long, value_name = "PREFIX")]
    pub(crate) prefix: Option<String>,
    /// Total time limit of one request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) timeout: Duration,
    /// Time limit to connect to the target.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) connect_timeout: Duration,
}

impl Args {
    /// What `settings` resolves the load run from.
    fn input(&self) -> LoadInput {
        LoadInput {
            scenarios: ScenariosInput {
                paths: self.paths.clone(),
                target: self.target.input(),
                vars: self.vars.clone(),
                filters: self.filters.clone(),
                prefix: self.prefix.clone(),
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
            },
            rate: self.rate,
            users: self.users,
            think: self.think,
            duration: self.duration,
            requests: self.requests,
            warmup: self.warmup,
            connections: self.connections,
            token: self.token,
            token_pool: self.token_pool,
            session: self.session,
            thresholds: self.thresholds.clone(),
            error_budget: self.error_budget.clone(),
            shard: self.shard,
        }
    }
}

/// Runs the command.
pub(crate) fn run(args: Args) -> CmdResult {
    let settings = settings::resolve_load(&args.input()).map_err(|e| match e {
        SettingsError::Keys(e) => {
            // The place and hint as `run` gives them, under load's own headline.
            let hint = e.hint();
            let location = e.render_location();
            let err =
                CliError::runtime(anyhow::Error::new(e).context("failed to load the suite's keys"))
                    .with_location(location);
            match hint {
                Some(h) => err.with_hint(h),
                None => err,
            }
        }
        SettingsError::NoScenario { .. } => {
            CliError::usage(anyhow::anyhow!("no scenario found in the given paths"))
        }
        other => CliError::from(other),
    })?;
    let runtime = super::runtime()?;
    runtime.block_on(run_load(args, settings))
}

async fn run_load(args: Args, settings: LoadSettings) -> CmdResult {
    let cancel = super::cancel::Cancel::install();
    let targets = target::start(settings.run.emulator_profiles(), &args.target).await?;
    let emulator = targets.is_emulator();
    let (plan, options) = match settings.run.bind(|profile| targets.url(profile).cloned()) {
        Ok(bound) => bound,
        Err(e) => {
            targets.shutdown().await;
            return Err(e.into());
        }
    };
    let prepared = match runner::prepare(&plan, &options) {
        Ok(prepared) => prepared,
        Err(e) => {
            targets.shutdown().await;
            return Err(CliError::invalid(anyhow::Error::new(e)));
        }
    };
    let LoadSettings {
        model,
        thresholds,
        tokens,
        session,
        connections,
        shard,
        ..
    } = settings;
    let plan_settings = LoadPlanSettings {
        model,
        thresholds,
        http: HttpSettings {
            client: options.client.clone(),
            connections,
            tokens,
            session,
            pinned_now: options.now,
        },
        shard,
    };
    let load = match LoadPlan::new(prepared, plan_settings, |w| eprintln!("warning: {w}")) {
        Ok(load) => load,
        Err(LoadPlanError::UnknownStep { errors }) => {
            let rendered: String = errors
                .iter()
                .map(|(e, at)| {
                    settings::render_threshold_error(
                        e,
                        &Spanned {
                            value: e.text.clone(),
                            at: at.clone(),
                        },
                    )
                })
                .collect();
            targets.shutdown().await;
            return Err(CliError::invalid(anyhow::anyhow!(
                "a load threshold names an unknown step"
            ))
            .with_rendered(rendered));
        }
        Err(LoadPlanError::Transport(e)) => {
            return Err(CliError::runtime(anyhow::Error::new(e)));
        }
    };

    // The HTML report plots the run over time from the interval log, so `--html` alone
    // writes one to a temporary file.
    let hlog_path = match (&args.hdr_log, &args.html) {
        (Some(path), _) if report::is_stdout(path) => Some(Utf8PathBuf::from("/dev/stdout")),
        (Some(path), _) => Some(path.clone()),
        (None, Some(_)) => Some(temp_hlog_path()),
        (None, None) => None,
    };
    let run_started = std::time::SystemTime::now();
    let hlog = match &hlog_path {
        Some(path) => {
            ensure_parent(path)?;
            let writer = HlogWriter::create(path, run_started)
                .map_err(|e| CliError::runtime(anyhow::Error::new(e)))?;
            Some(Box::new(writer) as Box<dyn IntervalSink>)
        }
        None => None,
    };
    let describe = load.model().describe();
    let origin = load
        .scenarios()
        .first()
        .and_then(|s| s.steps.first())
        .map(|s| s.request.url.origin().ascii_serialization())
        .unwrap_or_default();
    if !args.quiet {
        eprintln!(
            "load: {describe} against {}{origin}",
            if emulator {
                "the built-in emulator at "
            } else {
                ""
            },
        );
    }
    if args.verbose {
        eprintln!(
            "load: tokens {tokens:?}, session {}, connections {connections:?}, {} scenario(s), steps {}",
            session.as_str(),
            load.scenarios().len(),
            load.labels().join(", ")
        );
    }
    let target_text = if emulator {
        format!("{origin} (built-in emulator)")
    } else {
        origin
    };
    let meta = Meta::now(run_started, target_text);
    let bar = if args.quiet || args.verbose {
        None
    } else {
        progress_bar()
    };
    let quiet = args.quiet;
    let stop = cancel.signalled();
    let stop = async move {
        stop.await;
    };
    // The JUnit report names the run after its scenarios.
    let name = load
        .scenarios()
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let run = load
        .run(hlog, stop, |p: &Progress| {
            if !quiet {
                show_progress(bar.as_ref(), p);
            }
        })
        .await
        .context("failed to start the pacer thread")
        .map_err(CliError::runtime);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    targets.shutdown().await;
    let run = run?;
    // The timeline for the HTML report (plots over time) comes back from the interval log
    // just written; a temporary log is removed once read.
    // The JSON summary carries it too whenever there is a log to read it from.
    let wants_timeline = args.html.is_some() || args.json.is_some();
    let timeline = match &hlog_path {
        Some(path) if wants_timeline && path.as_str() != "/dev/stdout" => {
            let contents = hlog::read_file(path);
            if args.hdr_log.is_none() {
                let _ = fs_err::remove_file(path);
            }
            contents.ok().map(|c| c.timeline)
        }
        _ => None,
    };
    finish(&args, &describe, &name, &run, &meta, timeline.as_ref())
}

/// A fresh file name for an interval log that only the HTML report reads.
fn temp_hlog_path() -> Utf8PathBuf {
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap_or_else(|_| ".".into());
    dir.join(format!("jwtprobe-{}.hlog", uuid::Uuid::new_v4()))
}

/// Prints the load summary on stderr: the whole table, or with `quiet` the first line and
/// breached thresholds only.
pub(crate) fn print_summary(summary: &Summary<'_>, quiet: bool) {
    let table = report::load::summary_table_with(summary, super::palette());
    if quiet {
        let mut lines = table.lines();
        if let Some(first) = lines.next() {
            eprintln!("{first}");
        }
        for line in lines.filter(|l| l.contains("FAIL")) {
            eprintln!("{line}");
        }
    } else {
        eprint!("{table}");
    }
}

fn ensure_parent(path: &Utf8Path) -> Result<(), CliError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_str().is_empty()) {
        fs_err::create_dir_all(parent).map_err(|e| {
            CliError::runtime(anyhow::Error::new(e).context("failed to create the report folder"))
        })?;
    }
    Ok(())
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn progress_line(p: &Progress) -> String {
    format!(
        "{}{} requests, {:.0}/s, p99 {}, {} errors",
        if p.warming_up { "warm-up: " } else { "" },
        p.requests,
        p.rate,
        format_us(p.p99_us),
        p.errors
    )
}

fn show_progress(bar: Option<&indicatif::ProgressBar>, p: &Progress) {
    match bar {
        Some(bar) => bar.set_message(progress_line(p)),
        None => eprintln!("[{:>6.1}s] {}", p.elapsed.as_secs_f64(), progress_line(p)),
    }
}

/// Prints the summary, writes every report and picks the exit code.
fn finish(
    args: &Args,
    model: &str,
    name: &str,
    run: &LoadRun,
    meta: &Meta,
    timeline: Option<&hlog::Timeline>,
) -> CmdResult {
    let LoadRun { result, verdicts } = run;
    let summary = Summary {
        stats: &result.stats,
        elapsed: result.elapsed,
        model: model.to_owned(),
        pacer: result.pacer.as_ref().map(|p| &p.lateness),
        max_backlog: result.pacer.as_ref().map(|p| p.max_backlog),
        schedule_kept: result.schedule.is_ok(),
        schedule_notes: result.schedule.clone().err().into_iter().collect(),
        interrupted: result.interrupted,
        cancelled: result.cancelled,
        verdicts,
        timeline,
    };
    print_summary(&summary, args.quiet);
    if result.cancelled > 0 {
        eprintln!(
            "note: {} requests were cancelled at the end (still in flight or queued {} after the schedule ended)",
            result.cancelled,
            humantime::format_duration(engine::END_GRACE)
        );
    }
    let mut exit = if summary.breached() {
        Exit::ThresholdBreached
    } else {
        Exit::Success
    };
    if result.interrupted {
        exit = exit.worst(Exit::Interrupted);
    }
    let mut first_error: Option<CliError> = None;
    let mut fail = |e: anyhow::Error| {
        eprintln!("error: {e:#}");
        exit = exit.worst(Exit::Runtime);
        first_error.get_or_insert(CliError::runtime(e));
    };
    if let Some(e) = &result.hlog_error {
        fail(anyhow::anyhow!("{}", runner::error_text(e)));
    }
    if let Some(path) = &args.json
        && let Err(e) = report::load::write_json(path, &summary, meta)
    {
        fail(anyhow::Error::new(e));
    }
    if let Some(path) = &args.junit
        && let Err(e) =
            report::write_output("JUnit", path, junit::load(&summary, name, meta).as_bytes())
    {
        fail(anyhow::Error::new(e));
    }
    if args.html.is_some() || args.summary_md.is_some() {
        let json = report::load::to_json(&summary, meta);
        if let Some(path) = &args.html
            && let Err(e) = super::report::write_html(path, &report::html::load(&json), args.quiet)
        {
            fail(e);
        }
        if let Some(choice) = &args.summary_md
            && let Err(e) = super::report::write_summary_md(
                choice.as_deref(),
                &report::markdown::load(&json),
                args.quiet,
            )
        {
            fail(e);
        }
    }
    let all = result.stats.overall();
    let unreachable = all.requests() > 0
        && all.errors.get(&ErrorClass::Connect).copied().unwrap_or(0) == all.requests();
    if unreachable {
        exit = exit.worst(Exit::Runtime);
        eprintln!("error: the target refused every connection");
    }
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;
    use jwtprobe::load::engine::Model;
    use jwtprobe::scenario::LoadBlock;

    fn args(extra: &[&str]) -> Args {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            args: Args,
        }
        let mut argv = vec!["load", "x.yaml"];
        argv.extend_from_slice(extra);
        Wrap::parse_from(argv).args
    }

    #[test]
    fn rate_flag_makes_an_open_model_with_a_default_duration() {
        let model =
            settings::resolve_model(&args(&["--rate", "500"]).input(), &LoadBlock::default())
                .unwrap();
        let Model::Rate { schedule, users } = model else {
            panic!("expected the rate model");
        };
        assert_eq!(schedule.length(), Duration::from_secs(10));
        assert_eq!(users, 50);
    }

    #[test]
    fn users_flag_makes_a_closed_model() {
        let model = settings::resolve_model(
            &args(&["--users", "8", "--requests", "100"]).input(),
            &LoadBlock::default(),
        )
        .unwrap();
        assert!(matches!(
            model,
            Model::Users {
                users: 8,
                requests: Some(100),
                duration: None,
                ..
            }
        ));
    }

    #[test]
    fn no_load_given_is_a_usage_error_with_a_hint() {
        let err = CliError::from(
            settings::resolve_model(&args(&[]).input(), &LoadBlock::default()).unwrap_err(),
        );
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.hint.is_some());
    }

    #[test]
    fn bad_threshold_on_the_command_line_points_at_the_metric() {
        let texts = vec![Spanned {
            value: "p9x < 20ms".to_owned(),
            at: None,
        }];
        let Err(err) = settings::parse_thresholds(&texts).map_err(CliError::from) else {
            panic!("expected an error");
        };
        assert_eq!(err.exit, Exit::Invalid);
        let rendered = err.rendered.unwrap_or_default();
        assert!(rendered.contains("p9x < 20ms"), "{rendered}");
        assert!(rendered.contains("^^^"), "{rendered}");
        assert!(rendered.contains("unknown metric `p9x`"), "{rendered}");
    }

    #[test]
    fn shard_flag_is_parsed_and_validated() {
        assert_eq!(
            args(&["--shard", "1/3"]).shard,
            Some(Shard { index: 1, count: 3 })
        );
    }
}
