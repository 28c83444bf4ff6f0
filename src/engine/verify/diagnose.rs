//! Known failure signatures of rootless k3s, from its logs, mapped to the prerequisite that is
//! missing and the exact fix. When system pods fail, the cause is usually one of these.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The log line that matched.
    pub evidence: String,
    pub cause: &'static str,
    pub fix: &'static str,
}

struct Signature {
    needles: &'static [&'static str],
    cause: &'static str,
    fix: &'static str,
}

const SIGNATURES: &[Signature] = &[
    Signature {
        needles: &["fork/exec /proc/self/exe: operation not permitted"],
        cause: "unprivileged user namespaces are restricted (AppArmor on Ubuntu 24.04+, or kernel.unprivileged_userns_clone=0)",
        fix: "set `apparmor.profile: auto` (or `always`) and `kernel.unprivileged_userns_clone: 1` in the spec, then `groundwork apply`",
    },
    Signature {
        needles: &[
            "fork/exec /proc/self/exe: no space left on device",
            // util-linux's unshare, in the smoke test.
            "unshare failed: No space left on device",
        ],
        cause: "user.max_user_namespaces is 0",
        fix: "set `user.max_user_namespaces: { value: 28633, at_least: true }` in the spec, then `groundwork apply`",
    },
    Signature {
        needles: &["expected sysctl value"],
        cause: "a sysctl k3s checks at start (net.ipv4.ip_forward) has the wrong value",
        fix: "set `net.ipv4.ip_forward: 1` in the spec, then `groundwork apply`",
    },
    Signature {
        needles: &[
            "delegated cgroup v2 controllers are required",
            "failed to find cpuset cgroup (v2)",
            "failed to find cpu cgroup (v2)",
            "failed to find memory cgroup (v2)",
            // groundwork's own smoke test (verify, delegation).
            "controllers not delegated to the user manager",
        ],
        cause: "cgroup v2 controllers are not delegated to the user's systemd manager",
        fix: "set `cgroup.delegate: [cpu, cpuset, io, memory, pids]`, run `groundwork apply`, then restart the user manager (or reboot)",
    },
    Signature {
        needles: &["Enabling cgroup2 is highly recommended"],
        cause: "the host does not run pure cgroup v2",
        fix: "boot with systemd.unified_cgroup_hierarchy=1 (see `groundwork plan`)",
    },
    Signature {
        needles: &[
            "No subuid ranges found",
            "no subuid ranges found",
            "No subgid ranges found",
            // util-linux's unshare --map-auto, in the smoke test.
            "no line matching user",
        ],
        cause: "the user has no subordinate ids",
        fix: "set `subids: { start: auto, count: 65536 }` in the spec, then `groundwork apply`",
    },
    Signature {
        needles: &[
            "write to uid_map failed: Invalid argument",
            "write to gid_map failed: Invalid argument",
        ],
        cause: "the user's subordinate ranges overlap each other, and the kernel refuses to map them",
        fix: "run `groundwork apply`: it replaces the user's ranges with one (see `groundwork plan`)",
    },
    Signature {
        needles: &[
            "exec: \"newuidmap\": executable file not found",
            "should have setuid or have filecaps",
        ],
        cause: "newuidmap/newgidmap are missing or lack setuid root",
        fix: "add `uidmap` to `packages` (or reinstall it), then `groundwork apply`",
    },
    Signature {
        needles: &[
            "setting up tap tap0",
            // slirp4netns's own words, in the smoke test.
            "open(\"/dev/net/tun\")",
            "tap0 did not come up",
        ],
        cause: "the tun device is unavailable to slirp4netns",
        fix: "add `tun` to `modules`, then `groundwork apply`",
    },
    Signature {
        needles: &[
            "fuse-overlayfs not functional",
            "could not insert 'ip_tables'",
        ],
        cause: "a kernel module k3s needs is not loaded, and a rootless process cannot load it",
        fix: "add `fuse`, `ip_tables` and the iptables modules to `modules`, then `groundwork apply`",
    },
    Signature {
        needles: &["Failed to connect to bus"],
        cause: "the user's systemd manager or session bus is unreachable",
        fix: "enable lingering (`linger: true`) and install dbus-user-session, then `groundwork apply`",
    },
    Signature {
        needles: &["open /etc/rancher/k3s/config.yaml: permission denied"],
        cause: "a rootful k3s configuration in /etc/rancher/k3s is unreadable for the user",
        fix: "uninstall the rootful k3s, or make /etc/rancher/k3s world-readable",
    },
];

