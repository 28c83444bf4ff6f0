//! What the spec's `network` section means: the values k3s will run with when a field is unset,
//! the K3S_ROOTLESS_* variables each field becomes, and the IPv4 arithmetic of the namespace's
//! network. The defaults are k3s's and RootlessKit's own (pkg/rootless/rootless.go of k3s,
//! pkg/network/slirp4netns of RootlessKit v1.1.1, which k3s embeds).

pub use super::network_limits::*;
use super::types::{NetworkSpec, PortDriver, Spec};
use std::net::Ipv4Addr;

/// k3s's K3S_ROOTLESS_CIDR default.
pub const DEFAULT_CIDR: &str = "10.41.0.0/16";
/// slirp4netns places the namespace's address at the network + 100, so a network must hold at
/// least 128 addresses ("prefix >= 26 is not supported").
pub const MAX_PREFIX: u8 = 25;
/// k3s's own networks inside the namespace, unless `--cluster-cidr`/`--service-cidr` say
/// otherwise: the namespace's network must not overlap them.
pub const DEFAULT_CLUSTER_CIDR: &str = "10.42.0.0/16";
pub const DEFAULT_SERVICE_CIDR: &str = "10.43.0.0/16";
/// Kubernetes' default NodePort range (`--service-node-port-range`).
pub const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;
/// Ports below this are privileged: only root binds them unless
/// `net.ipv4.ip_unprivileged_port_start` is lowered.
pub const FIRST_UNPRIVILEGED_PORT: u16 = 1024;
/// The sysctl that lets unprivileged users bind low ports.
pub const PORT_START_SYSCTL: &str = "net.ipv4.ip_unprivileged_port_start";

/// The variables `network` owns in the unit; `unit.env` may not set them.
pub const ENV_NAMES: [&str; 5] = [
    "K3S_ROOTLESS_PORT_DRIVER",
    "K3S_ROOTLESS_MTU",
    "K3S_ROOTLESS_CIDR",
    "K3S_ROOTLESS_ENABLE_IPV6",
    "K3S_ROOTLESS_DISABLE_HOST_LOOPBACK",
];

/// An IPv4 network: its address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    /// `a.b.c.d/n` with n in 0..=32 and no host bits set (k3s refuses them: "host identifier
    /// bits must not be set in CIDR prefix").
    pub fn parse(s: &str) -> Result<Ipv4Net, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a network in the form a.b.c.d/n"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not a network in the form a.b.c.d/n"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32 && !prefix.starts_with('+'))
            .ok_or_else(|| format!("{s:?} has no prefix length from 0 to 32"))?;
        let net = Ipv4Net { addr, prefix };
        if net.network() != addr {
            return Err(format!(
                "{s:?} has host bits set: k3s refuses it (\"host identifier bits must not be set in CIDR prefix\"); the network is {}/{prefix}",
                net.network()
            ));
        }
        Ok(net)
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The address `offset` into the network (slirp4netns: gateway +2, DNS +3, the namespace's
    /// own address +100).
    pub fn nth(self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()).wrapping_add(offset))
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// Whether the two networks share an address.
    pub fn overlaps(self, other: Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// Inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918).
    pub fn is_private(self) -> bool {
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            .iter()
            .filter_map(|p| Ipv4Net::parse(p).ok())
            .any(|p| p.prefix <= self.prefix && p.contains(self.addr))
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl NetworkSpec {
    /// The driver k3s will use.
    pub fn driver(&self) -> PortDriver {
        self.port_driver.unwrap_or(PortDriver::Builtin)
    }

    pub fn effective_mtu(&self) -> u32 {
        self.mtu.unwrap_or(DEFAULT_MTU)
    }

    /// The namespace's network; k3s's default when unset or (for an invalid spec) unreadable.
    pub fn effective_cidr(&self) -> Ipv4Net {
        self.cidr
            .as_deref()
            .and_then(|c| Ipv4Net::parse(c).ok())
            .unwrap_or_else(|| Ipv4Net::parse(DEFAULT_CIDR).expect("the default is a network"))
    }

    pub fn host_loopback_disabled(&self) -> bool {
        self.disable_host_loopback.unwrap_or(true)
    }

    /// The wanted ports below 1024, lowest first.
    pub fn low_ports(&self) -> Vec<u16> {
        let mut low: Vec<u16> = self
            .ports
            .iter()
            .copied()
            .filter(|p| *p < FIRST_UNPRIVILEGED_PORT)
            .collect();
        low.sort_unstable();
        low.dedup();
        low
    }

    /// The unit's Environment= entries for the fields that are set, in the variables' names.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(d) = self.port_driver {
            out.push(("K3S_ROOTLESS_PORT_DRIVER", d.name().to_string()));
        }
        if let Some(m) = self.mtu {
            out.push(("K3S_ROOTLESS_MTU", m.to_string()));
        }
        if let Some(c) = &self.cidr {
            out.push(("K3S_ROOTLESS_CIDR", c.clone()));
        }
        if let Some(v) = self.enable_ipv6 {
            out.push(("K3S_ROOTLESS_ENABLE_IPV6", v.to_string()));
        }
        if let Some(v) = self.disable_host_loopback {
            out.push(("K3S_ROOTLESS_DISABLE_HOST_LOOPBACK", v.to_string()));
        }
        out
    }
}

