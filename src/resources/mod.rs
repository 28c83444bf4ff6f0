//! One module per resource. Each owns its observation (host → facts), and its diff
//! (spec + facts → plan items with steps). `crate::facts` runs the observations and
//! `crate::diff` the diffs, in the order of `plan::Resource`.

pub mod account;
pub mod apparmor;
pub mod delegation;
pub mod host;
pub mod k3s_binary;
pub mod linger;
pub mod modules;
pub mod packages;
pub mod subids;
pub mod sysctl;
pub mod unit;
