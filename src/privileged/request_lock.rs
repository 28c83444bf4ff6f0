//! One privileged request at a time, across every helper run and every root run of groundwork.
//! Verbs read a shared file, check it and write it back (groundwork's sysctl.d file, its
//! modules-load.d file, the delegation drop-in): two at once, for two users or for a user and
//! root's timer, could each drop the other's change. And each k3s install streams up to its
//! announced size to the disk before the hash can refuse it: one at a time bounds that too
//! (found in review).
//!
//! The lock is a file in /run, where only root creates files (never /run/lock, which every user
//! can write); the wait for it has a deadline.

use super::error::VerbError;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

pub const LOCK_FILE: &str = "/run/groundwork-helper.lock";

/// How long a request waits for the one before it: the slowest verbs (an apt-get install, a
/// k3s binary arriving) take minutes.
pub const WAIT: Duration = Duration::from_secs(15 * 60);

/// Held until dropped: closing the file releases the lock.
#[derive(Debug)]
pub struct RequestLock {
    _file: File,
}

/// Takes the lock at `path`, waiting at most `wait` for whoever holds it.
pub fn acquire(path: &Path, wait: Duration) -> Result<RequestLock, VerbError> {
    let cannot = |e: io::Error| {
        VerbError::failed(format!(
            "cannot take the lock of privileged requests ({}): {e}",
            path.display()
        ))
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(VerbError::Refused(format!(
            "{} is not a regular file of root's; root must remove it",
            path.display()
        )));
    }
    let deadline = Instant::now() + wait;
    loop {
        // SAFETY: flock on a descriptor that `file` owns and keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(RequestLock { _file: file });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(cannot(e));
        }
        if Instant::now() >= deadline {
            return Err(VerbError::Refused(format!(
                "another privileged request has held {} for over {} s; nothing was changed, \
                 try again when it has finished",
                path.display(),
                wait.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = acquire(&path, Duration::ZERO).expect("a free lock");
        let e = acquire(&path, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, VerbError::Refused(_)), "{e}");
        assert!(e.to_string().contains("another privileged request"), "{e}");
        // The second waits, and gets it once the first is done.
        let waiting = {
            let path = path.clone();
            std::thread::spawn(move || acquire(&path, Duration::from_secs(30)).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "the second request waits");
        drop(first);
        waiting.join().unwrap().expect("the lock, once free");
    }

    #[test]
    fn a_lock_file_planted_as_a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let path = dir.path().join("lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(acquire(&path, Duration::ZERO).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
