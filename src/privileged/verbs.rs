//! Executing requests. Each verb is idempotent: it reports `changed: false` when the host already
//! has what was asked. Validation and authorization run first, here, whoever calls: the helper
//! for a user, or groundwork itself when it runs as root.

use super::authorize::{Invoker, authorize};
use super::error::{Done, VerbError};
use super::followup::write_then;
use super::request::Request;
use super::tools::{find, run};
use super::{k3s_install, secure_fs, subids};
use crate::managed_files as managed;
use crate::policy::Policy;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Who asks, under which policy, and the bytes that follow the request (install_k3s).
pub struct Context<'a> {
    pub invoker: &'a Invoker,
    pub policy: &'a Policy,
    pub payload: &'a mut dyn Read,
}

impl Context<'_> {
    fn user(&self) -> bool {
        !self.invoker.is_root()
    }
}

pub fn execute(req: &Request, ctx: &mut Context) -> Result<Done, VerbError> {
    super::validate::validate(req).map_err(VerbError::Refused)?;
    authorize(ctx.invoker, req, ctx.policy).map_err(VerbError::Refused)?;
    let _one_at_a_time = super::request_lock::acquire(
        Path::new(super::request_lock::LOCK_FILE),
        super::request_lock::WAIT,
    )?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    match req {
        Request::InstallPackages { names } => install_packages(names),
        Request::CreateUser { user } => create_user(user),
        Request::SetSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => subids::set_subids(
            &subids::Wanted {
                user,
                start: *start,
                count: *count,
                uids: *uids,
                gids: *gids,
            },
            ctx.invoker,
            ctx.policy,
        ),
        Request::SetSysctl { key, value } => set_sysctl(key, value, ctx),
        Request::PersistSysctls { settings } => persist_sysctls(settings, ctx),
        Request::LoadModule { name } => load_module(name),
        Request::PersistModules { names } => persist_modules(names, ctx),
        Request::WriteDelegation { controllers } => write_delegation(controllers, ctx),
        Request::RestartUserManager { user } => {
            let uid = uid_of(user)?;
            let systemctl = find(&["/usr/bin/systemctl", "/bin/systemctl"])?;
            run(systemctl, &["restart", &format!("user@{uid}.service")], &[])?;
            Ok(Done::changed(format!("restarted user@{uid}.service")))
        }
        Request::EnableLinger { user } => {
            if Path::new(&format!("/var/lib/systemd/linger/{user}")).exists() {
                return Ok(Done::unchanged(format!(
                    "lingering already enabled for {user}"
                )));
            }
            let loginctl = find(&["/usr/bin/loginctl", "/bin/loginctl"])?;
            run(loginctl, &["enable-linger", "--", user], &[])?;
            Ok(Done::changed(format!("enabled lingering for {user}")))
        }
        Request::InstallApparmorProfile { binary } => install_apparmor_profile(binary, ctx),
        Request::InstallK3s {
            version,
            sha256,
            size,
            install_path,
        } => k3s_install::install(
            &k3s_install::Wanted {
                version,
                sha256,
                size: *size,
                install_path,
            },
            ctx.payload,
            ctx.invoker,
            ctx.policy,
        ),
    }
}

/// Runs a request as root, in-process: groundwork itself is root, and root's policy does not
/// bind root.
pub fn execute_as_root(req: &Request, payload: &mut dyn Read) -> Result<Done, VerbError> {
    let policy = Policy::defaults();
    execute(
        req,
        &mut Context {
            invoker: &Invoker::Root,
            policy: &policy,
            payload,
        },
    )
}

impl From<String> for VerbError {
    /// A host tool that failed: nothing is known to have changed.
    fn from(msg: String) -> Self {
        VerbError::failed(msg)
    }
}

fn uid_of(user: &str) -> Result<u32, VerbError> {
    nix::unistd::User::from_name(user)
        .map_err(|e| VerbError::failed(format!("cannot look up {user}: {e}")))?
        .map(|u| u.uid.as_raw())
        .ok_or_else(|| VerbError::Refused(format!("user {user} does not exist")))
}

