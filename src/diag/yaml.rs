//! YAML to JSON with spans: the first stage of reading a scenario, a suite or a mock config.
//!
//! [`parse`] loads a YAML text with `saphyr` marked nodes and returns its first document as a
//! `serde_json::Value` together with a [`SpanMap`]: for each JSON pointer (`/steps/0/expect`),
//! the [`Span`] of its value and, for mapping entries, the span of its key. Later stages (schema
//! validation, deserialization, semantic checks) look spans up by pointer to point at
//! `file:line:col`.
//!
//! What the reader accepts is what `saphyr` accepts: anchors and aliases are resolved (an alias
//! takes the span of the alias), a duplicate key is a syntax error, custom tags are dropped
//! (the tagged value is read as if untagged), and merge keys (`<<`) are not expanded (they stay
//! an ordinary key named `<<`). Only the first document of a multi-document stream is read.
//! Lines are 1-based, columns 1-based and counted in characters, offsets in bytes.
//!
//! Before building nodes, a pass over the parser's events enforces the [limits](MAX_DEPTH)
//! that keep reading bounded in stack and memory: nesting depth ([`MAX_DEPTH`]) and the size
//! of the document once every alias is expanded, counted in bytes of scalar text plus a few
//! bytes per node ([`MAX_EXPANDED_BYTES`]), so that neither a deeply nested file nor a
//! "billion laughs" of aliases to a large string can exhaust the stack or the memory. Each
//! is a [`YamlErrorKind::Limit`] error at the node that crossed the limit.

use std::collections::HashMap;

use saphyr::{LoadableYamlNode as _, MarkedYaml, Marker, Scalar, YamlData};
use saphyr_parser::{Event, Parser};
use serde_json::{Map, Number, Value};

use super::Span;

/// Spans of a document's nodes, by JSON pointer (RFC 6901, `""` for the root).
#[derive(Debug, Clone, Default)]
pub struct SpanMap {
    values: HashMap<String, Span>,
    keys: HashMap<String, Span>,
}

impl SpanMap {
    /// The span of the value at `pointer`.
    pub fn value(&self, pointer: &str) -> Option<Span> {
        self.values.get(pointer).copied()
    }

    /// The span of the key of the mapping entry at `pointer`; without one (an array item, the
    /// root, a pointer not in the document), the span of [`nearest`](Self::nearest).
    pub fn key(&self, pointer: &str) -> Option<Span> {
        self.keys
            .get(pointer)
            .copied()
            .or_else(|| self.nearest(pointer))
    }

    /// The span of the value at `pointer` or, failing that, of its nearest ancestor.
    pub fn nearest(&self, pointer: &str) -> Option<Span> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.value(p) {
                return Some(s);
            }
            let cut = p.rfind('/')?;
            p = &p[..cut];
        }
    }
}

/// Appends one reference token to a JSON pointer, escaping `~` and `/` (RFC 6901).
pub fn push_pointer(base: &str, token: &str) -> String {
    format!("{base}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// What kind of problem a [`YamlError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// The text is not valid YAML (reported by `saphyr`; it stops the parse).
    Syntax,
    /// The text holds no YAML document at all.
    Empty,
    /// Valid YAML that has no JSON form: a key that is not a plain value, a value of a core
    /// tag that does not parse (`!!int abc`), an unresolved alias.
    Unsupported,
    /// The document goes past a limit: nesting deeper than [`MAX_DEPTH`] or more than
    /// [`MAX_EXPANDED_BYTES`] once aliases are expanded.
    Limit,
}

/// The deepest nesting of sequences and mappings read; scenarios need fewer than ten levels.
pub const MAX_DEPTH: usize = 64;

/// The most bytes a document may expand to once every alias is replaced by what it names
/// (16 MiB): scalar text plus `NODE_OVERHEAD` bytes per node.
pub const MAX_EXPANDED_BYTES: u64 = 16 * 1024 * 1024;

/// What each node counts for, besides its text, toward [`MAX_EXPANDED_BYTES`].
const NODE_OVERHEAD: u64 = 16;

/// A YAML error: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// What kind of problem this is.
    pub kind: YamlErrorKind,
    /// What is wrong, in lower case (`invalid YAML: …` for a syntax error).
    pub message: String,
    /// A suggested fix.
    pub hint: Option<String>,
    /// Where.
    pub span: Span,
}

