//! One global lock, so that two applies, or an apply and a timer's drift check, never interleave.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// Exit code for `--no-wait` when another run holds the lock (EX_TEMPFAIL).
pub const EXIT_LOCKED: i32 = 75;

pub fn lock_path() -> PathBuf {
    // /run/lock is shared by all users (sticky, world-writable) on systemd hosts.
    if std::path::Path::new("/run/lock").is_dir() {
        PathBuf::from("/run/lock/groundwork.lock")
    } else {
        std::env::temp_dir().join("groundwork.lock")
    }
}

pub enum LockError {
    Busy(PathBuf),
    Io(String),
}

/// Takes the lock; with `wait`, blocks (after saying so on stderr) until it is free.
pub fn acquire(wait: bool) -> Result<Flock<File>, LockError> {
    let path = lock_path();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .or_else(|_| {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
        })
        .map_err(|e| LockError::Io(format!("cannot open the lock {}: {e}", path.display())))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
            if !wait {
                return Err(LockError::Busy(path));
            }
            eprintln!(
                "waiting for another groundwork run to finish (lock {})...",
                path.display()
            );
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| {
                LockError::Io(format!("cannot take the lock {}: {e}", path.display()))
            })
        }
        Err((_, e)) => Err(LockError::Io(format!(
            "cannot take the lock {}: {e}",
            path.display()
        ))),
    }
}
