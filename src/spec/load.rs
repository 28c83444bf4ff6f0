//! Reading a spec: size and encoding checks, YAML parsing, semantic validation, and errors that
//! name the file, line, column and field path, with a "did you mean" for misspelt keys.

use super::locate::{Seg, locate, render_path};
use super::types::{DEFAULT_SPEC, Spec};
use std::fmt;
use std::path::Path;

/// Specs are small; anything larger is a mistake (or an attack) and is refused before parsing.
const MAX_SPEC_BYTES: usize = 1024 * 1024;

/// Where a spec came from, with its text (kept for error messages and the spec hash).
#[derive(Debug, Clone)]
pub struct SpecSource {
    pub name: String,
    pub text: String,
}

/// One thing wrong with a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Field path such as `sysctls["net.ipv4.ip_forward"]`; empty for the whole document.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

/// A spec that cannot be used, with every problem found in it.
#[derive(Debug, Clone)]
pub struct SpecError {
    pub file: String,
    pub problems: Vec<Problem>,
    source_lines: Vec<String>,
}

impl std::error::Error for SpecError {}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
                if let Some(col) = p.column {
                    write!(f, ":{col}")?;
                }
            }
            if p.path.is_empty() {
                write!(f, ": {}", p.message)?;
            } else {
                write!(f, ": field `{}`: {}", p.path, p.message)?;
            }
            if let Some(line) = p
                .line
                .and_then(|l| self.source_lines.get(l.wrapping_sub(1)))
            {
                let col = p.column.unwrap_or(1).clamp(1, line.chars().count() + 1);
                write!(f, "\n   | {line}\n   | {}^", " ".repeat(col - 1))?;
            }
            if let Some(hint) = &p.hint {
                write!(f, "\n   = hint: {hint}")?;
            }
        }
        Ok(())
    }
}

impl SpecError {
    fn new(source: &SpecSource, problems: Vec<Problem>) -> Self {
        let source_lines = source.text.lines().map(truncate_line).collect();
        Self {
            file: source.name.clone(),
            problems,
            source_lines,
        }
    }

    /// A problem with a command-line flag that stands in for a spec field.
    pub fn from_flag(flag: &str, message: String) -> Self {
        Self {
            file: flag.to_string(),
            problems: vec![Problem {
                line: None,
                column: None,
                path: String::new(),
                message,
                hint: None,
            }],
            source_lines: Vec::new(),
        }
    }

    fn whole(source: &SpecSource, message: impl Into<String>) -> Self {
        Self {
            file: source.name.clone(),
            problems: vec![Problem {
                line: None,
                column: None,
                path: String::new(),
                message: message.into(),
                hint: None,
            }],
            source_lines: Vec::new(),
        }
    }
}

fn truncate_line(line: &str) -> String {
    line.chars().take(120).collect()
}

