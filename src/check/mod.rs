//! Checks: evaluate a step's expectations against a response.
//!
//! [`evaluate`] turns an [`Expect`] (the YAML `expect:` block) and a [`Response`] into one
//! [`Outcome`] per check: passed or not, what was expected, what was found, and where the
//! expectation was written (so a failure points at its YAML line, see
//! [`Outcome::to_diagnostic`]). [`CompiledExpect`] compiles regexes and JSONPaths once for the
//! load hot path, where [`CompiledExpect::passed`] answers without allocating outcomes.
//!
//! Cookie checks read the response's `Set-Cookie` headers (parsed with the `cookie` crate) and
//! match the cookie name exactly: a check on `X-Qlik-Session-jwt` does not match a cookie named
//! `X-Qlik-Session-jwt-HTTP`; write the name the proxy sets.
//!
//! `actual` never holds a full cookie value or credential: header values go through
//! [`crate::token::redact::redact_header`], the one redaction every report uses, and cookie
//! values show as [`crate::token::redact_secret`] does (length and fingerprint).
//!
//! This module is pure and synchronous.

use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::diag::{Diagnostic, Located};
use crate::scenario::{
    BodyCheck, BodyCheckKind, CookieCheck, Expect, Profile, StatusExpect, TextCheck,
};

/// A response as the checks see it.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: &'a HeaderMap,
    /// The response body (possibly capped by the client).
    pub body: &'a [u8],
    /// Time from sending the request to the end of the response.
    pub elapsed: Duration,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// What was checked: `status`, ``header `content-type` ``, ``cookie `X` http_only``, …
    pub check: String,
    /// Whether the check held.
    pub passed: bool,
    /// What was expected, in words (`400 (reject)`, ``contains `ok` ``).
    pub expected: String,
    /// What was found; never a full cookie value or token.
    pub actual: String,
    /// Where the expectation was written.
    pub at: Option<Located>,
}

impl Outcome {
    /// A diagnostic for a failed check, in the house style: ``check failed in step `s` of
    /// scenario `n` `` with the caret under the expectation and the actual value as label.
    pub fn to_diagnostic(&self, scenario: &str, step: &str) -> Diagnostic {
        let mut d = Diagnostic::new(
            format!("check failed in step `{step}` of scenario `{scenario}`"),
            format!("{}: actual value is <{}>", self.check, self.actual),
        )
        .at(self.at.clone());
        d.expected = Some(self.expected.clone());
        d
    }
}

/// Evaluates every check of `expect` against `response`; one outcome per check.
///
/// Named statuses (`reject`) are looked up in `profile`. Regexes and JSONPaths are compiled
/// on each call; use [`CompiledExpect`] in loops.
pub fn evaluate(expect: &Expect, response: &Response<'_>, profile: &Profile) -> Vec<Outcome> {
    CompiledExpect::new(expect).evaluate(response, profile)
}

/// Expectations with their regexes and JSONPaths compiled once.
#[derive(Debug, Clone)]
pub struct CompiledExpect {
    expect: Expect,
    header_regexes: Vec<Option<Result<regex::Regex, String>>>,
    body: Vec<CompiledBody>,
}

#[derive(Debug, Clone)]
enum CompiledBody {
    Invalid(String),
    Equals(String),
    Contains(String),
    NotContains(String),
    Regex(regex::Regex),
    Json(JsonPath),
}

impl CompiledExpect {
    /// Whether the checks read the response's headers (header or cookie checks).
    pub fn reads_headers(&self) -> bool {
        !self.expect.headers.is_empty() || !self.expect.cookies.is_empty()
    }

    /// Compiles the regexes and JSONPaths of `expect`. An invalid one (the reader rejects them,
    /// so only hand-built expectations have any) becomes a check that always fails.
    pub fn new(expect: &Expect) -> Self {
        let header_regexes = expect
            .headers
            .values()
            .map(|c| {
                c.value
                    .regex
                    .as_ref()
                    .map(|r| regex::Regex::new(r).map_err(|e| e.to_string()))
            })
            .collect();
        let body = expect.body.iter().map(|c| compile_body(&c.value)).collect();
        Self {
            expect: expect.clone(),
            header_regexes,
            body,
        }
    }

    /// The expectations compiled.
    pub fn expect(&self) -> &Expect {
        &self.expect
    }

