//! The set_subids verb: the user holds exactly one range in /etc/subuid (and /etc/subgid).
//! Checked and written under shadow's locks, so that two requests for the same ids cannot both
//! be granted, and so that useradd and usermod see a consistent file.

use super::authorize::Invoker;
use super::error::{Done, VerbError};
use super::known_ids;
use super::secure_fs;
use super::shadow_lock::ShadowLock;
use crate::policy::{IdKind, Policy};
use crate::subid_ranges;
use std::collections::BTreeSet;
use std::path::Path;

const FILES: [(&str, IdKind); 2] = [("/etc/subuid", IdKind::Uid), ("/etc/subgid", IdKind::Gid)];

pub struct Wanted<'a> {
    pub user: &'a str,
    pub start: u32,
    pub count: u32,
    pub uids: bool,
    pub gids: bool,
}

pub fn set_subids(w: &Wanted, invoker: &Invoker, policy: &Policy) -> Result<Done, VerbError> {
    let account = nix::unistd::User::from_name(w.user)
        .map_err(|e| VerbError::failed(format!("cannot look up {}: {e}", w.user)))?
        .ok_or_else(|| VerbError::Refused(format!("user {} does not exist", w.user)))?;
    let uid = account.uid.as_raw();
    let files: Vec<(&str, IdKind)> = FILES
        .into_iter()
        .filter(|(_, kind)| match kind {
            IdKind::Uid => w.uids,
            IdKind::Gid => w.gids,
        })
        .collect();
    if !invoker.is_root() {
        for (_, kind) in &files {
            policy
                .check_subids(*kind, w.start, w.count)
                .map_err(VerbError::Refused)?;
        }
    }
    let paths: Vec<&Path> = files.iter().map(|(p, _)| Path::new(*p)).collect();
    for p in &paths {
        secure_fs::check_trusted_dir(p.parent().expect("an /etc path"))
            .map_err(|e| VerbError::Refused(format!("{}: {e}", p.display())))?;
    }
    let _lock = ShadowLock::acquire(&paths).map_err(|e| VerbError::failed(e.to_string()))?;
    let end = w.start as u64 + w.count as u64 - 1;
    let mut writes = Vec::new();
    for (path, kind) in &files {
        let old = secure_fs::read_existing(Path::new(path))
            .map_err(|e| VerbError::Refused(format!("{path}: {e}")))?;
        let text = match &old {
            Some((bytes, _)) => String::from_utf8(bytes.clone()).map_err(|_| {
                VerbError::Refused(format!("{path} is not UTF-8 text; fix it by hand"))
            })?,
            None => String::new(),
        };
        let file = subid_ranges::parse(path, Some(&text));
        // Which ids such a line grants is a guess: a range beside it may be one newuidmap already
        // grants to someone else (`0200000` is octal to shadow-utils).
        if let Some(m) = file.malformed_lines.first() {
            return Err(VerbError::Refused(format!(
                "{path}:{}: {}; rewrite the line as owner:start:count in plain decimal, or delete it: no range is granted beside a line whose ids are unclear",
                m.line, m.problem
            )));
        }
        let own: Vec<_> = file.owned_by(w.user, Some(uid)).collect();
        if let [only] = own[..]
            && only.start == w.start
            && only.count == w.count
        {
            continue;
        }
        if let Some(other) = file.conflicts(w.user, Some(uid), w.start, w.count).first() {
            return Err(VerbError::Refused(format!(
                "the range {}-{end} overlaps {}'s range at {path}:{}",
                w.start, other.owner, other.line
            )));
        }
        let (real, what): (BTreeSet<u32>, &str) = match kind {
            IdKind::Uid => (known_ids::uids(), "uid"),
            IdKind::Gid => (known_ids::gids(), "gid"),
        };
        if let Some(id) = real.range(w.start..=end as u32).next() {
            return Err(VerbError::Refused(format!(
                "the range {}-{end} contains the real {what} {id}: a subordinate range must not map onto real accounts or groups",
                w.start
            )));
        }
        let new = subid_ranges::with_only_range(&text, w.user, uid, w.start, w.count);
        writes.push((path, new));
    }
    if writes.is_empty() {
        return Ok(Done::unchanged(format!(
            "{} already holds {}-{end}",
            w.user, w.start
        )));
    }
    let mut written = Vec::new();
    for (path, content) in &writes {
        if let Err(e) = secure_fs::replace(Path::new(path), content.as_bytes(), 0o644) {
            return Err(VerbError::Failed {
                msg: format!("cannot write {path}: {e}"),
                changed: !written.is_empty(),
            });
        }
        written.push(**path);
    }
    Ok(Done::changed(format!(
        "{} now holds the subordinate ids {}-{end} in {}",
        w.user,
        w.start,
        written.join(" and ")
    )))
}
