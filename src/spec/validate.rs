//! Semantic checks that the YAML grammar cannot express. Each value the helper receives is checked
//! with the helper's own argument checks (`crate::privileged::validate`), so that a spec that
//! validates is never refused by them half-way through an apply.

use super::path::{Finding, Seg, key};
use super::types::{SUBID_MIN, Spec, SubidStart, parse_duration};
use crate::allow;
use crate::k3s_releases;
use crate::names;
use crate::privileged::validate as rules;
use std::collections::BTreeSet;

/// Every semantic problem in the spec; empty means valid.
pub fn validate(spec: &Spec) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut push = |path: Vec<Seg>, msg: String, hint: Option<&str>| {
        out.push((path, msg, hint.map(String::from)));
    };

    let name = &spec.user.name;
    if let Err(e) = rules::user_name(name) {
        if name == "root" {
            push(
                vec![key("user"), key("name")],
                "the target user must not be root: rootless k3s runs as an unprivileged account"
                    .into(),
                Some("name a dedicated account such as `k3s` and set `create: true`"),
            );
        } else {
            push(
                vec![key("user"), key("name")],
                e,
                Some(
                    "use lower case letters, digits, `_` and `-`, starting with a letter, at most 32 characters",
                ),
            );
        }
    }

    // The helper's own checks of a set_subids request, on what the spec would send.
    let subids = &spec.subids;
    if let Err(e) = rules::subid_count(subids.count) {
        push(
            vec![key("subids"), key("count")],
            e,
            Some("use 65536, what rootless k3s needs; more only for many nested namespaces"),
        );
    }
    if let SubidStart::At(start) = subids.start
        && let Err(e) = rules::subid_start(start, subids.count)
    {
        let hint = if start < SUBID_MIN {
            "use `auto`, or a start of 100000 or more"
        } else {
            "use `auto`, or a lower start"
        };
        push(vec![key("subids"), key("start")], e, Some(hint));
    }

    for (k, setting) in &spec.sysctls {
        let path = vec![key("sysctls"), key(k)];
        if setting.at_least() && setting.value().parse::<i64>().is_err() {
            push(path, "`at_least` needs a number".into(), None);
        } else if let Err(e) = rules::sysctl(k, &crate::managed_files::normalize(&setting.value()))
        {
            let hint = if !names::is_sysctl_key(k) {
                "use the dotted form, such as `net.ipv4.ip_forward`".to_string()
            } else if allow::sysctl(k).is_none() {
                format!(
                    "allowed: {}",
                    allow::sysctl_keys().collect::<Vec<_>>().join(", ")
                )
            } else {
                "the helper sets only values of this shape".to_string()
            };
            push(path, e, Some(&hint));
        }
    }

    check_list(
        &mut out,
        "modules",
        &spec.modules,
        rules::module,
        allow::MODULES,
    );
    check_list(
        &mut out,
        "packages",
        &spec.packages,
        rules::package,
        allow::PACKAGES,
    );
    check_list(
        &mut out,
        "cgroup.delegate",
        &spec.cgroup.delegate,
        rules::controller,
        allow::CGROUP_CONTROLLERS,
    );

    let k3s = &spec.k3s;
    if let Err(e) = rules::k3s_version(&k3s.version) {
        out.push((
            vec![key("k3s"), key("version")],
            e,
            Some("use the form v1.31.4+k3s1".into()),
        ));
    }
    if let Err(e) = rules::install_path(&k3s.install_path) {
        out.push((vec![key("k3s"), key("install_path")], e, None));
    }
    let src = &k3s.source;
    if src.sha256 != "auto" && rules::sha256(&src.sha256).is_err() {
        out.push((
            vec![key("k3s"), key("source"), key("sha256")],
            "expected `auto` or 64 lower-case hex digits".into(),
            None,
        ));
    } else if let Some(release) = k3s_releases::by_sha256(&src.sha256)
        && release.version != k3s.version
    {
        // The helper installs a known binary only as the release it is.
        out.push((
            vec![key("k3s"), key("source"), key("sha256")],
            format!(
                "this is the sha256 of k3s {} ({}), not of {}",
                release.version, release.asset, k3s.version
            ),
            Some(format!(
                "set `version: {}`, or pin the sha256 of {} from its release's sha256sum file, or use `auto`",
                release.version, k3s.version
            )),
        ));
    }
    if !(src.url.starts_with("https://") || src.url.starts_with("http://"))
        || !names::is_unit_safe(&src.url)
        || src.url.contains(' ')
    {
        out.push((
            vec![key("k3s"), key("source"), key("url")],
            format!("{:?} is not an http(s) URL", src.url),
            None,
        ));
    }
    if let Some(file) = &src.file {
        if !names::is_clean_absolute_path(file) {
            out.push((
                vec![key("k3s"), key("source"), key("file")],
                format!("{file:?} is not a clean absolute path"),
                None,
            ));
        }
        if src.sha256 == "auto" {
            out.push((
                vec![key("k3s"), key("source"), key("sha256")],
                "a local file needs its sha256 pinned; `auto` reads it from the release server"
                    .into(),
                Some("run `sha256sum FILE` and put the hash here".into()),
            ));
        }
    }

    let unit = &spec.unit;
    for (name, value) in &unit.env {
        let path = vec![key("unit"), key("env"), key(name)];
        if !names::is_k3s_env_name(name) {
            out.push((
                path,
                format!("{name:?} is not a K3S_* variable name"),
                Some("k3s reads K3S_ROOTLESS_* and other K3S_* variables".into()),
            ));
        } else if !names::is_unit_safe(value) {
            out.push((path, "the value contains control characters".into(), None));
        }
    }
    for (i, arg) in unit.args.iter().enumerate() {
        if !names::is_unit_safe(arg) || arg.is_empty() {
            out.push((
                vec![key("unit"), key("args"), Seg::Index(i)],
                "arguments must be non-empty and free of control characters".into(),
                None,
            ));
        } else if arg == "--rootless" {
            out.push((
                vec![key("unit"), key("args"), Seg::Index(i)],
                "`--rootless` is always passed; remove it here".into(),
                None,
            ));
        }
    }
    if !names::is_snapshotter_name(&unit.snapshotter) {
        out.push((
            vec![key("unit"), key("snapshotter")],
            format!("{:?} is not a snapshotter name", unit.snapshotter),
            None,
        ));
    }

    match parse_duration(&spec.health.timeout) {
        Some(d) if d.as_secs() >= 1 && d.as_secs() <= 3600 => {}
        _ => out.push((
            vec![key("health"), key("timeout")],
            format!(
                "{:?} is not a timeout between 1s and 1h",
                spec.health.timeout
            ),
            Some("write it as 300s or 5m".into()),
        )),
    }
    super::validate_network::check(spec, &mut out);
    out
}

