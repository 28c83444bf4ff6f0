//! Root's policy for the holders of the helper's sudoers rule: what they may do beyond their
//! own account. It narrows the allow-lists of `crate::allow`, and it is the only source the
//! helper trusts for anything host-wide:
//!
//! - which other accounts an invoker may prepare (`act_for`);
//! - the bounds of each host-wide sysctl (built-in defaults below, replaced per key by the file);
//! - where subordinate ids may be granted, and how many one user may hold;
//! - which k3s binaries (by sha256) may be installed at the k3s path.
//!
//! It lives in `/etc/groundwork/policy.yaml`, which must be a regular file owned by root and
//! writable by root alone, in a directory chain only root can change; otherwise the helper
//! refuses every request. Root running groundwork itself is not bound by it: root needs no
//! helper. `plan`, run by a user, reads it to say in advance what the helper will refuse.

use crate::allow;
use crate::k3s_releases;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const POLICY_FILE: &str = "/etc/groundwork/policy.yaml";
pub const LOGIN_DEFS: &str = "/etc/login.defs";
/// A policy is a short file; anything larger is refused unread.
const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Shadow's defaults for SUB_UID_MIN and SUB_UID_MAX (and the gid ones), used when
/// /etc/login.defs does not set them.
pub const SUB_ID_MIN_DEFAULT: u32 = 100_000;
pub const SUB_ID_MAX_DEFAULT: u32 = 600_100_000;
/// How many subordinate ids one user may hold, unless the policy says otherwise: four times
/// what rootless k3s needs.
pub const MAX_IDS_PER_USER_DEFAULT: u32 = 262_144;

/// Thresholds that open the host as they fall (ports below it need privilege): whatever root's
/// rule allows, a user may only lower them, never take back what another user's k3s relies on.
pub const LOWER_ONLY: &[&str] = &["net.ipv4.ip_unprivileged_port_start"];

/// The policy file, as root writes it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "groundwork helper policy")]
pub struct PolicyFile {
    /// Other accounts an invoker may prepare (subids, linger, the user manager, creation):
    /// `ops: [k3s, k3s-lab]`. Without a line, a user acts only for themself.
    #[serde(default)]
    pub act_for: BTreeMap<String, Vec<String>>,
    /// Bounds of host-wide sysctls for users, replacing the built-in rule of each key named.
    #[serde(default)]
    pub sysctls: BTreeMap<String, SysctlRule>,
    /// Where subordinate ids may be granted, and how many one user may hold.
    #[serde(default)]
    pub subids: SubidRules,
    /// The k3s binaries users may have installed, beyond the releases groundwork knows.
    #[serde(default)]
    pub k3s: K3sRules,
}

/// What a user may set one sysctl to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SysctlRule {
    /// Lowest value allowed (single-integer keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// Highest value allowed (single-integer keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// The exact values allowed, as `sysctl` prints them (`"0 2147483647"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<String>,
    /// A limit: a user may raise it, never lower it below what the host has.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raise_only: bool,
    /// Users may not set this key at all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deny: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubidRules {
    /// Lowest subordinate id granted (default: SUB_UID_MIN / SUB_GID_MIN of /etc/login.defs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Highest subordinate id granted (default: SUB_UID_MAX / SUB_GID_MAX of /etc/login.defs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// The most subordinate ids one user may hold in each file (default 262144).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ids_per_user: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K3sRules {
    /// Binaries allowed at the k3s path, by sha256, with the release each one is.
    #[serde(default)]
    pub allow: Vec<AllowedK3s>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowedK3s {
    /// The release tag, such as v1.33.6+k3s1.
    pub version: String,
    /// The sha256 of the binary, 64 lower-case hex digits.
    pub sha256: String,
}

