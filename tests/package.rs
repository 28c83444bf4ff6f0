//! The packages that packaging/build.sh makes: the Debian package's files with their owners and
//! modes, its dependencies and maintainer scripts, lintian at the pedantic level, and two builds
//! of one commit byte for byte; the RPM's files and requirements.
//!
//! Each needs its tools: cargo-deb, dpkg-deb and lintian for the Debian package,
//! cargo-generate-rpm and rpm for the RPM. Without them a test prints one loud SKIPPED line and
//! checks nothing. In CI a missing Debian tool fails instead: .ci/run installs them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// build.sh writes into one target/ tree: the tests take turns.
static BUILD: Mutex<()> = Mutex::new(());

/// The files both packages install, each a regular file (the man pages as
/// `groundwork man --dir` names them, below).
const SHARED_FILES: &[&str] = &[
    "/usr/bin/groundwork",
    "/usr/libexec/groundwork/groundwork-helper",
    "/usr/share/bash-completion/completions/groundwork",
    "/usr/share/fish/vendor_completions.d/groundwork.fish",
    "/usr/lib/systemd/system/groundwork-drift.service",
    "/usr/lib/systemd/system/groundwork-drift.timer",
    "/usr/share/doc/groundwork/examples/rootless-k3s.yaml",
    "/usr/share/groundwork/groundwork.schema.json",
    "/usr/share/doc/groundwork/README.md",
    "/usr/share/doc/groundwork/copyright",
];

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).unwrap()
}

/// Whether every tool answers; if not, the loud skip, or in CI (when `ci_needs`) a failure.
fn tools(test: &str, needed: &[(&str, &[&str], &str)], ci_needs: bool) -> bool {
    for (program, args, install) in needed {
        let works = Command::new(program)
            .args(*args)
            .output()
            .is_ok_and(|o| o.status.success());
        if !works {
            let why = format!("`{program} {}` does not run ({install})", args.join(" "));
            assert!(
                !(ci_needs && std::env::var_os("CI").is_some()),
                "CI must build and check the package, and .ci/run installs its tools: {why}"
            );
            eprintln!("==== SKIPPED {test}: {why}; the package was NOT checked ====");
            return false;
        }
    }
    true
}

const CARGO_DEB: (&str, &[&str], &str) = (
    "cargo",
    &["deb", "--version"],
    "cargo install cargo-deb --locked",
);
const DPKG_DEB: (&str, &[&str], &str) = ("dpkg-deb", &["--version"], "apt-get install dpkg");

/// `cmd` without what `cargo test` sets for a test (CARGO_PKG_*, OUT_DIR, LD_LIBRARY_PATH...):
/// a cargo run with them finds the release build stale, and the next plain
/// `cargo build --release` would compile groundwork again.
fn outside_cargo_test(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if (name.starts_with("CARGO") && name != "CARGO_HOME")
            || ["OUT_DIR", "LD_LIBRARY_PATH", "RUST_RECURSION_COUNT"].contains(&&*name)
        {
            cmd.env_remove(&*name);
        }
    }
    cmd
}

/// Runs packaging/build.sh KIND (in `umask`) and returns the package it printed.
fn build(kind: &str, umask: &str) -> PathBuf {
    let out = stdout(outside_cargo_test(
        Command::new("sh").current_dir(ROOT).args([
            "-c",
            &format!("umask {umask} && exec packaging/build.sh {kind}"),
        ]),
    ));
    let path = Path::new(ROOT).join(out.lines().last().expect("build.sh prints the package"));
    assert!(path.is_file(), "build.sh printed {}", path.display());
    path
}

/// The Debian package, built now, with its contents unpacked into a temporary directory.
struct Deb {
    path: PathBuf,
    tree: tempfile::TempDir,
    control: tempfile::TempDir,
}

