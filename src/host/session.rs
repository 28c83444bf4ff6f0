//! The target user's session: their account, a command that runs as them (with their groups and
//! the environment a login would give the user manager), `systemctl --user` for them, and files
//! written in their home with their rights. Never as root in a directory the user controls.

use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The rootless k3s unit, in the user's systemd manager.
pub const UNIT_NAME: &str = "k3s-rootless.service";

/// The user's unit file.
pub fn unit_path(home: &str) -> String {
    format!("{home}/.config/systemd/user/{UNIT_NAME}")
}

/// The link that enables the unit under the user's default.target.
pub fn wants_link(home: &str) -> String {
    format!("{home}/.config/systemd/user/default.target.wants/{UNIT_NAME}")
}

/// Recorded before a change that needs a k3s restart and removed after the restart, so that a
/// crash in between cannot lose the restart: the next plan sees the record and restarts.
pub fn pending_restart_marker(home: &str) -> String {
    format!("{home}/.local/state/groundwork/pending-restart")
}

/// The user manager's cgroup.
pub fn manager_cgroup(uid: u32) -> String {
    format!("/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service")
}

/// An account, as the live host's user database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("user {0} does not exist")]
    NoSuchUser(String),
    #[error("{0}")]
    Failed(String),
    #[error(
        "the systemd user manager of {user} is not running ({socket} is missing after {secs} s); check `loginctl show-user {user}` and `systemctl status user@{uid}.service`"
    )]
    ManagerDown {
        user: String,
        uid: u32,
        socket: String,
        secs: u64,
    },
}

impl Account {
    pub fn resolve(name: &str) -> Result<Self, SessionError> {
        let u = nix::unistd::User::from_name(name)
            .map_err(|e| SessionError::Failed(format!("cannot look up {name}: {e}")))?
            .ok_or_else(|| SessionError::NoSuchUser(name.to_string()))?;
        Ok(Account {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir.to_string_lossy().into_owned(),
        })
    }

    pub fn is_self(&self) -> bool {
        nix::unistd::getuid().as_raw() == self.uid
    }

    /// The account's groups as a login gets them (initgroups): the primary group and every
    /// group that lists the user.
    pub fn groups(&self) -> Vec<nix::unistd::Gid> {
        std::ffi::CString::new(self.name.as_str())
            .ok()
            .and_then(|c| nix::unistd::getgrouplist(&c, self.gid.into()).ok())
            .unwrap_or_else(|| vec![self.gid.into()])
    }

    pub fn pending_restart_marker(&self) -> PathBuf {
        PathBuf::from(pending_restart_marker(&self.home))
    }

    fn runtime_dir(&self) -> String {
        format!("/run/user/{}", self.uid)
    }
}

/// A command that runs as the account, with the environment a login would give it for the user
/// manager (XDG_RUNTIME_DIR and the bus, which `su` and `sudo -u` do not set). When we are root
/// it drops to the user: their supplementary groups first, then gid, then uid.
///
/// It always starts in a session of its own (and so a process group of its own, which callers
/// kill as a whole), with no controlling terminal: found in review, a process of the user's
/// (kubectl's credential plugin, from a kubeconfig the user writes) kept root's terminal, opened
/// /dev/tty and typed commands into root's shell (TIOCSTI), or read what root typed next.
pub fn command_as(account: &Account, program: &str) -> Command {
    let runtime = account.runtime_dir();
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", &account.home)
        .env("USER", &account.name)
        .env("LOGNAME", &account.name)
        .env("PATH", "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={runtime}/bus"),
        )
        .current_dir(if Path::new(&account.home).is_dir() {
            account.home.as_str()
        } else {
            "/"
        });
    // What to become: None when we are the account already.
    let become_user = (!account.is_self()).then(|| {
        (
            account.groups(),
            nix::unistd::Gid::from_raw(account.gid),
            nix::unistd::Uid::from_raw(account.uid),
        )
    });
    // SAFETY: between fork and exec only async-signal-safe system calls run here; the groups
    // were looked up before the fork.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            if let Some((groups, gid, uid)) = &become_user {
                nix::unistd::setgroups(groups)?;
                nix::unistd::setgid(*gid)?;
                nix::unistd::setuid(*uid)?;
            }
            Ok(())
        });
    }
    cmd
}

/// Waits until the account's systemd manager answers (linger starts it asynchronously).
pub async fn wait_for_manager(account: &Account, timeout: Duration) -> Result<(), SessionError> {
    let socket = format!("{}/systemd/private", account.runtime_dir());
    let started = Instant::now();
    while !Path::new(&socket).exists() {
        if started.elapsed() > timeout {
            return Err(SessionError::ManagerDown {
                user: account.name.clone(),
                uid: account.uid,
                socket,
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

fn systemctl_path() -> Result<&'static str, SessionError> {
    crate::privileged::tools::find(&["/usr/bin/systemctl", "/bin/systemctl"])
        .map_err(SessionError::Failed)
}

/// `systemctl --user ARGS` for the account: directly when we are the account (with the runtime
/// directory set, which `su` and `sudo -u` do not), through `-M user@` when we are root.
pub async fn systemctl(account: &Account, args: &[&str]) -> Result<String, SessionError> {
    let mut cmd = tokio::process::Command::new(systemctl_path()?);
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8");
    if account.is_self() {
        let runtime = account.runtime_dir();
        cmd.arg("--user").env("XDG_RUNTIME_DIR", &runtime).env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={runtime}/bus"),
        );
    } else {
        cmd.args(["--user", "-M", &format!("{}@", account.name)]);
    }
    tracing::debug!(user = %account.name, ?args, "systemctl --user");
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| SessionError::Failed(format!("cannot run systemctl: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(SessionError::Failed(format!(
            "systemctl --user {} for {} failed: {}",
            args.join(" "),
            account.name,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Writes (or with `None`, removes) a file in the account's home, as the account: groundwork
/// starts itself as the user (`groundwork write-user-file`) when it is root, so that no link or
/// directory the user placed can make root write elsewhere.
pub async fn write_as_user(
    account: &Account,
    path: &Path,
    content: Option<&[u8]>,
) -> Result<(), SessionError> {
    if account.is_self() {
        let r = match content {
            Some(c) => crate::atomic::write_user_file(path, c),
            None => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        };
        return r.map_err(|e| SessionError::Failed(format!("{}: {e}", path.display())));
    }
    let exe = std::env::current_exe()
        .map_err(|e| SessionError::Failed(format!("cannot find groundwork's own binary: {e}")))?;
    let mut std_cmd = command_as(account, &exe.to_string_lossy());
    std_cmd.arg("write-user-file").arg(path);
    if content.is_none() {
        std_cmd.arg("--remove");
    }
    std_cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = tokio::process::Command::from(std_cmd)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            SessionError::Failed(format!("cannot start a process as {}: {e}", account.name))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let data = content.unwrap_or_default().to_vec();
        use tokio::io::AsyncWriteExt;
        stdin.write_all(&data).await.map_err(|e| {
            SessionError::Failed(format!(
                "cannot pass the file to the process as {}: {e}",
                account.name
            ))
        })?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| SessionError::Failed(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SessionError::Failed(format!(
            "writing {} as {} failed: {}",
            path.display(),
            account.name,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The body of `groundwork write-user-file`: stdin to a file, atomically, as whoever runs it.
pub fn write_user_file_from_stdin(path: &Path, remove: bool) -> std::io::Result<()> {
    if remove {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)?;
    crate::atomic::write_user_file(path, &data)?;
    std::io::stdout().flush()
}
