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
    pub authority: AuthorityFacts,
}

/// Who will carry out the privileged steps, and under which of root's policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum Executor {
    /// Root when groundwork runs as root (or on a captured tree), the helper otherwise.
    #[default]
    Auto,
    /// groundwork itself, as root: root's policy does not bind it.
    Root,
    /// groundwork-helper through sudo, for a user: bound by root's policy.
    Helper,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorityFacts {
    pub executor: Executor,
    /// Where root's policy came from (the file, or the built-in defaults).
    pub policy_source: String,
    /// Why root's policy could not be read; the helper refuses every request while it is
    /// broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_error: Option<String>,
    /// The policy itself: its bounds for subordinate ids apply to every allocation.
    #[serde(skip)]
    pub policy: crate::policy::Policy,
}

impl AuthorityFacts {
    /// The policy the helper will hold the steps to, when they go through it.
    pub fn helper_policy(&self) -> Option<&crate::policy::Policy> {
        (self.executor == Executor::Helper && self.policy_error.is_none()).then_some(&self.policy)
    }
}

/// Reads root's policy as the plan sees it: the same files the helper reads.
pub fn observe_authority(root: &HostRoot, executor: Executor) -> std::io::Result<AuthorityFacts> {
    let executor = match executor {
        Executor::Auto if !root.is_live() || nix::unistd::geteuid().is_root() => Executor::Root,
        Executor::Auto => Executor::Helper,
        e => e,
    };
    let login_defs = root
        .read_optional(crate::policy::LOGIN_DEFS)
        .ok()
        .flatten()
        .unwrap_or_default();
    let (policy, policy_error) = match root.read_optional(crate::policy::POLICY_FILE) {
        Ok(text) => match crate::policy::from_texts(text.as_deref(), &login_defs) {
            Ok(p) => (p, None),
            Err(e) => (crate::policy::Policy::defaults(), Some(e)),
        },
        Err(e) => (crate::policy::Policy::defaults(), Some(e.to_string())),
    };
    Ok(AuthorityFacts {
        executor,
        policy_source: policy.source.clone(),
        policy_error,
        policy,
    })
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

pub async fn observe(
    root: &HostRoot,
    spec: &Spec,
    executor: Executor,
) -> Result<Facts, ObserveError> {
    let authority = ctx("root's policy", observe_authority(root, executor))?;
    // The observation that may spawn a process (rpm) starts first and overlaps the file reads.
    let (packages, files) = tokio::join!(packages::observe(root, spec), async {
        observe_files(root, spec)
    });
    let k3s = k3s_binary::observe(root, spec, Some(&authority.policy));
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
        authority,
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
