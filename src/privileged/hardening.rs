//! What the helper does first, as a root process started by someone else: nothing the caller set
//! up may change what it does. sudo passes the caller's resource limits, signal mask and ignored
//! signals through; a `ulimit -f 1` could otherwise truncate /etc/subuid's backup, and an ignored
//! SIGCHLD would hide a tool's exit status. Then stdin is read with a deadline, so that a caller
//! who never sends (or never stops sending) cannot hold root's locks.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// Blocked for the helper's whole run: see `reset_process`.
pub const DEFERRED_SIGNALS: [libc::c_int; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
];

/// Resets resource limits, signals, the umask and the working directory.
pub fn reset_process() -> io::Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const INF: u64 = libc::RLIM_INFINITY;
    for (resource, soft, hard) in [
        (Resource::RLIMIT_FSIZE, INF, INF),
        (Resource::RLIMIT_CPU, INF, INF),
        (Resource::RLIMIT_DATA, INF, INF),
        (Resource::RLIMIT_AS, INF, INF),
        (Resource::RLIMIT_NPROC, INF, INF),
        (Resource::RLIMIT_LOCKS, INF, INF),
        (Resource::RLIMIT_NOFILE, 1024, 4096),
        (Resource::RLIMIT_STACK, 8 << 20, INF),
        // No core dump of a root process, whatever the caller allowed.
        (Resource::RLIMIT_CORE, 0, 0),
    ] {
        if setrlimit(resource, soft, hard).is_ok() {
            continue;
        }
        // Without CAP_SYS_RESOURCE (some containers drop it) a hard limit cannot be raised:
        // take the soft limit up to it, and refuse to work under a lowered one that matters.
        let (_, now_hard) = getrlimit(resource).map_err(io::Error::from)?;
        setrlimit(resource, soft.min(now_hard), now_hard).map_err(io::Error::from)?;
        let too_low = match resource {
            Resource::RLIMIT_FSIZE => now_hard != INF,
            Resource::RLIMIT_NOFILE => now_hard < 256,
            Resource::RLIMIT_CPU | Resource::RLIMIT_DATA | Resource::RLIMIT_AS => now_hard != INF,
            _ => false,
        };
        if too_low {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the caller's hard limit {resource:?} is {now_hard}, and it cannot be raised; the helper refuses to work under it"
                ),
            ));
        }
    }
    // SAFETY: called first in main, before any thread exists; each call only changes this
    // process's signal state. SIGKILL and SIGSTOP cannot be changed and are skipped.
    unsafe {
        for sig in 1..libc::SIGRTMIN() {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            // A write to a closed pipe returns EPIPE (handled) instead of killing the helper
            // between a change and its log line. The terminal's stop signals, which sudo passes
            // on from the invoker, are ignored: stopped inside shadow's lock, the helper would
            // keep every useradd and passwd on the host waiting (found in review).
            let action =
                if [libc::SIGPIPE, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].contains(&sig) {
                    libc::SIG_IGN
                } else {
                    libc::SIG_DFL
                };
            libc::signal(sig, action);
        }
        // The signals that would end the helper, and that sudo relays from the invoker (sudo(8),
        // "Signal handling"), wait until it exits: a helper ended between a change and its
        // syslog line would leave a change nobody logged (found in review). Its own deadlines
        // bound its run; root can still SIGKILL it. The tools it runs start with an empty mask
        // (std::process clears it), and lckpwdf unblocks SIGALRM for its own timeout.
        let mut deferred: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut deferred);
        for sig in DEFERRED_SIGNALS {
            libc::sigaddset(&mut deferred, sig);
        }
        libc::sigprocmask(libc::SIG_SETMASK, &deferred, std::ptr::null_mut());
    }
    reset_scheduling()?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    std::env::set_current_dir("/")
}

/// The caller's nice value, scheduling class, I/O class and OOM score pass through sudo too: at
/// nice 19, SCHED_IDLE or the idle I/O class, the helper would hold shadow's lock for as long as
/// the caller's other load wishes, and a raised OOM score would make it the kernel's first
/// victim between a change and its log line (found in review). All back to the defaults.
fn reset_scheduling() -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: plain system calls on this process with values, no pointers kept.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) != 0
            || libc::setpriority(libc::PRIO_PROCESS, 0, 0) != 0
            // Class none, data 0: the I/O priority follows the nice value, the kernel's default.
            || libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, 0) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    std::fs::write("/proc/self/oom_score_adj", "0")
}

/// Refuses to work inside a cgroup (v2) that anyone but root owns, or below one. That is where a
/// helper started from the caller's own systemd manager (`systemd-run --user`, a user unit, a
/// desktop terminal) runs; the owner can write `cgroup.freeze` there and keep it frozen while it
/// holds shadow's lock (every useradd and passwd on the host then waits), or `cgroup.kill` it
/// between a change and its log line (found in review). Hosts without the unified hierarchy
/// delegate nothing to users, and pass.
pub fn check_cgroup() -> Result<(), String> {
    let read =
        |path: &str| std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"));
    let Some(own) = unified_cgroup(&read("/proc/self/cgroup")?) else {
        return Ok(());
    };
    let Some(mount) = cgroup2_mount(&read("/proc/self/mountinfo")?) else {
        return Ok(());
    };
    cgroup_owned_by_root(Path::new(&mount), &own)
}

