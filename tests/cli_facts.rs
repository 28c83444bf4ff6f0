//! `groundwork facts`: the observed host, as JSON and YAML. Exits 0, or 1 when an observation
//! fails.

mod common;
use common::*;

#[test]
fn fresh_host_json() {
    let out = Host::fresh().groundwork(&["facts", SPEC, "--output", "json"]);
    out.code(0);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

#[test]
fn converged_host_json() {
    if !is_root() {
        eprintln!("skipped: the converged host's setuid-root newuidmap needs root");
        return;
    }
    let out = Host::converged().groundwork(&["facts", SPEC, "--output", "json"]);
    out.code(0);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

/// YAML is the default, and says the same as the JSON.
#[test]
fn yaml_is_the_default_and_matches_the_json() {
    let h = Host::fresh();
    let yaml = h.groundwork(&["facts", SPEC]);
    yaml.code(0);
    let json = h.groundwork(&["facts", SPEC, "--output", "json"]);
    let from_yaml: serde_json::Value = serde_saphyr::from_str(&yaml.stdout).expect("YAML");
    assert_eq!(from_yaml, json.json());
}

/// The spec decides what is looked at: its sysctls, its user.
#[test]
fn facts_follow_the_spec() {
    let h = Host::converged();
    h.edit_spec("  net.ipv4.ip_forward: 1\n", "");
    let out = h.groundwork(&["--user", "alice", "facts", SPEC, "--output", "json"]);
    out.code(0);
    let facts = out.json();
    assert_eq!(facts["account"]["name"], "alice");
    assert_eq!(facts["account"]["uid"], 1001);
    assert!(facts["sysctl"]["keys"].get("net.ipv4.ip_forward").is_none());
    assert!(
        facts["sysctl"]["keys"]
            .get("user.max_user_namespaces")
            .is_some()
    );
}

#[test]
fn failed_observation_is_an_error() {
    let h = Host::fresh();
    h.remove("/var/lib/dpkg/status");
    let out = h.groundwork(&["facts", SPEC, "--output", "json"]);
    out.code(1);
    // The error, as JSON; never facts.
    assert_eq!(
        out.json()["error"]["kind"],
        "observation_failed",
        "{}",
        out.report()
    );
    let report = out.report();
    insta::assert_snapshot!(report);
}

// ---- Debian 13 (trixie) -----------------------------------------------------------------

#[test]
fn trixie_fresh_host_json() {
    let out = Host::fresh_on(Release::Trixie).groundwork(&["facts", SPEC, "--output", "json"]);
    out.code(0);
    let facts = out.json();
    let kernel = Release::Trixie.kernel();
    assert_eq!(facts["host"]["kernel_release"], kernel);
    assert_eq!(facts["packages"]["os"]["version_id"], "13");
    // Debian 13 builds fuse in, and keeps the kernel's build configuration in /boot.
    let builtin = facts["modules"]["builtin"].as_array().expect("a list");
    assert!(builtin.contains(&"fuse".into()), "{}", out.report());
    assert_eq!(
        facts["modules"]["config_source"],
        format!("/boot/config-{kernel}")
    );
    // Its kernel has no AppArmor restriction of unprivileged user namespaces to read.
    assert!(facts["apparmor"]["restrict_unprivileged_userns"].is_null());
    assert_eq!(facts["apparmor"]["enabled"], true);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

#[test]
fn trixie_converged_host_json() {
    if !is_root() {
        eprintln!("skipped: the converged host's setuid-root newuidmap needs root");
        return;
    }
    let out = Host::converged_on(Release::Trixie).groundwork(&["facts", SPEC, "--output", "json"]);
    out.code(0);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}
