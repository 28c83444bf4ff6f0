//! File writes as root: refuse symlinks, refuse targets in directories that someone other than
//! root could change, keep a `name-` backup, and replace atomically (temp, fsync, rename, fsync
//! of the directory) with the old owner and mode.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn refuse(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, msg)
}

/// Every directory from `/` down to `dir` must be a real directory owned by root and not
/// writable by group or others (sudo-rs's rule for sudoers), or a sticky /tmp-like directory
/// is refused outright: otherwise another user could swap a path component.
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

/// Result of a write: whether the content changed.
pub fn replace(path: &Path, content: &[u8], default_mode: u32) -> io::Result<bool> {
    let dir = path
        .parent()
        .ok_or_else(|| refuse(format!("{} has no parent", path.display())))?;
    if !dir.exists() {
        create_dirs(dir)?;
    }
    check_trusted_dir(dir)?;
    let (uid, gid, mode) = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refuse(format!(
                "{} is a symlink; refusing to write through it",
                path.display()
            )));
        }
        Ok(m) if !m.is_file() => {
            return Err(refuse(format!("{} is not a regular file", path.display())));
        }
        Ok(m) => {
            let mut old = Vec::new();
            File::open(path)?.read_to_end(&mut old)?;
            if old == content {
                return Ok(false);
            }
            backup(path, &old, &m)?;
            (m.uid(), m.gid(), m.mode() & 0o7777)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (0, 0, default_mode),
        Err(e) => return Err(e),
    };
    write_new(path, content, uid, gid, mode)?;
    Ok(true)
}

fn create_dirs(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.exists()) {
        create_dirs(parent)?;
    }
    fs::create_dir(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
}

/// `path-`, as shadow and vipw keep it, written atomically itself.
fn backup(path: &Path, old: &[u8], meta: &fs::Metadata) -> io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push("-");
    let backup = PathBuf::from(name);
    if fs::symlink_metadata(&backup).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::remove_file(&backup)?;
    }
    write_new(&backup, old, meta.uid(), meta.gid(), meta.mode() & 0o7777)
}

pub fn write_new(path: &Path, content: &[u8], uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    let dir = path.parent().expect("checked by caller");
    let name = path.file_name().expect("a file path").to_string_lossy();
    let tmp = dir.join(format!(".{name}.groundwork-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(content)?;
        nix::unistd::fchown(&f, Some(uid.into()), Some(gid.into()))?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
