//! Executing validated requests. Each verb is idempotent: it reports `changed: false` when the
//! host already has what was asked.

use super::authorize::Invoker;
use super::request::Request;
use super::secure_fs;
use super::tools::{find, run};
use crate::resources::{apparmor, delegation, modules, subids, sysctl};
use std::path::Path;

/// Runs one request that has passed validation and authorization, for root (groundwork running
/// as root). Returns whether it changed anything, and a message.
pub fn execute(req: &Request) -> Result<(bool, String), String> {
    execute_for(req, &Invoker::Root)
}

/// Runs one request for `invoker` (the helper's caller). A file the request names as input is read
/// only when the invoker owns it: root can read every file, and the helper must not read for a
/// user what that user cannot read.
pub fn execute_for(req: &Request, invoker: &Invoker) -> Result<(bool, String), String> {
    super::validate::validate(req)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    match req {
        Request::InstallPackages { names } => install_packages(names),
        Request::CreateUser { user } => create_user(user),
        Request::AddSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => add_subids(user, *start, *count, *uids, *gids),
        Request::SetSysctl { key, value } => set_sysctl(key, value),
        Request::PersistSysctls { settings } => {
            write_root_file(sysctl::MANAGED_FILE, &sysctl::render_file(settings), &[])
        }
        Request::LoadModule { name } => load_module(name),
        Request::PersistModules { names } => {
            write_root_file(modules::MANAGED_FILE, &modules::render_file(names), &[])
        }
        Request::WriteDelegation { controllers } => {
            let systemctl = find(&["/usr/bin/systemctl", "/bin/systemctl"])?;
            write_root_file(
                delegation::DROPIN,
                &delegation::render_dropin(controllers),
                &[(systemctl, &["daemon-reload"])],
            )
        }
        Request::RestartUserManager { user } => {
            let uid = uid_of(user)?;
            let systemctl = find(&["/usr/bin/systemctl", "/bin/systemctl"])?;
            run(systemctl, &["restart", &format!("user@{uid}.service")], &[])?;
            Ok((true, format!("restarted user@{uid}.service")))
        }
        Request::EnableLinger { user } => {
            if Path::new(&crate::resources::linger::path(user)).exists() {
                return Ok((false, format!("lingering already enabled for {user}")));
            }
            let loginctl = find(&["/usr/bin/loginctl", "/bin/loginctl"])?;
            run(loginctl, &["enable-linger", "--", user], &[])?;
            Ok((true, format!("enabled lingering for {user}")))
        }
        Request::InstallApparmorProfile { binary } => {
            let path = apparmor::profile_path(binary);
            let parser = find(&["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"])?;
            write_root_file(
                &path,
                &apparmor::render_profile(binary),
                &[(parser, &["-r", "--", &path])],
            )
        }
        Request::InstallK3s {
            source,
            sha256,
            install_path,
        } => install_k3s(source, sha256, install_path, invoker),
    }
}

fn uid_of(user: &str) -> Result<u32, String> {
    nix::unistd::User::from_name(user)
        .map_err(|e| format!("cannot look up {user}: {e}"))?
        .map(|u| u.uid.as_raw())
        .ok_or_else(|| format!("user {user} does not exist"))
}

/// Writes a root-owned file and, only if it changed, runs the follow-up commands.
fn write_root_file(
    path: &str,
    content: &str,
    then: &[(&str, &[&str])],
) -> Result<(bool, String), String> {
    let changed = secure_fs::replace(Path::new(path), content.as_bytes(), 0o644)
        .map_err(|e| format!("cannot write {path}: {e}"))?;
    if changed {
        for (program, args) in then {
            run(program, args, &[])?;
        }
    }
    Ok((
        changed,
        if changed {
            format!("wrote {path}")
        } else {
            format!("{path} already up to date")
        },
    ))
}

fn install_packages(names: &[String]) -> Result<(bool, String), String> {
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Ok(apt) = find(&["/usr/bin/apt-get"]) {
        // Wait for a dpkg lock held by another apt (an unattended upgrade, or the apt-get of an
        // apply that was killed and is still finishing) instead of failing at once.
        let mut full = vec![
            "-o",
            "DPkg::Lock::Timeout=300",
            "install",
            "-y",
            "--no-install-recommends",
            "--",
        ];
        full.extend(&args);
        run(apt, &full, &[("DEBIAN_FRONTEND", "noninteractive")])?;
    } else {
        let dnf = find(&["/usr/bin/dnf", "/usr/bin/yum"])?;
        let mut full = vec!["install", "-y", "--"];
        full.extend(&args);
        run(dnf, &full, &[])?;
    }
    Ok((true, format!("installed {}", names.join(", "))))
}

