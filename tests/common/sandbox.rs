//! A sandbox for running the REAL `groundwork-helper` as root, so that the requests it accepts
//! execute for real without touching the machine the tests run on.
//!
//! Each run is `unshare --mount --net --propagation private -- sh -c SCRIPT`. The script, in the
//! new mount namespace, puts the sandbox's own directories over the paths the helper reads and
//! writes, makes everything else read-only, and starts the helper with a cleared environment
//! (and SUDO_UID when a user asks):
//!
//! - `/etc` is the sandbox's own small /etc: passwd and group with the test users (alice 2001,
//!   mallory 2002, bob 2003), subuid, subgid, login.defs, an nsswitch.conf that reads only those
//!   files, groundwork/policy.yaml, and the directories the verbs write into (sysctl.d,
//!   modules-load.d, systemd/system/user@.service.d, apparmor.d). A whole directory and not
//!   single files: the helper renames its temp files over /etc/subuid, and a rename onto a
//!   bind-mounted file fails with EBUSY. shadow's lock (/etc/.pwd.lock, /etc/subuid.lock) is
//!   the sandbox's too.
//! - `/usr/local/bin`, `/opt`, `/var/lib` and `/run` are sandbox directories (install_k3s, the
//!   pending follow-up markers under /var/lib/groundwork, the lock of privileged requests).
//! - `/usr/bin` and `/usr/sbin` are read-only overlays with STAND-INS on top for every tool a
//!   verb runs (systemctl, loginctl, apt-get, apparmor_parser, modprobe, useradd, usermod): each
//!   records its arguments and exits with the code the test chose, so no module is loaded and no
//!   package installed.
//! - `/dev` is a sandbox directory holding the real null, zero, full, random and urandom, and a
//!   `log` socket that this process listens on: the helper's syslog lines come here.
//! - `/proc/sys` is read-only except `/proc/sys/net`, which belongs to the new network
//!   namespace: net.ipv4.* writes are real and private, and a write the helper should have
//!   refused to any other key fails instead of changing the host.
//! - `/` is read-only: whatever else the helper might write fails.
//!
//! All sandbox files and directories are root's with mode 0755 (0644 for files), so that the
//! helper's trust checks pass. Every directory is reachable from the test, which inspects the
//! results after the run; the mounts vanish with the namespace.

#![allow(dead_code)]

use groundwork::privileged::{Kind, Response};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const HELPER: &str = env!("CARGO_BIN_EXE_groundwork-helper");
pub const ALICE: u32 = 2001;
pub const MALLORY: u32 = 2002;
pub const BOB: u32 = 2003;
pub const EXIT_DONE: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_REFUSED: i32 = 2;

/// How long a run may take before the test gives up on it (and kills it).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
alice:x:2001:2001::/home/alice:/bin/sh\n\
mallory:x:2002:2002::/home/mallory:/bin/sh\n\
bob:x:2003:2003::/home/bob:/bin/sh\n";

pub const GROUP: &str = "root:x:0:\n\
nogroup:x:65534:\n\
alice:x:2001:\n\
mallory:x:2002:\n\
bob:x:2003:\n\
k3s-ops:x:2100:alice,bob\n\
builders:x:2101:bob\n";

pub const LOGIN_DEFS: &str = "# login.defs of the helper sandbox\n\
SUB_UID_MIN\t\t   100000\n\
SUB_UID_MAX\t\t600100000\n\
SUB_GID_MIN\t\t   100000\n\
SUB_GID_MAX\t\t600100000\n";

/// The tools a verb may run, where the helper looks for them, stood in for by a script.
const STAND_INS: &[(&str, &str)] = &[
    ("bin", "systemctl"),
    ("bin", "loginctl"),
    ("bin", "apt-get"),
    ("sbin", "apparmor_parser"),
    ("sbin", "modprobe"),
    ("sbin", "useradd"),
    ("sbin", "usermod"),
];

const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// CI runs the suite as root with CI=true; there, a sandbox that cannot run is a failure.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Says loudly, once per test binary, what was not tested. Written to the stderr handle, not
/// through `eprintln!`, so that the harness's output capture cannot hide it.
fn skipped(why: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            io::stderr(),
            "==== SKIPPED (needs root): the helper sandbox tests ran nothing: {why} ===="
        );
    });
}

