//! The command line's arguments (clap): the global options, and one variant per command.

use crate::authority::Executor;
use crate::host::HostRoot;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The spec argument's help: the resolution order of `crate::spec::resolve`.
const SPEC_HELP: &str = "The spec. When omitted: the file $GROUNDWORK_SPEC names, else /etc/groundwork/spec.yaml if it exists (the tree's under --root), else the embedded default";

#[derive(Parser, Debug)]
#[command(
    name = "groundwork",
    version,
    about = "Prepares Linux hosts to run k3s in rootless mode, and keeps them that way.",
    long_about = "Prepares Linux hosts to run k3s in rootless mode, and keeps them that way.\n\n\
        You describe the host in a YAML spec (groundwork-spec(5)). groundwork observes the real \
        host, prints an ordered plan of what differs, and `apply` makes those changes in order, \
        idempotently, then observes again to prove that the host converged. The privileged steps \
        go through a small helper run with `sudo -n`, so groundwork itself need not run as root.\n\n\
        Start with `groundwork plan`: read-only, it works unprivileged on any Linux host. \
        `groundwork init` writes a spec of your own to edit; `groundwork plan FILE` and \
        `groundwork apply FILE` use it."
)]
#[command(
    after_help = "Exit codes: 0 in sync or success, 1 error, 2 changes pending or drift, 3 blocked (needs a manual fix), 75 another run holds the lock."
)]
pub struct Cli {
    /// Observe a captured host tree instead of / (read-only commands).
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Target this user instead of the spec's (or, with no spec, instead of you).
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// Who carries out the privileged steps the plan is for: `root` (groundwork itself) or
    /// `helper` (groundwork-helper through sudo, bound by root's policy). `auto`: root when
    /// groundwork runs as root or reads a captured tree, the helper otherwise.
    #[arg(long, global = true, value_enum, default_value_t = Executor::Auto)]
    pub executor: Executor,
    /// More log output on stderr: -v what is read and decided, -vv everything.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log format on stderr (under systemd, logs go to the journal with fields).
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
    /// JUnit XML, where a pending change or a blocked item (or a failed check) is a failed case.
    Junit,
}

/// apply reports as it goes: people's progress lines, or JSON Lines.
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum StreamOutput {
    Human,
    Json,
}

