//! A lean HTTP/1.1 client for the load hot path: plain `http://` steps, one connection per
//! virtual user (or a shared pool, or one per request), kept alive, driven inside the user's
//! own task. Requests are serialized once, when a step is prepared; responses are parsed by
//! `httparse` straight from the connection's read buffer.
//!
//! Why not [`crate::client::Client`] (reqwest) here: measured with callgrind against the
//! emulator's `/health`, a request through reqwest cost about 57,000 instructions in the
//! generator, most of it reqwest's per-request machinery that load does not use (the URL parsed
//! three times per request, redirect and retry layers, pool checkout, header map copies, a task
//! switch). Why not hyper's `client::conn::http1` either (the previous version of this module):
//! about 12,000 of the remaining 25,000 instructions per request were hyper's dispatcher (the
//! request's method, URI and header map cloned and encoded again on every send, the response
//! decoded through its state machine and body channel), and the generator, not the target, was
//! the bottleneck at 50 connections (0.77× oha's throughput, 0.85× wrk's, on two cores). Here a
//! request is one `write` of prebuilt bytes and a response is one `httparse` call over bytes
//! already read, with header values sliced out of the read buffer without copying. This is
//! hand-written because no maintained crate offers an HTTP/1.1 client below hyper's level; the
//! parsing itself (status line, headers, chunk sizes) is `httparse`, the parser hyper uses.
//!
//! What it keeps from the client's behaviour: `Accept: */*` unless the step sets it, no
//! redirects followed (a 302 is a response to check), the total timeout (connect, send and
//! the whole body) and the connect timeout, the body cap, `TCP_NODELAY`, and the error classes
//! (connect, timeout, other). Responses are framed per RFC 9112 §6: no body for `HEAD`, 1xx,
//! 204 and 304; chunked (trailers skipped); `Content-Length`; else until the server closes.
//! Interim 1xx responses are skipped. A kept-alive connection that the server closed while idle
//! never counts as an error: every kept connection is probed before a request is written (a
//! close, or bytes nobody asked for such as an idle-timeout 408, mean a new connection), and a
//! close the probe could not see yet is found by the write or the read: an idempotent request
//! is then sent again on a new connection, unless an interim response showed the server had
//! read it; a non-idempotent one never is (RFC 9110 §9.2.2). `https://` steps run on the same
//! path over rustls ([`super::tls`]: HTTP/1.1 by ALPN, sessions resumed); only steps that
//! follow redirects stay on the reqwest client (see `load::http`, which drives both).

use std::io;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::tls::{self, LeanTls};
use crate::client::{self, ErrorClass};

/// The most response headers read; a response with more is a protocol error.
const MAX_HEADERS: usize = 128;
/// Response headers parsed without a heap table.
const FEW_HEADERS: usize = 24;
/// The longest response head (status line and headers) read.
const MAX_HEAD: usize = 64 * 1024;
/// How much free room the read buffer gets before each read.
const READ_CHUNK: usize = 16 * 1024;
/// The mark in front of a TLS connection's authority.
const TLS_MARK: &str = "tls:";

/// A connection's byte stream: plain TCP or TLS over TCP.
enum Stream {
    /// `http://`.
    Plain(TcpStream),
    /// `https://` (boxed: the TLS state is large).
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A response: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) status: u16,
    /// The headers (empty when the request was prepared [`Prepared::without_headers`]).
    pub(crate) headers: HeaderMap,
    /// The body, at most the cap.
    pub(crate) body: Bytes,
}

/// A prepared request: its bytes on the wire, built once.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Request line and headers, each line ending in CRLF, without the request's own `Cookie`
    /// headers and without the blank line.
    head: Bytes,
    /// The body (empty when none).
    body: Bytes,
    /// `head`, the request's own `Cookie` lines, the blank line and the body: written as is
    /// when no cookie is given at send time.
    wire: Bytes,
    /// `host:port` to connect to (`https://` authorities keep a `tls:` mark in front, so that
    /// plain and TLS connections to one port are never mixed up in a pool).
    pub(crate) authority: String,
    /// The server name for TLS (`https://`), `None` for plain `http://`.
    server_name: Option<ServerName<'static>>,
    /// The total timeout.
    pub(crate) timeout: Duration,
    /// Safe to send again when a kept-alive connection turns out closed (RFC 9110 §9.2.2).
    idempotent: bool,
    /// False for `HEAD`: the response has no body whatever its headers say.
    response_has_body: bool,
    /// Whether [`Reply::headers`] is filled (true unless [`Prepared::without_headers`]).
    keep_headers: bool,
}

