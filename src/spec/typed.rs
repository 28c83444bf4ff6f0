//! The document as a `Spec`, even when parts of it are wrong: each part serde cannot read is
//! set aside (or, when a required field is missing, stood in for) and the rest is read again,
//! so that the value checks run on every part that is right. The fields set aside are listed:
//! no value check speaks about what it did not see.

use super::path::Seg;
use super::schema::{choices, field, property, required, resolve, types};
use super::static_json::Json;
use super::types::Spec;
use serde::Deserialize;
use serde_json::Value;

pub struct Typed {
    /// The spec as read; None when even the stand-ins did not make it readable.
    pub spec: Option<Spec>,
    /// Fields set aside or stood in for.
    pub set_aside: Vec<Vec<Seg>>,
    /// serde's own word on each, for anything no other check explained.
    pub errors: Vec<(Vec<Seg>, String)>,
}

/// Reads `value` as a spec, setting aside what cannot be read.
pub fn read(mut value: Value) -> Typed {
    let mut typed = Typed {
        spec: None,
        set_aside: Vec::new(),
        errors: Vec::new(),
    };
    // Most specs are right: read them once, plainly. The paths below cost a run's worth of code
    // (every type's deserializer again, wrapped) and are needed only to place an error.
    if let Ok(spec) = Spec::deserialize(&value) {
        typed.spec = Some(spec);
        return typed;
    }
    // Each round sets one field aside; a spec has far fewer fields than this.
    for _ in 0..256 {
        let e = match serde_path_to_error::deserialize::<_, Spec>(&value) {
            Ok(spec) => {
                typed.spec = Some(spec);
                return typed;
            }
            Err(e) => e,
        };
        let mut path: Vec<Seg> = e
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                _ => None,
            })
            .collect();
        let message = e.inner().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next());
        let changed = match missing {
            Some(name) => {
                path.push(Seg::Key(name.to_string()));
                field(&path).is_some_and(|s| set(&mut value, &path, stand_in(s)))
            }
            None => {
                // An item cannot be taken out of its list without renumbering the rest.
                while matches!(path.last(), Some(Seg::Index(_))) {
                    path.pop();
                }
                remove(&mut value, &path)
            }
        };
        typed.errors.push((path.clone(), message));
        typed.set_aside.push(path);
        if !changed {
            break;
        }
    }
    typed
}

/// The least value a schema takes: what a missing required field is stood in for.
fn stand_in(s: &'static Json) -> Value {
    let s = resolve(s);
    if let Some(first) = choices(s).and_then(<[Json]>::first) {
        return stand_in(first);
    }
    if let Some(v) = s
        .get("const")
        .or_else(|| s.get("enum").and_then(|e| e.at(0)))
    {
        return v.to_value();
    }
    match types(s).first().copied() {
        Some("object") => {
            let mut map = serde_json::Map::new();
            for name in required(s) {
                if let Some(p) = property(s, name) {
                    map.insert(name.to_string(), stand_in(p));
                }
            }
            Value::Object(map)
        }
        Some("array") => Value::Array(Vec::new()),
        Some("string") => Value::String(String::new()),
        Some("integer" | "number") => s.get("minimum").map_or(Value::from(0), Json::to_value),
        Some("boolean") => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Sets the value at `path` (its parent must exist); false when it could not.
fn set(value: &mut Value, path: &[Seg], new: Value) -> bool {
    let Some((Seg::Key(last), parent)) = path.split_last() else {
        return false;
    };
    match walk(value, parent).and_then(Value::as_object_mut) {
        Some(map) if !map.contains_key(last) => {
            map.insert(last.clone(), new);
            true
        }
        _ => false,
    }
}

/// Removes the field at `path`; false when there is none.
fn remove(value: &mut Value, path: &[Seg]) -> bool {
    let Some((Seg::Key(last), parent)) = path.split_last() else {
        return false;
    };
    walk(value, parent)
        .and_then(Value::as_object_mut)
        .is_some_and(|map| map.remove(last).is_some())
}

fn walk<'v>(mut value: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    for seg in path {
        value = match seg {
            Seg::Key(k) => value.get_mut(k.as_str())?,
            Seg::Index(i) => value.get_mut(*i)?,
        };
    }
    Some(value)
}
