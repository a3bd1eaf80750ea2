//! `jwtprobe mock`: serve the Qlik virtual proxy emulator.

use std::io::Write as _;
use std::net::SocketAddr;

use camino::Utf8PathBuf;

use super::{CliError, CmdResult, Exit, runtime};
use crate::mock::{self, TlsMode};

/// Arguments of this command.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The emulator config (profile, virtual proxies, certificates, statuses).
    #[arg(long, default_value = "fixtures/mock/qseow.yaml")]
    pub config: Utf8PathBuf,

    /// The address to listen on. Loopback by default; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Serve HTTPS with a self-signed certificate generated at start (as a fresh Qlik install).
    #[arg(long)]
    pub tls: bool,

    /// Serve HTTPS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<Utf8PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<Utf8PathBuf>,

    /// Worker threads of the async runtime (default: one per CPU core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
}

/// Runs the command: serves until Ctrl-C, then shuts down cleanly.
pub fn run(args: Args) -> CmdResult {
    let config = mock::read_config(&args.config).map_err(|diags| {
        let source = fs_err::read_to_string(&args.config).ok();
        let rendered = crate::diag::render_all(&diags, |_| source.as_deref());
        let count = diags.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        CliError::invalid(anyhow::anyhow!(
            "mock config `{}` has {count} {noun}",
            args.config
        ))
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
    rt.block_on(serve(config, args.listen, tls))
}

#[expect(
    clippy::print_stdout,
    reason = "the listening URL is this command's data; scripts read the first line"
)]
async fn serve(config: mock::MockConfig, listen: SocketAddr, tls: TlsMode) -> CmdResult {
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
    if prefixes.is_empty() {
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
    eprintln!(
        "stopped after {} requests ({} tokens accepted, {} rejected, {} without token or session)",
        hits.total, hits.accepted, hits.rejected, hits.no_token
    );
    signal.map_err(|e| {
        CliError::runtime(anyhow::Error::new(e).context("failed to wait for Ctrl-C"))
    })?;
    Ok(Exit::Success)
}
