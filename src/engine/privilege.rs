//! How privileged verbs run: in-process when groundwork is root, otherwise through
//! `sudo -n groundwork-helper` with the request line (and, for install_k3s, the binary's bytes)
//! on stdin. The helper's reply says which kind of ending it was; when there is no reply, sudo
//! itself could not run the helper, and the error says how to set it up.

use super::op_error::{OpError, OpKind};
use crate::privileged::{self, Done, Kind, Request, Response};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

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

impl From<privileged::VerbError> for OpError {
    fn from(e: privileged::VerbError) -> Self {
        match e {
            privileged::VerbError::Refused(msg) => OpError {
                kind: OpKind::Refused,
                changed: false,
                msg,
            },
            privileged::VerbError::Failed { msg, changed } => OpError {
                kind: OpKind::Failed,
                changed,
                msg,
            },
        }
    }
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
    pub async fn run(&self, req: &Request, payload: Option<&Path>) -> Result<Done, OpError> {
        tracing::info!(verb = req.verb(), via = ?self, "privileged request");
        match self {
            Privilege::InProcess => {
                let req = req.clone();
                let payload: Option<PathBuf> = payload.map(Path::to_path_buf);
                // The verbs do blocking file and process work: off the async runtime.
                tokio::task::spawn_blocking(move || {
                    let mut empty = std::io::empty();
                    let mut file = match &payload {
                        Some(p) => Some(open_payload(p)?),
                        None => None,
                    };
                    let reader: &mut dyn std::io::Read = match file.as_mut() {
                        Some(f) => f,
                        None => &mut empty,
                    };
                    privileged::execute_as_root(&req, reader).map_err(OpError::from)
                })
                .await
                .map_err(|e| OpError::failed(format!("the privileged step panicked: {e}")))?
            }
            Privilege::Helper { path, user } => run_helper(path, user, req, payload).await,
        }
    }
}

/// Opens a payload file without following a symlink.
fn open_payload(path: &Path) -> Result<std::fs::File, OpError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| OpError::failed(format!("cannot open {}: {e}", path.display())))
}

/// Runs the helper's launcher, sends the request line (and the payload) on its stdin and closes
/// it, and collects its output. Returns the output and how sending went: the helper may answer
/// before reading everything (a refusal, or a binary already in place) and close its end, and a
/// failed write is then no error of ours: its reply says why.
async fn exchange(
    mut cmd: tokio::process::Command,
    req: &Request,
    payload: Option<tokio::fs::File>,
) -> std::io::Result<(std::process::Output, std::io::Result<()>)> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut line = serde_json::to_vec(req).expect("requests serialize");
    line.push(b'\n');
    // The pipe must close after the request: the helper reads to EOF to be sure nothing follows
    // it, and tokio's shutdown() leaves the descriptor open. The block owns stdin and drops it.
    let mut stdin = child.stdin.take().expect("piped");
    let sent = async move {
        stdin.write_all(&line).await?;
        if let Some(mut f) = payload {
            tokio::io::copy(&mut f, &mut stdin).await?;
        }
        stdin.flush().await
    }
    .await;
    Ok((child.wait_with_output().await?, sent))
}

async fn run_helper(
    helper: &str,
    user: &str,
    req: &Request,
    payload: Option<&Path>,
) -> Result<Done, OpError> {
    let sudo = ["/usr/bin/sudo", "/bin/sudo"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| OpError {
            kind: OpKind::Unavailable,
            changed: false,
            msg: "sudo is not installed; run groundwork as root, or install sudo and the helper"
                .into(),
        })?;
    let payload_file = match payload {
        Some(p) => Some(tokio::fs::File::from_std(open_payload(p)?)),
        None => None,
    };
    let mut cmd = tokio::process::Command::new(sudo);
    cmd.args(["-n", "--", helper]);
    let (out, sent) = exchange(cmd, req, payload_file)
        .await
        .map_err(|e| OpError::failed(format!("cannot run {sudo}: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Response>(stdout.trim()) {
        Ok(r) if r.ok => Ok(Done {
            changed: r.changed,
            msg: r.msg,
        }),
        Ok(r) => Err(OpError {
            kind: match r.kind {
                Kind::Refused => OpKind::Refused,
                _ => OpKind::Failed,
            },
            changed: r.changed,
            msg: match r.kind {
                Kind::Refused => format!("the helper refused: {}", r.msg),
                _ if r.changed => format!("the helper failed after changing the host: {}", r.msg),
                _ => format!("the helper failed: {}", r.msg),
            },
        }),
        Err(_) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let write_err = match sent {
                Err(e) => format!(" (sending the request: {e})"),
                Ok(()) => String::new(),
            };
            Err(OpError {
                kind: OpKind::Unavailable,
                changed: false,
                msg: format!(
                    "cannot run the privileged helper through `sudo -n {helper}` ({}){write_err}.\n\
                     groundwork needs root for this step. Either run it as root, or install the helper and allow {user} to run it:\n  \
                     install -o root -g root -m 0755 groundwork-helper {helper}\n  \
                     echo '{}' > /etc/sudoers.d/groundwork && visudo -cf /etc/sudoers.d/groundwork\n\
                     (`groundwork helper sudoers {user}` prints that line.)",
                    stderr.trim(),
                    sudoers_line(user, helper)
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for `sudo -n groundwork-helper` (no sudo here): like the helper, it reads
    /// stdin to EOF before it answers. The request must arrive whole and the pipe must close;
    /// an agent that keeps it open waits forever (in the VM, the helper's 30 s timeout).
    #[tokio::test]
    async fn the_request_arrives_whole_and_stdin_closes() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let got = dir.path().join("request");
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(r#"cat >"$0" && printf '{"ok":true,"changed":false,"kind":"done","msg":"read"}'"#)
            .arg(&got);
        let req = Request::LoadModule { name: "tun".into() };
        let (out, sent) = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            exchange(cmd, &req, None),
        )
        .await
        .expect("the stand-in saw EOF and answered")
        .expect("it ran");
        sent.expect("the request was sent");
        assert!(out.status.success());
        let line = std::fs::read_to_string(&got).expect("what it read");
        assert_eq!(line, format!("{}\n", serde_json::to_string(&req).unwrap()));
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"msg\":\"read\""));
    }
}
