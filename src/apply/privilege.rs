//! How privileged verbs run: in-process when groundwork is root, otherwise through
//! `sudo -n groundwork-helper` with the request line (and, for install_k3s, the binary's bytes)
//! on stdin.

use crate::privileged::{self, Kind, Request, Response};
use std::io::{Read, Write};
use std::path::Path;
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

    /// Runs a request; `payload` is the file whose bytes follow it (install_k3s).
    pub fn run(&self, payload: Option<&Path>, req: &Request) -> Result<(bool, String), String> {
        let mut file = match payload {
            Some(p) => Some(open_payload(p)?),
            None => None,
        };
        match self {
            Privilege::InProcess => {
                let mut empty = std::io::empty();
                let reader: &mut dyn Read = match file.as_mut() {
                    Some(f) => f,
                    None => &mut empty,
                };
                privileged::execute_as_root(req, reader)
                    .map(|d| (d.changed, d.msg))
                    .map_err(|e| e.to_string())
            }
            Privilege::Helper { path, user } => run_helper(path, user, req, file),
        }
    }
}

/// Opens a payload file without following a symlink.
fn open_payload(path: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

fn run_helper(
    helper: &str,
    user: &str,
    req: &Request,
    payload: Option<std::fs::File>,
) -> Result<(bool, String), String> {
    let sudo = ["/usr/bin/sudo", "/bin/sudo"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("sudo is not installed; run groundwork as root, or install sudo and the helper")?;
    let mut child = Command::new(sudo)
        .args(["-n", "--", helper])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {sudo}: {e}"))?;
    let mut line = serde_json::to_vec(req).expect("requests serialize");
    line.push(b'\n');
    // The helper may answer before reading everything (a refusal, or a binary already in
    // place) and close its end: a failed write is then no error of ours; its reply says why.
    let sent = child.stdin.take().map(|mut stdin| {
        stdin.write_all(&line)?;
        if let Some(mut f) = payload {
            std::io::copy(&mut f, &mut stdin)?;
        }
        Ok::<_, std::io::Error>(())
    });
    let out = child
        .wait_with_output()
        .map_err(|e| format!("sudo failed: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Response>(stdout.trim()) {
        Ok(r) if r.ok => Ok((r.changed, r.msg)),
        Ok(r) => Err(match r.kind {
            Kind::Refused => format!("the helper refused: {}", r.msg),
            _ if r.changed => format!("the helper failed after changing the host: {}", r.msg),
            _ => format!("the helper failed: {}", r.msg),
        }),
        Err(_) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let write_err = match sent {
                Some(Err(e)) => format!(" (sending the request: {e})"),
                _ => String::new(),
            };
            Err(format!(
                "cannot run the privileged helper through `sudo -n {helper}` ({}){write_err}.\n\
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
