//! cgroup v2 delegation to the user's systemd manager: the drop-in for user@.service, and the
//! controllers the running manager really received. A manager that runs without them restarts
//! (which restarts everything it runs, k3s too), and the plan waits for it to answer again.

use super::account::AccountFacts;
use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::host::session::manager_cgroup;
use crate::plan::{Action, Implication, Item, PlanBuilder, ResourceId, Step};
use crate::privileged::Request;
use crate::spec::Spec;
use serde::Serialize;

pub use crate::managed_files::DELEGATION_DROPIN as DROPIN;
use crate::managed_files::{parse_delegation_dropin, render_delegation_dropin as render_dropin};

pub const ID: ResourceId = ResourceId::new("delegation");

pub struct Delegation;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelegationFacts {
    pub dropin: Option<String>,
    /// Controllers in user@UID.service's cgroup; None while the manager is not running.
    pub delegated: Option<Vec<String>>,
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

impl Resource for Delegation {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &[
            "write_delegation",
            "restart_user_manager",
            "wait_for_user_manager",
        ]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        let account = cx.facts.get::<AccountFacts>();
        Ok(Box::new(observing(
            "cgroup delegation",
            observe(cx.root, account),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(
            cx.spec,
            cx.facts.get::<DelegationFacts>(),
            cx.authority.helper_policy().is_some(),
            plan,
        );
    }
}

/// `through_helper`: a user may add controllers to the drop-in (it serves every user), never
/// take one away, so the ones already there are kept.
fn diff(spec: &Spec, facts: &DelegationFacts, through_helper: bool, plan: &mut PlanBuilder) {
    if spec.cgroup.delegate.is_empty() {
        return;
    }
    let user = &spec.user.name;
    let mut controllers = spec.cgroup.delegate.clone();
    if through_helper {
        for kept in parse_delegation_dropin(facts.dropin.as_deref().unwrap_or_default()) {
            if !controllers.contains(&kept) {
                controllers.push(kept);
            }
        }
    }
    let content = render_dropin(&controllers);
    if facts.dropin.as_deref() != Some(content.as_str()) {
        plan.push(
            Item::change(
                ID,
                format!("file{DROPIN}"),
                format!("write {DROPIN}, then reload systemd"),
                Step::Privileged(Request::WriteDelegation { controllers }),
            )
            .reason("without delegated controllers the rootless kubelet does not start")
            .file(facts.dropin.clone(), content),
        );
    }
    let Some(have) = &facts.delegated else {
        return;
    };
    let missing: Vec<&str> = spec
        .cgroup
        .delegate
        .iter()
        .filter(|c| !have.contains(c))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return;
    }
    plan.push(
        Item::change(
            ID,
            "delegation/user-manager",
            format!("restart the systemd user manager of {user} to receive delegated controllers"),
            Step::Privileged(Request::RestartUserManager { user: user.clone() }),
        )
        .action(Action::Run)
        .reason(format!(
            "its cgroup has {} but lacks {}",
            if have.is_empty() {
                "no controllers".into()
            } else {
                have.join(" ")
            },
            missing.join(" ")
        ))
        .values(Some(have.join(" ")), Some(spec.cgroup.delegate.join(" ")))
        .implies(Implication::RestartUnit),
    );
    plan.push(Item::run(
        ID,
        "delegation/user-manager/wait",
        format!("wait for the systemd user manager of {user} to answer"),
        Step::WaitForUserManager { user: user.clone() },
    ));
}