/// The value of a k3s flag in `args` (`--flag=value` or `--flag value`), the last one given.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut found = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v);
        } else if a == name {
            found = it.next().map(String::as_str);
        }
    }
    found
}

/// The API server's port: `--https-listen-port` of the unit's arguments, else 6443.
pub fn api_port(spec: &Spec) -> Result<u16, String> {
    match flag(&spec.unit.args, "--https-listen-port") {
        None => Ok(API_PORT),
        Some(v) => v
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("--https-listen-port {v:?} is not a port")),
    }
}

/// k3s's own IPv4 networks inside the namespace (pods, services), from the unit's arguments
/// or k3s's defaults, each with the flag that sets it.
pub fn cluster_networks(spec: &Spec) -> Vec<(&'static str, String)> {
    [
        ("--cluster-cidr", DEFAULT_CLUSTER_CIDR),
        ("--service-cidr", DEFAULT_SERVICE_CIDR),
    ]
    .into_iter()
    .flat_map(|(name, default)| {
        flag(&spec.unit.args, name)
            .unwrap_or(default)
            .split(',')
            .filter(|c| !c.contains(':'))
            .map(move |c| (name, c.trim().to_string()))
            .collect::<Vec<_>>()
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_with_their_host_bits_zero() {
        let n = Ipv4Net::parse("10.41.0.0/16").unwrap();
        assert_eq!(n.nth(2), Ipv4Addr::new(10, 41, 0, 2));
        assert_eq!(n.nth(100), Ipv4Addr::new(10, 41, 0, 100));
        assert!(n.is_private());
        let e = Ipv4Net::parse("10.41.0.1/16").unwrap_err();
        assert!(
            e.contains("host bits set") && e.contains("10.41.0.0/16"),
            "{e}"
        );
        for bad in [
            "10.41.0.0",
            "10.41.0.0/33",
            "10.41.0/16",
            "x/8",
            "10.0.0.0/+8",
        ] {
            assert!(Ipv4Net::parse(bad).is_err(), "{bad}");
        }
        assert!(!Ipv4Net::parse("8.8.0.0/16").unwrap().is_private());
        assert!(!Ipv4Net::parse("10.0.0.0/7").unwrap().is_private());
        assert!(Ipv4Net::parse("172.20.0.0/16").unwrap().is_private());
        let a = Ipv4Net::parse("10.0.0.0/8").unwrap();
        assert!(a.overlaps(n) && n.overlaps(a));
        assert!(!n.overlaps(Ipv4Net::parse("10.42.0.0/16").unwrap()));
    }

    #[test]
    fn flags_come_in_both_forms() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            flag(&args(&["--https-listen-port=7443"]), "--https-listen-port"),
            Some("7443")
        );
        assert_eq!(
            flag(
                &args(&["--https-listen-port", "7443"]),
                "--https-listen-port"
            ),
            Some("7443")
        );
        assert_eq!(
            flag(&args(&["--https-listen-portx=1"]), "--https-listen-port"),
            None
        );
    }
}
