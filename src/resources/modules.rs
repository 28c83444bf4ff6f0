//! Kernel modules: loaded now (a rootless process cannot modprobe) and listed for every boot.

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::plan::{Item, PlanBuilder, ResourceId, Step};
use crate::privileged::Request;
use crate::spec::Spec;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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
    /// The spec's modules that modprobe can find for this kernel (modules.dep). Only those: a
    /// distribution kernel lists thousands, and nothing else is asked of the list.
    pub available: BTreeSet<String>,
    /// Whether the kernel ships modules.builtin (the list of modules built into it).
    pub has_builtin_list: bool,
    /// Where the kernel's build configuration was read (/proc/config.gz, /boot/config-*).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_source: Option<String>,
    /// Modules the build configuration says this kernel lacks (`is not set`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub not_in_kernel: BTreeSet<String>,
    pub managed_file: Option<String>,
}

/// The kernel option that builds each module groundwork may load (from the kernel's Kconfig
/// files; k3s's check-config reads the same options). `=y` builds it in, `=m` as a module.
pub fn config_symbol(module: &str) -> Option<&'static str> {
    Some(match module {
        "fuse" => "CONFIG_FUSE_FS",
        "tun" => "CONFIG_TUN",
        "tap" => "CONFIG_TAP",
        "bridge" => "CONFIG_BRIDGE",
        "br_netfilter" => "CONFIG_BRIDGE_NETFILTER",
        "veth" => "CONFIG_VETH",
        "vxlan" => "CONFIG_VXLAN",
        "overlay" => "CONFIG_OVERLAY_FS",
        "ip_tables" => "CONFIG_IP_NF_IPTABLES",
        "ip6_tables" => "CONFIG_IP6_NF_IPTABLES",
        "iptable_nat" => "CONFIG_IP_NF_NAT",
        "ip6table_nat" => "CONFIG_IP6_NF_NAT",
        "iptable_filter" => "CONFIG_IP_NF_FILTER",
        "ip6table_filter" => "CONFIG_IP6_NF_FILTER",
        "iptable_mangle" => "CONFIG_IP_NF_MANGLE",
        "ip6table_mangle" => "CONFIG_IP6_NF_MANGLE",
        "nf_tables" => "CONFIG_NF_TABLES",
        "nf_conntrack" => "CONFIG_NF_CONNTRACK",
        "nf_nat" => "CONFIG_NF_NAT",
        "x_tables" | "xt_tcpudp" => "CONFIG_NETFILTER_XTABLES",
        "xt_MASQUERADE" => "CONFIG_NETFILTER_XT_TARGET_MASQUERADE",
        "xt_addrtype" => "CONFIG_NETFILTER_XT_MATCH_ADDRTYPE",
        "xt_comment" => "CONFIG_NETFILTER_XT_MATCH_COMMENT",
        "xt_conntrack" => "CONFIG_NETFILTER_XT_MATCH_CONNTRACK",
        "xt_mark" => "CONFIG_NETFILTER_XT_MARK",
        "xt_multiport" => "CONFIG_NETFILTER_XT_MATCH_MULTIPORT",
        "xt_nat" => "CONFIG_NETFILTER_XT_NAT",
        "xt_statistic" => "CONFIG_NETFILTER_XT_MATCH_STATISTIC",
        _ => return None,
    })
}

/// One line of a kernel configuration into `config`: `CONFIG_X=y` / `=m`, and
/// `# CONFIG_X is not set` as "n", for the `wanted` symbols alone (a distribution's
/// configuration has thousands of lines).
fn config_line(line: &str, wanted: &BTreeSet<&str>, config: &mut BTreeMap<String, String>) {
    let entry = match line.strip_prefix("# ") {
        Some(rest) => rest.strip_suffix(" is not set").map(|sym| (sym, "n")),
        None => line.split_once('='),
    };
    if let Some((sym, value)) = entry
        && sym.starts_with("CONFIG_")
        && wanted.contains(sym)
    {
        config.insert(sym.to_string(), value.trim_matches('"').to_string());
    }
}

