//! Argument validation for helper requests: pure, so that it can be property-tested and fuzzed.
//! Host-dependent checks (range overlap against /etc/subuid) happen at execution time.

use super::allow;
use super::request::Request;
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
        Request::AddSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => {
            user_ok(user)?;
            if !uids && !gids {
                return Err("add_subids needs uids, gids or both".into());
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
                if !names::CGROUP_CONTROLLERS.contains(&c.as_str()) {
                    return Err(format!("{c:?} is not a cgroup controller"));
                }
            }
            Ok(())
        }
        Request::InstallApparmorProfile { binary } => install_path_ok(binary),
        Request::InstallK3s {
            source,
            sha256,
            install_path,
        } => {
            if !names::is_clean_absolute_path(source) {
                return Err(format!("source {source:?} is not a clean absolute path"));
            }
            if !names::is_sha256_hex(sha256) {
                return Err("sha256 must be 64 lower-case hex digits".into());
            }
            install_path_ok(install_path)
        }
    }
}

fn sysctl_ok(key: &str, value: &str) -> Result<(), String> {
    if !names::is_sysctl_key(key) || !allow::SYSCTLS.contains(&key) {
        return Err(format!("sysctl {key:?} is not on the helper's allow-list"));
    }
    if !allow::is_numeric_sysctl_value(value) {
        return Err(format!("sysctl value {value:?} is not one or two integers"));
    }
    Ok(())
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
            "{p:?} is not an allowed k3s path (a file named k3s directly in /usr/local/bin, /usr/bin or /opt/k3s/bin)"
        ));
    }
    Ok(())
}
