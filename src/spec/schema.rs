//! The JSON Schema of the spec, as committed in schema/groundwork.schema.json: generated from
//! the types, whose fields carry the allow-lists, bounds and patterns of `field_schemas`.

use super::types::Spec;
#[cfg(test)]
use serde_json::Value;

/// The JSON Schema of the spec, as committed in schema/groundwork.schema.json.
pub fn schema_json() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Spec)).expect("a schema always serializes")
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