impl Deb {
    fn build() -> Deb {
        let path = build("deb", "022");
        let tree = tempfile::tempdir().unwrap();
        let control = tempfile::tempdir().unwrap();
        run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(&path)
            .arg(tree.path()));
        run(Command::new("dpkg-deb")
            .arg("-e")
            .arg(&path)
            .arg(control.path()));
        Deb {
            path,
            tree,
            control,
        }
    }

    fn field(&self, name: &str) -> String {
        stdout(Command::new("dpkg-deb").arg("-f").arg(&self.path).arg(name))
            .trim()
            .to_string()
    }

    /// Each entry of `dpkg-deb --contents`: (mode, owner, path without the leading `.`).
    fn entries(&self) -> Vec<(String, String, String)> {
        stdout(Command::new("dpkg-deb").arg("--contents").arg(&self.path))
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let path = f[5].trim_start_matches('.').trim_end_matches('/');
                (f[0].to_string(), f[1].to_string(), path.to_string())
            })
            .collect()
    }

    fn file(&self, path: &str) -> PathBuf {
        self.tree.path().join(path.trim_start_matches('/'))
    }
}

/// The manual pages' file names, as the binary writes them.
fn man_pages(groundwork: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    run(Command::new(groundwork)
        .args(["man", "--dir"])
        .arg(dir.path()));
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.iter().any(|n| n == "groundwork.1") && names.iter().any(|n| n.ends_with(".5")),
        "{names:?}"
    );
    names
}

fn man_path(name: &str) -> String {
    let section = name.rsplit('.').next().unwrap();
    format!("/usr/share/man/man{section}/{name}.gz")
}

