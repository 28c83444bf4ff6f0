//! apply: execute the plan that `plan` prints, step for step, then observe again and prove that
//! the host converged.

pub mod k3s_fetch;
pub mod lock;
pub mod privilege;
pub mod run;
pub mod user_unit;

use crate::plan::{Implication, Plan, Step};
use crate::privileged::Request;
use crate::spec::Spec;
use privilege::Privilege;
use std::time::Duration;
use user_unit::Target;

/// How long to wait for a user manager that linger or a restart has just started.
const MANAGER_TIMEOUT: Duration = Duration::from_secs(90);

/// What happened to one step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepOutcome {
    pub id: String,
    pub summary: String,
    pub changed: bool,
    pub ok: bool,
    pub msg: String,
}

/// What `execute` reports as it goes: a step about to run, and its outcome.
pub enum StepEvent<'a> {
    Started(&'a crate::plan::Item),
    Finished(&'a StepOutcome),
}

/// Runs the plan's steps in order; stops at the first failure. `on_step` hears each step start
/// and finish as it happens (for progress output and JSON Lines events).
pub fn execute(
    plan: &Plan,
    spec: &Spec,
    privilege: &Privilege,
    mut on_step: impl FnMut(StepEvent),
) -> Vec<StepOutcome> {
    let mut outcomes = Vec::new();
    let mut unit_file_written = false;
    let mut daemon_reloaded = false;
    for item in plan.items.iter().filter(|i| i.step.is_some()) {
        let step = item.step.as_ref().expect("filtered");
        on_step(StepEvent::Started(item));
        let result = (|| {
            if item.implies.contains(&Implication::RestartUnit) && spec.unit.running {
                record_pending_restart(&spec.user.name)?;
            }
            if is_unit_state(step) && unit_file_written && !daemon_reloaded {
                let target = Target::resolve(&spec.user.name)?;
                user_unit::wait_for_manager(&target, MANAGER_TIMEOUT)?;
                user_unit::systemctl(&target, &["daemon-reload"])?;
                daemon_reloaded = true;
            }
            let r = run_step(step, spec, privilege)?;
            if matches!(step, Step::WriteUnitFile { .. }) {
                unit_file_written = true;
            }
            Ok::<_, String>(r)
        })();
        let outcome = match result {
            Ok((changed, msg)) => StepOutcome {
                id: item.id.clone(),
                summary: item.summary.clone(),
                changed,
                ok: true,
                msg,
            },
            Err(msg) => StepOutcome {
                id: item.id.clone(),
                summary: item.summary.clone(),
                changed: false,
                ok: false,
                msg,
            },
        };
        on_step(StepEvent::Finished(&outcome));
        let failed = !outcome.ok;
        outcomes.push(outcome);
        if failed {
            return outcomes;
        }
    }
    if unit_file_written && !daemon_reloaded {
        let reload = Target::resolve(&spec.user.name).and_then(|t| {
            user_unit::wait_for_manager(&t, MANAGER_TIMEOUT)?;
            user_unit::systemctl(&t, &["daemon-reload"])
        });
        if let Err(msg) = reload {
            let o = StepOutcome {
                id: "unit/daemon-reload".into(),
                summary: "reload the user manager".into(),
                changed: false,
                ok: false,
                msg,
            };
            on_step(StepEvent::Finished(&o));
            outcomes.push(o);
        }
    }
    outcomes
}

fn is_unit_state(step: &Step) -> bool {
    matches!(
        step,
        Step::EnableUnit { .. }
            | Step::DisableUnit { .. }
            | Step::StartUnit { .. }
            | Step::RestartUnit { .. }
            | Step::StopUnit { .. }
    )
}

fn record_pending_restart(user: &str) -> Result<(), String> {
    let target = Target::resolve(user)?;
    user_unit::write_as_user(
        &target,
        &target.pending_restart_marker(),
        Some(b"k3s-rootless must restart\n"),
    )
}

fn clear_pending_restart(target: &Target) -> Result<(), String> {
    user_unit::write_as_user(target, &target.pending_restart_marker(), None)
}

/// Maps a plan step to its execution. Privileged steps become helper requests.
fn run_step(step: &Step, spec: &Spec, privilege: &Privilege) -> Result<(bool, String), String> {
    let unit = user_unit::unit();
    match step {
        Step::InstallPackages { names } => privilege.run(
            None,
            &Request::InstallPackages {
                names: names.clone(),
            },
        ),
        Step::CreateUser { user } => {
            privilege.run(None, &Request::CreateUser { user: user.clone() })
        }
        Step::SetSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => privilege.run(
            None,
            &Request::SetSubids {
                user: user.clone(),
                start: *start,
                count: *count,
                uids: *uids,
                gids: *gids,
            },
        ),
        Step::SetSysctl { key, value } => privilege.run(
            None,
            &Request::SetSysctl {
                key: key.clone(),
                value: value.clone(),
            },
        ),
        Step::WriteSysctlFile { settings } => privilege.run(
            None,
            &Request::PersistSysctls {
                settings: settings.clone(),
            },
        ),
        Step::LoadModule { name } => {
            privilege.run(None, &Request::LoadModule { name: name.clone() })
        }
        Step::WriteModulesFile { names } => privilege.run(
            None,
            &Request::PersistModules {
                names: names.clone(),
            },
        ),
        Step::WriteDelegation { controllers } => privilege.run(
            None,
            &Request::WriteDelegation {
                controllers: controllers.clone(),
            },
        ),
        Step::RestartUserManager { user } => {
            let r = privilege.run(None, &Request::RestartUserManager { user: user.clone() })?;
            user_unit::wait_for_manager(&Target::resolve(user)?, MANAGER_TIMEOUT)?;
            Ok(r)
        }
        Step::EnableLinger { user } => {
            let r = privilege.run(None, &Request::EnableLinger { user: user.clone() })?;
            user_unit::wait_for_manager(&Target::resolve(user)?, MANAGER_TIMEOUT)?;
            Ok(r)
        }
        Step::InstallApparmorProfile { binary } => privilege.run(
            None,
            &Request::InstallApparmorProfile {
                binary: binary.clone(),
            },
        ),
        Step::InstallK3s {
            version,
            install_path,
        } => {
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let fetched = k3s_fetch::fetch(&spec.k3s, std::env::consts::ARCH, progress)?;
            // Verified against the pin or the release's own sha256 file: later plans on this
            // host know these bytes as this release without a download.
            let asset = crate::resources::k3s_binary::asset_for(std::env::consts::ARCH)?;
            crate::resources::k3s_binary::remember_release(version, asset, &fetched.sha256);
            privilege.run(
                Some(&fetched.path),
                &Request::InstallK3s {
                    version: version.clone(),
                    sha256: fetched.sha256,
                    size: fetched.size,
                    install_path: install_path.clone(),
                },
            )
        }
        Step::WriteUnitFile { user, content } => {
            let target = Target::resolve(user)?;
            let path = crate::resources::unit::unit_path(&target.home);
            user_unit::write_as_user(
                &target,
                std::path::Path::new(&path),
                Some(content.as_bytes()),
            )?;
            Ok((true, format!("wrote {path}")))
        }
        Step::EnableUnit { user } => unit_op(user, &["enable", unit], "enabled"),
        Step::DisableUnit { user } => unit_op(user, &["disable", unit], "disabled"),
        Step::StopUnit { user } => unit_op(user, &["stop", unit], "stopped"),
        Step::StartUnit { user } | Step::RestartUnit { user } => {
            let target = Target::resolve(user)?;
            user_unit::wait_for_manager(&target, MANAGER_TIMEOUT)?;
            // A crash loop leaves the unit failed by its start limit; clear that first.
            let _ = user_unit::systemctl(&target, &["reset-failed", unit]);
            let verb = if matches!(step, Step::StartUnit { .. }) {
                "start"
            } else {
                "restart"
            };
            user_unit::systemctl(&target, &[verb, unit])?;
            clear_pending_restart(&target)?;
            Ok((true, format!("{verb}ed {unit}")))
        }
    }
}

fn unit_op(user: &str, args: &[&str], done: &str) -> Result<(bool, String), String> {
    let target = Target::resolve(user)?;
    user_unit::wait_for_manager(&target, MANAGER_TIMEOUT)?;
    user_unit::systemctl(&target, args)?;
    Ok((true, format!("{done} {}", args[1])))
}
