//! Properties of the helper's request parsing, validation, authorization and root's policy:
//! nothing panics on any input, and whatever is accepted stays inside the allow-lists and
//! bounds.
//!
//! The generators mix arbitrary strings with allow-listed names and near misses of them
//! (prefixes, suffixes, option dashes, traversal), so that accepted requests really occur and
//! the "accepted implies in bounds" properties are not vacuous. The bounds are restated here
//! (the oracle below), from the kernel's documentation and the README, never by calling the
//! code under test: a check that uses the validator's own function can never fail.

use groundwork::allow;
use groundwork::names;
use groundwork::policy::{self, IdKind, Policy, PolicyFile, SysctlRule};
use groundwork::privileged::Request;
use groundwork::privileged::authorize::{Invoker, authorize};
use groundwork::privileged::request::parse;
use groundwork::privileged::validate::validate;
use groundwork::subid_ranges;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const SUBID_MIN: u32 = 100_000;
const SUBID_MIN_COUNT: u32 = 65_536;
const MAX_SUBID_COUNT: u32 = 1 << 24;
const MAX_K3S_BYTES: u64 = 512 << 20;
const I32_MAX: i64 = i32::MAX as i64;

/// The oracle's sysctl table: each key groundwork may set, how many integers it takes, and
/// their bounds (from Documentation/admin-guide/sysctl and networking/ip-sysctl).
const SYSCTL_ORACLE: &[(&str, usize, i64, i64)] = &[
    ("user.max_user_namespaces", 1, 0, I32_MAX),
    ("kernel.unprivileged_userns_clone", 1, 0, 1),
    ("net.ipv4.ip_forward", 1, 0, 1),
    ("net.ipv6.conf.all.forwarding", 1, 0, 1),
    ("net.ipv4.ip_unprivileged_port_start", 1, 0, 65535),
    ("net.ipv4.ping_group_range", 2, 0, I32_MAX),
    ("net.bridge.bridge-nf-call-iptables", 1, 0, 1),
    ("net.bridge.bridge-nf-call-ip6tables", 1, 0, 1),
    ("fs.inotify.max_user_instances", 1, 1, I32_MAX),
    ("fs.inotify.max_user_watches", 1, 1, I32_MAX),
    ("vm.max_map_count", 1, 1, I32_MAX),
];

/// The keys, for generators.
const SYSCTL_KEYS: &[&str] = &[
    "user.max_user_namespaces",
    "kernel.unprivileged_userns_clone",
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "fs.inotify.max_user_instances",
    "fs.inotify.max_user_watches",
    "vm.max_map_count",
];

const CGROUP_CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// One integer as the oracle reads it: an optional `-`, then decimal digits only, of any length
/// (leading zeros allowed, as the kernel allows them). None if it is not one.
fn oracle_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    // Every bound is below 2^31: more than 12 significant digits is out of any bound anyway.
    let magnitude: i64 = if significant.is_empty() {
        0
    } else if significant.len() > 12 {
        i64::MAX / 2
    } else {
        significant.parse().ok()?
    };
    Some(if neg { -magnitude } else { magnitude })
}

/// The integers of `value` when `key` is one the oracle knows and `value` is in its shape and
/// bounds: single spaces between integers, a pair ordered.
fn oracle_sysctl(key: &str, value: &str) -> Option<Vec<i64>> {
    let &(_, n, lo, hi) = SYSCTL_ORACLE.iter().find(|(k, ..)| *k == key)?;
    let nums: Vec<i64> = value.split(' ').map(oracle_int).collect::<Option<_>>()?;
    (nums.len() == n && nums.iter().all(|v| (lo..=hi).contains(v)) && nums.is_sorted())
        .then_some(nums)
}

/// The built-in rules the README documents for users (no policy file): a key missing here may
/// not be set by users at all. (key, min, max, exactly "1", raise-only)
const DEFAULT_RULES: &[(&str, i64, i64, bool, bool)] = &[
    ("user.max_user_namespaces", 1024, 262_144, false, true),
    ("kernel.unprivileged_userns_clone", 1, 1, true, false),
    ("net.ipv4.ip_forward", 1, 1, true, false),
    ("net.ipv6.conf.all.forwarding", 1, 1, true, false),
    ("net.bridge.bridge-nf-call-iptables", 1, 1, true, false),
    ("net.bridge.bridge-nf-call-ip6tables", 1, 1, true, false),
    ("fs.inotify.max_user_instances", 128, 8192, false, true),
    ("fs.inotify.max_user_watches", 8192, 1_048_576, false, true),
    ("vm.max_map_count", 65530, 1_048_576, false, true),
];

