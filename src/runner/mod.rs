//! Run scenarios: template → mint → send → check → capture.
//!
//! A [`Plan`] holds the scenarios to run (matrix variants expanded, filters applied), each with
//! the context of its suite: profile, identity, prefix and the keys it names, loaded once
//! ([`KeyRing`]). [`run`] walks the plan in order; each scenario gets its own
//! [`client::Client`], so its cookie jar carries the session cookie across its steps and no
//! further. Every finished step is handed to an [`EventSink`] (the console reporter prints it
//! as it happens) and collected into a [`RunResult`], already redacted.
//!
//! [`prepare`] builds the same requests and token specs once for `load`, which then only sends,
//! checks and records. The runner never imports `load`, `report` or `mock`: the emulator is
//! wired to it by `cli` and by tests, so the harness can never cheat by calling into the mock.

mod capture;
pub mod conformance;
mod expect;
mod keyring;
mod keyserver;
mod request;
pub mod result;
mod tokens;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use url::Url;

use crate::check::{self, Outcome};
use crate::client::{self, ClientSettings, Exchange};
use crate::scenario::{Profile, Scenario, Suite};

pub use keyring::{KeyRing, KeyRingError};
pub use keyserver::{KeyServer, KeyServerContent};
pub use request::{RequestError, apply_token, build_request};
pub use result::{
    RequestSummary, ResponseSummary, RunResult, ScenarioResult, StepError, StepErrorKind,
    StepResult, StepStatus, Timings, Totals,
};
pub use tokens::{PreparedToken, TokenError, build_token};

/// What a scenario runs with: the suite it belongs to and what was loaded from it.
#[derive(Debug)]
pub struct SuiteContext {
    /// The suite (a default one when the scenario has none).
    pub suite: Suite,
    /// The suite's profile, resolved.
    pub profile: Profile,
    /// The suite's keys, loaded once.
    pub keys: KeyRing,
}

/// Where one scenario's requests go and with which client settings, decided once for the
/// whole plan (`settings` does it for `run` and `load`).
#[derive(Debug, Clone)]
pub struct Target {
    /// Scheme, host and port (the prefix comes from the suite or step).
    pub base_url: Url,
    /// Whether `base_url` is the built-in emulator (reported, never acted upon).
    pub emulator: bool,
    /// The HTTP client settings for this target.
    pub client: ClientSettings,
}

/// One scenario to run (one matrix variant counts as one).
#[derive(Debug, Clone)]
pub struct PlannedScenario {
    /// The scenario, with its variant's variables merged into `vars`.
    pub scenario: Scenario,
    /// The context of its suite.
    pub context: Arc<SuiteContext>,
    /// Where this scenario goes; `None` sends it to the default target of [`RunOptions`].
    pub target: Option<Arc<Target>>,
}

/// The scenarios of a run, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The scenarios to run.
    pub scenarios: Vec<PlannedScenario>,
}

impl Plan {
    /// Builds the plan from scenarios read by [`crate::scenario::read`]: expands matrix
    /// variants, applies the filters and loads each suite's keys once.
    pub fn build(
        read: &crate::scenario::Catalog,
        filters: &Filters,
        vars: &BTreeMap<String, String>,
    ) -> Result<Self, KeyRingError> {
        let mut contexts: Vec<(*const Suite, Arc<SuiteContext>)> = Vec::new();
        let mut scenarios = Vec::new();
        for planned in read.expanded() {
            if !filters.admits(&planned.scenario) {
                continue;
            }
            let ptr = Arc::as_ptr(&planned.suite);
            let context = match contexts.iter().find(|(p, _)| *p == ptr) {
                Some((_, c)) => Arc::clone(c),
                None => {
                    // The pack's template variables (identity, leeway, audience, …) sit below
                    // the suite's own.
                    let mut suite = planned.suite.as_ref().clone();
                    for (k, v) in conformance::builtin_vars(&suite) {
                        suite.vars.entry(k).or_insert(v);
                    }
                    let suite = &suite;
                    let base = suite
                        .path
                        .parent()
                        .map(camino::Utf8Path::to_owned)
                        .unwrap_or_default();
                    let empty = BTreeMap::new();
                    let scope = Scope::new(vars, &empty, &suite.vars);
                    let keys =
                        KeyRing::load(&suite.keys, &suite.path, &base, &|n| scope.lookup(n))?;
                    let context = Arc::new(SuiteContext {
                        suite: suite.clone(),
                        profile: planned.profile.clone(),
                        keys,
                    });
                    contexts.push((ptr, Arc::clone(&context)));
                    context
                }
            };
            // A matrix label may hold a token (`replay[eyJ…]`): names are printed everywhere,
            // so they never carry one in full.
            let mut scenario = planned.scenario;
            scenario.name = crate::token::redact_in_text(&scenario.name);
            for step in &mut scenario.steps {
                step.name = crate::token::redact_in_text(&step.name);
            }
            scenarios.push(PlannedScenario {
                scenario,
                context,
                target: None,
            });
        }
        Ok(Self { scenarios })
    }
}

