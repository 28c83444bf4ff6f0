//! The machine itself: CPUs, memory, swap, kernel and OS, as sysinfo reads them from the live
//! host, and the one place the CPU architecture comes from. A captured tree (`--root`) records
//! none of these, so they are absent there.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct System {
    /// The CPU architecture groundwork runs on (`x86_64`, `aarch64`).
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub memory_bytes: u64,
    pub swap_bytes: u64,
    pub kernel_version: Option<String>,
    pub os: Option<String>,
}

/// The CPU architecture, as k3s's release assets are chosen by.
pub fn architecture() -> String {
    sysinfo::System::cpu_arch()
}

/// k3s's documented hardware minimum for a node (docs.k3s.io, "Requirements"), and what it
/// recommends: a server with a workload needs about 1.6 GB by its resource profiling.
pub const MIN_MEMORY: u64 = 512 << 20;
pub const RECOMMENDED_MEMORY: u64 = 1 << 30;
pub const RECOMMENDED_CPUS: usize = 2;

pub fn observe(live: bool) -> System {
    let machine = live
        .then(|| {
            let mut sys = sysinfo::System::new().ok()?;
            sys.refresh_memory();
            Some(Machine {
                cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
                memory_bytes: sys.total_memory(),
                swap_bytes: sys.total_swap(),
                kernel_version: sysinfo::System::kernel_version().ok(),
                os: sysinfo::System::long_os_version().ok(),
            })
        })
        .flatten();
    System {
        architecture: architecture(),
        machine,
    }
}

/// What falls short of k3s's requirements, in words; empty when nothing does.
pub fn preflight(m: &Machine) -> Vec<String> {
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let mut out = Vec::new();
    if m.memory_bytes < MIN_MEMORY {
        out.push(format!(
            "{} of memory is below k3s's documented minimum of 512 MiB",
            gib(m.memory_bytes)
        ));
    } else if m.memory_bytes < RECOMMENDED_MEMORY {
        out.push(format!(
            "{} of memory is below the 1 GiB k3s recommends (a server with a workload uses about 1.6 GB)",
            gib(m.memory_bytes)
        ));
    }
    if m.cpus < RECOMMENDED_CPUS {
        out.push(format!("{} CPU: k3s recommends {RECOMMENDED_CPUS}", m.cpus));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(cpus: usize, memory_bytes: u64) -> Machine {
        Machine {
            cpus,
            memory_bytes,
            swap_bytes: 0,
            kernel_version: None,
            os: None,
        }
    }

    #[test]
    fn preflight_against_k3s_requirements() {
        assert!(preflight(&machine(2, 4 << 30)).is_empty());
        let low = preflight(&machine(1, 256 << 20));
        assert_eq!(low.len(), 2, "{low:?}");
        assert!(low[0].contains("minimum of 512 MiB"), "{low:?}");
        assert!(preflight(&machine(4, 768 << 20))[0].contains("recommends"));
        let live = observe(true);
        assert!(
            live.machine
                .as_ref()
                .is_some_and(|m| m.cpus >= 1 && m.memory_bytes > 0)
        );
        assert_eq!(observe(false).machine, None);
        assert!(!live.architecture.is_empty());
    }
}
