//! The Qlik Cloud profile: `POST /login/jwt-session`, the `eas.sid` session cookies and
//! `GET /api/v1/csrf-token` (§9 rows C1-C7).
//!
//! Errors use the tenant's envelope `{"errors":[{"title","detail","code","status"}],"traceId"}`.
//! Replayed `jti` values are caught by a bounded, sharded cache: entries leave when their token
//! expires, and past the capacity the oldest are dropped (a replay of a dropped `jti` is then
//! accepted; the capacity is a config setting).

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use super::config::CloudConfig;
use super::session::{SessionTable, UserKey, random_token};
use super::verify::{Verifier, reason};
use super::{AuthHeader, Ctx, RouteClass, auth_header, empty, status};
use crate::token::Rejection;

/// The claims every `/login/jwt-session` token must carry, in the order they are checked
/// (reference/qlik-proxy.md §4). `token inspect --profile qlik-cloud` checks the same list.
pub const REQUIRED_CLAIMS: [&str; 11] = [
    "iss",
    "aud",
    "sub",
    "subType",
    "name",
    "email",
    "email_verified",
    "jti",
    "iat",
    "nbf",
    "exp",
];

const REPLAY_SHARDS: usize = 16;
const SESSION_CAPACITY: usize = 200_000;

/// The tenant, ready for the request path.
pub(crate) struct CloudRuntime {
    config: CloudConfig,
    verifier: Verifier,
    sessions: SessionTable,
    replay: ReplayCache,
    rate: RateWindow,
    tls: bool,
}

impl CloudRuntime {
    pub(crate) fn new(config: CloudConfig, tls: bool) -> Self {
        let verifier = Verifier::new(
            &config.algorithms,
            config.public_key.clone(),
            None,
            None,
            None,
            config.clock_tolerance_s,
        );
        Self {
            sessions: SessionTable::new(config.session_inactivity_timeout, SESSION_CAPACITY),
            replay: ReplayCache::new(config.replay_cache_capacity),
            rate: RateWindow::default(),
            verifier,
            tls,
            config,
        }
    }

