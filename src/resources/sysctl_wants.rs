//! The sysctls groundwork manages and how: every key of the spec's `sysctls`, plus
//! `net.ipv4.ip_unprivileged_port_start` when `network.ports` wants a port below 1024 and the
//! spec does not set that key itself. The derived key is a ceiling: at most the lowest wanted
//! port, never lower (a host that already opens more keeps what it has, but groundwork neither
//! opens more nor persists more than that port).

use crate::spec::Spec;
use crate::spec::network::{FIRST_UNPRIVILEGED_PORT, PORT_START_SYSCTL};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Exactly the value.
    Exact,
    /// The value or more (a limit).
    AtLeast,
    /// The value or less (a threshold that opens something as it falls).
    AtMost,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub value: String,
    pub bound: Bound,
    /// Absent on some kernels: then skipped, not blocked.
    pub optional: bool,
    /// Why groundwork wants it when the spec does not name it, in plain words.
    pub derived: Option<String>,
}

/// What lowering `ip_unprivileged_port_start` to `port` opens, in plain words.
pub fn opens(port: u16, user: &str) -> String {
    format!(
        "this lets every local user, not only {user}, listen on ports {port} to {}, so any user's program could answer there in place of the service",
        FIRST_UNPRIVILEGED_PORT - 1
    )
}

/// Every key groundwork manages for this spec.
pub fn wants(spec: &Spec) -> BTreeMap<String, Want> {
    let mut out: BTreeMap<String, Want> = spec
        .sysctls
        .iter()
        .map(|(k, s)| {
            let want = Want {
                value: crate::managed_files::normalize(&s.value()),
                bound: if s.at_least() {
                    Bound::AtLeast
                } else {
                    Bound::Exact
                },
                optional: s.optional(),
                derived: None,
            };
            (k.clone(), want)
        })
        .collect();
    if let Some(low) = spec.network.low_ports().first()
        && !out.contains_key(PORT_START_SYSCTL)
    {
        out.insert(
            PORT_START_SYSCTL.to_string(),
            Want {
                value: low.to_string(),
                bound: Bound::AtMost,
                optional: false,
                derived: Some(format!(
                    "network.ports has {low}, below {FIRST_UNPRIVILEGED_PORT}: {}",
                    opens(*low, &spec.user.name)
                )),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_port_derives_the_ceiling_unless_the_spec_sets_the_key() {
        let mut spec = crate::spec::load_default().0;
        assert!(!wants(&spec).contains_key(PORT_START_SYSCTL));
        spec.network.ports = vec![6443, 443, 80, 8080];
        let w = &wants(&spec)[PORT_START_SYSCTL];
        assert_eq!((w.value.as_str(), w.bound), ("80", Bound::AtMost));
        assert!(
            w.derived
                .as_deref()
                .unwrap()
                .contains("not only k3s, listen on ports 80 to 1023")
        );
        spec.sysctls.insert(
            PORT_START_SYSCTL.into(),
            crate::spec::SysctlSetting::Plain(crate::spec::SysctlValue::Int(0)),
        );
        let w = &wants(&spec)[PORT_START_SYSCTL];
        assert_eq!(
            (w.value.as_str(), w.bound, w.derived.is_none()),
            ("0", Bound::Exact, true)
        );
    }
}
