//! The engine under every front end (the command line, the Ansible module). It decides and
//! acts; it never prints. The front ends load the spec, call one of these operations, show its
//! events and its report, and turn the report into an exit code (`crate::exit`).
//!
//! The pipeline, in the order it runs:
//!
//! 1. `Target`: the spec (loaded and validated by the front end), the host root (`/`, or a
//!    captured tree for the read-only operations) and who executes privileged steps.
//! 2. Authority (`crate::authority`): root or the helper, and root's policy, read the way the
//!    helper reads it.
//! 3. Observe (`observe`): every resource of the registry reads the host, read-only; an
//!    observation that fails is an error, never "in sync".
//! 4. Diff (`diff`): a pure function of spec and facts, resource by resource, gives the plan:
//!    every action apply will take, in order, with blocked gaps and their manual fixes.
//! 5. Apply (`apply`): under the global lock (`lock`), plan (or take a saved plan, refused if
//!    the host changed since), ask for confirmation, run the steps in order through the
//!    `HostOps` seam (`apply::execute`), observe again (the plan must now be empty), then
//!    verify.
//! 6. Drift (`drift`): the plan, under the lock (a drift check never reads a half-applied
//!    host), with its timing, for monitoring.
//! 7. Verify (`verify`): a rootless smoke test that needs no k3s, then the
//!    cluster's health, and a diagnosis of what failed.

pub mod apply;
pub mod diff;
pub mod error;
pub mod events;
pub mod host_ops;
pub mod k3s_fetch;
pub mod lock;
pub mod observe;
pub mod op_error;
pub mod privilege;
pub mod verify;

pub use error::Error;
pub use events::{Event, EventSink, StepOutcome};
pub use host_ops::{HostOps, LiveHost};

use crate::authority::{Authority, Executor};
use crate::host::HostRoot;
use crate::plan::Plan;
use crate::resources::Facts;
use crate::spec::{Spec, SpecSource};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What an operation works on.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub root: &'a HostRoot,
    pub spec: &'a Spec,
    pub source: &'a SpecSource,
    pub executor: Executor,
}

/// A plan, with what it was made from.
pub struct Planned {
    pub plan: Plan,
    pub facts: Arc<Facts>,
    pub authority: Authority,
}

/// Observes and diffs: the one path that plan, drift, apply and verify share.
pub async fn plan(t: &Target<'_>) -> Result<Planned, Error> {
    let authority = Authority::observe(t.root, t.executor);
    let facts = observe::observe(t.root, t.spec, &authority).await?;
    let plan = diff::diff(t.spec, t.source, &facts, &authority);
    Ok(Planned {
        plan,
        facts,
        authority,
    })
}

/// The observed host, for `groundwork facts`.
pub async fn facts(t: &Target<'_>) -> Result<(Arc<Facts>, Authority), Error> {
    let authority = Authority::observe(t.root, t.executor);
    let facts = observe::observe(t.root, t.spec, &authority).await?;
    Ok((facts, authority))
}

/// A drift check: the plan, under the lock, with when and how long.
pub struct Drift {
    pub plan: Plan,
    /// What the plan was made from.
    pub facts: Arc<Facts>,
    pub checked_at: SystemTime,
    pub duration: Duration,
}

/// How long a drift check waits for a running apply before it gives up (and says so).
pub const DRIFT_LOCK_WAIT: Duration = Duration::from_secs(120);

pub async fn drift(t: &Target<'_>) -> Result<Drift, Error> {
    let started = Instant::now();
    // A captured tree has no runs to wait for.
    let _lock = match t.root.is_live() {
        true => Some(lock::acquire(lock::Wait::Upto(DRIFT_LOCK_WAIT)).await?),
        false => None,
    };
    let planned = plan(t).await?;
    Ok(Drift {
        plan: planned.plan,
        facts: planned.facts,
        checked_at: SystemTime::now(),
        duration: started.elapsed(),
    })
}

