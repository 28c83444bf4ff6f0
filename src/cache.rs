//! groundwork's caches: what a file's sha256 was (so a 70 MB binary is hashed only when it
//! changes), which sha256 a k3s release turned out to have, and the specs this build parsed.
//! As root they live in /var/cache/groundwork, never under a HOME or XDG path taken from the
//! environment, which a user could have pointed into their own home; as a user, in
//! $CACHE_DIRECTORY (systemd's CacheDirectory=), $XDG_CACHE_HOME or ~/.cache. A cache only
//! saves work: a missing or broken one is rebuilt.

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

/// Like `read`, for a cache whose content is taken as it is (a parsed spec): only a file this
/// user owns (`read_owned_by`).
pub fn read_own<T: DeserializeOwned>(name: &str) -> Option<T> {
    let bytes = read_owned_by(&dir()?.join(name), nix::unistd::geteuid().as_raw())?;
    serde_json::from_slice(&bytes).ok()
}

/// Root's cache, read by anyone: what root learned (a release's checksum from a verified
/// download) helps a user's check too. Only a root-owned file in root's directory counts.
pub fn read_roots<T: DeserializeOwned>(name: &str) -> Option<T> {
    let bytes = read_owned_by(&std::path::Path::new(ROOT_CACHE).join(name), 0)?;
    serde_json::from_slice(&bytes).ok()
}

/// More than any cache groundwork writes (four specs of at most 1 MiB, escaped as JSON).
const MAX_KEPT: u64 = 16 << 20;

/// The bytes of `path` when it is a regular file that `owner` owns and no one else can write,
/// opened without following a symlink (and without blocking on a FIFO), and checked on the
/// open file, so that nothing can be swapped in between; else None.
fn read_owned_by(path: &std::path::Path, owner: u32) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != owner || meta.mode() & 0o022 != 0 || meta.len() > MAX_KEPT {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_KEPT).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Best effort: a read-only or missing cache directory only costs the next run some work.
pub fn write<T: Serialize>(name: &str, value: &T) {
    write_mode(name, value, 0o644);
}

/// `write` with the file's mode: 0600 for what only its owner should read.
pub fn write_mode<T: Serialize>(name: &str, value: &T, mode: u32) {
    let Some(dir) = dir() else { return };
    if nix::unistd::geteuid().is_root()
        && crate::privileged::secure_fs::ensure_trusted_dir(&dir, 0o755).is_err()
    {
        return;
    }
    if let Ok(bytes) = serde_json::to_vec(value) {
        let _ = crate::atomic::write(&dir.join(name), &bytes, mode);
    }
}

#[cfg(test)]
mod tests {
    use super::read_owned_by;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_a_regular_file_of_this_user_that_no_one_else_can_write_is_read() {
        let read_owned =
            |path: &std::path::Path| read_owned_by(path, nix::unistd::geteuid().as_raw());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kept.json");
        std::fs::write(&file, b"{}").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_owned(&file).as_deref(), Some(&b"{}"[..]));

        for mode in [0o620, 0o602, 0o666] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(read_owned(&file), None, "mode {mode:o}");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_owned(&file).is_some(), "others may read, not write");

        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_owned(&link), None, "a symlink is never followed");

        let fifo = dir.path().join("fifo.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            read_owned(&fifo),
            None,
            "a FIFO is no file, and does not block"
        );
        assert_eq!(read_owned(&dir.path().join("absent.json")), None);

        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED a part: a file owned by another user needs root to make");
            assert!(std::env::var_os("CI").is_none(), "CI runs as root");
            return;
        }
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        assert_eq!(read_owned(&file), None, "a file another user owns");
    }
}
