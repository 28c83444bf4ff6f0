//! Syntax rules for the names that cross the privilege boundary: user names, sysctl keys, kernel
//! module and package names. The spec validator and the helper share them, so that whatever the
//! spec accepts the helper accepts too, and nothing else.

/// `is_user_name` as a regular expression, for the JSON Schema (a test holds the two equal).
pub const USER_NAME_PATTERN: &str = "^[a-z_][a-z0-9_-]{0,31}$";

/// A POSIX-portable login name as shadow's `useradd` accepts it by default: lower case letter or
/// underscore first, then letters, digits, `_` or `-`, at most 32 bytes. No dots, so no `..`.
pub fn is_user_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// A sysctl key in dotted form: at least two components, each of `[a-z0-9_-]`, none empty.
/// Rejects `/`, `..` and anything that could walk out of /proc/sys.
pub fn is_sysctl_key(s: &str) -> bool {
    s.len() <= 128
        && s.split('.').count() >= 2
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
        })
}

/// A kernel module name: `[A-Za-z0-9_-]`, never starting with `-` (it would be an option).
pub fn is_module_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// A package name as Debian policy allows (also valid for RPM): lower case alphanumeric first,
/// then `[a-z0-9+.-]`. It can never start with `-`, so it is never a package-manager option.
pub fn is_package_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b.len() <= 128
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'.' | b'-')
        })
}

/// `is_k3s_version` as a regular expression, for the JSON Schema.
pub const K3S_VERSION_PATTERN: &str =
    r"^v[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}(-[a-z0-9]+)?\+k3s[0-9]{1,6}$";

/// A k3s release tag such as `v1.31.4+k3s1` or `v1.32.0-rc2+k3s1`.
pub fn is_k3s_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let Some((core, build)) = rest.split_once("+k3s") else {
        return false;
    };
    let (numbers, pre) = match core.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (core, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let is_num = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|c| c.is_ascii_digit());
    parts.len() == 3
        && parts.iter().all(|p| is_num(p))
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && is_num(build)
}

/// `is_k3s_env_name` as a regular expression, for the JSON Schema.
pub const K3S_ENV_NAME_PATTERN: &str = "^K3S_[A-Z0-9_]{1,60}$";

