//! Semantic checks: what the schema cannot say, each with a span and, where we know it, a
//! did-you-mean. Also fills the `at` of every [`Spanned`] value.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use camino::Utf8Path;
use serde_json::Value;

use super::model::{
    Capture, CaptureKind, Expect, KeySpec, Scenario, Spanned, StatusExpect, Suite, TokenBlock,
};
use super::read::ReadOptions;
use super::template;
use super::time;
use super::{BodyCheckKind, Profile};
use crate::diag::yaml::{SpanMap, push_pointer};
use crate::diag::{Diagnostic, Located, Span, backticked, did_you_mean};
use crate::jose::Alg;

/// What a scenario's checks need to know.
pub(crate) struct Context<'a> {
    pub(crate) file: &'a Utf8Path,
    pub(crate) headline: &'a str,
    pub(crate) spans: &'a SpanMap,
    pub(crate) source: &'a str,
    pub(crate) document: &'a Value,
    pub(crate) suite: &'a Suite,
    pub(crate) has_suite_file: bool,
    pub(crate) profile: &'a Profile,
    pub(crate) options: &'a ReadOptions,
}

/// Collects diagnostics for one file.
struct Sink<'a> {
    file: &'a Utf8Path,
    headline: &'a str,
    spans: &'a SpanMap,
    out: Vec<Diagnostic>,
}

impl Sink<'_> {
    fn locate(&self, pointer: &str) -> Option<Located> {
        self.spans
            .nearest(pointer)
            .map(|s| Located::new(self.file, s))
    }

    fn push(&mut self, pointer: &str, label: impl Into<String>, hint: Option<String>) {
        let d = Diagnostic::new(self.headline, label)
            .at(self.locate(pointer))
            .with_hint_opt(hint);
        self.out.push(d);
    }

    fn push_span(&mut self, span: Span, label: impl Into<String>, hint: Option<String>) {
        let d = Diagnostic::new(self.headline, label)
            .at(Some(Located::new(self.file, span)))
            .with_hint_opt(hint);
        self.out.push(d);
    }
}

fn mean(word: &str, candidates: &[&str]) -> Option<String> {
    did_you_mean(word, candidates.iter()).map(|s| format!("did you mean `{s}`?"))
}

/// Checks a suite; fills the spans of its keys and load thresholds.
pub(crate) fn check_suite(suite: &mut Suite, spans: &SpanMap, headline: &str) -> Vec<Diagnostic> {
    let path = suite.path.clone();
    fill_keys(&mut suite.keys, spans, &path);
    // As a scenario's `token_at`: the block's `key:` value when it names one, else its key.
    suite.defaults.token_at = spans
        .value("/defaults/token/key")
        .or_else(|| {
            spans
                .value("/defaults/token")
                .and_then(|_| spans.key("/defaults/token"))
        })
        .map(|s| Located::new(&path, s));
    let mut sink = Sink {
        file: &path,
        headline,
        spans,
        out: Vec::new(),
    };
    for (name, codes) in &suite.profile.statuses {
        for (i, code) in codes.iter().enumerate() {
            if !(100..=599).contains(code) {
                let p = push_pointer("/profile/statuses", name);
                let p = if spans.value(&format!("{p}/{i}")).is_some() {
                    format!("{p}/{i}")
                } else {
                    p
                };
                sink.push(&p, "expected an HTTP status code (100-599)", None);
            }
        }
    }
    if let Some(token) = &suite.defaults.token {
        check_token(&mut sink, "/defaults/token", token, suite, true);
    }
    if let Some(load) = &mut suite.load {
        fill_load(load, spans, &path, "/load");
        check_load(&mut sink, "/load", load);
    }
    sink.out
}

