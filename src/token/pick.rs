//! A borrowed, allocation-light reader for the JSON objects of a JWT: [`pick`] validates a whole
//! object exactly as `serde_json::from_slice::<Value>` would, but keeps only the values of the
//! members it is asked for.
//!
//! This is the verification hot path's parser: a token's header and payload are checked for
//! structure and only `alg`, `exp`, `nbf`, `aud` and the identity claims are materialized; the
//! full maps are built later, on demand ([`Verified::claims`](super::Verified::claims)). Every
//! other value is walked with `deserialize_any` and dropped without allocating, so strings are
//! still checked for UTF-8 and lone surrogates and numbers for range: what `Value` refuses, this
//! refuses too. Duplicate members behave as in `serde_json::Map`: the last one wins.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Why [`pick`] refused its input.
#[derive(Debug)]
pub(crate) enum PickError {
    /// Valid JSON, but not an object.
    NotObject,
    /// Not valid JSON (syntax, encoding, trailing characters, nesting deeper than 128).
    Json(serde_json::Error),
}

/// Reads `json`, which must be one JSON object, and stores in `out[i]` the value of the last
/// member named `names[i]` (left `None` when there is no such member). `names` should not
/// repeat a name: only the first of two equal names is filled.
///
/// # Errors
/// [`PickError`] when `json` is not a valid JSON object; `out` may then be partly filled.
pub(crate) fn pick(
    json: &[u8],
    names: &[&str],
    out: &mut [Option<Value>],
) -> Result<(), PickError> {
    debug_assert_eq!(names.len(), out.len(), "one slot per name");
    let mut de = serde_json::Deserializer::from_slice(json);
    let is_object = de
        .deserialize_any(ObjectVisitor { names, out })
        .map_err(PickError::Json)?;
    de.end().map_err(PickError::Json)?;
    if is_object {
        Ok(())
    } else {
        Err(PickError::NotObject)
    }
}