impl Prepared {
    /// Prepares a client request for the lean path; `None` when it needs the full client
    /// (not `http://` or `https://`, follows redirects, or a URL without a host).
    pub(crate) fn from_request(
        request: &client::Request,
        default_timeout: Duration,
    ) -> Option<Self> {
        let url = &request.url;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        if request.follow_redirects {
            return None;
        }
        let host = url.host_str()?;
        let server_name = if https {
            Some(tls::server_name(host)?)
        } else {
            None
        };
        let port = url.port_or_known_default()?;
        let method = &request.method;
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(method.as_str().as_bytes());
        head.push(b' ');
        // `Url` keeps the path and query percent-encoded: no space or control byte.
        head.extend_from_slice(url.path().as_bytes());
        if let Some(query) = url.query() {
            head.push(b'?');
            head.extend_from_slice(query.as_bytes());
        }
        head.extend_from_slice(b" HTTP/1.1\r\n");
        let line = |out: &mut Vec<u8>, name: &[u8], value: &[u8]| {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        if !request.headers.contains_key(header::HOST) {
            let host_header = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            };
            line(&mut head, b"host", host_header.as_bytes());
        }
        let mut own_cookies = Vec::new();
        for (name, value) in &request.headers {
            let out = if name == header::COOKIE {
                &mut own_cookies
            } else {
                &mut head
            };
            line(out, name.as_str().as_bytes(), value.as_bytes());
        }
        if !request.headers.contains_key(header::ACCEPT) {
            line(&mut head, b"accept", b"*/*");
        }
        let body = request.body.clone().unwrap_or_default();
        let framed = request.headers.contains_key(header::CONTENT_LENGTH)
            || request.headers.contains_key(header::TRANSFER_ENCODING);
        let sends_length =
            !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if !framed && sends_length {
            line(
                &mut head,
                b"content-length",
                body.len().to_string().as_bytes(),
            );
        }
        let mut wire = Vec::with_capacity(head.len() + own_cookies.len() + 2 + body.len());
        wire.extend_from_slice(&head);
        wire.extend_from_slice(&own_cookies);
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&body);
        // An IPv6 host keeps its brackets for connecting (`[::1]:80`).
        let authority = match url.host() {
            Some(url::Host::Ipv6(addr)) => format!("[{addr}]:{port}"),
            _ => format!("{host}:{port}"),
        };
        let authority = if https {
            format!("{TLS_MARK}{authority}")
        } else {
            authority
        };
        Some(Self {
            head: Bytes::from(head),
            body,
            wire: Bytes::from(wire),
            authority,
            server_name,
            timeout: request.timeout.unwrap_or(default_timeout),
            idempotent: method.is_idempotent(),
            response_has_body: *method != Method::HEAD,
            keep_headers: true,
        })
    }

    /// The same request, for a caller that never reads the response's headers: answers come
    /// with an empty header map (framing headers are still read).
    pub(crate) fn without_headers(mut self) -> Self {
        self.keep_headers = false;
        self
    }

    /// The request's bytes with `cookie` replacing its own `Cookie` headers, into `out`.
    fn write_with_cookie(&self, cookie: &HeaderValue, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"cookie: ");
        out.extend_from_slice(cookie.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&self.body);
    }
}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (`HEAD`, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A response head: status, headers, framing and whether the connection stays open.
struct Head {
    status: u16,
    headers: HeaderMap,
    framing: Framing,
    keep_alive: bool,
}

/// Why an exchange on a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExchangeError {
    /// A reused connection was found closed before any byte of a response came back: the
    /// request can be sent again on a new connection when that is safe.
    Stale,
    /// Anything else.
    Failed(ErrorClass),
}

impl From<ErrorClass> for ExchangeError {
    fn from(failure: ErrorClass) -> Self {
        Self::Failed(failure)
    }
}

/// One kept-alive HTTP/1.1 connection.
pub(crate) struct Conn {
    stream: Stream,
    /// The `host:port` it was opened to: idle connections are found by it.
    authority: Box<str>,
    /// Bytes read and not yet consumed. Response heads and bodies are split off it and frozen;
    /// once the caller drops them, the buffer reclaims the space.
    read: BytesMut,
    /// Scratch for a request with a cookie added.
    write: Vec<u8>,
    /// Scratch: where the last head's names and values lie in it.
    places: Vec<(Range<usize>, Range<usize>)>,
    /// Responses read on this connection (a stale close is only possible after the first).
    served: u64,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("served", &self.served)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Opens a connection for `prepared` (its authority, and TLS with `tls` for `https://`).
    /// The connect timeout covers the TCP connect and the TLS handshake.
    pub(crate) async fn open(
        prepared: &Prepared,
        connect_timeout: Duration,
        tls: Option<&LeanTls>,
    ) -> Result<Self, ErrorClass> {
        let authority = prepared.authority.as_str();
        let address = authority.strip_prefix(TLS_MARK).unwrap_or(authority);
        let connect = async {
            let tcp = TcpStream::connect(address)
                .await
                .map_err(|_| ErrorClass::Connect)?;
            // Like the client: requests are small and latency matters.
            let _ = tcp.set_nodelay(true);
            match (&prepared.server_name, tls) {
                (None, _) => Ok(Stream::Plain(tcp)),
                (Some(name), Some(tls)) => tls
                    .connector()
                    .connect(name.clone(), tcp)
                    .await
                    .map(|s| Stream::Tls(Box::new(s)))
                    .map_err(|_| ErrorClass::Tls),
                (Some(_), None) => Err(ErrorClass::Tls),
            }
        };
        let stream = match tokio::time::timeout(connect_timeout, connect).await {
            Err(_) => return Err(ErrorClass::Timeout),
            Ok(result) => result?,
        };
        Ok(Self {
            stream,
            authority: authority.into(),
            read: BytesMut::with_capacity(READ_CHUNK),
            write: Vec::new(),
            places: Vec::with_capacity(FEW_HEADERS),
            served: 0,
        })
    }