/// Checks a scenario against its suite and profile; fills every `at`.
pub(crate) fn check_scenario(scenario: &mut Scenario, cx: &Context<'_>) -> Vec<Diagnostic> {
    fill_spans(scenario, cx.spans, cx.file);
    let mut sink = Sink {
        file: cx.file,
        headline: cx.headline,
        spans: cx.spans,
        out: Vec::new(),
    };

    if let Some(token) = &scenario.token {
        check_token(&mut sink, "/token", token, cx.suite, cx.has_suite_file);
    }
    if let Some(load) = &scenario.load {
        check_load(&mut sink, "/load", load);
    }

    let mut step_names: HashMap<&str, usize> = HashMap::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let base = format!("/steps/{i}");
        if let Some(first) = step_names.insert(step.name.as_str(), i) {
            let line = cx
                .spans
                .value(&format!("/steps/{first}/name"))
                .map_or(0, |s| s.line);
            sink.push(
                &format!("{base}/name"),
                format!("duplicate step name `{}`", step.name),
                Some(format!(
                    "step names must be unique in a scenario; it is first used on line {line}"
                )),
            );
        }
        if step
            .request
            .timeout
            .is_some_and(|t| t > MAX_REQUEST_TIMEOUT)
        {
            sink.push(
                &format!("{base}/request/timeout"),
                format!(
                    "expected at most {}",
                    humantime::format_duration(MAX_REQUEST_TIMEOUT)
                ),
                None,
            );
        }
        if let Some(token) = &step.token {
            check_token(
                &mut sink,
                &format!("{base}/token"),
                token,
                cx.suite,
                cx.has_suite_file,
            );
        }
        check_expect(
            &mut sink,
            &format!("{base}/expect"),
            &step.expect,
            cx.profile,
        );
        for (name, capture) in &step.capture {
            check_capture(
                &mut sink,
                &push_pointer(&format!("{base}/capture"), name),
                capture,
            );
        }
    }

    check_variables(&mut sink, scenario, cx);
    sink.out
}

fn fill_spans(scenario: &mut Scenario, spans: &SpanMap, file: &Utf8Path) {
    let at = |p: &str| spans.value(p).map(|s| Located::new(file, s));
    // Only for keys that are written: `SpanMap::key` falls back to the nearest ancestor.
    let key_at = |p: &str| {
        spans
            .value(p)
            .and_then(|_| spans.key(p))
            .map(|s| Located::new(file, s))
    };
    // A token that cannot be built is most often a key that does not fit, so the block's
    // `key:` value is the better place, when the block names one.
    let token_at = |p: &str| at(&format!("{p}/key")).or_else(|| key_at(p));
    scenario.token_at = token_at("/token");
    for (i, step) in scenario.steps.iter_mut().enumerate() {
        let base = format!("/steps/{i}");
        step.at = at(&format!("{base}/name"));
        step.request_at = key_at(&format!("{base}/request"));
        step.token_at = token_at(&format!("{base}/token"));
        let e = format!("{base}/expect");
        fill_expect(&mut step.expect, spans, file, &e);
    }
    if let Some(load) = &mut scenario.load {
        fill_load(load, spans, file, "/load");
    }
}

fn fill_expect(expect: &mut Expect, spans: &SpanMap, file: &Utf8Path, e: &str) {
    let at = |p: &str| spans.value(p).map(|s| Located::new(file, s));
    if let Some(status) = &mut expect.status {
        status.at = at(&format!("{e}/status"));
    }
    for (name, check) in &mut expect.headers {
        check.at = at(&push_pointer(&format!("{e}/headers"), name));
    }
    for (name, check) in &mut expect.cookies {
        check.at = at(&push_pointer(&format!("{e}/cookies"), name));
    }
    let single = spans.value(&format!("{e}/body/0")).is_none();
    for (j, check) in expect.body.iter_mut().enumerate() {
        check.at = if single {
            at(&format!("{e}/body"))
        } else {
            at(&format!("{e}/body/{j}"))
        };
    }
    if let Some(d) = &mut expect.duration_below {
        d.at = at(&format!("{e}/duration_below"));
    }
}

/// Fills where each key's values are written, so that a key that cannot be loaded (a file
/// that is a folder, not a key, a PFX with the wrong password) points at its value.
fn fill_keys(keys: &mut BTreeMap<String, KeySpec>, spans: &SpanMap, file: &Utf8Path) {
    for (name, spec) in keys.iter_mut() {
        let base = push_pointer("/keys", name);
        let at = |field: &str| {
            spans
                .value(&format!("{base}/{field}"))
                .map(|s| Located::new(file, s))
        };
        match spec {
            KeySpec::File {
                file: path,
                password_env,
            } => {
                path.at = at("file");
                if let Some(var) = password_env {
                    var.at = at("password_env");
                }
            }
            KeySpec::Secret { secret } => secret.at = at("secret"),
            KeySpec::Generate { generate } => generate.at = at("generate"),
        }
    }
}

fn fill_load(load: &mut super::LoadBlock, spans: &SpanMap, file: &Utf8Path, base: &str) {
    for (j, t) in load.thresholds.iter_mut().enumerate() {
        t.at = spans
            .value(&format!("{base}/thresholds/{j}"))
            .map(|s| Located::new(file, s));
    }
}

/// The longest timeout a request may be given (1 hour).
pub(crate) const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

