//! groundwork: prepares Linux hosts to run k3s in rootless mode, and keeps them that way.
//!
//! ```text
//! spec.yaml ─load─▶ Spec ─┐
//!                         ├─ engine: observe ─▶ Facts ─ diff ─▶ Plan ─ apply ─▶ HostOps ─▶ host
//! host ───────────────────┘                                       └─▶ observe again, verify
//! ```
//!
//! Dependencies point one way, from the front ends down:
//! - front ends: `cli` (the command line) and `ansible` (the Ansible module);
//! - `render`: text, JSON, JUnit and metrics from the engine's data;
//! - `engine`: plan, apply (through the `HostOps` seam), drift, verify;
//! - `resources`: one file per resource and the registry; `plan`: the plan's data;
//! - `spec`, `authority`, `privileged` (the helper's verbs, written once);
//! - the foundations: `host` (files, the machine, the user's session), `allow`, `names`,
//!   `policy`, `managed_files`, `subid_ranges`, `colon_fields`, `k3s_releases`, `atomic`, `cache`,
//!   `out`, `exit`.

pub mod allow;
pub mod ansible;
pub mod atomic;
pub mod authority;
pub mod cache;
pub mod cli;
pub mod colon_fields;
pub mod engine;
pub mod exit;
pub mod host;
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
