//! The parsers and observations against real files captured from a Debian 12 VM
//! (tests/fixtures/debian12, see its README for how they were captured and trimmed).

mod common;
use common::*;
use groundwork::host::HostRoot;
use groundwork::resources::{
    account, delegation, host, linger, modules, packages, subids, sysctl, unit_state,
};
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/debian12");

fn fixture(path: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(path))
        .unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

fn fresh() -> HostRoot {
    HostRoot::new(Path::new(FIXTURES).join("fresh"))
}

#[test]
fn os_release() {
    let os = packages::parse_os_release(&fixture("fresh/usr/lib/os-release"));
    assert_eq!(os.id, "debian");
    assert!(os.id_like.is_empty());
    assert_eq!(os.version_id, "12");
    assert_eq!(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(packages::family(&os), packages::Family::Debian);
    // /etc/os-release is Debian's relative symlink to it, followed within the root.
    let via_link = fresh().read("/etc/os-release").expect("the symlink");
    assert_eq!(packages::parse_os_release(&via_link), os);
}

#[test]
fn dpkg_status_before_and_after_the_install() {
    // Every package the database names, asked for: the count is of those installed.
    let parse = |path: &str| {
        let text = fixture(path);
        let all: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("Package: "))
            .map(String::from)
            .collect();
        packages::parse_dpkg_status(text.as_bytes(), &all)
    };
    let before = parse("fresh/var/lib/dpkg/status");
    assert_eq!(before.len(), 9, "{before:?}");
    assert_eq!(before["passwd"], "1:4.13+dfsg1-1+deb12u2");
    assert_eq!(before["systemd"], "252.39-1~deb12u2");
    for p in [
        "uidmap",
        "dbus-user-session",
        "slirp4netns",
        "fuse-overlayfs",
    ] {
        assert!(
            !before.contains_key(p),
            "{p} is not installed in the fresh VM"
        );
    }
    let after = parse("prepared/var/lib/dpkg/status");
    assert_eq!(after.len(), 17);
    assert_eq!(after["uidmap"], "1:4.13+dfsg1-1+deb12u2");
    assert_eq!(after["dbus-user-session"], "1.14.10-1~deb12u1");
    assert_eq!(after["slirp4netns"], "1.2.0-1");
    assert_eq!(after["fuse-overlayfs"], "1.10-1");
    // Multi-line fields (Description, Conffiles, Depends) do not leak into the versions.
    assert!(after.values().all(|v| !v.contains(' ') && !v.is_empty()));
}

#[test]
fn passwd() {
    let fresh = fixture("fresh/etc/passwd");
    let before = account::parse_passwd(&fresh);
    assert_eq!(before.len(), 21);
    assert!(before.iter().all(|e| e.name != "k3s"));
    let nobody = before.iter().find(|e| e.name == "nobody").expect("nobody");
    assert_eq!((nobody.uid, nobody.home), (65534, "/nonexistent"));
    let prepared = fixture("prepared/etc/passwd");
    let after = account::parse_passwd(&prepared);
    let k3s = after.iter().find(|e| e.name == "k3s").expect("k3s");
    assert_eq!((k3s.uid, k3s.gid, k3s.home), (1000, 1000, "/home/k3s"));
    let alice = after.iter().find(|e| e.name == "alice").expect("alice");
    assert_eq!(alice.uid, 1001);
}

#[test]
fn subuid_as_useradd_left_it_and_after_usermod() {
    let empty = subids::parse("/etc/subuid", Some(&fixture("fresh/etc/subuid")));
    assert!(empty.exists && empty.entries.is_empty() && empty.malformed_lines.is_empty());

    let useradd = subids::parse("/etc/subuid", Some(&fixture("prepared/etc/subuid")));
    let ranges: Vec<(&str, u32, u32)> = useradd
        .entries
        .iter()
        .map(|e| (e.owner.as_str(), e.start, e.count))
        .collect();
    assert_eq!(ranges, [("k3s", 100000, 65536), ("alice", 165536, 65536)]);

    let overlapping = subids::parse("/etc/subuid", Some(&fixture("subuid-overlapping")));
    assert_eq!(overlapping.entries.len(), 4);
    assert_eq!(overlapping.entries[3].line, 4);
    assert!(overlapping.malformed_lines.is_empty());
    // A new range for a third user goes after all of them.
    assert_eq!(
        groundwork::subid_ranges::allocate(
            &[&overlapping],
            "carol",
            None,
            65536,
            &[1000, 1001],
            (100_000, 600_100_000),
            None
        ),
        Some(231072)
    );
}

#[test]
fn nsswitch_of_debian_names_no_subid_source() {
    let facts = subids::observe(&fresh()).expect("observe");
    assert_eq!(facts.nsswitch_subid, None);
    assert!(facts.subgid.exists);
}

