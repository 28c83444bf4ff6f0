//! `groundwork verify`: the smoke test and the cluster, as they run, then the report.

use super::common::{fail, load, target};
use crate::cli::args::{Ctx, Output};
use crate::engine;
use crate::engine::events::Silent;
use crate::render::apply::Progress;
use crate::{exit, render};
use std::path::Path;

pub async fn run(
    ctx: &Ctx,
    spec: Option<&Path>,
    output: Output,
    skip_cluster: bool,
    timeout: Option<&str>,
) -> i32 {
    let json = output == Output::Json;
    let timeout = match timeout.map(crate::spec::parse_duration) {
        Some(None) => {
            eprintln!("error: --timeout takes a duration such as 60s or 5m");
            return exit::ERROR;
        }
        Some(Some(d)) => Some(d),
        None => None,
    };
    let (spec_v, source) = match load(ctx, spec, json) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let target = target(ctx, &spec_v, &source);
    let opts = crate::engine::verify::Options {
        skip_cluster,
        timeout,
    };
    let result = match output {
        Output::Human => engine::verify(&target, &opts, &mut Progress::default()).await,
        _ => engine::verify(&target, &opts, &mut Silent).await,
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(&e, json),
    };
    match output {
        Output::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
        Output::Human => crate::out!("{}", render::verify::report(&report)),
        Output::Junit => crate::out!("{}", render::junit::verify(&report)),
    }
    if report.healthy {
        exit::OK
    } else {
        exit::ERROR
    }
}
