//! Root's policy file on arbitrary bytes: `policy::parse` then `Policy::build` (with the text
//! after the first NUL, if any, as /etc/login.defs). Neither may panic, and a policy that builds
//! stays inside groundwork's allow-lists: every sysctl rule names a managed key with bounds in
//! the key's shape, the subordinate id bounds and cap are usable, and users are never allowed
//! a value outside allow's bounds or a key groundwork does not manage.
#![no_main]

use groundwork::allow;
use groundwork::names;
use groundwork::policy::{self, IdKind, Policy};
use libfuzzer_sys::fuzz_target;

/// Values to probe each key with: its rule's bounds and their neighbours, and allow's edges.
fn probes(key: &str, rule: Option<&policy::SysctlRule>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = vec![-1, 0, 1, 2, 1023, 1024, 65535, 65536, i32::MAX as i64];
    if let Some(r) = rule {
        for b in [r.min, r.max].into_iter().flatten() {
            ints.extend([b.saturating_sub(1), b, b.saturating_add(1)]);
        }
        out.extend(r.one_of.iter().cloned());
    }
    if let Some(k) = allow::sysctl(key) {
        let (min, max) = match k.shape {
            allow::Shape::Int { min, max } | allow::Shape::Pair { min, max } => (min, max),
        };
        ints.extend([min - 1, min, max, max + 1]);
    }
    for i in ints {
        out.push(i.to_string());
        out.push(format!("{i} {i}"));
        out.push(format!("0 {i}"));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (policy_bytes, defs_bytes) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(policy_bytes);
    let login_defs = String::from_utf8_lossy(defs_bytes);
    let Ok(file) = policy::parse(&text, "fuzz.yaml") else {
        return;
    };
    let Ok(p) = Policy::build(file.clone(), &login_defs, "fuzz.yaml") else {
        return;
    };

    for (invoker, targets) in &file.act_for {
        for n in std::iter::once(invoker).chain(targets) {
            assert!(n != "root" && names::is_user_name(n), "act_for {n:?}");
        }
    }
    for (key, rule) in &file.sysctls {
        let k = allow::sysctl(key).unwrap_or_else(|| panic!("sysctls: {key:?} accepted"));
        for b in [rule.min, rule.max].into_iter().flatten() {
            assert!(
                allow::parse_sysctl_value(key, &b.to_string()).is_ok(),
                "{key}: {b}"
            );
            assert!(
                matches!(k.shape, allow::Shape::Int { .. }),
                "{key}: bounds on a pair"
            );
        }
        if let (Some(lo), Some(hi)) = (rule.min, rule.max) {
            assert!(lo <= hi, "{key}: {lo} > {hi}");
        }
        for v in &rule.one_of {
            assert!(allow::parse_sysctl_value(key, v).is_ok(), "{key}: {v:?}");
        }
    }
    for kind in [IdKind::Uid, IdKind::Gid] {
        let (lo, hi) = p.subid_bounds(kind);
        assert!(lo >= 100_000 && lo <= hi, "subid bounds {lo}..={hi}");
        for (start, count) in [
            (lo, 65_536),
            (lo, p.max_ids_per_user),
            (lo, p.max_ids_per_user.saturating_add(1)),
            (lo.saturating_sub(1), 65_536),
            (hi, 1),
            (hi.saturating_sub(65_535), 65_536),
        ] {
            if count > 0 && p.check_subids(kind, start, count).is_ok() {
                let end = start as u64 + count as u64 - 1;
                assert!(start >= lo && end <= hi as u64 && count <= p.max_ids_per_user);
            }
        }
    }
    assert!(p.max_ids_per_user >= 65_536);
    for a in p.k3s_allowed_in_file() {
        assert!(names::is_k3s_version(&a.version) && names::is_sha256_hex(&a.sha256));
        assert!(p.allowed_k3s(&a.sha256).is_some());
    }

    // Keys the file does not name keep their built-in rule.
    for key in allow::sysctl_keys() {
        if !file.sysctls.contains_key(key) {
            assert_eq!(
                p.sysctl_rule(key),
                policy::default_sysctl_rule(key),
                "{key}"
            );
        }
    }
    // What users may set under the rules the file wrote stays inside allow's bounds and the
    // rule, and no key outside the allow-list is ever settable.
    let named = file.sysctls.keys().map(String::as_str);
    for key in named.chain(["kernel.core_pattern", ""]) {
        let rule = file.sysctls.get(key);
        for v in probes(key, rule) {
            for current in [None, Some("0"), Some("1024"), Some("2147483647")] {
                if p.check_sysctl(key, &v, current).is_ok() {
                    assert!(allow::parse_sysctl_value(key, &v).is_ok(), "{key} = {v:?}");
                    if let Some(r) = rule {
                        assert!(!r.deny, "{key} denied, {v:?} allowed");
                        assert!(r.one_of.is_empty() || r.one_of.contains(&v));
                        if let Ok(n) = v.parse::<i64>() {
                            assert!(r.min.is_none_or(|m| n >= m) && r.max.is_none_or(|m| n <= m));
                        }
                    }
                }
            }
        }
    }
});
