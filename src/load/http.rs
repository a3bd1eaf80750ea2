//! The HTTP transport: prepared scenario steps sent by virtual users.
//!
//! [`HttpTransport::new`] takes scenarios prepared once by [`runner::prepare`] (URL, headers,
//! token) and compiles each step's checks ([`CompiledExpect`]); the hot path sends, checks and
//! reports. Nothing is rendered or parsed per request.
//!
//! `http://` and `https://` steps go through a lean HTTP/1.1 client (httparse, and rustls for
//! TLS; `client::lean`, whose docs say why): each user keeps the step's request with its token
//! applied and only rebuilds it when the token changes, so a request is one write of prebuilt
//! bytes. Steps that follow redirects go through [`Client`] (reqwest), one per user when
//! connections are per user; the per-user clients are only built when such a step exists.
//!
//! - Connections ([`Connections`]): one connection (or client) per virtual user, one shared
//!   pool, or a new connection per request (`pool_max_idle = 0`).
//! - Tokens ([`TokenStrategy`]): the prepared token for everyone; a pool of distinct users
//!   minted before the timed phase (the user claim gets a `-N` suffix); a fresh token per
//!   request; or the user's token re-minted ahead of its `exp`. Minting in the timed phase is
//!   recorded in its own histogram, before the send time, so it never counts as latency.
//!   Re-minted tokens keep their lifetime: `exp`, `nbf` and `iat` move by the time elapsed
//!   since the scenario's pinned "now".
//! - Session ([`SessionMode`]): `bearer` sends the token on every request and never a cookie
//!   (every request exercises verification); `cookie` sends the token until the user holds a
//!   session cookie, then only the cookie. Each user keeps its own cookies whatever the
//!   connection policy, and the two kinds of request are separate series.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::engine::{Sent, Transport};
use super::stats::{self, Recorder, SampleOutcome, SeriesKey};
use crate::check::{self, CompiledExpect};
use crate::client::tls::LeanTls;
use crate::client::{self, Client, ClientSettings, ErrorClass, lean};
use crate::jose::SignatureMode;
use crate::runner::{self, PreparedScenario, PreparedToken};
use crate::scenario::{Connections, Profile, SessionMode, TokenReuse};
use crate::token::{self, Minter, Part, TokenSpec};

/// How tokens are reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenStrategy {
    /// The step's prepared token on every request.
    #[default]
    Shared,
    /// This many distinct users, minted before the timed phase. In cookie mode virtual user
    /// `i` is pool user `i % n`; in bearer mode the users walk the whole pool, one token per
    /// iteration of their steps, so all `n` users are used.
    Pool(usize),
    /// A new token for every request.
    Fresh,
    /// Each user's token re-minted ahead of its `exp`.
    Refresh,
}

impl TokenStrategy {
    /// The strategy for a reuse policy; `pool` is the size of a pool (ignored otherwise).
    pub fn new(reuse: TokenReuse, pool: usize) -> Self {
        match reuse {
            TokenReuse::Shared => Self::Shared,
            TokenReuse::Pool => Self::Pool(pool),
            TokenReuse::Fresh => Self::Fresh,
            TokenReuse::Refresh => Self::Refresh,
        }
    }
}

/// Settings of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Client settings (TLS, timeouts); cookies are handled per user, not by the client.
    pub client: ClientSettings,
    /// Connection policy.
    pub connections: Connections,
    /// Token strategy.
    pub tokens: TokenStrategy,
    /// Session mode.
    pub session: SessionMode,
    /// The "now" the prepared tokens were minted at, seconds since the Unix epoch.
    pub pinned_now: i64,
}

/// An error preparing the HTTP transport.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client for load")]
    Client(#[source] client::ClientError),
    /// TLS for the lean client could not be set up.
    #[error("failed to set up TLS for load")]
    Tls(#[source] client::tls::TlsError),
    /// There is nothing to send.
    #[error("the scenarios have no steps to send")]
    NoSteps,
    /// A token strategy needs claims that a step's token does not have.
    #[error(
        "token strategy `{strategy}` needs a token minted from claims, but step `{step}` sends a raw token"
    )]
    RawToken {
        /// The strategy.
        strategy: &'static str,
        /// The step.
        step: String,
    },
    /// Minting the token pool failed.
    #[error("failed to mint the token pool for step `{step}`")]
    Mint {
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: token::MintError,
    },
}

