//! Output for people (plan text with colour and diffs, progress, reports) and for machines
//! (JSON, JUnit, textfile metrics). The engine returns data; these turn it into text.

pub mod apply;
pub mod drift;
pub mod human;
pub mod junit;
pub mod metrics;
pub mod verify;
mod xml;

use crate::plan::{Plan, ResourceId};

/// The resources with at least one item, in the registry's order (not the items' order).
pub fn out_of_sync(plan: &Plan) -> Vec<ResourceId> {
    crate::resources::ids()
        .filter(|r| plan.resource_has(r, |_| true))
        .collect()
}
