//! Argument validation for helper requests: pure, so that it can be property-tested and fuzzed.
//! What depends on the host (ranges against /etc/subuid, values against what the host has, root's
//! policy) is checked when the verb runs.

use super::request::{MAX_K3S_BYTES, Request};
use crate::allow;
use crate::names;
use crate::spec::{SUBID_MIN, SUBID_MIN_COUNT};

pub fn validate(req: &Request) -> Result<(), String> {
    let user_ok = |u: &str| -> Result<(), String> {
        if u == "root" || !names::is_user_name(u) {
            Err(format!("{u:?} is not an acceptable user name"))
        } else {
            Ok(())
        }
    };
    match req {
        Request::InstallPackages { names: pkgs } => {
            if pkgs.is_empty() || pkgs.len() > allow::PACKAGES.len() {
                return Err("install_packages needs between one and a few package names".into());
            }
            for p in pkgs {
                if !names::is_package_name(p) || !allow::PACKAGES.contains(&p.as_str()) {
                    return Err(format!("package {p:?} is not on the helper's allow-list"));
                }
            }
            Ok(())
        }
        Request::CreateUser { user }
        | Request::RestartUserManager { user }
        | Request::EnableLinger { user } => user_ok(user),
        Request::SetSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => {
            user_ok(user)?;
            if !uids && !gids {
                return Err("set_subids needs uids, gids or both".into());
            }
            if *count < SUBID_MIN_COUNT || *count > allow::MAX_SUBID_COUNT {
                return Err(format!(
                    "count {count} is outside {SUBID_MIN_COUNT}..={}",
                    allow::MAX_SUBID_COUNT
                ));
            }
            if *start < SUBID_MIN {
                return Err(format!(
                    "start {start} is below {SUBID_MIN}, among real user ids"
                ));
            }
            start
                .checked_add(*count)
                .ok_or_else(|| format!("range {start}+{count} overflows"))?;
            Ok(())
        }
        Request::SetSysctl { key, value } => sysctl_ok(key, value),
        Request::PersistSysctls { settings } => {
            if settings.is_empty() {
                return Err("persist_sysctls needs at least one setting".into());
            }
            settings.iter().try_for_each(|(k, v)| sysctl_ok(k, v))
        }
        Request::LoadModule { name } => module_ok(name),
        Request::PersistModules { names: mods } => {
            if mods.is_empty() || mods.len() > allow::MODULES.len() {
                return Err(
                    "persist_modules needs between one and the allow-listed number of modules"
                        .into(),
                );
            }
            mods.iter().try_for_each(|m| module_ok(m))
        }
        Request::WriteDelegation { controllers } => {
            if controllers.is_empty() {
                return Err("write_delegation needs at least one controller".into());
            }
            for c in controllers {
                if !allow::CGROUP_CONTROLLERS.contains(&c.as_str()) {
                    return Err(format!(
                        "{c:?} is not a controller groundwork delegates ({})",
                        allow::CGROUP_CONTROLLERS.join(", ")
                    ));
                }
            }
            Ok(())
        }
        Request::InstallApparmorProfile { binary } => install_path_ok(binary),
        Request::InstallK3s {
            version,
            sha256,
            size,
            install_path,
        } => {
            if !names::is_k3s_version(version) {
                return Err(format!("{version:?} is not a k3s release tag"));
            }
            if !names::is_sha256_hex(sha256) {
                return Err("sha256 must be 64 lower-case hex digits".into());
            }
            if *size == 0 || *size > MAX_K3S_BYTES {
                return Err(format!("size {size} is outside 1..={MAX_K3S_BYTES} bytes"));
            }
            install_path_ok(install_path)
        }
    }
}

fn sysctl_ok(key: &str, value: &str) -> Result<(), String> {
    if !names::is_sysctl_key(key) || allow::sysctl(key).is_none() {
        return Err(format!("sysctl {key:?} is not on the helper's allow-list"));
    }
    allow::parse_sysctl_value(key, value).map(|_| ())
}

fn module_ok(name: &str) -> Result<(), String> {
    if !names::is_module_name(name) || !allow::MODULES.contains(&name) {
        return Err(format!("module {name:?} is not on the helper's allow-list"));
    }
    Ok(())
}

fn install_path_ok(p: &str) -> Result<(), String> {
    if !allow::is_allowed_install_path(p) {
        return Err(format!(
            "{p:?} is not an allowed k3s path (a file named k3s directly in {})",
            allow::K3S_DIRS.join(", ")
        ));
    }
    Ok(())
}
