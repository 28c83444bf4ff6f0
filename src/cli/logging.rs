//! Logs on stderr, through tracing: every file read, every value compared, every step run with
//! its duration. `-v` shows what is read and decided, `-vv` everything, GROUNDWORK_LOG takes
//! `target=level` directives (`GROUNDWORK_LOG=groundwork=trace,warn`). Under systemd (JOURNAL_STREAM set) the events
//! go to the journal with their fields as journal fields; `--log-format json` writes JSON lines.

use super::args::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "groundwork=info,warn",
        (false, _) => "groundwork=debug,info",
    };
    // A bare level needs no directive parser: timers run drift at the default level every few
    // minutes. The directives are tracing's `Targets`, not its env-filter, whose regular
    // expressions brought thousands of pointers for the loader to fix up at every start.
    let bare = match level {
        "error" => Some(LevelFilter::ERROR),
        "warn" => Some(LevelFilter::WARN),
        _ => None,
    };
    let from_env = std::env::var("GROUNDWORK_LOG").ok();
    let (targets, level_filter) = match (bare, from_env) {
        (Some(bare), None) => (None, Some(bare)),
        (_, from_env) => {
            let parsed = from_env.and_then(|directives| {
                directives
                    .parse::<Targets>()
                    .inspect_err(|e| {
                        eprintln!(
                            "groundwork: GROUNDWORK_LOG={directives:?} is ignored: {e}; it takes target=level directives, such as groundwork=debug,warn"
                        )
                    })
                    .ok()
            });
            let targets = parsed.unwrap_or_else(|| {
                level
                    .parse()
                    .expect("the built-in log levels are valid directives")
            });
            (Some(targets), None)
        }
    };
    let registry = tracing_subscriber::registry()
        .with(targets)
        .with(level_filter);
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text if under_journal => match tracing_journald::layer() {
            Ok(journald) => registry
                .with(journald.with_syslog_identifier("groundwork".into()))
                .try_init(),
            Err(_) => registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .without_time()
                        .with_ansi(false)
                        .with_writer(std::io::stderr),
                )
                .try_init(),
        },
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    let _ = result;
}
