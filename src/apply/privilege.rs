//! How privileged verbs run: in-process when groundwork is root, otherwise through
//! `sudo -n groundwork-helper` with the request on stdin.

use crate::privileged::{self, Request, Response};
use std::io::Write;
use std::process::{Command, Stdio};

pub const DEFAULT_HELPER: &str = "/usr/local/libexec/groundwork-helper";

#[derive(Debug, Clone)]
pub enum Privilege {
    InProcess,
    Helper { path: String, user: String },
}

/// The sudoers line that lets `user` run exactly the helper, with no password.
pub fn sudoers_line(user: &str, helper: &str) -> String {
    format!("{user} ALL=(root) NOPASSWD: {helper}")
}

impl Privilege {
    pub fn detect(helper: &str) -> Self {
        let uid = nix::unistd::getuid();
        if uid.is_root() {
            Privilege::InProcess
        } else {
            let user = nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| uid.to_string());
            Privilege::Helper {
                path: helper.to_string(),
                user,
            }
        }
    }

    pub fn run(&self, req: &Request) -> Result<(bool, String), String> {
        match self {
            Privilege::InProcess => privileged::execute(req),
            Privilege::Helper { path, user } => run_helper(path, user, req),
        }
    }
}

fn run_helper(helper: &str, user: &str, req: &Request) -> Result<(bool, String), String> {
    let sudo = ["/usr/bin/sudo", "/bin/sudo"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("sudo is not installed; run groundwork as root, or install sudo and the helper")?;
    let mut child = Command::new(sudo)
        .args(["-n", "--", helper])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {sudo}: {e}"))?;
    let body = serde_json::to_vec(req).expect("requests serialize");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("sudo failed: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Response>(stdout.trim()) {
        Ok(r) if r.ok => Ok((r.changed, r.msg)),
        Ok(r) => Err(format!("the helper refused or failed: {}", r.msg)),
        Err(_) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "cannot run the privileged helper through `sudo -n {helper}` ({}).\n\
                 groundwork needs root for this step. Either run it as root, or install the helper and allow {user} to run it:\n  \
                 install -o root -g root -m 0755 groundwork-helper {helper}\n  \
                 echo '{}' > /etc/sudoers.d/groundwork && visudo -cf /etc/sudoers.d/groundwork\n\
                 (`groundwork helper sudoers {user}` prints that line.)",
                stderr.trim(),
                sudoers_line(user, helper)
            ))
        }
    }
}
