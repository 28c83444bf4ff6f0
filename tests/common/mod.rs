//! Test hosts for the CLI tests: a temporary directory that holds a host's files, which
//! `groundwork --root DIR` observes instead of `/`.
//!
//! `Host::fresh()` is a Debian 12 host as it boots, from real captured files
//! (tests/fixtures/debian12, see its README). `Host::converged()` is the same host after a
//! successful `apply` of examples/rootless-k3s.yaml: `plan` exits 0 on it. The files groundwork
//! manages are rendered with groundwork's own functions, so the fixture follows the renderers;
//! everything else is captured or written here by hand. Tests then break one thing at a time
//! with the mutators, and snapshot what the commands say. `Host::fresh_on(Release::Trixie)` and
//! `Host::converged_on(Release::Trixie)` are the same from a Debian 13 VM
//! (tests/fixtures/debian13).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use groundwork::host::session::{unit_path, wants_link};
use groundwork::resources::{delegation, modules, sysctl, unit_file};
use groundwork::spec::{Spec, SpecSource};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The embedded default spec, as shipped.
pub const SHIPPED_SPEC: &str = include_str!("../../examples/rootless-k3s.yaml");
/// The k3s release the stand-in plays. It is not in groundwork's table of published releases
/// (whose checksums only the real binaries have): root's policy on each test host allows the
/// stand-in's bytes as this release instead, as an administrator would allow a build of theirs.
pub const STANDIN_VERSION: &str = "v1.31.4+k3s1";

/// The spec every CLI test starts from: the embedded default, pinned to the stand-in's release.
pub static EXAMPLE_SPEC: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let pinned = SHIPPED_SPEC
        .lines()
        .find(|l| l.trim_start().starts_with("version: v"))
        .expect("the example pins k3s");
    SHIPPED_SPEC.replace(pinned, &format!("  version: {STANDIN_VERSION}"))
});
/// Stands for the spec's path in `Host::groundwork` arguments.
pub const SPEC: &str = "{spec}";
/// The Debian 12 VM's kernel; `Release::kernel` has each release's.
pub const KERNEL: &str = Release::Bookworm.kernel();
/// The account, its uid and home, the same in every captured VM (`useradd -m k3s`, the first
/// user).
pub const USER: &str = "k3s";
pub const UID: u32 = 1000;
pub const HOME: &str = "/home/k3s";

/// A Debian release whose captured files a test host starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Debian 12: tests/fixtures/debian12.
    Bookworm,
    /// Debian 13: tests/fixtures/debian13.
    Trixie,
}

impl Release {
    /// The captured VM's kernel (`uname -r`).
    pub const fn kernel(self) -> &'static str {
        match self {
            Release::Bookworm => "6.1.0-50-amd64",
            Release::Trixie => "6.12.117+deb13-amd64",
        }
    }

    /// The directory of its captured trees.
    pub fn fixtures(self) -> PathBuf {
        let name = match self {
            Release::Bookworm => "debian12",
            Release::Trixie => "debian13",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }
}

/// A STAND-IN for the k3s binary: groundwork only runs `k3s --version`, and this answers it with
/// the two lines that the v1.31.4+k3s1 release prints.
pub fn k3s_standin(version: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # STAND-IN for k3s, written by groundwork's CLI tests: it only answers --version.\n\
         case \"$1\" in\n\
         --version) printf 'k3s version {version} (a562d090)\\ngo version go1.22.9\\n' ;;\n\
         *) echo 'stand-in k3s: only --version' >&2; exit 1 ;;\n\
         esac\n"
    )
}

/// Whether this process can make a setuid-root file (a real newuidmap is one).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The parsed example spec, for rendering the files groundwork manages.
pub fn example_spec() -> Spec {
    groundwork::spec::parse(&SpecSource {
        name: "examples/rootless-k3s.yaml".into(),
        text: EXAMPLE_SPEC.clone(),
    })
    .expect("the example spec is valid")
}

/// A temporary host: `<tmp>/root` is the host's `/`, `<tmp>/spec.yaml` the spec, and
/// `<tmp>/cache` is XDG_CACHE_HOME, so that the k3s version cache stays within the test.
pub struct Host {
    tmp: tempfile::TempDir,
    release: Release,
}

/// What one run of groundwork printed.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    tmp: String,
    spec_sha256: String,
}

