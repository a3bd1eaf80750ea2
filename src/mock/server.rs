//! Serving the emulator on a socket, over HTTP or HTTPS (rustls).
//!
//! The server survives abuse within [`ServerLimits`]: a connection that does not send a
//! complete first request in time (idle from the start, or slowloris) is closed, and so is a
//! keep-alive connection that does not send its next request head in time (hyper's
//! header-read timeout); at most `max_connections` are
//! served at once and each one past that gets a short `503 Service Unavailable` with
//! `Retry-After` and is closed, so the process never runs out of file descriptors and
//! `/health` keeps answering (a connection past the limit that asks for `GET /health` gets
//! `200 ok`); request heads up to `max_head_bytes` reach the emulator, so an
//! oversized header gets the configured `max_header_bytes` status, not hyper's 431.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::Handle;
use axum_server::accept::Accept;
use axum_server::tls_rustls::RustlsConfig;
use camino::Utf8PathBuf;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// What the server holds itself to, whatever its clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a connection may take to send a request head, counted from when the server
    /// starts waiting for one (so an idle keep-alive connection is closed after it too).
    /// Default 10 s.
    pub header_read_timeout: Duration,
    /// The most connections served at once; one more gets `503` (or, for `GET /health`,
    /// `200 ok`) and is closed. Default: half the process's open-file limit (the other half
    /// is for the load generator when the emulator runs inside `jwtprobe load`), between 256
    /// and 16,384; 4,096 where the limit cannot be read.
    pub max_connections: usize,
    /// The largest request head read (request line and headers). Up to it the emulator
    /// answers an oversized header with the configured status; past it hyper answers 431.
    /// Default 4 MiB.
    pub max_head_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: open_file_limit().map_or(4096, |n| (n / 2).clamp(256, 16_384)),
            max_head_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The soft limit on open files of this process, from `/proc/self/limits` (Linux only).
fn open_file_limit() -> Option<usize> {
    let limits = fs_err::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The response to a connection past [`ServerLimits::max_connections`].
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
retry-after: 1\r\ncontent-length: 37\r\nconnection: close\r\n\r\ntoo many connections; retry shortly\r\n";

/// The response to `GET /health` on a connection past the limit.
const HEALTHY: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n\
content-length: 2\r\nconnection: close\r\n\r\nok";

/// Counts connections; past the limit, answers and closes: `GET /health` still gets `200 ok`
/// (so a health check passes while an attacker holds every slot), anything else `503`.
#[derive(Debug, Clone)]
struct LimitAcceptor {
    permits: Arc<Semaphore>,
    /// Whether the connection will speak TLS; a refused TLS connection is closed unanswered.
    tls: bool,
}

impl<S: Send + 'static> Accept<TcpStream, S> for LimitAcceptor {
    type Stream = Counted;
    type Service = S;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<(Counted, S)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // Without TCP_NODELAY a response written in several TLS records (HTTP/2's SETTINGS,
        // then the answer) waited for the client's delayed ACK: the first request of a
        // connection sometimes took 40 ms instead of 1 ms.
        let _ = stream.set_nodelay(true);
        let permit = Arc::clone(&self.permits).try_acquire_owned();
        let tls = self.tls;
        Box::pin(async move {
            match permit {
                Ok(permit) => Ok((
                    Counted {
                        inner: stream,
                        _permit: permit,
                    },
                    service,
                )),
                Err(_) => {
                    if !tls {
                        refuse(stream).await;
                    }
                    Err(std::io::Error::other("too many connections"))
                }
            }
        })
    }
}

/// Answers a connection past the limit from its first bytes, within 200 ms, and closes it.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncReadExt as _;
    let mut head = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut head)).await;
    let answer = match read {
        Ok(Ok(n)) if head[..n].starts_with(b"GET /health ") => HEALTHY,
        _ => BUSY,
    };
    // The answer fits in any socket buffer; a client that does not read it is not waited for.
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.write_all(answer)).await;
    let _ = stream.shutdown().await;
}

/// A connection that holds one of the limited slots until it is dropped.
#[derive(Debug)]
struct Counted {
    inner: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Applies the limits to hyper's HTTP/1 settings.
fn configure<A: axum_server::Address, Acc>(
    server: &mut axum_server::Server<A, Acc>,
    limits: ServerLimits,
) {
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(limits.header_read_timeout))
        .max_buf_size(limits.max_head_bytes.max(8192))
        .max_headers(1000);
    server
        .http_builder()
        .http2()
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
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
    start_with_limits(config, listen, tls, clock, ServerLimits::default()).await
}

/// [`start_with_clock`] with given [`ServerLimits`] (tests use short timeouts and few
/// connections).
pub async fn start_with_limits(
    config: MockConfig,
    listen: SocketAddr,
    tls: TlsMode,
    clock: MockClock,
    limits: ServerLimits,
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
    let limit = LimitAcceptor {
        permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        tls: rustls.is_some(),
    };
    let task = match rustls {
        Some(rustls) => {
            let mut server = axum_server::from_tcp_rustls(listener, rustls)
                .map_err(|source| MockError::Bind {
                    addr: listen,
                    source,
                })?
                .map(|tls| {
                    tls.handshake_timeout(limits.header_read_timeout)
                        .acceptor(limit)
                })
                .handle(handle.clone());
            configure(&mut server, limits);
            tokio::spawn(server.serve(service))
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(|source| MockError::Bind {
                    addr: listen,
                    source,
                })?
                .acceptor(limit)
                .first_request_timeout(limits.header_read_timeout)
                .handle(handle.clone());
            configure(&mut server, limits);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn default_connection_limit_follows_the_open_file_limit() {
        let limit = open_file_limit().expect("Linux has /proc/self/limits");
        assert!(limit > 0);
        assert_eq!(
            ServerLimits::default().max_connections,
            (limit / 2).clamp(256, 16_384)
        );
    }
}
