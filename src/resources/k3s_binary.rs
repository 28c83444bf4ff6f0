//! The k3s binary at its pinned version, and the rootful k3s that must not share the host.
//!
//! The installed binary is identified by its sha256, never by running it: a binary that a user
//! could have placed must not run with root's (or anyone else's) rights just because root looked
//! at it. The sha256 names a release through groundwork's table of published checksums, root's
//! policy, the spec's own pin, or a verified download. Hashing 70 MB on every drift check would
//! cost more than the rest of it, so the hash is cached by device, inode, size, mtime and ctime:
//! nobody can change a file's content without changing its ctime.

use super::contract::{Cost, DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::cache;
use crate::host::HostRoot;
use crate::k3s_releases;
use crate::plan::{Action, Implication, Item, PlanBuilder, ResourceId, Step};
use crate::policy::Policy;
use crate::spec::Spec;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;

pub const ID: ResourceId = ResourceId::new("k3s_binary");

pub struct K3sBinary;

impl Resource for K3sBinary {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["install_k3s"]
    }

    /// Slow exactly when the binary must be hashed: it changed since the cache saw it.
    fn cost(&self, cx: &ObserveCx) -> Cost {
        let full = cx.root.path(&cx.spec.k3s.install_path);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.is_file() && cached_sha256(&full, &m, cx.root.is_live()).is_none() => {
                Cost::Slow
            }
            _ => Cost::Cheap,
        }
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing(
            "the k3s binary",
            observe(cx.root, cx.spec, Some(&cx.authority.policy)),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(
            cx.spec,
            cx.facts.get::<K3sFacts>(),
            cx.authority.helper_policy(),
            plan,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K3sFacts {
    pub path: String,
    pub present: bool,
    /// A symlink, directory or other non-file sits at the path.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_a_file: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The release these bytes are, when anything groundwork trusts says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Owned by root and writable by root alone (a captured tree does not record owners, and
    /// counts as root's).
    pub roots: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_uid: Option<u32>,
    /// The sha256 the pinned release has for this machine, when it is known without a download.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wanted_sha256: Option<String>,
    /// Traces of a rootful k3s (files and units) that conflict with rootless mode.
    pub rootful: Vec<String>,
    /// /etc/rancher/k3s/config.yaml, which every k3s command reads, the rootless one too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_yaml: Option<ConfigYaml>,
}

/// k3s's default configuration file, as a user other than root may reach it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigYaml {
    /// The file is readable by others and /etc/rancher and /etc/rancher/k3s searchable.
    pub readable: bool,
    /// `0600 /etc/rancher/k3s/config.yaml`: the modes that shut others out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closed: Vec<String>,
}

pub const CONFIG_YAML: &str = "/etc/rancher/k3s/config.yaml";

/// Whether a user other than root can read `CONFIG_YAML` (None: there is none): by the modes
/// of the file and of the directories above it, which is what k3s's open() meets.
fn observe_config_yaml(root: &HostRoot) -> std::io::Result<Option<ConfigYaml>> {
    let meta = match std::fs::metadata(root.path(CONFIG_YAML)) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // An unsearchable directory on the way is what a user meets too.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Ok(Some(ConfigYaml {
                readable: false,
                closed: vec![format!("unreadable to groundwork: {e}")],
            }));
        }
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot stat {CONFIG_YAML}: {e}"),
            ));
        }
    };
    let mut closed = Vec::new();
    for dir in ["/etc/rancher", "/etc/rancher/k3s"] {
        let mode = std::fs::metadata(root.path(dir))?.mode() & 0o7777;
        if mode & 0o001 == 0 {
            closed.push(format!("{mode:04o} {dir}"));
        }
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o004 == 0 {
        closed.push(format!("{mode:04o} {CONFIG_YAML}"));
    }
    Ok(Some(ConfigYaml {
        readable: closed.is_empty(),
        closed,
    }))
}

/// `k3s version v1.31.4+k3s1 (a1b2c3d4)` → `v1.31.4+k3s1`: the shape of `k3s --version`, which
/// verify reads as the target user.
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

pub use crate::k3s_releases::asset_for;

const HASH_CACHE: &str = "k3s-hashes.json";
const RELEASE_CACHE: &str = "k3s-releases.json";

#[derive(Serialize, Deserialize, PartialEq, Clone)]
struct FileKey {
    path: String,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

#[derive(Serialize, Deserialize, Clone)]
struct HashEntry {
    key: FileKey,
    sha256: String,
}

/// A release whose checksum a verified download taught us (`sha256: auto`).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct LearnedRelease {
    pub version: String,
    pub asset: String,
    pub sha256: String,
}