/// Why the sandbox cannot run here, if it cannot.
fn cannot_run() -> Option<String> {
    if !is_root() {
        return Some("this process is not root".into());
    }
    let probe = Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "--"])
        .args(["/bin/sh", "-c", "mount -t tmpfs tmpfs /mnt"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output();
    match probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "unshare --mount --net failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run unshare: {e}")),
    }
}

/// A fresh sandbox, or None (with one loud line) when this is not root and not CI. Panics
/// when CI=true and the sandbox cannot run: CI must never pass these tests by skipping them.
pub fn sandbox() -> Option<Sandbox> {
    static VERDICT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    match VERDICT.get_or_init(cannot_run) {
        None => Some(Sandbox::new().expect("the sandbox's files can be created")),
        Some(why) if in_ci() => {
            panic!("CI is set, but the helper sandbox cannot run: {why}")
        }
        Some(why) => {
            skipped(why);
            None
        }
    }
}

/// Single-quotes for sh.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// One request to the helper.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// SUDO_UID exactly as set; None runs the helper as root without it.
    pub sudo_uid: Option<String>,
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
    /// Shell run in the namespace before the helper starts (its limits pass on to the helper).
    pub pre: String,
    /// Shell run in the namespace after the helper ended; its output is `Run::post`.
    pub post: String,
    /// Capabilities dropped from the helper's bounding set (so root starts it without them).
    pub drop_caps: Vec<String>,
    /// Runs this program (argv) instead of the helper, with HOME and PATH only.
    pub command: Option<Vec<String>>,
    /// With `command`: the uid (and gid) it runs as, instead of root.
    pub as_uid: Option<u32>,
}

impl Call {
    /// A request from the user with this uid.
    pub fn user(uid: u32) -> Call {
        Call {
            sudo_uid: Some(uid.to_string()),
            ..Call::default()
        }
    }

    /// A request from root itself, through sudo (SUDO_UID=0).
    pub fn root() -> Call {
        Call::user(0)
    }

