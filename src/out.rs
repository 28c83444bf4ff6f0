//! Standard output for commands. A reader that goes away (`groundwork plan | head`) ends the
//! command quietly, as it ends Unix tools, instead of a panic; every other write error is
//! reported. SIGPIPE stays ignored process-wide, so that a helper that closes its stdin early
//! can never kill groundwork mid-apply.

use std::io::Write;

pub fn write_stdout(text: &str) {
    // anstream strips colour for pipes and NO_COLOR; text without an escape has none to strip,
    // and a drift check's one line then skips its terminal and environment checks.
    let result = if text.as_bytes().contains(&0x1b) {
        let mut out = anstream::stdout();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    };
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(crate::exit::ERROR);
        }
    }
}

/// `print!` to stdout through `write_stdout`.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::out::write_stdout(&format!($($t)*)) };
}

/// `println!` to stdout through `write_stdout`.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::out::write_stdout(&format!("{}\n", format_args!($($t)*))) };
}