/// Which scenarios to run (the `--tag`, `--skip-tag` and `--name` flags of `run` and `load`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filters {
    /// Only scenarios with this tag (repeatable; all when none is given).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Skip scenarios with this tag (repeatable).
    #[arg(long = "skip-tag", value_name = "TAG")]
    pub skip_tags: Vec<String>,
    /// Only scenarios whose name contains this text (repeatable; all when none is given).
    #[arg(long = "name", value_name = "TEXT")]
    pub names: Vec<String>,
}

impl Filters {
    /// Whether a scenario passes the filters.
    pub fn admits(&self, scenario: &Scenario) -> bool {
        let tagged = self.tags.is_empty() || scenario.tags.iter().any(|t| self.tags.contains(t));
        let skipped = scenario.tags.iter().any(|t| self.skip_tags.contains(t));
        let named = self.names.is_empty() || self.names.iter().any(|n| scenario.name.contains(n));
        tagged && !skipped && named
    }
}

/// How a run behaves, for every scenario of the plan (resolved once by `settings`): the
/// default target, for scenarios of the plan that name none, and what every scenario shares.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where requests go: scheme, host and port (the prefix comes from the suite or step).
    /// The run's reported target.
    pub base_url: Url,
    /// Whether the run went to the built-in emulator (reported, never acted upon).
    pub emulator: bool,
    /// The HTTP client settings.
    pub client: ClientSettings,
    /// Variables from `--var k=v`; they win over suite and scenario variables.
    pub vars: BTreeMap<String, String>,
    /// The pinned "now" for time claims, in seconds since the Unix epoch.
    pub now: i64,
    /// Overrides every suite's prefix (`--prefix`).
    pub prefix: Option<String>,
}

impl RunOptions {
    /// The options one scenario runs with: its own target's, where the plan gives it one.
    fn for_scenario(&self, planned: &PlannedScenario) -> std::borrow::Cow<'_, Self> {
        match &planned.target {
            None => std::borrow::Cow::Borrowed(self),
            Some(target) => std::borrow::Cow::Owned(Self {
                base_url: target.base_url.clone(),
                emulator: target.emulator,
                client: target.client.clone(),
                ..self.clone()
            }),
        }
    }
}

/// Receives events as the run progresses.
pub trait EventSink {
    /// A scenario is about to run.
    fn scenario_started(&mut self, _scenario: &PlannedScenario) {}
    /// A step finished.
    fn step_finished(&mut self, _scenario: &PlannedScenario, _step: &StepResult) {}
    /// A scenario finished.
    fn scenario_finished(&mut self, _result: &ScenarioResult) {}
}

/// An event sink that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {}

/// Variables visible to templates, looked up in order: captures, `--var`, the matrix
/// variant and scenario `vars`, suite `vars`, then the process environment.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    captures: BTreeMap<String, String>,
    cli: &'a BTreeMap<String, String>,
    scenario: &'a BTreeMap<String, String>,
    suite: &'a BTreeMap<String, String>,
}

