//! How an action on the host ended, when it did not succeed: refused (nothing changed), failed
//! (perhaps after a change), or unavailable (it could not run at all).

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Refused (by the helper, or root's policy): nothing changed.
    Refused,
    /// Ran and failed.
    Failed,
    /// Could not run at all (no sudo, no helper, no rule).
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct OpError {
    pub kind: OpKind,
    /// Whether the host changed before the failure.
    pub changed: bool,
    pub msg: String,
}

impl OpError {
    pub fn failed(msg: impl Into<String>) -> Self {
        OpError {
            kind: OpKind::Failed,
            changed: false,
            msg: msg.into(),
        }
    }
}

impl From<crate::host::session::SessionError> for OpError {
    fn from(e: crate::host::session::SessionError) -> Self {
        OpError::failed(e.to_string())
    }
}
