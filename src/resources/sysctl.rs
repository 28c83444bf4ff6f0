//! Kernel parameters: the runtime value in /proc/sys and the persisted value that
//! systemd-sysctl will apply at the next boot, following its order of precedence.

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::plan::{Item, PlanBuilder, ResourceId, Step};
use crate::policy::Policy;
use crate::privileged::Request;
use crate::spec::{Spec, SysctlSetting};
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::managed_files::{SYSCTL_FILE as MANAGED_FILE, normalize};
use crate::managed_files::{parse_sysctl_conf as parse_conf, render_sysctl_file as render_file};

pub const ID: ResourceId = ResourceId::new("sysctl");

pub struct Sysctl;

impl Resource for Sysctl {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["set_sysctl", "persist_sysctls"]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing("sysctls", observe(cx.root, cx.spec))?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(
            cx.spec,
            cx.facts.get::<SysctlFacts>(),
            cx.authority.helper_policy(),
            plan,
        );
    }
}

/// Directories systemd-sysctl reads, highest priority first. A file name in an earlier
/// directory masks the same name in later ones; all files then apply in name order.
const SYSCTL_DIRS: [&str; 5] = [
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Persisted {
    pub file: String,
    pub line: usize,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyFacts {
    /// None when the kernel has no such key.
    pub runtime: Option<String>,
    /// The value that wins at boot, and where it comes from.
    pub persisted: Option<Persisted>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SysctlFacts {
    pub keys: BTreeMap<String, KeyFacts>,
    pub managed_file: Option<String>,
}

pub fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Config files in the order systemd-sysctl applies them (later wins), then /etc/sysctl.conf,
/// which procps' `sysctl --system` reads last.
fn config_files(root: &HostRoot) -> std::io::Result<Vec<String>> {
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for dir in SYSCTL_DIRS.iter().rev() {
        for name in root.list_dir(dir)? {
            if name.ends_with(".conf") {
                by_name.insert(name.clone(), format!("{dir}/{name}"));
            }
        }
    }
    let mut files: Vec<String> = by_name.into_values().collect();
    if root.exists("/etc/sysctl.conf")? {
        files.push("/etc/sysctl.conf".into());
    }
    Ok(files)
}

pub fn observe(root: &HostRoot, spec: &Spec) -> std::io::Result<SysctlFacts> {
    let mut persisted: BTreeMap<String, Persisted> = BTreeMap::new();
    for file in config_files(root)? {
        let Some(text) = root.read_optional(&file)? else {
            continue;
        };
        for (line, key, value) in parse_conf(&text) {
            if spec.sysctls.contains_key(&key) {
                persisted.insert(
                    key,
                    Persisted {
                        file: file.clone(),
                        line,
                        value,
                    },
                );
            }
        }
    }
    let mut keys = BTreeMap::new();
    for key in spec.sysctls.keys() {
        let runtime = root.read_optional(proc_path(key))?.map(|v| normalize(&v));
        keys.insert(
            key.clone(),
            KeyFacts {
                runtime,
                persisted: persisted.remove(key),
            },
        );
    }
    Ok(SysctlFacts {
        keys,
        managed_file: root.read_optional(MANAGED_FILE)?,
    })
}

/// The value the host should have: the spec's, or for an `at_least` key the higher of the
/// spec's and the current one (so a host's larger limit is kept, and persisted as it is).
pub fn wanted(setting: &SysctlSetting, runtime: Option<&str>) -> String {
    let want = normalize(&setting.value());
    if setting.at_least()
        && let (Ok(w), Some(Ok(now))) = (want.parse::<i64>(), runtime.map(str::parse::<i64>))
    {
        return w.max(now).to_string();
    }
    want
}

/// The settings to persist: every key this kernel has, and every non-optional one. Through the
/// helper (`policy`), a user may add to groundwork's file but not take away: the keys already
/// there stay, a limit keeps the higher of the two values.
pub fn persisted_settings(
    spec: &Spec,
    facts: &SysctlFacts,
    policy: Option<&Policy>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, setting) in &spec.sysctls {
        let runtime = facts.keys.get(key).and_then(|k| k.runtime.as_deref());
        if runtime.is_some() || !setting.optional() {
            out.insert(key.clone(), wanted(setting, runtime));
        }
    }
    if let Some(policy) = policy {
        let current = parse_conf(facts.managed_file.as_deref().unwrap_or_default());
        for (_, key, value) in current {
            let raise_only = policy.sysctl_rule(&key).is_some_and(|r| r.raise_only);
            match out.get(&key) {
                None => {
                    out.insert(key, value);
                }
                Some(ours)
                    if raise_only && value.parse::<i64>().ok() > ours.parse::<i64>().ok() =>
                {
                    out.insert(key, value);
                }
                Some(_) => {}
            }
        }
    }
    out
}

/// `policy`: the one the helper will apply, when the steps go through it.
fn diff(spec: &Spec, facts: &SysctlFacts, policy: Option<&Policy>, items: &mut PlanBuilder) {
    if spec.sysctls.is_empty() {
        return;
    }
    let refused = |key: &str, e: String| {
        Item::blocked(
            ID,
            format!("sysctl/{key}"),
            e,
            "ask root to allow it in root's policy, or run the apply as root",
        )
        .reason("the helper sets host-wide values only within root's policy")
    };
    for (key, setting) in &spec.sysctls {
        let Some(kf) = facts.keys.get(key) else {
            tracing::warn!(key, "no facts for a spec key; observed with another spec?");
            continue;
        };
        let want = wanted(setting, kf.runtime.as_deref());
        tracing::info!(key, runtime = ?kf.runtime, want, "sysctl");
        match &kf.runtime {
            None if setting.optional() => {}
            None => items.push(Item::blocked(
                ID,
                format!("sysctl/{key}"),
                format!("the kernel has no sysctl {key}"),
                format!("use a kernel that has {key}, or mark it `{{ value: {want}, optional: true }}` if it only exists on some kernels"),
            )),
            Some(now) if *now != want => {
                if let Some(e) = policy.and_then(|p| p.check_sysctl(key, &want, Some(now)).err()) {
                    items.push(refused(key, e));
                    continue;
                }
                items.push(
                    Item::change(ID, format!("sysctl/{key}"), format!("set {key} = {want}"), Step::Privileged(Request::SetSysctl { key: key.clone(), value: want.clone() }))
                        .reason(format!("{} reads {now}", proc_path(key)))
                        .values(Some(now.clone()), Some(want.clone())),
                )
            }
            Some(_) => {}
        }
    }
    let settings = persisted_settings(spec, facts, policy);
    let content = render_file(&settings);
    if facts.managed_file.as_deref() != Some(content.as_str()) {
        items.push(
            Item::change(
                ID,
                format!("file{MANAGED_FILE}"),
                format!("write {MANAGED_FILE}"),
                Step::Privileged(Request::PersistSysctls {
                    settings: settings.clone(),
                }),
            )
            .reason(if facts.managed_file.is_some() {
                "the file differs from the spec"
            } else {
                "the values are not persisted, so a reboot would lose them"
            })
            .file(facts.managed_file.clone(), content),
        );
    }
    // A file that sorts after ours (or /etc/sysctl.conf) wins at boot; we do not edit other
    // people's files, so this is for a person to resolve.
    for (key, setting) in &spec.sysctls {
        let Some(kf) = facts.keys.get(key) else {
            continue;
        };
        let want = wanted(setting, kf.runtime.as_deref());
        if let Some(p) = &kf.persisted
            && p.value != want
            && applies_after_managed_file(&p.file)
        {
            items.push(Item::blocked(
                ID,
                format!("sysctl/{key}/override"),
                format!(
                    "{}:{} sets {key} = {} and overrides {MANAGED_FILE} at boot",
                    p.file, p.line, p.value
                ),
                format!("remove that line, or set it to {want}"),
            ));
        }
    }
}

/// Whether a config file is applied after the managed one (and so wins over it).
fn applies_after_managed_file(file: &str) -> bool {
    let managed_name = MANAGED_FILE.rsplit('/').next().unwrap_or(MANAGED_FILE);
    file == "/etc/sysctl.conf"
        || file
            .rsplit('/')
            .next()
            .is_some_and(|name| name > managed_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_another_spec_make_no_panic() {
        // Facts observed for a spec without the key (a saved plan's spec, another user's):
        // the key is left out of the plan, never a panic.
        let spec = crate::spec::parse(&crate::spec::SpecSource {
            name: "t".into(),
            text: "user: { name: k3s }\nk3s: { version: v1.31.4+k3s1 }\nsysctls: { net.ipv4.ip_forward: 1 }\n".into(),
        })
        .unwrap();
        let facts = SysctlFacts {
            keys: BTreeMap::new(),
            managed_file: None,
        };
        let mut plan = PlanBuilder::default();
        diff(&spec, &facts, None, &mut plan);
        assert!(
            plan.items()
                .iter()
                .all(|i| i.id != "sysctl/net.ipv4.ip_forward")
        );
    }
}