impl<'a> Scope<'a> {
    /// A scope without captures.
    pub fn new(
        cli: &'a BTreeMap<String, String>,
        scenario: &'a BTreeMap<String, String>,
        suite: &'a BTreeMap<String, String>,
    ) -> Self {
        Self {
            captures: BTreeMap::new(),
            cli,
            scenario,
            suite,
        }
    }

    /// The value of a variable.
    pub fn lookup(&self, name: &str) -> Option<String> {
        self.captures
            .get(name)
            .or_else(|| self.cli.get(name))
            .or_else(|| self.scenario.get(name))
            .or_else(|| self.suite.get(name))
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .or_else(|| match name {
                // Built-ins for claims that must differ per token (Qlik Cloud's `jti`).
                "uuid" => Some(uuid::Uuid::new_v4().to_string()),
                _ => None,
            })
    }

    /// Renders a template string in this scope.
    pub fn render(&self, text: &str) -> Result<String, crate::scenario::template::TemplateError> {
        crate::scenario::template::render(text, |name| self.lookup(name))
    }

    /// Records a captured value.
    pub fn capture(&mut self, name: &str, value: String) {
        self.captures.insert(name.to_owned(), value);
    }
}

/// Renders templates inside scenario variables once per scenario run, so `${uuid}` in a
/// variable gives one value that every step of the run shares. A variable whose template
/// cannot be rendered keeps its text (the step that uses it reports the error).
fn resolve_vars(
    scenario: &BTreeMap<String, String>,
    cli: &BTreeMap<String, String>,
    suite: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let empty = BTreeMap::new();
    let outer = Scope::new(cli, &empty, suite);
    scenario
        .iter()
        .map(|(k, v)| (k.clone(), outer.render(v).unwrap_or_else(|_| v.clone())))
        .collect()
}

/// Runs every scenario of the plan in order and returns the redacted results.
pub async fn run(plan: &Plan, options: &RunOptions, events: &mut dyn EventSink) -> RunResult {
    run_until(plan, options, events, std::future::pending()).await
}

/// As [`run`], until `stop` resolves with the name of what stopped it (`SIGINT`): the scenario
/// in flight then ends with an error for its running step and the rest skipped, no further
/// scenario starts, and the result is marked interrupted. A `stop` already resolved before
/// the first scenario runs nothing.
pub async fn run_until(
    plan: &Plan,
    options: &RunOptions,
    events: &mut dyn EventSink,
    stop: impl std::future::Future<Output = &'static str>,
) -> RunResult {
    let started = Instant::now();
    let mut scenarios = Vec::with_capacity(plan.scenarios.len());
    tokio::pin!(stop);
    let already = tokio::select! {
        biased;
        signal = &mut stop => Some(signal),
        () = std::future::ready(()) => None,
    };
    let mut interrupted = already.is_some();
    // One loopback key server per suite with conformance scenarios, started when its first
    // one runs.
    let mut key_servers: Vec<(Arc<SuiteContext>, Option<KeyServer>)> = Vec::new();
    let to_run: &[PlannedScenario] = if interrupted { &[] } else { &plan.scenarios };
    for planned in to_run {
        let options = options.for_scenario(planned);
        let key_server = if planned.scenario.conformance.is_some() {
            let at = match key_servers
                .iter()
                .position(|(suite, _)| Arc::ptr_eq(suite, &planned.context))
            {
                Some(at) => at,
                None => {
                    let server = start_key_server(&planned.context.suite).await;
                    key_servers.push((Arc::clone(&planned.context), server));
                    key_servers.len() - 1
                }
            };
            key_servers[at].1.as_ref()
        } else {
            None
        };
        events.scenario_started(planned);
        let mut recorder = Recorder {
            inner: &mut *events,
            steps: Vec::new(),
        };
        let scenario_started = Instant::now();
        let outcome = tokio::select! {
            biased;
            signal = &mut stop => Err(signal),
            result = run_scenario(planned, &options, key_server, &mut recorder) => Ok(result),
        };
        let result = outcome.unwrap_or_else(|signal| {
            interrupted = true;
            interrupted_scenario(planned, recorder.steps, scenario_started, signal)
        });
        events.scenario_finished(&result);
        scenarios.push(result);
        if interrupted {
            break;
        }
    }
    let conformance = conformance::report(&scenarios);
    RunResult {
        target: options.base_url.to_string(),
        emulator: options.emulator,
        now: options.now,
        scenarios,
        duration: started.elapsed(),
        conformance,
        interrupted,
    }
}