pub struct ApplyOptions {
    pub lock: lock::Wait,
    /// A plan saved by `plan --out`: apply refuses when the host no longer gives the same plan.
    pub saved: Option<Plan>,
    /// Verify after a converged apply, with these options.
    pub verify: Option<crate::engine::verify::Options>,
}

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyStatus {
    /// Nothing to do.
    InSync,
    /// Something only a person can fix; nothing was changed.
    Blocked,
    /// Not confirmed; nothing was changed.
    Cancelled,
    /// A step failed; the rest did not run.
    Failed,
    /// Every step ran, and the host still differs from the spec.
    NotConverged,
    /// Converged, but verify found rootless k3s unhealthy.
    Unhealthy,
    Converged,
}

pub struct ApplyReport {
    pub plan: Plan,
    pub executed: apply::Executed,
    /// The plan observed again after the steps: empty when converged.
    pub after: Option<Plan>,
    pub verify: Option<crate::engine::verify::Report>,
    pub status: ApplyStatus,
}

impl ApplyReport {
    fn ended(plan: Plan, status: ApplyStatus) -> Self {
        ApplyReport {
            plan,
            executed: apply::Executed::default(),
            after: None,
            verify: None,
            status,
        }
    }
}

/// Plans, confirms, executes, observes again, verifies.
pub async fn apply<H: HostOps>(
    t: &Target<'_>,
    opts: ApplyOptions,
    host: &mut H,
    confirm: &mut dyn FnMut(&Plan) -> bool,
    sink: &mut dyn EventSink,
) -> Result<ApplyReport, Error> {
    if !t.root.is_live() {
        return Err(Error::NotLive);
    }
    let _lock = lock::acquire(opts.lock).await?;
    let planned = plan(t).await?;
    if let Some(saved) = &opts.saved
        && saved.items != planned.plan.items
    {
        return Err(Error::StalePlan);
    }
    let plan = planned.plan;
    sink.event(Event::Planned(&plan));
    if plan.blocked().next().is_some() {
        return Ok(ApplyReport::ended(plan, ApplyStatus::Blocked));
    }
    if plan.is_empty() {
        return Ok(ApplyReport::ended(plan, ApplyStatus::InSync));
    }
    if !confirm(&plan) {
        return Ok(ApplyReport::ended(plan, ApplyStatus::Cancelled));
    }
    let executed = apply::execute(&plan, t.spec, host, sink).await;
    if executed.failed() > 0 {
        return Ok(ApplyReport {
            plan,
            executed,
            after: None,
            verify: None,
            status: ApplyStatus::Failed,
        });
    }
    // Proof, not belief: observe again, and the plan must be empty.
    sink.event(Event::Reobserving);
    let after = self::plan(t).await?;
    let converged = after.plan.is_empty();
    let mut report = ApplyReport {
        plan,
        executed,
        after: None,
        verify: None,
        status: if converged {
            ApplyStatus::Converged
        } else {
            ApplyStatus::NotConverged
        },
    };
    // Not converged, verify still runs when asked: "start k3s-rootless.service" is what still
    // differs, and verify's diagnosis says why it did not stay up (a new k3s that fails to start
    // is the usual case in a rollout).
    if let Some(vopts) = opts.verify {
        let v = crate::engine::verify::run(t.root, t.spec, &after.facts, &after.plan, &vopts, sink)
            .await;
        match v {
            Ok(v) => {
                if converged && !v.healthy {
                    report.status = ApplyStatus::Unhealthy;
                }
                report.verify = Some(v);
            }
            Err(e) if converged => return Err(Error::Verify(e)),
            Err(e) => tracing::warn!(error = %e, "verify after an apply that did not converge"),
        }
    }
    report.after = Some(after.plan);
    Ok(report)
}

/// verify: the plan (what does not match the spec is the most direct diagnosis), then the
/// smoke test and the cluster.
pub async fn verify(
    t: &Target<'_>,
    opts: &crate::engine::verify::Options,
    sink: &mut dyn EventSink,
) -> Result<crate::engine::verify::Report, Error> {
    let planned = plan(t).await?;
    crate::engine::verify::run(t.root, t.spec, &planned.facts, &planned.plan, opts, sink)
        .await
        .map_err(Error::Verify)
}
