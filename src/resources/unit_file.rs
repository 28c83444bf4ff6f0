//! The k3s-rootless unit file in the user's ~/.config/systemd/user, rendered from the spec. A
//! new file means the user manager reloads (a step of its own) and k3s restarts.

use super::account::AccountFacts;
use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use super::user_home::{home_reader, wait_for_manager_once};
use crate::host::HostRoot;
use crate::host::session::unit_path;
use crate::host::user_files::{Answer, Query};
use crate::plan::{Action, Implication, Item, PlanBuilder, ResourceId, Step};
use crate::spec::Spec;
use serde::Serialize;

pub const ID: ResourceId = ResourceId::new("unit_file");

pub struct UnitFile;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitFileFacts {
    pub path: String,
    pub content: Option<String>,
}

pub fn observe(root: &HostRoot, account: &AccountFacts) -> std::io::Result<UnitFileFacts> {
    let path = unit_path(&account.home_or_default());
    // Files in the user's home are the user's: read them with the user's rights.
    let content = match home_reader(root, account)? {
        Some(reader) => match &reader.run(&[Query::Read(path.clone())])?[..] {
            [Answer::Read(c)] => c.clone(),
            _ => unreachable!("one answer per query"),
        },
        None => None,
    };
    Ok(UnitFileFacts { path, content })
}

impl Resource for UnitFile {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["write_unit_file", "reload_user_manager"]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        let account = cx.facts.get::<AccountFacts>();
        Ok(Box::new(observing(
            "the user unit",
            observe(cx.root, account),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        let facts = cx.facts.get::<UnitFileFacts>();
        let user = &cx.spec.user.name;
        let content = render(cx.spec);
        if facts.content.as_deref() == Some(content.as_str()) {
            return;
        }
        plan.push(
            Item::change(
                ID,
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
            .implies(Implication::RestartUnit),
        );
        wait_for_manager_once(
            cx,
            plan,
            cx.facts
                .get::<super::unit_state::UnitStateFacts>()
                .manager_running,
            ID,
            format!("unit/{}/wait", crate::host::session::UNIT_NAME),
        );
        plan.push(Item::run(
            ID,
            format!("unit/{}/daemon-reload", crate::host::session::UNIT_NAME),
            format!("reload the systemd user manager of {user} (systemctl --user daemon-reload)"),
            Step::ReloadUserManager { user: user.clone() },
        ));
    }
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
    // The network section's variables and the others, in one sorted list: validation keeps
    // their names apart.
    let mut vars: std::collections::BTreeMap<&str, &str> = spec
        .unit
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let network = spec.network.env();
    vars.extend(network.iter().map(|(k, v)| (*k, v.as_str())));
    let mut env = String::new();
    for (k, v) in vars {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_section_becomes_k3s_variables_beside_the_others() {
        let mut spec = crate::spec::load_default().0;
        spec.network.port_driver = Some(crate::spec::PortDriver::Builtin);
        spec.network.mtu = Some(1500);
        spec.network.disable_host_loopback = Some(false);
        spec.unit.env.insert("K3S_TOKEN".into(), "t".into());
        let unit = render(&spec);
        let env: Vec<&str> = unit
            .lines()
            .filter(|l| l.starts_with("Environment=K3S"))
            .collect();
        assert_eq!(
            env,
            [
                "Environment=K3S_ROOTLESS_DISABLE_HOST_LOOPBACK=false",
                "Environment=K3S_ROOTLESS_MTU=1500",
                "Environment=K3S_ROOTLESS_PORT_DRIVER=builtin",
                "Environment=K3S_TOKEN=t",
            ]
        );
        // Unset fields leave k3s's own defaults: no line.
        spec.network = crate::spec::NetworkSpec::default();
        spec.unit.env.clear();
        assert!(!render(&spec).contains("K3S_ROOTLESS"));
    }
}