/// Every signature found in the log, once each, in the order of the table.
pub fn diagnose(log: &str) -> Vec<Diagnosis> {
    SIGNATURES
        .iter()
        .filter_map(|sig| {
            log.lines()
                .find(|line| sig.needles.iter().any(|n| line.contains(n)))
                .map(|line| Diagnosis {
                    evidence: line.trim().chars().take(300).collect(),
                    cause: sig.cause,
                    fix: sig.fix,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_real_log_lines() {
        // Lines as k3s and rootlesskit print them (k3s issues #12711, #2054, #2942; docs).
        let log = "\
Nov 28 10:00:01 host k3s[812]: time=\"2026-11-28T10:00:01Z\" level=fatal msg=\"failed to start the child: fork/exec /proc/self/exe: operation not permitted\"
Nov 28 10:00:02 host k3s[813]: [rootlesskit:child ] error: command [/usr/bin/slirp4netns --mtu 65520 -r 3 --disable-host-loopback --enable-sandbox --enable-seccomp 1234 tap0] exited: setting up tap tap0: open(\"/dev/net/tun\"): No such file or directory
Nov 28 10:00:03 host k3s[814]: level=fatal msg=\"expected sysctl value \\\"net.ipv4.ip_forward\\\" to be \\\"1\\\", got \\\"0\\\"; try adding \\\"net.ipv4.ip_forward=1\\\" to /etc/sysctl.conf and running `sudo sysctl --system`\"
";
        let found = diagnose(log);
        let causes: Vec<&str> = found.iter().map(|d| d.cause).collect();
        assert_eq!(found.len(), 3, "{causes:?}");
        assert!(causes[0].contains("user namespaces are restricted"));
        assert!(causes[1].contains("net.ipv4.ip_forward"));
        assert!(causes[2].contains("tun"));
        assert!(found[2].evidence.contains("setting up tap tap0"));
    }

    #[test]
    fn maps_the_smoke_tests_own_failures() {
        // The failed checks' details, as verify printed them on a Debian 12 VM (scenario
        // 90-verify-diagnosis) with each prerequisite removed.
        let cases = [
            (
                "no subuid ranges found for k3s in /etc/subuid",
                "no subordinate ids",
            ),
            (
                "unshare exited: unshare: unshare failed: No space left on device",
                "user.max_user_namespaces is 0",
            ),
            (
                "the kernel or /usr/bin/newuidmap refused to map all of k3s's ranges at once, as k3s does: /usr/bin/newuidmap 4242 0 1000 1 1 100000 65536 65537 100000 131072 failed (exit status: 1): newuidmap: write to uid_map failed: Invalid argument",
                "ranges overlap each other",
            ),
            (
                "controllers not delegated to the user manager user@1000.service: cpuset io (it has: cpu memory pids)",
                "not delegated",
            ),
            (
                "tap0 did not come up within 15 s; slirp4netns said: open(\"/dev/net/tun\"): No such device",
                "tun device is unavailable",
            ),
        ];
        for (detail, cause) in cases {
            let found = diagnose(detail);
            assert_eq!(found.len(), 1, "{detail}");
            assert!(
                found[0].cause.contains(cause),
                "{detail}: {}",
                found[0].cause
            );
        }
    }

    #[test]
    fn a_clean_log_has_no_diagnosis() {
        assert!(
            diagnose("level=info msg=\"cgroup v2 controllers are delegated for rootless.\"\n")
                .is_empty()
        );
    }
}
