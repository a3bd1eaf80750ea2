//! Serving the emulator on a socket, over HTTP or HTTPS (rustls).
//!
//! The server survives abuse within [`ServerLimits`]: a connection that does not send a
//! complete first request in time (idle from the start, or slowloris) is closed, and so is a
//! keep-alive connection that does not send its next request head in time (hyper's
//! header-read timeout); at most `max_connections` are
//! served at once and each one past that gets a short `503 Service Unavailable` with
//! `Retry-After` and is closed, so the process never runs out of file descriptors and
//! `/health` keeps answering (a connection past the limit that asks for `GET /health` gets
//! `200 ok`); request heads up to `max_head_bytes` reach the emulator, and a longer HTTP/1
//! head is cut off there and answered by the server itself, so an oversized header of any
//! size gets the configured `max_header_bytes` status (with `Connection: close`), never
//! hyper's 431, and memory stays bounded. Connections are accepted by a thread of their own,
//! which answers a closing health check itself ([`super::acceptor`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::Handle;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use camino::Utf8PathBuf;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::acceptor::{self, Accepted};
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
    /// The largest request head (request line and headers) handed to the emulator's handler,
    /// which answers an oversized header with the configured status and response. A longer
    /// HTTP/1 head is not read further: the server answers it with the same status, a short
    /// body and `Connection: close` itself. Default 4 MiB.
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

/// Grows this process's file table at start to hold twice `connections` descriptors (and some
/// room), by duplicating `fd` to a number that high and closing the copy; capped by the open-file
/// limit, best effort.
///
/// Linux doubles the table when a new descriptor does not fit, and while it does (waiting for
/// an RCU grace period in a threaded process) the accepting thread is blocked: under a
/// connection flood, `accept` took 4–17 ms at descriptors 256, 512, … 8,192, and `/health`
/// waited up to 100 ms behind it on a one-core emulator. Grown once, the table never shrinks.
#[cfg(unix)]
fn reserve_fd_table(fd: &std::net::TcpListener, connections: usize) {
    let limit = open_file_limit().unwrap_or(1024);
    let want = connections
        .saturating_mul(2)
        .saturating_add(256)
        .min(limit.saturating_sub(1));
    if let Ok(want) = i32::try_from(want) {
        // The copy is closed when dropped; the table keeps its size.
        drop(rustix::io::fcntl_dupfd_cloexec(fd, want));
    }
}

#[cfg(not(unix))]
fn reserve_fd_table(_: &std::net::TcpListener, _: usize) {}

/// The listen queue asked of the kernel (which caps it at `net.core.somaxconn`, 4096 by
/// default). std's `TcpListener::bind` asks for 128: while an attacker opened connections
/// faster than the accept loop took them, the queue overflowed, the kernel dropped the SYN of a
/// health check and the client retried it a second later (`/health` took 1,013 ms).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with `SO_REUSEADDR` (as std does) and a [`LISTEN_BACKLOG`]-deep accept queue.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)?.into_std()
}

/// The soft limit on open files of this process, from `/proc/self/limits` (Linux only).
fn open_file_limit() -> Option<usize> {
    let limits = fs_err::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// How long a connection refused for a head past the limit is read (and what it sends dropped)
/// after the answer, so that the client reads the answer instead of a reset.
const DRAIN_FOR: Duration = Duration::from_secs(2);

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

/// Wraps each accepted connection (after TLS, when there is TLS) in a [`HeadGuard`].
#[derive(Debug, Clone)]
struct HeadGuardAcceptor<A> {
    inner: A,
    state: MockState,
    max_head_bytes: usize,
    /// How long a refused connection's remaining input is read and dropped after the answer.
    drain_for: Duration,
}

impl<A, I, S> Accept<I, S> for HeadGuardAcceptor<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = HeadGuard<A::Stream>;
    type Service = A::Service;
    type Future =
        Pin<Box<dyn Future<Output = std::io::Result<(HeadGuard<A::Stream>, A::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let accepted = self.inner.accept(stream, service);
        let state = self.state.clone();
        let limit = self.max_head_bytes;
        let drain_for = self.drain_for;
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((
                HeadGuard {
                    inner: stream,
                    state,
                    limit,
                    drain_for,
                    phase: Phase::Head(Head::default()),
                },
                service,
            ))
        })
    }
}

