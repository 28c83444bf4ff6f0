//! The global lock: a second run waits, or with `--no-wait` exits 75 at once.
//!
//! These run `apply` on the live host, so the spec targets an account that does not exist and
//! may not be created: its plan is blocked, and an apply that got past the lock would still
//! change nothing.

use nix::fcntl::{Flock, FlockArg};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = "user: { name: gw-lock-test-nobody, create: false }\nk3s: { version: v1.31.4+k3s1 }\npackages: []\nmodules: []\nsysctls: {}\n";

fn spec_file() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), SPEC).unwrap();
    f
}

fn hold_lock() -> Flock<std::fs::File> {
    let path = groundwork::engine::lock::lock_path();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap()
}

fn apply(spec: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_groundwork"));
    cmd.args(["apply", "--yes", "--no-verify"])
        .args(extra)
        .arg(spec)
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("gw-lock-test-cache"),
        );
    cmd
}

#[test]
fn lock_behaviour() {
    let spec = spec_file();
    let lock = hold_lock();

    // --no-wait: the distinct exit code, at once.
    let started = Instant::now();
    let out = apply(spec.path(), &["--no-wait"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another groundwork run holds"));

    // Without it: waits, says so, and goes on once the lock is free (to the blocked plan).
    let mut child = apply(spec.path(), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "apply must wait while the lock is held"
    );
    drop(lock);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("waiting for another groundwork run"),
        "{stderr}"
    );
    assert_eq!(
        status.code(),
        Some(3),
        "the test spec's plan is blocked: {stderr}"
    );
}

/// A drift check takes the same lock: it never reads a host that an apply is changing. It waits
/// (bounded, so that a stuck run shows as an error rather than as a silent monitoring gap), and
/// checks once the lock is free.
#[test]
fn drift_waits_for_a_running_apply() {
    let spec = spec_file();
    let lock = hold_lock();
    let mut child = Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("drift")
        .arg(spec.path())
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("gw-lock-test-cache"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "drift must wait while the lock is held"
    );
    drop(lock);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("waiting for another groundwork run"),
        "{stderr}"
    );
    assert_eq!(
        status.code(),
        Some(2),
        "the blocked plan is drift: {stderr}"
    );
}
