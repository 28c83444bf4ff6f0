//! groundwork-spec(5), from the JSON Schema that the spec types generate (the same source as
//! `groundwork schema`): one entry per key, with its type, constraints, default and the doc
//! comment of its field; then the embedded default as the example.

use super::page::Page;
use super::reference;
use super::roff_text::{entries, example, paragraph, section, see_also, tagged};
use clap_mangen::roff::{Roff, roman};
use serde_json::Value;

pub fn page() -> Page {
    let schema: Value =
        serde_json::from_str(&crate::spec::schema_json()).expect("the schema is JSON");
    let mut roff = Roff::default();
    let version = format!("groundwork {}", env!("CARGO_PKG_VERSION"));
    roff.control(
        "TH",
        [
            "groundwork-spec",
            "5",
            "",
            version.as_str(),
            "groundwork manual",
        ],
    );
    section(&mut roff, "NAME");
    roff.text([roman(
        "groundwork-spec - the spec: the desired state of a host that runs k3s in rootless mode",
    )]);
    section(&mut roff, "SYNOPSIS");
    roff.text([roman(format!(
        "{}, the file $GROUNDWORK_SPEC names, or a file named on the command line",
        crate::spec::SYSTEM_SPEC
    ))]);
    section(&mut roff, "DESCRIPTION");
    paragraph(
        &mut roff,
        schema["description"].as_str().unwrap_or("The spec."),
    );
    paragraph(
        &mut roff,
        "A spec is one YAML document. A key not listed here is an error (with a \"did you \
         mean\"), so a misspelt key is never silently ignored. `groundwork validate FILE` checks \
         a spec and changes nothing; `groundwork init` writes a starter spec; `groundwork \
         schema` prints this format as a JSON Schema, from the same definitions as this page, \
         for editors.",
    );
    paragraph(&mut roff, &reference::spec_resolution());
    section(&mut roff, "KEYS");
    // Left-aligned: a long default (the release URL) cannot be spread to both margins.
    roff.control("na", []);
    let defs = &schema["$defs"];
    keys(&mut roff, "", &schema, defs);
    roff.control("ad", []);
    section(&mut roff, "EXAMPLE");
    paragraph(
        &mut roff,
        "The embedded default, which commands use when no spec is found (`groundwork init` \
         writes it to a file):",
    );
    example(&mut roff, crate::spec::DEFAULT_SPEC);
    entries(&mut roff, "FILES", &reference::files(), Some("init"));
    see_also(
        &mut roff,
        &[
            ("groundwork".into(), "1"),
            ("groundwork-init".into(), "1"),
            ("groundwork-validate".into(), "1"),
            ("groundwork-plan".into(), "1"),
        ],
    );
    Page {
        name: "groundwork-spec".into(),
        section: "5",
        roff: roff.render(),
    }
}

/// `#/$defs/Name` → the definition.
fn resolve<'a>(schema: &'a Value, defs: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &defs[r.rsplit('/').next().unwrap_or_default()],
        None => schema,
    }
}

/// The object with keys that `schema` is, or that one of its alternatives is.
fn object<'a>(schema: &'a Value, defs: &'a Value) -> Option<&'a Value> {
    let s = resolve(schema, defs);
    if s.get("properties").is_some() {
        return Some(s);
    }
    alternatives(s).iter().find_map(|alt| object(alt, defs))
}

