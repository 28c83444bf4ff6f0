//! node_exporter textfile metrics for `drift --textfile`, in the Prometheus exposition format.
//! Every resource gets a series, 0 included, so that an alert never mistakes absence for health.

use crate::plan::{Action, Plan, Resource};
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

pub fn render(info: &CheckInfo) -> String {
    let plan = info.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP groundwork_drift Whether the resource differs from the spec (1) or matches it (0)."
    );
    let _ = writeln!(out, "# TYPE groundwork_drift gauge");
    for r in Resource::ALL {
        let drift = plan
            .items
            .iter()
            .any(|i| i.resource == r && i.action != Action::Blocked);
        let _ = writeln!(
            out,
            "groundwork_drift{{resource=\"{}\"}} {}",
            r.name(),
            u8::from(drift)
        );
    }
    let _ = writeln!(
        out,
        "# HELP groundwork_blocked Whether the resource has a gap that needs a manual fix (1) or not (0)."
    );
    let _ = writeln!(out, "# TYPE groundwork_blocked gauge");
    for r in Resource::ALL {
        let blocked = plan
            .items
            .iter()
            .any(|i| i.resource == r && i.action == Action::Blocked);
        let _ = writeln!(
            out,
            "groundwork_blocked{{resource=\"{}\"}} {}",
            r.name(),
            u8::from(blocked)
        );
    }
    let _ = writeln!(
        out,
        "# HELP groundwork_resources Number of resources groundwork checks."
    );
    let _ = writeln!(out, "# TYPE groundwork_resources gauge");
    let _ = writeln!(out, "groundwork_resources {}", Resource::ALL.len());
    let _ = writeln!(
        out,
        "# HELP groundwork_resources_out_of_sync Number of resources that differ from the spec or are blocked."
    );
    let _ = writeln!(out, "# TYPE groundwork_resources_out_of_sync gauge");
    let _ = writeln!(
        out,
        "groundwork_resources_out_of_sync {}",
        plan.resources_out_of_sync().len()
    );
    let _ = writeln!(
        out,
        "# HELP groundwork_last_check_timestamp_seconds When the last drift check finished, in seconds since the epoch."
    );
    let _ = writeln!(out, "# TYPE groundwork_last_check_timestamp_seconds gauge");
    let _ = writeln!(
        out,
        "groundwork_last_check_timestamp_seconds {:.3}",
        info.timestamp_seconds
    );
    let _ = writeln!(
        out,
        "# HELP groundwork_check_duration_seconds How long the last drift check took."
    );
    let _ = writeln!(out, "# TYPE groundwork_check_duration_seconds gauge");
    let _ = writeln!(
        out,
        "groundwork_check_duration_seconds {:.6}",
        info.duration_seconds
    );
    let _ = writeln!(
        out,
        "# HELP groundwork_build_info groundwork's version and the sha256 of the spec it checked."
    );
    let _ = writeln!(out, "# TYPE groundwork_build_info gauge");
    let _ = writeln!(
        out,
        "groundwork_build_info{{version=\"{}\",spec_sha256=\"{}\"}} 1",
        escape(env!("CARGO_PKG_VERSION")),
        escape(&plan.spec_sha256)
    );
    out
}
