//! The rootless smoke test, which needs no k3s: as the target user, prove a user namespace
//! mapped onto the subordinate ranges, user-mode networking, the fuse and tun devices, and cgroup
//! v2 delegation with limits that really apply.

use super::bounded;
use super::check::Check;
use crate::host::session::{Account, command_as};
use crate::subid_ranges::SubidFile;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Child;

/// A check's process, started as the user in a session (and process group) of its own
/// (`command_as`).
pub(super) fn spawn_in_group(
    account: &Account,
    program: &str,
    args: &[&str],
    stdout: bool,
) -> Result<Child, String> {
    let mut cmd = command_as(account, program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(if stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))
}

/// Runs a short check as the user and returns its stdout. The process runs in its own process
/// group, which is killed once it exits or after 30 s: util-linux's `unshare --map-auto` leaves
/// its id-mapping child blocked, holding the output pipes, when unshare(2) itself fails (for
/// example with user.max_user_namespaces=0), and reading to EOF would then wait forever.
pub(super) async fn output_as(
    account: &Account,
    program: &str,
    args: &[&str],
) -> Result<String, String> {
    let mut child = spawn_in_group(account, program, args, true)?;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    kill_group(&child);
    let status = match status {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("waiting for {program}: {e}")),
        Err(_) => {
            let _ = child.wait().await;
            return Err(format!(
                "{program} {} did not finish within 30 s",
                args.join(" ")
            ));
        }
    };
    let stdout = bounded::drain(child.stdout.as_mut()).await;
    let stderr = bounded::drain(child.stderr.as_mut()).await;
    if status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{program} {} failed ({status}): {}",
            args.join(" "),
            stderr.trim()
        ))
    }
}

/// SIGKILL to the process group a check's process leads (`command_as` starts it in a session of
/// its own).
fn kill_group(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Kills a helper process, and whatever it started, on every path out of a check.
pub(super) struct Reaped {
    pub(super) child: Child,
    pub(super) pid: u32,
}

impl Reaped {
    /// Stops the process and returns what it wrote to stderr: the evidence of a failed check.
    pub(super) async fn stop(mut self) -> String {
        kill_group(&self.child);
        let _ = self.child.wait().await;
        let text = bounded::drain(self.child.stderr.as_mut()).await;
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.start_kill();
    }
}

pub(super) fn spawn_as(account: &Account, program: &str, args: &[&str]) -> Result<Reaped, String> {
    let child = spawn_in_group(account, program, args, false)?;
    let pid = child
        .id()
        .ok_or_else(|| format!("{program} exited at once"))?;
    Ok(Reaped { child, pid })
}

/// Checks `f` every 100 ms until it answers or `timeout` passes; cancellable.
pub(super) async fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if started.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `inside outside count` lines of /proc/PID/uid_map.
pub fn parse_id_map(text: &str) -> Vec<(u64, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let n: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (n.len() == 3).then(|| (n[0], n[1], n[2]))
        })
        .collect()
}

/// The user's own ranges in a subordinate-id file, as (start, count), in file order.
fn own_ranges(file: &SubidFile, target: &Account) -> Vec<(u64, u64)> {
    file.owned_by(&target.name, Some(target.uid))
        .map(|e| (u64::from(e.start), u64::from(e.count)))
        .collect()
}

/// The map rootlesskit asks newuidmap/newgidmap for: the user's own id as 0, then every
/// subordinate range back to back from 1, as `inside outside count` triples.
pub fn rootless_map(own_id: u32, ranges: &[(u64, u64)]) -> Vec<(u64, u64, u64)> {
    let mut map = vec![(0, u64::from(own_id), 1)];
    let mut next = 1;
    for &(start, count) in ranges {
        map.push((next, start, count));
        next += count;
    }
    map
}

