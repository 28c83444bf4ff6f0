//! What the pages say about exit codes, the environment and files, with the values the code
//! itself uses (`crate::exit`, the paths' constants), so that the manual cannot drift from them.

use crate::exit;

/// One documented name (a variable or a file) and the commands it concerns (none: all).
pub struct Entry {
    pub name: String,
    pub text: String,
    pub commands: &'static [&'static str],
}

impl Entry {
    fn new(
        name: impl Into<String>,
        text: impl Into<String>,
        commands: &'static [&'static str],
    ) -> Self {
        Entry {
            name: name.into(),
            text: text.into(),
            commands,
        }
    }

    /// Whether the page of `command` (None: groundwork(1), which lists everything) shows it.
    pub fn concerns(&self, command: Option<&str>) -> bool {
        match command {
            None => true,
            Some(c) => self.commands.is_empty() || self.commands.contains(&c),
        }
    }
}

/// The commands that read a spec, and so follow the spec resolution order.
pub const SPEC_COMMANDS: &[&str] = &["plan", "apply", "drift", "verify", "facts"];
const OBSERVING: &[&str] = &["plan", "apply", "drift", "verify", "facts"];
const WRITES_HUMAN_PLAN: &[&str] = &["plan", "apply"];

/// Which spec a command uses (`crate::spec::resolve`), for every page of a command that reads one.
pub fn spec_resolution() -> String {
    format!(
        "Without a SPEC argument, groundwork uses the first of: the file `${env}` names (a name \
         of a missing file is an error; an empty value counts as unset); `{system}`, when it \
         exists (under `--root DIR`, the tree's `DIR{system}`, never the reading machine's); \
         the embedded default (examples/rootless-k3s.yaml in the source), which targets the \
         invoking user, or its `k3s` account when run as root. Every report names the spec and \
         the user at its top, as do the JSON and JUnit outputs. As root on the live host, \
         `apply` refuses a spec that a user other than root could change, wherever it came \
         from, and every command refuses such a file when it was not named on its command line.",
        env = crate::spec::SPEC_ENV,
        system = crate::spec::SYSTEM_SPEC,
    )
}

/// Exit codes and their meaning for `command` (None: every code, for groundwork(1)).
pub fn exit_status(command: Option<&str>) -> Vec<(i32, String)> {
    let error = "an error: a usage error, an invalid spec, a failed observation (usage errors \
                 exit 1, never 2)";
    let rows: Vec<(i32, &str)> = match command {
        Some("plan") => vec![
            (exit::OK, "the host is in sync with the spec"),
            (exit::CHANGES, "changes are pending"),
            (
                exit::BLOCKED,
                "something only a person can fix blocks convergence (the plan shows the fix)",
            ),
            (exit::ERROR, error),
        ],
        Some("apply") => vec![
            (exit::OK, "converged, or already in sync"),
            (
                exit::ERROR,
                "a step failed, the host did not converge, verify found it unhealthy, the prompt was not answered `yes`, or an error",
            ),
            (
                exit::BLOCKED,
                "something only a person can fix blocks convergence; nothing was changed",
            ),
            (exit::LOCKED, "with --no-wait: another run holds the lock"),
            (
                exit::DETAILED_CHANGED,
                "with --detailed-exitcodes: converged, and something changed",
            ),
            (
                exit::DETAILED_FAILED,
                "with --detailed-exitcodes: failed, and nothing changed",
            ),
            (
                exit::DETAILED_CHANGED_AND_FAILED,
                "with --detailed-exitcodes: something changed, then it failed",
            ),
        ],
        Some("drift") => vec![
            (exit::OK, "in sync"),
            (exit::CHANGES, "drift: a pending change or a blocked item"),
            (exit::ERROR, error),
            (
                exit::LOCKED,
                "a running apply held the lock for two minutes",
            ),
        ],
        Some("verify") => vec![
            (exit::OK, "healthy"),
            (exit::ERROR, "unhealthy, or verify could not run"),
        ],
        Some(_) => vec![(exit::OK, "success"), (exit::ERROR, error)],
        None => vec![
            (exit::OK, "in sync, converged, valid, healthy, or done"),
            (exit::ERROR, error),
            (
                exit::CHANGES,
                "plan: changes pending; drift: drift found; apply --detailed-exitcodes: changed",
            ),
            (
                exit::BLOCKED,
                "plan and apply: blocked by something only a person can fix",
            ),
            (exit::DETAILED_FAILED, "apply --detailed-exitcodes: failed"),
            (
                exit::DETAILED_CHANGED_AND_FAILED,
                "apply --detailed-exitcodes: changed, then failed",
            ),
            (
                exit::LOCKED,
                "apply --no-wait, or drift after two minutes: another run holds the lock",
            ),
        ],
    };
    let mut rows: Vec<(i32, String)> = rows.into_iter().map(|(c, t)| (c, t.to_string())).collect();
    rows.sort_by_key(|(code, _)| *code);
    rows
}

