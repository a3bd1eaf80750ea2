//! Read YAML with positions: a `serde_json::Value` plus a map from JSON pointer to the place
//! of each node (and of each mapping key) in the file.
//!
//! The config reader deserializes one field at a time from the value and, on a type error,
//! looks the field's pointer up here to point at `file:line:col`.

use std::collections::HashMap;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

/// A place in the YAML text: 1-based line and column (in characters), byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    /// Byte offset of the first character.
    pub(crate) start: usize,
    /// Byte offset just past the node.
    pub(crate) end: usize,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) col: usize,
}

/// A YAML document turned into JSON, with the position of every node.
#[derive(Debug, Default)]
pub(crate) struct SpannedDoc {
    /// The document as JSON.
    pub(crate) value: Value,
    /// JSON pointer (RFC 6901) of a node → its position.
    pub(crate) values: HashMap<String, Pos>,
    /// JSON pointer of a mapping entry → the position of its key.
    pub(crate) keys: HashMap<String, Pos>,
}

impl SpannedDoc {
    /// The position of the node at `pointer`, or of the nearest ancestor that has one.
    pub(crate) fn pos(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => {
                    return Pos {
                        start: 0,
                        end: 0,
                        line: 1,
                        col: 1,
                    };
                }
            }
        }
    }

    /// The position of the key of the mapping entry at `pointer` (falls back to the value).
    pub(crate) fn key_pos(&self, pointer: &str) -> Pos {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.pos(pointer))
    }
}

/// An error reading YAML text, with its place.
#[derive(Debug, Clone)]
pub(crate) struct YamlError {
    /// What is wrong.
    pub(crate) message: String,
    /// Where.
    pub(crate) pos: Pos,
}

/// Escapes one JSON pointer segment (RFC 6901).
pub(crate) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Parses the first YAML document of `source`.
pub(crate) fn parse(source: &str) -> Result<SpannedDoc, YamlError> {
    let offsets = CharOffsets::new(source);
    let docs = MarkedYaml::load_from_str(source).map_err(|e| {
        let m = e.marker();
        YamlError {
            message: e.info().to_owned(),
            pos: offsets.pos(m.index(), m.index(), m.line(), m.col()),
        }
    })?;
    let mut doc = SpannedDoc::default();
    if let Some(root) = docs.first() {
        doc.value = convert(root, "", &offsets, &mut doc.values, &mut doc.keys)?;
    } else {
        doc.value = Value::Null;
    }
    Ok(doc)
}

/// Turns character indices (what saphyr reports) into byte offsets.
struct CharOffsets {
    bytes: Vec<usize>,
}

impl CharOffsets {
    fn new(source: &str) -> Self {
        let mut bytes: Vec<usize> = source.char_indices().map(|(b, _)| b).collect();
        bytes.push(source.len());
        Self { bytes }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.bytes
            .get(char_index)
            .copied()
            .unwrap_or_else(|| self.bytes.last().copied().unwrap_or(0))
    }

    fn pos(&self, start: usize, end: usize, line: usize, col0: usize) -> Pos {
        Pos {
            start: self.byte(start),
            end: self.byte(end),
            line: line.max(1),
            col: col0 + 1,
        }
    }
}

fn node_pos(node: &MarkedYaml<'_>, offsets: &CharOffsets) -> Pos {
    let s = node.span.start;
    let e = node.span.end;
    offsets.pos(s.index(), e.index().max(s.index()), s.line(), s.col())
}

fn scalar_to_json(s: &Scalar<'_>) -> Value {
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

fn convert(
    node: &MarkedYaml<'_>,
    pointer: &str,
    offsets: &CharOffsets,
    values: &mut HashMap<String, Pos>,
    keys: &mut HashMap<String, Pos>,
) -> Result<Value, YamlError> {
    let pos = node_pos(node, offsets);
    values.insert(pointer.to_owned(), pos);
    let value = match &node.data {
        YamlData::Value(s) => scalar_to_json(s),
        YamlData::Representation(text, _, _) => Value::String(text.to_string()),
        YamlData::Tagged(_, inner) => convert(inner, pointer, offsets, values, keys)?,
        YamlData::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(
                    item,
                    &format!("{pointer}/{i}"),
                    offsets,
                    values,
                    keys,
                )?);
            }
            Value::Array(out)
        }
        YamlData::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(other) => match scalar_to_json(other) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    YamlData::Representation(text, _, _) => text.to_string(),
                    _ => {
                        return Err(YamlError {
                            message: "mapping keys must be plain scalars".to_owned(),
                            pos: node_pos(k, offsets),
                        });
                    }
                };
                let child = format!("{pointer}/{}", escape(&key));
                keys.insert(child.clone(), node_pos(k, offsets));
                let v = convert(v, &child, offsets, values, keys)?;
                out.insert(key, v);
            }
            Value::Object(out)
        }
        YamlData::Alias(_) => {
            return Err(YamlError {
                message: "YAML aliases are not supported here".to_owned(),
                pos,
            });
        }
        YamlData::BadValue => {
            return Err(YamlError {
                message: "this value cannot be read".to_owned(),
                pos,
            });
        }
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_keep_line_and_column() {
        let doc = parse("a: 1\nb:\n  c: [x, \"y\"]\n  d: true\n").expect("valid yaml");
        assert_eq!(doc.value["b"]["c"][1], "y");
        let pos = doc.pos("/b/c/1");
        assert_eq!((pos.line, pos.col), (3, 10));
        let key = doc.key_pos("/b/d");
        assert_eq!((key.line, key.col), (4, 3));
        assert_eq!(doc.value["b"]["d"], true);
    }

    #[test]
    fn syntax_error_reports_its_line() {
        let err = parse("a: [1, 2\nb: 3\n").expect_err("unterminated flow sequence");
        assert!(err.pos.line >= 1);
        assert!(!err.message.is_empty());
    }

    #[test]
    fn missing_pointer_falls_back_to_the_parent() {
        let doc = parse("outer:\n  inner: 1\n").expect("valid yaml");
        assert_eq!(doc.pos("/outer/absent").line, doc.pos("/outer").line);
    }
}