/// Records the checksum of a release that was downloaded and verified against the release's
/// own sha256sum file, so that later plans know it offline.
pub fn remember_release(version: &str, asset: &str, sha256: &str) {
    let mut known: Vec<LearnedRelease> = cache::read(RELEASE_CACHE).unwrap_or_default();
    let entry = LearnedRelease {
        version: version.into(),
        asset: asset.into(),
        sha256: sha256.into(),
    };
    if !known.contains(&entry) {
        known.retain(|r| !(r.version == version && r.asset == asset));
        known.push(entry);
        known.truncate(64);
        cache::write(RELEASE_CACHE, &known);
    }
}

/// What root's downloads taught (readable by every user), then the user's own.
fn learned_releases() -> Vec<LearnedRelease> {
    let mut all: Vec<LearnedRelease> = cache::read_roots(RELEASE_CACHE).unwrap_or_default();
    if !nix::unistd::geteuid().is_root() {
        all.extend(cache::read::<Vec<LearnedRelease>>(RELEASE_CACHE).unwrap_or_default());
    }
    all
}

fn file_key(path: &str, m: &std::fs::Metadata) -> FileKey {
    let ns = |s: i64, n: i64| s as i128 * 1_000_000_000 + n as i128;
    FileKey {
        path: path.to_string(),
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
    }
}

/// The file's sha256 when the cache has it for exactly this file (device, inode, size, mtime,
/// ctime). A captured tree (`--root`) never uses the caches: they describe the live host.
fn cached_sha256(full: &std::path::Path, meta: &std::fs::Metadata, live: bool) -> Option<String> {
    if !live {
        return None;
    }
    let key = file_key(&full.to_string_lossy(), meta);
    let entries: Vec<HashEntry> = cache::read(HASH_CACHE).unwrap_or_default();
    entries.into_iter().find(|e| e.key == key).map(|e| e.sha256)
}

/// The file's sha256, from the cache when its key still matches. A captured tree (`--root`) is
/// hashed every time and leaves the caches alone: they describe the live host.
fn sha256_of(
    full: &std::path::Path,
    meta: &std::fs::Metadata,
    live: bool,
) -> std::io::Result<String> {
    let hash = || {
        crate::privileged::k3s_install::file_sha256(full).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", full.display()))
        })
    };
    if !live {
        return hash();
    }
    if let Some(sha) = cached_sha256(full, meta, live) {
        tracing::debug!(path = %full.display(), "k3s hash from the cache");
        return Ok(sha);
    }
    tracing::info!(path = %full.display(), "hashing k3s (changed since the cache saw it)");
    let key = file_key(&full.to_string_lossy(), meta);
    let mut entries: Vec<HashEntry> = cache::read(HASH_CACHE).unwrap_or_default();
    let sha256 = hash()?;
    entries.retain(|e| e.key.path != key.path);
    entries.push(HashEntry {
        key,
        sha256: sha256.clone(),
    });
    entries.truncate(16);
    cache::write(HASH_CACHE, &entries);
    Ok(sha256)
}

/// The release a sha256 is, from what groundwork trusts: its table, root's policy, the spec's
/// pin, or a verified download on this host (`live`).
fn release_of(sha256: &str, spec: &Spec, policy: Option<&Policy>, live: bool) -> Option<String> {
    k3s_releases::by_sha256(sha256)
        .map(|r| r.version.to_string())
        .or_else(|| policy.and_then(|p| p.allowed_k3s(sha256)))
        .or_else(|| (spec.k3s.source.sha256 == sha256).then(|| spec.k3s.version.clone()))
        .or_else(|| {
            live.then(learned_releases)?
                .into_iter()
                .find(|r| r.sha256 == sha256)
                .map(|r| r.version)
        })
}

/// The sha256 the spec's release has for this machine, when known without a download (`live`:
/// what verified downloads on this host taught counts too).
pub fn wanted_sha256(spec: &Spec, live: bool) -> Option<String> {
    if spec.k3s.source.sha256 != "auto" {
        return Some(spec.k3s.source.sha256.clone());
    }
    let asset = asset_for(&crate::host::system::architecture()).ok()?;
    k3s_releases::lookup(&spec.k3s.version, asset)
        .map(|r| r.sha256.to_string())
        .or_else(|| {
            live.then(learned_releases)?
                .into_iter()
                .find(|r| r.version == spec.k3s.version && r.asset == asset)
                .map(|r| r.sha256)
        })
}

