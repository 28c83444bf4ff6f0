//! verify's network stage, before the cluster stage, as the target user: every port of
//! `network.ports` exposed from inside a user and network namespace to the host through the
//! port driver k3s will use, a connection to each from the host (made as another user when
//! verify runs as root), the client's address as the listener inside saw it, and the
//! throughput of that path beside the host's own loopback, measured the same way.
//!
//! slirp4netns: the namespace and slirp4netns are started as k3s's RootlessKit starts them
//! (`--configure --mtu --cidr --disable-host-loopback --api-socket`), and each port is
//! forwarded with the API's `add_hostfwd`, as RootlessKit's slirp4netns port driver does.
//! builtin: that driver lives inside k3s (its embedded RootlessKit); verify starts no other
//! copy, since Debian's rootlesskit is another release whose builtin driver passes the
//! client's address differently. The cluster stage proves it on the API port instead.

use super::bounded;
use super::check::Check;
use super::ports::{self, Probe};
use super::smoke::{Reaped, output_as, poll, spawn_in_group};
use crate::host::session::{Account, UNIT_NAME};
use crate::spec::{PortDriver, Spec};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::BufReader;

/// A short probe: enough to see the address and that data flows.
const SHORT_BYTES: u64 = 64 * 1024;

/// `k3s_running`: the unit's cgroup has processes, so k3s's own port driver exposes (or is about
/// to expose) the API port: the stage must not take that port from it, even for a moment.
pub async fn stage(target: &Account, spec: &Spec, k3s_running: bool) -> Vec<Check> {
    match std::env::current_exe() {
        Ok(p) => stage_with(target, spec, &p.to_string_lossy(), k3s_running).await,
        Err(e) => vec![Check::fail(
            "network stage",
            format!("cannot find groundwork's own binary to run the listener: {e}"),
        )],
    }
}

/// The stage with `exe` as the groundwork binary that serves `net-probe` (tests name theirs).
pub async fn stage_with(target: &Account, spec: &Spec, exe: &str, k3s_running: bool) -> Vec<Check> {
    let exe = exe.to_string();
    let mut ports = spec.network.ports.clone();
    ports.sort_unstable();
    ports.dedup();
    // The host's loopback, measured the same way, as the figure to compare with.
    let loopback = match baseline(target, &exe).await {
        Ok(p) => p,
        Err(e) => return vec![Check::fail("throughput of the host's loopback", e)],
    };
    match spec.network.driver() {
        PortDriver::Builtin => vec![Check::pass(
            "host ports through the builtin port driver",
            format!(
                "k3s's builtin driver runs inside k3s; verify starts no other copy of it, and the cluster stage connects to the API port from the host instead (the host's loopback: {:.0} MB/s)",
                loopback.mb_per_s()
            ),
        )],
        PortDriver::Slirp4netns => {
            slirp4netns(target, spec, &exe, &ports, k3s_running, &loopback).await
        }
    }
}

