//! The signatures against the corpus of real log lines (tests/fixtures/diagnosis/log-lines.txt,
//! whose header explains the format): every entry matches what it says and nothing it must not,
//! every signature has lines that match it and near misses that must not, and where one line
//! has several causes, the host picks the one named.

use super::signatures::SIGNATURES;
use super::{HostContext, diagnose};

const CORPUS: &str = include_str!("../../../../tests/fixtures/diagnosis/log-lines.txt");

#[derive(Debug, Default)]
struct Entry {
    id: String,
    source: String,
    expect: Vec<String>,
    not: Vec<String>,
    lines: Vec<String>,
}

impl Entry {
    fn log(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

fn words(v: &str) -> Vec<String> {
    v.split_whitespace()
        .filter(|w| *w != "none")
        .map(String::from)
        .collect()
}

fn entries() -> Vec<Entry> {
    let mut out = Vec::new();
    let mut cur = Entry::default();
    for line in CORPUS.lines().chain(std::iter::once("")) {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !cur.id.is_empty() || !cur.lines.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let (field, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("not `field: value`: {line}"));
        match field {
            "id" => cur.id = value.into(),
            "source" => cur.source = value.into(),
            "expect" => cur.expect = words(value),
            "not" => cur.not = words(value),
            "line" => cur.lines.push(value.into()),
            _ => panic!("unknown field {field} in {line}"),
        }
    }
    out
}

fn entry(id: &str) -> Entry {
    entries()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no corpus entry {id}"))
}

/// The one diagnosis of a corpus entry on this host.
fn diagnosed(id: &str, host: &HostContext) -> super::Diagnosis {
    let found = diagnose(&entry(id).log(), host);
    assert_eq!(found.len(), 1, "{id}: {found:?}");
    found.into_iter().next().unwrap()
}

#[test]
fn every_entry_is_complete_and_names_known_signatures() {
    let known: Vec<&str> = SIGNATURES.iter().map(|s| s.id).collect();
    let all = entries();
    assert!(all.len() > 40, "{} entries", all.len());
    let mut ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "duplicate ids");
    for e in &all {
        assert!(
            !e.id.is_empty() && !e.source.is_empty() && !e.lines.is_empty(),
            "{e:?}"
        );
        assert!(
            e.source.starts_with("https://")
                || e.source.starts_with("observed: ")
                || e.source.contains(" @ ")
                || e.source.starts_with("groundwork's smoke check"),
            "{}: the source names no URL, commit or observation",
            e.id
        );
        assert!(
            !e.expect.is_empty() || !e.not.is_empty(),
            "{}: a line that matches nothing must say what it is a near miss of",
            e.id
        );
        for sig in e.expect.iter().chain(&e.not) {
            assert!(
                known.contains(&sig.as_str()),
                "{}: no signature {sig}",
                e.id
            );
        }
    }
}

#[test]
fn every_entry_matches_what_it_says_and_nothing_else() {
    for e in entries() {
        let found = diagnose(&e.log(), &HostContext::default());
        let got: Vec<&str> = found.iter().map(|d| d.signature).collect();
        assert_eq!(got, e.expect, "{}: {found:?}", e.id);
        for not in &e.not {
            assert!(!got.contains(&not.as_str()), "{} matched {not}", e.id);
        }
        for d in &found {
            let shown = d.evidence.trim_start_matches('…').trim_end_matches('…');
            assert!(
                e.lines.iter().any(|l| l.contains(shown)),
                "{}: the evidence is not a line of the log: {}",
                e.id,
                d.evidence
            );
        }
    }
}

#[test]
fn every_signature_has_lines_that_match_and_near_misses_that_must_not() {
    let all = entries();
    for sig in SIGNATURES {
        assert!(
            all.iter().any(|e| e.expect.iter().any(|s| s == sig.id)),
            "{}: no line in the corpus matches it",
            sig.id
        );
        assert!(
            all.iter().any(|e| e.not.iter().any(|s| s == sig.id)),
            "{}: no near miss in the corpus",
            sig.id
        );
    }
}

fn restricted_apparmor(installable: bool) -> HostContext {
    HostContext {
        apparmor_restricts_userns: Some(true),
        apparmor_profile_installable: installable,
        ..Default::default()
    }
}

#[test]
fn a_refused_user_namespace_is_apparmor_only_where_the_kernel_restricts() {
    for id in [
        "k3s-child-eperm-tty",
        "k3s-child-eperm-journal",
        "rootlesskit-child-eacces-in-pod",
        "smoke-unshare-eperm",
    ] {
        let d = diagnosed(id, &restricted_apparmor(true));
        assert!(d.cause.contains("AppArmor restricts"), "{id}: {}", d.cause);
        assert!(d.fix.contains("apparmor.profile: auto"), "{id}: {}", d.fix);
        assert!(d.fix.contains("groundwork apply"), "{id}: {}", d.fix);
        for host in [
            HostContext::default(),
            HostContext {
                apparmor_restricts_userns: Some(false),
                ..Default::default()
            },
        ] {
            let d = diagnosed(id, &host);
            assert!(!d.cause.contains("AppArmor restricts"), "{id}: {}", d.cause);
            assert!(!d.fix.contains("groundwork apply"), "{id}: {}", d.fix);
        }
    }
    // Without AppArmor 4, apply cannot install the profile: the fix says what can.
    let d = diagnosed("k3s-child-eperm-tty", &restricted_apparmor(false));
    assert!(d.fix.starts_with("install AppArmor 4"), "{}", d.fix);
    assert!(
        d.fix.contains("apparmor_restrict_unprivileged_userns=0"),
        "{}",
        d.fix
    );
}

#[test]
fn rootlesskits_hint_is_apparmor_whatever_verify_saw() {
    // RootlessKit read the sysctl as 1 itself.
    let d = diagnosed("rootlesskit-apparmor-hint", &HostContext::default());
    assert!(d.cause.contains("AppArmor restricts"), "{}", d.cause);
    assert!(d.evidence.contains("is set to 1"), "{}", d.evidence);
}

#[test]
fn a_refused_user_namespace_in_a_container_or_with_the_debian_sysctl() {
    let docker = HostContext {
        container: Some("docker".into()),
        ..Default::default()
    };
    let d = diagnosed("k3s-child-eperm-in-docker", &docker);
    assert!(d.cause.contains("in a container (docker)"), "{}", d.cause);
    assert!(d.fix.contains("privileged"), "{}", d.fix);
    assert!(!d.fix.contains("groundwork apply"), "{}", d.fix);
    let clone_off = HostContext {
        unprivileged_userns_clone: Some("0".into()),
        container: Some("docker".into()),
        ..Default::default()
    };
    let d = diagnosed("smoke-unshare-eperm", &clone_off);
    assert!(
        d.cause.starts_with("kernel.unprivileged_userns_clone is 0"),
        "{}",
        d.cause
    );
    assert_eq!(
        d.fix,
        "set `kernel.unprivileged_userns_clone: 1` in the spec, then `groundwork apply`"
    );
    let d = diagnosed("k3s-child-eperm-tty", &HostContext::default());
    assert!(d.cause.contains("neither AppArmor"), "{}", d.cause);
}

#[test]
fn the_sysctl_named_is_the_one_in_the_message() {
    for (id, key, got, want) in [
        (
            "k3s-sysctl-userns-clone",
            "kernel.unprivileged_userns_clone",
            "0",
            "1",
        ),
        (
            "k3s-sysctl-ip-forward-journal",
            "net.ipv4.ip_forward",
            "0",
            "1",
        ),
        (
            "k3s-sysctl-dmesg-restrict",
            "kernel.dmesg_restrict",
            "1",
            "0",
        ),
    ] {
        let d = diagnosed(id, &HostContext::default());
        assert_eq!(
            d.cause,
            format!("a sysctl k3s checks at start ({key}) is {got}, not {want}"),
            "{id}"
        );
    }
    let d = diagnosed("k3s-sysctl-ip-forward-journal", &HostContext::default());
    assert_eq!(
        d.fix,
        "set `net.ipv4.ip_forward: 1` in the spec, then `groundwork apply`"
    );
    // groundwork cannot set a key outside its closed list: no apply for it.
    let d = diagnosed("k3s-sysctl-dmesg-restrict", &HostContext::default());
    assert!(
        d.fix.contains("sysctl -w kernel.dmesg_restrict=0"),
        "{}",
        d.fix
    );
    assert!(!d.fix.contains("groundwork apply"), "{}", d.fix);
}

fn cgroup_host(root: &[&str]) -> HostContext {
    HostContext {
        cgroup_v2: Some(true),
        root_controllers: Some(root.iter().map(|c| c.to_string()).collect()),
        ..Default::default()
    }
}

#[test]
fn a_missing_controller_is_not_delegated_only_if_the_root_cgroup_has_it() {
    // A Raspberry Pi kernel without the memory controller: no delegation can help.
    let pi = cgroup_host(&["cpuset", "cpu", "io", "pids"]);
    let d = diagnosed("k3s-memory-missing-rpi", &pi);
    assert!(
        d.cause
            .starts_with("the root cgroup lacks the memory controller"),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("cgroup_enable=memory"), "{}", d.fix);
    assert!(!d.fix.contains("groundwork apply"), "{}", d.fix);
    // The same line where the root has it.
    let full = cgroup_host(&["cpuset", "cpu", "io", "memory", "pids"]);
    let d = diagnosed("k3s-memory-missing-rpi", &full);
    assert_eq!(
        d.cause,
        "cgroup v2 controllers are not delegated to the user's systemd manager: memory"
    );
    assert!(d.fix.contains("groundwork apply"), "{}", d.fix);
    // The smoke check's list, with one of them absent from the root.
    let d = diagnosed(
        "smoke-controllers-not-delegated",
        &cgroup_host(&["cpu", "io", "memory", "pids"]),
    );
    assert!(
        d.cause
            .starts_with("the root cgroup lacks the cpuset controller"),
        "{}",
        d.cause
    );
    let d = diagnosed("smoke-controllers-not-delegated", &full);
    assert_eq!(
        d.cause,
        "cgroup v2 controllers are not delegated to the user's systemd manager: cpuset io"
    );
    // k3s's own message needs cpu and pids.
    let d = diagnosed("k3s-delegation-required", &cgroup_host(&["cpu", "memory"]));
    assert!(
        d.cause
            .starts_with("the root cgroup lacks the pids controller"),
        "{}",
        d.cause
    );
    let hybrid = HostContext {
        cgroup_v2: Some(false),
        ..Default::default()
    };
    for id in [
        "k3s-cpu-missing",
        "k3s-evacuation",
        "k3s-delegation-required",
    ] {
        let d = diagnosed(id, &hybrid);
        assert_eq!(d.cause, "the host does not run pure cgroup v2", "{id}");
    }
}

#[test]
fn cgroup2_warnings_match_in_either_case() {
    for (lower, upper) in [
        ("k3s-cgroup2-recommended-lower", "k3s-cgroup2-recommended"),
        ("k3s-evacuation-lower", "k3s-evacuation"),
    ] {
        let host = HostContext::default();
        assert_eq!(diagnosed(lower, &host).cause, diagnosed(upper, &host).cause);
    }
}

#[test]
fn an_unreachable_user_manager_names_lingering_only_when_it_is_off() {
    let no_linger = HostContext {
        linger: Some(false),
        ..Default::default()
    };
    let d = diagnosed("systemd-run-no-bus", &no_linger);
    assert!(d.cause.contains("lingering is off"), "{}", d.cause);
    assert_eq!(
        d.fix,
        "set `linger: true` in the spec, then `groundwork apply`"
    );
    let lingering = HostContext {
        linger: Some(true),
        uid: Some(1000),
        ..Default::default()
    };
    let d = diagnosed("smoke-user-manager-not-running", &lingering);
    assert!(!d.cause.contains("lingering"), "{}", d.cause);
    assert!(d.fix.contains("user@1000.service"), "{}", d.fix);
    assert!(!d.fix.contains("groundwork apply"), "{}", d.fix);
}

#[test]
fn an_unwritable_id_map_names_the_tool_the_container_or_the_sandbox() {
    let unprivileged = HostContext {
        unprivileged_idmap_tools: vec!["/usr/bin/newuidmap".into()],
        container: Some("lxc".into()),
        ..Default::default()
    };
    for id in [
        "rootlesskit-could-not-set-caps",
        "rootlesskit-uid-map-eperm",
        "smoke-newuidmap-not-setuid",
    ] {
        let d = diagnosed(id, &unprivileged);
        assert!(
            d.cause
                .starts_with("/usr/bin/newuidmap is neither setuid root nor has file capabilities"),
            "{id}: {}",
            d.cause
        );
        assert!(
            d.fix.contains("chmod u+s /usr/bin/newuidmap"),
            "{id}: {}",
            d.fix
        );
        // The packages resource blocks this: apply cannot fix it.
        assert!(!d.fix.contains("groundwork apply"), "{id}: {}", d.fix);
    }
    // newgidmap's failure is not newuidmap's: here newgidmap is setuid, and the container is
    // what is left.
    let d = diagnosed("newgidmap-gid-map-eperm", &unprivileged);
    assert!(d.cause.contains("in a container (lxc)"), "{}", d.cause);
    let d = diagnosed("rootlesskit-uid-map-eperm", &HostContext::default());
    assert!(d.cause.contains("NoNewPrivileges="), "{}", d.cause);
}

#[test]
fn the_smoke_checks_words_in_scenario_90_keep_their_diagnosis() {
    // tests/vm/scenarios/90-verify-diagnosis.sh greps these causes and fixes.
    let host = HostContext::default();
    for (id, cause, fix) in [
        (
            "smoke-no-subuid",
            "the user has no subordinate ids",
            "subids: { start: auto, count: 65536 }",
        ),
        (
            "smoke-unshare-enospc",
            "user.max_user_namespaces is 0",
            "user.max_user_namespaces: { value: 28633, at_least: true }",
        ),
        (
            "smoke-no-tun",
            "the tun device is unavailable to slirp4netns",
            "add `tun` to `modules`",
        ),
        (
            "smoke-controllers-not-delegated",
            "cgroup v2 controllers are not delegated",
            "cgroup.delegate: [cpu, cpuset, io, memory, pids]",
        ),
        (
            "k3s-sysctl-ip-forward-journal",
            "a sysctl k3s checks at start (net.ipv4.ip_forward)",
            "net.ipv4.ip_forward: 1",
        ),
    ] {
        let d = diagnosed(id, &host);
        assert!(d.cause.starts_with(cause), "{id}: {}", d.cause);
        assert!(d.fix.contains(fix), "{id}: {}", d.fix);
    }
}

#[test]
fn a_port_the_driver_cannot_bind_is_named_with_its_cause() {
    let d = diagnosed(
        "rootlesskit-builtin-privileged-port",
        &HostContext::default(),
    );
    assert!(
        d.cause
            .contains("port 443 is below net.ipv4.ip_unprivileged_port_start (1024)"),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("add 443 to `network.ports`"), "{}", d.fix);
    let d = diagnosed("rootlesskit-builtin-port-in-use", &HostContext::default());
    assert!(
        d.cause.starts_with("port 6443 is already held"),
        "{}",
        d.cause
    );
    // slirp4netns does not say which port nor why: the diagnosis says so, and where to look.
    let d = diagnosed("slirp4netns-add-hostfwd-failed", &HostContext::default());
    assert!(d.cause.contains("does not say which"), "{}", d.cause);
    assert!(d.fix.contains("groundwork verify"), "{}", d.fix);
}
