//! The closed lists of what groundwork manages, and the shape and hard bounds of each value: the
//! sysctl keys, kernel modules, packages, cgroup controllers and k3s install paths. The spec
//! validator and the helper both check against these, so a spec that validates never asks the
//! helper for something outside them. Root's policy (`crate::policy`) narrows them further for
//! the users who hold the helper's sudoers rule.

/// The kind of value a sysctl takes, with the bounds the kernel (or sense) allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// Two integers in `min..=max`, the first not above the second (`ping_group_range`).
    Pair { min: i64, max: i64 },
}

impl Shape {
    /// What a value of this shape is, in words.
    pub fn describe(self) -> String {
        match self {
            Shape::Int { min: 0, max: 1 } => "0 or 1".into(),
            Shape::Int { min, max } => format!("an integer from {min} to {max}"),
            Shape::Pair { min, max } => format!(
                "two integers from {min} to {max}, separated by a space, the first not above the second"
            ),
        }
    }
}

pub struct SysctlKey {
    pub key: &'static str,
    pub shape: Shape,
}

const FLAG: Shape = Shape::Int { min: 0, max: 1 };
const COUNT: Shape = Shape::Int {
    min: 1,
    max: i32::MAX as i64,
};

/// Sysctls that rootless k3s (or its networking) needs. Nothing else can be set.
pub const SYSCTLS: &[SysctlKey] = &[
    SysctlKey {
        key: "user.max_user_namespaces",
        shape: Shape::Int {
            min: 0,
            max: i32::MAX as i64,
        },
    },
    SysctlKey {
        key: "kernel.unprivileged_userns_clone",
        shape: FLAG,
    },
    SysctlKey {
        key: "net.ipv4.ip_forward",
        shape: FLAG,
    },
    SysctlKey {
        key: "net.ipv6.conf.all.forwarding",
        shape: FLAG,
    },
    SysctlKey {
        key: "net.ipv4.ip_unprivileged_port_start",
        shape: Shape::Int { min: 0, max: 65535 },
    },
    SysctlKey {
        key: "net.ipv4.ping_group_range",
        shape: Shape::Pair {
            min: 0,
            max: i32::MAX as i64,
        },
    },
    SysctlKey {
        key: "net.bridge.bridge-nf-call-iptables",
        shape: FLAG,
    },
    SysctlKey {
        key: "net.bridge.bridge-nf-call-ip6tables",
        shape: FLAG,
    },
    SysctlKey {
        key: "fs.inotify.max_user_instances",
        shape: COUNT,
    },
    SysctlKey {
        key: "fs.inotify.max_user_watches",
        shape: COUNT,
    },
    SysctlKey {
        key: "vm.max_map_count",
        shape: COUNT,
    },
];

/// The allow-listed key, or None.
pub fn sysctl(key: &str) -> Option<&'static SysctlKey> {
    SYSCTLS.iter().find(|k| k.key == key)
}

pub fn sysctl_keys() -> impl Iterator<Item = &'static str> {
    SYSCTLS.iter().map(|k| k.key)
}

/// Parses one integer of a sysctl value, written in decimal the one way `i64`'s Display writes
/// it: no `+`, no spaces, and no leading zero, which the kernel (and systemd-sysctl at boot)
/// reads as octal: `065530` is 27480 there, so a bound checked on 65530 would not hold (found in
/// review).
fn int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n: &i64| n.to_string() == s)
}

/// The integers of a value in the key's shape, in its bounds; an error says what is expected.
/// Values are single-space separated (the form groundwork writes and compares).
pub fn parse_sysctl_value(key: &str, value: &str) -> Result<Vec<i64>, String> {
    let Some(k) = sysctl(key) else {
        return Err(format!("sysctl {key:?} is not on the allow-list"));
    };
    let parts: Vec<&str> = value.split(' ').collect();
    let (count, min, max) = match k.shape {
        Shape::Int { min, max } => (1, min, max),
        Shape::Pair { min, max } => (2, min, max),
    };
    let nums: Option<Vec<i64>> = parts.iter().map(|p| int(p)).collect();
    match nums {
        Some(n)
            if n.len() == count
                && n.iter().all(|v| (min..=max).contains(v))
                && n.windows(2).all(|w| w[0] <= w[1]) =>
        {
            Ok(n)
        }
        _ => Err(format!("{key} takes {}, not {value:?}", k.shape.describe())),
    }
}

