//! A command that groundwork runs as the target user has no controlling terminal. Found in
//! review: verify (as root, at a terminal) ran `k3s kubectl` as the user, whose kubeconfig can
//! name a credential plugin; the plugin kept root's terminal as its own, opened /dev/tty and
//! typed commands into root's shell (TIOCSTI), or read what root typed next.
//!
//! The test runs itself again under `script`, which gives the inner run a terminal as its
//! controlling terminal, as a root shell has. The inner run starts one shell through
//! `command_as` (as `nobody` when root) and, as the control, one plainly: the control must reach
//! /dev/tty, so the test can tell the two apart.

use std::process::Command;

const PROBE: &str = "if (exec 3</dev/tty) 2>/dev/null; then echo has-tty; else echo no-tty; fi";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The inner half, at a terminal: prints what each shell found.
fn inner() {
    use groundwork::host::session::{Account, command_as};
    let account = if nix::unistd::geteuid().is_root() {
        Account {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            home: "/nonexistent".into(),
        }
    } else {
        let uid = nix::unistd::getuid().as_raw();
        Account {
            name: "self".into(),
            uid,
            gid: nix::unistd::getgid().as_raw(),
            home: "/".into(),
        }
    };
    let child = command_as(&account, "/bin/sh")
        .args(["-c", PROBE])
        .output()
        .expect("sh runs as the user");
    let control = Command::new("/bin/sh")
        .args(["-c", PROBE])
        .output()
        .expect("sh runs");
    println!(
        "control: {} child: {}",
        String::from_utf8_lossy(&control.stdout).trim(),
        String::from_utf8_lossy(&child.stdout).trim()
    );
}

#[test]
fn a_command_as_the_user_has_no_controlling_terminal() {
    if std::env::var_os("GW_TERMINAL_INNER").is_some() {
        return inner();
    }
    let script = "/usr/bin/script";
    if !std::path::Path::new(script).exists() {
        assert!(!in_ci(), "CI has util-linux's script (bsdutils)");
        eprintln!("==== SKIPPED (no {script}): commands run as the user and the terminal ====");
        return;
    }
    let me = std::env::current_exe().unwrap();
    let inner_run = format!(
        "{} --exact a_command_as_the_user_has_no_controlling_terminal --nocapture --test-threads=1",
        me.display()
    );
    let out = Command::new(script)
        .args(["-qec", &inner_run, "/dev/null"])
        .env("GW_TERMINAL_INNER", "1")
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("control: has-tty"),
        "the inner run had no terminal, so the test shows nothing: {text}"
    );
    assert!(
        text.contains("child: no-tty"),
        "the command run as the user reached the terminal: {text}"
    );
}
