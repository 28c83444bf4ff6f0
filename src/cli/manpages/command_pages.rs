//! groundwork(1) and a page per command (groundwork-plan(1), groundwork-helper-sudoers(1), ...):
//! NAME, SYNOPSIS, DESCRIPTION and OPTIONS from the clap definitions (clap_mangen), then SPEC,
//! EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO.

use super::page::Page;
use super::reference::{self, SPEC_COMMANDS};
use super::roff_text::{entries, paragraph, section, see_also, tagged};
use crate::cli::args::Cli;
use clap::{Command, CommandFactory};
use clap_mangen::Man;
use clap_mangen::roff::Roff;
use std::io::Write;

/// The command line, built as clap builds it to parse (global options propagated, display
/// names such as `groundwork-plan` set), without clap's `help` command.
fn cli() -> Command {
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    cli
}

/// The commands that get a page: every visible one, and for a group (`helper`) its members.
fn commands(cli: &Command) -> Vec<&Command> {
    fn visible(c: &Command) -> Vec<&Command> {
        c.get_subcommands().filter(|s| !s.is_hide_set()).collect()
    }
    visible(cli)
        .into_iter()
        .flat_map(|c| {
            if c.has_subcommands() {
                visible(c)
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `groundwork-helper-sudoers` → `helper-sudoers`: the key of `reference`'s tables.
fn key(cmd: &Command) -> String {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    name.strip_prefix("groundwork-").unwrap_or(name).to_string()
}

fn page_name(cmd: &Command) -> String {
    cmd.get_display_name().unwrap_or(cmd.get_name()).to_string()
}

pub fn all() -> Vec<Page> {
    let cli = cli();
    let mut pages = vec![top(&cli)];
    pages.extend(commands(&cli).into_iter().map(|c| command(&cli, c)));
    pages
}

/// The sections clap_mangen renders, each call with its own preamble, joined with one.
fn clap_sections(man: &Man, with_options: bool) -> String {
    type Render = fn(&Man, &mut dyn Write) -> std::io::Result<()>;
    let mut parts: Vec<Render> = vec![
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
    ];
    if with_options {
        parts.push(Man::render_options_section);
    }
    let mut out = String::new();
    let mut preamble = String::new();
    for render in parts {
        let mut buf = Vec::new();
        render(man, &mut buf).expect("rendering to memory cannot fail");
        let text = String::from_utf8(buf).expect("clap_mangen writes UTF-8");
        if out.is_empty() {
            preamble = text[..text.find(".TH").unwrap_or(0)].to_string();
            out.push_str(&text);
        } else {
            out.push_str(text.strip_prefix(preamble.as_str()).unwrap_or(&text));
        }
    }
    out
}

fn man(cmd: &Command) -> Man {
    Man::new(cmd.clone())
        .section("1")
        .source(format!("groundwork {}", env!("CARGO_PKG_VERSION")))
        .manual("groundwork manual")
}

fn exit_section(roff: &mut Roff, command: Option<&str>) {
    section(roff, "EXIT STATUS");
    for (code, text) in reference::exit_status(command) {
        tagged(roff, &code.to_string(), &text);
    }
}

/// EXIT STATUS, ENVIRONMENT, FILES: the sections every page has, for its command.
fn reference_sections(roff: &mut Roff, command: Option<&str>) {
    if command.is_none_or(|c| SPEC_COMMANDS.contains(&c)) {
        section(roff, "SPEC");
        paragraph(roff, &reference::spec_resolution());
        paragraph(
            roff,
            "The format of a spec is in groundwork-spec(5); `groundwork init` writes one to start from.",
        );
    }
    exit_section(roff, command);
    entries(roff, "ENVIRONMENT", &reference::environment(), command);
    entries(roff, "FILES", &reference::files(), command);
}

fn top(cli: &Command) -> Page {
    let mut text = clap_sections(&man(cli), true);
    let mut roff = Roff::default();
    section(&mut roff, "COMMANDS");
    for c in commands(cli) {
        let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
        tagged(&mut roff, &format!("{}(1)", page_name(c)), &about);
    }
    reference_sections(&mut roff, None);
    let mut refs: Vec<(String, &str)> = commands(cli).iter().map(|c| (page_name(c), "1")).collect();
    refs.push(("groundwork-spec".into(), "5"));
    see_also(&mut roff, &refs);
    text.push_str(&roff.to_roff());
    Page {
        name: page_name(cli),
        section: "1",
        roff: text,
    }
}

fn command(cli: &Command, cmd: &Command) -> Page {
    let key = key(cmd);
    let mut text = clap_sections(&man(cmd), cmd.get_arguments().any(|a| !a.is_hide_set()));
    let mut roff = Roff::default();
    reference_sections(&mut roff, Some(&key));
    see_also(
        &mut roff,
        &[(page_name(cli), "1"), ("groundwork-spec".into(), "5")],
    );
    text.push_str(&roff.to_roff());
    Page {
        name: page_name(cmd),
        section: "1",
        roff: text,
    }
}