/// apt-get's arguments: install, never remove. Without --no-remove, `-y` lets apt take away a
/// package the new one breaks (fuse3 breaks fuse), so a request to install would change other
/// packages of the host (found in review). Dependencies are installed as apt chooses.
pub fn apt_install_args<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut full = vec![
        "-o",
        "DPkg::Lock::Timeout=300",
        "install",
        "-y",
        "--no-remove",
        "--no-install-recommends",
        "--",
    ];
    full.extend(names);
    full
}

fn install_packages(names: &[String]) -> Result<Done, VerbError> {
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Ok(apt) = find(&["/usr/bin/apt-get"]) {
        // Wait for a dpkg lock held by another apt (an unattended upgrade, or the apt-get of an
        // apply that was killed and is still finishing) instead of failing at once.
        run(
            apt,
            &apt_install_args(&args),
            &[("DEBIAN_FRONTEND", "noninteractive")],
        )?;
    } else {
        let dnf = find(&["/usr/bin/dnf", "/usr/bin/yum"])?;
        let mut full = vec!["install", "-y", "--"];
        full.extend(&args);
        run(dnf, &full, &[])?;
    }
    Ok(Done::changed(format!("installed {}", names.join(", "))))
}

fn create_user(user: &str) -> Result<Done, VerbError> {
    if nix::unistd::User::from_name(user).ok().flatten().is_some() {
        return Ok(Done::unchanged(format!("user {user} already exists")));
    }
    // useradd allocates subordinate ids itself when /etc/subuid exists; groundwork adds them
    // explicitly instead (SUB_*ID_COUNT=0 turns that off), so that the plan's range is the one
    // that is used and the user does not end up with two.
    let useradd = find(&["/usr/sbin/useradd", "/sbin/useradd"])?;
    run(
        useradd,
        &[
            "--create-home",
            "-K",
            "SUB_UID_COUNT=0",
            "-K",
            "SUB_GID_COUNT=0",
            "--shell",
            "/bin/bash",
            "--",
            user,
        ],
        &[],
    )?;
    Ok(Done::changed(format!("created user {user}")))
}

fn set_sysctl(key: &str, value: &str, ctx: &Context) -> Result<Done, VerbError> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let now = std::fs::read_to_string(&path)
        .map_err(|e| VerbError::failed(format!("cannot read {path}: {e}")))?;
    let now = managed::normalize(&now);
    if now == value {
        return Ok(Done::unchanged(format!("{key} is already {value}")));
    }
    if ctx.user() {
        ctx.policy
            .check_sysctl(key, value, Some(&now))
            .map_err(VerbError::Refused)?;
    }
    std::fs::write(&path, format!("{value}\n"))
        .map_err(|e| VerbError::failed(format!("cannot write {path}: {e}")))?;
    Ok(Done::changed(format!("set {key} = {value} (was {now})")))
}

/// The settings of a root-owned managed file as it is now (empty when absent).
fn current_file(path: &str) -> Result<String, VerbError> {
    match secure_fs::read_existing(Path::new(path)) {
        Ok(Some((bytes, _))) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Ok(None) => Ok(String::new()),
        Err(e) => Err(VerbError::Refused(format!("{path}: {e}"))),
    }
}

/// A user may add to a host-wide file, never take away what is there: another user's k3s (or
/// root's settings) may depend on it.
fn refuse_removals(
    what: &str,
    path: &str,
    current: &[String],
    wanted: &[String],
) -> Result<(), VerbError> {
    let removed: Vec<&str> = current
        .iter()
        .filter(|c| !wanted.contains(c))
        .map(String::as_str)
        .collect();
    if removed.is_empty() {
        Ok(())
    } else {
        Err(VerbError::Refused(format!(
            "the request would remove {what} {} from {path}, which a user may not do: only root may remove them",
            removed.join(", ")
        )))
    }
}