/// The first bytes of a request line kept to find the virtual proxy a refused head was for.
const FIRST_LINE_KEPT: usize = 2048;
/// The first bytes of a header line kept to read `Content-Length` and `Transfer-Encoding`.
const HEADER_LINE_KEPT: usize = 64;
/// The most header fields in a request head handed to hyper: its default (past it, hyper
/// answers 431). Raising hyper's limit instead (`max_headers`) moves its header table to the
/// heap: 32 KB allocated and cleared for every parse of every head, a third of the emulator's
/// page faults under a connection flood.
const MAX_HEADER_FIELDS: usize = 100;

/// Where a [`HeadGuard`] is in the HTTP/1 byte stream it passes on.
enum Phase {
    /// Reading a request head.
    Head(Head),
    /// Reading a request body of this many more bytes.
    Body(u64),
    /// Not following the stream (HTTP/2, a chunked or unreadable body length): hyper's own
    /// limit (`max_buf_size`) applies from here on.
    Off,
    /// Answering a head past the limit: the answer, how much of it is written, whether the
    /// write side is shut, and until when the rest of the input is dropped.
    Refusing {
        answer: Vec<u8>,
        written: usize,
        shut: bool,
        until: Pin<Box<tokio::time::Sleep>>,
    },
    /// Refused: reads end, writes are dropped.
    Done,
}

/// The state of a request head being read, in bounded memory.
#[derive(Default)]
struct Head {
    /// Bytes of the head so far, leading empty lines included.
    bytes: usize,
    /// Whether a line with content (the request line) was seen.
    started: bool,
    /// The first bytes of the request line.
    first_line: Vec<u8>,
    /// Whether the request line is complete.
    first_line_done: bool,
    /// The first bytes of the current line.
    line: Vec<u8>,
    /// The length of the current line.
    line_len: usize,
    /// Lines of the head ended so far, the request line included.
    lines: usize,
    /// The `Content-Length` read.
    content_length: Option<u64>,
    /// A body whose length this guard does not follow (chunked, or a length it cannot read).
    unfollowed: bool,
}

/// What one byte did to a head.
enum Step {
    More,
    /// The head ended; what follows it.
    End(Phase),
}

impl Head {
    /// Whether the next bytes belong to a header line (the request line is complete).
    fn in_header_line(&self) -> bool {
        self.started && self.first_line_done
    }

    /// Takes bytes of a header line that contain no `\n`: what [`Self::feed`] does to each
    /// such byte, at once.
    fn take_run(&mut self, run: &[u8]) {
        debug_assert!(self.in_header_line() && !run.contains(&b'\n'));
        self.bytes += run.len();
        self.line_len += run.len();
        let keep = HEADER_LINE_KEPT
            .saturating_sub(self.line.len())
            .min(run.len());
        self.line.extend_from_slice(&run[..keep]);
    }

    fn feed(&mut self, b: u8) -> Step {
        self.bytes += 1;
        if self.started && !self.first_line_done {
            if b == b'\n' {
                self.first_line_done = true;
                if self.first_line.starts_with(b"PRI * HTTP/2.0") {
                    return Step::End(Phase::Off);
                }
            } else if self.first_line.len() < FIRST_LINE_KEPT {
                self.first_line.push(b);
            }
        }
        if b != b'\n' {
            if !self.started && b != b'\r' {
                self.started = true;
                self.first_line.push(b);
            }
            self.line_len += 1;
            if self.line.len() < HEADER_LINE_KEPT {
                self.line.push(b);
            }
            return Step::More;
        }
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let empty = line.is_empty() && self.line_len <= 1;
        if empty && self.started {
            let next = if self.unfollowed {
                Phase::Off
            } else {
                match self.content_length {
                    Some(n) if n > 0 => Phase::Body(n),
                    _ => Phase::Head(Self::default()),
                }
            };
            return Step::End(next);
        }
        if self.started && self.first_line_done {
            self.lines += 1;
            let lower = line.to_ascii_lowercase();
            let truncated = self.line_len > HEADER_LINE_KEPT;
            if let Some(value) = lower.strip_prefix(b"content-length:") {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match parsed {
                    Some(n) if !truncated && self.content_length.is_none_or(|c| c == n) => {
                        self.content_length = Some(n);
                    }
                    _ => self.unfollowed = true,
                }
            } else if lower.starts_with(b"transfer-encoding")
                || (truncated && lower.starts_with(b"content-length"))
            {
                self.unfollowed = true;
            }
        }
        self.line.clear();
        self.line_len = 0;
        Step::More
    }