fn create_user(user: &str) -> Result<(bool, String), String> {
    if nix::unistd::User::from_name(user).ok().flatten().is_some() {
        return Ok((false, format!("user {user} already exists")));
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
    Ok((true, format!("created user {user}")))
}

fn add_subids(
    user: &str,
    start: u32,
    count: u32,
    uids: bool,
    gids: bool,
) -> Result<(bool, String), String> {
    let uid = uid_of(user)?;
    let end = start as u64 + count as u64 - 1;
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| format!("cannot read /etc/passwd: {e}"))?;
    let real_ids: Vec<u32> = crate::resources::account::parse_passwd(&passwd)
        .iter()
        .map(|e| e.uid)
        .collect();
    if let Some(id) = real_ids
        .iter()
        .find(|id| (start as u64..=end).contains(&(**id as u64)))
    {
        return Err(format!(
            "the range {start}-{end} contains the real uid {id}"
        ));
    }
    let mut args: Vec<String> = Vec::new();
    for (wanted, path, flag) in [
        (uids, "/etc/subuid", "--add-subuids"),
        (gids, "/etc/subgid", "--add-subgids"),
    ] {
        if !wanted {
            continue;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                secure_fs::replace(Path::new(path), b"", 0o644)
                    .map_err(|e| format!("cannot create {path}: {e}"))?;
                String::new()
            }
            Err(e) => return Err(format!("cannot read {path}: {e}")),
        };
        let file = subids::parse(path, Some(&text));
        let mine = |o: &str| o == user || o == uid.to_string();
        if file
            .entries
            .iter()
            .any(|e| mine(&e.owner) && e.start == start && e.count == count)
        {
            continue;
        }
        if let Some(other) = file
            .entries
            .iter()
            .find(|e| !mine(&e.owner) && (e.start as u64) <= end && e.end() > start as u64)
        {
            return Err(format!(
                "the range {start}-{end} overlaps {}'s range at {path}:{}",
                other.owner, other.line
            ));
        }
        args.push(flag.into());
        args.push(format!("{start}-{end}"));
    }
    if args.is_empty() {
        return Ok((false, format!("{user} already has {start}-{end}")));
    }
    // usermod takes shadow's locks, so this cannot race useradd or vipw.
    let usermod = find(&["/usr/sbin/usermod", "/sbin/usermod"])?;
    let mut full: Vec<&str> = args.iter().map(String::as_str).collect();
    full.push("--");
    full.push(user);
    run(usermod, &full, &[])?;
    Ok((
        true,
        format!("added subordinate ids {start}-{end} for {user}"),
    ))
}

fn set_sysctl(key: &str, value: &str) -> Result<(bool, String), String> {
    let path = sysctl::proc_path(key);
    let now = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if sysctl::normalize(&now) == value {
        return Ok((false, format!("{key} is already {value}")));
    }
    std::fs::write(&path, format!("{value}\n")).map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok((true, format!("set {key} = {value}")))
}

fn load_module(name: &str) -> Result<(bool, String), String> {
    let modprobe = find(&["/usr/sbin/modprobe", "/sbin/modprobe"])?;
    run(modprobe, &["--", name], &[])?;
    Ok((true, format!("loaded module {name}")))
}

/// Reads the k3s binary to install. The owner check is on the opened file, not the path: the
/// path's directories belong to the user, who could swap them between a check and the open.
/// Without it, a user could have root copy /etc/shadow to a world-readable k3s path (learning the
/// sha256 to send from the mismatch message).
fn read_source(source: &str, invoker: &Invoker) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(source)
        .map_err(|e| format!("cannot open {source}: {e}"))?;
    let meta = f.metadata().map_err(|e| e.to_string())?;
    if let Invoker::User { uid, name } = invoker
        && meta.uid() != *uid
    {
        return Err(format!(
            "{source} belongs to uid {}, not to {name}: the helper installs only a file its invoker owns",
            meta.uid()
        ));
    }
    if !meta.is_file() {
        return Err(format!("{source} is not a regular file"));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {source}: {e}"))?;
    Ok(bytes)
}

fn install_k3s(
    source: &str,
    sha256: &str,
    install_path: &str,
    invoker: &Invoker,
) -> Result<(bool, String), String> {
    use sha2::{Digest, Sha256};
    // Read the bytes once, hash exactly those bytes, write exactly those bytes: the source file
    // belongs to the user and could change between a check and a copy.
    let bytes = read_source(source, invoker)?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(format!(
            "sha256 mismatch for {source}: expected {sha256}, got {actual}; nothing was installed"
        ));
    }
    let path = Path::new(install_path);
    let changed = secure_fs::replace(path, &bytes, 0o755)
        .map_err(|e| format!("cannot install {install_path}: {e}"))?;
    Ok((
        changed,
        if changed {
            format!(
                "installed {install_path} (sha256 {sha256}); the old binary is kept as {install_path}-"
            )
        } else {
            format!("{install_path} already has sha256 {sha256}")
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_k3s_source_must_belong_to_the_invoker() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k3s");
        std::fs::write(&file, b"binary").unwrap();
        let file = file.to_str().unwrap();
        let owner = std::fs::metadata(file).unwrap().uid();
        let owner_invoker = Invoker::User {
            uid: owner,
            name: "owner".into(),
        };
        let other = Invoker::User {
            uid: owner.wrapping_add(1),
            name: "other".into(),
        };
        assert_eq!(read_source(file, &owner_invoker).unwrap(), b"binary");
        assert_eq!(read_source(file, &Invoker::Root).unwrap(), b"binary");
        let err = read_source(file, &other).unwrap_err();
        assert!(err.contains("belongs to uid"), "{err}");
        // A root-only file is never read for a user (as root the open succeeds; the owner
        // check refuses it).
        assert!(read_source("/etc/shadow", &other).is_err());
    }

    #[test]
    fn a_fifo_source_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("k3s");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = read_source(fifo.to_str().unwrap(), &Invoker::Root).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
