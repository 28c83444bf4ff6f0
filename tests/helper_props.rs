//! Properties of the helper's request parsing, validation and authorization: nothing panics on
//! any input, and whatever validation accepts stays inside the allow-lists and bounds.
//!
//! The generators mix arbitrary strings with allow-listed names and near misses of them
//! (prefixes, suffixes, option dashes, traversal), so that accepted requests really occur and
//! the "accepted implies in bounds" properties are not vacuous.

use groundwork::names;
use groundwork::privileged::authorize::{Invoker, authorize_with};
use groundwork::privileged::request::parse;
use groundwork::privileged::validate::validate;
use groundwork::privileged::{Request, allow};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const SUBID_MIN: u32 = 100_000;
const SUBID_MIN_COUNT: u32 = 65_536;

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
        3 => "-?[0-9]{1,20}( -?[0-9]{1,20})?",
        1 => "[-0-9 \\n|/a-z]{0,24}",
        1 => any::<String>(),
    ]
}

/// Ids around every bound validation checks, plus anything.
fn id() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        0..SUBID_MIN + 10,
        SUBID_MIN_COUNT - 10..SUBID_MIN_COUNT + 10,
        allow::MAX_SUBID_COUNT - 10..allow::MAX_SUBID_COUNT + 10,
        u32::MAX - allow::MAX_SUBID_COUNT - 10..=u32::MAX,
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

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        prop::collection::vec(name_from(allow::PACKAGES), 0..20)
            .prop_map(|names| Request::InstallPackages { names }),
        user().prop_map(|user| Request::CreateUser { user }),
        (user(), id(), id(), any::<bool>(), any::<bool>()).prop_map(
            |(user, start, count, uids, gids)| Request::AddSubids {
                user,
                start,
                count,
                uids,
                gids
            }
        ),
        (name_from(allow::SYSCTLS), sysctl_value())
            .prop_map(|(key, value)| Request::SetSysctl { key, value }),
        prop::collection::btree_map(name_from(allow::SYSCTLS), sysctl_value(), 0..6)
            .prop_map(|settings| Request::PersistSysctls { settings }),
        name_from(allow::MODULES).prop_map(|name| Request::LoadModule { name }),
        prop::collection::vec(name_from(allow::MODULES), 0..35)
            .prop_map(|names| Request::PersistModules { names }),
        prop::collection::vec(name_from(names::CGROUP_CONTROLLERS), 0..6)
            .prop_map(|controllers| Request::WriteDelegation { controllers }),
        user().prop_map(|user| Request::RestartUserManager { user }),
        user().prop_map(|user| Request::EnableLinger { user }),
        path().prop_map(|binary| Request::InstallApparmorProfile { binary }),
        (path(), sha256(), path()).prop_map(|(source, sha256, install_path)| {
            Request::InstallK3s {
                source,
                sha256,
                install_path,
            }
        }),
    ]
}

fn sysctl_in_bounds(key: &str, value: &str) -> bool {
    allow::SYSCTLS.contains(&key)
        && names::is_sysctl_key(key)
        && allow::is_numeric_sysctl_value(value)
}

fn module_in_bounds(name: &str) -> bool {
    allow::MODULES.contains(&name) && !name.starts_with('-')
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
        Request::AddSubids {
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
                prop_assert!(names::CGROUP_CONTROLLERS.contains(&c.as_str()), "{c:?}");
            }
        }
        Request::InstallApparmorProfile { binary } => {
            prop_assert!(install_path_in_bounds(binary), "{binary:?}")
        }
        Request::InstallK3s {
            source,
            sha256,
            install_path,
        } => {
            prop_assert!(names::is_clean_absolute_path(source), "{source:?}");
            prop_assert!(!source.split('/').any(|c| c == ".."), "{source:?}");
            prop_assert!(names::is_sha256_hex(sha256), "{sha256:?}");
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
        prop::sample::select(allow::SYSCTLS).prop_map(Value::from),
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
    "sha256",
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
            Request::AddSubids { user: a.clone(), start, count, uids: true, gids: false },
            Request::SetSysctl { key: a.clone(), value: b.clone() },
            Request::PersistSysctls { settings: BTreeMap::from([(a.clone(), b.clone())]) },
            Request::LoadModule { name: a.clone() },
            Request::PersistModules { names: vec![a.clone()] },
            Request::WriteDelegation { controllers: vec![a.clone()] },
            Request::RestartUserManager { user: b.clone() },
            Request::EnableLinger { user: c.clone() },
            Request::InstallApparmorProfile { binary: a.clone() },
            Request::InstallK3s { source: a.clone(), sha256: b.clone(), install_path: c.clone() },
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
        let req = Request::AddSubids { user: "k3s".into(), start, count, uids, gids };
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

    /// A user never acts for someone else without an allow-list line naming both.
    #[test]
    fn users_act_only_for_themselves(
        invoker in "[a-z][a-z0-9]{0,6}", target in "[a-z][a-z0-9]{0,6}",
        lines in prop::collection::vec(("[a-z][a-z0-9]{0,6}", "[a-z][a-z0-9]{0,6}"), 0..4),
        verb in 0..4usize,
    ) {
        let req = match verb {
            0 => Request::AddSubids { user: target.clone(), start: 200_000, count: 65_536, uids: true, gids: true },
            1 => Request::EnableLinger { user: target.clone() },
            2 => Request::RestartUserManager { user: target.clone() },
            _ => Request::CreateUser { user: target.clone() },
        };
        let who = Invoker::User { uid: 1000, name: invoker.clone() };
        let allowed_by_line = lines.iter().any(|(i, t)| *i == invoker && *t == target);
        let own = invoker == target && verb != 3;
        let ok = authorize_with(&who, &req, || Ok(lines.clone())).is_ok();
        prop_assert_eq!(ok, own || allowed_by_line);
    }
}
