//! The diff: a pure function from spec and facts to the ordered plan.

use crate::facts::Facts;
use crate::plan::{Implication, Item, PLAN_FORMAT_VERSION, Plan};
use crate::resources::{
    account, apparmor, delegation, host, k3s_binary, linger, modules, packages, subids, sysctl,
    unit,
};
use crate::spec::{Spec, SpecSource};
use sha2::{Digest, Sha256};

pub fn spec_sha256(source: &SpecSource) -> String {
    hex::encode(Sha256::digest(source.text.as_bytes()))
}

pub fn diff(spec: &Spec, source: &SpecSource, facts: &Facts) -> Plan {
    let mut items: Vec<Item> = Vec::new();
    host::diff(spec, &facts.host, &mut items);
    packages::diff(spec, &facts.packages, &mut items);
    account::diff(spec, &facts.account, &mut items);
    subids::diff(
        spec,
        &facts.subids,
        &facts.account,
        &facts.authority,
        &mut items,
    );
    sysctl::diff(spec, &facts.sysctl, &mut items);
    modules::diff(spec, &facts.modules, &mut items);
    delegation::diff(spec, &facts.delegation, &mut items);
    linger::diff(spec, facts.linger, &mut items);
    let helper_policy = facts.authority.helper_policy();
    // The binary first: the AppArmor profile is written only for a binary that is root's.
    k3s_binary::diff(spec, &facts.k3s, helper_policy, &mut items);
    apparmor::diff(spec, &facts.apparmor, &mut items);
    // The restart is data in the plan: the unit restarts once, after everything it depends on.
    let restart_implied = items
        .iter()
        .any(|i| i.implies.contains(&Implication::RestartUnit));
    unit::diff(spec, &facts.unit, restart_implied, &mut items);
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        spec: source.name.clone(),
        spec_sha256: spec_sha256(source),
        user: spec.user.name.clone(),
        items,
    }
}
