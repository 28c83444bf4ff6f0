//! The contract every resource fulfils: observe the host into its facts, diff them against the
//! spec into plan items, and name the steps it can produce. Also the facts' container, which
//! holds each resource's facts whatever their type.

use crate::authority::Authority;
use crate::host::HostRoot;
use crate::plan::{PlanBuilder, ResourceId};
use crate::spec::{Spec, SpecSource};
use std::any::Any;
use std::fmt::Debug;
use std::sync::OnceLock;

/// An observation that failed: never treated as "in sync".
#[derive(Debug, thiserror::Error)]
#[error("cannot observe {what}: {source}")]
pub struct ObserveError {
    pub what: String,
    #[source]
    pub source: std::io::Error,
}

/// How costly an observation is about to be: a slow one (hashing a 70 MB binary, running rpm)
/// overlaps the others on a thread of its own; a cheap one (a few small files) runs inline,
/// where a thread would cost more than it saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    Cheap,
    Slow,
}

/// What the resources read from and decide with.
pub struct ObserveCx<'a> {
    pub root: &'a HostRoot,
    pub spec: &'a Spec,
    pub authority: &'a Authority,
    /// The facts of the resources before this one in `REGISTRY` (later ones may be missing).
    pub facts: &'a Facts,
}

pub struct DiffCx<'a> {
    pub spec: &'a Spec,
    /// The spec's file (or the embedded default), for fixes that say where to change it.
    pub source: &'a SpecSource,
    pub facts: &'a Facts,
    pub authority: &'a Authority,
}

/// One kind of host state groundwork manages.
pub trait Resource: Sync {
    /// Its name in the plan, the JSON, JUnit and the metrics.
    fn id(&self) -> ResourceId;
    /// The steps its diff may put in a plan (by name, as in the plan's JSON).
    fn steps(&self) -> &'static [&'static str];
    /// Whether observing it now will be slow (default: cheap).
    fn cost(&self, _cx: &ObserveCx) -> Cost {
        Cost::Cheap
    }
    /// Reads the host, read-only.
    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError>;
    /// Adds the items that bring the host to the spec; a pure function of spec and facts.
    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder);
}

/// A resource's facts, whatever their type: printable (`groundwork facts`) and readable back by
/// type.
pub trait Observed: Any + Debug + Send + Sync {
    fn to_json(&self) -> serde_json::Value;
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any + Debug + Send + Sync + serde::Serialize> Observed for T {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("facts serialize")
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The host as observed: one slot per resource, in registry order, each filled once (from
/// whichever thread observed it), plus who will execute the plan.
#[derive(Debug)]
pub struct Facts {
    slots: Vec<(ResourceId, OnceLock<Box<dyn Observed>>)>,
}

impl Facts {
    /// One empty slot per resource, in order.
    pub fn new(ids: impl Iterator<Item = ResourceId>) -> Self {
        Facts {
            slots: ids.map(|id| (id, OnceLock::new())).collect(),
        }
    }
}

impl Facts {
    /// Fills a resource's slot.
    pub fn set(&self, id: &ResourceId, facts: Box<dyn Observed>) {
        let slot = self
            .slots
            .iter()
            .find(|(i, _)| i == id)
            .unwrap_or_else(|| panic!("{id} is not in the registry"));
        let _ = slot.1.set(facts);
    }

    /// The facts of type `T`, when observed.
    pub fn try_get<T: 'static>(&self) -> Option<&T> {
        self.slots
            .iter()
            .filter_map(|(_, s)| s.get())
            .find_map(|f| f.as_any().downcast_ref::<T>())
    }

    /// The facts of type `T`. The registry's order makes every resource's facts present before
    /// a later resource reads them, and all of them present for the diff.
    pub fn get<T: 'static>(&self) -> &T {
        self.try_get().unwrap_or_else(|| {
            panic!(
                "no {} observed: the registry's order is wrong",
                std::any::type_name::<T>()
            )
        })
    }

    /// `{ resource: facts }`, in registry order.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (id, slot) in &self.slots {
            if let Some(f) = slot.get() {
                map.insert(id.name().to_string(), f.to_json());
            }
        }
        serde_json::Value::Object(map)
    }
}

/// Wraps an io::Error with what was being observed.
pub fn observing<T>(what: &str, r: std::io::Result<T>) -> Result<T, ObserveError> {
    r.map_err(|source| ObserveError {
        what: what.to_string(),
        source,
    })
}
