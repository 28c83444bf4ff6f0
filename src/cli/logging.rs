//! Logs on stderr, through tracing: every file read, every value compared, every step run with
//! its duration. `-v` shows what is read and decided, `-vv` everything, GROUNDWORK_LOG takes an
//! env-filter (`GROUNDWORK_LOG=groundwork=trace`). Under systemd (JOURNAL_STREAM set) the events
//! go to the journal with their fields as journal fields; `--log-format json` writes JSON lines.

use super::args::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "groundwork=info,warn",
        (false, _) => "groundwork=debug,info",
    };
    // A bare level needs no directive parser: timers run drift at the default level every few
    // minutes, and parsing `warn` as an env-filter was a tenth of its start-up code.
    let bare = match level {
        "error" => Some(LevelFilter::ERROR),
        "warn" => Some(LevelFilter::WARN),
        _ => None,
    };
    let (env_filter, level_filter) = match bare {
        Some(bare) if std::env::var_os("GROUNDWORK_LOG").is_none() => (None, Some(bare)),
        _ => {
            let filter =
                EnvFilter::try_from_env("GROUNDWORK_LOG").unwrap_or_else(|_| EnvFilter::new(level));
            (Some(filter), None)
        }
    };
    let registry = tracing_subscriber::registry()
        .with(env_filter)
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
