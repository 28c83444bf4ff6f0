//! The performance regression check: a drift check on a converged host reads files and spawns
//! nothing, not even k3s (identified by its sha256, never run). Counted with strace, so it holds
//! on any machine, however loaded.

mod common;

use common::Host;
use std::process::Command;

const MAX_SPAWNS: usize = 0;

/// Processes `groundwork drift` starts, itself excluded.
fn spawns(host: &Host, cache: &std::path::Path) -> Option<usize> {
    let strace = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let log = host.outside("strace.log");
    let spec = host.spec_path();
    let status = Command::new(strace)
        .args(["-f", "-qq", "-e", "trace=execve", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--root")
        .arg(host.root())
        .args(["drift"])
        .arg(&spec)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("strace runs");
    assert_eq!(
        status.status.code(),
        Some(0),
        "the converged host has no drift: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let execs: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("execve(") && l.trim_end().ends_with("= 0"))
        .collect();
    assert!(
        !execs.is_empty(),
        "strace saw groundwork itself start: {text}"
    );
    Some(execs.len() - 1)
}

#[test]
fn drift_on_a_converged_host_spawns_nothing() {
    let host = Host::converged();
    let cache = host.outside("spawn-cache");
    let Some(cold) = spawns(&host, &cache) else {
        let why =
            "strace is not installed (apt-get install strace); the process-count check did NOT run";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the spawn check: {why}"
        );
        eprintln!("==== SKIPPED spawn_count: {why} ====");
        return;
    };
    assert_eq!(
        cold, MAX_SPAWNS,
        "first run: drift spawned {cold} processes, the bound is {MAX_SPAWNS}"
    );
    let warm = spawns(&host, &cache).unwrap();
    assert_eq!(
        warm, MAX_SPAWNS,
        "second run: drift spawned {warm} processes, the bound is {MAX_SPAWNS}"
    );
}