#[test]
fn the_deb_holds_every_file_root_owned_in_its_place() {
    if !tools("package contents", &[CARGO_DEB, DPKG_DEB], true) {
        return;
    }
    let _turn = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let deb = Deb::build();
    let entries = deb.entries();
    let mode_of = |path: &str| {
        entries
            .iter()
            .find(|(_, _, p)| p == path)
            .map(|(m, _, _)| m.as_str())
            .unwrap_or_else(|| panic!("{path} is not in the package: {entries:#?}"))
    };

    // Every entry is root's (uid/gid 0: the archive holds numbers), and nothing is writable by
    // anyone else or setuid.
    for (mode, owner, path) in &entries {
        assert_eq!(owner, "0/0", "{path}");
        let b = mode.as_bytes();
        assert!(
            b[5] != b'w' && b[8] != b'w' && !mode.contains('s') && !mode.contains('S'),
            "{path}: {mode}"
        );
    }
    assert_eq!(mode_of("/usr/bin/groundwork"), "-rwxr-xr-x");
    assert_eq!(
        mode_of("/usr/libexec/groundwork/groundwork-helper"),
        "-rwxr-xr-x"
    );
    for path in SHARED_FILES.iter().skip(2) {
        assert_eq!(mode_of(path), "-rw-r--r--", "{path}");
    }
    for path in [
        "/usr/share/zsh/vendor-completions/_groundwork",
        "/usr/share/doc/groundwork/changelog.Debian.gz",
    ] {
        assert_eq!(mode_of(path), "-rw-r--r--", "{path}");
    }
    // Nothing under /etc: the package writes no configuration, and never a sudoers rule.
    assert!(
        !entries.iter().any(|(_, _, p)| p.starts_with("/etc")),
        "{entries:#?}"
    );

    // The pages and completions are what the packaged binary itself prints.
    let groundwork = deb.file("/usr/bin/groundwork");
    for name in man_pages(&groundwork) {
        let packaged = stdout(
            Command::new("gzip")
                .arg("-dc")
                .arg(deb.file(&man_path(&name))),
        );
        let printed = stdout(Command::new(&groundwork).args(["man", &name]));
        assert_eq!(packaged, printed, "{name}");
    }
    for (shell, path) in [
        ("bash", "/usr/share/bash-completion/completions/groundwork"),
        ("zsh", "/usr/share/zsh/vendor-completions/_groundwork"),
        (
            "fish",
            "/usr/share/fish/vendor_completions.d/groundwork.fish",
        ),
    ] {
        let printed = stdout(Command::new(&groundwork).args(["completions", shell]));
        assert_eq!(
            fs::read_to_string(deb.file(path)).unwrap(),
            printed,
            "{shell}"
        );
    }

    // The units are the examples, running the package's groundwork.
    for unit in ["groundwork-drift.service", "groundwork-drift.timer"] {
        let example =
            fs::read_to_string(Path::new(ROOT).join("examples/systemd").join(unit)).unwrap();
        let packaged =
            fs::read_to_string(deb.file(&format!("/usr/lib/systemd/system/{unit}"))).unwrap();
        assert_eq!(
            packaged,
            example.replace("/usr/local/bin/groundwork", "/usr/bin/groundwork"),
            "{unit}"
        );
    }
    let service =
        fs::read_to_string(deb.file("/usr/lib/systemd/system/groundwork-drift.service")).unwrap();
    assert!(
        service.contains("\nExecStart=/usr/bin/groundwork drift /etc/groundwork/spec.yaml "),
        "{service}"
    );
    let example =
        fs::read_to_string(deb.file("/usr/share/doc/groundwork/examples/rootless-k3s.yaml"))
            .unwrap();
    assert!(
        example.starts_with(
            "# yaml-language-server: $schema=/usr/share/groundwork/groundwork.schema.json\n"
        ),
        "the installed example names the installed schema: {}",
        example.lines().next().unwrap_or_default()
    );
    assert_eq!(
        fs::read(deb.file("/usr/share/groundwork/groundwork.schema.json")).unwrap(),
        fs::read(Path::new(ROOT).join("schema/groundwork.schema.json")).unwrap()
    );

    // Dependencies: libc from the binaries, uidmap for rootless containers, sudo recommended.
    let depends = deb.field("Depends");
    assert!(depends.contains("libc6 (>="), "Depends: {depends}");
    assert!(
        depends.split(", ").any(|d| d == "uidmap"),
        "Depends: {depends}"
    );
    assert_eq!(deb.field("Recommends"), "sudo");
    assert_eq!(deb.field("Package"), "groundwork");
    assert_eq!(deb.field("Section"), "admin");

    // The maintainer scripts neither enable nor start a unit, and never touch sudoers: granting
    // the rule and enabling the timer stay the administrator's acts. (deb-systemd-helper's
    // `enable` is only there to restore links the administrator made, after `was-enabled`.)
    let mut scripts = 0;
    for name in ["preinst", "postinst", "prerm", "postrm"] {
        let Ok(text) = fs::read_to_string(deb.control.path().join(name)) else {
            continue;
        };
        scripts += 1;
        // The commands, without the comments (which may well say what is not done).
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for refused in [
            "sudoers",
            "systemctl enable",
            "--now",
            "invoke start",
            "invoke restart",
        ] {
            assert!(!code.contains(refused), "{name} runs `{refused}`:\n{text}");
        }
        for (i, line) in text.lines().enumerate() {
            if line.contains("deb-systemd-helper enable") {
                let before: Vec<&str> = text.lines().take(i).collect();
                assert!(
                    before
                        .iter()
                        .rev()
                        .take(3)
                        .any(|l| l.contains("was-enabled")),
                    "{name}: an enable not guarded by was-enabled:\n{text}"
                );
            }
        }
    }
    // The units' scripts are there: they stop the units on remove, and on purge remove the links
    // an administrator's `systemctl enable` made, and what systemd made for the service.
    assert!(scripts >= 3, "maintainer scripts: {scripts}");
    let prerm = fs::read_to_string(deb.control.path().join("prerm")).unwrap();
    assert!(
        prerm.contains("deb-systemd-invoke stop groundwork-drift.service groundwork-drift.timer"),
        "{prerm}"
    );
    let postrm = fs::read_to_string(deb.control.path().join("postrm")).unwrap();
    for purge in [
        "deb-systemd-helper purge groundwork-drift.timer",
        "rm -rf /var/cache/groundwork /var/lib/groundwork",
        "rm -rf /var/lib/groundwork-drift /var/cache/groundwork-drift",
        "rm -f /var/lib/systemd/timers/stamp-groundwork-drift.timer",
    ] {
        assert!(postrm.contains(purge), "{postrm}");
    }
}

