//! One verify check: its name, whether it passed, and what it saw.
//!
//! What a check saw often comes from the user's side (kubectl's and slirp4netns's stderr, a
//! listener's words), and root prints it at a terminal: control characters are written out as
//! `\xNN`, so no escape sequence reaches the terminal (found in review). Lines and tabs stay.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn pass(name: &str, detail: String) -> Self {
        Check {
            name: name.into(),
            ok: true,
            detail: printable(detail),
        }
    }
    pub fn fail(name: &str, detail: String) -> Self {
        Check {
            name: name.into(),
            ok: false,
            detail: printable(detail),
        }
    }
}

fn printable(text: String) -> String {
    if !text.chars().any(is_escaped) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_escaped(c) {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_control_character_of_a_detail_reaches_the_terminal() {
        let c = Check::fail(
            "kubectl",
            "a\u{1b}]0;owned\u{7}\u{1b}[2Jb\r\nnext\tline\u{9b}".into(),
        );
        assert_eq!(
            c.detail,
            "a\\x1b]0;owned\\x07\\x1b[2Jb\\x0d\nnext\tline\\x9b"
        );
        assert_eq!(Check::pass("x", "plain".into()).detail, "plain");
    }
}
