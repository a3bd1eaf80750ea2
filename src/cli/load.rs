//! `jwtprobe load`: run scenarios under fixed-rate or fixed-user load.
//!
//! Settings resolve as: command line, then the scenario's (or its suite's) `load:` block,
//! then defaults. The scenarios are prepared once through `runner::prepare`; the
//! [`crate::load`] engine drives them; reports are written even when SIGINT (Ctrl-C) or
//! SIGTERM stops the run (see [`super::cancel`]), marked interrupted, and the exit code is then
//! 130.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use camino::{Utf8Path, Utf8PathBuf};

use super::target::{self, TargetArgs};
use super::{CliError, CmdResult, Exit};
use crate::client::ClientSettings;
use crate::diag::{Diagnostic, Located, Span};
use crate::load::engine::{self, EngineSettings, LoadResult, Model, Progress};
use crate::load::http::{self, HttpSettings, HttpTransport, TokenStrategy};
use crate::load::pacer::{Schedule, Shard, Stage};
use crate::load::sink::IntervalSink;
use crate::load::stats::{ErrorClass, format_us};
use crate::load::threshold::{self, Threshold};
use crate::report::hlog::{self, HlogWriter};
use crate::report::{self, Meta, junit, load::Summary};
use crate::runner::{self, Filters};
use crate::scenario::{self, LoadBlock, Spanned};

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
pub struct Args {
    /// Scenario files or folders; each virtual user loops over one scenario's steps.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<Utf8PathBuf>,
    /// Where to send requests.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Open model: requests per second (across all shards).
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Closed model: this many virtual users; with `--rate`, the most requests in flight.
    #[arg(long, value_name = "N")]
    pub users: Option<u64>,
    /// Pause of each user after each request (closed model).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub think: Option<Duration>,
    /// How long to measure (after the warm-up). Default 10s unless `--requests` is given.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many measured requests (across all shards).
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Time at the start whose samples are not recorded.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Connection policy.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub connections: Option<scenario::Connections>,
    /// Token strategy.
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub token: Option<scenario::TokenReuse>,
    /// Number of distinct users for `--token pool`.
    #[arg(long, value_name = "N")]
    pub token_pool: Option<usize>,
    /// Session mode: the token on every request, or the session cookie after the first.
    #[arg(long, value_enum, value_name = "MODE")]
    pub session: Option<scenario::SessionMode>,
    /// A threshold (`p99 < 20ms`, `error_rate < 0.1%`, `rps > 1000`, `STEP.p99 < 10ms`);
    /// repeatable, added to the scenario's.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// The share of requests that may fail (a check failed, or no answer) when no
    /// `error_rate` threshold is given: beyond it the run fails like a breached threshold
    /// (exit 5), so a run that is all errors is never green. `100%` turns it off.
    #[arg(long, value_name = "PERCENT", default_value = "10%")]
    pub error_budget: String,
    /// Take shard `i` of `n` (0-based) of the rate, users and requests.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// Write the JSON summary (schema `jwtprobe.load/1`; default file `reports/load.json`;
    /// `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load.json")]
    pub json: Option<Utf8PathBuf>,
    /// Write an HdrHistogram interval log (default file `reports/load.hlog`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load.hlog")]
    pub hdr_log: Option<Utf8PathBuf>,
    /// Write a JUnit report, one testcase per threshold (default file `reports/load-junit.xml`;
    /// `-` for stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load-junit.xml")]
    pub junit: Option<Utf8PathBuf>,
    /// Write the HTML report with latency plots (default file `reports/load.html`; `-` for
    /// stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "reports/load.html")]
    pub html: Option<Utf8PathBuf>,
    /// Write the Markdown summary (without a file: `$GITHUB_STEP_SUMMARY` when set, else
    /// stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub summary_md: Option<Option<Utf8PathBuf>>,
    /// Which scenarios to take.
    #[command(flatten)]
    pub filters: Filters,
    /// Print only the outcome line and breached thresholds.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print a progress line every interval (no spinner) and the target's settings.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Set a template variable (`--var user=alice`).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::run::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Override every suite's virtual proxy prefix.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Total time limit of one request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Time limit to connect to the target.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
}

