//! The committed JSON Schema is the one the spec types generate, and the examples are valid.

mod common;
use common::*;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn committed_schema_is_current() {
    let committed = std::fs::read_to_string(Path::new(ROOT).join("schema/groundwork.schema.json"))
        .expect("schema/groundwork.schema.json");
    let out = Host::bare().groundwork(&["schema"]);
    out.code(0);
    assert!(
        out.stdout.trim_end() == committed.trim_end(),
        "schema/groundwork.schema.json is stale: the spec types changed. Regenerate it with\n\n    \
         cargo run -- schema > schema/groundwork.schema.json\n\nand commit it with the change."
    );
}

#[test]
fn schema_is_json_schema_for_the_spec() {
    let out = Host::bare().groundwork(&["schema"]);
    let schema = out.json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|v| v.as_str().expect("a name"))
        .collect();
    assert_eq!(required, ["user", "k3s"]);
}

#[test]
fn every_example_is_valid() {
    let mut seen = 0;
    for entry in std::fs::read_dir(Path::new(ROOT).join("examples")).expect("examples/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        seen += 1;
        let out = Host::bare().groundwork(&["validate", path.to_str().expect("UTF-8")]);
        out.code(0);
        assert!(
            out.stdout
                .ends_with(": valid (user k3s, k3s v1.36.4+k3s1)\n"),
            "{}",
            out.report()
        );
        // The modeline that editors follow must point at the committed schema.
        let text = std::fs::read_to_string(&path).expect("the example");
        let modeline = text
            .lines()
            .find_map(|l| l.strip_prefix("# yaml-language-server: $schema="))
            .unwrap_or_else(|| panic!("{} has no schema modeline", path.display()));
        let schema = path.parent().expect("a parent").join(modeline);
        assert!(schema.is_file(), "{} points at {modeline}", path.display());
    }
    assert!(seen > 0, "no examples/*.yaml");
}
