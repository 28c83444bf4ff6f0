//! Link settings per binary.
//!
//! `groundwork` (and the benchmark's floor, so that the comparison stays fair) is linked as a
//! position-dependent executable. Under CPU emulation (qemu TCG: lab VMs on hosts without KVM,
//! amd64 images on arm64 machines) translated code is cached by virtual address, so a binary
//! loaded at a new random address on every run is translated anew every time: that doubled the
//! cost of a drift check there (tests/bench/README.md). On hardware it changes nothing measurable.
//! Libraries, heap and stack stay randomized, as for Go programs such as k3s itself.
//!
//! `groundwork-helper`, the one binary sudo runs as root, keeps the default: a PIE, fully
//! randomized (tests/hardening.rs holds both).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bin=groundwork=-no-pie");
    println!("cargo:rustc-link-arg-examples=-no-pie");
}
