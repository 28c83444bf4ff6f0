//! `groundwork drift`'s arguments read without clap. Timers run drift every few minutes on
//! every host of a fleet, and clap's parser (which builds the whole command first) was a sixth
//! of a drift check's instructions. This reads the common forms of one command only and gives
//! up on anything else: `None` hands the arguments to clap, which then parses them (and prints
//! help and errors) exactly as before. `tests/cli_drift_args.rs` holds that whatever this
//! accepts, clap reads the same way.
//!
//! Accepted: `drift` first, then the spec (once) and these options, each at most once (`-v`
//! repeats), as `--name VALUE` or `--name=VALUE`: `--root`, `--user`, `--executor`,
//! `--log-format`, `--output`/`-o`, `--textfile`, and the flags `-q`/`--quiet`,
//! `-v`/`-vv`/`--verbose`. Values must be non-empty and not start with `-`.

use super::args::{Cli, Command, LogFormat, Output};
use crate::authority::Executor;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// `args` as `Cli`, or `None` for clap to read. `args[0]` is the program's name.
pub fn parse(args: &[OsString]) -> Option<Cli> {
    let mut rest = args.get(1..)?.iter();
    if rest.next()? != "drift" {
        return None;
    }
    let mut seen = Seen::default();
    let mut cli = Cli {
        root: PathBuf::from("/"),
        user: None,
        executor: Executor::Auto,
        verbose: 0,
        quiet: false,
        log_format: LogFormat::Text,
        command: Command::Drift {
            spec: None,
            output: Output::Human,
            textfile: None,
        },
    };
    let Command::Drift {
        spec,
        output,
        textfile,
    } = &mut cli.command
    else {
        unreachable!("built as Drift above")
    };
    while let Some(arg) = rest.next() {
        let text = arg.to_str();
        match text {
            Some("-q" | "--quiet") => {
                seen.first("quiet")?;
                cli.quiet = true;
            }
            Some("--verbose") => cli.verbose = cli.verbose.checked_add(1)?,
            Some(v) if v.len() > 1 && v.starts_with('-') && v[1..].bytes().all(|b| b == b'v') => {
                cli.verbose = cli.verbose.checked_add(u8::try_from(v.len() - 1).ok()?)?;
            }
            Some(t) if t.starts_with('-') => {
                let (name, inline) = match t.split_once('=') {
                    Some((name, _)) if !name.starts_with("--") => return None,
                    Some((name, value)) => (name, Some(OsStr::new(value))),
                    None => (t, None),
                };
                let value = match inline {
                    Some(v) => v,
                    None => rest.next()?.as_os_str(),
                };
                if value.is_empty() || value.as_encoded_bytes().starts_with(b"-") {
                    return None;
                }
                match name {
                    "--root" => {
                        seen.first("root")?;
                        cli.root = PathBuf::from(value);
                    }
                    "--user" => {
                        seen.first("user")?;
                        cli.user = Some(value.to_str()?.to_owned());
                    }
                    "--executor" => {
                        seen.first("executor")?;
                        cli.executor = match value.to_str()? {
                            "auto" => Executor::Auto,
                            "root" => Executor::Root,
                            "helper" => Executor::Helper,
                            _ => return None,
                        };
                    }
                    "--log-format" => {
                        seen.first("log-format")?;
                        cli.log_format = match value.to_str()? {
                            "text" => LogFormat::Text,
                            "json" => LogFormat::Json,
                            _ => return None,
                        };
                    }
                    "--output" | "-o" => {
                        seen.first("output")?;
                        *output = match value.to_str()? {
                            "human" => Output::Human,
                            "json" => Output::Json,
                            "junit" => Output::Junit,
                            _ => return None,
                        };
                    }
                    "--textfile" => {
                        seen.first("textfile")?;
                        *textfile = Some(PathBuf::from(value));
                    }
                    _ => return None,
                }
            }
            // The spec: once, and never something clap would read as an option.
            _ if spec.is_none() && !arg.is_empty() && !arg.as_encoded_bytes().starts_with(b"-") => {
                *spec = Some(PathBuf::from(arg));
            }
            _ => return None,
        }
    }
    Some(cli)
}

/// The options already given: clap refuses a second `--root`, so this gives up on one.
#[derive(Default)]
struct Seen(Vec<&'static str>);

impl Seen {
    fn first(&mut self, name: &'static str) -> Option<()> {
        if self.0.contains(&name) {
            return None;
        }
        self.0.push(name);
        Some(())
    }
}