/// Runs the command.
pub fn run(args: Args) -> CmdResult {
    let vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let filters = args.filters.clone();
    let plan = super::run::build_plan(&args.paths, &filters, &vars)?;
    if plan.scenarios.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no scenario found in the given paths"
        )));
    }
    let block = plan
        .scenarios
        .iter()
        .find_map(|s| {
            s.scenario
                .load
                .clone()
                .or_else(|| s.context.suite.load.clone())
        })
        .unwrap_or_default();
    let model = resolve_model(&args, &block)?;
    // Thresholds are parsed before anything is sent: a bad one is exit 2.
    let mut texts: Vec<Spanned<String>> = block.thresholds.clone();
    texts.extend(args.thresholds.iter().map(|t| Spanned {
        value: t.clone(),
        at: None,
    }));
    let mut parsed = parse_thresholds(&texts)?;
    let has_error_rate = parsed
        .iter()
        .any(|(t, _)| t.step.is_none() && t.metric == threshold::Metric::ErrorRate);
    if !has_error_rate && args.error_budget.trim() != "100%" {
        let budget = threshold::parse(&format!("error_rate <= {}", args.error_budget.trim()))
            .map_err(|e| {
                CliError::usage(anyhow::anyhow!(
                    "`--error-budget` expects a share like `10%` or `0.5%`: {}",
                    e.message
                ))
            })?;
        parsed.push((budget, None));
    }
    let runtime = super::runtime()?;
    runtime.block_on(run_load(args, block, plan, model, parsed, vars))
}

fn stage_of(stage: &scenario::Stage, previous: f64) -> Result<Stage, CliError> {
    match (stage.rate, stage.hold, stage.ramp_to, stage.over) {
        (Some(rate), Some(duration), None, None) => Ok(Stage::Constant { rate, duration }),
        (None, None, Some(to), Some(over)) => Ok(Stage::Ramp {
            from: previous,
            to,
            over,
        }),
        _ if stage.users.is_some() => Err(CliError::invalid(anyhow::anyhow!(
            "user stages are not supported; use rate stages (`{{rate: N, for: 10s}}`, `{{ramp_to: N, over: 30s}}`)"
        ))),
        _ => Err(CliError::invalid(anyhow::anyhow!(
            "a load stage needs `rate` and `for`, or `ramp_to` and `over`"
        ))),
    }
}

/// Refuses flags beyond the limits that `validate` applies to `load:` blocks.
fn check_flag_limits(args: &Args) -> Result<(), CliError> {
    let fail = |text: String| Err(CliError::usage(anyhow::anyhow!(text)));
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0 && rate <= LoadBlock::MAX_RATE)
    {
        return fail(format!(
            "`--rate` must be above 0 and at most {} per second",
            LoadBlock::MAX_RATE
        ));
    }
    if let Some(users) = args.users
        && !(1..=LoadBlock::MAX_USERS).contains(&users)
    {
        return fail(format!(
            "`--users` must be between 1 and {}",
            LoadBlock::MAX_USERS
        ));
    }
    if args.requests == Some(0) {
        return fail("`--requests` must be at least 1".to_owned());
    }
    if let Some(d) = args.duration
        && (d.is_zero() || d > LoadBlock::MAX_DURATION)
    {
        return fail(format!(
            "`--duration` must be above 0 and at most {}",
            humantime::format_duration(LoadBlock::MAX_DURATION)
        ));
    }
    for (flag, value) in [("--warmup", args.warmup), ("--think", args.think)] {
        if value.is_some_and(|d| d > LoadBlock::MAX_WARMUP) {
            return fail(format!(
                "`{flag}` must be at most {}",
                humantime::format_duration(LoadBlock::MAX_WARMUP)
            ));
        }
    }
    if args
        .token_pool
        .is_some_and(|n| n == 0 || n > LoadBlock::MAX_POOL)
    {
        return fail(format!(
            "`--token-pool` must be between 1 and {}",
            LoadBlock::MAX_POOL
        ));
    }
    Ok(())
}

/// Resolves the load model from the command line and the `load:` block.
fn resolve_model(args: &Args, block: &LoadBlock) -> Result<Model, CliError> {
    check_flag_limits(args)?;
    let shard = args.shard.unwrap_or_default();
    let duration = args.duration.or(block.duration);
    let requests = args.requests.or(block.requests);
    let warmup = args.warmup.or(block.warmup).unwrap_or_default();
    let rate = args.rate.or(if args.users.is_some() {
        None
    } else {
        block.rate
    });
    let users = args.users.or(block.users.map(u64::from));
    let by_users = rate.is_none()
        && (args.users.is_some()
            || (block.stages.is_empty() && block.model == Some(scenario::LoadModel::Users))
            || (block.stages.is_empty() && block.rate.is_none() && users.is_some()));
    let measured = match (duration, requests) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    if by_users {
        let users = users.unwrap_or(1);
        if users == 0 {
            return Err(CliError::usage(anyhow::anyhow!(
                "`--users` must be at least 1"
            )));
        }
        return Ok(Model::Users {
            users,
            think: args.think.or(block.think).unwrap_or_default(),
            duration: measured,
            requests,
            warmup,
            shard,
        });
    }
    let stages = if let Some(rate) = rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(CliError::usage(anyhow::anyhow!(
                "`--rate` must be a positive number"
            )));
        }
        // With only a request limit, the schedule runs until the limit is reached.
        let length = measured
            .unwrap_or_else(|| Duration::from_secs_f64(requests.unwrap_or(0) as f64 / rate + 1.0));
        vec![Stage::Constant {
            rate,
            duration: length,
        }]
    } else if !block.stages.is_empty() {
        let mut out = Vec::new();
        let mut previous = 0.0;
        for s in &block.stages {
            let stage = stage_of(s, previous)?;
            previous = match stage {
                Stage::Constant { rate, .. } => rate,
                Stage::Ramp { to, .. } => to,
            };
            out.push(stage);
        }
        out
    } else {
        return Err(CliError::usage(anyhow::anyhow!(
            "say how much load: `--rate N` (requests per second) or `--users N`"
        ))
        .with_hint("or add a `load:` block with `rate`, `users` or `stages` to the scenario"));
    };
    let schedule = Schedule {
        warmup,
        // Rates are totals across shards; the schedule keeps this shard's arrivals.
        stages,
        requests,
        shard,
    };
    Ok(Model::Rate {
        schedule,
        users: users.map_or(50, |u| shard.share(u).max(1)),
    })
}

