//! Settings for `run` and `load`, resolved once (ripgrep's `HiArgs` idea).
//!
//! `cli` parses the command line with clap (the environment is read there too, as clap's
//! `env` fallbacks) and hands the plain values over as a [`RunInput`] or [`LoadInput`];
//! [`resolve_run`] and [`resolve_load`] read the scenarios, build the runner's plan (keys
//! loaded once per suite) and merge, in this order, command line > environment > scenario >
//! suite > defaults into a typed [`RunSettings`] or [`LoadSettings`]. Each scenario's
//! [`Destination`] is decided here, once: `--target`, its suite's `target:`, or the built-in
//! emulator for its profile. Starting the emulators is wiring that stays in `cli`; it then
//! hands their URLs to [`RunSettings::bind`], which puts each scenario's target (base URL and
//! client settings) inside the plan that [`crate::runner::run`] and [`crate::runner::prepare`] take whole.
//!
//! This module never imports `cli`; its errors ([`SettingsError`]) are typed, and `cli` maps
//! them to exit codes and hints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use camino::Utf8PathBuf;
use url::Url;

use crate::client::ClientSettings;
use crate::diag::{Diagnostic, Located, Span};
use crate::jose::ProfileName;
use crate::load::engine::Model;
use crate::load::http::TokenStrategy;
use crate::load::pacer::{RateStage, Schedule, Shard};
use crate::load::threshold::{self, Threshold};
use crate::runner::{Filters, KeyRingError, Plan, RunOptions, Target};
use crate::scenario::{
    self, Connections, LoadBlock, ScenarioReadErrors, SessionMode, Sources, Spanned, TokenReuse,
};

/// Where requests go, as given on the command line (`--target`, `--insecure`, `--ca`); the
/// emulator's own flags (`--mock-config`, `--mock-http`) stay with the wiring in `cli`.
#[derive(Debug, Clone, Default)]
pub struct TargetInput {
    /// `--target` (or `JWTPROBE_TARGET`): the server for every scenario.
    pub target: Option<Url>,
    /// `--insecure`: accept any certificate from the target.
    pub insecure: bool,
    /// `--ca`: a PEM file of CA certificates to trust for the target.
    pub ca: Option<Utf8PathBuf>,
}

/// What `run` and `load` were both asked: the scenarios, where they go, and the request limits.
#[derive(Debug, Clone)]
pub struct ScenariosInput {
    /// Scenario files or folders.
    pub paths: Vec<Utf8PathBuf>,
    /// Where requests go.
    pub target: TargetInput,
    /// `--var NAME=VALUE`, in order (a later one wins).
    pub vars: Vec<(String, String)>,
    /// Which scenarios to take.
    pub filters: Filters,
    /// `--prefix`: overrides every suite's prefix.
    pub prefix: Option<String>,
    /// Total time limit of one request.
    pub timeout: Duration,
    /// Time limit to connect.
    pub connect_timeout: Duration,
}

/// What `run` was asked, as parsed from the command line.
#[derive(Debug, Clone)]
pub struct RunInput {
    /// The scenarios and their requests.
    pub scenarios: ScenariosInput,
    /// The largest response body read, in bytes.
    pub body_cap: usize,
}

/// What `load` was asked, as parsed from the command line; `None` leaves a value to the
/// scenario's (or its suite's) `load:` block, then to the default.
#[derive(Debug, Clone)]
pub struct LoadInput {
    /// The scenarios and their requests.
    pub scenarios: ScenariosInput,
    /// `--rate`: requests per second across all shards.
    pub rate: Option<f64>,
    /// `--users`: virtual users.
    pub users: Option<u64>,
    /// `--think`: pause of each user after each request.
    pub think: Option<Duration>,
    /// `--duration`: how long to measure.
    pub duration: Option<Duration>,
    /// `--requests`: stop after this many measured requests.
    pub requests: Option<u64>,
    /// `--warmup`: time at the start whose samples are not recorded.
    pub warmup: Option<Duration>,
    /// `--connections`.
    pub connections: Option<Connections>,
    /// `--token`.
    pub token: Option<TokenReuse>,
    /// `--token-pool`.
    pub token_pool: Option<usize>,
    /// `--session`.
    pub session: Option<SessionMode>,
    /// `--threshold`, added to the scenario's.
    pub thresholds: Vec<String>,
    /// `--error-budget` (`10%`; `100%` turns it off).
    pub error_budget: String,
    /// `--shard`.
    pub shard: Option<Shard>,
}

