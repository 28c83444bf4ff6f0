//! The `apply` command: lock, plan, confirm, execute, observe again.

use super::lock::{self, LockError};
use super::privilege::Privilege;
use super::{StepEvent, execute};
use crate::exit;
use crate::host_root::HostRoot;
use crate::plan::Plan;
use crate::render;
use crate::spec::{Spec, SpecSource};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, IsTerminal, Write};

/// `plan --out FILE` saves this: the plan, and the spec it came from.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub saved_plan: Plan,
    pub spec_name: String,
    pub spec_text: String,
}

pub struct Options {
    pub yes: bool,
    pub detailed_exitcodes: bool,
    pub no_wait: bool,
    pub json: bool,
    pub helper: String,
    pub verify: bool,
    pub executor: crate::facts::Executor,
}

fn emit_json(event: serde_json::Value) {
    crate::outln!("{event}");
}

pub async fn run(
    root: &HostRoot,
    spec: &Spec,
    source: &SpecSource,
    saved: Option<Plan>,
    opts: &Options,
) -> i32 {
    if !root.is_live() {
        eprintln!("error: apply changes the live host; --root is for read-only commands");
        return exit::ERROR;
    }
    let _lock = match lock::acquire(!opts.no_wait) {
        Ok(l) => l,
        Err(LockError::Busy(p)) => {
            eprintln!(
                "error: another groundwork run holds {}; try again later, or drop --no-wait to wait",
                p.display()
            );
            return lock::EXIT_LOCKED;
        }
        Err(LockError::Io(e)) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let plan = match crate::cli::make_plan(root, spec, source, opts.executor).await {
        Ok((p, _)) => p,
        Err(code) => return code,
    };
    if let Some(saved) = saved
        && saved.items != plan.items
    {
        eprintln!(
            "error: the host changed since the plan was saved; nothing was applied.\nRun `groundwork plan --out FILE` again, review it, and apply the new file."
        );
        return exit::ERROR;
    }
    if opts.json {
        emit_json(serde_json::json!({"event": "plan", "plan": plan}));
    } else {
        crate::out!("{}", strip_if_needed(&render::human::render_plan(&plan)));
    }
    if plan.blocked().next().is_some() {
        eprintln!("apply: blocked items need a manual fix first; nothing was changed.");
        return exit::BLOCKED;
    }
    if plan.is_empty() {
        if opts.json {
            emit_json(
                serde_json::json!({"event": "summary", "changed": 0, "failed": 0, "converged": true}),
            );
        }
        return exit::OK;
    }
    if !opts.yes && !confirm() {
        eprintln!("apply: cancelled; nothing was changed.");
        return exit::ERROR;
    }
    let privilege = Privilege::detect(&opts.helper);
    let total = plan.items.iter().filter(|i| i.step.is_some()).count();
    let mut n = 0;
    // On a terminal, a step's line appears when it starts (apt and downloads take a while) and
    // is completed when it ends; in logs, one line per finished step.
    let live = !opts.json && std::io::stderr().is_terminal();
    let outcomes = execute(&plan, spec, &privilege, |event| match event {
        StepEvent::Started(item) => {
            n += 1;
            if live {
                eprint!("[{n}/{total}] {} ... ", item.summary);
            }
        }
        StepEvent::Finished(o) => {
            if opts.json {
                emit_json(
                    serde_json::json!({"event": "step", "index": n, "total": total, "outcome": o}),
                );
                return;
            }
            let status = match (o.ok, o.changed) {
                (false, _) => "FAILED",
                (true, true) => "changed",
                (true, false) => "ok",
            };
            if live {
                eprintln!("{status}: {}", o.msg);
            } else {
                eprintln!("[{n}/{total}] {}: {status}: {}", o.summary, o.msg);
            }
        }
    });
    let changed = outcomes.iter().filter(|o| o.changed).count();
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if failed > 0 {
        let not_run: Vec<&str> = plan
            .items
            .iter()
            .filter(|i| i.step.is_some())
            .skip(outcomes.len())
            .map(|i| i.summary.as_str())
            .collect();
        if opts.json {
            emit_json(
                serde_json::json!({"event": "summary", "changed": changed, "failed": failed, "converged": false, "not_run": not_run}),
            );
        } else {
            eprintln!("apply failed: {changed} step(s) changed the host, then a step failed.");
            if !not_run.is_empty() {
                eprintln!("Not run: {}", not_run.join("; "));
            }
            eprintln!("Fix the cause and run apply again: every step is idempotent.");
        }
        return failure_code(opts, changed);
    }
    // Proof, not belief: observe again, and the plan must be empty.
    let (after, facts) = match crate::cli::make_plan(root, spec, source, opts.executor).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let converged = after.is_empty();
    if opts.json {
        emit_json(
            serde_json::json!({"event": "summary", "changed": changed, "failed": 0, "converged": converged,
            "not_converged": after.items.iter().map(|i| &i.id).collect::<Vec<_>>()}),
        );
    } else if converged {
        eprintln!("apply: converged ({changed} step(s) changed the host).");
    } else {
        eprintln!("apply: NOT converged. After all steps ran, these still differ:");
        for i in &after.items {
            eprintln!("  {}: {}", i.resource.name(), i.summary);
        }
    }
    if !converged {
        return failure_code(opts, changed);
    }
    if opts.verify {
        let (spec, plan) = (spec.clone(), after.clone());
        let vopts = crate::verify::Options {
            skip_cluster: !spec.unit.running,
            timeout: None,
        };
        let report =
            tokio::task::spawn_blocking(move || crate::verify::run(&spec, &facts, &plan, &vopts))
                .await;
        match report {
            Ok(Ok(r)) => {
                if opts.json {
                    emit_json(serde_json::json!({"event": "verify", "report": r}));
                } else {
                    eprint!("{}", crate::verify::render(&r));
                }
                if !r.healthy {
                    return failure_code(opts, changed);
                }
            }
            Ok(Err(e)) => {
                eprintln!("error: verify could not run: {e}");
                return failure_code(opts, changed);
            }
            Err(e) => {
                eprintln!("error: verify panicked: {e}");
                return failure_code(opts, changed);
            }
        }
    }
    if opts.detailed_exitcodes && changed > 0 {
        2
    } else {
        exit::OK
    }
}

fn failure_code(opts: &Options, changed: usize) -> i32 {
    match (opts.detailed_exitcodes, changed > 0) {
        (true, true) => 6,
        (true, false) => 4,
        (false, _) => exit::ERROR,
    }
}

fn strip_if_needed(s: &str) -> String {
    let mut out = Vec::new();
    let mut w = anstream::StripStream::new(&mut out);
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        return s.to_string();
    }
    let _ = w.write_all(s.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// Asks on the terminal; anything but "yes" cancels. Without a terminal, refuses: a script must
/// say --yes.
fn confirm() -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("apply: stdin is not a terminal; pass --yes to apply without a prompt.");
        return false;
    }
    eprint!("Apply these changes? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim() == "yes"
}
