//! A load run ready to start: the prepared scenarios, checked thresholds and the transport.
//!
//! [`LoadPlan::new`] takes the scenarios [`runner::prepare`](crate::runner::prepare) built once
//! and the resolved load settings ([`LoadPlanSettings`], filled by the command from
//! `crate::settings::LoadSettings`). It checks that every threshold limited to a step names one
//! of the steps that will run, reports the session warnings (a Qlik profile opening more than
//! 5 proxy sessions per user), and builds the [`HttpTransport`], in that order, so that nothing
//! is printed for a plan that is refused and a transport is never built for one.
//! [`LoadPlan::run`] drives the [`engine`] and evaluates the thresholds.
//!
//! The command keeps what is its own: starting the emulators, the progress bar and console
//! lines, the interval log file (`crate::report::hlog`) and every report, and exit codes. An
//! unknown step comes back as [`LoadPlanError::UnknownStep`] with each [`ThresholdError`] and
//! its place in the YAML, for the command to render.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::engine::{self, EngineSettings, LoadResult, Model, Progress};
use super::http::{self, HttpError, HttpSettings, HttpTransport};
use super::pacer::Shard;
use super::sink::IntervalSink;
use super::threshold::{Threshold, ThresholdError, ThresholdVerdict};
use crate::diag::Located;
use crate::runner::PreparedScenario;

/// How often the engine drains the workers, reports progress and writes a log interval.
const INTERVAL: Duration = Duration::from_secs(1);

/// The load parts of the resolved settings.
#[derive(Debug, Clone)]
pub struct LoadPlanSettings {
    /// The load model (rate or users, stages, warm-up, limits, shard).
    pub model: Model,
    /// Every threshold, each with its place in the YAML when it came from one.
    pub thresholds: Vec<(Threshold, Option<Located>)>,
    /// The transport's settings: client, connections, tokens, session and the pinned "now".
    pub http: HttpSettings,
    /// `--shard`, as given; recorded in the interval log.
    pub shard: Option<Shard>,
}

/// An error making a [`LoadPlan`].
#[derive(Debug, thiserror::Error)]
pub enum LoadPlanError {
    /// Thresholds limited to a step name no step that will run (exit 2).
    #[error("a load threshold names an unknown step")]
    UnknownStep {
        /// Each refused threshold's error (message, caret range, did-you-mean hint) and its
        /// place in the YAML (`None` for `--threshold`).
        errors: Vec<(ThresholdError, Option<Located>)>,
    },
    /// The transport could not be built (exit 3).
    #[error(transparent)]
    Transport(HttpError),
}

/// A load run ready to start (see the module docs).
#[derive(Debug)]
pub struct LoadPlan {
    scenarios: Vec<PreparedScenario>,
    labels: Vec<String>,
    model: Model,
    thresholds: Vec<Threshold>,
    shard: Option<Shard>,
    transport: HttpTransport,
}

/// What a load run measured and how its thresholds fared.
#[derive(Debug)]
pub struct LoadRun {
    /// What the engine measured.
    pub result: LoadResult,
    /// One verdict per threshold, in the order of [`LoadPlanSettings::thresholds`].
    pub verdicts: Vec<ThresholdVerdict>,
}

impl LoadPlan {
    /// Checks the thresholds' steps against `scenarios`, hands each session warning to
    /// `warn`, and builds the transport.
    pub fn new(
        scenarios: Vec<PreparedScenario>,
        settings: LoadPlanSettings,
        mut warn: impl FnMut(String),
    ) -> Result<Self, LoadPlanError> {
        let LoadPlanSettings {
            model,
            thresholds,
            http,
            shard,
        } = settings;
        let labels: Vec<String> = http::step_labels(&scenarios)
            .into_iter()
            .flatten()
            .collect();
        let errors: Vec<_> = thresholds
            .iter()
            .filter_map(|(t, at)| t.validate(&labels).err().map(|e| (e, at.clone())))
            .collect();
        if !errors.is_empty() {
            return Err(LoadPlanError::UnknownStep { errors });
        }
        let users = match &model {
            Model::Rate { users, .. } | Model::Users { users, .. } => *users,
        };
        for scenario in &scenarios {
            if let Some(w) = http::session_warning(
                &scenario.profile,
                &scenario.identity.user,
                http.tokens,
                http.session,
                users,
            ) {
                warn(w);
            }
        }
        let transport = HttpTransport::new(&scenarios, http).map_err(LoadPlanError::Transport)?;
        Ok(Self {
            scenarios,
            labels,
            model,
            thresholds: thresholds.into_iter().map(|(t, _)| t).collect(),
            shard,
            transport,
        })
    }

    /// The prepared scenarios, in plan order.
    pub fn scenarios(&self) -> &[PreparedScenario] {
        &self.scenarios
    }

