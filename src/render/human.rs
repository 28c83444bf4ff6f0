//! The plan as people read it, in the manner of Terraform: one symbol per item, the reason,
//! before → after, unified diffs for files, and a summary line. Colour comes from anstream,
//! which drops it when stdout is not a terminal or NO_COLOR is set.

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

/// The plan for people. `next`: the command that applies it, for the closing hint (None: no
/// hint, as above apply's own prompt).
pub fn plan(plan: &Plan, next: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{BOLD}groundwork plan{BOLD:#} for user {BOLD}{}{BOLD:#} from {}",
        plan.user, plan.spec
    );
    for note in &plan.notes {
        let _ = writeln!(
            out,
            "{YELLOW}note:{YELLOW:#} {}: {}",
            note.resource, note.text
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
        render_item(&mut out, item);
    }
    let changes = plan.changes().count();
    let root = plan.changes().filter(|i| i.privileged).count();
    let blocked = plan.blocked().count();
    out.push('\n');
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

fn render_item(out: &mut String, item: &Item) {
    let (sym, style) = symbol(item.action);
    let _ = write!(
        out,
        "  {style}{sym}{style:#} {DIM}{:<11}{DIM:#} {}",
        item.resource.name(),
        item.summary
    );
    if item.privileged {
        let _ = write!(out, " {DIM}(root){DIM:#}");
    }
    out.push('\n');
    let pad = "                ";
    if !item.reason.is_empty() {
        let _ = writeln!(out, "{pad}{DIM}why:{DIM:#} {}", item.reason);
    }
    if item.is_file {
        render_file_diff(out, item, pad);
    } else if let (Some(b), Some(a)) = (&item.before, &item.after) {
        let _ = writeln!(out, "{pad}{DIM}now:{DIM:#} {b}  {DIM}→{DIM:#}  {a}");
    }
    if let Some(fix) = &item.manual_fix {
        let _ = writeln!(out, "{pad}{YELLOW}fix:{YELLOW:#} {fix}");
    }
    if !item.implies.is_empty() {
        let list: Vec<&str> = item.implies.iter().map(implication).collect();
        let _ = writeln!(out, "{pad}{DIM}then:{DIM:#} {}", list.join(", "));
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
