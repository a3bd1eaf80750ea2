//! Templates in expectations: `${VAR}` and captures from earlier steps.

use std::borrow::Cow;

use serde_json::Value;

use super::Scope;
use crate::diag::Located;
use crate::scenario::Expect;
use crate::scenario::template::TemplateError;

/// The expectations of a step with every template rendered; borrowed unchanged when no string
/// in them has a `${`. A template that cannot be rendered comes back with where its
/// expectation was written.
pub(crate) fn render_expect<'e>(
    expect: &'e Expect,
    scope: &Scope<'_>,
) -> Result<Cow<'e, Expect>, (TemplateError, Option<Located>)> {
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
        let at = &check.at;
        let c = &mut check.value;
        [&mut c.equals, &mut c.contains, &mut c.regex]
            .into_iter()
            .try_for_each(text)
            .map_err(|e| (e, at.clone()))?;
    }
    for check in out.cookies.values_mut() {
        let at = &check.at;
        let c = &mut check.value;
        [&mut c.value, &mut c.contains, &mut c.path]
            .into_iter()
            .try_for_each(text)
            .map_err(|e| (e, at.clone()))?;
    }
    for check in &mut out.body {
        let at = &check.at;
        let b = &mut check.value;
        [&mut b.not_contains, &mut b.regex, &mut b.json]
            .into_iter()
            .try_for_each(text)
            .and_then(|()| {
                [&mut b.equals, &mut b.contains]
                    .into_iter()
                    .flatten()
                    .try_for_each(|v| render_json(v, scope))
            })
            .map_err(|e| (e, at.clone()))?;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diag::Span;

    #[test]
    fn template_error_comes_back_with_the_place_of_its_expectation() {
        let mut expect: Expect = serde_json::from_value(serde_json::json!({
            "status": 200,
            "headers": { "x-user": { "equals": "${not_captured}" } },
        }))
        .unwrap();
        let at = Located::new("s.yaml", Span::START);
        if let Some(check) = expect.headers.get_mut("x-user") {
            check.at = Some(at.clone());
        }
        let empty = BTreeMap::new();
        let scope = Scope::new(&empty, &empty, &empty);
        let (error, place) = render_expect(&expect, &scope).unwrap_err();
        assert!(error.to_string().contains("not_captured"), "{error}");
        assert_eq!(place, Some(at));
    }
}