    /// True when the server has not closed the connection (nor sent anything unasked). Costs a
    /// `recv` that returns at once (none when the reactor already knows nothing is readable).
    ///
    /// Over TLS the probe is one poll of the TLS stream that must come back pending: records
    /// that carry no data (TLS 1.3 session tickets) are consumed by rustls and keep it open;
    /// a close, a `close_notify` or application data nobody asked for do not.
    fn looks_open(&mut self) -> bool {
        let mut probe = [0u8; 1];
        match &mut self.stream {
            Stream::Plain(tcp) => {
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(tls) => {
                let mut cx = Context::from_waker(Waker::noop());
                let mut buf = ReadBuf::new(&mut probe);
                Pin::new(tls.as_mut())
                    .poll_read(&mut cx, &mut buf)
                    .is_pending()
            }
        }
    }

    /// Sends `prepared` (with `cookie` replacing its own cookies when given) and reads the
    /// whole response, at most `cap` body bytes. Returns the answer and whether the connection
    /// may carry another request.
    async fn exchange(
        &mut self,
        prepared: &Prepared,
        cookie: Option<&HeaderValue>,
        cap: usize,
    ) -> Result<(Reply, bool), ExchangeError> {
        let reused = self.served > 0;
        let sent = match cookie {
            None => self.stream.write_all(&prepared.wire).await,
            Some(cookie) => {
                prepared.write_with_cookie(cookie, &mut self.write);
                self.stream.write_all(&self.write).await
            }
        };
        if sent.is_err() {
            return Err(if reused {
                ExchangeError::Stale
            } else {
                ExchangeError::Failed(ErrorClass::Other)
            });
        }
        // Interim responses (100 Continue, 103 Early Hints) precede the real one; once one has
        // come, the server has read the request and a close is no longer stale.
        let mut stale_possible = reused;
        let head = loop {
            let head = self
                .read_head(stale_possible, prepared.keep_headers)
                .await?;
            if !(100..200).contains(&head.status) || head.status == 101 {
                break head;
            }
            stale_possible = false;
        };
        self.served += 1;
        let framing = if prepared.response_has_body {
            head.framing
        } else {
            Framing::Empty
        };
        let body = match framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(len) => self.read_sized(len, cap).await?,
            Framing::Chunked => self.read_chunked(cap).await?,
            Framing::UntilClose => self.read_until_close(cap).await?,
        };
        // Bytes nobody asked for mean the connection is out of step: do not reuse it.
        let keep = head.keep_alive
            && head.status != 101
            && framing != Framing::UntilClose
            && self.read.is_empty();
        let answer = Reply {
            status: head.status,
            headers: head.headers,
            body,
        };
        Ok((answer, keep))
    }