/// What the hot path needs to mint a token.
struct MintPlan {
    minter: Option<Minter>,
    spec: TokenSpec,
    claims: Option<Map<String, Value>>,
    pinned_now: i64,
}

impl MintPlan {
    fn new(spec: &TokenSpec, pinned_now: i64) -> Self {
        let minter = (spec.signature == SignatureMode::Valid)
            .then(|| {
                Minter::with_header(&spec.header, spec.sign_alg, &spec.signer, spec.encoding).ok()
            })
            .flatten();
        let claims = match &spec.payload {
            Part::Json(map) => Some(map.clone()),
            Part::Raw(_) => None,
        };
        Self {
            minter,
            spec: spec.clone(),
            claims,
            pinned_now,
        }
    }

    /// Mints with the time claims moved to now and `edit` applied; returns the token and its
    /// `exp`.
    fn mint(
        &self,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(String, Option<i64>), token::MintError> {
        let Some(claims) = &self.claims else {
            return Ok((token::mint(&self.spec)?.into_exposed(), None));
        };
        let mut claims = claims.clone();
        let delta = unix_now() - self.pinned_now;
        for name in ["exp", "nbf", "iat"] {
            if let Some(v) = claims.get(name).and_then(Value::as_i64) {
                claims.insert(name.to_owned(), Value::from(v + delta));
            }
        }
        edit(&mut claims);
        let exp = claims.get("exp").and_then(Value::as_i64);
        let token = match &self.minter {
            Some(minter) => minter.mint(&claims)?,
            None => {
                let mut spec = self.spec.clone();
                spec.payload = Part::Json(claims);
                token::mint(&spec)?
            }
        };
        Ok((token.into_exposed(), exp))
    }

    /// How long before `exp` a refreshed token is re-minted: a fifth of its lifetime, between
    /// 1 s and 30 s.
    fn lead(&self) -> i64 {
        let claims = self.claims.as_ref();
        let exp = claims.and_then(|c| c.get("exp")).and_then(Value::as_i64);
        let iat = claims
            .and_then(|c| c.get("iat"))
            .and_then(Value::as_i64)
            .unwrap_or(self.pinned_now);
        exp.map_or(30, |e| ((e - iat) / 5).clamp(1, 30))
    }
}

enum TokenSource {
    /// Tokens minted before the run: the shared token, or the pool (see
    /// [`HttpUser::pool_slot`] for which one a user takes).
    Fixed(Vec<Arc<str>>),
    /// A new token per request.
    Fresh(MintPlan),
    /// The prepared token, re-minted per user ahead of `exp`.
    Refresh(MintPlan, Arc<str>, Option<i64>),
}

struct StepPlan {
    request: client::Request,
    /// The request without a token for the lean client; `None` when it needs [`Client`].
    lean: Option<lean::Prepared>,
    token: Option<(PreparedToken, TokenSource)>,
    check: CompiledExpect,
    /// The response's headers are read (by checks, or for the session cookie).
    reads_headers: bool,
    reject: Vec<u16>,
    profile: Arc<Profile>,
    /// Series indices: bearer, cookie.
    series: [usize; 2],
}

/// The HTTP transport (see the module docs).
pub struct HttpTransport {
    scenarios: Vec<Vec<StepPlan>>,
    keys: Arc<[SeriesKey]>,
    shared: Client,
    /// Some step needs [`Client`] (redirects followed).
    needs_client: bool,
    /// Idle lean connections shared by every user ([`Connections::Shared`]).
    pool: lean::Pool,
    /// TLS for the lean client's `https://` steps (built only when there is one).
    tls: Option<LeanTls>,
    /// The next block of token-pool slots to hand out (bearer mode walks the whole pool).
    pool_cursor: AtomicUsize,
    settings: HttpSettings,
}

/// Pool slots a user reserves at once, so that walking the pool rarely touches the shared
/// cursor.
const POOL_BLOCK: usize = 64;

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("series", &self.keys)
            .field("connections", &self.settings.connections)
            .field("tokens", &self.settings.tokens)
            .field("session", &self.settings.session)
            .finish_non_exhaustive()
    }
}

