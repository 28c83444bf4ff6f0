//! The plan as people read it, in the manner of Terraform: one symbol per item, the reason,
//! before → after, unified diffs for files, and a summary line. Colour comes from anstream,
//! which drops it when stdout is not a terminal or NO_COLOR is set.

use super::wrap::wrap;
use crate::plan::{Action, Implication, Item, Plan};
use anstyle::{AnsiColor, Style};
use std::fmt::Write;

const RED: Style = AnsiColor::Red.on_default().bold();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

fn symbol(a: Action) -> (&'static str, Style) {
    match a {
        Action::Create => ("+", GREEN),
        Action::Update => ("~", YELLOW),
        Action::Run => (">", CYAN),
        Action::Blocked => ("!", RED),
    }
}

fn implication(i: &Implication) -> &'static str {
    match i {
        Implication::RestartUnit => "restarts k3s-rootless",
    }
}

/// A line under the items that says what the symbols mean; on a narrow terminal it breaks
/// between entries, never inside one.
fn legend(width: Option<usize>) -> String {
    const LABEL: &str = "Legend:";
    let mut entries: Vec<(String, usize)> = [
        (Action::Create, "create"),
        (Action::Update, "update"),
        (Action::Run, "run"),
        (Action::Blocked, "blocked (manual fix)"),
    ]
    .into_iter()
    .map(|(action, meaning)| {
        let (sym, style) = symbol(action);
        (
            format!("{style}{sym}{style:#} {meaning}"),
            sym.len() + 1 + meaning.len(),
        )
    })
    .collect();
    entries.push((
        format!("{DIM}(root){DIM:#} needs root"),
        "(root) needs root".len(),
    ));
    let mut out = String::from(LABEL);
    let mut column = LABEL.len();
    for (i, (text, len)) in entries.into_iter().enumerate() {
        let gap = if i == 0 { 1 } else { 2 };
        if width.is_some_and(|w| column + gap + len > w) {
            out.push('\n');
            out.push_str(&" ".repeat(LABEL.len() + 1));
            column = LABEL.len() + 1;
        } else {
            out.push_str(&" ".repeat(gap));
            column += gap;
        }
        out.push_str(&text);
        column += len;
    }
    out
}

/// The plan for people, wrapped to the terminal (`wrap::width`). `next`: the command that
/// applies it, for the closing hint (None: no hint, as above apply's own prompt).
pub fn plan(plan: &Plan, next: Option<&str>) -> String {
    plan_at_width(plan, next, super::wrap::width())
}

/// The plan for people, wrapped to `width` columns (None: not wrapped).
pub fn plan_at_width(plan: &Plan, next: Option<&str>, width: Option<usize>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{BOLD}groundwork plan{BOLD:#} for user {BOLD}{}{BOLD:#} from {}",
        plan.user, plan.spec
    );
    for note in &plan.notes {
        let head = format!("note: {}: ", note.resource);
        let _ = writeln!(
            out,
            "{YELLOW}note:{YELLOW:#} {}: {}",
            note.resource,
            wrap(&note.text, head.chars().count(), 6, width)
        );
    }
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "\n{GREEN}In sync:{GREEN:#} the host matches the spec. Nothing to do."
        );
        return out;
    }
    out.push('\n');
    for item in &plan.items {
        render_item(&mut out, item, width);
    }
    let changes = plan.changes().count();
    let root = plan.changes().filter(|i| i.privileged).count();
    let blocked = plan.blocked().count();
    out.push('\n');
    let _ = writeln!(out, "{}", legend(width));
    let _ = write!(
        out,
        "{BOLD}Plan:{BOLD:#} {changes} to change ({root} need root)"
    );
    if blocked > 0 {
        let _ = write!(out, ", {RED}{blocked} blocked{RED:#}");
    }
    out.push('\n');
    if blocked > 0 {
        let _ = writeln!(
            out,
            "Blocked items need the manual fix shown; `apply` cannot close them."
        );
    } else if let Some(next) = next {
        let _ = writeln!(out, "Run `{next}` to make these changes.");
    }
    out
}

/// Where an item's text starts: after `  + resource    `.
const TEXT_COLUMN: usize = 16;

fn render_item(out: &mut String, item: &Item, width: Option<usize>) {
    let (sym, style) = symbol(item.action);
    let name = format!("{:<11}", item.resource.name());
    let head_width = 5 + name.chars().count();
    let mut head = item.summary.clone();
    if item.privileged {
        head.push_str(" (root)");
    }
    let mut head = wrap(&head, head_width, TEXT_COLUMN, width);
    if item.privileged {
        head.truncate(head.len() - "(root)".len());
        let _ = write!(head, "{DIM}(root){DIM:#}");
    }
    let _ = writeln!(out, "  {style}{sym}{style:#} {DIM}{name}{DIM:#} {head}");
    let pad = " ".repeat(TEXT_COLUMN);
    // A labelled line (`why: ...`), its continuation lines under the text after the label.
    let labelled = |out: &mut String, label: &str, label_style: Style, text: &str| {
        let at = TEXT_COLUMN + label.chars().count() + 1;
        let text = wrap(text, at, at, width).replace('→', &format!("{DIM}→{DIM:#}"));
        let _ = writeln!(out, "{pad}{label_style}{label}{label_style:#} {text}");
    };
    if !item.reason.is_empty() {
        labelled(out, "why:", DIM, &item.reason);
    }
    if item.is_file {
        render_file_diff(out, item, &pad);
    } else if let (Some(b), Some(a)) = (&item.before, &item.after) {
        labelled(out, "now:", DIM, &format!("{b}  →  {a}"));
    }
    if let Some(fix) = &item.manual_fix {
        labelled(out, "fix:", YELLOW, fix);
    }
    if !item.implies.is_empty() {
        let list: Vec<&str> = item.implies.iter().map(implication).collect();
        labelled(out, "then:", DIM, &list.join(", "));
    }
}

fn render_file_diff(out: &mut String, item: &Item, pad: &str) {
    let before = item.before.as_deref().unwrap_or("");
    let after = item.after.as_deref().unwrap_or("");
    let path = item.id.strip_prefix("file").unwrap_or(&item.id);
    let diff = similar::TextDiff::from_lines(before, after);
    let old_header = if item.before.is_some() {
        path.to_string()
    } else {
        "/dev/null".into()
    };
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&old_header, path)
        .to_string();
    for line in text.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            BOLD
        } else if line.starts_with('+') {
            GREEN
        } else if line.starts_with('-') {
            RED
        } else if line.starts_with("@@") {
            CYAN
        } else {
            Style::new()
        };
        let _ = writeln!(out, "{pad}{style}{line}{style:#}");
    }
}
