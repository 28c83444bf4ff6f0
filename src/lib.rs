//! groundwork: prepares Linux hosts to run k3s in rootless mode, and keeps them that way.
//!
//! spec ──load──▶ Spec ─┐
//!                      ├─diff──▶ Plan ──apply──▶ host
//! host ──observe──▶ Facts

pub mod ansible;
pub mod apply;
pub mod atomic;
pub mod cli;
pub mod diff;
pub mod exit;
pub mod facts;
pub mod host_root;
pub mod names;
pub mod plan;
pub mod privileged;
pub mod render;
pub mod resources;
pub mod spec;
pub mod target;
pub mod verify;
