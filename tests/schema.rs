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

/// The spec `validate` accepts or refuses: the example with `field: value` set in it.
fn validates(h: &Host, yaml: &str) -> bool {
    h.set_spec(yaml);
    let out = h.groundwork(&["validate", SPEC]);
    assert!(out.code == 0 || out.code == 1, "{}", out.report());
    out.code == 0
}

fn spec_with(extra: &str) -> String {
    format!("user: {{ name: k3s }}\nk3s: {{ version: v1.31.4+k3s1 }}\n{extra}")
}

fn num(schema: &serde_json::Value, pointer: &str) -> i64 {
    schema
        .pointer(pointer)
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("the schema has no number at {pointer}"))
}

fn words(schema: &serde_json::Value, pointer: &str) -> Vec<String> {
    schema
        .pointer(pointer)
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("the schema has no list at {pointer}"))
        .iter()
        .map(|v| v.as_str().expect("a word").to_string())
        .collect()
}

/// Every bound and list the schema states is the one `validate` holds the spec to: a value
/// at each bound validates, one past it does not, and so an editor flags what `validate`
/// refuses (issue #13, point 4).
#[test]
fn schema_bounds_and_lists_are_those_validate_checks() {
    let schema = Host::bare().groundwork(&["schema"]).json();
    let h = Host::bare();

    let count = "/$defs/SubidSpec/properties/count";
    let (lo, hi) = (
        num(&schema, &format!("{count}/minimum")),
        num(&schema, &format!("{count}/maximum")),
    );
    assert_eq!((lo, hi), (65_536, 16_777_216));
    for (n, ok) in [(lo, true), (hi, true), (lo - 1, false), (hi + 1, false)] {
        let spec = spec_with(&format!("subids: {{ count: {n} }}\n"));
        assert_eq!(validates(&h, &spec), ok, "count {n}");
    }

    let start = "/$defs/SubidStartSchema/anyOf/1";
    let (lo, hi) = (
        num(&schema, &format!("{start}/minimum")),
        num(&schema, &format!("{start}/maximum")),
    );
    for (n, ok) in [(lo, true), (hi, true), (lo - 1, false), (hi + 1, false)] {
        let spec = spec_with(&format!("subids: {{ start: {n}, count: 65536 }}\n"));
        assert_eq!(validates(&h, &spec), ok, "start {n}");
    }

    let sysctls = schema
        .pointer("/properties/sysctls/properties")
        .and_then(|p| p.as_object())
        .expect("the sysctl keys");
    let keys: Vec<&str> = sysctls.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        groundwork::allow::sysctl_keys().collect::<Vec<_>>(),
        "the schema names every sysctl groundwork manages, and no other"
    );
    for (key, forms) in sysctls {
        let Some(int) = forms["anyOf"]
            .as_array()
            .expect("forms")
            .iter()
            .find(|f| f["type"] == "integer")
        else {
            let spec = spec_with(&format!("sysctls: {{ {key}: \"0 2147483647\" }}\n"));
            assert!(validates(&h, &spec), "{key}");
            continue;
        };
        let (lo, hi) = (num(int, "/minimum"), num(int, "/maximum"));
        for (v, ok) in [(lo, true), (hi, true), (lo - 1, false), (hi + 1, false)] {
            let spec = spec_with(&format!("sysctls: {{ {key}: {v} }}\n"));
            assert_eq!(validates(&h, &spec), ok, "{key}: {v}");
        }
    }
    assert!(!validates(
        &h,
        &spec_with("sysctls: { kernel.core_pattern: 1 }\n")
    ));

    for (field, pointer, refused) in [
        ("modules", "/properties/modules/items/enum", "ext4"),
        ("packages", "/properties/packages/items/enum", "vim"),
        (
            "cgroup: { delegate",
            "/$defs/CgroupSpec/properties/delegate/items/enum",
            "hugetlb",
        ),
    ] {
        let all = words(&schema, pointer);
        let close = if field.contains('{') { " }" } else { "" };
        let list = |items: &[String]| format!("{field}: [{}]{close}\n", items.join(", "));
        assert!(validates(&h, &spec_with(&list(&all))), "{field}: {all:?}");
        assert!(
            !validates(&h, &spec_with(&list(&[refused.to_string()]))),
            "{field}: {refused}"
        );
        // uniqueItems: the same item twice is refused.
        let twice = [all[0].clone(), all[0].clone()];
        assert!(!validates(&h, &spec_with(&list(&twice))), "{field} twice");
    }

    for path in words(&schema, "/$defs/K3sSpec/properties/install_path/enum") {
        let spec = format!(
            "user: {{ name: k3s }}\nk3s: {{ version: v1.31.4+k3s1, install_path: {path} }}\n"
        );
        assert!(validates(&h, &spec), "{path}");
    }
    for version in words(&schema, "/$defs/K3sSpec/properties/version/examples") {
        let spec = format!("user: {{ name: k3s }}\nk3s: {{ version: {version} }}\n");
        assert!(validates(&h, &spec), "{version}");
    }
}
