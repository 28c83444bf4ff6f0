//! The `groundwork` binary's entry point.
//!
//! std's runtime start is replaced by the parts of it that groundwork needs. Its remaining part,
//! the handler that names a stack overflow, reads /proc/self/maps to find the main thread's guard
//! page: a twentieth of a drift check's instructions, and drift runs from a timer on every host.
//! Without it, an overflow still hits the guard page and ends the process (SIGSEGV).
// Under `cargo test` the test harness brings its own main.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // SAFETY: single-threaded, before anything else runs.
    unsafe { start() };
    // std::env::args reads argv on its own (glibc passes it to initialisers).
    let code = std::panic::catch_unwind(groundwork::cli::run).unwrap_or(101);
    // Through std, which flushes stdout first.
    std::process::exit(code)
}

/// What std's start does and groundwork relies on.
///
/// SAFETY: call once, before any other thread exists.
#[cfg(not(test))]
unsafe fn start() {
    // 0, 1 and 2 stay taken (by /dev/null if closed), so that no file groundwork opens, as
    // root, becomes its stdout. std does the same.
    for fd in 0..=2 {
        // SAFETY: F_GETFD only asks whether the descriptor is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        {
            // SAFETY: a constant C string; the descriptor is meant to stay open.
            if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
                std::process::abort();
            }
        }
    }
    // SIGPIPE stays ignored (Rust's default): a closed stdout ends a command through
    // `groundwork::out`, and a helper that stops reading never kills an apply. Children get
    // the default back (std's Command resets it).
    // SAFETY: setting a signal to ignored installs no handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // Observation reads files of up to a few MB (dpkg's status, modules.dep, the kernel's
    // configuration) one after another and drops each. glibc would map each anew and hand it
    // back, so every read faulted in fresh pages; from the heap, the next read reuses the
    // memory the previous one freed.
    // SAFETY: mallopt only tunes the allocator, before any allocation that matters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}
