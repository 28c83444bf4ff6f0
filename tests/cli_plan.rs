//! `groundwork plan` against temporary hosts: every resource in sync, drifted, missing and
//! blocked, with the exit code of each (0 in sync, 2 changes, 3 blocked, 1 error).
//!
//! Each case starts from a converged (or fresh) Debian 12 host, breaks one thing, and checks
//! the JSON plan's items as `id => action`, then snapshots the human plan
//! (tests/snapshots/cli_plan__<case>.snap). The `trixie_` cases start from Debian 13's captured
//! trees instead.

mod common;
use common::*;

const OK: i32 = 0;
const ERROR: i32 = 1;
const CHANGES: i32 = 2;
const BLOCKED: i32 = 3;

/// Runs `plan` twice (JSON, then human), asserts the exit code of both and the JSON plan's
/// `(id, action)` pairs, and returns the human report for the snapshot.
fn plan(h: &Host, exit: i32, expected: &[(&str, &str)]) -> String {
    plan_with(h, &[], exit, expected)
}

/// `plan` with more arguments (`--executor helper`).
fn plan_with(h: &Host, args: &[&str], exit: i32, expected: &[(&str, &str)]) -> String {
    let json = h.groundwork(&[&["plan", SPEC, "--output", "json"], args].concat());
    json.code(exit);
    let plan = json.json();
    let got: Vec<(String, String)> = plan["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["id"].as_str().expect("id").to_string(),
                i["action"].as_str().expect("action").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(i, a)| (i.to_string(), a.to_string()))
        .collect();
    assert_eq!(got, expected, "plan items\n{}", json.report());
    let human = h.groundwork(&[&["plan", SPEC], args].concat());
    human.code(exit);
    assert!(human.stderr.is_empty(), "{}", human.report());
    human.report()
}

