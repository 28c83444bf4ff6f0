//! The manual: groundwork(1), a page per command (groundwork-plan(1), ...) and
//! groundwork-spec(5). The command pages come from the clap definitions, the spec's page from
//! the JSON Schema that the spec types generate, and the EXIT STATUS, ENVIRONMENT and FILES
//! sections from `reference`, which takes its values from the code.

mod command_pages;
mod page;
mod reference;
mod roff_text;
mod spec_page;

pub use page::Page;

/// Every page, groundwork(1) first.
pub fn all() -> Vec<Page> {
    let mut pages = command_pages::all();
    pages.push(spec_page::page());
    pages
}

/// The page `name` asks for: `plan`, `groundwork-plan`, `groundwork-plan.1`,
/// `groundwork-plan(1)`, `helper-sudoers`, `spec`, `groundwork-spec(5)`...
pub fn find(name: &str) -> Option<Page> {
    let bare = name
        .trim_end_matches(|c: char| c == ')' || c.is_ascii_digit())
        .trim_end_matches(['(', '.']);
    let bare = bare.replace(' ', "-");
    let wanted = if bare == "groundwork" || bare.starts_with("groundwork-") {
        bare
    } else {
        format!("groundwork-{bare}")
    };
    all().into_iter().find(|p| p.name == wanted)
}
