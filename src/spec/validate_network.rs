//! The cross-checks of the `network` section: values slirp4netns and k3s accept, and fields that
//! must agree with each other and with the rest of the spec. What depends on the host (routes
//! that the namespace's network would hide) is the plan's, from the observed routes.

use super::network::{
    self as net, ENV_NAMES, Ipv4Net, MAX_MTU, MAX_PREFIX, MIN_MTU, MIN_MTU_IPV6, PORT_START_SYSCTL,
};
use super::path::{Finding, Seg, key};
use super::types::Spec;
use crate::privileged::validate as rules;

pub fn check(spec: &Spec, out: &mut Vec<Finding>) {
    let n = &spec.network;
    let at = |field: &str| vec![key("network"), key(field)];

    let mut seen = std::collections::BTreeSet::new();
    for (i, port) in n.ports.iter().enumerate() {
        let path = vec![key("network"), key("ports"), Seg::Index(i)];
        if *port == 0 {
            out.push((
                path,
                "port 0 is not a port".into(),
                Some("use 1 to 65535".into()),
            ));
        } else if !seen.insert(port) {
            out.push((
                path,
                format!("{port} is listed twice"),
                Some("remove one".into()),
            ));
        }
    }
    match net::api_port(spec) {
        Ok(api) if !n.ports.contains(&api) => out.push((
            at("ports"),
            format!("the API server's port {api} is missing: k3s always exposes it, and verify checks it"),
            Some(format!("add {api} to network.ports")),
        )),
        Ok(_) => {}
        Err(e) => out.push((
            vec![key("unit"), key("args")],
            e,
            Some("give it a port from 1 to 65535".into()),
        )),
    }
    // The derived sysctl goes to the helper like any other: its value must pass the helper's
    // check (it does for every port; this keeps the two in step).
    if let Some(low) = n.low_ports().first()
        && let Err(e) = rules::sysctl(PORT_START_SYSCTL, &low.to_string())
    {
        out.push((at("ports"), e, None));
    }
    if let (Some(low), Some(set)) = (n.low_ports().first(), spec.sysctls.get(PORT_START_SYSCTL)) {
        let value = set.value().trim().parse::<i64>().unwrap_or(i64::MAX);
        if value > i64::from(*low) {
            out.push((
                vec![key("sysctls"), key(PORT_START_SYSCTL)],
                format!(
                    "{PORT_START_SYSCTL} = {} keeps port {low} of network.ports privileged: nobody but root could expose it",
                    set.value()
                ),
                Some(format!(
                    "remove the line (groundwork then sets it to {low}, the lowest port wanted), or set it to at most {low}"
                )),
            ));
        }
    }

    let ipv6 = n.enable_ipv6 == Some(true);
    if let Some(mtu) = n.mtu {
        let min = if ipv6 { MIN_MTU_IPV6 } else { MIN_MTU };
        if !(min..=MAX_MTU).contains(&mtu) {
            let why = if ipv6 && (MIN_MTU..MIN_MTU_IPV6).contains(&mtu) {
                "IPv6 needs at least 1280".to_string()
            } else {
                format!("slirp4netns takes {MIN_MTU} to {MAX_MTU}")
            };
            out.push((
                at("mtu"),
                format!("MTU {mtu} is out of range: {why}"),
                Some(format!(
                    "leave it out for RootlessKit's default {}, the fastest; lower it only for a path that drops large packets",
                    net::DEFAULT_MTU
                )),
            ));
        }
    }

    if let Some(cidr) = &n.cidr {
        match Ipv4Net::parse(cidr) {
            Err(e) => out.push((at("cidr"), e, Some(format!("such as {}", net::DEFAULT_CIDR)))),
            Ok(c) if c.prefix == 0 || c.prefix > MAX_PREFIX => out.push((
                at("cidr"),
                format!(
                    "{cidr} is /{}: slirp4netns takes /1 to /{MAX_PREFIX} (it puts the namespace at the network's address + 100)",
                    c.prefix
                ),
                Some(format!("such as {}", net::DEFAULT_CIDR)),
            )),
            Ok(c) if !c.is_private() => out.push((
                at("cidr"),
                format!(
                    "{cidr} is not a private network: addresses in it would be unreachable from the cluster"
                ),
                Some("use a network inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16".into()),
            )),
            Ok(c) => {
                for (flag, other) in net::cluster_networks(spec) {
                    if let Ok(o) = Ipv4Net::parse(&other)
                        && c.overlaps(o)
                    {
                        out.push((
                            at("cidr"),
                            format!(
                                "{cidr} overlaps k3s's own {other} ({flag}): pods and services would shadow the namespace's network"
                            ),
                            Some(format!("use another network, such as {}", net::DEFAULT_CIDR)),
                        ));
                    }
                }
            }
        }
    }

    for name in ENV_NAMES {
        if spec.unit.env.contains_key(name) {
            let field = match name {
                "K3S_ROOTLESS_PORT_DRIVER" => "port_driver",
                "K3S_ROOTLESS_MTU" => "mtu",
                "K3S_ROOTLESS_CIDR" => "cidr",
                "K3S_ROOTLESS_ENABLE_IPV6" => "enable_ipv6",
                _ => "disable_host_loopback",
            };
            out.push((
                vec![key("unit"), key("env"), key(name)],
                format!("{name} is set by `network.{field}`"),
                Some(format!(
                    "move it: `network: {{ {field}: {} }}`, and remove it from unit.env",
                    spec.unit.env[name]
                )),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{PortDriver, load_default};

    fn findings(edit: impl FnOnce(&mut Spec)) -> Vec<String> {
        let mut spec = load_default().0;
        edit(&mut spec);
        let mut out = Vec::new();
        check(&spec, &mut out);
        out.into_iter()
            .map(|(path, msg, hint)| {
                format!(
                    "{}: {msg} / {}",
                    crate::spec::path::render_path(&path),
                    hint.unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn the_default_is_valid() {
        assert_eq!(findings(|_| {}), Vec::<String>::new());
    }

    #[test]
    fn ports_are_checked() {
        let f = findings(|s| s.network.ports = vec![8080, 8080]);
        assert!(
            f.iter()
                .any(|l| l.contains("ports[1]: 8080 is listed twice")),
            "{f:?}"
        );
        assert!(
            f.iter()
                .any(|l| l.contains("the API server's port 6443 is missing")),
            "{f:?}"
        );
        let f = findings(|s| {
            s.unit.args.push("--https-listen-port=7443".into());
            s.network.ports = vec![6443];
        });
        assert!(
            f.iter().any(|l| l.contains("port 7443 is missing")),
            "{f:?}"
        );
        assert!(findings(|s| s.network.ports = vec![0, 6443])[0].contains("port 0"));
    }

    #[test]
    fn an_explicit_port_start_must_open_the_lowest_port() {
        let f = findings(|s| {
            s.network.ports = vec![6443, 443, 80];
            s.sysctls.insert(
                PORT_START_SYSCTL.into(),
                crate::spec::SysctlSetting::Plain(crate::spec::SysctlValue::Int(443)),
            );
        });
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].contains("keeps port 80 of network.ports privileged"),
            "{f:?}"
        );
        let ok = findings(|s| {
            s.network.ports = vec![6443, 80];
            s.sysctls.insert(
                PORT_START_SYSCTL.into(),
                crate::spec::SysctlSetting::Plain(crate::spec::SysctlValue::Int(0)),
            );
        });
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn mtu_is_in_slirp4netns_range_and_ipv6_needs_1280() {
        assert!(findings(|s| s.network.mtu = Some(65521)).is_empty());
        assert!(findings(|s| s.network.mtu = Some(68)).is_empty());
        assert!(findings(|s| s.network.mtu = Some(65522))[0].contains("68 to 65521"));
        assert!(findings(|s| s.network.mtu = Some(67))[0].contains("out of range"));
        let f = findings(|s| {
            s.network.mtu = Some(1000);
            s.network.enable_ipv6 = Some(true);
        });
        assert!(f[0].contains("IPv6 needs at least 1280"), "{f:?}");
    }

    #[test]
    fn cidr_is_a_private_network_apart_from_k3s_own() {
        let one = |c: &str| findings(|s| s.network.cidr = Some(c.into()));
        assert!(one("10.41.0.0/16").is_empty());
        assert!(one("192.168.200.0/24").is_empty());
        assert!(one("10.41.0.1/16")[0].contains("host bits set"));
        assert!(one("10.41.0.0/26")[0].contains("/1 to /25"));
        assert!(one("100.64.0.0/16")[0].contains("not a private network"));
        assert!(one("10.0.0.0/8")[0].contains("overlaps k3s's own 10.42.0.0/16 (--cluster-cidr)"));
        assert!(one("10.43.128.0/17")[0].contains("--service-cidr"));
        let moved = findings(|s| {
            s.network.cidr = Some("10.42.0.0/16".into());
            s.unit.args.push("--cluster-cidr=10.100.0.0/16".into());
        });
        assert!(moved.is_empty(), "{moved:?}");
    }

    #[test]
    fn the_network_variables_belong_to_the_section() {
        let f = findings(|s| {
            s.network.port_driver = Some(PortDriver::Builtin);
            s.unit
                .env
                .insert("K3S_ROOTLESS_PORT_DRIVER".into(), "slirp4netns".into());
        });
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("unit.env.K3S_ROOTLESS_PORT_DRIVER"), "{f:?}");
        assert!(
            f[0].contains("`network: { port_driver: slirp4netns }`"),
            "{f:?}"
        );
    }
}