/// Where one scenario's requests go, decided before any emulator is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A server: `--target` or the suite's `target:`.
    Url(Url),
    /// The built-in emulator for this profile (started by `cli`).
    Emulator(ProfileName),
}

/// `run`'s settings: the plan with each scenario's destination, and what every scenario shares.
#[derive(Debug)]
pub struct RunSettings {
    /// The text of every file read, for reports.
    pub sources: Sources,
    /// The scenarios to run (matrix expanded, filters applied, keys loaded); their targets are
    /// set by [`Self::bind`].
    pub plan: Plan,
    /// Per scenario of `plan`, in order: where it goes.
    pub destinations: Vec<Destination>,
    /// The client settings for a real target; an emulator's own certificate is trusted on top.
    pub client: ClientSettings,
    /// `--var` values; they win over suite and scenario variables.
    pub vars: BTreeMap<String, String>,
    /// The pinned "now" for time claims, seconds since the Unix epoch.
    pub now: i64,
    /// `--prefix`.
    pub prefix: Option<String>,
    /// Whether every scenario shares one client (`load`): then the emulator's certificate is
    /// only trusted when every scenario goes to an emulator.
    shared_client: bool,
}

/// `load`'s settings: the run's, the load model, thresholds and reuse policies.
#[derive(Debug)]
pub struct LoadSettings {
    /// The plan and its destinations; one client for every scenario.
    pub run: RunSettings,
    /// The load model (rate or users, stages, warm-up, limits, shard).
    pub model: Model,
    /// Every threshold, the scenario's then the command line's, then the error budget; each
    /// with its place in the YAML when it came from one.
    pub thresholds: Vec<(Threshold, Option<Located>)>,
    /// How tokens are reused.
    pub tokens: TokenStrategy,
    /// Which credential requests after the first carry.
    pub session: SessionMode,
    /// How connections are reused.
    pub connections: Connections,
    /// `--shard`, as given.
    pub shard: Option<Shard>,
}

/// An error resolving settings; `cli` maps each to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A scenario or suite file is invalid (exit 2).
    #[error(transparent)]
    Scenarios(ScenarioReadErrors),
    /// A suite's key could not be loaded (exit 3).
    #[error(transparent)]
    Keys(KeyRingError),
    /// No scenario is left after the filters (exit 1).
    #[error("no scenario matches the filters in {}", crate::diag::backticked(.paths))]
    NoScenario {
        /// The paths given.
        paths: Vec<Utf8PathBuf>,
    },
    /// A suite's `target:` is not a URL (exit 2).
    #[error("invalid `target: {target}` in suite `{suite}`")]
    SuiteTarget {
        /// The suite file.
        suite: Utf8PathBuf,
        /// The text given.
        target: String,
        /// Why it is not a URL.
        #[source]
        source: url::ParseError,
    },
    /// A flag is out of range (exit 1).
    #[error("{0}")]
    Flag(String),
    /// Neither the command line nor a `load:` block says how much load (exit 1).
    #[error("say how much load: `--rate N` (requests per second) or `--users N`")]
    NoLoad,
    /// A `load:` stage is not one the pacer runs (exit 2).
    #[error("{0}")]
    Stage(String),
    /// Thresholds that do not parse (exit 2), rendered with a caret at the bad part.
    #[error("{count} invalid load threshold{}", if *.count == 1 { "" } else { "s" })]
    Thresholds {
        /// How many.
        count: usize,
        /// The diagnostics, rendered.
        rendered: String,
    },
    /// A scenario goes to an emulator that was not started (exit 1).
    #[error("no built-in emulator for profile `{}`", .0.name())]
    NoEmulator(ProfileName),
}

/// Parses `NAME=VALUE` (the `--var` flag of `run`, `load` and `validate`).
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, found `{text}`")),
    }
}

/// Reads scenarios with the `--var` values.
pub fn read_scenarios(
    paths: &[Utf8PathBuf],
    vars: &BTreeMap<String, String>,
) -> Result<scenario::Catalog, SettingsError> {
    let options = scenario::ReadOptions {
        vars: vars.clone(),
        ..scenario::ReadOptions::default()
    };
    scenario::read_with(paths, &options).map_err(SettingsError::Scenarios)
}

