//! One file per command: each loads what it needs, calls the engine, renders the result, and
//! returns the exit code `crate::exit` decides.

mod apply;
mod common;
mod completions;
mod drift;
mod facts;
mod init;
mod man;
mod misc;
mod plan;
mod verify;

use crate::cli::args::{Command, Ctx, HelperCommand, NetProbeCommand};
use crate::engine::privilege::default_helper;
use crate::exit;

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
                helper: helper.unwrap_or_else(|| default_helper().to_string()),
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
        Command::Init { file, force } => init::run(&file, ctx.user.as_deref(), force),
        Command::Validate { spec, output } => misc::validate(&spec, output),
        Command::Helper(HelperCommand::Sudoers { user, helper }) => {
            misc::sudoers(&user, helper.as_deref().unwrap_or(default_helper()))
        }
        Command::AnsibleModule { args_file } => {
            let (code, result) = crate::ansible::run(&args_file).await;
            crate::outln!("{result}");
            code
        }
        Command::Completions { shell } => completions::run(shell),
        Command::Man { page, dir } => man::run(page.as_deref(), dir.as_deref()),
        Command::WriteUserFile { path, remove } => misc::write_user_file(&path, remove),
        Command::NetProbe(NetProbeCommand::Listen { ports }) => {
            crate::engine::verify::ports::listen(&ports)
        }
        Command::NetProbe(NetProbeCommand::Hostfwd {
            socket,
            port,
            guest,
        }) => crate::engine::verify::ports::hostfwd(&socket, port, &guest),
        Command::Schema => {
            crate::outln!("{}", crate::spec::schema_json());
            exit::OK
        }
    }
}