/// Hostile bits to glue onto names.
const NOISE: &str = "[-./ \\x00\\n:=;~A-Z]{0,3}";

/// An allow-listed name, a near miss of one, or anything at all.
fn name_from(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(list).prop_map(str::to_string),
        2 => (NOISE, prop::sample::select(list), NOISE)
            .prop_map(|(pre, s, post)| format!("{pre}{s}{post}")),
        1 => any::<String>(),
        1 => "[-a-z0-9_./+]{0,24}",
    ]
}

fn user() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z_][a-z0-9_-]{0,8}",
        1 => prop::sample::select(&["root", "alice", "bob", "-obob", "../bob", "Bob", ""][..])
            .prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn sysctl_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => small_value(),
        2 => "-?[0-9]{1,20}( -?[0-9]{1,20})?",
        1 => "[-0-9 \\n|/a-z]{0,24}",
        1 => any::<String>(),
    ]
}

/// A key (mostly one groundwork manages) and a value (mostly in its shape and bounds).
fn key_and_value() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        4 => prop::sample::select(SYSCTL_ORACLE).prop_flat_map(|(key, n, lo, hi)| {
            let near = prop_oneof![
                lo - 2..lo + 3,
                (lo..=hi.min(lo + 2_000_000)),
                hi - 2..hi + 3,
            ];
            let value = if n == 2 {
                (near.clone(), near)
                    .prop_map(|(a, b)| format!("{} {}", a.min(b), a.max(b)))
                    .boxed()
            } else {
                near.prop_map(|v| v.to_string()).boxed()
            };
            (Just(key.to_string()), prop_oneof![3 => value, 1 => sysctl_value()])
        }),
        1 => (name_from(SYSCTL_KEYS), sysctl_value()),
    ]
}

/// Values near the bounds of the keys and of the built-in rules, so that many are accepted.
fn small_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        prop::sample::select(&[1023i64, 1024, 8192, 65530, 65535, 262_144, 1_048_576][..])
            .prop_map(|v| v.to_string()),
        (-2..300_000i64).prop_map(|v| v.to_string()),
        (0..3i64, 0..I32_MAX + 2).prop_map(|(a, b)| format!("{a} {b}")),
    ]
}

/// Ids around every bound validation checks, plus anything.
fn id() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        0..SUBID_MIN + 10,
        SUBID_MIN_COUNT - 10..SUBID_MIN_COUNT + 10,
        MAX_SUBID_COUNT - 10..MAX_SUBID_COUNT + 10,
        u32::MAX - MAX_SUBID_COUNT - 10..=u32::MAX,
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "/usr/local/bin/k3s",
                "/usr/bin/k3s",
                "/opt/k3s/bin/k3s",
                "/usr/bin/passwd",
                "/etc/passwd",
                "/usr/local/bin/../../etc/x",
                "/home/k3s/.cache/groundwork/k3s",
            ][..]
        )
        .prop_map(str::to_string),
        (
            "(/usr/local/bin|/usr/bin|/opt/k3s/bin|/tmp|k3s|\\.\\.)?",
            NOISE,
            "(k3s|passwd|\\.\\.)?"
        )
            .prop_map(|(a, b, c)| format!("{a}/{b}{c}")),
        any::<String>(),
    ]
}

fn sha256() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{64}", "[0-9a-fA-Fg]{62,66}", any::<String>()]
}

