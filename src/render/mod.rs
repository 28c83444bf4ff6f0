//! Output for people (plan text with colour and diffs) and for machines (JSON, textfile metrics).

pub mod human;
pub mod junit;
pub mod metrics;
