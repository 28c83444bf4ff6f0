//! The target account: it must exist (or be created) and must not be root.

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::plan::{Action, Item, PlanBuilder, ResourceId, Step};
use crate::privileged::Request;
use crate::spec::{Spec, SpecSource};
use serde::Serialize;

pub const ID: ResourceId = ResourceId::new("account");

pub struct Account;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountFacts {
    pub name: String,
    pub exists: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub home: Option<String>,
    pub home_exists: bool,
    /// Numeric uids of every account in /etc/passwd, to keep subordinate uid ranges clear of
    /// them (the helper also asks NSS).
    #[serde(skip)]
    pub all_uids: Vec<u32>,
    /// Numeric gids of every group in /etc/group, for the subordinate gid ranges.
    #[serde(skip)]
    pub all_gids: Vec<u32>,
}

impl AccountFacts {
    /// Home directory, or the one `useradd -m` will create.
    pub fn home_or_default(&self) -> String {
        self.home
            .clone()
            .unwrap_or_else(|| format!("/home/{}", self.name))
    }
}

/// One /etc/passwd line, borrowed from the file's text: a host has hundreds of accounts and one
/// of them is wanted.
pub struct PasswdEntry<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub home: &'a str,
}

pub fn parse_passwd(text: &str) -> Vec<PasswdEntry<'_>> {
    crate::colon_fields::lines(text)
        .filter_map(|line| {
            if line.starts_with('#') {
                return None;
            }
            // name:password:uid:gid:gecos:home:shell: the colons ending the first six fields,
            // the sixth of which means the shell is there (if empty).
            let [name, password, uid, gid, gecos, home] = crate::colon_fields::colons(line)?;
            Some(PasswdEntry {
                name: &line[..name],
                uid: line[password + 1..uid].parse().ok()?,
                gid: line[uid + 1..gid].parse().ok()?,
                home: &line[gecos + 1..home],
            })
        })
        .collect()
}

pub fn observe(root: &HostRoot, name: &str) -> std::io::Result<AccountFacts> {
    let passwd_text = root.read_optional("/etc/passwd")?.unwrap_or_default();
    let passwd = parse_passwd(&passwd_text);
    let all_uids = passwd.iter().map(|e| e.uid).collect();
    let group = root.read_optional("/etc/group")?.unwrap_or_default();
    let all_gids = crate::colon_fields::ids(&group).collect();
    let mut found = passwd
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| (e.uid, e.gid, e.home.to_owned()));
    // Accounts from LDAP or systemd-homed are not in /etc/passwd; ask NSS on the live host.
    if found.is_none()
        && root.is_live()
        && let Ok(Some(u)) = nix::unistd::User::from_name(name)
    {
        found = Some((
            u.uid.as_raw(),
            u.gid.as_raw(),
            u.dir.to_string_lossy().into_owned(),
        ));
    }
    let home_exists = match &found {
        Some((_, _, h)) => root.is_dir(h)?,
        None => false,
    };
    Ok(AccountFacts {
        name: name.to_string(),
        exists: found.is_some(),
        uid: found.as_ref().map(|f| f.0),
        gid: found.as_ref().map(|f| f.1),
        home: found.map(|f| f.2),
        home_exists,
        all_uids,
        all_gids,
    })
}

impl Resource for Account {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["create_user"]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing(
            "the account",
            observe(cx.root, &cx.spec.user.name),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(cx.spec, cx.source, cx.facts.get::<AccountFacts>(), plan);
    }
}

/// How to have apply create a missing account whose spec does not say `create: true`: that
/// depends on where the spec came from. `--user` (like the embedded default's invoking user)
/// replaces the spec's own user and never creates it, whatever the spec says; with no spec
/// file there is nothing to edit yet, and `groundwork init` writes one.
fn how_to_create(name: &str, source: &SpecSource) -> String {
    if crate::spec::is_embedded(source) {
        return format!(
            "or have apply create it: `groundwork init --user {name}` writes a spec that says so \
             (`user.create: true`), then `groundwork plan groundwork.yaml`"
        );
    }
    let own_user = crate::spec::parse(source).map(|s| s.user.name);
    if own_user.as_deref().is_ok_and(|own| own != name) {
        format!(
            "or have apply create it: name it in {} (`user: {{ name: {name}, create: true }}`) \
             and run without `--user`",
            source.name
        )
    } else {
        format!("or set `user.create: true` in {}", source.name)
    }
}

fn diff(spec: &Spec, source: &SpecSource, facts: &AccountFacts, items: &mut PlanBuilder) {
    let name = &spec.user.name;
    if !facts.exists {
        if spec.user.create {
            items.push(
                Item::change(
                    ID,
                    format!("account/{name}"),
                    format!("create user {name}"),
                    Step::Privileged(Request::CreateUser { user: name.clone() }),
                )
                .action(Action::Create)
                .reason("the user does not exist and the spec sets `create: true`")
                .values(None, Some(format!("{name} (home /home/{name})"))),
            );
        } else {
            items.push(
                Item::blocked(
                    ID,
                    format!("account/{name}"),
                    format!("user {name} does not exist"),
                    format!(
                        "create it (`useradd -m {name}`), {}",
                        how_to_create(name, source)
                    ),
                )
                .reason("the spec names a user that is not on this host"),
            );
        }
        return;
    }
    if facts.uid == Some(0) {
        items.push(Item::blocked(
            ID,
            format!("account/{name}"),
            format!("user {name} has uid 0"),
            "rootless k3s must run as an unprivileged account; name another user in the spec",
        ));
    } else if !facts.home_exists {
        items.push(
            Item::blocked(
                ID,
                format!("account/{name}"),
                format!(
                    "home directory {} of {name} does not exist",
                    facts.home_or_default()
                ),
                format!(
                    "create it: `mkhomedir_helper {name}` or `install -d -o {name} -g {name} {}`",
                    facts.home_or_default()
                ),
            )
            .reason(
                "k3s keeps its data in ~/.rancher/k3s and the unit lives in ~/.config/systemd/user",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain reading the one-pass one replaced.
    fn by_split(text: &str) -> Vec<(&str, u32, u32, &str)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|line| {
                let f: Vec<&str> = line.split(':').collect();
                (f.len() >= 7).then_some(())?;
                Some((f[0], f[2].parse().ok()?, f[3].parse().ok()?, f[5]))
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn passwd_reads_as_split_reads(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "k3s", ":", "::", "x", "1000", "-1", "4294967296", "/home/k3s", "/bin/sh", "\n",
                "\r\n", "#", " ", "é", "k3s:x:1000:1000::/home/k3s:/bin/sh\n",
            ]), 0..30),
        ) {
            let text = pieces.concat();
            let got: Vec<_> = parse_passwd(&text)
                .into_iter()
                .map(|e| (e.name, e.uid, e.gid, e.home))
                .collect();
            proptest::prop_assert_eq!(got, by_split(&text));
        }
    }
}
