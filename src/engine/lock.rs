//! One global lock, so that two applies, or an apply and a drift check, never interleave: a
//! drift check never reads a half-applied host. It is a file in /run/lock, which every user can
//! reach, so that a user's apply and root's timer share it.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

/// The lock's file where /run/lock exists.
pub const LOCK_FILE: &str = "/run/lock/groundwork.lock";

pub fn lock_path() -> PathBuf {
    // /run/lock is shared by all users (sticky, world-writable) on systemd hosts.
    if std::path::Path::new("/run/lock").is_dir() {
        PathBuf::from(LOCK_FILE)
    } else {
        std::env::temp_dir().join("groundwork.lock")
    }
}

/// How long to wait for another run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Not at all (`apply --no-wait`).
    No,
    /// Up to this long (drift: a check that waits forever is a monitoring gap).
    Upto(Duration),
    /// As long as it takes (apply).
    Forever,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another groundwork run holds {}", .0.display())]
    Busy(PathBuf),
    #[error("cannot take the lock {}: {msg}", path.display())]
    Io { path: PathBuf, msg: String },
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] Flock<File>);

fn open(path: &PathBuf) -> Result<File, LockError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .or_else(|_| {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
        })
        .map_err(|e| LockError::Io {
            path: path.clone(),
            msg: e.to_string(),
        })
}

/// Takes the lock, waiting as `wait` allows; says on stderr (through tracing) that it waits.
pub async fn acquire(wait: Wait) -> Result<Lock, LockError> {
    let path = lock_path();
    let file = open(&path)?;
    let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => return Ok(Lock(lock)),
        Err((file, nix::errno::Errno::EWOULDBLOCK)) => file,
        Err((_, e)) => {
            return Err(LockError::Io {
                path,
                msg: e.to_string(),
            });
        }
    };
    let limit = match wait {
        Wait::No => return Err(LockError::Busy(path)),
        Wait::Upto(d) => Some(d),
        Wait::Forever => None,
    };
    tracing::warn!(lock = %path.display(), "waiting for another groundwork run to finish");
    eprintln!(
        "waiting for another groundwork run to finish (lock {})...",
        path.display()
    );
    // A blocking flock would stall the runtime: poll it instead, cancellably.
    let started = std::time::Instant::now();
    let mut file = Some(file);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match Flock::lock(file.take().expect("kept"), FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Lock(lock)),
            Err((f, nix::errno::Errno::EWOULDBLOCK)) => file = Some(f),
            Err((_, e)) => {
                return Err(LockError::Io {
                    path,
                    msg: e.to_string(),
                });
            }
        }
        if limit.is_some_and(|l| started.elapsed() >= l) {
            return Err(LockError::Busy(path));
        }
    }
}