/// Converts character markers (what saphyr reports) to byte offsets.
struct Offsets {
    /// Byte offset of each character, plus the end of the text.
    bytes: Vec<usize>,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        Self { bytes }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.bytes
            .get(char_index)
            .copied()
            .unwrap_or_else(|| self.bytes.last().copied().unwrap_or(0))
    }

    fn span(&self, start: &Marker, end: &Marker) -> Span {
        let s = self.byte(start.index());
        let e = self.byte(end.index()).max(s);
        Span {
            start: s,
            end: e,
            line: start.line().max(1),
            col: start.col() + 1,
        }
    }
}

/// Parses the first YAML document of `text` into JSON and spans. Returns every problem found
/// (a syntax error stops the parse, so that one comes alone).
pub fn parse(text: &str) -> Result<(Value, SpanMap), Vec<YamlError>> {
    let offsets = Offsets::new(text);
    if let Some(e) = check_limits(text, &offsets) {
        return Err(vec![e]);
    }
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        let start = offsets.byte(m.index());
        let len = text
            .get(start..)
            .and_then(|rest| rest.chars().next())
            .map_or(0, char::len_utf8);
        let span = Span {
            start,
            end: start + len,
            line: m.line().max(1),
            col: m.col() + 1,
        };
        let info = e.info();
        let hint = info
            .contains("tab")
            .then(|| "indent with spaces; YAML does not allow tabs for indentation".to_owned());
        vec![YamlError {
            kind: YamlErrorKind::Syntax,
            message: format!("invalid YAML: {info}"),
            hint,
            span,
        }]
    })?;
    let Some(doc) = docs.into_iter().next() else {
        return Err(vec![YamlError {
            kind: YamlErrorKind::Empty,
            message: "the file is empty".into(),
            hint: None,
            span: Span::START,
        }]);
    };
    let mut converter = Converter {
        offsets,
        spans: SpanMap::default(),
        errors: Vec::new(),
    };
    let value = converter.convert(&doc, String::new());
    if converter.errors.is_empty() {
        Ok((value, converter.spans))
    } else {
        Err(converter.errors)
    }
}

/// One open collection in [`check_limits`]: its anchor and the bytes counted in it so far.
struct Open {
    anchor: usize,
    bytes: u64,
}

/// Walks the first document's events without building it; returns the first limit crossed.
/// A syntax error ends the walk quietly: the loader reports it with its position.
fn check_limits(text: &str, offsets: &Offsets) -> Option<YamlError> {
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    let mut open: Vec<Open> = Vec::new();
    let mut total: u64 = 0;
    let mut seen_document = false;
    let limit = |message: String, start: &Marker, end: &Marker, hint: &str| {
        Some(YamlError {
            kind: YamlErrorKind::Limit,
            message,
            hint: Some(hint.to_owned()),
            span: offsets.span(start, end),
        })
    };
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return None;
        };
        // A finished node's size: added to its parent and, when anchored, remembered.
        let node = match event {
            Event::DocumentStart(_) if seen_document => return None,
            Event::DocumentStart(_) => {
                seen_document = true;
                continue;
            }
            Event::DocumentEnd | Event::StreamEnd => return None,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return limit(
                        format!("the document nests deeper than {MAX_DEPTH} levels"),
                        &span.start,
                        &span.end,
                        "a scenario needs only a few levels; look for runaway indentation",
                    );
                }
                open.push(Open {
                    anchor,
                    bytes: NODE_OVERHEAD,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some(o) => (o.anchor, o.bytes),
                None => return None,
            },
            Event::Scalar(value, _, anchor, _) => (anchor, value.len() as u64 + NODE_OVERHEAD),
            Event::Alias(id) => (0, anchors.get(&id).copied().unwrap_or(NODE_OVERHEAD)),
            Event::StreamStart | Event::Nothing => continue,
        };
        let (anchor, bytes) = node;
        if anchor != 0 {
            anchors.insert(anchor, bytes);
        }
        // Every node's bytes reach the total once its outermost collection closes; adding
        // them as they come catches an oversized alias at the alias.
        total = total.saturating_add(bytes);
        if let Some(parent) = open.last_mut() {
            parent.bytes = parent.bytes.saturating_add(bytes);
            total = total.saturating_sub(bytes);
        }
        let pending: u64 = open.iter().map(|o| o.bytes).sum::<u64>();
        if total.saturating_add(pending) > MAX_EXPANDED_BYTES {
            return limit(
                format!(
                    "the document expands to more than {} MiB once aliases are replaced",
                    MAX_EXPANDED_BYTES / (1024 * 1024)
                ),
                &span.start,
                &span.end,
                "an alias (`*name`) copies what its anchor names; use fewer or smaller ones",
            );
        }
    }
    None
}

