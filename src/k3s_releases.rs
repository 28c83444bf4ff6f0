//! k3s releases groundwork knows, with the sha256 k3s publishes for each binary
//! (`sha256sum-<arch>.txt` on the release page). They identify an installed binary without
//! running it, and they are the releases the helper installs for users without a line in root's
//! policy: the table is compiled into the root-owned helper, so it is root's choice too.

/// One published binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub version: &'static str,
    /// The release asset: `k3s` (amd64), `k3s-arm64` or `k3s-armhf`.
    pub asset: &'static str,
    pub sha256: &'static str,
}

/// Newest first. How to add a release: README, "Pinning k3s". The hashes are the lines of the
/// release's `sha256sum-amd64.txt` and `sha256sum-arm64.txt` (and `sha256sum-arm.txt`), as copied
/// by several independent projects that pin k3s binaries, which agree with each other.
pub const KNOWN: &[Release] = &[
    Release {
        version: "v1.36.5+k3s1",
        asset: "k3s",
        sha256: "d73847bcd3c5fccef0115b372e2f9a91f3032dc84bbf71518a4617565294d313",
    },
    Release {
        version: "v1.36.4+k3s1",
        asset: "k3s",
        sha256: "835873f37245fc615f547a2fe2af9402a347875f13fa64a1f136de644955ea3f",
    },
    Release {
        version: "v1.36.4+k3s1",
        asset: "k3s-arm64",
        sha256: "c920706346d5ad4e5cd3c7bf1bb09ce71ebe07fec829e513e40f1caf98aed8bb",
    },
    Release {
        version: "v1.35.0+k3s1",
        asset: "k3s",
        sha256: "959c9310a6ab893958d1c95bc5d7609de9d7884630c8832180f059369b6dc331",
    },
    Release {
        version: "v1.35.0+k3s1",
        asset: "k3s-arm64",
        sha256: "c0b1673a1f2b740cb7bb08355c885efb6a4aa5c8022e5bb306c621c8c1492883",
    },
    Release {
        version: "v1.35.0+k3s1",
        asset: "k3s-armhf",
        sha256: "baf71e2e083676cfbb378ee1e1e5aa5509c2f9bd9ba56feb266a0d18365e6f54",
    },
];

/// k3s's release asset for a CPU architecture.
pub fn asset_for(arch: &str) -> Result<&'static str, String> {
    match arch {
        "x86_64" | "amd64" => Ok("k3s"),
        "aarch64" | "arm64" => Ok("k3s-arm64"),
        "arm" | "armv7" | "armv7l" | "armhf" => Ok("k3s-armhf"),
        other => Err(format!(
            "k3s publishes no binary for the {other} architecture"
        )),
    }
}

/// The asset this host runs: the helper's own architecture, which is the host's.
pub fn host_asset() -> Result<&'static str, String> {
    asset_for(std::env::consts::ARCH)
}

pub fn by_sha256(sha256: &str) -> Option<&'static Release> {
    KNOWN.iter().find(|r| r.sha256 == sha256)
}

pub fn lookup(version: &str, asset: &str) -> Option<&'static Release> {
    KNOWN
        .iter()
        .find(|r| r.version == version && r.asset == asset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        for r in KNOWN {
            assert!(crate::names::is_k3s_version(r.version), "{r:?}");
            assert!(crate::names::is_sha256_hex(r.sha256), "{r:?}");
            assert!(
                ["k3s", "k3s-arm64", "k3s-armhf"].contains(&r.asset),
                "{r:?}"
            );
            assert_eq!(by_sha256(r.sha256), Some(r));
        }
    }

    /// `v1.36.4+k3s1` → (1, 36, 4, 1), for ordering.
    fn version_key(v: &str) -> Vec<u32> {
        v.trim_start_matches('v')
            .split(['.', '+'])
            .map(|p| p.trim_start_matches("k3s").parse().expect("a number"))
            .collect()
    }

    #[test]
    fn the_table_is_newest_first() {
        for pair in KNOWN.windows(2) {
            assert!(
                version_key(pair[0].version) >= version_key(pair[1].version),
                "{pair:?}"
            );
        }
    }

    /// The embedded default installs on amd64 and arm64 with no policy line: its pin must be in
    /// the table for both (README, "Pinning k3s").
    #[test]
    fn the_default_pin_is_in_the_table_for_amd64_and_arm64() {
        let spec = crate::spec::DEFAULT_SPEC;
        let version = spec
            .lines()
            .find_map(|l| l.trim().strip_prefix("version: "))
            .expect("the default spec pins a version");
        for asset in ["k3s", "k3s-arm64"] {
            assert!(lookup(version, asset).is_some(), "{version} {asset}");
        }
    }
}
