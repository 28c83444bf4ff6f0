//! How privileged verbs run: in-process when groundwork is root, otherwise through
//! `sudo -n groundwork-helper` with the request line (and, for install_k3s, the binary's bytes)
//! on stdin. The helper's reply says which kind of ending it was; when there is no reply, sudo
//! itself could not run the helper, and the error says how to set it up.

use super::op_error::{OpError, OpKind};
use crate::privileged::{self, Done, Kind, Request, Response};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// Where the groundwork package installs the helper.
pub const PACKAGED_HELPER: &str = "/usr/libexec/groundwork/groundwork-helper";
/// Where the README's install from source puts it.
pub const SOURCE_HELPER: &str = "/usr/local/libexec/groundwork-helper";

/// The helper to run when none is named: the packaged one, else the one installed from source,
/// whichever is root's (a regular file owned by root and writable by root alone, in directories
/// only root can change). A copy that another user could have replaced is never chosen: sudo
/// would run it as root. With neither installed, the source install's path, which the messages
/// then name: a package always brings its helper.
pub fn default_helper() -> &'static str {
    first_roots(&[PACKAGED_HELPER, SOURCE_HELPER]).unwrap_or(SOURCE_HELPER)
}

/// The first of `candidates` that is root's.
fn first_roots<'a>(candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .copied()
        .find(|p| privileged::k3s_install::is_roots(Path::new(p)).unwrap_or(false))
}

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
                     groundwork needs root for this step. Either run it as root, or {}allow {user} to run it:\n  \
                     echo '{}' > /etc/sudoers.d/groundwork && visudo -cf /etc/sudoers.d/groundwork\n\
                     (`groundwork helper sudoers {user}` prints that line.)",
                    stderr.trim(),
                    install_hint(helper),
                    sudoers_line(user, helper)
                ),
            })
        }
    }
}

/// How to put the helper in place, when it is not there as root's: nothing when it is.
fn install_hint(helper: &str) -> String {
    if first_roots(&[helper]).is_some() {
        String::new()
    } else if helper == PACKAGED_HELPER {
        format!("reinstall the groundwork package (it brings {helper}) and ")
    } else {
        format!(
            "install the helper (the groundwork package brings it as {PACKAGED_HELPER}; from a source build: \
             `install -o root -g root -m 0755 groundwork-helper {helper}`) and "
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default helper is the first candidate that root alone controls: a copy that a user
    /// could have written or swapped (its file, or a directory above it) is passed over.
    #[test]
    fn the_default_helper_is_the_first_that_is_roots() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            eprintln!("==== SKIPPED (needs root): choosing the helper by its owner ====");
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the tests as root"
            );
            return;
        }
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        };
        // Under /root: every directory above is root's and closed to others.
        let dir = tempfile::tempdir_in("/root").unwrap();
        let helper = |name: &str, m: u32| {
            let p = dir.path().join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            mode(&p, m);
            p.to_str().unwrap().to_string()
        };
        let good = helper("good", 0o755);
        let group_writable = helper("group-writable", 0o775);
        let others = helper("others", 0o755);
        nix::unistd::chown(
            Path::new(&others),
            Some(nix::unistd::Uid::from_raw(65534)),
            None,
        )
        .unwrap();
        let open_dir = dir.path().join("open");
        std::fs::create_dir(&open_dir).unwrap();
        mode(&open_dir, 0o777);
        let in_open_dir = open_dir.join("helper");
        std::fs::write(&in_open_dir, "#!/bin/sh\n").unwrap();
        mode(&in_open_dir, 0o755);
        let in_open_dir = in_open_dir.to_str().unwrap().to_string();
        let missing = dir.path().join("missing").to_str().unwrap().to_string();

        assert_eq!(first_roots(&[&good, &missing]), Some(good.as_str()));
        assert_eq!(first_roots(&[&missing, &good]), Some(good.as_str()));
        for bad in [&group_writable, &others, &in_open_dir] {
            assert_eq!(first_roots(&[bad, &good]), Some(good.as_str()), "{bad}");
            assert_eq!(first_roots(&[bad]), None, "{bad}");
        }
        assert_eq!(first_roots(&[&missing]), None);
        // Only the two fixed paths are ever candidates, and the answer is one of them.
        assert!([PACKAGED_HELPER, SOURCE_HELPER].contains(&default_helper()));
    }

    /// The message when sudo cannot run the helper says what is missing: the helper only when
    /// it is not root's, and always the rule.
    #[test]
    fn the_install_hint_names_the_helper_only_when_it_is_missing() {
        let hint = install_hint("/nonexistent/groundwork-helper");
        assert!(
            hint.contains(
                "`install -o root -g root -m 0755 groundwork-helper /nonexistent/groundwork-helper`"
            ),
            "{hint}"
        );
        assert!(hint.contains(PACKAGED_HELPER), "{hint}");
        if nix::unistd::geteuid().is_root() {
            // /bin/sh's target is root's on any host these tests run on.
            let sh = std::fs::canonicalize("/bin/sh").unwrap();
            assert_eq!(install_hint(sh.to_str().unwrap()), "");
        }
    }

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
