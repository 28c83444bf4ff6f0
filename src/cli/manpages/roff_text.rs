//! Roff for the parts of a page that clap_mangen does not write: paragraphs whose `code` is set
//! in bold, the tagged lists of EXIT STATUS, ENVIRONMENT and FILES, and SEE ALSO. The roff
//! crate escapes the text.

use super::reference::Entry;
use clap_mangen::roff::{Inline, Roff, bold, roman};

/// Text in which `backquoted` parts are code, shown in bold.
pub fn inline(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| if i % 2 == 1 { bold(part) } else { roman(part) })
        .collect()
}

pub fn section(roff: &mut Roff, title: &str) {
    roff.control("SH", [title]);
}

pub fn paragraph(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.text(inline(text));
}

/// A tagged paragraph: `tag` in bold, then `text` indented below it.
pub fn tagged(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text(inline(text));
}

pub fn entries(roff: &mut Roff, title: &str, entries: &[Entry], command: Option<&str>) {
    let shown: Vec<&Entry> = entries.iter().filter(|e| e.concerns(command)).collect();
    if shown.is_empty() {
        return;
    }
    section(roff, title);
    for e in shown {
        tagged(roff, &e.name, &e.text);
    }
}

/// References to other pages, `name(section)`, comma-separated.
pub fn see_also(roff: &mut Roff, pages: &[(String, &str)]) {
    section(roff, "SEE ALSO");
    let mut line = Vec::new();
    for (i, (name, sec)) in pages.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(name.as_str()));
        line.push(roman(format!("({sec})")));
    }
    roff.text(line);
}

/// Preformatted lines (an example file), indented.
pub fn example(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    for line in text.lines() {
        if line.is_empty() {
            roff.control("sp", []);
        } else {
            roff.text([roman(line)]);
        }
    }
    roff.control("fi", []);
    roff.control("RE", []);
}
