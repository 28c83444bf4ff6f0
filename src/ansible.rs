//! groundwork as an Ansible module. Ansible's protocol for non-Python modules: the module gets
//! the path of a JSON file with its arguments (the module file says WANT_JSON), and prints one
//! JSON object with `changed`, `failed`, `msg` and, in diff mode, `diff`. Check mode plans only.

use crate::apply::{execute, lock, privilege::Privilege};
use crate::host_root::HostRoot;
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
    crate::apply::privilege::DEFAULT_HELPER.into()
}

fn diff_of(plan: &Plan) -> Vec<Value> {
    plan.items
        .iter()
        .map(|i| {
            json!({
                "before_header": format!("{} ({})", i.id, i.resource.name()),
                "after_header": format!("{} ({})", i.id, i.resource.name()),
                "before": i.before.clone().map(|b| if b.ends_with('\n') { b } else { format!("{b}\n") }).unwrap_or_default(),
                "after": i.after.clone().map(|a| if a.ends_with('\n') { a } else { format!("{a}\n") }).unwrap_or_else(|| format!("{}\n", i.summary)),
            })
        })
        .collect()
}

fn failed(msg: String) -> (i32, Value) {
    (1, json!({"changed": false, "failed": true, "msg": msg}))
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
    // As root (the play's `become`), act only on a spec that root alone can change.
    if !args.check_mode
        && nix::unistd::geteuid().is_root()
        && let Err(e) = crate::privileged::secure_fs::check_root_input(&args.spec)
    {
        return failed(format!(
            "{e}; as root, groundwork applies only a spec that root alone can change"
        ));
    }
    let (spec, source) = match crate::target::load(Some(&args.spec), args.user.as_deref()) {
        Ok(x) => x,
        Err(e) => return failed(format!("invalid spec: {e}")),
    };
    let root = HostRoot::new("/");
    let _lock = match lock::acquire(true) {
        Ok(l) => l,
        Err(lock::LockError::Busy(p)) => {
            return failed(format!("{} is held by another run", p.display()));
        }
        Err(lock::LockError::Io(e)) => return failed(e),
    };
    let (plan, _) =
        match crate::cli::make_plan(&root, &spec, &source, crate::facts::Executor::Auto).await {
            Ok(x) => x,
            Err(_) => {
                return failed(
                    "observing the host failed; run `groundwork plan` on it for details".into(),
                );
            }
        };
    let mut result = json!({"changed": false, "failed": false});
    if args.diff {
        result["diff"] = Value::Array(diff_of(&plan));
    }
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
    if !blocked.is_empty() {
        result["failed"] = json!(true);
        result["msg"] = json!(format!("blocked: {}", blocked.join("; ")));
        return (1, result);
    }
    if plan.is_empty() {
        result["msg"] = json!("in sync");
        return (0, result);
    }
    if args.check_mode {
        result["changed"] = json!(true);
        result["msg"] = json!(format!("{} change(s) pending", plan.changes().count()));
        return (0, result);
    }
    let outcomes = execute(&plan, &spec, &Privilege::detect(&args.helper), |_| ());
    let changed = outcomes.iter().any(|o| o.changed);
    result["changed"] = json!(changed);
    result["steps"] = serde_json::to_value(&outcomes).unwrap_or(Value::Null);
    if let Some(bad) = outcomes.iter().find(|o| !o.ok) {
        result["failed"] = json!(true);
        result["msg"] = json!(format!("{}: {}", bad.summary, bad.msg));
        return (1, result);
    }
    let after =
        match crate::cli::make_plan(&root, &spec, &source, crate::facts::Executor::Auto).await {
            Ok((p, facts)) => {
                if args.verify && p.is_empty() {
                    let (spec, plan) = (spec.clone(), p.clone());
                    let opts = crate::verify::Options {
                        skip_cluster: !spec.unit.running,
                        timeout: None,
                    };
                    match tokio::task::spawn_blocking(move || {
                        crate::verify::run(&spec, &facts, &plan, &opts)
                    })
                    .await
                    {
                        Ok(Ok(r)) if r.healthy => {}
                        Ok(Ok(r)) => {
                            result["failed"] = json!(true);
                            result["msg"] = json!(crate::verify::render(&r));
                            return (1, result);
                        }
                        _ => return failed("verify could not run".into()),
                    }
                }
                p
            }
            Err(_) => return failed("observing the host after apply failed".into()),
        };
    if !after.is_empty() {
        result["failed"] = json!(true);
        result["msg"] = json!(format!(
            "not converged: {}",
            after
                .items
                .iter()
                .map(|i| i.summary.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
        return (1, result);
    }
    result["msg"] = json!(format!(
        "converged: {} step(s) changed the host",
        outcomes.iter().filter(|o| o.changed).count()
    ));
    (0, result)
}
