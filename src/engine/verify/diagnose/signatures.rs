//! The table of signatures: the words each message is known by, in k3s, RootlessKit,
//! shadow-utils, util-linux, systemd and slirp4netns as they really print them (the corpus in
//! tests/fixtures/diagnosis cites each), and how the host picks the cause. A fix offers
//! `groundwork apply` only where apply can make the change.

use super::Line;
use super::context::HostContext;

pub struct Finding {
    pub cause: String,
    pub fix: String,
}

fn finding(cause: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        cause: cause.into(),
        fix: fix.into(),
    }
}

pub struct Signature {
    pub id: &'static str,
    /// Lower case; any one of them in the unescaped, lower-cased line matches.
    pub needles: &'static [&'static str],
    pub explain: fn(&Line, &HostContext) -> Finding,
}

pub const SIGNATURES: &[Signature] = &[
    Signature {
        id: "userns-refused",
        needles: &[
            // RootlessKit starting k3s's child (EPERM, or EACCES from an LSM).
            "failed to start the child: fork/exec /proc/self/exe: operation not permitted",
            "failed to start the child: fork/exec /proc/self/exe: permission denied",
            // RootlessKit 2.0.2 and later, with the EACCES form: it read the sysctl as 1.
            "apparmor_restrict_unprivileged_userns is set to 1",
            // util-linux's unshare, in the smoke test.
            "unshare failed: operation not permitted",
            "unshare failed: permission denied",
        ],
        explain: userns_refused,
    },
    Signature {
        id: "userns-limit",
        needles: &[
            "fork/exec /proc/self/exe: no space left on device",
            "unshare failed: no space left on device",
            // RootlessKit's warning before the failure.
            "max_user_namespaces needs to be set to non-zero",
        ],
        explain: |_, _| {
            finding(
                "user.max_user_namespaces is 0",
                "set `user.max_user_namespaces: { value: 28633, at_least: true }` in the spec, then `groundwork apply`",
            )
        },
    },
    Signature {
        id: "nested-userns",
        // containerd, for a pod's own user namespace; k3s itself runs.
        needles: &[
            "failed to start noop process for unshare: fork/exec /proc/self/exe: operation not permitted",
        ],
        explain: |_, _| {
            finding(
                "a pod with `hostUsers: false` asks for a user namespace of its own, which containerd cannot map inside rootless k3s's (k3s issue #12918)",
                "run that pod without `hostUsers: false`: under rootless k3s every pod already runs in the user's namespace",
            )
        },
    },
    Signature {
        id: "sysctl-check",
        needles: &["expected sysctl value"],
        explain: sysctl_check,
    },
    Signature {
        id: "cgroup-v1",
        needles: &["enabling cgroup2 is highly recommended"],
        explain: |_, _| not_cgroup_v2(),
    },
    Signature {
        id: "cgroup-evacuation",
        needles: &["cannot set cgroup2 evacuation"],
        explain: cgroup_evacuation,
    },
    Signature {
        id: "cgroup-controller-missing",
        needles: &[
            "failed to find cpu cgroup (v2)",
            "failed to find cpuset cgroup (v2)",
            "failed to find memory cgroup (v2)",
        ],
        explain: cgroup_controller_missing,
    },
    Signature {
        id: "cgroup-delegation",
        needles: &[
            "delegated cgroup v2 controllers are required for rootless",
            // groundwork's own smoke test (verify, delegation).
            "controllers not delegated to the user manager",
        ],
        explain: cgroup_delegation,
    },
    Signature {
        id: "user-manager",
        needles: &[
            // systemd-run and systemctl, by systemd version.
            "failed to connect to bus",
            "failed to connect to user scope bus",
            // groundwork's own smoke test (verify, delegation).
            ", the user's systemd manager, is not running",
        ],
        explain: user_manager,
    },
    Signature {
        id: "subids-missing",
        needles: &[
            // RootlessKit; groundwork's smoke test says it in lower case.
            "no subuid ranges found",
            "no subgid ranges found",
            // util-linux's unshare --map-auto.
            "no line matching user",
        ],
        explain: |_, _| {
            finding(
                "the user has no subordinate ids",
                "set `subids: { start: auto, count: 65536 }` in the spec, then `groundwork apply`",
            )
        },
    },
    Signature {
        id: "subids-overlap",
        needles: &[
            "write to uid_map failed: invalid argument",
            "write to gid_map failed: invalid argument",
        ],
        explain: |_, _| {
            finding(
                "the user's subordinate ranges overlap each other, and the kernel refuses to map them",
                "run `groundwork apply`: it replaces the user's ranges with one (see `groundwork plan`)",
            )
        },
    },
    Signature {
        id: "idmap-tools-missing",
        needles: &[
            "exec: \"newuidmap\": executable file not found",
            "exec: \"newgidmap\": executable file not found",
        ],
        explain: |_, _| {
            finding(
                "newuidmap and newgidmap are not installed",
                "add `uidmap` to `packages`, then `groundwork apply`",
            )
        },
    },
    Signature {
        id: "idmap-tools-unprivileged",
        needles: &[
            // shadow built with libcap: capset() failed.
            "map: could not set caps",
            // shadow built without it (Debian's), and the kernel's answer to an unprivileged
            // writer or to ids the container does not map.
            "write to uid_map failed: operation not permitted",
            "write to gid_map failed: operation not permitted",
        ],
        explain: idmap_tools_unprivileged,
    },
    Signature {
        id: "tun-unavailable",
        needles: &[
            // RootlessKit: `ip tuntap add` in the child's namespace failed.
            "setting up tap tap0",
            // slirp4netns's perror(), in the smoke test.
            "open(\"/dev/net/tun\")",
        ],
        explain: |_, _| {
            finding(
                "the tun device is unavailable to slirp4netns",
                "add `tun` to `modules`, then `groundwork apply`",
            )
        },
    },
    Signature {
        id: "modules-missing",
        needles: &[
            "fuse-overlayfs not functional",
            "could not insert 'ip_tables'",
        ],
        explain: |_, _| {
            finding(
                "a kernel module k3s needs is not loaded, and a rootless process cannot load it",
                "add `fuse`, `ip_tables` and the iptables modules to `modules`, then `groundwork apply`",
            )
        },
    },
    Signature {
        id: "slirp4netns-too-old",
        // RootlessKit's feature check of the slirp4netns it found (k3s's, or the host's).
        needles: &[
            "slirp4netns seems older than v0.4.0",
            "this version of slirp4netns does not support --",
        ],
        explain: |_, _| {
            finding(
                "the slirp4netns k3s found is older than 0.4.0, or lacks a flag k3s passes it",
                "k3s runs the slirp4netns of its data directory first, then the unit's PATH: upgrade the slirp4netns package (0.4.0 or later; Debian 12 ships 1.2.0), or remove an older copy that comes first in that PATH",
            )
        },
    },
    Signature {
        id: "port-privileged",
        // RootlessKit's builtin port driver, annotating EACCES from bind(2).
        needles: &["cannot expose privileged port"],
        explain: port_privileged,
    },
    Signature {
        id: "port-in-use",
        // Go's net.Listen, as RootlessKit's builtin driver logs it ("listen: listen tcp ...").
        needles: &["bind: address already in use"],
        explain: port_in_use,
    },
    Signature {
        id: "port-driver-slirp4netns",
        // slirp4netns's API answers both causes in the same words.
        needles: &["add_hostfwd: slirp_add_hostfwd failed"],
        explain: |_, _| {
            finding(
                "slirp4netns could not bind a host port: it is below net.ipv4.ip_unprivileged_port_start, or another process holds it (slirp4netns does not say which)",
                "run `groundwork verify`: its network stage exposes each port of `network.ports` through slirp4netns and names the cause; a port below 1024 belongs in `network.ports`, so that `groundwork apply` lowers the sysctl to it",
            )
        },
    },
    Signature {
        id: "rootful-config",
        needles: &["open /etc/rancher/k3s/config.yaml: permission denied"],
        explain: |_, _| {
            finding(
                "a rootful k3s configuration in /etc/rancher/k3s is unreadable for the user",
                "uninstall the rootful k3s, or make /etc/rancher/k3s world-readable",
            )
        },
    },
];

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// The number after `start` in the line, when there is one.
fn number_after(lower: &str, start: &str) -> Option<u32> {
    let rest = &lower[lower.find(start)? + start.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `cannot expose privileged port P, you can add '...=P' to /etc/sysctl.conf (currently N)`.
fn port_privileged(line: &Line, _: &HostContext) -> Finding {
    let port = number_after(&line.lower, "cannot expose privileged port ");
    let start = number_after(&line.lower, "(currently ");
    match (port, start) {
        (Some(port), Some(start)) => finding(
            format!(
                "port {port} is below net.ipv4.ip_unprivileged_port_start ({start}), so the user may not bind it on the host"
            ),
            format!(
                "add {port} to `network.ports` and run `groundwork apply`: it lowers the sysctl to {port} (which lets every local user listen on ports {port} to 1023); or use a port of {start} or above"
            ),
        ),
        _ => finding(
            "a port is below net.ipv4.ip_unprivileged_port_start, so the user may not bind it on the host",
            "add the port to `network.ports` and run `groundwork apply`, or use a port of 1024 or above",
        ),
    }
}

/// `listen tcp :6443: bind: address already in use`: the port is the number before `: bind`.
fn port_in_use(line: &Line, _: &HostContext) -> Finding {
    let port = line
        .lower
        .find(": bind: address already in use")
        .and_then(|end| {
            let head = &line.lower[..end];
            let digits: String = head
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            digits.parse::<u16>().ok()
        });
    let port = port.map_or_else(|| "a port".to_string(), |p| format!("port {p}"));
    finding(
        format!("{port} is already held by another process (a second k3s, or another service)"),
        format!(
            "find the holder (`ss -ltnp` as root names it) and stop it, or move the service off {port}; `groundwork verify` names the holder when it may see it"
        ),
    )
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn userns_refused(line: &Line, host: &HostContext) -> Finding {
    let hint = line
        .lower
        .contains("apparmor_restrict_unprivileged_userns is set to 1");
    if hint || host.apparmor_restricts_userns == Some(true) {
        let fix = if host.apparmor_profile_installable {
            "set `apparmor.profile: auto` (or `always`) in the spec, then `groundwork apply`: it installs a profile that lets the k3s binary create them"
        } else {
            "install AppArmor 4 (the apparmor package), then `groundwork apply` can install k3s's profile; or, as root, `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, which lifts the restriction for every user"
        };
        return finding(
            "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1), and no profile allows k3s to create them",
            fix,
        );
    }
    if host.unprivileged_userns_clone.as_deref() == Some("0") {
        return finding(
            "kernel.unprivileged_userns_clone is 0: only root may create user namespaces",
            "set `kernel.unprivileged_userns_clone: 1` in the spec, then `groundwork apply`",
        );
    }
    if let Some(container) = &host.container {
        return finding(
            format!(
                "k3s runs in a container ({container}) whose seccomp or LSM profile forbids creating user namespaces"
            ),
            "run the container privileged (or with seccomp and AppArmor unconfined), or run k3s on the host",
        );
    }
    finding(
        "the kernel refused the user a user namespace, and neither AppArmor's restriction, kernel.unprivileged_userns_clone nor a container explains it (another LSM or a seccomp filter may)",
        "reproduce it as the user with `unshare --user --map-root-user --net true`, and look for the denial in the kernel log (`journalctl -k`)",
    )
}

/// k3s checks its sysctls one by one and names the first wrong one: `expected sysctl value
/// "KEY" to be "WANT", got "GOT"`.
fn sysctl_check(line: &Line, _: &HostContext) -> Finding {
    let text = &line.text;
    let parsed = between(text, "expected sysctl value \"", "\"").and_then(|key| {
        let want = between(text, "\" to be \"", "\"")?;
        let got = between(text, ", got \"", "\"")?;
        Some((key, want, got))
    });
    let Some((key, want, got)) = parsed else {
        return finding(
            "a sysctl k3s checks at start has the wrong value",
            "set the sysctl that line names to the value it asks for",
        );
    };
    let fix = if crate::allow::SYSCTLS.iter().any(|s| s.key == key) {
        format!("set `{key}: {want}` in the spec, then `groundwork apply`")
    } else {
        format!(
            "groundwork does not manage {key}: as root, `sysctl -w {key}={want}`, and set it in a file in /etc/sysctl.d"
        )
    };
    finding(
        format!("a sysctl k3s checks at start ({key}) is {got}, not {want}"),
        fix,
    )
}

fn not_cgroup_v2() -> Finding {
    finding(
        "the host does not run pure cgroup v2",
        "boot with systemd.unified_cgroup_hierarchy=1 (see `groundwork plan`)",
    )
}

fn cgroup_evacuation(_: &Line, host: &HostContext) -> Finding {
    if host.cgroup_v2 == Some(false) {
        return not_cgroup_v2();
    }
    finding(
        "k3s cannot write its own cgroup: it was started outside the k3s-rootless user unit, whose Delegate=yes gives it one",
        "start k3s only through its unit (`systemctl --user restart k3s-rootless.service` as the user), not from a shell or an ssh session; `groundwork apply` restores the unit if it was edited",
    )
}

/// Controllers missing where k3s or the smoke test looked: absent from the root cgroup (the
/// kernel does not enable them, and no delegation can help) or only not delegated.
fn missing_controllers(missing: &[&str], host: &HostContext) -> Finding {
    if host.cgroup_v2 == Some(false) {
        return not_cgroup_v2();
    }
    let absent: Vec<&str> = match &host.root_controllers {
        Some(root) => missing
            .iter()
            .copied()
            .filter(|c| !root.iter().any(|r| r == c))
            .collect(),
        None => Vec::new(),
    };
    if !absent.is_empty() {
        let (noun, pronoun) = if absent.len() == 1 {
            ("controller", "it")
        } else {
            ("controllers", "them")
        };
        return finding(
            format!(
                "the root cgroup lacks the {} {noun}: the kernel does not enable {pronoun}, so no user can be delegated {pronoun}",
                and_list(&absent)
            ),
            format!(
                "enable {pronoun} in the kernel (a boot parameter such as `cgroup_enable={}`; Raspberry Pi kernels want it in cmdline.txt), then reboot",
                absent[0]
            ),
        );
    }
    let mut cause =
        "cgroup v2 controllers are not delegated to the user's systemd manager".to_string();
    if !missing.is_empty() {
        cause.push_str(&format!(": {}", missing.join(" ")));
    }
    finding(
        cause,
        "set `cgroup.delegate: [cpu, cpuset, io, memory, pids]`, run `groundwork apply`, then restart the user manager (or reboot)",
    )
}

/// `failed to find CONTROLLER cgroup (v2)`: k3s names the first of cpu, cpuset, memory that its
/// cgroup root lacks.
fn cgroup_controller_missing(line: &Line, host: &HostContext) -> Finding {
    let controller = between(&line.lower, "failed to find ", " cgroup (v2)");
    missing_controllers(controller.as_slice(), host)
}

fn cgroup_delegation(line: &Line, host: &HostContext) -> Finding {
    // The smoke test lists what is missing: `...user@UID.service: cpuset io (it has: ...)`.
    if let Some(list) = between(
        &line.lower,
        "not delegated to the user manager user@",
        " (it has:",
    )
    .and_then(|l| l.split_once(": "))
    {
        return missing_controllers(&list.1.split_whitespace().collect::<Vec<_>>(), host);
    }
    // k3s needs cpu and pids in a cgroup it can write; usually neither is the problem, but a
    // root cgroup without them is.
    let absent_at_root: Vec<&str> = match &host.root_controllers {
        Some(root) => ["cpu", "pids"]
            .into_iter()
            .filter(|c| !root.iter().any(|r| r == c))
            .collect(),
        None => Vec::new(),
    };
    missing_controllers(&absent_at_root, host)
}

fn user_manager(_: &Line, host: &HostContext) -> Finding {
    if host.linger == Some(false) {
        return finding(
            "the user's systemd manager is not running: lingering is off, so it runs only while the user is logged in",
            "set `linger: true` in the spec, then `groundwork apply`",
        );
    }
    let uid = host
        .uid
        .map_or_else(|| "UID".to_string(), |u| u.to_string());
    finding(
        "the user's systemd manager is not running, or its sockets in /run/user are unreachable",
        format!(
            "start it (`systemctl start user@{uid}.service`) and read why it stopped (`journalctl -u user@{uid}.service`)"
        ),
    )
}

/// The same words come from a newuidmap that is not privileged, from a container whose own
/// user namespace lacks the ids, and from a sandbox that voids the setuid bit.
fn idmap_tools_unprivileged(line: &Line, host: &HostContext) -> Finding {
    let gid = line.lower.contains("newgidmap") || line.lower.contains("gid_map");
    let (tool, cap) = if gid {
        ("/usr/bin/newgidmap", "cap_setgid")
    } else {
        ("/usr/bin/newuidmap", "cap_setuid")
    };
    if host.unprivileged_idmap_tools.iter().any(|t| t == tool) {
        return finding(
            format!(
                "{tool} is neither setuid root nor has file capabilities, so it cannot write the user's id map"
            ),
            format!(
                "as root, `chown root {tool} && chmod u+s {tool}` (or `setcap {cap}+ep {tool}`), or reinstall the package that ships it (uidmap on Debian and Ubuntu, shadow-utils on Fedora and RHEL)"
            ),
        );
    }
    if let Some(container) = &host.container {
        return finding(
            format!(
                "k3s runs in a container ({container}) whose own user namespace does not map the user's subordinate ids, so no process can map them further"
            ),
            "widen the container's id map to cover the user's subordinate ranges, or run k3s on the host",
        );
    }
    finding(
        format!(
            "the kernel refused the id map though {tool} is privileged: a sandbox with NoNewPrivileges= voids its setuid bit (or the namespace was mapped already)"
        ),
        "look for NoNewPrivileges= and other hardening in the unit or session that ran it (`systemctl --user cat k3s-rootless.service` as the user)",
    )
}