    /// Answers a request on the Qlik Cloud profile.
    pub(crate) fn handle(&self, ctx: &Ctx<'_>) -> Response {
        let inner = ctx.inner();
        let path = ctx.parts.uri.path();
        let class = if path.starts_with("/api/") {
            RouteClass::CloudApi
        } else {
            RouteClass::CloudLogin
        };
        inner.hits.route(class);
        if ctx.header_bytes() > inner.config.max_header_bytes {
            let mut r = envelope(
                StatusCode::BAD_REQUEST,
                "Request header too large",
                None,
                "HTTP-400",
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return ctx.with_reason(r, "request headers exceed max_header_bytes");
        }
        if !self.config.tenant_hosts.is_empty() {
            let host = ctx.host().unwrap_or_default();
            if !self
                .config
                .tenant_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host))
            {
                let r = envelope(
                    status(self.config.statuses.unauthorized),
                    "No authentication configured for this hostname",
                    None,
                    "LOGIN-2",
                );
                return ctx.with_reason(r, &format!("host `{host}` is not a tenant host"));
            }
        }
        let method = &ctx.parts.method;
        match path {
            "/login/jwt-session" if method == Method::POST => self.login(ctx),
            "/login/jwt-session" => envelope(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                None,
                "HTTP-405",
            ),
            "/api/v1/csrf-token" if method == Method::GET => match self.session(ctx) {
                Some(s) => {
                    let mut r = empty(StatusCode::NO_CONTENT);
                    if let Ok(v) = HeaderValue::from_str(&s.csrf_token) {
                        r.headers_mut().insert("qlik-csrf-token", v);
                    }
                    r
                }
                None => self.unauthenticated(ctx),
            },
            "/api/v1/users/me" if method == Method::GET => match self.session(ctx) {
                Some(s) => super::json(
                    StatusCode::OK,
                    &json!({
                        "id": s.id.replace('-', "").get(..24).unwrap_or_default(),
                        "subject": s.user.user_id,
                        "name": s.attributes.get("name").cloned().unwrap_or(Value::Null),
                        "email": s.attributes.get("email").cloned().unwrap_or(Value::Null),
                        "status": "active",
                    }),
                ),
                None => self.unauthenticated(ctx),
            },
            _ => envelope(StatusCode::NOT_FOUND, "Not found", None, "HTTP-404"),
        }
    }

    fn session(&self, ctx: &Ctx<'_>) -> Option<std::sync::Arc<super::session::Session>> {
        let id = ctx.cookie("eas.sid")?;
        self.sessions.touch(&id, ctx.inner().clock.now_ms())
    }

    fn unauthenticated(&self, ctx: &Ctx<'_>) -> Response {
        ctx.inner().hits.no_token.fetch_add(1, Ordering::Relaxed);
        let r = envelope(
            status(self.config.statuses.unauthorized),
            "Unauthorized",
            None,
            "AUTH-1",
        );
        ctx.with_reason(r, "no live eas.sid session cookie")
    }

    /// A refused login: counted, enveloped, with the reason in the debug header.
    fn refuse(
        &self,
        ctx: &Ctx<'_>,
        code: u16,
        title: &str,
        detail: &str,
        err_code: &str,
    ) -> Response {
        ctx.inner().hits.rejected.fetch_add(1, Ordering::Relaxed);
        ctx.with_reason(
            envelope(status(code), title, Some(detail), err_code),
            detail,
        )
    }

    fn invalid(&self, ctx: &Ctx<'_>, detail: &str) -> Response {
        self.refuse(
            ctx,
            self.config.statuses.invalid_request,
            "Invalid token request",
            detail,
            "INTERNAL-TOKEN-1",
        )
    }

    fn unauthorized(&self, ctx: &Ctx<'_>, detail: &str) -> Response {
        self.refuse(
            ctx,
            self.config.statuses.unauthorized,
            "Unauthorized",
            detail,
            "LOGIN-1",
        )
    }

    fn login(&self, ctx: &Ctx<'_>) -> Response {
        let inner = ctx.inner();
        let now_s = inner.clock.now_s();
        if self.config.rate_limit_per_minute > 0
            && !self.rate.admit(now_s, self.config.rate_limit_per_minute)
        {
            let mut r = envelope(
                status(self.config.statuses.rate_limited),
                "Too many requests",
                None,
                "HTTP-429",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return ctx.with_reason(r, "login rate limit reached");
        }
        let token = match auth_header(ctx.headers(), true) {
            AuthHeader::Bearer(t) => t,
            AuthHeader::Absent | AuthHeader::OtherScheme => {
                inner.hits.no_token.fetch_add(1, Ordering::Relaxed);
                let r = envelope(
                    status(self.config.statuses.unauthorized),
                    "Unauthorized",
                    None,
                    "LOGIN-1",
                );
                return ctx.with_reason(r, "no Bearer token");
            }
        };
        let verified = match self.verifier.verify(token, now_s) {
            Ok(v) => v,
            Err(r @ (Rejection::Malformed(_) | Rejection::Jwe)) => {
                return self.invalid(ctx, &format!("JWT_LOGIN_VALIDATIONS {}", reason(&r)));
            }
            Err(r) => {
                return self.unauthorized(ctx, &format!("JWT_LOGIN_VALIDATIONS {}", reason(&r)));
            }
        };
        let claims = verified.claims();
        match verified.header().get("kid").and_then(Value::as_str) {
            None => return self.invalid(ctx, "JWT_LOGIN_VALIDATIONS Missing required header: kid"),
            Some(kid) if kid != self.config.kid => {
                return self
                    .unauthorized(ctx, &format!("JWT_LOGIN_VALIDATIONS Unknown kid `{kid}`"));
            }
            Some(_) => {}
        }
        if let Some(missing) = REQUIRED_CLAIMS
            .iter()
            .find(|c| claims.get(**c).is_none_or(Value::is_null))
        {
            return self.invalid(
                ctx,
                &format!("JWT_LOGIN_VALIDATIONS Missing required claim: {missing}"),
            );
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return self.unauthorized(ctx, "JWT_LOGIN_VALIDATIONS Invalid issuer");
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.config.audience,
            Some(Value::Array(items)) => items
                .iter()
                .any(|i| i.as_str() == Some(self.config.audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return self.unauthorized(ctx, "JWT_LOGIN_VALIDATIONS Invalid audience");
        }
        if claims.get("subType").and_then(Value::as_str) != Some("user") {
            return self.invalid(ctx, "JWT_LOGIN_VALIDATIONS subType must be `user`");
        }
        let Some(sub) = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        else {
            return self.invalid(ctx, "JWT_LOGIN_VALIDATIONS sub must be a non-empty string");
        };
        let (Some(nbf), Some(exp)) = (number(claims, "nbf"), number(claims, "exp")) else {
            return self.invalid(ctx, "JWT_LOGIN_VALIDATIONS nbf and exp must be numbers");
        };
        let max = i64::try_from(self.config.max_lifetime.as_secs()).unwrap_or(i64::MAX);
        if exp.saturating_sub(nbf) > max {
            return self.invalid(
                ctx,
                &format!("JWT_LOGIN_VALIDATIONS exp - nbf exceeds {max} seconds"),
            );
        }
        let Some(jti) = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty())
        else {
            return self.invalid(ctx, "JWT_LOGIN_VALIDATIONS jti must be a non-empty string");
        };
        if !self.replay.insert_new(
            jti,
            exp.saturating_add(self.config.clock_tolerance_s),
            now_s,
        ) {
            return self.invalid(ctx, "JWT_LOGIN_VALIDATIONS Token already used (jti replay)");
        }
        inner.hits.accepted.fetch_add(1, Ordering::Relaxed);
        let mut attributes = Map::new();
        for key in ["name", "email", "groups"] {
            if let Some(v) = claims.get(key) {
                attributes.insert(key.to_owned(), v.clone());
            }
        }
        let user = UserKey {
            directory: String::new(),
            user_id: sub.to_owned(),
        };
        let Ok(session) = self
            .sessions
            .create(user, attributes, inner.clock.now_ms(), 0)
        else {
            return envelope(StatusCode::FORBIDDEN, "Access denied", None, "AUTH-5");
        };
        let mut r = super::text(StatusCode::OK, "text/plain; charset=utf-8", "OK");
        let secure = if self.tls {
            "; Secure; SameSite=None"
        } else {
            ""
        };
        for line in [
            format!("eas.sid={}; Path=/; HttpOnly{secure}", session.id),
            format!("eas.sid.sig={}; Path=/; HttpOnly{secure}", random_token()),
            format!("_csrfToken={}; Path=/{secure}", session.csrf_token),
            format!("_csrfToken.sig={}; Path=/{secure}", random_token()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&line) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    }
}

fn number(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    let n = claims.get(name)?.as_number()?;
    n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))
}