    /// Reads more bytes into the buffer; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.read.capacity() - self.read.len() < READ_CHUNK / 4 {
            self.read.reserve(READ_CHUNK);
        }
        self.stream.read_buf(&mut self.read).await
    }

    /// Reads and parses one response head. `stale_possible`: a close before any byte is stale.
    async fn read_head(
        &mut self,
        stale_possible: bool,
        keep_headers: bool,
    ) -> Result<Head, ExchangeError> {
        loop {
            if !self.read.is_empty()
                && let Some(head) = self.parse_head(keep_headers)?
            {
                return Ok(head);
            }
            if self.read.len() > MAX_HEAD {
                return Err(ErrorClass::Other.into());
            }
            let nothing_yet = self.read.is_empty();
            match self.fill().await {
                Ok(0) | Err(_) if stale_possible && nothing_yet => {
                    return Err(ExchangeError::Stale);
                }
                Ok(0) | Err(_) => return Err(ErrorClass::Other.into()),
                Ok(_) => {}
            }
        }
    }

    /// Parses a complete head at the start of the buffer and consumes it; `None` when more
    /// bytes are needed.
    fn parse_head(&mut self, keep_headers: bool) -> Result<Option<Head>, ErrorClass> {
        // Most responses have a few headers: a small uninitialized table first, a big one
        // only when it overflows (initializing a big table costs more than parsing).
        let mut few = [MaybeUninit::<httparse::Header<'_>>::uninit(); FEW_HEADERS];
        let mut many;
        let mut response = httparse::Response::new(&mut []);
        let Self { read, places, .. } = self;
        let config = httparse::ParserConfig::default();
        let parsed = match config.parse_response_with_uninit_headers(&mut response, read, &mut few)
        {
            Err(httparse::Error::TooManyHeaders) => {
                many = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
                response = httparse::Response::new(&mut []);
                config.parse_response_with_uninit_headers(&mut response, read, &mut many)
            }
            other => other,
        };
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ErrorClass::Other),
        };
        let status = response.code.ok_or(ErrorClass::Other)?;
        let http11 = response.version == Some(1);
        // Where each name and value lies in the buffer, so that values can be sliced out of
        // the frozen head without copying.
        let base = read.as_ptr().addr();
        let within = |part: &[u8]| {
            let start = part.as_ptr().addr().checked_sub(base)?;
            let end = start.checked_add(part.len())?;
            (end <= len).then_some(start..end)
        };
        places.clear();
        for h in response.headers.iter() {
            // httparse hands out slices of the buffer; anything else is refused, not sliced.
            let (Some(name), Some(value)) = (within(h.name.as_bytes()), within(h.value)) else {
                return Err(ErrorClass::Other);
            };
            places.push((name, value));
        }
        let bytes = self.read.split_to(len).freeze();
        // Content-Length values (each may be a list); an invalid or disagreeing one is only an
        // error when it frames the body (RFC 9112 §6.3, items 3 and 5).
        let mut length = Some(None);
        let mut coding_chunked = None;
        let mut close = !http11;
        for (name, value) in &self.places {
            let (name, value) = (&bytes[name.clone()], &bytes[value.clone()]);
            if name.eq_ignore_ascii_case(b"content-length") {
                length = match (length, parse_length(value)) {
                    (Some(None), Some(len)) => Some(Some(len)),
                    (Some(Some(seen)), Some(len)) if seen == len => Some(Some(len)),
                    _ => None,
                };
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // Only the last coding says whether the body is chunked.
                coding_chunked = Some(
                    value
                        .split(|b| *b == b',')
                        .map(<[u8]>::trim_ascii)
                        .rfind(|c| !c.is_empty())
                        .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")),
                );
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                        close = false;
                    }
                }
            }
        }
        if coding_chunked.is_some() && (length != Some(None) || !http11) {
            // Both framings, or a transfer coding in HTTP/1.0: read this one response the
            // Transfer-Encoding way, then close (RFC 9112 §6.1 and §6.3, item 3).
            close = true;
        }
        let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::Empty
        } else {
            // Transfer-Encoding overrides Content-Length; a non-chunked coding runs to close.
            match (coding_chunked, length) {
                (Some(true), _) => Framing::Chunked,
                (Some(false), _) | (None, Some(None)) => Framing::UntilClose,
                (None, Some(Some(len))) => Framing::Length(len),
                (None, None) => return Err(ErrorClass::Other),
            }
        };
        // The header map is built only for steps that read headers (it is most of the cost
        // of a small response).
        let mut headers = HeaderMap::new();
        if keep_headers {
            headers.reserve(self.places.len());
            for (name, value) in &self.places {
                let name =
                    HeaderName::from_bytes(&bytes[name.clone()]).map_err(|_| ErrorClass::Other)?;
                let value = HeaderValue::from_maybe_shared(bytes.slice(value.clone()))
                    .map_err(|_| ErrorClass::Other)?;
                headers.append(name, value);
            }
        }
        Ok(Some(Head {
            status,
            headers,
            framing,
            keep_alive: !close,
        }))
    }

    /// Reads a body of `len` bytes.
    async fn read_sized(&mut self, len: u64, cap: usize) -> Result<Bytes, ErrorClass> {
        if len > cap as u64 {
            return Err(ErrorClass::BodyTooLarge);
        }
        let len = usize::try_from(len).map_err(|_| ErrorClass::BodyTooLarge)?;
        while self.read.len() < len {
            // Grow with what arrives, not with what the server declared.
            let want = (len - self.read.len()).min(4 * READ_CHUNK);
            if self.read.capacity() - self.read.len() < want {
                self.read.reserve(want);
            }
            match self.stream.read_buf(&mut self.read).await {
                Ok(0) | Err(_) => return Err(ErrorClass::Other),
                Ok(_) => {}
            }
        }
        Ok(self.read.split_to(len).freeze())
    }

    /// Reads a chunked body (RFC 9112 §7.1), skipping chunk extensions and trailers.
    async fn read_chunked(&mut self, cap: usize) -> Result<Bytes, ErrorClass> {
        let mut body = BytesMut::new();
        loop {
            let size = loop {
                // A chunk-size line starts with a hex digit (httparse takes an empty one as 0).
                if self.read.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
                    return Err(ErrorClass::Other);
                }
                match httparse::parse_chunk_size(&self.read) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.read.advance(used);
                        break size;
                    }
                    // An endless extension must not grow the buffer without bound.
                    Ok(httparse::Status::Partial) if self.read.len() > MAX_HEAD => {
                        return Err(ErrorClass::Other);
                    }
                    Ok(httparse::Status::Partial) => self.more().await?,
                    Err(_) => return Err(ErrorClass::Other),
                }
            };
            if size == 0 {
                break;
            }
            if (body.len() as u64).saturating_add(size) > cap as u64 {
                return Err(ErrorClass::BodyTooLarge);
            }
            let size = usize::try_from(size).map_err(|_| ErrorClass::BodyTooLarge)?;
            let framed = size.checked_add(2).ok_or(ErrorClass::BodyTooLarge)?;
            while self.read.len() < framed {
                self.more().await?;
            }
            if &self.read[size..framed] != b"\r\n" {
                return Err(ErrorClass::Other);
            }
            body.extend_from_slice(&self.read[..size]);
            self.read.advance(framed);
        }
        // Trailer fields, each a line, up to an empty line.
        loop {
            match self.read.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.read.advance(2);
                    return Ok(body.freeze());
                }
                Some(end) => self.read.advance(end + 2),
                None if self.read.len() > MAX_HEAD => return Err(ErrorClass::Other),
                None => self.more().await?,
            }
        }
    }

    /// Reads a body that ends when the server closes the connection.
    async fn read_until_close(&mut self, cap: usize) -> Result<Bytes, ErrorClass> {
        loop {
            if self.read.len() > cap {
                return Err(ErrorClass::BodyTooLarge);
            }
            match self.fill().await {
                Ok(0) => return Ok(self.read.split().freeze()),
                Ok(_) => {}
                Err(_) => return Err(ErrorClass::Other),
            }
        }
    }

    /// Reads more bytes; the end of the stream mid-response is an error.
    async fn more(&mut self) -> Result<(), ErrorClass> {
        match self.fill().await {
            Ok(0) | Err(_) => Err(ErrorClass::Other),
            Ok(_) => Ok(()),
        }
    }
}

/// A `Content-Length` value: decimal digits, or a comma-separated list of the same number
/// (RFC 9112 §6.3, item 5).
fn parse_length(value: &[u8]) -> Option<u64> {
    let mut length = None;
    for part in value.split(|b| *b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n: u64 = std::str::from_utf8(part).ok()?.parse().ok()?;
        if length.is_some_and(|l| l != n) {
            return None;
        }
        length = Some(n);
    }
    length
}

/// Takes the most recently kept connection to `authority` out of `idle`, if any.
pub(crate) fn take_idle(idle: &mut Vec<Conn>, authority: &str) -> Option<Conn> {
    let at = idle.iter().rposition(|c| &*c.authority == authority)?;
    Some(idle.swap_remove(at))
}

/// Idle connections shared by every user.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// Takes an idle connection to `authority`, if any.
    pub(crate) fn take(&self, authority: &str) -> Option<Conn> {
        take_idle(
            &mut self.idle.lock().unwrap_or_else(PoisonError::into_inner),
            authority,
        )
    }

    /// Returns a connection for reuse.
    pub(crate) fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.push(conn);
    }
}