impl Host {
    /// An empty root and the example spec: for commands that must not observe anything.
    pub fn bare() -> Host {
        let tmp = tempfile::Builder::new()
            .prefix("groundwork-test-")
            .tempdir()
            .expect("a temporary directory");
        let host = Host {
            tmp,
            release: Release::Bookworm,
        };
        fs::create_dir_all(host.root()).expect("the root directory");
        host.set_spec(EXAMPLE_SPEC.as_str());
        host
    }

    /// A Debian 12 host straight after boot: systemd, pure cgroup v2, no k3s account, none of
    /// the packages, no subordinate ids, ip_forward 0.
    pub fn fresh() -> Host {
        Host::fresh_on(Release::Bookworm)
    }

    /// The fresh host after `apply` of the example spec: every resource in sync.
    pub fn converged() -> Host {
        Host::converged_on(Release::Bookworm)
    }

    /// A host of this release straight after boot.
    pub fn fresh_on(release: Release) -> Host {
        let mut host = Host::bare();
        host.release = release;
        copy_tree(&release.fixtures().join("fresh"), &host.root());
        // Empty directories, which git does not keep.
        host.mkdir("/run/systemd/system")
            .mkdir("/home")
            .mkdir("/var/lib/systemd/linger");
        // Not in the captured trees, which predate the default spec's inotify minimums (capture.sh
        // records them now): the kernel's own default of instances, and its floor of watches
        // (kernels from 5.11 compute the default from the memory, never below 8192).
        host.write("/proc/sys/fs/inotify/max_user_instances", "128\n")
            .write("/proc/sys/fs/inotify/max_user_watches", "8192\n");
        host
    }

    /// The fresh host of this release after `apply` of the example spec: every resource in sync.
    pub fn converged_on(release: Release) -> Host {
        let host = Host::fresh_on(release);
        copy_tree(&release.fixtures().join("prepared"), &host.root());
        let spec = example_spec();
        host.mkdir(HOME);
        // Only their owner and mode matter to groundwork. git keeps no setuid bit, and only root
        // can make a file that is setuid root: elsewhere the host has no id-mapping tools, which
        // groundwork does not flag either.
        if is_root() {
            for tool in ["/usr/bin/newuidmap", "/usr/bin/newgidmap"] {
                host.write(tool, "stand-in: only its owner and mode are observed\n")
                    .chmod(tool, 0o4755);
            }
        }
        host.install_k3s(STANDIN_VERSION);
        // apply raises the limits (the VMs had 7811 and 7825 namespaces, and the kernel's 128
        // inotify instances) and persists every setting.
        host.write("/proc/sys/user/max_user_namespaces", "28633\n");
        host.write("/proc/sys/fs/inotify/max_user_instances", "512\n");
        host.write("/proc/sys/fs/inotify/max_user_watches", "524288\n");
        // groundwork's file, as apply writes it: what the plan for this host wants there.
        let facts = sysctl::observe(&groundwork::host::HostRoot::new(host.root()), &spec)
            .expect("the fixture's sysctls");
        let settings = sysctl::persisted_settings(&spec, &facts, None);
        host.write(
            sysctl::MANAGED_FILE,
            &groundwork::managed_files::render_sysctl_file(&settings),
        );
        host.write(
            modules::MANAGED_FILE,
            &groundwork::managed_files::render_modules_file(&spec.modules),
        );
        host.write(
            delegation::DROPIN,
            &groundwork::managed_files::render_delegation_dropin(&spec.cgroup.delegate),
        );
        host.write(&unit_path(HOME), &unit_file::render(&spec));
        host.symlink(&unit_path(HOME), &wants_link(HOME));
        // The user manager's socket; a plain file stands in for it.
        host.write(&format!("/run/user/{UID}/systemd/private"), "");
        host
    }

    /// Ubuntu 24.04's AppArmor: the kernel restricts unprivileged user namespaces, and the
    /// AppArmor 4 ABI is installed. Without the profile, rootless k3s cannot start.
    pub fn restricting_userns(&self) -> &Self {
        self.write(
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1\n",
        )
        .write(
            "/etc/apparmor.d/abi/4.0",
            "# stand-in for AppArmor's 4.0 ABI\n",
        )
    }

