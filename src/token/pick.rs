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
//!
//! Most tokens are read by a hand-written scanner first ([`pick_simple`]), which accepts only a
//! subset of JSON that it can check completely by itself: strings without escapes, integers of
//! at most 18 digits (not `-0`), `true`, `false`, `null`, and arrays and objects of those up to
//! 64 levels deep. On anything else, including every error, it gives up and the serde walk
//! reads the input from the start, so refusals and their messages are serde_json's own.

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
    if pick_simple(json, names, out) {
        return Ok(());
    }
    out.fill(None);
    pick_serde(json, names, out)
}

/// [`pick`] by serde_json alone: the reference the fast path must agree with, and its fallback.
pub(crate) fn pick_serde(
    json: &[u8],
    names: &[&str],
    out: &mut [Option<Value>],
) -> Result<(), PickError> {
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

/// Nesting the fast path reads; deeper input goes to serde_json (whose limit is 128).
const SIMPLE_MAX_DEPTH: usize = 64;

/// Longest integer the fast path reads: 18 digits always fit an `i64`.
const SIMPLE_MAX_DIGITS: usize = 18;

/// The fast path of [`pick`]: true when `json` is an object within the subset described in the
/// module documentation, with `out` filled exactly as serde_json would fill it. False when the
/// input is outside that subset (or not valid JSON); `out` may then be partly filled.
fn pick_simple(json: &[u8], names: &[&str], out: &mut [Option<Value>]) -> bool {
    // Valid JSON is valid UTF-8 throughout (serde_json checks every string, and everything
    // else is ASCII), so one check up front stands for serde_json's check of each string.
    let Ok(text) = std::str::from_utf8(json) else {
        return false;
    };
    let mut s = Scanner {
        bytes: json,
        pos: 0,
    };
    s.whitespace();
    if !s.eat(b'{') {
        return false;
    }
    s.whitespace();
    if !s.eat(b'}') {
        loop {
            let Some(name) = s.string() else {
                return false;
            };
            s.whitespace();
            if !s.eat(b':') {
                return false;
            }
            s.whitespace();
            let start = s.pos;
            let Some(kind) = s.value(1) else {
                return false;
            };
            if let Some(place) = names
                .iter()
                .position(|n| n.as_bytes() == name)
                .and_then(|i| out.get_mut(i))
            {
                let Some(value) = text.get(start..s.pos).and_then(|v| materialize(kind, v)) else {
                    return false;
                };
                *place = Some(value);
            }
            s.whitespace();
            match s.next() {
                Some(b',') => s.whitespace(),
                Some(b'}') => break,
                _ => return false,
            }
        }
    }
    s.whitespace();
    s.pos == json.len()
}

/// What kind of value the fast path read.
#[derive(Clone, Copy)]
enum Simple {
    Str,
    Int,
    True,
    False,
    Null,
    /// An array or an object.
    Nested,
}

/// The `Value` serde_json would build from `text`, one value of kind `kind` read by
/// [`Scanner::value`]; `None` only if that somehow fails (the caller then falls back).
fn materialize(kind: Simple, text: &str) -> Option<Value> {
    Some(match kind {
        // Without escapes the string is its text between the quotes.
        Simple::Str => Value::String(text.get(1..text.len() - 1)?.to_owned()),
        Simple::Int => match text.as_bytes().split_first() {
            // serde_json: a non-negative integer is a u64, a negative one an i64 (`-0`, a
            // float there, is outside the subset).
            Some((b'-', digits)) => Value::from(-i64::try_from(int(digits)).ok()?),
            _ => Value::from(int(text.as_bytes())),
        },
        Simple::True => Value::Bool(true),
        Simple::False => Value::Bool(false),
        Simple::Null => Value::Null,
        Simple::Nested => serde_json::from_str(text).ok()?,
    })
}

/// The value of at most [`SIMPLE_MAX_DIGITS`] ASCII digits.
fn int(digits: &[u8]) -> u64 {
    digits
        .iter()
        .fold(0, |n, d| n * 10 + u64::from(d.wrapping_sub(b'0')))
}

/// The index of the first of the eight bytes of `word` (little-endian) that is `"`, `\\` or a
/// control character (below 0x20), if any.
const fn first_string_stop(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below n (n <= 0x80) sets its high bit in `(w - n) & !w`. Bytes above the first such
    // byte may be flagged wrongly (by the borrow), bytes below it never are: the lowest flag is
    // exact.
    const fn below(w: u64, n: u8) -> u64 {
        w.wrapping_sub(ONES * n as u64) & !w
    }
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    let flags = (below(word, 0x20) | below(quote, 1) | below(backslash, 1)) & HIGH;
    if flags == 0 {
        None
    } else {
        Some(flags.trailing_zeros() as usize / 8)
    }
}

/// A cursor over the fast path's input; every method returns `None` (or false) as soon as the
/// input leaves the subset.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// Skips JSON whitespace (serde_json's four: space, tab, LF, CR).
    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A string without escapes or control characters; returns its bytes between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let mut end = start;
        // Eight bytes at a time: the first byte that may stop the string is found exactly.
        while let Some(word) = self.bytes.get(end..end + 8).and_then(|w| w.try_into().ok()) {
            match first_string_stop(u64::from_le_bytes(word)) {
                Some(at) => {
                    end += at;
                    break;
                }
                None => end += 8,
            }
        }
        loop {
            match *self.bytes.get(end)? {
                b'"' => break,
                b'\\' | 0..0x20 => return None,
                _ => end += 1,
            }
        }
        self.pos = end + 1;
        self.bytes.get(start..end)
    }

    /// One value of the subset, `depth` levels deep (the top-level object is level 0).
    fn value(&mut self, depth: usize) -> Option<Simple> {
        match self.peek()? {
            b'"' => self.string().map(|_| Simple::Str),
            b'-' | b'0'..=b'9' => self.integer().then_some(Simple::Int),
            b't' => self.literal(b"true").then_some(Simple::True),
            b'f' => self.literal(b"false").then_some(Simple::False),
            b'n' => self.literal(b"null").then_some(Simple::Null),
            b'[' if depth < SIMPLE_MAX_DEPTH => self.array(depth).then_some(Simple::Nested),
            b'{' if depth < SIMPLE_MAX_DEPTH => self.object(depth).then_some(Simple::Nested),
            _ => None,
        }
    }

    /// `-?(0|[1-9][0-9]*)` with at most [`SIMPLE_MAX_DIGITS`] digits, not `-0`, and not followed
    /// by a fraction, an exponent or another digit.
    fn integer(&mut self) -> bool {
        let negative = self.eat(b'-');
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.bytes[start..self.pos];
        let well_formed = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= SIMPLE_MAX_DIGITS,
        };
        well_formed && !matches!(self.peek(), Some(b'.' | b'e' | b'E'))
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.bytes[self.pos..].starts_with(word);
        if hit {
            self.pos += word.len();
        }
        hit
    }

    fn array(&mut self, depth: usize) -> bool {
        self.pos += 1;
        self.whitespace();
        if self.eat(b']') {
            return true;
        }
        loop {
            if self.value(depth + 1).is_none() {
                return false;
            }
            self.whitespace();
            match self.next() {
                Some(b',') => self.whitespace(),
                Some(b']') => return true,
                _ => return false,
            }
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        self.pos += 1;
        self.whitespace();
        if self.eat(b'}') {
            return true;
        }
        loop {
            if self.string().is_none() {
                return false;
            }
            self.whitespace();
            if !self.eat(b':') {
                return false;
            }
            self.whitespace();
            if self.value(depth + 1).is_none() {
                return false;
            }
            self.whitespace();
            match self.next() {
                Some(b',') => self.whitespace(),
                Some(b'}') => return true,
                _ => return false,
            }
        }
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

    /// A refusal as text: serde_json's message, or that the JSON is not an object.
    fn outcome(result: Result<(), PickError>) -> Result<(), String> {
        result.map_err(|e| match e {
            PickError::NotObject => "not an object".to_owned(),
            PickError::Json(e) => e.to_string(),
        })
    }

    const NAMES: [&str; 6] = ["a", "b", "exp", "UserId", "\u{e9}", "x y"];

    /// Checks that the fast path, when it takes `json`, agrees with the serde walk and with
    /// `Value` exactly, and that `pick` (either path) gives the serde walk's result, refusal
    /// message included. Returns whether the fast path took the input.
    fn fast_path_agrees(json: &[u8]) -> bool {
        let text = String::from_utf8_lossy(json);
        let mut reference = vec![None; NAMES.len()];
        let expected = outcome(pick_serde(json, &NAMES, &mut reference));
        let mut fast = vec![None; NAMES.len()];
        let taken = pick_simple(json, &NAMES, &mut fast);
        if taken {
            assert_eq!(
                expected,
                Ok(()),
                "the fast path took what serde refuses: {text}"
            );
            assert_eq!(fast, reference, "{text}");
            let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(json) else {
                panic!("the fast path took what `Value` refuses: {text}");
            };
            for (name, value) in NAMES.iter().zip(&fast) {
                assert_eq!(map.get(*name), value.as_ref(), "`{name}` in {text}");
            }
        }
        let mut out = vec![None; NAMES.len()];
        assert_eq!(outcome(pick(json, &NAMES, &mut out)), expected, "{text}");
        if expected.is_ok() {
            assert_eq!(out, reference, "{text}");
        }
        taken
    }

    #[test]
    fn word_check_finds_the_first_byte_that_stops_a_string() {
        let stops = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        let reference = |word: [u8; 8]| word.iter().position(|b| stops(*b));
        for filler in [
            b'a', b' ', b'~', 0x7f, 0x80, 0xc3, 0xff, b'"', 0x00, 0x1f, 0x20,
        ] {
            for b in 0..=u8::MAX {
                for at in 0..8 {
                    for second in [None, Some(0), Some(b'"'), Some(0xff), Some(0x21)] {
                        let mut word = [filler; 8];
                        word[at] = b;
                        if let Some(c) = second {
                            word[(at + 3) % 8] = c;
                        }
                        assert_eq!(
                            first_string_stop(u64::from_le_bytes(word)),
                            reference(word),
                            "{word:?}"
                        );
                    }
                }
            }
        }
        let mut generator = Gen(0x1234_5678_9abc_def1);
        for i in 0..200_000 {
            // Random words, half of them ASCII only (where quotes and controls are likelier).
            let mask = if i % 2 == 0 {
                u64::MAX
            } else {
                0x7f7f_7f7f_7f7f_7f7f
            };
            let word = generator.next() & mask;
            let bytes = word.to_le_bytes();
            assert_eq!(first_string_stop(word), reference(bytes), "{bytes:?}");
        }
    }

    #[test]
    fn fast_path_reads_long_strings_word_by_word() {
        for len in 0..40 {
            for (i, stop) in ["\"", "\\n", "\u{1}", "\u{1f}", "\u{e9}", "\u{7f}"]
                .iter()
                .enumerate()
            {
                let body: String = (0..len)
                    .map(|j| char::from(b'a' + (j % 26) as u8))
                    .collect();
                let mut inner = body.clone();
                inner.insert_str(len / (i + 1), stop);
                for text in [
                    format!("{{\"a\":\"{body}\",\"{body}\":1}}"),
                    format!("{{\"a\":\"{inner}\"}}"),
                    format!("{{\"{inner}\":\"{body}\"}}"),
                ] {
                    fast_path_agrees(text.as_bytes());
                }
            }
        }
    }

    #[test]
    fn fast_path_takes_typical_token_json() {
        for text in [
            r#"{"alg":"RS256","typ":"JWT","kid":"k-1"}"#,
            r#"{"UserId":"alice","UserDirectory":"QLIK","name":"Alice Example","email":"alice@example.com","groups":["analysts","sales"],"iat":1799999990,"exp":1800003600}"#,
            " {\n\t\"a\" : [ 1 , -2 , { \"b\" : null } , true , false ] ,\r\"b\":{}} ",
            "{\"a\":\"\u{e9}t\u{e9} \u{1f600}\",\"\u{e9}\":0,\"b\":-123456789012345678}",
            r#"{"a":1,"a":"two","exp":[],"x y":{"k":[[[]]]}}"#,
            "{}",
        ] {
            assert!(fast_path_agrees(text.as_bytes()), "not taken: {text}");
        }
        let mut out = [None, None];
        assert!(pick_simple(
            br#"{"exp":1800003600,"UserId":"alice","x":[1,{"UserId":"no"}]}"#,
            &["UserId", "exp"],
            &mut out
        ));
        assert_eq!(out, [Some(json!("alice")), Some(json!(1_800_003_600))]);
    }

    #[test]
    fn fast_path_leaves_the_rest_to_serde_and_both_agree() {
        let deep_ok = format!("{{\"a\":{}{}}}", "[".repeat(63), "]".repeat(63));
        let deep_serde = format!("{{\"a\":{}{}}}", "[".repeat(64), "]".repeat(64));
        let too_deep = format!("{{\"a\":{}{}}}", "[".repeat(128), "]".repeat(128));
        assert!(fast_path_agrees(deep_ok.as_bytes()));
        for text in [
            // Escapes, in names and values, valid and not.
            r#"{"a":"x\"y"}"#,
            r#"{"\u0061":1}"#,
            r#"{"a":"\n"}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            // Numbers outside the subset, valid and not.
            r#"{"a":-0}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e5}"#,
            r#"{"a":1E-5}"#,
            r#"{"a":1e400}"#,
            r#"{"a":-1e400}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"a":18446744073709551615}"#,
            r#"{"a":18446744073709551616}"#,
            r#"{"a":-9223372036854775809}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":+1}"#,
            r#"{"a":0x10}"#,
            // Structure errors.
            "",
            " ",
            "{",
            "}",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{,"a":1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}{"b":2}"#,
            r#"{a:1}"#,
            r#"{'a':1}"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a":nul}"#,
            r#"{"a":True}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b"}}"#,
            r#"{"a":{"b":1,}}"#,
            "{\"a\":1}\u{0}",
            "{\"a\":1}\u{c}",
            "\u{feff}{\"a\":1}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":\"nl\nhere\"}",
            "{\"a\":\"\u{7f}\"}",
            "{\"a\u{0}\":1}",
            // Not objects.
            "[]",
            "[1,2]",
            "1",
            "\"a\"",
            "null",
            " true ",
            &deep_serde,
            &too_deep,
        ] {
            fast_path_agrees(text.as_bytes());
        }
        for bytes in [
            &b"{\"a\":\"\xff\"}"[..],
            b"{\"a\":\"\xc3\"}",
            b"{\"a\":\"\xc3\xa9\xa9\"}",
            b"{\"\xed\xa0\x80\":1}",
            b"{\"a\":\"\xf4\x90\x80\x80\"}",
            b"{\"a\":\"\xc0\xaf\"}",
            b"{\"a\":1}\xff",
        ] {
            assert!(!fast_path_agrees(bytes), "{bytes:?}");
        }
    }

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }

        fn whitespace(&mut self, out: &mut String) {
            if self.below(4) == 0 {
                out.push_str(self.pick(&[" ", "\n", "\t", "\r", "  \n  ", "\u{b}", "\u{a0}"]));
            }
        }

        fn string(&mut self, out: &mut String) {
            const PIECES: [&str; 22] = [
                "a",
                "b",
                "exp",
                "UserId",
                "x y",
                "\u{e9}",
                "\u{1f600}",
                "\u{7f}",
                "\\\"",
                "\\\\",
                "\\n",
                "\\u0061",
                "\\u00e9",
                "\\ud83d\\ude00",
                "\\ud800",
                "\\q",
                "\\u12",
                "\t",
                "\u{0}",
                "/",
                "'",
                "\\/",
            ];
            out.push('"');
            for _ in 0..self.below(3) {
                let piece = if self.below(3) == 0 {
                    self.pick(&PIECES)
                } else {
                    self.pick(&PIECES[..7])
                };
                out.push_str(piece);
            }
            out.push('"');
        }

        fn number(&mut self, out: &mut String) {
            const NUMBERS: [&str; 24] = [
                "0",
                "1",
                "-1",
                "42",
                "1800000000",
                "-0",
                "01",
                "1.5",
                "-0.0",
                "1e5",
                "1E+5",
                "2e-3",
                "1e400",
                "-1e400",
                "123456789012345678",
                "-123456789012345678",
                "1234567890123456789",
                "18446744073709551615",
                "18446744073709551616",
                "-9223372036854775808",
                "-9223372036854775809",
                "1.",
                "-",
                ".5",
            ];
            out.push_str(self.pick(&NUMBERS));
        }

        fn value(&mut self, out: &mut String, depth: usize) {
            match self.below(if depth > 4 { 6 } else { 8 }) {
                0 | 1 => self.string(out),
                2 | 3 => self.number(out),
                4 => out.push_str(self.pick(&["true", "false", "null"])),
                5 => out.push_str(self.pick(&["[]", "{}", "[[]]"])),
                6 => {
                    out.push('[');
                    for i in 0..self.below(4) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.whitespace(out);
                        self.value(out, depth + 1);
                        self.whitespace(out);
                    }
                    out.push(']');
                }
                _ => self.object(out, depth + 1),
            }
        }

        fn object(&mut self, out: &mut String, depth: usize) {
            out.push('{');
            for i in 0..self.below(6) {
                if i > 0 {
                    out.push(',');
                }
                self.whitespace(out);
                self.string(out);
                self.whitespace(out);
                out.push(':');
                self.whitespace(out);
                self.value(out, depth);
                self.whitespace(out);
            }
            out.push('}');
        }

        /// A random JSON object, often valid, sometimes broken by a mutation.
        fn document(&mut self) -> Vec<u8> {
            let mut text = String::new();
            self.whitespace(&mut text);
            if self.below(10) == 0 {
                self.value(&mut text, 0);
            } else {
                self.object(&mut text, 0);
            }
            self.whitespace(&mut text);
            let mut bytes = text.into_bytes();
            for _ in 0..self.below(3).saturating_sub(1) {
                const NOISE: [u8; 16] = [
                    b'{', b'}', b'[', b']', b'"', b',', b':', b'\\', b'0', b'-', b'e', b' ', b'x',
                    0x00, 0xc3, 0xff,
                ];
                let at = self.below(bytes.len() + 1);
                match self.below(4) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = NOISE[self.below(NOISE.len())],
                    2 => bytes.truncate(at),
                    _ => bytes.insert(at, NOISE[self.below(NOISE.len())]),
                }
            }
            bytes
        }
    }

    #[test]
    fn fast_path_agrees_with_serde_on_generated_inputs() {
        let mut generator = Gen(0x9e37_79b9_7f4a_7c15);
        let (mut taken, mut total) = (0, 0);
        for _ in 0..100_000 {
            let doc = generator.document();
            total += 1;
            taken += usize::from(fast_path_agrees(&doc));
        }
        // Both paths must be exercised for the agreement to mean something.
        assert!(taken > total / 10, "fast path took {taken} of {total}");
        assert!(taken < total * 9 / 10, "fast path took {taken} of {total}");
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
