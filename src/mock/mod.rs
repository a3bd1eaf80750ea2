//! The Qlik Sense virtual proxy emulator: the default target of `jwtprobe run`.
//!
//! A [`MockConfig`] (read by [`read_config`]) names the profile (`qseow`, `qseow-pre2024`,
//! `qlik-cloud`, or `rfc6750`: a plain bearer resource server with laxity switches, the
//! conformance pack's test double), the JWT virtual proxies and the default virtual proxy. [`MockState`] holds
//! what the request path needs, built once: per virtual proxy the certificate's public key and
//! verification policy, a session table behind its own lock, and the hit counters. [`app`] turns
//! the state into an [`axum::Router`], testable without a socket; [`start`] serves
//! it over HTTP or HTTPS on a loopback port and returns a [`MockServer`].
//!
//! The behaviour follows `reference/qlik-proxy.md` §9, rows 1-33 and C1-C7; every status the
//! sources do not pin is a config setting with the most likely default. WebSocket rows 34-36
//! are not emulated. The real proxy answers every unusable token with the same bare reply; the
//! emulator does too, and adds `X-Jwtprobe-Mock-Reason` only when `debug_reasons` is on.
//!
//! The mock imports only `token`, `keys` and `diag`; the runner never imports it.

mod acceptor;
mod cloud;
mod config;
mod qseow;
mod rfc6750;
mod route;
mod server;
mod session;
mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::jose::ProfileName;

pub use cloud::REQUIRED_CLAIMS as CLOUD_REQUIRED_CLAIMS;
pub use config::{
    AttributeMapping, CloudConfig, CloudStatuses, CookieAttributes, CookieTransport,
    DefaultProxyConfig, Laxity, MockConfig, SameSite, VirtualProxyConfig, VpStatuses, read_config,
    schema,
};
pub use route::is_qlik_keyword;
pub use server::{
    MockError, MockServer, ServerLimits, TlsMode, start, start_with_clock, start_with_limits,
};
pub use session::MockClock;

/// The debug header that names why the emulator refused a request (only with `debug_reasons`).
pub const REASON_HEADER: &str = "x-jwtprobe-mock-reason";

/// What a request addressed, as the hit counters count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteClass {
    /// The emulator's own `/health`.
    Health,
    /// `/<prefix>/qrs/...`.
    Qrs,
    /// `/<prefix>/qps/...`.
    Qps,
    /// `/<prefix>/hub...`.
    Hub,
    /// `/<prefix>/sense/app/<id>`.
    Sense,
    /// `/<prefix>/api/...`.
    Api,
    /// Any other path below a known prefix.
    OtherVp,
    /// A prefix-less request (redirects and the Windows/forms authentication pages).
    DefaultProxy,
    /// An unknown prefix.
    UnknownPrefix,
    /// Qlik Cloud `POST /login/jwt-session`.
    CloudLogin,
    /// Qlik Cloud `/api/...`.
    CloudApi,
    /// Refused before routing (header too large).
    Refused,
}

impl RouteClass {
    const ALL: [Self; 12] = [
        Self::Health,
        Self::Qrs,
        Self::Qps,
        Self::Hub,
        Self::Sense,
        Self::Api,
        Self::OtherVp,
        Self::DefaultProxy,
        Self::UnknownPrefix,
        Self::CloudLogin,
        Self::CloudApi,
        Self::Refused,
    ];
}

/// A snapshot of the emulator's request counters, for load tests to compare with their samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitCounters {
    /// Every request received.
    pub total: u64,
    /// Requests whose token verified.
    pub accepted: u64,
    /// Requests whose token was refused (any reason, including a Qlik Cloud claim check).
    pub rejected: u64,
    /// Requests with neither a usable token nor a live session.
    pub no_token: u64,
    /// Requests per route class (classes never hit are absent).
    pub by_route: BTreeMap<RouteClass, u64>,
}

