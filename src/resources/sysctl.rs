//! Kernel parameters: the value the kernel runs with (/proc/sys), and the value it gets at the
//! next boot from every file systemd-sysctl reads, in its order. groundwork owns one file,
//! /etc/sysctl.d/90-groundwork.conf; files that apply after it win at boot, and groundwork never
//! edits them.
//!
//! The semantics, per kind of key (the README's table has a row for each case, and a test):
//!
//! - exact (`key: v`): the kernel runs v; groundwork's file says v; a later file that sets
//!   another value would win at boot, so it blocks (the fix: remove that line or set it to v).
//!   Earlier files do not matter: groundwork's file applies after them.
//! - at least (`{ value: m, at_least: true }`): the kernel runs m or more (a higher value is
//!   kept); groundwork's file holds a value of m or more that is not below what an earlier file
//!   sets (so groundwork never lowers an administrator's limit at boot). Once written, that
//!   value stands: a host whose limit was raised elsewhere does not make groundwork rewrite its
//!   own file. A later file that sets less than m blocks (fix: remove the line or set it to at
//!   least m); one that sets m or more is fine.
//! - at most (derived, never written in the spec: `net.ipv4.ip_unprivileged_port_start` at the
//!   lowest wanted port below 1024, see `sysctl_wants`): the kernel runs p or less (a host that
//!   opens more keeps it, groundwork never lowers it past p); groundwork's file says p, or what
//!   an earlier file sets when that is lower (boot must not close what an administrator
//!   opened). A later file that sets more than p blocks (fix: remove it or set it to at most p).

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use super::sysctl_wants::{Bound, Want, wants};
use crate::host::HostRoot;
use crate::plan::{Action, Item, PlanBuilder, ResourceId};
use crate::policy::Policy;
use crate::privileged::Request;
use crate::spec::Spec;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub use crate::managed_files::{SYSCTL_FILE as MANAGED_FILE, normalize};
use crate::managed_files::{
    parse_sysctl_conf as parse_conf, render_sysctl_file as render_file, sysctl_conf_lines,
};

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

