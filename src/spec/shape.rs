//! Checks the YAML tree against the spec's JSON Schema: types, known and required fields, list
//! items and bounds. It reports every mismatch at once, each where it is, in the words of the
//! spec's author rather than the parser's. Because it walks the very schema editors use, an
//! editor and `validate` flag the same things. (Patterns are left to `validate`, which checks
//! the same rules with the helper's code; a test holds the two equal.)

use super::error::Found;
use super::path::Seg;
use super::schema::{choices, property, required, resolve, spec_schema, types};
use super::static_json::Json;
use super::tree::{Entry, Node, Pos, Scalar, Tree, pos};
use serde_saphyr::Spanned;

/// Every place where the document does not have the schema's shape.
pub fn check(tree: &Tree) -> Vec<Found> {
    let mut walker = Walker {
        tree,
        out: Vec::new(),
    };
    if !matches!(tree.root.value, Node::Map(_)) {
        walker.out.push(Found {
            path: Vec::new(),
            at: Some(tree.start()),
            message: format!(
                "a spec is a mapping of fields such as `user:` and `k3s:`, not {}",
                found(tree, &tree.root)
            ),
            hint: Some(
                "start from examples/rootless-k3s.yaml (`groundwork schema` prints the format)"
                    .into(),
            ),
        });
        return walker.out;
    }
    walker.node(&tree.root, spec_schema(), &mut Vec::new(), None);
    walker.out
}

struct Walker<'t, 'a> {
    tree: &'t Tree<'a>,
    out: Vec<Found>,
}

impl Walker<'_, '_> {
    /// Checks `node` against `schema`; `key_at` is where its key is (none for list items and
    /// the document itself).
    fn node(
        &mut self,
        node: &Spanned<Node>,
        schema: &'static Json,
        path: &mut Vec<Seg>,
        key_at: Option<Pos>,
    ) {
        let s = resolve(schema);
        if let Some(branches) = choices(s) {
            return self.choice(node, s, branches, path, key_at);
        }
        if !kind_fits(&node.value, s) || !value_fits(&node.value, s) {
            return self.mismatch(node, s, path, key_at);
        }
        match &node.value {
            Node::Map(entries) => self.object(entries, s, path, key_at),
            Node::Seq(items) => self.list(items, s, path),
            Node::Scalar(_) => {}
        }
    }

    /// `anyOf`/`oneOf`: the value fits one of the forms. When none fits, a mapping or list is
    /// checked against the form closest to it, so that a misspelt field is named; a scalar is
    /// told every form it could take.
    fn choice(
        &mut self,
        node: &Spanned<Node>,
        s: &'static Json,
        branches: &'static [Json],
        path: &[Seg],
        key_at: Option<Pos>,
    ) {
        let mut tried = Vec::new();
        for branch in branches {
            let mut sub = Walker {
                tree: self.tree,
                out: Vec::new(),
            };
            sub.node(node, branch, &mut path.to_vec(), key_at);
            if sub.out.is_empty() {
                return;
            }
            if kind_fits(&node.value, resolve(branch)) {
                tried.push(sub.out);
            }
        }
        let closest = tried.into_iter().min_by_key(Vec::len);
        match (&node.value, closest) {
            (Node::Map(_) | Node::Seq(_), Some(errors)) => self.out.extend(errors),
            _ => self.mismatch(node, s, path, key_at),
        }
    }

