//! The plan's data: items, steps, and the plan itself, as `plan --output json` and `plan --out`
//! write them.

use crate::privileged::Request;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Version of the JSON shape of a plan (`plan --output json`, `plan --out`); bumped on
/// incompatible changes. 2: the bookkeeping steps are items; `implies` holds only restarts.
pub const PLAN_FORMAT_VERSION: u32 = 2;

/// The name of a resource (`subids`, `k3s_binary`): the registry in `crate::resources` gives
/// each one and their order.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ResourceId(#[schemars(with = "String")] Cow<'static, str>);

impl ResourceId {
    pub const fn new(name: &'static str) -> Self {
        ResourceId(Cow::Borrowed(name))
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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

/// Something that follows from a change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Implication {
    /// The running k3s unit must restart to pick the change up; the plan then records the
    /// pending restart before the change and restarts the unit after everything it depends on.
    RestartUnit,
}

/// One executable step. A privileged one is a helper request, exactly as the helper will get
/// it (groundwork itself runs the same verb in-process when it is root); the others act in the
/// user's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A verb of the helper's closed set (`verb`), with its arguments.
    Privileged(Request),
    /// Downloads (or takes the local file) and verifies the binary, then asks the helper to
    /// install those bytes (the `install_k3s` verb).
    InstallK3s {
        version: String,
        install_path: String,
    },
    /// Waits (up to 90 s) until the user's systemd manager answers: linger and a restart start
    /// it asynchronously.
    WaitForUserManager {
        user: String,
    },
    /// Records in the user's state that k3s must restart, before a change that needs it, so a
    /// failure in between cannot lose the restart: the next plan sees the record.
    MarkRestartPending {
        user: String,
    },
    WriteUnitFile {
        user: String,
        content: String,
    },
    /// `systemctl --user daemon-reload`, after the unit file changed.
    ReloadUserManager {
        user: String,
    },
    EnableUnit {
        user: String,
    },
    DisableUnit {
        user: String,
    },
    /// `systemctl --user reset-failed`: a crash loop leaves the unit failed by its start limit.
    ResetFailedUnit {
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
    /// Removes the pending-restart record once the unit has (re)started.
    ClearRestartPending {
        user: String,
    },
}

impl Step {
    /// Steps that change system state outside the user's home need root.
    pub fn privileged(&self) -> bool {
        matches!(self, Step::Privileged(_) | Step::InstallK3s { .. })
    }

    /// The step's name: the helper's verb for a privileged step (`set_subids`), else the
    /// step's own (`reload_user_manager`).
    pub fn name(&self) -> &'static str {
        match self {
            Step::Privileged(r) => r.verb(),
            Step::InstallK3s { .. } => "install_k3s",
            Step::WaitForUserManager { .. } => "wait_for_user_manager",
            Step::MarkRestartPending { .. } => "mark_restart_pending",
            Step::WriteUnitFile { .. } => "write_unit_file",
            Step::ReloadUserManager { .. } => "reload_user_manager",
            Step::EnableUnit { .. } => "enable_unit",
            Step::DisableUnit { .. } => "disable_unit",
            Step::ResetFailedUnit { .. } => "reset_failed_unit",
            Step::StartUnit { .. } => "start_unit",
            Step::RestartUnit { .. } => "restart_unit",
            Step::StopUnit { .. } => "stop_unit",
            Step::ClearRestartPending { .. } => "clear_restart_pending",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// Stable identifier, such as `sysctl/net.ipv4.ip_forward`.
    pub id: String,
    pub resource: ResourceId,
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
        resource: ResourceId,
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

    /// A bookkeeping step (a reload, a wait, a record): it runs, and changes nothing the spec
    /// describes.
    pub fn run(
        resource: ResourceId,
        id: impl Into<String>,
        summary: impl Into<String>,
        step: Step,
    ) -> Self {
        Item::change(resource, id, summary, step).action(Action::Run)
    }

    pub fn blocked(
        resource: ResourceId,
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

/// Something the plan wants a person to know that blocks nothing (a host below k3s's
/// recommended size, say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Note {
    pub resource: ResourceId,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub format_version: u32,
    /// Name of the spec the plan was made from.
    pub spec: String,
    /// sha256 of the spec text, so a saved plan can be matched to its spec.
    #[schemars(with = "String")]
    pub spec_sha256: SpecDigest,
    /// The target user.
    pub user: String,
    /// Who carries out the privileged steps: `root` or `helper`.
    pub executor: String,
    pub items: Vec<Item>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

/// The sha256 of a spec's text, in hex, hashed when first asked for: a drift check that prints
/// no digest (its human output) never hashes the spec.
#[derive(Clone)]
pub struct SpecDigest {
    text: Arc<str>,
    hex: OnceLock<String>,
}

impl SpecDigest {
    pub fn of(text: &str) -> Self {
        SpecDigest {
            text: text.into(),
            hex: OnceLock::new(),
        }
    }

    pub fn hex(&self) -> &str {
        self.hex
            .get_or_init(|| hex::encode(Sha256::digest(self.text.as_bytes())))
    }
}

/// A digest read back (a saved plan), or a placeholder.
impl From<&str> for SpecDigest {
    fn from(hex: &str) -> Self {
        SpecDigest {
            text: Arc::from(""),
            hex: OnceLock::from(hex.to_owned()),
        }
    }
}

impl PartialEq for SpecDigest {
    fn eq(&self, other: &Self) -> bool {
        self.hex() == other.hex()
    }
}

impl fmt::Debug for SpecDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex())
    }
}

impl Serialize for SpecDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex())
    }
}

impl<'de> Deserialize<'de> for SpecDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SpecDigest::from(String::deserialize(d)?.as_str()))
    }
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.action != Action::Blocked)
    }
    pub fn blocked(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.action == Action::Blocked)
    }
    /// The items apply runs, in order.
    pub fn steps(&self) -> impl Iterator<Item = (&Item, &Step)> {
        self.items
            .iter()
            .filter_map(|i| i.step.as_ref().map(|s| (i, s)))
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Whether `resource` has an item of which `pred` holds.
    pub fn resource_has(&self, resource: &ResourceId, pred: impl Fn(&Item) -> bool) -> bool {
        self.items
            .iter()
            .any(|i| &i.resource == resource && pred(i))
    }
}

/// Collects a plan's items while the resources' diffs run, in the registry's order.
#[derive(Debug, Default)]
pub struct PlanBuilder {
    items: Vec<Item>,
    notes: Vec<Note>,
}

impl PlanBuilder {
    pub fn push(&mut self, item: Item) {
        self.items.push(item);
    }

    pub fn note(&mut self, resource: ResourceId, text: impl Into<String>) {
        self.notes.push(Note {
            resource,
            text: text.into(),
        });
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Inserts `item` before the first item for which `pred` holds (at the end if none does).
    pub fn insert_before(&mut self, pred: impl Fn(&Item) -> bool, item: Item) {
        let at = self.items.iter().position(pred).unwrap_or(self.items.len());
        self.items.insert(at, item);
    }

    pub fn finish(self) -> (Vec<Item>, Vec<Note>) {
        (self.items, self.notes)
    }
}
