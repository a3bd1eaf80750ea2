//! Send HTTP requests and record what happened.
//!
//! A [`Client`] wraps one `reqwest::Client` built from [`ClientSettings`]: rustls with the
//! platform roots plus an optional CA file, `--insecure` for self-signed servers (Qlik installs
//! with one), connect and total timeouts, and a cookie jar. One `Client` serves one scenario
//! run, so the session cookie carries across its steps and never leaks into another run.
//! Redirects are never followed by the underlying client: a 302 is something to check, and a
//! step that asks to follow redirects is served by a second client that shares the jar.
//!
//! [`Client::send`] returns an [`Exchange`] (the request, the response and its timings) or a
//! [`SendError`] that names the URL and the cause and falls into an [`ErrorClass`].
//!
//! Load's hot path does not use reqwest: `lean` (crate-private) is a hand-written HTTP/1.1
//! client (one `write` of prebuilt bytes, one `httparse` call per response) over rustls set up
//! by [`tls`], and its failures fall into the same [`ErrorClass`].

pub(crate) mod lean;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use camino::Utf8PathBuf;
use http::{HeaderMap, Method};
use reqwest::cookie::Jar;
use url::Url;

/// How the HTTP client behaves; resolved once from the command line and the suite.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Accept any server certificate (self-signed Qlik installs). Off by default.
    pub insecure: bool,
    /// An extra PEM file of CA certificates to trust besides the platform roots.
    pub ca_file: Option<Utf8PathBuf>,
    /// Limit on establishing a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Limit on a whole request: connect, send, and read the full response body.
    pub timeout: Duration,
    /// The largest response body read, in bytes; a larger body is an error.
    pub body_cap: usize,
    /// Keep a cookie jar (one per [`Client`]).
    pub cookies: bool,
    /// Idle connections kept per host; `Some(0)` opens a new connection per request.
    pub pool_max_idle: Option<usize>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            insecure: false,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            body_cap: 8 * 1024 * 1024,
            cookies: true,
            pool_max_idle: None,
        }
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// The HTTP method.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// Headers sent as given (names are case-insensitive on the wire anyway).
    pub headers: HeaderMap,
    /// The body, if any.
    pub body: Option<Bytes>,
    /// Follow redirects for this request (off by default: a 302 is something to check).
    pub follow_redirects: bool,
    /// A total timeout for this request, overriding [`ClientSettings::timeout`].
    pub timeout: Option<Duration>,
}

/// One request and its response, with timings.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request as sent (before redaction: reporters must redact it).
    pub request: Request,
    /// The final URL (differs from the request's only when redirects were followed).
    pub final_url: Url,
    /// The response status code.
    pub status: u16,
    /// The response headers; repeated headers (`Set-Cookie`) keep every value.
    pub headers: HeaderMap,
    /// The response body, at most [`ClientSettings::body_cap`] bytes.
    pub body: Bytes,
    /// Wall-clock time the request was sent.
    pub started: SystemTime,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
    /// Time from sending to the response headers.
    pub ttfb: Duration,
}

/// Why a request counts as an error: the class of a [`SendError`] (or of a failure of load's
/// lean client), or, for load, the way an answer failed its step. The one list of classes:
/// `run` reports a step error's class, load counts its samples' errors by class, and
/// `report::hlog` reads the names back. The order of the variants is the order of reports
/// (maps keyed by class are sorted by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The TCP connection could not be made (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// A connect or total timeout expired.
    Timeout,
    /// The response body was larger than the cap. Load counts it as [`Self::Other`] (see
    /// `load::stats::counted_class`).
    BodyTooLarge,
    /// The target answered with a status in the profile's reject set although the step
    /// expected to be let in (load only).
    AuthReject,
    /// The target answered but a check of the step failed, other than an auth reject (load
    /// only: `run` reports a failed check as a failed step, not an error).
    Check,
    /// Anything else (protocol error, reset mid-body; in load also a token that could not be
    /// minted).
    Other,
}

