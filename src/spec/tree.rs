//! The spec's YAML as a tree of nodes that remember where they are: the one parse that every
//! check works on. Errors found in it (a wrong type, an unknown key, a bad value) point at the
//! line and column of the key or value they are about.

use super::path::Seg;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{DuplicateKeyPolicy, Location, Spanned};

/// A line and column, both 1-based.
pub type Pos = (usize, usize);

pub fn pos(loc: &Location) -> Pos {
    (loc.line() as usize, loc.column() as usize)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

#[derive(Debug)]
pub enum Node {
    Map(Vec<Entry>),
    Seq(Vec<Spanned<Node>>),
    Scalar(Scalar),
}

#[derive(Debug)]
pub struct Entry {
    pub key: Spanned<String>,
    pub value: Spanned<Node>,
}

/// A parsed document and its text.
pub struct Tree<'a> {
    pub text: &'a str,
    pub root: Spanned<Node>,
}

impl<'a> Tree<'a> {
    /// Parses one YAML document. Repeated keys are kept (the checks report each one), and the
    /// parser's budget stops alias bombs.
    pub fn parse(text: &'a str) -> Result<Self, serde_saphyr::Error> {
        let options = serde_saphyr::options! {
            duplicate_keys: DuplicateKeyPolicy::PassThrough,
            emit_comments: false,
        };
        let root = serde_saphyr::from_str_with_options(text, options)?;
        Ok(Tree { text, root })
    }

    /// The source text a node or key spans.
    pub fn source(&self, loc: &Location) -> &'a str {
        let span = loc.span();
        let (Some(start), Some(len)) = (span.byte_offset(), span.byte_len()) else {
            return "";
        };
        let (start, len) = (start as usize, len as usize);
        self.text.get(start..start + len).unwrap_or("")
    }

    /// Where the document's content starts: its first key, for a mapping.
    pub fn start(&self) -> Pos {
        match &self.root.value {
            Node::Map(entries) if !entries.is_empty() => pos(&entries[0].key.referenced),
            _ => pos(&self.root.referenced),
        }
    }

    /// Line and column of the deepest part of `path` found: a key, or a sequence item.
    pub fn locate(&self, path: &[Seg]) -> Option<Pos> {
        let mut node = &self.root.value;
        let mut found = None;
        for seg in path {
            let next = match (node, seg) {
                (Node::Map(entries), Seg::Key(k)) => {
                    entries.iter().find(|e| &e.key.value == k).map(|e| {
                        found = Some(pos(&e.key.referenced));
                        &e.value
                    })
                }
                (Node::Seq(items), Seg::Index(i)) => items.get(*i).inspect(|item| {
                    found = Some(pos(&item.referenced));
                }),
                _ => None,
            };
            match next {
                Some(n) => node = &n.value,
                None => break,
            }
        }
        found
    }

    /// The document as JSON, for typing it. Of repeated keys the first counts.
    pub fn to_json(&self) -> Value {
        fn convert(node: &Node) -> Value {
            match node {
                Node::Map(entries) => {
                    let mut map = serde_json::Map::new();
                    for e in entries {
                        if !map.contains_key(&e.key.value) {
                            map.insert(e.key.value.clone(), convert(&e.value.value));
                        }
                    }
                    Value::Object(map)
                }
                Node::Seq(items) => Value::Array(items.iter().map(|i| convert(&i.value)).collect()),
                Node::Scalar(s) => s.to_json(),
            }
        }
        convert(&self.root.value)
    }
}

impl Scalar {
    pub fn to_json(&self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Int(i) => i64::try_from(*i)
                .map(Value::from)
                .or_else(|_| u64::try_from(*i).map(Value::from))
                .unwrap_or_else(|_| Value::from(*i as f64)),
            Scalar::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Scalar::Str(s) => Value::String(s.clone()),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = m.next_key::<Spanned<String>>()? {
                    let value = m.next_value::<Spanned<Node>>()?;
                    entries.push(Entry { key, value });
                }
                Ok(Node::Map(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(x) = s.next_element::<Spanned<Node>>()? {
                    items.push(x);
                }
                Ok(Node::Seq(items))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Str(v.to_string())))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Str(
                    String::from_utf8_lossy(v).into_owned(),
                )))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Int(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Int(v.into())))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Int(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Float(v)))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Null))
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Scalar::Null))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::path::key;

    const DOC: &str = "user:\n  name: k3s\nsysctls:\n  a.b: 1\npackages:\n  - uidmap\n  - foo\n";

    #[test]
    fn finds_nested_keys_and_items() {
        let tree = Tree::parse(DOC).unwrap();
        assert_eq!(tree.locate(&[key("user"), key("name")]), Some((2, 3)));
        assert_eq!(tree.locate(&[key("sysctls"), key("a.b")]), Some((4, 3)));
        assert_eq!(tree.locate(&[key("packages"), Seg::Index(1)]), Some((7, 5)));
        // A missing leaf falls back to its deepest existing parent.
        assert_eq!(tree.locate(&[key("user"), key("create")]), Some((1, 1)));
    }

    #[test]
    fn keeps_scalars_with_their_source() {
        let tree = Tree::parse("a: \"65536\"\nb: 1.5\nc:\nd: yes\n").unwrap();
        let Node::Map(entries) = &tree.root.value else {
            panic!("a map")
        };
        let values: Vec<_> = entries
            .iter()
            .map(|e| match &e.value.value {
                Node::Scalar(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            values,
            [
                Scalar::Str("65536".into()),
                Scalar::Float(1.5),
                Scalar::Null,
                Scalar::Bool(true)
            ]
        );
        assert_eq!(tree.source(&entries[0].value.referenced), "\"65536\"");
        assert_eq!(
            tree.to_json(),
            serde_json::json!({"a": "65536", "b": 1.5, "c": null, "d": true})
        );
    }
}
