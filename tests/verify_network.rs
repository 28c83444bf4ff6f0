//! verify's network stage with real processes on this machine: a user and network namespace
//! (unshare), slirp4netns with its API socket, groundwork's own listener inside, and connections
//! from the host. The target is the user running the tests (the VM suite runs it for a real
//! k3s account, with low ports and the sysctl: tests/vm/scenarios/46-network-ports.sh).

use groundwork::engine::verify::{Check, netstage};
use groundwork::host::session::Account;
use groundwork::spec::{PortDriver, Spec};
use std::net::TcpListener;

mod common;

fn me() -> Account {
    let name = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    Account::resolve(&name).unwrap()
}

fn spec_with(ports: &[u16], driver: PortDriver) -> Spec {
    let mut spec = common::example_spec();
    spec.network.ports = ports.to_vec();
    spec.network.port_driver = Some(driver);
    spec
}

/// Two free ports of the host, released again for the stage to expose.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("0.0.0.0:0").unwrap();
    let b = TcpListener::bind("0.0.0.0:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// slirp4netns is there (`.ci/run` installs it); elsewhere the test says it skips, and under CI
/// (CI=true) a skip is a failure.
fn can_run() -> bool {
    if std::path::Path::new("/usr/bin/slirp4netns").exists() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "/usr/bin/slirp4netns is missing, and under CI this test must not skip"
    );
    eprintln!("SKIPPED: /usr/bin/slirp4netns is not installed on this machine");
    false
}

/// The stage for `spec`, as this user, with groundwork's own binary as the listener.
fn stage(spec: &Spec, k3s_running: bool) -> Vec<Check> {
    rt().block_on(netstage::stage_with(
        &me(),
        spec,
        env!("CARGO_BIN_EXE_groundwork"),
        k3s_running,
    ))
}

/// Each check as `ok name: detail`.
fn lines(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .map(|c| format!("{} {}: {}", c.ok, c.name, c.detail))
        .collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn each_port_reaches_the_listener_inside_through_slirp4netns() {
    if !can_run() {
        return;
    }
    let (p, q) = free_ports();
    let spec = spec_with(&[p, q], PortDriver::Slirp4netns);
    let checks = stage(&spec, false);
    let text = lines(&checks);
    // The figures, for whoever runs this with --nocapture.
    eprintln!("{text:#?}");
    assert!(checks.iter().all(|c| c.ok), "{text:#?}");
    for port in [p, q] {
        assert!(
            text.iter().any(|t| t.contains(&format!(
                "host port {port} into the namespace (slirp4netns): "
            )) && t.contains(&format!(
                "connected to 127.0.0.1:{port} and reached the listener inside"
            ))),
            "{text:#?}"
        );
    }
    // slirp4netns shows a loopback client as its gateway (the namespace's network + 2).
    assert!(
        text.iter().any(
            |t| t.contains("a client on 127.0.0.1 arrived as 10.41.0.2, slirp4netns's gateway")
        ),
        "{text:#?}"
    );
    let throughput = text
        .iter()
        .find(|t| t.contains("throughput host to namespace (slirp4netns)"))
        .expect("a throughput check");
    assert!(
        throughput.contains("MB/s") && throughput.contains("the host's loopback:"),
        "{throughput}"
    );
}

#[test]
fn a_port_another_process_holds_names_the_port_and_the_holder() {
    if !can_run() {
        return;
    }
    let (p, _) = free_ports();
    // This test holds the port on the host, as another service would.
    let held = TcpListener::bind(("0.0.0.0", p)).unwrap();
    let spec = spec_with(&[p], PortDriver::Slirp4netns);
    let checks = stage(&spec, false);
    drop(held);
    assert_one_failure_names_this_process(&checks, p);
}

/// The one failed check names `port` and this test process as its holder.
fn assert_one_failure_names_this_process(checks: &[Check], port: u16) {
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    assert_eq!(failed.len(), 1, "{checks:#?}");
    assert!(
        failed[0].contains(&format!("port {port} is already held on the host by"))
            && failed[0].contains(&format!("(pid {})", std::process::id())),
        "{failed:#?}"
    );
}

#[test]
fn the_builtin_driver_is_left_to_k3s_and_says_so() {
    let spec = spec_with(&[6443], PortDriver::Builtin);
    let checks = stage(&spec, false);
    assert_eq!(checks.len(), 1, "{checks:#?}");
    assert!(checks[0].ok, "{checks:#?}");
    assert!(
        checks[0]
            .detail
            .contains("the cluster stage connects to the API port")
            && checks[0].detail.contains("the host's loopback: "),
        "{checks:#?}"
    );
}

/// A k3s that is still starting binds its API port once its API server is up. Found on Debian
/// 13: verify (right after apply started the unit) forwarded that port for its own probe, so the
/// stand-in's port driver and verify raced for it, and whichever lost failed. While the unit
/// runs, verify leaves the API port to k3s; the other ports are still probed.
#[test]
fn a_running_k3s_keeps_its_api_port_to_itself() {
    if !can_run() {
        return;
    }
    let (api, other) = free_ports();
    let mut spec = spec_with(&[api, other], PortDriver::Slirp4netns);
    spec.unit.args = vec!["--https-listen-port".into(), api.to_string()];
    let checks = stage(&spec, true);
    let text = lines(&checks);
    assert!(checks.iter().all(|c| c.ok), "{text:#?}");
    let line = |port: u16| {
        text.iter()
            .find(|t| t.contains(&format!("host port {port} into the namespace")))
            .unwrap_or_else(|| panic!("no check for port {port}: {text:#?}"))
            .clone()
    };
    assert!(
        line(api).contains("not forwarded by verify: k3s-rootless.service is running"),
        "{text:#?}"
    );
    assert!(
        line(other).contains(&format!(
            "connected to 127.0.0.1:{other} and reached the listener inside"
        )),
        "{text:#?}"
    );

    // Someone else on the API port is still named, without verify touching the port.
    let (api, _) = free_ports();
    let held = TcpListener::bind(("0.0.0.0", api)).unwrap();
    spec.network.ports = vec![api];
    spec.unit.args = vec!["--https-listen-port".into(), api.to_string()];
    let checks = stage(&spec, true);
    drop(held);
    assert_one_failure_names_this_process(&checks, api);
}
