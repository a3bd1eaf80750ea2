//! Captures: values taken from a response for later steps (`${name}`).

use http::HeaderMap;

use crate::scenario::{Capture, CaptureKind};

/// Reads a capture from a response: `Ok(None)` when the response has no such value.
pub(super) fn capture(
    spec: &Capture,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, String> {
    match spec.kind()? {
        CaptureKind::Cookie(name) => Ok(headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| cookie::Cookie::parse(v.to_owned()).ok())
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())),
        CaptureKind::Header(name) => Ok(headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())),
        CaptureKind::Json(path) => {
            let path = serde_json_path::JsonPath::parse(path).map_err(|e| e.to_string())?;
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
                return Err("the body is not JSON".to_owned());
            };
            Ok(path.query(&json).first().map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
        }
        CaptureKind::Regex { regex, header } => {
            let re = regex::Regex::new(regex).map_err(|e| e.to_string())?;
            let text = match header {
                Some(h) => headers
                    .get(h)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default(),
                None => String::from_utf8_lossy(body).into_owned(),
            };
            Ok(re.captures(&text).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default()
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(f: impl FnOnce(&mut Capture)) -> Capture {
        let mut c = Capture::default();
        f(&mut c);
        c
    }

    #[test]
    fn cookie_capture_reads_set_cookie_value() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", "other=1; Path=/".parse().unwrap());
        h.append(
            "set-cookie",
            "X-Qlik-Session-jwt=abc-123; Path=/; HttpOnly"
                .parse()
                .unwrap(),
        );
        let c = spec(|c| c.cookie = Some("X-Qlik-Session-jwt".into()));
        assert_eq!(capture(&c, &h, b"").unwrap().as_deref(), Some("abc-123"));
        let missing = spec(|c| c.cookie = Some("nope".into()));
        assert_eq!(capture(&missing, &h, b"").unwrap(), None);
    }

    #[test]
    fn json_capture_reads_strings_bare_and_other_values_as_json() {
        let body = br#"{"userId":"alice","n":[1,2]}"#;
        let c = spec(|c| c.json = Some("$.userId".into()));
        assert_eq!(
            capture(&c, &HeaderMap::new(), body).unwrap().as_deref(),
            Some("alice")
        );
        let c = spec(|c| c.json = Some("$.n".into()));
        assert_eq!(
            capture(&c, &HeaderMap::new(), body).unwrap().as_deref(),
            Some("[1,2]")
        );
    }

    #[test]
    fn regex_capture_takes_the_first_group() {
        let c = spec(|c| c.regex = Some("id=(\\w+)".into()));
        assert_eq!(
            capture(&c, &HeaderMap::new(), b"x id=42 y")
                .unwrap()
                .as_deref(),
            Some("42")
        );
    }
}
