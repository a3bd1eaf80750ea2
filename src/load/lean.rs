//! A lean HTTP/1.1 client for the load hot path: plain `http://` steps on
//! `hyper::client::conn::http1`, one connection per virtual user (or a shared pool, or one per
//! request), kept alive, driven inside the user's own task.
//!
//! Why not [`crate::client::Client`] (reqwest) here: measured with callgrind against the
//! emulator's `/health`, a request through reqwest cost about 57,000 instructions in the
//! generator, of which only about 11,000 were hyper's connection (writing the request, parsing
//! the response). The rest was reqwest's per-request machinery that load does not use: the URL
//! is parsed three times per request (request building, the cookie layer and the redirect
//! policy, each also running IDNA on the host), the redirect and retry layers, the pool
//! checkout, header map copies, and a task switch between the user's task and the connection's.
//! That made the generator, not the target, the bottleneck at 50 connections (0.4× wrk's
//! throughput on two cores). Here a request is three clones of prebuilt parts (method, URI,
//! header map) and the connection is polled by the same task that awaits the response, so a
//! request costs hyper's own work and little else.
//!
//! What it keeps from the client's behaviour: `Accept: */*` unless the step sets it, no
//! redirects followed (a 302 is a response to check), the total timeout (connect, send and
//! the whole body) and the connect timeout, the body cap, `TCP_NODELAY`, and the error
//! classes (connect, timeout, other). A kept-alive connection that the server has closed
//! while idle is noticed before the request is written and replaced, so an idle close never
//! counts as an error. HTTPS and steps that follow redirects stay on the reqwest client (see
//! [`super::http`]).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::client;

/// A request body sent in one frame (or none).
#[derive(Debug, Clone, Default)]
pub(crate) struct Full(Option<Bytes>);

impl Body for Full {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// A TCP stream as hyper's I/O traits want it. Reads go through a small buffer of our own
/// (the crate forbids `unsafe`, which reading straight into hyper's uninitialized buffer
/// needs); the copy is a few hundred bytes per response.
struct Io {
    stream: TcpStream,
    scratch: Box<[u8]>,
}

impl hyper::rt::Read for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(this.scratch.len());
        let mut read = ReadBuf::new(&mut this.scratch[..want]);
        match Pin::new(&mut this.stream).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                buf.put_slice(read.filled());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl hyper::rt::Write for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
}

/// Why an exchange failed, in the client's error classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The TCP connection could not be made.
    Connect,
    /// The connect or total timeout expired.
    Timeout,
    /// The body was larger than the cap.
    BodyTooLarge,
    /// Anything else (protocol error, connection closed mid-response).
    Other,
}

impl Failure {
    /// The client's class of this failure.
    pub(crate) fn class(self) -> client::ErrorClass {
        match self {
            Self::Connect => client::ErrorClass::Connect,
            Self::Timeout => client::ErrorClass::Timeout,
            Self::BodyTooLarge => client::ErrorClass::BodyTooLarge,
            Self::Other => client::ErrorClass::Other,
        }
    }
}

/// A response: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status code.
    pub(crate) status: u16,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The body, at most the cap.
    pub(crate) body: Bytes,
}

/// A prepared request: the parts cloned per send.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    method: Method,
    uri: Uri,
    /// The headers, `Host` included.
    pub(crate) headers: HeaderMap,
    body: Option<Bytes>,
    /// `host:port` to connect to.
    pub(crate) authority: String,
    /// The total timeout.
    pub(crate) timeout: Duration,
}