/// The built-in rule of each host-wide sysctl. A key not listed here may not be set by users
/// until root's policy gives it a rule: lowering `ip_unprivileged_port_start` opens low ports to
/// every local user, and `ping_group_range` opens ICMP sockets to every group.
pub fn default_sysctl_rule(key: &str) -> Option<SysctlRule> {
    let exactly_one = SysctlRule {
        one_of: vec!["1".into()],
        ..Default::default()
    };
    let limit = |min: i64, max: i64| SysctlRule {
        min: Some(min),
        max: Some(max),
        raise_only: true,
        ..Default::default()
    };
    Some(match key {
        // rootlesskit warns below 1024; the kernel's default on a 2 GiB host is about 15000.
        "user.max_user_namespaces" => limit(1024, 262_144),
        "kernel.unprivileged_userns_clone"
        | "net.ipv4.ip_forward"
        | "net.ipv6.conf.all.forwarding"
        | "net.bridge.bridge-nf-call-iptables"
        | "net.bridge.bridge-nf-call-ip6tables" => exactly_one,
        "fs.inotify.max_user_instances" => limit(128, 8192),
        "fs.inotify.max_user_watches" => limit(8192, 1_048_576),
        "vm.max_map_count" => limit(65530, 1_048_576),
        _ => return None,
    })
}

/// The policy in force: the built-in defaults with the file laid over them.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Where it came from: the file, or "built-in defaults".
    pub source: String,
    pub act_for: BTreeMap<String, Vec<String>>,
    file_sysctls: BTreeMap<String, SysctlRule>,
    pub subuid_bounds: (u32, u32),
    pub subgid_bounds: (u32, u32),
    pub max_ids_per_user: u32,
    k3s_allow: Vec<AllowedK3s>,
}

/// Which subordinate id file a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Uid,
    Gid,
}

impl Policy {
    /// The built-in defaults alone, with shadow's default bounds.
    pub fn defaults() -> Self {
        Self::build(PolicyFile::default(), "", "built-in defaults").expect("the defaults are valid")
    }

    /// The effective policy from a parsed file and the text of /etc/login.defs.
    pub fn build(file: PolicyFile, login_defs: &str, source: &str) -> Result<Self, String> {
        check_file(&file)?;
        let defs = parse_login_defs(login_defs);
        let bounds = |min_key: &str, max_key: &str| {
            (
                file.subids
                    .min
                    .or(defs.get(min_key).copied())
                    .unwrap_or(SUB_ID_MIN_DEFAULT),
                file.subids
                    .max
                    .or(defs.get(max_key).copied())
                    .unwrap_or(SUB_ID_MAX_DEFAULT),
            )
        };
        let subuid_bounds = bounds("SUB_UID_MIN", "SUB_UID_MAX");
        let subgid_bounds = bounds("SUB_GID_MIN", "SUB_GID_MAX");
        for (what, (lo, hi)) in [("uid", subuid_bounds), ("gid", subgid_bounds)] {
            if lo < crate::spec::SUBID_MIN || lo > hi {
                return Err(format!(
                    "subordinate {what} bounds {lo}..={hi} are unusable: the lowest must be at least {} and not above the highest",
                    crate::spec::SUBID_MIN
                ));
            }
        }
        Ok(Policy {
            source: source.to_string(),
            act_for: file.act_for,
            file_sysctls: file.sysctls,
            subuid_bounds,
            subgid_bounds,
            max_ids_per_user: file
                .subids
                .max_ids_per_user
                .unwrap_or(MAX_IDS_PER_USER_DEFAULT),
            k3s_allow: file.k3s.allow,
        })
    }

    /// The rule users are held to for `key`; None: users may not set it.
    pub fn sysctl_rule(&self, key: &str) -> Option<SysctlRule> {
        match self.file_sysctls.get(key) {
            Some(rule) if rule.deny => None,
            Some(rule) => Some(rule.clone()),
            None => default_sysctl_rule(key),
        }
    }

