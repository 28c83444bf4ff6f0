//! One verify check: its name, whether it passed, and what it saw.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn pass(name: &str, detail: String) -> Self {
        Check {
            name: name.into(),
            ok: true,
            detail,
        }
    }
    pub fn fail(name: &str, detail: String) -> Self {
        Check {
            name: name.into(),
            ok: false,
            detail,
        }
    }
}