pub fn environment() -> Vec<Entry> {
    vec![
        Entry::new(
            crate::spec::SPEC_ENV,
            "The spec to use when none is named on the command line (see SPEC).",
            SPEC_COMMANDS,
        ),
        Entry::new(
            "GROUNDWORK_LOG",
            "`target=level` directives for the logs on stderr, such as `groundwork=debug,warn`; they override -v and -q.",
            &[],
        ),
        Entry::new(
            "COLUMNS",
            "The width people's plan wraps to. Without it: the terminal's width, and no wrapping when standard output is not a terminal.",
            WRITES_HUMAN_PLAN,
        ),
        Entry::new(
            "NO_COLOR",
            "When set, no colour. Colour appears only on a terminal anyway.",
            &[],
        ),
        Entry::new(
            "CACHE_DIRECTORY, XDG_CACHE_HOME, HOME",
            format!(
                "Where a user's cache lives, the first that is set: $CACHE_DIRECTORY (systemd's CacheDirectory=), $XDG_CACHE_HOME/groundwork, ~/.cache/groundwork. Root's is always {}.",
                crate::cache::ROOT_CACHE
            ),
            OBSERVING,
        ),
        Entry::new(
            "JOURNAL_STREAM",
            "Set by systemd: the logs go to the journal, with their fields.",
            &[],
        ),
    ]
}

pub fn files() -> Vec<Entry> {
    use crate::managed_files::{DELEGATION_DROPIN, MODULES_FILE, SYSCTL_FILE};
    let managed =
        "groundwork's own file, written by apply; local edits show as drift and are reverted.";
    vec![
        Entry::new(
            crate::spec::SYSTEM_SPEC,
            "The host's spec, used when no spec is named and $GROUNDWORK_SPEC is unset (see SPEC).",
            &["plan", "apply", "drift", "verify", "facts", "init"],
        ),
        Entry::new(
            crate::policy::POLICY_FILE,
            "Root's policy: what the helper does for users. A user's plan reads it to show as blocked what the helper would refuse.",
            &["plan", "apply", "drift", "helper-sudoers"],
        ),
        Entry::new(
            crate::engine::lock::LOCK_FILE,
            "The lock that every run shares: apply holds it, drift waits for it up to two minutes.",
            &["apply", "drift"],
        ),
        Entry::new(
            crate::cache::ROOT_CACHE,
            "Root's cache: the sha256 of observed binaries and of k3s releases, and the specs this build parsed and found valid (reused only for the very same text). It only saves work.",
            OBSERVING,
        ),
        Entry::new(SYSCTL_FILE, managed, &["plan", "apply", "drift"]),
        Entry::new(MODULES_FILE, managed, &["plan", "apply", "drift"]),
        Entry::new(DELEGATION_DROPIN, managed, &["plan", "apply", "drift"]),
        Entry::new(
            crate::host::session::unit_path("~"),
            "The k3s-rootless user unit, in the target user's home.",
            &["plan", "apply", "drift", "verify"],
        ),
        Entry::new(
            "/etc/subuid, /etc/subgid",
            "Subordinate ids; apply changes them under shadow's own locks.",
            &["plan", "apply", "drift", "facts"],
        ),
        Entry::new(
            format!(
                "{}, {}",
                crate::engine::privilege::PACKAGED_HELPER,
                crate::engine::privilege::SOURCE_HELPER
            ),
            "The privileged helper that groundwork runs through `sudo -n` when it is not root: \
             the package's, else one installed from source, whichever root owns (never a copy \
             that another user could have replaced).",
            &["apply", "helper-sudoers"],
        ),
        Entry::new(
            "groundwork.yaml",
            "Where init writes, in the working directory, when no FILE is given.",
            &["init"],
        ),
    ]
}