    fn object(
        &mut self,
        entries: &[Entry],
        s: &'static Json,
        path: &mut Vec<Seg>,
        key_at: Option<Pos>,
    ) {
        let properties = s.get("properties").and_then(Json::as_object);
        let others = s.get("additionalProperties");
        let mut seen = Vec::new();
        for e in entries {
            let k = &e.key.value;
            // A repeated key is reported by the syntax checks; its value is not the spec's.
            if seen.contains(&k) {
                continue;
            }
            seen.push(k);
            let schema = property(s, k).or(match others {
                Some(v) if v.is_object() => Some(v),
                _ => None,
            });
            path.push(Seg::Key(k.clone()));
            match schema {
                Some(schema) => self.node(&e.value, schema, path, Some(pos(&e.key.referenced))),
                None if matches!(others, Some(Json::Bool(false))) => {
                    let names: Vec<&str> = properties
                        .map(|p| p.iter().map(|(k, _)| *k).collect())
                        .unwrap_or_default();
                    self.out.push(Found {
                        path: path.clone(),
                        at: Some(pos(&e.key.referenced)),
                        message: format!("unknown field `{k}`, expected {}", one_of(&names)),
                        hint: did_you_mean(k, &names),
                    });
                }
                None => {}
            }
            path.pop();
        }
        for name in required(s) {
            if entries.iter().any(|e| e.key.value == name) {
                continue;
            }
            let parent = last_key(path);
            // The field's own description, or its type's.
            let what = property(s, name)
                .and_then(|p| {
                    p.get("description")
                        .or_else(|| resolve(p).get("description"))
                })
                .and_then(Json::as_str)
                .map(first_sentence);
            let place = match parent {
                Some(parent) => format!("under `{parent}:`"),
                None => "at the top level".into(),
            };
            let mut missing = path.clone();
            missing.push(Seg::Key(name.to_string()));
            self.out.push(Found {
                path: missing,
                at: key_at.or(Some(self.tree.start())),
                message: format!("missing field `{name}`"),
                hint: Some(match what {
                    Some(what) => format!("add `{name}:` {place} ({what})"),
                    None => format!("add `{name}:` {place}"),
                }),
            });
        }
    }

    fn list(&mut self, items: &[Spanned<Node>], s: &'static Json, path: &mut Vec<Seg>) {
        let unique = matches!(s.get("uniqueItems"), Some(Json::Bool(true)));
        for (i, item) in items.iter().enumerate() {
            path.push(Seg::Index(i));
            if let Some(schema) = s.get("items") {
                self.node(item, schema, path, None);
            }
            if unique
                && let Node::Scalar(v) = &item.value
                && items[..i]
                    .iter()
                    .any(|earlier| matches!(&earlier.value, Node::Scalar(e) if e == v))
            {
                self.out.push(Found {
                    path: path.clone(),
                    at: Some(pos(&item.referenced)),
                    message: format!("{} is listed twice", self.tree.source(&item.referenced)),
                    hint: Some("remove one".into()),
                });
            }
            path.pop();
        }
    }

    fn mismatch(
        &mut self,
        node: &Spanned<Node>,
        s: &'static Json,
        path: &[Seg],
        key_at: Option<Pos>,
    ) {
        // An empty value has no place of its own: point at its key.
        let at = match &node.value {
            Node::Scalar(Scalar::Null) => key_at,
            _ => None,
        }
        .or(Some(pos(&node.referenced)));
        self.out.push(Found {
            path: path.to_vec(),
            at,
            message: format!("expected {}, found {}", describe(s), found(self.tree, node)),
            hint: hint(self.tree, node, s, path),
        });
    }
}

/// Whether the node is of a type the schema takes (any, when it names none).
fn kind_fits(node: &Node, s: &'static Json) -> bool {
    let types = types(s);
    if types.is_empty() {
        return true;
    }
    let is = |t: &str| types.contains(&t);
    match node {
        Node::Map(_) => is("object"),
        Node::Seq(_) => is("array"),
        Node::Scalar(Scalar::Null) => is("null"),
        Node::Scalar(Scalar::Bool(_)) => is("boolean"),
        Node::Scalar(Scalar::Int(_)) => is("integer") || is("number"),
        Node::Scalar(Scalar::Float(_)) => is("number"),
        Node::Scalar(Scalar::Str(_)) => is("string"),
    }
}

/// Whether a scalar is among the schema's values and within its bounds.
fn value_fits(node: &Node, s: &'static Json) -> bool {
    let Node::Scalar(scalar) = node else {
        return true;
    };
    let v = scalar.to_json();
    if let Some(allowed) = s.get("enum").and_then(Json::as_array)
        && !allowed.iter().any(|a| *a == v)
    {
        return false;
    }
    if let Some(c) = s.get("const")
        && *c != v
    {
        return false;
    }
    let n = match scalar {
        Scalar::Int(i) => Some(*i as f64),
        Scalar::Float(f) => Some(*f),
        _ => None,
    };
    let bound = |k: &str| s.get(k).and_then(Json::as_f64);
    if let Some(n) = n
        && (bound("minimum").is_some_and(|m| n < m) || bound("maximum").is_some_and(|m| n > m))
    {
        return false;
    }
    if let (Scalar::Str(text), Some(min)) = (scalar, s.get("minLength").and_then(Json::as_u64))
        && (text.chars().count() as u64) < min
    {
        return false;
    }
    true
}