/// An environment variable for the k3s unit: `K3S_` then upper case, digits or `_`.
pub fn is_k3s_env_name(s: &str) -> bool {
    s.len() > 4
        && s.len() <= 64
        && s.starts_with("K3S_")
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// A value that can go into a unit file line: no control characters at all.
pub fn is_unit_safe(s: &str) -> bool {
    s.len() <= 4096 && !s.chars().any(|c| c.is_control())
}

/// An absolute, normalised path without `..`, whitespace or control characters.
pub fn is_clean_absolute_path(s: &str) -> bool {
    s.starts_with('/')
        && s.len() <= 4096
        && !s.split('/').any(|p| p == ".." || p == ".")
        && !s.contains("//")
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A containerd snapshotter's name, such as `fuse-overlayfs`.
pub fn is_snapshotter_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
}

/// `is_snapshotter_name` as a regular expression, for the JSON Schema.
pub const SNAPSHOTTER_PATTERN: &str = "^[a-z-]+$";

/// `is_sha256_hex` as a regular expression, for the JSON Schema.
pub const SHA256_PATTERN: &str = "^[0-9a-f]{64}$";

/// A lower-case hex sha256.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["k3s", "_svc", "a-b_c9"] {
            assert!(is_user_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Root",
            "9a",
            "a.b",
            "../x",
            "-o",
            "a b",
            "a\0b",
            &"a".repeat(33),
        ] {
            assert!(!is_user_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn sysctl_keys() {
        for ok in [
            "net.ipv4.ip_forward",
            "user.max_user_namespaces",
            "net.ipv4.conf.eth-0.rp_filter",
        ] {
            assert!(is_sysctl_key(ok), "{ok}");
        }
        for bad in [
            "kernel",
            "net..ipv4",
            "net/ipv4/ip_forward",
            "../../etc.passwd",
            ".a.b",
            "a.b.",
            "A.B",
            "net.ipv4.ip forward",
        ] {
            assert!(!is_sysctl_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn package_and_module_names() {
        assert!(is_package_name("uidmap"));
        assert!(is_package_name("libstdc++6"));
        assert!(!is_package_name("-oAPT::Update::Pre-Invoke::=sh"));
        assert!(!is_package_name("a"));
        assert!(!is_package_name("Foo"));
        assert!(is_module_name("br_netfilter"));
        assert!(!is_module_name("-r"));
        assert!(!is_module_name("../x"));
    }

    #[test]
    fn k3s_versions() {
        for ok in ["v1.31.4+k3s1", "v1.32.0-rc2+k3s1", "v1.29.10+k3s12"] {
            assert!(is_k3s_version(ok), "{ok}");
        }
        for bad in [
            "1.31.4+k3s1",
            "v1.31+k3s1",
            "v1.31.4",
            "v1.31.4+k3s",
            "v1.31.4+k3sx",
            "vx.y.z+k3s1",
            "v1.31.4-+k3s1",
        ] {
            assert!(!is_k3s_version(bad), "{bad:?}");
        }
    }

    /// The schema's patterns say what the checks say, on both sides of each rule.
    #[test]
    fn patterns_agree_with_the_checks() {
        type Case<'a> = (&'a str, fn(&str) -> bool, &'a [&'a str]);
        let cases: [Case; 5] = [
            (
                USER_NAME_PATTERN,
                is_user_name,
                &[
                    "k3s",
                    "_svc",
                    "a-b_c9",
                    "",
                    "Root",
                    "9a",
                    "a.b",
                    "-o",
                    "a b",
                    &"a".repeat(32),
                    &"a".repeat(33),
                ],
            ),
            (
                K3S_VERSION_PATTERN,
                is_k3s_version,
                &[
                    "v1.31.4+k3s1",
                    "v1.32.0-rc2+k3s1",
                    "v1.29.10+k3s12",
                    "1.31.4+k3s1",
                    "v1.31+k3s1",
                    "v1.31.4",
                    "v1.31.4+k3s",
                    "v1.31.4+k3sx",
                    "v1.31.4-+k3s1",
                    "v1.31.4-RC1+k3s1",
                    "v1.31.4-rc-1+k3s1",
                    "v1234567.1.1+k3s1",
                    "v1.31.4+k3s1\n",
                    "v1.31.4+k3s1+k3s2",
                ],
            ),
            (
                K3S_ENV_NAME_PATTERN,
                is_k3s_env_name,
                &[
                    "K3S_X",
                    "K3S_",
                    "K3S_ROOTLESS_MTU",
                    "K3s_X",
                    "K3S_x",
                    "PATH",
                    &format!("K3S_{}", "A".repeat(60)),
                    &format!("K3S_{}", "A".repeat(61)),
                ],
            ),
            (
                SNAPSHOTTER_PATTERN,
                is_snapshotter_name,
                &["fuse-overlayfs", "native", "", "Overlay", "a_b", "a b"],
            ),
            (
                SHA256_PATTERN,
                is_sha256_hex,
                &[
                    &"a".repeat(64),
                    &"A".repeat(64),
                    &"a".repeat(63),
                    &"a".repeat(65),
                    &format!("{}g", "a".repeat(63)),
                ],
            ),
        ];
        for (pattern, check, samples) in cases {
            let re = regex_automata::meta::Regex::new(pattern).expect("a valid pattern");
            for s in samples {
                assert_eq!(re.is_match(s), check(s), "{pattern} on {s:?}");
            }
        }
    }

    #[test]
    fn paths_and_hashes() {
        assert!(is_clean_absolute_path("/usr/local/bin/k3s"));
        for bad in ["usr/bin/k3s", "/usr/../bin", "/a//b", "/a b", "/a/./b"] {
            assert!(!is_clean_absolute_path(bad), "{bad:?}");
        }
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex("abc"));
    }
}
