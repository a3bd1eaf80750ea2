//! Where requests go: `--target URL`, or the built-in emulator started in-process.
//!
//! With no `--target`, one emulator per profile the scenarios use is started on
//! `127.0.0.1:0` over HTTPS with a self-signed certificate (as on a fresh Qlik install), from
//! the config built into the binary for that profile ([`jwtprobe::embedded`], the same as
//! `fixtures/mock/<profile>.yaml`), or `--mock-config`. It works from any folder. The client trusts that certificate
//! because the emulator is ours and on loopback; a real target needs `--insecure` or `--ca`.
//! `run` and `load` share this; which scenario goes where is decided in [`jwtprobe::settings`],
//! which names the profiles whose emulator this starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use camino::Utf8PathBuf;
use url::Url;

use super::CliError;
use jwtprobe::jose::ProfileName;
use jwtprobe::mock::{self, MockServer, TlsMode};
use jwtprobe::settings::TargetInput;

/// Target arguments shared by `run` and `load`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TargetArgs {
    /// The server to test (`https://qlik.example.com`). Without it, the built-in emulator of
    /// the Qlik virtual proxy is started on 127.0.0.1 and used.
    #[arg(long, short = 't', env = "JWTPROBE_TARGET", value_name = "URL")]
    pub(crate) target: Option<Url>,
    /// Accept any TLS certificate from the target (Qlik installs with a self-signed one).
    #[arg(long, short = 'k')]
    pub(crate) insecure: bool,
    /// A PEM file of CA certificates to trust for the target.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<Utf8PathBuf>,
    /// The emulator config to start instead of the built-in one for the suite's profile
    /// (ignored with `--target`).
    #[arg(long, value_name = "FILE")]
    pub(crate) mock_config: Option<Utf8PathBuf>,
    /// Serve the emulator over plain HTTP (session cookies then get the `-HTTP` suffix).
    #[arg(long)]
    pub(crate) mock_http: bool,
}

impl TargetArgs {
    /// The values `settings` resolves a run's destinations from.
    pub(crate) fn input(&self) -> TargetInput {
        TargetInput {
            target: self.target.clone(),
            insecure: self.insecure,
            ca: self.ca.clone(),
        }
    }
}

/// The targets of a run, one per profile, and the emulators kept alive for it.
#[derive(Debug)]
pub(crate) struct Targets {
    urls: BTreeMap<&'static str, Url>,
    /// The emulators started for this run (empty with `--target`).
    pub(crate) emulators: Vec<MockServer>,
}

impl Targets {
    /// The base URL for scenarios of this profile (`--target` or the emulator).
    pub(crate) fn url(&self, profile: ProfileName) -> Option<&Url> {
        self.urls.get(profile_name(profile))
    }

    /// Whether requests go to the built-in emulator.
    pub(crate) fn is_emulator(&self) -> bool {
        !self.emulators.is_empty()
    }

    /// Stops every emulator.
    pub(crate) async fn shutdown(self) {
        for server in self.emulators {
            server.shutdown().await;
        }
    }
}

/// The path of a built-in emulator config (`qseow`, `qlik-cloud`, …), written out with the
/// fixture keys it names (see [`jwtprobe::embedded::fixtures_dir`]).
pub(crate) fn builtin_config(name: &str) -> Result<Utf8PathBuf, CliError> {
    if jwtprobe::embedded::mock_config(name).is_none() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no built-in emulator config for profile `{name}`"
        ))
        .with_hint(format!(
            "built in: {}; or pass `--mock-config FILE`",
            jwtprobe::embedded::MOCK_PROFILES.join(", ")
        )));
    }
    let dir = jwtprobe::embedded::fixtures_dir().map_err(|e| {
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
    if jwtprobe::embedded::mock_config(name).is_none() {
        return Ok(None);
    }
    builtin_config(name).map(Some)
}

/// Resolves the targets for the given profiles: `--target` for all of them, or one emulator
/// per profile (profiles whose suites all name a `target:` need none: pass only the others).
/// Must run inside a tokio runtime.
pub(crate) async fn start(
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
            let rendered = jwtprobe::diag::render_all(&diagnostics, |_| None);
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
    Ok(Targets { urls, emulators })
}

/// The profile's name as written in YAML.
pub(crate) fn profile_name(profile: ProfileName) -> &'static str {
    profile.name()
}
