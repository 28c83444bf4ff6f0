//! `groundwork drift`: one line for a person (and one per item), or a JSON report.

use crate::plan::{Action, PLAN_FORMAT_VERSION, Plan};
use serde::Serialize;

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    resource: &'a str,
    action: Action,
    summary: &'a str,
}

#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    in_sync: bool,
    user: &'a str,
    spec: &'a str,
    spec_sha256: &'a str,
    resources_out_of_sync: Vec<String>,
    items: Vec<Item<'a>>,
}

pub fn json(plan: &Plan) -> String {
    let report = Report {
        format_version: PLAN_FORMAT_VERSION,
        in_sync: plan.is_empty(),
        user: &plan.user,
        spec: &plan.spec,
        spec_sha256: plan.spec_sha256.hex(),
        resources_out_of_sync: super::out_of_sync(plan)
            .iter()
            .map(|r| r.name().to_string())
            .collect(),
        items: plan
            .items
            .iter()
            .map(|i| Item {
                id: &i.id,
                resource: i.resource.name(),
                action: i.action,
                summary: &i.summary,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report).expect("reports serialize") + "\n"
}

/// One line with the result and what was checked (which user, which spec), then one per item.
/// The line starts with the result, which is what a timer's log and scripts look for.
pub fn human(plan: &Plan) -> String {
    let checked = format!("for user {} from {}", plan.user, plan.spec);
    if plan.is_empty() {
        return format!("in sync {checked}\n");
    }
    let names: Vec<String> = super::out_of_sync(plan)
        .iter()
        .map(|r| r.name().to_string())
        .collect();
    let mut out = format!(
        "drift in {} resource(s) {checked}: {}\n",
        names.len(),
        names.join(", ")
    );
    for i in &plan.items {
        let tag = if i.action == Action::Blocked {
            "  blocked: "
        } else {
            "  drift: "
        };
        // Pushed piece by piece: a timer prints this on every host that drifted.
        for piece in [tag, i.resource.name(), ": ", &i.summary, "\n"] {
            out.push_str(piece);
        }
    }
    out
}
