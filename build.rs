//! Link settings. Both binaries are position-independent executables with full RELRO, the
//! default of every distribution: groundwork itself runs as root in apply-as-root, in the
//! Ansible play, and wherever an administrator runs it.
//!
//! Opt-in, for emulated lab VMs only: `GROUNDWORK_NO_PIE=1 cargo build --release` links the
//! agent (and the benchmark's floor) position-dependent. Under CPU emulation (qemu TCG)
//! translated code is cached by virtual address, and a binary loaded at a new random address on
//! every run is translated anew every time, which doubled the cost of a drift check there
//! (tests/bench/README.md). On hardware it changes nothing measurable. The helper is never
//! built that way.
//!
//! The build's identity (`GROUNDWORK_BUILD_ID`): a digest of everything that decides how a spec
//! is read (the sources, the schema, the locked dependencies), so that a spec parsed by one
//! build and kept in the cache (src/spec/parsed_cache.rs) is never taken by another.
//!
//! The spec's schema: schema/groundwork.schema.json is written out as a Rust constant
//! (`$OUT_DIR/spec_schema.rs`, a `Json` of src/spec/static_json.rs), so that no command parses
//! it at run time.
use serde_json::Value;
use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    spec_schema();
    build_id();
    println!("cargo:rerun-if-env-changed=GROUNDWORK_NO_PIE");
    if std::env::var_os("GROUNDWORK_NO_PIE").is_some_and(|v| v == "1") {
        println!("cargo:rustc-link-arg-bin=groundwork=-no-pie");
        println!("cargo:rustc-link-arg-examples=-no-pie");
    }
}

fn build_id() {
    use std::hash::{DefaultHasher, Hasher};
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the source tree is readable") {
            let path = entry.expect("the source tree is readable").path();
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.push(path);
            }
        }
    }
    let mut files = vec!["build.rs".into(), "Cargo.lock".into(), "Cargo.toml".into()];
    walk("src".as_ref(), &mut files);
    walk("schema".as_ref(), &mut files);
    files.sort();
    let mut hash = DefaultHasher::new();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        hash.write(file.to_string_lossy().as_bytes());
        hash.write(&std::fs::read(file).expect("the source tree is readable"));
    }
    for key in ["PROFILE", "TARGET"] {
        hash.write(std::env::var(key).unwrap_or_default().as_bytes());
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rustc-env=GROUNDWORK_BUILD_ID={:016x}", hash.finish());
}

fn spec_schema() {
    const SCHEMA: &str = "schema/groundwork.schema.json";
    println!("cargo:rerun-if-changed={SCHEMA}");
    let text = std::fs::read_to_string(SCHEMA).expect("schema/groundwork.schema.json is readable");
    let value: Value = serde_json::from_str(&text).expect("schema/groundwork.schema.json is JSON");
    let mut out = String::from("Json::");
    rust(&value, &mut out);
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{dir}/spec_schema.rs"), out).expect("OUT_DIR is writable");
}

/// `value` as a constant expression of `Json`'s variants (after the leading `Json::`).
fn rust(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("Null"),
        Value::Bool(b) => write!(out, "Bool({b})").unwrap(),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => write!(out, "PosInt({u})").unwrap(),
            (None, Some(i), _) => write!(out, "NegInt({i})").unwrap(),
            (None, None, Some(f)) => write!(out, "Float({f:?})").unwrap(),
            _ => unreachable!("a JSON number is one of the three"),
        },
        // Debug of a str is a valid Rust string literal.
        Value::String(s) => write!(out, "Str({s:?})").unwrap(),
        Value::Array(items) => {
            out.push_str("Arr(&[");
            for item in items {
                out.push_str("Json::");
                rust(item, out);
                out.push(',');
            }
            out.push_str("])");
        }
        Value::Object(fields) => {
            out.push_str("Obj(&[");
            for (k, v) in fields {
                write!(out, "({k:?}, Json::").unwrap();
                rust(v, out);
                out.push_str("),");
            }
            out.push_str("])");
        }
    }
}
