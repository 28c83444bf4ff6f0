//! Cluster health from `kubectl get -o json`: every node Ready, every kube-system pod Running
//! and ready, or Completed for the helm-install jobs. Parsed from the JSON shape kubectl prints,
//! with only the fields that matter, and unknown fields ignored (the API adds them freely).

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct List<T> {
    pub items: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct Meta {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default, rename = "ownerReferences")]
    pub owner_references: Vec<OwnerRef>,
}

#[derive(Debug, Deserialize)]
pub struct OwnerRef {
    pub kind: String,
}

#[derive(Debug, Deserialize)]
pub struct Node {
    pub metadata: Meta,
    #[serde(default)]
    pub status: NodeStatus,
}

#[derive(Debug, Default, Deserialize)]
pub struct NodeStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Deserialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
}

#[derive(Debug, Deserialize)]
pub struct Pod {
    pub metadata: Meta,
    #[serde(default)]
    pub status: PodStatus,
}

#[derive(Debug, Default, Deserialize)]
pub struct PodStatus {
    #[serde(default)]
    pub phase: String,
    #[serde(default, rename = "containerStatuses")]
    pub container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Deserialize)]
pub struct ContainerStatus {
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub state: ContainerState,
}

#[derive(Debug, Default, Deserialize)]
pub struct ContainerState {
    #[serde(default)]
    pub waiting: Option<Reason>,
    #[serde(default)]
    pub terminated: Option<Reason>,
}

#[derive(Debug, Deserialize)]
pub struct Reason {
    #[serde(default)]
    pub reason: Option<String>,
}

/// One verdict per node or pod.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub name: String,
    pub healthy: bool,
    /// What kubectl's STATUS column would say (Ready, NotReady, Running, Completed,
    /// CrashLoopBackOff, ...).
    pub status: String,
}

pub fn nodes(json: &str) -> Result<Vec<Verdict>, String> {
    let list: List<Node> = serde_json::from_str(json)
        .map_err(|e| format!("cannot parse `kubectl get nodes -o json`: {e}"))?;
    Ok(list
        .items
        .into_iter()
        .map(|n| {
            let ready = n
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True");
            Verdict {
                name: n.metadata.name,
                healthy: ready,
                status: if ready { "Ready" } else { "NotReady" }.into(),
            }
        })
        .collect())
}

pub fn pods(json: &str) -> Result<Vec<Verdict>, String> {
    let list: List<Pod> = serde_json::from_str(json)
        .map_err(|e| format!("cannot parse `kubectl get pods -o json`: {e}"))?;
    Ok(list.items.into_iter().map(pod_verdict).collect())
}

fn pod_verdict(p: Pod) -> Verdict {
    let is_job = p.metadata.owner_references.iter().any(|o| o.kind == "Job");
    let waiting = p
        .status
        .container_statuses
        .iter()
        .find_map(|c| c.state.waiting.as_ref().and_then(|w| w.reason.clone()));
    let terminated = p
        .status
        .container_statuses
        .iter()
        .find_map(|c| c.state.terminated.as_ref().and_then(|t| t.reason.clone()));
    let all_ready = !p.status.container_statuses.is_empty()
        && p.status.container_statuses.iter().all(|c| c.ready);
    let (healthy, status) = match p.status.phase.as_str() {
        "Succeeded" => (is_job, "Completed".to_string()),
        "Running" if all_ready => (true, "Running".into()),
        "Running" => (
            false,
            waiting.unwrap_or_else(|| "Running (not ready)".into()),
        ),
        phase => (
            false,
            waiting.or(terminated).unwrap_or_else(|| phase.to_string()),
        ),
    };
    let name = match p.metadata.namespace {
        Some(ns) => format!("{ns}/{}", p.metadata.name),
        None => p.metadata.name,
    };
    Verdict {
        name,
        healthy,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = include_str!("../../../tests/fixtures/kubectl/nodes.json");
    const PODS: &str = include_str!("../../../tests/fixtures/kubectl/pods.json");

    #[test]
    fn node_readiness() {
        let v = nodes(NODES).unwrap();
        assert_eq!(
            v,
            vec![
                Verdict {
                    name: "lab-1".into(),
                    healthy: true,
                    status: "Ready".into()
                },
                Verdict {
                    name: "lab-2".into(),
                    healthy: false,
                    status: "NotReady".into()
                },
            ]
        );
    }

    #[test]
    fn pod_states() {
        let v = pods(PODS).unwrap();
        let by_name = |n: &str| v.iter().find(|p| p.name.ends_with(n)).unwrap().clone();
        assert_eq!(
            by_name("coredns-ccb96694c-x7k2p"),
            Verdict {
                name: "kube-system/coredns-ccb96694c-x7k2p".into(),
                healthy: true,
                status: "Running".into()
            }
        );
        assert_eq!(
            by_name("helm-install-traefik-crd-5vzrl").status,
            "Completed"
        );
        assert!(by_name("helm-install-traefik-crd-5vzrl").healthy);
        let crash = by_name("metrics-server-5985cbc9d7-qz5mj");
        assert_eq!(
            (crash.healthy, crash.status.as_str()),
            (false, "CrashLoopBackOff")
        );
        let pending = by_name("local-path-provisioner-5cf85fd84d-9wq6l");
        assert_eq!(
            (pending.healthy, pending.status.as_str()),
            (false, "ContainerCreating")
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(nodes("The connection to the server 127.0.0.1:6443 was refused").is_err());
    }
}