/// The scenarios read with the `--var` values, and the plan built from them.
struct ReadPlan {
    vars: BTreeMap<String, String>,
    catalog: scenario::Catalog,
    plan: Plan,
}

impl ReadPlan {
    /// What `run` and `load` both resolve into, with each scenario's destination and the
    /// client; "now" is pinned here.
    fn into_settings(
        self,
        destinations: Vec<Destination>,
        client: ClientSettings,
        prefix: Option<String>,
        shared_client: bool,
    ) -> RunSettings {
        RunSettings {
            sources: self.catalog.sources,
            plan: self.plan,
            destinations,
            client,
            vars: self.vars,
            now: chrono::Utc::now().timestamp(),
            prefix,
            shared_client,
        }
    }
}

/// Reads the scenarios with the `--var` values and builds the plan; finding none is an error.
fn read_plan(input: &ScenariosInput) -> Result<ReadPlan, SettingsError> {
    let vars: BTreeMap<String, String> = input.vars.iter().cloned().collect();
    let catalog = read_scenarios(&input.paths, &vars)?;
    let plan = Plan::build(&catalog, &input.filters, &vars).map_err(SettingsError::Keys)?;
    if plan.scenarios.is_empty() {
        return Err(SettingsError::NoScenario {
            paths: input.paths.clone(),
        });
    }
    Ok(ReadPlan {
        vars,
        catalog,
        plan,
    })
}

/// Resolves `run`'s settings: reads the scenarios, builds the plan and decides where each
/// scenario goes.
pub fn resolve_run(input: &RunInput) -> Result<RunSettings, SettingsError> {
    let read = read_plan(&input.scenarios)?;
    let destinations = destinations(&read.plan, &input.scenarios.target)?;
    let client = ClientSettings {
        insecure: input.scenarios.target.insecure,
        ca_file: input.scenarios.target.ca.clone(),
        connect_timeout: input.scenarios.connect_timeout,
        timeout: input.scenarios.timeout,
        body_cap: input.body_cap,
        cookies: true,
        pool_max_idle: None,
    };
    Ok(read.into_settings(destinations, client, input.scenarios.prefix.clone(), false))
}

/// Resolves `load`'s settings: the plan and destinations as for `run`, the model from the
/// flags and the first `load:` block, and every threshold parsed (a bad one is an error
/// before anything is sent).
pub fn resolve_load(input: &LoadInput) -> Result<LoadSettings, SettingsError> {
    let read = read_plan(&input.scenarios)?;
    let block = read
        .plan
        .scenarios
        .iter()
        .find_map(|s| {
            s.scenario
                .load
                .clone()
                .or_else(|| s.context.suite.load.clone())
        })
        .unwrap_or_default();
    let model = resolve_model(input, &block)?;
    // Thresholds are parsed before anything is sent: a bad one is exit 2.
    let mut texts: Vec<Spanned<String>> = block.thresholds.clone();
    texts.extend(input.thresholds.iter().map(|t| Spanned {
        value: t.clone(),
        at: None,
    }));
    let mut thresholds = parse_thresholds(&texts)?;
    let has_error_rate = thresholds
        .iter()
        .any(|(t, _)| t.step.is_none() && t.metric == threshold::Metric::ErrorRate);
    if !has_error_rate && input.error_budget.trim() != "100%" {
        let budget = threshold::parse(&format!("error_rate <= {}", input.error_budget.trim()))
            .map_err(|e| {
                SettingsError::Flag(format!(
                    "`--error-budget` expects a share like `10%` or `0.5%`: {}",
                    e.message
                ))
            })?;
        thresholds.push((budget, None));
    }
    let destinations = destinations(&read.plan, &input.scenarios.target)?;
    // The load transport has one client for every scenario: it trusts the emulator's generated
    // certificate (ours, on loopback) when every scenario goes to an emulator, as `run` does
    // per scenario; a real target keeps `--insecure`/`--ca` as given.
    let all_on_emulators = destinations
        .iter()
        .all(|d| matches!(d, Destination::Emulator(_)));
    let client = ClientSettings {
        insecure: input.scenarios.target.insecure || all_on_emulators,
        ca_file: input.scenarios.target.ca.clone(),
        connect_timeout: input.scenarios.connect_timeout,
        timeout: input.scenarios.timeout,
        body_cap: 1024 * 1024,
        cookies: false,
        pool_max_idle: block.pool,
    };
    let tokens = match input.token.or(block.token) {
        Some(reuse) => {
            TokenStrategy::new(reuse, input.token_pool.or(block.token_pool).unwrap_or(100))
        }
        None => TokenStrategy::Shared,
    };
    Ok(LoadSettings {
        run: read.into_settings(destinations, client, input.scenarios.prefix.clone(), true),
        model,
        thresholds,
        tokens,
        session: input.session.or(block.session).unwrap_or_default(),
        connections: input.connections.or(block.connections).unwrap_or_default(),
        shard: input.shard,
    })
}