    /// Whether a user may set `key` to `value` while the host has `current` (runtime or
    /// persisted): an error says what root would have to allow.
    pub fn check_sysctl(
        &self,
        key: &str,
        value: &str,
        current: Option<&str>,
    ) -> Result<(), String> {
        let nums = allow::parse_sysctl_value(key, value)?;
        let Some(rule) = self.sysctl_rule(key) else {
            return Err(format!(
                "root's policy ({}) does not let users set {key}; root can allow it with `sysctls: {{ {key}: {{ min: ..., max: ... }} }}` in {POLICY_FILE}",
                self.source
            ));
        };
        let outside = |why: String| {
            Err(format!(
                "{key} = {value} is outside root's policy ({}): {why}; root can change the rule in {POLICY_FILE}, or apply this as root",
                self.source
            ))
        };
        if !rule.one_of.is_empty() && !rule.one_of.iter().any(|v| v == value) {
            return outside(format!("allowed: {}", rule.one_of.join(", ")));
        }
        if let [v] = nums[..] {
            if let Some(min) = rule.min
                && v < min
            {
                return outside(format!("the lowest allowed is {min}"));
            }
            if let Some(max) = rule.max
                && v > max
            {
                return outside(format!("the highest allowed is {max}"));
            }
            if rule.raise_only
                && let Some(now) = current.and_then(|c| c.trim().parse::<i64>().ok())
                && v < now
            {
                return outside(format!(
                    "it is a limit users may only raise, and the host has {now}"
                ));
            }
            if LOWER_ONLY.contains(&key)
                && let Some(now) = current.and_then(|c| c.trim().parse::<i64>().ok())
                && v > now
            {
                return outside(format!(
                    "it opens the host as it falls, so users may only lower it, and the host has {now}"
                ));
            }
        }
        Ok(())
    }

    /// Whether `invoker` may prepare the account `target` (their own needs no line).
    pub fn may_act_for(&self, invoker: &str, target: &str) -> bool {
        self.act_for
            .get(invoker)
            .is_some_and(|targets| targets.iter().any(|t| t == target))
    }

    /// The bounds of subordinate ids of one kind.
    pub fn subid_bounds(&self, kind: IdKind) -> (u32, u32) {
        match kind {
            IdKind::Uid => self.subuid_bounds,
            IdKind::Gid => self.subgid_bounds,
        }
    }

    /// Whether a user may hold the range `start`, `count` ids of `kind`.
    pub fn check_subids(&self, kind: IdKind, start: u32, count: u32) -> Result<(), String> {
        let (lo, hi) = self.subid_bounds(kind);
        let end = start as u64 + count as u64 - 1;
        let file = match kind {
            IdKind::Uid => "uid",
            IdKind::Gid => "gid",
        };
        if (start as u64) < lo as u64 || end > hi as u64 {
            return Err(format!(
                "the subordinate {file} range {start}-{end} is outside {lo}-{hi}, where root grants them (SUB_{}_MIN and SUB_{}_MAX in {LOGIN_DEFS}, or `subids` in {POLICY_FILE})",
                file.to_uppercase(),
                file.to_uppercase()
            ));
        }
        if count > self.max_ids_per_user {
            return Err(format!(
                "{count} subordinate {file}s are more than the {} one user may hold under root's policy (`subids.max_ids_per_user` in {POLICY_FILE})",
                self.max_ids_per_user
            ));
        }
        Ok(())
    }

    /// The release that a binary with this sha256 is, when root allows it at the k3s path:
    /// from the policy file or from the releases groundwork knows.
    pub fn allowed_k3s(&self, sha256: &str) -> Option<String> {
        self.k3s_allow
            .iter()
            .find(|a| a.sha256 == sha256)
            .map(|a| a.version.clone())
            .or_else(|| k3s_releases::by_sha256(sha256).map(|r| r.version.to_string()))
    }

    /// Every sha256 the policy file itself allows, with its release (for observation).
    pub fn k3s_allowed_in_file(&self) -> &[AllowedK3s] {
        &self.k3s_allow
    }
}

