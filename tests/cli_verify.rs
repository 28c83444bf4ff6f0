//! `groundwork verify` before the first apply: the account does not exist, so nothing can run as
//! it. verify must still answer with a report (not a bare error): the failed check, and every
//! open plan item as the diagnosis. The smoke test itself runs on real VMs
//! (tests/vm/scenarios/20-fresh-apply.sh and 90-verify-diagnosis.sh).

mod common;
use common::*;

/// A fresh host whose spec names an account that exists neither in the host tree nor on the
/// machine running the tests (verify looks the user up through NSS).
fn fresh_without_account() -> Host {
    let h = Host::fresh();
    h.edit_spec("name: k3s", "name: gw-absent-verify-user");
    h
}

#[test]
fn verify_before_apply_names_the_missing_account_and_the_open_plan() {
    let h = fresh_without_account();
    let out = h.groundwork(&["verify", "--skip-cluster", SPEC]);
    out.code(1);
    let text = &out.stdout;
    assert!(
        text.contains("FAIL target user exists: user gw-absent-verify-user does not exist"),
        "{}",
        out.report()
    );
    assert!(
        text.contains("The host does not match the spec (run `groundwork apply`):"),
        "{}",
        out.report()
    );
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
    let out = h.groundwork(&["verify", "--skip-cluster", "--output", "json", SPEC]);
    out.code(1);
    let report = out.json();
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