/// Forwards events and keeps the steps of the scenario in flight, so that an interrupted
/// scenario is reported with what it did.
struct Recorder<'a> {
    inner: &'a mut dyn EventSink,
    steps: Vec<StepResult>,
}

impl EventSink for Recorder<'_> {
    fn scenario_started(&mut self, scenario: &PlannedScenario) {
        self.inner.scenario_started(scenario);
    }
    fn step_finished(&mut self, scenario: &PlannedScenario, step: &StepResult) {
        self.steps.push(step.clone());
        self.inner.step_finished(scenario, step);
    }
    fn scenario_finished(&mut self, result: &ScenarioResult) {
        self.inner.scenario_finished(result);
    }
}

/// The result of a scenario stopped by `signal`: the steps that finished, an error for the
/// step in flight and the rest skipped.
fn interrupted_scenario(
    planned: &PlannedScenario,
    finished: Vec<StepResult>,
    started: Instant,
    signal: &str,
) -> ScenarioResult {
    let scenario = &planned.scenario;
    let mut steps = finished;
    for (i, step) in scenario.steps.iter().enumerate().skip(steps.len()) {
        let status = if i == steps.len() {
            StepStatus::Error(StepError::new(
                StepErrorKind::Interrupted,
                format!("interrupted by {signal} while this step was running"),
                step.at.clone(),
            ))
        } else {
            StepStatus::Skipped {
                reason: format!("the run was interrupted by {signal}"),
            }
        };
        steps.push(StepResult {
            name: step.name.clone(),
            status,
            request: None,
            response: None,
            timings: None,
            duration: Duration::ZERO,
        });
    }
    // An interrupted scenario decides nothing about its property.
    scenario_result(scenario, steps, started)
}

/// The result of `scenario` with these steps, timed from `started`, before any conformance
/// verdict.
fn scenario_result(
    scenario: &Scenario,
    steps: Vec<StepResult>,
    started: Instant,
) -> ScenarioResult {
    ScenarioResult {
        name: scenario.name.clone(),
        path: scenario.path.clone(),
        tags: scenario.tags.clone(),
        steps,
        duration: started.elapsed(),
        conformance: None,
    }
}

/// Starts the loopback key server for a suite's conformance scenarios, serving the files its
/// `key_server` names (an empty key set without). `None` when the port cannot be bound (the
/// `jku`/`x5u` variants then report errors).
async fn start_key_server(suite: &Suite) -> Option<KeyServer> {
    let mut content = KeyServerContent {
        jwks: "{\"keys\":[]}".to_owned(),
        certificate: String::new(),
    };
    let files = suite
        .conformance
        .as_ref()
        .and_then(|c| c.key_server.as_ref())
        .map(|files| {
            let base = suite
                .path
                .parent()
                .map(camino::Utf8Path::to_owned)
                .unwrap_or_default();
            (base.join(&files.jwks), base.join(&files.certificate))
        });
    if let Some((jwks, cert)) = files {
        content.jwks = fs_err::read_to_string(&jwks).unwrap_or(content.jwks);
        content.certificate = fs_err::read_to_string(&cert).unwrap_or_default();
    }
    KeyServer::start(content).await.ok()
}

