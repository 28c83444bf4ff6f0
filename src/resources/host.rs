//! Preconditions no step can fix: systemd as init, pure cgroup v2 with the needed controllers,
//! user namespaces, and a recent enough kernel. Gaps here are blocked items with a manual fix.

use crate::host_root::HostRoot;
use crate::plan::{Item, Resource};
use crate::spec::Spec;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupMode {
    /// Pure cgroup v2.
    Unified,
    /// v1 controllers plus an empty v2 tree at /sys/fs/cgroup/unified.
    Hybrid,
    Legacy,
    Missing,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostFacts {
    pub kernel_release: String,
    pub systemd_running: bool,
    pub cgroup_mode: CgroupMode,
    pub root_controllers: Vec<String>,
    pub user_namespaces: bool,
    pub architecture: String,
}

pub fn observe(root: &HostRoot) -> std::io::Result<HostFacts> {
    let cgroup_mode = if root.exists("/sys/fs/cgroup/cgroup.controllers") {
        CgroupMode::Unified
    } else if root.exists("/sys/fs/cgroup/unified/cgroup.controllers")
        || root.exists("/sys/fs/cgroup/unified")
    {
        CgroupMode::Hybrid
    } else if !root.list_dir("/sys/fs/cgroup")?.is_empty() {
        CgroupMode::Legacy
    } else {
        CgroupMode::Missing
    };
    let root_controllers = root
        .read_optional("/sys/fs/cgroup/cgroup.controllers")?
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    Ok(HostFacts {
        kernel_release: root.read("/proc/sys/kernel/osrelease")?.trim().to_string(),
        // sd_booted(3): systemd is PID 1 exactly when this directory exists.
        systemd_running: root.path("/run/systemd/system").is_dir(),
        cgroup_mode,
        root_controllers,
        user_namespaces: root.exists("/proc/sys/user/max_user_namespaces"),
        architecture: std::env::consts::ARCH.to_string(),
    })
}

/// (major, minor) of a kernel release such as `6.1.0-28-amd64`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

pub fn diff(spec: &Spec, facts: &HostFacts, items: &mut Vec<Item>) {
    if !facts.systemd_running {
        items.push(Item::blocked(
            Resource::Host,
            "host/systemd",
            "systemd is not the init system (/run/systemd/system is missing)",
            "run groundwork on a host booted with systemd: rootless k3s runs only as a systemd user unit",
        ).reason("the k3s-rootless unit, lingering and cgroup delegation all need systemd"));
    }
    match facts.cgroup_mode {
        CgroupMode::Unified => {
            let missing: Vec<&String> = spec.cgroup.delegate.iter().filter(|c| !facts.root_controllers.contains(c)).collect();
            if !missing.is_empty() {
                items.push(Item::blocked(
                    Resource::Host,
                    "host/cgroup-controllers",
                    format!("the root cgroup lacks the {} controller(s)", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
                    "enable them in the kernel (boot parameters such as cgroup_enable=cpuset), then reboot",
                ).reason(format!("/sys/fs/cgroup/cgroup.controllers lists: {}", facts.root_controllers.join(" "))));
            }
        }
        mode => items.push(Item::blocked(
            Resource::Host,
            "host/cgroup-v2",
            format!("cgroups are {} , not pure cgroup v2", match mode { CgroupMode::Hybrid => "hybrid (v1 with an empty v2 tree)", CgroupMode::Legacy => "v1", _ => "not mounted" }).replace(" ,", ","),
            "add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (or `grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1`), then reboot",
        ).reason("rootless k3s needs delegated cgroup v2 controllers")),
    }
    if !facts.user_namespaces {
        items.push(Item::blocked(
            Resource::Host,
            "host/userns",
            "the kernel has no user namespaces",
            "boot a kernel built with CONFIG_USER_NS=y",
        ));
    }
    if kernel_version(&facts.kernel_release).is_some_and(|v| v < (4, 18)) {
        items.push(Item::blocked(
            Resource::Host,
            "host/kernel",
            format!("kernel {} is older than 4.18", facts.kernel_release),
            "upgrade the kernel: fuse-overlayfs inside a user namespace needs 4.18 or later",
        ));
    }
}
