//! Lingering: the user's systemd manager starts at boot and survives logout. Enabling it starts
//! the manager asynchronously, so the plan waits for the manager to answer before anything uses
//! it.

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::plan::{Action, Item, PlanBuilder, ResourceId, Step};
use crate::privileged::Request;
use serde::Serialize;

pub const ID: ResourceId = ResourceId::new("linger");

pub struct Linger;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LingerFacts {
    pub enabled: bool,
}

pub fn path(user: &str) -> String {
    format!("/var/lib/systemd/linger/{user}")
}

pub fn observe(root: &HostRoot, user: &str) -> std::io::Result<LingerFacts> {
    Ok(LingerFacts {
        enabled: root.exists(path(user))?,
    })
}

impl Resource for Linger {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["enable_linger", "wait_for_user_manager"]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing(
            "lingering",
            observe(cx.root, &cx.spec.user.name),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        let user = &cx.spec.user.name;
        if !cx.spec.linger || cx.facts.get::<LingerFacts>().enabled {
            return;
        }
        plan.push(
            Item::change(
                ID,
                format!("linger/{user}"),
                format!("enable lingering for {user}"),
                Step::Privileged(Request::EnableLinger { user: user.clone() }),
            )
            .action(Action::Create)
            .reason("without it k3s stops at logout and does not start at boot")
            .values(Some("Linger=no".into()), Some("Linger=yes".into())),
        );
        // Lingering starts the manager, asynchronously.
        super::user_home::wait_for_manager_once(
            cx,
            plan,
            cx.facts
                .get::<super::unit_state::UnitStateFacts>()
                .manager_running,
            ID,
            format!("linger/{user}/wait"),
        );
    }
}
