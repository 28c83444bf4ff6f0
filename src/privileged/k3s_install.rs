//! Installing the k3s binary. The bytes arrive on stdin after the request line, never as a path
//! the helper would open as root: nothing a user names is read with root's rights. For a user,
//! the bytes are installed only when their sha256 is one root allows at the k3s path (a release
//! groundwork knows, or a line in root's policy): that is what makes them root's choice, and so
//! safe for root and every other user to run. The binary is written root:root 0755 with no
//! setuid bits, whatever was there before; the previous binary is kept beside it as
//! `.k3s.previous`, mode 0600, which nobody can execute.

use super::authorize::Invoker;
use super::error::{Done, VerbError};
use super::secure_fs;
use crate::policy::Policy;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const PREVIOUS_NAME: &str = ".k3s.previous";

pub struct Wanted<'a> {
    pub version: &'a str,
    pub sha256: &'a str,
    pub size: u64,
    pub install_path: &'a str,
}

/// The sha256 of a file's bytes, read without following a symlink.
pub fn file_sha256(path: &Path) -> io::Result<String> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Whether the file at `path` is root's: a regular file owned by root, writable by root alone,
/// in a directory only root can change. Only such a binary is ever run by root or profiled.
pub fn is_roots(path: &Path) -> io::Result<bool> {
    secure_fs::check_trusted_dir(path.parent().unwrap_or(Path::new("/")))?;
    let m = fs::symlink_metadata(path)?;
    Ok(m.is_file() && m.uid() == 0 && m.mode() & 0o022 == 0)
}

/// Refuses a user's request for bytes root has not allowed.
pub fn check_allowed(w: &Wanted, invoker: &Invoker, policy: &Policy) -> Result<(), VerbError> {
    if invoker.is_root() {
        return Ok(());
    }
    // A release from groundwork's table must also be this host's build: the arm64 binary
    // installed on an amd64 host (found in review) breaks every user's k3s at once.
    let from_table = !policy
        .k3s_allowed_in_file()
        .iter()
        .any(|a| a.sha256 == w.sha256);
    if from_table
        && let Some(r) = crate::k3s_releases::by_sha256(w.sha256)
        && crate::k3s_releases::host_asset() != Ok(r.asset)
    {
        return Err(VerbError::Refused(format!(
            "sha256 {} is k3s {}'s `{}` asset, for another architecture than this host's ({}): the spec's k3s must be this host's build ({})",
            w.sha256,
            r.version,
            r.asset,
            std::env::consts::ARCH,
            crate::k3s_releases::host_asset().unwrap_or("none published")
        )));
    }
    match policy.allowed_k3s(w.sha256) {
        Some(v) if v == w.version => Ok(()),
        Some(v) => Err(VerbError::Refused(format!(
            "sha256 {} is k3s {v} in root's policy, not {}",
            w.sha256, w.version
        ))),
        None => Err(VerbError::Refused(format!(
            "root has not allowed k3s {} with sha256 {} at {}: only releases groundwork knows, or those root lists, are installed for users. Root can allow it with `k3s: {{ allow: [{{ version: {}, sha256: {} }}] }}` in {}, or run the apply as root",
            w.version,
            w.sha256,
            w.install_path,
            w.version,
            w.sha256,
            crate::policy::POLICY_FILE
        ))),
    }
}