/// Starts `groundwork net-probe listen PORTS` as the user, possibly inside namespaces (`prefix`),
/// and waits for its `listening` line.
async fn listener(
    target: &Account,
    program: &str,
    args: &[&str],
) -> Result<(Reaped, Vec<u16>), String> {
    let mut child = spawn_in_group(target, program, args, true)?;
    let pid = child
        .id()
        .ok_or_else(|| format!("{program} exited at once"))?;
    let stdout = child.stdout.take();
    let reaped = Reaped { child, pid };
    let mut line = String::new();
    if let Some(out) = stdout {
        let mut reader = BufReader::new(out);
        let read = bounded::read_line_async(&mut reader, &mut line);
        let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    }
    match line.trim().strip_prefix("listening") {
        Some(rest) => Ok((
            reaped,
            rest.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
        )),
        None => {
            let said = reaped.stop().await;
            Err(format!(
                "the listener did not start: {}",
                [line.trim(), said.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        }
    }
}

/// Runs a probe on a blocking thread.
async fn probe(addr: SocketAddr, bytes: u64) -> Result<Probe, String> {
    tokio::task::spawn_blocking(move || ports::probe(addr, bytes, ports::MAX_SEND))
        .await
        .map_err(|e| format!("the probe panicked: {e}"))?
}

async fn baseline(target: &Account, exe: &str) -> Result<Probe, String> {
    let (l, bound) = listener(target, exe, &["net-probe", "listen", "0"]).await?;
    let port = *bound.first().ok_or("the listener bound no port")?;
    let p = probe(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        ports::MAX_BYTES,
    )
    .await;
    drop(l);
    p
}

/// Who the host-side connections come from.
fn client_name(target: &Account) -> String {
    let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {}", nix::unistd::geteuid()), |u| u.name);
    if target.is_self() {
        format!("{me} (the target user itself: run verify as root for a client of another user)")
    } else {
        me
    }
}

async fn slirp4netns(
    target: &Account,
    spec: &Spec,
    exe: &str,
    wanted: &[u16],
    k3s_running: bool,
    loopback: &Probe,
) -> Vec<Check> {
    let fail = |e: String| vec![Check::fail("host ports through slirp4netns", e)];
    // slirp4netns creates its API socket here, as the user.
    let dir = match nix::unistd::mkdtemp("/tmp/groundwork-verify-XXXXXX") {
        Ok(d) => TempDir(d),
        Err(e) => return fail(format!("cannot make a directory in /tmp: {e}")),
    };
    if !target.is_self()
        && let Err(e) = nix::unistd::chown(
            &dir.0,
            Some(nix::unistd::Uid::from_raw(target.uid)),
            Some(nix::unistd::Gid::from_raw(target.gid)),
        )
    {
        return fail(format!(
            "cannot give {} to {}: {e}",
            dir.0.display(),
            target.name
        ));
    }
    let socket = dir.0.join("api.sock").to_string_lossy().into_owned();
    let port_args: Vec<String> = wanted.iter().map(u16::to_string).collect();
    let mut args = vec![
        "--user",
        "--map-root-user",
        "--net",
        "--",
        exe,
        "net-probe",
        "listen",
    ];
    args.extend(port_args.iter().map(String::as_str));
    let (ns, _) = match listener(target, "/usr/bin/unshare", &args).await {
        Ok(l) => l,
        Err(e) => return fail(format!("inside the namespace: {e}")),
    };
    let pid = ns.pid.to_string();
    let cidr = spec.network.effective_cidr();
    let mtu = format!("--mtu={}", spec.network.effective_mtu());
    let cidr_arg = format!("--cidr={cidr}");
    let api = format!("--api-socket={socket}");
    let mut slirp_args = vec!["--configure", &mtu, &cidr_arg, &api];
    if spec.network.host_loopback_disabled() {
        slirp_args.push("--disable-host-loopback");
    }
    slirp_args.extend([pid.as_str(), "tap0"]);
    let slirp = match spawn_in_group(target, "/usr/bin/slirp4netns", &slirp_args, false) {
        Ok(child) => match child.id() {
            Some(p) => Reaped { child, pid: p },
            None => return fail("slirp4netns exited at once".into()),
        },
        Err(e) => return fail(e),
    };
    let socket_path = std::path::PathBuf::from(&socket);
    let up = poll(Duration::from_secs(15), || {
        let route = std::fs::read_to_string(format!("/proc/{pid}/net/route")).ok()?;
        (route.lines().any(|l| l.starts_with("tap0")) && socket_path.exists()).then_some(())
    })
    .await;
    if up.is_none() {
        let said = slirp.stop().await;
        return fail(format!(
            "slirp4netns brought up no tap0 and API socket within 15 s: {}",
            if said.is_empty() {
                "it said nothing"
            } else {
                &said
            }
        ));
    }
    let guest = cidr.nth(100).to_string();
    let gateway = cidr.nth(2).to_string();
    let client = client_name(target);
    let host_ip = ports::host_address();
    let api_port = crate::spec::network::api_port(spec).ok();
    let mut checks = Vec::new();
    let mut through: Option<Probe> = None;
    let mut sources = Vec::new();
    for &port in wanted {
        let name = format!("host port {port} into the namespace (slirp4netns)");
        // A running k3s exposes its API port (and its LoadBalancers' ports) itself.
        if let Some(k3s) = ports::held_by_unit(port, UNIT_NAME) {
            checks.push(exposed_by_k3s(&name, &k3s));
            continue;
        }
        // A k3s that is still starting binds its API port later (once its API server is up):
        // forwarding it now, even for the few seconds of a probe, could make k3s's own
        // add_hostfwd fail. Another holder is reported as any other.
        if k3s_running && Some(port) == api_port {
            checks.push(match ports::holder(port) {
                Some(h) => Check::fail(&name, ports::cause(port, None, Some(h), "")),
                None => Check::pass(
                    &name,
                    format!("not forwarded by verify: {UNIT_NAME} is running and its port driver exposes the API port itself once the API server is up; the cluster stage connects to it from the host"),
                ),
            });
            continue;
        }
        let said = match output_as(
            target,
            exe,
            &["net-probe", "hostfwd", &socket, &port.to_string(), &guest],
        )
        .await
        {
            Ok(out) if out.trim().starts_with("id ") => None,
            Ok(out) => Some(out.trim().to_string()),
            Err(e) => Some(e.lines().last().unwrap_or(&e).trim().to_string()),
        };
        if let Some(said) = said {
            // k3s's driver may have taken the port since the look above.
            if let Some(k3s) = ports::held_by_unit(port, UNIT_NAME) {
                checks.push(exposed_by_k3s(&name, &k3s));
                continue;
            }
            let said = said.strip_prefix("error ").unwrap_or(&said).to_string();
            checks.push(Check::fail(
                &name,
                ports::cause(port, ports::port_start(), ports::holder(port), &said),
            ));
            continue;
        }
        let budget = if through.is_none() {
            ports::MAX_BYTES
        } else {
            SHORT_BYTES
        };
        match probe(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            budget,
        )
        .await
        {
            Ok(p) => {
                checks.push(Check::pass(
                    &name,
                    format!(
                        "{client} connected to 127.0.0.1:{port} and reached the listener inside"
                    ),
                ));
                if sources.is_empty() {
                    sources.push(describe_source("127.0.0.1", &p.source, &gateway));
                    if let Some(ip) = host_ip
                        && let Ok(q) =
                            probe(SocketAddr::new(IpAddr::V4(ip), port), SHORT_BYTES).await
                    {
                        sources.push(describe_source(&ip.to_string(), &q.source, &gateway));
                    }
                }
                through.get_or_insert(p);
            }
            Err(e) => checks.push(Check::fail(
                &name,
                format!("slirp4netns forwarded the port, but {e}"),
            )),
        }
    }
    let said = slirp.stop().await;
    drop(ns);
    if !sources.is_empty() {
        checks.push(Check::pass(
            "client address seen inside (slirp4netns)",
            sources.join("; "),
        ));
    }
    match through {
        Some(p) => checks.push(Check::pass(
            "throughput host to namespace (slirp4netns)",
            format!(
                "{:.0} MB/s ({:.0} MB in {:.1} s, MTU {}); the host's loopback: {:.0} MB/s",
                p.mb_per_s(),
                p.bytes as f64 / 1e6,
                p.secs,
                spec.network.effective_mtu(),
                loopback.mb_per_s()
            ),
        )),
        None if checks.is_empty() => checks.push(Check::fail(
            "host ports through slirp4netns",
            format!("no port was exposed; slirp4netns said: {said}"),
        )),
        None => {}
    }
    checks
}

fn exposed_by_k3s(name: &str, holder: &str) -> Check {
    Check::pass(
        name,
        format!(
            "{UNIT_NAME} already exposes it on the host ({holder}); the cluster stage connects to the API port"
        ),
    )
}

fn describe_source(client: &str, seen: &str, gateway: &str) -> String {
    if seen == client {
        format!("a client on {client} arrived as itself")
    } else if seen == gateway {
        format!("a client on {client} arrived as {seen}, slirp4netns's gateway")
    } else {
        format!("a client on {client} arrived as {seen}")
    }
}

/// A directory verify made, removed on every path out.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
