//! What rootless networking will do on this host, where it differs from what a rootful cluster
//! leads people to expect. Nothing here is a step: each finding is a note in the plan, with the
//! source of the fact in the README's "Rootless networking".
//!
//! - Ports: k3s forwards to the host only its API port and the ports of LoadBalancer services
//!   (with ServiceLB on), and binds a LoadBalancer port up to 1024 at that port + 10000
//!   (k3s pkg/rootlessports); a plain NodePort is not bound on the host.
//! - DNS: inside the namespace RootlessKit writes `nameserver <cidr + 3>`, slirp4netns's
//!   forwarder, which sends each query to the host's own nameserver. A local stub such as
//!   systemd-resolved's 127.0.0.53 is then reached through the host's loopback.
//! - slirp4netns older than 0.4.0 is refused by RootlessKit ("slirp4netns seems older than
//!   v0.4.0"); k3s runs the copy it bundles first, verify runs the host's.
//! - SELinux enforcing: k3s's policy (k3s-selinux) labels the rootful paths only.

use super::contract::{DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use super::packages::PackageFacts;
use crate::host::HostRoot;
use crate::plan::{PlanBuilder, ResourceId};
use crate::spec::Spec;
use crate::spec::network::{NODE_PORTS, api_port};
use serde::Serialize;
use std::net::IpAddr;

pub const ID: ResourceId = ResourceId::new("network");

/// RootlessKit refuses older slirp4netns (pkg/network/slirp4netns, DetectFeatures).
pub const MIN_SLIRP4NETNS: (u32, u32, u32) = (0, 4, 0);
/// k3s adds this to LoadBalancer ports up to 1024 (`<= 1024`) when it binds them on the host.
pub const LOW_PORT_OFFSET: u16 = 10000;
const RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's list of the upstream servers it uses.
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";
const SELINUX_ENFORCE: &str = "/sys/fs/selinux/enforce";

pub struct Network;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkFacts {
    /// The nameservers of /etc/resolv.conf (None: the file is missing).
    pub nameservers: Option<Vec<String>>,
    /// The nameservers of systemd-resolved's upstream list (None: not running).
    pub resolved_upstream: Option<Vec<String>>,
    /// SELinux is enforcing (None: no SELinux).
    pub selinux_enforcing: Option<bool>,
}

impl Resource for Network {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &[]
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing(
            "the network settings",
            observe(cx.root),
        )?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        // The packages' facts are complete only now: on RedHat they are observed on a thread.
        let slirp4netns = cx
            .facts
            .try_get::<PackageFacts>()
            .and_then(|p| p.installed.get("slirp4netns").cloned().flatten());
        for note in notes(
            cx.spec,
            cx.facts.get::<NetworkFacts>(),
            slirp4netns.as_deref(),
        ) {
            plan.note(ID, note);
        }
    }
}

/// The `nameserver` addresses of a resolv.conf.
pub fn nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next().map(String::from))?
        })
        .collect()
}

pub fn observe(root: &HostRoot) -> std::io::Result<NetworkFacts> {
    Ok(NetworkFacts {
        nameservers: root.read_optional(RESOLV_CONF)?.map(|t| nameservers(&t)),
        resolved_upstream: root
            .read_optional(RESOLVED_UPSTREAM)?
            .map(|t| nameservers(&t)),
        selinux_enforcing: root
            .read_optional(SELINUX_ENFORCE)?
            .map(|v| v.trim() == "1"),
    })
}

fn is_loopback(ns: &str) -> bool {
    ns.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `1.2.0-1`, `1:1.2.0-1` or `0.4.3-1.fc33`: the upstream version's first three numbers.
pub fn upstream_version(v: &str) -> Option<(u32, u32, u32)> {
    let upstream = v.split_once(':').map_or(v, |(_, r)| r);
    let upstream = upstream.split(['-', '~', '+']).next()?;
    let mut nums = upstream.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
    });
    let major = nums.next()?.ok()?;
    let minor = nums.next().and_then(Result::ok).unwrap_or(0);
    let patch = nums.next().and_then(Result::ok).unwrap_or(0);
    Some((major, minor, patch))
}

/// Whether the unit's arguments disable a packaged component (`--disable=traefik,servicelb`,
/// `--disable servicelb`).
fn disables(args: &[String], component: &str) -> bool {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let list = match a.strip_prefix("--disable=") {
            Some(v) => Some(v),
            None if a == "--disable" => it.next().map(String::as_str),
            None => None,
        };
        if list.is_some_and(|l| l.split(',').any(|c| c.trim() == component)) {
            return true;
        }
    }
    false
}