impl super::LoadBlock {
    /// The highest request rate accepted, per second (one process; shard beyond it).
    pub const MAX_RATE: f64 = 1_000_000.0;
    /// The most virtual users accepted: each holds a client, its connections and buffers
    /// (about 250 KB each when measured, so 10,000 users take about 2.5 GB).
    pub const MAX_USERS: u64 = 10_000;
    /// The longest measured duration, stage `for` or `over` accepted (7 days).
    pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
    /// The longest warm-up or think time accepted (1 hour).
    pub const MAX_WARMUP: Duration = Duration::from_secs(3600);
    /// The largest token pool or connection pool accepted (a pool of RS256 tokens is minted
    /// before the run, at about a millisecond each).
    pub const MAX_POOL: usize = 10_000;
}

/// Checks a load block: what `jwtprobe load` would refuse, refused here with a span, so that
/// `validate` and `load` agree. The same limits apply to the command-line flags.
fn check_load(sink: &mut Sink<'_>, base: &str, load: &super::LoadBlock) {
    use super::LoadBlock as L;
    let p = |k: &str| format!("{base}/{k}");
    let rate_ok = |r: f64, zero_ok: bool| {
        r.is_finite() && r <= L::MAX_RATE && (r > 0.0 || (zero_ok && r == 0.0))
    };
    let rate_label = format!(
        "expected a rate above 0 and at most {} per second",
        L::MAX_RATE
    );
    if let Some(rate) = load.rate
        && !rate_ok(rate, false)
    {
        sink.push(&p("rate"), rate_label.clone(), None);
    }
    if let Some(users) = load.users
        && !(users >= 1 && u64::from(users) <= L::MAX_USERS)
    {
        sink.push(
            &p("users"),
            format!("expected between 1 and {} users", L::MAX_USERS),
            None,
        );
    }
    if load.requests == Some(0) {
        sink.push(&p("requests"), "expected at least 1 request", None);
    }
    let too_long = |d: Option<Duration>, max: Duration| d.is_some_and(|d| d > max);
    let long_label =
        |max: Duration| format!("expected at most {}", humantime::format_duration(max));
    if load.duration.is_some_and(|d| d.is_zero()) {
        sink.push(&p("duration"), "expected a duration above 0", None);
    }
    if too_long(load.duration, L::MAX_DURATION) {
        sink.push(&p("duration"), long_label(L::MAX_DURATION), None);
    }
    for key in ["warmup", "think"] {
        let value = if key == "warmup" {
            load.warmup
        } else {
            load.think
        };
        if too_long(value, L::MAX_WARMUP) {
            sink.push(&p(key), long_label(L::MAX_WARMUP), None);
        }
    }
    for (key, value) in [("pool", load.pool), ("token_pool", load.token_pool)] {
        if value.is_some_and(|v| v == 0 || v > L::MAX_POOL) {
            sink.push(
                &p(key),
                format!("expected between 1 and {}", L::MAX_POOL),
                None,
            );
        }
    }
    for (j, stage) in load.stages.iter().enumerate() {
        let sp = format!("{base}/stages/{j}");
        let hold = (stage.rate.is_some() || stage.users.is_some()) && stage.hold.is_some();
        let ramp = stage.ramp_to.is_some() && stage.over.is_some();
        if hold == ramp {
            sink.push(
                &sp,
                "a stage is either `{rate: N, for: 10s}` (or `users`) or `{ramp_to: N, over: 30s}`",
                None,
            );
        }
        if let Some(rate) = stage.rate
            && !rate_ok(rate, true)
        {
            sink.push(&format!("{sp}/rate"), rate_label.clone(), None);
        }
        if let Some(rate) = stage.ramp_to
            && !rate_ok(rate, true)
        {
            sink.push(&format!("{sp}/ramp_to"), rate_label.clone(), None);
        }
        if stage.users.is_some() {
            sink.push(
                &format!("{sp}/users"),
                "user stages are not supported",
                Some(
                    "use rate stages: `{rate: N, for: 10s}` or `{ramp_to: N, over: 30s}`"
                        .to_owned(),
                ),
            );
        }
        for (key, value) in [("for", stage.hold), ("over", stage.over)] {
            if too_long(value, L::MAX_DURATION) {
                sink.push(&format!("{sp}/{key}"), long_label(L::MAX_DURATION), None);
            }
        }
    }
}

