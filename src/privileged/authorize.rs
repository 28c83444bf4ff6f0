//! Who may ask for what. The invoking user comes from SUDO_UID (sudo sets it and a user cannot
//! override it); a per-user verb may only act for that user, unless a root-owned allow-list file
//! says that invoker may prepare that target.

use super::request::Request;
use std::os::unix::fs::MetadataExt;

/// The allow-list: lines of `INVOKER: TARGET [TARGET...]`, `#` comments.
pub const ALLOW_FILE: &str = "/etc/groundwork/helper-allow.conf";

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
}

/// Resolves the invoker from the real uid and SUDO_UID.
pub fn invoker(real_uid: u32, sudo_uid: Option<&str>) -> Result<Invoker, String> {
    if real_uid != 0 {
        return Err("the helper must run as root through sudo".into());
    }
    let Some(s) = sudo_uid else {
        return Ok(Invoker::Root);
    };
    let uid: u32 = s
        .parse()
        .map_err(|_| format!("SUDO_UID {s:?} is not a uid"))?;
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

/// Parses the allow-list text into (invoker, target) pairs.
pub fn parse_allow(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some((inv, targets)) = line.split_once(':') {
            for t in targets
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
            {
                pairs.push((inv.trim().to_string(), t.to_string()));
            }
        }
    }
    pairs
}

/// Reads the allow-list only when root owns it and nobody else can write it.
fn read_allow_file() -> Result<Vec<(String, String)>, String> {
    let meta = match std::fs::symlink_metadata(ALLOW_FILE) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {ALLOW_FILE}: {e}")),
    };
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{ALLOW_FILE} is ignored and the request refused: it must be a regular file owned by root and writable only by root"
        ));
    }
    std::fs::read_to_string(ALLOW_FILE)
        .map(|t| parse_allow(&t))
        .map_err(|e| format!("cannot read {ALLOW_FILE}: {e}"))
}

pub fn authorize(invoker: &Invoker, request: &Request) -> Result<(), String> {
    authorize_with(invoker, request, read_allow_file)
}

pub fn authorize_with(
    invoker: &Invoker,
    request: &Request,
    allow: impl FnOnce() -> Result<Vec<(String, String)>, String>,
) -> Result<(), String> {
    let Invoker::User { name, .. } = invoker else {
        return Ok(());
    };
    let Some(target) = request.target_user() else {
        return Ok(());
    };
    // Creating an account is never "for yourself": it always needs the allow-list.
    if target == name && !matches!(request, Request::CreateUser { .. }) {
        return Ok(());
    }
    if allow()?.iter().any(|(i, t)| i == name && t == target) {
        return Ok(());
    }
    Err(format!(
        "{name} may not {} for {target}: a user may act only for themself; root can allow it with the line `{name}: {target}` in {ALLOW_FILE}",
        request.verb().replace('_', " ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Invoker {
        Invoker::User {
            uid: 1000,
            name: "alice".into(),
        }
    }

    #[test]
    fn users_act_only_for_themselves() {
        let own = Request::EnableLinger {
            user: "alice".into(),
        };
        let other = Request::EnableLinger { user: "bob".into() };
        assert!(authorize_with(&alice(), &own, || Ok(vec![])).is_ok());
        assert!(authorize_with(&alice(), &other, || Ok(vec![])).is_err());
        assert!(
            authorize_with(&alice(), &other, || Ok(vec![(
                "alice".into(),
                "bob".into()
            )]))
            .is_ok()
        );
        assert!(
            authorize_with(&alice(), &other, || Ok(vec![(
                "carol".into(),
                "bob".into()
            )]))
            .is_err()
        );
        assert!(authorize_with(&Invoker::Root, &other, || Ok(vec![])).is_ok());
    }

    #[test]
    fn creating_an_account_needs_the_allow_list() {
        let req = Request::CreateUser {
            user: "alice".into(),
        };
        assert!(authorize_with(&alice(), &req, || Ok(vec![])).is_err());
    }

    #[test]
    fn a_bad_allow_file_refuses() {
        let other = Request::EnableLinger { user: "bob".into() };
        assert!(authorize_with(&alice(), &other, || Err("bad".into())).is_err());
    }

    #[test]
    fn parses_allow_lines() {
        assert_eq!(
            parse_allow("# who: whom\nops: k3s, k3s-lab  # lab\n\nbroken line\n"),
            vec![
                ("ops".into(), "k3s".into()),
                ("ops".into(), "k3s-lab".into())
            ]
        );
    }

    #[test]
    fn only_root_runs_the_helper() {
        assert!(invoker(1000, Some("1000")).is_err());
        assert_eq!(invoker(0, None), Ok(Invoker::Root));
        assert!(invoker(0, Some("x")).is_err());
    }
}
