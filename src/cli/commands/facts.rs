//! `groundwork facts`: the observed host, per resource.

use super::common::{fail, load, target};
use crate::cli::args::{Ctx, DataOutput};
use crate::engine;
use crate::exit;
use std::path::Path;

pub async fn run(ctx: &Ctx, spec: Option<&Path>, output: DataOutput) -> i32 {
    let json = output == DataOutput::Json;
    let (spec_v, source) = match load(ctx, spec, json) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let target = target(ctx, &spec_v, &source);
    let (facts, authority) = match engine::facts(&target).await {
        Ok(x) => x,
        Err(e) => return fail(&e, json),
    };
    let mut value = facts.to_json();
    value["authority"] = serde_json::to_value(&authority).expect("facts serialize");
    match output {
        DataOutput::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&value).expect("facts serialize")
        ),
        DataOutput::Yaml => match serde_saphyr::to_string(&value) {
            Ok(y) => crate::out!("{y}"),
            Err(e) => {
                eprintln!("error: cannot render facts as YAML: {e}");
                return exit::ERROR;
            }
        },
    }
    exit::OK
}
