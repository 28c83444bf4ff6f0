//! How a privileged request ends: done, refused (nothing changed), or failed (a host tool
//! failed, possibly after a change). The helper's exit code and reply carry the kind, so the
//! agent never has to guess it from the message.

use serde::{Deserialize, Serialize};

/// A verb that ran to the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub changed: bool,
    pub msg: String,
}

impl Done {
    pub fn changed(msg: impl Into<String>) -> Self {
        Done {
            changed: true,
            msg: msg.into(),
        }
    }
    pub fn unchanged(msg: impl Into<String>) -> Self {
        Done {
            changed: false,
            msg: msg.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerbError {
    /// Invalid, not authorized, or outside root's policy: nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// The verb ran and a step of it failed; `changed` says whether the host changed first.
    #[error("{msg}")]
    Failed { msg: String, changed: bool },
}

impl VerbError {
    pub fn failed(msg: impl Into<String>) -> Self {
        VerbError::Failed {
            msg: msg.into(),
            changed: false,
        }
    }
    pub fn kind(&self) -> Kind {
        match self {
            VerbError::Refused(_) => Kind::Refused,
            VerbError::Failed { .. } => Kind::Failed,
        }
    }
}

/// The kind of a reply, as the helper prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Done,
    Refused,
    Failed,
}

impl Kind {
    /// The helper's exit code for this kind: 0, 2 (refused) or 1 (failed).
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Done => 0,
            Kind::Failed => 1,
            Kind::Refused => 2,
        }
    }
}
