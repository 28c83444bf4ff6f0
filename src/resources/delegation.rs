//! cgroup v2 delegation to the user's systemd manager: the drop-in for user@.service, and the
//! controllers the running manager really received.

use super::account::AccountFacts;
use crate::host_root::HostRoot;
use crate::plan::{Action, Implication, Item, Resource, Step};
use crate::spec::Spec;
use serde::Serialize;

pub use crate::managed_files::DELEGATION_DROPIN as DROPIN;
use crate::managed_files::render_delegation_dropin as render_dropin;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelegationFacts {
    pub dropin: Option<String>,
    /// Controllers in user@UID.service's cgroup; None while the manager is not running.
    pub delegated: Option<Vec<String>>,
}

pub fn manager_cgroup(uid: u32) -> String {
    format!("/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service")
}

pub fn observe(root: &HostRoot, account: &AccountFacts) -> std::io::Result<DelegationFacts> {
    let delegated = match account.uid {
        Some(uid) => root
            .read_optional(format!("{}/cgroup.controllers", manager_cgroup(uid)))?
            .map(|t| t.split_whitespace().map(String::from).collect()),
        None => None,
    };
    Ok(DelegationFacts {
        dropin: root.read_optional(DROPIN)?,
        delegated,
    })
}

pub fn diff(spec: &Spec, facts: &DelegationFacts, items: &mut Vec<Item>) {
    if spec.cgroup.delegate.is_empty() {
        return;
    }
    let user = &spec.user.name;
    let content = render_dropin(&spec.cgroup.delegate);
    let dropin_changes = facts.dropin.as_deref() != Some(content.as_str());
    if dropin_changes {
        let mut item = Item::change(
            Resource::Delegation,
            format!("file{DROPIN}"),
            format!("write {DROPIN}"),
            Step::WriteDelegation {
                controllers: spec.cgroup.delegate.clone(),
            },
        )
        .reason("without delegated controllers the rootless kubelet does not start")
        .file(facts.dropin.clone(), content)
        .implies(Implication::DaemonReload);
        if facts.delegated.is_some() {
            item = item.implies(Implication::RestartUserManager);
        }
        items.push(item);
    }
    if let Some(have) = &facts.delegated {
        let missing: Vec<&String> = spec
            .cgroup
            .delegate
            .iter()
            .filter(|c| !have.contains(c))
            .collect();
        if !missing.is_empty() {
            items.push(
                Item::change(Resource::Delegation, "delegation/user-manager", format!("restart the systemd user manager of {user} to receive delegated controllers"), Step::RestartUserManager { user: user.clone() })
                    .action(Action::Run)
                    .reason(format!("its cgroup has {} but lacks {}", if have.is_empty() { "no controllers".into() } else { have.join(" ") }, missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")))
                    .values(Some(have.join(" ")), Some(spec.cgroup.delegate.join(" ")))
                    .implies(Implication::RestartUnit),
            );
        }
    }
}