/// The notes for this spec on this host, in plain words; `slirp4netns`: the installed package's
/// version.
pub fn notes(spec: &Spec, facts: &NetworkFacts, slirp4netns: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let api = api_port(spec).unwrap_or(crate::spec::network::API_PORT);
    let others: Vec<u16> = spec
        .network
        .ports
        .iter()
        .copied()
        .filter(|p| *p != api)
        .collect();
    if !others.is_empty() && disables(&spec.unit.args, "servicelb") {
        out.push(format!(
            "unit.args disable servicelb, so k3s forwards only its API port {api} to the host: {} of network.ports {} inside k3s's namespace unless something else forwards {}",
            list(&others),
            if others.len() == 1 { "stays" } else { "stay" },
            if others.len() == 1 { "it" } else { "them" },
        ));
    } else {
        let low: Vec<u16> = others.iter().copied().filter(|p| *p <= 1024).collect();
        if !low.is_empty() {
            out.push(format!(
                "k3s binds a LoadBalancer service's port up to 1024 on the host at that port + {LOW_PORT_OFFSET} ({}), whatever net.ipv4.ip_unprivileged_port_start says; {} only if something else forwards {}",
                low.iter()
                    .map(|p| format!("{p} as {}", u32::from(*p) + u32::from(LOW_PORT_OFFSET)))
                    .collect::<Vec<_>>()
                    .join(", "),
                if low.len() == 1 {
                    format!("host port {} itself answers", low[0])
                } else {
                    format!("host ports {} themselves answer", list(&low))
                },
                if low.len() == 1 { "it" } else { "them" },
            ));
        }
        let node: Vec<u16> = others
            .iter()
            .copied()
            .filter(|p| NODE_PORTS.contains(p))
            .collect();
        if !node.is_empty() {
            out.push(format!(
                "{} of network.ports {} in the NodePort range: k3s binds a NodePort on the host only as a LoadBalancer service's nodePort (k3s v1.29.3 and later); a plain NodePort service is not reachable from the host",
                list(&node),
                if node.len() == 1 { "is" } else { "are" }
            ));
        }
    }
    if let Some(ns) = &facts.nameservers
        && !ns.is_empty()
        && ns.iter().all(|n| is_loopback(n))
    {
        let dns = spec.network.effective_cidr().nth(3);
        let upstream = facts
            .resolved_upstream
            .as_ref()
            .filter(|u| !u.is_empty() && !u.iter().all(|n| is_loopback(n)));
        let fix = match upstream {
            Some(u) => format!(
                "if pods cannot resolve names, add `--resolv-conf={RESOLVED_UPSTREAM}` to unit.args: it lists the upstream servers ({})",
                u.join(", ")
            ),
            None => "if pods cannot resolve names, give k3s a file of real upstream servers with `--resolv-conf=FILE` in unit.args".to_string(),
        };
        out.push(format!(
            "the host resolves names through a local stub ({} in {RESOLV_CONF}): inside k3s's namespace the nameserver is {dns}, slirp4netns's forwarder, which relays each query to that stub over the host's loopback; {fix}",
            ns.join(", ")
        ));
    }
    if let Some(v) = slirp4netns
        && upstream_version(v).is_some_and(|u| u < MIN_SLIRP4NETNS)
    {
        let (a, b, c) = MIN_SLIRP4NETNS;
        out.push(format!(
            "slirp4netns {v} is older than {a}.{b}.{c}, which RootlessKit requires (\"slirp4netns seems older than v0.4.0\"): k3s runs the copy it bundles first, but verify's smoke test runs this one; upgrade the package"
        ));
    }
    if facts.selinux_enforcing == Some(true) {
        out.push(format!(
            "SELinux is enforcing ({SELINUX_ENFORCE} reads 1): k3s's SELinux policy (k3s-selinux) labels the rootful paths (/var/lib/rancher/k3s, /var/run/k3s), not the rootless data in ~/.rancher/k3s, so k3s's --selinux is not known to work rootless; groundwork is tested on Debian only and has not run rootless k3s under enforcing SELinux"
        ));
    }
    out
}

/// `80`, `80 and 443`, `80, 443 and 30080`.
fn list(ports: &[u16]) -> String {
    let s: Vec<String> = ports.iter().map(u16::to_string).collect();
    match s.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_every_family_compare_by_their_upstream_numbers() {
        assert_eq!(upstream_version("1.2.0-1"), Some((1, 2, 0)));
        assert_eq!(upstream_version("1:0.3.0-1"), Some((0, 3, 0)));
        assert_eq!(upstream_version("0.4.3-1.fc33"), Some((0, 4, 3)));
        assert_eq!(upstream_version("1.3.1+really1.2"), Some((1, 3, 1)));
        assert!(upstream_version("0.3.0-1").unwrap() < MIN_SLIRP4NETNS);
        assert!(upstream_version("0.4.0-1").unwrap() >= MIN_SLIRP4NETNS);
        assert_eq!(upstream_version("x"), None);
    }

    #[test]
    fn resolv_conf_nameservers_and_servicelb() {
        assert_eq!(
            nameservers("# stub\nnameserver 127.0.0.53\noptions edns0\nsearch .\nnameserver ::1\n"),
            ["127.0.0.53", "::1"]
        );
        assert!(is_loopback("127.0.0.53") && is_loopback("::1") && !is_loopback("10.0.2.3"));
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(disables(
            &args(&["--disable=traefik,servicelb"]),
            "servicelb"
        ));
        assert!(disables(&args(&["--disable", "servicelb"]), "servicelb"));
        assert!(!disables(&args(&["--disable=traefik"]), "servicelb"));
        assert!(!disables(&args(&["--disable-network-policy"]), "servicelb"));
    }
}
