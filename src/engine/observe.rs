//! Observation: the host as it really is, read-only, through every resource of the registry in
//! order. Most resources read a few small files, which is cheaper inline than any thread; one
//! whose observation is slow right now (hashing a changed k3s binary, running rpm) runs on a
//! blocking thread while the others read on, and is awaited at the end.

use crate::authority::Authority;
use crate::host::HostRoot;
use crate::resources::{Cost, Facts, ObserveCx, ObserveError, REGISTRY};
use crate::spec::Spec;
use std::sync::Arc;

pub async fn observe(
    root: &HostRoot,
    spec: &Spec,
    authority: &Authority,
) -> Result<Arc<Facts>, ObserveError> {
    let facts = Arc::new(crate::resources::empty_facts());
    let mut slow = Vec::new();
    for resource in REGISTRY {
        let cx = ObserveCx {
            root,
            spec,
            authority,
            facts: &facts,
        };
        let id = resource.id();
        match resource.cost(&cx) {
            Cost::Cheap => {
                let observed = resource.observe(&cx)?;
                tracing::debug!(resource = %id, facts = ?observed, "observed");
                facts.set(&id, observed);
            }
            Cost::Slow => {
                let (root, spec, authority, facts) = (
                    root.clone(),
                    spec.clone(),
                    authority.clone(),
                    Arc::clone(&facts),
                );
                tracing::debug!(resource = %id, "observing on a thread of its own");
                slow.push((
                    id,
                    tokio::task::spawn_blocking(move || {
                        resource.observe(&ObserveCx {
                            root: &root,
                            spec: &spec,
                            authority: &authority,
                            facts: &facts,
                        })
                    }),
                ));
            }
        }
    }
    for (id, handle) in slow {
        let observed = handle.await.map_err(|e| ObserveError {
            what: id.to_string(),
            source: std::io::Error::other(format!("the observation panicked: {e}")),
        })??;
        tracing::debug!(resource = %id, facts = ?observed, "observed");
        facts.set(&id, observed);
    }
    Ok(facts)
}
