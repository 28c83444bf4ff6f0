//! One global lock, so that two applies, or an apply and a drift check, never interleave: a
//! drift check never reads a half-applied host. It is a file in /run/lock, which every user can
//! reach, so that a user's apply and root's timer share it.
//!
//! Every user can also hold it, for as long as they like: root waits for it at most
//! `ROOT_WAIT` even when told to wait "forever" (found in review: a `flock` held by any local
//! user stalled root's timer for good, and the timer never fired again), and the message names
//! who holds it.

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

/// The longest root waits for a lock that anyone can hold.
pub const ROOT_WAIT: Duration = Duration::from_secs(30 * 60);

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
    #[error("another groundwork run holds {}{}", .0.display(), holder_of(.0))]
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
    let limit = match limit(wait, nix::unistd::geteuid().is_root()) {
        Some(Duration::ZERO) => return Err(LockError::Busy(path)),
        limit => limit,
    };
    let holder = holder_of(&path);
    tracing::warn!(lock = %path.display(), holder = %holder, "waiting for another groundwork run to finish");
    eprintln!(
        "waiting for another groundwork run to finish (lock {}{holder})...",
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

/// How long `wait` waits, for root or not; None is without end.
fn limit(wait: Wait, root: bool) -> Option<Duration> {
    match wait {
        Wait::No => Some(Duration::ZERO),
        Wait::Upto(d) => Some(d),
        Wait::Forever if root => Some(ROOT_WAIT),
        Wait::Forever => None,
    }
}

/// `, held by process PID (USER: COMMAND)` for the process /proc/locks names as the holder of
/// `path`'s lock; empty when it cannot be told.
fn holder_of(path: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return String::new();
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return String::new();
    };
    // `1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF`: the pid, then major:minor:inode.
    let inode = format!(":{}", meta.ino());
    let Some(pid) = locks.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"FLOCK") && f.get(5).is_some_and(|id| id.ends_with(&inode)))
            .then(|| f.get(4)?.parse::<u32>().ok())
            .flatten()
    }) else {
        return String::new();
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u32>().ok());
    let user = uid
        .and_then(|u| nix::unistd::User::from_uid(u.into()).ok().flatten())
        .map(|u| u.name)
        .or(uid.map(|u| format!("uid {u}")))
        .unwrap_or_else(|| "?".into());
    // The holder chose its command name (prctl, or the name of the file it ran): escaped, so
    // that no escape sequence reaches root's terminal.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let comm = crate::privileged::audit_log::escape(comm.trim_end_matches('\n'), 64);
    format!(", held by process {pid} ({user}: {comm})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_waits_for_anyone_s_lock_only_so_long() {
        assert_eq!(limit(Wait::Forever, true), Some(ROOT_WAIT));
        assert_eq!(limit(Wait::Forever, false), None);
        assert_eq!(limit(Wait::No, true), Some(Duration::ZERO));
        let d = Duration::from_secs(120);
        assert_eq!(limit(Wait::Upto(d), true), Some(d));
    }

    /// What `holder_of` says of a lock in a temp dir held by `flock` (the binary at `flock`,
    /// under the name `name`), once it names a holder whose name contains `expect`.
    fn holder_named(name: &str, expect: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, "").unwrap();
        let flock = dir.path().join(name);
        std::fs::copy("/usr/bin/flock", &flock).unwrap();
        let mut holder = std::process::Command::new(&flock)
            .arg(&path)
            .args(["/bin/sleep", "30"])
            .spawn()
            .expect("flock runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut named = String::new();
        while !named.contains(expect) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            named = holder_of(&path);
        }
        let _ = holder.kill();
        let _ = holder.wait();
        named
    }

    #[test]
    fn the_holder_of_a_lock_is_named() {
        // flock(1) holds the lock and runs sleep in a child; either may be named.
        let named = holder_named("flock", ", held by process ");
        assert!(named.starts_with(", held by process "), "{named:?}");
        assert!(
            named.ends_with(": flock)") || named.ends_with(": sleep)"),
            "{named:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(holder_of(&dir.path().join("none")).is_empty());
    }

    /// The holder names itself: a command name with an escape sequence is written out.
    #[test]
    fn a_holder_s_command_name_reaches_the_terminal_escaped() {
        let named = holder_named("f\u{1b}[2Jk", "f\\x1b");
        assert!(named.contains(": f\\x1b[2Jk)"), "{named:?}");
        assert!(!named.contains('\u{1b}'), "{named:?}");
    }
}