/// Sends `prepared` over `conn` (or a new connection when it is `None` or found closed), with
/// `cookie` replacing the request's own cookies when given, within the total timeout (kept by
/// `timer`, reset here). Returns the answer and the connection when it may be reused.
pub(crate) async fn send_timed(
    prepared: &Prepared,
    conn: Option<Conn>,
    cookie: Option<&HeaderValue>,
    settings: &client::ClientSettings,
    tls: Option<&LeanTls>,
    timer: &mut Timer,
) -> (Result<Reply, ErrorClass>, Option<Conn>) {
    let cap = settings.body_cap;
    let exchange = async move {
        // A kept connection is probed before writing: one the server closed, or one with bytes
        // nobody asked for (an idle-timeout 408), is replaced. The probe's `recv` usually
        // returns EAGAIN, which the read after the write would otherwise have paid. A close
        // the probe cannot see yet shows on the write or the read: an idempotent request is
        // then sent again, others never are.
        let reused = conn.and_then(|mut c| c.looks_open().then_some(c));
        if let Some(mut conn) = reused {
            match conn.exchange(prepared, cookie, cap).await {
                Ok((answer, keep)) => return Ok((answer, keep.then_some(conn))),
                Err(ExchangeError::Failed(failure)) => return Err(failure),
                // The server may have read the request before it closed.
                Err(ExchangeError::Stale) if !prepared.idempotent => return Err(ErrorClass::Other),
                Err(ExchangeError::Stale) => {}
            }
        }
        let mut conn = Conn::open(prepared, settings.connect_timeout, tls).await?;
        match conn.exchange(prepared, cookie, cap).await {
            Ok((answer, keep)) => Ok((answer, keep.then_some(conn))),
            Err(ExchangeError::Failed(failure)) => Err(failure),
            Err(ExchangeError::Stale) => Err(ErrorClass::Other),
        }
    };
    let deadline = tokio::time::Instant::now() + prepared.timeout;
    let mut sleep = timer.0.as_mut();
    sleep.as_mut().reset(deadline);
    tokio::select! {
        biased;
        result = exchange => match result {
            Err(failure) => (Err(failure), None),
            Ok((answer, conn)) => (Ok(answer), conn),
        },
        () = sleep => (Err(ErrorClass::Timeout), None),
    }
}

/// The total-timeout timer of one virtual user, reset for each request: resetting a timer
/// costs less than registering a new one per request (about 1,300 instructions a request,
/// callgrind, with `tokio::time::timeout`).
#[derive(Debug)]
pub(crate) struct Timer(Pin<Box<tokio::time::Sleep>>);

impl Timer {
    /// A timer; must be created inside a tokio runtime.
    pub(crate) fn new() -> Self {
        Self(Box::pin(tokio::time::sleep(Duration::ZERO)))
    }
}