impl ErrorClass {
    /// Every class, in report order.
    pub const ALL: [Self; 7] = [
        Self::Connect,
        Self::Tls,
        Self::Timeout,
        Self::BodyTooLarge,
        Self::AuthReject,
        Self::Check,
        Self::Other,
    ];

    /// The class as a short lowercase word, as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::BodyTooLarge => "body_too_large",
            Self::AuthReject => "auth_reject",
            Self::Check => "check",
            Self::Other => "other",
        }
    }

    /// Parses [`Self::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request that could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The connection could not be made.
    #[error("failed to connect to `{url}`")]
    Connect {
        /// The URL requested.
        url: Url,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with `{url}` failed")]
    Tls {
        /// The URL requested.
        url: Url,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The request timed out.
    #[error("request to `{url}` timed out after {}", humantime::format_duration(*after))]
    Timeout {
        /// The URL requested.
        url: Url,
        /// The limit that expired.
        after: Duration,
    },
    /// The body was larger than the cap.
    #[error("response body from `{url}` is larger than the cap of {cap} bytes")]
    BodyTooLarge {
        /// The URL requested.
        url: Url,
        /// The cap in bytes.
        cap: usize,
    },
    /// Any other failure.
    #[error("request to `{url}` failed")]
    Other {
        /// The URL requested.
        url: Url,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
}

impl SendError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Connect { .. } => ErrorClass::Connect,
            Self::Tls { .. } => ErrorClass::Tls,
            Self::Timeout { .. } => ErrorClass::Timeout,
            Self::BodyTooLarge { .. } => ErrorClass::BodyTooLarge,
            Self::Other { .. } => ErrorClass::Other,
        }
    }
}

/// An error building a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA file could not be read.
    #[error("failed to read CA file `{path}`")]
    ReadCa {
        /// The file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("CA file `{path}` holds no PEM certificate")]
    BadCa {
        /// The file.
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// reqwest refused the configuration.
    #[error("failed to build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// An HTTP client with its own cookie jar.
#[derive(Debug, Clone)]
pub struct Client {
    plain: reqwest::Client,
    following: reqwest::Client,
    jar: Option<Arc<Jar>>,
    settings: Arc<ClientSettings>,
}

impl Client {
    /// Builds a client (and a fresh cookie jar when cookies are on).
    pub fn new(settings: &ClientSettings) -> Result<Self, ClientError> {
        let jar = settings.cookies.then(|| Arc::new(Jar::default()));
        let ca = match &settings.ca_file {
            Some(path) => {
                let pem = fs_err::read(path).map_err(|source| ClientError::ReadCa {
                    path: path.clone(),
                    source,
                })?;
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                    ClientError::BadCa {
                        path: path.clone(),
                        source,
                    }
                })?
            }
            None => Vec::new(),
        };
        let build = |policy: reqwest::redirect::Policy| {
            let mut builder = reqwest::Client::builder()
                .redirect(policy)
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.timeout)
                .danger_accept_invalid_certs(settings.insecure)
                .tcp_nodelay(true);
            for cert in &ca {
                builder = builder.add_root_certificate(cert.clone());
            }
            if let Some(jar) = &jar {
                builder = builder.cookie_provider(Arc::clone(jar));
            }
            if let Some(idle) = settings.pool_max_idle {
                builder = builder.pool_max_idle_per_host(idle);
            }
            builder.build().map_err(ClientError::Build)
        };
        Ok(Self {
            plain: build(reqwest::redirect::Policy::none())?,
            following: build(reqwest::redirect::Policy::limited(10))?,
            jar,
            settings: Arc::new(settings.clone()),
        })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The `Cookie` header value the jar would send to `url`, if any.
    pub fn cookies_for(&self, url: &Url) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let jar = self.jar.as_ref()?;
        jar.cookies(url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// Sends a request and reads the whole response body (up to the cap).
    pub async fn send(&self, request: Request) -> Result<Exchange, SendError> {
        let client = if request.follow_redirects {
            &self.following
        } else {
            &self.plain
        };
        let mut builder = client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone());
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        let started = SystemTime::now();
        let t0 = Instant::now();
        let url = request.url.clone();
        let timeout = request.timeout.unwrap_or(self.settings.timeout);
        let classify = |e: reqwest::Error| classify(e, &url, timeout);
        let mut response = builder.send().await.map_err(classify)?;
        let ttfb = t0.elapsed();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        let cap = self.settings.body_cap;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(SendError::BodyTooLarge { url, cap });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > cap {
                return Err(SendError::BodyTooLarge { url, cap });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Exchange {
            request,
            final_url,
            status,
            headers,
            body: Bytes::from(body),
            started,
            elapsed: t0.elapsed(),
            ttfb,
        })
    }
}

