//! The root-owned files groundwork writes: their paths, how they are rendered from settings, and
//! how their settings are read back. The plan renders them to show the diff, and the helper
//! renders them from the same settings, so what the plan shows is exactly what gets written.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// The sysctl.d file groundwork owns. Later files (by name) override it.
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-groundwork.conf";
pub const MODULES_FILE: &str = "/etc/modules-load.d/groundwork.conf";
pub const DELEGATION_DROPIN: &str = "/etc/systemd/system/user@.service.d/delegate.conf";

/// Values compare with whitespace collapsed: /proc prints tabs where files have spaces.
pub fn normalize(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for word in v.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

pub fn render_sysctl_file(settings: &BTreeMap<String, String>) -> String {
    let mut out = String::from(
        "# Managed by groundwork: rootless k3s prerequisites. Local edits are reverted.\n",
    );
    for (key, value) in settings {
        out.push_str(&format!("{key} = {value}\n"));
    }
    out
}

/// `key = value` lines (sysctl.d(5)); keys may use `/` as separator; a leading `-` only silences
/// errors. Returns (line, key, value).
pub fn parse_sysctl_conf(text: &str) -> Vec<(usize, String, String)> {
    sysctl_conf_lines(text)
        .map(|(line, key, value)| (line, key.into_owned(), normalize(value)))
        .collect()
}

/// The settings of a sysctl.d file as (line, key, value as written), borrowed where the key
/// needs no rewrite: drift reads every file, and keeps only the keys the spec sets.
pub fn sysctl_conf_lines(text: &str) -> impl Iterator<Item = (usize, Cow<'_, str>, &str)> {
    crate::colon_fields::lines(text)
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                return None;
            }
            let (k, v) = line.split_at(line.bytes().position(|b| b == b'=')?);
            let v = &v[1..];
            let k = k.trim().trim_start_matches('-');
            let k = if k.bytes().any(|b| b == b'/') {
                Cow::Owned(k.replace('/', "."))
            } else {
                Cow::Borrowed(k)
            };
            Some((i + 1, k, v))
        })
}

pub fn render_modules_file(names: &[String]) -> String {
    let mut out = String::from("# Managed by groundwork: kernel modules for rootless k3s.\n");
    for m in names {
        out.push_str(m);
        out.push('\n');
    }
    out
}

/// Module names of a modules-load.d file.
pub fn parse_modules_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(String::from)
        .collect()
}

pub fn render_delegation_dropin(controllers: &[String]) -> String {
    format!(
        "# Managed by groundwork: delegate cgroup v2 controllers to user managers (rootless k3s).\n[Service]\nDelegate={}\n",
        controllers.join(" ")
    )
}

/// The controllers of the `Delegate=` lines of a drop-in (the last assignment wins, and an
/// empty one resets, as in systemd).
pub fn parse_delegation_dropin(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("Delegate=") {
            let v = v.trim();
            if v.is_empty() {
                out.clear();
            } else {
                for c in v.split_whitespace() {
                    if !out.iter().any(|o| o == c) {
                        out.push(c.to_string());
                    }
                }
            }
        }
    }
    out
}

/// `/usr/local/bin/k3s` → `/etc/apparmor.d/usr.local.bin.k3s`, AppArmor's naming convention.
pub fn apparmor_profile_path(binary: &str) -> String {
    format!(
        "/etc/apparmor.d/{}",
        binary.trim_start_matches('/').replace('/', ".")
    )
}

pub fn render_apparmor_profile(binary: &str) -> String {
    let local = binary.trim_start_matches('/').replace('/', ".");
    format!(
        "# Managed by groundwork: allow k3s to create user namespaces (rootless mode).\nabi <abi/4.0>,\ninclude <tunables/global>\n\n{binary} flags=(unconfined) {{\n  userns,\n\n  include if exists <local/{local}>\n}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sysctl_conf_syntax() {
        let got = parse_sysctl_conf(
            "# c\n; c\nnet.ipv4.ip_forward=1\n -user/max_user_namespaces =  28633 \nnet.ipv4.ping_group_range = 0\t2147483647\nbogus\n",
        );
        assert_eq!(
            got,
            vec![
                (3, "net.ipv4.ip_forward".into(), "1".into()),
                (4, "user.max_user_namespaces".into(), "28633".into()),
                (5, "net.ipv4.ping_group_range".into(), "0 2147483647".into()),
            ]
        );
    }

    #[test]
    fn rendered_files_read_back() {
        let c: Vec<String> = ["cpu", "pids"].map(String::from).to_vec();
        assert_eq!(parse_delegation_dropin(&render_delegation_dropin(&c)), c);
        assert_eq!(
            parse_delegation_dropin(
                "[Service]\nDelegate=cpu io\nDelegate=\nDelegate=pids memory pids\n"
            ),
            vec!["pids", "memory"]
        );
        let m: Vec<String> = ["tun", "fuse"].map(String::from).to_vec();
        assert_eq!(parse_modules_file(&render_modules_file(&m)), m);
    }
}