/// `case! { name, base host, |h| mutation, exit code, [id => action, ...] }`: one host state.
/// The base host is `fresh` or `converged` (Debian 12), or `fresh on Trixie` or
/// `converged on Trixie` (Debian 13). `case! { name / trixie_name, ... }` is the same case on
/// both releases: the same mutation and plan items, each with its own snapshot.
macro_rules! case {
    ($(#[$attr:meta])* $name:ident / $trixie:ident, $base:ident, $($rest:tt)*) => {
        case! { $(#[$attr])* $name, $base, $($rest)* }
        case! { $(#[$attr])* $trixie, $base on Trixie, $($rest)* }
    };
    ($(#[$attr:meta])* $name:ident, $base:ident $(on $release:ident)?, |$h:ident| $mutate:expr, $exit:expr, [$($id:expr => $action:expr),* $(,)?]) => {
        #[test]
        $(#[$attr])*
        fn $name() {
            let $h = host!($base $(on $release)?);
            let _ = $mutate;
            let report = plan(&$h, $exit, &[$(($id, $action)),*]);
            insta::assert_snapshot!(report);
        }
    };
}

macro_rules! host {
    (fresh) => {
        Host::fresh()
    };
    (converged) => {
        Host::converged()
    };
    (fresh on $release:ident) => {
        Host::fresh_on(Release::$release)
    };
    (converged on $release:ident) => {
        Host::converged_on(Release::$release)
    };
}

// ---- the whole host ---------------------------------------------------------------------

case! { converged_host_is_in_sync / trixie_converged_host_is_in_sync, converged, |h| (), OK, [] }

// fuse has no item on either release: Debian 12 loads it at boot, Debian 13 builds it in
// (modules.builtin, /sys/module/fuse, CONFIG_FUSE_FS=y).
case! {
    fresh_debian_needs_everything / trixie_fresh_debian_needs_everything, fresh, |h| (), CHANGES, [
        "packages" => "create",
        "account/k3s" => "create",
        "subids" => "create",
        "sysctl/fs.inotify.max_user_instances" => "update",
        "sysctl/fs.inotify.max_user_watches" => "update",
        "sysctl/net.ipv4.ip_forward" => "update",
        "sysctl/user.max_user_namespaces" => "update",
        "file/etc/sysctl.d/90-groundwork.conf" => "create",
        "module/tun" => "update",
        "module/br_netfilter" => "update",
        "module/overlay" => "update",
        "module/iptable_nat" => "update",
        "module/iptable_filter" => "update",
        "module/ip6table_nat" => "update",
        "module/ip6table_filter" => "update",
        "module/xt_MASQUERADE" => "update",
        "module/xt_conntrack" => "update",
        "module/xt_comment" => "update",
        "module/xt_mark" => "update",
        "module/xt_multiport" => "update",
        "module/xt_addrtype" => "update",
        "file/etc/modules-load.d/groundwork.conf" => "update",
        "file/etc/systemd/system/user@.service.d/delegate.conf" => "update",
        "linger/k3s" => "create",
        "linger/k3s/wait" => "run",
        "k3s/binary" => "create",
        "file/home/k3s/.config/systemd/user/k3s-rootless.service" => "create",
        "unit/k3s-rootless.service/daemon-reload" => "run",
        "unit/k3s-rootless.service/enabled" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

// ---- host: preconditions no step can fix ------------------------------------------------

case! {
    host_without_systemd_is_blocked, converged,
    |h| h.remove("/run/systemd"),
    BLOCKED, ["host/systemd" => "blocked"]
}

// The unit's cgroup is in the v2 tree, which a hybrid host does not use for it.
case! {
    host_with_hybrid_cgroups_is_blocked, converged,
    |h| h.hybrid_cgroups(),
    BLOCKED, [
        "host/cgroup-v2" => "blocked",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

case! {
    host_with_cgroup_v1_is_blocked, converged,
    |h| h.legacy_cgroups(),
    BLOCKED, [
        "host/cgroup-v2" => "blocked",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

case! {
    host_without_root_controllers_is_blocked, converged,
    |h| h.write("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n"),
    BLOCKED, ["host/cgroup-controllers" => "blocked"]
}

// Without user namespaces there is no user.max_user_namespaces either, and it is not optional.
case! {
    host_without_user_namespaces_is_blocked, converged,
    |h| h.remove("/proc/sys/user/max_user_namespaces"),
    BLOCKED, [
        "host/userns" => "blocked",
        "sysctl/user.max_user_namespaces" => "blocked",
    ]
}

case! {
    host_with_old_kernel_is_blocked, converged,
    |h| {
        h.write("/proc/sys/kernel/osrelease", "4.15.0-213-generic\n");
        h.symlink(KERNEL, "/lib/modules/4.15.0-213-generic");
    },
    BLOCKED, ["host/kernel" => "blocked"]
}

// ---- packages ---------------------------------------------------------------------------

case! {
    packages_missing, converged,
    |h| {
        let fresh = Host::fresh();
        h.write("/var/lib/dpkg/status", &fresh.read("/var/lib/dpkg/status"));
    },
    CHANGES, ["packages" => "create"]
}

// `apt-get remove uidmap` keeps its configuration: dpkg then says deinstall, config-files.
// (Only dpkg's database counts; newuidmap's own check applies to an installed uidmap.)
case! {
    packages_removed_with_config_files_left, converged,
    |h| h.edit(
        "/var/lib/dpkg/status",
        "Package: uidmap\nStatus: install ok installed",
        "Package: uidmap\nStatus: deinstall ok config-files",
    ),
    CHANGES, ["packages" => "create"]
}

case! {
    packages_on_unknown_distribution_are_blocked, converged,
    |h| h.write(
        "/etc/os-release",
        "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
    ),
    BLOCKED, ["packages" => "blocked"]
}

#[test]
fn packages_newuidmap_without_setuid_is_blocked() {
    if !is_root() {
        eprintln!("skipped: only root can make the setuid-root newuidmap this case removes");
        return;
    }
    let h = Host::converged();
    h.chmod("/usr/bin/newuidmap", 0o755);
    let report = plan(&h, BLOCKED, &[("packages/usr/bin/newuidmap", "blocked")]);
    insta::assert_snapshot!(report);
}

// ---- account ----------------------------------------------------------------------------

// Also no uid, so no user manager cgroup to find the running unit in.
case! {
    account_missing_is_created, converged,
    |h| h.edit("/etc/passwd", "k3s:x:1000:1000::/home/k3s:/bin/bash\n", ""),
    CHANGES, [
        "account/k3s" => "create",
        "unit/k3s-rootless.service/wait" => "run",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

case! {
    account_missing_without_create_is_blocked, converged,
    |h| {
        h.edit("/etc/passwd", "k3s:x:1000:1000::/home/k3s:/bin/bash\n", "");
        h.edit_spec("create: true", "create: false");
    },
    BLOCKED, [
        "account/k3s" => "blocked",
        "unit/k3s-rootless.service/wait" => "run",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

case! {
    account_without_home_is_blocked, converged,
    |h| h.remove(HOME),
    BLOCKED, [
        "account/k3s" => "blocked",
        "unit/k3s-rootless.service/restart-pending" => "run",
        "file/home/k3s/.config/systemd/user/k3s-rootless.service" => "create",
        "unit/k3s-rootless.service/daemon-reload" => "run",
        "unit/k3s-rootless.service/enabled" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    account_with_uid_0_is_blocked, converged,
    |h| h.edit("/etc/passwd", "k3s:x:1000:1000:", "k3s:x:0:0:"),
    BLOCKED, [
        "account/k3s" => "blocked",
        "unit/k3s-rootless.service/wait" => "run",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

// ---- subordinate ids --------------------------------------------------------------------

case! {
    subids_missing, converged,
    |h| {
        h.edit("/etc/subuid", "k3s:100000:65536\n", "");
        h.edit("/etc/subgid", "k3s:100000:65536\n", "");
    },
    // k3s maps its ranges when it starts: the running unit restarts to use the new ones.
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "subids" => "create",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

// Too few ids in /etc/subuid only: the range grows in place (the ids after it are free of
// alice's), replacing the short one in that file alone.
case! {
    subids_too_few, converged,
    |h| h.edit("/etc/subuid", "k3s:100000:65536", "k3s:100000:1000"),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "subids" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

// The real /etc/subuid of the captured VM (of each release): usermod appended ranges that
// overlap.
case! {
    subids_overlapping_another_user_are_blocked / trixie_subids_overlapping_another_user_are_blocked, converged,
    |h| h.write(
        "/etc/subuid",
        &std::fs::read_to_string(h.release().fixtures().join("subuid-overlapping"))
            .expect("fixture"),
    ),
    BLOCKED, [
        "subids/etc/subuid/overlap/1-3" => "blocked",
        "subids/etc/subuid/overlap/4-2" => "blocked",
    ]
}

// Two ranges of k3s overlap the same range of alice: two items, each with its own id.
case! {
    subids_two_ranges_overlapping_one_range_are_blocked_apart, converged,
    |h| h.write("/etc/subuid", "k3s:100000:65536\nk3s:300000:65536\nalice:150000:200000\n"),
    BLOCKED, [
        "subids/etc/subuid/overlap/1-3" => "blocked",
        "subids/etc/subuid/overlap/2-3" => "blocked",
    ]
}

// shadow-utils reads `0200000` as octal: alice holds 65536-131071, and 100000 is not free.
// Read as decimal (200000), the line left 100000 looking free, and the plan handed it to k3s.
case! {
    subids_beside_an_octal_range_are_blocked / trixie_subids_beside_an_octal_range_are_blocked, converged,
    |h| h.write("/etc/subuid", "alice:0200000:65536\n"),
    BLOCKED, ["subids/etc/subuid/line/1" => "blocked"]
}

// shadow-utils keeps the `\r` of a Windows line end and reads no range from the line: k3s
// holds no subordinate uids, whatever the line seems to say.
case! {
    subids_on_a_windows_line_end_are_blocked, converged,
    |h| h.write("/etc/subuid", "k3s:100000:65536\r\n"),
    BLOCKED, ["subids/etc/subuid/line/1" => "blocked"]
}

case! {
    subids_explicit_start_overlapping_another_user_is_blocked, converged,
    |h| h.edit_spec("start: auto", "start: 165536"),
    BLOCKED, ["subids/etc/subuid" => "blocked"]
}

// Issue #14: growing an explicit range extends it in place; no second range piles on the first.
case! {
    subids_growing_an_explicit_range_extends_it / trixie_subids_growing_an_explicit_range_extends_it, converged,
    |h| {
        h.write("/etc/subuid", "k3s:100000:65536\n");
        h.write("/etc/subgid", "k3s:100000:65536\n");
        h.edit_spec("start: auto\n  count: 65536", "start: 100000\n  count: 131072");
    },
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "subids" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

// With `start: auto` too: the user ends with the new count, not the old and the new added up.
case! {
    subids_growing_an_auto_range_extends_it / trixie_subids_growing_an_auto_range_extends_it, converged,
    |h| {
        h.write("/etc/subuid", "k3s:100000:65536\n");
        h.write("/etc/subgid", "k3s:100000:65536\n");
        h.edit_spec("count: 65536", "count: 131072");
    },
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "subids" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

// More ids than /etc/login.defs leaves room for: no stale entry is to blame (issue #13, 4).
case! {
    subids_count_wider_than_the_login_defs_bounds_is_blocked, converged,
    |h| {
        h.write("/etc/login.defs", "SUB_UID_MIN 100000\nSUB_UID_MAX 165535\nSUB_GID_MIN 100000\nSUB_GID_MAX 165535\n");
        h.edit_spec("count: 65536", "count: 131072");
    },
    BLOCKED, ["subids" => "blocked"]
}

// The state the old apply left: the user's own two ranges overlap, and newuidmap refuses them.
case! {
    subids_own_ranges_overlapping_are_merged / trixie_subids_own_ranges_overlapping_are_merged, converged,
    |h| {
        h.write("/etc/subuid", "k3s:100000:65536\nk3s:100000:131072\n");
        h.write("/etc/subgid", "k3s:100000:65536\nk3s:100000:131072\n");
        h.edit_spec("count: 65536", "count: 131072");
    },
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "subids" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    subids_from_sssd_are_blocked, converged,
    |h| h.edit("/etc/nsswitch.conf", "netgroup:       nis\n", "netgroup:       nis\nsubid:          sss\n"),
    BLOCKED, ["subids/nsswitch" => "blocked"]
}

case! {
    subids_from_files_in_nsswitch_are_read, converged,
    |h| h.edit("/etc/nsswitch.conf", "netgroup:       nis\n", "netgroup:       nis\nsubid:          files\n"),
    OK, []
}

// ---- sysctls ----------------------------------------------------------------------------

case! {
    sysctl_runtime_drifted, converged,
    |h| h.write("/proc/sys/net/ipv4/ip_forward", "0\n"),
    CHANGES, ["sysctl/net.ipv4.ip_forward" => "update"]
}

case! {
    sysctl_file_missing, converged,
    |h| h.remove("/etc/sysctl.d/90-groundwork.conf"),
    CHANGES, ["file/etc/sysctl.d/90-groundwork.conf" => "create"]
}

case! {
    sysctl_file_edited_locally, converged,
    |h| h.edit("/etc/sysctl.d/90-groundwork.conf", "net.ipv4.ip_forward = 1", "net.ipv4.ip_forward = 0"),
    CHANGES, ["file/etc/sysctl.d/90-groundwork.conf" => "update"]
}

// ---- sysctl semantics: one case per row of the README's table ---------------------------
// Exact keys (net.ipv4.ip_forward: 1): the kernel runs the value, groundwork's file says it,
// and only a later file can override it at boot.

case! {
    sysctl_exact_later_file_with_the_same_value_is_in_sync, converged,
    |h| h.write("/usr/lib/sysctl.d/99-zz-router.conf", "net.ipv4.ip_forward = 1\n"),
    OK, []
}

case! {
    sysctl_exact_earlier_file_with_another_value_is_overridden_by_ours, converged,
    |h| h.write("/etc/sysctl.d/10-no-forwarding.conf", "net.ipv4.ip_forward = 0\n"),
    OK, []
}

// `at_least` keys (user.max_user_namespaces: at least 28633): a higher limit is kept, and
// groundwork's own file, once written, is not chased after the runtime value.
case! {
    sysctl_at_least_higher_runtime_is_kept_and_our_file_stands, converged,
    |h| h.write("/proc/sys/user/max_user_namespaces", "63154\n"),
    OK, []
}

case! {
    sysctl_at_least_lower_runtime_is_raised_to_the_minimum, converged,
    |h| h.write("/proc/sys/user/max_user_namespaces", "7811\n"),
    CHANGES, ["sysctl/user.max_user_namespaces" => "update"]
}

// An administrator's later file that raises the limit is no override (a later file that
// raised it to 100000 once blocked every apply); after the reboot it applied, still nothing.
case! {
    sysctl_at_least_later_file_raising_the_limit_is_in_sync / trixie_sysctl_at_least_later_file_raising_the_limit_is_in_sync, converged,
    |h| {
        h.write("/etc/sysctl.d/99-zz-more-namespaces.conf", "user.max_user_namespaces = 100000\n");
        h.write("/proc/sys/user/max_user_namespaces", "100000\n");
    },
    OK, []
}

case! {
    sysctl_at_least_later_file_lowering_below_the_minimum_is_blocked / trixie_sysctl_at_least_later_file_lowering_below_the_minimum_is_blocked, converged,
    |h| h.write("/etc/sysctl.d/99-zz-fewer-namespaces.conf", "user.max_user_namespaces = 15000\n"),
    BLOCKED, ["sysctl/user.max_user_namespaces/override" => "blocked"]
}

// groundwork's file applies after an earlier one that sets a higher limit: it must not lower
// that limit at boot, so it follows it.
case! {
    sysctl_at_least_earlier_file_with_a_higher_limit_is_followed, converged,
    |h| h.write("/etc/sysctl.d/50-namespaces.conf", "user.max_user_namespaces = 100000\n"),
    CHANGES, ["file/etc/sysctl.d/90-groundwork.conf" => "update"]
}

// Written for the first time on a host whose kernel runs a higher limit, groundwork's file
// keeps that limit rather than lowering it at the next boot.
case! {
    sysctl_at_least_first_write_keeps_a_higher_runtime, converged,
    |h| {
        h.remove("/etc/sysctl.d/90-groundwork.conf");
        h.write("/proc/sys/user/max_user_namespaces", "63154\n");
    },
    CHANGES, ["file/etc/sysctl.d/90-groundwork.conf" => "create"]
}

// Debian's /etc/sysctl.conf is read last (and through 99-sysctl.conf); uncommenting its
// ip_forward line with 0 wins over groundwork's file at boot.
case! {
    sysctl_overridden_by_etc_sysctl_conf_is_blocked, converged,
    |h| h.edit("/etc/sysctl.conf", "#net.ipv4.ip_forward=1", "net.ipv4.ip_forward=0"),
    BLOCKED, ["sysctl/net.ipv4.ip_forward/override" => "blocked"]
}

case! {
    sysctl_overridden_by_later_vendor_file_is_blocked, converged,
    |h| h.write("/usr/lib/sysctl.d/99-zz-router.conf", "net.ipv4.ip_forward = 0\n"),
    BLOCKED, ["sysctl/net.ipv4.ip_forward/override" => "blocked"]
}

// The same name in /etc masks the vendor file, as systemd-sysctl does.
case! {
    sysctl_vendor_override_masked_in_etc_is_in_sync, converged,
    |h| {
        h.write("/usr/lib/sysctl.d/99-zz-router.conf", "net.ipv4.ip_forward = 0\n");
        h.write("/etc/sysctl.d/99-zz-router.conf", "# masked\n");
    },
    OK, []
}

// A file that sorts before groundwork's loses to it.
case! {
    sysctl_earlier_file_is_not_an_override, converged,
    |h| h.write("/etc/sysctl.d/10-forward.conf", "net.ipv4.ip_forward = 0\n"),
    OK, []
}

case! {
    sysctl_missing_from_kernel_is_blocked, converged,
    |h| h.remove("/proc/sys/net/ipv4/ip_forward"),
    BLOCKED, ["sysctl/net.ipv4.ip_forward" => "blocked"]
}

// Vanilla and Ubuntu kernels have no kernel.unprivileged_userns_clone: optional, so it is
// skipped, and dropped from the persisted file.
case! {
    sysctl_optional_key_missing_from_kernel_is_skipped, converged,
    |h| h.remove("/proc/sys/kernel/unprivileged_userns_clone"),
    CHANGES, ["file/etc/sysctl.d/90-groundwork.conf" => "update"]
}

// ---- network: ports below 1024 ----------------------------------------------------------
// A wanted port below 1024 lowers net.ipv4.ip_unprivileged_port_start to the lowest one, never
// further, and the plan says what that opens to every local user.

/// The converged host, wanting `ports`, with Debian's default port start at runtime.
fn wanting_ports(h: &Host, ports: &str) {
    h.edit_spec("ports: [6443]", &format!("ports: {ports}"));
    h.write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "1024\n");
}

case! {
    network_low_ports_lower_the_port_start_to_the_lowest, converged,
    |h| wanting_ports(&h, "[6443, 443, 80]"),
    CHANGES, [
        "sysctl/net.ipv4.ip_unprivileged_port_start" => "update",
        "file/etc/sysctl.d/90-groundwork.conf" => "update",
    ]
}

case! {
    network_no_low_port_leaves_the_port_start_alone, converged,
    |h| wanting_ports(&h, "[6443, 8080, 30080]"),
    OK, []
}

// A host that opens more already keeps its runtime value; groundwork persists only the port.
case! {
    network_low_port_on_a_host_that_opens_more_persists_only_the_port, converged,
    |h| {
        wanting_ports(&h, "[6443, 80]");
        h.write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0\n");
    },
    CHANGES, ["file/etc/sysctl.d/90-groundwork.conf" => "update"]
}

// An administrator's earlier file opens more: groundwork's file follows it, so boot does not
// close what it opened.
case! {
    network_low_port_follows_an_earlier_file_that_opens_more, converged,
    |h| {
        wanting_ports(&h, "[6443, 80]");
        h.write("/etc/sysctl.d/50-low-ports.conf", "net.ipv4.ip_unprivileged_port_start = 0\n");
        h.write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0\n");
    },
    CHANGES, ["file/etc/sysctl.d/90-groundwork.conf" => "update"]
}

case! {
    network_low_port_closed_again_by_a_later_file_is_blocked, converged,
    |h| {
        wanting_ports(&h, "[6443, 80]");
        h.write("/etc/sysctl.d/99-zz-privileged-ports.conf", "net.ipv4.ip_unprivileged_port_start = 1024\n");
    },
    BLOCKED, [
        "sysctl/net.ipv4.ip_unprivileged_port_start" => "update",
        "file/etc/sysctl.d/90-groundwork.conf" => "update",
        "sysctl/net.ipv4.ip_unprivileged_port_start/override" => "blocked",
    ]
}

// Through the helper, root's policy decides: its built-in defaults let no user open low ports.
#[test]
fn network_low_port_through_the_helper_needs_roots_policy() {
    let h = Host::converged();
    wanting_ports(&h, "[6443, 80]");
    let report = plan_with(
        &h,
        &["--executor", "helper"],
        BLOCKED,
        &[("sysctl/net.ipv4.ip_unprivileged_port_start", "blocked")],
    );
    insta::assert_snapshot!(report);
}

#[test]
fn network_low_port_through_the_helper_within_roots_policy() {
    let h = Host::converged();
    wanting_ports(&h, "[6443, 443, 80]");
    // The converged host's policy allows its k3s binary; the rule goes beside that.
    let policy = h.read("/etc/groundwork/policy.yaml");
    let with_rule = |min: u16| {
        format!(
            "{policy}sysctls:\n  net.ipv4.ip_unprivileged_port_start: {{ min: {min}, max: 1024 }}\n"
        )
    };
    h.write("/etc/groundwork/policy.yaml", &with_rule(80));
    let report = plan_with(
        &h,
        &["--executor", "helper"],
        CHANGES,
        &[
            ("sysctl/net.ipv4.ip_unprivileged_port_start", "update"),
            ("file/etc/sysctl.d/90-groundwork.conf", "update"),
        ],
    );
    insta::assert_snapshot!(report);
    // A policy that stops above the port refuses it, naming the lowest port root allows.
    h.write("/etc/groundwork/policy.yaml", &with_rule(443));
    let out = h.groundwork(&["plan", SPEC, "--executor", "helper"]);
    out.code(BLOCKED);
    assert!(
        out.stdout
            .contains("net.ipv4.ip_unprivileged_port_start = 80 is outside root's policy")
            && out.stdout.contains("the lowest allowed is 443"),
        "{}",
        out.report()
    );
}

// ---- network: what rootless networking does differently (notes, never blocking) -----------

// LoadBalancer ports up to 1024 are bound at port + 10000; NodePorts are not bound.
case! {
    network_low_and_node_ports_say_how_k3s_binds_them, converged,
    |h| wanting_ports(&h, "[6443, 80, 443, 8443, 30080]"),
    CHANGES, [
        "sysctl/net.ipv4.ip_unprivileged_port_start" => "update",
        "file/etc/sysctl.d/90-groundwork.conf" => "update",
    ]
}

case! {
    network_ports_without_servicelb_stay_inside, converged,
    |h| {
        h.edit_spec("ports: [6443]", "ports: [6443, 8443]");
        h.edit_spec("--disable=traefik", "--disable=traefik,servicelb");
    },
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "file/home/k3s/.config/systemd/user/k3s-rootless.service" => "update",
        "unit/k3s-rootless.service/daemon-reload" => "run",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

// systemd-resolved's stub: the note says what the namespace's nameserver relays to, and which
// file lists the upstream servers.
case! {
    network_stub_resolver_names_what_k3s_uses, converged,
    |h| {
        h.write("/etc/resolv.conf", "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n");
        h.write("/run/systemd/resolve/resolv.conf", "# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).\nnameserver 192.0.2.53\nnameserver 198.51.100.53\nsearch .\n");
    },
    OK, []
}

case! {
    network_real_nameserver_has_no_note, converged,
    |h| h.write("/etc/resolv.conf", "nameserver 192.0.2.53\n"),
    OK, []
}

case! {
    network_slirp4netns_older_than_rootlesskit_needs, converged,
    |h| h.edit("/var/lib/dpkg/status", "Version: 1.2.0-1\n", "Version: 0.3.0-1\n"),
    OK, []
}

// Untestable on the Debian VMs: this only proves the detection.
case! {
    network_selinux_enforcing_is_noted, converged,
    |h| h.write("/sys/fs/selinux/enforce", "1"),
    OK, []
}

// ---- kernel modules ---------------------------------------------------------------------

case! {
    modules_not_loaded, converged,
    |h| h.edit("/proc/modules", "tun 61440 0 - Live 0xffffffffc0ad1000\n", ""),
    CHANGES, ["module/tun" => "update"]
}

case! {
    modules_file_missing, converged,
    |h| h.remove("/etc/modules-load.d/groundwork.conf"),
    CHANGES, ["file/etc/modules-load.d/groundwork.conf" => "update"]
}

case! {
    modules_file_edited_locally, converged,
    |h| h.edit("/etc/modules-load.d/groundwork.conf", "tun\n", ""),
    CHANGES, ["file/etc/modules-load.d/groundwork.conf" => "update"]
}

case! {
    modules_unavailable_are_blocked, converged,
    |h| {
        h.edit("/proc/modules", "tun 61440 0 - Live 0xffffffffc0ad1000\n", "");
        h.edit(&format!("/lib/modules/{KERNEL}/modules.dep"), "kernel/drivers/net/tun.ko:\n", "");
    },
    BLOCKED, ["modules/unavailable" => "blocked"]
}

case! {
    modules_built_in_are_in_sync, converged,
    |h| {
        h.edit("/proc/modules", "tun 61440 0 - Live 0xffffffffc0ad1000\n", "");
        h.edit(&format!("/lib/modules/{KERNEL}/modules.dep"), "kernel/drivers/net/tun.ko:\n", "");
        h.edit(
            &format!("/lib/modules/{KERNEL}/modules.builtin"),
            "kernel/mm/zswap.ko\n",
            "kernel/mm/zswap.ko\nkernel/drivers/net/tun.ko\n",
        );
    },
    OK, []
}

// Built in, with parameters, but missing from modules.builtin: /sys/module still shows it.
case! {
    modules_built_in_shown_only_in_sys_module_are_in_sync, converged,
    |h| {
        h.edit("/proc/modules", "tun 61440 0 - Live 0xffffffffc0ad1000\n", "");
        h.mkdir("/sys/module/tun/parameters");
    },
    OK, []
}

// A kernel without loadable modules (no /proc/modules) cannot load what modules.dep lists.
case! {
    modules_without_loadable_module_support_are_blocked, converged,
    |h| h.remove("/proc/modules"),
    BLOCKED, ["modules/unavailable" => "blocked"]
}

/// A kernel build configuration with every module of the example spec built in (`=y`), as on
/// the 6.18 kernel of issue #14: loadable modules off, no modules.builtin.
const CONFIG_ALL_BUILT_IN: &str = "\
# Automatically generated file; DO NOT EDIT.
CONFIG_CC_VERSION_TEXT=\"gcc (GCC) 14.2.0\"
# CONFIG_MODULES is not set
CONFIG_FUSE_FS=y
CONFIG_TUN=y
CONFIG_BRIDGE=y
CONFIG_BRIDGE_NETFILTER=y
CONFIG_OVERLAY_FS=y
CONFIG_NETFILTER_XTABLES=y
CONFIG_IP_NF_IPTABLES=y
CONFIG_IP_NF_NAT=y
CONFIG_IP_NF_FILTER=y
CONFIG_IP6_NF_IPTABLES=y
CONFIG_IP6_NF_NAT=y
CONFIG_IP6_NF_FILTER=y
CONFIG_NETFILTER_XT_TARGET_MASQUERADE=y
CONFIG_NETFILTER_XT_MATCH_CONNTRACK=y
CONFIG_NETFILTER_XT_MATCH_COMMENT=y
CONFIG_NETFILTER_XT_MARK=y
CONFIG_NETFILTER_XT_MATCH_MULTIPORT=y
CONFIG_NETFILTER_XT_MATCH_ADDRTYPE=y
";

/// No loadable modules and no modules.builtin: only a build configuration can tell.
fn without_module_lists(h: &Host) {
    h.remove("/proc/modules");
    h.remove(&format!("/lib/modules/{KERNEL}/modules.builtin"));
}

// Issue #14: /proc/config.gz says `=y`, so the modules are there although nothing lists them.
case! {
    modules_built_in_per_proc_config_gz_are_in_sync, converged,
    |h| {
        without_module_lists(&h);
        h.write_gz("/proc/config.gz", CONFIG_ALL_BUILT_IN);
    },
    OK, []
}

// The same configuration in /boot/config-RELEASE, Debian's place for it.
case! {
    modules_built_in_per_boot_config_are_in_sync, converged,
    |h| {
        without_module_lists(&h);
        h.write(&format!("/boot/config-{KERNEL}"), CONFIG_ALL_BUILT_IN);
    },
    OK, []
}

// A loadable-module kernel whose configuration builds tun in: no modprobe, and no
// modules.builtin to say so.
case! {
    modules_built_in_per_config_need_no_modprobe, converged,
    |h| {
        h.edit("/proc/modules", "tun 61440 0 - Live 0xffffffffc0ad1000\n", "");
        h.edit(&format!("/lib/modules/{KERNEL}/modules.dep"), "kernel/drivers/net/tun.ko:\n", "");
        h.remove(&format!("/lib/modules/{KERNEL}/modules.builtin"));
        h.write(&format!("/boot/config-{KERNEL}"), "CONFIG_TUN=y\n");
    },
    OK, []
}

// The configuration says a module is not in this kernel at all: blocked, naming the source.
case! {
    modules_the_config_leaves_out_are_blocked, converged,
    |h| {
        without_module_lists(&h);
        h.write_gz(
            "/proc/config.gz",
            &CONFIG_ALL_BUILT_IN.replace("CONFIG_TUN=y\n", "# CONFIG_TUN is not set\n"),
        );
    },
    BLOCKED, ["modules/unavailable" => "blocked"]
}

// Nothing can tell: the plan says "unknown" in a note and changes nothing; verify decides.
case! {
    modules_nothing_can_tell_are_unknown_not_blocked, converged,
    |h| without_module_lists(&h),
    OK, []
}

// ---- cgroup delegation ------------------------------------------------------------------

case! {
    delegation_dropin_missing, converged,
    |h| h.remove("/etc/systemd/system/user@.service.d/delegate.conf"),
    CHANGES, ["file/etc/systemd/system/user@.service.d/delegate.conf" => "update"]
}

// Without the drop-in a user manager gets only memory and pids: the file changes, the manager
// must restart to receive the rest, and k3s with it.
case! {
    delegation_drifted_and_not_received, converged,
    |h| {
        h.edit(
            "/etc/systemd/system/user@.service.d/delegate.conf",
            "Delegate=cpu cpuset io memory pids",
            "Delegate=memory pids",
        );
        h.write(
            &format!("/sys/fs/cgroup/user.slice/user-{UID}.slice/user@{UID}.service/cgroup.controllers"),
            "memory pids\n",
        );
    },
    CHANGES, [
        "file/etc/systemd/system/user@.service.d/delegate.conf" => "update",
        "unit/k3s-rootless.service/restart-pending" => "run",
        "delegation/user-manager" => "run",
        "delegation/user-manager/wait" => "run",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

// ---- linger -----------------------------------------------------------------------------

case! {
    linger_missing, converged,
    |h| h.remove("/var/lib/systemd/linger/k3s"),
    CHANGES, ["linger/k3s" => "create"]
}

// ---- AppArmor ---------------------------------------------------------------------------

case! { apparmor_not_needed_where_userns_is_unrestricted, converged, |h| (), OK, [] }

case! {
    apparmor_profile_missing_where_userns_is_restricted, converged,
    |h| h.restricting_userns(),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "file/etc/apparmor.d/usr.local.bin.k3s" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    apparmor_profile_in_sync, converged,
    |h| h.restricting_userns().with_apparmor_profile(),
    OK, []
}

case! {
    apparmor_profile_edited_locally, converged,
    |h| h
        .restricting_userns()
        .with_apparmor_profile()
        .edit("/etc/apparmor.d/usr.local.bin.k3s", "  userns,\n", ""),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "file/etc/apparmor.d/usr.local.bin.k3s" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    apparmor_without_abi_4_is_blocked, converged,
    |h| h.restricting_userns().remove("/etc/apparmor.d/abi/4.0"),
    BLOCKED, ["apparmor/etc/apparmor.d/usr.local.bin.k3s" => "blocked"]
}

// ---- the k3s binary ---------------------------------------------------------------------

case! {
    k3s_missing, converged,
    |h| h.remove("/usr/local/bin/k3s"),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "k3s/binary" => "create",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    k3s_other_version, converged,
    |h| h.install_k3s("v1.30.8+k3s1"),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "k3s/binary" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    k3s_that_prints_no_version, converged,
    |h| h
        .write("/usr/local/bin/k3s", "#!/bin/sh\necho 'segmentation fault' >&2\nexit 139\n")
        .chmod("/usr/local/bin/k3s", 0o755),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "k3s/binary" => "update",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    k3s_rootful_install_is_blocked, converged,
    |h| {
        h.write("/etc/systemd/system/k3s.service", "[Unit]\nDescription=Lightweight Kubernetes\n");
        h.write("/etc/rancher/k3s/k3s.yaml", "apiVersion: v1\n");
    },
    BLOCKED, [
        "k3s/rootful/etc/systemd/system/k3s.service" => "blocked",
        "k3s/rootful/etc/rancher/k3s/k3s.yaml" => "blocked",
    ]
}

// A config.yaml every user can read applies to the rootless k3s too: a note. One that shuts
// other users out stops every k3s command the user runs (k3s#7272): blocked.
case! {
    k3s_readable_config_yaml_is_noted, converged,
    |h| h.write("/etc/rancher/k3s/config.yaml", "write-kubeconfig-mode: \"0644\"\n"),
    OK, []
}

case! {
    k3s_config_yaml_unreadable_for_users_is_blocked, converged,
    |h| {
        h.write("/etc/rancher/k3s/config.yaml", "token: secret\n");
        h.chmod("/etc/rancher/k3s/config.yaml", 0o600);
        h.chmod("/etc/rancher/k3s", 0o700);
    },
    BLOCKED, ["k3s/rootful/etc/rancher/k3s/config.yaml" => "blocked"]
}

/// The installed k3s is identified by its sha256, never by running it: a binary that another
/// user could have chosen must not run with the rights of whoever plans. The stand-in here leaves
/// a mark when it runs; planning leaves none, and a changed binary is seen as another build.
#[test]
fn k3s_is_identified_by_its_bytes_and_never_run() {
    let h = Host::converged();
    let mark = h.outside("k3s-ran");
    // The stand-in, with a first line that leaves the mark whenever it runs.
    let script = common::k3s_standin(common::STANDIN_VERSION).replacen(
        "case",
        &format!("touch {}\ncase", mark.display()),
        1,
    );
    h.write("/usr/local/bin/k3s", &script)
        .chmod("/usr/local/bin/k3s", 0o755)
        .allow_k3s(common::STANDIN_VERSION, &script);
    h.groundwork(&["plan", SPEC]).code(OK);
    h.groundwork(&["drift", SPEC]).code(OK);
    h.groundwork(&["facts", SPEC]).code(OK);
    assert!(!mark.exists(), "groundwork ran the k3s binary");
    // Other bytes are another build: unknown until something root trusts names them.
    h.write("/usr/local/bin/k3s", &format!("{script}# changed\n"));
    let out = h.groundwork(&["plan", SPEC, "--output", "json"]);
    out.code(CHANGES);
    let k3s_item = |out: &common::Output| {
        out.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "k3s/binary")
            .cloned()
            .expect("a k3s/binary item")
    };
    let before = k3s_item(&out)["before"].as_str().unwrap().to_string();
    assert!(before.starts_with("unknown build (sha256 "), "{before}");
    h.install_k3s("v1.30.8+k3s1");
    let out = h.groundwork(&["plan", SPEC, "--output", "json"]);
    out.code(CHANGES);
    assert_eq!(k3s_item(&out)["before"], "v1.30.8+k3s1");
    assert!(!mark.exists(), "groundwork ran the k3s binary");
}

// ---- the user unit ----------------------------------------------------------------------

// The default.target.wants link still points at it, so the unit stays enabled.
case! {
    unit_file_missing, converged,
    |h| h.remove("/home/k3s/.config/systemd/user/k3s-rootless.service"),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "file/home/k3s/.config/systemd/user/k3s-rootless.service" => "create",
        "unit/k3s-rootless.service/daemon-reload" => "run",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    unit_file_edited_locally, converged,
    |h| h.edit("/home/k3s/.config/systemd/user/k3s-rootless.service", " --disable=traefik", ""),
    CHANGES, [
        "unit/k3s-rootless.service/restart-pending" => "run",
        "file/home/k3s/.config/systemd/user/k3s-rootless.service" => "update",
        "unit/k3s-rootless.service/daemon-reload" => "run",
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    unit_disabled, converged,
    |h| h.remove("/home/k3s/.config/systemd/user/default.target.wants/k3s-rootless.service"),
    CHANGES, ["unit/k3s-rootless.service/enabled" => "update"]
}

// Also on Debian 13, where the user manager itself runs in init.scope
// (DelegateSubgroup=init.scope): its units stay in app.slice.
case! {
    unit_not_running / trixie_unit_not_running, converged,
    |h| h.write(
        &format!("/sys/fs/cgroup/user.slice/user-{UID}.slice/user@{UID}.service/app.slice/k3s-rootless.service/cgroup.procs"),
        "",
    ),
    CHANGES, [
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

// An apply that changed the binary and died before the restart left this marker.
case! {
    unit_restart_pending_from_an_interrupted_apply, converged,
    |h| h.write("/home/k3s/.local/state/groundwork/pending-restart", ""),
    CHANGES, [
        "unit/k3s-rootless.service/reset-failed" => "run",
        "unit/k3s-rootless.service/restart" => "run",
        "unit/k3s-rootless.service/restart-recorded" => "run",
    ]
}

case! {
    unit_stopped_and_disabled_by_the_spec, converged,
    |h| h.edit_spec("  enabled: true\n  running: true\n", "  enabled: false\n  running: false\n"),
    CHANGES, [
        "unit/k3s-rootless.service/enabled" => "update",
        "unit/k3s-rootless.service/active" => "run",
    ]
}

// ---- Debian 13 only (the cases above marked `name / trixie_name` run on it too) ----------

// Debian 13's boot (systemd-sysctl) never reads an /etc/sysctl.conf that an administrator
// creates: the capture set ip_forward 0 there, and after systemd-sysctl the kernel still ran 1
// (tests/fixtures/debian13/README.md). So it overrides nothing at boot.
case! {
    trixie_sysctl_etc_sysctl_conf_is_not_read_at_boot, converged on Trixie,
    |h| h.write("/etc/sysctl.conf", "net.ipv4.ip_forward = 0\n"),
    OK, []
}

// With Debian 12's link to it in /etc/sysctl.d, it is read at boot, after groundwork's file.
case! {
    trixie_sysctl_etc_sysctl_conf_linked_from_sysctl_d_is_blocked, converged on Trixie,
    |h| h
        .write("/etc/sysctl.conf", "net.ipv4.ip_forward = 0\n")
        .symlink("../sysctl.conf", "/etc/sysctl.d/99-sysctl.conf"),
    BLOCKED, ["sysctl/net.ipv4.ip_forward/override" => "blocked"]
}

// Issue #14, point 2, with Debian 13's real /boot/config: the lines of tun changed by the test.
const TRIXIE_TUN_LOADED: &str = "tun 69632 0 - Live 0xffffffffc0c26000\n";

/// tun neither loaded nor in modules.dep, and its line in the real configuration replaced.
fn trixie_tun_configured(h: &Host, line: &str) {
    h.edit("/proc/modules", TRIXIE_TUN_LOADED, "");
    h.edit(
        &h.modules_file("modules.dep"),
        "kernel/drivers/net/tun.ko.xz:\n",
        "",
    );
    h.edit(
        &format!("/boot/config-{}", Release::Trixie.kernel()),
        "\nCONFIG_TUN=m\n",
        &format!("\n{line}\n"),
    );
}

case! {
    trixie_modules_built_in_per_boot_config_need_no_modprobe, converged on Trixie,
    |h| trixie_tun_configured(&h, "CONFIG_TUN=y"),
    OK, []
}

case! {
    trixie_modules_the_boot_config_leaves_out_are_blocked, converged on Trixie,
    |h| trixie_tun_configured(&h, "# CONFIG_TUN is not set"),
    BLOCKED, ["modules/unavailable" => "blocked"]
}

// fuse is built in: without modules.builtin and /sys/module/fuse, the configuration still says so.
case! {
    trixie_modules_fuse_built_in_per_boot_config_alone_is_in_sync, converged on Trixie,
    |h| h.remove(&h.modules_file("modules.builtin")).remove("/sys/module/fuse"),
    OK, []
}

// Without the configuration too, nothing can tell: "unknown", not "blocked".
case! {
    trixie_modules_fuse_nothing_can_tell_is_unknown_not_blocked, converged on Trixie,
    |h| h
        .remove(&h.modules_file("modules.builtin"))
        .remove("/sys/module/fuse")
        .remove(&format!("/boot/config-{}", Release::Trixie.kernel())),
    OK, []
}

// ---- errors: never "in sync" ------------------------------------------------------------

#[test]
fn unreadable_subuid_is_an_error() {
    let h = Host::converged();
    h.remove("/etc/subuid").mkdir("/etc/subuid");
    let out = h.groundwork(&["plan", SPEC]);
    out.code(ERROR);
    assert!(out.stdout.is_empty());
    let report = out.report();
    insta::assert_snapshot!(report);
}

#[test]
fn missing_kernel_release_is_an_error() {
    let h = Host::converged();
    h.remove("/proc/sys/kernel/osrelease");
    let out = h.groundwork(&["plan", SPEC, "--output", "json"]);
    out.code(ERROR);
    // With --output json the error is JSON on stdout too, and never a plan.
    let error = out.json();
    assert_eq!(
        error["error"]["kind"],
        "observation_failed",
        "{}",
        out.report()
    );
    assert!(error.get("items").is_none());
    let report = out.report();
    insta::assert_snapshot!(report);
}

#[test]
fn nonexistent_root_is_an_error() {
    let h = Host::converged();
    let out = h.groundwork_at(&h.outside("nowhere"), &["plan", SPEC]);
    out.code(ERROR);
    let report = out.report();
    insta::assert_snapshot!(report);
}

/// A usage error is an error, never "changes pending": scripts read 2 as drift.
#[test]
fn usage_error_exits_1() {
    let h = Host::converged();
    let out = h.groundwork(&["plan", SPEC, "--output", "yaml"]);
    out.code(ERROR);
}

// ---- output formats ---------------------------------------------------------------------

#[test]
fn plan_json_of_a_converged_host() {
    let out = Host::converged().groundwork(&["plan", SPEC, "--output", "json"]);
    out.code(OK);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

#[test]
fn plan_json_with_changes_and_blocked_items() {
    let h = Host::converged();
    h.remove("/run/systemd")
        .write("/proc/sys/net/ipv4/ip_forward", "0\n")
        .install_k3s("v1.30.8+k3s1")
        .remove("/etc/systemd/system/user@.service.d/delegate.conf");
    let out = h.groundwork(&["plan", SPEC, "--output", "json"]);
    out.code(BLOCKED);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

#[test]
fn plan_junit_with_changes_and_blocked_items() {
    let h = Host::converged();
    h.remove("/run/systemd")
        .write("/proc/sys/net/ipv4/ip_forward", "0\n");
    let out = h.groundwork(&["plan", SPEC, "--output", "junit"]);
    out.code(BLOCKED);
    let report = out.report();
    insta::assert_snapshot!(report);
}

#[test]
fn plan_json_names_the_spec_and_its_hash() {
    let h = Host::converged();
    let out = h.groundwork(&["plan", SPEC, "--output", "json"]);
    let plan = out.json();
    assert_eq!(plan["format_version"], 2);
    assert_eq!(plan["user"], USER);
    assert_eq!(plan["spec"], h.spec_path().display().to_string());
    let text = std::fs::read(h.spec_path()).expect("spec");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&text));
    assert_eq!(plan["spec_sha256"], sha);
    assert_eq!(out.spec_sha256(), sha);
}

/// `--user` targets another account with the same spec: alice exists, but her home does not.
#[test]
fn user_flag_targets_another_account() {
    let h = Host::converged();
    let out = h.groundwork(&["--user", "alice", "plan", SPEC, "--output", "json"]);
    out.code(BLOCKED);
    let plan = out.json();
    assert_eq!(plan["user"], "alice");
    assert_eq!(plan["items"][0]["id"], "account/alice");
    assert_eq!(plan["items"][0]["action"], "blocked");
}

/// The `manual_fix` of the blocked account item of a JSON plan.
fn account_fix(out: &Output, user: &str) -> String {
    let plan = out.json();
    let item = plan["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == format!("account/{user}"))
        .unwrap_or_else(|| panic!("no account/{user} item\n{}", out.report()));
    assert_eq!(item["action"], "blocked", "{}", out.report());
    out.filter(item["manual_fix"].as_str().expect("a fix"))
}

/// With no spec file there is no `user.create` to set: the fix says how to get a spec that
/// creates the account, and following it works.
#[test]
fn missing_user_without_a_spec_file_is_pointed_to_init() {
    let h = Host::fresh();
    let out = h.groundwork(&["--user", "bob", "plan", "--output", "json"]);
    out.code(BLOCKED);
    assert_eq!(
        account_fix(&out, "bob"),
        "create it (`useradd -m bob`), or have apply create it: `groundwork init --user bob` \
         writes a spec that says so (`user.create: true`), then `groundwork plan groundwork.yaml`"
    );
    h.groundwork(&["init", "--user", "bob"]).code(0);
    let out = h.groundwork(&["plan", "groundwork.yaml", "--output", "json"]);
    out.code(CHANGES);
    assert_eq!(out.json()["items"][1]["id"], "account/bob");
    assert_eq!(out.json()["items"][1]["action"], "create");
}

/// `--user` never creates an account, whatever the spec says: the fix says to name it there.
#[test]
fn missing_user_from_the_flag_is_pointed_to_the_spec() {
    let h = Host::converged();
    let out = h.groundwork(&["--user", "bob", "plan", SPEC, "--output", "json"]);
    out.code(BLOCKED);
    assert_eq!(
        account_fix(&out, "bob"),
        "create it (`useradd -m bob`), or have apply create it: name it in [TMP]/spec.yaml \
         (`user: { name: bob, create: true }`) and run without `--user`"
    );
}

/// The plan is read-only: running it changes nothing in the host tree.
#[test]
fn plan_changes_nothing_in_the_host() {
    let h = Host::fresh();
    let before = tree(&h.root());
    h.groundwork(&["plan", SPEC]).code(CHANGES);
    h.groundwork(&["plan", SPEC, "--output", "json"])
        .code(CHANGES);
    assert_eq!(before, tree(&h.root()));
}

/// Every path below `dir` with its content (a symlink: its target; a directory: nothing).
fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let e = e.expect("entry");
            let kind = e.file_type().expect("type");
            let name = e.path().display().to_string();
            if kind.is_dir() {
                stack.push(e.path());
                out.push((name, Vec::new()));
            } else if kind.is_symlink() {
                let target = std::fs::read_link(e.path()).expect("link");
                out.push((name, target.display().to_string().into_bytes()));
            } else {
                out.push((name, std::fs::read(e.path()).expect("file")));
            }
        }
    }
    out.sort();
    out
}

/// `plan --out` saves the plan with its spec, for `apply FILE`; the saved items are the printed
/// ones.
#[test]
fn plan_out_saves_the_plan_with_its_spec() {
    let h = Host::fresh();
    let saved_path = h.outside("saved-plan.json");
    let saved_arg = saved_path.display().to_string();
    let out = h.groundwork(&["plan", SPEC, "--output", "json", "--out", &saved_arg]);
    out.code(CHANGES);
    let printed = out.json();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved_path).unwrap()).unwrap();
    assert_eq!(saved["saved_plan"]["items"], printed["items"]);
    assert_eq!(
        saved["spec_text"].as_str().unwrap(),
        std::fs::read_to_string(h.spec_path()).unwrap()
    );
}

/// apply reports as it goes: for people, or as JSON Lines. JUnit has no stream form, and
/// `--output junit` once printed the human text instead: it is a usage error now.
#[test]
fn apply_refuses_junit_output() {
    let h = Host::converged();
    let out = h.groundwork(&["apply", "--yes", "--output", "junit", SPEC]);
    out.code(ERROR);
    assert!(
        out.stderr.contains("invalid value 'junit'"),
        "{}",
        out.report()
    );
    assert!(out.stdout.is_empty(), "{}", out.report());
}

/// A reader that goes away (`groundwork plan | head -c1`) ends groundwork quietly with exit 0,
/// instead of a death by SIGPIPE: SIGPIPE stays ignored so that a helper that stops reading can
/// never kill an apply, and stdout's broken pipe is handled where it is written.
#[test]
fn a_closed_stdout_ends_quietly() {
    use std::io::Read;
    let h = Host::fresh();
    // The reader is gone before groundwork starts, so its first write fails (closing it after
    // the start raced with the write on a loaded machine).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--root")
        .arg(h.root())
        .args(["plan", "--output", "json"])
        .arg(h.spec_path())
        .env("NO_COLOR", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // 0, not the plan's 2: the write failed, and groundwork ended there, quietly.
    assert_eq!(
        status.code(),
        Some(0),
        "killed by a signal? {status:?} {stderr}"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

/// Started with stdout closed (`groundwork plan >&-`), groundwork keeps descriptor 1 taken
/// (by /dev/null), so that no file it opens becomes its stdout and receives the plan.
#[test]
fn a_closed_stdout_descriptor_is_never_reused() {
    use std::os::unix::process::CommandExt;
    let h = Host::fresh();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_groundwork"));
    command
        .arg("--root")
        .arg(h.root())
        .args(["plan", "--output", "json"])
        .arg(h.spec_path())
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped());
    // SAFETY: close(2) is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The plan's own code: the output went to /dev/null, not to the spec it read.
    assert_eq!(out.status.code(), Some(CHANGES), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

// ---- logs: what was read and decided (issue #13) ------------------------------------------

/// GROUNDWORK_LOG's directives choose the events; directives it cannot read are named, and the
/// default level stands.
#[test]
fn groundwork_log_takes_directives_and_names_the_ones_it_cannot_read() {
    let h = Host::converged();
    let out = h.groundwork_with(
        &h.root(),
        &[("GROUNDWORK_LOG", "groundwork=info")],
        &["plan", SPEC],
    );
    out.code(OK);
    assert!(
        out.stderr.contains("read path=/etc/subuid"),
        "{}",
        out.report()
    );
    let out = h.groundwork_with(
        &h.root(),
        &[("GROUNDWORK_LOG", "groundwork=loud")],
        &["plan", SPEC],
    );
    out.code(OK);
    assert!(
        out.stderr
            .contains(r#"GROUNDWORK_LOG="groundwork=loud" is ignored"#)
            && out.stderr.contains("target=level"),
        "{}",
        out.report()
    );
    assert!(!out.stderr.contains("read path="), "{}", out.report());
}

/// A value that is not UTF-8 was dropped without a word (`env::var` fails on it).
#[test]
fn groundwork_log_that_is_not_text_is_named_and_ignored() {
    use std::os::unix::ffi::OsStrExt;
    let h = Host::converged();
    let spec = h.spec_path();
    let out = assert_cmd::cargo::cargo_bin_cmd!("groundwork")
        .args([std::ffi::OsStr::new("--root"), h.root().as_os_str()])
        .args([std::ffi::OsStr::new("plan"), spec.as_os_str()])
        .env("XDG_CACHE_HOME", h.root().join("cache"))
        .env(
            "GROUNDWORK_LOG",
            std::ffi::OsStr::from_bytes(b"groundwork=info\xff"),
        )
        .output()
        .expect("groundwork runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(OK), "{stderr}");
    assert!(
        stderr.contains(r#"GROUNDWORK_LOG="groundwork=info\xFF" is ignored: it is not UTF-8 text"#),
        "{stderr}"
    );
    assert!(!stderr.contains("read path="), "{stderr}");
}

#[test]
fn verbose_plan_logs_the_files_read_and_the_values_compared() {
    let h = Host::converged();
    h.write("/proc/sys/net/ipv4/ip_forward", "0\n");
    let out = h.groundwork(&["plan", SPEC, "-v"]);
    out.code(CHANGES);
    for needle in [
        "read path=/proc/sys/net/ipv4/ip_forward bytes=2",
        "read path=/etc/subuid",
        r#"differs resource=sysctl id=sysctl/net.ipv4.ip_forward action=Update now="0" wanted="1""#,
    ] {
        assert!(
            out.stderr.contains(needle),
            "{needle} missing\n{}",
            out.report()
        );
    }
    // Without -v the log stays quiet.
    let quiet = h.groundwork(&["plan", SPEC]);
    assert!(quiet.stderr.is_empty(), "{}", quiet.report());
}

#[test]
fn json_logs_are_one_object_per_line_with_the_fields() {
    let h = Host::converged();
    let out = h.groundwork(&["plan", SPEC, "-v", "--log-format", "json"]);
    out.code(OK);
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "read" && l["fields"]["path"] == "/etc/passwd"),
        "{}",
        out.report()
    );
}

// ---- the next step, and paths that do not exist (issue #13, points 1 and 6) ---------------

/// The closing hint applies what was planned: the saved plan, or the same spec and user, never
/// the embedded default that a bare `groundwork apply` would use.
#[test]
fn the_next_step_names_the_saved_plan_or_the_spec_and_user() {
    let h = Host::fresh();
    let saved = h.outside("site.plan");
    let saved_arg = saved.display().to_string();
    let out = h.groundwork(&["plan", SPEC, "--out", &saved_arg]);
    out.code(CHANGES);
    assert!(
        out.stdout.contains(&format!(
            "Run `groundwork apply {saved_arg}` to make these changes."
        )),
        "{}",
        out.report()
    );
    // alice exists on the converged host; the plan for her has changes, not blocks.
    let h = Host::converged();
    h.mkdir("/home/alice");
    let out = h.groundwork(&["--user", "alice", "plan", SPEC]);
    out.code(CHANGES);
    let spec = h.spec_path().display().to_string();
    assert!(
        out.stdout.contains(&format!(
            "Run `groundwork apply --user alice {spec}` to make these changes."
        )),
        "{}",
        out.report()
    );
}

/// A typo in `--out` is an error that names the missing folder, and creates nothing.
#[test]
fn plan_out_into_a_missing_folder_is_an_error_and_creates_nothing() {
    let h = Host::fresh();
    let dir = h.outside("no-such-dir");
    let target = dir.join("site.plan").display().to_string();
    let out = h.groundwork(&["plan", SPEC, "--out", &target]);
    out.code(ERROR);
    assert!(
        out.stderr
            .contains("does not exist; create it first, or check the path"),
        "{}",
        out.report()
    );
    assert!(!dir.exists(), "{} was created", dir.display());
}
