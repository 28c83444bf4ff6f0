//! The k3s binary at its pinned version, and the rootful k3s that must not share the host.

use crate::host_root::HostRoot;
use crate::plan::{Action, Implication, Item, Resource, Step};
use crate::spec::Spec;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K3sFacts {
    pub path: String,
    pub present: bool,
    /// From `k3s --version`; None when absent or when it does not answer.
    pub version: Option<String>,
    /// Why the version could not be read, for a present binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_error: Option<String>,
    /// Traces of a rootful k3s (files and units) that conflict with rootless mode.
    pub rootful: Vec<String>,
}

/// `k3s version v1.31.4+k3s1 (a1b2c3d4)` → `v1.31.4+k3s1`.
pub fn parse_version(output: &str) -> Option<String> {
    let line = output.lines().find(|l| l.starts_with("k3s version "))?;
    let v = line
        .strip_prefix("k3s version ")?
        .split_whitespace()
        .next()?;
    crate::names::is_k3s_version(v).then(|| v.to_string())
}

const ROOTFUL_TRACES: [&str; 4] = [
    "/etc/systemd/system/k3s.service",
    "/etc/systemd/system/multi-user.target.wants/k3s.service",
    "/etc/rancher/k3s/k3s.yaml",
    "/var/lib/rancher/k3s/server",
];

/// The version cache: running a 70 MB Go binary costs more than the whole rest of a drift
/// check, and its answer only changes when the file does.
#[derive(Serialize, Deserialize, PartialEq)]
struct CacheKey {
    path: String,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    key: CacheKey,
    version: String,
}

fn cache_file() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))?;
    Some(base.join("groundwork").join("k3s-version.json"))
}

pub async fn observe(root: &HostRoot, spec: &Spec) -> std::io::Result<K3sFacts> {
    let path = spec.k3s.install_path.clone();
    let full = root.path(&path);
    let rootful = ROOTFUL_TRACES
        .iter()
        .filter(|p| root.exists(p))
        .map(|p| p.to_string())
        .collect();
    let meta = match std::fs::metadata(&full) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(K3sFacts {
                path,
                present: false,
                version: None,
                version_error: None,
                rootful,
            });
        }
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot stat {path}: {e}"),
            ));
        }
    };
    let key = CacheKey {
        path: full.to_string_lossy().into_owned(),
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
    };
    let cache = cache_file();
    if let Some(entry) = cache
        .as_ref()
        .and_then(|c| std::fs::read(c).ok())
        .and_then(|b| serde_json::from_slice::<CacheEntry>(&b).ok())
        && entry.key == key
    {
        return Ok(K3sFacts {
            path,
            present: true,
            version: Some(entry.version),
            version_error: None,
            rootful,
        });
    }
    let run = tokio::process::Command::new(&full)
        .arg("--version")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .kill_on_drop(true)
        .output();
    let (version, version_error) = match tokio::time::timeout(Duration::from_secs(20), run).await {
        Err(_) => (
            None,
            Some("`k3s --version` did not answer within 20 s".to_string()),
        ),
        Ok(Err(e)) => (None, Some(format!("cannot run {path}: {e}"))),
        Ok(Ok(out)) => match parse_version(&String::from_utf8_lossy(&out.stdout)) {
            Some(v) => (Some(v), None),
            None => (
                None,
                Some(format!(
                    "`{path} --version` printed no k3s version ({})",
                    out.status
                )),
            ),
        },
    };
    if let (Some(v), Some(c)) = (&version, &cache) {
        let entry = CacheEntry {
            key,
            version: v.clone(),
        };
        // Best effort: a read-only home only costs the next run one more spawn.
        let _ = crate::atomic::write_user_file(c, &serde_json::to_vec(&entry).unwrap_or_default());
    }
    Ok(K3sFacts {
        path,
        present: true,
        version,
        version_error,
        rootful,
    })
}

pub fn diff(spec: &Spec, facts: &K3sFacts, items: &mut Vec<Item>) {
    for trace in &facts.rootful {
        items.push(Item::blocked(
            Resource::K3sBinary,
            format!("k3s/rootful{trace}"),
            format!("a rootful k3s is installed ({trace})"),
            "uninstall it (`/usr/local/bin/k3s-uninstall.sh`): rootful and rootless k3s clash on port 6443, and its /etc/rancher/k3s/k3s.yaml shadows the user's kubeconfig",
        ));
    }
    let want = &spec.k3s.version;
    if facts.version.as_ref() == Some(want) {
        return;
    }
    let before = match (&facts.present, &facts.version) {
        (false, _) => None,
        (true, Some(v)) => Some(v.clone()),
        (true, None) => Some(format!(
            "unknown ({})",
            facts.version_error.as_deref().unwrap_or("no version")
        )),
    };
    let summary = match &before {
        None => format!("install k3s {want} at {}", facts.path),
        Some(b) => format!("replace k3s {b} with {want} at {}", facts.path),
    };
    items.push(
        Item::change(
            Resource::K3sBinary,
            "k3s/binary",
            summary,
            Step::InstallK3s {
                version: want.clone(),
                install_path: facts.path.clone(),
            },
        )
        .action(if facts.present {
            Action::Update
        } else {
            Action::Create
        })
        .reason("the spec pins this version")
        .values(before, Some(want.clone()))
        .implies(Implication::RestartUnit),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_version_output() {
        // Recorded from `k3s --version` of the v1.31.4+k3s1 release.
        let out = "k3s version v1.31.4+k3s1 (a562d090)\ngo version go1.22.9\n";
        assert_eq!(parse_version(out).as_deref(), Some("v1.31.4+k3s1"));
        assert_eq!(
            parse_version("k3s version v1.32.0-rc2+k3s1 (0c2e2f4a)\n").as_deref(),
            Some("v1.32.0-rc2+k3s1")
        );
        assert_eq!(parse_version("bash: k3s: command not found"), None);
        assert_eq!(parse_version("k3s version garbage"), None);
    }
}