pub fn install(
    w: &Wanted,
    payload: &mut dyn Read,
    invoker: &Invoker,
    policy: &Policy,
) -> Result<Done, VerbError> {
    check_allowed(w, invoker, policy)?;
    let path = Path::new(w.install_path);
    let dir = path.parent().expect("an allow-listed absolute path");
    secure_fs::ensure_trusted_dir(dir, 0o755)
        .map_err(|e| VerbError::Refused(format!("{}: {e}", dir.display())))?;
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => {
            return Err(VerbError::Refused(format!(
                "{} is not a regular file; move it away first",
                path.display()
            )));
        }
        Ok(m)
            if m.uid() == 0
                && m.gid() == 0
                && m.mode() & 0o7777 == 0o755
                && file_sha256(path).map_err(|e| VerbError::failed(e.to_string()))? == w.sha256 =>
        {
            return Ok(Done::unchanged(format!(
                "{} already is k3s {} (sha256 {})",
                path.display(),
                w.version,
                w.sha256
            )));
        }
        _ => {}
    }
    check_room(dir, w.size)?;
    let tmp = dir.join(format!(".k3s.groundwork-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result =
        write_verified(&tmp, w, payload).and_then(|()| replace_keeping_previous(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    Ok(Done::changed(format!(
        "installed k3s {} at {} (sha256 {}); the previous binary is kept as {}/{PREVIOUS_NAME}",
        w.version,
        path.display(),
        w.sha256,
        dir.display()
    )))
}

/// What a k3s install leaves free on the file system, besides root's reserved blocks.
const KEEP_FREE: u64 = 64 << 20;

/// Room for the announced size and `KEEP_FREE` more, in what users may fill: a request
/// announces its size before its bytes arrive, and the hash can only refuse them once all are
/// on the disk (found in review).
fn check_room(dir: &Path, size: u64) -> Result<(), VerbError> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(|e| {
        VerbError::failed(format!(
            "cannot read the free space of {}: {e}",
            dir.display()
        ))
    })?;
    let free = (st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64);
    if free >= size.saturating_add(KEEP_FREE) {
        return Ok(());
    }
    Err(VerbError::Refused(format!(
        "{} has {} MiB free; k3s takes {} MiB there and groundwork leaves {} MiB free: nothing \
         was installed, free some space first",
        dir.display(),
        free >> 20,
        size.div_ceil(1 << 20),
        KEEP_FREE >> 20
    )))
}

/// Streams exactly `size` bytes into `tmp` (root, 0600 until verified), hashing them.
fn write_verified(tmp: &Path, w: &Wanted, payload: &mut dyn Read) -> Result<(), VerbError> {
    let io = |e: io::Error| VerbError::failed(format!("cannot write {}: {e}", tmp.display()));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(tmp)
        .map_err(io)?;
    let mut h = Sha256::new();
    let mut got: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    while got < w.size {
        let want = (w.size - got).min(buf.len() as u64) as usize;
        let n = payload.read(&mut buf[..want]).map_err(|e| {
            VerbError::Refused(format!(
                "the binary did not arrive: {e}; nothing was installed"
            ))
        })?;
        if n == 0 {
            return Err(VerbError::Refused(format!(
                "the binary ended after {got} of {} bytes; nothing was installed",
                w.size
            )));
        }
        h.update(&buf[..n]);
        f.write_all(&buf[..n]).map_err(io)?;
        got += n as u64;
    }
    let mut extra = [0u8; 1];
    if payload.read(&mut extra).map_err(|e| {
        VerbError::Refused(format!(
            "the binary did not arrive: {e}; nothing was installed"
        ))
    })? != 0
    {
        return Err(VerbError::Refused(format!(
            "more than the announced {} bytes arrived; nothing was installed",
            w.size
        )));
    }
    let actual = hex::encode(h.finalize());
    if actual != w.sha256 {
        return Err(VerbError::Refused(format!(
            "the bytes sent have sha256 {actual}, not {}; nothing was installed",
            w.sha256
        )));
    }
    nix::unistd::fchown(&f, Some(0.into()), Some(0.into())).map_err(|e| io(io::Error::from(e)))?;
    f.set_permissions(fs::Permissions::from_mode(0o755))
        .map_err(io)?;
    f.sync_all().map_err(io)
}

/// Renames `tmp` over `path`; the old binary, if any, ends up at `.k3s.previous` with mode 0600.
fn replace_keeping_previous(tmp: &Path, path: &Path) -> Result<(), VerbError> {
    let dir = path.parent().expect("checked");
    let fail = |what: &str, e: io::Error| VerbError::failed(format!("{what}: {e}"));
    let previous: PathBuf = dir.join(PREVIOUS_NAME);
    let staged = dir.join(format!("{PREVIOUS_NAME}.groundwork-{}", std::process::id()));
    let _ = fs::remove_file(&staged);
    let had_old = fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    if had_old {
        fs::hard_link(path, &staged).map_err(|e| fail("cannot keep the previous binary", e))?;
    }
    fs::rename(tmp, path).map_err(|e| fail("cannot move the new binary into place", e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail("cannot sync the directory", e))?;
    if had_old {
        // Only the staged name still reaches the old inode: make it unexecutable (which also
        // drops any setuid bit), then give it its name.
        let kept = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&staged)
            .and_then(|f| {
                f.set_permissions(fs::Permissions::from_mode(0o600))?;
                nix::unistd::fchown(&f, Some(0.into()), Some(0.into()))?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&staged, &previous));
        if let Err(e) = kept {
            let _ = fs::remove_file(&staged);
            return Err(VerbError::Failed {
                msg: format!("installed the new binary, but could not keep the previous one: {e}"),
                changed: true,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_install_needs_room_for_what_it_announces() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_room(dir.path(), 1).is_ok());
        let e = check_room(dir.path(), u64::MAX / 2).unwrap_err();
        assert!(matches!(e, VerbError::Refused(_)), "{e}");
        assert!(e.to_string().contains("MiB free"), "{e}");
    }
}
