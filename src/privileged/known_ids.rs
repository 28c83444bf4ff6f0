//! The real uids and gids of the host, which no subordinate range may contain: from
//! /etc/passwd and /etc/group, and from every NSS source that enumerates (LDAP with
//! enumeration, systemd-homed and dynamic users through nss-systemd). Sources that do not
//! enumerate (sssd's default) cannot be listed; root's policy bounds (SUB_UID_MIN..SUB_UID_MAX)
//! are what keeps ranges clear of them.

use std::collections::BTreeSet;

/// The numeric third field of `name:x:ID:...` lines.
pub fn ids_in_db(text: &str) -> BTreeSet<u32> {
    crate::colon_fields::ids(text).collect()
}

pub fn uids() -> BTreeSet<u32> {
    let mut ids = ids_in_db(&std::fs::read_to_string("/etc/passwd").unwrap_or_default());
    // SAFETY: setpwent/getpwent/endpwent use libc's static iteration state; the helper is
    // single-threaded, and in-process (root) callers run this from one thread at a time. Each
    // returned pointer is read before the next call.
    unsafe {
        libc::setpwent();
        loop {
            let p = libc::getpwent();
            if p.is_null() {
                break;
            }
            ids.insert((*p).pw_uid);
        }
        libc::endpwent();
    }
    ids
}

pub fn gids() -> BTreeSet<u32> {
    let mut ids = ids_in_db(&std::fs::read_to_string("/etc/group").unwrap_or_default());
    // SAFETY: as in `uids`, for the group database.
    unsafe {
        libc::setgrent();
        loop {
            let g = libc::getgrent();
            if g.is_null() {
                break;
            }
            ids.insert((*g).gr_gid);
        }
        libc::endgrent();
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_enumerates_nss() {
        assert_eq!(
            ids_in_db(
                "root:x:0:0::/root:/bin/sh\n#c:x:5:\nbad\nk3s:x:1000:1000::/home/k3s:/bin/sh\n"
            ),
            BTreeSet::from([0, 1000])
        );
        assert!(uids().contains(&0));
        assert!(gids().contains(&0));
    }
}
