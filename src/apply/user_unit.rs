//! Operations on the target user's systemd user manager and files in their home: done as that
//! user, never as root in a directory the user controls. When groundwork is root it starts
//! itself as the user for file writes, and reaches the manager with `systemctl --user -M user@`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::resources::unit::UNIT_NAME;

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

impl Target {
    pub fn resolve(name: &str) -> Result<Self, String> {
        let u = nix::unistd::User::from_name(name)
            .map_err(|e| format!("cannot look up {name}: {e}"))?
            .ok_or_else(|| format!("user {name} does not exist"))?;
        Ok(Target {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir.to_string_lossy().into_owned(),
        })
    }

    fn is_self(&self) -> bool {
        nix::unistd::getuid().as_raw() == self.uid
    }

    pub fn pending_restart_marker(&self) -> PathBuf {
        PathBuf::from(pending_restart_marker(&self.home))
    }
}

/// Recorded before a change that needs a k3s restart and removed after the restart, so that a
/// crash in between cannot lose the restart: the next plan sees the marker and restarts.
pub fn pending_restart_marker(home: &str) -> String {
    format!("{home}/.local/state/groundwork/pending-restart")
}

/// Writes (or with `None`, removes) a file in the target's home, as the target.
pub fn write_as_user(target: &Target, path: &Path, content: Option<&[u8]>) -> Result<(), String> {
    if target.is_self() {
        return match content {
            Some(c) => crate::atomic::write_user_file(path, c)
                .map_err(|e| format!("cannot write {}: {e}", path.display())),
            None => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(format!("cannot remove {}: {e}", path.display()))
                }
                _ => Ok(()),
            },
        };
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find groundwork's own binary: {e}"))?;
    let mut cmd = command_as(target, &exe.to_string_lossy());
    cmd.arg("write-user-file").arg(path);
    if content.is_none() {
        cmd.arg("--remove");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a process as {}: {e}", target.name))?;
    if let (Some(mut stdin), Some(c)) = (child.stdin.take(), content) {
        stdin.write_all(c).map_err(|e| {
            format!(
                "cannot pass the file to the process as {}: {e}",
                target.name
            )
        })?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "writing {} as {} failed: {}",
            path.display(),
            target.name,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A command that runs as the target user, with the environment a login would give it for the
/// user manager (XDG_RUNTIME_DIR and the bus, which `su` and `sudo -u` do not set). When we are
/// root it drops to the user: supplementary groups first, then gid, then uid.
pub fn command_as(target: &Target, program: &str) -> Command {
    let runtime = format!("/run/user/{}", target.uid);
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", &target.home)
        .env("USER", &target.name)
        .env("LOGNAME", &target.name)
        .env("PATH", "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={runtime}/bus"),
        )
        .current_dir(if Path::new(&target.home).is_dir() {
            target.home.as_str()
        } else {
            "/"
        });
    if !target.is_self() {
        let (uid, gid) = (
            nix::unistd::Uid::from_raw(target.uid),
            nix::unistd::Gid::from_raw(target.gid),
        );
        // SAFETY: between fork and exec only async-signal-safe system calls run here.
        unsafe {
            cmd.pre_exec(move || {
                nix::unistd::setgroups(&[gid])?;
                nix::unistd::setgid(gid)?;
                nix::unistd::setuid(uid)?;
                Ok(())
            });
        }
    }
    cmd
}

/// Waits until the user's systemd manager answers (linger starts it asynchronously).
pub fn wait_for_manager(target: &Target, timeout: Duration) -> Result<(), String> {
    let socket = format!("/run/user/{}/systemd/private", target.uid);
    let started = Instant::now();
    while !Path::new(&socket).exists() {
        if started.elapsed() > timeout {
            return Err(format!(
                "the systemd user manager of {} is not running ({socket} is missing after {}s); check `loginctl show-user {}` and `systemctl status user@{}.service`",
                target.name,
                timeout.as_secs(),
                target.name,
                target.uid
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// `systemctl --user ARGS` for the target: directly when we are the target (with the runtime
/// directory set, which `su` and `sudo -u` do not), through `-M user@` when we are root.
pub fn systemctl(target: &Target, args: &[&str]) -> Result<String, String> {
    let systemctl = crate::privileged::tools::find(&["/usr/bin/systemctl", "/bin/systemctl"])?;
    let runtime = format!("/run/user/{}", target.uid);
    let mut cmd = Command::new(systemctl);
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8");
    if target.is_self() {
        cmd.arg("--user").env("XDG_RUNTIME_DIR", &runtime).env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={runtime}/bus"),
        );
    } else {
        cmd.args(["--user", "-M", &format!("{}@", target.name)]);
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "systemctl --user {} for {} failed: {}",
            args.join(" "),
            target.name,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub fn unit() -> &'static str {
    UNIT_NAME
}
