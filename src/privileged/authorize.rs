//! Who may ask for what. The invoking user comes from SUDO_UID (sudo sets it and a user cannot
//! override it); a per-user verb may act only for that user, unless root's policy lists the
//! target under the invoker in `act_for`. Host-wide verbs are bounded by the policy when they run.

use super::request::Request;
use crate::policy::{POLICY_FILE, Policy};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoker {
    Root,
    User { uid: u32, name: String },
}

impl Invoker {
    pub fn describe(&self) -> String {
        match self {
            Invoker::Root => "root".into(),
            Invoker::User { uid, name } => format!("{name} (uid {uid})"),
        }
    }

    pub fn is_root(&self) -> bool {
        matches!(self, Invoker::Root)
    }
}

/// A uid as sudo writes it: decimal digits only (no sign, no spaces), within u32.
fn parse_uid(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 10 && s.bytes().all(|c| c.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Resolves the invoker from the real uid and SUDO_UID. Without SUDO_UID there is no invoker to
/// hold to root's policy: the helper refuses rather than take the caller for root (found in
/// review: started through doas, pkexec or `su -c`, every request would have bypassed the
/// policy). Root itself goes through sudo too (SUDO_UID=0), or needs no helper at all.
pub fn invoker(real_uid: u32, sudo_uid: Option<&str>) -> Result<Invoker, String> {
    if real_uid != 0 {
        return Err("the helper must run as root through sudo".into());
    }
    let Some(s) = sudo_uid else {
        return Err(
            "SUDO_UID is not set: the helper runs only through sudo, which names who asks; as \
             root, run groundwork itself (it carries out the steps without the helper)"
                .into(),
        );
    };
    let uid = parse_uid(s).ok_or_else(|| format!("SUDO_UID {s:?} is not a uid"))?;
    if uid == 0 {
        return Ok(Invoker::Root);
    }
    let user = nix::unistd::User::from_uid(uid.into())
        .map_err(|e| format!("cannot look up uid {uid}: {e}"))?
        .ok_or_else(|| format!("uid {uid} has no account"))?;
    Ok(Invoker::User {
        uid,
        name: user.name,
    })
}

pub fn authorize(invoker: &Invoker, request: &Request, policy: &Policy) -> Result<(), String> {
    let Invoker::User { name, .. } = invoker else {
        return Ok(());
    };
    let Some(target) = request.target_user() else {
        return Ok(());
    };
    // Creating an account is never "for yourself": it always needs the policy.
    if target == name && !matches!(request, Request::CreateUser { .. }) {
        return Ok(());
    }
    if policy.may_act_for(name, target) {
        return Ok(());
    }
    Err(format!(
        "{name} may not {} for {target}: a user may act only for themself; root can allow it with `act_for: {{ {name}: [{target}] }}` in {POLICY_FILE}",
        request.verb().replace('_', " ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyFile, parse};

    fn alice() -> Invoker {
        Invoker::User {
            uid: 1000,
            name: "alice".into(),
        }
    }

    fn policy(text: &str) -> Policy {
        Policy::build(parse(text, "p").unwrap(), "", "p").unwrap()
    }

    #[test]
    fn users_act_only_for_themselves() {
        let none = Policy::build(PolicyFile::default(), "", "none").unwrap();
        let own = Request::EnableLinger {
            user: "alice".into(),
        };
        let other = Request::EnableLinger { user: "bob".into() };
        assert!(authorize(&alice(), &own, &none).is_ok());
        assert!(authorize(&alice(), &other, &none).is_err());
        assert!(authorize(&alice(), &other, &policy("act_for: { alice: [bob] }")).is_ok());
        assert!(authorize(&alice(), &other, &policy("act_for: { carol: [bob] }")).is_err());
        assert!(authorize(&alice(), &other, &policy("act_for: { bob: [alice] }")).is_err());
        assert!(authorize(&Invoker::Root, &other, &none).is_ok());
    }

    #[test]
    fn creating_an_account_needs_the_policy() {
        let req = Request::CreateUser {
            user: "alice".into(),
        };
        assert!(authorize(&alice(), &req, &Policy::defaults()).is_err());
    }

    #[test]
    fn only_root_runs_the_helper_and_sudo_uid_is_strict() {
        assert!(invoker(1000, Some("1000")).is_err());
        assert_eq!(invoker(0, Some("0")), Ok(Invoker::Root));
        let e = invoker(0, None).unwrap_err();
        assert!(e.contains("SUDO_UID is not set"), "{e}");
        for bad in [
            "x",
            "+1",
            " 1",
            "1 ",
            "-1",
            "0x1",
            "",
            "99999999999",
            "4294967296",
        ] {
            assert!(invoker(0, Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(invoker(0, Some("0")), Ok(Invoker::Root));
    }
}