/// One virtual user of the HTTP transport.
pub struct HttpUser {
    client: Client,
    scenario: usize,
    step: usize,
    cookies: BTreeMap<String, String>,
    /// The `Cookie` header built from `cookies`, rebuilt when they change.
    cookie_header: Option<http::HeaderValue>,
    /// Per step of its scenario: the user's current token and its `exp` (refresh strategy).
    tokens: Vec<Option<(Arc<str>, Option<i64>)>>,
    /// Per step: the lean request with the token it was built for.
    bearer: Vec<Option<(Arc<str>, lean::Prepared)>>,
    /// The user's own idle lean connections ([`Connections::PerUser`]).
    idle: Vec<lean::Conn>,
    /// Which token of the pool this iteration of the steps sends. In cookie mode a virtual
    /// user is one person: slot `index`, always. In bearer mode every request opens its own
    /// session anyway, so each iteration takes the next slot (first its index, then slots
    /// from reserved blocks), and a run of more requests than the pool has uses every one of
    /// its users, however few virtual users there are.
    pool_slot: usize,
    /// The user's reserved block of slots: the next one and the end.
    pool_block: (usize, usize),
    /// Whether the user has begun an iteration of its steps.
    iterated: bool,
    /// The lean client's total-timeout timer, reset for each request.
    timer: lean::Timer,
}

/// The step labels of prepared scenarios, as series and thresholds name them: the step name
/// when it is unique across the scenarios, else `scenario/step`; control characters from the
/// scenario file are escaped, since every report prints the labels.
pub(crate) fn step_labels(scenarios: &[PreparedScenario]) -> Vec<Vec<String>> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for s in scenarios {
        for step in &s.steps {
            *count.entry(step.name.as_str()).or_insert(0) += 1;
        }
    }
    scenarios
        .iter()
        .map(|s| {
            s.steps
                .iter()
                .map(|step| {
                    if count[step.name.as_str()] > 1 {
                        format!(
                            "{}/{}",
                            crate::diag::printable(&s.name),
                            crate::diag::printable(&step.name)
                        )
                    } else {
                        crate::diag::printable(&step.name).into_owned()
                    }
                })
                .collect()
        })
        .collect()
}

impl HttpTransport {
    /// Prepares the transport: compiles checks, builds the shared client and mints a token
    /// pool when asked to.
    pub fn new(scenarios: &[PreparedScenario], settings: HttpSettings) -> Result<Self, HttpError> {
        let labels = step_labels(scenarios);
        let mut keys = Vec::new();
        let mut plans = Vec::new();
        for (scenario, labels) in scenarios.iter().zip(&labels) {
            let profile = Arc::new(scenario.profile.clone());
            let reject = profile
                .status("reject")
                .map(<[u16]>::to_vec)
                .unwrap_or_default();
            let mut steps = Vec::new();
            for (step, label) in scenario.steps.iter().zip(labels) {
                let series = [keys.len(), keys.len() + 1];
                keys.push(SeriesKey::new(label.clone(), SessionMode::Bearer));
                keys.push(SeriesKey::new(label.clone(), SessionMode::Cookie));
                let token = match &step.token {
                    None => None,
                    Some(prepared) => Some((
                        prepared.clone(),
                        token_source(prepared, &scenario.identity, label, &settings)?,
                    )),
                };
                let check = CompiledExpect::new(&step.expect);
                let reads_headers =
                    check.reads_headers() || settings.session == SessionMode::Cookie;
                steps.push(StepPlan {
                    lean: lean_prepared(&step.request, &settings, reads_headers),
                    request: step.request.clone(),
                    token,
                    check,
                    reads_headers,
                    reject: reject.clone(),
                    profile: Arc::clone(&profile),
                    series,
                });
            }
            if !steps.is_empty() {
                plans.push(steps);
            }
        }
        if plans.is_empty() {
            return Err(HttpError::NoSteps);
        }
        let mut client_settings = settings.client.clone();
        client_settings.cookies = false;
        if settings.connections == Connections::PerRequest {
            client_settings.pool_max_idle = Some(0);
        }
        let shared = Client::new(&client_settings).map_err(HttpError::Client)?;
        let needs_client = plans.iter().flatten().any(|p| p.lean.is_none());
        let tls = if plans
            .iter()
            .flatten()
            .any(|p| p.request.url.scheme() == "https")
        {
            Some(LeanTls::new(&client_settings).map_err(HttpError::Tls)?)
        } else {
            None
        };
        Ok(Self {
            scenarios: plans,
            keys: Arc::from(keys),
            shared,
            needs_client,
            pool: lean::Pool::default(),
            tls,
            pool_cursor: AtomicUsize::new(0),
            settings: HttpSettings {
                client: client_settings,
                ..settings
            },
        })
    }

