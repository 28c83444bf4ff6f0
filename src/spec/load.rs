//! Reading a spec: size and encoding checks, then every check at once on one parse of the
//! YAML (its syntax, its shape against the schema, its values), so that a spec with four
//! mistakes shows all four, each at its file, line, column and field.

use super::error::{Found, Problem, SpecError};
use super::path::is_within;
use super::tree::Tree;
use super::types::{DEFAULT_SPEC, Spec};
use super::{parsed_cache, shape, syntax, typed};
use std::path::Path;

/// Specs are small; anything larger is a mistake (or an attack) and is refused before parsing.
const MAX_SPEC_BYTES: usize = 1024 * 1024;

/// Where a spec came from, with its text (kept for error messages and the spec hash).
#[derive(Debug, Clone)]
pub struct SpecSource {
    pub name: String,
    pub text: String,
}

/// Reads, parses and validates a spec file.
pub fn load_file(path: &Path) -> Result<(Spec, SpecSource), SpecError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        SpecError::whole(
            &name,
            format!(
                "cannot read the spec: {e}; check the path, or omit it to use the embedded default"
            ),
        )
    })?;
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SpecError::whole(
            &name,
            format!(
                "the spec is {} bytes; a spec is at most {MAX_SPEC_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    if bytes.contains(&0) {
        return Err(SpecError::whole(
            &name,
            "this is a binary file (it contains NUL bytes), not a YAML spec",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        SpecError::whole(
            &name,
            format!(
                "the spec is not valid UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let source = SpecSource { name, text };
    let spec = parse_or_reuse(&source)?;
    Ok((spec, source))
}

/// The embedded default spec (examples/rootless-k3s.yaml).
pub fn load_default() -> (Spec, SpecSource) {
    let source = SpecSource {
        name: "<embedded default: examples/rootless-k3s.yaml>".into(),
        text: DEFAULT_SPEC.into(),
    };
    let spec = parse(&source).expect("the embedded default spec is valid (a test guards it)");
    (spec, source)
}

/// `parse`, or the result of parsing the same text before (`parsed_cache`).
fn parse_or_reuse(source: &SpecSource) -> Result<Spec, SpecError> {
    let mut kept = parsed_cache::Kept::load();
    if let Some(spec) = kept.take(&source.text) {
        return Ok(spec);
    }
    let spec = parse(source)?;
    kept.remember(&source.text, &spec);
    Ok(spec)
}

/// Parses and validates spec text, reporting every problem found.
pub fn parse(source: &SpecSource) -> Result<Spec, SpecError> {
    let blank_or_comment = |l: &str| l.trim().is_empty() || l.trim_start().starts_with('#');
    if source.text.lines().all(blank_or_comment) {
        return Err(SpecError::whole(
            &source.name,
            "the spec is empty; start from examples/rootless-k3s.yaml (`groundwork schema` prints the format)",
        ));
    }
    let invalid = |found: Vec<Found>| {
        let problems = found.into_iter().map(Problem::from).collect();
        SpecError::new(&source.name, &source.text, problems)
    };
    let tree = Tree::parse(&source.text)
        .map_err(|e| invalid(vec![syntax::parse_error(&e, &source.text)]))?;
    let (mut found, garbled) = syntax::layout(&tree);
    let shapes = shape::check(&tree);
    let typed = typed::read(tree.to_json());
    // The value checks run on what was read; never on a field set aside or stood in for,
    // nor on text that indentation folded into the wrong value.
    let unseen: Vec<_> = typed.set_aside.iter().chain(&garbled).collect();
    let values: Vec<Found> = typed
        .spec
        .as_ref()
        .map(super::validate::validate)
        .unwrap_or_default()
        .into_iter()
        .filter(|(path, _, _)| !unseen.iter().any(|u| is_within(path, u)))
        .map(|(path, message, hint)| Found {
            at: tree.locate(&path),
            path,
            message,
            hint,
        })
        .collect();
    // Where a value check and the schema speak of one field, the value check says more.
    found.extend(shapes.into_iter().filter(|s| {
        !values.iter().any(|v| is_within(&s.path, &v.path))
            && !garbled.iter().any(|g| is_within(&s.path, g))
    }));
    found.extend(values);
    // What serde refused and no check explained still makes the spec invalid.
    for (path, message) in typed.errors {
        let explained = found
            .iter()
            .any(|f| is_within(&f.path, &path) || is_within(&path, &f.path));
        if !explained {
            found.push(Found {
                at: tree.locate(&path),
                path,
                message,
                hint: None,
            });
        }
    }
    match typed.spec {
        Some(spec) if found.is_empty() => Ok(spec),
        _ => {
            if found.is_empty() {
                found.push(Found {
                    path: Vec::new(),
                    at: None,
                    message: "the spec cannot be read".into(),
                    hint: Some("compare it with examples/rootless-k3s.yaml".into()),
                });
            }
            found.sort_by_key(|f| f.at.unwrap_or((usize::MAX, usize::MAX)));
            Err(invalid(found))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> SpecError {
        parse(&SpecSource {
            name: "t.yaml".into(),
            text: text.into(),
        })
        .unwrap_err()
    }

    const K3S: &str = "k3s: { version: v1.31.4+k3s1 }\n";

    #[test]
    fn unknown_field_names_file_line_path_and_suggests() {
        let e = err(&format!("user:\n  name: k3s\n  crate: true\n{K3S}"));
        let p = &e.problems[0];
        assert_eq!((p.line, p.column), (Some(3), Some(3)));
        assert_eq!(p.path, "user.crate");
        assert!(
            p.message.starts_with("unknown field `crate`"),
            "{}",
            p.message
        );
        assert_eq!(p.hint.as_deref(), Some("did you mean `create`?"));
        let shown = e.to_string();
        assert!(
            shown.starts_with("t.yaml:3:3: field `user.crate`: unknown field"),
            "{shown}"
        );
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = err(&format!(
            "user: {{ name: k3s }}\nsubids:\n  count: lots\n{K3S}"
        ));
        let p = &e.problems[0];
        assert_eq!(p.path, "subids.count");
        assert_eq!(p.line, Some(3));
    }

    #[test]
    fn empty_and_binary_inputs_are_refused_plainly() {
        assert!(err("").to_string().contains("the spec is empty"));
        assert!(err("  \n\n").to_string().contains("the spec is empty"));
        assert!(
            err("# todo\n\n  # later\n")
                .to_string()
                .contains("the spec is empty")
        );
        let e = err("\u{1}\u{2}junk: [");
        assert_eq!(e.problems[0].line, Some(1));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        // Nine levels of ten aliases each expand to 10^9 scalars. `sysctls` values are an
        // untagged enum, which buffers its whole input, so without the parser's budget this
        // would exhaust memory instead of failing.
        let mut bomb = String::from("[&a0 [1,1,1,1,1,1,1,1,1,1]");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!(
                ", &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]"
            ));
        }
        bomb.push(']');
        let doc = format!("user: {{ name: k3s }}\n{K3S}sysctls:\n  net.core.x: {bomb}\n");
        let started = std::time::Instant::now();
        let e = err(&doc);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        assert_eq!(e.problems[0].line, Some(4), "{e}");
        assert!(
            e.problems[0]
                .message
                .contains("too large once its aliases are expanded"),
            "{e}"
        );
    }

    /// Reading through the tree gives the spec serde reads straight from the YAML.
    #[test]
    fn valid_specs_read_as_serde_reads_them() {
        for text in [
            DEFAULT_SPEC,
            include_str!("../../tests/vm/specs/lab.yaml"),
            "user: { name: k3s }\nk3s: { version: v1.31.4+k3s1 }\nsysctls: { net.ipv4.ip_forward: \"1\", net.ipv4.ping_group_range: 0 2147483647 }\nsubids: { start: 200000, count: 131072 }\nlinger: yes\n",
        ] {
            let source = SpecSource {
                name: "t.yaml".into(),
                text: text.into(),
            };
            let direct: Spec = serde_saphyr::from_str(text).unwrap();
            assert_eq!(parse(&source).unwrap(), direct);
        }
    }

    proptest::proptest! {
        /// Whatever the text, every check runs to its end: no panic, and an invalid spec
        /// has at least one problem, each on a line of the text.
        #[test]
        fn any_text_is_judged_without_panicking(
            cut in 0usize..2000,
            insert in "[ \t\n:{}\\[\\]#&*!|>'\"a-z0-9.-]{0,12}",
        ) {
            let mut text = DEFAULT_SPEC.to_string();
            let mut at = cut.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, &insert);
            let lines = text.lines().count();
            if let Err(e) = parse(&SpecSource { name: "t.yaml".into(), text }) {
                proptest::prop_assert!(!e.problems.is_empty());
                for p in &e.problems {
                    proptest::prop_assert!(p.line.is_none_or(|l| l >= 1 && l <= lines + 1), "{p:?}");
                }
            }
        }
    }
}
