//! Hostile requests to the privilege boundary: each must be refused, and nothing on the host may
//! change. The logic is checked through the library; parse-, validation- and authorization-level
//! refusals are also checked against the real `groundwork-helper` binary.
//!
//! SAFETY: CI runs this as root, so the real helper executes whatever passes validation and
//! authorization. `run_helper` therefore asks the library first and panics, without starting the
//! binary, if a request would not be refused.

use assert_cmd::Command;
use groundwork::allow;
use groundwork::policy::{self, Policy};
use groundwork::privileged::authorize::{self, Invoker, authorize};
use groundwork::privileged::request::{MAX_K3S_BYTES, MAX_REQUEST_BYTES, parse};
use groundwork::privileged::validate::validate;
use groundwork::privileged::{Kind, Request, Response, secure_fs};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

const EXIT_REFUSED: i32 = 2;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Says loudly what was not tested. Written to the stderr handle, not through `eprintln!`, so that
/// the test harness's output capture cannot hide it behind a plain "ok". CI runs the suite as
/// root with CI=true: there a skip is a failure.
fn skipped(what: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "CI is set, but this test cannot run (it needs root): {what}"
    );
    let _ = writeln!(std::io::stderr(), "==== SKIPPED (needs root): {what} ====");
}

/// What the tests look at to see that nothing changed: the sysctls and files the verbs write,
/// the directories they write into, and the loaded modules.
fn host_state() -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    for f in [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
        "/proc/sys/kernel/core_pattern",
        "/etc/subuid",
        "/etc/subgid",
        "/etc/passwd",
        "/etc/group",
    ] {
        let text = fs::read_to_string(f).unwrap_or_else(|e| format!("<{e}>"));
        state.insert(f.to_string(), text);
    }
    for d in [
        "/etc/sysctl.d",
        "/etc/modules-load.d",
        "/etc/apparmor.d",
        "/etc/systemd/system/user@.service.d",
        "/var/lib/systemd/linger",
        "/usr/local/bin",
        "/opt/k3s/bin",
    ] {
        let mut entries: Vec<String> = fs::read_dir(d)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| {
                        let m = e.metadata().ok();
                        format!(
                            "{} {} {}",
                            e.file_name().to_string_lossy(),
                            m.as_ref().map_or(0, |m| m.len()),
                            m.as_ref().map_or(0, |m| m.mtime()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        state.insert(d.to_string(), entries.join("\n"));
    }
    let mut modules: Vec<String> = fs::read_to_string("/proc/modules")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').next().map(str::to_string))
        .collect();
    modules.sort();
    state.insert("/proc/modules".into(), modules.join(" "));
    state
}

/// Root's policy, read the way the helper reads it: only from root-owned files in a trusted
/// directory chain. An error means the helper refuses every request.
fn root_policy() -> Result<Policy, String> {
    let read = |path: &str| {
        secure_fs::read_trusted(Path::new(path), 256 * 1024).map_err(|e| format!("{path}: {e}"))
    };
    let text = read(policy::POLICY_FILE)?;
    let login_defs = read(policy::LOGIN_DEFS)?.unwrap_or_default();
    policy::from_texts(text.as_deref(), &login_defs)
}

/// The library's verdict, exactly as the binary reaches it: the invoker from SUDO_UID, root's
/// policy, then parse, validate and authorize under that policy.
fn library_verdict(body: &[u8], sudo_uid: Option<&str>) -> Result<Request, String> {
    let invoker = authorize::invoker(0, sudo_uid)?;
    let policy = root_policy()?;
    let req = parse(body)?;
    validate(&req)?;
    authorize(&invoker, &req, &policy)?;
    Ok(req)
}

/// Runs the real helper with `body` on stdin; asserts that it refuses (exit 2, one JSON line with
/// ok=false, changed=false, a message containing `expect`) and that the host did not change.
fn assert_helper_refuses(body: &[u8], sudo_uid: Option<&str>, args: &[&str], expect: &str) {
    if let Ok(req) = library_verdict(body, sudo_uid) {
        panic!(
            "SAFETY: {req:?} would pass validation and authorization; it must not be sent to \
             the real helper, which executes it as root"
        );
    }
    let before = host_state();
    let mut cmd = Command::cargo_bin("groundwork-helper").expect("the helper is built");
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(args)
        .write_stdin(body.to_vec())
        .timeout(Duration::from_secs(60));
    if let Some(uid) = sudo_uid {
        cmd.env("SUDO_UID", uid);
    }
    let out = cmd.output().expect("the helper runs");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    assert_eq!(
        out.status.code(),
        Some(EXIT_REFUSED),
        "{shown:?}: stdout {stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "one response line: {stdout}");
    let resp: Response = serde_json::from_str(stdout.trim_end()).expect("a JSON response");
    assert!(!resp.ok && !resp.changed, "{shown:?}: {resp:?}");
    assert_eq!(resp.kind, Kind::Refused, "{shown:?}: {resp:?}");
    assert!(
        resp.msg.contains(expect),
        "{shown:?}: expected {expect:?} in {:?}",
        resp.msg
    );
    assert!(
        resp.msg.len() < 1024,
        "the message never echoes a huge request"
    );
    assert_eq!(before, host_state(), "{shown:?} changed the host");
}

/// A request refused by parse or validate, from root (so that authorization would let it
/// through): in the library and in the real binary.
fn assert_refused(body: impl AsRef<[u8]>, expect: &str) {
    let body = body.as_ref();
    let lib = parse(body).and_then(|r| validate(&r));
    let err = lib.expect_err("the library refuses it");
    assert!(err.contains(expect), "expected {expect:?} in {err:?}");
    if !is_root() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            skipped("binary-level refusals through the real helper (checked in the library only)")
        });
        return;
    }
    assert_helper_refuses(body, Some("0"), &[], expect);
}

