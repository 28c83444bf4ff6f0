//! Whether the k3s-rootless unit is enabled and running, and its restart: k3s reads its binary,
//! its unit and every prerequisite only when it starts, so a change to any of them restarts it,
//! once, after all of them. The restart is recorded in the user's state before the first such
//! change and cleared after the restart, so that a failure in between cannot lose it. All read
//! from files (the wants link, the unit's cgroup, the record), so no user manager is asked.

use super::account::AccountFacts;
use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use super::user_home::{home_reader, wait_for_manager_once};
use crate::host::HostRoot;
use crate::host::session::{UNIT_NAME, manager_cgroup, pending_restart_marker, wants_link};
use crate::host::user_files::{Answer, Query};
use crate::plan::{Action, Implication, Item, PlanBuilder, ResourceId, Step};
use serde::Serialize;

pub const ID: ResourceId = ResourceId::new("unit_state");

pub struct UnitState;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitStateFacts {
    pub enabled: bool,
    /// The unit's cgroup has processes.
    pub active: bool,
    /// The user's systemd manager is running (its private socket exists).
    pub manager_running: bool,
    /// An earlier apply changed something k3s reads at start and did not get to restart it.
    pub pending_restart: bool,
}

pub fn observe(root: &HostRoot, account: &AccountFacts) -> std::io::Result<UnitStateFacts> {
    let home = account.home_or_default();
    let (active, manager_running) = match account.uid {
        Some(uid) => {
            let cg = manager_cgroup(uid);
            let mut active = false;
            for procs in [
                format!("{cg}/app.slice/{UNIT_NAME}/cgroup.procs"),
                format!("{cg}/{UNIT_NAME}/cgroup.procs"),
            ] {
                if let Some(procs) = root.read_optional(procs)? {
                    active |= !procs.trim().is_empty();
                }
            }
            (
                active,
                root.exists(format!("/run/user/{uid}/systemd/private"))?,
            )
        }
        None => (false, false),
    };
    let (enabled, pending_restart) = match home_reader(root, account)? {
        Some(reader) => match &reader.run(&[
            Query::Exists(wants_link(&home)),
            Query::Exists(pending_restart_marker(&home)),
        ])?[..]
        {
            [Answer::Exists(e), Answer::Exists(p)] => (*e, *p),
            _ => unreachable!("one answer per query, in order"),
        },
        None => (false, false),
    };
    Ok(UnitStateFacts {
        enabled,
        active,
        manager_running,
        pending_restart,
    })
}

impl Resource for UnitState {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &[
            "mark_restart_pending",
            "enable_unit",
            "disable_unit",
            "reset_failed_unit",
            "start_unit",
            "restart_unit",
            "stop_unit",
            "clear_restart_pending",
            "wait_for_user_manager",
        ]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        let account = cx.facts.get::<AccountFacts>();
        Ok(Box::new(observing(
            "the user unit's state",
            observe(cx.root, account),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        let facts = cx.facts.get::<UnitStateFacts>();
        let spec = cx.spec;
        let user = &spec.user.name;
        let unit = UNIT_NAME;
        let implies_restart = |i: &Item| i.implies.contains(&Implication::RestartUnit);
        let restart_implied = plan.items().iter().any(implies_restart);
        let mut ops = Vec::new();
        if spec.unit.enabled && !facts.enabled {
            ops.push(
                Item::change(
                    ID,
                    format!("unit/{unit}/enabled"),
                    format!("enable {unit} for {user}"),
                    Step::EnableUnit { user: user.clone() },
                )
                .reason("it must start with the user manager at boot")
                .values(Some("disabled".into()), Some("enabled".into())),
            );
        } else if !spec.unit.enabled && facts.enabled {
            ops.push(
                Item::change(
                    ID,
                    format!("unit/{unit}/enabled"),
                    format!("disable {unit} for {user}"),
                    Step::DisableUnit { user: user.clone() },
                )
                .values(Some("enabled".into()), Some("disabled".into())),
            );
        }
        let reset_failed = || {
            Item::run(
                ID,
                format!("unit/{unit}/reset-failed"),
                format!("clear a failed state of {unit} (systemctl --user reset-failed)"),
                Step::ResetFailedUnit { user: user.clone() },
            )
            .reason("a crash loop leaves the unit failed by its start limit, and then it would not start")
        };
        let clear = || {
            Item::run(
                ID,
                format!("unit/{unit}/restart-recorded"),
                format!("clear the record that {unit} must restart"),
                Step::ClearRestartPending { user: user.clone() },
            )
        };
        let mut restart = false;
        if spec.unit.running && !facts.active {
            ops.push(reset_failed());
            ops.push(
                Item::change(
                    ID,
                    format!("unit/{unit}/active"),
                    format!("start {unit} for {user}"),
                    Step::StartUnit { user: user.clone() },
                )
                .action(Action::Run)
                .reason("the unit is not running")
                .values(Some("inactive".into()), Some("active".into())),
            );
            if facts.pending_restart {
                ops.push(clear());
            }
        } else if spec.unit.running && (restart_implied || facts.pending_restart) {
            restart = true;
            ops.push(reset_failed());
            ops.push(
                Item::change(
                    ID,
                    format!("unit/{unit}/restart"),
                    format!("restart {unit} for {user}"),
                    Step::RestartUnit { user: user.clone() },
                )
                .action(Action::Run)
                .reason("k3s reads its binary, unit and prerequisites only at start")
                .values(Some("active (stale)".into()), Some("active".into())),
            );
            ops.push(clear());
        } else if !spec.unit.running && facts.active {
            ops.push(
                Item::change(
                    ID,
                    format!("unit/{unit}/active"),
                    format!("stop {unit} for {user}"),
                    Step::StopUnit { user: user.clone() },
                )
                .action(Action::Run)
                .values(Some("active".into()), Some("inactive".into())),
            );
        }
        if ops.is_empty() {
            return;
        }
        if restart && restart_implied {
            plan.insert_before(
                implies_restart,
                Item::run(
                    ID,
                    format!("unit/{unit}/restart-pending"),
                    format!("record that {unit} must restart"),
                    Step::MarkRestartPending { user: user.clone() },
                )
                .reason("if anything fails before the restart, the next run still restarts k3s"),
            );
        }
        wait_for_manager_once(
            cx,
            plan,
            facts.manager_running,
            ID,
            format!("unit/{unit}/wait"),
        );
        for op in ops {
            plan.push(op);
        }
    }
}
