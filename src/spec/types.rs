//! The spec's types: the desired state of one host role, and the single source of the JSON
//! Schema in `schema/`. Every struct denies unknown fields, so a misspelt key is an error and
//! never silently ignored.

use super::field_schemas;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The embedded default spec, also shipped as `examples/rootless-k3s.yaml`.
pub const DEFAULT_SPEC: &str = include_str!("../../examples/rootless-k3s.yaml");

pub use crate::allow::{SUBID_MIN, SUBID_MIN_COUNT};

/// Desired state of a host that runs k3s in rootless mode.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "groundwork spec")]
pub struct Spec {
    /// The unprivileged account that runs k3s.
    pub user: UserSpec,
    /// Subordinate uid and gid ranges for the user (/etc/subuid, /etc/subgid).
    #[serde(default)]
    pub subids: SubidSpec,
    /// Kernel parameters, set at runtime and persisted in /etc/sysctl.d.
    #[schemars(schema_with = "field_schemas::sysctls::<SysctlDetailed>")]
    #[serde(default)]
    pub sysctls: BTreeMap<String, SysctlSetting>,
    /// Kernel modules loaded now and at every boot (/etc/modules-load.d).
    #[schemars(transform = field_schemas::modules)]
    #[serde(default)]
    pub modules: Vec<String>,
    /// Packages, by logical name; each is resolved to the distribution's own name.
    #[schemars(transform = field_schemas::packages)]
    #[serde(default)]
    pub packages: Vec<String>,
    /// cgroup v2 controllers delegated to the user's systemd manager.
    #[serde(default)]
    pub cgroup: CgroupSpec,
    /// Keep the user's systemd manager running without a login session.
    #[serde(default = "default_true")]
    pub linger: bool,
    /// The AppArmor profile that allows the k3s binary to create user namespaces.
    #[serde(default)]
    pub apparmor: AppArmorSpec,
    /// The k3s binary, pinned to one version.
    pub k3s: K3sSpec,
    /// The k3s-rootless systemd user unit.
    #[serde(default)]
    pub unit: UnitSpec,
    /// Rootless networking: the host ports the cluster exposes, and how (k3s's K3S_ROOTLESS_*
    /// settings of RootlessKit and slirp4netns).
    #[serde(default)]
    pub network: NetworkSpec,
    /// What "healthy" means after start.
    #[serde(default)]
    pub health: HealthSpec,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Login name of the account (never root).
    #[schemars(transform = field_schemas::user_name)]
    pub name: String,
    /// Create the account when it does not exist.
    #[serde(default)]
    pub create: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubidSpec {
    /// First subordinate id, or `auto` for the lowest free range that overlaps no other user's.
    #[serde(default)]
    pub start: SubidStart,
    /// Number of subordinate ids, at least 65536. The same range is used for uids and gids.
    #[schemars(transform = field_schemas::subid_count)]
    #[serde(default = "default_subid_count")]
    pub count: u32,
}

impl Default for SubidSpec {
    fn default() -> Self {
        Self {
            start: SubidStart::Auto,
            count: SUBID_MIN_COUNT,
        }
    }
}

fn default_subid_count() -> u32 {
    SUBID_MIN_COUNT
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
#[schemars(with = "SubidStartSchema")]
pub enum SubidStart {
    #[default]
    Auto,
    At(u32),
}

/// Schema shape of `SubidStart`: the word `auto` or a number.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum SubidStartSchema {
    Auto(AutoWord),
    At(#[schemars(transform = field_schemas::subid_start)] u32),
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
enum AutoWord {
    Auto,
}

impl Serialize for SubidStart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SubidStart::Auto => s.serialize_str("auto"),
            SubidStart::At(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for SubidStart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SubidStart;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`auto` or a subordinate id between 100000 and 4294967295")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SubidStart, E> {
                if v == "auto" {
                    Ok(SubidStart::Auto)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SubidStart, E> {
                u32::try_from(v)
                    .map(SubidStart::At)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SubidStart, E> {
                u32::try_from(v)
                    .map(SubidStart::At)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// One sysctl: a plain value, or a value with options.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SysctlSetting {
    Plain(SysctlValue),
    Detailed(SysctlDetailed),
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SysctlDetailed {
    pub value: SysctlValue,
    /// The key may be absent on this kernel (for example `kernel.unprivileged_userns_clone`,
    /// which only Debian-patched and old kernels have); then it is skipped, not an error.
    #[serde(default)]
    pub optional: bool,
    /// The value is a minimum (for limits such as `user.max_user_namespaces`): a higher value
    /// on the host is kept, never lowered.
    #[serde(default)]
    pub at_least: bool,
}

/// Only the map form. serde's derive would also take a sequence, `[1, true]` for `value: 1,
/// optional: true`, which the schema does not allow and nobody means.
impl<'de> Deserialize<'de> for SysctlDetailed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            value: SysctlValue,
            #[serde(default)]
            optional: bool,
            #[serde(default)]
            at_least: bool,
        }
        struct MapOnly;
        impl<'de> serde::de::Visitor<'de> for MapOnly {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map with `value` and optionally `optional` and `at_least`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Fields, A::Error> {
                Fields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        let f = d.deserialize_map(MapOnly)?;
        Ok(SysctlDetailed {
            value: f.value,
            optional: f.optional,
            at_least: f.at_least,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SysctlValue {
    Int(i64),
    Text(String),
}

impl SysctlSetting {
    pub fn value(&self) -> String {
        let v = match self {
            SysctlSetting::Plain(v) => v,
            SysctlSetting::Detailed(d) => &d.value,
        };
        match v {
            SysctlValue::Int(i) => i.to_string(),
            SysctlValue::Text(s) => s.clone(),
        }
    }

    pub fn optional(&self) -> bool {
        matches!(self, SysctlSetting::Detailed(d) if d.optional)
    }

    pub fn at_least(&self) -> bool {
        matches!(self, SysctlSetting::Detailed(d) if d.at_least)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CgroupSpec {
    /// Controllers written to `Delegate=` in /etc/systemd/system/user@.service.d/delegate.conf.
    /// An empty list manages no drop-in.
    #[schemars(transform = field_schemas::controllers)]
    #[serde(default)]
    pub delegate: Vec<String>,
}

impl Default for CgroupSpec {
    fn default() -> Self {
        Self {
            delegate: ["cpu", "cpuset", "io", "memory", "pids"]
                .map(String::from)
                .to_vec(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppArmorMode {
    /// Install the profile only where the kernel restricts unprivileged user namespaces.
    #[default]
    Auto,
    /// Always install the profile (AppArmor must be enabled).
    Always,
    /// Never manage a profile.
    Never,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppArmorSpec {
    #[serde(default)]
    pub profile: AppArmorMode,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K3sSpec {
    /// The pinned release, for example `v1.31.4+k3s1`.
    #[schemars(transform = field_schemas::k3s_version)]
    pub version: String,
    /// Where the binary is installed.
    #[schemars(transform = field_schemas::install_path)]
    #[serde(default = "default_install_path")]
    pub install_path: String,
    /// Where the binary comes from.
    #[serde(default)]
    pub source: K3sSource,
}

fn default_install_path() -> String {
    "/usr/local/bin/k3s".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K3sSource {
    /// URL template; `{version}` and `{asset}` (k3s, k3s-arm64, k3s-armhf) are substituted.
    #[schemars(transform = field_schemas::k3s_url)]
    #[serde(default = "default_k3s_url")]
    pub url: String,
    /// Hex sha256 of the binary, or `auto` to read it from the release's sha256sum-<arch>.txt.
    #[schemars(transform = field_schemas::sha256)]
    #[serde(default = "default_sha256")]
    pub sha256: String,
    /// A local file to install instead of downloading (air-gapped hosts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Default for K3sSource {
    fn default() -> Self {
        Self {
            url: default_k3s_url(),
            sha256: default_sha256(),
            file: None,
        }
    }
}

fn default_k3s_url() -> String {
    "https://github.com/k3s-io/k3s/releases/download/{version}/{asset}".into()
}

fn default_sha256() -> String {
    "auto".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitSpec {
    /// Enabled under the user's default.target, so that linger starts it at boot.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Running now.
    #[serde(default = "default_true")]
    pub running: bool,
    /// The containerd snapshotter; fuse-overlayfs works on every kernel that rootless supports.
    #[schemars(transform = field_schemas::snapshotter)]
    #[serde(default = "default_snapshotter")]
    pub snapshotter: String,
    /// Extra arguments after `server --rootless`.
    #[schemars(transform = field_schemas::unit_args)]
    #[serde(default)]
    pub args: Vec<String>,
    /// Other K3S_* variables, as Environment= lines. The K3S_ROOTLESS_* networking variables
    /// belong to `network`.
    #[schemars(transform = field_schemas::unit_env)]
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl Default for UnitSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            running: true,
            snapshotter: default_snapshotter(),
            args: Vec::new(),
            env: BTreeMap::new(),
        }
    }
}

fn default_snapshotter() -> String {
    "fuse-overlayfs".into()
}

/// RootlessKit's port driver: what carries a connection from a host port into the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PortDriver {
    /// RootlessKit's own forwarder (k3s's default): the fastest; the client's source address
    /// arrives as 127.0.0.1 in the RootlessKit that k3s embeds (v1.1.1).
    Builtin,
    /// slirp4netns's port forwarding: slower; a client's source address arrives as itself,
    /// except the host's own loopback, which arrives as the gateway.
    Slirp4netns,
}

impl PortDriver {
    pub fn name(self) -> &'static str {
        match self {
            PortDriver::Builtin => "builtin",
            PortDriver::Slirp4netns => "slirp4netns",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Host ports that must reach the cluster: the API server's 6443, an ingress's 80 and 443,
    /// NodePorts you name. verify exposes each through the port driver and connects to it.
    #[schemars(transform = field_schemas::ports)]
    #[serde(default = "default_ports")]
    pub ports: Vec<u16>,
    /// RootlessKit's port driver (K3S_ROOTLESS_PORT_DRIVER); unset: k3s's default, builtin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_driver: Option<PortDriver>,
    /// slirp4netns's MTU (K3S_ROOTLESS_MTU), 68 to 65521 (1280 or more with IPv6); unset:
    /// RootlessKit's 65520.
    #[schemars(transform = field_schemas::mtu)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The namespace's private IPv4 network (K3S_ROOTLESS_CIDR), a prefix of /1 to /25 with
    /// its host bits zero; unset: 10.41.0.0/16.
    #[schemars(transform = field_schemas::cidr)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// IPv6 in the namespace (K3S_ROOTLESS_ENABLE_IPV6); unset: on only for a dual-stack
    /// `--node-ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    /// Keep pods from reaching the host's 127.0.0.1 through the gateway
    /// (K3S_ROOTLESS_DISABLE_HOST_LOOPBACK); unset: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_host_loopback: Option<bool>,
}

fn default_ports() -> Vec<u16> {
    vec![super::network_limits::API_PORT]
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            ports: default_ports(),
            port_driver: None,
            mtu: None,
            cidr: None,
            enable_ipv6: None,
            disable_host_loopback: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// How long verify waits for the cluster to become healthy, such as `300s` or `5m`.
    #[schemars(transform = field_schemas::timeout)]
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// Every node must be Ready.
    #[serde(default = "default_true")]
    pub nodes_ready: bool,
    /// Every kube-system pod must be Running (helm-install jobs: Completed).
    #[serde(default = "default_true")]
    pub system_pods_running: bool,
}

impl Default for HealthSpec {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
            nodes_ready: true,
            system_pods_running: true,
        }
    }
}

fn default_timeout() -> String {
    "300s".into()
}

/// Parses `300s`, `5m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1),
        (i, 'm') => (&s[..i], 60),
        (i, 'h') => (&s[..i], 3600),
        _ => (s, 1),
    };
    let n: u64 = num.parse().ok()?;
    Some(std::time::Duration::from_secs(n.checked_mul(mult)?))
}