/// Each item passes the helper's check, once.
fn check_list(
    out: &mut Vec<Finding>,
    field: &str,
    items: &[String],
    check: fn(&str) -> Result<(), String>,
    allowed: &[&str],
) {
    let mut seen = BTreeSet::new();
    // The item's path is built only for a finding: a valid list has none.
    let path = |i| {
        let mut path: Vec<Seg> = field.split('.').map(key).collect();
        path.push(Seg::Index(i));
        path
    };
    for (i, item) in items.iter().enumerate() {
        if let Err(e) = check(item) {
            out.push((path(i), e, Some(format!("allowed: {}", allowed.join(", ")))));
        } else if !seen.insert(item) {
            out.push((
                path(i),
                format!("{item:?} is listed twice"),
                Some("remove one".into()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileged::request::Request;
    use crate::privileged::validate::validate as helper_validates;
    use crate::spec::{SUBID_MIN_COUNT, SysctlSetting, SysctlValue, load_default};
    use proptest::prelude::*;

    static DEFAULT: std::sync::LazyLock<crate::spec::Spec> =
        std::sync::LazyLock::new(|| load_default().0);

    fn one_of(items: Vec<&'static str>) -> impl Strategy<Value = String> {
        proptest::sample::select(items).prop_map(String::from)
    }

    /// Values near every bound the helper checks, and some far from any.
    fn count() -> impl Strategy<Value = u32> {
        prop_oneof![
            3 => SUBID_MIN_COUNT..=allow::MAX_SUBID_COUNT,
            1 => proptest::sample::select(vec![
                0,
                65_535,
                65_536,
                262_144,
                allow::MAX_SUBID_COUNT,
                allow::MAX_SUBID_COUNT + 1,
                u32::MAX
            ]),
            1 => any::<u32>(),
        ]
    }

    fn start() -> impl Strategy<Value = SubidStart> {
        prop_oneof![
            Just(SubidStart::Auto),
            proptest::sample::select(vec![0, 99_999, 100_000, u32::MAX - 65_536, u32::MAX])
                .prop_map(SubidStart::At),
            any::<u32>().prop_map(SubidStart::At),
        ]
    }

    fn sysctl_value() -> impl Strategy<Value = SysctlSetting> {
        prop_oneof![
            4 => (0i64..=1).prop_map(|v| SysctlSetting::Plain(SysctlValue::Int(v))),
            1 => any::<i64>().prop_map(|v| SysctlSetting::Plain(SysctlValue::Int(v))),
            2 => (-2i64..70_000).prop_map(|v| SysctlSetting::Plain(SysctlValue::Int(v))),
            1 => one_of(vec!["1", " 1 ", "one", "0 2147483647", "5 1", "", "1\n2"])
                .prop_map(|v| SysctlSetting::Plain(SysctlValue::Text(v))),
        ]
    }

    /// Mostly what is allowed, sometimes what is not: both sides of each check.
    fn mostly(
        allowed: &'static [&'static str],
        refused: &'static [&'static str],
    ) -> impl Strategy<Value = String> {
        prop_oneof![
            6 => one_of(allowed.to_vec()),
            1 => one_of(refused.to_vec()),
        ]
    }

    fn junk_and(allowed: &'static [&'static str]) -> impl Strategy<Value = String> {
        mostly(allowed, &["-r", "vim", "ext4", "../x", "", "Uidmap"])
    }

    proptest! {
        // Most random specs are invalid somewhere: those only check the other direction.
        #![proptest_config(ProptestConfig { max_global_rejects: 20_000, ..ProptestConfig::default() })]

        /// Whatever a spec that validates asks of the helper, the helper's own validation
        /// accepts: nothing is refused half-way through an apply.
        #[test]
        fn a_valid_spec_asks_the_helper_only_for_what_it_accepts(
            count in count(),
            start in start(),
            sysctls in proptest::collection::btree_map(
                junk_and(&["net.ipv4.ip_forward", "user.max_user_namespaces", "net.ipv4.ping_group_range", "vm.max_map_count", "net.ipv4.ip_unprivileged_port_start"]),
                sysctl_value(),
                0..2,
            ),
            packages in proptest::collection::vec(junk_and(allow::PACKAGES), 0..4),
            modules in proptest::collection::vec(junk_and(allow::MODULES), 0..4),
            delegate in proptest::collection::vec(junk_and(allow::CGROUP_CONTROLLERS), 0..4),
            version in mostly(&["v1.31.4+k3s1", "v1.36.4+k3s1"], &["latest", "v1.31+k3s1"]),
            sha256 in mostly(
                &["auto", "auto", "auto", "835873f37245fc615f547a2fe2af9402a347875f13fa64a1f136de644955ea3f"],
                &["959c9310a6ab893958d1c95bc5d7609de9d7884630c8832180f059369b6dc331", "abc"],
            ),
            install_path in mostly(&["/usr/local/bin/k3s", "/opt/k3s/bin/k3s"], &["/usr/bin/sudo"]),
            user in mostly(&["k3s", "_svc"], &["root", "Bob"]),
        ) {
            let mut spec = DEFAULT.clone();
            spec.user.name = user;
            spec.subids.count = count;
            spec.subids.start = start;
            spec.sysctls = sysctls;
            spec.packages = packages;
            spec.modules = modules;
            spec.cgroup.delegate = delegate;
            spec.k3s.version = version;
            spec.k3s.source.sha256 = sha256;
            spec.k3s.install_path = install_path;
            prop_assume!(validate(&spec).is_empty());

            let name = spec.user.name.clone();
            let mut requests = vec![
                Request::CreateUser { user: name.clone() },
                Request::EnableLinger { user: name.clone() },
                Request::SetSubids {
                    user: name.clone(),
                    // `auto` picks a start inside login.defs' bounds, which start at 100000.
                    start: match spec.subids.start {
                        SubidStart::At(s) => s,
                        SubidStart::Auto => crate::spec::SUBID_MIN,
                    },
                    count: spec.subids.count,
                    uids: true,
                    gids: true,
                },
                Request::InstallApparmorProfile { binary: spec.k3s.install_path.clone() },
                Request::InstallK3s {
                    version: spec.k3s.version.clone(),
                    sha256: crate::k3s_releases::lookup(&spec.k3s.version, "k3s")
                        .map(|r| r.sha256.to_string())
                        .unwrap_or_else(|| "a".repeat(64)),
                    size: 70 << 20,
                    install_path: spec.k3s.install_path.clone(),
                },
            ];
            for (k, setting) in &spec.sysctls {
                let value = crate::managed_files::normalize(&setting.value());
                requests.push(Request::SetSysctl { key: k.clone(), value });
            }
            if !spec.packages.is_empty() {
                requests.push(Request::InstallPackages { names: spec.packages.clone() });
            }
            if !spec.modules.is_empty() {
                requests.push(Request::PersistModules { names: spec.modules.clone() });
            }
            if !spec.cgroup.delegate.is_empty() {
                requests.push(Request::WriteDelegation { controllers: spec.cgroup.delegate.clone() });
            }
            for req in &requests {
                prop_assert!(helper_validates(req).is_ok(), "{req:?}: {:?}", helper_validates(req));
            }
        }
    }
}
