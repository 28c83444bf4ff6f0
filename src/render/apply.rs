//! What apply (and verify) show while they work, and their summary: progress lines for people
//! (on a terminal a step's line appears when it starts, since apt and downloads take a while),
//! or JSON Lines for machines: the plan, one event per step, the checks, a summary.

use crate::engine::events::{Event, EventSink};
use crate::engine::{ApplyReport, ApplyStatus};
use serde_json::json;
use std::io::{IsTerminal, Write};

/// Progress for people: the plan on stdout, steps and checks on stderr.
pub struct Progress {
    /// stderr is a terminal: a step's line appears when it starts and is completed when it ends.
    live: bool,
    waiting: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            live: std::io::stderr().is_terminal(),
            waiting: false,
        }
    }
}

impl EventSink for Progress {
    fn event(&mut self, event: Event<'_>) {
        let mut err = anstream::stderr();
        if self.waiting && !matches!(event, Event::WaitingForCluster { .. }) {
            let _ = writeln!(err);
            self.waiting = false;
        }
        match event {
            Event::Planned(plan) => crate::out!("{}", super::human::plan(plan, None)),
            Event::StepStarted { index, total, item } if self.live => {
                let _ = write!(err, "[{index}/{total}] {} ... ", item.summary);
                let _ = err.flush();
            }
            Event::StepStarted { .. } => {}
            Event::StepFinished {
                index,
                total,
                outcome,
            } => {
                let status = match (outcome.ok, outcome.changed) {
                    (false, _) => "FAILED",
                    (true, true) => "changed",
                    (true, false) => "ok",
                };
                if self.live {
                    let _ = writeln!(err, "{status}: {}", outcome.msg);
                } else {
                    let _ = writeln!(
                        err,
                        "[{index}/{total}] {}: {status}: {}",
                        outcome.summary, outcome.msg
                    );
                }
            }
            Event::Reobserving => {}
            Event::Check { check, .. } => {
                let _ = write!(err, "{}", super::verify::check_line(check));
            }
            Event::WaitingForCluster {
                elapsed_secs,
                timeout_secs,
            } => {
                if self.live {
                    let _ = write!(
                        err,
                        "\rwaiting for the cluster ({elapsed_secs} s of up to {timeout_secs} s)..."
                    );
                    let _ = err.flush();
                    self.waiting = true;
                } else if elapsed_secs == 0 || elapsed_secs % 60 < 5 {
                    let _ = writeln!(
                        err,
                        "waiting for the cluster ({elapsed_secs} s of up to {timeout_secs} s)"
                    );
                }
            }
        }
    }
}

/// JSON Lines on stdout, one object per event.
#[derive(Default)]
pub struct JsonLines;

impl EventSink for JsonLines {
    fn event(&mut self, event: Event<'_>) {
        let line = match event {
            Event::Planned(plan) => json!({"event": "plan", "plan": plan}),
            Event::StepStarted { .. } | Event::Reobserving => return,
            Event::StepFinished {
                index,
                total,
                outcome,
            } => json!({"event": "step", "index": index, "total": total, "outcome": outcome}),
            Event::Check { stage, check } => {
                json!({"event": "check", "stage": stage, "check": check})
            }
            Event::WaitingForCluster {
                elapsed_secs,
                timeout_secs,
            } => {
                json!({"event": "waiting_for_cluster", "elapsed_secs": elapsed_secs, "timeout_secs": timeout_secs})
            }
        };
        crate::outln!("{line}");
    }
}

/// The closing summary for people (stderr).
pub fn summary_human(r: &ApplyReport) -> String {
    let changed = r.executed.changed();
    match r.status {
        ApplyStatus::InSync => String::new(),
        ApplyStatus::Blocked => {
            "apply: blocked items need a manual fix first; nothing was changed.\n".into()
        }
        ApplyStatus::Cancelled => "apply: cancelled; nothing was changed.\n".into(),
        ApplyStatus::Failed => {
            let mut out =
                format!("apply failed: {changed} step(s) changed the host, then a step failed.\n");
            if !r.executed.not_run.is_empty() {
                let names: Vec<&str> = r
                    .executed
                    .not_run
                    .iter()
                    .map(|i| i.summary.as_str())
                    .collect();
                out.push_str(&format!("Not run: {}\n", names.join("; ")));
            }
            out.push_str("Fix the cause and run apply again: every step is idempotent.\n");
            out
        }
        ApplyStatus::NotConverged => {
            let mut out =
                String::from("apply: NOT converged. After all steps ran, these still differ:\n");
            for i in r.after.iter().flat_map(|p| &p.items) {
                out.push_str(&format!("  {}: {}\n", i.resource, i.summary));
            }
            if let Some(v) = &r.verify {
                out.push('\n');
                out.push_str(&super::verify::report(v));
            }
            out
        }
        ApplyStatus::Converged | ApplyStatus::Unhealthy => {
            let mut out = format!("apply: converged ({changed} step(s) changed the host).\n");
            if let Some(v) = &r.verify {
                out.push('\n');
                out.push_str(&super::verify::report(v));
            }
            out
        }
    }
}

/// The closing summary as one JSON line.
pub fn summary_json(r: &ApplyReport) -> String {
    let mut v = json!({
        "event": "summary",
        "status": r.status,
        "changed": r.executed.changed(),
        "failed": r.executed.failed(),
        "converged": matches!(r.status, ApplyStatus::Converged | ApplyStatus::InSync | ApplyStatus::Unhealthy),
    });
    if !r.executed.not_run.is_empty() {
        v["not_run"] = json!(r.executed.not_run.iter().map(|i| &i.id).collect::<Vec<_>>());
    }
    if let Some(after) = &r.after
        && !after.is_empty()
    {
        v["not_converged"] = json!(after.items.iter().map(|i| &i.id).collect::<Vec<_>>());
    }
    if let Some(report) = &r.verify {
        v["verify"] = json!(report);
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ApplyStatus;
    use crate::plan::{PLAN_FORMAT_VERSION, Plan};

    // Issue #13: `apply --output json` ended without a summary when the plan was blocked.
    #[test]
    fn a_blocked_apply_ends_with_a_summary_line() {
        let report = ApplyReport {
            plan: Plan {
                format_version: PLAN_FORMAT_VERSION,
                spec: "spec.yaml".into(),
                spec_sha256: "".into(),
                user: "k3s".into(),
                executor: "root".into(),
                items: Vec::new(),
                notes: Vec::new(),
            },
            executed: Default::default(),
            after: None,
            verify: None,
            status: ApplyStatus::Blocked,
        };
        let line: serde_json::Value = serde_json::from_str(&summary_json(&report)).unwrap();
        assert_eq!(line["event"], "summary");
        assert_eq!(line["status"], "blocked");
        assert_eq!(line["converged"], false);
        assert_eq!(line["changed"], 0);
    }
}
