//! The QSEoW profiles: JWT virtual proxies, the default (prefix-less) virtual proxy, and the
//! QPS, QRS and hub endpoints behind them (§9 rows 1-33).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::response::Response;
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use super::config::VirtualProxyConfig;
use super::route::{self, Route};
use super::session::{Session, SessionTable, UserKey};
use super::verify::{Verifier, reason};
use super::{AuthHeader, Ctx, RouteClass, auth_header, empty, status, text};
use crate::token::Rejection;

/// The QRS answer to a missing or mismatched xrfkey (exact text, §3.2).
pub(crate) const XSRF_TEXT: &str = "XSRF prevention check failed. Possible XSRF discovered.";

/// Most sessions one virtual proxy holds before it evicts the oldest (memory bound).
const SESSION_CAPACITY: usize = 200_000;

/// One virtual proxy, ready for the request path.
pub(crate) struct VpRuntime {
    pub(crate) config: VirtualProxyConfig,
    verifier: Verifier,
    sessions: SessionTable,
    pub(crate) cookie_name: String,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    tls: bool,
}

impl VpRuntime {
    pub(crate) fn new(config: VirtualProxyConfig, tls: bool) -> Self {
        let verifier = Verifier::for_virtual_proxy(&config);
        let cookie_name = if tls {
            config.session_cookie_name.clone()
        } else {
            format!("{}-HTTP", config.session_cookie_name)
        };
        let extra_headers = config
            .additional_response_headers
            .iter()
            .filter_map(|(n, v)| {
                Some((
                    HeaderName::from_bytes(n.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        Self {
            sessions: SessionTable::new(config.session_inactivity_timeout, SESSION_CAPACITY),
            verifier,
            cookie_name,
            extra_headers,
            tls,
            config,
        }
    }

    /// Whether this virtual proxy serves the prefix `p` of a request path: exactly its prefix
    /// (the QMC stores it in lowercase; `/JWT/` is another prefix), or in any case under the
    /// `case_insensitive_prefix` laxity switch.
    pub(crate) fn serves(&self, p: &str) -> bool {
        self.config.prefix == p
            || (self.config.laxity.case_insensitive_prefix
                && self.config.prefix.eq_ignore_ascii_case(p))
    }

    /// The verifier of this virtual proxy.
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn set_cookie(&self, session: &Session) -> HeaderValue {
        let c = &self.config.cookie;
        let transport = if self.tls { c.https } else { c.http };
        let mut line = format!("{}={}; Path=/", self.cookie_name, session.id);
        if let Some(domain) = &c.domain {
            line.push_str(&format!("; Domain={domain}"));
        }
        if c.http_only {
            line.push_str("; HttpOnly");
        }
        if transport.secure {
            line.push_str("; Secure");
        }
        if let Some(same_site) = transport.same_site.attribute() {
            line.push_str("; ");
            line.push_str(same_site);
        }
        HeaderValue::from_str(&line)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid-cookie=1"))
    }
}

/// Answers a request on the QSEoW profiles.
pub(crate) fn handle(ctx: &Ctx<'_>) -> Response {
    let inner = ctx.inner();
    let split = route::split(ctx.parts.uri.path());
    let vp = split
        .prefix
        .and_then(|p| inner.vps.iter().find(|vp| vp.serves(p)));
    let max_header = vp.map_or(inner.config.max_header_bytes, |vp| {
        vp.config.max_header_bytes
    });
    if ctx.header_bytes() > max_header {
        inner.hits.route(RouteClass::Refused);
        let code = vp.map_or(400, |vp| vp.config.statuses.header_too_large);
        let mut r = text(
            status(code),
            "text/html; charset=utf-8",
            "<html><head><title>Bad Request</title></head><body><h2>Bad Request - Request Too Long</h2>\
             <p>HTTP Error 400. The size of the request headers is too long.</p></body></html>",
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return ctx.with_reason(
            r,
            &format!(
                "request headers of {} bytes exceed {max_header}",
                ctx.header_bytes()
            ),
        );
    }
    match (split.prefix, vp) {
        (None, _) => default_proxy(ctx, split.rest),
        (Some(_), Some(vp)) => {
            let mut response = virtual_proxy(ctx, vp, split.rest);
            for (n, v) in &vp.extra_headers {
                response.headers_mut().append(n.clone(), v.clone());
            }
            response
        }
        (Some(prefix), None) => {
            inner.hits.route(RouteClass::UnknownPrefix);
            let r = text(
                status(inner.config.unknown_prefix_status),
                "text/html; charset=utf-8",
                "<!DOCTYPE html><html><head><title>Qlik Sense</title></head><body><div class=\"error\">\
                 <h1>400 - Bad Request</h1><p>The http request header is incorrect.</p></div></body></html>",
            );
            ctx.with_reason(r, &format!("no virtual proxy with prefix `{prefix}`"))
        }
    }
}

/// The default virtual proxy: Windows or forms authentication; a Bearer token is ignored.
fn default_proxy(ctx: &Ctx<'_>, rest: &str) -> Response {
    let inner = ctx.inner();
    inner.hits.route(RouteClass::DefaultProxy);
    let lower = rest.to_ascii_lowercase();
    if lower.starts_with("/internal_windows_authentication") {
        let mut r = empty(StatusCode::UNAUTHORIZED);
        r.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Negotiate"),
        );
        r.headers_mut()
            .append(header::WWW_AUTHENTICATE, HeaderValue::from_static("NTLM"));
        return ctx.with_reason(
            r,
            "windows authentication needs Negotiate or NTLM credentials",
        );
    }
    if lower.starts_with("/internal_forms_authentication") {
        return text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>Qlik Sense - Login</title></head><body>\
             <form method=\"post\"><input name=\"username\"><input name=\"pwd\" type=\"password\">\
             <button type=\"submit\">Log in</button></form></body></html>",
        );
    }
    let ua = ctx
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let page = if ua.contains(&inner.config.default_proxy.windows_auth_pattern) {
        "internal_windows_authentication"
    } else {
        "internal_forms_authentication"
    };
    let location = format!("{}/{page}/?targetId={}", ctx.origin(), uuid::Uuid::new_v4());
    let mut r = empty(StatusCode::FOUND);
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The generic reply to every unusable token: same status, same body, no cookie.
fn reject(ctx: &Ctx<'_>, vp: &VpRuntime, reason: &str) -> Response {
    ctx.inner().hits.rejected.fetch_add(1, Ordering::Relaxed);
    let r = text(
        status(vp.config.statuses.reject),
        "text/html; charset=utf-8",
        "<html><head><title>Bad Request</title></head><body><h1>Bad Request</h1></body></html>",
    );
    ctx.with_reason(r, reason)
}

fn no_token(ctx: &Ctx<'_>, vp: &VpRuntime, reason: &str) -> Response {
    ctx.inner().hits.no_token.fetch_add(1, Ordering::Relaxed);
    let r = text(
        status(vp.config.statuses.no_token),
        "text/html; charset=utf-8",
        "<html><head><title>Unauthorized</title></head><body><h1>Unauthorized</h1></body></html>",
    );
    ctx.with_reason(r, reason)
}

fn class_of(route: Route) -> RouteClass {
    match route {
        Route::QrsAbout | Route::QrsOther => RouteClass::Qrs,
        Route::QpsUser | Route::QpsCsrfToken | Route::QpsOther => RouteClass::Qps,
        Route::Hub => RouteClass::Hub,
        Route::SenseApp => RouteClass::Sense,
        Route::HubUserInfo => RouteClass::Api,
        Route::Other => RouteClass::OtherVp,
    }
}

/// The session a request gets, and whether it is new (so the reply sets the cookie).
struct Authenticated {
    session: Arc<Session>,
    is_new: bool,
}

/// Authenticates a request on a JWT virtual proxy, or returns the refusal.
fn authenticate(ctx: &Ctx<'_>, vp: &VpRuntime) -> Result<Authenticated, Box<Response>> {
    let inner = ctx.inner();
    let now_ms = inner.clock.now_ms();
    let live = ctx
        .cookie(&vp.cookie_name)
        .and_then(|id| vp.sessions.touch(&id, now_ms));
    match auth_header(ctx.headers(), vp.config.bearer_scheme_case_insensitive) {
        AuthHeader::Bearer(token) => {
            let verified = vp
                .verifier
                .verify(token, inner.clock.now_s())
                .map_err(|r| Box::new(reject(ctx, vp, &reason(&r))))?;
            for mapping in vp.config.attribute_map.iter().filter(|m| m.mandatory) {
                if !verified.claims().contains_key(&mapping.claim) {
                    let r = Rejection::MissingClaim {
                        name: mapping.claim.clone(),
                        near_miss: None,
                    };
                    return Err(Box::new(reject(ctx, vp, &reason(&r))));
                }
            }
            inner.hits.accepted.fetch_add(1, Ordering::Relaxed);
            let user = UserKey {
                directory: verified.user_directory.clone().unwrap_or_default(),
                user_id: verified.user_id.clone().unwrap_or_default(),
            };
            if let Some(session) = live.filter(|s| s.user == user) {
                return Ok(Authenticated {
                    session,
                    is_new: false,
                });
            }
            let mut attributes = Map::new();
            for mapping in &vp.config.attribute_map {
                if let Some(v) = verified.claims().get(&mapping.claim) {
                    attributes.insert(mapping.attribute.clone(), v.clone());
                }
            }
            match vp
                .sessions
                .create(user, attributes, now_ms, vp.config.max_sessions_per_user)
            {
                Ok(session) => Ok(Authenticated {
                    session,
                    is_new: true,
                }),
                Err(limit) => {
                    let r = text(
                        status(vp.config.statuses.session_limit),
                        "text/plain; charset=utf-8",
                        "Access denied",
                    );
                    Err(Box::new(ctx.with_reason(
                        r,
                        &format!(
                            "user already holds {} sessions (max_sessions_per_user {})",
                            limit.live, vp.config.max_sessions_per_user
                        ),
                    )))
                }
            }
        }
        AuthHeader::Absent | AuthHeader::OtherScheme => match live {
            Some(session) => Ok(Authenticated {
                session,
                is_new: false,
            }),
            None => {
                let why = match (
                    ctx.cookie(&vp.cookie_name).is_some(),
                    auth_header(ctx.headers(), true),
                ) {
                    (true, _) => "session cookie unknown or expired",
                    (false, AuthHeader::Bearer(_)) => {
                        "scheme must be exactly `Bearer` (bearer_scheme_case_insensitive is off)"
                    }
                    (false, AuthHeader::OtherScheme) => "authorization scheme is not Bearer",
                    (false, AuthHeader::Absent) => "no token and no session cookie",
                };
                Err(Box::new(no_token(ctx, vp, why)))
            }
        },
    }
}

/// Checks the xrfkey rule: a query parameter `xrfkey` (any case) and an `X-Qlik-Xrfkey` header,
/// equal, 16 characters from `0-9A-Za-z`.
fn xrfkey_problem(ctx: &Ctx<'_>) -> Option<&'static str> {
    let query = ctx.parts.uri.query().unwrap_or("");
    let param = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("xrfkey"))
        .map(|(_, v)| v.into_owned());
    let header = ctx
        .headers()
        .get("x-qlik-xrfkey")
        .and_then(|v| v.to_str().ok());
    match (param, header) {
        (None, _) => Some("xrfkey query parameter missing"),
        (Some(_), None) => Some("X-Qlik-Xrfkey header missing"),
        (Some(p), Some(h)) if p != h => Some("xrfkey parameter and X-Qlik-Xrfkey header differ"),
        (Some(p), Some(_)) if p.len() != 16 || !p.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some("xrfkey must be 16 characters from 0-9A-Za-z")
        }
        _ => None,
    }
}

fn xsrf_failed(ctx: &Ctx<'_>, why: &str) -> Response {
    ctx.with_reason(
        text(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            XSRF_TEXT,
        ),
        why,
    )
}

fn html_shell(title: &str) -> Response {
    text(
        StatusCode::OK,
        "text/html; charset=utf-8",
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><div id=\"app\"></div></body></html>"
        ),
    )
}

fn method_not_allowed() -> Response {
    empty(StatusCode::METHOD_NOT_ALLOWED)
}

/// A stable GUID for a user, as the repository would hold.
fn user_guid(user: &UserKey) -> uuid::Uuid {
    let mut a = DefaultHasher::new();
    ("jwtprobe-user-a", user).hash(&mut a);
    let mut b = DefaultHasher::new();
    ("jwtprobe-user-b", user).hash(&mut b);
    let bits = (u128::from(a.finish()) << 64) | u128::from(b.finish());
    uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid()
}

fn virtual_proxy(ctx: &Ctx<'_>, vp: &VpRuntime, rest: &str) -> Response {
    let inner = ctx.inner();
    let route = Route::of(rest);
    inner.hits.route(class_of(route));
    if !vp.config.host_allow_list.is_empty() {
        let host = ctx.host().unwrap_or_default();
        if !vp
            .config
            .host_allow_list
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host))
        {
            let r = text(
                status(vp.config.statuses.host_denied),
                "text/plain; charset=utf-8",
                "Forbidden",
            );
            return ctx.with_reason(r, &format!("host `{host}` is not in the host allow list"));
        }
    }
    let auth = match authenticate(ctx, vp) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut response = endpoint(ctx, vp, route, &auth.session);
    if auth.is_new {
        response
            .headers_mut()
            .append(header::SET_COOKIE, vp.set_cookie(&auth.session));
    }
    response
}

fn endpoint(ctx: &Ctx<'_>, vp: &VpRuntime, route: Route, session: &Session) -> Response {
    let method = &ctx.parts.method;
    let user = &session.user;
    match route {
        Route::QrsAbout | Route::QrsOther | Route::QpsOther => {
            if let Some(why) = xrfkey_problem(ctx) {
                return xsrf_failed(ctx, why);
            }
            if route != Route::QrsAbout {
                return empty(StatusCode::NOT_FOUND);
            }
            if method != Method::GET {
                return method_not_allowed();
            }
            super::json(
                StatusCode::OK,
                &json!({
                    "buildVersion": "30.4.0.0",
                    "buildDate": "10/8/2021 12:43:37 PM",
                    "databaseProvider": "Devart.Data.PostgreSql",
                    "nodeType": 1,
                    "sharedPersistence": true,
                    "requiresBootstrap": false,
                    "singleNodeOnly": false,
                    "schemaPath": "About"
                }),
            )
        }
        Route::QpsUser if method == Method::GET => super::json(
            StatusCode::OK,
            &json!({
                "userId": user.user_id,
                "userDirectory": user.directory,
                "userName": user.user_id,
                "logoutUri": format!("{}/{}/qps/user", ctx.origin(), vp.config.prefix),
            }),
        ),
        Route::QpsUser if method == Method::DELETE => {
            vp.sessions.remove_user(user);
            empty(status(vp.config.statuses.logout))
        }
        Route::QpsUser => method_not_allowed(),
        Route::QpsCsrfToken => {
            let code = status(vp.config.statuses.csrftoken);
            let mut r = empty(code);
            if code.is_success()
                && let Ok(v) = HeaderValue::from_str(&session.csrf_token)
            {
                r.headers_mut().insert("qlik-csrf-token", v);
            }
            r
        }
        Route::Hub => html_shell("Qlik Sense Hub"),
        Route::SenseApp => html_shell("Qlik Sense"),
        Route::HubUserInfo => {
            let mut attributes = Map::new();
            attributes.insert("name".to_owned(), Value::String(user.user_id.clone()));
            attributes.insert("userId".to_owned(), Value::String(user.user_id.clone()));
            attributes.insert(
                "userDirectory".to_owned(),
                Value::String(user.directory.clone()),
            );
            attributes.insert("privileges".to_owned(), json!([]));
            for (k, v) in &session.attributes {
                attributes.entry(k.clone()).or_insert_with(|| v.clone());
            }
            super::json(
                StatusCode::OK,
                &json!({ "data": [{ "type": "User", "id": user_guid(user).to_string(), "attributes": attributes }] }),
            )
        }
        Route::Other => text(
            StatusCode::NOT_FOUND,
            "text/html; charset=utf-8",
            "<html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>",
        ),
    }
}