/// Consistency rules the types cannot express.
fn check_file(file: &PolicyFile) -> Result<(), String> {
    for (invoker, targets) in &file.act_for {
        for name in std::iter::once(invoker).chain(targets) {
            if !crate::names::is_user_name(name) || name == "root" {
                return Err(format!("act_for: {name:?} is not an acceptable user name"));
            }
        }
    }
    for (key, rule) in &file.sysctls {
        let Some(k) = allow::sysctl(key) else {
            return Err(format!(
                "sysctls: {key:?} is not a sysctl groundwork manages ({})",
                allow::sysctl_keys().collect::<Vec<_>>().join(", ")
            ));
        };
        let has_bounds = rule.min.is_some() || rule.max.is_some();
        if rule.deny && (has_bounds || !rule.one_of.is_empty() || rule.raise_only) {
            return Err(format!("sysctls.{key}: `deny` stands alone"));
        }
        if has_bounds && !rule.one_of.is_empty() {
            return Err(format!(
                "sysctls.{key}: give either `min`/`max` or `one_of`, not both"
            ));
        }
        if !rule.deny && !has_bounds && rule.one_of.is_empty() {
            return Err(format!(
                "sysctls.{key}: give `min`/`max`, `one_of`, or `deny: true`"
            ));
        }
        if has_bounds && matches!(k.shape, allow::Shape::Pair { .. }) {
            return Err(format!(
                "sysctls.{key}: this key takes two integers; use `one_of`"
            ));
        }
        for bound in [rule.min, rule.max].into_iter().flatten() {
            allow::parse_sysctl_value(key, &bound.to_string())
                .map_err(|e| format!("sysctls.{key}: {e}"))?;
        }
        if let (Some(lo), Some(hi)) = (rule.min, rule.max)
            && lo > hi
        {
            return Err(format!("sysctls.{key}: min {lo} is above max {hi}"));
        }
        for v in &rule.one_of {
            allow::parse_sysctl_value(key, v).map_err(|e| format!("sysctls.{key}: {e}"))?;
        }
    }
    if let (Some(lo), Some(hi)) = (file.subids.min, file.subids.max)
        && lo > hi
    {
        return Err(format!("subids: min {lo} is above max {hi}"));
    }
    if let Some(n) = file.subids.max_ids_per_user
        && n < crate::spec::SUBID_MIN_COUNT
    {
        return Err(format!(
            "subids.max_ids_per_user: {n} is below {}, what rootless k3s needs",
            crate::spec::SUBID_MIN_COUNT
        ));
    }
    for a in &file.k3s.allow {
        if !crate::names::is_k3s_version(&a.version) {
            return Err(format!(
                "k3s.allow: {:?} is not a k3s release tag (such as v1.33.6+k3s1)",
                a.version
            ));
        }
        if !crate::names::is_sha256_hex(&a.sha256) {
            return Err(format!(
                "k3s.allow: the sha256 of {} must be 64 lower-case hex digits",
                a.version
            ));
        }
    }
    Ok(())
}

/// Parses the policy file's text; errors name the file, line and column.
pub fn parse(text: &str, name: &str) -> Result<PolicyFile, String> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(format!(
            "{name}: {} bytes; a policy is at most {MAX_POLICY_BYTES}",
            text.len()
        ));
    }
    if text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    }) {
        return Ok(PolicyFile::default());
    }
    serde_saphyr::from_str::<PolicyFile>(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        let msg = e.without_snippet().to_string();
        let msg = msg.lines().next().unwrap_or("invalid policy").to_string();
        format!("{name}{at}: {msg}")
    })
}

/// `KEY VALUE` lines of /etc/login.defs, for the numeric keys that bound subordinate ids.
pub fn parse_login_defs(text: &str) -> BTreeMap<String, u32> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next()?.trim();
            let mut parts = l.split_whitespace();
            let (k, v) = (parts.next()?, parts.next()?);
            k.starts_with("SUB_")
                .then(|| v.parse().ok().map(|v| (k.to_string(), v)))
                .flatten()
        })
        .collect()
}