/// What the schema takes, in words.
fn describe(s: &'static Json) -> String {
    let s = resolve(s);
    if let Some(branches) = choices(s) {
        let words: Vec<&Json> = branches
            .iter()
            .filter_map(|b| {
                let b = resolve(b);
                b.get("const")
                    .or_else(|| b.get("enum").filter(|e| e.as_array().is_some()))
            })
            .flat_map(|v| match v {
                Json::Arr(vs) => vs.iter().collect(),
                v => vec![v],
            })
            .collect();
        if words.len() == branches.len() {
            return one_of_values(&words);
        }
        // Digits as text are another spelling of the number beside them, not worth a word.
        let has_number = branches
            .iter()
            .any(|b| types(resolve(b)).contains(&"integer"));
        let mut parts: Vec<String> = Vec::new();
        for b in branches {
            let spelling = types(resolve(b)) == ["string"] && resolve(b).get("pattern").is_some();
            if has_number && spelling {
                continue;
            }
            let d = describe(b);
            if !parts.contains(&d) {
                parts.push(d);
            }
        }
        return or_list(&parts);
    }
    if let Some(values) = s.get("enum").and_then(Json::as_array) {
        return one_of_values(&values.iter().collect::<Vec<_>>());
    }
    if let Some(c) = s.get("const") {
        return one_of_values(&[c]);
    }
    let types = types(s);
    let bound = |k: &str| s.get(k).and_then(Json::as_i64);
    match types.iter().find(|t| **t != "null").copied() {
        Some("integer") => match (bound("minimum"), bound("maximum")) {
            (Some(lo), Some(hi)) => format!("a whole number from {lo} to {hi}"),
            (Some(lo), None) => format!("a whole number of at least {lo}"),
            _ => "a whole number".into(),
        },
        Some("number") => "a number".into(),
        Some("boolean") => "`true` or `false`".into(),
        Some("string") if s.get("minLength").is_some() => "non-empty text".into(),
        Some("string") => "text".into(),
        Some("array") => "a list".into(),
        Some("object") => {
            let names: Vec<String> = s
                .get("properties")
                .and_then(Json::as_object)
                .map(|p| p.iter().map(|(k, _)| format!("`{k}`")).collect())
                .unwrap_or_default();
            if names.is_empty() || names.len() > 4 {
                "a mapping".into()
            } else {
                format!("a mapping with {}", and_list(&names))
            }
        }
        _ => "a value".into(),
    }
}

/// What the document has, in words.
fn found(tree: &Tree, node: &Spanned<Node>) -> String {
    match &node.value {
        Node::Map(_) => "a mapping".into(),
        Node::Seq(_) => "a list".into(),
        Node::Scalar(Scalar::Null) => "nothing (the value is empty)".into(),
        Node::Scalar(Scalar::Bool(b)) => format!("`{b}`"),
        Node::Scalar(Scalar::Int(i)) => format!("the number {i}"),
        Node::Scalar(Scalar::Float(_)) => format!("the number {}", tree.source(&node.referenced)),
        Node::Scalar(Scalar::Str(s)) => format!("the text {s:?}"),
    }
}

/// What to write instead, where the mistake has a usual fix.
fn hint(tree: &Tree, node: &Spanned<Node>, s: &'static Json, path: &[Seg]) -> Option<String> {
    let mut wanted: Vec<&str> = types(s);
    for b in choices(s).unwrap_or_default() {
        wanted.extend(types(resolve(b)));
    }
    let wants = |t: &str| wanted.contains(&t);
    let key = last_key(path);
    let src = tree.source(&node.referenced);
    match &node.value {
        Node::Scalar(Scalar::Str(v)) if wants("integer") && v.trim().parse::<i128>().is_ok() => {
            Some("remove the quotes: a number is written without them".into())
        }
        Node::Scalar(Scalar::Str(v)) if wants("array") && !wants("string") => Some(match key {
            Some(k) => format!("write it as a list: `{k}: [{v}]`"),
            None => "write it as a list".into(),
        }),
        Node::Scalar(Scalar::Str(_)) if wants("boolean") && !wants("string") => {
            Some("write `true` or `false`".into())
        }
        Node::Scalar(Scalar::Float(f))
            if wants("integer") && !wants("number") && f.fract() != 0.0 =>
        {
            Some("use a whole number, without a decimal point".into())
        }
        // Quotes make a number text; they do not make it one of a list's names.
        Node::Scalar(Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_))
            if wants("string") && !kind_fits(&node.value, s) && s.get("enum").is_none() =>
        {
            Some(match path.last() {
                Some(Seg::Key(k)) => format!("put it in quotes: `{k}: \"{src}\"`"),
                _ => format!("put it in quotes: `\"{src}\"`"),
            })
        }
        Node::Scalar(_) | Node::Seq(_) if wants("object") => {
            let first = first_field(s)?;
            Some(match key {
                Some(k) => format!("write its fields below it, such as `{k}: {{ {first}: ... }}`"),
                None => format!("write its fields, such as `{{ {first}: ... }}`"),
            })
        }
        Node::Scalar(Scalar::Null) => Some(match key {
            Some(k) => format!("give `{k}` a value, or remove the line"),
            None => "give it a value".into(),
        }),
        Node::Map(_) if wants("array") => Some("write a list: one `- item` per line".into()),
        _ => None,
    }
}