    /// Evaluates every check; one outcome per check.
    pub fn evaluate(&self, response: &Response<'_>, profile: &Profile) -> Vec<Outcome> {
        let mut out = Vec::new();
        self.run(response, profile, false, &mut |o| {
            out.push(o());
            true
        });
        out
    }

    /// Whether every check holds; stops at the first failure. The status, the common case
    /// under load, is checked without building any text.
    pub fn passed(&self, response: &Response<'_>, profile: &Profile) -> bool {
        if let Some(status) = &self.expect.status
            && !status_matches(&status.value, response.status, profile)
        {
            return false;
        }
        let mut all = true;
        self.run(response, profile, true, &mut |o| {
            all = o().passed;
            all
        });
        all
    }

    /// Runs the checks, handing each outcome (built lazily) to `sink`; stops when it returns
    /// `false`.
    fn run(
        &self,
        response: &Response<'_>,
        profile: &Profile,
        skip_status: bool,
        sink: &mut dyn FnMut(&dyn Fn() -> Outcome) -> bool,
    ) {
        let e = &self.expect;
        if let Some(status) = e.status.as_ref().filter(|_| !skip_status) {
            let o = || status_outcome(&status.value, status.at.clone(), response.status, profile);
            if !sink(&o) {
                return;
            }
        }
        for ((name, check), regex) in e.headers.iter().zip(&self.header_regexes) {
            for o in header_outcomes(
                name,
                &check.value,
                regex.as_ref(),
                check.at.as_ref(),
                response.headers,
            ) {
                if !sink(&|| o.clone()) {
                    return;
                }
            }
        }
        for (name, check) in &e.cookies {
            for o in cookie_outcomes(name, &check.value, check.at.as_ref(), response.headers) {
                if !sink(&|| o.clone()) {
                    return;
                }
            }
        }
        for (check, compiled) in e.body.iter().zip(&self.body) {
            let o = body_outcome(&check.value, compiled, check.at.clone(), response.body);
            if !sink(&|| o.clone()) {
                return;
            }
        }
        if let Some(bound) = &e.duration_below {
            let o = || Outcome {
                check: "duration_below".into(),
                passed: response.elapsed < bound.value,
                expected: format!("below {}", humantime::format_duration(bound.value)),
                actual: format_elapsed(response.elapsed),
                at: bound.at.clone(),
            };
            sink(&o);
        }
    }
}

fn format_elapsed(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.3}s", d.as_secs_f64())
    } else {
        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
    }
}

fn compile_body(check: &BodyCheck) -> CompiledBody {
    match check.kind() {
        Err(message) => CompiledBody::Invalid(message),
        Ok(BodyCheckKind::Equals(t)) => CompiledBody::Equals(t.to_owned()),
        Ok(BodyCheckKind::Contains(t)) => CompiledBody::Contains(t.to_owned()),
        Ok(BodyCheckKind::NotContains(t)) => CompiledBody::NotContains(t.to_owned()),
        Ok(BodyCheckKind::Regex(r)) => regex::Regex::new(r).map_or_else(
            |e| CompiledBody::Invalid(format!("invalid regex: {e}")),
            CompiledBody::Regex,
        ),
        Ok(BodyCheckKind::Json(p)) => JsonPath::parse(p).map_or_else(
            |e| CompiledBody::Invalid(format!("invalid JSONPath: {e}")),
            CompiledBody::Json,
        ),
    }
}

/// Whether `status` satisfies the expectation.
pub fn status_matches(expect: &StatusExpect, status: u16, profile: &Profile) -> bool {
    match expect {
        StatusExpect::Code(c) => *c == status,
        StatusExpect::AnyOf(cs) => cs.contains(&status),
        StatusExpect::Class(c) => status / 100 == u16::from(*c),
        StatusExpect::Named(n) => profile.status(n).is_some_and(|cs| cs.contains(&status)),
    }
}

fn status_outcome(
    expect: &StatusExpect,
    at: Option<Located>,
    status: u16,
    profile: &Profile,
) -> Outcome {
    let expected = match expect {
        StatusExpect::Named(n) => match profile.status(n) {
            Some([one]) => format!("{one} ({n} on profile `{}`)", profile.name),
            Some(cs) => {
                let list: Vec<String> = cs.iter().map(u16::to_string).collect();
                format!(
                    "one of [{}] ({n} on profile `{}`)",
                    list.join(", "),
                    profile.name
                )
            }
            None => format!("{n} (unknown on profile `{}`)", profile.name),
        },
        other => other.to_string(),
    };
    Outcome {
        check: "status".into(),
        passed: status_matches(expect, status, profile),
        expected,
        actual: status.to_string(),
        at,
    }
}

