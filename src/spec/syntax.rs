//! What is wrong with the YAML text itself, in plain words: a parser error, told at the line
//! that is really at fault and why (indentation, a tab, an unclosed bracket, a missing colon),
//! keys given twice, and lines that indentation folds into the text of the line above.

use super::error::Found;
use super::path::Seg;
use super::tree::{Node, Pos, Scalar, Tree, pos};
use serde_saphyr::granit_parser::ErrorKind;
use serde_saphyr::{Error, ExternalMessageSource, Spanned};

/// The one error that stopped the parser, explained.
pub fn parse_error(e: &Error, text: &str) -> Found {
    let lines: Vec<&str> = text.lines().collect();
    let at = e.location().map(|l| pos(&l)).filter(|p| p.0 > 0);
    let original = strip_location_prefix(&e.without_snippet().to_string());
    let generic = |at: Option<Pos>| Found {
        path: at.map(|a| enclosing_path(&lines, a.0)).unwrap_or_default(),
        at,
        message: format!("this is not valid YAML: {original}"),
        hint: Some("check the indentation and quoting of this line and the one above it".into()),
    };
    let kind = match e.without_snippet() {
        Error::ExternalMessage { source, .. } => match &**source {
            ExternalMessageSource::Parser(scan) => Some(scan.kind().clone()),
            _ => None,
        },
        Error::UnknownAnchor { .. } => {
            return Found {
                hint: Some(
                    "define the anchor (`&name`) before the alias, or write the value out".into(),
                ),
                message: "this alias (`*name`) refers to no anchor defined above it".into(),
                ..generic(at)
            };
        }
        Error::MultipleDocuments { .. } => {
            return Found {
                message: "the file holds more than one YAML document (a second `---`); a spec is one document".into(),
                hint: Some("remove the `---` line, or keep each spec in its own file".into()),
                ..generic(at)
            };
        }
        _ => None,
    };
    if original.starts_with("budget breached") {
        return Found {
            message: format!(
                "the document is too large once its aliases are expanded ({}); a spec needs no alias bombs",
                original.trim_start_matches("budget breached: ")
            ),
            hint: None,
            ..generic(at)
        };
    }
    let (Some(kind), Some(at)) = (kind, at) else {
        return generic(at);
    };
    let line = at.0;
    match kind {
        ErrorKind::TabInBlockIndentation
        | ErrorKind::TabInIndentation
        | ErrorKind::TabNotAllowed
        | ErrorKind::TabInPlainScalar
        | ErrorKind::TabAtBlockScalarStart => {
            let text = lines.get(line - 1).copied().unwrap_or_default();
            let column = text.chars().position(|c| c == '\t').map_or(at.1, |i| i + 1);
            Found {
                path: enclosing_path(&lines, line),
                at: Some((line, column)),
                message: "a tab character here: YAML indents and separates with spaces only".into(),
                hint: Some("replace the tab with spaces".into()),
            }
        }
        ErrorKind::MappingValueNotAllowed => {
            deeper_than_above(&lines, line).unwrap_or_else(|| Found {
                message: "a `: ` inside a value: YAML reads it as a second key on this line".into(),
                hint: Some("put the value in quotes".into()),
                ..generic(Some(at))
            })
        }
        ErrorKind::ExpectedBlockMappingKey
        | ErrorKind::ExpectedBlockSequenceEntry
        | ErrorKind::BlockSequenceEntryNotAllowed
        | ErrorKind::InvalidIndentation => {
            misaligned(&lines, line).unwrap_or_else(|| generic(Some(at)))
        }
        ErrorKind::SimpleKeyExpected | ErrorKind::InvalidSimpleKey => {
            let text = lines.get(line - 1).map_or("", |l| l.trim());
            Found {
                path: enclosing_path(&lines, line),
                at: Some((line, indent(lines.get(line - 1).unwrap_or(&"")) + 1)),
                message: format!("line {line} has no `:` after its key"),
                hint: Some(format!(
                    "write it as `key: value`, such as `{}`",
                    text.replacen(' ', ": ", 1)
                )),
            }
        }
        ErrorKind::ExpectedFlowMappingSeparator
        | ErrorKind::ExpectedFlowSequenceSeparator
        | ErrorKind::UnclosedFlowCollection { .. }
        | ErrorKind::UnexpectedEofFlowMapping
        | ErrorKind::UnexpectedEofFlowSequence
        | ErrorKind::UnexpectedEofImplicitFlowMapping => {
            unclosed_bracket(&lines, at).unwrap_or_else(|| generic(Some(at)))
        }
        ErrorKind::UnclosedQuotedScalar => Found {
            message: "the quote that starts here is not closed".into(),
            hint: Some("add the closing quote at the end of the value".into()),
            ..generic(Some(at))
        },
        _ => generic(Some(at)),
    }
}

