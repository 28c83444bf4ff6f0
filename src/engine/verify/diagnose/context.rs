//! What verify observed about the host, as far as it tells apart the causes of one message.
//! Each field is None (or empty) where nothing was observed: the diagnosis then names no cause
//! it cannot see.

use crate::resources::Facts;
use crate::resources::account::AccountFacts;
use crate::resources::apparmor::AppArmorFacts;
use crate::resources::host::{CgroupMode, HostFacts};
use crate::resources::linger::LingerFacts;
use crate::resources::packages::PackageFacts;
use crate::resources::sysctl::SysctlFacts;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostContext {
    /// The target user's uid.
    pub uid: Option<u32>,
    /// kernel.apparmor_restrict_unprivileged_userns is 1.
    pub apparmor_restricts_userns: Option<bool>,
    /// AppArmor is enabled with ABI 4.0, so groundwork can install k3s's userns profile.
    pub apparmor_profile_installable: bool,
    /// kernel.unprivileged_userns_clone as the kernel runs it (observed when the spec names it).
    pub unprivileged_userns_clone: Option<String>,
    /// The host runs pure cgroup v2.
    pub cgroup_v2: Option<bool>,
    /// /sys/fs/cgroup/cgroup.controllers, on pure cgroup v2.
    pub root_controllers: Option<Vec<String>>,
    /// The container manager the host runs under.
    pub container: Option<String>,
    /// newuidmap and newgidmap that are installed, but neither setuid root nor with file
    /// capabilities.
    pub unprivileged_idmap_tools: Vec<String>,
    /// Lingering is enabled for the user.
    pub linger: Option<bool>,
}

impl HostContext {
    pub fn from_facts(facts: &Facts) -> Self {
        let host = facts.try_get::<HostFacts>();
        let apparmor = facts.try_get::<AppArmorFacts>();
        let unified = host.map(|h| h.cgroup_mode == CgroupMode::Unified);
        HostContext {
            uid: facts.try_get::<AccountFacts>().and_then(|a| a.uid),
            apparmor_restricts_userns: apparmor.and_then(|a| a.restrict_unprivileged_userns),
            apparmor_profile_installable: apparmor.is_some_and(|a| a.enabled && a.abi_4),
            unprivileged_userns_clone: facts.try_get::<SysctlFacts>().and_then(|s| {
                s.keys
                    .get("kernel.unprivileged_userns_clone")?
                    .runtime
                    .as_ref()
                    .map(|v| v.trim().to_string())
            }),
            cgroup_v2: unified,
            root_controllers: host
                .filter(|_| unified == Some(true))
                .map(|h| h.root_controllers.clone()),
            container: host.and_then(|h| h.container.clone()),
            unprivileged_idmap_tools: facts
                .try_get::<PackageFacts>()
                .map(|p| {
                    [&p.newuidmap, &p.newgidmap]
                        .into_iter()
                        .filter(|t| t.present && !t.setuid_root && !t.file_caps)
                        .map(|t| t.path.clone())
                        .collect()
                })
                .unwrap_or_default(),
            linger: facts.try_get::<LingerFacts>().map(|l| l.enabled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::system::System;
    use crate::resources::packages::{Family, IdmapTool, parse_os_release};
    use crate::resources::sysctl::KeyFacts;
    use crate::resources::{apparmor, empty_facts, host, linger, packages, sysctl};

    fn tool(path: &str, setuid_root: bool) -> IdmapTool {
        IdmapTool {
            path: path.into(),
            present: true,
            setuid_root,
            file_caps: false,
        }
    }

    #[test]
    fn reads_what_tells_causes_apart_from_the_facts() {
        let facts = empty_facts();
        assert_eq!(HostContext::from_facts(&facts), HostContext::default());
        facts.set(
            &host::ID,
            Box::new(HostFacts {
                kernel_release: "6.1.0-28-arm64".into(),
                systemd_running: true,
                cgroup_mode: CgroupMode::Unified,
                root_controllers: vec!["cpuset".into(), "cpu".into(), "pids".into()],
                user_namespaces: true,
                container: Some("lxc".into()),
                system: System {
                    architecture: "aarch64".into(),
                    machine: None,
                },
            }),
        );
        facts.set(
            &apparmor::ID,
            Box::new(AppArmorFacts {
                enabled: true,
                restrict_unprivileged_userns: Some(true),
                abi_4: false,
                profile_path: "/etc/apparmor.d/usr.local.bin.k3s".into(),
                profile: None,
            }),
        );
        facts.set(
            &packages::ID,
            Box::new(PackageFacts {
                os: parse_os_release("ID=debian\n"),
                family: Family::Debian,
                installed: Default::default(),
                newuidmap: tool("/usr/bin/newuidmap", false),
                newgidmap: tool("/usr/bin/newgidmap", true),
            }),
        );
        facts.set(
            &sysctl::ID,
            Box::new(SysctlFacts {
                keys: [(
                    "kernel.unprivileged_userns_clone".to_string(),
                    KeyFacts {
                        runtime: Some("0\n".into()),
                        others: vec![],
                    },
                )]
                .into(),
                managed_file: None,
            }),
        );
        facts.set(&linger::ID, Box::new(LingerFacts { enabled: false }));
        assert_eq!(
            HostContext::from_facts(&facts),
            HostContext {
                uid: None,
                apparmor_restricts_userns: Some(true),
                // No ABI 4.0: apply cannot install the profile.
                apparmor_profile_installable: false,
                unprivileged_userns_clone: Some("0".into()),
                cgroup_v2: Some(true),
                root_controllers: Some(vec!["cpuset".into(), "cpu".into(), "pids".into()]),
                container: Some("lxc".into()),
                unprivileged_idmap_tools: vec!["/usr/bin/newuidmap".into()],
                linger: Some(false),
            }
        );
    }
}