/// The tenant's error envelope, with a fresh trace id.
fn envelope(code: StatusCode, title: &str, detail: Option<&str>, err_code: &str) -> Response {
    let mut error = Map::new();
    error.insert("title".to_owned(), Value::String(title.to_owned()));
    if let Some(detail) = detail {
        error.insert("detail".to_owned(), Value::String(detail.to_owned()));
    }
    error.insert("code".to_owned(), Value::String(err_code.to_owned()));
    error.insert(
        "status".to_owned(),
        Value::String(code.as_u16().to_string()),
    );
    let trace: String = {
        use rand::Rng;
        let bytes: [u8; 16] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    super::json(
        code,
        &json!({ "errors": [Value::Object(error)], "traceId": trace }),
    )
}

/// A fixed one-minute window counter for the login rate limit; lock-free.
#[derive(Debug, Default)]
struct RateWindow {
    minute: AtomicI64,
    count: AtomicU32,
}

impl RateWindow {
    fn admit(&self, now_s: i64, per_minute: u32) -> bool {
        let minute = now_s.div_euclid(60);
        if self.minute.swap(minute, Ordering::AcqRel) != minute {
            self.count.store(0, Ordering::Release);
        }
        self.count.fetch_add(1, Ordering::AcqRel) < per_minute
    }
}

#[derive(Debug, Default)]
struct ReplayShard {
    /// jti → the time (seconds) after which it may be forgotten.
    until: HashMap<String, i64>,
    /// Insertion order, for evicting the oldest past the capacity.
    order: VecDeque<String>,
}

/// Seen `jti` values, sharded so logins rarely wait on each other; memory is bounded.
#[derive(Debug)]
struct ReplayCache {
    shards: Vec<Mutex<ReplayShard>>,
    per_shard: usize,
}

impl ReplayCache {
    fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(REPLAY_SHARDS).max(1);
        Self {
            shards: (0..REPLAY_SHARDS)
                .map(|_| Mutex::new(ReplayShard::default()))
                .collect(),
            per_shard,
        }
    }

    /// Records `jti`; false when it was already seen and has not expired.
    fn insert_new(&self, jti: &str, until: i64, now_s: i64) -> bool {
        let mut h = DefaultHasher::new();
        jti.hash(&mut h);
        let index = usize::try_from(h.finish() % REPLAY_SHARDS as u64).unwrap_or(0);
        let Some(shard) = self.shards.get(index) else {
            return true;
        };
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(seen_until) = shard.until.get(jti) {
            if *seen_until >= now_s {
                return false;
            }
            shard.until.remove(jti);
        }
        if shard.until.len() >= self.per_shard {
            shard.until.retain(|_, u| *u >= now_s);
            let ReplayShard { until, order } = &mut *shard;
            order.retain(|j| until.contains_key(j));
            while shard.until.len() >= self.per_shard {
                let Some(oldest) = shard.order.pop_front() else {
                    break;
                };
                shard.until.remove(&oldest);
            }
        }
        shard.until.insert(jti.to_owned(), until);
        shard.order.push_back(jti.to_owned());
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).until.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_jti_is_refused_until_it_expires() {
        let cache = ReplayCache::new(100);
        assert!(cache.insert_new("a", 1_100, 1_000));
        assert!(!cache.insert_new("a", 1_100, 1_050));
        assert!(cache.insert_new("a", 1_300, 1_200));
    }

    #[test]
    fn replay_cache_stays_within_its_capacity() {
        let cache = ReplayCache::new(160);
        for i in 0..10_000 {
            assert!(cache.insert_new(&format!("jti-{i}"), 10_000, 0));
        }
        assert!(cache.len() <= 160, "{} entries", cache.len());
    }

    #[test]
    fn rate_window_admits_the_limit_then_refuses_until_the_next_minute() {
        let w = RateWindow::default();
        assert!((0..3).all(|_| w.admit(120, 3)));
        assert!(!w.admit(150, 3));
        assert!(w.admit(180, 3));
    }
}
