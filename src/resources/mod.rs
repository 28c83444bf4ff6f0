//! The resources groundwork manages, each one file with one shape: what it observes on the host
//! (its facts), how it compares them with the spec (its diff, which adds plan items), and the
//! steps it can produce. `REGISTRY` lists them in the order their changes apply; it drives
//! observation, the plan's order, and every per-resource output (JSON, JUnit, metrics).
//! Adding a resource is one file here and one line in `REGISTRY`.

pub mod account;
pub mod apparmor;
pub mod delegation;
pub mod host;
pub mod k3s_binary;
pub mod linger;
pub mod modules;
pub mod network;
pub mod packages;
pub mod subids;
pub mod sysctl;
mod sysctl_wants;
pub mod unit_file;
pub mod unit_state;
mod user_home;

mod contract;

pub use contract::{Cost, DiffCx, Facts, ObserveCx, ObserveError, Observed, Resource, observing};

use crate::plan::ResourceId;

/// Resources in the order their changes are applied. Later resources may depend on earlier ones
/// (subids need the account; the binary must be root's before its AppArmor profile; the unit
/// needs linger and delegation, and restarts after everything it reads at start).
pub static REGISTRY: &[&dyn Resource] = &[
    &host::Host,
    &packages::Packages,
    &account::Account,
    &subids::Subids,
    &sysctl::Sysctl,
    &modules::Modules,
    &delegation::Delegation,
    &linger::Linger,
    &k3s_binary::K3sBinary,
    &apparmor::Apparmor,
    &unit_file::UnitFile,
    &unit_state::UnitState,
    &network::Network,
];

/// Every resource's id, in order.
pub fn ids() -> impl Iterator<Item = ResourceId> {
    REGISTRY.iter().map(|r| r.id())
}

/// Empty facts for every resource of the registry.
pub fn empty_facts() -> Facts {
    Facts::new(ids())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `const` of a JSON Schema: the tags of its enum variants.
    fn consts(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(c)) = m.get("const") {
                    out.insert(c.clone());
                }
                m.values().for_each(|x| consts(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| consts(x, out)),
            _ => {}
        }
    }

    #[test]
    fn the_resources_produce_every_step_and_only_real_ones() {
        let listed: std::collections::BTreeSet<String> = REGISTRY
            .iter()
            .flat_map(|r| r.steps().iter().map(|s| s.to_string()))
            .collect();
        // The step tags and the helper's verbs; `privileged` only wraps a verb.
        let schema = serde_json::to_value(schemars::schema_for!(crate::plan::Step)).unwrap();
        let mut real = std::collections::BTreeSet::new();
        consts(&schema, &mut real);
        real.remove("privileged");
        assert_eq!(listed, real);
    }

    #[test]
    fn resource_names_are_unique() {
        let mut names: Vec<String> = ids().map(|i| i.name().to_string()).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
