//! Which spec a command uses, in one order: the file named on the command line, then
//! `$GROUNDWORK_SPEC`, then the host's `/etc/groundwork/spec.yaml` when it exists, then the
//! embedded default. README ("Which spec") and groundwork(1) document the same order.
//!
//! Under `--root DIR` the system spec is `DIR/etc/groundwork/spec.yaml`: it belongs to the host
//! being observed, like every other file of that host, and a captured tree must not be judged
//! against the spec of the machine that reads it.

use super::error::SpecError;
use super::load::SpecSource;
use crate::host::HostRoot;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The variable that names a spec when the command line does not.
pub const SPEC_ENV: &str = "GROUNDWORK_SPEC";
/// The host's own spec, as the Ansible play and the drift timer install it.
pub const SYSTEM_SPEC: &str = "/etc/groundwork/spec.yaml";
/// How reports name the embedded default (examples/rootless-k3s.yaml).
pub const EMBEDDED_NAME: &str = "the embedded default spec";

/// Where the spec comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecChoice {
    /// Named on the command line.
    Argument(PathBuf),
    /// Named by `$GROUNDWORK_SPEC`.
    Environment(PathBuf),
    /// The host's `/etc/groundwork/spec.yaml` (under `--root`, the tree's).
    System(PathBuf),
    /// None of those: the embedded default.
    Embedded,
}

impl SpecChoice {
    /// The file to read; None for the embedded default.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SpecChoice::Argument(p) | SpecChoice::Environment(p) | SpecChoice::System(p) => Some(p),
            SpecChoice::Embedded => None,
        }
    }
}

/// Whether a spec is the embedded default (also when a saved plan carries it).
pub fn is_embedded(source: &SpecSource) -> bool {
    source.name == EMBEDDED_NAME
}

/// Picks the spec. `env` is the value of `$GROUNDWORK_SPEC` (an empty value counts as unset).
/// A variable that names a missing file is an error, never a silent fall-through to the next
/// source: the user asked for that file.
pub fn resolve(
    argument: Option<&Path>,
    env: Option<&OsStr>,
    root: &HostRoot,
) -> Result<SpecChoice, SpecError> {
    if let Some(p) = argument {
        return Ok(SpecChoice::Argument(p.to_path_buf()));
    }
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        let path = PathBuf::from(v);
        if path.symlink_metadata().is_err() {
            return Err(SpecError::from_flag(
                SPEC_ENV,
                format!(
                    "names {}, which does not exist; set it to a spec file, or unset it",
                    path.display()
                ),
            ));
        }
        tracing::info!(spec = %path.display(), "spec from {SPEC_ENV}");
        return Ok(SpecChoice::Environment(path));
    }
    // A system spec that cannot even be looked at (EACCES) counts as present, so that reading
    // it reports the problem instead of planning against another spec.
    if root.exists(SYSTEM_SPEC).unwrap_or(true) {
        let path = root.path(SYSTEM_SPEC);
        tracing::info!(spec = %path.display(), "spec from the host's {SYSTEM_SPEC}");
        return Ok(SpecChoice::System(path));
    }
    Ok(SpecChoice::Embedded)
}