/// The path of the unified hierarchy's line (`0::PATH`) of /proc/self/cgroup.
pub fn unified_cgroup(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// Where the cgroup2 file system is mounted (its own root), from /proc/self/mountinfo.
pub fn cgroup2_mount(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = left.split(' ').collect();
        let (root, point) = (fields.get(3)?, fields.get(4)?);
        // Mount points with spaces are escaped (\040); a cgroup2 mount has none worth reading.
        (right.split(' ').next() == Some("cgroup2") && *root == "/" && !point.contains('\\'))
            .then(|| point.to_string())
    })
}

/// Every directory from `mount` down to the cgroup `own` is root's.
fn cgroup_owned_by_root(mount: &Path, own: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let check = |dir: &Path| {
        let meta = std::fs::symlink_metadata(dir).map_err(|e| {
            format!(
                "cannot check the helper's cgroup {own}: {}: {e}",
                dir.display()
            )
        })?;
        if meta.uid() == 0 {
            return Ok(());
        }
        Err(format!(
            "the helper runs in the cgroup {own}, and uid {} owns {}: it could freeze or kill \
             the helper while it changes the host. Run groundwork from a login session (SSH, a \
             console) or a system service, not under a user's own systemd manager (systemd-run \
             --user, a user unit, a desktop terminal)",
            meta.uid(),
            dir.display()
        ))
    };
    let mut dir = mount.to_path_buf();
    check(&dir)?;
    for part in own.split('/').filter(|p| !p.is_empty() && *p != "..") {
        dir.push(part);
        check(&dir)?;
    }
    Ok(())
}

/// stdin with a deadline for the whole read, and a limit on the wait for each chunk.
pub struct TimedStdin {
    deadline: Instant,
    idle: Duration,
}

impl TimedStdin {
    pub fn new(total: Duration, idle: Duration) -> Self {
        TimedStdin {
            deadline: Instant::now() + total,
            idle,
        }
    }

    /// Reads up to and including the first `\n`, or to EOF, at most `max` bytes. Returns the
    /// line without its newline, and whether it ended with one.
    pub fn read_line(&mut self, max: usize) -> io::Result<(Vec<u8>, bool)> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        // Byte by byte: nothing after the newline may be consumed (it is the payload).
        while line.len() <= max {
            match self.read(&mut byte)? {
                0 => return Ok((line, false)),
                _ if byte[0] == b'\n' => return Ok((line, true)),
                _ => line.push(byte[0]),
            }
        }
        Ok((line, false))
    }
}

impl Read for TimedStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let stdin = io::stdin();
        let fd = stdin.as_fd();
        let now = Instant::now();
        if now >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request did not arrive in time",
            ));
        }
        let wait = (self.deadline - now).min(self.idle);
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let ready =
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)).map_err(io::Error::from)?;
        if ready == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing arrived on stdin for {} s", wait.as_secs()),
            ));
        }
        // SAFETY: reads into a valid buffer of buf.len() bytes from the stdin descriptor.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::chown;

    #[test]
    fn the_unified_hierarchy_and_its_mount_are_found() {
        let own = "12:pids:/user.slice\n0::/user.slice/user-1000.slice/session-3.scope\n";
        assert_eq!(
            unified_cgroup(own).as_deref(),
            Some("/user.slice/user-1000.slice/session-3.scope")
        );
        assert_eq!(unified_cgroup("4:memory:/x\n"), None);
        let mountinfo = "35 24 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro\n\
            58 48 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(mountinfo).as_deref(),
            Some("/sys/fs/cgroup/unified")
        );
        assert_eq!(
            cgroup2_mount("58 48 0:38 /sub /mnt rw - cgroup2 cgroup2 rw\n"),
            None
        );
    }

    #[test]
    fn a_cgroup_is_checked_from_the_mount_down() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let mount = tempfile::tempdir().unwrap();
        let user = mount.path().join("user.slice/user@1000.service/app.slice");
        std::fs::create_dir_all(&user).unwrap();
        let session = mount.path().join("user.slice/session-3.scope");
        std::fs::create_dir_all(&session).unwrap();
        chown(
            mount.path().join("user.slice/user@1000.service"),
            Some(1000),
            None,
        )
        .unwrap();
        assert_eq!(
            cgroup_owned_by_root(mount.path(), "/user.slice/session-3.scope"),
            Ok(())
        );
        // Root's own cgroup below a user's is theirs to freeze all the same.
        let e = cgroup_owned_by_root(mount.path(), "/user.slice/user@1000.service/app.slice")
            .unwrap_err();
        assert!(e.contains("uid 1000 owns"), "{e}");
        assert!(cgroup_owned_by_root(mount.path(), "/gone").is_err());
    }
}
