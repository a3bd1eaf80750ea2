//! Where requests go: `--target URL`, or the built-in emulator started in-process.
//!
//! With no `--target`, one emulator per profile the scenarios use is started on
//! `127.0.0.1:0` over HTTPS with a self-signed certificate (as on a fresh Qlik install), from
//! the config built into the binary for that profile ([`crate::embedded`], the same as
//! `fixtures/mock/<profile>.yaml`), or `--mock-config`. It works from any folder. The client trusts that certificate
//! because the emulator is ours and on loopback; a real target needs `--insecure` or `--ca`.
//! `run` and `load` share this.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use camino::Utf8PathBuf;
use url::Url;

use super::CliError;
use crate::jose::ProfileName;
use crate::mock::{self, MockServer, TlsMode};

/// Target arguments shared by `run` and `load`.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The server to test (`https://qlik.example.com`). Without it, the built-in emulator of
    /// the Qlik virtual proxy is started on 127.0.0.1 and used.
    #[arg(long, short = 't', env = "JWTPROBE_TARGET", value_name = "URL")]
    pub target: Option<Url>,
    /// Accept any TLS certificate from the target (Qlik installs with a self-signed one).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// A PEM file of CA certificates to trust for the target.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<Utf8PathBuf>,
    /// The emulator config to start instead of the built-in one for the suite's profile
    /// (ignored with `--target`).
    #[arg(long, value_name = "FILE")]
    pub mock_config: Option<Utf8PathBuf>,
    /// Serve the emulator over plain HTTP (session cookies then get the `-HTTP` suffix).
    #[arg(long)]
    pub mock_http: bool,
}

/// The targets of a run, one per profile, and the emulators kept alive for it.
#[derive(Debug)]
pub struct Targets {
    urls: BTreeMap<&'static str, Url>,
    /// Whether `--target` was given (it overrides every suite's `target:`).
    forced: bool,
    /// The emulators started for this run (empty with `--target`).
    pub emulators: Vec<MockServer>,
}

impl Targets {
    /// The base URL for scenarios of this profile (`--target` or the emulator).
    pub fn url(&self, profile: ProfileName) -> Option<&Url> {
        self.urls.get(profile_name(profile))
    }

    /// The base URL for scenarios of this profile whose suite names `suite_target` (if any):
    /// `--target` wins, then the suite's `target:`, then the emulator.
    pub fn url_for<'a>(
        &'a self,
        profile: ProfileName,
        suite_target: Option<&'a Url>,
    ) -> Option<&'a Url> {
        if self.forced {
            return self.urls.get(profile_name(profile));
        }
        suite_target.or_else(|| self.urls.get(profile_name(profile)))
    }

    /// Whether requests go to the built-in emulator.
    pub fn is_emulator(&self) -> bool {
        !self.emulators.is_empty()
    }

    /// Whether `url` is one of the emulators started for this run.
    pub fn is_emulator_url(&self, url: &Url) -> bool {
        self.emulators.iter().any(|e| &e.base_url == url)
    }

    /// Stops every emulator.
    pub async fn shutdown(self) {
        for server in self.emulators {
            server.shutdown().await;
        }
    }
}

/// The path of a built-in emulator config (`qseow`, `qlik-cloud`, …), written out with the
/// fixture keys it names (see [`crate::embedded::fixtures_dir`]).
pub fn builtin_config(name: &str) -> Result<Utf8PathBuf, CliError> {
    if crate::embedded::mock_config(name).is_none() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no built-in emulator config for profile `{name}`"
        ))
        .with_hint(format!(
            "built in: {}; or pass `--mock-config FILE`",
            crate::embedded::MOCK_PROFILES.join(", ")
        )));
    }
    let dir = crate::embedded::fixtures_dir().map_err(|e| {
        CliError::runtime(
            anyhow::Error::new(e).context("failed to write the built-in emulator config"),
        )
    })?;
    Ok(dir.join(format!("fixtures/mock/{name}.yaml")))
}

/// The emulator config file for a profile, or `None` when none is built in.
fn config_for(profile: ProfileName, args: &TargetArgs) -> Result<Option<Utf8PathBuf>, CliError> {
    if let Some(path) = &args.mock_config {
        return Ok(Some(path.clone()));
    }
    let name = profile_name(profile);
    if crate::embedded::mock_config(name).is_none() {
        return Ok(None);
    }
    builtin_config(name).map(Some)
}

