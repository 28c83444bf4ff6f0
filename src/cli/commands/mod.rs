//! One file per command: each loads what it needs, calls the engine, renders the result, and
//! returns the exit code `crate::exit` decides.

mod apply;
mod drift;
mod facts;
mod misc;
mod plan;
mod verify;

use super::{Command, Ctx, HelperCommand};
use crate::engine::{Error, Target};
use crate::exit;
use crate::spec::{Spec, SpecSource};
use std::path::Path;

pub async fn dispatch(ctx: Ctx, command: Command) -> i32 {
    match command {
        Command::Plan { spec, output, out } => plan::run(&ctx, spec.as_deref(), output, out).await,
        Command::Drift {
            spec,
            output,
            textfile,
        } => drift::run(&ctx, spec.as_deref(), output, textfile.as_deref()).await,
        Command::Facts { spec, output } => facts::run(&ctx, spec.as_deref(), output).await,
        Command::Apply {
            spec,
            yes,
            detailed_exitcodes,
            no_wait,
            output,
            helper,
            no_verify,
        } => {
            let opts = apply::Options {
                yes,
                detailed_exitcodes,
                no_wait,
                output,
                helper,
                verify: !no_verify,
            };
            apply::run(&ctx, spec.as_deref(), &opts).await
        }
        Command::Verify {
            spec,
            output,
            skip_cluster,
            timeout,
        } => {
            verify::run(
                &ctx,
                spec.as_deref(),
                output,
                skip_cluster,
                timeout.as_deref(),
            )
            .await
        }
        Command::Validate { spec } => misc::validate(&spec),
        Command::Helper(HelperCommand::Sudoers { user, helper }) => misc::sudoers(&user, &helper),
        Command::AnsibleModule { args_file } => {
            let (code, result) = crate::ansible::run(&args_file).await;
            crate::outln!("{result}");
            code
        }
        Command::Completions { shell } => misc::completions(shell),
        Command::Man => misc::man(),
        Command::WriteUserFile { path, remove } => misc::write_user_file(&path, remove),
        Command::Schema => {
            crate::outln!("{}", super::spec_schema());
            exit::OK
        }
    }
}

/// The spec a command works on; an invalid one is reported here.
fn load(ctx: &Ctx, path: Option<&Path>, json: bool) -> Result<(Spec, SpecSource), i32> {
    crate::spec::choose(path, ctx.user.as_deref()).map_err(|e| fail(&Error::Spec(e), json))
}

/// What the engine works on, from the global options and the loaded spec.
fn target<'a>(ctx: &'a Ctx, spec: &'a Spec, source: &'a SpecSource) -> Target<'a> {
    Target {
        root: &ctx.root,
        spec,
        source,
        executor: ctx.executor,
    }
}

/// Reports an error that stopped a command (as JSON on stdout too, for `--output json`) and
/// returns its exit code.
fn fail(e: &Error, json: bool) -> i32 {
    eprintln!("error: {e}");
    if json {
        crate::outln!(
            "{}",
            serde_json::json!({"error": {"kind": e.kind(), "message": e.to_string()}})
        );
    }
    exit::for_error(e)
}
