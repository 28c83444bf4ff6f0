//! `groundwork apply`: a spec or a saved plan, checked, confirmed, carried out.

use super::common::{fail, resolve, target};
use crate::cli::args::{Ctx, StreamOutput};
use crate::engine::host_ops::LiveHost;
use crate::engine::lock::Wait;
use crate::engine::privilege::Privilege;
use crate::engine::{self, ApplyOptions, Error};
use crate::exit;
use crate::plan::{Plan, SavedPlan};
use crate::render::apply::{JsonLines, Progress, summary_human, summary_json};
use crate::spec::{self, SpecSource};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

pub struct Options {
    pub yes: bool,
    pub detailed_exitcodes: bool,
    pub no_wait: bool,
    pub output: StreamOutput,
    pub helper: String,
    pub verify: bool,
}

/// Asks on the terminal; anything but "yes" cancels. Without a terminal, refuses: a script
/// must say --yes.
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

/// The spec to apply, and the saved plan when the file is one.
fn load(ctx: &Ctx, path: Option<&Path>) -> Result<(spec::Spec, SpecSource, Option<Plan>), Error> {
    // As root, apply acts only on a spec (or saved plan) that no other user could have written:
    // otherwise that user would choose what root does to the host.
    let choice = resolve(ctx, path, true)?;
    let path = choice.path();
    if let Some(saved) = path.map(SavedPlan::read_if_plan).transpose()?.flatten() {
        let source = SpecSource {
            name: saved.spec_name,
            text: saved.spec_text,
        };
        let mut parsed = spec::parse(&source)?;
        if parsed.user.name != saved.saved_plan.user {
            // The embedded default was planned for the invoking user.
            parsed.user.name = saved.saved_plan.user.clone();
            parsed.user.create = false;
        }
        return Ok((parsed, source, Some(saved.saved_plan)));
    }
    let (spec, source) = spec::choose(path, ctx.user.as_deref())?;
    Ok((spec, source, None))
}

pub async fn run(ctx: &Ctx, path: Option<&Path>, opts: &Options) -> i32 {
    let json = opts.output == StreamOutput::Json;
    let (spec, source, saved) = match load(ctx, path) {
        Ok(x) => x,
        Err(e) => return fail(&e, json),
    };
    let target = target(ctx, &spec, &source);
    let engine_opts = ApplyOptions {
        lock: if opts.no_wait {
            Wait::No
        } else {
            Wait::Forever
        },
        saved,
        verify: opts.verify.then_some(crate::engine::verify::Options {
            skip_cluster: !spec.unit.running,
            timeout: None,
        }),
    };
    let mut host = LiveHost {
        privilege: Privilege::detect(&opts.helper),
        progress: !json && std::io::stderr().is_terminal(),
    };
    let mut ask = |_: &Plan| opts.yes || confirm();
    let result = if json {
        engine::apply(&target, engine_opts, &mut host, &mut ask, &mut JsonLines).await
    } else {
        engine::apply(
            &target,
            engine_opts,
            &mut host,
            &mut ask,
            &mut Progress::default(),
        )
        .await
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(&e, json),
    };
    if json {
        crate::outln!("{}", summary_json(&report));
    } else {
        eprint!("{}", summary_human(&report));
    }
    exit::for_apply(&report, opts.detailed_exitcodes)
}
