//! Specs this build has parsed and found valid, kept in groundwork's cache (`crate::cache`) with
//! their exact text, so that a drift timer does not parse and check the same YAML on every run.
//! An entry is taken only for the very same text, by the very same build (`GROUNDWORK_BUILD_ID`,
//! build.rs), from a file this user owns and no one else can write (as root, in root's own
//! cache directory, never one the environment names). Anything else is a miss: the spec is
//! parsed as if there were no cache. Invalid specs are never kept.

use super::types::Spec;
use serde::{Deserialize, Serialize};

const NAME: &str = "parsed-specs.json";
/// A host runs one spec or a few (a timer's, an operator's draft); older entries make way.
const KEEP: usize = 4;
const BUILD: &str = env!("GROUNDWORK_BUILD_ID");

/// The file as written; entries of another build are dropped on load, never taken.
#[derive(Serialize, Deserialize)]
struct KeptFile {
    build: String,
    /// The most recently parsed first.
    entries: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    text: String,
    spec: Spec,
}

/// What this build kept, read once per load: looked up, and on a miss added to.
pub struct Kept {
    entries: Vec<Entry>,
}

impl Kept {
    pub fn load() -> Kept {
        Kept::of(crate::cache::read_own(NAME))
    }

    fn of(file: Option<KeptFile>) -> Kept {
        let entries = file
            .filter(|f| f.build == BUILD)
            .map(|f| f.entries)
            .unwrap_or_default();
        Kept { entries }
    }

    /// The spec kept for exactly `text`, if any.
    pub fn take(&mut self, text: &str) -> Option<Spec> {
        let at = self.entries.iter().position(|e| e.text == text)?;
        tracing::debug!(
            cache = NAME,
            "this build parsed the same spec before; its result is reused"
        );
        Some(self.entries.swap_remove(at).spec)
    }

    /// Keeps `spec`, the valid result of parsing `text`, which `take` did not find. Best
    /// effort, as every cache.
    pub fn remember(mut self, text: &str, spec: &Spec) {
        self.entries.insert(
            0,
            Entry {
                text: text.to_string(),
                spec: spec.clone(),
            },
        );
        self.entries.truncate(KEEP);
        let file = KeptFile {
            build: BUILD.to_string(),
            entries: self.entries,
        };
        crate::cache::write_mode(NAME, &file, 0o600);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{SpecSource, parse};

    fn parsed(text: &str) -> Spec {
        parse(&SpecSource {
            name: "t.yaml".into(),
            text: text.into(),
        })
        .expect("a valid spec")
    }

    /// Every field away from its default, and each form a field can take.
    const EVERY_FIELD: &str = r#"
user: { name: builder, create: true }
subids: { start: 300000, count: 70000 }
sysctls:
  net.ipv4.ip_forward: 1
  net.ipv4.ping_group_range: "0 2147483647"
  user.max_user_namespaces: { value: 30000, at_least: true }
  kernel.unprivileged_userns_clone: { value: "1", optional: true }
modules: [fuse, tun]
packages: [uidmap]
cgroup: { delegate: [cpu, memory] }
linger: false
apparmor: { profile: always }
k3s:
  version: v1.30.2+k3s1
  install_path: /opt/k3s/bin/k3s
  source: { url: "http://127.0.0.1:8099/{version}/{asset}", sha256: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
unit:
  enabled: false
  running: false
  snapshotter: native
  args: ["--disable=traefik", "--debug"]
  env: { K3S_DEBUG: "true" }
network:
  ports: [6443, 8443]
  port_driver: builtin
  mtu: 1500
  cidr: 10.41.0.0/24
  enable_ipv6: false
  disable_host_loopback: true
health: { timeout: 90s, nodes_ready: false, system_pods_running: false }
"#;

    /// What the cache gives back is what parsing gave: the whole spec survives its trip through
    /// the cache's JSON, for the embedded default, the VM lab's spec and one that sets every field.
    #[test]
    fn a_kept_spec_reads_back_equal() {
        for text in [
            super::super::types::DEFAULT_SPEC,
            include_str!("../../tests/vm/specs/lab.yaml"),
            EVERY_FIELD,
        ] {
            let spec = parsed(text);
            let file = KeptFile {
                build: BUILD.into(),
                entries: vec![Entry {
                    text: text.into(),
                    spec: spec.clone(),
                }],
            };
            let json = serde_json::to_vec(&file).unwrap();
            let back: KeptFile = serde_json::from_slice(&json).unwrap();
            assert_eq!(Kept::of(Some(back)).take(text), Some(spec));
        }
    }

    #[test]
    fn only_the_same_text_from_the_same_build_is_taken() {
        let spec = parsed(EVERY_FIELD);
        let kept = |build: &str| {
            Kept::of(Some(KeptFile {
                build: build.into(),
                entries: vec![Entry {
                    text: EVERY_FIELD.into(),
                    spec: spec.clone(),
                }],
            }))
        };
        assert_eq!(kept(BUILD).take(EVERY_FIELD), Some(spec.clone()));
        assert_eq!(kept("0123456789abcdef").take(EVERY_FIELD), None);
        let one_more_blank = format!("{EVERY_FIELD}\n");
        assert_eq!(kept(BUILD).take(&one_more_blank), None);
    }
}
