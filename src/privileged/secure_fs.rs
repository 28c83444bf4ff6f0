//! File reads and writes as root, on paths only root may change: every directory from / down is
//! owned by root and not writable by group or others (sudo-rs's rule for sudoers), symlinks are
//! never written through, and a replacement is atomic (temp, fsync, rename, fsync of the
//! directory). Written files get a fixed mode with no setuid, setgid or sticky bit, whatever the
//! old file had; the old content is kept as `name-` (as shadow keeps /etc/subuid-), never
//! executable.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn refuse(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, msg)
}

/// Every directory from `/` down to `dir` must be a real directory owned by root and not
/// writable by group or others: otherwise another user could swap a path component.
pub fn check_trusted_dir(dir: &Path) -> io::Result<()> {
    check_chain(dir)?;
    // A root-owned link is followed, so where it leads must pass the same rule: a link to a
    // directory that someone else can write is no safer than that directory.
    let real = fs::canonicalize(dir)?;
    if real != dir {
        check_chain(&real)?;
    }
    Ok(())
}

fn check_chain(dir: &Path) -> io::Result<()> {
    let mut current = PathBuf::from("/");
    let mut chain = vec![current.clone()];
    for part in dir.components().skip(1) {
        current.push(part);
        chain.push(current.clone());
    }
    for d in chain {
        let meta = fs::symlink_metadata(&d)?;
        if meta.file_type().is_symlink() {
            // /lib → usr/lib and similar merged-usr links are root's own; follow them only when
            // the link itself is root-owned.
            if meta.uid() != 0 {
                return Err(refuse(format!(
                    "{} is a symlink owned by uid {}",
                    d.display(),
                    meta.uid()
                )));
            }
            continue;
        }
        if !meta.is_dir() {
            return Err(refuse(format!("{} is not a directory", d.display())));
        }
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            return Err(refuse(format!(
                "{} is not owned by root or is writable by others (mode {:o})",
                d.display(),
                meta.mode() & 0o7777
            )));
        }
    }
    Ok(())
}

/// Checks an input that root is asked to act on (a spec, a saved plan): a regular file owned by
/// root and writable by root alone, in directories owned by root that others cannot write, or
/// can write only with the sticky bit (as /tmp), which keeps them from replacing root's file.
/// Otherwise another user could choose what root does. Returns the file's real path, which is
/// what root must read: the path given may run through a link another user can swap between
/// the check and the read (found in review: root then read that user's spec).
pub fn check_root_input(path: &Path) -> io::Result<PathBuf> {
    let real = fs::canonicalize(path)?;
    let meta = fs::symlink_metadata(&real)?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(refuse(format!(
            "{} is not a regular file owned by root and writable by root alone (uid {}, mode {:o})",
            real.display(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    let mut dir = real.parent();
    while let Some(d) = dir {
        let m = fs::metadata(d)?;
        let sticky = m.mode() & 0o1000 != 0;
        if m.uid() != 0 || (m.mode() & 0o022 != 0 && !sticky) {
            return Err(refuse(format!(
                "{} is in {}, which a user other than root can change (uid {}, mode {:o})",
                real.display(),
                d.display(),
                m.uid(),
                m.mode() & 0o7777
            )));
        }
        dir = d.parent();
    }
    Ok(real)
}

/// Reads a file that only root can have written: a regular file owned by root, not writable by
/// group or others, in a trusted directory chain. Missing is `Ok(None)`; larger than `max`
/// bytes is an error.
pub fn read_trusted(path: &Path, max: u64) -> io::Result<Option<String>> {
    let dir = path
        .parent()
        .ok_or_else(|| refuse(format!("{} has no parent", path.display())))?;
    match check_trusted_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        r => r?,
    }
    let f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(refuse(format!(
            "{} must be a regular file owned by root and writable by root alone (it is uid {}, mode {:o})",
            path.display(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    if meta.len() > max {
        return Err(refuse(format!(
            "{} is {} bytes; at most {max} are read",
            path.display(),
            meta.len()
        )));
    }
    let mut text = String::new();
    f.take(max).read_to_string(&mut text)?;
    Ok(Some(text))
}

/// Makes sure `dir` exists and is trusted: missing directories are created (root, 0755) only
/// below an existing trusted one.
pub fn ensure_trusted_dir(dir: &Path, mode: u32) -> io::Result<()> {
    if dir.exists() {
        return check_trusted_dir(dir);
    }
    let parent = dir
        .parent()
        .ok_or_else(|| refuse(format!("{} has no parent", dir.display())))?;
    ensure_trusted_dir(parent, 0o755)?;
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let meta = fs::symlink_metadata(dir)?;
    if meta.is_dir() && meta.uid() == 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
    }
    check_trusted_dir(dir)
}

/// The current regular file at `path`, read without following a symlink; None when absent.
pub fn read_existing(path: &Path) -> io::Result<Option<(Vec<u8>, fs::Metadata)>> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(refuse(format!(
            "{} is a symlink; refusing to write through it",
            path.display()
        ))),
        Ok(m) if !m.is_file() => Err(refuse(format!("{} is not a regular file", path.display()))),
        Ok(_) => {
            let mut f = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)?;
            let meta = f.metadata()?;
            let mut old = Vec::new();
            f.read_to_end(&mut old)?;
            Ok(Some((old, meta)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `path` with `content`, root-owned with `mode` (permission bits only). Returns whether
/// anything changed: content, owner or mode.
pub fn replace(path: &Path, content: &[u8], mode: u32) -> io::Result<bool> {
    let mode = mode & 0o777;
    let dir = path
        .parent()
        .ok_or_else(|| refuse(format!("{} has no parent", path.display())))?;
    ensure_trusted_dir(dir, 0o755)?;
    if let Some((old, meta)) = read_existing(path)? {
        if old == content && meta.uid() == 0 && meta.gid() == 0 && meta.mode() & 0o7777 == mode {
            return Ok(false);
        }
        backup(path, &old, mode)?;
    }
    write_new(path, content, 0, 0, mode)?;
    Ok(true)
}

/// `path-`, as shadow and vipw keep it, written atomically itself, and never executable.
fn backup(path: &Path, old: &[u8], mode: u32) -> io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push("-");
    let backup = PathBuf::from(name);
    if fs::symlink_metadata(&backup).is_ok_and(|m| !m.is_file()) {
        fs::remove_file(&backup)?;
    }
    write_new(&backup, old, 0, 0, mode & 0o666)
}

/// Writes a sibling temp file and renames it over `path`.
pub fn write_new(path: &Path, content: &[u8], uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    let dir = path.parent().expect("checked by caller");
    let name = path.file_name().expect("a file path").to_string_lossy();
    let tmp = dir.join(format!(".{name}.groundwork-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(content)?;
        nix::unistd::fchown(&f, Some(uid.into()), Some(gid.into()))?;
        f.set_permissions(fs::Permissions::from_mode(mode & 0o777))?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_directory_is_refused() {
        // The temp dir lives in /tmp, writable by everyone: nothing may be written there.
        let dir = tempfile::tempdir().unwrap();
        let err = replace(&dir.path().join("x.conf"), b"x", 0o644).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        assert!(!dir.path().join("x.conf").exists());
    }
}