/// Whether root may use this spec. As root on the live host a spec that another user could
/// have written would let that user choose what root does (or what root is told), so: `apply`
/// refuses such a file wherever it came from, and every command refuses one that nobody named
/// on its command line (`$GROUNDWORK_SPEC`, which can be inherited, and the system spec).
/// `Ok` holds the choice to read: a checked file by its real path, so that no link in the path
/// given can be swapped between the check and the read. `Err` holds what is wrong with the file.
pub fn check_trusted(
    choice: &SpecChoice,
    root: &HostRoot,
    acting: bool,
) -> Result<SpecChoice, String> {
    if !root.is_live() || !nix::unistd::geteuid().is_root() {
        return Ok(choice.clone());
    }
    let (path, origin) = match choice {
        SpecChoice::Argument(p) if acting => (p, None),
        SpecChoice::Environment(p) => (p, Some(format!("the spec from {SPEC_ENV}"))),
        SpecChoice::System(p) => (p, Some("the system spec".to_string())),
        SpecChoice::Argument(_) | SpecChoice::Embedded => return Ok(choice.clone()),
    };
    let real = crate::privileged::secure_fs::check_root_input(path).map_err(|e| match origin {
        Some(origin) => format!("{origin}, {}: {e}", path.display()),
        None => format!("{}: {e}", path.display()),
    })?;
    Ok(match choice {
        SpecChoice::Argument(_) => SpecChoice::Argument(real),
        SpecChoice::Environment(_) => SpecChoice::Environment(real),
        _ => SpecChoice::System(real),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree() -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path());
        (dir, root)
    }

    fn system_spec(root: &HostRoot) -> PathBuf {
        let path = root.path(SYSTEM_SPEC);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "user: { name: k3s }\n").unwrap();
        path
    }

    #[test]
    fn argument_then_environment_then_system_then_embedded() {
        let (dir, root) = tree();
        let named = dir.path().join("named.yaml");
        std::fs::write(&named, "x").unwrap();
        let env = named.as_os_str();
        assert_eq!(resolve(None, None, &root).unwrap(), SpecChoice::Embedded);
        let system = system_spec(&root);
        assert_eq!(
            resolve(None, None, &root).unwrap(),
            SpecChoice::System(system.clone())
        );
        assert_eq!(
            resolve(None, Some(env), &root).unwrap(),
            SpecChoice::Environment(named.clone())
        );
        assert_eq!(
            resolve(Some(Path::new("cli.yaml")), Some(env), &root).unwrap(),
            SpecChoice::Argument("cli.yaml".into())
        );
        // An empty variable is unset, as shells make it easy to export one.
        assert_eq!(
            resolve(None, Some(OsStr::new("")), &root).unwrap(),
            SpecChoice::System(system)
        );
    }

    #[test]
    fn a_variable_naming_a_missing_file_is_an_error() {
        let (dir, root) = tree();
        let missing = dir.path().join("missing.yaml");
        let e = resolve(None, Some(missing.as_os_str()), &root).unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with("GROUNDWORK_SPEC: names "), "{shown}");
        assert!(
            shown.contains("set it to a spec file, or unset it"),
            "{shown}"
        );
    }

    #[test]
    fn root_refuses_a_system_spec_another_user_could_write() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to own the file as another user");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.yaml");
        std::fs::write(&path, "x").unwrap();
        let live = HostRoot::new("/");
        // Root's own file, mode 0644, in root's 0700 temporary directory: trusted.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        check_trusted(&SpecChoice::System(path.clone()), &live, false).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let e = check_trusted(&SpecChoice::System(path.clone()), &live, false).unwrap_err();
        assert!(e.starts_with("the system spec, "), "{e}");
        let e = check_trusted(&SpecChoice::Environment(path.clone()), &live, false).unwrap_err();
        assert!(e.starts_with("the spec from GROUNDWORK_SPEC, "), "{e}");
        // A file named on the command line is root's own choice, except for apply.
        check_trusted(&SpecChoice::Argument(path.clone()), &live, false).unwrap();
        assert!(check_trusted(&SpecChoice::Argument(path.clone()), &live, true).is_err());
        // A captured tree is only read.
        check_trusted(&SpecChoice::System(path), &HostRoot::new(dir.path()), true).unwrap();
    }

    /// Found in review: root checked the real file behind a link, then read the path it was
    /// given, through a link that its owner swapped in between to their own spec. Root now
    /// reads the real path it checked, which no other user can change.
    #[test]
    fn root_reads_the_file_it_checked_not_a_link_another_user_can_swap() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("==== SKIPPED (needs root): a link owned by another user ====");
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the tests as root"
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("spec.yaml");
        std::fs::write(&real, "x").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
        // mallory's own directory (nobody's uid), with her link to root's spec.
        let hers = tempfile::tempdir().unwrap();
        std::fs::set_permissions(hers.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(hers.path(), Some(65534), Some(65534)).unwrap();
        let link = hers.path().join("k3s.yaml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        let live = HostRoot::new("/");
        let real = std::fs::canonicalize(&real).unwrap();
        for (choice, acting) in [
            (SpecChoice::Argument(link.clone()), true),
            (SpecChoice::Environment(link.clone()), false),
            (SpecChoice::System(link.clone()), false),
        ] {
            let checked = check_trusted(&choice, &live, acting).unwrap();
            assert_eq!(checked.path(), Some(real.as_path()), "{choice:?}");
        }
        // Not checked (plan of a file root named): read as given.
        let named = SpecChoice::Argument(link.clone());
        assert_eq!(check_trusted(&named, &live, false).unwrap(), named);
    }
}
