//! What the engine reports while it works, for a front end to show as it happens: the plan, each
//! step as it starts and ends, and verify's checks. The front end decides how (progress lines on
//! a terminal, JSON Lines, an Ansible result); the engine only says what.

use crate::plan::{Item, Plan};
use serde::Serialize;

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    pub id: String,
    /// The step's name (`set_subids`).
    pub step: String,
    pub summary: String,
    pub changed: bool,
    pub ok: bool,
    /// `done`, `refused` (nothing changed) or `failed`.
    pub kind: String,
    pub msg: String,
    pub duration_ms: u64,
}

pub enum Event<'a> {
    /// The plan apply is about to carry out (or found empty or blocked).
    Planned(&'a Plan),
    StepStarted {
        index: usize,
        total: usize,
        item: &'a Item,
    },
    StepFinished {
        index: usize,
        total: usize,
        outcome: &'a StepOutcome,
    },
    /// After the steps: observing the host again, to prove convergence.
    Reobserving,
    /// A verify check finished (`stage`: smoke, cluster).
    Check {
        stage: &'static str,
        check: &'a super::verify::check::Check,
    },
    /// verify waits for the cluster, up to `timeout_secs`; `elapsed_secs` so far.
    WaitingForCluster {
        elapsed_secs: u64,
        timeout_secs: u64,
    },
}

pub trait EventSink {
    fn event(&mut self, event: Event<'_>);
}

/// Hears nothing.
pub struct Silent;

impl EventSink for Silent {
    fn event(&mut self, _: Event<'_>) {}
}

/// A closure as a sink.
pub struct FnSink<F>(pub F);

impl<F: FnMut(Event<'_>)> EventSink for FnSink<F> {
    fn event(&mut self, event: Event<'_>) {
        (self.0)(event)
    }
}