/// Keys given twice, and lines folded into the text above them: problems the parser lets
/// pass. The second list holds the fields whose value is not what the author wrote.
pub fn layout(tree: &Tree) -> (Vec<Found>, Vec<Vec<Seg>>) {
    let lines: Vec<&str> = tree.text.lines().collect();
    let mut out = Vec::new();
    let mut garbled = Vec::new();
    walk(
        tree,
        &lines,
        &tree.root,
        &mut Vec::new(),
        &mut out,
        &mut garbled,
    );
    (out, garbled)
}

fn walk(
    tree: &Tree,
    lines: &[&str],
    node: &Spanned<Node>,
    path: &mut Vec<Seg>,
    out: &mut Vec<Found>,
    garbled: &mut Vec<Vec<Seg>>,
) {
    match &node.value {
        Node::Map(entries) => {
            for (i, e) in entries.iter().enumerate() {
                path.push(Seg::Key(e.key.value.clone()));
                if let Some(first) = entries[..i].iter().find(|f| f.key.value == e.key.value) {
                    let k = &e.key.value;
                    out.push(Found {
                        path: path.clone(),
                        at: Some(pos(&e.key.referenced)),
                        message: format!("`{k}` is given twice; each key may appear once"),
                        hint: Some(format!(
                            "the first `{k}` is on line {}; keep one of them",
                            first.key.referenced.line()
                        )),
                    });
                } else {
                    walk(tree, lines, &e.value, path, out, garbled);
                }
                path.pop();
            }
        }
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(tree, lines, item, path, out, garbled);
                path.pop();
            }
        }
        Node::Scalar(Scalar::Str(value)) => {
            if let Some(found) = folded(tree, lines, node, value, path) {
                out.push(found);
                garbled.push(path.clone());
            }
        }
        Node::Scalar(_) => {}
    }
}

/// A plain (unquoted) text that runs on over a line that looks like a key or a list item:
/// that line was meant to stand on its own, and is indented too deep.
fn folded(
    tree: &Tree,
    lines: &[&str],
    node: &Spanned<Node>,
    value: &str,
    path: &[Seg],
) -> Option<Found> {
    let src = tree.source(&node.referenced);
    if !src.contains('\n') || src.starts_with(['"', '\'']) {
        return None;
    }
    let (first, column) = pos(&node.referenced);
    let first_text = lines.get(first - 1)?;
    // Only indentation before it: the content of a `|` or `>` block, which may run on.
    if first_text.chars().take(column - 1).all(char::is_whitespace) {
        return None;
    }
    let (offset, cont) = src.lines().enumerate().skip(1).find(|(_, l)| {
        let t = l.trim();
        t == "-" || t.starts_with("- ") || t.contains(": ") || t.ends_with(':')
    })?;
    let line = first + offset;
    let width = indent(first_text);
    Some(Found {
        path: path.to_vec(),
        at: Some((line, indent(lines.get(line - 1).unwrap_or(&cont)) + 1)),
        message: format!(
            "line {line} is indented more than line {first}, so YAML reads it as more of the text on line {first}: {value:?}"
        ),
        hint: Some(format!(
            "indent line {line} by {width} {}, like line {first}",
            plural(width, "space")
        )),
    })
}

/// A line indented deeper than the `key: value` line above it, which continues that value.
fn deeper_than_above(lines: &[&str], line: usize) -> Option<Found> {
    let text = lines.get(line - 1)?;
    let above = (1..line).rev().find(|l| is_content(lines[l - 1]))?;
    let above_text = lines[above - 1];
    if indent(text) <= indent(above_text) {
        return None;
    }
    let width = indent(above_text);
    Some(Found {
        path: enclosing_path(lines, above),
        at: Some((line, indent(text) + 1)),
        message: format!(
            "line {line} is indented more than line {above}, so YAML reads it as more of the value on line {above}"
        ),
        hint: Some(format!(
            "indent `{}` by {width} {}, like `{}` on line {above}",
            token(text),
            plural(width, "space"),
            token(above_text)
        )),
    })
}

