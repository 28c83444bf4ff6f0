//! The JSON Schema of the spec, as committed in schema/groundwork.schema.json: generated from
//! the types, whose fields carry the allow-lists, bounds and patterns of `field_schemas`; and
//! the way through it for the checks that walk it.

use super::path::Seg;
use super::static_json::Json;
use super::types::Spec;
use serde_json::Value;

/// The JSON Schema of the spec, generated from the types: what `groundwork schema` prints and
/// schema/groundwork.schema.json holds (tests/schema.rs keeps the two equal).
pub fn schema_json() -> String {
    serde_json::to_string_pretty(&generated()).expect("a schema always serializes")
}

fn generated() -> Value {
    serde_json::to_value(schemars::schema_for!(Spec)).expect("a schema is JSON")
}

/// The committed schema, as build.rs wrote it out: the spec's checks walk it. Not generated at
/// run time, nor parsed: either took more instructions than the rest of `drift`
/// (tests/bench/README.md), and every command loads a spec.
pub(super) fn spec_schema() -> &'static Json {
    static SCHEMA: Json = include!(concat!(env!("OUT_DIR"), "/spec_schema.rs"));
    &SCHEMA
}

/// Follows `$ref`s (`#/$defs/Name`) to the schema they name.
pub(super) fn resolve(mut s: &'static Json) -> &'static Json {
    let defs = spec_schema().get("$defs");
    while let Some(name) = s
        .get("$ref")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        match defs.and_then(|d| d.get(name)) {
            Some(target) => s = target,
            None => break,
        }
    }
    s
}

/// The schema of the field at `path`, through properties, map values, list items and the
/// branches of a choice.
pub(super) fn field(path: &[Seg]) -> Option<&'static Json> {
    let mut s = resolve(spec_schema());
    for seg in path {
        s = step(s, seg)?;
    }
    Some(s)
}

/// The schema of an object's property `name`.
pub(super) fn property(s: &'static Json, name: &str) -> Option<&'static Json> {
    s.get("properties")?.get(name)
}

/// The forms an `anyOf` or `oneOf` allows.
pub(super) fn choices(s: &'static Json) -> Option<&'static [Json]> {
    s.get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Json::as_array)
}

/// The JSON types a schema names (`type: [string, null]` names two).
pub(super) fn types(s: &'static Json) -> Vec<&'static str> {
    match s.get("type") {
        Some(Json::Str(t)) => vec![t],
        Some(Json::Arr(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The fields an object schema requires.
pub(super) fn required(s: &'static Json) -> impl Iterator<Item = &'static str> {
    s.get("required")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
}

fn step(s: &'static Json, seg: &Seg) -> Option<&'static Json> {
    let next = match seg {
        Seg::Key(k) => {
            property(s, k).or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
        }
        Seg::Index(_) => s.get("items"),
    };
    match next {
        Some(n) => Some(resolve(n)),
        None => choices(s)?.iter().find_map(|b| step(resolve(b), seg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names;
    use crate::spec::parse_duration;
    use regex_automata::meta::Regex;

    fn matches(pattern: &Value, s: &str) -> bool {
        Regex::new(pattern.as_str().expect("a pattern"))
            .expect("a valid pattern")
            .is_match(s)
    }

    fn field(pointer: &str) -> Value {
        let schema = serde_json::to_value(schemars::schema_for!(Spec)).expect("JSON");
        schema.pointer(pointer).cloned().expect(pointer)
    }

    /// build.rs wrote out the committed file, every value and field order kept.
    #[test]
    fn the_built_in_schema_is_the_committed_file() {
        let committed: Value =
            serde_json::from_str(include_str!("../../schema/groundwork.schema.json")).unwrap();
        assert!(*spec_schema() == committed);
        assert_eq!(
            serde_json::to_string(&spec_schema().to_value()).unwrap(),
            serde_json::to_string(&committed).unwrap()
        );
    }

    /// The patterns composed here say what `validate` says (the ones of `names` are tested
    /// there); the timeout's is looser, as its range is no pattern's business.
    #[test]
    fn field_patterns_agree_with_validate() {
        let sha = field("/$defs/K3sSource/properties/sha256/pattern");
        for s in [
            "auto",
            &"a".repeat(64),
            "Auto",
            "auto ",
            &"a".repeat(63),
            "",
        ] {
            let valid = s == "auto" || names::is_sha256_hex(s);
            assert_eq!(matches(&sha, s), valid, "{s:?}");
        }
        let timeout = field("/$defs/HealthSpec/properties/timeout/pattern");
        for s in [
            "300s", "5m", "1h", " 60 ", "+5s", "10", "s", "5 m", "1d", "-5s", "",
        ] {
            if parse_duration(s).is_some() {
                assert!(matches(&timeout, s), "{s:?}");
            }
        }
        for s in ["s", "5 m", "1d", "-5s", ""] {
            assert!(!matches(&timeout, s), "{s:?}");
        }
    }
}
