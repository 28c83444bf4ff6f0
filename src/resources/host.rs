//! Preconditions no step can fix: systemd as init, pure cgroup v2 with the needed controllers,
//! user namespaces, and a recent enough kernel. Gaps here are blocked items with a manual fix.
//! The machine's size against k3s's requirements is a note: it blocks nothing.

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::system::{self, System};
use crate::plan::{Item, PlanBuilder, ResourceId};
use serde::Serialize;

pub const ID: ResourceId = ResourceId::new("host");

pub struct Host;

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

impl CgroupMode {
    fn describe(self) -> &'static str {
        match self {
            CgroupMode::Unified => "pure cgroup v2",
            CgroupMode::Hybrid => "hybrid (v1 with an empty v2 tree)",
            CgroupMode::Legacy => "v1",
            CgroupMode::Missing => "not mounted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostFacts {
    pub kernel_release: String,
    pub systemd_running: bool,
    pub cgroup_mode: CgroupMode,
    pub root_controllers: Vec<String>,
    pub user_namespaces: bool,
    /// The container manager the host runs under (`docker`, `lxc`, `podman`), if any: inside a
    /// container, user namespaces and cgroups are limited by the container's own.
    pub container: Option<String>,
    pub system: System,
}

pub fn observe(root: &crate::host::HostRoot) -> std::io::Result<HostFacts> {
    let cgroup_mode = if root.exists("/sys/fs/cgroup/cgroup.controllers")? {
        CgroupMode::Unified
    } else if root.exists("/sys/fs/cgroup/unified/cgroup.controllers")?
        || root.exists("/sys/fs/cgroup/unified")?
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
        systemd_running: root.is_dir("/run/systemd/system")?,
        cgroup_mode,
        root_controllers,
        user_namespaces: root.exists("/proc/sys/user/max_user_namespaces")?,
        container: container(root)?,
        system: system::observe(root.is_live()),
    })
}

/// What systemd recorded at boot as the container manager (it reads PID 1's `container=`
/// environment), else the marker files Podman and Docker put into their containers, which
/// need not run systemd.
fn container(root: &crate::host::HostRoot) -> std::io::Result<Option<String>> {
    if let Some(name) = root.read_optional("/run/systemd/container")?
        && !name.trim().is_empty()
    {
        return Ok(Some(name.trim().to_string()));
    }
    Ok(if root.exists("/run/.containerenv")? {
        Some("podman".into())
    } else if root.exists("/.dockerenv")? {
        Some("docker".into())
    } else {
        None
    })
}

/// (major, minor) of a kernel release such as `6.1.0-28-amd64`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

impl Resource for Host {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &[]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing("the host", observe(cx.root))?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        let facts = cx.facts.get::<HostFacts>();
        diff(cx, facts, plan);
    }
}

fn diff(cx: &DiffCx, facts: &HostFacts, plan: &mut PlanBuilder) {
    if !facts.systemd_running {
        plan.push(Item::blocked(
            ID,
            "host/systemd",
            "systemd is not the init system (/run/systemd/system is missing)",
            "run groundwork on a host booted with systemd: rootless k3s runs only as a systemd user unit",
        ).reason("the k3s-rootless unit, lingering and cgroup delegation all need systemd"));
    }
    match facts.cgroup_mode {
        CgroupMode::Unified => {
            let missing: Vec<&str> = cx
                .spec
                .cgroup
                .delegate
                .iter()
                .filter(|c| !facts.root_controllers.contains(c))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                plan.push(
                    Item::blocked(
                        ID,
                        "host/cgroup-controllers",
                        format!("the root cgroup lacks the {} controller(s)", missing.join(", ")),
                        "enable them in the kernel (boot parameters such as cgroup_enable=cpuset), then reboot",
                    )
                    .reason(format!(
                        "/sys/fs/cgroup/cgroup.controllers lists: {}",
                        facts.root_controllers.join(" ")
                    )),
                );
            }
        }
        mode => plan.push(
            Item::blocked(
                ID,
                "host/cgroup-v2",
                format!("cgroups are {}, not pure cgroup v2", mode.describe()),
                "add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (or `grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1`), then reboot",
            )
            .reason("rootless k3s needs delegated cgroup v2 controllers"),
        ),
    }
    if !facts.user_namespaces {
        plan.push(Item::blocked(
            ID,
            "host/userns",
            "the kernel has no user namespaces",
            "boot a kernel built with CONFIG_USER_NS=y",
        ));
    }
    if kernel_version(&facts.kernel_release).is_some_and(|v| v < (4, 18)) {
        plan.push(Item::blocked(
            ID,
            "host/kernel",
            format!("kernel {} is older than 4.18", facts.kernel_release),
            "upgrade the kernel: fuse-overlayfs inside a user namespace needs 4.18 or later",
        ));
    }
    if let Some(m) = &facts.system.machine {
        for shortfall in system::preflight(m) {
            plan.note(ID, shortfall);
        }
    }
}