/// Resolves the targets for the given profiles: `--target` for all of them, or one emulator
/// per profile (profiles whose suites all name a `target:` need none: pass only the others).
/// Must run inside a tokio runtime.
pub async fn start(
    profiles: impl IntoIterator<Item = ProfileName>,
    args: &TargetArgs,
) -> Result<Targets, CliError> {
    let mut urls = BTreeMap::new();
    let mut emulators: Vec<MockServer> = Vec::new();
    let mut by_config: BTreeMap<Utf8PathBuf, Url> = BTreeMap::new();
    for profile in profiles {
        if urls.contains_key(profile_name(profile)) {
            continue;
        }
        if let Some(target) = &args.target {
            urls.insert(profile_name(profile), target.clone());
            continue;
        }
        let Some(path) = config_for(profile, args)? else {
            return Err(CliError::usage(anyhow::anyhow!(
                "no built-in emulator for profile `{}`",
                profile_name(profile)
            ))
            .with_hint("pass `--target URL` to test a real server, or `--mock-config FILE`"));
        };
        if let Some(url) = by_config.get(&path) {
            urls.insert(profile_name(profile), url.clone());
            continue;
        }
        if !path.is_file() {
            return Err(CliError::usage(anyhow::anyhow!(
                "no emulator config for profile `{}` at `{path}`",
                profile_name(profile)
            ))
            .with_hint("pass `--target URL` to test a real server, or `--mock-config FILE`"));
        }
        let config = mock::read_config(&path).map_err(|diagnostics| {
            let rendered = crate::diag::render_all(&diagnostics, |_| None);
            CliError::invalid(anyhow::anyhow!("invalid emulator config `{path}`"))
                .with_rendered(rendered)
        })?;
        let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
        let tls = if args.mock_http {
            TlsMode::Plain
        } else {
            TlsMode::SelfSigned
        };
        let server = mock::start(config, listen, tls).await.map_err(|e| {
            CliError::runtime(
                anyhow::Error::new(e).context("failed to start the built-in emulator"),
            )
        })?;
        let url = server.base_url.clone();
        by_config.insert(path, url.clone());
        urls.insert(profile_name(profile), url);
        emulators.push(server);
    }
    Ok(Targets {
        urls,
        forced: args.target.is_some(),
        emulators,
    })
}

/// Where each scenario of a plan goes: `--target`, its suite's `target:`, or an emulator.
#[derive(Debug)]
pub struct PlanTargets {
    /// The targets and the emulators started for them (shut them down when done).
    pub targets: Targets,
    /// Per scenario of the plan, in order: its base URL and whether that is an emulator;
    /// `None` when no target serves it.
    pub per_scenario: Vec<Option<(Url, bool)>>,
}

impl PlanTargets {
    /// Run settings for every scenario of `plan` that a target serves, in plan order: the
    /// scenario's base URL, and `client` with the emulator's generated certificate trusted (it
    /// is ours and on loopback); any other target keeps `--insecure`/`--ca` as given.
    pub fn settings_for<'p>(
        &self,
        plan: &'p crate::runner::Plan,
        client: &crate::client::ClientSettings,
        vars: &BTreeMap<String, String>,
        now: i64,
        prefix: Option<&str>,
    ) -> Vec<(
        &'p crate::runner::PlannedScenario,
        crate::runner::RunSettings,
    )> {
        plan.scenarios
            .iter()
            .zip(&self.per_scenario)
            .filter_map(|(planned, place)| {
                let (base_url, on_emulator) = place.clone()?;
                let mut client = client.clone();
                client.insecure |= on_emulator;
                let settings = crate::runner::RunSettings {
                    base_url,
                    emulator: on_emulator,
                    client,
                    vars: vars.clone(),
                    now,
                    prefix: prefix.map(str::to_owned),
                };
                Some((planned, settings))
            })
            .collect()
    }
}

/// Starts what a plan needs (one emulator per profile whose scenarios name no target) and
/// resolves every scenario's base URL.
pub async fn start_for_plan(
    plan: &crate::runner::Plan,
    args: &TargetArgs,
) -> Result<PlanTargets, CliError> {
    let mut suite_targets = Vec::with_capacity(plan.scenarios.len());
    for planned in &plan.scenarios {
        suite_targets.push(suite_target(&planned.context.suite)?);
    }
    // Only profiles with a scenario that names no target of its own need an emulator.
    let profiles: Vec<_> = plan
        .scenarios
        .iter()
        .zip(&suite_targets)
        .filter(|(_, t)| t.is_none() || args.target.is_some())
        .map(|(s, _)| s.context.profile.name)
        .collect();
    let targets = start(profiles, args).await?;
    let per_scenario = plan
        .scenarios
        .iter()
        .zip(&suite_targets)
        .map(|(planned, suite_target)| {
            targets
                .url_for(planned.context.profile.name, suite_target.as_ref())
                .map(|url| (url.clone(), targets.is_emulator_url(url)))
        })
        .collect();
    Ok(PlanTargets {
        targets,
        per_scenario,
    })
}

/// The `target:` of a suite, parsed; an invalid URL is an invalid scenario (exit 2).
pub fn suite_target(suite: &crate::scenario::Suite) -> Result<Option<Url>, CliError> {
    suite
        .target
        .as_deref()
        .map(|t| {
            Url::parse(t).map_err(|e| {
                CliError::invalid(
                    anyhow::Error::new(e)
                        .context(format!("invalid `target: {t}` in suite `{}`", suite.path)),
                )
            })
        })
        .transpose()
}

/// The profile's name as written in YAML.
pub fn profile_name(profile: ProfileName) -> &'static str {
    profile.name()
}