fn version() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "v[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-rc[0-9])?\\+k3s[0-9]{1,2}",
        1 => "[-v0-9.+a-z/\\n ]{0,20}",
        1 => any::<String>(),
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        1..4096u64,
        MAX_K3S_BYTES - 2..MAX_K3S_BYTES + 2,
        any::<u64>(),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        prop::collection::vec(name_from(allow::PACKAGES), 0..20)
            .prop_map(|names| Request::InstallPackages { names }),
        user().prop_map(|user| Request::CreateUser { user }),
        (user(), id(), id(), any::<bool>(), any::<bool>()).prop_map(
            |(user, start, count, uids, gids)| Request::SetSubids {
                user,
                start,
                count,
                uids,
                gids
            }
        ),
        key_and_value().prop_map(|(key, value)| Request::SetSysctl { key, value }),
        prop::collection::vec(key_and_value(), 0..6).prop_map(|kv| Request::PersistSysctls {
            settings: kv.into_iter().collect()
        }),
        name_from(allow::MODULES).prop_map(|name| Request::LoadModule { name }),
        prop::collection::vec(name_from(allow::MODULES), 0..35)
            .prop_map(|names| Request::PersistModules { names }),
        prop::collection::vec(name_from(CGROUP_CONTROLLERS), 0..6)
            .prop_map(|controllers| Request::WriteDelegation { controllers }),
        user().prop_map(|user| Request::RestartUserManager { user }),
        user().prop_map(|user| Request::EnableLinger { user }),
        path().prop_map(|binary| Request::InstallApparmorProfile { binary }),
        (version(), sha256(), size(), path()).prop_map(|(version, sha256, size, install_path)| {
            Request::InstallK3s {
                version,
                sha256,
                size,
                install_path,
            }
        }),
    ]
}

fn sysctl_in_bounds(key: &str, value: &str) -> bool {
    oracle_sysctl(key, value).is_some()
}

fn module_in_bounds(name: &str) -> bool {
    allow::MODULES.contains(&name)
        && !name.starts_with('-')
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A release tag the way k3s spells them: v1.33.6+k3s1, v1.32.0-rc2+k3s1.
fn k3s_version_in_bounds(v: &str) -> bool {
    let Some((core, build)) = v.strip_prefix('v').and_then(|r| r.split_once("+k3s")) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let (numbers, pre) = core.split_once('-').unwrap_or((core, "rc0"));
    numbers.split('.').count() == 3
        && numbers.split('.').all(digits)
        && !pre.is_empty()
        && pre
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && digits(build)
        && !v.contains(['/', ' ', '\n'])
}

fn install_path_in_bounds(p: &str) -> bool {
    names::is_clean_absolute_path(p)
        && ["/usr/local/bin/k3s", "/usr/bin/k3s", "/opt/k3s/bin/k3s"].contains(&p)
}

/// What every accepted request must satisfy, stated independently of validate's code.
fn accepted_is_in_bounds(req: &Request) -> Result<(), TestCaseError> {
    let user_ok = |u: &str| u != "root" && names::is_user_name(u) && !u.starts_with('-');
    match req {
        Request::SetSysctl { key, value } => {
            prop_assert!(sysctl_in_bounds(key, value), "{key:?} = {value:?}")
        }
        Request::PersistSysctls { settings } => {
            prop_assert!(!settings.is_empty());
            for (k, v) in settings {
                prop_assert!(sysctl_in_bounds(k, v), "{k:?} = {v:?}");
            }
        }
        Request::SetSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => {
            prop_assert!(user_ok(user), "{user:?}");
            prop_assert!(*start >= SUBID_MIN, "start {start}");
            prop_assert!((SUBID_MIN_COUNT..=1 << 24).contains(count), "count {count}");
            prop_assert!(start.checked_add(*count).is_some(), "{start}+{count}");
            prop_assert!(*uids || *gids);
        }
        Request::InstallPackages { names: pkgs } => {
            prop_assert!(!pkgs.is_empty());
            for p in pkgs {
                prop_assert!(allow::PACKAGES.contains(&p.as_str()), "{p:?}");
                prop_assert!(!p.starts_with('-'), "{p:?}");
            }
        }
        Request::LoadModule { name } => prop_assert!(module_in_bounds(name), "{name:?}"),
        Request::PersistModules { names: mods } => {
            prop_assert!(!mods.is_empty());
            for m in mods {
                prop_assert!(module_in_bounds(m), "{m:?}");
            }
        }
        Request::CreateUser { user }
        | Request::RestartUserManager { user }
        | Request::EnableLinger { user } => prop_assert!(user_ok(user), "{user:?}"),
        Request::WriteDelegation { controllers } => {
            prop_assert!(!controllers.is_empty());
            for c in controllers {
                prop_assert!(CGROUP_CONTROLLERS.contains(&c.as_str()), "{c:?}");
            }
        }
        Request::InstallApparmorProfile { binary } => {
            prop_assert!(install_path_in_bounds(binary), "{binary:?}")
        }
        Request::InstallK3s {
            version,
            sha256,
            size,
            install_path,
        } => {
            prop_assert!(k3s_version_in_bounds(version), "{version:?}");
            prop_assert!(
                sha256.len() == 64 && sha256.bytes().all(|c| b"0123456789abcdef".contains(&c)),
                "{sha256:?}"
            );
            prop_assert!((1..=MAX_K3S_BYTES).contains(size), "size {size}");
            prop_assert!(install_path_in_bounds(install_path), "{install_path:?}");
        }
    }
    Ok(())
}

/// Arbitrary JSON, to reach serde's error paths for every field type.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        prop::sample::select(SYSCTL_KEYS).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const VERBS: &[&str] = &[
    "install_packages",
    "create_user",
    "set_subids",
    "add_subids",
    "set_sysctl",
    "persist_sysctls",
    "load_module",
    "persist_modules",
    "write_delegation",
    "restart_user_manager",
    "enable_linger",
    "install_apparmor_profile",
    "install_k3s",
    "run_shell",
];