    /// The request line: `value` as JSON and a newline.
    pub fn json(mut self, value: serde_json::Value) -> Call {
        self.stdin = serde_json::to_vec(&value).unwrap();
        self.stdin.push(b'\n');
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Call {
        self.stdin = bytes.into();
        self
    }

    /// Appends bytes after what stdin already holds (install_k3s's payload).
    pub fn then_bytes(mut self, bytes: &[u8]) -> Call {
        self.stdin.extend_from_slice(bytes);
        self
    }

    pub fn pre(mut self, sh: &str) -> Call {
        self.pre = sh.to_string();
        self
    }

    pub fn post(mut self, sh: &str) -> Call {
        self.post = sh.to_string();
        self
    }

    /// Runs another program in the sandbox instead of the helper (the agent, say).
    pub fn command(argv: &[&str]) -> Call {
        Call {
            command: Some(argv.iter().map(|a| a.to_string()).collect()),
            ..Call::default()
        }
    }

    /// With `command`: runs it as this user (uid and gid alike, no other groups).
    pub fn run_as(mut self, uid: u32) -> Call {
        self.as_uid = Some(uid);
        self
    }

    /// Starts the helper without this capability (`sys_resource`, ...).
    pub fn without_cap(mut self, cap: &str) -> Call {
        self.drop_caps.push(cap.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Call {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }
}

/// What one run of the helper did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The reply, when stdout is one JSON line.
    pub response: Option<Response>,
    /// What `Call::post` printed.
    pub post: String,
    pub elapsed: Duration,
    /// The syslog datagrams that arrived while it ran, raw.
    pub log: Vec<Vec<u8>>,
}

impl Run {
    /// The helper's own log lines (`groundwork-helper[pid]: ...`), lossily decoded.
    pub fn helper_log(&self) -> Vec<String> {
        self.log
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .filter(|l| l.contains("groundwork-helper["))
            .collect()
    }

    fn what(&self) -> String {
        format!(
            "exit {} after {:?}\nstdout: {}\nstderr: {}\nlog: {:?}",
            self.code,
            self.elapsed,
            self.stdout.trim_end(),
            self.stderr.trim_end(),
            self.helper_log()
        )
    }

    pub fn response(&self) -> &Response {
        self.response
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON reply: {}", self.what()))
    }

    /// Exactly one log line, about this outcome (and this invoker, when given).
    pub fn assert_logged(&self, outcome: &str, invoker: Option<&str>) -> String {
        let lines = self.helper_log();
        assert_eq!(lines.len(), 1, "one log line per request: {}", self.what());
        let line = &lines[0];
        assert!(
            line.contains(&format!(" outcome={outcome} ")),
            "outcome={outcome} in {line:?}"
        );
        if let Some(who) = invoker {
            assert!(
                line.contains(&format!("invoker={who}")),
                "{who} in {line:?}"
            );
        }
        line.clone()
    }

    /// Refused by policy or validation: exit 2, kind refused, nothing changed, logged.
    pub fn assert_refused(&self, expect: &str) -> &Self {
        let what = self.what();
        assert_eq!(self.code, EXIT_REFUSED, "{what}");
        let r = self.response();
        assert_eq!(
            (r.ok, r.changed, r.kind),
            (false, false, Kind::Refused),
            "{what}"
        );
        assert!(r.msg.contains(expect), "expected {expect:?} in: {what}");
        self.assert_logged("refused", None);
        self
    }

    /// Done: exit 0, kind done, `changed` as given, logged.
    pub fn assert_done(&self, changed: bool) -> &Self {
        let what = self.what();
        assert_eq!(self.code, EXIT_DONE, "{what}");
        let r = self.response();
        assert_eq!(
            (r.ok, r.changed, r.kind),
            (true, changed, Kind::Done),
            "{what}"
        );
        self.assert_logged(if changed { "changed" } else { "unchanged" }, None);
        self
    }

    /// Failed: exit 1, kind failed, `changed` as given, logged.
    pub fn assert_failed(&self, changed: bool, expect: &str) -> &Self {
        let what = self.what();
        assert_eq!(self.code, EXIT_FAILED, "{what}");
        let r = self.response();
        assert_eq!(
            (r.ok, r.changed, r.kind),
            (false, changed, Kind::Failed),
            "{what}"
        );
        assert!(r.msg.contains(expect), "expected {expect:?} in: {what}");
        self.assert_logged("failed", None);
        self
    }
}

/// A helper run in progress: its stdin stays open until written and closed.
pub struct Spawned {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
    post_file: PathBuf,
    ok_file: PathBuf,
    started: Instant,
}

impl Spawned {
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("stdin already closed"))?
            .write_all(bytes)
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the run to end; kills it and panics after `timeout`.
    fn wait_raw(&mut self, timeout: Duration) -> (i32, String, String, Duration) {
        let child = self.child.as_mut().expect("waited once");
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if self.started.elapsed() > timeout {
                kill_group(child);
                let _ = child.wait();
                self.child = None;
                panic!("the helper run did not end within {timeout:?}: killed");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        self.child = None;
        self.stdin = None;
        let stdout = self.out.take().unwrap().join().unwrap();
        let stderr = self.err.take().unwrap().join().unwrap();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        assert!(
            self.ok_file.exists(),
            "the sandbox could not be set up (exit {status}): {stderr}"
        );
        (
            status.code().unwrap_or(128 + 9),
            String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
            elapsed,
        )
    }
}

fn kill_group(child: &Child) {
    // The run is its own process group (started with process_group(0)): the sh, the helper
    // and any tool it started.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            kill_group(child);
            let _ = child.wait();
        }
    }
}

/// The sandbox's files, and the socket that receives the helper's syslog lines.
pub struct Sandbox {
    dir: tempfile::TempDir,
    log: UnixDatagram,
    runs: AtomicUsize,
}

