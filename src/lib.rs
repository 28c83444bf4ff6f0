//! groundwork: prepares Linux hosts to run k3s in rootless mode, and keeps them that way.
//!
//! spec ──load──▶ Spec ─┐
//!                      ├─diff──▶ Plan ──apply──▶ host
//! host ──observe──▶ Facts

pub mod allow;
pub mod ansible;
pub mod apply;
pub mod atomic;
pub mod cache;
pub mod cli;
pub mod diff;
pub mod exit;
pub mod facts;
pub mod host_root;
pub mod k3s_releases;
pub mod managed_files;
pub mod names;
pub mod out;
pub mod plan;
pub mod policy;
pub mod privileged;
pub mod render;
pub mod resources;
pub mod spec;
pub mod subid_ranges;
pub mod target;
pub mod user_files;
pub mod verify;
