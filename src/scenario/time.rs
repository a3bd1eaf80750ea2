//! Time values in token claims: offsets from a pinned "now", RFC 3339, numbers and `omit`.
//!
//! [`resolve`] turns what a scenario wrote for `exp`, `nbf` or `iat` into seconds since the
//! Unix epoch, relative to the run's pinned `now` so that every token of a run agrees.

use serde_json::Value;

/// An error reading a time value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time `{text}`: expected an offset such as `-5m` or `+1h`, an RFC 3339 date, a number or `omit`"
)]
pub struct TimeError {
    /// The value as written.
    pub text: String,
}

/// Resolves a time value against `now` (seconds since the epoch).
///
/// - `omit` gives `None` (the claim is left out);
/// - `-5m`, `+1h`, `30s`, `2d` (an offset; unsigned means later) give `now` plus the offset;
///   units are `s`, `m`, `h`, `d`, `w`;
/// - `2025-01-01T00:00:00Z` (RFC 3339) gives that instant;
/// - an integer (number or text) is taken as is.
pub fn resolve(value: &Value, now: i64) -> Result<Option<i64>, TimeError> {
    let err = || TimeError {
        text: value_text(value),
    };
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(err),
        Value::String(s) => resolve_text(s.trim(), now).ok_or_else(err),
        _ => Err(err()),
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn resolve_text(s: &str, now: i64) -> Option<Option<i64>> {
    if s == "omit" {
        return Some(None);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(Some(n));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(Some(t.timestamp()));
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let unit_at = rest.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = rest.split_at(unit_at);
    let amount: i64 = digits.parse().ok()?;
    let scale = match unit.trim() {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hr" | "hrs" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    Some(Some(now.checked_add(sign * amount.checked_mul(scale)?)?))
}

/// Whether a value is a valid time value (used when a scenario is read).
pub fn is_valid(value: &Value) -> bool {
    resolve(value, 0).is_ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn offsets_are_relative_to_now() {
        assert_eq!(resolve(&json!("-5m"), NOW), Ok(Some(NOW - 300)));
        assert_eq!(resolve(&json!("+1h"), NOW), Ok(Some(NOW + 3600)));
        assert_eq!(resolve(&json!("30s"), NOW), Ok(Some(NOW + 30)));
        assert_eq!(resolve(&json!("2d"), NOW), Ok(Some(NOW + 172_800)));
    }

    #[test]
    fn rfc3339_and_numbers_are_absolute() {
        assert_eq!(
            resolve(&json!("2024-01-01T00:00:00Z"), NOW),
            Ok(Some(1_704_067_200))
        );
        assert_eq!(resolve(&json!(42), NOW), Ok(Some(42)));
        assert_eq!(resolve(&json!("42"), NOW), Ok(Some(42)));
    }

    #[test]
    fn omit_leaves_the_claim_out() {
        assert_eq!(resolve(&json!("omit"), NOW), Ok(None));
    }

    #[test]
    fn garbage_is_an_error_naming_the_text() {
        let err = resolve(&json!("-5 parsecs"), NOW).unwrap_err();
        assert!(err.to_string().contains("`-5 parsecs`"), "{err}");
        assert!(resolve(&json!([1]), NOW).is_err());
    }
}