pub fn observe(root: &HostRoot, spec: &Spec, policy: Option<&Policy>) -> std::io::Result<K3sFacts> {
    let path = spec.k3s.install_path.clone();
    let full = root.path(&path);
    let rootful = ROOTFUL_TRACES
        .iter()
        .map(|p| Ok(root.exists(p)?.then(|| p.to_string())))
        .filter_map(|r: std::io::Result<_>| r.transpose())
        .collect::<std::io::Result<_>>()?;
    let mut facts = K3sFacts {
        path: path.clone(),
        present: false,
        not_a_file: false,
        sha256: None,
        version: None,
        roots: false,
        owner_uid: None,
        wanted_sha256: wanted_sha256(spec, root.is_live()),
        rootful,
        config_yaml: observe_config_yaml(root)?,
    };
    let meta = match std::fs::symlink_metadata(&full) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(facts),
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot stat {path}: {e}"),
            ));
        }
    };
    facts.present = true;
    facts.owner_uid = Some(meta.uid());
    if !meta.is_file() {
        facts.not_a_file = true;
        return Ok(facts);
    }
    facts.roots = !root.is_live()
        || (meta.uid() == 0
            && meta.mode() & 0o022 == 0
            && crate::privileged::secure_fs::check_trusted_dir(
                std::path::Path::new(&path)
                    .parent()
                    .unwrap_or(std::path::Path::new("/")),
            )
            .is_ok());
    let sha = sha256_of(&full, &meta, root.is_live())?;
    facts.version = release_of(&sha, spec, policy, root.is_live());
    facts.sha256 = Some(sha);
    Ok(facts)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// `policy`: the one the helper will apply, when the steps go through it.
fn diff(spec: &Spec, facts: &K3sFacts, policy: Option<&Policy>, items: &mut PlanBuilder) {
    for trace in &facts.rootful {
        items.push(Item::blocked(
            ID,
            format!("k3s/rootful{trace}"),
            format!("a rootful k3s is installed ({trace})"),
            "uninstall it (`/usr/local/bin/k3s-uninstall.sh`): rootful and rootless k3s clash on port 6443, and its /etc/rancher/k3s/k3s.yaml shadows the user's kubeconfig",
        ));
    }
    match &facts.config_yaml {
        Some(c) if !c.readable => items.push(
            Item::blocked(
                ID,
                format!("k3s/rootful{CONFIG_YAML}"),
                format!(
                    "{CONFIG_YAML} is unreadable for users other than root ({})",
                    c.closed.join(", ")
                ),
                format!(
                    "remove it with the rootful k3s that left it (`/usr/local/bin/k3s-uninstall.sh`); or, if it is meant for this k3s, let every user read it: `chmod o+x /etc/rancher /etc/rancher/k3s && chmod o+r {CONFIG_YAML}`"
                ),
            )
            .reason(format!(
                "every k3s command reads it, the rootless k3s too, and stops at `open {CONFIG_YAML}: permission denied`"
            )),
        ),
        Some(_) => items.note(
            ID,
            format!(
                "k3s reads {CONFIG_YAML} at every start, rootless too: its settings apply to this k3s beside the unit's arguments"
            ),
        ),
        None => {}
    }
    let want = &spec.k3s.version;
    if facts.not_a_file {
        items.push(Item::blocked(
            ID,
            "k3s/binary",
            format!("{} is not a regular file (a symlink or directory)", facts.path),
            "remove it, or set `k3s.install_path` to another of groundwork's k3s paths; groundwork never writes through a link",
        ));
        return;
    }
    let bytes_match = match (&facts.wanted_sha256, &facts.sha256) {
        (Some(w), Some(have)) => w == have,
        (None, Some(_)) => facts.version.as_ref() == Some(want),
        _ => false,
    };
    if facts.present && bytes_match && facts.roots {
        return;
    }
    if let (Some(p), Some(sha)) = (policy, &facts.wanted_sha256)
        && p.allowed_k3s(sha).as_ref() != Some(want)
    {
        items.push(
            Item::blocked(
                ID,
                "k3s/binary",
                format!("root's policy does not allow k3s {want} (sha256 {}) at {}", short(sha), facts.path),
                format!(
                    "ask root to add `k3s: {{ allow: [{{ version: {want}, sha256: {sha} }}] }}` to {}, or run the apply as root",
                    crate::policy::POLICY_FILE
                ),
            )
            .reason("the helper installs for users only binaries root has allowed"),
        );
        return;
    }
    let before = match (&facts.present, &facts.version, &facts.sha256) {
        (false, _, _) => None,
        (true, Some(v), _) => Some(v.clone()),
        (true, None, Some(sha)) => Some(format!("unknown build (sha256 {})", short(sha))),
        (true, None, None) => Some("unknown".into()),
    };
    let (summary, reason) = match &before {
        None => (
            format!("install k3s {want} at {}", facts.path),
            "the spec pins this version".to_string(),
        ),
        Some(b) if bytes_match => (
            format!("reinstall k3s {b} at {}", facts.path),
            format!(
                "it is owned by uid {} or writable by others, so its bytes are not root's choice",
                facts.owner_uid.unwrap_or(0)
            ),
        ),
        Some(b) => (
            format!("replace k3s {b} with {want} at {}", facts.path),
            "the spec pins this version".to_string(),
        ),
    };
    items.push(
        Item::change(
            ID,
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
        .reason(reason)
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

    #[test]
    fn assets_by_architecture() {
        assert_eq!(asset_for("x86_64"), Ok("k3s"));
        assert_eq!(asset_for("aarch64"), Ok("k3s-arm64"));
        assert!(asset_for("riscv64").is_err());
    }
}
