//! groundwork's caches: what a file's sha256 was (so a 70 MB binary is hashed only when it
//! changes), and which sha256 a k3s release turned out to have. As root they live in
//! /var/cache/groundwork, never under a HOME or XDG path taken from the environment, which a
//! user could have pointed into their own home; as a user, in $CACHE_DIRECTORY (systemd's
//! CacheDirectory=), $XDG_CACHE_HOME or ~/.cache. A cache only saves work: a missing or broken
//! one is rebuilt.

use serde::{Serialize, de::DeserializeOwned};
use std::path::PathBuf;

pub const ROOT_CACHE: &str = "/var/cache/groundwork";

/// The cache directory, or None when there is none to use (no HOME).
pub fn dir() -> Option<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Some(PathBuf::from(ROOT_CACHE));
    }
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("CACHE_DIRECTORY")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("groundwork")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("groundwork")))
}

pub fn read<T: DeserializeOwned>(name: &str) -> Option<T> {
    let bytes = std::fs::read(dir()?.join(name)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Root's cache, read by anyone: what root learned (a release's checksum from a verified
/// download) helps a user's check too. Only a root-owned file in root's directory counts.
pub fn read_roots<T: DeserializeOwned>(name: &str) -> Option<T> {
    use std::os::unix::fs::MetadataExt;
    let path = std::path::Path::new(ROOT_CACHE).join(name);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Best effort: a read-only or missing cache directory only costs the next run some work.
pub fn write<T: Serialize>(name: &str, value: &T) {
    let Some(dir) = dir() else { return };
    if nix::unistd::geteuid().is_root()
        && crate::privileged::secure_fs::ensure_trusted_dir(&dir, 0o755).is_err()
    {
        return;
    }
    if let Ok(bytes) = serde_json::to_vec(value) {
        let _ = crate::atomic::write(&dir.join(name), &bytes, 0o644);
    }
}
