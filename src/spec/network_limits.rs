//! The bounds and defaults of the `network` fields, apart from `network` (which depends on the
//! types) so that the types' defaults and the schema's field descriptions can name them.

/// RootlessKit starts slirp4netns with this MTU when K3S_ROOTLESS_MTU is unset or 0.
pub const DEFAULT_MTU: u32 = 65520;
/// slirp4netns refuses a larger MTU ("MTU must be a positive integer (< 65522)").
pub const MAX_MTU: u32 = 65521;
/// The smallest MTU of an Ethernet (tap) device in Linux: ETH_MIN_MTU.
pub const MIN_MTU: u32 = 68;
/// IPv6 needs links of at least this MTU (RFC 8200).
pub const MIN_MTU_IPV6: u32 = 1280;
/// `a.b.c.d/n`, for the JSON Schema; `Ipv4Net::parse` checks the numbers.
pub const CIDR_PATTERN: &str = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$";
/// The API server's port (k3s's `--https-listen-port` default), which k3s always exposes.
pub const API_PORT: u16 = 6443;
