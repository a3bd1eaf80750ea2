//! YAML to JSON with spans: the first stage of reading a scenario.
//!
//! [`parse`] loads a YAML text with `saphyr` marked nodes and returns the document as a
//! `serde_json::Value` together with a [`SpanMap`]: for each JSON pointer (`/steps/0/expect`),
//! the span of its value and, for mapping entries, the span of its key. Later stages (schema
//! validation, deserialization, semantic checks) look spans up by pointer.

use std::collections::HashMap;

use saphyr::{LoadableYamlNode as _, MarkedYaml, Marker, Scalar, YamlData};
use serde_json::{Map, Number, Value};

use crate::diag::Span;

/// Spans of a document's nodes, by JSON pointer.
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

    /// The span of the key of the mapping entry at `pointer` (falls back to the value).
    pub fn key(&self, pointer: &str) -> Option<Span> {
        self.keys
            .get(pointer)
            .copied()
            .or_else(|| self.value(pointer))
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

/// Appends one reference token to a JSON pointer, escaping `~` and `/`.
pub fn push_pointer(base: &str, token: &str) -> String {
    format!("{base}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// A YAML error: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// What is wrong, in lower case.
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
            line: start.line(),
            col: start.col() + 1,
        }
    }
}

/// Parses a YAML text into JSON and spans. Returns every problem found (a syntax error stops
/// the parse, so that one comes alone).
pub fn parse(text: &str) -> Result<(Value, SpanMap), Vec<YamlError>> {
    let offsets = Offsets::new(text);
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        let start = offsets.byte(m.index());
        let len = text[start..].chars().next().map_or(0, char::len_utf8);
        let span = Span {
            start,
            end: start + len,
            line: m.line(),
            col: m.col() + 1,
        };
        let info = e.info();
        let hint = info
            .contains("tab")
            .then(|| "indent with spaces; YAML does not allow tabs for indentation".to_owned());
        vec![YamlError {
            message: format!("invalid YAML: {info}"),
            hint,
            span,
        }]
    })?;
    let Some(doc) = docs.into_iter().next() else {
        return Err(vec![YamlError {
            message: "the file is empty".into(),
            hint: Some("a scenario needs at least `name` and `steps`".into()),
            span: Span {
                start: 0,
                end: 0,
                line: 1,
                col: 1,
            },
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

struct Converter {
    offsets: Offsets,
    spans: SpanMap,
    errors: Vec<YamlError>,
}

impl Converter {
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
                            Value::Null => "null".to_owned(),
                            other => other.to_string(),
                        },
                        _ => {
                            self.errors.push(YamlError {
                                message: "a mapping key must be a plain value".into(),
                                hint: None,
                                span: key_span,
                            });
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
                self.errors.push(YamlError {
                    message: "this value cannot be read (an unresolved alias or a bad tag)".into(),
                    hint: None,
                    span,
                });
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
    fn spans_are_byte_offsets_after_multibyte_text() {
        let text = "name: héllo wörld\nx: 1\n";
        let (_, spans) = parse(text).unwrap();
        let x = spans.value("/x").unwrap();
        assert_eq!(&text[x.start..x.end], "1");
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let (_, spans) = parse("headers:\n  a/b~c: v\n").unwrap();
        assert!(spans.value("/headers/a~1b~0c").is_some());
    }

    #[test]
    fn duplicate_key_is_a_syntax_error_with_position() {
        let errors = parse("name: a\nname: b\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].span.line, 2, "{errors:?}");
    }

    #[test]
    fn tab_indentation_gets_a_hint() {
        let errors = parse("steps:\n\t- name: a\n").unwrap_err();
        assert!(errors[0].hint.is_some(), "{errors:?}");
    }

    #[test]
    fn empty_file_is_reported() {
        assert_eq!(parse("").unwrap_err()[0].message, "the file is empty");
    }
}
