//! A command that groundwork (as root) runs as the target user gets all of that user's groups,
//! as a login would (initgroups), not only the primary one: a user whose socket, device or
//! directory access comes from a supplementary group must see the same from verify's checks
//! and from the files written for them.
//!
//! The user and their groups exist only in a private mount namespace, over copies of
//! /etc/passwd and /etc/group: the test runs itself again inside `unshare --mount` with the
//! copies bind-mounted, and the inner run does the check.

use std::process::Command;

const USER: &str = "gw-groups-test";
const UID: u32 = 23456;
const PRIMARY: u32 = 23456;
const EXTRA: u32 = 23457;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The inner half: inside the namespace, where the user exists.
fn inner() {
    let account = groundwork::host::session::Account::resolve(USER).expect("the test user");
    let out = groundwork::host::session::command_as(&account, "/usr/bin/id")
        .arg("-G")
        .output()
        .expect("id runs");
    let groups: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    assert!(groups.contains(&PRIMARY), "{groups:?}");
    assert!(
        groups.contains(&EXTRA),
        "the supplementary group is missing: {groups:?}"
    );
    assert!(!groups.contains(&0), "root's group leaked: {groups:?}");
}

#[test]
fn a_command_as_the_user_gets_their_supplementary_groups() {
    if std::env::var_os("GW_GROUPS_INNER").is_some() {
        return inner();
    }
    if !nix::unistd::geteuid().is_root() {
        assert!(!in_ci(), "CI runs the tests as root");
        eprintln!(
            "==== SKIPPED (needs root): supplementary groups of commands run as the user ===="
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let group = dir.path().join("group");
    let mut p = std::fs::read_to_string("/etc/passwd").unwrap();
    p.push_str(&format!("{USER}:x:{UID}:{PRIMARY}::/nonexistent:/bin/sh\n"));
    let mut g = std::fs::read_to_string("/etc/group").unwrap();
    g.push_str(&format!(
        "{USER}:x:{PRIMARY}:\ngw-groups-extra:x:{EXTRA}:{USER}\n"
    ));
    std::fs::write(&passwd, p).unwrap();
    std::fs::write(&group, g).unwrap();
    let script = format!(
        "mount --bind {} /etc/passwd && mount --bind {} /etc/group && exec \"$0\" --exact a_command_as_the_user_gets_their_supplementary_groups --nocapture",
        passwd.display(),
        group.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(&script)
        .arg(std::env::current_exe().unwrap())
        .env("GW_GROUPS_INNER", "1")
        .output()
        .expect("unshare runs");
    assert!(
        out.status.success(),
        "inside the namespace: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the inner test did not run: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