/// Where each scenario of the plan goes: `--target` wins, then its suite's `target:`, then
/// the emulator for its profile.
fn destinations(plan: &Plan, target: &TargetInput) -> Result<Vec<Destination>, SettingsError> {
    let mut out = Vec::with_capacity(plan.scenarios.len());
    for planned in &plan.scenarios {
        let suite_target = suite_target(&planned.context.suite)?;
        out.push(match (&target.target, suite_target) {
            (Some(url), _) => Destination::Url(url.clone()),
            (None, Some(url)) => Destination::Url(url),
            (None, None) => Destination::Emulator(planned.context.profile.name),
        });
    }
    Ok(out)
}

/// The `target:` of a suite, parsed.
fn suite_target(suite: &scenario::Suite) -> Result<Option<Url>, SettingsError> {
    suite
        .target
        .as_deref()
        .map(|t| {
            Url::parse(t).map_err(|source| SettingsError::SuiteTarget {
                suite: suite.path.clone(),
                target: t.to_owned(),
                source,
            })
        })
        .transpose()
}

impl RunSettings {
    /// The profiles whose emulator must be started, each once, in plan order.
    pub fn emulator_profiles(&self) -> Vec<ProfileName> {
        let mut out: Vec<ProfileName> = Vec::new();
        for d in &self.destinations {
            if let Destination::Emulator(profile) = d
                && !out.contains(profile)
            {
                out.push(*profile);
            }
        }
        out
    }

    /// Whether any scenario goes to an emulator.
    pub fn uses_emulator(&self) -> bool {
        !self.emulator_profiles().is_empty()
    }

    /// The plan with each scenario's target inside it, and the options the runner takes,
    /// given the base URL of each emulator started (`emulator_url`). An emulator's generated
    /// certificate is trusted (it is ours and on loopback); any other target keeps
    /// `--insecure`/`--ca` as given.
    pub fn bind(
        &self,
        emulator_url: impl Fn(ProfileName) -> Option<Url>,
    ) -> Result<(Plan, RunOptions), SettingsError> {
        let mut scenarios = Vec::with_capacity(self.plan.scenarios.len());
        for (planned, destination) in self.plan.scenarios.iter().zip(&self.destinations) {
            let (base_url, emulator) = match destination {
                Destination::Url(url) => (url.clone(), false),
                Destination::Emulator(profile) => (
                    emulator_url(*profile).ok_or(SettingsError::NoEmulator(*profile))?,
                    true,
                ),
            };
            let mut client = self.client.clone();
            if !self.shared_client {
                client.insecure |= emulator;
            }
            let mut planned = planned.clone();
            planned.target = Some(Arc::new(Target {
                base_url,
                emulator,
                client,
            }));
            scenarios.push(planned);
        }
        let first = scenarios
            .first()
            .and_then(|s| s.target.as_deref())
            .ok_or_else(|| SettingsError::NoScenario { paths: Vec::new() })?;
        let options = RunOptions {
            base_url: first.base_url.clone(),
            emulator: self.uses_emulator(),
            client: self.client.clone(),
            vars: self.vars.clone(),
            now: self.now,
            prefix: self.prefix.clone(),
        };
        Ok((Plan { scenarios }, options))
    }
}

fn stage_of(stage: &scenario::Stage, previous: f64) -> Result<RateStage, SettingsError> {
    match (stage.rate, stage.hold, stage.ramp_to, stage.over) {
        (Some(rate), Some(duration), None, None) => Ok(RateStage::Constant { rate, duration }),
        (None, None, Some(to), Some(over)) => Ok(RateStage::Ramp {
            from: previous,
            to,
            over,
        }),
        _ if stage.users.is_some() => Err(SettingsError::Stage(
            "user stages are not supported; use rate stages (`{rate: N, for: 10s}`, `{ramp_to: N, over: 30s}`)".to_owned(),
        )),
        _ => Err(SettingsError::Stage(
            "a load stage needs `rate` and `for`, or `ramp_to` and `over`".to_owned(),
        )),
    }
}