const FIELDS: &[&str] = &[
    "verb",
    "names",
    "user",
    "start",
    "count",
    "uids",
    "gids",
    "key",
    "value",
    "settings",
    "name",
    "controllers",
    "binary",
    "source",
    "version",
    "sha256",
    "size",
    "install_path",
];

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(str::to_string),
        1 => "[a-z_]{0,8}",
    ]
}

/// A JSON object with a (mostly real) verb and (mostly real) field names of any value, or a real
/// request with one field added, replaced or removed.
fn request_object() -> impl Strategy<Value = Vec<u8>> {
    let made_up = (
        prop::sample::select(VERBS),
        prop::collection::btree_map(field(), json_value(), 0..6),
    )
        .prop_map(|(verb, fields)| {
            let mut m: Map<String, Value> = fields.into_iter().collect();
            m.insert("verb".into(), Value::from(verb));
            Value::Object(m)
        });
    let mutated = (request(), 0..3u8, field(), json_value()).prop_map(|(req, how, f, v)| {
        let mut value = serde_json::to_value(&req).unwrap();
        let m = value.as_object_mut().unwrap();
        match how {
            0 => {}
            1 => {
                m.insert(f, v);
            }
            _ => {
                m.remove(&f);
            }
        }
        value
    });
    prop_oneof![made_up, mutated].prop_map(|v| serde_json::to_vec(&v).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn validate_never_panics_and_accepts_only_what_is_in_bounds(req in request()) {
        if validate(&req).is_ok() {
            accepted_is_in_bounds(&req)?;
        }
    }

    #[test]
    fn validate_of_arbitrary_strings_never_panics(
        a in any::<String>(), b in any::<String>(), c in any::<String>(),
        start in any::<u32>(), count in any::<u32>(),
    ) {
        let reqs = [
            Request::InstallPackages { names: vec![a.clone(), b.clone()] },
            Request::CreateUser { user: a.clone() },
            Request::SetSubids { user: a.clone(), start, count, uids: true, gids: false },
            Request::SetSysctl { key: a.clone(), value: b.clone() },
            Request::PersistSysctls { settings: BTreeMap::from([(a.clone(), b.clone())]) },
            Request::LoadModule { name: a.clone() },
            Request::PersistModules { names: vec![a.clone()] },
            Request::WriteDelegation { controllers: vec![a.clone()] },
            Request::RestartUserManager { user: b.clone() },
            Request::EnableLinger { user: c.clone() },
            Request::InstallApparmorProfile { binary: a.clone() },
            Request::InstallK3s { version: a.clone(), sha256: b.clone(), size: start.into(), install_path: c.clone() },
        ];
        for req in &reqs {
            if validate(req).is_ok() {
                accepted_is_in_bounds(req)?;
            }
        }
    }

    #[test]
    fn accepted_subid_ranges_stay_in_bounds(
        start in id(), count in id(), uids in any::<bool>(), gids in any::<bool>(),
    ) {
        let req = Request::SetSubids { user: "k3s".into(), start, count, uids, gids };
        let accepted = validate(&req).is_ok();
        let in_bounds = start >= SUBID_MIN
            && (SUBID_MIN_COUNT..=1 << 24).contains(&count)
            && start.checked_add(count).is_some()
            && (uids || gids);
        prop_assert_eq!(accepted, in_bounds, "{}+{}", start, count);
    }

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(req) = parse(&bytes) {
            let _ = validate(&req);
        }
    }

    #[test]
    fn parse_never_panics_on_request_shaped_json(body in request_object()) {
        if let Ok(req) = parse(&body)
            && validate(&req).is_ok()
        {
            accepted_is_in_bounds(&req)?;
        }
    }

    /// The helper sees exactly the request groundwork sent.
    #[test]
    fn requests_round_trip(req in request()) {
        let body = serde_json::to_vec(&req).unwrap();
        prop_assert_eq!(parse(&body), Ok(req));
    }

    /// A user never acts for someone else without a line of root's policy naming both; a
    /// policy that names root is no policy.
    #[test]
    fn users_act_only_for_themselves(
        invoker in "[a-z][a-z0-9]{0,6}|root", target in "[a-z][a-z0-9]{0,6}|root",
        lines in prop::collection::vec(("[a-z][a-z0-9]{0,6}|root", "[a-z][a-z0-9]{0,6}|root"), 0..4),
        verb in 0..4usize,
    ) {
        let req = match verb {
            0 => Request::SetSubids { user: target.clone(), start: 200_000, count: 65_536, uids: true, gids: true },
            1 => Request::EnableLinger { user: target.clone() },
            2 => Request::RestartUserManager { user: target.clone() },
            _ => Request::CreateUser { user: target.clone() },
        };
        let mut file = PolicyFile::default();
        for (i, t) in &lines {
            file.act_for.entry(i.clone()).or_default().push(t.clone());
        }
        let names_root = lines.iter().any(|(i, t)| i == "root" || t == "root");
        let built = Policy::build(file, "", "generated");
        prop_assert_eq!(built.is_err(), names_root, "{:?}", lines);
        let Ok(policy) = built else { return Ok(()) };
        let who = Invoker::User { uid: 1000, name: invoker.clone() };
        let allowed_by_line = lines.iter().any(|(i, t)| *i == invoker && *t == target);
        let own = invoker == target && verb != 3;
        let ok = authorize(&who, &req, &policy).is_ok();
        prop_assert_eq!(ok, own || allowed_by_line);
    }

    /// Under the built-in defaults, a user sets a sysctl only inside the documented rules, and
    /// never lowers a limit below what the host has.
    #[test]
    fn default_policy_keeps_users_inside_the_documented_rules(
        (key, value) in key_and_value(), current in prop::option::of(small_value()),
    ) {
        let p = Policy::defaults();
        if p.check_sysctl(&key, &value, current.as_deref()).is_ok() {
            prop_assert!(sysctl_in_bounds(&key, &value), "{key:?} = {value:?}");
            let v = oracle_sysctl(&key, &value).unwrap()[0];
            let rule = DEFAULT_RULES.iter().find(|r| r.0 == key);
            prop_assert!(rule.is_some(), "users may set {key:?} without a policy rule");
            let &(_, min, max, exactly_one, raise_only) = rule.unwrap();
            prop_assert!((min..=max).contains(&v), "{key} = {v}");
            if exactly_one {
                prop_assert_eq!(value.as_str(), "1");
            }
            if raise_only
                && let Some(now) = current.as_deref().and_then(|c| c.trim().parse::<i64>().ok())
            {
                prop_assert!(v >= now, "{key} lowered from {now} to {v}");
            }
        }
    }

    /// Whatever rules root writes, a user's accepted value is inside the oracle's bounds and
    /// inside the rule root wrote for that key.
    #[test]
    fn policy_rules_bound_what_users_may_set(
        others in prop::collection::btree_map(name_from(SYSCTL_KEYS), sysctl_rule(), 0..3),
        (key, value) in key_and_value(),
        rule in prop::option::weighted(0.8, sysctl_rule()),
        fitted in prop::option::weighted(0.7, (0..4u8, -2..3i64)),
        current in prop::option::of(small_value()),
    ) {
        let mut rules = others;
        if let Some(mut rule) = rule {
            // Mostly a rule that fits the key, around the value asked for.
            if let (Some((how, d)), Some(nums)) = (fitted, oracle_sysctl(&key, &value)) {
                let v = nums[0];
                rule = match how {
                    0 => SysctlRule { min: Some(v + d), max: None, one_of: vec![], ..rule },
                    1 => SysctlRule { min: None, max: Some(v + d), one_of: vec![], ..rule },
                    2 => SysctlRule { min: Some(v - d.abs()), max: Some(v + d.abs()), one_of: vec![], ..rule },
                    _ => SysctlRule { min: None, max: None, one_of: vec![value.clone()], ..rule },
                };
                rule.deny = rule.deny && d == 0;
            }
            rules.insert(key.clone(), rule);
        }
        let file = PolicyFile { sysctls: rules.clone(), ..Default::default() };
        let Ok(p) = Policy::build(file, "", "generated") else { return Ok(()) };
        // A policy that builds names only keys groundwork manages, with bounds inside them.
        for (k, rule) in &rules {
            prop_assert!(SYSCTL_ORACLE.iter().any(|o| o.0 == k), "{k:?}");
            for b in [rule.min, rule.max].into_iter().flatten() {
                prop_assert!(sysctl_in_bounds(k, &b.to_string()), "{k}: bound {b}");
            }
            for v in &rule.one_of {
                prop_assert!(sysctl_in_bounds(k, v), "{k}: one_of {v:?}");
            }
        }
        if p.check_sysctl(&key, &value, current.as_deref()).is_err() {
            return Ok(());
        }
        prop_assert!(sysctl_in_bounds(&key, &value), "{key:?} = {value:?}");
        let nums = oracle_sysctl(&key, &value).unwrap();
        match rules.get(&key) {
            Some(rule) => {
                prop_assert!(!rule.deny, "{key} is denied but {value:?} passed");
                if !rule.one_of.is_empty() {
                    prop_assert!(rule.one_of.contains(&value), "{value:?} not in {:?}", rule.one_of);
                }
                if let [v] = nums[..] {
                    prop_assert!(rule.min.is_none_or(|m| v >= m) && rule.max.is_none_or(|m| v <= m));
                    if rule.raise_only
                        && let Some(now) = current.as_deref().and_then(|c| c.trim().parse::<i64>().ok())
                    {
                        prop_assert!(v >= now);
                    }
                }
            }
            None => prop_assert!(
                DEFAULT_RULES.iter().any(|r| r.0 == key),
                "{key} has no rule, yet {value:?} passed"
            ),
        }
    }

    /// A subordinate range is granted to a user only inside root's bounds and cap.
    #[test]
    fn subid_grants_stay_inside_the_bounds_and_the_cap(
        lo in prop_oneof![Just(100_000u32), 100_000..1_000_000u32],
        span in 0..10_000_000u32,
        cap in prop::option::of(65_536..1_000_000u32),
        start in id(), count in id(), gid in any::<bool>(),
    ) {
        let hi = lo.saturating_add(span);
        let defs = format!("SUB_UID_MIN {lo}\nSUB_UID_MAX {hi}\nSUB_GID_MIN {lo}\nSUB_GID_MAX {hi}\n");
        let file = PolicyFile {
            subids: policy::SubidRules { max_ids_per_user: cap, ..Default::default() },
            ..Default::default()
        };
        let p = Policy::build(file, &defs, "generated").unwrap();
        let kind = if gid { IdKind::Gid } else { IdKind::Uid };
        if count > 0 && p.check_subids(kind, start, count).is_ok() {
            let end = start as u64 + count as u64 - 1;
            prop_assert!(start >= lo && end <= hi as u64, "{start}..={end} outside {lo}..={hi}");
            prop_assert!(count <= cap.unwrap_or(policy::MAX_IDS_PER_USER_DEFAULT));
        }
    }

    /// After set_subids' rewrite the user holds exactly the one range asked for, and every other
    /// line is kept, in order.
    #[test]
    fn the_rewrite_leaves_exactly_one_range(
        lines in prop::collection::vec(
            prop_oneof![
                ("(me|2001|other|x)", any::<u32>(), any::<u32>())
                    .prop_map(|(o, s, c)| format!("{o}:{s}:{c}")),
                "[#a-z0-9: ]{0,12}",
            ],
            0..8,
        ),
        start in id(), count in id(), trailing_newline in any::<bool>(),
    ) {
        let mut text = lines.join("\n");
        if trailing_newline && !text.is_empty() {
            text.push('\n');
        }
        let out = subid_ranges::with_only_range(&text, "me", 2001, start, count);
        let file = subid_ranges::parse("/etc/subuid", Some(&out));
        let own: Vec<_> = file.owned_by("me", Some(2001)).map(|e| (e.start, e.count)).collect();
        prop_assert_eq!(own, vec![(start, count)]);
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                let owner = l.trim().split(':').next().unwrap_or("");
                let is_entry = l.trim().split(':').count() == 3
                    && l.trim().split(':').skip(1).all(|n| !n.is_empty() && n.len() <= 10 && n.bytes().all(|c| c.is_ascii_digit()) && n.parse::<u32>().is_ok());
                !(is_entry && (owner == "me" || owner == "2001"))
            })
            .collect();
        let out_lines: Vec<&str> = out.lines().collect();
        prop_assert_eq!(&out_lines[..out_lines.len() - 1], &kept[..]);
        prop_assert_eq!(*out_lines.last().unwrap(), format!("me:{start}:{count}"));
    }
}

