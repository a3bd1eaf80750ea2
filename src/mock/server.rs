//! Serving the emulator on a socket, over HTTP or HTTPS (rustls).

use std::net::SocketAddr;
use std::time::Duration;

use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use camino::Utf8PathBuf;
use tokio::task::JoinHandle;

use super::{HitCounters, MockClock, MockConfig, MockState, app};

/// How the emulator speaks to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP (session cookie names get the `-HTTP` suffix).
    Plain,
    /// HTTPS with a self-signed certificate for `localhost` and `127.0.0.1` generated at start,
    /// as on a fresh Qlik install.
    SelfSigned,
    /// HTTPS with this certificate chain and private key (PEM files).
    Files {
        /// The certificate chain.
        cert: Utf8PathBuf,
        /// The private key.
        key: Utf8PathBuf,
    },
}

/// An error starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The listen address could not be bound.
    #[error("failed to listen on `{addr}`")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A self-signed certificate could not be generated.
    #[error("failed to generate a self-signed TLS certificate")]
    Generate(#[source] rcgen::Error),
    /// The TLS certificate or key could not be loaded.
    #[error("failed to load the TLS certificate `{cert}` and key `{key}`")]
    Tls {
        /// The certificate file (or `generated`).
        cert: String,
        /// The key file (or `generated`).
        key: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running emulator. Dropping it leaves the server running until the runtime ends; call
/// [`MockServer::shutdown`] to stop it cleanly.
#[derive(Debug)]
pub struct MockServer {
    /// The bound address (the real port when `:0` was asked for).
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub base_url: url::Url,
    state: MockState,
    handle: Handle<SocketAddr>,
    task: JoinHandle<std::io::Result<()>>,
}

impl MockServer {
    /// A snapshot of the request counters.
    #[must_use]
    pub fn hits(&self) -> HitCounters {
        self.state.hits()
    }

    /// The state the server answers from (its config, clock and counters).
    #[must_use]
    pub fn state(&self) -> &MockState {
        &self.state
    }

    /// Stops accepting connections, lets requests in flight finish (up to 5 seconds), and waits
    /// for the server task.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        // The server's own I/O error, if any, no longer matters once we are stopping.
        let _ = self.task.await;
    }
}

/// Binds `listen` (use `127.0.0.1:0` for an ephemeral port) and serves the emulator on the
/// current tokio runtime.
pub async fn start(
    config: MockConfig,
    listen: SocketAddr,
    tls: TlsMode,
) -> Result<MockServer, MockError> {
    start_with_clock(config, listen, tls, MockClock::system()).await
}

/// [`start`] with a given clock (tests age sessions without sleeping).
pub async fn start_with_clock(
    config: MockConfig,
    listen: SocketAddr,
    tls: TlsMode,
    clock: MockClock,
) -> Result<MockServer, MockError> {
    let rustls = match &tls {
        TlsMode::Plain => None,
        TlsMode::SelfSigned => {
            let generated = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])
            .map_err(MockError::Generate)?;
            let cert = generated.cert.pem().into_bytes();
            let key = generated.signing_key.serialize_pem().into_bytes();
            Some(
                RustlsConfig::from_pem(cert, key)
                    .await
                    .map_err(|source| MockError::Tls {
                        cert: "generated".to_owned(),
                        key: "generated".to_owned(),
                        source,
                    })?,
            )
        }
        TlsMode::Files { cert, key } => Some(
            RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|source| MockError::Tls {
                    cert: cert.to_string(),
                    key: key.to_string(),
                    source,
                })?,
        ),
    };
    let listener = std::net::TcpListener::bind(listen).map_err(|source| MockError::Bind {
        addr: listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        addr: listen,
        source,
    })?;
    let state = MockState::new(config, clock, rustls.is_some());
    let handle = Handle::new();
    let service = app(state.clone()).into_make_service();
    let scheme = if rustls.is_some() { "https" } else { "http" };
    let task = match rustls {
        Some(rustls) => {
            let server = axum_server::from_tcp_rustls(listener, rustls)
                .map_err(|source| MockError::Bind {
                    addr: listen,
                    source,
                })?
                // Without TCP_NODELAY a response written in several TLS records (HTTP/2's
                // SETTINGS, then the answer) waited for the client's delayed ACK: the first
                // request of a connection sometimes took 40 ms instead of 1 ms.
                .map(|tls| tls.acceptor(NoDelayAcceptor::new()))
                .handle(handle.clone());
            tokio::spawn(server.serve(service))
        }
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|source| MockError::Bind {
                    addr: listen,
                    source,
                })?
                .acceptor(NoDelayAcceptor::new())
                .handle(handle.clone());
            tokio::spawn(server.serve(service))
        }
    };
    let base_url =
        url::Url::parse(&format!("{scheme}://{addr}/")).map_err(|e| MockError::Bind {
            addr: listen,
            source: std::io::Error::other(e),
        })?;
    Ok(MockServer {
        addr,
        base_url,
        state,
        handle,
        task,
    })
}