/// Parses every threshold; all errors are rendered with a caret at the bad part. `validate`
/// uses it too, so that both refuse the same thresholds.
pub(super) fn parse_thresholds(
    texts: &[Spanned<String>],
) -> Result<Vec<(Threshold, Option<Located>)>, CliError> {
    let mut out = Vec::new();
    let mut rendered = String::new();
    let mut failures = 0;
    for text in texts {
        match threshold::parse(&text.value) {
            Ok(t) => out.push((t, text.at.clone())),
            Err(e) => {
                failures += 1;
                rendered.push_str(&render_threshold_error(&e, text));
            }
        }
    }
    if failures > 0 {
        return Err(CliError::invalid(anyhow::anyhow!(
            "{failures} invalid load threshold{}",
            if failures == 1 { "" } else { "s" }
        ))
        .with_rendered(rendered));
    }
    Ok(out)
}

/// Renders a threshold error: at its place in the YAML file when it came from one, else
/// against the expression itself.
pub(super) fn render_threshold_error(
    e: &threshold::ThresholdError,
    text: &Spanned<String>,
) -> String {
    let message = format!("invalid threshold `{}`", e.text);
    let diagnostic = Diagnostic::new(message, e.message.clone()).with_hint_opt(e.hint.clone());
    if let Some(at) = &text.at
        && let Ok(source) = fs_err::read_to_string(&at.file)
    {
        // A quoted YAML string starts one byte before its text.
        let quote = source
            .get(at.span.start..)
            .and_then(|s| s.chars().next())
            .is_some_and(|c| c == '"' || c == '\'');
        let base = at.span.start + usize::from(quote);
        let col = at.span.col + usize::from(quote) + e.text[..e.range.start].chars().count();
        let span = Span {
            start: base + e.range.start,
            end: base + e.range.end,
            line: at.span.line,
            col,
        };
        return diagnostic
            .at(Some(Located::new(at.file.clone(), span)))
            .render(Some(&source));
    }
    let span = Span {
        start: e.range.start,
        end: e.range.end,
        line: 1,
        col: e.text[..e.range.start].chars().count() + 1,
    };
    diagnostic
        .at(Some(Located::new("--threshold", span)))
        .render(Some(&e.text))
}