    fn token_for(
        &self,
        user: &mut HttpUser,
        plan: &StepPlan,
        step: usize,
        recorder: &Recorder,
    ) -> Option<Result<Arc<str>, ()>> {
        let (_, source) = plan.token.as_ref()?;
        Some(match source {
            TokenSource::Fixed(tokens) => Ok(Arc::clone(&tokens[user.pool_slot % tokens.len()])),
            TokenSource::Fresh(mint) => {
                let t0 = Instant::now();
                let minted = mint.mint(|_| {});
                recorder.record_mint(t0.elapsed());
                minted.map(|(t, _)| Arc::from(t)).map_err(|_| ())
            }
            TokenSource::Refresh(mint, initial, initial_exp) => {
                let slot = &mut user.tokens[step];
                let (current, exp) =
                    slot.get_or_insert_with(|| (Arc::clone(initial), *initial_exp));
                let due = exp.is_some_and(|e| unix_now() >= e - mint.lead());
                if due {
                    let t0 = Instant::now();
                    let minted = mint.mint(|_| {});
                    recorder.record_mint(t0.elapsed());
                    match minted {
                        Ok((t, e)) => {
                            *current = Arc::from(t);
                            *exp = e;
                        }
                        Err(_) => return Some(Err(())),
                    }
                }
                Ok(Arc::clone(current))
            }
        })
    }
}

impl HttpTransport {
    /// Moves a bearer-mode user to its next token-pool slot for its next iteration.
    fn next_pool_slot(&self, user: &mut HttpUser) {
        if self.settings.session != SessionMode::Bearer
            || !matches!(self.settings.tokens, TokenStrategy::Pool(n) if n > 1)
        {
            return;
        }
        let (next, end) = &mut user.pool_block;
        if next == end {
            let start = self.pool_cursor.fetch_add(POOL_BLOCK, Ordering::Relaxed);
            (*next, *end) = (start, start + POOL_BLOCK);
        }
        user.pool_slot = *next;
        *next += 1;
    }

    /// What a response means for the step (passed, auth reject, failed check); in cookie
    /// session mode the user also keeps its cookies. Both clients' responses end here.
    fn settle(
        &self,
        user: &mut HttpUser,
        plan: &StepPlan,
        response: &check::Response<'_>,
    ) -> SampleOutcome {
        let outcome = judge(plan, response);
        if self.settings.session == SessionMode::Cookie {
            user.absorb_cookies(response.headers);
        }
        outcome
    }

