//! `jwtprobe mock`: serve the Qlik virtual proxy emulator.

use std::io::Write as _;
use std::net::SocketAddr;

use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit, runtime};
use jwtprobe::mock::{self, TlsMode};

/// Serve the Qlik virtual proxy emulator until Ctrl-C.
///
/// Without `--mock-config` the emulator serves the QSEoW profile built into the binary (the
/// same as `fixtures/mock/qseow.yaml`), so it works from any folder. The first line on stdout
/// is `listening on URL`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  jwtprobe mock
  jwtprobe mock --profile qlik-cloud --tls
  jwtprobe mock --mock-config fixtures/mock/qseow-load.yaml --listen 127.0.0.1:0

Exit codes: 0 stopped by Ctrl-C, 1 bad command line, 2 invalid config, 3 the address is in use.")]
pub(crate) struct Args {
    /// The emulator config (profile, virtual proxies, certificates, statuses); `--config` is
    /// the old spelling. Default: the built-in config of `--profile`.
    #[arg(
        long = "mock-config",
        alias = "config",
        value_name = "FILE",
        conflicts_with = "profile"
    )]
    pub(crate) config: Option<Utf8PathBuf>,

    /// The built-in emulator config to serve when no `--mock-config` is given.
    #[arg(long, value_name = "PROFILE", default_value = "qseow", value_parser = jwtprobe::embedded::MOCK_PROFILES)]
    pub(crate) profile: String,

    /// Print nothing but the `listening on URL` line.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Also print which config file is served and how (TLS or plain HTTP).
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,

    /// The address to listen on. Loopback by default; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,

    /// Serve HTTPS with a self-signed certificate generated at start (as a fresh Qlik install).
    #[arg(long)]
    pub(crate) tls: bool,

    /// Serve HTTPS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<Utf8PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<Utf8PathBuf>,

    /// Worker threads of the async runtime (default: one per CPU core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) workers: Option<u16>,
}

/// Runs the command: serves until Ctrl-C, then shuts down cleanly.
pub(crate) fn run(args: Args) -> CmdResult {
    let path = match &args.config {
        Some(path) => path.clone(),
        None => super::target::builtin_config(&args.profile)?,
    };
    let config = mock::read_config(&path).map_err(|diags| {
        let source = fs_err::read_to_string(&path).ok();
        let rendered = jwtprobe::diag::render_all(&diags, |_| source.as_deref());
        let count = diags.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        CliError::invalid(anyhow::anyhow!("mock config `{path}` has {count} {noun}"))
            .with_rendered(rendered)
    })?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => TlsMode::Files { cert, key },
        _ if args.tls => TlsMode::SelfSigned,
        _ => TlsMode::Plain,
    };
    let rt = match args.workers {
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(n))
            .enable_all()
            .build()
            .map_err(|e| {
                CliError::runtime(
                    anyhow::Error::new(e).context("failed to start the async runtime"),
                )
            })?,
        None => runtime()?,
    };
    if args.verbose {
        let how = match &tls {
            TlsMode::Plain => "plain HTTP",
            TlsMode::SelfSigned => "HTTPS with a self-signed certificate",
            TlsMode::Files { .. } => "HTTPS with the given certificate",
        };
        eprintln!("serving `{path}` over {how}");
    }
    let verbosity = if args.quiet {
        0
    } else if args.verbose {
        2
    } else {
        1
    };
    rt.block_on(serve(config, args.listen, tls, verbosity))
}

#[expect(
    clippy::print_stdout,
    reason = "the listening URL is this command's data; scripts read the first line"
)]
async fn serve(
    config: mock::MockConfig,
    listen: SocketAddr,
    tls: TlsMode,
    verbosity: u8,
) -> CmdResult {
    let profile = config.profile;
    let prefixes: Vec<String> = config
        .virtual_proxies
        .iter()
        .map(|vp| format!("/{}/", vp.prefix))
        .collect();
    let server = mock::start(config, listen, tls).await.map_err(|e| {
        let hint = matches!(e, mock::MockError::Bind { .. })
            .then_some("use another port, or port 0 for a free one");
        let err = CliError::runtime(e);
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    })?;
    let url = server.base_url.as_str().trim_end_matches('/').to_owned();
    println!("listening on {url}");
    let _ = std::io::stdout().flush();
    if verbosity == 0 {
        // Quiet: only the URL line.
    } else if prefixes.is_empty() {
        eprintln!(
            "profile {}: POST {url}/login/jwt-session; Ctrl-C stops",
            profile.name()
        );
    } else {
        eprintln!(
            "profile {}: virtual proxies {}; Ctrl-C stops",
            profile.name(),
            prefixes.join(", ")
        );
    }
    let signal = tokio::signal::ctrl_c().await;
    let hits = server.hits();
    server.shutdown().await;
    if verbosity > 0 {
        eprintln!(
            "stopped after {} requests ({} tokens accepted, {} rejected, {} without token or session)",
            hits.total, hits.accepted, hits.rejected, hits.no_token
        );
    }
    signal.map_err(|e| {
        CliError::runtime(anyhow::Error::new(e).context("failed to wait for Ctrl-C"))
    })?;
    Ok(Exit::Success)
}