/// Builds the policy from the texts of the policy file (None when absent) and login.defs.
pub fn from_texts(policy: Option<&str>, login_defs: &str) -> Result<Policy, String> {
    match policy {
        None => Policy::build(PolicyFile::default(), login_defs, "built-in defaults"),
        Some(text) => {
            let file = parse(text, POLICY_FILE)?;
            Policy::build(file, login_defs, POLICY_FILE).map_err(|e| format!("{POLICY_FILE}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_allow_what_k3s_needs_and_nothing_that_opens_the_host() {
        let p = Policy::defaults();
        assert!(
            p.check_sysctl("net.ipv4.ip_forward", "1", Some("0"))
                .is_ok()
        );
        assert!(
            p.check_sysctl("net.ipv4.ip_forward", "0", Some("1"))
                .is_err()
        );
        let e = p
            .check_sysctl("net.ipv4.ip_unprivileged_port_start", "0", Some("1024"))
            .unwrap_err();
        assert!(e.contains("does not let users set"), "{e}");
        assert!(
            p.check_sysctl("net.ipv4.ping_group_range", "0 2147483647", None)
                .is_err()
        );
        assert!(
            p.check_sysctl("user.max_user_namespaces", "0", None)
                .is_err()
        );
        // A limit may be raised, never lowered below what the host has.
        assert!(
            p.check_sysctl("user.max_user_namespaces", "28633", Some("15000"))
                .is_ok()
        );
        let e = p
            .check_sysctl("user.max_user_namespaces", "28633", Some("63000"))
            .unwrap_err();
        assert!(e.contains("only raise"), "{e}");
    }

    #[test]
    fn the_file_replaces_a_keys_rule() {
        let file = parse(
            "sysctls:\n  net.ipv4.ip_unprivileged_port_start: { min: 80, max: 1024 }\n  net.ipv4.ip_forward: { deny: true }\nact_for:\n  ops: [k3s]\n",
            "p.yaml",
        )
        .unwrap();
        let p = Policy::build(file, "", "p.yaml").unwrap();
        assert!(
            p.check_sysctl("net.ipv4.ip_unprivileged_port_start", "80", None)
                .is_ok()
        );
        assert!(
            p.check_sysctl("net.ipv4.ip_unprivileged_port_start", "79", None)
                .is_err()
        );
        assert!(p.check_sysctl("net.ipv4.ip_forward", "1", None).is_err());
        assert!(p.may_act_for("ops", "k3s"));
        assert!(!p.may_act_for("ops", "bob"));
        assert!(!p.may_act_for("k3s", "ops"));
    }

    #[test]
    fn bad_policies_are_refused_with_their_place() {
        let e = parse("sysctls:\n  kernel.core_pattern: { min: 1 }\n", "p.yaml")
            .and_then(|f| Policy::build(f, "", "p.yaml"))
            .unwrap_err();
        assert!(e.contains("kernel.core_pattern"), "{e}");
        let e = parse("act_for:\n  ops: [k3s]\nextra: 1\n", "p.yaml").unwrap_err();
        assert!(e.starts_with("p.yaml:3:"), "{e}");
        for bad in [
            "sysctls:\n  net.ipv4.ip_forward: { min: 0, one_of: [\"1\"] }\n",
            "sysctls:\n  net.ipv4.ip_forward: {}\n",
            "sysctls:\n  net.ipv4.ip_forward: { min: 2 }\n",
            "sysctls:\n  net.ipv4.ping_group_range: { min: 0, max: 5 }\n",
            "sysctls:\n  user.max_user_namespaces: { min: 9, max: 3 }\n",
            "subids: { max_ids_per_user: 10 }\n",
            "act_for:\n  root: [k3s]\n",
            "k3s:\n  allow: [{ version: latest, sha256: abc }]\n",
        ] {
            let r = parse(bad, "p.yaml").and_then(|f| Policy::build(f, "", "p.yaml"));
            assert!(r.is_err(), "{bad}");
        }
    }

    #[test]
    fn subid_bounds_come_from_login_defs_unless_the_policy_says() {
        let defs =
            "# shadow\nSUB_UID_MIN\t\t  200000\nSUB_UID_MAX 300000\nSUB_GID_MIN 100000 # x\n";
        let p = Policy::build(PolicyFile::default(), defs, "d").unwrap();
        assert_eq!(p.subuid_bounds, (200_000, 300_000));
        assert_eq!(p.subgid_bounds, (100_000, SUB_ID_MAX_DEFAULT));
        assert!(p.check_subids(IdKind::Uid, 200_000, 65536).is_ok());
        assert!(p.check_subids(IdKind::Uid, 100_000, 65536).is_err());
        assert!(p.check_subids(IdKind::Uid, 250_000, 65536).is_err());
        let e = p.check_subids(IdKind::Gid, 100_000, 1 << 20).unwrap_err();
        assert!(e.contains("max_ids_per_user"), "{e}");
    }
}