impl HitCounters {
    /// The requests of one route class.
    #[must_use]
    pub fn route(&self, class: RouteClass) -> u64 {
        self.by_route.get(&class).copied().unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Hits {
    total: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    no_token: AtomicU64,
    by_route: [AtomicU64; RouteClass::ALL.len()],
}

impl Hits {
    fn route(&self, class: RouteClass) {
        if let Some(i) = RouteClass::ALL.iter().position(|c| *c == class) {
            self.by_route[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> HitCounters {
        let by_route = RouteClass::ALL
            .iter()
            .zip(&self.by_route)
            .map(|(c, n)| (*c, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        HitCounters {
            total: self.total.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            no_token: self.no_token.load(Ordering::Relaxed),
            by_route,
        }
    }
}

/// Everything the request path needs, built once from a [`MockConfig`]; cheap to clone.
#[derive(Clone)]
pub struct MockState {
    inner: Arc<Inner>,
}

struct Inner {
    config: MockConfig,
    tls: bool,
    clock: MockClock,
    hits: Hits,
    vps: Vec<qseow::VpRuntime>,
    cloud: Option<cloud::CloudRuntime>,
}

impl std::fmt::Debug for MockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockState")
            .field("profile", &self.inner.config.profile)
            .field("tls", &self.inner.tls)
            .field("virtual_proxies", &self.inner.vps.len())
            .finish_non_exhaustive()
    }
}

impl MockState {
    /// Builds the state: one verification policy and session table per virtual proxy.
    /// `tls` says whether clients reach it over HTTPS (plain HTTP adds `-HTTP` to cookie names).
    #[must_use]
    pub fn new(config: MockConfig, clock: MockClock, tls: bool) -> Self {
        let vps = config
            .virtual_proxies
            .iter()
            .map(|vp| qseow::VpRuntime::new(vp.clone(), tls))
            .collect();
        let cloud = config
            .cloud
            .clone()
            .map(|c| cloud::CloudRuntime::new(c, tls));
        Self {
            inner: Arc::new(Inner {
                config,
                tls,
                clock,
                hits: Hits::default(),
                vps,
                cloud,
            }),
        }
    }

    /// The config it was built from.
    #[must_use]
    pub fn config(&self) -> &MockConfig {
        &self.inner.config
    }

    /// The clock it ages sessions and tokens with.
    #[must_use]
    pub fn clock(&self) -> &MockClock {
        &self.inner.clock
    }

    /// A snapshot of the request counters.
    #[must_use]
    pub fn hits(&self) -> HitCounters {
        self.inner.hits.snapshot()
    }

    /// The session cookie name of the virtual proxy with this prefix, as clients of this state
    /// see it (`-HTTP` appended over plain HTTP).
    #[must_use]
    pub fn session_cookie_name(&self, prefix: &str) -> Option<&str> {
        self.inner
            .vps
            .iter()
            .find(|vp| vp.config.prefix.eq_ignore_ascii_case(prefix))
            .map(|vp| vp.cookie_name.as_str())
    }
}

impl MockState {
    /// Counts a `GET /health` answered (by the handler, or by the accept thread).
    pub(crate) fn count_health_check(&self) {
        self.inner.hits.total.fetch_add(1, Ordering::Relaxed);
        self.inner.hits.route(RouteClass::Health);
    }

    /// The whole HTTP/1.1 response to a request head too large to read at all (past
    /// [`ServerLimits::max_head_bytes`] or 100 header fields, `why` says which): the status
    /// the handler gives an oversized header on `path` (the request line's path, when it was
    /// read), a short body and `Connection: close`. Counted as a request refused before
    /// routing.
    pub(crate) fn oversize_head_response(&self, path: Option<&str>, why: &str) -> Vec<u8> {
        let inner = &self.inner;
        inner.hits.total.fetch_add(1, Ordering::Relaxed);
        inner.hits.route(RouteClass::Refused);
        let prefix = path.and_then(|p| route::split(p).prefix);
        let vp = prefix.and_then(|p| inner.vps.iter().find(|vp| vp.serves(p)));
        let code = match inner.config.profile {
            ProfileName::QlikCloud => 400,
            // The config reader refuses `qseow-401` and `generic` (nothing emulates them);
            // each sits with the profile it is closest to.
            ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024 => {
                vp.map_or(400, |vp| vp.config.statuses.header_too_large)
            }
            // As the handler: an unknown prefix is answered 404 whatever the headers.
            ProfileName::Generic | ProfileName::Rfc6750 => {
                vp.map_or(404, |vp| vp.config.statuses.header_too_large)
            }
        };
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
        let body = "request header fields too large";
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        );
        if inner.config.debug_reasons {
            head.push_str(&format!("{REASON_HEADER}: {why}\r\n"));
        }
        head.push_str("\r\n");
        head.push_str(body);
        head.into_bytes()
    }
}

/// The emulator as an axum router. Every path goes through one handler, because the first
/// path segment picks the virtual proxy as the Qlik proxy does.
pub fn app(state: MockState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<MockState>, request: Request) -> Response {
    let inner = &state.inner;
    let (parts, _body) = request.into_parts();
    if parts.uri.path() == "/health" {
        state.count_health_check();
        return text(StatusCode::OK, "text/plain; charset=utf-8", "ok");
    }
    inner.hits.total.fetch_add(1, Ordering::Relaxed);
    let ctx = Ctx {
        state: &state,
        parts: &parts,
    };
    match inner.config.profile {
        ProfileName::QlikCloud => match &inner.cloud {
            Some(cloud) => cloud.handle(&ctx),
            None => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "no cloud config",
            ),
        },
        // `qseow-401` and `generic` never get here: the config reader refuses them.
        ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024 => {
            qseow::handle(&ctx)
        }
        ProfileName::Generic | ProfileName::Rfc6750 => rfc6750::handle(&ctx).await,
    }
}

/// One request as the handlers see it.
pub(crate) struct Ctx<'a> {
    state: &'a MockState,
    parts: &'a http::request::Parts,
}

impl Ctx<'_> {
    fn inner(&self) -> &Inner {
        &self.state.inner
    }

    fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The `Host` the client used, without the port (the URI authority on HTTP/2).
    fn host(&self) -> Option<String> {
        let raw = self
            .parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| self.parts.uri.authority().map(|a| a.as_str().to_owned()))?;
        let host = if let Some(rest) = raw.strip_prefix('[') {
            rest.split(']').next().unwrap_or(rest).to_owned()
        } else {
            raw.rsplit_once(':')
                .map_or(raw.as_str(), |(h, _)| h)
                .to_owned()
        };
        Some(host)
    }