/// Reads, parses and validates a spec file.
pub fn load_file(path: &Path) -> Result<(Spec, SpecSource), SpecError> {
    let name = path.display().to_string();
    let placeholder = SpecSource {
        name: name.clone(),
        text: String::new(),
    };
    let bytes = std::fs::read(path).map_err(|e| {
        SpecError::whole(
            &placeholder,
            format!(
                "cannot read the spec: {e}; check the path, or omit it to use the embedded default"
            ),
        )
    })?;
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SpecError::whole(
            &placeholder,
            format!(
                "the spec is {} bytes; a spec is at most {MAX_SPEC_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    if bytes.contains(&0) {
        return Err(SpecError::whole(
            &placeholder,
            "this is a binary file (it contains NUL bytes), not a YAML spec",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        SpecError::whole(
            &placeholder,
            format!(
                "the spec is not valid UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let source = SpecSource { name, text };
    let spec = parse(&source)?;
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

/// Parses and validates spec text.
pub fn parse(source: &SpecSource) -> Result<Spec, SpecError> {
    let blank_or_comment = |l: &str| l.trim().is_empty() || l.trim_start().starts_with('#');
    if source.text.lines().all(blank_or_comment) {
        return Err(SpecError::whole(
            source,
            "the spec is empty; start from examples/rootless-k3s.yaml (`groundwork schema` prints the format)",
        ));
    }
    // The plain parse first: tracking the field path wraps every visitor in more code to run,
    // and only an error message needs the path. A spec that fails is parsed again with it.
    let spec = match serde_saphyr::from_str::<Spec>(&source.text) {
        Ok(spec) => spec,
        Err(_) => {
            let mut path = Vec::new();
            let parsed: Result<Spec, _> =
                serde_saphyr::with_deserializer_from_str(&source.text, |de| {
                    serde_path_to_error::deserialize(de).map_err(|e| {
                        path = e.path().iter().filter_map(segment).collect();
                        e.into_inner()
                    })
                });
            parsed.map_err(|e| SpecError::new(source, vec![problem_from_yaml(&e, &path)]))?
        }
    };
    let problems: Vec<Problem> = super::validate::validate(&spec)
        .into_iter()
        .map(|(path, message, hint)| {
            let at = locate(&source.text, &path);
            Problem {
                line: at.map(|a| a.0),
                column: at.map(|a| a.1),
                path: render_path(&path),
                message,
                hint,
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(SpecError::new(source, problems))
    }
}

/// A step of the path; none where the parser stopped before it knew the key (a syntax error).
fn segment(s: &serde_path_to_error::Segment) -> Option<Seg> {
    match s {
        serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
        serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
        serde_path_to_error::Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
        serde_path_to_error::Segment::Unknown => None,
    }
}

fn problem_from_yaml(e: &serde_saphyr::Error, path: &[Seg]) -> Problem {
    let location = e.location();
    let message = strip_location_prefix(&e.without_snippet().to_string());
    let hint = did_you_mean(&message);
    Problem {
        line: location
            .as_ref()
            .map(|l| l.line() as usize)
            .filter(|l| *l > 0),
        column: location
            .as_ref()
            .map(|l| l.column() as usize)
            .filter(|c| *c > 0),
        path: render_path(path),
        message: untagged_message(message),
        hint,
    }
}

/// The parser's text starts with its own "error: line N column M: "; we print the location
/// ourselves, in the file:line:col form that editors and terminals link.
fn strip_location_prefix(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.strip_prefix("line ") {
        Some(rest) => match rest.find(": ") {
            Some(i) => rest[i + 2..].to_string(),
            None => first.to_string(),
        },
        None => first.split(" at line ").next().unwrap_or(first).to_string(),
    }
}

/// serde's message for an untagged enum says nothing useful; say what was expected instead.
fn untagged_message(msg: String) -> String {
    if msg.starts_with("budget breached") {
        return format!("the document is too large once its aliases are expanded ({msg}); a spec needs no alias bombs").replace("budget breached: ", "");
    }
    // The parser's advice is for programs that call it; a spec's author can only remove the key.
    if let Some(key) = msg.strip_suffix(", set DuplicateKeyPolicy in Options if acceptable") {
        return format!("{key}; each key may appear once");
    }
    if msg.contains("did not match any variant of untagged enum SysctlSetting") {
        "expected a value (number or string) or `{ value: ..., optional: true }`".into()
    } else {
        msg
    }
}

/// For "unknown field `crate`, expected one of `name`, `create`", suggests the closest field.
fn did_you_mean(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let expected = rest
        .split_once("expected one of ")
        .map(|x| x.1)
        .or_else(|| rest.split_once("expected ").map(|x| x.1))?;
    let best = expected
        .split(',')
        .map(|s| s.trim().trim_matches('`'))
        .filter(|s| !s.is_empty())
        .map(|cand| (strsim::damerau_levenshtein(unknown, cand), cand))
        .min()?;
    let limit = (unknown.len() / 3).max(2);
    (best.0 <= limit).then(|| format!("did you mean `{}`?", best.1))
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

    #[test]
    fn suggestion_only_for_close_names() {
        assert_eq!(
            did_you_mean("unknown field `sysctl`, expected one of `user`, `sysctls`"),
            Some("did you mean `sysctls`?".into())
        );
        assert_eq!(
            did_you_mean("unknown field `zzzzzz`, expected one of `user`, `sysctls`"),
            None
        );
    }
}