#[test]
fn sysctl_files_of_debian() {
    // Debian's /etc/sysctl.conf is all comments.
    assert!(
        groundwork::managed_files::parse_sysctl_conf(&fixture("fresh/etc/sysctl.conf")).is_empty()
    );
    assert_eq!(
        groundwork::managed_files::parse_sysctl_conf(&fixture(
            "fresh/usr/lib/sysctl.d/50-pid-max.conf"
        )),
        [(16, "kernel.pid_max".to_string(), "4194304".to_string())]
    );
    let links = groundwork::managed_files::parse_sysctl_conf(&fixture(
        "fresh/usr/lib/sysctl.d/99-protect-links.conf",
    ));
    let keys: Vec<&str> = links.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "fs.protected_fifos",
            "fs.protected_hardlinks",
            "fs.protected_regular",
            "fs.protected_symlinks"
        ]
    );
    // /proc prints ping_group_range with a tab; values compare with whitespace collapsed.
    assert_eq!(sysctl::normalize("1\t0\n"), "1 0");
}

#[test]
fn sysctl_observation_of_the_fresh_vm() {
    let facts = sysctl::observe(&fresh(), &example_spec()).expect("observe");
    let runtime = |k: &str| facts.keys[k].runtime.clone();
    assert_eq!(runtime("net.ipv4.ip_forward").as_deref(), Some("0"));
    assert_eq!(runtime("user.max_user_namespaces").as_deref(), Some("7811"));
    assert_eq!(
        runtime("kernel.unprivileged_userns_clone").as_deref(),
        Some("1")
    );
    assert!(facts.keys.values().all(|k| k.others.is_empty()));
    assert_eq!(facts.managed_file, None);
}

#[test]
fn kernel_modules_of_the_fresh_vm() {
    let facts = modules::observe(&fresh(), &example_spec()).expect("observe");
    assert_eq!(facts.kernel_release, KERNEL);
    assert!(facts.loadable_support);
    assert_eq!(facts.loaded.len(), 55);
    assert!(facts.loaded.contains("fuse") && !facts.loaded.contains("tun"));
    assert_eq!(facts.builtin.len(), 186);
    // File names with `-` are canonicalised to `_`, as /proc/modules spells them.
    assert!(facts.builtin.contains("libblake2s_x86_64"));
    assert!(facts.builtin.contains("amd_uncore"));
    for m in example_spec().modules {
        assert!(facts.available.contains(&m), "{m} is in modules.dep");
    }
}

#[test]
fn cgroup_v2_of_the_fresh_vm() {
    let facts = host::observe(&fresh()).expect("observe");
    assert_eq!(facts.kernel_release, KERNEL);
    assert_eq!(facts.cgroup_mode, host::CgroupMode::Unified);
    assert_eq!(
        facts.root_controllers,
        [
            "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"
        ]
    );
    assert!(facts.user_namespaces);
    assert_eq!(facts.container, None);
    assert_eq!(host::kernel_version(&facts.kernel_release), Some((6, 1)));
}

/// systemd's record of the container manager wins over the marker files; Docker's marker alone
/// is enough (its containers seldom run systemd).
#[test]
fn container_from_systemd_or_the_managers_marker_files() {
    let h = Host::fresh();
    let root = HostRoot::new(h.root());
    h.write("/.dockerenv", "");
    assert_eq!(
        host::observe(&root).expect("observe").container.as_deref(),
        Some("docker")
    );
    h.write("/run/.containerenv", "engine=\"podman-4.3.1\"\n");
    assert_eq!(
        host::observe(&root).expect("observe").container.as_deref(),
        Some("podman")
    );
    h.write("/run/systemd/container", "lxc\n");
    assert_eq!(
        host::observe(&root).expect("observe").container.as_deref(),
        Some("lxc")
    );
}

/// The user manager's cgroup and the running unit's, where the VM had them.
#[test]
fn user_manager_and_unit_cgroups_of_the_prepared_vm() {
    let h = Host::fresh();
    copy_tree(&Path::new(FIXTURES).join("prepared"), &h.root());
    let root = HostRoot::new(h.root());
    let account = account::observe(&root, USER).expect("observe");
    assert_eq!(account.uid, Some(UID));
    let delegation = delegation::observe(&root, &account).expect("observe");
    assert_eq!(
        delegation.delegated.as_deref(),
        Some(
            ["cpuset", "cpu", "io", "memory", "pids"]
                .map(String::from)
                .as_slice()
        )
    );
    let unit = unit_state::observe(&root, &account).expect("observe");
    assert!(
        unit.active,
        "app.slice/k3s-rootless.service/cgroup.procs lists the unit's process"
    );
    assert!(linger::observe(&root, USER).expect("observe").enabled);
}
