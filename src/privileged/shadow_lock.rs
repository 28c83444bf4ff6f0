//! Shadow's locks, taken the way shadow-utils takes them (lib/commonio.c), so that a change to
//! /etc/subuid or /etc/subgid can neither race another groundwork run nor useradd, usermod or
//! vipw: first `lckpwdf()` (a lock on /etc/.pwd.lock), then for each file `FILE.lock`, created by
//! linking a file that holds our pid (an NFS-safe exclusive create; a lock whose pid is dead is
//! stale and taken over). Held from before the overlap check until after the write.

use std::ffi::c_int;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

unsafe extern "C" {
    fn lckpwdf() -> c_int;
    fn ulckpwdf() -> c_int;
}

/// Held locks; dropping it releases them.
#[derive(Debug)]
pub struct ShadowLock {
    lock_files: Vec<PathBuf>,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl ShadowLock {
    /// Takes lckpwdf and the `.lock` of each file. lckpwdf itself waits up to 15 s.
    pub fn acquire(files: &[&Path]) -> io::Result<Self> {
        // SAFETY: lckpwdf takes no arguments; it uses its own static state and a SIGALRM handler
        // that it restores. The helper is single-threaded while it holds the lock.
        if unsafe { lckpwdf() } != 0 {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "cannot take shadow's lock (/etc/.pwd.lock): another useradd, usermod or vipw holds it; try again",
            ));
        }
        let mut held = ShadowLock {
            lock_files: Vec::new(),
        };
        for f in files {
            held.lock_file(f)?;
        }
        Ok(held)
    }

    fn lock_file(&mut self, file: &Path) -> io::Result<()> {
        let pid = std::process::id();
        let tmp = with_suffix(file, &format!(".{pid}"));
        let lock = with_suffix(file, ".lock");
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(pid.to_string().as_bytes())?;
        drop(f);
        let result = (|| {
            for attempt in 0..2 {
                match fs::hard_link(&tmp, &lock) {
                    Ok(()) => {
                        // shadow's check_link_count: the link really is ours.
                        if fs::metadata(&tmp)?.nlink() != 2 {
                            return Err(io::Error::other(format!(
                                "{} could not be locked",
                                file.display()
                            )));
                        }
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt == 0 => {
                        let holder = fs::read_to_string(&lock).unwrap_or_default();
                        let holder: Option<i32> = holder.trim().parse().ok();
                        let alive = holder.is_some_and(|p| {
                            p > 0
                                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None)
                                    .is_ok_or_eperm()
                        });
                        if alive {
                            return Err(io::Error::new(
                                io::ErrorKind::WouldBlock,
                                format!(
                                    "{} is locked by process {}; try again when it has finished",
                                    file.display(),
                                    holder.unwrap_or(0)
                                ),
                            ));
                        }
                        // A stale lock of a process that died: shadow removes it, and so do we.
                        fs::remove_file(&lock)?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(io::Error::other(format!(
                "{} could not be locked",
                file.display()
            )))
        })();
        let _ = fs::remove_file(&tmp);
        if result.is_ok() {
            self.lock_files.push(lock);
        }
        result
    }
}

trait OkOrEperm {
    fn is_ok_or_eperm(&self) -> bool;
}

impl OkOrEperm for nix::Result<()> {
    fn is_ok_or_eperm(&self) -> bool {
        matches!(self, Ok(()) | Err(nix::errno::Errno::EPERM))
    }
}

impl Drop for ShadowLock {
    fn drop(&mut self) {
        for lock in self.lock_files.drain(..) {
            let _ = fs::remove_file(lock);
        }
        // SAFETY: releases the lock taken in acquire; no arguments.
        unsafe {
            ulckpwdf();
        }
    }
}
