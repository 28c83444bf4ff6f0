//! Observation: the host as it really is, read-only and unprivileged. Files are read directly;
//! the few processes that must run (k3s --version, rpm) run concurrently with the file reads.

use crate::host_root::HostRoot;
use crate::resources::{
    account, apparmor, delegation, host, k3s_binary, linger, modules, packages, subids, sysctl,
    unit,
};
use crate::spec::Spec;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    pub host: host::HostFacts,
    pub packages: packages::PackageFacts,
    pub account: account::AccountFacts,
    pub subids: subids::SubidFacts,
    pub sysctl: sysctl::SysctlFacts,
    pub modules: modules::ModulesFacts,
    pub delegation: delegation::DelegationFacts,
    pub linger: bool,
    pub apparmor: apparmor::AppArmorFacts,
    pub k3s: k3s_binary::K3sFacts,
    pub unit: unit::UnitFacts,
}

/// An observation that failed: never treated as "in sync".
#[derive(Debug, thiserror::Error)]
#[error("cannot observe {what}: {source}")]
pub struct ObserveError {
    pub what: &'static str,
    #[source]
    pub source: std::io::Error,
}

fn ctx<T>(what: &'static str, r: std::io::Result<T>) -> Result<T, ObserveError> {
    r.map_err(|source| ObserveError { what, source })
}

pub async fn observe(root: &HostRoot, spec: &Spec) -> Result<Facts, ObserveError> {
    // The two observations that spawn processes start first and overlap the file reads.
    let (packages, k3s, files) = tokio::join!(
        packages::observe(root, spec),
        k3s_binary::observe(root, spec),
        async { observe_files(root, spec) }
    );
    let (host, account, subids, sysctl, modules, delegation, linger, apparmor, unit) = files?;
    Ok(Facts {
        host,
        packages: ctx("packages", packages)?,
        account,
        subids,
        sysctl,
        modules,
        delegation,
        linger,
        apparmor,
        k3s: ctx("the k3s binary", k3s)?,
        unit,
    })
}

type FileFacts = (
    host::HostFacts,
    account::AccountFacts,
    subids::SubidFacts,
    sysctl::SysctlFacts,
    modules::ModulesFacts,
    delegation::DelegationFacts,
    bool,
    apparmor::AppArmorFacts,
    unit::UnitFacts,
);

fn observe_files(root: &HostRoot, spec: &Spec) -> Result<FileFacts, ObserveError> {
    let account = ctx("the account", account::observe(root, &spec.user.name))?;
    Ok((
        ctx("the host", host::observe(root))?,
        ctx("subordinate ids", subids::observe(root))?,
        ctx("sysctls", sysctl::observe(root, spec))?,
        ctx("kernel modules", modules::observe(root, spec))?,
        ctx("cgroup delegation", delegation::observe(root, &account))?,
        linger::observe(root, &spec.user.name),
        ctx("AppArmor", apparmor::observe(root, spec))?,
        ctx("the user unit", unit::observe(root, &account))?,
        account,
    ))
    .map(|(h, s, sy, m, d, l, a, u, acc)| (h, acc, s, sy, m, d, l, a, u))
}