    /// The AppArmor profile that groundwork installs for the spec's k3s.
    pub fn with_apparmor_profile(&self) -> &Self {
        let binary = &example_spec().k3s.install_path;
        self.write(
            &groundwork::managed_files::apparmor_profile_path(binary),
            &groundwork::managed_files::render_apparmor_profile(binary),
        )
    }

    /// A hybrid cgroup host, as this project's build machine is: v1 controllers, and an
    /// unused v2 tree at /sys/fs/cgroup/unified (its cgroup.controllers held `hugetlb`).
    pub fn hybrid_cgroups(&self) -> &Self {
        self.legacy_cgroups()
            .write("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n")
    }

    /// Pure cgroup v1: only the v1 controller hierarchies are mounted.
    pub fn legacy_cgroups(&self) -> &Self {
        self.remove("/sys/fs/cgroup");
        for c in [
            "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd",
        ] {
            self.mkdir(&format!("/sys/fs/cgroup/{c}"));
        }
        self
    }

    /// The k3s stand-in, answering `--version` with this version, and allowed in root's policy
    /// as that release (groundwork identifies a binary by its sha256, never by running it).
    pub fn install_k3s(&self, version: &str) -> &Self {
        let script = k3s_standin(version);
        self.write("/usr/local/bin/k3s", &script)
            .chmod("/usr/local/bin/k3s", 0o755)
            .allow_k3s(version, &script)
    }

