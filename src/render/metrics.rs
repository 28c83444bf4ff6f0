//! node_exporter textfile metrics for `drift --textfile`, in the Prometheus exposition format.
//! Every resource gets a series, 0 included, so that an alert never mistakes absence for health.

use crate::plan::{Action, Plan};
use std::fmt::Write;

pub struct CheckInfo<'a> {
    pub plan: &'a Plan,
    pub timestamp_seconds: f64,
    pub duration_seconds: f64,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One gauge family: its HELP and TYPE lines, then `labels value` samples.
fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Per-resource 0/1 samples of whether any item of the resource matches `pred`.
fn per_resource(plan: &Plan, pred: impl Fn(Action) -> bool) -> Vec<(String, String)> {
    crate::resources::ids()
        .map(|r| {
            let hit = plan.resource_has(&r, |i| pred(i.action));
            (
                format!("{{resource=\"{}\"}}", r.name()),
                u8::from(hit).to_string(),
            )
        })
        .collect()
}

pub fn render(info: &CheckInfo) -> String {
    let plan = info.plan;
    let one = |v: String| vec![(String::new(), v)];
    let mut out = String::new();
    gauge(
        &mut out,
        "groundwork_drift",
        "Whether the resource differs from the spec (1) or matches it (0).",
        &per_resource(plan, |a| a != Action::Blocked),
    );
    gauge(
        &mut out,
        "groundwork_blocked",
        "Whether the resource has a gap that needs a manual fix (1) or not (0).",
        &per_resource(plan, |a| a == Action::Blocked),
    );
    gauge(
        &mut out,
        "groundwork_resources",
        "Number of resources groundwork checks.",
        &one(crate::resources::ids().count().to_string()),
    );
    gauge(
        &mut out,
        "groundwork_resources_out_of_sync",
        "Number of resources that differ from the spec or are blocked.",
        &one(super::out_of_sync(plan).len().to_string()),
    );
    gauge(
        &mut out,
        "groundwork_last_check_timestamp_seconds",
        "When the last drift check finished, in seconds since the epoch.",
        &one(format!("{:.3}", info.timestamp_seconds)),
    );
    gauge(
        &mut out,
        "groundwork_check_duration_seconds",
        "How long the last drift check took.",
        &one(format!("{:.6}", info.duration_seconds)),
    );
    let build = format!(
        "{{version=\"{}\",spec_sha256=\"{}\"}}",
        escape(env!("CARGO_PKG_VERSION")),
        escape(plan.spec_sha256.hex())
    );
    gauge(
        &mut out,
        "groundwork_build_info",
        "groundwork's version and the sha256 of the spec it checked.",
        &[(build, "1".into())],
    );
    out
}