fn persist_sysctls(settings: &BTreeMap<String, String>, ctx: &Context) -> Result<Done, VerbError> {
    if ctx.user() {
        let current: BTreeMap<String, String> =
            managed::parse_sysctl_conf(&current_file(managed::SYSCTL_FILE)?)
                .into_iter()
                .map(|(_, k, v)| (k, v))
                .collect();
        let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
        refuse_removals(
            "the keys",
            managed::SYSCTL_FILE,
            &keys(&current),
            &keys(settings),
        )?;
        for (key, value) in settings {
            // A line kept as it is (root may have written it) changes nothing.
            if current.get(key) == Some(value) {
                continue;
            }
            // A limit may only be raised: above what the file says and what the host runs.
            let running = std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
                .ok()
                .map(|v| managed::normalize(&v));
            // A threshold that opens the host as it falls may only be lowered: below both.
            let values = [current.get(key).cloned(), running].into_iter().flatten();
            let as_number = |v: &String| v.parse::<i64>().unwrap_or(i64::MIN);
            let now = if crate::policy::LOWER_ONLY.contains(&key.as_str()) {
                values.min_by_key(as_number)
            } else {
                values.max_by_key(as_number)
            };
            ctx.policy
                .check_sysctl(key, value, now.as_deref())
                .map_err(VerbError::Refused)?;
        }
    }
    write_then(
        managed::SYSCTL_FILE,
        &managed::render_sysctl_file(settings),
        0o644,
        &[],
    )
}

fn load_module(name: &str) -> Result<Done, VerbError> {
    let modprobe = find(&["/usr/sbin/modprobe", "/sbin/modprobe"])?;
    run(modprobe, &["--", name], &[])?;
    Ok(Done::changed(format!("loaded module {name}")))
}

fn persist_modules(names: &[String], ctx: &Context) -> Result<Done, VerbError> {
    if ctx.user() {
        let current = managed::parse_modules_file(&current_file(managed::MODULES_FILE)?);
        refuse_removals("the modules", managed::MODULES_FILE, &current, names)?;
    }
    write_then(
        managed::MODULES_FILE,
        &managed::render_modules_file(names),
        0o644,
        &[],
    )
}

fn write_delegation(controllers: &[String], ctx: &Context) -> Result<Done, VerbError> {
    if ctx.user() {
        let current = managed::parse_delegation_dropin(&current_file(managed::DELEGATION_DROPIN)?);
        refuse_removals(
            "the controllers",
            managed::DELEGATION_DROPIN,
            &current,
            controllers,
        )?;
    }
    let systemctl = find(&["/usr/bin/systemctl", "/bin/systemctl"])?;
    write_then(
        managed::DELEGATION_DROPIN,
        &managed::render_delegation_dropin(controllers),
        0o644,
        &[(systemctl, &["daemon-reload"])],
    )
}

/// The profile lets one path create user namespaces despite the kernel's restriction, so it is
/// written only for a binary that is root's, and, for a user, only for bytes root allows there.
fn install_apparmor_profile(binary: &str, ctx: &Context) -> Result<Done, VerbError> {
    let path = Path::new(binary);
    match k3s_install::is_roots(path) {
        Ok(true) => {}
        Ok(false) => {
            return Err(VerbError::Refused(format!(
                "{binary} is not owned by root and writable by root alone; install k3s there first"
            )));
        }
        Err(e) => {
            return Err(VerbError::Refused(format!(
                "{binary}: {e}; install k3s there first"
            )));
        }
    }
    if ctx.user() {
        let sha = k3s_install::file_sha256(path)
            .map_err(|e| VerbError::failed(format!("cannot read {binary}: {e}")))?;
        if ctx.policy.allowed_k3s(&sha).is_none() {
            return Err(VerbError::Refused(format!(
                "{binary} (sha256 {sha}) is not a k3s release root allows; no profile is written for it"
            )));
        }
    }
    let profile = managed::apparmor_profile_path(binary);
    let parser = find(&["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"])?;
    write_then(
        &profile,
        &managed::render_apparmor_profile(binary),
        0o644,
        &[(parser, &["-r", "--", &profile])],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn apt_installs_and_never_removes() {
        let args = super::apt_install_args(&["uidmap", "fuse3"]);
        let end = args
            .iter()
            .position(|a| *a == "--")
            .expect("names after --");
        assert!(
            args[..end].contains(&"install") && args[..end].contains(&"--no-remove"),
            "{args:?}"
        );
        assert_eq!(&args[end + 1..], ["uidmap", "fuse3"]);
    }
}
