//! `groundwork completions SHELL` completes what people type, never the hidden commands that
//! only programs call (`ansible-module`, `write-user-file`, whatever else says `hide = true`).

mod common;
use clap::CommandFactory;
use common::*;
use groundwork::cli::args::Cli;

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "elvish", "powershell"];

/// The names of the hidden subcommands, read from the command line's definition.
fn hidden_commands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|s| s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

#[test]
fn hidden_commands_are_not_completed() {
    let hidden = hidden_commands();
    assert!(hidden.contains(&"ansible-module".to_string()), "{hidden:?}");
    assert!(
        hidden.contains(&"write-user-file".to_string()),
        "{hidden:?}"
    );
    let h = Host::bare();
    for shell in SHELLS {
        let out = h.groundwork(&["completions", shell]);
        out.code(0);
        for name in &hidden {
            // zsh and fish also spell a command with underscores in function names.
            for spelling in [name.clone(), name.replace('-', "_")] {
                assert!(
                    !out.stdout.contains(&spelling),
                    "{shell} completes the hidden command {spelling}"
                );
            }
        }
    }
}

#[test]
fn visible_commands_and_options_are_completed() {
    let h = Host::bare();
    for shell in SHELLS {
        let out = h.groundwork(&["completions", shell]);
        out.code(0);
        // Each command's own options too: clap builds them only for the command that runs.
        for word in [
            "plan",
            "apply",
            "drift",
            "verify",
            "init",
            "man",
            "sudoers",
            "user",
            "output",
            "force",
            "detailed-exitcodes",
            "textfile",
            "skip-cluster",
            "no-verify",
        ] {
            assert!(
                out.stdout.contains(word),
                "{shell} does not complete {word}"
            );
        }
    }
}