/// The field to show in an example of a mapping: its first required one, or its first.
fn first_field(s: &'static Json) -> Option<&'static str> {
    let object = std::iter::once(s)
        .chain(choices(s).unwrap_or_default().iter().map(resolve))
        .find(|b| types(b).contains(&"object"))?;
    required(object).next().or_else(|| {
        object
            .get("properties")
            .and_then(Json::as_object)
            .and_then(|p| p.first())
            .map(|(k, _)| *k)
    })
}

fn last_key(path: &[Seg]) -> Option<&str> {
    path.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k.as_str()),
        Seg::Index(_) => None,
    })
}

/// "The pinned release, for example `v1`." → "the pinned release, for example `v1`".
fn first_sentence(text: &str) -> String {
    let first = text.split(". ").next().unwrap_or(text);
    let first = first.lines().next().unwrap_or(first).trim_end_matches('.');
    let mut chars = first.chars();
    match (chars.next(), chars.next()) {
        (Some(c), Some(d)) if c.is_uppercase() && d.is_lowercase() => {
            format!("{}{}", c.to_lowercase(), &first[c.len_utf8()..])
        }
        _ => first.to_string(),
    }
}

/// serde's wording for the fields a mapping takes.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => "no fields".into(),
        [one] => format!("`{one}`"),
        [a, b] => format!("`{a}` or `{b}`"),
        _ => format!(
            "one of {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn one_of_values(values: &[&Json]) -> String {
    // A long allow-list is for the hint or the schema, not for every message.
    if values.len() > 8 {
        let first: Vec<String> = values.iter().take(2).map(|v| word(v)).collect();
        return format!(
            "one of the {} allowed values, such as {}",
            values.len(),
            first.join(" or ")
        );
    }
    let words: Vec<String> = values.iter().map(|v| word(v)).collect();
    match words.len() {
        1 => words[0].clone(),
        _ => format!("one of {}", words.join(", ")),
    }
}

fn word(v: &Json) -> String {
    match v {
        Json::Str(s) => format!("`{s}`"),
        v => format!("`{v}`"),
    }
}

fn or_list(parts: &[String]) -> String {
    join_last(parts, "or")
}

fn and_list(parts: &[String]) -> String {
    join_last(parts, "and")
}

fn join_last(parts: &[String], word: &str) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
    }
}

/// For an unknown field, the known one it is closest to, if any is close.
fn did_you_mean(unknown: &str, known: &[&str]) -> Option<String> {
    let best = known
        .iter()
        .map(|cand| (strsim::damerau_levenshtein(unknown, cand), *cand))
        .min()?;
    let limit = (unknown.len() / 3).max(2);
    (best.0 <= limit).then(|| format!("did you mean `{}`?", best.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestion_only_for_close_names() {
        assert_eq!(
            did_you_mean("sysctl", &["user", "sysctls"]),
            Some("did you mean `sysctls`?".into())
        );
        assert_eq!(did_you_mean("zzzzzz", &["user", "sysctls"]), None);
    }

    #[test]
    fn descriptions_become_hints() {
        assert_eq!(
            first_sentence("The pinned release, for example `v1.31.4+k3s1`."),
            "the pinned release, for example `v1.31.4+k3s1`"
        );
        assert_eq!(first_sentence("K3S_* variables."), "K3S_* variables");
    }
}
