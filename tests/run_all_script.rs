//! tests/run-all.sh says before anything starts that the VM suite takes about 30 minutes, and
//! which variable skips it; GW_SKIP_VM=1 skips it; .ci/run runs it whatever the variable says.
//! The scripts run in a copy of their tree, where cargo, the VM suite and the tools .ci/run
//! looks for are stand-ins that only say they ran.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn stand_in(path: &Path, script: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, format!("#!/bin/sh\n{script}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A copy of the scripts in a temporary tree, with the stand-ins (in its `bin`).
fn sandbox() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for script in ["tests/run-all.sh", ".ci/run"] {
        let to = dir.path().join(script);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(Path::new(ROOT).join(script), &to).unwrap();
    }
    stand_in(
        &dir.path().join("tests/vm/run-suite.sh"),
        "echo 'VM SUITE RAN'",
    );
    stand_in(&dir.path().join("tests/vm/build-image.sh"), "exit 0");
    let bin = dir.path().join("bin");
    stand_in(&bin.join("cargo"), "echo \"cargo $*\"");
    // Whatever .ci/run installs when it is missing is here, so it installs nothing.
    for tool in [
        "qemu-system-x86_64",
        "qemu-img",
        "debootstrap",
        "mkfs.ext4",
        "apt-ftparchive",
        "ssh",
        "socat",
        "strace",
        "hyperfine",
        "promtool",
        "vagrant",
        "man",
        "python3",
        "lintian",
        "dpkg-shlibdeps",
        "slirp4netns",
        "libvirtd",
        "virsh",
        "dnsmasq",
        "iptables",
    ] {
        stand_in(&bin.join(tool), "exit 0");
    }
    stand_in(&bin.join("dpkg-query"), "echo 'install ok installed'");
    stand_in(
        &bin.join("apt-get"),
        "echo 'apt-get must not run here' >&2; exit 1",
    );
    dir
}

fn run(dir: &Path, script: &str, env: &[(&str, &str)]) -> (i32, String) {
    let path = format!("{}:/usr/bin:/bin", dir.join("bin").display());
    let mut tries = 0;
    let out = loop {
        let out = Command::new(dir.join(script))
            .env_clear()
            .env("PATH", &path)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output();
        // A script just written can be "busy" for a moment: another test's child, forked while
        // this test held the file open to write it, has the descriptor until it execs.
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.expect("the script runs"),
        }
    };
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn run_all_says_how_long_the_vm_suite_takes_before_anything_starts() {
    let dir = sandbox();
    let (code, text) = run(dir.path(), "tests/run-all.sh", &[]);
    assert_eq!(code, 0, "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("==== REAL-HOST VM SUITE: "), "{text}");
    assert!(first.contains("about 30 minutes"), "{text}");
    assert!(first.contains("GW_SKIP_VM=1 skips it"), "{text}");
    let tests = text.find("cargo test").expect("the tests ran");
    let suite = text.find("VM SUITE RAN").expect("the VM suite ran");
    assert!(tests < suite, "{text}");
}

#[test]
fn gw_skip_vm_skips_the_vm_suite() {
    let dir = sandbox();
    let (code, text) = run(dir.path(), "tests/run-all.sh", &[("GW_SKIP_VM", "1")]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("cargo test --locked"), "{text}");
    assert!(!text.contains("VM SUITE RAN"), "{text}");
    assert!(
        text.contains("==== REAL-HOST VM SUITE SKIPPED: GW_SKIP_VM=1"),
        "{text}"
    );
}

#[test]
fn ci_runs_the_vm_suite_whatever_gw_skip_vm_says() {
    let dir = sandbox();
    let (code, text) = run(
        dir.path(),
        ".ci/run",
        &[("GW_SKIP_VM", "1"), ("CI", "true")],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("VM SUITE RAN"), "{text}");
}

/// On two cores the VM suite runs in two lanes: every Debian 12 scenario but the Ansible one in
/// lane A, the Debian 13 core scenarios and then the Ansible one in lane B; a lane that fails
/// fails the run.
#[test]
fn the_vm_suite_runs_in_two_lanes_and_a_failed_lane_fails_the_run() {
    let dir = sandbox();
    for name in ["10-fresh-plan", "20-fresh-apply", "85-ansible"] {
        stand_in(
            &dir.path().join(format!("tests/vm/scenarios/{name}.sh")),
            "exit 0",
        );
    }
    stand_in(
        &dir.path().join("tests/vm/run-suite.sh"),
        "echo \"releases=[$GW_VM_RELEASES] bookworm=[$GW_VM_BOOKWORM_SCENARIOS] trixie=[$GW_VM_TRIXIE_SCENARIOS]\"\n\
         echo '==== real-host VM suite summary'\n\
         case \"$GW_VM_BOOKWORM_SCENARIOS\" in 85) exit \"${LANE_B_RC:-0}\";; esac",
    );
    let (code, text) = run(dir.path(), "tests/run-all.sh", &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("[A] releases=[bookworm] bookworm=[10 20] trixie=[10 20 22 30 40 50 90]"),
        "{text}"
    );
    assert!(
        text.contains(
            "[B] releases=[ trixie bookworm] bookworm=[85] trixie=[10 20 22 30 40 50 90]"
        ),
        "{text}"
    );
    let (code, text) = run(dir.path(), "tests/run-all.sh", &[("LANE_B_RC", "1")]);
    assert_eq!(code, 1, "{text}");
    let (code, text) = run(dir.path(), "tests/run-all.sh", &[("GW_VM_LANES", "1")]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("releases=[bookworm trixie] bookworm=[] trixie=[10 20 22 30 40 50 90]"),
        "{text}"
    );
    assert!(!text.contains("[A]"), "{text}");
}

/// The README's test command says what it starts, with the same variable.
#[test]
fn the_readme_says_how_long_and_how_to_skip() {
    let readme = fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let first_block = &readme[readme.find("```sh").unwrap()..];
    let first_block = &first_block[..first_block[3..].find("```").unwrap()];
    assert!(first_block.contains("tests/run-all.sh"), "{first_block}");
    assert!(first_block.contains("about 30 minutes"), "{first_block}");
    assert!(first_block.contains("GW_SKIP_VM=1"), "{first_block}");
}