fn alternatives(schema: &Value) -> &[Value] {
    schema["anyOf"]
        .as_array()
        .or_else(|| schema["oneOf"].as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// One entry per key of the object `schema`, then the keys of its objects, as `parent.key`.
fn keys(roff: &mut Roff, prefix: &str, schema: &Value, defs: &Value) {
    let Some(obj) = object(schema, defs) else {
        return;
    };
    let required: Vec<&str> = obj["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = obj["properties"].as_object() else {
        return;
    };
    let shared = shared_form(props, defs);
    for (name, prop) in props {
        let path = format!("{prefix}{name}");
        entry(roff, &path, prop, defs, required.contains(&name.as_str()));
        if object(prop, defs).is_some() && shared.is_none() {
            keys(roff, &format!("{path}."), prop, defs);
        }
        // A map whose values have keys of their own: `sysctls.KEY.value`.
        if let Some(values) = resolve(prop, defs).get("additionalProperties")
            && values.is_object()
            && object(values, defs).is_some()
        {
            let key = format!("{path}.KEY");
            let about = resolve(values, defs)["description"].as_str().unwrap_or("");
            tagged(roff, &key, &format!("({}) {about}", kind(values, defs)));
            keys(roff, &format!("{key}."), values, defs);
        }
    }
    if let Some(form) = shared {
        let key = format!("{prefix}KEY");
        tagged(
            roff,
            &key,
            "(mapping) Any key above, written with options instead of its plain value.",
        );
        keys(roff, &format!("{key}."), &form, defs);
    }
}

/// The mapping form that every key of a fixed set may take instead of its plain value
/// (`sysctls`: `{ value, optional, at_least }`), described once as `KEY.` after the keys: a
/// field that differs from key to key (the value's bounds) is described as the key's own.
fn shared_form(props: &serde_json::Map<String, Value>, defs: &Value) -> Option<Value> {
    let forms: Vec<&Value> = props
        .values()
        .map(|p| {
            let choice = resolve(p, defs).get("properties").is_none();
            choice.then(|| object(p, defs)).flatten()
        })
        .collect::<Option<_>>()?;
    let (first, rest) = forms.split_first()?;
    let names = |f: &Value| {
        f["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect::<Vec<_>>())
    };
    if rest.is_empty() || rest.iter().any(|f| names(f) != names(first)) {
        return None;
    }
    let mut form = (*first).clone();
    for (name, field) in form["properties"].as_object_mut()?.iter_mut() {
        if rest.iter().any(|f| f["properties"][name] != *field) {
            *field = serde_json::json!({
                "description": "The value, in the form its key takes it plainly (above)."
            });
        }
    }
    Some(form)
}

fn entry(roff: &mut Roff, path: &str, prop: &Value, defs: &Value, required: bool) {
    let mut text = format!(
        "({}{})",
        kind(prop, defs),
        if required { ", required" } else { "" }
    );
    let about = prop["description"]
        .as_str()
        .or_else(|| resolve(prop, defs)["description"].as_str());
    if let Some(about) = about {
        text.push(' ');
        text.push_str(&about.replace('\n', " "));
    }
    let referred = prop.get("$ref").map(|_| resolve(prop, defs));
    for c in constraints(prop)
        .into_iter()
        .chain(referred.map(constraints).unwrap_or_default())
    {
        text.push_str(&format!(" {c}."));
    }
    // The values of a choice, each with its own doc comment (`apparmor.profile`).
    for alt in alternatives(resolve(prop, defs)) {
        if let (Some(value), Some(about)) = (alt.get("const"), alt["description"].as_str()) {
            text.push_str(&format!(" `{}`: {about}", flow(value)));
        }
    }
    // An object's default is the defaults of its keys, each shown with its key.
    if let Some(default) = prop.get("default")
        && !default.is_object()
    {
        text.push_str(&format!(" Default: `{}`.", flow(default)));
    }
    tagged(roff, path, &text);
}

/// What kind of value a key takes, in words.
fn kind(schema: &Value, defs: &Value) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in kinds(schema, defs) {
        if !words.contains(&w) {
            words.push(w);
        }
    }
    either(&words)
}

/// The kinds a value may be, alternatives of alternatives flattened.
fn kinds(schema: &Value, defs: &Value) -> Vec<String> {
    let s = resolve(schema, defs);
    if s.get("properties").is_some() {
        return vec!["mapping".into()];
    }
    if let Some(c) = s.get("const") {
        return vec![format!("`{}`", flow(c))];
    }
    if let Some(values) = s["enum"].as_array() {
        return values.iter().map(|v| format!("`{}`", flow(v))).collect();
    }
    let alts = alternatives(s);
    if !alts.is_empty() {
        return alts.iter().flat_map(|a| kinds(a, defs)).collect();
    }
    vec![single_kind(s, defs)]
}

/// The kind of a schema that is no choice: its `type`.
fn single_kind(s: &Value, defs: &Value) -> String {
    let ty = match &s["type"] {
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("value"),
        Value::String(t) => t.as_str(),
        _ => "value",
    };
    match ty {
        "array" => format!("list of {}", plural(&kind(&s["items"], defs))),
        "object" => match s.get("additionalProperties") {
            Some(v) if v.is_object() => format!("mapping of names to {}", plural(&kind(v, defs))),
            _ => "mapping".into(),
        },
        other => other.to_string(),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `strings` for `string`; a kind of several words (`one of ...`) is left as it is.
fn plural(kind: &str) -> String {
    if kind.chars().all(|c| c.is_ascii_lowercase()) {
        format!("{kind}s")
    } else {
        kind.to_string()
    }
}

/// The bounds a key's schema states (`minimum: 0` of an unsigned type says nothing).
fn constraints(s: &Value) -> Vec<String> {
    let unsigned = s["format"].as_str().is_some_and(|f| f.starts_with("uint"));
    let mut out = Vec::new();
    for (key, words) in [
        ("minimum", "At least"),
        ("exclusiveMinimum", "More than"),
        ("maximum", "At most"),
        ("exclusiveMaximum", "Less than"),
        ("minLength", "At least this many characters:"),
        ("maxLength", "At most this many characters:"),
        ("minItems", "At least this many items:"),
        ("maxItems", "At most this many items:"),
    ] {
        if let Some(v) = s.get(key)
            && !(key == "minimum" && unsigned && v == 0)
        {
            out.push(format!("{words} {v}"));
        }
    }
    // A long pattern is one unbreakable word on a man page; the description shows its form.
    if let Some(p) = s["pattern"].as_str().filter(|p| p.len() <= 40) {
        out.push(format!("Matches the regular expression `{p}`"));
    }
    if s["uniqueItems"] == true {
        out.push("Each item at most once".into());
    }
    out
}

/// A value as it is written in YAML's flow style: `auto`, `[cpu, io]`, `{ a: 1 }`.
fn flow(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{k}: {}", flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
