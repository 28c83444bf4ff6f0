//! Which spec a command uses, in the documented order (the command line, `$GROUNDWORK_SPEC`,
//! the host's /etc/groundwork/spec.yaml, the embedded default), and that every report says at
//! its top which spec and which user it is about.

mod common;
use common::*;
use std::path::Path;

/// The first line of stdout.
fn head(out: &Output) -> String {
    out.filter(out.stdout.lines().next().unwrap_or_default())
}

/// The tree's own system spec: the example, as installed by the Ansible play.
fn with_system_spec(h: &Host) -> &Host {
    h.write("/etc/groundwork/spec.yaml", EXAMPLE_SPEC.as_str())
}

#[test]
fn without_a_spec_the_embedded_default_is_named() {
    let h = Host::converged();
    let plan = h.groundwork(&["plan", "--user", USER]);
    assert_eq!(
        head(&plan),
        "groundwork plan for user k3s from the embedded default spec"
    );
    let json = h.groundwork(&["plan", "--user", USER, "--output", "json"]);
    assert_eq!(json.json()["spec"], "the embedded default spec");
    assert_eq!(json.json()["user"], USER);
    let drift = h.groundwork(&["drift", "--user", USER]);
    assert_eq!(
        head(&drift),
        "drift in 3 resource(s) for user k3s from the embedded default spec: k3s_binary, unit_file, unit_state"
    );
    let drift = h.groundwork(&["drift", "--user", USER, "--output", "json"]);
    assert_eq!(drift.json()["spec"], "the embedded default spec");
    assert_eq!(drift.json()["user"], USER);
}

/// Under --root, the system spec is the tree's: it belongs to the host being read.
#[test]
fn the_system_spec_of_the_tree_comes_before_the_default() {
    let h = Host::converged();
    with_system_spec(&h);
    let out = h.groundwork(&["plan"]);
    out.code(0);
    insta::assert_snapshot!(out.report());
    let drift = h.groundwork(&["drift", "--output", "json"]);
    drift.code(0);
    assert_eq!(
        drift.json()["spec"],
        h.path("/etc/groundwork/spec.yaml").display().to_string()
    );
}

#[test]
fn the_variable_comes_before_the_system_spec() {
    let h = Host::converged();
    with_system_spec(&h);
    h.edit_spec("name: k3s", "name: alice");
    let spec = h.spec_path().display().to_string();
    let out = h.groundwork_with(&h.root(), &[("GROUNDWORK_SPEC", &spec)], &["plan"]);
    assert_eq!(
        head(&out),
        "groundwork plan for user alice from [TMP]/spec.yaml"
    );
}

#[test]
fn the_argument_comes_before_the_variable() {
    let h = Host::converged();
    let other = h.outside("other.yaml");
    std::fs::write(&other, EXAMPLE_SPEC.replace("name: k3s", "name: alice")).unwrap();
    let out = h.groundwork_with(
        &h.root(),
        &[("GROUNDWORK_SPEC", &other.display().to_string())],
        &["plan", SPEC],
    );
    out.code(0);
    assert_eq!(
        head(&out),
        "groundwork plan for user k3s from [TMP]/spec.yaml"
    );
}

#[test]
fn an_empty_variable_is_unset() {
    let h = Host::converged();
    let out = h.groundwork_with(
        &h.root(),
        &[("GROUNDWORK_SPEC", "")],
        &["plan", "--user", USER],
    );
    assert_eq!(
        head(&out),
        "groundwork plan for user k3s from the embedded default spec"
    );
}

#[test]
fn a_variable_naming_a_missing_file_is_an_error() {
    let h = Host::converged();
    with_system_spec(&h);
    let missing = h.outside("missing.yaml").display().to_string();
    let out = h.groundwork_with(&h.root(), &[("GROUNDWORK_SPEC", &missing)], &["plan"]);
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.report());
    insta::assert_snapshot!(out.report());
}

/// As root on the live host, a spec that nobody named on the command line is used only when
/// root alone can change it; the refusal comes before anything is read.
#[test]
fn root_refuses_a_variable_naming_a_file_another_user_could_write() {
    if !is_root() {
        eprintln!("skipped: needs root, to run as root with a file owned by another user");
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        return;
    }
    let h = Host::bare();
    std::os::unix::fs::chown(h.spec_path(), Some(65534), None).expect("chown the spec");
    let spec = h.spec_path().display().to_string();
    // Not apply: were the check ever lost, the test would change this machine. apply refuses
    // any untrusted file as root (src/spec/resolve.rs tests it).
    for command in ["plan", "drift", "facts"] {
        let out = h.groundwork_with(Path::new("/"), &[("GROUNDWORK_SPEC", &spec)], &[command]);
        out.code(1);
        assert!(
            out.stderr.contains(&format!(
                "error: the spec from GROUNDWORK_SPEC, {spec}: {spec} is not a regular file owned by root"
            )),
            "{command}: {}",
            out.report()
        );
        assert!(
            out.stderr.contains(
                "As root, groundwork trusts only a spec or plan that root alone can change"
            ),
            "{command}: {}",
            out.report()
        );
    }
}

/// verify says which spec it checked, in the report and in its JSON.
#[test]
fn verify_names_its_spec_and_user() {
    let h = Host::fresh();
    h.edit_spec("name: k3s", "name: gw-absent-verify-user");
    let out = h.groundwork_at(Path::new("/"), &["verify", "--skip-cluster", SPEC]);
    out.code(1);
    assert_eq!(
        head(&out),
        "groundwork verify for user gw-absent-verify-user from [TMP]/spec.yaml"
    );
    let json = h.groundwork_at(
        Path::new("/"),
        &["verify", "--skip-cluster", "--output", "json", SPEC],
    );
    assert_eq!(json.json()["spec"], h.spec_path().display().to_string());
    assert_eq!(json.json()["user"], "gw-absent-verify-user");
}

#[test]
fn junit_names_the_spec_and_user() {
    let h = Host::converged();
    let out = h.groundwork(&["plan", SPEC, "--output", "junit"]);
    out.code(0);
    let text = out.filter(&out.stdout);
    assert!(
        text.contains(
            "  <properties>\n    <property name=\"user\" value=\"k3s\"/>\n    <property name=\"spec\" value=\"[TMP]/spec.yaml\"/>\n  </properties>\n"
        ),
        "{text}"
    );
}
