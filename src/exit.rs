//! Exit codes, decided here and nowhere else, so that scripts can rely on them.

use crate::engine::{ApplyReport, ApplyStatus};
use crate::plan::Plan;

/// In sync, converged, valid, healthy.
pub const OK: i32 = 0;
/// An error: bad input, a failed observation or step, not converged, unhealthy.
pub const ERROR: i32 = 1;
/// Changes are pending (plan) or drift was found (drift).
pub const CHANGES: i32 = 2;
/// Something blocks convergence that only a person can fix.
pub const BLOCKED: i32 = 3;
/// `apply --no-wait` while another run holds the lock (EX_TEMPFAIL).
pub const LOCKED: i32 = 75;
/// `apply --detailed-exitcodes`, Puppet's bitmask: changed, failed, both.
pub const DETAILED_CHANGED: i32 = 2;
pub const DETAILED_FAILED: i32 = 4;
pub const DETAILED_CHANGED_AND_FAILED: i32 = 6;

/// `plan`: 0 in sync, 2 changes pending, 3 blocked.
pub fn for_plan(plan: &Plan) -> i32 {
    if plan.blocked().next().is_some() {
        BLOCKED
    } else if plan.changes().next().is_some() {
        CHANGES
    } else {
        OK
    }
}

/// `drift`: 0 in sync, 2 drift (blocked items count as drift).
pub fn for_drift(plan: &Plan) -> i32 {
    if plan.is_empty() { OK } else { CHANGES }
}

/// `apply`: 0 converged (or in sync), 3 blocked, 1 anything else; with `detailed`, Puppet's
/// 0/2/4/6 for the converged and failed cases.
pub fn for_apply(report: &ApplyReport, detailed: bool) -> i32 {
    let changed = report.executed.changed() > 0;
    match report.status {
        ApplyStatus::Blocked => BLOCKED,
        ApplyStatus::InSync => OK,
        ApplyStatus::Converged if detailed && changed => DETAILED_CHANGED,
        ApplyStatus::Converged => OK,
        ApplyStatus::Cancelled => ERROR,
        ApplyStatus::Failed | ApplyStatus::NotConverged | ApplyStatus::Unhealthy => {
            match (detailed, changed) {
                (true, true) => DETAILED_CHANGED_AND_FAILED,
                (true, false) => DETAILED_FAILED,
                (false, _) => ERROR,
            }
        }
    }
}

/// An error that stopped a command: 75 for a busy lock (`--no-wait`), 1 otherwise.
pub fn for_error(e: &crate::engine::Error) -> i32 {
    match e {
        crate::engine::Error::Lock(crate::engine::lock::LockError::Busy(_)) => LOCKED,
        _ => ERROR,
    }
}
