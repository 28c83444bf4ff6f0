//! Subordinate uid and gid ranges in /etc/subuid and /etc/subgid.
//!
//! In sync means: the user's ranges overlap nobody else's and not each other (newuidmap refuses
//! overlapping ranges of one user), and they give the spec's count (`start: auto`) or cover the
//! spec's range (an explicit start). Anything else is one step that leaves the user exactly one
//! range: growing a range extends it in place when the ids after it are free, or moves it whole;
//! it never piles a second range on top of the first.

use super::account::AccountFacts;
use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::authority::Authority;
use crate::host::HostRoot;
use crate::plan::{Action, Implication, Item, PlanBuilder, ResourceId, Step};
use crate::policy::IdKind;
use crate::privileged::Request;
use crate::spec::{Spec, SubidStart};
use crate::subid_ranges::{self, SubidFile};
use serde::Serialize;

pub use crate::subid_ranges::{SubidEntry, parse};

pub const ID: ResourceId = ResourceId::new("subids");

pub struct Subids;

impl Resource for Subids {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["set_subids"]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing("subordinate ids", observe(cx.root))?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(
            cx.spec,
            cx.facts.get::<SubidFacts>(),
            cx.facts.get::<AccountFacts>(),
            cx.authority,
            plan,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubidFacts {
    pub subuid: SubidFile,
    pub subgid: SubidFile,
    /// The `subid:` source in /etc/nsswitch.conf, when there is one.
    pub nsswitch_subid: Option<String>,
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

fn describe(file: &SubidFile, name: &str, uid: Option<u32>) -> String {
    let owned: Vec<String> = file
        .owned_by(name, uid)
        .map(|e| format!("{}:{}:{}", e.owner, e.start, e.count))
        .collect();
    if owned.is_empty() {
        "none".into()
    } else {
        owned.join(", ")
    }
}

/// Whether the user's ranges in a file (`own`, all of them) already do what the spec asks.
fn satisfied(own: &[&SubidEntry], start: SubidStart, count: u32) -> bool {
    if !subid_ranges::overlapping_pairs(own).is_empty() {
        return false;
    }
    match start {
        SubidStart::Auto => own.iter().map(|e| e.count as u64).sum::<u64>() >= count as u64,
        SubidStart::At(s) => own
            .iter()
            .any(|e| e.start <= s && e.end() >= s as u64 + count as u64),
    }
}

fn diff(
    spec: &Spec,
    facts: &SubidFacts,
    account: &AccountFacts,
    authority: &Authority,
    items: &mut PlanBuilder,
) {
    let name = &spec.user.name;
    let uid = account.uid;
    let count = spec.subids.count;

    if let Some(src) = &facts.nsswitch_subid
        && src.split_whitespace().any(|s| s != "files")
    {
        items.push(Item::blocked(
                ID,
                "subids/nsswitch",
                format!("subordinate ids come from `{src}` (nsswitch.conf), not from /etc/subuid"),
                format!("give {name} a range of {count} ids in that source, and check it with `getsubids {name}`"),
            ));
        return;
    }

    // A line that shadow-utils may read as a grant, but not as groundwork reads it (an octal
    // start, say), hides which ids are taken: nothing beside it can be judged free or in sync.
    let mut malformed_found = false;
    for file in [&facts.subuid, &facts.subgid] {
        for m in &file.malformed_lines {
            malformed_found = true;
            items.push(
                Item::blocked(
                    ID,
                    format!("subids{}/line/{}", file.path, m.line),
                    format!("{}:{}: {}", file.path, m.line, m.problem),
                    format!(
                        "rewrite line {} of {} as owner:start:count in plain decimal, or delete it",
                        m.line, file.path
                    ),
                )
                .reason(
                    "a line not read as shadow-utils reads it may grant ids that would look free",
                ),
            );
        }
    }
    if malformed_found {
        return;
    }

    // Each file's entries of the user's, found once: a drift check reads every line.
    let own_uid: Vec<&SubidEntry> = facts.subuid.owned_by(name, uid).collect();
    let own_gid: Vec<&SubidEntry> = facts.subgid.owned_by(name, uid).collect();

    // A user's existing range that overlaps another owner's is a security hole: block on it.
    let mut conflict_found = false;
    for (file, owned) in [(&facts.subuid, &own_uid), (&facts.subgid, &own_gid)] {
        for own in owned {
            for other in file.conflicts(name, uid, own.start, own.count) {
                conflict_found = true;
                items.push(
                    Item::blocked(
                        ID,
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

    let start = spec.subids.start;
    let need_uid = !satisfied(&own_uid, start, count);
    let need_gid = !satisfied(&own_gid, start, count);
    if !need_uid && !need_gid {
        return;
    }
    let policy = &authority.policy;
    let needed: Vec<(&SubidFile, IdKind, &[u32])> = [
        (need_uid, &facts.subuid, IdKind::Uid, &account.all_uids[..]),
        (need_gid, &facts.subgid, IdKind::Gid, &account.all_gids[..]),
    ]
    .into_iter()
    .filter(|x| x.0)
    .map(|(_, f, k, ids)| (f, k, ids))
    .collect();
    let files: Vec<&SubidFile> = needed.iter().map(|x| x.0).collect();
    // One range for both files: clear of real uids in /etc/subuid and real gids in /etc/subgid,
    // and inside both files' bounds.
    let real: Vec<u32> = needed.iter().flat_map(|x| x.2.iter().copied()).collect();
    let bounds = needed.iter().fold((0u32, u32::MAX), |(lo, hi), (_, k, _)| {
        let (l, h) = policy.subid_bounds(*k);
        (lo.max(l), hi.min(h))
    });
    let chosen = match start {
        SubidStart::At(s) => {
            for (file, kind, ids) in &needed {
                if let Some(other) = file.conflicts(name, uid, s, count).first() {
                    items.push(Item::blocked(
                        ID,
                        format!("subids{}", file.path),
                        format!(
                            "the range {s}+{count} overlaps {}'s range at {}:{}",
                            other.owner, file.path, other.line
                        ),
                        "choose another `subids.start`, or `auto`".to_string(),
                    ));
                    return;
                }
                let end = s as u64 + count as u64;
                if let Some(id) = ids
                    .iter()
                    .find(|id| (s as u64..end).contains(&(**id as u64)))
                {
                    let what = if *kind == IdKind::Uid { "uid" } else { "gid" };
                    items.push(Item::blocked(
                        ID,
                        format!("subids{}", file.path),
                        format!("the range {s}+{count} contains the real {what} {id}"),
                        "choose another `subids.start`, or `auto`".to_string(),
                    ));
                    return;
                }
            }
            Some(s)
        }
        SubidStart::Auto => {
            let prefer = files
                .iter()
                .flat_map(|f| f.owned_by(name, uid))
                .map(|e| e.start)
                .min();
            subid_ranges::allocate(&files, name, uid, count, &real, bounds, prefer)
        }
    };
    let Some(chosen) = chosen else {
        let room = (bounds.1 as u64 + 1).saturating_sub(bounds.0 as u64);
        if count as u64 > room {
            // No stale entry is in the way: the bounds themselves are too narrow.
            items.push(Item::blocked(
                ID,
                "subids",
                format!(
                    "subids.count {count} is more than the {room} ids between {} and {}, where subordinate ids are granted",
                    bounds.0, bounds.1
                ),
                "lower `subids.count`, or widen SUB_UID_MIN..SUB_UID_MAX and SUB_GID_MIN..SUB_GID_MAX in /etc/login.defs",
            ));
            return;
        }
        items.push(Item::blocked(
            ID,
            "subids",
            format!(
                "no free range of {count} subordinate ids is left between {} and {}",
                bounds.0, bounds.1
            ),
            "remove stale entries from /etc/subuid and /etc/subgid, or widen SUB_UID_MAX and SUB_GID_MAX in /etc/login.defs",
        ));
        return;
    };
    if let Some(p) = authority.helper_policy() {
        for (_, kind, _) in &needed {
            if let Err(e) = p.check_subids(*kind, chosen, count) {
                items.push(
                    Item::blocked(
                        ID,
                        "subids",
                        e,
                        "ask root to change the policy, or run the apply as root",
                    )
                    .reason("the helper grants users only what root's policy allows"),
                );
                return;
            }
        }
    }
    let end = chosen as u64 + count as u64 - 1;
    let which = match (need_uid, need_gid) {
        (true, true) => "/etc/subuid and /etc/subgid",
        (true, false) => "/etc/subuid",
        _ => "/etc/subgid",
    };
    let had_any = files.iter().any(|f| f.owned_by(name, uid).next().is_some());
    let before = needed
        .iter()
        .map(|(f, _, _)| format!("{}: {}", f.path, describe(f, name, uid)))
        .collect::<Vec<_>>()
        .join("; ");
    let overlapping_own = files.iter().any(|f| !f.own_overlaps(name, uid).is_empty());
    items.push(
        Item::change(
            ID,
            "subids",
            if had_any {
                format!("give {name} the subordinate ids {chosen}-{end} in {which}, replacing its ranges there")
            } else {
                format!("add subordinate ids {chosen}-{end} for {name} to {which}")
            },
            Step::Privileged(Request::SetSubids {
                user: name.clone(),
                start: chosen,
                count,
                uids: need_uid,
                gids: need_gid,
            }),
        )
        .action(if had_any { Action::Update } else { Action::Create })
        .reason(if overlapping_own {
            "the user's own ranges overlap each other, which newuidmap refuses to map".to_string()
        } else {
            format!("rootless k3s maps {count} ids through newuidmap and newgidmap")
        })
        .values(Some(before), Some(format!("{name}:{chosen}:{count}")))
        .implies(Implication::RestartUnit),
    );
}
