//! Writes whose effect needs a command afterwards (daemon-reload after the delegation drop-in,
//! apparmor_parser after a profile). A marker is recorded before the write and removed only
//! after the command succeeded, so that a failed or interrupted command is retried by the next
//! run even though the file is already up to date.

use super::error::{Done, VerbError};
use super::secure_fs;
use super::tools::run;
use std::path::{Path, PathBuf};

/// Root's state directory for pending commands.
pub const PENDING_DIR: &str = "/var/lib/groundwork/pending";

fn marker(path: &str) -> PathBuf {
    let name: String = path
        .trim_start_matches('/')
        .chars()
        .map(|c| if c == '/' { '.' } else { c })
        .collect();
    Path::new(PENDING_DIR).join(name)
}

/// Writes `content` to the root-owned `path` (mode `mode`) and, when it changed or an earlier
/// command is still pending, runs `then` in order.
pub fn write_then(
    path: &str,
    content: &str,
    mode: u32,
    then: &[(&str, &[&str])],
) -> Result<Done, VerbError> {
    let mark = marker(path);
    let pending = mark.exists();
    let old = secure_fs::read_existing(Path::new(path))
        .map_err(|e| VerbError::Refused(format!("{path}: {e}")))?;
    let differs = old.as_ref().is_none_or(|(c, _)| c != content.as_bytes());
    if (differs || pending) && !then.is_empty() {
        secure_fs::ensure_trusted_dir(Path::new(PENDING_DIR), 0o700)
            .and_then(|()| secure_fs::replace(&mark, b"pending\n", 0o600).map(|_| ()))
            .map_err(|e| VerbError::failed(format!("cannot record {}: {e}", mark.display())))?;
    }
    let changed = secure_fs::replace(Path::new(path), content.as_bytes(), mode)
        .map_err(|e| VerbError::failed(format!("cannot write {path}: {e}")))?;
    if changed || pending {
        for (program, args) in then {
            if let Err(e) = run(program, args, &[]) {
                return Err(VerbError::Failed {
                    msg: format!(
                        "{} {path}, but then {e}; the next run retries it",
                        if changed { "wrote" } else { "kept" }
                    ),
                    changed,
                });
            }
        }
        let _ = std::fs::remove_file(&mark);
    }
    Ok(match (changed, pending) {
        (true, _) => Done::changed(format!("wrote {path}")),
        (false, true) => Done::changed(format!("{path} was up to date; ran its pending command")),
        (false, false) => Done::unchanged(format!("{path} already up to date")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_flat_names() {
        assert_eq!(
            marker("/etc/systemd/system/user@.service.d/delegate.conf"),
            Path::new(
                "/var/lib/groundwork/pending/etc.systemd.system.user@.service.d.delegate.conf"
            )
        );
    }
}