    /// Adds a k3s build to root's policy (/etc/groundwork/policy.yaml) of this host.
    pub fn allow_k3s(&self, version: &str, bytes: &str) -> &Self {
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(bytes.as_bytes()));
        let path = self.path(groundwork::policy::POLICY_FILE);
        let mut text = fs::read_to_string(&path).unwrap_or_else(|_| "k3s:\n  allow:\n".into());
        text.push_str(&format!("    - {{ version: {version}, sha256: {sha} }}\n"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        self
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    /// The release whose captured files this host started from.
    pub fn release(&self) -> Release {
        self.release
    }

    /// Where this host's kernel keeps a file of its modules (modules.dep, modules.builtin).
    pub fn modules_file(&self, name: &str) -> String {
        format!("/lib/modules/{}/{name}", self.release.kernel())
    }

    pub fn spec_path(&self) -> PathBuf {
        self.tmp.path().join("spec.yaml")
    }

    /// A path outside the host, for files that commands write (`--textfile`).
    pub fn outside(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Where a host path lives in the temporary root.
    pub fn path(&self, host_path: &str) -> PathBuf {
        self.root()
            .join(host_path.strip_prefix('/').unwrap_or(host_path))
    }

    pub fn set_spec(&self, text: impl AsRef<[u8]>) -> &Self {
        fs::write(self.spec_path(), text).expect("the spec");
        self
    }

    /// Edits the spec; the text to replace must be there.
    pub fn edit_spec(&self, from: &str, to: &str) -> &Self {
        let text = fs::read_to_string(self.spec_path()).expect("the spec");
        assert!(text.contains(from), "the spec has no {from:?}");
        self.set_spec(text.replacen(from, to, 1))
    }

    pub fn read(&self, host_path: &str) -> String {
        fs::read_to_string(self.path(host_path))
            .unwrap_or_else(|e| panic!("cannot read {host_path} in the test host: {e}"))
    }

    pub fn write(&self, host_path: &str, content: &str) -> &Self {
        let path = self.path(host_path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("the parent directory");
        // Never write through a symlink that a fixture holds.
        let _ = fs::remove_file(&path);
        fs::write(&path, content).unwrap_or_else(|e| panic!("cannot write {host_path}: {e}"));
        self
    }

    /// Writes a file gzip-compressed, as the kernel serves /proc/config.gz.
    pub fn write_gz(&self, host_path: &str, content: &str) -> &Self {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(content.as_bytes()).expect("gzip");
        let path = self.path(host_path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("the parent directory");
        fs::write(&path, gz.finish().expect("gzip")).expect("write the gzip file");
        self
    }

    /// Edits a file of the host; the text to replace must be there, so that a fixture that
    /// changes under a test fails it instead of making it pass for the wrong reason.
    pub fn edit(&self, host_path: &str, from: &str, to: &str) -> &Self {
        let text = self.read(host_path);
        assert!(text.contains(from), "{host_path} has no {from:?}");
        self.write(host_path, &text.replace(from, to))
    }

    /// Removes a file, symlink or directory tree; it must exist.
    pub fn remove(&self, host_path: &str) -> &Self {
        let path = self.path(host_path);
        let meta = path
            .symlink_metadata()
            .unwrap_or_else(|e| panic!("cannot remove {host_path}: {e}"));
        if meta.is_dir() {
            fs::remove_dir_all(&path).expect("remove a directory");
        } else {
            fs::remove_file(&path).expect("remove a file");
        }
        self
    }

    pub fn mkdir(&self, host_path: &str) -> &Self {
        fs::create_dir_all(self.path(host_path)).expect("a directory");
        self
    }

    pub fn chmod(&self, host_path: &str, mode: u32) -> &Self {
        fs::set_permissions(self.path(host_path), fs::Permissions::from_mode(mode)).expect("chmod");
        self
    }

    /// A symlink at `host_path` that points to `target`, verbatim.
    pub fn symlink(&self, target: &str, host_path: &str) -> &Self {
        let path = self.path(host_path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("the parent directory");
        std::os::unix::fs::symlink(target, &path).expect("symlink");
        self
    }

    /// Runs groundwork with `--root` set to this host; `SPEC` in `args` is the spec's path.
    pub fn groundwork(&self, args: &[&str]) -> Output {
        self.groundwork_at(&self.root(), args)
    }

    /// Runs groundwork with `--root` set to another directory.
    pub fn groundwork_at(&self, root: &Path, args: &[&str]) -> Output {
        self.groundwork_with(root, &[], args)
    }

    /// Runs groundwork with `--root` set to `root` and these environment variables.
    pub fn groundwork_with(&self, root: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
        let spec = self.spec_path().display().to_string();
        let args: Vec<String> = args.iter().map(|a| a.replace(SPEC, &spec)).collect();
        run(root, self.tmp.path(), &args, env)
    }
}

fn run(root: &Path, tmp: &Path, args: &[String], env: &[(&str, &str)]) -> Output {
    let out = assert_cmd::cargo::cargo_bin_cmd!("groundwork")
        .arg("--root")
        .arg(root)
        .args(args)
        .current_dir(tmp)
        .env("XDG_CACHE_HOME", tmp.join("cache"))
        .env("NO_COLOR", "1")
        .env_remove("GROUNDWORK_LOG")
        .env_remove("GROUNDWORK_SPEC")
        .env_remove("COLUMNS")
        .env_remove("JOURNAL_STREAM")
        .envs(env.iter().copied())
        .output()
        .expect("groundwork runs");
    let spec_text = fs::read_to_string(tmp.join("spec.yaml")).unwrap_or_default();
    Output {
        code: out.status.code().expect("groundwork exits, not killed"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 on stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 on stderr"),
        tmp: tmp.display().to_string(),
        spec_sha256: groundwork::engine::diff::spec_sha256(&SpecSource {
            name: String::new(),
            text: spec_text,
        }),
    }
}

impl Output {
    /// Replaces what differs from run to run or machine to machine: the temporary directory,
    /// the spec's hash (it changes with every comment in the example;
    /// `plan_json_names_the_spec_and_its_hash` checks it) and the architecture.
    pub fn filter(&self, text: &str) -> String {
        text.replace(&self.tmp, "[TMP]")
            .replace(&self.spec_sha256, "[SPEC_SHA256]")
            .replace(
                &format!("\"architecture\": \"{}\"", std::env::consts::ARCH),
                "\"architecture\": \"[ARCH]\"",
            )
    }

    /// The exit code and both streams, filtered, for a snapshot.
    pub fn report(&self) -> String {
        format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code,
            self.filter(&self.stdout),
            self.filter(&self.stderr)
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.report()))
    }

    /// Asserts the exit code, showing everything when it is wrong.
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            expected,
            "unexpected exit code\n{}",
            self.report()
        );
        self
    }

    pub fn spec_sha256(&self) -> &str {
        &self.spec_sha256
    }
}

/// Copies a fixture tree, keeping symlinks as symlinks.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("a directory");
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("a directory entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("a file type");
        if kind.is_dir() {
            copy_tree(&src, &dst);
        } else if kind.is_symlink() {
            let _ = fs::remove_file(&dst);
            std::os::unix::fs::symlink(fs::read_link(&src).expect("a link"), &dst)
                .expect("symlink");
        } else {
            fs::copy(&src, &dst).expect("copy a fixture file");
        }
    }
}