    /// Whether the head is past `limit` bytes or [`MAX_HEADER_FIELDS`] header fields.
    fn over(&self, limit: usize) -> bool {
        self.bytes > limit || self.lines > MAX_HEADER_FIELDS + 1
    }

    /// The path of the request line, when it was read whole enough to have one.
    fn path(&self) -> Option<String> {
        let line = std::str::from_utf8(&self.first_line).ok()?;
        let target = line.split(' ').nth(1)?;
        let path = match target.find("://") {
            Some(i) => {
                let rest = &target[i + 3..];
                rest.find('/').map_or("/", |j| &rest[j..])
            }
            None => target,
        };
        Some(path.split(['?', '#']).next().unwrap_or(path).to_owned())
    }
}

/// A connection whose HTTP/1 request heads are counted as they are read: a head longer than
/// [`ServerLimits::max_head_bytes`] is never handed to hyper (which would answer 431); the
/// guard answers it with the emulator's status for an oversized header and `Connection:
/// close`, shuts the connection and reads and drops what the client still sends for a short
/// while (so the client gets the answer rather than a reset), in memory bounded by one
/// read buffer.
struct HeadGuard<T> {
    inner: T,
    state: MockState,
    limit: usize,
    drain_for: Duration,
    phase: Phase,
}

impl<T> std::fmt::Debug for HeadGuard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadGuard")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> HeadGuard<T> {
    /// Follows the bytes just read; returns how many of them to hand on, or `None` when a
    /// head went past the limit (then the guard is refusing and hands on none).
    fn follow(&mut self, mut bytes: &[u8]) -> Option<usize> {
        let total = bytes.len();
        while !bytes.is_empty() {
            match &mut self.phase {
                Phase::Head(head) => {
                    let mut used = 0;
                    let mut next = None;
                    let mut over = false;
                    while used < bytes.len() {
                        // A header line's bytes before its `\n` only count and fill the
                        // bounded line buffer: take them at once (a bearer token's line is
                        // most of a head; byte by byte, the guard cost 8 % of the emulator's
                        // user instructions per request).
                        if head.in_header_line() {
                            let rest = &bytes[used..];
                            let room = (self.limit + 1).saturating_sub(head.bytes);
                            let run = memchr::memchr(b'\n', rest).unwrap_or(rest.len()).min(room);
                            head.take_run(&rest[..run]);
                            used += run;
                            over = head.over(self.limit);
                            if over || used == bytes.len() {
                                break;
                            }
                        }
                        let b = bytes[used];
                        used += 1;
                        if let Step::End(phase) = head.feed(b) {
                            next = Some(phase);
                            break;
                        }
                        over = head.over(self.limit);
                        if over {
                            break;
                        }
                    }
                    if over {
                        let why = if head.bytes > self.limit {
                            format!("request head of more than {} bytes", self.limit)
                        } else {
                            format!("request head of more than {MAX_HEADER_FIELDS} header fields")
                        };
                        let answer = self
                            .state
                            .oversize_head_response(head.path().as_deref(), &why);
                        self.phase = Phase::Refusing {
                            answer,
                            written: 0,
                            shut: false,
                            until: Box::pin(tokio::time::sleep(self.drain_for)),
                        };
                        return None;
                    }
                    bytes = &bytes[used..];
                    if let Some(phase) = next {
                        self.phase = phase;
                    }
                }
                Phase::Body(left) => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    bytes = &bytes[usize::try_from(n).unwrap_or(bytes.len())..];
                    if *left == 0 {
                        self.phase = Phase::Head(Head::default());
                    }
                }
                Phase::Off | Phase::Refusing { .. } | Phase::Done => break,
            }
        }
        Some(total)
    }

    /// Writes the answer, shuts the write side, then drops input until the client closes or
    /// the drain time is over.
    fn poll_refuse(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Phase::Refusing {
            answer,
            written,
            shut,
            until,
        } = &mut self.phase
        else {
            return Poll::Ready(());
        };
        let inner = &mut self.inner;
        while *written < answer.len() {
            match Pin::new(&mut *inner).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    self.phase = Phase::Done;
                    return Poll::Ready(());
                }
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Pending => return Poll::Pending,
            }
        }
        if !*shut {
            match Pin::new(&mut *inner).poll_shutdown(cx) {
                Poll::Ready(_) => *shut = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        let mut scratch = [0u8; 8192];
        loop {
            if until.as_mut().poll(cx).is_ready() {
                break;
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                Poll::Ready(_) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        self.phase = Phase::Done;
        Poll::Ready(())
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            match this.phase {
                Phase::Done => return Poll::Ready(Ok(())),
                Phase::Refusing { .. } => {
                    return this.poll_refuse(cx).map(|()| Ok(()));
                }
                Phase::Off => return Pin::new(&mut this.inner).poll_read(cx, buf),
                Phase::Head(_) | Phase::Body(_) => {}
            }
            let start = buf.filled().len();
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            match this.follow(&buf.filled()[start..]) {
                Some(_) => return Poll::Ready(Ok(())),
                // Nothing of this read reaches hyper; answer the client instead.
                None => buf.set_filled(start),
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.phase {
            // The guard writes the answer; whatever hyper writes now is dropped.
            Phase::Refusing { .. } | Phase::Done => Poll::Ready(Ok(buf.len())),
            _ => Pin::new(&mut self.inner).poll_write(cx, buf),
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.phase {
            Phase::Refusing { .. } | Phase::Done => Poll::Ready(Ok(())),
            _ => Pin::new(&mut self.inner).poll_flush(cx),
        }
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.phase {
            Phase::Refusing { .. } | Phase::Done => Poll::Ready(Ok(())),
            _ => Pin::new(&mut self.inner).poll_shutdown(cx),
        }
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.phase {
            Phase::Refusing { .. } | Phase::Done => {
                Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
            }
            _ => Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
        }
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
        // Past the guard's limit, so a head too long reaches the guard before hyper's 431.
        .max_buf_size(limits.max_head_bytes.saturating_add(64 * 1024));
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
    handle: Handle<Accepted>,
    task: JoinHandle<std::io::Result<()>>,
    accept_thread: std::thread::JoinHandle<()>,
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
        // The server has dropped its end of the accept thread, which sees it within 25 ms and
        // closes the listener.
        let thread = self.accept_thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
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
    let listener = bind(listen).map_err(|source| MockError::Bind {
        addr: listen,
        source,
    })?;
    reserve_fd_table(&listener, limits.max_connections);
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        addr: listen,
        source,
    })?;
    let state = MockState::new(config, clock, rustls.is_some());
    // A health check on plain HTTP is answered by the accept thread; over TLS it needs the
    // handshake, which the runtime does.
    let health = rustls.is_none().then(|| state.clone());
    let (incoming, accept_thread) = acceptor::spawn(
        listener,
        health,
        accept_waiting(limits.max_connections),
        acceptor::FIRST_BYTES_HOLD,
    )
    .map_err(|source| MockError::Bind {
        addr: listen,
        source,
    })?;
    let handle = Handle::new();
    let service = app(state.clone()).into_make_service();
    let scheme = if rustls.is_some() { "https" } else { "http" };
    let limit = LimitAcceptor {
        permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        tls: rustls.is_some(),
    };
    let task = match rustls {
        Some(rustls) => {
            let mut server = axum_server::Server::<Accepted>::from_listener(incoming)
                .acceptor(HeadGuardAcceptor {
                    inner: RustlsAcceptor::new(rustls)
                        .handshake_timeout(limits.header_read_timeout)
                        .acceptor(limit),
                    state: state.clone(),
                    max_head_bytes: limits.max_head_bytes,
                    drain_for: DRAIN_FOR,
                })
                .handle(handle.clone());
            configure(&mut server, limits);
            tokio::spawn(server.serve(service))
        }
        None => {
            let mut server = axum_server::Server::<Accepted>::from_listener(incoming)
                .acceptor(HeadGuardAcceptor {
                    inner: limit,
                    state: state.clone(),
                    max_head_bytes: limits.max_head_bytes,
                    drain_for: DRAIN_FOR,
                })
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
        accept_thread,
    })
}

/// How many accepted connections may wait for the runtime: enough to take a burst of new
/// connections off the kernel's queue (so that a health check behind them is answered), few
/// enough that waiting and served connections together stay within the open-file limit that
/// [`ServerLimits::max_connections`] is half of.
fn accept_waiting(max_connections: usize) -> usize {
    (max_connections / 2).clamp(64, 8192)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` to a fresh head; returns how many bytes it took and what follows it.
    fn head_of(bytes: &[u8]) -> (Head, Option<(usize, Phase)>) {
        let mut head = Head::default();
        for (i, &b) in bytes.iter().enumerate() {
            if let Step::End(next) = head.feed(b) {
                return (head, Some((i + 1, next)));
            }
        }
        (head, None)
    }

    #[test]
    fn head_ends_at_the_empty_line_and_follows_the_content_length() {
        let request = b"\r\nPOST /jwt/hub/?a=1 HTTP/1.1\r\nContent-LENGTH:  12 \r\n\r\nbody";
        let (head, end) = head_of(request);
        let (used, next) = end.expect("the head ends");
        assert_eq!(used, request.len() - 4);
        assert!(matches!(next, Phase::Body(12)));
        assert_eq!(head.path().as_deref(), Some("/jwt/hub/"));
    }

    // Each case: a head after which the guard cannot tell where the next head starts.
    #[test_case::test_case(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"; "chunked")]
    #[test_case::test_case(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"; "two lengths")]
    #[test_case::test_case(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"; "bad length")]
    #[test_case::test_case(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"; "HTTP/2 preface")]
    fn head_with_an_unfollowed_body_turns_the_guard_off(request: &[u8]) {
        let (_, end) = head_of(request);
        assert!(matches!(end, Some((_, Phase::Off))));
    }

    #[test]
    fn head_without_a_body_is_followed_by_the_next_head() {
        let (_, end) = head_of(b"GET http://h/jwt/x HTTP/1.1\nHost: h\n\n");
        assert!(matches!(end, Some((_, Phase::Head(_)))));
        let (head, _) = head_of(b"GET http://h/jwt/x?q HTTP/1.1\r\n");
        assert_eq!(head.path().as_deref(), Some("/jwt/x"));
    }

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

    /// With std's queue of 128 the 129th of these connects lost its SYN and waited a second
    /// for the retry; with the deep queue all of them complete although nothing accepts.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn listen_queue_holds_hundreds_of_unaccepted_connections() {
        let listener = bind("127.0.0.1:0".parse().expect("an address")).expect("bind");
        let addr = listener.local_addr().expect("local address");
        // The kernel caps the queue at `net.core.somaxconn` (4096 since Linux 5.4).
        let cap = fs_err::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(4096);
        let n = cap.min(400);
        let mut held = Vec::new();
        for i in 0..n {
            let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                .unwrap_or_else(|e| panic!("connect {i} waited in vain: {e}"));
            held.push(stream);
        }
        assert_eq!(held.len(), n);
    }

    /// Whether a per-byte reading of `head` (as [`Head::feed`] alone) finds it past `limit`.
    fn over_by_bytes(head: &[u8], limit: usize) -> bool {
        let mut h = Head::default();
        for &b in head {
            if let Step::End(_) = h.feed(b) {
                return false;
            }
            if h.bytes > limit {
                return true;
            }
        }
        false
    }

    /// The guard takes a header line's bytes in one run; it must refuse exactly the heads that
    /// a byte-by-byte reading refuses, wherever the limit falls and however the bytes arrive.
    #[tokio::test]
    async fn guard_taking_runs_refuses_exactly_what_byte_by_byte_refuses() {
        let repo = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let config = MockConfig::fixture_default(&repo).expect("fixture config");
        let state = MockState::new(config, super::super::MockClock::system(), false);
        let head = b"GET /jwt/hub/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nX-A: b\r\n\r\n";
        let mut refused = 0;
        for limit in 0..head.len() + 2 {
            for chunk in [1, 7, head.len()] {
                let mut guard = HeadGuard {
                    inner: tokio::io::duplex(64).0,
                    state: state.clone(),
                    limit,
                    drain_for: DRAIN_FOR,
                    phase: Phase::Head(Head::default()),
                };
                let over = head.chunks(chunk).any(|c| guard.follow(c).is_none());
                assert_eq!(
                    over,
                    over_by_bytes(head, limit),
                    "limit {limit}, chunks of {chunk}"
                );
                refused += usize::from(over);
            }
        }
        // Both outcomes occur: the limits below the head's length refuse it.
        assert!(refused > 0 && refused < 3 * (head.len() + 2));
    }

    /// The file table's size (`FDSize` in `/proc/self/status`).
    #[cfg(target_os = "linux")]
    fn fd_table_size() -> usize {
        let status = fs_err::read_to_string("/proc/self/status").expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("an FDSize line")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn file_table_is_grown_once_for_the_connection_limit() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        // The test binary's limit may be low; ask for what it allows.
        let room = open_file_limit().expect("a limit").saturating_sub(300) / 2;
        let connections = room.min(3000);
        reserve_fd_table(&listener, connections);
        assert!(
            fd_table_size() >= connections * 2,
            "FDSize {} < {}",
            fd_table_size(),
            connections * 2
        );
    }
}