    /// Every step's label, as series and thresholds name them (see `http::step_labels`).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The load model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Runs the load until the model's bounds are reached or `stop` resolves, writing each
    /// interval to `hlog` when given, then evaluates the thresholds. The transport (and its
    /// idle connections) is dropped before this returns, so a target can shut down at once.
    pub async fn run(
        self,
        hlog: Option<Box<dyn IntervalSink>>,
        stop: impl Future<Output = ()>,
        progress: impl FnMut(&Progress),
    ) -> Result<LoadRun, std::io::Error> {
        let settings = EngineSettings {
            model: self.model,
            interval: INTERVAL,
            hlog,
            shard: self.shard,
        };
        let result = engine::run(Arc::new(self.transport), settings, stop, progress).await?;
        let verdicts = self
            .thresholds
            .iter()
            .map(|t| t.evaluate(&result.stats, result.elapsed))
            .collect();
        Ok(LoadRun { result, verdicts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientSettings, Request};
    use crate::jose::ProfileName;
    use crate::load::http::TokenStrategy;
    use crate::load::threshold;
    use crate::runner::PreparedStep;
    use crate::scenario::{Connections, Expect, Identity, Profile, SessionMode};

    fn scenario(name: &str, profile: ProfileName, steps: &[&str]) -> PreparedScenario {
        let steps = steps
            .iter()
            .map(|step| PreparedStep {
                name: (*step).to_owned(),
                request: Request {
                    method: ::http::Method::GET,
                    url: "http://127.0.0.1:9/hub/".parse().expect("a URL"),
                    headers: ::http::HeaderMap::new(),
                    body: None,
                    follow_redirects: false,
                    timeout: None,
                },
                token: None,
                expect: Expect::default(),
            })
            .collect();
        PreparedScenario {
            name: name.to_owned(),
            path: format!("{name}.yaml").into(),
            profile: Profile::builtin(profile),
            identity: Identity::default(),
            steps,
            load: None,
        }
    }

    fn settings(users: u64, session: SessionMode, thresholds: &[&str]) -> LoadPlanSettings {
        LoadPlanSettings {
            model: Model::Users {
                users,
                think: Duration::ZERO,
                duration: None,
                requests: Some(1),
                warmup: Duration::ZERO,
                shard: Shard::default(),
            },
            thresholds: thresholds
                .iter()
                .map(|t| (threshold::parse(t).expect("a threshold"), None))
                .collect(),
            http: HttpSettings {
                client: ClientSettings::default(),
                connections: Connections::Shared,
                tokens: TokenStrategy::Shared,
                session,
                pinned_now: 0,
            },
            shard: None,
        }
    }

    fn new_plan(
        scenarios: Vec<PreparedScenario>,
        settings: LoadPlanSettings,
    ) -> (Result<LoadPlan, LoadPlanError>, Vec<String>) {
        let mut warnings = Vec::new();
        let plan = LoadPlan::new(scenarios, settings, |w| warnings.push(w));
        (plan, warnings)
    }

    #[test]
    fn threshold_on_an_unknown_step_is_refused_with_its_name_and_a_hint() {
        let (plan, warnings) = new_plan(
            vec![scenario("hub", ProfileName::Generic, &["open", "close"])],
            settings(
                1,
                SessionMode::Bearer,
                &["open.p99 < 10ms", "opne.p99 < 10ms"],
            ),
        );
        let Err(LoadPlanError::UnknownStep { errors }) = plan else {
            panic!("expected an unknown step");
        };
        assert_eq!(errors.len(), 1);
        let (error, at) = &errors[0];
        assert_eq!(error.text, "opne.p99 < 10ms");
        assert_eq!(error.message, "unknown step `opne`");
        assert_eq!(error.range, 0..4);
        assert_eq!(error.hint.as_deref(), Some("did you mean `open`?"));
        assert_eq!(at, &None);
        assert!(warnings.is_empty(), "a refused plan warns of nothing");
    }

    #[test]
    fn step_shared_by_two_scenarios_is_named_with_its_scenario() {
        let scenarios = vec![
            scenario("a", ProfileName::Generic, &["open"]),
            scenario("b", ProfileName::Generic, &["open"]),
        ];
        let (plan, _) = new_plan(
            scenarios.clone(),
            settings(1, SessionMode::Bearer, &["a/open.p99 < 10ms"]),
        );
        let plan = plan.expect("a plan");
        assert_eq!(plan.labels(), ["a/open", "b/open"]);
        let (plan, _) = new_plan(
            scenarios,
            settings(1, SessionMode::Bearer, &["open.p99 < 10ms"]),
        );
        let Err(LoadPlanError::UnknownStep { errors }) = plan else {
            panic!("expected an unknown step");
        };
        let messages: Vec<&str> = errors.iter().map(|(e, _)| e.message.as_str()).collect();
        assert_eq!(messages, ["unknown step `open`"]);
    }

    #[test]
    fn qlik_profile_warns_when_users_share_an_identity_past_five_sessions() {
        let (plan, warnings) = new_plan(
            vec![scenario("hub", ProfileName::Qseow, &["open"])],
            settings(6, SessionMode::Cookie, &[]),
        );
        assert!(plan.is_ok());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("6 virtual users share the identity of user `jwtprobe`"),
            "{warnings:?}"
        );
    }

    #[test]
    fn generic_profile_has_no_session_warning() {
        let (plan, warnings) = new_plan(
            vec![scenario("hub", ProfileName::Generic, &["open"])],
            settings(50, SessionMode::Bearer, &[]),
        );
        assert!(plan.is_ok());
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn scenarios_without_steps_are_a_transport_error() {
        let (plan, _) = new_plan(
            vec![scenario("empty", ProfileName::Generic, &[])],
            settings(1, SessionMode::Bearer, &[]),
        );
        assert!(matches!(
            plan,
            Err(LoadPlanError::Transport(HttpError::NoSteps))
        ));
    }
}
