//! Argument validation for helper requests: pure, so that it can be property-tested and fuzzed.
//! What depends on the host (ranges against /etc/subuid, values against what the host has, root's
//! policy) is checked when the verb runs.
//!
//! The checks of single arguments are public: the spec validator runs the same ones on the
//! values a spec would send, so that a spec that validates never asks for what the helper
//! refuses. Their messages are written for the person who wrote the spec.

use super::request::{MAX_K3S_BYTES, Request};
use crate::allow;
use crate::allow::{SUBID_MIN, SUBID_MIN_COUNT};
use crate::names;

pub fn validate(req: &Request) -> Result<(), String> {
    match req {
        Request::InstallPackages { names: pkgs } => {
            if pkgs.is_empty() || pkgs.len() > allow::PACKAGES.len() {
                return Err("install_packages needs between one and a few package names".into());
            }
            pkgs.iter().try_for_each(|p| package(p))
        }
        Request::CreateUser { user }
        | Request::RestartUserManager { user }
        | Request::EnableLinger { user } => user_name(user),
        Request::SetSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => {
            user_name(user)?;
            if !uids && !gids {
                return Err("set_subids needs uids, gids or both".into());
            }
            subid_count(*count)?;
            subid_start(*start, *count)
        }
        Request::SetSysctl { key, value } => sysctl(key, value),
        Request::PersistSysctls { settings } => {
            if settings.is_empty() {
                return Err("persist_sysctls needs at least one setting".into());
            }
            settings.iter().try_for_each(|(k, v)| sysctl(k, v))
        }
        Request::LoadModule { name } => module(name),
        Request::PersistModules { names: mods } => {
            if mods.is_empty() || mods.len() > allow::MODULES.len() {
                return Err(
                    "persist_modules needs between one and the allow-listed number of modules"
                        .into(),
                );
            }
            mods.iter().try_for_each(|m| module(m))
        }
        Request::WriteDelegation { controllers } => {
            if controllers.is_empty() {
                return Err("write_delegation needs at least one controller".into());
            }
            controllers.iter().try_for_each(|c| controller(c))
        }
        Request::InstallApparmorProfile { binary } => install_path(binary),
        Request::InstallK3s {
            version,
            sha256: sha,
            size,
            install_path: path,
        } => {
            k3s_version(version)?;
            sha256(sha)?;
            if *size == 0 || *size > MAX_K3S_BYTES {
                return Err(format!("size {size} is outside 1..={MAX_K3S_BYTES} bytes"));
            }
            install_path(path)
        }
    }
}

/// An account the helper acts for: a valid login name, and never root.
pub fn user_name(u: &str) -> Result<(), String> {
    if u == "root" {
        Err(
            "root is not an acceptable user name: rootless k3s runs as an unprivileged account"
                .into(),
        )
    } else if !names::is_user_name(u) {
        Err(format!("{u:?} is not a valid user name"))
    } else {
        Ok(())
    }
}

/// How many subordinate ids one range may hold.
pub fn subid_count(count: u32) -> Result<(), String> {
    let (min, max) = (SUBID_MIN_COUNT, allow::MAX_SUBID_COUNT);
    if count < min {
        Err(format!(
            "count {count} is outside {min} to {max}: rootless k3s needs at least {min}"
        ))
    } else if count > max {
        Err(format!(
            "count {count} is outside {min} to {max}: groundwork grants one user at most {max} ids ({} ranges of {min})",
            max / min
        ))
    } else {
        Ok(())
    }
}

/// Where a range of `count` subordinate ids may start: above the real ids, and not past the
/// end of the 32-bit id space (ids would wrap around to 0, root).
pub fn subid_start(start: u32, count: u32) -> Result<(), String> {
    if start < SUBID_MIN {
        return Err(format!(
            "start {start} overlaps the range of real user ids (below {SUBID_MIN})"
        ));
    }
    match start.checked_add(count) {
        Some(_) => Ok(()),
        None => Err(format!("the range {start} + {count} overflows 32-bit ids")),
    }
}

/// A sysctl on the allow-list, with a value in its shape and bounds.
pub fn sysctl(key: &str, value: &str) -> Result<(), String> {
    if !names::is_sysctl_key(key) {
        return Err(format!(
            "{key:?} is not a sysctl key (groundwork sets only those on its allow-list)"
        ));
    }
    if allow::sysctl(key).is_none() {
        return Err(format!(
            "groundwork does not manage {key:?}: it is not on the allow-list of sysctls that rootless k3s needs"
        ));
    }
    allow::parse_sysctl_value(key, value).map(|_| ())
}

pub fn package(p: &str) -> Result<(), String> {
    on_list(
        p,
        ("package", "installs"),
        names::is_package_name,
        allow::PACKAGES,
    )
}

pub fn module(m: &str) -> Result<(), String> {
    on_list(
        m,
        ("kernel module", "loads"),
        names::is_module_name,
        allow::MODULES,
    )
}

/// A well-formed name of a `what` that groundwork `does` (installs, loads), on its allow-list.
fn on_list(
    item: &str,
    (what, does): (&str, &str),
    well_formed: fn(&str) -> bool,
    allowed: &[&str],
) -> Result<(), String> {
    if !well_formed(item) {
        return Err(format!(
            "{item:?} is not a {what} name (groundwork {does} only those on its allow-list)"
        ));
    }
    if !allowed.contains(&item) {
        return Err(format!(
            "groundwork does not manage the {what} {item:?}: it is not on the allow-list of what rootless k3s needs"
        ));
    }
    Ok(())
}

pub fn controller(c: &str) -> Result<(), String> {
    if !allow::CGROUP_CONTROLLERS.contains(&c) {
        return Err(format!(
            "{c:?} is not a controller groundwork delegates ({})",
            allow::CGROUP_CONTROLLERS.join(", ")
        ));
    }
    Ok(())
}

pub fn install_path(p: &str) -> Result<(), String> {
    if !allow::is_allowed_install_path(p) {
        return Err(format!(
            "{p:?} is not an allowed k3s path (a file named k3s directly in {})",
            allow::K3S_DIRS.join(", ")
        ));
    }
    Ok(())
}

pub fn k3s_version(v: &str) -> Result<(), String> {
    if !names::is_k3s_version(v) {
        return Err(format!("{v:?} is not a k3s release tag"));
    }
    Ok(())
}

pub fn sha256(s: &str) -> Result<(), String> {
    if !names::is_sha256_hex(s) {
        return Err("sha256 must be 64 lower-case hex digits".into());
    }
    Ok(())
}
