//! groundwork as an Ansible module: a front end over the same engine as the command line.
//! Ansible's protocol for non-Python modules: the module gets the path of a JSON file with its
//! arguments (the module file says WANT_JSON), and prints one JSON object with `changed`,
//! `failed`, `msg` and, in diff mode, `diff`. Check mode plans only.

use crate::authority::Executor;
use crate::engine::events::{Event, FnSink};
use crate::engine::host_ops::LiveHost;
use crate::engine::lock::Wait;
use crate::engine::privilege::{Privilege, default_helper as helper_path};
use crate::engine::{self, ApplyOptions, ApplyStatus, StepOutcome, Target};
use crate::host::HostRoot;
use crate::plan::Plan;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Deserialize)]
struct Args {
    /// Path of the spec on the managed host.
    spec: PathBuf,
    #[serde(default)]
    user: Option<String>,
    #[serde(default = "default_helper")]
    helper: String,
    #[serde(default)]
    verify: bool,
    #[serde(default, rename = "_ansible_check_mode")]
    check_mode: bool,
    #[serde(default, rename = "_ansible_diff")]
    diff: bool,
    /// Ansible passes many more `_ansible_*` keys; they are ignored.
    #[serde(flatten)]
    _rest: serde_json::Map<String, Value>,
}

fn default_helper() -> String {
    helper_path().into()
}

fn diff_of(plan: &Plan) -> Vec<Value> {
    let line = |s: &str| {
        if s.ends_with('\n') {
            s.to_string()
        } else {
            format!("{s}\n")
        }
    };
    plan.items
        .iter()
        .map(|i| {
            json!({
                "before_header": format!("{} ({})", i.id, i.resource),
                "after_header": format!("{} ({})", i.id, i.resource),
                "before": i.before.as_deref().map(line).unwrap_or_default(),
                "after": i.after.as_deref().map(line).unwrap_or_else(|| line(&i.summary)),
            })
        })
        .collect()
}

fn failed(msg: String) -> (i32, Value) {
    (1, json!({"changed": false, "failed": true, "msg": msg}))
}

fn blocked_msg(plan: &Plan) -> String {
    let blocked: Vec<String> = plan
        .blocked()
        .map(|i| {
            format!(
                "{} (fix: {})",
                i.summary,
                i.manual_fix.as_deref().unwrap_or("")
            )
        })
        .collect();
    format!("blocked: {}", blocked.join("; "))
}

/// Runs the module; returns the exit code and the JSON result.
pub async fn run(args_file: &std::path::Path) -> (i32, Value) {
    let args: Args = match std::fs::read(args_file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(a) => a,
        Err(e) => {
            return failed(format!(
                "cannot read the module arguments from {}: {e}",
                args_file.display()
            ));
        }
    };
    // As root (the play's `become`), act only on a spec that root alone can change, read by
    // the real path that was checked.
    let mut spec_path = args.spec.clone();
    if !args.check_mode && nix::unistd::geteuid().is_root() {
        match crate::privileged::secure_fs::check_root_input(&args.spec) {
            Ok(real) => spec_path = real,
            Err(e) => {
                return failed(format!(
                    "{e}; as root, groundwork applies only a spec that root alone can change"
                ));
            }
        }
    }
    let (spec, source) = match crate::spec::choose(Some(&spec_path), args.user.as_deref()) {
        Ok(x) => x,
        Err(e) => return failed(format!("invalid spec: {e}")),
    };
    let root = HostRoot::new("/");
    let target = Target {
        root: &root,
        spec: &spec,
        source: &source,
        executor: Executor::Auto,
    };
    if args.check_mode {
        let planned = match engine::plan(&target).await {
            Ok(p) => p,
            Err(e) => return failed(e.to_string()),
        };
        let plan = planned.plan;
        let mut result = json!({"changed": !plan.is_empty(), "failed": false});
        if args.diff {
            result["diff"] = Value::Array(diff_of(&plan));
        }
        if plan.blocked().next().is_some() {
            result["failed"] = json!(true);
            result["msg"] = json!(blocked_msg(&plan));
            return (1, result);
        }
        result["msg"] = json!(if plan.is_empty() {
            "in sync".to_string()
        } else {
            format!("{} change(s) pending", plan.changes().count())
        });
        return (0, result);
    }
    let mut host = LiveHost {
        privilege: Privilege::detect(&args.helper),
        progress: false,
    };
    let opts = ApplyOptions {
        lock: Wait::Forever,
        saved: None,
        verify: args.verify.then_some(crate::engine::verify::Options {
            skip_cluster: !spec.unit.running,
            timeout: None,
        }),
    };
    let mut steps: Vec<StepOutcome> = Vec::new();
    let mut sink = FnSink(|e: Event<'_>| {
        if let Event::StepFinished { outcome, .. } = e {
            steps.push(outcome.clone());
        }
    });
    let report = match engine::apply(&target, opts, &mut host, &mut |_| true, &mut sink).await {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    let changed = report.executed.changed() > 0;
    let mut result = json!({"changed": changed, "failed": false, "status": report.status});
    if args.diff {
        result["diff"] = Value::Array(diff_of(&report.plan));
    }
    if !steps.is_empty() {
        result["steps"] = serde_json::to_value(&steps).unwrap_or(Value::Null);
    }
    let fail = |mut result: Value, msg: String| {
        result["failed"] = json!(true);
        result["msg"] = json!(msg);
        (1, result)
    };
    match report.status {
        ApplyStatus::InSync => {
            result["msg"] = json!("in sync");
            (0, result)
        }
        ApplyStatus::Converged => {
            result["msg"] = json!(format!(
                "converged: {} step(s) changed the host",
                report.executed.changed()
            ));
            (0, result)
        }
        ApplyStatus::Blocked => fail(result, blocked_msg(&report.plan)),
        ApplyStatus::Cancelled => fail(result, "cancelled".into()),
        ApplyStatus::Failed => {
            let bad = report.executed.outcomes.iter().find(|o| !o.ok);
            fail(
                result,
                bad.map(|o| format!("{}: {}", o.summary, o.msg))
                    .unwrap_or_else(|| "a step failed".into()),
            )
        }
        ApplyStatus::NotConverged => {
            let items: Vec<&str> = report
                .after
                .iter()
                .flat_map(|p| &p.items)
                .map(|i| i.summary.as_str())
                .collect();
            let mut msg = format!("not converged: {}", items.join("; "));
            // verify's diagnosis of why, when it ran.
            if let Some(v) = &report.verify {
                msg.push_str("\n\n");
                msg.push_str(&crate::render::verify::report(v));
            }
            fail(result, msg)
        }
        ApplyStatus::Unhealthy => {
            let text = report
                .verify
                .as_ref()
                .map(crate::render::verify::report)
                .unwrap_or_default();
            fail(result, text)
        }
    }
}
