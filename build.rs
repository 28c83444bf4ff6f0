//! Link settings. Both binaries are position-independent executables with full RELRO, the
//! default of every distribution: groundwork itself runs as root in apply-as-root, in the
//! Ansible play, and wherever an administrator runs it.
//!
//! Opt-in, for emulated lab VMs only: `GROUNDWORK_NO_PIE=1 cargo build --release` links the
//! agent (and the benchmark's floor) position-dependent. Under CPU emulation (qemu TCG)
//! translated code is cached by virtual address, and a binary loaded at a new random address on
//! every run is translated anew every time, which doubled the cost of a drift check there
//! (tests/bench/README.md). On hardware it changes nothing measurable. The helper is never
//! built that way.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GROUNDWORK_NO_PIE");
    if std::env::var_os("GROUNDWORK_NO_PIE").is_some_and(|v| v == "1") {
        println!("cargo:rustc-link-arg-bin=groundwork=-no-pie");
        println!("cargo:rustc-link-arg-examples=-no-pie");
    }
}
