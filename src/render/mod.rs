//! Output for people (plan text with colour and diffs, progress, reports) and for machines
//! (JSON, JUnit, textfile metrics). The engine returns data; these turn it into text.

pub mod apply;
pub mod drift;
pub mod human;
pub mod junit;
pub mod metrics;
pub mod validation;
pub mod verify;
mod wrap;
mod xml;

use crate::plan::{Plan, ResourceId};

/// The resources with at least one item, in the registry's order (not the items' order).
pub fn out_of_sync(plan: &Plan) -> Vec<ResourceId> {
    crate::resources::ids()
        .filter(|r| plan.resource_has(r, |_| true))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Item, PLAN_FORMAT_VERSION, Step};

    #[test]
    fn out_of_sync_follows_the_registry_not_the_items() {
        // The restart record of unit_state comes before subids' change in a plan; a resource
        // counts once, in the registry's order, however its items are spread.
        let item = |r: &'static str, id: &str| {
            Item::run(
                ResourceId::new(r),
                id,
                id,
                Step::StartUnit { user: "k".into() },
            )
        };
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            spec: "s".into(),
            spec_sha256: "0".into(),
            user: "k".into(),
            executor: "root".into(),
            items: vec![
                item("unit_state", "mark"),
                item("subids", "subids"),
                item("unit_state", "restart"),
            ],
            notes: vec![],
        };
        let names: Vec<String> = out_of_sync(&plan).iter().map(|r| r.to_string()).collect();
        assert_eq!(names, ["subids", "unit_state"]);
    }
}