/// The running kernel's build configuration, where one can be read: /proc/config.gz (kernels
/// built with CONFIG_IKCONFIG_PROC, WSL2 among them), else /boot/config-RELEASE. Both are read
/// line by line: only the `wanted` symbols are kept.
fn kernel_config(
    root: &HostRoot,
    release: &str,
    wanted: &BTreeSet<&str>,
) -> std::io::Result<Option<(String, BTreeMap<String, String>)>> {
    use std::io::BufRead;
    let mut config = BTreeMap::new();
    if let Some(gz) = root.read_bytes_optional("/proc/config.gz")? {
        let text = std::io::BufReader::new(flate2::read::GzDecoder::new(&gz[..]));
        for line in text.lines() {
            let line =
                line.map_err(|e| std::io::Error::new(e.kind(), format!("/proc/config.gz: {e}")))?;
            config_line(&line, wanted, &mut config);
        }
        return Ok(Some(("/proc/config.gz".into(), config)));
    }
    let boot = format!("/boot/config-{release}");
    let found = root.each_line_optional(&boot, |l| config_line(l, wanted, &mut config))?;
    Ok(found.then_some((boot, config)))
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
    let builtin_list = root.read_optional(format!("{dir}/modules.builtin"))?;
    let has_builtin_list = builtin_list.is_some();
    let mut builtin: BTreeSet<String> = builtin_list
        .unwrap_or_default()
        .lines()
        .filter_map(name_from_path)
        .collect();
    let wanted: BTreeSet<String> = spec.modules.iter().map(|m| canonical(m)).collect();
    let mut available = BTreeSet::new();
    root.each_line_optional(format!("{dir}/modules.dep"), |l| {
        if let Some(name) = l.split(':').next().and_then(name_from_path)
            && wanted.contains(&name)
        {
            available.insert(name);
        }
    })?;
    // The build configuration says what modules.builtin may not (it can be missing, as on WSL2
    // and many cloud kernels): `=y` is built in, `is not set` is absent from this kernel.
    let symbols = spec
        .modules
        .iter()
        .filter_map(|m| config_symbol(m))
        .collect();
    let config = kernel_config(root, &release, &symbols)?;
    let mut not_in_kernel = BTreeSet::new();
    if let Some((_, cfg)) = &config {
        for m in &spec.modules {
            match config_symbol(m)
                .and_then(|sym| cfg.get(sym))
                .map(String::as_str)
            {
                Some("y") => {
                    builtin.insert(canonical(m));
                }
                Some("n") => {
                    not_in_kernel.insert(canonical(m));
                }
                _ => {}
            }
        }
    }
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
        has_builtin_list,
        config_source: config.map(|(source, _)| source),
        not_in_kernel,
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
    let mut unknown = Vec::new();
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
        } else if facts.config_source.is_none() && !facts.has_builtin_list {
            // Nothing here can tell whether the kernel has it built in.
            unknown.push(m.as_str());
        } else {
            // The configuration or the module lists say this kernel cannot provide it.
            unavailable.push(m.as_str());
        }
    }
    if !unknown.is_empty() {
        items.note(
            ID,
            format!(
                "kernel {} shows no build configuration and no list of built-in modules: whether it has {} is unknown; `groundwork verify` tests what rootless k3s needs of them",
                facts.kernel_release,
                unknown.join(", ")
            ),
        );
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
                format!(
                    "kernel {release} cannot load modules and has {} neither built in nor as modules{}",
                    unavailable.join(", "),
                    facts
                        .config_source
                        .as_deref()
                        .map(|s| format!(" (its configuration, {s}, says so)"))
                        .unwrap_or_default()
                ),
                "boot a kernel that has them, or remove these from the spec".to_string(),
            )
        };
        items.push(
            Item::blocked(ID, "modules/unavailable", summary, fix)
                .reason("rootless k3s needs them for networking, fuse-overlayfs and tun"),
        );
    }
    // A kernel that cannot load modules gets no modules-load.d file: systemd-modules-load would
    // only fail on it at every boot. Elsewhere every module is listed, built in or not: modprobe
    // accepts a built-in one, and the next kernel may build it as a module instead.
    if !facts.loadable_support {
        return;
    }
    let mut names: Vec<String> = spec.modules.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_configuration_is_read_for_the_wanted_symbols_alone() {
        let text = "#\n# Automatically generated file; DO NOT EDIT.\n\
            CONFIG_FUSE_FS=m\n\
            # CONFIG_TUN is not set\n\
            CONFIG_OVERLAY_FS=y\n\
            CONFIG_LOCALVERSION=\"-lab\"\n\
            CONFIG_VETH=m\n\
            # CONFIG_VXLAN is not set\n";
        let wanted = BTreeSet::from([
            "CONFIG_FUSE_FS",
            "CONFIG_TUN",
            "CONFIG_OVERLAY_FS",
            "CONFIG_LOCALVERSION",
        ]);
        let mut config = BTreeMap::new();
        text.lines()
            .for_each(|l| config_line(l, &wanted, &mut config));
        let expected: BTreeMap<String, String> = [
            ("CONFIG_FUSE_FS", "m"),
            ("CONFIG_LOCALVERSION", "-lab"),
            ("CONFIG_OVERLAY_FS", "y"),
            ("CONFIG_TUN", "n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(config, expected);
    }
}
