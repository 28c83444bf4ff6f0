//! Subordinate uid and gid ranges in /etc/subuid and /etc/subgid.

use super::account::AccountFacts;
use crate::host_root::HostRoot;
use crate::plan::{Action, Item, Resource, Step};
use crate::spec::{SUBID_MIN, Spec, SubidStart};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubidEntry {
    /// User name or numeric uid, as written.
    pub owner: String,
    pub start: u32,
    pub count: u32,
    /// 1-based line in the file.
    pub line: usize,
}

impl SubidEntry {
    /// One past the last id; u64 so that a range ending at 2^32 is representable.
    pub fn end(&self) -> u64 {
        self.start as u64 + self.count as u64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubidFile {
    pub path: String,
    pub exists: bool,
    pub entries: Vec<SubidEntry>,
    /// Lines that are not `owner:start:count`.
    pub malformed_lines: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubidFacts {
    pub subuid: SubidFile,
    pub subgid: SubidFile,
    /// The `subid:` source in /etc/nsswitch.conf, when there is one.
    pub nsswitch_subid: Option<String>,
}

pub fn parse(path: &str, text: Option<&str>) -> SubidFile {
    let mut entries = Vec::new();
    let mut malformed_lines = Vec::new();
    for (i, line) in text.unwrap_or_default().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        match (
            f.len(),
            f.first(),
            f.get(1).and_then(|s| s.parse().ok()),
            f.get(2).and_then(|s| s.parse().ok()),
        ) {
            (3, Some(owner), Some(start), Some(count)) if !owner.is_empty() => {
                entries.push(SubidEntry {
                    owner: owner.to_string(),
                    start,
                    count,
                    line: i + 1,
                })
            }
            _ => malformed_lines.push(i + 1),
        }
    }
    SubidFile {
        path: path.to_string(),
        exists: text.is_some(),
        entries,
        malformed_lines,
    }
}

pub fn observe(root: &HostRoot) -> std::io::Result<SubidFacts> {
    let uid_text = root.read_optional("/etc/subuid")?;
    let gid_text = root.read_optional("/etc/subgid")?;
    let nss = root.read_optional("/etc/nsswitch.conf")?.and_then(|t| {
        t.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .find_map(|l| l.strip_prefix("subid:").map(|v| v.trim().to_string()))
    });
    Ok(SubidFacts {
        subuid: parse("/etc/subuid", uid_text.as_deref()),
        subgid: parse("/etc/subgid", gid_text.as_deref()),
        nsswitch_subid: nss,
    })
}

fn owned_by<'a>(
    file: &'a SubidFile,
    name: &str,
    uid: Option<u32>,
) -> impl Iterator<Item = &'a SubidEntry> {
    let uid = uid.map(|u| u.to_string());
    file.entries
        .iter()
        .filter(move |e| e.owner == name || Some(&e.owner) == uid.as_ref())
}

fn overlaps(a_start: u64, a_end: u64, b_start: u64, b_end: u64) -> bool {
    a_start < b_end && b_start < a_end
}

/// Ranges of other owners that overlap [start, start+count).
fn conflicts<'a>(
    file: &'a SubidFile,
    name: &str,
    uid: Option<u32>,
    start: u32,
    count: u32,
) -> Vec<&'a SubidEntry> {
    let uid = uid.map(|u| u.to_string());
    let end = start as u64 + count as u64;
    file.entries
        .iter()
        .filter(|e| e.owner != name && Some(&e.owner) != uid.as_ref())
        .filter(|e| overlaps(start as u64, end, e.start as u64, e.end()))
        .collect()
}

/// The lowest start at or above SUBID_MIN where `count` ids overlap no range in any of `files`
/// and no real uid. Deterministic: the same host gives the same answer.
pub fn allocate(files: &[&SubidFile], count: u32, real_uids: &[u32]) -> Option<u32> {
    let mut candidates: Vec<u64> = vec![SUBID_MIN as u64];
    for f in files {
        candidates.extend(
            f.entries
                .iter()
                .map(|e| e.end())
                .filter(|e| *e >= SUBID_MIN as u64),
        );
    }
    for u in real_uids {
        if *u as u64 >= SUBID_MIN as u64 {
            candidates.push(*u as u64 + 1);
        }
    }
    candidates.sort_unstable();
    candidates
        .into_iter()
        .find(|&start| {
            let end = start + count as u64;
            end <= u32::MAX as u64 + 1
                && files.iter().all(|f| {
                    f.entries
                        .iter()
                        .all(|e| !overlaps(start, end, e.start as u64, e.end()))
                })
                && real_uids
                    .iter()
                    .all(|u| !overlaps(start, end, *u as u64, *u as u64 + 1))
        })
        .map(|s| s as u32)
}

fn total(file: &SubidFile, name: &str, uid: Option<u32>) -> u64 {
    owned_by(file, name, uid).map(|e| e.count as u64).sum()
}

fn describe(file: &SubidFile, name: &str, uid: Option<u32>) -> Option<String> {
    let owned: Vec<String> = owned_by(file, name, uid)
        .map(|e| format!("{}:{}:{}", e.owner, e.start, e.count))
        .collect();
    (!owned.is_empty()).then(|| owned.join(", "))
}

