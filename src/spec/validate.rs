//! Semantic checks that the YAML grammar cannot express.

use super::locate::Seg;
use super::types::{SUBID_MIN, SUBID_MIN_COUNT, Spec, SubidStart, parse_duration};
use crate::allow;
use crate::names;
use std::collections::BTreeSet;

/// (field path, message, hint)
pub type Finding = (Vec<Seg>, String, Option<String>);

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// Every semantic problem in the spec; empty means valid.
pub fn validate(spec: &Spec) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut push = |path: Vec<Seg>, msg: String, hint: Option<&str>| {
        out.push((path, msg, hint.map(String::from)));
    };

    let name = &spec.user.name;
    if name == "root" {
        push(
            vec![key("user"), key("name")],
            "the target user must not be root: rootless k3s runs as an unprivileged account".into(),
            Some("name a dedicated account such as `k3s` and set `create: true`"),
        );
    } else if !names::is_user_name(name) {
        push(
            vec![key("user"), key("name")],
            format!("{name:?} is not a valid user name"),
            Some(
                "use lower case letters, digits, `_` and `-`, starting with a letter, at most 32 characters",
            ),
        );
    }

    let subids = &spec.subids;
    if subids.count < SUBID_MIN_COUNT {
        push(
            vec![key("subids"), key("count")],
            format!(
                "count {} is below {SUBID_MIN_COUNT}, the minimum that rootless k3s needs",
                subids.count
            ),
            Some("use 65536 or more"),
        );
    }
    if let SubidStart::At(start) = subids.start {
        if start < SUBID_MIN {
            push(
                vec![key("subids"), key("start")],
                format!("start {start} overlaps the range of real user ids (below {SUBID_MIN})"),
                Some("use `auto`, or a start of 100000 or more"),
            );
        }
        if start.checked_add(subids.count).is_none() {
            push(
                vec![key("subids"), key("start")],
                format!("the range {start} + {} overflows 32-bit ids", subids.count),
                Some("use `auto`, or a lower start"),
            );
        }
    }

    for (k, setting) in &spec.sysctls {
        let path = vec![key("sysctls"), key(k)];
        if !names::is_sysctl_key(k) {
            push(
                path,
                format!("{k:?} is not a sysctl key"),
                Some("use the dotted form, such as `net.ipv4.ip_forward`"),
            );
        } else if allow::sysctl(k).is_none() {
            push(
                path,
                format!(
                    "groundwork does not manage {k:?}: only sysctls that rootless k3s needs are allowed"
                ),
                Some(&format!(
                    "allowed: {}",
                    allow::sysctl_keys().collect::<Vec<_>>().join(", ")
                )),
            );
        } else if setting.at_least() && setting.value().parse::<i64>().is_err() {
            push(path, "`at_least` needs a number".into(), None);
        } else if let Err(e) =
            allow::parse_sysctl_value(k, &crate::managed_files::normalize(&setting.value()))
        {
            push(path, e, Some("the helper sets only values of this shape"));
        }
    }

    check_list(
        &mut out,
        "modules",
        &spec.modules,
        names::is_module_name,
        "a kernel module name",
        allow::MODULES,
    );
    check_list(
        &mut out,
        "packages",
        &spec.packages,
        names::is_package_name,
        "a package name",
        allow::PACKAGES,
    );

    let mut seen = BTreeSet::new();
    for (i, c) in spec.cgroup.delegate.iter().enumerate() {
        let path = vec![key("cgroup"), key("delegate"), Seg::Index(i)];
        if !allow::CGROUP_CONTROLLERS.contains(&c.as_str()) {
            out.push((
                path,
                format!("{c:?} is not a controller groundwork delegates"),
                Some(format!("use {}", allow::CGROUP_CONTROLLERS.join(", "))),
            ));
        } else if !seen.insert(c) {
            out.push((path, format!("{c:?} is listed twice"), None));
        }
    }

    let k3s = &spec.k3s;
    if !names::is_k3s_version(&k3s.version) {
        out.push((
            vec![key("k3s"), key("version")],
            format!("{:?} is not a k3s release tag", k3s.version),
            Some("use the form v1.31.4+k3s1".into()),
        ));
    }
    if !allow::is_allowed_install_path(&k3s.install_path) {
        out.push((
            vec![key("k3s"), key("install_path")],
            format!(
                "{:?} is not a path the helper installs k3s to",
                k3s.install_path
            ),
            Some(format!(
                "use a file named k3s directly in {}",
                allow::K3S_DIRS.join(", ")
            )),
        ));
    }
    let src = &k3s.source;
    if src.sha256 != "auto" && !names::is_sha256_hex(&src.sha256) {
        out.push((
            vec![key("k3s"), key("source"), key("sha256")],
            "expected `auto` or 64 lower-case hex digits".into(),
            None,
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
    if !unit
        .snapshotter
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c == b'-')
        || unit.snapshotter.is_empty()
    {
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
    out
}

fn check_list(
    out: &mut Vec<Finding>,
    field: &str,
    items: &[String],
    ok: fn(&str) -> bool,
    what: &str,
    allowed: &[&str],
) {
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = vec![key(field), Seg::Index(i)];
        if !ok(item) {
            out.push((path, format!("{item:?} is not {what}"), None));
        } else if !allowed.contains(&item.as_str()) {
            // The helper refuses anything else, so the spec does too, before anything runs.
            out.push((
                path,
                format!(
                    "groundwork does not manage {item:?}: it is not {what} that rootless k3s needs"
                ),
                Some(format!("allowed: {}", allowed.join(", "))),
            ));
        } else if !seen.insert(item) {
            out.push((path, format!("{item:?} is listed twice"), None));
        }
    }
}