    /// `scheme://host[:port]` as the client addressed us.
    fn origin(&self) -> String {
        let scheme = if self.inner().tls { "https" } else { "http" };
        let authority = self
            .parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| self.parts.uri.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{scheme}://{authority}")
    }

    /// The total size of the request's header block, counted as on the wire
    /// (`name: value\r\n` per header).
    fn header_bytes(&self) -> usize {
        self.parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum()
    }

    /// The value of the first cookie called `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
    }

    /// Adds the debug reason header when the config asks for it.
    fn with_reason(&self, mut response: Response, reason: &str) -> Response {
        if self.inner().config.debug_reasons {
            let clean: String = reason
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() || c == ' ' {
                        c
                    } else {
                        '?'
                    }
                })
                .take(300)
                .collect();
            if let Ok(v) = HeaderValue::from_str(&clean) {
                response.headers_mut().insert(REASON_HEADER, v);
            }
        }
        response
    }
}

/// The kind of `Authorization` header a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthHeader<'a> {
    /// No `Authorization` header.
    Absent,
    /// A Bearer token (possibly empty).
    Bearer(&'a str),
    /// Another scheme (`Basic …`), or `bearer` when the scheme is matched case-sensitively.
    OtherScheme,
}

/// Reads the `Authorization` header. With `case_insensitive`, `bearer` in any case and any
/// run of spaces before the token match (RFC 7235); without it, exactly `Bearer ` does.
pub(crate) fn auth_header(headers: &HeaderMap, case_insensitive: bool) -> AuthHeader<'_> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return AuthHeader::Absent;
    };
    let Ok(text) = value.to_str() else {
        return AuthHeader::OtherScheme;
    };
    if case_insensitive {
        let trimmed = text.trim_start();
        let (scheme, rest) = trimmed.split_once([' ', '\t']).unwrap_or((trimmed, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            AuthHeader::Bearer(rest.trim())
        } else {
            AuthHeader::OtherScheme
        }
    } else {
        match text.strip_prefix("Bearer ") {
            Some(token) => AuthHeader::Bearer(token),
            None if text == "Bearer" => AuthHeader::Bearer(""),
            None => AuthHeader::OtherScheme,
        }
    }
}

/// A response with a body and a content type.
pub(crate) fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A response with no body.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A status from config; an out-of-range value (never produced by the reader) becomes 500.
pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    text(status, "application/json; charset=utf-8", value.to_string())
}

#[cfg(test)]
mod tests;