/// Sorts a reqwest error into our classes by walking its cause chain.
fn classify(error: reqwest::Error, url: &Url, timeout: Duration) -> SendError {
    let url = url.clone();
    if error.is_timeout() {
        return SendError::Timeout {
            url,
            after: timeout,
        };
    }
    let chain = error_chain_text(&error);
    let tls_words = [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "invalid peer",
    ];
    if tls_words.iter().any(|w| chain.contains(w)) {
        return SendError::Tls { url, source: error };
    }
    if error.is_connect() {
        return SendError::Connect { url, source: error };
    }
    SendError::Other { url, source: error }
}

/// The lowercase text of an error and all its causes, for classification.
fn error_chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string().to_lowercase();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(" | ");
        text.push_str(&c.to_string().to_lowercase());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serves `count` connections, each answering one request with `response` verbatim.
    async fn serve(response: &'static [u8], count: usize) -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..count {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(response).await;
                let _ = sock.shutdown().await;
            }
        });
        Url::parse(&format!("http://{addr}/")).unwrap()
    }

    fn get(url: Url) -> Request {
        Request {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
            follow_redirects: false,
            timeout: None,
        }
    }

    #[tokio::test]
    async fn redirect_is_recorded_not_followed() {
        let url = serve(
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            1,
        )
        .await;
        let client = Client::new(&ClientSettings::default()).unwrap();
        let exchange = client.send(get(url)).await.unwrap();
        assert_eq!(exchange.status, 302);
        assert_eq!(exchange.headers["location"], "/elsewhere");
    }

    #[tokio::test]
    async fn body_over_cap_is_an_error() {
        let url = serve(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
            1,
        )
        .await;
        let settings = ClientSettings {
            body_cap: 4,
            ..ClientSettings::default()
        };
        let client = Client::new(&settings).unwrap();
        let err = client.send(get(url)).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::BodyTooLarge);
        assert!(err.to_string().contains("cap of 4 bytes"), "{err}");
    }

    #[tokio::test]
    async fn refused_connection_is_a_connect_error_naming_the_url() {
        // Bind and drop to get a port that is (almost certainly) closed.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = Url::parse(&format!("http://{addr}/hub/")).unwrap();
        let client = Client::new(&ClientSettings::default()).unwrap();
        let err = client.send(get(url.clone())).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Connect);
        assert!(err.to_string().contains(url.as_str()), "{err}");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(sock);
        });
        let settings = ClientSettings {
            timeout: Duration::from_millis(200),
            ..ClientSettings::default()
        };
        let client = Client::new(&settings).unwrap();
        let url = Url::parse(&format!("http://{addr}/")).unwrap();
        let err = client.send(get(url)).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Timeout);
        hold.abort();
    }

    #[tokio::test]
    async fn cookie_set_by_one_response_is_sent_with_the_next() {
        let url = serve(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: X-Qlik-Session-jwt=abc; Path=/; HttpOnly\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            1,
        )
        .await;
        let client = Client::new(&ClientSettings::default()).unwrap();
        client.send(get(url.clone())).await.unwrap();
        assert_eq!(
            client.cookies_for(&url).as_deref(),
            Some("X-Qlik-Session-jwt=abc")
        );
        let other = Client::new(&ClientSettings::default()).unwrap();
        assert_eq!(other.cookies_for(&url), None, "jars are per client");
    }
}