struct Converter {
    offsets: Offsets,
    spans: SpanMap,
    errors: Vec<YamlError>,
}

impl Converter {
    fn unsupported(&mut self, message: &str, span: Span) {
        self.errors.push(YamlError {
            kind: YamlErrorKind::Unsupported,
            message: message.to_owned(),
            hint: None,
            span,
        });
    }

    fn convert(&mut self, node: &MarkedYaml<'_>, pointer: String) -> Value {
        let span = self.offsets.span(&node.span.start, &node.span.end);
        let value = match &node.data {
            YamlData::Value(s) => scalar(s),
            YamlData::Representation(text, _, _) => Value::String(text.to_string()),
            YamlData::Sequence(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.convert(item, format!("{pointer}/{i}")))
                    .collect(),
            ),
            YamlData::Mapping(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    let key_span = self.offsets.span(&k.span.start, &k.span.end);
                    let key = match &k.data {
                        YamlData::Value(s) => match scalar(s) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        },
                        YamlData::Representation(text, _, _) => text.to_string(),
                        _ => {
                            self.unsupported("a mapping key must be a plain value", key_span);
                            continue;
                        }
                    };
                    let child = push_pointer(&pointer, &key);
                    self.spans.keys.insert(child.clone(), key_span);
                    let v = self.convert(v, child);
                    map.insert(key, v);
                }
                Value::Object(map)
            }
            YamlData::Tagged(_, inner) => return self.convert(inner, pointer),
            YamlData::Alias(_) | YamlData::BadValue => {
                self.unsupported(
                    "this value cannot be read (an unresolved alias or a bad tag)",
                    span,
                );
                Value::Null
            }
        };
        self.spans.values.insert(pointer, span);
        value
    }
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => {
            Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number)
        }
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn mapping_becomes_json_with_value_and_key_spans() {
        let text = "name: x\nsteps:\n  - expect:\n      status: 2OO\n";
        let (value, spans) = parse(text).unwrap();
        assert_eq!(
            value,
            json!({"name": "x", "steps": [{"expect": {"status": "2OO"}}]})
        );
        let status = spans.value("/steps/0/expect/status").unwrap();
        assert_eq!((status.line, status.col), (4, 15));
        assert_eq!(&text[status.start..status.end], "2OO");
        let key = spans.key("/steps/0/expect/status").unwrap();
        assert_eq!(&text[key.start..key.end], "status");
    }

    #[test]
    fn nested_values_keep_line_and_column() {
        let (value, spans) = parse("a: 1\nb:\n  c: [x, \"y\"]\n  d: true\n").expect("valid yaml");
        assert_eq!(value["b"]["c"][1], "y");
        let pos = spans.nearest("/b/c/1").unwrap();
        assert_eq!((pos.line, pos.col), (3, 10));
        let key = spans.key("/b/d").unwrap();
        assert_eq!((key.line, key.col), (4, 3));
        assert_eq!(value["b"]["d"], true);
    }

    #[test]
    fn spans_are_byte_offsets_after_multibyte_text() {
        let text = "name: héllo wörld\nx: 1\n";
        let (_, spans) = parse(text).unwrap();
        let x = spans.value("/x").unwrap();
        assert_eq!(&text[x.start..x.end], "1");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let (_, spans) = parse("é: [ü, 2]\n").unwrap();
        let second = spans.value("/é/1").unwrap();
        assert_eq!((second.line, second.col), (1, 8));
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let (_, spans) = parse("headers:\n  a/b~c: v\n").unwrap();
        assert!(spans.value("/headers/a~1b~0c").is_some());
        assert_eq!(push_pointer("/headers", "a/b~c"), "/headers/a~1b~0c");
    }

    #[test]
    fn missing_pointer_falls_back_to_the_parent() {
        let (_, spans) = parse("outer:\n  inner: 1\n").expect("valid yaml");
        assert_eq!(spans.value("/outer/absent"), None);
        assert_eq!(
            spans.nearest("/outer/absent").unwrap().line,
            spans.nearest("/outer").unwrap().line
        );
        assert_eq!(spans.key("/outer/absent"), spans.value("/outer"));
    }

    #[test]
    fn scalar_keys_become_their_json_text() {
        let (value, spans) = parse("1: a\ntrue: b\n~: c\n").unwrap();
        assert_eq!(value, json!({"1": "a", "true": "b", "null": "c"}));
        assert_eq!(spans.key("/true").unwrap().line, 2);
    }

    #[test]
    fn aliases_are_resolved_and_custom_tags_dropped() {
        let (value, spans) = parse("a: &x {k: 1}\nb: *x\nc: !custom [1]\n").unwrap();
        assert_eq!(value, json!({"a": {"k": 1}, "b": {"k": 1}, "c": [1]}));
        assert_eq!(spans.value("/b").unwrap().line, 2);
    }

    #[test]
    fn merge_keys_stay_ordinary_keys() {
        let (value, _) = parse("a: &x {k: 1}\nb:\n  <<: *x\n").unwrap();
        assert_eq!(value, json!({"a": {"k": 1}, "b": {"<<": {"k": 1}}}));
    }

    #[test]
    fn only_the_first_document_is_read() {
        let (value, _) = parse("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(value, json!({"a": 1}));
    }

    #[test]
    fn every_unsupported_node_is_reported() {
        let errors = parse("? [a]\n: 1\nb: !!int abc\n").unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| (e.kind, e.span.line)).collect();
        assert_eq!(
            kinds,
            [
                (YamlErrorKind::Unsupported, 1),
                (YamlErrorKind::Unsupported, 3)
            ],
            "{errors:?}"
        );
    }

    #[test]
    fn duplicate_key_is_a_syntax_error_with_position() {
        let errors = parse("name: a\nname: b\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].span.line, 2, "{errors:?}");
    }

    #[test]
    fn syntax_error_reports_its_line() {
        let errors = parse("a: [1, 2\nb: 3\n").expect_err("unterminated flow sequence");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, YamlErrorKind::Syntax);
        assert!(errors[0].span.line >= 1);
        assert!(
            errors[0].message.starts_with("invalid YAML: "),
            "{errors:?}"
        );
    }

    #[test]
    fn tab_indentation_gets_a_hint() {
        let errors = parse("steps:\n\t- name: a\n").unwrap_err();
        assert!(errors[0].hint.is_some(), "{errors:?}");
    }

    #[test]
    fn block_nesting_past_the_limit_is_located_not_a_stack_overflow() {
        let text: String = (0..10_000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors[0].kind, YamlErrorKind::Limit, "{errors:?}");
        assert_eq!(errors[0].span.line, MAX_DEPTH + 1, "{errors:?}");
    }

    #[test]
    fn nesting_at_the_limit_is_read() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn aliases_are_counted_in_bytes_not_nodes() {
        let big = "x".repeat(64 * 1024);
        let mut text = format!("a: &big {big}\nb:\n");
        for _ in 0..1_000 {
            text.push_str("  - *big\n");
        }
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors[0].kind, YamlErrorKind::Limit, "{errors:?}");
        assert!(errors[0].message.contains("aliases"), "{errors:?}");
        assert!(
            errors[0].span.line > 200,
            "at the alias that crossed it: {errors:?}"
        );
    }

    #[test]
    fn nested_aliases_multiply_and_are_stopped() {
        let mut text = String::from("a0: &a0 [xxxxxxxxxxxxxxxx]\n");
        for i in 1..40 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors[0].kind, YamlErrorKind::Limit, "{errors:?}");
    }

    #[test]
    fn empty_file_is_reported() {
        let errors = parse("").unwrap_err();
        assert_eq!(errors[0].message, "the file is empty");
        assert_eq!(errors[0].kind, YamlErrorKind::Empty);
        assert_eq!(errors[0].span, Span::START);
    }
}
