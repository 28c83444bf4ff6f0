//! What the helper does first, as a root process started by someone else: nothing the caller set
//! up may change what it does. sudo passes the caller's resource limits, signal mask and ignored
//! signals through; a `ulimit -f 1` could otherwise truncate /etc/subuid's backup, and an ignored
//! SIGCHLD would hide a tool's exit status. Then stdin is read with a deadline, so that a caller
//! who never sends (or never stops sending) cannot hold root's locks.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
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
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    std::env::set_current_dir("/")
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
