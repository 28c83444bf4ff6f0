//! Kernel modules: loaded now (a rootless process cannot modprobe) and listed for every boot.

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::plan::{Item, PlanBuilder, ResourceId, Step};
use crate::privileged::Request;
use crate::spec::Spec;
use serde::Serialize;
use std::collections::BTreeSet;

pub use crate::managed_files::MODULES_FILE as MANAGED_FILE;
use crate::managed_files::render_modules_file as render_file;

pub const ID: ResourceId = ResourceId::new("modules");

pub struct Modules;

impl Resource for Modules {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["load_module", "persist_modules"]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing(
            "kernel modules",
            observe(cx.root, cx.spec),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(
            cx.spec,
            cx.facts.get::<ModulesFacts>(),
            cx.authority.helper_policy().is_some(),
            plan,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModulesFacts {
    pub kernel_release: String,
    /// False when the kernel has no loadable module support (/proc/modules is absent).
    pub loadable_support: bool,
    pub loaded: BTreeSet<String>,
    pub builtin: BTreeSet<String>,
    /// Modules that modprobe can find for this kernel (modules.dep).
    pub available: BTreeSet<String>,
    pub managed_file: Option<String>,
}

/// Module names use `_` in /proc/modules but may use `-` in file names.
pub fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// `kernel/net/bridge/br_netfilter.ko.xz` → `br_netfilter`.
fn name_from_path(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split(".ko").next()?;
    (!stem.is_empty()).then(|| canonical(stem))
}

pub fn observe(root: &HostRoot, spec: &Spec) -> std::io::Result<ModulesFacts> {
    let release = root.read("/proc/sys/kernel/osrelease")?.trim().to_string();
    let proc_modules = root.read_optional("/proc/modules")?;
    let loaded: BTreeSet<String> = proc_modules
        .as_deref()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(canonical))
        .collect();
    let dir = format!("/lib/modules/{release}");
    let mut builtin: BTreeSet<String> = root
        .read_optional(format!("{dir}/modules.builtin"))?
        .unwrap_or_default()
        .lines()
        .filter_map(name_from_path)
        .collect();
    let available = root
        .read_optional(format!("{dir}/modules.dep"))?
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').next().and_then(name_from_path))
        .collect();
    // A module in /sys/module is in the running kernel; when it is not loaded, it is built in
    // (built-in modules with parameters show there even without modules.builtin). Counting it
    // as loadable instead would plan a modprobe that never changes anything.
    for m in &spec.modules {
        let c = canonical(m);
        if !loaded.contains(&c) && root.exists(format!("/sys/module/{c}"))? {
            builtin.insert(c);
        }
    }
    Ok(ModulesFacts {
        kernel_release: release,
        loadable_support: proc_modules.is_some(),
        loaded,
        builtin,
        available,
        managed_file: root.read_optional(MANAGED_FILE)?,
    })
}

/// `through_helper`: a user may add lines to groundwork's modules file, never remove them, so
/// the lines already there are kept.
fn diff(spec: &Spec, facts: &ModulesFacts, through_helper: bool, items: &mut PlanBuilder) {
    if spec.modules.is_empty() {
        return;
    }
    let mut unavailable = Vec::new();
    for m in &spec.modules {
        let c = canonical(m);
        if facts.loaded.contains(&c) || facts.builtin.contains(&c) {
            continue;
        }
        if facts.available.contains(&c) && facts.loadable_support {
            items.push(
                Item::change(
                    ID,
                    format!("module/{m}"),
                    format!("load kernel module {m}"),
                    Step::Privileged(Request::LoadModule { name: m.clone() }),
                )
                .reason("not loaded, and an unprivileged k3s cannot load it")
                .values(Some("not loaded".into()), Some("loaded".into())),
            );
        } else {
            // Not in modules.dep, or a kernel that cannot load modules at all.
            unavailable.push(m.as_str());
        }
    }
    if !unavailable.is_empty() {
        let release = &facts.kernel_release;
        let (summary, fix) = if facts.loadable_support {
            (
                format!("kernel {release} has no module {}", unavailable.join(", ")),
                format!(
                    "install the modules package for kernel {release} (linux-modules-extra-{release} on Ubuntu), or remove these from the spec"
                ),
            )
        } else {
            (
                format!("kernel {release} cannot load modules and does not show {} as built in", unavailable.join(", ")),
                "boot a kernel with loadable module support, or remove these from the spec if this kernel has them built in".to_string(),
            )
        };
        items.push(
            Item::blocked(ID, "modules/unavailable", summary, fix)
                .reason("rootless k3s needs them for networking, fuse-overlayfs and tun"),
        );
    }
    let mut names = spec.modules.clone();
    if through_helper {
        for kept in crate::managed_files::parse_modules_file(
            facts.managed_file.as_deref().unwrap_or_default(),
        ) {
            if !names.contains(&kept) {
                names.push(kept);
            }
        }
    }
    let content = render_file(&names);
    if facts.managed_file.as_deref() != Some(content.as_str()) {
        items.push(
            Item::change(
                ID,
                format!("file{MANAGED_FILE}"),
                format!("write {MANAGED_FILE}"),
                Step::Privileged(Request::PersistModules { names }),
            )
            .reason("the modules would not be loaded after a reboot")
            .file(facts.managed_file.clone(), content),
        );
    }
}
