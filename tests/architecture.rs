//! The import graph of src/ has no cycles: dependencies point one way, from the front ends down
//! to the foundations. Edges are read from the code as a reader would: every `crate::…` and
//! `super::…` path (braces expanded) names the file that defines it, and a `mod.rs` that
//! refers to a child module by its bare name (`host::Host` in a registry) depends on that
//! child. A cycle fails the test with the files that make it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The library's files by module path (`engine::apply` → src/engine/apply.rs).
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name == "bin" {
                    continue;
                }
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut p = prefix.to_vec();
                match name.as_str() {
                    "mod" | "lib" => {}
                    "main" => continue,
                    _ => p.push(name),
                }
                out.insert(p, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(Path::new(SRC), &[], &mut out);
    out
}

/// `a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e] (one path per leaf).
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.to_string()];
    };
    let (head, rest) = path.split_at(open);
    let inner = &rest[1..rest.rfind('}').unwrap_or(rest.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{head}{p}")))
        .collect()
}

/// The paths a file names, each as module segments from the crate root.
fn references(
    text: &str,
    own: &[String],
    is_mod_file: bool,
    children: &[String],
) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        // Paths are ASCII; anything else only stands between them.
        .chars()
        .map(|c| if c.is_ascii() { c } else { ' ' })
        .collect();
    // `super` is relative to the module: a mod.rs is its directory's module.
    let parent: Vec<String> = own[..own.len().saturating_sub(1)].to_vec();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        let (base, skip) = if rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if rest.starts_with("super::") {
            (parent.clone(), "super::".len())
        } else if is_mod_file
            && (i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b':'))
            && let Some(child) = children
                .iter()
                .find(|c| rest.starts_with(&format!("{c}::")))
        {
            let _ = child;
            (own.to_vec(), 0)
        } else {
            i += 1;
            continue;
        };
        let start = i + skip;
        let mut end = start;
        let mut depth = 0;
        while end < bytes.len() {
            let c = bytes[end] as char;
            match c {
                '{' => depth += 1,
                '}' if depth > 0 => depth -= 1,
                c if depth > 0 || c.is_ascii_alphanumeric() || c == '_' || c == ':' => {}
                ',' | ' ' | '\n' if depth > 0 => {}
                _ => break,
            }
            end += 1;
        }
        let path = &code[start..end];
        for p in expand(path) {
            let mut segs = base.clone();
            segs.extend(p.split("::").filter(|s| !s.is_empty()).map(String::from));
            out.push(segs);
        }
        i = end.max(i + 1);
    }
    out
}

#[test]
fn the_import_graph_of_src_has_no_cycles() {
    let mods = modules();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (own, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests are no part of the graph (and their `super` is the file itself).
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let is_mod_file = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let children: Vec<String> = mods
            .keys()
            .filter(|k| k.len() == own.len() + 1 && k.starts_with(own))
            .map(|k| k.last().unwrap().clone())
            .collect();
        for r in references(text, own, is_mod_file, &children) {
            // The longest module prefix of the path is the file that defines the name.
            let target = (1..=r.len())
                .rev()
                .find_map(|n| mods.get(&r[..n]))
                .filter(|t| *t != file);
            if let Some(t) = target {
                edges.entry(file.clone()).or_default().insert(t.clone());
            }
        }
    }
    // lib.rs declares every module; it is the root, not a dependency.
    let lib = Path::new(SRC).join("lib.rs");
    edges.remove(&lib);
    // Depth-first search for a back edge.
    fn visit(
        n: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, u8>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    let nodes: Vec<PathBuf> = edges.keys().cloned().collect();
    let total: usize = edges.values().map(BTreeSet::len).sum();
    assert!(
        total > 100,
        "the graph is too thin to mean anything: {total} edges"
    );
    for n in nodes {
        if !state.contains_key(&n)
            && let Some(cycle) = visit(&n, &edges, &mut state, &mut Vec::new())
        {
            let shown: Vec<String> = cycle
                .iter()
                .map(|p| p.strip_prefix(SRC).unwrap().display().to_string())
                .collect();
            panic!("an import cycle: {}", shown.join(" -> "));
        }
    }
}

#[test]
fn the_reader_finds_edges() {
    // The reader itself, on a snippet: braces, super, and a registry's bare child paths.
    let own = vec!["resources".to_string()];
    let refs = references(
        "use super::contract::{Cost, DiffCx};\nuse crate::plan::{Item, x::{Y, z}};\nstatic R: &[&dyn T] = &[&host::Host];",
        &own,
        true,
        &["host".to_string()],
    );
    let shown: Vec<String> = refs.iter().map(|r| r.join("::")).collect();
    assert!(shown.contains(&"contract::Cost".to_string()), "{shown:?}");
    assert!(
        shown.contains(&"crate::plan::x::z".replace("crate::", "")),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"resources::host::Host".to_string()),
        "{shown:?}"
    );
}