/// A line whose indentation matches none of the blocks open above it, or that mixes list
/// items and keys at one level.
fn misaligned(lines: &[&str], line: usize) -> Option<Found> {
    let text = lines.get(line - 1)?;
    let n = indent(text);
    let levels = open_levels(lines, line);
    let at = Some((line, n + 1));
    let path = enclosing_path(lines, line);
    if let Some((_, sibling)) = levels.iter().find(|(i, _)| *i == n) {
        let sibling_text = lines[sibling - 1];
        let item = |t: &str| t.trim_start().starts_with('-');
        let (message, hint) = match (item(text), item(sibling_text)) {
            (false, true) => (
                format!("line {line} is not a list item, but line {sibling} at the same indentation is"),
                "start it with `- ` to add it to the list, or indent it under the key it belongs to".to_string(),
            ),
            (true, false) => (
                format!("line {line} is a list item among the keys of a mapping"),
                format!(
                    "indent the list under its key, deeper than `{}` on line {sibling}",
                    token(sibling_text)
                ),
            ),
            _ => return None,
        };
        return Some(Found {
            path,
            at,
            message,
            hint: Some(hint),
        });
    }
    let choices: Vec<String> = levels
        .iter()
        .take(3)
        .enumerate()
        .map(|(k, (i, l))| {
            let unit = if k == 0 {
                format!(" {}", plural(*i, "space"))
            } else {
                String::new()
            };
            format!("by {i}{unit} like `{}` on line {l}", token(lines[l - 1]))
        })
        .collect();
    Some(Found {
        path,
        at,
        message: format!(
            "line {line} is indented by {n} {}, which lines up with no line above it",
            plural(n, "space")
        ),
        hint: Some(format!("indent it {}", choices.join(", or "))),
    })
}

/// The `{` or `[` that the parser found no end for, before the place where it gave up.
fn unclosed_bracket(lines: &[&str], at: Pos) -> Option<Found> {
    let mut open: Vec<(Pos, char)> = Vec::new();
    'lines: for (i, l) in lines.iter().enumerate().take(at.0) {
        let mut quote = None;
        let mut prev = ' ';
        for (j, c) in l.chars().enumerate() {
            if (i + 1, j + 1) >= at {
                break 'lines;
            }
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if prev.is_whitespace() => break,
                (None, '{' | '[') => open.push(((i + 1, j + 1), c)),
                (None, '}' | ']') => {
                    open.pop();
                }
                _ => {}
            }
            prev = c;
        }
    }
    let ((line, column), bracket) = open.pop()?;
    let (close, what) = if bracket == '{' {
        ('}', "mapping")
    } else {
        (']', "list")
    };
    Some(Found {
        path: enclosing_path(lines, line),
        at: Some((line, column)),
        message: format!("this `{bracket}` is not closed"),
        hint: Some(format!(
            "end the {what} with `{close}`, on line {line} or where it ends"
        )),
    })
}

/// The keys that enclose a line, read from the indentation above it (with the key on the
/// line itself): the field a syntax error is in, as far as the text tells.
fn enclosing_path(lines: &[&str], line: usize) -> Vec<Seg> {
    let Some(text) = lines.get(line.wrapping_sub(1)) else {
        return Vec::new();
    };
    let mut path: Vec<Seg> = key_of(text).into_iter().collect();
    let mut level = indent(text);
    for l in (1..line).rev() {
        let t = lines[l - 1];
        if level == 0 {
            break;
        }
        if is_content(t) && indent(t) < level {
            level = indent(t);
            if let Some(k) = key_of(t) {
                path.insert(0, k);
            }
        }
    }
    path
}

/// The lines above that open a block: each one less indented than the last.
fn open_levels(lines: &[&str], line: usize) -> Vec<(usize, usize)> {
    let mut levels: Vec<(usize, usize)> = Vec::new();
    for l in (1..line).rev() {
        let t = lines[l - 1];
        if is_content(t) && levels.last().is_none_or(|(i, _)| indent(t) < *i) {
            levels.push((indent(t), l));
        }
    }
    levels
}

/// The key a line starts with (after a list dash), if it is a plain `key:`.
fn key_of(line: &str) -> Option<Seg> {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let (k, rest) = t.split_once(':')?;
    let plain = !k.is_empty() && !k.contains([' ', '{', '[', '"', '\'', '#']);
    (plain && (rest.is_empty() || rest.starts_with(' '))).then(|| Seg::Key(k.to_string()))
}

/// A line's first token, as it is shown in a hint: `name:` or `-`.
fn token(line: &str) -> String {
    let t = line.trim_start();
    if t.starts_with('-') {
        return "-".into();
    }
    match t.split_once(':') {
        Some((k, _)) => format!("{k}:"),
        None => t.split_whitespace().next().unwrap_or_default().to_string(),
    }
}

/// Leading whitespace; a tab counts as one, though only its error is reported.
fn indent(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ' || *c == '\t').count()
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.into()
    } else {
        format!("{word}s")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::path::key;

    #[test]
    fn paths_from_indentation() {
        let lines = ["user:", "  name: k3s", "   create: true", "k3s:"];
        assert_eq!(
            enclosing_path(&lines, 2),
            [key("user"), key("name")].to_vec()
        );
        assert_eq!(
            enclosing_path(&lines, 3),
            [key("user"), key("name"), key("create")].to_vec()
        );
        assert_eq!(enclosing_path(&lines, 4), [key("k3s")].to_vec());
    }
}