impl Prepared {
    /// Prepares a client request for the lean path; `None` when it needs the full client
    /// (not `http://`, follows redirects, or a URL hyper would not take).
    pub(crate) fn from_request(
        request: &client::Request,
        default_timeout: Duration,
    ) -> Option<Self> {
        let url = &request.url;
        if url.scheme() != "http" || request.follow_redirects {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let host_header = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        let uri = Uri::try_from(path).ok()?;
        let mut headers = request.headers.clone();
        if !headers.contains_key(http::header::HOST) {
            headers.insert(
                http::header::HOST,
                HeaderValue::from_str(&host_header).ok()?,
            );
        }
        if !headers.contains_key(http::header::ACCEPT) {
            headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        // An IPv6 host keeps its brackets for connecting (`[::1]:80`).
        let authority = match url.host() {
            Some(url::Host::Ipv6(addr)) => format!("[{addr}]:{port}"),
            _ => format!("{host}:{port}"),
        };
        Some(Self {
            method: request.method.clone(),
            uri,
            headers,
            body: request.body.clone(),
            authority,
            timeout: request.timeout.unwrap_or(default_timeout),
        })
    }

    /// The request to send, with `cookie` replacing any `Cookie` header when given.
    pub(crate) fn request(&self, cookie: Option<&HeaderValue>) -> http::Request<Full> {
        let mut request = http::Request::new(Full(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert(http::header::COOKIE, cookie.clone());
        }
        request
    }
}

/// One kept-alive HTTP/1.1 connection, driven by whoever awaits it.
pub(crate) struct Conn {
    sender: http1::SendRequest<Full>,
    driver: http1::Connection<Io, Full>,
    /// The connection future has finished (closed); it must not be polled again.
    closed: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Opens a connection to `authority` (`host:port`).
    pub(crate) async fn open(authority: &str, connect_timeout: Duration) -> Result<Self, Failure> {
        let stream =
            match tokio::time::timeout(connect_timeout, TcpStream::connect(authority)).await {
                Err(_) => return Err(Failure::Timeout),
                Ok(Err(_)) => return Err(Failure::Connect),
                Ok(Ok(s)) => s,
            };
        // Like the client: requests are small and latency matters.
        let _ = stream.set_nodelay(true);
        let io = Io {
            stream,
            scratch: vec![0; 16 * 1024].into_boxed_slice(),
        };
        let (sender, driver) = http1::handshake(io).await.map_err(|_| Failure::Connect)?;
        Ok(Self {
            sender,
            driver,
            closed: false,
        })
    }

    /// True when the connection can take a request (a connection the server closed while
    /// idle is not).
    pub(crate) async fn ready(&mut self) -> bool {
        if self.closed {
            return false;
        }
        drive(&mut self.driver, &mut self.closed, self.sender.ready())
            .await
            .is_ok()
    }

    /// True when the connection may be kept for another request.
    pub(crate) fn reusable(&self) -> bool {
        !self.closed && !self.sender.is_closed()
    }

    /// Sends a request and reads the whole response (at most `cap` body bytes).
    pub(crate) async fn exchange(
        &mut self,
        request: http::Request<Full>,
        cap: usize,
    ) -> Result<Answer, Failure> {
        let sender = &mut self.sender;
        let exchange = async move {
            let response = sender
                .send_request(request)
                .await
                .map_err(|_| Failure::Other)?;
            let (parts, body) = response.into_parts();
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > cap as u64) {
                return Err(Failure::BodyTooLarge);
            }
            let body = read_body(body, cap).await?;
            Ok(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        drive(&mut self.driver, &mut self.closed, exchange).await
    }
}

/// Polls `fut` to completion while driving the connection in the same task, so that a
/// request costs no task switch; `closed` is set once the connection future has finished.
async fn drive<F: Future>(
    driver: &mut http1::Connection<Io, Full>,
    closed: &mut bool,
    fut: F,
) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if !*closed && Pin::new(&mut *driver).poll(cx).is_ready() {
            *closed = true;
        }
        fut.as_mut().poll(cx)
    })
    .await
}

/// Reads a whole body, failing past `cap` bytes; a body of one frame is not copied.
async fn read_body(mut body: Incoming, cap: usize) -> Result<Bytes, Failure> {
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| Failure::Other)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let have = first.as_ref().map_or(0, Bytes::len) + rest.len();
        if have + data.len() > cap {
            return Err(Failure::BodyTooLarge);
        }
        match &first {
            None if rest.is_empty() => first = Some(data),
            _ => {
                if let Some(f) = first.take() {
                    rest.extend_from_slice(&f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(match first {
        Some(f) => f,
        None => Bytes::from(rest),
    })
}

/// Idle connections per origin, shared by every user.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<(String, Conn)>>,
}

impl Pool {
    /// Takes an idle connection to `authority`, if any.
    pub(crate) fn take(&self, authority: &str) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let at = idle.iter().rposition(|(a, _)| a == authority)?;
        Some(idle.swap_remove(at).1)
    }

    /// Returns a connection for reuse.
    pub(crate) fn put(&self, authority: &str, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.push((authority.to_owned(), conn));
    }
}

/// Sends `prepared` over `conn` (or a new connection when it is `None` or no longer usable),
/// within the total timeout. Returns the answer and the connection when it may be reused.
pub(crate) async fn send(
    prepared: &Prepared,
    conn: Option<Conn>,
    cookie: Option<&HeaderValue>,
    settings: &client::ClientSettings,
) -> (Result<Answer, Failure>, Option<Conn>) {
    let request = prepared.request(cookie);
    let exchange = async move {
        let reused = match conn {
            Some(mut c) => c.ready().await.then_some(c),
            None => None,
        };
        let mut conn = match reused {
            Some(c) => c,
            None => Conn::open(&prepared.authority, settings.connect_timeout).await?,
        };
        let answer = conn.exchange(request, settings.body_cap).await;
        Ok::<_, Failure>((answer, conn))
    };
    match tokio::time::timeout(prepared.timeout, exchange).await {
        Err(_) => (Err(Failure::Timeout), None),
        Ok(Err(failure)) => (Err(failure), None),
        Ok(Ok((answer, conn))) => {
            let keep = answer.is_ok() && conn.reusable();
            (answer, keep.then_some(conn))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn prepared(url: &str) -> Prepared {
        let request = client::Request {
            method: Method::GET,
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
    fn https_and_redirect_following_requests_stay_on_the_full_client() {
        let mut request = client::Request {
            method: Method::GET,
            url: url::Url::parse("https://example.test/hub/").unwrap(),
            headers: HeaderMap::new(),
            body: None,
            follow_redirects: false,
            timeout: None,
        };
        assert!(Prepared::from_request(&request, Duration::from_secs(1)).is_none());
        request.url = url::Url::parse("http://example.test/hub/").unwrap();
        request.follow_redirects = true;
        assert!(Prepared::from_request(&request, Duration::from_secs(1)).is_none());
    }

    #[test]
    fn prepared_request_carries_host_path_query_and_accept() {
        let p = prepared("http://127.0.0.1:8080/hub/?a=1&b=2");
        let r = p.request(Some(&HeaderValue::from_static("s=1")));
        assert_eq!(r.uri(), "/hub/?a=1&b=2");
        assert_eq!(r.headers()["host"], "127.0.0.1:8080");
        assert_eq!(r.headers()["accept"], "*/*");
        assert_eq!(r.headers()["cookie"], "s=1");
        assert_eq!(p.authority, "127.0.0.1:8080");
        let p = prepared("http://[::1]/x");
        assert_eq!(p.authority, "[::1]:80");
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
            let (answer, kept) = send(&p, conn.take(), None, &settings).await;
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
        let (answer, kept) = send(&p, None, None, &client::ClientSettings::default()).await;
        assert_eq!(answer.unwrap_err(), Failure::Connect);
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
        let (answer, _) = send(&p, None, None, &settings).await;
        assert_eq!(answer.unwrap_err(), Failure::Timeout);
        p.timeout = Duration::from_secs(5);
        let (answer, kept) = send(&p, None, None, &settings).await;
        assert_eq!(answer.unwrap_err(), Failure::BodyTooLarge);
        assert!(kept.is_none());
        server.abort();
    }
}
