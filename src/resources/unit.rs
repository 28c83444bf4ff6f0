//! The k3s-rootless systemd user unit: its file in ~/.config/systemd/user, whether it is enabled,
//! and whether it runs. All read from files, so no user manager has to be asked.

use super::account::AccountFacts;
use super::delegation::manager_cgroup;
use crate::host_root::HostRoot;
use crate::plan::{Action, Implication, Item, Resource, Step};
use crate::spec::Spec;
use serde::Serialize;

pub const UNIT_NAME: &str = "k3s-rootless.service";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitFacts {
    pub path: String,
    pub content: Option<String>,
    pub enabled: bool,
    /// The unit's cgroup has processes.
    pub active: bool,
    /// The user's systemd manager is running (its private socket exists).
    pub manager_running: bool,
    /// An earlier apply changed something k3s reads at start and did not get to restart it.
    pub pending_restart: bool,
}

pub fn unit_path(home: &str) -> String {
    format!("{home}/.config/systemd/user/{UNIT_NAME}")
}

pub fn wants_link(home: &str) -> String {
    format!("{home}/.config/systemd/user/default.target.wants/{UNIT_NAME}")
}

pub fn observe(root: &HostRoot, account: &AccountFacts) -> std::io::Result<UnitFacts> {
    let home = account.home_or_default();
    let path = unit_path(&home);
    let (active, manager_running) = match account.uid {
        Some(uid) => {
            let cg = manager_cgroup(uid);
            let mut active = false;
            for dir in [
                format!("{cg}/app.slice/{UNIT_NAME}"),
                format!("{cg}/{UNIT_NAME}"),
            ] {
                if let Some(procs) = root.read_optional(format!("{dir}/cgroup.procs"))? {
                    active |= !procs.trim().is_empty();
                }
            }
            (
                active,
                root.exists(format!("/run/user/{uid}/systemd/private")),
            )
        }
        None => (false, false),
    };
    // Files in the user's home are the user's: read them with the user's rights.
    // Without an account (yet), the files belong to whoever owns the home directory.
    let owner = match (account.uid, account.gid) {
        (Some(uid), Some(gid)) => Some((uid, gid)),
        _ => std::fs::metadata(root.path(&home)).ok().map(|m| {
            (
                std::os::unix::fs::MetadataExt::uid(&m),
                std::os::unix::fs::MetadataExt::gid(&m),
            )
        }),
    };
    let (content, enabled, pending_restart) = match owner {
        Some((uid, gid)) => {
            use crate::user_files::{Answer, Query, Reader};
            let answers = Reader::for_user(root, &account.name, uid, gid).run(&[
                Query::Read(path.clone()),
                Query::Exists(wants_link(&home)),
                Query::Exists(crate::apply::user_unit::pending_restart_marker(&home)),
            ])?;
            match &answers[..] {
                [Answer::Read(c), Answer::Exists(e), Answer::Exists(p)] => (c.clone(), *e, *p),
                _ => unreachable!("one answer per query, in order"),
            }
        }
        _ => (None, false, false),
    };
    Ok(UnitFacts {
        content,
        enabled,
        pending_restart,
        path,
        active,
        manager_running,
    })
}