fn check_token(
    sink: &mut Sink<'_>,
    base: &str,
    token: &TokenBlock,
    suite: &Suite,
    has_suite: bool,
) {
    let names: Vec<&str> = suite.keys.keys().map(String::as_str).collect();
    if let Some(key) = &token.key
        && key != "none"
        && !key.contains("${")
        && !suite.keys.contains_key(key)
    {
        let hint = if !has_suite {
            Some("keys are defined under `keys:` in a `suite.yaml` next to the scenario".to_owned())
        } else {
            mean(key, &names).or_else(|| {
                if names.is_empty() {
                    Some("the suite defines no keys; add one under `keys:`".to_owned())
                } else {
                    Some(format!("the suite defines {}", backticked(&names)))
                }
            })
        };
        sink.push(
            &format!("{base}/key"),
            format!("unknown key name `{key}`"),
            hint,
        );
    }
    if let Some(secret) = &token.hmac_secret
        && !matches!(secret.as_str(), "certificate" | "public_key")
        && !secret.contains("${")
        && !suite.keys.contains_key(secret)
    {
        let mut candidates = vec!["certificate", "public_key"];
        candidates.extend(names.iter().copied());
        sink.push(
            &format!("{base}/hmac_secret"),
            format!("unknown HMAC secret source `{secret}`"),
            mean(secret, &candidates)
                .or_else(|| Some(format!("expected one of {}", backticked(&candidates)))),
        );
    }
    if let Some(alg) = &token.alg
        && token.sign_alg.is_none()
        && token.raw.is_none()
        && !alg.contains("${")
        && Alg::from_name(alg).is_none()
    {
        let hint = mean(alg, &Alg::names())
            .map(|m| {
                format!(
                    "{m} To claim `{alg}` on purpose, set `sign_alg` to the algorithm to compute"
                )
            })
            .or_else(|| {
                Some("set `sign_alg` to the algorithm to compute (for example `RS256`)".into())
            });
        sink.push(
            &format!("{base}/alg"),
            format!("`{alg}` is not an algorithm jwtprobe can compute"),
            hint,
        );
    }
    if let Some(claims) = &token.claims {
        for name in ["exp", "nbf", "iat"] {
            if let Some(v) = claims.get(name) {
                let templated = v.as_str().is_some_and(|s| s.contains("${"));
                if !templated && !time::is_valid(v) {
                    sink.push(
                        &push_pointer(&format!("{base}/claims"), name),
                        "expected a time: an offset such as `-5m`, an RFC 3339 date, a number or `omit`",
                        None,
                    );
                }
            }
        }
    }
    for (field, text) in [
        ("raw_header", &token.raw_header),
        ("raw_payload", &token.raw_payload),
    ] {
        if text.as_ref().is_some_and(|t| t.trim().is_empty()) {
            sink.push(
                &format!("{base}/{field}"),
                format!("`{field}` is empty"),
                None,
            );
        }
    }
}

/// Maps characters people type for digits (`O`, `l`) to digits, if the result is a code.
fn status_typo(text: &str) -> Option<u16> {
    let fixed: String = text
        .chars()
        .map(|c| match c {
            'O' | 'o' => '0',
            'l' | 'I' | 'i' => '1',
            'S' | 's' => '5',
            c => c,
        })
        .collect();
    fixed
        .parse::<u16>()
        .ok()
        .filter(|c| (100..=599).contains(c))
}

fn looks_numeric(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit()) && text.chars().count() <= 4
}

const STATUS_LABEL: &str = "expected an HTTP status code (100-599)";

