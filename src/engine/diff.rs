//! The diff: a pure function from spec and facts to the ordered plan. Each resource of the
//! registry adds its items in turn, so the plan's order is the registry's.

use crate::authority::Authority;
use crate::plan::{PLAN_FORMAT_VERSION, Plan, PlanBuilder, SpecDigest};
use crate::resources::{DiffCx, Facts, REGISTRY};
use crate::spec::{Spec, SpecSource};

/// The sha256 of the spec's text, in hex, as the plan records it.
pub fn spec_sha256(source: &SpecSource) -> String {
    SpecDigest::of(&source.text).hex().to_owned()
}

pub fn diff(spec: &Spec, source: &SpecSource, facts: &Facts, authority: &Authority) -> Plan {
    let cx = DiffCx {
        spec,
        source,
        facts,
        authority,
    };
    let mut builder = PlanBuilder::default();
    for resource in REGISTRY {
        let before = builder.items().len();
        resource.diff(&cx, &mut builder);
        // What was compared and decided, item by item (-v), the way TF_LOG explains a plan.
        for item in &builder.items()[before..] {
            tracing::info!(
                resource = %resource.id(),
                id = %item.id,
                action = ?item.action,
                now = item.before.as_deref().unwrap_or("-"),
                wanted = item.after.as_deref().unwrap_or("-"),
                "differs"
            );
        }
        tracing::info!(
            resource = %resource.id(),
            items = builder.items().len() - before,
            "diff"
        );
    }
    let (items, notes) = builder.finish();
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        spec: source.name.clone(),
        spec_sha256: SpecDigest::of(&source.text),
        user: spec.user.name.clone(),
        executor: authority.executor.name().to_string(),
        items,
        notes,
    }
}