/// Kernel modules from the usernetes and k3s rootless prerequisite lists.
pub const MODULES: &[&str] = &[
    "fuse",
    "tun",
    "tap",
    "bridge",
    "br_netfilter",
    "veth",
    "vxlan",
    "overlay",
    "ip_tables",
    "ip6_tables",
    "iptable_nat",
    "ip6table_nat",
    "iptable_filter",
    "ip6table_filter",
    "iptable_mangle",
    "ip6table_mangle",
    "nf_tables",
    "nf_conntrack",
    "nf_nat",
    "x_tables",
    "xt_MASQUERADE",
    "xt_addrtype",
    "xt_comment",
    "xt_conntrack",
    "xt_mark",
    "xt_multiport",
    "xt_nat",
    "xt_tcpudp",
    "xt_statistic",
];

/// Packages for rootless containers, by their Debian and Red Hat names.
pub const PACKAGES: &[&str] = &[
    "uidmap",
    "shadow-utils",
    "dbus-user-session",
    "dbus-daemon",
    "slirp4netns",
    "fuse-overlayfs",
    "fuse3",
    "iptables",
    "iptables-nft",
    "rootlesskit",
    "passt",
    "systemd-container",
    "conntrack",
    "conntrack-tools",
    "apparmor",
    "apparmor-utils",
];

/// The cgroup v2 controllers groundwork delegates to user managers: the ones rootless k3s uses.
/// systemd's `Delegate=` takes more (the bpf-* programs among them), but those let a user manager
/// attach BPF programs, which nobody needs for k3s.
pub const CGROUP_CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// Shadow's SUB_UID_MIN default: subordinate ranges start at or above it.
pub const SUBID_MIN: u32 = 100_000;
/// Rootless k3s (like podman and Docker) needs at least this many subordinate ids.
pub const SUBID_MIN_COUNT: u32 = 65_536;
/// The largest range one request may add: 256 × 65536. Root's policy caps it lower for users.
pub const MAX_SUBID_COUNT: u32 = 1 << 24;

/// Where a k3s binary may be installed: a file named exactly `k3s` directly in one of these
/// directories. Any other name there is another program that root runs (or a setuid one), so
/// writing bytes to it would be a way to root.
pub const K3S_DIRS: &[&str] = &["/usr/local/bin", "/usr/bin", "/opt/k3s/bin"];

pub fn is_allowed_install_path(p: &str) -> bool {
    crate::names::is_clean_absolute_path(p)
        && K3S_DIRS
            .iter()
            .any(|dir| p.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) == Some("k3s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_values_take_their_shape() {
        assert_eq!(parse_sysctl_value("net.ipv4.ip_forward", "1"), Ok(vec![1]));
        for bad in ["one", "2", "-1", "1 1", "", " 1", "+1", "01x"] {
            assert!(
                parse_sysctl_value("net.ipv4.ip_forward", bad).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_sysctl_value("net.ipv4.ping_group_range", "0 2147483647"),
            Ok(vec![0, 2147483647])
        );
        assert!(parse_sysctl_value("net.ipv4.ping_group_range", "5 1").is_err());
        assert!(parse_sysctl_value("net.ipv4.ping_group_range", "0").is_err());
        assert!(parse_sysctl_value("fs.inotify.max_user_watches", "0").is_err());
        assert!(parse_sysctl_value("kernel.core_pattern", "1").is_err());
        let err = parse_sysctl_value("net.ipv4.ip_unprivileged_port_start", "70000").unwrap_err();
        assert!(err.contains("from 0 to 65535"), "{err}");
    }

    /// Found in review: `065530` passed as 65530 (a raise of vm.max_map_count), and the kernel
    /// set 27480, reading it as octal; `0100` took ip_unprivileged_port_start to 64.
    #[test]
    fn a_sysctl_value_is_decimal_as_the_kernel_reads_it() {
        for bad in ["065530", "0100", "00", "-0", "-01", "0x10"] {
            assert!(
                parse_sysctl_value("vm.max_map_count", bad).is_err()
                    && parse_sysctl_value("net.ipv4.ip_unprivileged_port_start", bad).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_sysctl_value("vm.max_map_count", "65530"),
            Ok(vec![65530])
        );
        assert_eq!(
            parse_sysctl_value("net.ipv4.ip_unprivileged_port_start", "0"),
            Ok(vec![0])
        );
        assert_eq!(
            parse_sysctl_value("net.ipv4.ping_group_range", "0 10"),
            Ok(vec![0, 10])
        );
    }

    #[test]
    fn install_paths() {
        assert!(is_allowed_install_path("/usr/local/bin/k3s"));
        assert!(is_allowed_install_path("/opt/k3s/bin/k3s"));
        for bad in [
            "/usr/local/bin/k3s-",
            "/usr/local/bin/sudo",
            "/usr/local/binx/k3s",
            "/usr/local/bin/../bin/k3s",
            "/home/k3s/k3s",
        ] {
            assert!(!is_allowed_install_path(bad), "{bad}");
        }
    }
}
