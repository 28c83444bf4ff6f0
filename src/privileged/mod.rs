//! The privileged verbs: written once, run in-process when groundwork is root, and by
//! `groundwork-helper` (through `sudo -n`) when it is not. This module is the privilege boundary;
//! keep it small.

pub mod allow;
pub mod authorize;
pub mod request;
pub mod secure_fs;
pub mod tools;
pub mod validate;
mod verbs;

pub use request::{Request, Response};
pub use verbs::{execute, execute_for};
