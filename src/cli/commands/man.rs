//! `groundwork man [PAGE]` prints a page (groundwork(1) by default); `groundwork man --dir DIR`
//! writes every page to DIR, for packaging.

use crate::cli::manpages::{self, Page};
use crate::exit;
use std::path::Path;

pub fn run(page: Option<&str>, dir: Option<&Path>) -> i32 {
    if let Some(dir) = dir {
        return write_all(dir);
    }
    match manpages::find(page.unwrap_or("groundwork")) {
        Some(p) => {
            crate::out!("{}", p.roff);
            exit::OK
        }
        None => {
            let names: Vec<String> = manpages::all().iter().map(Page::file_name).collect();
            eprintln!(
                "error: no manual page {:?}; the pages are: {}",
                page.unwrap_or_default(),
                names.join(", ")
            );
            exit::ERROR
        }
    }
}

/// Each page to DIR/NAME.SECTION, atomically; DIR must exist (a packaging script's typo should
/// fail, not scatter pages). Prints each path written.
fn write_all(dir: &Path) -> i32 {
    for page in manpages::all() {
        let path = dir.join(page.file_name());
        if let Err(e) = crate::atomic::write_new_file(&path, page.roff.as_bytes(), 0o644) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return exit::ERROR;
        }
        crate::outln!("{}", path.display());
    }
    exit::OK
}