async fn run_load(
    args: Args,
    block: LoadBlock,
    plan: runner::Plan,
    model: Model,
    thresholds: Vec<(Threshold, Option<Located>)>,
    vars: BTreeMap<String, String>,
) -> CmdResult {
    let cancel = super::cancel::Cancel::install();
    let resolved = target::start_for_plan(&plan, &args.target).await?;
    let targets = &resolved.targets;
    let emulator = targets.is_emulator();
    // The load transport has one client for every scenario: it trusts the emulator's generated
    // certificate (ours, on loopback) when every scenario goes to an emulator, as `run` does
    // per scenario; a real target keeps `--insecure`/`--ca` as given.
    let all_on_emulators = resolved
        .per_scenario
        .iter()
        .all(|place| place.as_ref().is_some_and(|(_, on_emulator)| *on_emulator));
    let client = ClientSettings {
        insecure: args.target.insecure || (emulator && all_on_emulators),
        ca_file: args.target.ca.clone(),
        connect_timeout: args.connect_timeout,
        timeout: args.timeout,
        body_cap: 1024 * 1024,
        cookies: false,
        pool_max_idle: block.pool,
    };
    let now = chrono::Utc::now().timestamp();
    let mut prepared = Vec::new();
    for (planned, settings) in
        resolved.settings_for(&plan, &client, &vars, now, args.prefix.as_deref())
    {
        let one = runner::Plan {
            scenarios: vec![planned.clone()],
        };
        let mut scenarios = runner::prepare(&one, &settings)
            .map_err(|e| CliError::invalid(anyhow::Error::new(e)))?;
        prepared.append(&mut scenarios);
    }

    // Validate threshold steps against the steps that will run.
    let labels: Vec<String> = http::step_labels(&prepared).into_iter().flatten().collect();
    let mut rendered = String::new();
    for (w, at) in &thresholds {
        if let Err(e) = w.validate(&labels) {
            rendered.push_str(&render_threshold_error(
                &e,
                &Spanned {
                    value: e.text.clone(),
                    at: at.clone(),
                },
            ));
        }
    }
    if !rendered.is_empty() {
        resolved.targets.shutdown().await;
        return Err(
            CliError::invalid(anyhow::anyhow!("a load threshold names an unknown step"))
                .with_rendered(rendered),
        );
    }

    let tokens = match args.token.or(block.token) {
        Some(reuse) => {
            TokenStrategy::new(reuse, args.token_pool.or(block.token_pool).unwrap_or(100))
        }
        None => TokenStrategy::Shared,
    };
    let session = args.session.or(block.session).unwrap_or_default();
    let connections = args.connections.or(block.connections).unwrap_or_default();
    let users = match &model {
        Model::Rate { users, .. } | Model::Users { users, .. } => *users,
    };
    for scenario in &prepared {
        if let Some(w) = http::session_warning(
            &scenario.profile,
            &scenario.identity.user,
            tokens,
            session,
            users,
        ) {
            eprintln!("warning: {w}");
        }
    }
    let transport = HttpTransport::new(
        &prepared,
        HttpSettings {
            client,
            connections,
            tokens,
            session,
            pinned_now: now,
        },
    )
    .map_err(|e| CliError::runtime(anyhow::Error::new(e)))?;

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
    let settings = EngineSettings {
        model: model.clone(),
        interval: Duration::from_secs(1),
        hlog,
        shard: args.shard,
    };
    let describe = model.describe();
    let origin = prepared
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
            prepared.len(),
            labels.join(", ")
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
    let result = engine::run(
        std::sync::Arc::new(transport),
        settings,
        stop,
        |p: &Progress| {
            if !quiet {
                show_progress(bar.as_ref(), p);
            }
        },
    )
    .await
    .context("failed to start the pacer thread")
    .map_err(CliError::runtime);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    resolved.targets.shutdown().await;
    let result = result?;
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
    finish(
        &args,
        &describe,
        &prepared,
        &result,
        &thresholds,
        &meta,
        timeline.as_ref(),
    )
}

/// A fresh file name for an interval log that only the HTML report reads.
fn temp_hlog_path() -> Utf8PathBuf {
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap_or_else(|_| ".".into());
    dir.join(format!("jwtprobe-{}.hlog", uuid::Uuid::new_v4()))
}

/// Prints the load summary on stderr: the whole table, or with `quiet` the first line and
/// breached thresholds only.
pub fn print_summary(summary: &Summary<'_>, quiet: bool) {
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
    prepared: &[runner::PreparedScenario],
    result: &LoadResult,
    thresholds: &[(Threshold, Option<Located>)],
    meta: &Meta,
    timeline: Option<&hlog::Timeline>,
) -> CmdResult {
    let verdicts: Vec<_> = thresholds
        .iter()
        .map(|(t, _)| t.evaluate(&result.stats, result.elapsed))
        .collect();
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
        verdicts: &verdicts,
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
    let name = prepared
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(path) = &args.json
        && let Err(e) = report::load::write_json(path, &summary, meta)
    {
        fail(anyhow::Error::new(e));
    }
    if let Some(path) = &args.junit
        && let Err(e) =
            report::write_output("JUnit", path, junit::load(&summary, &name, meta).as_bytes())
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
        let model = resolve_model(&args(&["--rate", "500"]), &LoadBlock::default()).unwrap();
        let Model::Rate { schedule, users } = model else {
            panic!("expected the rate model");
        };
        assert_eq!(schedule.length(), Duration::from_secs(10));
        assert_eq!(users, 50);
    }

    #[test]
    fn users_flag_makes_a_closed_model() {
        let model = resolve_model(
            &args(&["--users", "8", "--requests", "100"]),
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
        let err = resolve_model(&args(&[]), &LoadBlock::default()).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.hint.is_some());
    }

    #[test]
    fn bad_threshold_on_the_command_line_points_at_the_metric() {
        let texts = vec![Spanned {
            value: "p9x < 20ms".to_owned(),
            at: None,
        }];
        let Err(err) = parse_thresholds(&texts) else {
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
