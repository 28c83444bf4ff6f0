//! The small commands: validate, the sudoers line, and the internal write-user-file.

use crate::exit;
use std::path::Path;

pub fn validate(path: &Path) -> i32 {
    match crate::spec::load_file(path) {
        Ok((spec, _)) => {
            crate::outln!(
                "{}: valid (user {}, k3s {})",
                path.display(),
                spec.user.name,
                spec.k3s.version
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("error: invalid spec\n{e}");
            exit::ERROR
        }
    }
}

pub fn sudoers(user: &str, helper: &str) -> i32 {
    if !crate::names::is_user_name(user) {
        eprintln!("error: {user:?} is not a valid user name");
        return exit::ERROR;
    }
    crate::outln!("{}", crate::engine::privilege::sudoers_line(user, helper));
    exit::OK
}

pub fn write_user_file(path: &Path, remove: bool) -> i32 {
    match crate::host::session::write_user_file_from_stdin(path, remove) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            exit::ERROR
        }
    }
}
