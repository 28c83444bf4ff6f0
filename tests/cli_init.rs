//! `groundwork init [FILE]`: a starter spec (the embedded default with its comments), written
//! atomically, never over an existing file without --force nor into a missing directory, then
//! the next steps. Commands run in the test's temporary directory, so `groundwork.yaml` is there.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn writes_the_starter_spec_and_says_what_to_run_next() {
    let h = Host::fresh();
    let out = h.groundwork(&["init"]);
    out.code(0);
    insta::assert_snapshot!(out.report());
    let file = h.outside("groundwork.yaml");
    let text = std::fs::read_to_string(&file).expect("init wrote groundwork.yaml");
    assert_eq!(text, groundwork::spec::starter(None).unwrap());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o644);
    // The next steps work as printed.
    h.groundwork(&["validate", "groundwork.yaml"]).code(0);
    let plan = h.groundwork(&["plan", "groundwork.yaml"]);
    plan.code(2);
    assert!(
        plan.stdout
            .starts_with("groundwork plan for user k3s from groundwork.yaml\n"),
        "{}",
        plan.report()
    );
}

#[test]
fn user_flag_fills_in_the_user() {
    let h = Host::fresh();
    let out = h.groundwork(&["init", "--user", "bob", "bob.yaml"]);
    out.code(0);
    assert!(
        out.stdout
            .starts_with("Wrote bob.yaml: a starter spec for user bob (k3s "),
        "{}",
        out.report()
    );
    let valid = h.groundwork(&["validate", "bob.yaml"]);
    valid.code(0);
    assert!(valid.stdout.contains("(user bob,"), "{}", valid.report());
    let text = std::fs::read_to_string(h.outside("bob.yaml")).unwrap();
    assert!(
        text.contains("user:\n  name: bob\n  create: true\n"),
        "{text}"
    );
}

#[test]
fn refuses_to_replace_a_file_without_force() {
    let h = Host::bare();
    let file = h.outside("groundwork.yaml");
    std::fs::write(&file, "mine\n").unwrap();
    let out = h.groundwork(&["init"]);
    out.code(1);
    insta::assert_snapshot!(out.report());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine\n");
    h.groundwork(&["init", "--force"]).code(0);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        groundwork::spec::starter(None).unwrap()
    );
}

#[test]
fn refuses_a_missing_directory_and_creates_none() {
    let h = Host::bare();
    let out = h.groundwork(&["init", "specs/site.yaml"]);
    out.code(1);
    insta::assert_snapshot!(out.report());
    assert!(!h.outside("specs").exists());
}

#[test]
fn refuses_a_directory() {
    let h = Host::bare();
    std::fs::create_dir(h.outside("specs")).unwrap();
    let out = h.groundwork(&["init", "specs", "--force"]);
    out.code(1);
    insta::assert_snapshot!(out.report());
}

#[test]
fn refuses_root_as_the_user_and_writes_nothing() {
    let h = Host::bare();
    let out = h.groundwork(&["init", "--user", "root"]);
    out.code(1);
    insta::assert_snapshot!(out.report());
    assert!(!h.outside("groundwork.yaml").exists());
}

/// A starter written where the commands look for the system spec is the one they use.
#[test]
fn a_starter_installed_as_the_system_spec_is_used() {
    let h = Host::converged();
    h.mkdir("/etc/groundwork");
    let system = h.path("/etc/groundwork/spec.yaml").display().to_string();
    h.groundwork(&["init", &system]).code(0);
    let plan = h.groundwork(&["plan"]);
    assert!(
        plan.filter(&plan.stdout)
            .starts_with("groundwork plan for user k3s from [TMP]/root/etc/groundwork/spec.yaml\n"),
        "{}",
        plan.report()
    );
}
