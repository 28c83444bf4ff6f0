//! The small commands: validate, the sudoers line, and the internal write-user-file.

use super::common::not_a_spec;
use crate::cli::args::ReportOutput;
use crate::spec::SpecError;
use crate::{exit, render};
use std::path::Path;

pub fn validate(path: &Path, output: ReportOutput) -> i32 {
    let json = output == ReportOutput::Json;
    let result = match not_a_spec(path) {
        // A saved plan is no spec: say what it is rather than list its fields as unknown.
        Some(e) => {
            eprintln!("error: {e}");
            Err(SpecError::whole(&path.display().to_string(), e.to_string()))
        }
        None => crate::spec::load_file(path).inspect_err(|e| eprintln!("error: invalid spec\n{e}")),
    };
    match (result, json) {
        (Ok(_), true) => crate::outln!("{}", render::validation::json(None)),
        (Ok((spec, _)), false) => crate::outln!(
            "{}: valid (user {}, k3s {})",
            path.display(),
            spec.user.name,
            spec.k3s.version
        ),
        (Err(e), true) => {
            crate::outln!("{}", render::validation::json(Some(&e)));
            return exit::ERROR;
        }
        (Err(_), false) => return exit::ERROR,
    }
    exit::OK
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