    /// Sends a step through the lean client (see the module docs).
    #[expect(
        clippy::too_many_arguments,
        reason = "the hot path's state, passed apart to keep borrows disjoint"
    )]
    async fn send_lean(
        &self,
        user: &mut HttpUser,
        plan: &StepPlan,
        plain: &lean::Prepared,
        step: usize,
        by_cookie: bool,
        series: usize,
        recorder: &Recorder,
    ) -> Sent {
        // The request with the user's token, rebuilt only when the token changed.
        let with_token = if by_cookie {
            false
        } else {
            match self.token_for(user, plan, step, recorder) {
                None => false,
                Some(Err(())) => return unsent(series),
                Some(Ok(token)) => {
                    let cached = user.bearer[step]
                        .as_ref()
                        .is_some_and(|(t, _)| Arc::ptr_eq(t, &token));
                    if !cached {
                        let mut request = plan.request.clone();
                        let built = plan.token.as_ref().and_then(|(prepared, _)| {
                            runner::apply_token(&mut request, prepared, &token).ok()?;
                            lean_prepared(&request, &self.settings, plan.reads_headers)
                        });
                        let Some(built) = built else {
                            return unsent(series);
                        };
                        user.bearer[step] = Some((token, built));
                    }
                    true
                }
            }
        };
        let conn = match self.settings.connections {
            Connections::PerUser => lean::take_idle(&mut user.idle, &plain.authority),
            Connections::Shared => self.pool.take(&plain.authority),
            Connections::PerRequest => None,
        };
        let prepared = match &user.bearer[step] {
            Some((_, built)) if with_token => built,
            _ => plain,
        };
        let cookie = if by_cookie {
            user.cookie_header.as_ref()
        } else {
            None
        };
        let started = Instant::now();
        let (answer, conn) = lean::send_timed(
            prepared,
            conn,
            cookie,
            &self.settings.client,
            self.tls.as_ref(),
            &mut user.timer,
        )
        .await;
        let finished = Instant::now();
        if let Some(conn) = conn {
            match self.settings.connections {
                Connections::PerUser => user.idle.push(conn),
                Connections::Shared => self.pool.put(conn),
                Connections::PerRequest => {}
            }
        }
        let outcome = match answer {
            Ok(answer) => self.settle(
                user,
                plan,
                &check::Response {
                    status: answer.status,
                    headers: &answer.headers,
                    body: &answer.body,
                    elapsed: finished.saturating_duration_since(started),
                },
            ),
            Err(failure) => SampleOutcome::Failed(stats::counted_class(failure)),
        };
        Sent {
            series,
            started,
            finished,
            outcome,
        }
    }
}

/// A request that could not be built (its token failed to mint or apply): an error of class
/// `Other`, taking no time.
fn unsent(series: usize) -> Sent {
    let now = Instant::now();
    Sent {
        series,
        started: now,
        finished: now,
        outcome: SampleOutcome::Failed(ErrorClass::Other),
    }
}

/// A request prepared for the lean client; `None` when it needs [`Client`].
fn lean_prepared(
    request: &client::Request,
    settings: &HttpSettings,
    reads_headers: bool,
) -> Option<lean::Prepared> {
    let prepared = lean::Prepared::from_request(request, settings.client.timeout)?;
    Some(if reads_headers {
        prepared
    } else {
        prepared.without_headers()
    })
}

/// The outcome of a response: passed, an auth reject, or a failed check.
fn judge(plan: &StepPlan, response: &check::Response<'_>) -> SampleOutcome {
    let error = if plan.check.passed(response, &plan.profile) {
        None
    } else if plan.reject.contains(&response.status) {
        Some(ErrorClass::AuthReject)
    } else {
        Some(ErrorClass::Check)
    };
    SampleOutcome::Response {
        status: response.status,
        error,
    }
}

impl HttpUser {
    /// Keeps the response's cookies and rebuilds the `Cookie` header when they changed.
    fn absorb_cookies(&mut self, headers: &http::HeaderMap) {
        if absorb_cookies(&mut self.cookies, headers) {
            self.cookie_header = cookie_header(&self.cookies);
        }
    }
}

/// The `Cookie` header for a set of cookies; `None` when there are none (or not a valid
/// header value).
fn cookie_header(cookies: &BTreeMap<String, String>) -> Option<http::HeaderValue> {
    if cookies.is_empty() {
        return None;
    }
    let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    http::HeaderValue::from_str(&header.join("; ")).ok()
}