pub fn diff(spec: &Spec, facts: &SubidFacts, account: &AccountFacts, items: &mut Vec<Item>) {
    let name = &spec.user.name;
    let uid = account.uid;
    let count = spec.subids.count;

    if let Some(src) = &facts.nsswitch_subid
        && src.split_whitespace().any(|s| s != "files")
    {
        items.push(Item::blocked(
                Resource::Subids,
                "subids/nsswitch",
                format!("subordinate ids come from `{src}` (nsswitch.conf), not from /etc/subuid"),
                format!("give {name} a range of {count} ids in that source, and check it with `getsubids {name}`"),
            ));
        return;
    }

    // A user's existing range that overlaps another owner's is a security hole: block on it.
    let mut conflict_found = false;
    for file in [&facts.subuid, &facts.subgid] {
        for own in owned_by(file, name, uid) {
            for other in conflicts(file, name, uid, own.start, own.count) {
                conflict_found = true;
                items.push(
                    Item::blocked(
                        Resource::Subids,
                        format!("subids{}/overlap/{}-{}", file.path, own.line, other.line),
                        format!(
                            "{}:{} range {}+{} overlaps {}'s range at line {}",
                            file.path, own.line, own.start, own.count, other.owner, other.line
                        ),
                        format!(
                            "edit {} so that the ranges of {name} and {} are disjoint",
                            file.path, other.owner
                        ),
                    )
                    .reason(
                        "overlapping subordinate ranges let one user's containers act as another's",
                    ),
                );
            }
        }
    }
    if conflict_found {
        return;
    }

    let (need_uid, need_gid, start) = match spec.subids.start {
        SubidStart::At(start) => {
            let has = |f: &SubidFile| {
                owned_by(f, name, uid)
                    .any(|e| e.start <= start && e.end() >= start as u64 + count as u64)
            };
            let (nu, ng) = (!has(&facts.subuid), !has(&facts.subgid));
            for (needed, file) in [(nu, &facts.subuid), (ng, &facts.subgid)] {
                if !needed {
                    continue;
                }
                if let Some(other) = conflicts(file, name, uid, start, count).first() {
                    items.push(Item::blocked(
                        Resource::Subids,
                        format!("subids{}", file.path),
                        format!(
                            "the range {start}+{count} overlaps {}'s range at {}:{}",
                            other.owner, file.path, other.line
                        ),
                        "choose another `subids.start`, or `auto`".to_string(),
                    ));
                    return;
                }
            }
            (nu, ng, Some(start))
        }
        SubidStart::Auto => {
            let nu = total(&facts.subuid, name, uid) < count as u64;
            let ng = total(&facts.subgid, name, uid) < count as u64;
            let files: Vec<&SubidFile> = [(nu, &facts.subuid), (ng, &facts.subgid)]
                .into_iter()
                .filter(|x| x.0)
                .map(|x| x.1)
                .collect();
            (
                nu,
                ng,
                if files.is_empty() {
                    None
                } else {
                    allocate(&files, count, &account.all_uids)
                },
            )
        }
    };
    if !need_uid && !need_gid {
        return;
    }
    let Some(start) = start else {
        items.push(Item::blocked(
            Resource::Subids,
            "subids",
            format!("no free range of {count} subordinate ids is left"),
            "remove stale entries from /etc/subuid and /etc/subgid",
        ));
        return;
    };
    let end = start as u64 + count as u64 - 1;
    let which = match (need_uid, need_gid) {
        (true, true) => "/etc/subuid and /etc/subgid",
        (true, false) => "/etc/subuid",
        _ => "/etc/subgid",
    };
    let before = [(need_uid, &facts.subuid), (need_gid, &facts.subgid)]
        .iter()
        .filter(|x| x.0)
        .map(|x| {
            format!(
                "{}: {}",
                x.1.path,
                describe(x.1, name, uid).unwrap_or_else(|| "none".into())
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    items.push(
        Item::change(
            Resource::Subids,
            "subids",
            format!("add subordinate ids {start}-{end} for {name} to {which}"),
            Step::AddSubids {
                user: name.clone(),
                start,
                count,
                uids: need_uid,
                gids: need_gid,
            },
        )
        .action(Action::Create)
        .reason(format!(
            "rootless k3s maps {count} ids through newuidmap and newgidmap"
        ))
        .values(Some(before), Some(format!("{name}:{start}:{count}"))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SubidFile {
        parse("/etc/subuid", Some(text))
    }

    #[test]
    fn parses_entries_and_flags_malformed_lines() {
        let f = file(
            "alice:100000:65536\n# comment\n\nbob:165536:65536\nbroken\ncarol:x:1\n1001:231072:65536\n",
        );
        assert_eq!(f.entries.len(), 3);
        assert_eq!(f.entries[2].owner, "1001");
        assert_eq!(f.malformed_lines, vec![5, 6]);
    }

    #[test]
    fn allocates_the_lowest_free_range() {
        assert_eq!(allocate(&[&file("")], 65536, &[]), Some(100_000));
        assert_eq!(
            allocate(&[&file("a:100000:65536\n")], 65536, &[]),
            Some(165_536)
        );
        // A gap big enough before a later range is used.
        assert_eq!(
            allocate(&[&file("a:100000:65536\nb:300000:65536\n")], 65536, &[]),
            Some(165_536)
        );
        // A gap too small is skipped.
        assert_eq!(
            allocate(&[&file("a:100000:65536\nb:200000:65536\n")], 65536, &[]),
            Some(265_536)
        );
        // Both files must be free.
        assert_eq!(
            allocate(
                &[&file("a:100000:65536\n"), &file("b:165536:65536\n")],
                65536,
                &[]
            ),
            Some(231_072)
        );
        // Real uids above SUB_UID_MIN are avoided.
        assert_eq!(allocate(&[&file("")], 65536, &[120_000]), Some(120_001));
    }

    #[test]
    fn allocation_never_overflows() {
        let f = file(&format!("a:100000:{}\n", u32::MAX - 100_000));
        assert_eq!(allocate(&[&f], 65536, &[]), None);
    }
}
