fn main() {
    // Die quietly on a closed pipe (`groundwork plan | head`), as Unix tools do, instead of
    // panicking in println!.
    // SAFETY: setting a signal disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(groundwork::cli::run());
}
