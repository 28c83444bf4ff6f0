//! The command line: argument parsing, and one function per command.

use crate::exit;
use crate::facts::{self, Executor, Facts};
use crate::host_root::HostRoot;
use crate::plan::Plan;
use crate::render;
use crate::spec::{self, Spec, SpecSource};
use crate::{diff, target};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser, Debug)]
#[command(
    name = "groundwork",
    version,
    about = "Prepares Linux hosts to run k3s in rootless mode, and keeps them that way."
)]
#[command(
    after_help = "Exit codes: 0 in sync or success, 1 error, 2 changes pending or drift, 3 blocked (needs a manual fix)."
)]
pub struct Cli {
    /// Observe a captured host tree instead of / (read-only commands).
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Target this user instead of the spec's (or, with no spec, instead of you).
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// More log output on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Who carries out the privileged steps the plan is for: `root` (groundwork itself) or
    /// `helper` (groundwork-helper through sudo, bound by root's policy). `auto`: root when
    /// groundwork runs as root or reads a captured tree, the helper otherwise.
    #[arg(long, global = true, value_enum, default_value_t = crate::facts::Executor::Auto)]
    pub executor: crate::facts::Executor,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
    /// JUnit XML, where a pending change or a blocked item is a failed test case.
    Junit,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum DataOutput {
    Yaml,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Observe the host, compare it with the spec and print the ordered plan. Changes nothing.
    ///
    /// Exits 0 in sync, 2 with changes pending, 3 when something is blocked, 1 on error.
    Plan {
        /// The spec; the embedded default (examples/rootless-k3s.yaml) when omitted.
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Also save the plan as JSON, for `apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Terse drift check for cron and timers. Exits 0 in sync, 2 on drift, 1 on error.
    Drift {
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Write node_exporter textfile metrics to this file, atomically.
        #[arg(long, value_name = "PATH")]
        textfile: Option<PathBuf>,
    },
    /// Print the observed host.
    Facts {
        /// The spec decides which user, sysctls and packages are looked at.
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = DataOutput::Yaml)]
        output: DataOutput,
    },
    /// Make the host match the spec: plan, confirm, execute in order, observe again.
    ///
    /// Exits 0 converged, 1 failed or not converged, 3 blocked, 75 when another run holds the
    /// lock and --no-wait is given. With --detailed-exitcodes: 2 changed, 4 failed, 6 both.
    Apply {
        /// A spec, or a plan saved by `plan --out` (refused if the host changed since).
        spec: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Puppet-style exit codes: 0 no change, 2 changed, 4 failed, 6 changed and failed.
        #[arg(long)]
        detailed_exitcodes: bool,
        /// Exit 75 at once if another run holds the lock, instead of waiting.
        #[arg(long)]
        no_wait: bool,
        /// JSON Lines: the plan, one event per step, and a summary.
        #[arg(long, short, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// The privileged helper, run through `sudo -n` when groundwork is not root.
        #[arg(long, value_name = "PATH", default_value = crate::apply::privilege::DEFAULT_HELPER)]
        helper: String,
        /// Skip the rootless smoke test and health check that follow a converged apply.
        #[arg(long)]
        no_verify: bool,
    },
    /// Prove that rootless works (a smoke test that needs no k3s) and that the cluster is
    /// healthy; on failure, name the missing prerequisite. Exits 0 healthy, 1 unhealthy.
    Verify {
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Only the rootless smoke test.
        #[arg(long)]
        skip_cluster: bool,
        /// How long to wait for the cluster (default: the spec's health.timeout), e.g. 60s.
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
    },
    /// Parse and check a spec. Touches nothing.
    Validate { spec: PathBuf },
    /// The privileged helper's setup.
    #[command(subcommand)]
    Helper(HelperCommand),
    /// Ansible module entry point (the module in examples/ansible calls this with its args file).
    #[command(hide = true)]
    AnsibleModule { args_file: PathBuf },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
    /// Internal: write stdin to a file as the invoking user (used when root acts for a user).
    #[command(hide = true)]
    WriteUserFile {
        path: PathBuf,
        #[arg(long)]
        remove: bool,
    },
    /// Print the JSON Schema of the spec.
    Schema,
}

#[derive(Subcommand, Debug)]
pub enum HelperCommand {
    /// Print the sudoers line that lets USER run exactly the helper, without a password.
    Sudoers {
        user: String,
        #[arg(long, value_name = "PATH", default_value = crate::apply::privilege::DEFAULT_HELPER)]
        helper: String,
    },
}

pub fn run() -> i32 {
    // clap exits 2 on a usage error, which scripts would read as "changes pending".
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    runtime.block_on(dispatch(cli))
}

fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GROUNDWORK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Under systemd (JOURNAL_STREAM) the journal adds its own timestamps.
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let result = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text if under_journal => builder.without_time().with_ansi(false).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    let _ = result;
}

async fn dispatch(cli: Cli) -> i32 {
    let root = HostRoot::new(&cli.root);
    let user = cli.user.as_deref();
    let executor = cli.executor;
    match cli.command {
        Command::Plan { spec, output, out } => {
            cmd_plan(&root, executor, spec, user, output, out).await
        }
        Command::Drift {
            spec,
            output,
            textfile,
        } => cmd_drift(&root, executor, spec, user, output, textfile).await,
        Command::Facts { spec, output } => cmd_facts(&root, executor, spec, user, output).await,
        Command::Validate { spec } => cmd_validate(&spec),
        Command::Verify {
            spec,
            output,
            skip_cluster,
            timeout,
        } => cmd_verify(&root, executor, spec, user, output, skip_cluster, timeout).await,
        Command::Apply {
            spec,
            yes,
            detailed_exitcodes,
            no_wait,
            output,
            helper,
            no_verify,
        } => {
            let opts = crate::apply::run::Options {
                yes,
                detailed_exitcodes,
                no_wait,
                json: output == Output::Json,
                helper,
                verify: !no_verify,
                executor,
            };
            cmd_apply(&root, spec, user, &opts).await
        }
        Command::Helper(HelperCommand::Sudoers { user, helper }) => {
            if !crate::names::is_user_name(&user) {
                eprintln!("error: {user:?} is not a valid user name");
                return exit::ERROR;
            }
            crate::outln!("{}", crate::apply::privilege::sudoers_line(&user, &helper));
            exit::OK
        }
        Command::WriteUserFile { path, remove } => cmd_write_user_file(&path, remove),
        Command::AnsibleModule { args_file } => {
            let (code, result) = crate::ansible::run(&args_file).await;
            crate::outln!("{result}");
            code
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "groundwork", &mut std::io::stdout());
            exit::OK
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::ERROR
                }
            }
        }
        Command::Schema => {
            crate::outln!("{}", spec_schema());
            exit::OK
        }
    }
}

/// The JSON Schema of the spec, as committed in schema/groundwork.schema.json.
pub fn spec_schema() -> String {
    let schema = schemars::schema_for!(spec::Spec);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}

fn load(spec: Option<PathBuf>, user: Option<&str>) -> Result<(Spec, SpecSource), i32> {
    target::load(spec.as_deref(), user).map_err(|e| {
        eprintln!("error: invalid spec\n{e}");
        exit::ERROR
    })
}

async fn observe(root: &HostRoot, spec: &Spec, executor: Executor) -> Result<Facts, i32> {
    facts::observe(root, spec, executor).await.map_err(|e| {
        eprintln!("error: {e}\nNothing was judged in sync: fix the cause (permissions, a broken file) and run again.");
        exit::ERROR
    })
}

/// Observes and diffs; the one path that plan, drift and apply share.
pub async fn make_plan(
    root: &HostRoot,
    spec: &Spec,
    source: &SpecSource,
    executor: Executor,
) -> Result<(Plan, Facts), i32> {
    let facts = observe(root, spec, executor).await?;
    Ok((diff::diff(spec, source, &facts), facts))
}

/// Loads the spec, observes and diffs: what plan, drift and verify all start with.
async fn load_and_plan(
    root: &HostRoot,
    spec: Option<PathBuf>,
    user: Option<&str>,
    executor: Executor,
) -> Result<(Spec, SpecSource, Plan, Facts), i32> {
    let (spec, source) = load(spec, user)?;
    let (plan, facts) = make_plan(root, &spec, &source, executor).await?;
    Ok((spec, source, plan, facts))
}

fn plan_exit_code(plan: &Plan) -> i32 {
    if plan.blocked().next().is_some() {
        exit::BLOCKED
    } else if plan.changes().next().is_some() {
        exit::CHANGES
    } else {
        exit::OK
    }
}

fn print_stdout(text: &str) {
    let mut out = anstream::stdout();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

async fn cmd_plan(
    root: &HostRoot,
    executor: Executor,
    spec: Option<PathBuf>,
    user: Option<&str>,
    output: Output,
    out: Option<PathBuf>,
) -> i32 {
    let (_, source, plan, _) = match load_and_plan(root, spec, user, executor).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let json = serde_json::to_string_pretty(&plan).expect("plans serialize");
    // A saved plan carries its spec, so that `apply FILE` re-plans from the same spec and
    // refuses when the host has changed since.
    let saved = crate::apply::run::SavedPlan {
        saved_plan: plan.clone(),
        spec_name: source.name.clone(),
        spec_text: source.text.clone(),
    };
    let saved = serde_json::to_string_pretty(&saved).expect("plans serialize");
    if let Some(path) = out
        && let Err(e) = crate::atomic::write_user_file(&path, format!("{saved}\n").as_bytes())
    {
        eprintln!("error: cannot save the plan to {}: {e}", path.display());
        return exit::ERROR;
    }
    match output {
        Output::Human => print_stdout(&render::human::render_plan(&plan)),
        Output::Json => crate::outln!("{json}"),
        Output::Junit => crate::out!("{}", render::junit::render(&plan)),
    }
    plan_exit_code(&plan)
}

async fn cmd_drift(
    root: &HostRoot,
    executor: Executor,
    spec: Option<PathBuf>,
    user: Option<&str>,
    output: Output,
    textfile: Option<PathBuf>,
) -> i32 {
    let started = Instant::now();
    let (_, _, plan, _) = match load_and_plan(root, spec, user, executor).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let out_of_sync: Vec<&str> = plan
        .resources_out_of_sync()
        .iter()
        .map(|r| r.name())
        .collect();
    if let Some(path) = &textfile {
        let info = render::metrics::CheckInfo {
            plan: &plan,
            timestamp_seconds: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            duration_seconds: started.elapsed().as_secs_f64(),
        };
        if let Err(e) =
            crate::atomic::write_new_file(path, render::metrics::render(&info).as_bytes(), 0o644)
        {
            eprintln!("error: cannot write metrics to {}: {e}", path.display());
            return exit::ERROR;
        }
    }
    match output {
        Output::Json => {
            let report = serde_json::json!({
                "format_version": crate::plan::PLAN_FORMAT_VERSION,
                "in_sync": plan.is_empty(),
                "user": plan.user,
                "spec_sha256": plan.spec_sha256,
                "resources_out_of_sync": out_of_sync,
                "items": plan.items.iter().map(|i| serde_json::json!({
                    "id": i.id, "resource": i.resource, "action": i.action, "summary": i.summary,
                })).collect::<Vec<_>>(),
            });
            crate::outln!("{}", serde_json::to_string_pretty(&report).expect("json"));
        }
        Output::Junit => crate::out!("{}", render::junit::render(&plan)),
        Output::Human if plan.is_empty() => crate::outln!("in sync"),
        Output::Human => {
            crate::outln!(
                "drift in {} resource(s): {}",
                out_of_sync.len(),
                out_of_sync.join(", ")
            );
            for i in &plan.items {
                let tag = if i.action == crate::plan::Action::Blocked {
                    "blocked"
                } else {
                    "drift"
                };
                crate::outln!("  {tag}: {}: {}", i.resource.name(), i.summary);
            }
        }
    }
    if plan.is_empty() {
        exit::OK
    } else {
        exit::CHANGES
    }
}

async fn cmd_facts(
    root: &HostRoot,
    executor: Executor,
    spec: Option<PathBuf>,
    user: Option<&str>,
    output: DataOutput,
) -> i32 {
    let (spec, _) = match load(spec, user) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let facts = match observe(root, &spec, executor).await {
        Ok(f) => f,
        Err(code) => return code,
    };
    match output {
        DataOutput::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&facts).expect("facts serialize")
        ),
        DataOutput::Yaml => match serde_saphyr::to_string(&facts) {
            Ok(y) => crate::out!("{y}"),
            Err(e) => {
                eprintln!("error: cannot render facts as YAML: {e}");
                return exit::ERROR;
            }
        },
    }
    exit::OK
}

async fn cmd_apply(
    root: &HostRoot,
    spec: Option<PathBuf>,
    user: Option<&str>,
    opts: &crate::apply::run::Options,
) -> i32 {
    // As root, apply acts only on a spec (or saved plan) that no other user could have written:
    // otherwise that user would choose what root does to the host.
    if let Some(path) = &spec
        && root.is_live()
        && nix::unistd::geteuid().is_root()
        && let Err(e) = crate::privileged::secure_fs::check_root_input(path)
    {
        eprintln!(
            "error: {e}.\nAs root, groundwork applies only a spec or plan that root alone can change: `chown root: {p}; chmod go-w {p}`, or move it to /etc/groundwork/.",
            p = path.display()
        );
        return exit::ERROR;
    }
    // A saved plan carries its spec; anything else is a spec.
    let saved = spec
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<crate::apply::run::SavedPlan>(&b).ok());
    let (spec, source, saved_plan) = match saved {
        Some(s) => {
            let source = SpecSource {
                name: s.spec_name,
                text: s.spec_text,
            };
            match spec::parse(&source) {
                Ok(mut parsed) => {
                    if parsed.user.name != s.saved_plan.user {
                        // The embedded default was planned for the invoking user.
                        parsed.user.name = s.saved_plan.user.clone();
                        parsed.user.create = false;
                    }
                    (parsed, source, Some(s.saved_plan))
                }
                Err(e) => {
                    eprintln!("error: the saved plan's spec is invalid\n{e}");
                    return exit::ERROR;
                }
            }
        }
        None => match load(spec, user) {
            Ok((s, src)) => (s, src, None),
            Err(code) => return code,
        },
    };
    crate::apply::run::run(root, &spec, &source, saved_plan, opts).await
}

async fn cmd_verify(
    root: &HostRoot,
    executor: Executor,
    spec: Option<PathBuf>,
    user: Option<&str>,
    output: Output,
    skip_cluster: bool,
    timeout: Option<String>,
) -> i32 {
    let timeout = match timeout.as_deref().map(spec::parse_duration) {
        Some(None) => {
            eprintln!("error: --timeout takes a duration such as 60s or 5m");
            return exit::ERROR;
        }
        Some(Some(d)) => Some(d),
        None => None,
    };
    let (spec, _, plan, facts) = match load_and_plan(root, spec, user, executor).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let opts = crate::verify::Options {
        skip_cluster,
        timeout,
    };
    let report =
        match tokio::task::spawn_blocking(move || crate::verify::run(&spec, &facts, &plan, &opts))
            .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                return exit::ERROR;
            }
            Err(e) => {
                eprintln!("error: verify panicked: {e}");
                return exit::ERROR;
            }
        };
    match output {
        Output::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
        Output::Human => print_stdout(&crate::verify::render(&report)),
        Output::Junit => crate::out!("{}", crate::verify::render_junit(&report)),
    }
    if report.healthy {
        exit::OK
    } else {
        exit::ERROR
    }
}

fn cmd_write_user_file(path: &std::path::Path, remove: bool) -> i32 {
    use std::io::Read;
    let result = if remove {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    } else {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .and_then(|_| crate::atomic::write_user_file(path, &data))
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            exit::ERROR
        }
    }
}

fn cmd_validate(path: &std::path::Path) -> i32 {
    match spec::load_file(path) {
        Ok((spec, _)) => {
            crate::outln!(
                "{}: valid (user {}, k3s {})",
                path.display(),
                spec.user.name,
                spec.k3s.version
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("error: invalid spec\n{e}");
            exit::ERROR
        }
    }
}
