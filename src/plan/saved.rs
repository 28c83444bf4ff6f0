//! A plan saved by `plan --out FILE`, for `apply FILE`: the plan, and the spec it came from, so
//! that apply plans again from the same spec and refuses when the host changed since.

use super::model::{PLAN_FORMAT_VERSION, Plan};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub saved_plan: Plan,
    pub spec_name: String,
    pub spec_text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a valid plan file: {why}; make a new one with `groundwork plan SPEC --out {path}`"
    )]
    Damaged { path: String, why: String },
    #[error(
        "{path} is a plan saved by `groundwork plan --out`, not a spec: `groundwork apply {path}` applies it, and the other commands take the spec it was made from"
    )]
    NotASpec { path: String },
    #[error(
        "{path} is a plan of format {found}, and this groundwork reads format {PLAN_FORMAT_VERSION}; make a new one with `groundwork plan SPEC --out {path}`"
    )]
    Version { path: String, found: u32 },
}

impl SavedPlan {
    /// Reads `path` as a saved plan when it is meant as one (see `meant_as_plan`); a damaged
    /// or hand-edited plan is an error, never read as a spec.
    pub fn read_if_plan(path: &Path) -> Result<Option<SavedPlan>, SavedPlanError> {
        let shown = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            // The spec loader reports a missing or unreadable spec in its own words.
            Err(_) => return Ok(None),
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if !meant_as_plan(text) {
            return Ok(None);
        }
        let damaged = |why: String| SavedPlanError::Damaged {
            path: shown.clone(),
            why,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            damaged(format!(
                "{e} (a plan file is the JSON that `plan --out` writes)"
            ))
        })?;
        if let Some(v) = value
            .get("saved_plan")
            .and_then(|p| p.get("format_version"))
            .and_then(|v| v.as_u64())
            && v != PLAN_FORMAT_VERSION as u64
        {
            return Err(SavedPlanError::Version {
                path: shown,
                found: v as u32,
            });
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| damaged(e.to_string()))
    }

    /// Writes the plan, mode 0600 (it holds file contents of the host), into an existing
    /// directory.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plans serialize");
        crate::atomic::write_new_file(path, format!("{text}\n").as_bytes(), 0o600)
    }
}

/// Whether a file is meant as a saved plan: JSON (a spec is YAML, and never starts with `{`),
/// or any text with the plan's `saved_plan` key, even hand-edited into YAML. No spec has that
/// key, so such a file is never read as a spec.
fn meant_as_plan(text: &str) -> bool {
    let is_key = |line: &str| {
        let rest = line.trim_start_matches(|c: char| c.is_whitespace() || "{\"'".contains(c));
        rest.strip_prefix("saved_plan").is_some_and(|r| {
            r.trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(':')
        })
    };
    text.trim_start().starts_with('{') || text.lines().any(is_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_plan_is_not_read_as_a_spec() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.json");
        std::fs::write(&p, "{\"saved_plan\": {\"format_version\": 2, \"spec\":").unwrap();
        let e = SavedPlan::read_if_plan(&p).unwrap_err();
        assert!(e.to_string().contains("not a valid plan file"), "{e}");
        std::fs::write(&p, "{\"saved_plan\": {\"format_version\": 1}}").unwrap();
        let e = SavedPlan::read_if_plan(&p).unwrap_err();
        assert!(e.to_string().contains("format 1"), "{e}");
        std::fs::write(&p, "user: { name: k3s }\n").unwrap();
        assert!(SavedPlan::read_if_plan(&p).unwrap().is_none());
        // Hand-edited: a comment above the JSON, or the plan turned into YAML.
        for edited in [
            "# reviewed by ops\n{\"saved_plan\": {}}\n",
            "saved_plan:\n  format_version: 2\nspec_name: x\n",
            "\u{feff}{\"saved_plan\": 1}",
        ] {
            std::fs::write(&p, edited).unwrap();
            let e = SavedPlan::read_if_plan(&p).unwrap_err();
            assert!(e.to_string().contains(": not a valid plan file: "), "{e}");
        }
    }
}