/// Quotes one word for a systemd command line: `%` and `$` are specifiers there.
fn systemd_word(s: &str) -> String {
    let escaped = s.replace('%', "%%").replace('$', "$$");
    if escaped
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\' || c == ';')
    {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

pub fn render(spec: &Spec) -> String {
    let mut exec = vec![
        spec.k3s.install_path.clone(),
        "server".into(),
        "--rootless".into(),
        format!("--snapshotter={}", spec.unit.snapshotter),
    ];
    exec.extend(spec.unit.args.iter().cloned());
    let exec: Vec<String> = exec.iter().map(|w| systemd_word(w)).collect();
    let mut env = String::new();
    for (k, v) in &spec.unit.env {
        env.push_str(&format!(
            "Environment={}\n",
            systemd_word(&format!("{k}={v}"))
        ));
    }
    format!(
        "# Managed by groundwork: k3s {version} in rootless mode. Local edits are reverted.\n\
[Unit]\n\
Description=k3s (rootless)\n\
\n\
[Service]\n\
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
{env}\
ExecStart={exec}\n\
ExecReload=/bin/kill -s HUP $MAINPID\n\
Type=simple\n\
TimeoutSec=0\n\
RestartSec=2\n\
Restart=always\n\
StartLimitBurst=3\n\
StartLimitInterval=60s\n\
LimitNOFILE=infinity\n\
LimitNPROC=infinity\n\
LimitCORE=infinity\n\
TasksMax=infinity\n\
Delegate=yes\n\
KillMode=mixed\n\
\n\
[Install]\n\
WantedBy=default.target\n",
        version = spec.k3s.version,
        exec = exec.join(" "),
    )
}

/// `restart_implied`: an earlier item changes something the running k3s only reads at start.
pub fn diff(spec: &Spec, facts: &UnitFacts, restart_implied: bool, items: &mut Vec<Item>) {
    let user = &spec.user.name;
    let content = render(spec);
    let file_changes = facts.content.as_deref() != Some(content.as_str());
    if file_changes {
        items.push(
            Item::change(
                Resource::UnitFile,
                format!("file{}", facts.path),
                format!("write {}", facts.path),
                Step::WriteUnitFile {
                    user: user.clone(),
                    content: content.clone(),
                },
            )
            .action(if facts.content.is_some() {
                Action::Update
            } else {
                Action::Create
            })
            .reason(if facts.content.is_some() {
                "the unit differs from the spec"
            } else {
                "the unit does not exist"
            })
            .file(facts.content.clone(), content)
            .implies(Implication::DaemonReload)
            .implies(Implication::RestartUnit),
        );
    }
    let unit = UNIT_NAME;
    if spec.unit.enabled && !facts.enabled {
        items.push(
            Item::change(
                Resource::UnitState,
                format!("unit/{unit}/enabled"),
                format!("enable {unit} for {user}"),
                Step::EnableUnit { user: user.clone() },
            )
            .reason("it must start with the user manager at boot")
            .values(Some("disabled".into()), Some("enabled".into())),
        );
    } else if !spec.unit.enabled && facts.enabled {
        items.push(
            Item::change(
                Resource::UnitState,
                format!("unit/{unit}/enabled"),
                format!("disable {unit} for {user}"),
                Step::DisableUnit { user: user.clone() },
            )
            .values(Some("enabled".into()), Some("disabled".into())),
        );
    }
    if spec.unit.running && !facts.active {
        items.push(
            Item::change(
                Resource::UnitState,
                format!("unit/{unit}/active"),
                format!("start {unit} for {user}"),
                Step::StartUnit { user: user.clone() },
            )
            .action(Action::Run)
            .reason("the unit is not running")
            .values(Some("inactive".into()), Some("active".into())),
        );
    } else if spec.unit.running && (restart_implied || file_changes || facts.pending_restart) {
        items.push(
            Item::change(
                Resource::UnitState,
                format!("unit/{unit}/restart"),
                format!("restart {unit} for {user}"),
                Step::RestartUnit { user: user.clone() },
            )
            .action(Action::Run)
            .reason("k3s reads its binary, unit and prerequisites only at start")
            .values(Some("active (stale)".into()), Some("active".into())),
        );
    } else if !spec.unit.running && facts.active {
        items.push(
            Item::change(
                Resource::UnitState,
                format!("unit/{unit}/active"),
                format!("stop {unit} for {user}"),
                Step::StopUnit { user: user.clone() },
            )
            .action(Action::Run)
            .values(Some("active".into()), Some("inactive".into())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_words_for_systemd() {
        assert_eq!(systemd_word("--disable=traefik"), "--disable=traefik");
        assert_eq!(systemd_word("--node-label=a b"), "\"--node-label=a b\"");
        assert_eq!(systemd_word("50%"), "50%%");
        assert_eq!(systemd_word("$HOME"), "$$HOME");
        assert_eq!(systemd_word("a\"b c"), "\"a\\\"b c\"");
    }
}
