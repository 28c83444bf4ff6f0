//! `groundwork verify` before the first apply: the account does not exist, so nothing can run as
//! it. verify must still answer with a report (not a bare error): the failed check, and every
//! open plan item as the diagnosis. verify runs on the live host only (its checks start
//! processes as the user), so these read the machine running the tests; they change nothing.
//! The smoke test itself runs on real VMs (tests/vm/scenarios/20-fresh-apply.sh and
//! 90-verify-diagnosis.sh).

mod common;
use common::*;
use std::path::Path;

/// A spec that names an account that exists nowhere (verify looks the user up through NSS).
fn fresh_without_account() -> Host {
    let h = Host::fresh();
    h.edit_spec("name: k3s", "name: gw-absent-verify-user");
    h
}

/// verify cannot check a captured tree: its smoke test would run on the live host, and mixing
/// the two was wrong (it once reported the tree's facts beside the live host's checks).
#[test]
fn verify_refuses_a_captured_tree() {
    let h = fresh_without_account();
    let out = h.groundwork(&["verify", "--skip-cluster", SPEC]);
    out.code(1);
    assert!(
        out.stderr
            .contains("verify runs its checks on the live host"),
        "{}",
        out.report()
    );
    assert!(out.stdout.is_empty(), "{}", out.report());
}

#[test]
fn verify_before_apply_names_the_missing_account_and_the_open_plan() {
    let h = fresh_without_account();
    let out = h.groundwork_at(Path::new("/"), &["verify", "--skip-cluster", SPEC]);
    out.code(1);
    let text = &out.stdout;
    assert!(
        text.contains("FAIL target user exists: user gw-absent-verify-user does not exist"),
        "{}",
        out.report()
    );
    // The live host may block items (no systemd as PID 1 in a container): they come first,
    // and apply is then not offered as the fix.
    let open = text
        .find("The host does not match the spec (")
        .unwrap_or_else(|| panic!("no open items in\n{}", out.report()));
    if let Some(blocked) = text.find("Blocked: `groundwork apply` cannot fix these") {
        assert!(blocked < open, "{}", out.report());
        assert!(
            !text.contains("(run `groundwork apply`)"),
            "{}",
            out.report()
        );
    } else {
        assert!(
            text.contains("The host does not match the spec (run `groundwork apply`):"),
            "{}",
            out.report()
        );
    }
    for resource in ["account:", "packages:", "subids:", "sysctl:", "linger:"] {
        assert!(
            text.contains(&format!("  - {resource}")),
            "{resource} missing from\n{}",
            out.report()
        );
    }
    assert!(text.trim_end().ends_with("UNHEALTHY"), "{}", out.report());
}

#[test]
fn verify_before_apply_in_json_is_unhealthy_with_the_plan() {
    let h = fresh_without_account();
    let out = h.groundwork_at(
        Path::new("/"),
        &["verify", "--skip-cluster", "--output", "json", SPEC],
    );
    out.code(1);
    let report = out.json();
    assert_eq!(report["format_version"], 2);
    assert_eq!(report["healthy"], false);
    assert_eq!(report["smoke"][0]["name"], "target user exists");
    assert_eq!(report["smoke"][0]["ok"], false);
    let open = report["not_converged"].as_array().expect("an array");
    assert!(
        open.iter()
            .any(|i| i.as_str().unwrap_or("").starts_with("account: ")),
        "{open:?}"
    );
}