/// Runs the steps of one scenario with its own client (and cookie jar).
async fn run_scenario(
    planned: &PlannedScenario,
    settings: &RunOptions,
    key_server: Option<&KeyServer>,
    events: &mut dyn EventSink,
) -> ScenarioResult {
    let started = Instant::now();
    let scenario = &planned.scenario;
    let ctx = &planned.context;
    let scenario_vars = resolve_vars(&scenario.vars, &settings.vars, &ctx.suite.vars);
    let mut scope = Scope::new(&settings.vars, &scenario_vars, &ctx.suite.vars);
    if let Some(server) = key_server {
        scope.capture("key_server", server.url.clone());
    }
    let mut steps = Vec::with_capacity(scenario.steps.len());
    let client = client::Client::new(&settings.client);
    let mut blocked: Option<String> = None;
    let not_applicable = scenario.conformance.as_ref().and_then(|p| {
        let render = |t: &str| scope.render(t).unwrap_or_else(|_| t.to_owned());
        let is_policy = conformance::policy_reason(p, &ctx.suite, &ctx.profile).is_some();
        conformance::not_applicable(p, &ctx.suite, is_policy, &render)
    });
    if let Some(why) = &not_applicable {
        blocked = Some(format!("not applicable: {why}"));
    }
    let fetches_before = key_server.map_or(0, KeyServer::fetches);
    let mut missing: Vec<String> = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let step_started = Instant::now();
        let result = if let Some(reason) = &blocked {
            StepResult {
                name: step.name.clone(),
                status: StepStatus::Skipped {
                    reason: reason.clone(),
                },
                request: None,
                response: None,
                timings: None,
                duration: Duration::ZERO,
            }
        } else {
            match &client {
                Ok(client) => {
                    run_step(planned, index, client, settings, &mut scope, step_started).await
                }
                Err(e) => error_step(
                    step,
                    StepError::new(StepErrorKind::Client, error_text(e), step.at.clone()),
                    None,
                    step_started,
                ),
            }
        };
        // A step that needs a capture that found nothing is skipped, not an error.
        let result = match (&result.status, missing.is_empty()) {
            (StepStatus::Error(error), false) => {
                match missing
                    .iter()
                    .find(|m| error.message.contains(&format!("unknown variable `{m}`")))
                {
                    Some(name) => StepResult {
                        status: StepStatus::Skipped {
                            reason: format!("it needs capture `{name}`, which found nothing"),
                        },
                        ..result
                    },
                    None => result,
                }
            }
            _ => result,
        };
        if matches!(result.status, StepStatus::Error(_)) && blocked.is_none() {
            blocked = Some(format!("step `{}` could not run", step.name));
        }
        missing.extend(missing_captures(step, &result));
        events.step_finished(planned, &result);
        steps.push(result);
    }
    let mut result = scenario_result(scenario, steps, started);
    if let Some(property) = &scenario.conformance {
        let policy = conformance::policy_reason(property, &ctx.suite, &ctx.profile);
        let fetches = key_server.map_or(0, KeyServer::fetches) - fetches_before;
        let finding = match not_applicable {
            Some(why) => conformance::ScenarioFinding {
                property: property.clone(),
                outcome: conformance::Verdict::NotApplicable,
                note: Some(why),
                policy: policy.clone(),
                evidence: Vec::new(),
            },
            None => conformance::finding(property, policy.clone(), &result, fetches),
        };
        // The product's documented policy is not a failure of the run: the verdict says
        // `policy` and the evidence what the target did.
        if policy.is_some() {
            for step in &mut result.steps {
                if matches!(step.status, StepStatus::Failed { .. }) {
                    step.status = StepStatus::Passed;
                }
            }
        }
        result.conformance = Some(finding);
    }
    result
}