/// Shows a header value, hiding secrets (cookie values, credentials) as every report does.
fn shown_header(name: &str, value: &str) -> String {
    let shown = crate::token::redact::redact_header(name, value, None);
    if shown == value {
        excerpt(value)
    } else {
        shown
    }
}

/// A short, one-line excerpt of a text (at most 120 characters).
fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let count = one_line.chars().count();
    if count <= MAX {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}… ({count} chars)")
    }
}

fn header_outcomes(
    name: &str,
    check: &TextCheck,
    regex: Option<&Result<regex::Regex, String>>,
    at: Option<&Located>,
    headers: &HeaderMap,
) -> Vec<Outcome> {
    let values: Vec<String> = match http::HeaderName::from_bytes(name.as_bytes()) {
        Ok(h) => headers
            .get_all(h)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    let actual = if values.is_empty() {
        "absent".to_owned()
    } else {
        values
            .iter()
            .map(|v| format!("`{}`", shown_header(name, v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let outcome = |what: String, passed: bool| Outcome {
        check: format!("header `{name}`"),
        passed,
        expected: what,
        actual: actual.clone(),
        at: at.cloned(),
    };
    let mut out = Vec::new();
    match check.absent {
        Some(true) => out.push(outcome("absent".into(), values.is_empty())),
        Some(false) => out.push(outcome("present".into(), !values.is_empty())),
        None => {}
    }
    if let Some(eq) = &check.equals {
        out.push(outcome(
            format!("equals `{}`", shown_header(name, eq)),
            values.iter().any(|v| v == eq),
        ));
    }
    if let Some(c) = &check.contains {
        out.push(outcome(
            format!("contains `{}`", shown_header(name, c)),
            values.iter().any(|v| v.contains(c.as_str())),
        ));
    }
    if let Some(r) = &check.regex {
        match regex {
            Some(Ok(re)) => out.push(outcome(
                format!("matches `{r}`"),
                values.iter().any(|v| re.is_match(v)),
            )),
            Some(Err(e)) => out.push(outcome(
                format!("matches `{r}` (invalid regex: {e})"),
                false,
            )),
            None => out.push(outcome(format!("matches `{r}`"), false)),
        }
    }
    out
}

/// The last `Set-Cookie` of this exact name, parsed.
fn find_cookie<'h>(name: &str, headers: &'h HeaderMap) -> Option<cookie::Cookie<'h>> {
    headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| cookie::Cookie::parse(v).ok())
        .rfind(|c| c.name() == name)
}

/// `abcdef…(312 chars)`: enough to tell values apart, not enough to reuse one.
fn value_prefix(value: &str) -> String {
    const SHOWN: usize = 6;
    let count = value.chars().count();
    if count <= SHOWN {
        format!("`{value}`")
    } else {
        let prefix: String = value.chars().take(SHOWN).collect();
        format!("`{prefix}…` ({count} chars)")
    }
}

fn cookie_outcomes(
    name: &str,
    check: &CookieCheck,
    at: Option<&Located>,
    headers: &HeaderMap,
) -> Vec<Outcome> {
    let found = find_cookie(name, headers);
    let outcome = |what: &str, expected: String, actual: String, passed: bool| Outcome {
        check: if what.is_empty() {
            format!("cookie `{name}`")
        } else {
            format!("cookie `{name}` {what}")
        },
        passed,
        expected,
        actual,
        at: at.cloned(),
    };
    let Some(cookie) = found else {
        let want_absent = check.present == Some(false);
        return vec![outcome(
            "",
            if want_absent {
                "not set".into()
            } else {
                "set".into()
            },
            "not set".into(),
            want_absent,
        )];
    };
    let redacted = format!(
        "set (value {})",
        crate::token::redact_secret(cookie.value())
    );
    let mut out = Vec::new();
    match check.present {
        Some(false) => return vec![outcome("", "not set".into(), redacted, false)],
        Some(true) => out.push(outcome("", "set".into(), redacted, true)),
        None => {}
    }
    if let Some(v) = &check.value {
        out.push(outcome(
            "value",
            format!("equals {}", value_prefix(v)),
            value_prefix(cookie.value()),
            cookie.value() == v,
        ));
    }
    if let Some(c) = &check.contains {
        out.push(outcome(
            "value",
            format!("contains {}", value_prefix(c)),
            crate::token::redact_secret(cookie.value()),
            cookie.value().contains(c.as_str()),
        ));
    }
    let flag = |b: bool| {
        if b {
            "set".to_owned()
        } else {
            "not set".to_owned()
        }
    };
    if let Some(want) = check.http_only {
        let has = cookie.http_only().unwrap_or(false);
        out.push(outcome("HttpOnly", flag(want), flag(has), has == want));
    }
    if let Some(want) = check.secure {
        let has = cookie.secure().unwrap_or(false);
        out.push(outcome("Secure", flag(want), flag(has), has == want));
    }
    if let Some(want) = &check.same_site {
        let has = cookie.same_site().map(|s| s.to_string());
        let passed = has.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(want));
        out.push(outcome(
            "SameSite",
            format!("`{want}`"),
            has.map_or_else(|| "not set".into(), |h| format!("`{h}`")),
            passed,
        ));
    }
    if let Some(want) = &check.path {
        let has = cookie.path();
        out.push(outcome(
            "Path",
            format!("`{want}`"),
            has.map_or_else(|| "not set".into(), |h| format!("`{h}`")),
            has == Some(want),
        ));
    }
    if let Some(want) = check.max_age {
        let has = cookie.max_age().map(|d| d.whole_seconds());
        out.push(outcome(
            "Max-Age",
            want.to_string(),
            has.map_or_else(|| "not set".into(), |h| h.to_string()),
            has == Some(want),
        ));
    }
    out
}

fn body_outcome(
    check: &BodyCheck,
    compiled: &CompiledBody,
    at: Option<Located>,
    body: &[u8],
) -> Outcome {
    let text = String::from_utf8_lossy(body);
    let shown = || {
        if body.is_empty() {
            "empty body".to_owned()
        } else {
            format!("`{}`", excerpt(&text))
        }
    };
    let (check_name, expected, passed, actual) = match compiled {
        CompiledBody::Invalid(message) => ("body".to_owned(), message.clone(), false, shown()),
        CompiledBody::Equals(t) => (
            "body".into(),
            format!("equals `{}`", excerpt(t)),
            text == t.as_str(),
            shown(),
        ),
        CompiledBody::Contains(t) => (
            "body".into(),
            format!("contains `{}`", excerpt(t)),
            text.contains(t.as_str()),
            shown(),
        ),
        CompiledBody::NotContains(t) => (
            "body".into(),
            format!("does not contain `{}`", excerpt(t)),
            !text.contains(t.as_str()),
            shown(),
        ),
        CompiledBody::Regex(re) => (
            "body".into(),
            format!("matches `{}`", re.as_str()),
            re.is_match(&text),
            shown(),
        ),
        CompiledBody::Json(path) => return json_outcome(check, path, at, body),
    };
    Outcome {
        check: check_name,
        passed,
        expected,
        actual,
        at,
    }
}

fn json_outcome(check: &BodyCheck, path: &JsonPath, at: Option<Located>, body: &[u8]) -> Outcome {
    let name = format!("body `{}`", check.json.as_deref().unwrap_or("$"));
    let mut expectations = Vec::new();
    if let Some(e) = check.exists {
        expectations.push(if e {
            "exists".to_owned()
        } else {
            "does not exist".to_owned()
        });
    }
    if let Some(v) = &check.equals {
        expectations.push(format!("equals {v}"));
    }
    if let Some(v) = &check.contains {
        expectations.push(format!("contains {v}"));
    }
    if let Some(v) = check.gt {
        expectations.push(format!("> {v}"));
    }
    if let Some(v) = check.lt {
        expectations.push(format!("< {v}"));
    }
    if let Some(v) = check.len {
        expectations.push(format!("has length {v}"));
    }
    let expected = expectations.join(" and ");
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Outcome {
                check: name,
                passed: false,
                expected,
                actual: format!("body is not JSON ({e})"),
                at,
            };
        }
    };
    let nodes = path.query(&doc);
    let node = nodes.first();
    let actual = node.map_or_else(
        || "nothing selected".to_owned(),
        |v| excerpt(&v.to_string()),
    );
    let mut passed = true;
    if let Some(e) = check.exists {
        passed &= node.is_some() == e;
    }
    if let Some(want) = &check.equals {
        passed &= node.is_some_and(|v| json_equal(v, want));
    }
    if let Some(want) = &check.contains {
        passed &= node.is_some_and(|v| match (v, want) {
            (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
            (Value::Array(items), w) => items.iter().any(|i| json_equal(i, w)),
            (Value::Object(map), Value::String(k)) => map.contains_key(k),
            _ => false,
        });
    }
    if let Some(bound) = check.gt {
        passed &= node.and_then(Value::as_f64).is_some_and(|n| n > bound);
    }
    if let Some(bound) = check.lt {
        passed &= node.and_then(Value::as_f64).is_some_and(|n| n < bound);
    }
    if let Some(want) = check.len {
        let len = node.and_then(|v| match v {
            Value::Array(a) => Some(a.len()),
            Value::String(s) => Some(s.chars().count()),
            Value::Object(o) => Some(o.len()),
            _ => None,
        });
        passed &= len.is_some_and(|l| l as u64 == want);
    }
    Outcome {
        check: name,
        passed,
        expected,
        actual,
        at,
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use http::HeaderValue;
    use serde_json::json;

    use super::*;
    use crate::jose::ProfileName;
    use crate::scenario::Spanned;

    const SESSION: &str = "0123456789abcdef0123456789abcdef";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn eval(
        expect: &Expect,
        status: u16,
        hs: &HeaderMap,
        body: &str,
        elapsed_ms: u64,
    ) -> Vec<Outcome> {
        let response = Response {
            status,
            headers: hs,
            body: body.as_bytes(),
            elapsed: Duration::from_millis(elapsed_ms),
        };
        evaluate(expect, &response, &Profile::builtin(ProfileName::Qseow))
    }

    fn passed(outcomes: &[Outcome]) -> Vec<bool> {
        outcomes.iter().map(|o| o.passed).collect()
    }

    fn status(s: StatusExpect) -> Expect {
        Expect {
            status: Some(Spanned::new(s)),
            ..Expect::default()
        }
    }

    #[test]
    fn status_code_list_class_and_name_pass_and_fail() {
        let none = HeaderMap::new();
        let cases = [
            (StatusExpect::Code(200), 200, true),
            (StatusExpect::Code(200), 401, false),
            (StatusExpect::AnyOf(vec![200, 204]), 204, true),
            (StatusExpect::AnyOf(vec![200, 204]), 302, false),
            (StatusExpect::Class(4), 403, true),
            (StatusExpect::Class(4), 500, false),
            (StatusExpect::Named("reject".into()), 400, true),
            (StatusExpect::Named("reject".into()), 401, false),
        ];
        for (expect, code, want) in cases {
            let out = eval(&status(expect.clone()), code, &none, "", 1);
            assert_eq!(passed(&out), vec![want], "{expect:?} vs {code}: {out:?}");
            assert_eq!(out[0].actual, code.to_string());
        }
    }

    #[test]
    fn named_status_shows_profile_codes_in_expected() {
        let out = eval(
            &status(StatusExpect::Named("reject".into())),
            401,
            &HeaderMap::new(),
            "",
            1,
        );
        assert_eq!(out[0].expected, "400 (reject on profile `qseow`)");
    }

    #[test]
    fn failing_check_keeps_its_location() {
        let at = Some(Located::new(
            "s.yaml",
            crate::diag::Span {
                start: 3,
                end: 6,
                line: 2,
                col: 15,
            },
        ));
        let expect = Expect {
            status: Some(Spanned {
                value: StatusExpect::Code(200),
                at: at.clone(),
            }),
            ..Expect::default()
        };
        let out = eval(&expect, 401, &HeaderMap::new(), "", 1);
        assert_eq!(out[0].at, at);
        let d = out[0].to_diagnostic("smoke", "open-hub");
        assert_eq!(
            d.message,
            "check failed in step `open-hub` of scenario `smoke`"
        );
        assert_eq!(d.label, "status: actual value is <401>");
    }

    fn header_check(name: &str, check: TextCheck) -> Expect {
        Expect {
            headers: BTreeMap::from([(name.to_owned(), Spanned::new(check))]),
            ..Expect::default()
        }
    }

    #[test]
    fn header_checks_are_case_insensitive_and_pass_and_fail() {
        let hs = headers(&[("content-type", "text/html; charset=utf-8")]);
        let cases = [
            (
                TextCheck {
                    equals: Some("text/html; charset=utf-8".into()),
                    ..TextCheck::default()
                },
                true,
            ),
            (
                TextCheck {
                    equals: Some("text/html".into()),
                    ..TextCheck::default()
                },
                false,
            ),
            (
                TextCheck {
                    contains: Some("html".into()),
                    ..TextCheck::default()
                },
                true,
            ),
            (
                TextCheck {
                    contains: Some("json".into()),
                    ..TextCheck::default()
                },
                false,
            ),
            (
                TextCheck {
                    regex: Some("^text/.*utf-8$".into()),
                    ..TextCheck::default()
                },
                true,
            ),
            (
                TextCheck {
                    regex: Some("^application/".into()),
                    ..TextCheck::default()
                },
                false,
            ),
            (
                TextCheck {
                    absent: Some(false),
                    ..TextCheck::default()
                },
                true,
            ),
            (
                TextCheck {
                    absent: Some(true),
                    ..TextCheck::default()
                },
                false,
            ),
        ];
        for (check, want) in cases {
            let out = eval(
                &header_check("Content-Type", check.clone()),
                200,
                &hs,
                "",
                1,
            );
            assert_eq!(passed(&out), vec![want], "{check:?}: {out:?}");
        }
        let out = eval(
            &header_check(
                "WWW-Authenticate",
                TextCheck {
                    absent: Some(true),
                    ..TextCheck::default()
                },
            ),
            200,
            &hs,
            "",
            1,
        );
        assert_eq!(
            (passed(&out), out[0].actual.as_str()),
            (vec![true], "absent")
        );
    }

    #[test]
    fn set_cookie_header_value_is_redacted_in_actual() {
        let hs = headers(&[(
            "set-cookie",
            &format!("X-Qlik-Session-jwt={SESSION}; Path=/; HttpOnly"),
        )]);
        let out = eval(
            &header_check(
                "set-cookie",
                TextCheck {
                    contains: Some("nope".into()),
                    ..TextCheck::default()
                },
            ),
            200,
            &hs,
            "",
            1,
        );
        assert!(!out[0].actual.contains(SESSION), "{}", out[0].actual);
        assert!(out[0].actual.contains("HttpOnly"), "{}", out[0].actual);
    }

    fn cookie_check(name: &str, check: CookieCheck) -> Expect {
        Expect {
            cookies: BTreeMap::from([(name.to_owned(), Spanned::new(check))]),
            ..Expect::default()
        }
    }

    fn session_headers() -> HeaderMap {
        headers(&[
            ("set-cookie", "other=1"),
            (
                "set-cookie",
                &format!(
                    "X-Qlik-Session-jwt={SESSION}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=1800"
                ),
            ),
        ])
    }

    #[test]
    fn cookie_presence_and_absence_pass_and_fail() {
        let hs = session_headers();
        let present = CookieCheck {
            present: Some(true),
            ..CookieCheck::default()
        };
        let absent = CookieCheck {
            present: Some(false),
            ..CookieCheck::default()
        };
        assert_eq!(
            passed(&eval(
                &cookie_check("X-Qlik-Session-jwt", present.clone()),
                200,
                &hs,
                "",
                1
            )),
            vec![true]
        );
        assert_eq!(
            passed(&eval(
                &cookie_check("X-Qlik-Session-jwt", absent.clone()),
                200,
                &hs,
                "",
                1
            )),
            vec![false]
        );
        assert_eq!(
            passed(&eval(
                &cookie_check("X-Qlik-Session-jwt", absent),
                200,
                &HeaderMap::new(),
                "",
                1
            )),
            vec![true]
        );
        assert_eq!(
            passed(&eval(
                &cookie_check("X-Qlik-Session-jwt", present),
                200,
                &HeaderMap::new(),
                "",
                1
            )),
            vec![false]
        );
    }

    #[test]
    fn cookie_name_matches_exactly_not_the_http_suffixed_form() {
        let hs = headers(&[("set-cookie", "X-Qlik-Session-jwt-HTTP=abc; Path=/")]);
        let present = CookieCheck {
            present: Some(true),
            ..CookieCheck::default()
        };
        assert_eq!(
            passed(&eval(
                &cookie_check("X-Qlik-Session-jwt", present.clone()),
                200,
                &hs,
                "",
                1
            )),
            vec![false]
        );
        assert_eq!(
            passed(&eval(
                &cookie_check("X-Qlik-Session-jwt-HTTP", present),
                200,
                &hs,
                "",
                1
            )),
            vec![true]
        );
    }

    #[test]
    fn cookie_attributes_pass_and_fail() {
        let hs = session_headers();
        let good = CookieCheck {
            http_only: Some(true),
            secure: Some(true),
            same_site: Some("none".into()),
            path: Some("/".into()),
            max_age: Some(1800),
            ..CookieCheck::default()
        };
        let out = eval(&cookie_check("X-Qlik-Session-jwt", good), 200, &hs, "", 1);
        assert_eq!(passed(&out), vec![true; 5], "{out:?}");
        let bad = CookieCheck {
            http_only: Some(false),
            secure: Some(false),
            same_site: Some("Strict".into()),
            path: Some("/hub".into()),
            max_age: Some(60),
            ..CookieCheck::default()
        };
        let out = eval(&cookie_check("X-Qlik-Session-jwt", bad), 200, &hs, "", 1);
        assert_eq!(passed(&out), vec![false; 5], "{out:?}");
    }

    #[test]
    fn cookie_values_never_appear_in_full() {
        let hs = session_headers();
        let checks = [
            CookieCheck {
                value: Some(SESSION.into()),
                ..CookieCheck::default()
            },
            CookieCheck {
                value: Some("wrong".into()),
                ..CookieCheck::default()
            },
            CookieCheck {
                contains: Some("zzz".into()),
                ..CookieCheck::default()
            },
            CookieCheck {
                present: Some(false),
                ..CookieCheck::default()
            },
        ];
        let want = [true, false, false, false];
        for (check, want) in checks.into_iter().zip(want) {
            let out = eval(&cookie_check("X-Qlik-Session-jwt", check), 200, &hs, "", 1);
            assert_eq!(passed(&out), vec![want], "{out:?}");
            for o in &out {
                assert!(
                    !o.actual.contains(SESSION) && !o.expected.contains(SESSION),
                    "{o:?}"
                );
            }
        }
        let out = eval(
            &cookie_check(
                "X-Qlik-Session-jwt",
                CookieCheck {
                    value: Some("x".into()),
                    ..CookieCheck::default()
                },
            ),
            200,
            &hs,
            "",
            1,
        );
        assert_eq!(out[0].actual, "`012345…` (32 chars)");
    }

    fn body(check: BodyCheck) -> Expect {
        Expect {
            body: vec![Spanned::new(check)],
            ..Expect::default()
        }
    }

    #[test]
    fn text_body_checks_pass_and_fail() {
        let text = "<html>Qlik Sense Hub</html>";
        let cases = [
            (
                BodyCheck {
                    equals: Some(json!(text)),
                    ..BodyCheck::default()
                },
                true,
            ),
            (
                BodyCheck {
                    equals: Some(json!("other")),
                    ..BodyCheck::default()
                },
                false,
            ),
            (
                BodyCheck {
                    contains: Some(json!("Hub")),
                    ..BodyCheck::default()
                },
                true,
            ),
            (
                BodyCheck {
                    contains: Some(json!("Error")),
                    ..BodyCheck::default()
                },
                false,
            ),
            (
                BodyCheck {
                    not_contains: Some("Error".into()),
                    ..BodyCheck::default()
                },
                true,
            ),
            (
                BodyCheck {
                    not_contains: Some("Hub".into()),
                    ..BodyCheck::default()
                },
                false,
            ),
            (
                BodyCheck {
                    regex: Some(r"Qlik\s+Sense".into()),
                    ..BodyCheck::default()
                },
                true,
            ),
            (
                BodyCheck {
                    regex: Some(r"^Error".into()),
                    ..BodyCheck::default()
                },
                false,
            ),
        ];
        for (check, want) in cases {
            let out = eval(&body(check.clone()), 200, &HeaderMap::new(), text, 1);
            assert_eq!(passed(&out), vec![want], "{check:?}: {out:?}");
        }
    }

    #[test]
    fn json_body_checks_pass_and_fail() {
        let doc = r#"{"data":[{"type":"app","size":12,"tags":["a","b"]}],"title":"hub"}"#;
        let j = |path: &str| BodyCheck {
            json: Some(path.into()),
            ..BodyCheck::default()
        };
        let cases = [
            (
                BodyCheck {
                    equals: Some(json!("app")),
                    ..j("$.data[0].type")
                },
                true,
            ),
            (
                BodyCheck {
                    equals: Some(json!("stream")),
                    ..j("$.data[0].type")
                },
                false,
            ),
            (
                BodyCheck {
                    equals: Some(json!(12.0)),
                    ..j("$.data[0].size")
                },
                true,
            ),
            (
                BodyCheck {
                    contains: Some(json!("b")),
                    ..j("$.data[0].tags")
                },
                true,
            ),
            (
                BodyCheck {
                    contains: Some(json!("z")),
                    ..j("$.data[0].tags")
                },
                false,
            ),
            (
                BodyCheck {
                    contains: Some(json!("u")),
                    ..j("$.title")
                },
                true,
            ),
            (
                BodyCheck {
                    exists: Some(true),
                    ..j("$.title")
                },
                true,
            ),
            (
                BodyCheck {
                    exists: Some(true),
                    ..j("$.missing")
                },
                false,
            ),
            (
                BodyCheck {
                    exists: Some(false),
                    ..j("$.missing")
                },
                true,
            ),
            (
                BodyCheck {
                    gt: Some(10.0),
                    ..j("$.data[0].size")
                },
                true,
            ),
            (
                BodyCheck {
                    gt: Some(12.0),
                    ..j("$.data[0].size")
                },
                false,
            ),
            (
                BodyCheck {
                    lt: Some(13.0),
                    ..j("$.data[0].size")
                },
                true,
            ),
            (
                BodyCheck {
                    lt: Some(1.0),
                    ..j("$.data[0].size")
                },
                false,
            ),
            (
                BodyCheck {
                    len: Some(1),
                    ..j("$.data")
                },
                true,
            ),
            (
                BodyCheck {
                    len: Some(2),
                    ..j("$.data")
                },
                false,
            ),
        ];
        for (check, want) in cases {
            let out = eval(&body(check.clone()), 200, &HeaderMap::new(), doc, 1);
            assert_eq!(passed(&out), vec![want], "{check:?}: {out:?}");
        }
    }

    #[test]
    fn json_check_on_non_json_body_fails_with_reason() {
        let check = BodyCheck {
            json: Some("$.a".into()),
            exists: Some(true),
            ..BodyCheck::default()
        };
        let out = eval(&body(check), 200, &HeaderMap::new(), "<html>", 1);
        assert!(!out[0].passed);
        assert!(
            out[0].actual.starts_with("body is not JSON"),
            "{}",
            out[0].actual
        );
    }

    #[test]
    fn duration_below_passes_and_fails() {
        let expect = Expect {
            duration_below: Some(Spanned::new(Duration::from_millis(500))),
            ..Expect::default()
        };
        assert_eq!(
            passed(&eval(&expect, 200, &HeaderMap::new(), "", 100)),
            vec![true]
        );
        let out = eval(&expect, 200, &HeaderMap::new(), "", 700);
        assert_eq!(passed(&out), vec![false]);
        assert_eq!(out[0].actual, "700.0ms");
    }

    #[test]
    fn compiled_passed_agrees_with_evaluate() {
        let mut expect = status(StatusExpect::Named("reject".into()));
        expect.body = vec![Spanned::new(BodyCheck {
            contains: Some(json!("denied")),
            ..BodyCheck::default()
        })];
        let compiled = CompiledExpect::new(&expect);
        let profile = Profile::builtin(ProfileName::Qseow);
        let hs = HeaderMap::new();
        for (code, text, want) in [
            (400, "access denied", true),
            (400, "ok", false),
            (401, "denied", false),
        ] {
            let response = Response {
                status: code,
                headers: &hs,
                body: text.as_bytes(),
                elapsed: Duration::ZERO,
            };
            assert_eq!(compiled.passed(&response, &profile), want);
            assert_eq!(
                compiled
                    .evaluate(&response, &profile)
                    .iter()
                    .all(|o| o.passed),
                want
            );
        }
    }
}
