//! A JSON value laid out at compile time: the spec's schema as the checks walk it. build.rs
//! writes the committed schema in this form, so a command that loads a spec parses no schema
//! and allocates nothing for it (parsing it took a quarter of a drift check's instructions).

use serde_json::Value;

#[derive(Debug)]
#[allow(
    dead_code,
    reason = "build.rs writes the variants the committed schema needs, today not all of them"
)]
pub enum Json {
    Null,
    Bool(bool),
    /// A whole number of zero or more, as serde_json keeps it.
    PosInt(u64),
    NegInt(i64),
    Float(f64),
    Str(&'static str),
    Arr(&'static [Json]),
    /// Fields in the document's order.
    Obj(&'static [(&'static str, Json)]),
}

impl Json {
    /// The field `key` of an object.
    pub fn get(&'static self, key: &str) -> Option<&'static Json> {
        self.as_object()?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The item `index` of an array.
    pub fn at(&'static self, index: usize) -> Option<&'static Json> {
        self.as_array()?.get(index)
    }

    pub fn as_object(&'static self) -> Option<&'static [(&'static str, Json)]> {
        match self {
            Json::Obj(fields) => Some(fields),
            _ => None,
        }
    }

    pub fn as_array(&'static self) -> Option<&'static [Json]> {
        match self {
            Json::Arr(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&'static self) -> Option<&'static str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Obj(_))
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Json::PosInt(n) => Some(n as f64),
            Json::NegInt(n) => Some(n as f64),
            Json::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Json::PosInt(n) => i64::try_from(n).ok(),
            Json::NegInt(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Json::PosInt(n) => Some(n),
            _ => None,
        }
    }

    /// The same value as serde_json's.
    pub fn to_value(&self) -> Value {
        match *self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::PosInt(n) => Value::from(n),
            Json::NegInt(n) => Value::from(n),
            Json::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Json::Str(s) => Value::from(s),
            Json::Arr(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Obj(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Equal as serde_json compares: numbers of one kind and value, strings by their text.
impl PartialEq<Value> for Json {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Json::Null, Value::Null) => true,
            (Json::Bool(a), Value::Bool(b)) => a == b,
            (Json::PosInt(a), Value::Number(b)) => b.is_u64() && b.as_u64() == Some(*a),
            (Json::NegInt(a), Value::Number(b)) => {
                !b.is_u64() && b.is_i64() && b.as_i64() == Some(*a)
            }
            (Json::Float(a), Value::Number(b)) => b.is_f64() && b.as_f64() == Some(*a),
            (Json::Str(a), Value::String(b)) => a == b,
            (Json::Arr(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Json::Obj(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(*k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SAMPLE: Json = Json::Obj(&[
        ("n", Json::PosInt(3)),
        ("m", Json::NegInt(-3)),
        ("f", Json::Float(0.5)),
        ("s", Json::Str("a\"b")),
        ("l", Json::Arr(&[Json::Null, Json::Bool(true)])),
    ]);

    #[test]
    fn equals_what_serde_json_reads_and_nothing_else() {
        let same: Value =
            serde_json::from_str(r#"{"n":3,"m":-3,"f":0.5,"s":"a\"b","l":[null,true]}"#).unwrap();
        assert!(SAMPLE == same);
        assert_eq!(SAMPLE.to_value(), same);
        for other in [
            r#"{"n":3.0,"m":-3,"f":0.5,"s":"a\"b","l":[null,true]}"#,
            r#"{"n":3,"m":-3,"f":0.5,"s":"a\"b","l":[null,false]}"#,
            r#"{"n":3,"m":-3,"f":0.5,"s":"ab","l":[null,true]}"#,
            r#"{"n":3,"m":-3,"f":0.5,"s":"a\"b","l":[null,true],"x":1}"#,
            r#"{"n":3,"m":3,"f":0.5,"s":"a\"b","l":[null,true]}"#,
        ] {
            let v: Value = serde_json::from_str(other).unwrap();
            assert!(SAMPLE != v, "{other}");
        }
    }

    #[test]
    fn reads_fields_items_and_numbers() {
        assert_eq!(SAMPLE.get("s").and_then(Json::as_str), Some("a\"b"));
        assert!(SAMPLE.get("x").is_none());
        assert!(matches!(
            SAMPLE.get("l").and_then(|l| l.at(1)),
            Some(Json::Bool(true))
        ));
        assert_eq!(SAMPLE.get("m").and_then(Json::as_i64), Some(-3));
        assert_eq!(SAMPLE.get("m").and_then(Json::as_u64), None);
        assert_eq!(SAMPLE.get("f").and_then(Json::as_f64), Some(0.5));
        assert_eq!(
            SAMPLE.get("n").map(ToString::to_string).as_deref(),
            Some("3")
        );
    }
}