/// Runs one step: build the token and request, send, check, capture.
async fn run_step(
    planned: &PlannedScenario,
    index: usize,
    client: &client::Client,
    settings: &RunOptions,
    scope: &mut Scope<'_>,
    started: Instant,
) -> StepResult {
    let scenario = &planned.scenario;
    let ctx = &planned.context;
    let step = &scenario.steps[index];
    let token = match build_token(ctx, scenario, step, scope, settings.now) {
        Ok(t) => t,
        Err(e) => {
            // The innermost token block written: the step's, the scenario's, else the suite's
            // defaults (in `suite.yaml`).
            let at = step
                .token_at
                .clone()
                .or_else(|| scenario.token_at.clone())
                .or_else(|| ctx.suite.defaults.token_at.clone())
                .or_else(|| step.at.clone());
            let error = StepError::new(StepErrorKind::Token, error_text(&e), at);
            return error_step(step, error, None, started);
        }
    };
    let request = match build_request(ctx, step, scope, settings, token.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            let at = step.request_at.clone().or_else(|| step.at.clone());
            let error = StepError::new(StepErrorKind::Request, error_text(&e), at);
            return error_step(step, error, None, started);
        }
    };
    let summary = summarize_request(&request, token.as_ref().map(|t| t.compact.as_str()));
    let exchange = match client.send(request).await {
        Ok(x) => x,
        Err(e) => {
            let kind = StepErrorKind::Send(e.class());
            let error = StepError::new(kind, error_text(&e), step.at.clone());
            return error_step(step, error, Some(summary), started);
        }
    };
    let response = check::Response {
        status: exchange.status,
        headers: &exchange.headers,
        body: &exchange.body,
        elapsed: exchange.elapsed,
    };
    let expect = match expect::render_expect(&step.expect, scope) {
        Ok(e) => e,
        Err((e, at)) => {
            let at = at.or_else(|| step.at.clone());
            let error = StepError::new(StepErrorKind::Expect, error_text(&e), at);
            return error_step(step, error, Some(summary), started);
        }
    };
    let mut outcomes = check::evaluate(&expect, &response, &ctx.profile);
    // A capture that finds nothing is a failed check of this step (the target answered
    // otherwise), not a runtime error; the steps that need it are skipped.
    for (name, message) in capture(step, &exchange, scope) {
        outcomes.push(Outcome {
            check: format!("capture `{name}`"),
            passed: false,
            expected: "a value in the response".to_owned(),
            actual: crate::token::redact_in_text(&message),
            at: step.at.clone(),
        });
    }
    let status = if outcomes.iter().all(|o| o.passed) {
        StepStatus::Passed
    } else {
        StepStatus::Failed { outcomes }
    };
    StepResult {
        name: step.name.clone(),
        status,
        request: Some(summary),
        response: Some(summarize_response(&exchange)),
        timings: Some(Timings::new(
            exchange.started,
            exchange.ttfb,
            exchange.elapsed,
        )),
        duration: started.elapsed(),
    }
}

/// A step that could not run.
fn error_step(
    step: &crate::scenario::Step,
    error: StepError,
    request: Option<RequestSummary>,
    started: Instant,
) -> StepResult {
    StepResult {
        name: step.name.clone(),
        status: StepStatus::Error(error),
        request,
        response: None,
        timings: None,
        duration: started.elapsed(),
    }
}

/// An error and its causes, one per line.
pub fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push('\n');
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Applies a step's captures to the scope; returns the name and a message for each capture
/// that found nothing.
fn capture(
    step: &crate::scenario::Step,
    exchange: &Exchange,
    scope: &mut Scope<'_>,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for (name, spec) in &step.capture {
        match capture::capture(spec, &exchange.headers, &exchange.body) {
            Ok(Some(value)) => scope.capture(name, value),
            Ok(None) => errors.push((name.clone(), "nothing found".to_owned())),
            Err(e) => errors.push((name.clone(), e)),
        }
    }
    errors
}

/// The captures a failed step left unset, for skipping the steps that need them.
fn missing_captures(step: &crate::scenario::Step, result: &StepResult) -> Vec<String> {
    match &result.status {
        StepStatus::Failed { outcomes } => step
            .capture
            .keys()
            .filter(|name| {
                outcomes
                    .iter()
                    .any(|o| !o.passed && o.check == format!("capture `{name}`"))
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// A redacted summary of a request.
pub fn summarize_request(request: &client::Request, token: Option<&str>) -> RequestSummary {
    let mut url = request.url.to_string();
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        url = url.replace(t, &crate::token::redact(t));
    }
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (
                name.as_str().to_owned(),
                redact_header(name.as_str(), &value, token),
            )
        })
        .collect();
    RequestSummary {
        method: request.method.to_string(),
        url,
        headers,
        token: token.map(crate::token::redact),
    }
}

pub use crate::token::redact::{redact_cookies, redact_header};

/// A redacted summary of a response.
pub fn summarize_response(exchange: &Exchange) -> ResponseSummary {
    let headers = exchange
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (
                name.as_str().to_owned(),
                redact_header(name.as_str(), &value, None),
            )
        })
        .collect();
    let excerpt_len = exchange.body.len().min(2048);
    ResponseSummary {
        status: exchange.status,
        headers,
        body_excerpt: String::from_utf8_lossy(&exchange.body[..excerpt_len]).into_owned(),
        body_len: exchange.body.len(),
    }
}

