//! The AppArmor profile that lets the k3s binary create user namespaces, needed where the kernel
//! restricts unprivileged user namespaces (Ubuntu 24.04 and later).

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::managed_files::{
    apparmor_profile_path as profile_path, render_apparmor_profile as render_profile,
};
use crate::plan::{Implication, Item, PlanBuilder, ResourceId, Step};
use crate::privileged::Request;
use crate::spec::{AppArmorMode, Spec};
use serde::Serialize;

pub const ID: ResourceId = ResourceId::new("apparmor");

pub struct Apparmor;

impl Resource for Apparmor {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["install_apparmor_profile"]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing("AppArmor", observe(cx.root, cx.spec))?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(cx.spec, cx.facts.get::<AppArmorFacts>(), plan);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppArmorFacts {
    pub enabled: bool,
    /// kernel.apparmor_restrict_unprivileged_userns; None on kernels without it.
    pub restrict_unprivileged_userns: Option<bool>,
    pub abi_4: bool,
    pub profile_path: String,
    pub profile: Option<String>,
}

pub fn observe(root: &HostRoot, spec: &Spec) -> std::io::Result<AppArmorFacts> {
    let path = profile_path(&spec.k3s.install_path);
    Ok(AppArmorFacts {
        enabled: root
            .read_optional("/sys/module/apparmor/parameters/enabled")?
            .is_some_and(|v| v.trim() == "Y"),
        restrict_unprivileged_userns: root
            .read_optional("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")?
            .map(|v| v.trim() == "1"),
        abi_4: root.exists("/etc/apparmor.d/abi/4.0")?,
        profile: root.read_optional(&path)?,
        profile_path: path,
    })
}

fn diff(spec: &Spec, facts: &AppArmorFacts, items: &mut PlanBuilder) {
    let wanted = match spec.apparmor.profile {
        AppArmorMode::Never => false,
        AppArmorMode::Always => true,
        AppArmorMode::Auto => facts.enabled && facts.restrict_unprivileged_userns == Some(true),
    };
    if !wanted {
        return;
    }
    if !facts.enabled || !facts.abi_4 {
        items.push(Item::blocked(
            ID,
            format!("apparmor{}", facts.profile_path),
            "AppArmor 4 is not available for the userns profile",
            "install AppArmor 4 (the apparmor package); or lift the restriction yourself with `kernel.apparmor_restrict_unprivileged_userns = 0` in a file of /etc/sysctl.d (groundwork does not manage that key: it opens user namespaces to every local program) and set `apparmor.profile: never`",
        ));
        return;
    }
    let content = render_profile(&spec.k3s.install_path);
    if facts.profile.as_deref() != Some(content.as_str()) {
        items.push(
            Item::change(ID, format!("file{}", facts.profile_path), format!("install AppArmor profile {}", facts.profile_path), Step::Privileged(Request::InstallApparmorProfile { binary: spec.k3s.install_path.clone() }))
                .reason("the kernel restricts unprivileged user namespaces; k3s fails with `fork/exec /proc/self/exe: operation not permitted`")
                .file(facts.profile.clone(), content)
                .implies(Implication::RestartUnit),
        );
    }
}