fn sysctl_rule() -> impl Strategy<Value = SysctlRule> {
    let bound = prop_oneof![
        4 => Just(0i64),
        4 => Just(1),
        4 => -5..70_000i64,
        1 => 0..300_000i64,
        1 => Just(65_535),
        1 => Just(I32_MAX),
        1 => Just(I32_MAX + 1),
        1 => any::<i64>(),
    ];
    (
        prop::option::of(bound.clone()),
        prop::option::of(bound),
        prop::collection::vec(small_value(), 0..3),
        any::<bool>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(min, max, one_of, raise_only, deny)| SysctlRule {
            min,
            max,
            one_of,
            raise_only,
            deny,
        })
}

/// The oracle's table is the allow-list: a key added to one and not the other is a failure here.
#[test]
fn the_oracle_knows_every_key_groundwork_manages() {
    let mut ours: Vec<&str> = SYSCTL_KEYS.to_vec();
    let mut theirs: Vec<&str> = allow::sysctl_keys().collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
    assert_eq!(SYSCTL_ORACLE.len(), SYSCTL_KEYS.len());
    assert_eq!(CGROUP_CONTROLLERS, allow::CGROUP_CONTROLLERS);
    // And the oracle itself says no to what it must.
    for (k, v) in [
        ("net.ipv4.ip_forward", "2"),
        ("net.ipv4.ip_forward", "+1"),
        ("net.ipv4.ip_forward", " 1"),
        ("net.ipv4.ip_forward", "1 1"),
        ("net.ipv4.ping_group_range", "5 1"),
        ("net.ipv4.ping_group_range", "0 2147483648"),
        ("net.ipv4.ip_unprivileged_port_start", "65536"),
        ("vm.max_map_count", "0"),
        ("vm.max_map_count", "99999999999999999999999"),
        ("kernel.core_pattern", "1"),
    ] {
        assert!(!sysctl_in_bounds(k, v), "{k} = {v}");
    }
    assert!(sysctl_in_bounds(
        "net.ipv4.ping_group_range",
        "0 2147483647"
    ));
    assert!(sysctl_in_bounds("net.ipv4.ip_forward", "01"));
    assert!(k3s_version_in_bounds("v1.33.6+k3s1"));
    assert!(k3s_version_in_bounds("v1.32.0-rc2+k3s1"));
    assert!(!k3s_version_in_bounds("v1.33+k3s1"));
    assert!(!k3s_version_in_bounds("1.33.6+k3s1"));
}