fn token_source(
    prepared: &PreparedToken,
    identity: &crate::scenario::Identity,
    step: &str,
    settings: &HttpSettings,
) -> Result<TokenSource, HttpError> {
    let strategy = settings.tokens;
    let needs_spec = |name: &'static str| -> Result<&TokenSpec, HttpError> {
        prepared.spec.as_ref().ok_or_else(|| HttpError::RawToken {
            strategy: name,
            step: step.to_owned(),
        })
    };
    Ok(match strategy {
        TokenStrategy::Shared => TokenSource::Fixed(vec![Arc::from(prepared.compact.as_str())]),
        TokenStrategy::Pool(n) => {
            let spec = needs_spec("pool")?;
            let plan = MintPlan::new(spec, settings.pinned_now);
            if plan.claims.is_none() {
                return Err(HttpError::RawToken {
                    strategy: "pool",
                    step: step.to_owned(),
                });
            }
            let mut tokens = Vec::with_capacity(n.max(1));
            for i in 0..n.max(1) {
                let user = format!("{}-{i}", identity.user);
                let (t, _) = plan
                    .mint(|c| {
                        c.insert(identity.user_claim.clone(), Value::from(user));
                    })
                    .map_err(|source| HttpError::Mint {
                        step: step.to_owned(),
                        source,
                    })?;
                tokens.push(Arc::from(t));
            }
            TokenSource::Fixed(tokens)
        }
        TokenStrategy::Fresh => {
            TokenSource::Fresh(MintPlan::new(needs_spec("fresh")?, settings.pinned_now))
        }
        TokenStrategy::Refresh => {
            let plan = MintPlan::new(needs_spec("refresh")?, settings.pinned_now);
            let exp = plan
                .claims
                .as_ref()
                .and_then(|c| c.get("exp"))
                .and_then(Value::as_i64);
            TokenSource::Refresh(plan, Arc::from(prepared.compact.as_str()), exp)
        }
    })
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Keeps the `name=value` of each `Set-Cookie`; an empty value or `Max-Age=0` removes it.
/// Returns true when the cookies changed.
fn absorb_cookies(cookies: &mut BTreeMap<String, String>, headers: &http::HeaderMap) -> bool {
    let mut changed = false;
    for value in headers.get_all(http::header::SET_COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        let mut parts = text.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            continue;
        };
        let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
        let (name, value) = (name.trim(), value.trim());
        if expired || value.is_empty() {
            changed |= cookies.remove(name).is_some();
        } else if cookies.get(name).is_none_or(|v| v != value) {
            cookies.insert(name.to_owned(), value.to_owned());
            changed = true;
        }
    }
    changed
}

impl Transport for HttpTransport {
    type User = HttpUser;

    fn series(&self) -> Arc<[SeriesKey]> {
        Arc::clone(&self.keys)
    }

    fn new_user(&self, index: u64) -> HttpUser {
        let client = match self.settings.connections {
            // Same settings as the shared client, which was built without error.
            // Building a reqwest client loads the root certificates (milliseconds each), so
            // per-user clients are only built when a step needs one.
            Connections::PerUser if self.needs_client => {
                Client::new(&self.settings.client).unwrap_or_else(|_| self.shared.clone())
            }
            Connections::PerUser | Connections::Shared | Connections::PerRequest => {
                self.shared.clone()
            }
        };
        let scenario = (index as usize) % self.scenarios.len();
        let steps = self.scenarios[scenario].len();
        HttpUser {
            client,
            scenario,
            step: 0,
            cookies: BTreeMap::new(),
            cookie_header: None,
            tokens: vec![None; steps],
            bearer: (0..steps).map(|_| None).collect(),
            idle: Vec::new(),
            pool_slot: index as usize,
            pool_block: (0, 0),
            iterated: false,
            timer: lean::Timer::new(),
        }
    }

    async fn connect(&self, user: &mut HttpUser) {
        let Some(first) = self.scenarios[user.scenario].first() else {
            return;
        };
        let Some(prepared) = &first.lean else {
            return;
        };
        if self.settings.connections == Connections::PerRequest {
            return;
        }
        let opened = lean::Conn::open(
            prepared,
            self.settings.client.connect_timeout,
            self.tls.as_ref(),
        )
        .await;
        if let Ok(conn) = opened {
            match self.settings.connections {
                Connections::PerUser => user.idle.push(conn),
                Connections::Shared => self.pool.put(conn),
                Connections::PerRequest => {}
            }
        }
    }

