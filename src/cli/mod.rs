//! The command line: the arguments (clap, and drift's common forms without it), logging, the
//! async runtime, and one thin file per command in `commands/`, each of which calls the engine and
//! renders what it returns. Exit codes come from `crate::exit`.

pub mod args;
mod commands;
pub mod drift_args;
mod logging;
mod manpages;

use crate::exit;
use crate::host::HostRoot;
use args::{Cli, Ctx};
use clap::Parser;

pub fn run() -> i32 {
    let args: Vec<_> = std::env::args_os().collect();
    // clap exits 2 on a usage error, which scripts would read as "changes pending".
    let cli = match drift_args::parse(&args).map_or_else(|| Cli::try_parse_from(&args), Ok) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
        }
    };
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    let ctx = Ctx {
        root: HostRoot::new(&cli.root),
        user: cli.user.clone(),
        executor: cli.executor,
    };
    runtime.block_on(commands::dispatch(ctx, cli.command))
}