fn check_expect(sink: &mut Sink<'_>, e: &str, expect: &Expect, profile: &Profile) {
    if let Some(status) = &expect.status {
        let p = format!("{e}/status");
        match &status.value {
            StatusExpect::Code(c) if !(100..=599).contains(c) => sink.push(&p, STATUS_LABEL, None),
            StatusExpect::AnyOf(cs) => {
                for (j, c) in cs.iter().enumerate() {
                    if !(100..=599).contains(c) {
                        sink.push(&format!("{p}/{j}"), STATUS_LABEL, None);
                    }
                }
            }
            StatusExpect::Named(name) if profile.status(name).is_none() => {
                if looks_numeric(name) {
                    sink.push(
                        &p,
                        STATUS_LABEL,
                        status_typo(name).map(|c| format!("did you mean `{c}`?")),
                    );
                } else {
                    let names: Vec<&str> = profile.names().collect();
                    let hint = mean(name, &names).or_else(|| {
                        Some(format!(
                            "profile `{}` knows {}",
                            profile.name,
                            backticked(&names)
                        ))
                    });
                    sink.push(
                        &p,
                        format!(
                            "unknown status name `{name}` for profile `{}`",
                            profile.name
                        ),
                        hint,
                    );
                }
            }
            _ => {}
        }
    }
    for (name, check) in &expect.headers {
        let p = push_pointer(&format!("{e}/headers"), name);
        let c = &check.value;
        if c.absent == Some(true)
            && (c.equals.is_some() || c.contains.is_some() || c.regex.is_some())
        {
            sink.push(
                &p,
                "`absent: true` cannot be combined with `equals`, `contains` or `regex`",
                None,
            );
        }
        if c.absent.is_none() && c.equals.is_none() && c.contains.is_none() && c.regex.is_none() {
            sink.push(
                &p,
                "a header check needs one of `equals`, `contains`, `regex`, `absent`",
                None,
            );
        }
        if let Some(r) = &c.regex {
            check_regex(sink, &format!("{p}/regex"), r);
        }
    }
    for (name, check) in &expect.cookies {
        let p = push_pointer(&format!("{e}/cookies"), name);
        let c = &check.value;
        if let Some(same_site) = &c.same_site
            && !["none", "lax", "strict"].contains(&same_site.to_ascii_lowercase().as_str())
        {
            sink.push(
                &format!("{p}/same_site"),
                format!("unknown SameSite value `{same_site}`"),
                mean(same_site, &["None", "Lax", "Strict"])
                    .or_else(|| Some("expected `None`, `Lax` or `Strict`".into())),
            );
        }
        let has_attrs = c.value.is_some()
            || c.contains.is_some()
            || c.http_only.is_some()
            || c.secure.is_some()
            || c.same_site.is_some()
            || c.path.is_some()
            || c.max_age.is_some();
        if c.present == Some(false) && has_attrs {
            sink.push(&p, "`present: false` cannot be combined with checks on the cookie's value or attributes", None);
        }
        if c.present.is_none() && !has_attrs {
            sink.push(
                &p,
                "a cookie check needs `present`, `absent`, or a value or attribute to check",
                None,
            );
        }
    }
    let single = sink.spans.value(&format!("{e}/body/0")).is_none();
    for (j, check) in expect.body.iter().enumerate() {
        let p = if single {
            format!("{e}/body")
        } else {
            format!("{e}/body/{j}")
        };
        check_body(sink, &p, check);
    }
}

fn check_body(sink: &mut Sink<'_>, p: &str, check: &Spanned<super::BodyCheck>) {
    match check.value.kind() {
        Err(message) => sink.push(p, message, None),
        Ok(BodyCheckKind::Regex(r)) => check_regex(sink, &format!("{p}/regex"), r),
        Ok(BodyCheckKind::Json(path)) => check_json_path(sink, &format!("{p}/json"), path),
        Ok(_) => {}
    }
}

fn check_regex(sink: &mut Sink<'_>, p: &str, r: &str) {
    if r.contains("${") {
        return;
    }
    if let Err(e) = regex::Regex::new(r) {
        let detail = match &e {
            regex::Error::Syntax(s) => s.lines().last().unwrap_or("syntax error").trim().to_owned(),
            other => other.to_string(),
        };
        sink.push(
            p,
            format!("invalid regex: {}", detail.trim_start_matches("error: ")),
            None,
        );
    }
}

fn check_json_path(sink: &mut Sink<'_>, p: &str, path: &str) {
    if path.contains("${") {
        return;
    }
    if let Err(e) = serde_json_path::JsonPath::parse(path) {
        let hint =
            (!path.starts_with('$')).then(|| format!("a JSONPath starts at the root: `$.{path}`"));
        sink.push(p, format!("invalid JSONPath: {e}"), hint);
    }
}

fn check_capture(sink: &mut Sink<'_>, p: &str, capture: &Capture) {
    match capture.kind() {
        Err(message) => sink.push(p, message, None),
        Ok(CaptureKind::Json(path)) => check_json_path(sink, &format!("{p}/json"), path),
        Ok(CaptureKind::Regex { regex, .. }) => check_regex(sink, &format!("{p}/regex"), regex),
        Ok(_) => {}
    }
}

/// Every string in a JSON value, with its pointer.
fn strings<'v>(value: &'v Value, pointer: String, out: &mut Vec<(String, &'v str)>) {
    match value {
        Value::String(s) => out.push((pointer, s)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                strings(v, push_pointer(&pointer, k), out);
            }
        }
        _ => {}
    }
}

