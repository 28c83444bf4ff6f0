//! What the commands share: loading the spec, the engine's target, and reporting an error.

use crate::cli::args::Ctx;
use crate::engine::{Error, Target};
use crate::plan::{SavedPlan, SavedPlanError};
use crate::spec::{Spec, SpecChoice, SpecSource};
use crate::{exit, render};
use std::path::Path;

/// The spec a command works on, in the documented order (`crate::spec::resolve`); an invalid
/// or untrusted one, or a saved plan, is reported here.
pub fn load(ctx: &Ctx, path: Option<&Path>, json: bool) -> Result<(Spec, SpecSource), i32> {
    let choice = resolve(ctx, path, false).map_err(|e| fail(&e, json))?;
    if let Some(e) = choice.path().and_then(not_a_spec) {
        return Err(fail(&e, json));
    }
    crate::spec::choose(choice.path(), ctx.user.as_deref()).map_err(|e| fail(&Error::Spec(e), json))
}

/// Which spec file (if any) a command reads, checked for root's trust: `acting` for apply,
/// which refuses any file another user could have written.
pub fn resolve(ctx: &Ctx, path: Option<&Path>, acting: bool) -> Result<SpecChoice, Error> {
    let env = std::env::var_os(crate::spec::SPEC_ENV);
    let choice = crate::spec::resolve(path, env.as_deref(), &ctx.root)?;
    crate::spec::check_trusted(&choice, &ctx.root, acting).map_err(Error::UntrustedInput)
}

/// A plan saved by `plan --out`, or a damaged one, given where a spec belongs.
pub fn not_a_spec(path: &Path) -> Option<Error> {
    match SavedPlan::read_if_plan(path) {
        Ok(None) => None,
        Ok(Some(_)) => Some(Error::SavedPlan(SavedPlanError::NotASpec {
            path: path.display().to_string(),
        })),
        Err(e) => Some(Error::SavedPlan(e)),
    }
}

/// What the engine works on, from the global options and the loaded spec.
pub fn target<'a>(ctx: &'a Ctx, spec: &'a Spec, source: &'a SpecSource) -> Target<'a> {
    Target {
        root: &ctx.root,
        spec,
        source,
        executor: ctx.executor,
    }
}

/// Reports an error that stopped a command (as JSON on stdout too, for `--output json`: an
/// invalid spec as the document `validate --output json` prints) and returns its exit code.
pub fn fail(e: &Error, json: bool) -> i32 {
    eprintln!("error: {e}");
    if json {
        match e {
            Error::Spec(spec) => crate::outln!("{}", render::validation::json(Some(spec))),
            _ => crate::outln!(
                "{}",
                serde_json::json!({"error": {"kind": e.kind(), "message": e.to_string()}})
            ),
        }
    }
    exit::for_error(e)
}

/// `s` as one shell word, quoted only when it needs to be, for commands shown to be typed.
pub fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./-+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn quotes_only_what_a_shell_would_split_or_expand() {
        assert_eq!(shell_word("specs/site.yaml"), "specs/site.yaml");
        assert_eq!(shell_word("my spec.yaml"), "'my spec.yaml'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