/// One other file's setting of a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Persisted {
    pub file: String,
    /// The sysctl.d link through which systemd-sysctl reads `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_as: Option<String>,
    pub line: usize,
    pub value: String,
    /// The file applies after groundwork's (and so wins over it at boot).
    pub after_ours: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyFacts {
    /// None when the kernel has no such key.
    pub runtime: Option<String>,
    /// Every other file's setting of the key, in the order they apply at boot.
    pub others: Vec<Persisted>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SysctlFacts {
    pub keys: BTreeMap<String, KeyFacts>,
    pub managed_file: Option<String>,
}

pub fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Config files in the order systemd-sysctl applies them at boot (later wins). /etc/sysctl.conf
/// is not one of them: systemd-sysctl reads it only through a link in sysctl.d (Debian 12's
/// 99-sysctl.conf; Debian 13 has neither), and only `sysctl --system`, run by hand, reads it
/// directly.
fn config_files(root: &HostRoot) -> std::io::Result<Vec<String>> {
    // Name to directory: a name in an earlier directory replaces the later one's.
    let mut by_name: BTreeMap<String, &str> = BTreeMap::new();
    for dir in SYSCTL_DIRS.iter().rev() {
        for name in root.list_dir(dir)? {
            if name.ends_with(".conf") {
                by_name.insert(name, dir);
            }
        }
    }
    Ok(by_name
        .into_iter()
        .map(|(name, dir)| [dir, "/", &name].concat())
        .collect())
}

/// Whether a config file is applied after the managed one (and so wins over it).
fn applies_after_managed_file(file: &str) -> bool {
    let managed_name = MANAGED_FILE.rsplit('/').next().unwrap_or(MANAGED_FILE);
    file.rsplit('/')
        .next()
        .is_some_and(|name| name > managed_name)
}

/// The file a config link points to (Debian 12's 99-sysctl.conf → /etc/sysctl.conf): the one an
/// administrator edits. None when `file` is not a link.
fn link_target(root: &HostRoot, file: &str) -> Option<String> {
    let target = std::fs::read_link(root.path(file)).ok()?;
    let joined = Path::new(file)
        .parent()
        .unwrap_or(Path::new("/"))
        .join(&target);
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in joined.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let resolved: PathBuf = std::iter::once(Component::RootDir.as_os_str())
        .chain(parts)
        .collect();
    Some(resolved.display().to_string())
}

pub fn observe(root: &HostRoot, spec: &Spec) -> std::io::Result<SysctlFacts> {
    let wanted = wants(spec);
    let mut others: BTreeMap<String, Vec<Persisted>> = BTreeMap::new();
    for file in config_files(root)? {
        if file == MANAGED_FILE {
            continue;
        }
        let Some(text) = root.read_optional(&file)? else {
            continue;
        };
        // Whether the file is a link is asked only of a file that sets a wanted key.
        let mut target = None;
        for (line, key, value) in sysctl_conf_lines(&text) {
            if wanted.contains_key(&*key) {
                let target = target.get_or_insert_with(|| link_target(root, &file));
                others.entry(key.into_owned()).or_default().push(Persisted {
                    file: target.clone().unwrap_or_else(|| file.clone()),
                    linked_as: target.as_ref().map(|_| file.clone()),
                    line,
                    value: normalize(value),
                    after_ours: applies_after_managed_file(&file),
                });
            }
        }
    }
    // Collected in the wanted keys' (sorted) order, which builds the map without a search per
    // key.
    let keys = wanted
        .keys()
        .map(|key| {
            let runtime = root.read_optional(proc_path(key))?.map(|v| normalize(&v));
            let others = others.remove(key).unwrap_or_default();
            Ok((key.clone(), KeyFacts { runtime, others }))
        })
        .collect::<std::io::Result<BTreeMap<_, _>>>()?;
    Ok(SysctlFacts {
        keys,
        managed_file: root.read_optional(MANAGED_FILE)?,
    })
}

fn int(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}

/// What one key needs: the value for groundwork's file, the runtime value when the kernel's
/// must change, and a later file that overrides groundwork's at boot with a wrong value.
#[derive(Debug, PartialEq)]
struct KeyPlan {
    file_value: String,
    set_runtime: Option<String>,
    override_line: Option<Persisted>,
    /// In words, what the override must become.
    fix: String,
}

fn plan_key(want: &Want, facts: &KeyFacts, in_our_file: Option<&str>) -> KeyPlan {
    let value = want.value.clone();
    let runtime = facts.runtime.as_deref();
    let last_after = facts.others.iter().rev().find(|p| p.after_ours);
    // Validation made sure a bound is a number.
    let bound = int(&value).unwrap_or(0);
    let earlier = facts
        .others
        .iter()
        .filter(|p| !p.after_ours)
        .filter_map(|p| int(&p.value));
    match want.bound {
        Bound::Exact => KeyPlan {
            set_runtime: (runtime != Some(value.as_str())).then(|| value.clone()),
            override_line: last_after.filter(|p| p.value != value).cloned(),
            fix: format!("remove that line, or set it to {value}"),
            file_value: value,
        },
        Bound::AtLeast => {
            let floor = bound.max(earlier.max().unwrap_or(i64::MIN));
            let file_value = match in_our_file.and_then(int) {
                // What groundwork's file already says stands, while it meets the minimum and
                // lowers no earlier file's limit.
                Some(f) if f >= floor => f,
                _ => floor.max(runtime.and_then(int).unwrap_or(i64::MIN)),
            };
            KeyPlan {
                set_runtime: runtime
                    .and_then(int)
                    .filter(|r| *r < bound)
                    .map(|_| file_value.to_string()),
                override_line: last_after
                    .filter(|p| int(&p.value).is_none_or(|v| v < bound))
                    .cloned(),
                fix: format!("remove that line, or set it to at least {bound}"),
                file_value: file_value.to_string(),
            }
        }
        // A threshold that opens something as it falls: groundwork lowers it to the bound and
        // never further. Its file follows an earlier file that opens more (so boot does not
        // close what an administrator opened), but never a lower runtime value nobody
        // persisted, nor a local edit of its own file.
        Bound::AtMost => {
            let ceiling = bound.min(earlier.min().unwrap_or(i64::MAX));
            KeyPlan {
                set_runtime: runtime
                    .and_then(int)
                    .filter(|r| *r > bound)
                    .map(|_| bound.to_string()),
                override_line: last_after
                    .filter(|p| int(&p.value).is_none_or(|v| v > bound))
                    .cloned(),
                fix: format!("remove that line, or set it to at most {bound}"),
                file_value: ceiling.to_string(),
            }
        }
    }
}

/// The settings for groundwork's file: every key this kernel has, and every non-optional one.
/// Through the helper (`policy`), a user may add to the file but not take away: the keys
/// already there stay, a limit keeps the higher of the two values.
pub fn persisted_settings(
    spec: &Spec,
    facts: &SysctlFacts,
    policy: Option<&Policy>,
) -> BTreeMap<String, String> {
    let current: BTreeMap<String, String> =
        parse_conf(facts.managed_file.as_deref().unwrap_or_default())
            .into_iter()
            .map(|(_, k, v)| (k, v))
            .collect();
    let mut out = BTreeMap::new();
    for (key, want) in &wants(spec) {
        let Some(kf) = facts.keys.get(key) else {
            continue;
        };
        if kf.runtime.is_some() || !want.optional {
            let kp = plan_key(want, kf, current.get(key).map(String::as_str));
            out.insert(key.clone(), kp.file_value);
        }
    }
    if let Some(policy) = policy {
        for (key, value) in current {
            let raise_only = policy.sysctl_rule(&key).is_some_and(|r| r.raise_only);
            match out.get(&key) {
                None => {
                    out.insert(key, value);
                }
                Some(ours) if raise_only && int(&value) > int(ours) => {
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
    let wanted = wants(spec);
    if wanted.is_empty() {
        return;
    }
    // A derived key says why groundwork wants it, wherever it appears.
    let why = |key: &str, base: String| match wanted.get(key).and_then(|w| w.derived.as_ref()) {
        Some(d) => format!("{base}; {d}"),
        None => base,
    };
    let refused = |key: &str, e: String| {
        Item::blocked(
            ID,
            format!("sysctl/{key}"),
            e,
            "ask root to allow it in root's policy, or run the apply as root",
        )
        .reason(why(
            key,
            "the helper sets host-wide values only within root's policy".into(),
        ))
    };
    let current: BTreeMap<String, String> =
        parse_conf(facts.managed_file.as_deref().unwrap_or_default())
            .into_iter()
            .map(|(_, k, v)| (k, v))
            .collect();
    let mut overrides = Vec::new();
    let mut blocked: Vec<String> = Vec::new();
    for (key, want) in &wanted {
        let Some(kf) = facts.keys.get(key) else {
            tracing::warn!(key, "no facts for a spec key; observed with another spec?");
            continue;
        };
        let kp = plan_key(want, kf, current.get(key).map(String::as_str));
        tracing::info!(key, runtime = ?kf.runtime, plan = ?kp, "sysctl");
        match &kf.runtime {
            None if want.optional => continue,
            None => {
                items.push(Item::blocked(
                    ID,
                    format!("sysctl/{key}"),
                    format!("the kernel has no sysctl {key}"),
                    format!("use a kernel that has {key}, or mark it `{{ value: {}, optional: true }}` if it only exists on some kernels", want.value),
                ));
                continue;
            }
            Some(now) => {
                if let Some(value) = &kp.set_runtime {
                    if let Some(e) =
                        policy.and_then(|p| p.check_sysctl(key, value, Some(now)).err())
                    {
                        items.push(refused(key, e));
                        blocked.push(key.clone());
                    } else {
                        items.push(
                            Item::change(
                                ID,
                                format!("sysctl/{key}"),
                                format!("set {key} = {value}"),
                                crate::plan::Step::Privileged(Request::SetSysctl {
                                    key: key.clone(),
                                    value: value.clone(),
                                }),
                            )
                            .reason(why(key, format!("{} reads {now}", proc_path(key))))
                            .values(Some(now.clone()), Some(value.clone())),
                        );
                    }
                }
            }
        }
        if let Some(p) = kp.override_line {
            overrides.push((key.clone(), p, kp.fix));
        }
    }
    let mut settings = persisted_settings(spec, facts, policy);
    // The helper checks each line it adds or changes against root's policy, as it checks the
    // runtime value: a line it would refuse is blocked here, and the file keeps what it has.
    if let Some(policy) = policy {
        for (key, value) in settings.clone() {
            if current.get(&key) == Some(&value) {
                continue;
            }
            let running = facts.keys.get(&key).and_then(|k| k.runtime.clone());
            let now = [current.get(&key).cloned(), running]
                .into_iter()
                .flatten()
                .max_by_key(|v| int(v).unwrap_or(i64::MIN));
            if let Err(e) = policy.check_sysctl(&key, &value, now.as_deref()) {
                if !blocked.contains(&key) {
                    items.push(refused(&key, e));
                }
                match current.get(&key) {
                    Some(kept) => settings.insert(key, kept.clone()),
                    None => settings.remove(&key),
                };
            }
        }
    }
    let content = render_file(&settings);
    if facts.managed_file.as_deref() != Some(content.as_str()) {
        let base = if facts.managed_file.is_some() {
            "the file differs from the spec"
        } else {
            "the values are not persisted, so a reboot would lose them"
        };
        // What a derived line opens is said here too: the file is what keeps it open.
        let derived = wanted
            .iter()
            .filter(|(k, w)| w.derived.is_some() && settings.get(*k) != current.get(*k))
            .filter_map(|(_, w)| w.derived.clone())
            .collect::<Vec<_>>();
        let reason = std::iter::once(base.to_string())
            .chain(derived)
            .collect::<Vec<_>>()
            .join("; ");
        items.push(
            Item::change(
                ID,
                format!("file{MANAGED_FILE}"),
                format!("write {MANAGED_FILE}"),
                crate::plan::Step::Privileged(Request::PersistSysctls {
                    settings: settings.clone(),
                }),
            )
            .action(if facts.managed_file.is_some() {
                Action::Update
            } else {
                Action::Create
            })
            .reason(reason)
            .file(facts.managed_file.clone(), content),
        );
    }
    // A file that applies after ours wins at boot; groundwork does not edit other people's
    // files, so this is for a person to resolve.
    for (key, p, fix) in overrides {
        items.push(
            Item::blocked(
                ID,
                format!("sysctl/{key}/override"),
                format!(
                    "{}:{}{} sets {key} = {} and overrides {MANAGED_FILE} at boot",
                    p.file,
                    p.line,
                    p.linked_as
                        .as_deref()
                        .map(|l| format!(" (read at boot through {l})"))
                        .unwrap_or_default(),
                    p.value
                ),
                fix,
            )
            .reason("after the next boot the kernel would run with that value"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_most(bound: &str) -> Want {
        Want {
            value: bound.into(),
            bound: Bound::AtMost,
            optional: false,
            derived: Some("network.ports".into()),
        }
    }

    fn other(value: &str, after_ours: bool) -> Persisted {
        Persisted {
            file: if after_ours {
                "/etc/sysctl.d/99-zz.conf"
            } else {
                "/etc/sysctl.d/10-admin.conf"
            }
            .into(),
            linked_as: None,
            line: 1,
            value: value.into(),
            after_ours,
        }
    }

    fn key(runtime: &str, others: Vec<Persisted>) -> KeyFacts {
        KeyFacts {
            runtime: Some(runtime.into()),
            others,
        }
    }

    #[test]
    fn at_most_lowers_to_the_bound_and_never_further() {
        // Debian's 1024: lowered to 80, and the file says 80.
        let kp = plan_key(&at_most("80"), &key("1024", vec![]), None);
        assert_eq!(
            (kp.set_runtime.as_deref(), kp.file_value.as_str()),
            (Some("80"), "80")
        );
        // A host that already opens more keeps its runtime value, but groundwork persists
        // only its own bound, and rewrites a local edit of its file that opens more.
        let kp = plan_key(&at_most("80"), &key("0", vec![]), Some("0"));
        assert_eq!((kp.set_runtime, kp.file_value.as_str()), (None, "80"));
        // An earlier file that opens more is followed, so boot does not close it; one that
        // opens less is overridden by groundwork's later file.
        let kp = plan_key(&at_most("80"), &key("0", vec![other("0", false)]), None);
        assert_eq!((kp.set_runtime, kp.file_value.as_str()), (None, "0"));
        let kp = plan_key(
            &at_most("80"),
            &key("1024", vec![other("1024", false)]),
            None,
        );
        assert_eq!(
            (kp.set_runtime.as_deref(), kp.file_value.as_str()),
            (Some("80"), "80")
        );
        // Even then the runtime is lowered only to the bound.
        let kp = plan_key(&at_most("80"), &key("1024", vec![other("0", false)]), None);
        assert_eq!(kp.set_runtime.as_deref(), Some("80"));
    }

    #[test]
    fn at_most_is_overridden_only_by_a_later_file_that_closes_the_port() {
        let kp = plan_key(&at_most("80"), &key("80", vec![other("1024", true)]), None);
        assert_eq!(kp.override_line.map(|p| p.value).as_deref(), Some("1024"));
        assert_eq!(kp.fix, "remove that line, or set it to at most 80");
        let kp = plan_key(&at_most("80"), &key("80", vec![other("80", true)]), None);
        assert_eq!(kp.override_line, None);
        let kp = plan_key(&at_most("80"), &key("80", vec![other("0", true)]), None);
        assert_eq!(kp.override_line, None);
    }

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
