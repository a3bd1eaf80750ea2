//! Build the HTTP request of a step: URL with the prefix, query, headers, body, the Qlik
//! `xrfkey`, and the token in its place.

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};

use super::tokens::PreparedToken;
use super::{RunOptions, Scope, SuiteContext};
use crate::client;
use crate::jose::ProfileName;
use crate::scenario::{Body, Placement, Step, XrfMode, XrfSwitch};

/// An error building a request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A template could not be rendered.
    #[error("failed to render a template in the request")]
    Template(#[source] crate::scenario::template::TemplateError),
    /// The method is not a valid HTTP token.
    #[error("invalid HTTP method `{0}`")]
    Method(String),
    /// The URL could not be built.
    #[error("invalid URL path `{path}`")]
    Url {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: url::ParseError,
    },
    /// A header name or value is not valid HTTP.
    #[error("invalid header `{0}`")]
    Header(String),
    /// A JSON body could not be serialized.
    #[error("failed to serialize the JSON body")]
    Json(#[source] serde_json::Error),
}

/// Builds the request of a step; the token, when given, is placed as the block says.
pub fn build_request(
    ctx: &SuiteContext,
    step: &Step,
    scope: &Scope<'_>,
    settings: &RunOptions,
    token: Option<&PreparedToken>,
) -> Result<client::Request, RequestError> {
    let spec = &step.request;
    let render = |s: &str| scope.render(s).map_err(RequestError::Template);
    let method = render(&spec.method)?;
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| RequestError::Method(method.clone()))?;
    let below_prefix = render(&spec.path)?;
    let path = match &spec.raw_path {
        Some(raw) => render(raw)?,
        None => {
            let prefix = settings
                .prefix
                .clone()
                .or_else(|| spec.prefix.clone())
                .or_else(|| ctx.suite.prefix.clone())
                .unwrap_or_default();
            join_prefix(&render(&prefix)?, &below_prefix)
        }
    };
    let mut url = settings
        .base_url
        .join(&path)
        .map_err(|source| RequestError::Url {
            path: path.clone(),
            source,
        })?;
    let mut headers = HeaderMap::new();
    for (name, value) in ctx.suite.defaults.headers.iter().chain(&spec.headers) {
        insert_header(&mut headers, name, &render(value)?)?;
    }
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, v) in &spec.query {
        query.push((render(k)?, render(v)?));
    }
    let xrf = xrf_parts(
        spec.xrfkey,
        ctx.profile.name,
        &below_prefix,
        spec.raw_path.is_some(),
    );
    if xrf.0 || xrf.1 {
        let key = xrfkey();
        if xrf.1 {
            query.push(("xrfkey".to_owned(), key.clone()));
        }
        if xrf.0 {
            insert_header(&mut headers, "X-Qlik-Xrfkey", &key)?;
        }
    }
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &query {
            pairs.append_pair(k, v);
        }
    }
    let body = match &spec.body {
        None => None,
        Some(Body::Text(text)) => Some(bytes::Bytes::from(render(text)?)),
        Some(Body::Json { json }) => {
            if !headers.contains_key(http::header::CONTENT_TYPE) {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            let text = serde_json::to_string(json).map_err(RequestError::Json)?;
            Some(bytes::Bytes::from(render(&text)?))
        }
        Some(Body::Form { form }) => {
            if !headers.contains_key(http::header::CONTENT_TYPE) {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                ser.append_pair(k, &render(v)?);
            }
            Some(bytes::Bytes::from(ser.finish()))
        }
    };
    let mut request = client::Request {
        method,
        url,
        headers,
        body,
        follow_redirects: spec.follow_redirects,
        timeout: spec.timeout.or(ctx.suite.defaults.timeout),
    };
    if let Some(token) = token {
        apply_token(&mut request, token, &token.compact)?;
    }
    Ok(request)
}

/// Puts `compact` where the prepared token says: the Authorization header (with its scheme
/// text as written), a cookie, or a query parameter.
pub fn apply_token(
    request: &mut client::Request,
    token: &PreparedToken,
    compact: &str,
) -> Result<(), RequestError> {
    match token.placement {
        Placement::Header => {
            let value = if token.scheme.is_empty() {
                compact.to_owned()
            } else if token.scheme.ends_with(char::is_whitespace) {
                format!("{}{compact}", token.scheme)
            } else {
                format!("{} {compact}", token.scheme)
            };
            insert_header(&mut request.headers, "authorization", &value)
        }
        Placement::Cookie => {
            let pair = format!("{}={compact}", token.name);
            let value = match request.headers.get(http::header::COOKIE) {
                Some(existing) => {
                    format!("{}; {pair}", String::from_utf8_lossy(existing.as_bytes()))
                }
                None => pair,
            };
            insert_header(&mut request.headers, "cookie", &value)
        }
        Placement::Query => {
            request
                .url
                .query_pairs_mut()
                .append_pair(&token.name, compact);
            Ok(())
        }
        Placement::None => Ok(()),
    }
}

/// `prefix` + `path` with exactly one slash between them; an empty prefix leaves the path.
fn join_prefix(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_matches('/');
    let path = path.trim_start_matches('/');
    if prefix.is_empty() {
        format!("/{path}")
    } else {
        format!("/{prefix}/{path}")
    }
}

/// Which xrfkey parts to send: (header, query).
fn xrf_parts(mode: XrfMode, profile: ProfileName, path: &str, raw: bool) -> (bool, bool) {
    match mode {
        XrfMode::Switch(XrfSwitch::Off) => (false, false),
        XrfMode::Parts { header, query } => (header, query),
        XrfMode::Switch(XrfSwitch::Auto) => {
            let qlik = matches!(
                profile,
                ProfileName::Qseow | ProfileName::Qseow401 | ProfileName::QseowPre2024
            );
            let path = path.trim_start_matches('/');
            let api = !raw && (path.starts_with("qrs/") || path.starts_with("qps/"));
            (qlik && api, qlik && api)
        }
    }
}

/// A fresh 16-character `[0-9A-Za-z]` xrfkey.
fn xrfkey() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}

/// Appends a header, or fails naming it.
fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), RequestError> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| RequestError::Header(name.to_owned()))?;
    let v = HeaderValue::from_str(value).map_err(|_| RequestError::Header(name.to_owned()))?;
    headers.append(n, v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_path_join_with_one_slash() {
        assert_eq!(join_prefix("jwt", "/hub/"), "/jwt/hub/");
        assert_eq!(join_prefix("/jwt/", "hub"), "/jwt/hub");
        assert_eq!(join_prefix("", "/hub/"), "/hub/");
    }

    #[test]
    fn xrfkey_is_automatic_only_for_qlik_api_paths() {
        let auto = XrfMode::Switch(XrfSwitch::Auto);
        assert_eq!(
            xrf_parts(auto, ProfileName::Qseow, "/qrs/about", false),
            (true, true)
        );
        assert_eq!(
            xrf_parts(auto, ProfileName::Qseow, "/hub/", false),
            (false, false)
        );
        assert_eq!(
            xrf_parts(auto, ProfileName::Generic, "/qrs/about", false),
            (false, false)
        );
        let off = XrfMode::Switch(XrfSwitch::Off);
        assert_eq!(
            xrf_parts(off, ProfileName::Qseow, "/qrs/about", false),
            (false, false)
        );
    }

    #[test]
    fn xrfkey_has_sixteen_alphanumerics() {
        let k = xrfkey();
        assert_eq!(k.len(), 16);
        assert!(k.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
