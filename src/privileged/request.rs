//! The helper's request: one line of JSON on stdin, parsed into a closed set of verbs. Unknown
//! verbs and unknown fields are refused by serde before any code looks at the values. Only
//! `install_k3s` has more: exactly `size` bytes of the binary follow the line.

use super::error::Kind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Request lines larger than this are refused unread: no legitimate request comes near it.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The largest k3s binary the helper accepts (the real one is about 70 MB).
pub const MAX_K3S_BYTES: u64 = 512 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "verb", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    InstallPackages {
        names: Vec<String>,
    },
    CreateUser {
        user: String,
    },
    /// After it, the user holds exactly this one range in each file selected (their other lines
    /// there are replaced), so that growing a range never piles a second one on top.
    SetSubids {
        user: String,
        start: u32,
        count: u32,
        uids: bool,
        gids: bool,
    },
    SetSysctl {
        key: String,
        value: String,
    },
    PersistSysctls {
        settings: BTreeMap<String, String>,
    },
    LoadModule {
        name: String,
    },
    PersistModules {
        names: Vec<String>,
    },
    WriteDelegation {
        controllers: Vec<String>,
    },
    RestartUserManager {
        user: String,
    },
    EnableLinger {
        user: String,
    },
    InstallApparmorProfile {
        binary: String,
    },
    /// Installs the `size` bytes that follow the request line, if their sha256 is `sha256` and
    /// root allows that sha256 at the k3s path (users), as release `version`.
    InstallK3s {
        version: String,
        sha256: String,
        size: u64,
        install_path: String,
    },
}

impl Request {
    pub fn verb(&self) -> &'static str {
        match self {
            Request::InstallPackages { .. } => "install_packages",
            Request::CreateUser { .. } => "create_user",
            Request::SetSubids { .. } => "set_subids",
            Request::SetSysctl { .. } => "set_sysctl",
            Request::PersistSysctls { .. } => "persist_sysctls",
            Request::LoadModule { .. } => "load_module",
            Request::PersistModules { .. } => "persist_modules",
            Request::WriteDelegation { .. } => "write_delegation",
            Request::RestartUserManager { .. } => "restart_user_manager",
            Request::EnableLinger { .. } => "enable_linger",
            Request::InstallApparmorProfile { .. } => "install_apparmor_profile",
            Request::InstallK3s { .. } => "install_k3s",
        }
    }

    /// The user a per-user verb acts for; host-wide verbs have none.
    pub fn target_user(&self) -> Option<&str> {
        match self {
            Request::CreateUser { user }
            | Request::SetSubids { user, .. }
            | Request::RestartUserManager { user }
            | Request::EnableLinger { user } => Some(user),
            _ => None,
        }
    }

    /// How many bytes follow the request line.
    pub fn payload_size(&self) -> u64 {
        match self {
            Request::InstallK3s { size, .. } => *size,
            _ => 0,
        }
    }
}

/// The helper's one line of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub ok: bool,
    pub changed: bool,
    pub kind: Kind,
    pub msg: String,
}

/// Parses a request line; the error text is safe to show (it never echoes huge input).
pub fn parse(bytes: &[u8]) -> Result<Request, String> {
    if bytes.len() > MAX_REQUEST_BYTES {
        return Err(format!(
            "request of {} bytes refused: the limit is {MAX_REQUEST_BYTES}",
            bytes.len()
        ));
    }
    if bytes.contains(&0) {
        return Err("request refused: it contains NUL bytes".into());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("request refused: {e}"))
}
