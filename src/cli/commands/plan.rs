//! `groundwork plan`: observe, diff, print; `--out` saves the plan for `apply FILE`.

use super::common::{fail, load, target};
use crate::cli::args::{Ctx, Output};
use crate::engine;
use crate::plan::SavedPlan;
use crate::{exit, render};
use std::path::{Path, PathBuf};

/// The command that applies what was planned: the saved plan, or the same spec and user.
fn next_command(ctx: &Ctx, spec: Option<&Path>, out: Option<&Path>) -> String {
    if let Some(out) = out {
        return format!("groundwork apply {}", out.display());
    }
    let mut cmd = String::from("groundwork apply");
    if let Some(user) = &ctx.user {
        cmd.push_str(&format!(" --user {user}"));
    }
    if let Some(spec) = spec {
        cmd.push_str(&format!(" {}", spec.display()));
    }
    cmd
}

pub async fn run(ctx: &Ctx, spec: Option<&Path>, output: Output, out: Option<PathBuf>) -> i32 {
    let json = output == Output::Json;
    let (spec_v, source) = match load(ctx, spec, json) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let target = target(ctx, &spec_v, &source);
    let planned = match engine::plan(&target).await {
        Ok(p) => p,
        Err(e) => return fail(&e, json),
    };
    let plan = planned.plan;
    // A saved plan carries its spec, so that `apply FILE` re-plans from the same spec and
    // refuses when the host has changed since.
    if let Some(path) = &out {
        let saved = SavedPlan {
            saved_plan: plan.clone(),
            spec_name: source.name.clone(),
            spec_text: source.text.clone(),
        };
        if let Err(e) = saved.write(path) {
            eprintln!("error: cannot save the plan to {}: {e}", path.display());
            return exit::ERROR;
        }
    }
    match output {
        Output::Human => crate::out!(
            "{}",
            render::human::plan(&plan, Some(&next_command(ctx, spec, out.as_deref())))
        ),
        Output::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&plan).expect("plans serialize")
        ),
        Output::Junit => crate::out!("{}", render::junit::plan(&plan)),
    }
    exit::for_plan(&plan)
}
