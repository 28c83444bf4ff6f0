//! The plan: an ordered list of items, computed by a pure function of spec and facts.
//!
//! An item is either a change with the step that makes it, or a blocked gap that no step can
//! close, with the manual fix. `apply` executes exactly these steps, in this order.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the JSON shape of `plan --output json`; bumped on incompatible changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Resources in the order their changes are applied. Later resources may depend on earlier ones
/// (subids need the account, the unit needs linger and delegation).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Host,
    Packages,
    Account,
    Subids,
    Sysctl,
    Modules,
    Delegation,
    Linger,
    K3sBinary,
    Apparmor,
    UnitFile,
    UnitState,
}

impl Resource {
    pub const ALL: [Resource; 12] = [
        Resource::Host,
        Resource::Packages,
        Resource::Account,
        Resource::Subids,
        Resource::Sysctl,
        Resource::Modules,
        Resource::Delegation,
        Resource::Linger,
        Resource::K3sBinary,
        Resource::Apparmor,
        Resource::UnitFile,
        Resource::UnitState,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Host => "host",
            Resource::Packages => "packages",
            Resource::Account => "account",
            Resource::Subids => "subids",
            Resource::Sysctl => "sysctl",
            Resource::Modules => "modules",
            Resource::Delegation => "delegation",
            Resource::Linger => "linger",
            Resource::Apparmor => "apparmor",
            Resource::K3sBinary => "k3s_binary",
            Resource::UnitFile => "unit_file",
            Resource::UnitState => "unit_state",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Run,
    Blocked,
}

/// Something that follows from a change and must be done or known afterwards.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Implication {
    /// The k3s unit must restart to pick the change up.
    RestartUnit,
    /// The user's systemd manager must restart (or the user log in again) for new delegation.
    RestartUserManager,
    /// systemd must re-read unit files.
    DaemonReload,
    /// Only a reboot makes the change take effect.
    Reboot,
}

/// One executable step. Privileged steps go through the helper when groundwork is not root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Distribution package names, already resolved.
    InstallPackages {
        names: Vec<String>,
    },
    CreateUser {
        user: String,
    },
    /// The user's one range in /etc/subuid (`uids`) and /etc/subgid (`gids`), replacing the
    /// user's other lines there.
    SetSubids {
        user: String,
        start: u32,
        count: u32,
        uids: bool,
        gids: bool,
    },
    SetSysctl {
        key: String,
        value: String,
    },
    /// The whole managed sysctl.d file, rendered from these settings.
    WriteSysctlFile {
        settings: BTreeMap<String, String>,
    },
    LoadModule {
        name: String,
    },
    WriteModulesFile {
        names: Vec<String>,
    },
    /// The user@.service drop-in, followed by daemon-reload.
    WriteDelegation {
        controllers: Vec<String>,
    },
    RestartUserManager {
        user: String,
    },
    EnableLinger {
        user: String,
    },
    /// The userns profile for this binary path.
    InstallApparmorProfile {
        binary: String,
    },
    InstallK3s {
        version: String,
        install_path: String,
    },
    WriteUnitFile {
        user: String,
        content: String,
    },
    EnableUnit {
        user: String,
    },
    DisableUnit {
        user: String,
    },
    StartUnit {
        user: String,
    },
    RestartUnit {
        user: String,
    },
    StopUnit {
        user: String,
    },
}

impl Step {
    /// Steps that change system state outside the user's home need root.
    pub fn privileged(&self) -> bool {
        !matches!(
            self,
            Step::WriteUnitFile { .. }
                | Step::EnableUnit { .. }
                | Step::DisableUnit { .. }
                | Step::StartUnit { .. }
                | Step::RestartUnit { .. }
                | Step::StopUnit { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// Stable identifier, such as `sysctl/net.ipv4.ip_forward`.
    pub id: String,
    pub resource: Resource,
    pub action: Action,
    /// One line for humans.
    pub summary: String,
    /// Why the item is in the plan.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Whether the step needs root (through the helper when groundwork runs as a user).
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implies: Vec<Implication>,
    /// For blocked items: what a person must do, since no step can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual_fix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    /// True when the before/after values are file contents, shown as a unified diff.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_file: bool,
}

impl Item {
    pub fn change(
        resource: Resource,
        id: impl Into<String>,
        summary: impl Into<String>,
        step: Step,
    ) -> Self {
        Item {
            id: id.into(),
            resource,
            action: Action::Update,
            summary: summary.into(),
            reason: String::new(),
            before: None,
            after: None,
            privileged: step.privileged(),
            implies: Vec::new(),
            manual_fix: None,
            step: Some(step),
            is_file: false,
        }
    }

    pub fn blocked(
        resource: Resource,
        id: impl Into<String>,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Item {
            id: id.into(),
            resource,
            action: Action::Blocked,
            summary: summary.into(),
            reason: String::new(),
            before: None,
            after: None,
            privileged: false,
            implies: Vec::new(),
            manual_fix: Some(fix.into()),
            step: None,
            is_file: false,
        }
    }

    pub fn action(mut self, a: Action) -> Self {
        self.action = a;
        self
    }
    pub fn reason(mut self, r: impl Into<String>) -> Self {
        self.reason = r.into();
        self
    }
    pub fn values(mut self, before: Option<String>, after: Option<String>) -> Self {
        self.before = before;
        self.after = after;
        self
    }
    pub fn file(mut self, before: Option<String>, after: String) -> Self {
        self.before = before;
        self.after = Some(after);
        self.is_file = true;
        self
    }
    pub fn implies(mut self, i: Implication) -> Self {
        if !self.implies.contains(&i) {
            self.implies.push(i);
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub format_version: u32,
    /// Name of the spec the plan was made from.
    pub spec: String,
    /// sha256 of the spec text, so a saved plan can be matched to its spec.
    pub spec_sha256: String,
    /// The target user.
    pub user: String,
    pub items: Vec<Item>,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.action != Action::Blocked)
    }
    pub fn blocked(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.action == Action::Blocked)
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Resources with at least one item, in order.
    pub fn resources_out_of_sync(&self) -> Vec<Resource> {
        let mut r: Vec<Resource> = self.items.iter().map(|i| i.resource).collect();
        r.dedup();
        r
    }
}