/// [`send_timed`] with a timer of its own.
#[cfg(test)]
pub(crate) async fn send(
    prepared: &Prepared,
    conn: Option<Conn>,
    cookie: Option<&HeaderValue>,
    settings: &client::ClientSettings,
    tls: Option<&LeanTls>,
) -> (Result<Reply, ErrorClass>, Option<Conn>) {
    send_timed(prepared, conn, cookie, settings, tls, &mut Timer::new()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn prepared(url: &str) -> Prepared {
        prepared_as(Method::GET, url)
    }

    fn prepared_as(method: Method, url: &str) -> Prepared {
        let request = client::Request {
            method,
            url: url::Url::parse(url).unwrap(),
            headers: HeaderMap::new(),
            body: None,
            follow_redirects: false,
            timeout: None,
        };
        Prepared::from_request(&request, Duration::from_secs(5)).unwrap()
    }

    /// Reads one request head from `sock` and returns it as text.
    async fn read_head(sock: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if sock.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    #[test]
    fn https_runs_on_the_lean_client_and_redirect_following_requests_do_not() {
        let mut request = client::Request {
            method: Method::GET,
            url: url::Url::parse("https://example.test/hub/").unwrap(),
            headers: HeaderMap::new(),
            body: None,
            follow_redirects: false,
            timeout: None,
        };
        let tls = Prepared::from_request(&request, Duration::from_secs(1)).expect("https is lean");
        // A TLS connection is never taken for a plain one to the same port, nor the reverse.
        assert_eq!(tls.authority, "tls:example.test:443");
        assert_eq!(
            tls.server_name,
            Some(ServerName::try_from("example.test").unwrap())
        );
        request.url = url::Url::parse("ftp://example.test/hub/").unwrap();
        assert!(Prepared::from_request(&request, Duration::from_secs(1)).is_none());
        request.url = url::Url::parse("http://example.test/hub/").unwrap();
        request.follow_redirects = true;
        assert!(Prepared::from_request(&request, Duration::from_secs(1)).is_none());
    }

    #[test]
    fn prepared_request_carries_host_path_query_and_accept() {
        let p = prepared("http://127.0.0.1:8080/hub/?a=1&b=2");
        assert_eq!(
            &p.wire[..],
            b"GET /hub/?a=1&b=2 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\naccept: */*\r\n\r\n"
        );
        assert_eq!(p.authority, "127.0.0.1:8080");
        let p = prepared("http://[::1]/x");
        assert_eq!(p.authority, "[::1]:80");
    }

    #[test]
    fn a_cookie_given_at_send_time_replaces_the_requests_own() {
        let mut request = client::Request {
            method: Method::POST,
            url: url::Url::parse("http://example.test/qps/user").unwrap(),
            headers: HeaderMap::new(),
            body: Some(Bytes::from_static(b"{}")),
            follow_redirects: false,
            timeout: None,
        };
        request
            .headers
            .insert(header::COOKIE, HeaderValue::from_static("own=1"));
        request.headers.insert(
            "x-qlik-xrfkey",
            HeaderValue::from_static("abcdefghijklmnop"),
        );
        let p = Prepared::from_request(&request, Duration::from_secs(1)).unwrap();
        let wire = String::from_utf8(p.wire.to_vec()).unwrap();
        assert!(
            wire.starts_with("POST /qps/user HTTP/1.1\r\nhost: example.test\r\n"),
            "{wire}"
        );
        assert!(wire.contains("\r\ncookie: own=1\r\n"), "{wire}");
        assert!(
            wire.contains("\r\nx-qlik-xrfkey: abcdefghijklmnop\r\n"),
            "{wire}"
        );
        assert!(wire.contains("\r\ncontent-length: 2\r\n"), "{wire}");
        assert!(wire.ends_with("\r\n\r\n{}"), "{wire}");
        assert!(!p.idempotent);
        let mut out = Vec::new();
        p.write_with_cookie(&HeaderValue::from_static("s=2"), &mut out);
        let with = String::from_utf8(out).unwrap();
        assert!(with.contains("\r\ncookie: s=2\r\n"), "{with}");
        assert!(!with.contains("own=1"), "{with}");
        assert!(with.ends_with("\r\n\r\n{}"), "{with}");
    }

    #[tokio::test]
    async fn one_connection_serves_many_requests_and_an_idle_close_is_replaced() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The first connection answers three requests and then closes while idle; the
        // second answers the rest.
        let server = tokio::spawn(async move {
            let mut heads = Vec::new();
            let mut accepted = 0;
            for per_conn in [3, 2] {
                let (mut sock, _) = listener.accept().await.unwrap();
                accepted += 1;
                for _ in 0..per_conn {
                    heads.push(read_head(&mut sock).await);
                    sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                }
                sock.shutdown().await.unwrap();
                // Let the client see the close before its next request.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (accepted, heads)
        });
        let p = prepared(&format!("http://{addr}/health"));
        let settings = client::ClientSettings::default();
        let mut conn = None;
        for i in 0..5 {
            if i == 3 {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            let (answer, kept) = send(&p, conn.take(), None, &settings, None).await;
            let answer = answer.unwrap();
            assert_eq!(answer.status, 200);
            assert_eq!(&answer.body[..], b"ok");
            conn = kept;
        }
        let (accepted, heads) = server.await.unwrap();
        assert_eq!(accepted, 2);
        assert_eq!(heads.len(), 5);
        assert!(
            heads[0].starts_with("GET /health HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
    }

    #[tokio::test]
    async fn refused_connection_is_a_connect_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let p = prepared(&format!("http://{addr}/"));
        let (answer, kept) = send(&p, None, None, &client::ClientSettings::default(), None).await;
        assert_eq!(answer.unwrap_err(), ErrorClass::Connect);
        assert!(kept.is_none());
    }

    #[tokio::test]
    async fn silent_server_times_out_and_big_body_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut silent, _) = listener.accept().await.unwrap();
            let _ = read_head(&mut silent).await;
            let (mut big, _) = listener.accept().await.unwrap();
            let _ = read_head(&mut big).await;
            let _ = big
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
                .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(silent);
        });
        let mut p = prepared(&format!("http://{addr}/"));
        p.timeout = Duration::from_millis(200);
        let settings = client::ClientSettings {
            body_cap: 4,
            ..client::ClientSettings::default()
        };
        let (answer, _) = send(&p, None, None, &settings, None).await;
        assert_eq!(answer.unwrap_err(), ErrorClass::Timeout);
        p.timeout = Duration::from_secs(5);
        let (answer, kept) = send(&p, None, None, &settings, None).await;
        assert_eq!(answer.unwrap_err(), ErrorClass::BodyTooLarge);
        assert!(kept.is_none());
        server.abort();
    }

    /// A server that, on each accepted connection in turn, answers one request per scripted
    /// reply and then closes. Returns the request heads it read, per connection.
    async fn scripted(
        script: Vec<Vec<&'static [u8]>>,
    ) -> (
        std::net::SocketAddr,
        tokio::task::JoinHandle<Vec<Vec<String>>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for replies in script {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut heads = Vec::new();
                for reply in replies {
                    heads.push(read_head(&mut sock).await);
                    sock.write_all(reply).await.unwrap();
                }
                seen.push(heads);
            }
            seen
        });
        (addr, server)
    }

    /// How many requests the scripted server read on each connection.
    async fn requests_per_connection(
        server: tokio::task::JoinHandle<Vec<Vec<String>>>,
    ) -> Vec<usize> {
        server.await.unwrap().iter().map(Vec::len).collect()
    }

    #[tokio::test]
    async fn chunked_interim_empty_and_head_responses_are_framed_on_one_connection() {
        let (addr, server) = scripted(vec![vec![
            // An interim 100 before the real answer; a chunked body with an extension and a
            // trailer.
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\
              X-Qlik-User: UserDirectory=CORP; UserId=alice\r\n\r\n\
              5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
            // 204 and 304 have no body whatever they declare.
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            // A HEAD response declares a length but sends no body.
            b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
        ]])
        .await;
        let settings = client::ClientSettings::default();
        let get = prepared(&format!("http://{addr}/hub/"));
        let head = prepared_as(Method::HEAD, &format!("http://{addr}/hub/"));
        let mut conn = None;
        let mut got = Vec::new();
        for p in [&get, &get, &get, &head, &get] {
            let (answer, kept) = send(p, conn.take(), None, &settings, None).await;
            let answer = answer.unwrap();
            assert!(
                kept.is_some(),
                "status {} keeps the connection",
                answer.status
            );
            conn = kept;
            got.push(answer);
        }
        assert_eq!(got[0].status, 200);
        assert_eq!(&got[0].body[..], b"hello world");
        assert_eq!(
            got[0].headers["x-qlik-user"],
            "UserDirectory=CORP; UserId=alice"
        );
        assert_eq!(
            got.iter().map(|a| a.status).collect::<Vec<_>>(),
            [200, 204, 304, 200, 401]
        );
        assert!(got[1..].iter().all(|a| a.body.is_empty()));
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 1, "one connection served all five");
        assert!(
            seen[0][3].starts_with("HEAD /hub/ HTTP/1.1\r\n"),
            "{}",
            seen[0][3]
        );
    }

    #[tokio::test]
    async fn connection_close_http10_and_unframed_bodies_end_the_connection() {
        let (addr, server) = scripted(vec![
            vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"],
            vec![b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"],
            // No length and not chunked: the body runs until the server closes.
            vec![b"HTTP/1.1 200 OK\r\n\r\nuntil close"],
            vec![b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"],
        ])
        .await;
        let settings = client::ClientSettings::default();
        let p = prepared(&format!("http://{addr}/"));
        for expected_body in [&b"ok"[..], b"ok", b"until close"] {
            let (answer, kept) = send(&p, None, None, &settings, None).await;
            assert_eq!(&answer.unwrap().body[..], expected_body);
            assert!(kept.is_none());
        }
        let (answer, kept) = send(&p, None, None, &settings, None).await;
        assert_eq!(answer.unwrap().status, 200);
        assert!(kept.is_some(), "HTTP/1.0 with keep-alive is kept");
        assert_eq!(server.await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn malformed_and_oversized_responses_fail() {
        let (addr, server) = scripted(vec![
            vec![b"HTTP/1.1 2000 OK\r\n\r\n"],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nok"],
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
        ])
        .await;
        let settings = client::ClientSettings {
            body_cap: 4,
            ..client::ClientSettings::default()
        };
        let p = prepared(&format!("http://{addr}/"));
        let mut failures = Vec::new();
        for _ in 0..6 {
            let (answer, kept) = send(&p, None, None, &settings, None).await;
            assert!(kept.is_none());
            failures.push(answer.unwrap_err());
        }
        assert_eq!(
            failures,
            [
                ErrorClass::Other,
                ErrorClass::Other,
                ErrorClass::Other,
                ErrorClass::Other,
                ErrorClass::BodyTooLarge,
                ErrorClass::BodyTooLarge,
            ]
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_post_on_a_connection_closed_while_idle_is_sent_once_on_a_new_one() {
        let (addr, server) = scripted(vec![
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
            vec![b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"],
        ])
        .await;
        let settings = client::ClientSettings::default();
        let post = prepared_as(Method::POST, &format!("http://{addr}/login/jwt-session"));
        let (answer, kept) = send(&post, None, None, &settings, None).await;
        assert_eq!(answer.unwrap().status, 200);
        // The server closes the first connection after its one reply.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (answer, _) = send(&post, kept, None, &settings, None).await;
        assert_eq!(answer.unwrap().status, 201);
        let seen = server.await.unwrap();
        assert_eq!(seen.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
        assert!(
            seen[1][0].contains("content-length: 0\r\n"),
            "{}",
            seen[1][0]
        );
    }

    #[tokio::test]
    async fn a_close_after_the_request_was_read_resends_a_get_but_never_a_post() {
        let ok: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        // Each first connection answers once, then reads the next request and closes
        // without a reply (an empty scripted reply).
        let (addr, server) = scripted(vec![vec![ok, b""], vec![ok]]).await;
        let settings = client::ClientSettings::default();
        let get = prepared(&format!("http://{addr}/"));
        let (_, kept) = send(&get, None, None, &settings, None).await;
        let (answer, _) = send(&get, kept, None, &settings, None).await;
        assert_eq!(answer.unwrap().status, 200, "the GET was sent again");
        assert_eq!(requests_per_connection(server).await, [2, 1]);

        let (addr, server) = scripted(vec![vec![ok, b""], vec![ok]]).await;
        let post = prepared_as(Method::POST, &format!("http://{addr}/"));
        let (_, kept) = send(&post, None, None, &settings, None).await;
        let (answer, kept) = send(&post, kept, None, &settings, None).await;
        assert_eq!(
            answer.unwrap_err(),
            ErrorClass::Other,
            "the POST is not sent twice"
        );
        assert!(kept.is_none());
        // The second connection is still there for the next request.
        let (answer, _) = send(&post, None, None, &settings, None).await;
        assert_eq!(answer.unwrap().status, 200);
        assert_eq!(requests_per_connection(server).await, [2, 1]);
    }

    #[tokio::test]
    async fn many_headers_parse_and_too_many_fail() {
        fn reply(headers: usize) -> &'static [u8] {
            let mut r = String::from("HTTP/1.1 200 OK\r\n");
            for i in 0..headers {
                r.push_str(&format!("x-h{i}: v{i}\r\n"));
            }
            r.push_str("content-length: 0\r\n\r\n");
            Box::leak(r.into_bytes().into_boxed_slice())
        }
        let (addr, server) = scripted(vec![
            vec![reply(FEW_HEADERS + 20)],
            vec![reply(MAX_HEADERS)],
        ])
        .await;
        let settings = client::ClientSettings::default();
        let p = prepared(&format!("http://{addr}/"));
        let (answer, _) = send(&p, None, None, &settings, None).await;
        let answer = answer.unwrap();
        assert_eq!(answer.headers.len(), FEW_HEADERS + 21);
        assert_eq!(answer.headers["x-h30"], "v30");
        let (answer, _) = send(&p, None, None, &settings, None).await;
        assert_eq!(answer.unwrap_err(), ErrorClass::Other);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn without_headers_the_map_stays_empty_but_framing_is_still_read() {
        let (addr, server) = scripted(vec![vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye",
        ]])
        .await;
        let settings = client::ClientSettings::default();
        let p = prepared(&format!("http://{addr}/")).without_headers();
        let (answer, kept) = send(&p, None, None, &settings, None).await;
        let answer = answer.unwrap();
        assert_eq!(&answer.body[..], b"ok");
        assert!(answer.headers.is_empty());
        let (answer, kept) = send(&p, kept, None, &settings, None).await;
        assert_eq!(&answer.unwrap().body[..], b"bye");
        assert!(kept.is_none(), "Connection: close is honoured");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn framing_edge_cases_follow_rfc_9112() {
        let chunked_ok = "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        let leak = |s: String| -> &'static [u8] { Box::leak(s.into_bytes().into_boxed_slice()) };
        // (reply, body or failure, connection kept)
        type Case = (&'static [u8], Result<&'static [u8], ErrorClass>, bool);
        let cases: Vec<Case> = vec![
            // HTTP/1.0 with a transfer coding: read it, then close.
            (
                leak(format!(
                    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n{chunked_ok}"
                )),
                Ok(b"ok"),
                false,
            ),
            // Both framings: Transfer-Encoding wins, even over a bad length, then close.
            (
                leak(format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n{chunked_ok}"
                )),
                Ok(b"ok"),
                false,
            ),
            (
                leak(format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: x\r\n{chunked_ok}"
                )),
                Ok(b"ok"),
                false,
            ),
            // A list of one repeated length is that length.
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
                Ok(b"ok"),
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
                Err(ErrorClass::Other),
                false,
            ),
            // An empty list element does not hide `chunked`.
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, \r\n\r\n2\r\nok\r\n0\r\n\r\n",
                Ok(b"ok"),
                true,
            ),
            // A chunk-size line without digits is not the last chunk.
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                Err(ErrorClass::Other),
                false,
            ),
        ];
        let script = cases.iter().map(|(reply, _, _)| vec![*reply]).collect();
        let (addr, server) = scripted(script).await;
        let settings = client::ClientSettings::default();
        let p = prepared(&format!("http://{addr}/"));
        for (reply, expected, keep) in &cases {
            let what = String::from_utf8_lossy(reply);
            let (answer, kept) = send(&p, None, None, &settings, None).await;
            match (answer, expected) {
                (Ok(answer), Ok(body)) => assert_eq!(&answer.body[..], *body, "{what}"),
                (Err(failure), Err(expected)) => assert_eq!(failure, *expected, "{what}"),
                (other, _) => panic!("{what}: got {other:?}"),
            }
            assert_eq!(kept.is_some(), *keep, "{what}");
        }
        server.abort();
    }

    #[tokio::test]
    async fn an_endless_chunk_extension_fails_instead_of_filling_memory() {
        let mut reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;".to_vec();
        reply.extend(std::iter::repeat_n(b'x', 4 * MAX_HEAD));
        let reply: &'static [u8] = Box::leak(reply.into_boxed_slice());
        let (addr, server) = scripted(vec![vec![reply]]).await;
        let settings = client::ClientSettings {
            body_cap: 16,
            ..client::ClientSettings::default()
        };
        let mut p = prepared(&format!("http://{addr}/"));
        p.timeout = Duration::from_secs(30);
        let (answer, _) = send(&p, None, None, &settings, None).await;
        assert_eq!(
            answer.unwrap_err(),
            ErrorClass::Other,
            "refused, not timed out"
        );
        server.abort();
    }

    #[tokio::test]
    async fn bytes_sent_unasked_on_an_idle_connection_are_not_taken_as_the_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            // The first connection answers, then times the idle client out with a 408.
            let (mut sock, _) = listener.accept().await.unwrap();
            read_head(&mut sock).await;
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            sock.write_all(
                b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            )
            .await
            .unwrap();
            let (mut second, _) = listener.accept().await.unwrap();
            read_head(&mut second).await;
            second
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew")
                .await
                .unwrap();
            drop(sock);
        });
        let settings = client::ClientSettings::default();
        let p = prepared(&format!("http://{addr}/"));
        let (_, kept) = send(&p, None, None, &settings, None).await;
        assert!(kept.is_some());
        tokio::time::sleep(Duration::from_millis(80)).await;
        let (answer, _) = send(&p, kept, None, &settings, None).await;
        let answer = answer.unwrap();
        assert_eq!((answer.status, &answer.body[..]), (200, &b"new"[..]));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_close_after_an_interim_response_is_not_retried() {
        let ok: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let (addr, server) =
            scripted(vec![vec![ok, b"HTTP/1.1 100 Continue\r\n\r\n"], vec![ok]]).await;
        let settings = client::ClientSettings::default();
        let p = prepared(&format!("http://{addr}/"));
        let (_, kept) = send(&p, None, None, &settings, None).await;
        let (answer, kept) = send(&p, kept, None, &settings, None).await;
        assert_eq!(
            answer.unwrap_err(),
            ErrorClass::Other,
            "the server had read it"
        );
        assert!(kept.is_none());
        // The second connection is still there for the next request, not used by a resend.
        let (answer, _) = send(&p, None, None, &settings, None).await;
        assert_eq!(answer.unwrap().status, 200);
        assert_eq!(requests_per_connection(server).await, [2, 1]);
    }
}
