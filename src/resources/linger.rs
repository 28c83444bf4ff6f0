//! Lingering: the user's systemd manager starts at boot and survives logout.

use crate::host_root::HostRoot;
use crate::plan::{Action, Item, Resource, Step};
use crate::spec::Spec;

pub fn path(user: &str) -> String {
    format!("/var/lib/systemd/linger/{user}")
}

pub fn observe(root: &HostRoot, user: &str) -> bool {
    root.exists(path(user))
}

pub fn diff(spec: &Spec, enabled: bool, items: &mut Vec<Item>) {
    let user = &spec.user.name;
    if spec.linger && !enabled {
        items.push(
            Item::change(
                Resource::Linger,
                format!("linger/{user}"),
                format!("enable lingering for {user}"),
                Step::EnableLinger { user: user.clone() },
            )
            .action(Action::Create)
            .reason("without it k3s stops at logout and does not start at boot")
            .values(Some("Linger=no".into()), Some("Linger=yes".into())),
        );
    }
}
