//! `groundwork init [FILE]`: writes a starter spec to edit, then says what to run next.

use super::common::shell_word;
use crate::exit;
use std::path::Path;

pub fn run(file: &Path, user: Option<&str>, force: bool) -> i32 {
    let text = match crate::spec::starter(user) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --user: {e}");
            return exit::ERROR;
        }
    };
    let shown = file.display();
    match file.symlink_metadata() {
        Ok(m) if m.is_dir() => {
            eprintln!(
                "error: {shown} is a directory; name a file in it, such as `groundwork init {}`",
                shell_word(&file.join("groundwork.yaml").display().to_string())
            );
            return exit::ERROR;
        }
        Ok(_) if !force => {
            eprintln!(
                "error: {shown} already exists; nothing was written. Pass --force to replace it, or name another file (`groundwork init FILE`)."
            );
            return exit::ERROR;
        }
        _ => {}
    }
    // A spec holds no secret, and root acts only on one that root alone can write: 0644.
    if let Err(e) = crate::atomic::write_new_file(file, text.as_bytes(), 0o644) {
        eprintln!("error: cannot write {shown}: {e}");
        return exit::ERROR;
    }
    let spec = crate::spec::parse(&crate::spec::SpecSource {
        name: shown.to_string(),
        text,
    })
    .expect("a starter spec is valid (src/spec/starter.rs tests it)");
    let arg = shell_word(&shown.to_string());
    crate::outln!(
        "Wrote {shown}: a starter spec for user {} (k3s {}).\n\
         \n\
         Next:\n  \
         1. Edit it; every key is described in `groundwork man spec`.\n  \
         2. groundwork validate {arg}\n  \
         3. groundwork plan {arg}\n\
         \n\
         Installed as {}, it is the spec that commands use when none is named.",
        spec.user.name,
        spec.k3s.version,
        crate::spec::SYSTEM_SPEC
    );
    exit::OK
}