impl Sandbox {
    pub fn new() -> io::Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("groundwork-helper-sandbox-")
            .tempdir()?;
        let root = dir.path();
        for d in [
            "etc/groundwork",
            "etc/sysctl.d",
            "etc/modules-load.d",
            "etc/systemd/system/user@.service.d",
            "etc/apparmor.d",
            "usr-local-bin",
            "opt",
            "var-lib",
            "run/lock",
            "dev",
            "stand-ins/bin",
            "stand-ins/sbin",
            "calls",
            "exit-codes",
            "out",
            "marks",
        ] {
            fs::create_dir_all(root.join(d))?;
        }
        let sb = Sandbox {
            log: {
                let sock = UnixDatagram::bind(root.join("dev/log"))?;
                sock.set_nonblocking(true)?;
                sock
            },
            dir,
            runs: AtomicUsize::new(0),
        };
        let root = sb.dir.path();
        // Every directory the helper can see is root's and 0755, as on a real host.
        for entry in walk(root)? {
            if fs::symlink_metadata(&entry)?.is_dir() {
                fs::set_permissions(&entry, fs::Permissions::from_mode(0o755))?;
            }
        }
        // Marks are left by stand-ins that any user may run; /run/lock is every user's, as on a
        // systemd host (groundwork's own lock is there).
        for shared in ["marks", "run/lock"] {
            fs::set_permissions(root.join(shared), fs::Permissions::from_mode(0o1777))?;
        }
        sb.write("/etc/passwd", PASSWD);
        sb.write("/etc/group", GROUP);
        sb.write("/etc/subuid", "");
        sb.write("/etc/subgid", "");
        sb.write("/etc/login.defs", LOGIN_DEFS);
        sb.write(
            "/etc/nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\n",
        );
        if let Ok(cache) = fs::read("/etc/ld.so.cache") {
            fs::write(root.join("etc/ld.so.cache"), cache)?;
        }
        for d in DEVICES {
            fs::write(root.join("dev").join(d), "")?;
        }
        for (link, to) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            std::os::unix::fs::symlink(to, root.join("dev").join(link))?;
        }
        let calls = root.join("calls/log");
        for (dir, tool) in STAND_INS {
            let script = format!(
                "#!/bin/sh\n\
                 # STAND-IN for {tool}, written by the helper sandbox tests: it records its\n\
                 # arguments and exits with the code the test chose.\n\
                 printf '%s\\n' \"{tool} $*\" >> {calls}\n\
                 if [ -f {codes}/{tool} ]; then exit \"$(cat {codes}/{tool})\"; fi\n\
                 exit 0\n",
                calls = q(&calls.to_string_lossy()),
                codes = q(&root.join("exit-codes").to_string_lossy()),
            );
            let path = root.join("stand-ins").join(dir).join(tool);
            fs::write(&path, script)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        }
        Ok(sb)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Where the sandbox keeps what the helper sees at `abs`.
    pub fn path(&self, abs: &str) -> PathBuf {
        for (prefix, dir) in [
            ("/etc", "etc"),
            ("/usr/local/bin", "usr-local-bin"),
            ("/opt", "opt"),
            ("/var/lib", "var-lib"),
            ("/run", "run"),
        ] {
            if abs == prefix {
                return self.root().join(dir);
            }
            if let Some(rest) = abs.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
                return self.root().join(dir).join(rest);
            }
        }
        panic!("{abs} is not inside the sandbox");
    }

    /// Writes a root-owned file of mode 0644.
    pub fn write(&self, abs: &str, content: impl AsRef<[u8]>) -> PathBuf {
        self.write_mode(abs, content, 0o644)
    }

    pub fn write_mode(&self, abs: &str, content: impl AsRef<[u8]>, mode: u32) -> PathBuf {
        let p = self.path(abs);
        let parent = p.parent().expect("a file path");
        if !parent.exists() {
            fs::create_dir_all(parent).unwrap();
            let mut d = parent;
            while d != self.root() {
                fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
                d = d.parent().unwrap();
            }
        }
        let _ = fs::remove_file(&p);
        fs::write(&p, content).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        nix::unistd::chown(&p, Some(0.into()), Some(0.into())).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    pub fn read(&self, abs: &str) -> Option<String> {
        fs::read_to_string(self.path(abs)).ok()
    }

    pub fn read_bytes(&self, abs: &str) -> Option<Vec<u8>> {
        fs::read(self.path(abs)).ok()
    }

    /// Mode (all 12 bits), uid and gid of a file, not following a symlink.
    pub fn stat(&self, abs: &str) -> Option<(u32, u32, u32)> {
        fs::symlink_metadata(self.path(abs))
            .ok()
            .map(|m| (m.mode() & 0o7777, m.uid(), m.gid()))
    }

    /// Names in a sandbox directory, sorted.
    pub fn list(&self, abs: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(abs))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Everything in a directory: name, mode, owner and a hash of the content, to compare
    /// before and after.
    pub fn snapshot(&self, abs: &str) -> Vec<String> {
        self.list(abs)
            .into_iter()
            .map(|name| {
                let p = format!("{abs}/{name}");
                let (mode, uid, gid) = self.stat(&p).unwrap_or_default();
                let link = fs::read_link(self.path(&p)).ok();
                let content = match link {
                    Some(to) => format!("-> {}", to.display()),
                    None => self
                        .read_bytes(&p)
                        .map(|b| sha256_hex(&b))
                        .unwrap_or_else(|| "<dir>".into()),
                };
                format!("{name} {mode:o} {uid}:{gid} {content}")
            })
            .collect()
    }

    /// The policy root wrote.
    pub fn set_policy(&self, yaml: &str) {
        self.write("/etc/groundwork/policy.yaml", yaml);
    }

    /// Makes a stand-in tool exit with `code` from now on.
    pub fn set_tool_exit(&self, tool: &str, code: i32) {
        fs::write(self.root().join("exit-codes").join(tool), code.to_string()).unwrap();
    }

    /// The stand-in tools run so far, one line each: `tool args...`.
    pub fn tool_calls(&self) -> Vec<String> {
        fs::read_to_string(self.root().join("calls/log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A STAND-IN binary that leaves a mark (`uid args`) in `marks/NAME` whenever anyone runs
    /// it, and answers like k3s.
    pub fn marking_script(&self, name: &str) -> Vec<u8> {
        // Writable for every user who may run it.
        let marks = self.root().join("marks").join(name);
        if !marks.exists() {
            fs::write(&marks, "").unwrap();
            fs::set_permissions(&marks, fs::Permissions::from_mode(0o666)).unwrap();
        }
        format!(
            "#!/bin/sh\n\
             # STAND-IN written by the helper sandbox tests: it only records that it ran.\n\
             echo \"$(id -u) $*\" >> {}\n\
             echo 'k3s version v1.33.6+k3s1 (00000000)'\n",
            q(&self.root().join("marks").join(name).to_string_lossy())
        )
        .into_bytes()
    }

    /// The marks a marking script left: one `uid args` line per run.
    pub fn marks(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.root().join("marks").join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Syslog datagrams received so far and not yet taken.
    pub fn take_log(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.log.recv(&mut buf) {
                Ok(n) => out.push(buf[..n].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return out,
                Err(e) => panic!("reading the log socket: {e}"),
            }
        }
    }

    fn script(&self, call: &Call, ok_file: &Path, post_file: &Path) -> String {
        let root = self.root();
        let r = |p: &str| q(&root.join(p).to_string_lossy());
        let mut s = String::from("fail() { echo \"sandbox setup: $*\" >&2; exit 99; }\n");
        let mut m = |cmd: String| {
            s.push_str(&format!("{cmd} || fail {}\n", q(&cmd)));
        };
        // The sandbox directory stays writable once / is read-only.
        m(format!("mount --bind {} {}", r(""), r("")));
        for d in DEVICES {
            m(format!("mount --bind /dev/{d} {}", r(&format!("dev/{d}"))));
        }
        m(format!("mount --rbind {} /dev", r("dev")));
        m(format!(
            "mount --bind {} /usr/local/bin",
            r("usr-local-bin")
        ));
        m(format!("mount --bind {} /opt", r("opt")));
        m(format!("mount --bind {} /var/lib", r("var-lib")));
        m(format!("mount --bind {} /run", r("run")));
        for dir in ["bin", "sbin"] {
            m(format!(
                "mount -t overlay overlay -o lowerdir={}:/usr/{dir} /usr/{dir}",
                root.join("stand-ins").join(dir).display()
            ));
        }
        m("mount --bind /proc/sys /proc/sys".into());
        m("mount -o remount,bind,ro /proc/sys".into());
        m("mount --bind /proc/sys/net /proc/sys/net".into());
        m("mount -o remount,bind,rw /proc/sys/net".into());
        m(format!("mount --bind {} /etc", r("etc")));
        m("mount -o remount,bind,ro /".into());
        s.push_str(&format!(": > {}\n", q(&ok_file.to_string_lossy())));
        s.push_str(&call.pre);
        s.push('\n');
        let mut helper = String::new();
        if let Some(uid) = call.as_uid {
            helper.push_str(&format!(
                "setpriv --reuid={uid} --regid={uid} --clear-groups -- "
            ));
        }
        if !call.drop_caps.is_empty() {
            let caps: Vec<String> = call.drop_caps.iter().map(|c| format!("-{c}")).collect();
            helper.push_str(&format!("setpriv --bounding-set {} -- ", caps.join(",")));
        }
        helper.push_str("env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin");
        if let Some(uid) = &call.sudo_uid {
            helper.push_str(&format!(" SUDO_UID={}", q(uid)));
        }
        match &call.command {
            None => helper.push_str(&format!(" {}", q(HELPER))),
            Some(argv) => {
                let home = if call.as_uid.is_some() {
                    "/tmp"
                } else {
                    "/root"
                };
                helper.push_str(&format!(" HOME={home}"));
                for a in argv {
                    helper.push(' ');
                    helper.push_str(&q(a));
                }
            }
        }
        for a in &call.args {
            helper.push(' ');
            helper.push_str(&q(a));
        }
        s.push_str(&format!("{helper}\nrc=$?\n"));
        s.push_str(&format!(
            "{{ {}\n}} > {} 2>&1 < /dev/null\nexit $rc\n",
            if call.post.is_empty() {
                ":"
            } else {
                &call.post
            },
            q(&post_file.to_string_lossy())
        ));
        s
    }

    /// Starts a run; its stdin is open and empty.
    pub fn spawn(&self, call: &Call) -> Spawned {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let ok_file = self.root().join(format!("out/{n}.ok"));
        let post_file = self.root().join(format!("out/{n}.post"));
        let script = self.script(call, &ok_file, &post_file);
        let started = Instant::now();
        let mut child = Command::new("unshare")
            .args(["--mount", "--net", "--propagation", "private", "--"])
            .args(["/bin/sh", "-c", &script])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir("/")
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare starts");
        let reader = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        };
        let out = reader(Box::new(child.stdout.take().unwrap()));
        let err = reader(Box::new(child.stderr.take().unwrap()));
        Spawned {
            stdin: child.stdin.take(),
            child: Some(child),
            out: Some(out),
            err: Some(err),
            post_file,
            ok_file,
            started,
        }
    }

    /// Waits for a spawned run and collects what it did (and the log lines since the last
    /// collection).
    pub fn finish(&self, mut s: Spawned, timeout: Duration) -> Run {
        let (code, stdout, stderr, elapsed) = s.wait_raw(timeout);
        let response = match stdout.lines().collect::<Vec<_>>()[..] {
            [line] => serde_json::from_str::<Response>(line).ok(),
            _ => None,
        };
        Run {
            code,
            response,
            post: fs::read_to_string(&s.post_file).unwrap_or_default(),
            stdout,
            stderr,
            elapsed,
            log: self.take_log(),
        }
    }

    /// One whole run: stdin written and closed, then waited for.
    pub fn run(&self, call: Call) -> Run {
        let _ = self.take_log();
        let mut s = self.spawn(&call);
        // The helper may stop reading early (a refusal): a broken pipe is not an error here.
        let _ = s.write(&call.stdin);
        s.close_stdin();
        self.finish(s, RUN_TIMEOUT)
    }
}

fn walk(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = vec![dir.to_path_buf()];
    for entry in fs::read_dir(dir)? {
        let p = entry?.path();
        if fs::symlink_metadata(&p)?.is_dir() {
            out.extend(walk(&p)?);
        }
    }
    Ok(out)
}
