//! The starter spec that `groundwork init` writes: the embedded default with all its comments,
//! under a header for a file of one's own, for the user asked for.

use super::load::{SpecSource, parse};
use super::types::DEFAULT_SPEC;

/// The header of a starter spec. The embedded default's own header speaks of itself and links
/// the schema relative to examples/, which a file elsewhere cannot use.
const HEADER: &str = "\
# yaml-language-server: $schema=groundwork.schema.json
#
# A host that runs k3s in rootless mode under one unprivileged account, written by
# `groundwork init` from groundwork's embedded default. Every key is described in
# groundwork-spec(5) (`groundwork man spec`). For checks as you type, write the schema
# beside this file: `groundwork schema > groundwork.schema.json`.
";

/// The starter spec's text, for `user` (the default's `k3s` when None). `Err` says why the
/// user cannot be the target (not a user name, root).
pub fn starter(user: Option<&str>) -> Result<String, String> {
    // The default's own header is its leading block of comments.
    let body_at = DEFAULT_SPEC
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let body = &DEFAULT_SPEC[body_at..];
    let Some(user) = user else {
        return Ok(format!("{HEADER}{body}"));
    };
    // Checked before it goes into YAML text, where another name could add keys of its own.
    if !crate::names::is_user_name(user) {
        return Err(format!(
            "{user:?} is not a user name: lower case letters, digits, `_` and `-`, starting with a letter or `_`"
        ));
    }
    const USER_BLOCK: &str = "\nuser:\n  name: k3s\n";
    assert!(
        body.contains(USER_BLOCK),
        "the embedded default names its user as `user:` then `  name: k3s`"
    );
    let with_name = |name: &str| SpecSource {
        name: "--user".into(),
        text: format!(
            "{HEADER}{}",
            body.replacen(USER_BLOCK, &format!("\nuser:\n  name: {name}\n"), 1)
        ),
    };
    // A plain scalar reads best; YAML reads some names (`null`) as something else, so those
    // are quoted.
    let plain = with_name(user);
    if matches!(parse(&plain), Ok(spec) if spec.user.name == user) {
        return Ok(plain.text);
    }
    let quoted = with_name(&format!("\"{user}\""));
    match parse(&quoted) {
        Ok(_) => Ok(quoted.text),
        Err(e) => Err(e
            .problems
            .into_iter()
            .next()
            .map_or_else(|| format!("{user:?} cannot be the target"), |p| p.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> crate::spec::Spec {
        parse(&SpecSource {
            name: "starter".into(),
            text: text.into(),
        })
        .expect("a starter spec is valid")
    }

    #[test]
    fn keeps_every_comment_of_the_default_below_its_header() {
        let text = starter(None).unwrap();
        assert!(text.starts_with(HEADER));
        let default_comments: Vec<&str> = DEFAULT_SPEC
            .lines()
            .skip_while(|l| l.starts_with('#'))
            .filter(|l| l.trim_start().starts_with('#'))
            .collect();
        assert!(!default_comments.is_empty());
        for c in default_comments {
            assert!(text.contains(c), "{c:?} is missing");
        }
        let (default, _) = crate::spec::load_default();
        assert_eq!(parsed(&text), default);
    }

    #[test]
    fn fills_in_the_user_and_keeps_create() {
        let spec = parsed(&starter(Some("bob")).unwrap());
        assert_eq!(spec.user.name, "bob");
        assert!(spec.user.create);
    }

    #[test]
    fn quotes_a_name_yaml_would_read_as_a_boolean() {
        for name in ["yes", "no", "true", "null", "on"] {
            let text = starter(Some(name)).unwrap();
            assert_eq!(parsed(&text).user.name, name, "{text}");
        }
    }

    #[test]
    fn refuses_root_and_non_names() {
        for bad in ["root", "Bob", "a b", "../x", ""] {
            assert!(starter(Some(bad)).is_err(), "{bad:?} was accepted");
        }
    }
}