/// Refuses flags beyond the limits that `validate` applies to `load:` blocks.
fn check_flag_limits(input: &LoadInput) -> Result<(), SettingsError> {
    let fail = |text: String| Err(SettingsError::Flag(text));
    if let Some(rate) = input.rate
        && !(rate.is_finite() && rate > 0.0 && rate <= LoadBlock::MAX_RATE)
    {
        return fail(format!(
            "`--rate` must be above 0 and at most {} per second",
            LoadBlock::MAX_RATE
        ));
    }
    if let Some(users) = input.users
        && !(1..=LoadBlock::MAX_USERS).contains(&users)
    {
        return fail(format!(
            "`--users` must be between 1 and {}",
            LoadBlock::MAX_USERS
        ));
    }
    if input.requests == Some(0) {
        return fail("`--requests` must be at least 1".to_owned());
    }
    if let Some(d) = input.duration
        && (d.is_zero() || d > LoadBlock::MAX_DURATION)
    {
        return fail(format!(
            "`--duration` must be above 0 and at most {}",
            humantime::format_duration(LoadBlock::MAX_DURATION)
        ));
    }
    for (flag, value) in [("--warmup", input.warmup), ("--think", input.think)] {
        if value.is_some_and(|d| d > LoadBlock::MAX_WARMUP) {
            return fail(format!(
                "`{flag}` must be at most {}",
                humantime::format_duration(LoadBlock::MAX_WARMUP)
            ));
        }
    }
    if input
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
pub fn resolve_model(input: &LoadInput, block: &LoadBlock) -> Result<Model, SettingsError> {
    check_flag_limits(input)?;
    let shard = input.shard.unwrap_or_default();
    let duration = input.duration.or(block.duration);
    let requests = input.requests.or(block.requests);
    let warmup = input.warmup.or(block.warmup).unwrap_or_default();
    let rate = input.rate.or(if input.users.is_some() {
        None
    } else {
        block.rate
    });
    let users = input.users.or(block.users.map(u64::from));
    let by_users = rate.is_none()
        && (input.users.is_some()
            || (block.stages.is_empty() && block.model == Some(scenario::LoadModel::Users))
            || (block.stages.is_empty() && block.rate.is_none() && users.is_some()));
    let measured = match (duration, requests) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    if by_users {
        let users = users.unwrap_or(1);
        if users == 0 {
            return Err(SettingsError::Flag(
                "`--users` must be at least 1".to_owned(),
            ));
        }
        return Ok(Model::Users {
            users,
            think: input.think.or(block.think).unwrap_or_default(),
            duration: measured,
            requests,
            warmup,
            shard,
        });
    }
    let stages = if let Some(rate) = rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(SettingsError::Flag(
                "`--rate` must be a positive number".to_owned(),
            ));
        }
        // With only a request limit, the schedule runs until the limit is reached.
        let length = measured
            .unwrap_or_else(|| Duration::from_secs_f64(requests.unwrap_or(0) as f64 / rate + 1.0));
        vec![RateStage::Constant {
            rate,
            duration: length,
        }]
    } else if !block.stages.is_empty() {
        let mut out = Vec::new();
        let mut previous = 0.0;
        for s in &block.stages {
            let stage = stage_of(s, previous)?;
            previous = match stage {
                RateStage::Constant { rate, .. } => rate,
                RateStage::Ramp { to, .. } => to,
            };
            out.push(stage);
        }
        out
    } else {
        return Err(SettingsError::NoLoad);
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
pub fn parse_thresholds(
    texts: &[Spanned<String>],
) -> Result<Vec<(Threshold, Option<Located>)>, SettingsError> {
    let mut out = Vec::new();
    let mut rendered = String::new();
    let mut count = 0;
    for text in texts {
        match threshold::parse(&text.value) {
            Ok(t) => out.push((t, text.at.clone())),
            Err(e) => {
                count += 1;
                rendered.push_str(&render_threshold_error(&e, text));
            }
        }
    }
    if count > 0 {
        return Err(SettingsError::Thresholds { count, rendered });
    }
    Ok(out)
}

/// Renders a threshold error: at its place in the YAML file when it came from one, else
/// against the expression itself.
pub fn render_threshold_error(e: &threshold::ThresholdError, text: &Spanned<String>) -> String {
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