/// Maps a fresh user namespace onto every subordinate range the user has at once, through
/// newuidmap and newgidmap, as rootlesskit does when k3s starts. A check that maps only the
/// first range (`unshare --map-auto`) passes where k3s fails: with two ranges that overlap, for
/// one, the kernel refuses the whole map ("write to uid_map failed: Invalid argument").
pub async fn user_namespace(target: &Account, subuid: &SubidFile, subgid: &SubidFile) -> Check {
    let name = "user namespace mapped onto subordinate ids";
    let (uids, gids) = (own_ranges(subuid, target), own_ranges(subgid, target));
    for (ranges, file, kind) in [(&uids, subuid, "subuid"), (&gids, subgid, "subgid")] {
        if ranges.is_empty() {
            return Check::fail(
                name,
                format!(
                    "no {kind} ranges found for {} in {}",
                    target.name, file.path
                ),
            );
        }
    }
    // A process in a new user namespace, unmapped, that waits to be mapped.
    let mut ns = match spawn_as(
        target,
        "/usr/bin/unshare",
        &["--user", "--", "/bin/sleep", "60"],
    ) {
        Ok(c) => c,
        Err(e) => return Check::fail(name, e),
    };
    let pid = ns.pid.to_string();
    let own_ns = std::fs::read_link("/proc/self/ns/user").ok();
    let started = Instant::now();
    loop {
        if let Ok(Some(_)) = ns.child.try_wait() {
            return Check::fail(name, format!("unshare exited: {}", ns.stop().await));
        }
        if std::fs::read_link(format!("/proc/{pid}/ns/user")).ok() != own_ns {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Check::fail(name, "the user namespace did not appear within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut text = Vec::new();
    for (tool, own_id, ranges, file) in [
        ("/usr/bin/newuidmap", target.uid, &uids, "uid_map"),
        ("/usr/bin/newgidmap", target.gid, &gids, "gid_map"),
    ] {
        let wanted = rootless_map(own_id, ranges);
        let mut args = vec![pid.clone()];
        for (inside, outside, count) in &wanted {
            args.extend([inside.to_string(), outside.to_string(), count.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Err(e) = output_as(target, tool, &args).await {
            return Check::fail(
                name,
                format!(
                    "the kernel or {tool} refused to map all of {}'s ranges at once, as k3s does: {e}",
                    target.name
                ),
            );
        }
        let got = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
        // The kernel sorts a map of more than five lines: compare them as sets.
        let (mut got, mut wanted) = (parse_id_map(&got), wanted);
        got.sort_unstable();
        wanted.sort_unstable();
        if got != wanted {
            return Check::fail(
                name,
                format!("{file} is {got:?} after {tool}, not {wanted:?}"),
            );
        }
        text.push(format!(
            "{file}: {}",
            got.iter()
                .map(|(i, o, c)| format!("{i} {o} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    drop(ns);
    Check::pass(name, text.join(" / "))
}

pub async fn network(target: &Account) -> Check {
    let name = "user-mode networking (slirp4netns tap0)";
    let ns = match spawn_as(
        target,
        "/usr/bin/unshare",
        &[
            "--user",
            "--map-root-user",
            "--net",
            "--",
            "/bin/sleep",
            "60",
        ],
    ) {
        Ok(c) => c,
        Err(e) => return Check::fail(name, e),
    };
    let pid = ns.pid.to_string();
    // unshare execs sleep in the same process once the namespaces exist.
    if poll(Duration::from_secs(10), || {
        std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .ok()
            .filter(|l| std::fs::read_link("/proc/self/ns/net").ok().as_ref() != Some(l))
    })
    .await
    .is_none()
    {
        return Check::fail(name, "the network namespace did not appear".into());
    }
    let slirp = match spawn_as(
        target,
        "/usr/bin/slirp4netns",
        &[
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            &pid,
            "tap0",
        ],
    ) {
        Ok(c) => c,
        Err(e) => return Check::fail(name, e),
    };
    let up = poll(Duration::from_secs(15), || {
        let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
        let route = std::fs::read_to_string(format!("/proc/{pid}/net/route")).ok()?;
        (dev.contains("tap0:") && route.lines().any(|l| l.starts_with("tap0"))).then_some(())
    })
    .await;
    let said = slirp.stop().await;
    drop(ns);
    match up {
        Some(()) => Check::pass(
            name,
            "tap0 came up with a route inside the namespace".into(),
        ),
        None => Check::fail(
            name,
            format!(
                "tap0 did not come up within 15 s; slirp4netns said: {}",
                if said.is_empty() { "nothing" } else { &said }
            ),
        ),
    }
}

/// What is wrong with a device node the user could not open for reading and writing, from
/// its inode (readable by anyone): missing, not a character device, or its mode and owner.
pub fn device_problem(dev: &str, meta: Option<&std::fs::Metadata>, user: &str) -> String {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    match meta {
        None => {
            format!("{dev} does not exist (its module is not loaded, and nothing created the node)")
        }
        Some(m) if !m.file_type().is_char_device() => {
            format!("{dev} is not a character device")
        }
        Some(m) => format!(
            "{dev} exists, but {user} cannot read and write it (mode {:04o}, owner uid {}, group gid {}): the kernel has the driver; make the node 0666 as Debian's udev rules do",
            m.mode() & 0o7777,
            m.uid(),
            m.gid()
        ),
    }
}

pub async fn devices(target: &Account) -> Check {
    let name = "fuse and tun devices usable";
    let mut problems = Vec::new();
    for dev in ["/dev/fuse", "/dev/net/tun"] {
        if output_as(
            target,
            "/usr/bin/test",
            &["-c", dev, "-a", "-r", dev, "-a", "-w", dev],
        )
        .await
        .is_err()
        {
            let meta = std::fs::metadata(dev).ok();
            problems.push(device_problem(dev, meta.as_ref(), &target.name));
        }
    }
    if problems.is_empty() {
        Check::pass(
            name,
            "/dev/fuse and /dev/net/tun are character devices the user can read and write".into(),
        )
    } else {
        Check::fail(name, problems.join("; "))
    }
}

pub async fn delegation(target: &Account, controllers: &[String]) -> Check {
    let name = "cgroup v2 delegation applies limits";
    let base = format!(
        "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service",
        uid = target.uid
    );
    // systemd delegates some controllers to user managers by default (Debian 12: cpu memory
    // pids), so limits that apply prove little alone: every controller of the spec must be there.
    // The service's cgroup exists while the manager runs: without it every controller would
    // look undelegated, and the diagnosis would name the wrong cause.
    let Ok(available) = std::fs::read_to_string(format!("{base}/cgroup.controllers")) else {
        return Check::fail(
            name,
            format!(
                "{base} does not exist: user@{}.service, the user's systemd manager, is not running",
                target.uid
            ),
        );
    };
    let missing: Vec<&str> = controllers
        .iter()
        .map(String::as_str)
        .filter(|c| !available.split_whitespace().any(|a| a == *c))
        .collect();
    if !missing.is_empty() {
        return Check::fail(
            name,
            format!(
                "controllers not delegated to the user manager user@{}.service: {} (it has: {})",
                target.uid,
                missing.join(" "),
                available.trim()
            ),
        );
    }
    let unit = format!("groundwork-verify-{}.scope", std::process::id());
    let with_cpuset = controllers.iter().any(|c| c == "cpuset");
    let mut args = vec![
        "--user".to_string(),
        "--scope".into(),
        "--quiet".into(),
        format!("--unit={unit}"),
    ];
    for property in ["MemoryMax=64M", "CPUQuota=50%", "TasksMax=50"]
        .into_iter()
        .chain(with_cpuset.then_some("AllowedCPUs=0"))
    {
        args.extend(["-p".to_string(), property.to_string()]);
    }
    args.extend(["--", "/bin/sleep", "60"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut scope = match spawn_as(target, "/usr/bin/systemd-run", &args) {
        Ok(c) => c,
        Err(e) => return Check::fail(name, e),
    };
    // Some(None): systemd-run exited without creating the scope, as it does at once when it
    // cannot reach the user manager.
    let dir = poll(Duration::from_secs(20), || {
        let found = [format!("{base}/app.slice/{unit}"), format!("{base}/{unit}")]
            .into_iter()
            .find(|d| std::path::Path::new(&format!("{d}/cgroup.procs")).exists());
        match found {
            Some(d) => Some(Some(d)),
            None => matches!(scope.child.try_wait(), Ok(Some(_))).then_some(None),
        }
    })
    .await
    .flatten();
    let Some(dir) = dir else {
        // Its stderr is the evidence the diagnosis reads ("Failed to connect to bus: ...").
        let said = scope.stop().await;
        return Check::fail(
            name,
            format!(
                "systemd-run --user --scope did not create {unit}; systemd-run said: {}",
                if said.is_empty() { "nothing" } else { &said }
            ),
        );
    };
    let read = |f: &str| {
        std::fs::read_to_string(format!("{dir}/{f}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "missing".into())
    };
    // The scope's cgroup appears before systemd has written every limit into it: wait for them.
    let mut want = vec![
        ("memory.max", "67108864"),
        ("cpu.max", "50000 100000"),
        ("pids.max", "50"),
    ];
    if with_cpuset {
        want.push(("cpuset.cpus", "0"));
    }
    let mut seen = Vec::new();
    let settled = poll(Duration::from_secs(10), || {
        seen = want.iter().map(|(f, _)| read(f)).collect();
        want.iter()
            .zip(&seen)
            .all(|((_, w), s)| w == s)
            .then_some(())
    })
    .await;
    drop(scope);
    let show = |values: &mut dyn Iterator<Item = (&str, &str)>| {
        values
            .map(|(f, v)| format!("{f}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let got = show(&mut want.iter().zip(&seen).map(|((f, _), s)| (*f, s.as_str())));
    if settled.is_some() {
        Check::pass(name, format!("{unit}: {got}"))
    } else {
        let expected = show(&mut want.iter().copied());
        Check::fail(
            name,
            format!(
                "{unit}: {got}; expected {expected} (controllers not delegated to the user manager?)"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue #13: both nodes existed (built in, mode 0600) and the check said "load the modules".
    #[test]
    fn a_device_that_exists_is_described_by_its_mode_not_as_missing() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("not-a-device");
        std::fs::write(&file, "").expect("a file");
        let meta = std::fs::metadata(&file).expect("its inode");
        assert_eq!(
            device_problem("/dev/x", Some(&meta), "k3s"),
            "/dev/x is not a character device"
        );
        assert!(device_problem("/dev/net/tun", None, "k3s").contains("does not exist"));
        if let Ok(null) = std::fs::metadata("/dev/null") {
            let text = device_problem("/dev/null", Some(&null), "k3s");
            assert!(
                text.contains("exists, but k3s cannot read and write it (mode 0666"),
                "{text}"
            );
            assert!(!text.contains("load"), "{text}");
        }
    }

    #[test]
    fn maps_every_range_back_to_back_after_the_users_own_id() {
        assert_eq!(
            rootless_map(1000, &[(100000, 65536), (300000, 1000)]),
            vec![(0, 1000, 1), (1, 100000, 65536), (65537, 300000, 1000)]
        );
    }

    #[test]
    fn parses_id_maps() {
        assert_eq!(
            parse_id_map("         0       1000          1\n         1     100000      65536\n"),
            vec![(0, 1000, 1), (1, 100000, 65536)]
        );
    }
}
