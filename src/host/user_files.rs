//! Reading files in a user's home. Everything below the home belongs to its user, who can make
//! any name there a link to a file only root may read (`k3s-rootless.service` → /etc/shadow).
//! So when groundwork runs as root, it looks at those files with the user's own rights: a
//! short-lived thread takes the user's filesystem identity (setfsuid, setfsgid and the user's
//! groups, for that thread alone; the kernel then drops root's file capabilities from it) and
//! does the reads. Links are followed exactly as far as the user could follow them, and
//! nothing root alone may read is ever shown. No process is started, so a drift check as root
//! stays free of spawns.

use crate::host::HostRoot;
use std::io;
use std::path::{Path, PathBuf};

/// What to read: existence checks (without following the last link) and file contents.
#[derive(Debug, Clone)]
pub enum Query {
    Exists(String),
    Read(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Exists(bool),
    Read(Option<String>),
}

/// Whose rights the reads use.
#[derive(Debug, Clone)]
pub struct Reader {
    root: HostRoot,
    /// uid, gid and supplementary groups to take on; None: read with our own rights.
    identity: Option<(u32, u32, Vec<u32>)>,
}

impl Reader {
    /// A reader for the files of the account `name` (uid, gid): with that account's rights
    /// when groundwork is root on the live host, with our own otherwise (the kernel already
    /// limits a user to what they may read).
    pub fn for_user(root: &HostRoot, name: &str, uid: u32, gid: u32) -> Self {
        let switch = root.is_live() && nix::unistd::geteuid().is_root() && uid != 0;
        let identity = switch.then(|| {
            let groups = std::ffi::CString::new(name)
                .ok()
                .and_then(|c| nix::unistd::getgrouplist(&c, gid.into()).ok())
                .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_else(|| vec![gid]);
            (uid, gid, groups)
        });
        Reader {
            root: root.clone(),
            identity,
        }
    }

    /// Answers the queries in order, in one thread with the user's rights.
    pub fn run(&self, queries: &[Query]) -> io::Result<Vec<Answer>> {
        let Some((uid, gid, groups)) = self.identity.clone() else {
            return answer_all(&self.root, queries);
        };
        let root = self.root.clone();
        let queries = queries.to_vec();
        std::thread::spawn(move || {
            take_identity(uid, gid, &groups)?;
            answer_all(&root, &queries)
        })
        .join()
        .map_err(|_| io::Error::other("the thread reading the user's files panicked"))?
    }
}

fn answer_all(root: &HostRoot, queries: &[Query]) -> io::Result<Vec<Answer>> {
    queries
        .iter()
        .map(|q| match q {
            Query::Exists(p) => root.exists(p).map(Answer::Exists),
            Query::Read(p) => root.read_optional(p).map(Answer::Read),
        })
        .collect()
}

/// Gives this thread, and only it, the user's filesystem identity. The raw system calls act on
/// the calling thread; glibc's wrappers for setgroups would change every thread.
fn take_identity(uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
    // SAFETY: plain system calls on this thread's credentials; `groups` outlives the call and
    // its length is passed with it.
    unsafe {
        if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::syscall(libc::SYS_setfsgid, gid);
        libc::syscall(libc::SYS_setfsuid, uid);
        // Each returns the previous value; an invalid id (-1) changes nothing and reports the
        // current one, which must now be the user's.
        let now_gid = libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32;
        let now_uid = libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32;
        if (now_uid, now_gid) != (uid, gid) {
            return Err(io::Error::other(format!(
                "could not take uid {uid} and gid {gid} to read the user's files"
            )));
        }
    }
    Ok(())
}

/// A path below `home`, for display and for queries.
pub fn in_home(home: &str, rel: &str) -> String {
    let mut p = PathBuf::from(home);
    p.push(Path::new(rel));
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn root_reads_a_users_links_with_the_users_rights() {
        if !nix::unistd::geteuid().is_root() {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"==== SKIPPED (needs root): reading a user's files with the user's rights ====\n",
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the tests as root"
            );
            return;
        }
        // A secret only root may read, and a "user" (nobody's uid) with a link to it.
        let dir = tempfile::tempdir_in("/root").unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "root only\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let home = tempfile::tempdir().unwrap();
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = home.path().join("unit");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let own = home.path().join("own");
        std::fs::write(&own, "mine\n").unwrap();
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o644)).unwrap();

        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let reader = Reader::for_user(
            &HostRoot::new("/"),
            "nobody",
            nobody.uid.as_raw(),
            nobody.gid.as_raw(),
        );
        let link_s = link.to_string_lossy().into_owned();
        let got = reader.run(&[Query::Read(link_s.clone())]);
        assert!(
            got.is_err(),
            "root's secret must not be read through the user's link: {got:?}"
        );
        let got = reader
            .run(&[
                Query::Read(own.to_string_lossy().into_owned()),
                Query::Exists(link_s),
            ])
            .unwrap();
        assert_eq!(
            got,
            vec![Answer::Read(Some("mine\n".into())), Answer::Exists(true)]
        );
        // Our own thread kept root's rights.
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root only\n");
    }
}
