//! What can stop an operation before it reaches its own outcome. Outcomes are not errors: a
//! blocked plan, a failed step, a host that did not converge or an unhealthy cluster are
//! reports (see `ApplyReport`), and the front end turns them into exit codes.

use super::lock::LockError;
use crate::plan::SavedPlanError;
use crate::resources::ObserveError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid spec\n{0}")]
    Spec(#[from] SpecError),
    #[error(transparent)]
    SavedPlan(#[from] SavedPlanError),
    #[error(
        "{0}\nNothing was judged in sync: fix the cause (permissions, a broken file) and run again."
    )]
    Observe(#[from] ObserveError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(
        "the host changed since the plan was saved; nothing was applied.\nRun `groundwork plan --out FILE` again, review it, and apply the new file."
    )]
    StalePlan,
    #[error("apply changes the live host; --root is for read-only commands")]
    NotLive,
    /// An input root must not act on: another user could have chosen it.
    #[error(
        "{0}.\nAs root, groundwork trusts only a spec or plan that root alone can change: `chown root:` it and `chmod go-w` it, or move it to /etc/groundwork/."
    )]
    UntrustedInput(String),
    #[error("verify could not run: {0}")]
    Verify(String),
}

impl Error {
    /// A short name of the kind, for machine output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Spec(_) => "invalid_spec",
            Error::SavedPlan(SavedPlanError::NotASpec { .. }) => "plan_given_as_spec",
            Error::SavedPlan(_) => "invalid_plan_file",
            Error::Observe(_) => "observation_failed",
            Error::Lock(LockError::Busy(_)) => "locked",
            Error::Lock(_) => "lock_failed",
            Error::StalePlan => "stale_plan",
            Error::NotLive => "not_live",
            Error::UntrustedInput(_) => "untrusted_input",
            Error::Verify(_) => "verify_failed",
        }
    }
}
