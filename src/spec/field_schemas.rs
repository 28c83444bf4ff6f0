//! How the spec's fields appear in the JSON Schema: the allow-lists and bounds of
//! `crate::allow` and the patterns of `crate::names`, laid onto the fields the types derive,
//! so that an editor flags what `validate` refuses. What a schema cannot say (a timeout's
//! range, ids that must fit in 32 bits together) is left to `validate`.

use crate::allow::{self, SUBID_MIN, SUBID_MIN_COUNT, Shape};
use crate::{k3s_releases, names};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

/// The highest start that leaves room for the smallest range: the helper requires start + count
/// to fit in 32 bits, so the range never reaches 4294967295, which is (uid_t) -1.
pub const SUBID_START_MAX: u32 = u32::MAX - SUBID_MIN_COUNT;

pub(super) fn user_name(s: &mut Schema) {
    s.insert("pattern".into(), names::USER_NAME_PATTERN.into());
    s.insert("not".into(), json!({ "const": "root" }));
}

pub(super) fn subid_count(s: &mut Schema) {
    s.insert("minimum".into(), SUBID_MIN_COUNT.into());
    s.insert("maximum".into(), allow::MAX_SUBID_COUNT.into());
}

pub(super) fn subid_start(s: &mut Schema) {
    s.insert("minimum".into(), SUBID_MIN.into());
    s.insert("maximum".into(), SUBID_START_MAX.into());
}

/// Each allow-listed key, with the values its shape takes, plainly or with options.
/// `Detailed` is the options form, `{ value, optional, at_least }`.
pub(super) fn sysctls<Detailed: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let detailed = Detailed::json_schema(generator);
    // The options' `value` is replaced per key below; its generic definition is not needed.
    generator.definitions_mut().remove("SysctlValue");
    let properties: serde_json::Map<String, Value> = allow::SYSCTLS
        .iter()
        .map(|k| {
            let plain = sysctl_value(k.shape);
            let mut options = detailed.clone();
            options
                .ensure_object()
                .entry("properties")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("an object")
                .insert("value".into(), json!({ "anyOf": plain }));
            let mut forms = plain;
            forms.push(options.to_value());
            let about = format!("Takes {}.", k.shape.describe());
            let schema = json!({ "description": about, "anyOf": forms });
            (k.key.to_string(), schema)
        })
        .collect();
    json_schema!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

/// The forms of one value of a sysctl: a number (or the same digits as text), or two numbers
/// as text. Whitespace around and between them is normalised, as `validate` does.
fn sysctl_value(shape: Shape) -> Vec<Value> {
    match shape {
        Shape::Int { min, max } => vec![
            json!({ "type": "integer", "minimum": min, "maximum": max }),
            json!({ "type": "string", "pattern": r"^\s*-?[0-9]{1,19}\s*$" }),
        ],
        Shape::Pair { .. } => {
            vec![json!({ "type": "string", "pattern": r"^\s*[0-9]{1,19}\s+[0-9]{1,19}\s*$" })]
        }
    }
}

fn one_each_of(s: &mut Schema, allowed: &[&str]) {
    s.insert("items".into(), json!({ "type": "string", "enum": allowed }));
    s.insert("uniqueItems".into(), true.into());
}

pub(super) fn modules(s: &mut Schema) {
    one_each_of(s, allow::MODULES);
}

pub(super) fn packages(s: &mut Schema) {
    one_each_of(s, allow::PACKAGES);
}

pub(super) fn controllers(s: &mut Schema) {
    one_each_of(s, allow::CGROUP_CONTROLLERS);
}

/// The release tag's form, with the releases whose checksums groundwork knows as examples.
pub(super) fn k3s_version(s: &mut Schema) {
    let mut known: Vec<&str> = k3s_releases::KNOWN.iter().map(|r| r.version).collect();
    known.dedup();
    s.insert("pattern".into(), names::K3S_VERSION_PATTERN.into());
    s.insert("examples".into(), known.into());
}

pub(super) fn install_path(s: &mut Schema) {
    let paths: Vec<String> = allow::K3S_DIRS.iter().map(|d| format!("{d}/k3s")).collect();
    s.insert("enum".into(), paths.into());
}

pub(super) fn k3s_url(s: &mut Schema) {
    s.insert("pattern".into(), "^https?://".into());
}

pub(super) fn sha256(s: &mut Schema) {
    let hex = names::SHA256_PATTERN
        .trim_start_matches('^')
        .trim_end_matches('$');
    s.insert("pattern".into(), format!("^(auto|{hex})$").into());
}

pub(super) fn unit_args(s: &mut Schema) {
    s.insert(
        "items".into(),
        json!({ "type": "string", "minLength": 1, "not": { "const": "--rootless" } }),
    );
}

pub(super) fn unit_env(s: &mut Schema) {
    s.insert(
        "propertyNames".into(),
        json!({ "pattern": names::K3S_ENV_NAME_PATTERN }),
    );
}

pub(super) fn snapshotter(s: &mut Schema) {
    s.insert("pattern".into(), names::SNAPSHOTTER_PATTERN.into());
}

/// `parse_duration`'s form; the 1s to 1h range is `validate`'s.
pub(super) fn timeout(s: &mut Schema) {
    s.insert("pattern".into(), r"^\s*\+?[0-9]+[smh]?\s*$".into());
}

/// Host ports: 1 to 65535, each once.
pub(super) fn ports(s: &mut Schema) {
    s.insert(
        "items".into(),
        json!({ "type": "integer", "minimum": 1, "maximum": 65535 }),
    );
    s.insert("uniqueItems".into(), true.into());
}

/// slirp4netns's bounds; the IPv6 minimum (1280) is `validate`'s.
pub(super) fn mtu(s: &mut Schema) {
    s.insert("minimum".into(), super::network_limits::MIN_MTU.into());
    s.insert("maximum".into(), super::network_limits::MAX_MTU.into());
}

/// The form `a.b.c.d/n`; private, host bits zero and the prefix's range are `validate`'s.
pub(super) fn cidr(s: &mut Schema) {
    s.insert("pattern".into(), super::network_limits::CIDR_PATTERN.into());
}