/// One step prepared for load: the request without its token, the token to mint, the checks.
#[derive(Debug, Clone)]
pub struct PreparedStep {
    /// The step's name.
    pub name: String,
    /// The request; the token is added per send with [`apply_token`].
    pub request: client::Request,
    /// The token to send, minted once here; `load` may mint others from `spec`.
    pub token: Option<PreparedToken>,
    /// The step's checks.
    pub expect: crate::scenario::Expect,
}

/// A scenario prepared for load.
#[derive(Debug, Clone)]
pub struct PreparedScenario {
    /// The scenario's name.
    pub name: String,
    /// The scenario file.
    pub path: Utf8PathBuf,
    /// The suite's profile (what counts as an auth reject).
    pub profile: Profile,
    /// The suite's identity claim names, for token pools of distinct users.
    pub identity: crate::scenario::Identity,
    /// The steps, in order.
    pub steps: Vec<PreparedStep>,
    /// The scenario's (or its suite's) load block.
    pub load: Option<crate::scenario::LoadBlock>,
}

/// An error preparing a scenario for load.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A token could not be built.
    #[error("failed to prepare the token of step `{step}` of scenario `{scenario}`")]
    Token {
        /// The scenario.
        scenario: String,
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: TokenError,
    },
    /// A request could not be built.
    #[error("failed to prepare the request of step `{step}` of scenario `{scenario}`")]
    Request {
        /// The scenario.
        scenario: String,
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: RequestError,
    },
}

/// Builds every request and token of the plan once, for `load`. Captures cannot be resolved
/// ahead of time, so a step whose request uses a capture keeps the `${name}` text only where
/// the template has a default; otherwise preparation fails naming the step.
pub fn prepare(plan: &Plan, settings: &RunOptions) -> Result<Vec<PreparedScenario>, PrepareError> {
    let mut out = Vec::with_capacity(plan.scenarios.len());
    for planned in &plan.scenarios {
        let settings = &*settings.for_scenario(planned);
        let scenario = &planned.scenario;
        let ctx = &planned.context;
        let scenario_vars = resolve_vars(&scenario.vars, &settings.vars, &ctx.suite.vars);
        let scope = Scope::new(&settings.vars, &scenario_vars, &ctx.suite.vars);
        let mut steps = Vec::with_capacity(scenario.steps.len());
        for step in &scenario.steps {
            let token =
                build_token(ctx, scenario, step, &scope, settings.now).map_err(|source| {
                    PrepareError::Token {
                        scenario: scenario.name.clone(),
                        step: step.name.clone(),
                        source,
                    }
                })?;
            let request = build_request(ctx, step, &scope, settings, None).map_err(|source| {
                PrepareError::Request {
                    scenario: scenario.name.clone(),
                    step: step.name.clone(),
                    source,
                }
            })?;
            steps.push(PreparedStep {
                name: step.name.clone(),
                request,
                token,
                expect: step.expect.clone(),
            });
        }
        out.push(PreparedScenario {
            name: scenario.name.clone(),
            path: scenario.path.clone(),
            profile: ctx.profile.clone(),
            identity: ctx.suite.identity.clone(),
            steps,
            load: scenario.load.clone().or_else(|| ctx.suite.load.clone()),
        });
    }
    Ok(out)
}

/// Whether any outcome failed (for callers that only need a yes/no).
pub fn any_failed(outcomes: &[Outcome]) -> bool {
    outcomes.iter().any(|o| !o.passed)
}
