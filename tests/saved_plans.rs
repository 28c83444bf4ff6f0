//! Files in the wrong place: a plan saved by `plan --out` given where a spec belongs, and a
//! saved plan that was damaged or edited by hand, which `apply` reports as no valid plan file
//! and never reads as a spec (issue #13, point 7). With `--root`, apply stops before it could
//! change anything in any case; what is checked here is what it says.

mod common;
use common::*;
use std::path::PathBuf;

/// A plan of the converged host, saved as `plan --out` writes it.
fn saved_plan(h: &Host) -> PathBuf {
    let path = h.outside("plan.json");
    let out = h.groundwork(&["plan", SPEC, "--out", path.to_str().expect("UTF-8")]);
    out.code(0);
    assert!(path.is_file(), "{}", out.report());
    path
}

#[test]
fn a_saved_plan_is_no_spec() {
    let h = Host::converged();
    let plan = saved_plan(&h);
    let plan = plan.to_str().expect("UTF-8");
    let mut reports = Vec::new();
    for command in ["validate", "plan", "drift", "facts", "verify"] {
        let out = h.groundwork(&[command, plan]);
        out.code(1);
        assert!(out.stdout.is_empty(), "{command}: {}", out.report());
        assert!(
            out.filter(&out.stderr).contains(
                "[TMP]/plan.json is a plan saved by `groundwork plan --out`, not a spec: `groundwork apply [TMP]/plan.json` applies it"
            ),
            "{command}: {}",
            out.report()
        );
        assert!(!out.stderr.contains("unknown field"), "{}", out.report());
        reports.push(out.report());
    }
    insta::assert_snapshot!(reports[1]);
    let json = h.groundwork(&["plan", plan, "--output", "json"]);
    json.code(1);
    assert_eq!(json.json()["error"]["kind"], "plan_given_as_spec");
}

#[test]
fn a_hand_edited_plan_is_not_a_valid_plan_file() {
    let h = Host::converged();
    let plan = saved_plan(&h);
    let text = std::fs::read_to_string(&plan).expect("the plan");
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let as_yaml = serde_saphyr::to_string(&value).expect("YAML");
    let edited = [
        ("a comment above it", format!("# reviewed by ops\n{text}")),
        ("turned into YAML", as_yaml),
        ("cut short", text[..text.len() / 2].to_string()),
        (
            "a field added",
            text.replacen("{", "{\n  \"approved_by\": \"ops\",", 1),
        ),
    ];
    let mut first = None;
    for (how, content) in edited {
        std::fs::write(&plan, content).expect("the edited plan");
        let out = h.groundwork(&["apply", "--yes", plan.to_str().expect("UTF-8")]);
        out.code(1);
        let said = out.filter(&out.stderr);
        assert!(
            said.starts_with("error: [TMP]/plan.json: not a valid plan file: "),
            "{how}: {}",
            out.report()
        );
        assert!(
            said.contains("make a new one with `groundwork plan SPEC --out [TMP]/plan.json`"),
            "{how}: {}",
            out.report()
        );
        assert!(!said.contains("invalid spec"), "{how}: {}", out.report());
        first.get_or_insert(out.report());
    }
    insta::assert_snapshot!(first.expect("a report"));
}