    async fn send(&self, user: &mut HttpUser, recorder: &Recorder) -> Sent {
        let steps = &self.scenarios[user.scenario];
        let step = user.step;
        user.step = (step + 1) % steps.len();
        if step == 0 {
            // A new iteration of the steps (the first one keeps the slot it started with).
            if user.iterated {
                self.next_pool_slot(user);
            }
            user.iterated = true;
        }
        let plan = &steps[step];
        let by_cookie = self.settings.session == SessionMode::Cookie && !user.cookies.is_empty();
        let series = plan.series[usize::from(by_cookie)];
        if let Some(plain) = &plan.lean {
            return self
                .send_lean(user, plan, plain, step, by_cookie, series, recorder)
                .await;
        }
        let mut request = plan.request.clone();
        if by_cookie {
            if let Some(value) = &user.cookie_header {
                request.headers.insert(http::header::COOKIE, value.clone());
            }
        } else if let Some(token) = self.token_for(user, plan, step, recorder) {
            let applied = token.ok().and_then(|compact| {
                let (prepared, _) = plan.token.as_ref()?;
                runner::apply_token(&mut request, prepared, &compact).ok()
            });
            if applied.is_none() {
                return unsent(series);
            }
        }
        let started = Instant::now();
        let result = user.client.send(request).await;
        let finished = Instant::now();
        let outcome = match result {
            Ok(exchange) => self.settle(
                user,
                plan,
                &check::Response {
                    status: exchange.status,
                    headers: &exchange.headers,
                    body: &exchange.body,
                    elapsed: exchange.elapsed,
                },
            ),
            Err(e) => {
                let class = stats::counted_class(e.class());
                recorder.note_error(class, || runner::error_text(&e));
                SampleOutcome::Failed(class)
            }
        };
        Sent {
            series,
            started,
            finished,
            outcome,
        }
    }
}

/// A warning when a Qlik profile would open more than 5 sessions for one user (a QSEoW user
/// may hold at most 5 proxy sessions; more are refused or evict older ones).
///
/// In bearer mode every request without a session cookie opens a session, so any run of
/// more than 5 requests per identity does; in cookie mode each virtual user opens one.
pub(crate) fn session_warning(
    profile: &Profile,
    identity_user: &str,
    tokens: TokenStrategy,
    session: SessionMode,
    users: u64,
) -> Option<String> {
    use crate::jose::ProfileName;
    let qlik = matches!(
        profile.name,
        ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024
    );
    if !qlik {
        return None;
    }
    let identities = match tokens {
        TokenStrategy::Pool(n) => n.max(1) as u64,
        _ => 1,
    };
    let per_identity = users.div_ceil(identities);
    match session {
        SessionMode::Bearer => Some(format!(
            "bearer mode sends the token without a session cookie, so every request opens a new Qlik proxy session for user `{identity_user}`{}; QSEoW allows 5 sessions per user",
            if identities > 1 {
                " (and the pool's users)"
            } else {
                ""
            }
        )),
        SessionMode::Cookie if per_identity > 5 => Some(format!(
            "{per_identity} virtual users share the identity of user `{identity_user}` and each opens a Qlik proxy session; QSEoW allows 5 sessions per user (use `--token pool` with at least {} users)",
            users.div_ceil(5)
        )),
        SessionMode::Cookie => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_is_kept_per_user_and_expired_cookie_removed() {
        let mut cookies = BTreeMap::new();
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::SET_COOKIE,
            "X-Qlik-Session-jwt=abc; Path=/; HttpOnly".parse().unwrap(),
        );
        absorb_cookies(&mut cookies, &headers);
        assert_eq!(
            cookies.get("X-Qlik-Session-jwt").map(String::as_str),
            Some("abc")
        );
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::SET_COOKIE,
            "X-Qlik-Session-jwt=; Max-Age=0".parse().unwrap(),
        );
        absorb_cookies(&mut cookies, &headers);
        assert!(cookies.is_empty());
    }

    #[test]
    fn qlik_profile_warns_about_more_than_five_sessions_per_user() {
        use crate::jose::ProfileName;
        let qlik = Profile::builtin(ProfileName::Qseow);
        assert!(
            session_warning(
                &qlik,
                "alice",
                TokenStrategy::Shared,
                SessionMode::Cookie,
                6
            )
            .is_some()
        );
        assert!(
            session_warning(
                &qlik,
                "alice",
                TokenStrategy::Shared,
                SessionMode::Cookie,
                5
            )
            .is_none()
        );
        assert!(
            session_warning(
                &qlik,
                "alice",
                TokenStrategy::Pool(2),
                SessionMode::Cookie,
                10
            )
            .is_none()
        );
        assert!(
            session_warning(
                &qlik,
                "alice",
                TokenStrategy::Shared,
                SessionMode::Bearer,
                1
            )
            .is_some()
        );
        let generic = Profile::builtin(ProfileName::Generic);
        assert!(
            session_warning(
                &generic,
                "alice",
                TokenStrategy::Shared,
                SessionMode::Bearer,
                50
            )
            .is_none()
        );
    }
}
