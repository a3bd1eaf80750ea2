//! Templates in expectations: `${VAR}` and captures from earlier steps.

use std::borrow::Cow;

use serde_json::Value;

use super::Scope;
use crate::scenario::Expect;
use crate::scenario::template::TemplateError;

/// The expectations of a step with every template rendered; borrowed unchanged when no string
/// in them has a `${`.
pub(crate) fn render_expect<'e>(
    expect: &'e Expect,
    scope: &Scope<'_>,
) -> Result<Cow<'e, Expect>, TemplateError> {
    if !has_template(expect) {
        return Ok(Cow::Borrowed(expect));
    }
    let mut out = expect.clone();
    let text = |s: &mut Option<String>| -> Result<(), TemplateError> {
        if let Some(v) = s.as_mut().filter(|v| v.contains("${")) {
            *v = scope.render(v)?;
        }
        Ok(())
    };
    for check in out.headers.values_mut() {
        text(&mut check.value.equals)?;
        text(&mut check.value.contains)?;
        text(&mut check.value.regex)?;
    }
    for check in out.cookies.values_mut() {
        text(&mut check.value.value)?;
        text(&mut check.value.contains)?;
        text(&mut check.value.path)?;
    }
    for check in &mut out.body {
        let b = &mut check.value;
        text(&mut b.not_contains)?;
        text(&mut b.regex)?;
        text(&mut b.json)?;
        for v in [&mut b.equals, &mut b.contains].into_iter().flatten() {
            render_json(v, scope)?;
        }
    }
    Ok(Cow::Owned(out))
}

/// Renders the strings inside a JSON value in place.
fn render_json(value: &mut Value, scope: &Scope<'_>) -> Result<(), TemplateError> {
    match value {
        Value::String(s) if s.contains("${") => *s = scope.render(s)?,
        Value::Array(items) => {
            for v in items {
                render_json(v, scope)?;
            }
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                render_json(v, scope)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether any string in the expectations holds a template.
fn has_template(expect: &Expect) -> bool {
    let t = |s: &Option<String>| s.as_deref().is_some_and(|v| v.contains("${"));
    let j = |v: &Option<Value>| v.as_ref().is_some_and(|v| v.to_string().contains("${"));
    expect
        .headers
        .values()
        .any(|c| t(&c.value.equals) || t(&c.value.contains) || t(&c.value.regex))
        || expect
            .cookies
            .values()
            .any(|c| t(&c.value.value) || t(&c.value.contains) || t(&c.value.path))
        || expect.body.iter().any(|c| {
            let b = &c.value;
            t(&b.not_contains) || t(&b.regex) || t(&b.json) || j(&b.equals) || j(&b.contains)
        })
}
