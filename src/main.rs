fn main() {
    // SIGPIPE stays ignored (Rust's default): a closed stdout ends a command through
    // `groundwork::out`, and a helper that stops reading never kills an apply.
    std::process::exit(groundwork::cli::run());
}
