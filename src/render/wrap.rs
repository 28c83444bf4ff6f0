//! Wrapping people's text to the terminal: how wide it is, and lines broken at spaces with
//! their continuation indented under the text they continue.

use std::io::IsTerminal;

/// Below this many columns for the text itself, a wrap would make one word a line.
const MIN_TEXT_WIDTH: usize = 20;

/// The columns to wrap to: `$COLUMNS` when it is a positive number (so a script or a test can
/// ask for a width), else the width of the terminal on stdout. None, for no wrapping, when
/// stdout is not a terminal: a file or a pipe gets whole lines, which grep and diff handle
/// better than lines broken at a width nobody sees.
pub fn width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_columns()
}

/// The width of the terminal on stdout, as the kernel knows it (TIOCGWINSZ).
fn terminal_columns() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` to the pointer, which points to one that lives
    // through the call; a failure leaves it zeroed.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// `text` broken at spaces into lines of at most `width` columns: the first line starts after
/// `first` columns that are already printed, the others after `indent` spaces. A word longer
/// than a line stays whole. With no width, `text` as it is.
pub fn wrap(text: &str, first: usize, indent: usize, width: Option<usize>) -> String {
    let Some(width) = width else {
        return text.to_string();
    };
    let width = width.max(indent + MIN_TEXT_WIDTH);
    let mut out = String::new();
    let mut column = first;
    let mut line_empty = true;
    // Split on single spaces so that runs of spaces (`before  →  after`) survive where no
    // line breaks.
    for word in text.split(' ') {
        let len = word.chars().count();
        if !line_empty && column + 1 + len > width {
            while out.ends_with(' ') {
                out.pop();
            }
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
            line_empty = true;
            if word.is_empty() {
                continue;
            }
        } else if !line_empty {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
        line_empty = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_at_spaces_and_indents_under_the_text() {
        let text = "install dbus-user-session, fuse-overlayfs, slirp4netns, uidmap (root)";
        assert_eq!(
            wrap(text, 16, 16, Some(60)),
            "install dbus-user-session, fuse-overlayfs,\n                slirp4netns, uidmap (root)"
        );
    }

    #[test]
    fn no_width_no_wrapping() {
        let text = "a ".repeat(200);
        assert_eq!(wrap(&text, 0, 4, None), text);
    }

    #[test]
    fn keeps_runs_of_spaces_and_long_words() {
        assert_eq!(wrap("0  →  1", 5, 5, Some(80)), "0  →  1");
        let long = "x".repeat(70);
        assert_eq!(
            wrap(&format!("a {long} b"), 10, 10, Some(40)),
            format!("a\n          {long}\n          b")
        );
    }

    #[test]
    fn every_line_fits() {
        let text = "the values are not persisted, so a reboot would lose them and k3s would fail";
        for width in 30..90 {
            let wrapped = wrap(text, 21, 21, Some(width));
            let first = wrapped.lines().next().unwrap().chars().count() + 21;
            assert!(first <= width.max(41), "{width}: {wrapped:?}");
            for line in wrapped.lines().skip(1) {
                assert!(
                    line.chars().count() <= width.max(41),
                    "{width}: {wrapped:?}"
                );
                assert!(line.starts_with(&" ".repeat(21)));
            }
            assert_eq!(
                wrapped.split_whitespace().collect::<Vec<_>>().join(" "),
                text
            );
        }
    }
}