/// validate's verdict: for people, or one JSON document.
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum ReportOutput {
    Human,
    Json,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum DataOutput {
    Yaml,
    Json,
}

/// Each command's arguments are built only when that command runs (clap's `defer`): building
/// every command's before parsing was a fifth of a drift check's instructions.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Observe the host, compare it with the spec and print the ordered plan. Changes nothing.
    ///
    /// Exits 0 in sync, 2 with changes pending, 3 when something is blocked, 1 on error.
    Plan {
        #[arg(help = SPEC_HELP)]
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Also save the plan (mode 0600), for `apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Terse drift check for cron and timers. Exits 0 in sync, 2 on drift, 1 on error, 75 when a
    /// running apply holds the lock for more than two minutes.
    Drift {
        #[arg(help = SPEC_HELP)]
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Write node_exporter textfile metrics to this file, atomically (the directory must
        /// exist).
        #[arg(long, value_name = "PATH")]
        textfile: Option<PathBuf>,
    },
    /// Print the observed host.
    ///
    /// The spec decides which user, sysctls and packages are looked at.
    Facts {
        #[arg(help = SPEC_HELP)]
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = DataOutput::Yaml)]
        output: DataOutput,
    },
    /// Make the host match the spec: plan, confirm, execute in order, observe again, verify.
    ///
    /// Exits 0 converged, 1 failed, not converged or unhealthy, 3 blocked, 75 when another run
    /// holds the lock and --no-wait is given. With --detailed-exitcodes: 2 changed, 4 failed,
    /// 6 both.
    Apply {
        /// A spec, or a plan saved by `plan --out` (refused if the host changed since). When
        /// omitted: the file $GROUNDWORK_SPEC names, else /etc/groundwork/spec.yaml if it
        /// exists, else the embedded default.
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
        /// Progress for people, or JSON Lines: the plan, one event per step, a summary.
        #[arg(long, short, value_enum, default_value_t = StreamOutput::Human)]
        output: StreamOutput,
        /// The privileged helper, run through `sudo -n` when groundwork is not root [default:
        /// /usr/libexec/groundwork/groundwork-helper (the package's), else
        /// /usr/local/libexec/groundwork-helper, whichever root owns].
        #[arg(long, value_name = "PATH")]
        helper: Option<String>,
        /// Skip the rootless smoke test and health check that follow a converged apply.
        #[arg(long)]
        no_verify: bool,
    },
    /// Prove that rootless works (a smoke test that needs no k3s), that each port of
    /// `network.ports` reaches a listener in the user's namespace through the port driver, and
    /// that the cluster is healthy; on failure, name the missing prerequisite. Exits 0 healthy,
    /// 1 unhealthy.
    Verify {
        #[arg(help = SPEC_HELP)]
        spec: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Only the rootless smoke test and the network stage.
        #[arg(long)]
        skip_cluster: bool,
        /// How long to wait for the cluster (default: the spec's health.timeout), e.g. 60s.
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
    },
    /// Write a starter spec to edit: the embedded default, with its comments.
    ///
    /// `--user NAME` makes NAME its user (created by apply when missing). Refuses to replace an
    /// existing file without --force, and to create a missing directory.
    Init {
        /// Where to write it.
        #[arg(default_value = "groundwork.yaml")]
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Parse and check a spec, reporting every problem in it. Touches nothing.
    Validate {
        spec: PathBuf,
        /// For people, or a JSON document: format_version, ok, and errors with file, line,
        /// column, field, message and hint.
        #[arg(long, short, value_enum, default_value_t = ReportOutput::Human)]
        output: ReportOutput,
    },
    /// The privileged helper's setup.
    #[command(subcommand)]
    Helper(HelperCommand),
    /// Ansible module entry point (the module in examples/ansible calls this with its args file).
    #[command(hide = true)]
    AnsibleModule { args_file: PathBuf },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Print a manual page (roff), or write them all.
    ///
    /// The pages: groundwork(1), one per command (groundwork-plan(1), ...) and groundwork-spec(5),
    /// the spec's format. Read one with `groundwork man plan | man -l -`.
    Man {
        /// The page: a command (`plan`, `helper-sudoers`), `spec`, or a page's name
        /// (`groundwork-plan.1`); groundwork(1) when omitted.
        page: Option<String>,
        /// Write every page to this directory (which must exist) as NAME.SECTION, for packaging.
        #[arg(long, value_name = "DIR", conflicts_with = "page")]
        dir: Option<PathBuf>,
    },
    /// Internal: write stdin to a file as the invoking user (used when root acts for a user).
    #[command(hide = true)]
    WriteUserFile {
        path: PathBuf,
        #[arg(long)]
        remove: bool,
    },
    /// Print the JSON Schema of the spec.
    Schema,
    /// Internal: verify's network stage runs these as the target user.
    #[command(hide = true, subcommand)]
    NetProbe(NetProbeCommand),
}

#[derive(Subcommand, Debug)]
pub enum NetProbeCommand {
    /// Listen on each port (0: any free one) and serve verify's exchange until killed.
    Listen { ports: Vec<u16> },
    /// Ask slirp4netns's API socket to forward host port PORT to GUEST:PORT.
    Hostfwd {
        socket: PathBuf,
        port: u16,
        guest: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum HelperCommand {
    /// Print the sudoers line that lets USER run exactly the helper, without a password.
    Sudoers {
        user: String,
        /// The helper the line names [default: the one apply runs: the package's, else
        /// /usr/local/libexec/groundwork-helper, whichever root owns].
        #[arg(long, value_name = "PATH")]
        helper: Option<String>,
    },
}

/// What every command gets from the global options.
pub struct Ctx {
    pub root: HostRoot,
    pub user: Option<String>,
    pub executor: Executor,
}
