//! The JSON document of a spec's validation: whether it is valid, and every problem with its
//! file, line, column, field, message and hint. `validate --output json` prints it, and so
//! does any command given `--output json` and a spec it cannot use.

use crate::spec::SpecError;
use serde::Serialize;

/// Bumped when a field changes meaning or goes away (new fields may appear).
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    ok: bool,
    errors: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    file: &'a str,
    line: Option<usize>,
    column: Option<usize>,
    /// The field path, such as `sysctls["net.ipv4.ip_forward"]`; null for the whole file.
    field: Option<&'a str>,
    message: &'a str,
    hint: Option<&'a str>,
}

/// The document for a valid spec (`None`) or an invalid one.
pub fn json(error: Option<&SpecError>) -> String {
    let errors = error
        .map(|e| {
            e.problems
                .iter()
                .map(|p| Entry {
                    file: &e.file,
                    line: p.line,
                    column: p.column,
                    field: (!p.path.is_empty()).then_some(p.path.as_str()),
                    message: &p.message,
                    hint: p.hint.as_deref(),
                })
                .collect()
        })
        .unwrap_or_default();
    let doc = Document {
        format_version: FORMAT_VERSION,
        ok: error.is_none(),
        errors,
    };
    serde_json::to_string_pretty(&doc).expect("the document serializes")
}
