//! `groundwork drift`: the terse check for cron and timers, with node_exporter metrics.

use super::common::{fail, load, target};
use crate::cli::args::{Ctx, Output};
use crate::engine;
use crate::{exit, render};
use std::path::Path;
use std::time::UNIX_EPOCH;

pub async fn run(ctx: &Ctx, spec: Option<&Path>, output: Output, textfile: Option<&Path>) -> i32 {
    let json = output == Output::Json;
    let (spec_v, source) = match load(ctx, spec, json) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let target = target(ctx, &spec_v, &source);
    let drift = match engine::drift(&target).await {
        Ok(d) => d,
        Err(e) => return fail(&e, json),
    };
    if let Some(path) = textfile {
        let info = render::metrics::CheckInfo {
            plan: &drift.plan,
            timestamp_seconds: drift
                .checked_at
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            duration_seconds: drift.duration.as_secs_f64(),
        };
        if let Err(e) =
            crate::atomic::write_new_file(path, render::metrics::render(&info).as_bytes(), 0o644)
        {
            eprintln!("error: cannot write metrics to {}: {e}", path.display());
            return exit::ERROR;
        }
    }
    match output {
        Output::Json => crate::out!("{}", render::drift::json(&drift.plan)),
        Output::Junit => crate::out!("{}", render::junit::plan(&drift.plan)),
        Output::Human => crate::out!("{}", render::drift::human(&drift.plan)),
    }
    let code = exit::for_drift(&drift.plan);
    // The process ends now. Freeing what it read (every subuid line, package and plan item, one
    // allocation each) would be a twentieth of a drift check, for memory the kernel takes back
    // whole.
    std::mem::forget((drift, spec_v, source));
    code
}