fn j(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn nobody() -> (u32, String) {
    let u = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .expect("the nobody account exists");
    (u.uid.as_raw(), u.name)
}

// ---- parse level ----------------------------------------------------------------------------

#[test]
fn unknown_verbs_are_refused() {
    assert_refused(
        j(json!({"verb": "run_shell", "cmd": "sh"})),
        "unknown variant",
    );
    assert_refused(
        j(json!({"verb": "SET_SYSCTL", "key": "net.ipv4.ip_forward", "value": "1"})),
        "unknown variant",
    );
    assert_refused(
        j(json!({"key": "net.ipv4.ip_forward", "value": "1"})),
        "missing field `verb`",
    );
}

#[test]
fn extra_fields_are_refused() {
    // Without the extra field these would pass and execute: the field alone must refuse them.
    assert_refused(
        j(json!({"verb": "set_sysctl", "key": "net.ipv4.ip_forward", "value": "1", "extra": 1})),
        "unknown field",
    );
    assert_refused(
        j(json!({"verb": "load_module", "name": "tun", "args": "-r"})),
        "unknown field",
    );
    assert_refused(
        j(
            json!({"verb": "install_packages", "names": ["uidmap"], "options": ["-oAPT::Update::Pre-Invoke::=sh"]}),
        ),
        "unknown field",
    );
}

#[test]
fn nul_bytes_are_refused() {
    let ip_forward = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok();
    assert_refused(
        b"{\"verb\":\"set_sysctl\",\"key\":\"net.ipv4.ip_forward\",\"value\":\"1\"}\0",
        "NUL",
    );
    assert_refused(b"{\"verb\":\"load_module\",\"name\":\"tun\0\"}", "NUL");
    // Escaped in the JSON, the NUL reaches validation, which refuses it.
    assert_refused(
        j(json!({"verb": "load_module", "name": "tun\u{0}-r"})),
        "allow-list",
    );
    assert_refused(
        j(json!({"verb": "set_sysctl", "key": "net.ipv4.ip_forward\u{0}", "value": "1"})),
        "allow-list",
    );
    assert_eq!(
        ip_forward,
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok()
    );
}

#[test]
fn oversized_requests_are_refused() {
    // A request that would pass, padded past the limit: the size alone must refuse it.
    let mut body = j(json!({"verb": "set_sysctl", "key": "net.ipv4.ip_forward", "value": "1"}));
    body.resize(MAX_REQUEST_BYTES + 1, b' ');
    assert_refused(&body, "limit");
    body.resize(4 * 1024 * 1024, b' ');
    assert_refused(&body, "limit");
    // Exactly at the limit, size is not the reason (and this one fails validation).
    let mut at_limit = j(json!({"verb": "load_module", "name": "-r"}));
    at_limit.resize(MAX_REQUEST_BYTES, b' ');
    assert_refused(&at_limit, "allow-list");
}

#[test]
fn arguments_in_argv_are_refused() {
    let req = r#"{"verb":"set_sysctl","key":"net.ipv4.ip_forward","value":"1"}"#;
    if !is_root() {
        return skipped("the helper's argv refusal");
    }
    for args in [&[req][..], &["--help"], &[""], &["-", "x"]] {
        assert_helper_refuses(b"", Some("0"), args, "takes no arguments");
    }
}

/// Found in review: without SUDO_UID the helper took its caller for root, so a site that gave
/// users the helper through doas, pkexec or `su -c` would have let every request past root's
/// policy. A request root would allow, arriving without SUDO_UID, is refused.
#[test]
fn a_helper_started_without_sudo_is_refused() {
    let req = br#"{"verb":"set_sysctl","key":"net.ipv4.ip_forward","value":"1"}"#;
    let e = library_verdict(req, None).unwrap_err();
    assert!(e.contains("SUDO_UID is not set"), "{e}");
    if !is_root() {
        return skipped("the helper without SUDO_UID");
    }
    assert_helper_refuses(req, None, &[], "SUDO_UID is not set");
}

#[test]
fn invalid_json_is_refused() {
    for (body, expect) in [
        (&b""[..], "EOF"),
        (b"not json", "expected"),
        (b"{\"verb\":", "EOF"),
        (b"[]", "request refused"),
        (b"\"set_sysctl\"", "request refused"),
        (b"null", "request refused"),
        (b"\xff\xfe{}", "expected"),
        (
            b"{\"verb\":\"set_sysctl\",\"key\":1,\"value\":\"1\"}",
            "invalid type",
        ),
        (
            b"{\"verb\":\"set_sysctl\",\"key\":\"net.ipv4.ip_forward\",\"key\":\"kernel.core_pattern\",\"value\":\"1\"}",
            "duplicate field",
        ),
        (
            b"{\"verb\":\"set_subids\",\"user\":\"bob\",\"start\":-1,\"count\":65536,\"uids\":true,\"gids\":true}",
            "invalid value",
        ),
        (
            b"{\"verb\":\"set_subids\",\"user\":\"bob\",\"start\":4294967296,\"count\":65536,\"uids\":true,\"gids\":true}",
            "invalid value",
        ),
        (
            b"{\"verb\":\"set_subids\",\"user\":\"bob\",\"start\":100000.5,\"count\":65536,\"uids\":true,\"gids\":true}",
            "invalid type",
        ),
        // The verb that piled ranges up is gone: set_subids replaces it.
        (
            b"{\"verb\":\"add_subids\",\"user\":\"bob\",\"start\":200000,\"count\":65536,\"uids\":true,\"gids\":true}",
            "unknown variant",
        ),
    ] {
        assert_refused(body, expect);
    }
}

// ---- authorization --------------------------------------------------------------------------

fn alice() -> Invoker {
    Invoker::User {
        uid: 1000,
        name: "alice".into(),
    }
}

fn subids_for(user: &str) -> Request {
    Request::SetSubids {
        user: user.into(),
        start: 200_000,
        count: 65_536,
        uids: true,
        gids: true,
    }
}

/// A policy from its text, as root would write it.
fn policy_from(text: &str) -> Policy {
    policy::from_texts(Some(text), "").expect("a valid policy")
}

#[test]
fn a_user_cannot_act_for_another() {
    let none = Policy::defaults();
    for req in [
        subids_for("bob"),
        Request::EnableLinger { user: "bob".into() },
        Request::RestartUserManager { user: "bob".into() },
        Request::CreateUser { user: "bob".into() },
        // Creating an account is never "for yourself".
        Request::CreateUser {
            user: "alice".into(),
        },
    ] {
        validate(&req).expect("valid arguments: only authorization refuses");
        let err = authorize(&alice(), &req, &none).expect_err("refused");
        assert!(err.contains("alice may not"), "{err}");
        // Someone else's policy line does not help, nor does a reversed one.
        let others = policy_from("act_for:\n  carol: [bob]\n  bob: [alice]\n");
        assert!(authorize(&alice(), &req, &others).is_err());
    }
    // A policy that does not parse, or names root, is no policy at all: the helper refuses
    // every request until root fixes it (checked against the real binary in helper_sandbox).
    for bad in [
        "act_for: [alice",
        "act_for:\n  alice: [root]\n",
        "act_for:\n  root: [bob]\n",
        "act_for:\n  alice: [bob]\nextra: 1\n",
    ] {
        assert!(policy::from_texts(Some(bad), "").is_err(), "{bad}");
    }
    assert!(authorize(&alice(), &subids_for("alice"), &none).is_ok());
    // With root's line, alice may prepare bob's account, and only bob's.
    let ops = policy_from("act_for:\n  alice: [bob]\n");
    assert!(authorize(&alice(), &subids_for("bob"), &ops).is_ok());
    assert!(authorize(&alice(), &subids_for("carol"), &ops).is_err());
}

#[test]
fn the_invoker_comes_only_from_root_and_a_real_sudo_uid() {
    assert!(authorize::invoker(1000, Some("1000")).is_err());
    assert!(authorize::invoker(1000, None).is_err());
    for bad in [
        "",
        "x",
        "-1",
        "+1000",
        " 1000",
        "1000 ",
        "0x3e8",
        "1e3",
        "99999999999",
        "4294967296",
    ] {
        assert!(authorize::invoker(0, Some(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn the_helper_refuses_another_users_subids() {
    if !is_root() {
        return skipped("binary-level authorization refusals");
    }
    let (uid, name) = nobody();
    let uid = uid.to_string();
    let invoker = authorize::invoker(0, Some(&uid)).unwrap();
    assert_eq!(
        invoker,
        Invoker::User {
            uid: uid.parse().unwrap(),
            name: name.clone()
        }
    );
    let subuid = fs::read_to_string("/etc/subuid").ok();
    let subgid = fs::read_to_string("/etc/subgid").ok();
    for req in [
        json!({"verb": "set_subids", "user": "bob", "start": 200000, "count": 65536, "uids": true, "gids": true}),
        json!({"verb": "set_subids", "user": "daemon", "start": 300000, "count": 65536, "uids": true, "gids": false}),
        json!({"verb": "enable_linger", "user": "bob"}),
        json!({"verb": "restart_user_manager", "user": "daemon"}),
        json!({"verb": "create_user", "user": name}),
    ] {
        assert_helper_refuses(&j(req), Some(&uid), &[], &format!("{name} may not"));
    }
    // A SUDO_UID that is not a uid with an account refuses before the request is read.
    let bob = j(json!({"verb": "enable_linger", "user": "bob"}));
    assert_helper_refuses(&bob, Some("x"), &[], "not a uid");
    // A sign is not part of a uid: "+65534" must not pass for nobody.
    assert_helper_refuses(&bob, Some(&format!("+{uid}")), &[], "not a uid");
    assert_helper_refuses(&bob, Some("4000000000"), &[], "no account");
    assert_eq!(subuid, fs::read_to_string("/etc/subuid").ok());
    assert_eq!(subgid, fs::read_to_string("/etc/subgid").ok());
}

// ---- validation -----------------------------------------------------------------------------

#[test]
fn sysctls_outside_the_allow_list_are_refused() {
    let ip_forward = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok();
    for key in [
        "../../../etc/passwd",
        "net.ipv4/../../kernel/core_pattern",
        "net.ipv4.ip_forward/../../../kernel/core_pattern",
        "net/ipv4/ip_forward",
        "net.ipv4..ip_forward",
        "kernel.core_pattern",
        "kernel.modprobe",
        "fs.suid_dumpable",
        "NET.IPV4.IP_FORWARD",
        " net.ipv4.ip_forward",
        "net.ipv4.ip_forward\n",
    ] {
        let body = j(json!({"verb": "set_sysctl", "key": key, "value": "1"}));
        assert_refused(&body, "allow-list");
        let body = j(
            json!({"verb": "persist_sysctls", "settings": {key: "1", "net.ipv4.ip_forward": "1"}}),
        );
        assert_refused(&body, "allow-list");
    }
    for value in [
        "",
        "1\nkernel.core_pattern=|/bin/sh",
        "|/bin/sh",
        "1 2 3",
        "--1",
        "-",
        "1 ",
        "١",
        "99999999999999999999",
        // In the shape of an integer, but outside what the key takes.
        "2",
        "-1",
        "0 1",
    ] {
        let body = j(json!({"verb": "set_sysctl", "key": "net.ipv4.ip_forward", "value": value}));
        assert_refused(&body, "takes 0 or 1");
    }
    for (key, value) in [
        ("net.ipv4.ip_unprivileged_port_start", "65536"),
        ("net.ipv4.ip_unprivileged_port_start", "-1"),
        ("net.ipv4.ping_group_range", "5 1"),
        ("net.ipv4.ping_group_range", "0 2147483648"),
        ("net.ipv4.ping_group_range", "0"),
        ("vm.max_map_count", "0"),
        ("user.max_user_namespaces", "2147483648"),
    ] {
        let body = j(json!({"verb": "set_sysctl", "key": key, "value": value}));
        assert_refused(&body, "takes");
        let body = j(json!({"verb": "persist_sysctls", "settings": {key: value}}));
        assert_refused(&body, "takes");
    }
    assert_refused(
        j(json!({"verb": "persist_sysctls", "settings": {}})),
        "at least one",
    );
    assert_eq!(
        ip_forward,
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok()
    );
}

#[test]
fn package_manager_options_are_refused() {
    for names in [
        vec!["-oAPT::Update::Pre-Invoke::=sh"],
        vec!["uidmap", "-oAPT::Update::Pre-Invoke::=sh"],
        vec!["--allow-unauthenticated"],
        vec!["./evil.deb"],
        vec!["/tmp/evil.deb"],
        vec!["uidmap;sh"],
        vec!["uidmap sh"],
        vec!["vim"],
        vec!["Uidmap"],
    ] {
        assert_refused(
            j(json!({"verb": "install_packages", "names": names})),
            "allow-list",
        );
    }
    assert_refused(
        j(json!({"verb": "install_packages", "names": []})),
        "between one",
    );
    let too_many = vec!["uidmap"; allow::PACKAGES.len() + 1];
    assert_refused(
        j(json!({"verb": "install_packages", "names": too_many})),
        "between one",
    );
}

#[test]
fn module_names_that_are_options_or_paths_are_refused() {
    for name in [
        "-r",
        "--remove",
        "../x",
        "/tmp/evil.ko",
        "tun -r",
        "tun\n",
        "ext4",
        "",
    ] {
        assert_refused(
            j(json!({"verb": "load_module", "name": name})),
            "allow-list",
        );
        assert_refused(
            j(json!({"verb": "persist_modules", "names": ["tun", name]})),
            "allow-list",
        );
    }
    assert_refused(
        j(json!({"verb": "persist_modules", "names": []})),
        "between one",
    );
}

#[test]
fn subid_ranges_out_of_bounds_are_refused() {
    let subuid = fs::read_to_string("/etc/subuid").ok();
    let req = |start: u64, count: u64| {
        j(
            json!({"verb": "set_subids", "user": "bob", "start": start, "count": count, "uids": true, "gids": true}),
        )
    };
    for count in [0, 1, 65_535] {
        assert_refused(req(200_000, count), "outside");
    }
    for count in [(1 << 24) + 1, 1 << 31, u32::MAX as u64] {
        assert_refused(req(200_000, count), "outside");
    }
    // start + count overflows u32: ids would wrap around to 0 (root).
    assert_refused(req(u32::MAX as u64 - 1000, 65_536), "overflows");
    assert_refused(req(u32::MAX as u64, 1 << 24), "overflows");
    assert_refused(req((1u64 << 32) - (1 << 24), 1 << 24), "overflows");
    for start in [0, 1, 1000, 65_534, 99_999] {
        assert_refused(req(start, 65_536), "below");
    }
    assert_refused(
        j(
            json!({"verb": "set_subids", "user": "bob", "start": 200000, "count": 65536, "uids": false, "gids": false}),
        ),
        "uids, gids or both",
    );
    for user in ["root", "../bob", "-obob", "Bob", "bob\n", "", "b\u{0}"] {
        assert_refused(
            j(
                json!({"verb": "set_subids", "user": user, "start": 200000, "count": 65536, "uids": true, "gids": true}),
            ),
            "user name",
        );
    }
    assert_eq!(subuid, fs::read_to_string("/etc/subuid").ok());
}

#[test]
fn install_k3s_outside_its_bounds_is_refused() {
    let sha = "a".repeat(64);
    let version = "v1.33.6+k3s1";
    let req = |version: &str, sha256: &str, size: u64, path: &str| {
        j(json!({
            "verb": "install_k3s", "version": version, "sha256": sha256, "size": size,
            "install_path": path,
        }))
    };
    // The helper never opens a file a caller names: the bytes come on stdin, and a `source`
    // path (which root used to open and install) is refused as an unknown field.
    for source in [
        "/tmp/k3s",
        "/home/mallory/evil",
        "/etc/shadow",
        "/dev/zero",
        "k3s",
    ] {
        assert_refused(
            j(json!({
                "verb": "install_k3s", "source": source, "version": version, "sha256": sha,
                "size": 1, "install_path": "/usr/local/bin/k3s",
            })),
            "unknown field",
        );
    }
    for bad in [
        "",
        "latest",
        "stable",
        "1.33.6+k3s1",
        "v1.33.6",
        "v1.33+k3s1",
        "v1.33.6+k3s1\n",
        "v1.33.6+k3s1;sh",
        "v1.33.6+k3s1/../../x",
        "V1.33.6+K3S1",
    ] {
        assert_refused(
            req(bad, &sha, 1, "/usr/local/bin/k3s"),
            "not a k3s release tag",
        );
    }
    let upper = "A".repeat(64);
    let long = "a".repeat(65);
    let nonhex = format!("{}g", "a".repeat(63));
    for sha256 in ["", "abc", &upper, &long, &nonhex] {
        assert_refused(req(version, sha256, 1, "/usr/local/bin/k3s"), "sha256");
    }
    // No empty binary, none larger than the helper ever accepts (the real one is ~70 MB).
    for size in [0, MAX_K3S_BYTES + 1, u64::MAX] {
        assert_refused(req(version, &sha, size, "/usr/local/bin/k3s"), "size");
    }
    for path in [
        "/etc/passwd",
        "/usr/local/bin/../../etc/x",
        "/usr/local/bin/",
        "/usr/local/bin//k3s",
        "/usr/local/bin/./k3s",
        "/usr/local/bin/sub/k3s",
        "usr/local/bin/k3s",
        "/usr/local/bin/k3s\n",
        "/home/bob/k3s",
        // Programs root runs, or setuid ones.
        "/usr/bin/passwd",
        "/usr/bin/sudo",
        "/usr/bin/systemctl",
        "/usr/local/bin/k3s-uninstall.sh",
        "/usr/local/bin/k3s-",
        "/usr/local/bin/.k3s.previous",
    ] {
        assert_refused(req(version, &sha, 1, path), "not an allowed k3s path");
        assert_refused(
            j(json!({"verb": "install_apparmor_profile", "binary": path})),
            "not an allowed k3s path",
        );
    }
}

// ---- secure_fs ------------------------------------------------------------------------------

/// A directory under /root: root-owned and private, so that secure_fs trusts it.
fn trusted_dir() -> Option<tempfile::TempDir> {
    if !is_root() {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("groundwork-secure-fs-")
        .tempdir_in("/root")
        .expect("a temp dir under /root");
    secure_fs::check_trusted_dir(dir.path()).expect("a root-owned 0700 dir under /root is trusted");
    Some(dir)
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn replace_refuses_a_symlink_target() {
    let Some(dir) = trusted_dir() else {
        return skipped("secure_fs symlink refusal (needs a root-owned trusted directory)");
    };
    let victim = dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let link = dir.path().join("link");
    symlink(&victim, &link).unwrap();
    let err = secure_fs::replace(&link, b"evil\n", 0o644).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!dir.path().join("link-").exists(), "no backup either");
    // A dangling link (which a write would create) is refused too.
    let dangling = dir.path().join("dangling");
    symlink(dir.path().join("created"), &dangling).unwrap();
    assert!(secure_fs::replace(&dangling, b"evil\n", 0o644).is_err());
    assert!(!dir.path().join("created").exists());
}

#[test]
fn replace_refuses_untrusted_directories() {
    // /tmp is world-writable (sticky or not): refused even for a root-owned 0700 dir inside it.
    let tmp = tempfile::tempdir_in("/tmp").unwrap();
    let target = tmp.path().join("file");
    let err = secure_fs::replace(&target, b"x", 0o644).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    assert!(!target.exists());
    assert!(secure_fs::check_trusted_dir(Path::new("/tmp")).is_err());

    let Some(dir) = trusted_dir() else {
        return skipped("secure_fs refusal of group-writable, foreign-owned and linked dirs");
    };
    let group_writable = dir.path().join("gw");
    fs::create_dir(&group_writable).unwrap();
    fs::set_permissions(&group_writable, fs::Permissions::from_mode(0o775)).unwrap();
    assert!(secure_fs::replace(&group_writable.join("f"), b"x", 0o644).is_err());
    assert!(!group_writable.join("f").exists());

    let (nobody_uid, _) = nobody();
    let foreign = dir.path().join("foreign");
    fs::create_dir(&foreign).unwrap();
    nix::unistd::chown(&foreign, Some(nobody_uid.into()), None).unwrap();
    assert!(secure_fs::replace(&foreign.join("f"), b"x", 0o644).is_err());
    assert!(!foreign.join("f").exists());

    // A root-owned link to a directory others can write is no safer than that directory.
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let via = dir.path().join("via");
    symlink(&open, &via).unwrap();
    assert!(secure_fs::replace(&via.join("f"), b"x", 0o644).is_err());
    assert!(!open.join("f").exists());
    let via_foreign = dir.path().join("via-foreign");
    symlink(&foreign, &via_foreign).unwrap();
    assert!(secure_fs::replace(&via_foreign.join("f"), b"x", 0o644).is_err());
}

#[test]
fn replace_keeps_a_backup_and_writes_a_fixed_mode() {
    let Some(dir) = trusted_dir() else {
        return skipped("secure_fs backup on replace");
    };
    let file = dir.path().join("conf");
    let backup = dir.path().join("conf-");

    assert!(secure_fs::replace(&file, b"one\n", 0o644).unwrap());
    assert_eq!(fs::read_to_string(&file).unwrap(), "one\n");
    assert_eq!(mode(&file), 0o644);
    assert!(!backup.exists(), "a new file has nothing to back up");

    // The file gets the mode asked for, whatever the old one had: a setuid bit (or any mode
    // someone set) never survives a rewrite, and the backup is never executable.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o4755)).unwrap();
    assert!(secure_fs::replace(&file, b"two\n", 0o644).unwrap());
    assert_eq!(fs::read_to_string(&file).unwrap(), "two\n");
    assert_eq!(fs::read_to_string(&backup).unwrap(), "one\n");
    assert_eq!(mode(&file), 0o644, "the asked mode, not the old 4755");
    assert_eq!(mode(&backup) & 0o7111, 0, "backup mode {:o}", mode(&backup));
    let meta = fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));

    assert!(
        !secure_fs::replace(&file, b"two\n", 0o644).unwrap(),
        "idempotent"
    );
    assert_eq!(fs::read_to_string(&backup).unwrap(), "one\n");

    // Same content, wrong mode: a change, and the mode is put right.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
    assert!(secure_fs::replace(&file, b"two\n", 0o644).unwrap());
    assert_eq!(mode(&file), 0o644);

    // A backup name planted as a link is replaced, never written through.
    let victim = dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    fs::remove_file(&backup).unwrap();
    symlink(&victim, &backup).unwrap();
    assert!(secure_fs::replace(&file, b"three\n", 0o644).unwrap());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(fs::symlink_metadata(&backup).unwrap().is_file());
    assert_eq!(fs::read_to_string(&backup).unwrap(), "two\n");

    // No temp files are left behind.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["conf", "conf-", "victim"]);
}

/// The real helper for an invoker (uid 65534), waiting for its request on stdin: asleep, with
/// its signals set up. `exec` is how a shell starts it (`exec`, or `exec nice -n 19`...).
fn waiting_helper(exec: &str) -> (std::process::Child, nix::unistd::Pid) {
    let child = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            &format!("{exec} \"$0\""),
            env!("CARGO_BIN_EXE_groundwork-helper"),
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SUDO_UID", "65534")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the helper runs");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let comm = || fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (comm().trim() != "groundwork-help" || process_state(pid) != Some('S'))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, pid)
}

/// A process's state letter from /proc: it follows the command name's closing parenthesis.
fn process_state(pid: nix::unistd::Pid) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

/// Found in review: the helper reset every signal to its default, so the terminal's stop
/// signals (which sudo passes on from the invoker) stopped it, also while it held shadow's lock.
/// It now ignores them: sent SIGTSTP while it waits for its request, it keeps running.
#[test]
fn the_invoker_cannot_stop_the_helper() {
    if !is_root() {
        skipped("the helper's signal dispositions");
        return;
    }
    let (mut child, pid) = waiting_helper("exec");
    for sig in [
        nix::sys::signal::Signal::SIGTSTP,
        nix::sys::signal::Signal::SIGTTIN,
        nix::sys::signal::Signal::SIGTTOU,
    ] {
        nix::sys::signal::kill(pid, sig).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let seen = process_state(pid);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, Some('S'), "the helper's state after the stop signals");
}

/// Found in review: sudo relays the invoker's SIGTERM, SIGINT, SIGHUP (and the rest) to the
/// helper, which ended at once, also between a change and its syslog line: an invoker could make
/// changes nobody logged. The helper now holds those signals until it exits: sent all of them
/// while it waits for its request, it still reads the request, answers and exits with its code.
#[test]
fn the_invoker_cannot_end_the_helper_before_it_logs() {
    if !is_root() {
        skipped("the helper's signal mask");
        return;
    }
    use nix::sys::signal::Signal;
    let (mut child, pid) = waiting_helper("exec");
    for sig in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
    ] {
        nix::sys::signal::kill(pid, sig).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    // A request that is refused: it changes nothing, and it is logged and answered.
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"{\"verb\":\"no_such_verb\"}\n");
    drop(stdin);
    let out = child.wait_with_output().expect("the helper is waited for");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(EXIT_REFUSED),
        "the helper's exit ({:?}), stdout {stdout:?}",
        out.status
    );
    let resp: Response = serde_json::from_str(stdout.trim_end()).expect("one JSON reply");
    assert_eq!(resp.kind, Kind::Refused, "{resp:?}");
}

/// Found in review: the caller's nice value, scheduling class, I/O class and OOM score passed
/// through sudo, so the helper could be made to hold shadow's lock at the lowest priority, or be
/// the kernel's first OOM victim. Started at nice 19, SCHED_IDLE, the idle I/O class and an OOM
/// score of 1000, it waits for its request with all of them back at the defaults.
#[test]
fn the_invoker_cannot_slow_the_helper_down() {
    if !is_root() {
        skipped("the helper's scheduling");
        return;
    }
    let (mut child, pid) = waiting_helper(
        "echo 1000 >/proc/self/oom_score_adj && exec nice -n 19 chrt -i 0 ionice -c 3",
    );
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    // After the command name: state is field 3, so nice (19) is [16], policy (41) is [38].
    let (nice, policy) = (fields.get(16).copied(), fields.get(38).copied());
    let oom = fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap_or_default();
    let io = std::process::Command::new("ionice")
        .args(["-p", &pid.to_string()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(nice, Some("0"), "nice: {stat}");
    assert_eq!(policy, Some("0"), "policy (0 is SCHED_OTHER): {stat}");
    assert_eq!(oom.trim(), "0", "oom_score_adj");
    assert!(!io.starts_with("idle"), "I/O class: {io}");
}

/// Found in review: started from a cgroup its caller owns (`systemd-run --user --scope sudo ...`),
/// the helper could be frozen (`cgroup.freeze`) while it held shadow's lock, keeping every
/// useradd and passwd on the host waiting, or killed (`cgroup.kill`) between a change and its
/// log line. It now refuses to work there. The cgroup is a real one of the unified hierarchy,
/// made for the test and given to uid 65534.
#[test]
fn the_helper_refuses_to_run_in_a_cgroup_its_caller_owns() {
    if !is_root() {
        skipped("the helper in a cgroup its caller owns");
        return;
    }
    use groundwork::privileged::hardening::{cgroup2_mount, unified_cgroup};
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let Some(mount) = cgroup2_mount(&mountinfo) else {
        skipped("the helper in a cgroup its caller owns (no cgroup2 mount here)");
        return;
    };
    let own = unified_cgroup(&fs::read_to_string("/proc/self/cgroup").unwrap())
        .unwrap_or_else(|| "/".into());
    // A child of the test's own cgroup, which it may create and leave in.
    let cgroup = Path::new(&mount)
        .join(own.trim_start_matches('/'))
        .join(format!("gw-helper-test-{}", std::process::id()));
    fs::create_dir(&cgroup).expect("a cgroup for the test");
    std::os::unix::fs::chown(&cgroup, Some(65534), None).unwrap();
    let out = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            "echo $$ >\"$1/cgroup.procs\" && exec \"$0\"",
            env!("CARGO_BIN_EXE_groundwork-helper"),
            &cgroup.to_string_lossy(),
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SUDO_UID", "65534")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the helper runs");
    let removed = fs::remove_dir(&cgroup);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(EXIT_REFUSED), "{stdout}");
    let resp: Response = serde_json::from_str(stdout.trim_end()).expect("one JSON reply");
    assert_eq!(resp.kind, Kind::Refused, "{resp:?}");
    assert!(resp.msg.contains("uid 65534 owns"), "{}", resp.msg);
    removed.expect("the test's cgroup is removed");
}
