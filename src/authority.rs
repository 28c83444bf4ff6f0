//! Who will carry out a plan's privileged steps, and under which of root's policies: groundwork
//! itself as root (not bound by the policy), or the helper for a user (bound by it). The plan
//! reads the same policy files the helper reads, so that what the helper would refuse shows as
//! blocked before anything changes.

use crate::host::HostRoot;
use crate::policy::{self, Policy};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum Executor {
    /// Root when groundwork runs as root (or reads a captured tree), the helper otherwise.
    #[default]
    Auto,
    /// groundwork itself, as root: root's policy does not bind it.
    Root,
    /// groundwork-helper through sudo, for a user: bound by root's policy.
    Helper,
}

impl Executor {
    pub fn name(self) -> &'static str {
        match self {
            Executor::Auto => "auto",
            Executor::Root => "root",
            Executor::Helper => "helper",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Authority {
    /// Root or helper (never auto once observed).
    pub executor: Executor,
    /// Where root's policy came from (the file, or the built-in defaults).
    pub policy_source: String,
    /// Why root's policy could not be read; the helper refuses every request while it is
    /// broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_error: Option<String>,
    /// The policy itself: its subordinate id bounds apply to every allocation.
    #[serde(skip)]
    pub policy: Policy,
}

impl Authority {
    /// The policy the helper will hold the steps to, when they go through it.
    pub fn helper_policy(&self) -> Option<&Policy> {
        (self.executor == Executor::Helper && self.policy_error.is_none()).then_some(&self.policy)
    }

    pub fn observe(root: &HostRoot, executor: Executor) -> Self {
        let executor = match executor {
            Executor::Auto if !root.is_live() || nix::unistd::geteuid().is_root() => Executor::Root,
            Executor::Auto => Executor::Helper,
            e => e,
        };
        let login_defs = root
            .read_optional(policy::LOGIN_DEFS)
            .ok()
            .flatten()
            .unwrap_or_default();
        let (policy, policy_error) = match root.read_optional(policy::POLICY_FILE) {
            Ok(text) => match policy::from_texts(text.as_deref(), &login_defs) {
                Ok(p) => (p, None),
                Err(e) => (Policy::defaults(), Some(e)),
            },
            Err(e) => (Policy::defaults(), Some(e.to_string())),
        };
        tracing::debug!(executor = executor.name(), policy = %policy.source, error = ?policy_error, "authority");
        Authority {
            executor,
            policy_source: policy.source.clone(),
            policy_error,
            policy,
        }
    }
}
