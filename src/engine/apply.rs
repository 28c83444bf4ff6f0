//! The executor: runs a plan's steps in order, exactly as the plan lists them, through the
//! `HostOps` seam, and stops at the first step that fails, listing what did not run. It decides
//! nothing: every reload, wait, record and restart is a step of the plan.

use super::events::{Event, EventSink, StepOutcome};
use super::host_ops::{HomeFile, HostOps, OpError, OpKind};
use crate::plan::{Item, Plan, Step};
use crate::privileged::{Done, Request};
use crate::spec::Spec;
use std::time::Instant;

/// What the steps did.
#[derive(Debug, Clone, Default)]
pub struct Executed {
    pub outcomes: Vec<StepOutcome>,
    /// The items that did not run because an earlier step failed.
    pub not_run: Vec<Item>,
}

impl Executed {
    pub fn changed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.changed).count()
    }
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.ok).count()
    }
}

/// Runs the plan's steps in order; stops at the first failure.
pub async fn execute<H: HostOps>(
    plan: &Plan,
    spec: &Spec,
    host: &mut H,
    sink: &mut dyn EventSink,
) -> Executed {
    let steps: Vec<(&Item, &Step)> = plan.steps().collect();
    let total = steps.len();
    let mut done = Executed::default();
    for (n, (item, step)) in steps.iter().enumerate() {
        let index = n + 1;
        sink.event(Event::StepStarted { index, total, item });
        let started = Instant::now();
        let result = run_step(step, spec, host).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let outcome = match result {
            Ok(d) => StepOutcome {
                id: item.id.clone(),
                step: step.name().into(),
                summary: item.summary.clone(),
                changed: d.changed,
                ok: true,
                kind: "done".into(),
                msg: d.msg,
                duration_ms,
            },
            Err(e) => StepOutcome {
                id: item.id.clone(),
                step: step.name().into(),
                summary: item.summary.clone(),
                changed: e.changed,
                ok: false,
                kind: match e.kind {
                    OpKind::Refused => "refused",
                    OpKind::Failed => "failed",
                    OpKind::Unavailable => "unavailable",
                }
                .into(),
                msg: e.msg,
                duration_ms,
            },
        };
        tracing::info!(
            step = step.name(),
            id = %item.id,
            ok = outcome.ok,
            changed = outcome.changed,
            duration_ms,
            "step"
        );
        sink.event(Event::StepFinished {
            index,
            total,
            outcome: &outcome,
        });
        let failed = !outcome.ok;
        done.outcomes.push(outcome);
        if failed {
            done.not_run = steps[index..].iter().map(|(i, _)| (*i).clone()).collect();
            break;
        }
    }
    done
}

fn done(msg: impl Into<String>) -> Done {
    Done::changed(msg)
}

/// One step, through the seam. Privileged steps become helper requests.
async fn run_step<H: HostOps>(step: &Step, spec: &Spec, host: &mut H) -> Result<Done, OpError> {
    let unit = crate::host::session::UNIT_NAME;
    match step {
        Step::Privileged(request) => host.privileged(request, None).await,
        Step::WaitForUserManager { user } => {
            host.wait_for_user_manager(user).await?;
            Ok(Done::unchanged(format!(
                "the user manager of {user} answers"
            )))
        }
        Step::InstallK3s {
            version,
            install_path,
        } => {
            let fetched = host.fetch_k3s(&spec.k3s).await?;
            host.privileged(
                &Request::InstallK3s {
                    version: version.clone(),
                    sha256: fetched.sha256.clone(),
                    size: fetched.size,
                    install_path: install_path.clone(),
                },
                Some(&fetched.path),
            )
            .await
        }
        Step::MarkRestartPending { user } => {
            host.home_file(
                user,
                HomeFile::PendingRestart,
                Some(b"k3s-rootless must restart\n"),
            )
            .await?;
            Ok(done(format!("recorded that {unit} must restart")))
        }
        Step::WriteUnitFile { user, content } => {
            host.home_file(user, HomeFile::Unit, Some(content.as_bytes()))
                .await?;
            Ok(done(format!("wrote {unit} for {user}")))
        }
        Step::ReloadUserManager { user } => {
            host.systemctl_user(user, &["daemon-reload"]).await?;
            Ok(done(format!("reloaded the user manager of {user}")))
        }
        Step::EnableUnit { user } => {
            host.systemctl_user(user, &["enable", unit]).await?;
            Ok(done(format!("enabled {unit}")))
        }
        Step::DisableUnit { user } => {
            host.systemctl_user(user, &["disable", unit]).await?;
            Ok(done(format!("disabled {unit}")))
        }
        Step::ResetFailedUnit { user } => {
            // Nothing to reset is no failure: the unit may never have failed, or exist yet.
            let r = host.systemctl_user(user, &["reset-failed", unit]).await;
            Ok(Done::unchanged(match r {
                Ok(()) => format!("{unit} is not failed"),
                Err(e) => format!("nothing to reset ({e})"),
            }))
        }
        Step::StartUnit { user } => {
            host.systemctl_user(user, &["start", unit]).await?;
            Ok(done(format!("started {unit}")))
        }
        Step::RestartUnit { user } => {
            host.systemctl_user(user, &["restart", unit]).await?;
            Ok(done(format!("restarted {unit}")))
        }
        Step::StopUnit { user } => {
            host.systemctl_user(user, &["stop", unit]).await?;
            Ok(done(format!("stopped {unit}")))
        }
        Step::ClearRestartPending { user } => {
            host.home_file(user, HomeFile::PendingRestart, None).await?;
            Ok(Done::unchanged(format!(
                "cleared the record that {unit} must restart"
            )))
        }
    }
}