/// Visits the top-level value: an object is read member by member; anything else is walked
/// (so that invalid JSON is still an error) and reported as not an object.
struct ObjectVisitor<'n, 'o> {
    names: &'n [&'n str],
    out: &'o mut [Option<Value>],
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(slot) = map.next_key_seed(KeySeed(self.names))? {
            match slot.and_then(|i| self.out.get_mut(i)) {
                Some(place) => *place = Some(map.next_value()?),
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        SkipVisitor.visit_seq(seq).map(|Skip| false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Reads a member name and returns the index of the wanted name it equals, without allocating
/// (escaped names are compared after unescaping, as `serde_json::Map` would store them).
struct KeySeed<'n>(&'n [&'n str]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == name))
    }
}

/// Any JSON value, validated as `Value` would be and then dropped.
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        // `Skip` as the key still parses (and validates) the member name as a string.
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    /// Picks `names` from `json`, panicking on a refusal.
    fn picked(json: &str, names: &[&str]) -> Vec<Option<Value>> {
        let mut out = vec![None; names.len()];
        match pick(json.as_bytes(), names, &mut out) {
            Ok(()) => out,
            Err(e) => panic!("`{json}` was refused: {e:?}"),
        }
    }

    /// Whether `pick` and `serde_json`'s own `Value` parser agree on accepting `json` as an
    /// object, and on the values when both accept.
    fn agrees_with_value(json: &[u8]) -> bool {
        let names = ["a", "b"];
        let mut out = [None, None];
        let ours = pick(json, &names, &mut out);
        match (ours, serde_json::from_slice::<Value>(json)) {
            (Ok(()), Ok(Value::Object(map))) => names
                .iter()
                .zip(&out)
                .all(|(n, v)| map.get(*n) == v.as_ref()),
            (Err(PickError::NotObject), Ok(v)) => !v.is_object(),
            (Err(PickError::Json(_)), Err(_)) => true,
            _ => false,
        }
    }

    #[test]
    fn only_wanted_members_are_kept() {
        let out = picked(
            r#"{"UserId":"alice","groups":["a",{"x":1}],"exp":1800000000,"nested":{"UserId":"no"}}"#,
            &["UserId", "exp", "nbf"],
        );
        assert_eq!(
            out,
            [Some(json!("alice")), Some(json!(1_800_000_000)), None]
        );
    }

    #[test]
    fn duplicate_members_keep_the_last_value_like_a_map() {
        let text = r#"{"UserId":"alice","UserId":"bob","exp":1,"exp":"later"}"#;
        let out = picked(text, &["UserId", "exp"]);
        assert_eq!(out, [Some(json!("bob")), Some(json!("later"))]);
        let map: Map<String, Value> = serde_json::from_str(text).expect("a JSON object");
        assert_eq!(out[0].as_ref(), map.get("UserId"));
        assert_eq!(out[1].as_ref(), map.get("exp"));
    }

    #[test]
    fn escaped_names_and_values_are_unescaped_before_matching() {
        let out = picked(
            r#"{"\u0055serId":"al\"ice\\","User\nDir":"Q\u00e9","UserDir":"plain"}"#,
            &["UserId", "User\nDir", "UserDir"],
        );
        assert_eq!(
            out,
            [
                Some(json!("al\"ice\\")),
                Some(json!("Q\u{e9}")),
                Some(json!("plain"))
            ]
        );
    }

    #[test]
    fn non_string_values_are_kept_as_they_are() {
        let out = picked(
            r#"{"UserId":42,"UserDirectory":null,"aud":["x",1,true],"exp":1.5}"#,
            &["UserId", "UserDirectory", "aud", "exp"],
        );
        assert_eq!(
            out,
            [
                Some(json!(42)),
                Some(Value::Null),
                Some(json!(["x", 1, true])),
                Some(json!(1.5))
            ]
        );
    }

    #[test]
    fn other_json_values_are_not_objects() {
        for text in ["[1,{\"a\":2}]", "\"a\"", "1", "-1", "1.5", "true", "null"] {
            let mut out = [None];
            assert!(
                matches!(
                    pick(text.as_bytes(), &["a"], &mut out),
                    Err(PickError::NotObject)
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_json_anywhere_is_refused_even_in_skipped_values() {
        for text in [
            "",
            "{",
            r#"{"a":1}x"#,
            r#"{"a":1,}"#,
            r#"{"skipped":[1,2}"#,
            r#"{"skipped":"\x"}"#,
            r#"{"skipped":"\ud800"}"#,
            r#"{"skipped":1e999}"#,
            r#"{1:2}"#,
        ] {
            let mut out = [None];
            assert!(
                matches!(
                    pick(text.as_bytes(), &["a"], &mut out),
                    Err(PickError::Json(_))
                ),
                "{text}"
            );
            assert!(agrees_with_value(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn invalid_utf8_in_a_skipped_string_is_refused() {
        let bytes = b"{\"skipped\":\"\xff\xfe\",\"a\":1}";
        let mut out = [None];
        assert!(matches!(
            pick(bytes, &["a"], &mut out),
            Err(PickError::Json(_))
        ));
        assert!(agrees_with_value(bytes));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let mut out = [None];
        assert!(matches!(
            pick(deep.as_bytes(), &["a"], &mut out),
            Err(PickError::Json(_))
        ));
        let skipped = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            pick(skipped.as_bytes(), &["a"], &mut out),
            Err(PickError::Json(_))
        ));
    }

    #[test]
    fn large_objects_are_read_in_full() {
        let mut map = Map::new();
        for i in 0..20_000 {
            map.insert(format!("k{i}"), json!({"v": [i, "x".repeat(20)]}));
        }
        map.insert("a".to_owned(), json!("found"));
        let text = serde_json::to_vec(&map).expect("serializes");
        let mut out = [None];
        assert!(pick(&text, &["a"], &mut out).is_ok());
        assert_eq!(out, [Some(json!("found"))]);
    }

    #[test]
    fn agrees_with_value_on_assorted_inputs() {
        for text in [
            r#"{}"#,
            r#" { "a" : [ ] , "b" : { } } "#,
            r#"{"a":"x","a":"y","b":-0.0}"#,
            r#"{"a":18446744073709551615,"b":-9223372036854775808}"#,
            r#"{"a":"\ud83d\ude00","b":"\u0000"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":1}{"b":2}"#,
        ] {
            assert!(agrees_with_value(text.as_bytes()), "{text}");
        }
    }
}
