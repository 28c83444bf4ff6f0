//! `groundwork completions SHELL`: completions for the commands people type. clap_complete
//! offers hidden commands too (`ansible-module`, `write-user-file`, which only programs call),
//! so they are generated from a copy of the command line without them.

use crate::exit;
use clap::Command;

pub fn run(shell: clap_complete::Shell) -> i32 {
    let cli = <crate::cli::args::Cli as clap::CommandFactory>::command();
    let mut cmd = without_hidden(&cli);
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "groundwork", &mut buf);
    crate::out!("{}", String::from_utf8_lossy(&buf));
    exit::OK
}

/// `cmd` with its hidden subcommands and arguments left out, at every level. clap cannot remove
/// a subcommand, so this builds the tree anew from the visible parts. Each command's own
/// arguments are built on demand (`defer` in args.rs), so each subcommand is built on its own
/// first, and what building adds (help and version flags, the `help` command) is left for
/// clap_complete to add once, as for the whole tree.
fn without_hidden(cmd: &Command) -> Command {
    let mut out = Command::new(cmd.get_name().to_string()).args(
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set() && !is_built_in(a))
            .cloned(),
    );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut sub = sub.clone().disable_help_subcommand(true);
        sub.build();
        out = out.subcommand(without_hidden(&sub));
    }
    out
}

fn is_built_in(arg: &clap::Arg) -> bool {
    use clap::ArgAction::{Help, HelpLong, HelpShort, Version};
    matches!(arg.get_action(), Help | HelpShort | HelpLong | Version)
}
