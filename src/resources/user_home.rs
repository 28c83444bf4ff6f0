//! What the resources that live in the user's home share: reading those files with their
//! owner's rights, and waiting for the user's systemd manager once before it is needed.

use super::account::AccountFacts;
use super::contract::DiffCx;
use crate::host::HostRoot;
use crate::host::user_files::Reader;
use crate::plan::{Item, PlanBuilder, ResourceId, Step};

/// A reader with the rights of the files' owner: the account, or (before the account exists)
/// whoever owns the home directory.
pub fn home_reader(root: &HostRoot, account: &AccountFacts) -> std::io::Result<Option<Reader>> {
    let home = account.home_or_default();
    let owner = match (account.uid, account.gid) {
        (Some(uid), Some(gid)) => Some((uid, gid)),
        _ => match std::fs::metadata(root.path(&home)) {
            Ok(m) => Some((
                std::os::unix::fs::MetadataExt::uid(&m),
                std::os::unix::fs::MetadataExt::gid(&m),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        },
    };
    Ok(owner.map(|(uid, gid)| Reader::for_user(root, &account.name, uid, gid)))
}

/// Puts one wait for the user manager in the plan before the first step that needs it, unless
/// the manager runs (`running`, as observed) or an earlier step already waits for it.
/// `resource` and `id`: whose step it is.
pub fn wait_for_manager_once(
    cx: &DiffCx,
    plan: &mut PlanBuilder,
    running: bool,
    resource: ResourceId,
    id: String,
) {
    let user = &cx.spec.user.name;
    let waits = plan
        .items()
        .iter()
        .any(|i| matches!(&i.step, Some(Step::WaitForUserManager { .. })));
    if !running && !waits {
        plan.push(Item::run(
            resource,
            id,
            format!("wait for the systemd user manager of {user} to answer"),
            Step::WaitForUserManager { user: user.clone() },
        ));
    }
}
