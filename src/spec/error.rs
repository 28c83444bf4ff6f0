//! A spec that cannot be used, with every problem found in it: each at its file, line, column
//! and field, in plain words, with what to do about it.

use super::path::{Seg, render_path};
use super::tree::Pos;
use std::fmt;

/// A problem as a check finds it: the field, where it is in the text, what is wrong, and what
/// to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub path: Vec<Seg>,
    pub at: Option<Pos>,
    pub message: String,
    pub hint: Option<String>,
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

impl From<Found> for Problem {
    fn from(f: Found) -> Self {
        Problem {
            line: f.at.map(|a| a.0),
            column: f.at.map(|a| a.1),
            path: render_path(&f.path),
            message: f.message,
            hint: f.hint,
        }
    }
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
                let shown = line.replace('\t', " ");
                write!(f, "\n   | {shown}\n   | {}^", " ".repeat(col - 1))?;
            }
            if let Some(hint) = &p.hint {
                write!(f, "\n   = hint: {hint}")?;
            }
        }
        Ok(())
    }
}

impl SpecError {
    /// Problems in the text of `file`, shown with the lines they point at.
    pub fn new(file: &str, text: &str, problems: Vec<Problem>) -> Self {
        Self {
            file: file.to_string(),
            problems,
            source_lines: text.lines().map(truncate_line).collect(),
        }
    }

    /// One problem with the whole file (it cannot be read, or is no YAML at all).
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        Self::new(
            file,
            "",
            vec![Problem {
                line: None,
                column: None,
                path: String::new(),
                message: message.into(),
                hint: None,
            }],
        )
    }

    /// A problem with a command-line flag that stands in for a spec field.
    pub fn from_flag(flag: &str, message: String) -> Self {
        Self::whole(flag, message)
    }
}

fn truncate_line(line: &str) -> String {
    line.chars().take(120).collect()
}