/// Checks `${NAME}` references: a capture used before (or in the step where) it is captured,
/// and, when asked, a variable no source defines.
fn check_variables(sink: &mut Sink<'_>, scenario: &Scenario, cx: &Context<'_>) {
    let source = cx.document;
    let mut defined: BTreeSet<String> = cx.suite.vars.keys().cloned().collect();
    defined.extend(template::BUILTIN_VARS.iter().map(|v| (*v).to_owned()));
    defined.extend(scenario.vars.keys().cloned());
    defined.extend(cx.options.vars.keys().cloned());
    for variant in scenario.matrix.iter().flatten() {
        defined.extend(variant.keys().cloned());
    }
    let captured_at: BTreeMap<&str, usize> = scenario
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.capture.keys().map(move |k| (k.as_str(), i)))
        .collect();

    let mut texts = Vec::new();
    for (key, value) in source.as_object().into_iter().flatten() {
        if key == "steps" {
            continue;
        }
        if matches!(key.as_str(), "token" | "vars" | "matrix") {
            strings(value, push_pointer("", key), &mut texts);
        }
    }
    let scenario_level = texts.len();
    if let Some(steps) = source.get("steps").and_then(Value::as_array) {
        for (i, step) in steps.iter().enumerate() {
            for (key, value) in step.as_object().into_iter().flatten() {
                if matches!(key.as_str(), "request" | "token" | "expect") {
                    strings(
                        value,
                        format!("/steps/{i}/{}", key.replace('~', "~0").replace('/', "~1")),
                        &mut texts,
                    );
                }
            }
        }
    }
    for (n, (pointer, text)) in texts.iter().enumerate() {
        let Ok(references) = template::references(text) else {
            sink.push(
                pointer,
                "unclosed `${` in a template",
                Some("write `$${` for a literal `${`".into()),
            );
            continue;
        };
        let step_index = (n >= scenario_level)
            .then(|| {
                pointer
                    .strip_prefix("/steps/")
                    .and_then(|r| r.split('/').next()?.parse::<usize>().ok())
            })
            .flatten();
        for r in references {
            if r.default.is_some() || defined.contains(r.name) {
                continue;
            }
            let span = reference_span(cx, pointer, r.name);
            if let Some(&at) = captured_at.get(r.name) {
                if let Some(step) = step_index
                    && at >= step
                {
                    let by = &scenario.steps[at].name;
                    sink.push_span(
                        span,
                        format!(
                            "`{}` is captured by step `{by}`, which runs after this one",
                            r.name
                        ),
                        Some(
                            "a capture is available from the step after the one that captures it"
                                .into(),
                        ),
                    );
                }
                continue;
            }
            if cx.options.check_variables && std::env::var_os(r.name).is_none() {
                let mut candidates: Vec<&str> = defined.iter().map(String::as_str).collect();
                candidates.extend(captured_at.keys().copied());
                let hint = mean(r.name, &candidates).unwrap_or_else(|| {
                    format!(
                        "define it under `vars:`, in the environment or with `--var {}=…`, or give a default: `${{{}:-value}}`",
                        r.name, r.name
                    )
                });
                sink.push_span(span, format!("unknown variable `{}`", r.name), Some(hint));
            }
        }
    }
}

/// The span of `${name` inside the string at `pointer`, or the whole string.
fn reference_span(cx: &Context<'_>, pointer: &str, name: &str) -> Span {
    let Some(span) = cx.spans.nearest(pointer) else {
        return Span::default();
    };
    let needle = format!("${{{name}");
    let Some(slice) = cx.source.get(span.start..span.end) else {
        return span;
    };
    let Some(offset) = slice.find(&needle) else {
        return span;
    };
    let prefix = &slice[..offset];
    if prefix.contains('\n') {
        return span;
    }
    let close = slice[offset..].find('}').map_or(needle.len(), |c| c + 1);
    Span {
        start: span.start + offset,
        end: span.start + offset + close,
        line: span.line,
        col: span.col + prefix.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_typo_maps_letters_that_look_like_digits() {
        assert_eq!(status_typo("2OO"), Some(200));
        assert_eq!(status_typo("4O1"), Some(401));
        assert_eq!(status_typo("l00"), Some(100));
        assert_eq!(status_typo("9OO"), None);
        assert_eq!(status_typo("abc"), None);
    }

    #[test]
    fn only_short_texts_with_digits_look_like_codes() {
        assert!(looks_numeric("2OO"));
        assert!(!looks_numeric("reject"));
        assert!(!looks_numeric("x2_long_name"));
    }
}
