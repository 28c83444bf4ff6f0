//! Finds the line and column of a field path in the YAML source, so that semantic errors found
//! after parsing (an overlapping range, a bad sysctl key) point at the same place as syntax errors.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// One step of a field path: a map key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Renders a path as `sysctls["net.ipv4.ip_forward"]`, `packages[2]` or `user.name`.
pub fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(&format!("[{k:?}]")),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The document as a tree of nodes that remember where they are.
#[derive(Debug)]
enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Leaf,
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
                while let Some(k) = m.next_key::<Spanned<String>>()? {
                    entries.push((k, m.next_value::<Spanned<Node>>()?));
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
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
        }
        d.deserialize_any(V)
    }
}

/// Line and column (1-based) of the deepest part of `path` found in `source`.
pub fn locate(source: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let root: Node = serde_saphyr::from_str(source).ok()?;
    let mut node = &root;
    let mut found = None;
    for seg in path {
        let next = match (node, seg) {
            (Node::Map(entries), Seg::Key(k)) => entries
                .iter()
                .find(|(key, _)| &key.value == k)
                .map(|(key, value)| {
                    found = Some((
                        key.referenced.line() as usize,
                        key.referenced.column() as usize,
                    ));
                    value
                }),
            (Node::Seq(items), Seg::Index(i)) => items.get(*i).inspect(|item| {
                found = Some((
                    item.referenced.line() as usize,
                    item.referenced.column() as usize,
                ));
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

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "user:\n  name: k3s\nsysctls:\n  a.b: 1\npackages:\n  - uidmap\n  - foo\n";

    #[test]
    fn finds_nested_keys_and_items() {
        let key = |s: &str| Seg::Key(s.into());
        assert_eq!(locate(DOC, &[key("user"), key("name")]), Some((2, 3)));
        assert_eq!(locate(DOC, &[key("sysctls"), key("a.b")]), Some((4, 3)));
        assert_eq!(locate(DOC, &[key("packages"), Seg::Index(1)]), Some((7, 5)));
        // A missing leaf falls back to its deepest existing parent.
        assert_eq!(locate(DOC, &[key("user"), key("create")]), Some((1, 1)));
    }

    #[test]
    fn renders_paths_readably() {
        let path = [
            Seg::Key("sysctls".into()),
            Seg::Key("net.ipv4.ip_forward".into()),
        ];
        assert_eq!(render_path(&path), "sysctls[\"net.ipv4.ip_forward\"]");
        let path = [Seg::Key("packages".into()), Seg::Index(2)];
        assert_eq!(render_path(&path), "packages[2]");
    }
}
