//! What the helper may touch, beyond syntax: closed allow-lists of sysctl keys, kernel modules
//! and packages, and the bounds on subordinate id ranges. The spec validator uses the same lists,
//! so a spec that validates never asks the helper for something it will refuse.

/// Sysctls that rootless k3s (or its networking) needs. Nothing that weakens the host further.
pub const SYSCTLS: &[&str] = &[
    "user.max_user_namespaces",
    "kernel.unprivileged_userns_clone",
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "fs.inotify.max_user_instances",
    "fs.inotify.max_user_watches",
    "vm.max_map_count",
];

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

/// The largest range one request may add: 256 × 65536.
pub const MAX_SUBID_COUNT: u32 = 1 << 24;

/// Where a k3s binary may be installed: a file named exactly `k3s` directly in one of these
/// directories. Any other name there is another program that root runs (or a setuid one, whose
/// mode a replacement keeps), so writing bytes the invoker chose to it would make the invoker root.
pub fn is_allowed_install_path(p: &str) -> bool {
    crate::names::is_clean_absolute_path(p)
        && ["/usr/local/bin/", "/usr/bin/", "/opt/k3s/bin/"]
            .iter()
            .any(|dir| p.strip_prefix(dir) == Some("k3s"))
}

/// Sysctl values the allow-listed keys take: one or two unsigned or negative integers.
pub fn is_numeric_sysctl_value(v: &str) -> bool {
    let parts: Vec<&str> = v.split(' ').collect();
    (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            let digits = p.strip_prefix('-').unwrap_or(p);
            !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|c| c.is_ascii_digit())
        })
}
