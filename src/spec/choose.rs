//! Which spec and which user a command works on.

use super::error::SpecError;
use super::load::{SpecSource, load_default, load_file};
use super::types::Spec;
use super::validate::validate;
use std::path::Path;

/// Loads the spec file `resolve` chose, or the embedded default. The default targets the invoking
/// user when that user is not root (rootless k3s runs as you), and its own `k3s` account when
/// run as root. `--user` overrides either.
pub fn choose(
    path: Option<&Path>,
    user_override: Option<&str>,
) -> Result<(Spec, SpecSource), SpecError> {
    let (mut spec, source) = match path {
        Some(p) => load_file(p)?,
        None => {
            let (mut spec, mut source) = load_default();
            source.name = super::resolve::EMBEDDED_NAME.into();
            if let Some(name) = invoking_user_name() {
                spec.user.name = name;
                spec.user.create = false;
            }
            (spec, source)
        }
    };
    if let Some(name) = user_override {
        spec.user.name = name.to_string();
        spec.user.create = false;
        if let Some((_, msg, _)) = validate(&spec).into_iter().next() {
            return Err(SpecError::from_flag("--user", msg));
        }
    }
    Ok((spec, source))
}

/// The invoking user's name, or None for root (and for a uid with no name).
fn invoking_user_name() -> Option<String> {
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        return None;
    }
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
}
