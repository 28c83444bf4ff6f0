//! The privileged verbs: written once, run in-process when groundwork is root, and by
//! `groundwork-helper` (through `sudo -n`) when it is not. This module is the privilege boundary;
//! keep it small. The README's "Trust model" says what it guarantees.

pub mod audit_log;
pub mod authorize;
pub mod error;
pub mod followup;
pub mod hardening;
pub mod k3s_install;
pub mod known_ids;
pub mod request;
pub mod request_lock;
pub mod secure_fs;
pub mod shadow_lock;
pub mod subids;
pub mod tools;
pub mod validate;
mod verbs;

pub use error::{Done, Kind, VerbError};
pub use request::{Request, Response};
pub use verbs::{Context, execute, execute_as_root};