#[test]
fn lintian_passes_at_the_pedantic_level() {
    let lintian = ("lintian", &["--version"][..], "apt-get install lintian");
    if !tools("lintian", &[CARGO_DEB, DPKG_DEB, lintian], true) {
        return;
    }
    // Every override says why, on the comment lines above it.
    let overrides =
        fs::read_to_string(Path::new(ROOT).join("packaging/debian/lintian-overrides")).unwrap();
    let mut reason = false;
    for line in overrides.lines() {
        if line.starts_with('#') {
            reason = true;
        } else if line.trim().is_empty() {
            reason = false;
        } else {
            assert!(reason, "an override without a reason above it: {line}");
            assert!(line.starts_with("groundwork: "), "{line}");
        }
    }

    let _turn = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let deb = build("deb", "022");
    let out = Command::new("lintian")
        .args([
            "--pedantic",
            "--display-experimental",
            "--fail-on",
            "error,warning,info,pedantic,experimental",
            "--tag-display-limit",
            "0",
        ])
        .arg(&deb)
        .output()
        .unwrap();
    let tags = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && tags.trim().is_empty(),
        "lintian ({}):\n{tags}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn two_builds_of_one_commit_are_byte_identical() {
    if !tools("reproducible package", &[CARGO_DEB, DPKG_DEB], true) {
        return;
    }
    let _turn = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let first_path = build("deb", "022");
    let first = fs::read(&first_path).unwrap();
    let first_list = stdout(Command::new("dpkg-deb").arg("--contents").arg(&first_path));

    // The second build compiles groundwork's own code again, generates its files anew, finds
    // packaged files with a new time (only those no build reads, so nothing else rebuilds), and
    // runs under another umask: none of it may reach the package.
    run(outside_cargo_test(
        Command::new("cargo")
            .current_dir(ROOT)
            .args(["clean", "--release", "-p", "groundwork"]),
    ));
    for input in [
        "README.md",
        "packaging/debian/changelog",
        "packaging/debian/copyright",
    ] {
        let file = fs::File::options()
            .append(true)
            .open(Path::new(ROOT).join(input))
            .unwrap();
        file.set_modified(std::time::SystemTime::now()).unwrap();
    }
    let second_path = build("deb", "077");
    let second = fs::read(&second_path).unwrap();
    let second_list = stdout(Command::new("dpkg-deb").arg("--contents").arg(&second_path));
    assert_eq!(first_list, second_list, "the two packages' file lists");
    assert!(
        first == second,
        "the two builds differ ({} and {} bytes) although their file lists are equal",
        first.len(),
        second.len()
    );
}

#[test]
fn the_rpm_holds_the_same_files_and_requires_shadow_utils() {
    let needed = [
        (
            "cargo",
            &["generate-rpm", "--version"][..],
            "cargo install cargo-generate-rpm --locked",
        ),
        ("rpm", &["--version"][..], "apt-get install rpm"),
    ];
    // CI does not build the RPM: its tool would cost another cold `cargo install`.
    if !tools("rpm", &needed, false) {
        return;
    }
    let _turn = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let rpm = build("rpm", "022");
    let query = |args: &[&str]| stdout(Command::new("rpm").args(args).arg(&rpm));

    let files: BTreeSet<String> = query(&["-qlp"]).lines().map(String::from).collect();
    let mut want: BTreeSet<String> = SHARED_FILES.iter().map(|s| s.to_string()).collect();
    want.insert("/usr/share/zsh/site-functions/_groundwork".into());
    let groundwork = Path::new(ROOT).join("target/release/groundwork");
    for name in man_pages(&groundwork) {
        // An RPM holds the pages as they are; rpmbuild would compress them, cargo-generate-rpm
        // does not.
        want.insert(man_path(&name).trim_end_matches(".gz").to_string());
    }
    assert_eq!(files, want, "rpm -qlp");

    // Owners and modes, as `rpm -qlvp` prints them.
    for line in query(&["-qlvp"]).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (mode, user, group, path) = (f[0], f[2], f[3], f[f.len() - 1]);
        assert_eq!((user, group), ("root", "root"), "{line}");
        let want_mode = if path.starts_with("/usr/bin/") || path.starts_with("/usr/libexec/") {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert_eq!(mode, want_mode, "{line}");
    }

    let requires = query(&["-qp", "--requires"]);
    let requires: Vec<&str> = requires.lines().map(str::trim).collect();
    assert!(requires.contains(&"shadow-utils"), "{requires:?}");
    assert!(
        requires.iter().any(|r| r.starts_with("libc.so.6")),
        "{requires:?}"
    );
    assert!(
        !requires.iter().any(|r| r.contains("uidmap")),
        "{requires:?}"
    );
    assert_eq!(query(&["-qp", "--recommends"]).trim(), "sudo");
    assert_eq!(query(&["-qp", "--scripts"]).trim(), "");

    // Reproducible too: the same bytes from a second run.
    let first = fs::read(&rpm).unwrap();
    let again = build("rpm", "077");
    assert!(first == fs::read(again).unwrap(), "two RPM builds differ");
}
