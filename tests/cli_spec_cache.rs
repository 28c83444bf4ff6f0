//! A spec that this build parsed and found valid is kept in the cache of the user who ran it, and
//! reused for the very same text (src/spec/parsed_cache.rs). A kept file that someone else could
//! have written or chosen (another owner, group- or world-writable, a symlink), one from another
//! build, or one for other text is never taken; an invalid spec is never kept.
//!
//! Each case plants an entry that says the spec's user is `planted`: `groundwork validate`
//! naming that user shows the entry was taken. The first case, where it must be taken, shows
//! that the others test something.

use serde_json::Value;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const SPEC: &str = "user: { name: k3s }\nk3s: { version: v1.31.4+k3s1 }\n";
const NOBODY: u32 = 65534;

/// groundwork run as an unprivileged user with its own cache: nobody when the test runs as
/// root (as on CI), else the test's own user.
struct User {
    dir: tempfile::TempDir,
    uid: u32,
}

impl User {
    fn new() -> User {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let uid = if nix::unistd::geteuid().is_root() {
            NOBODY
        } else {
            nix::unistd::geteuid().as_raw()
        };
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let user = User { dir, uid };
        fs::create_dir(user.cache_home()).unwrap();
        user.own(&user.cache_home());
        user.write_spec(SPEC);
        user
    }

    fn cache_home(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn kept(&self) -> PathBuf {
        self.cache_home().join("groundwork/parsed-specs.json")
    }

    fn spec(&self) -> PathBuf {
        self.dir.path().join("spec.yaml")
    }

    fn write_spec(&self, text: &str) {
        fs::write(self.spec(), text).unwrap();
        fs::set_permissions(self.spec(), fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn own(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.uid)).unwrap();
    }

    /// `groundwork validate` on the spec: its exit code and stdout.
    fn validate(&self) -> (i32, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_groundwork"));
        cmd.arg("validate")
            .arg(self.spec())
            .env_clear()
            .env("XDG_CACHE_HOME", self.cache_home())
            .env("NO_COLOR", "1");
        if nix::unistd::geteuid().is_root() {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        let out = cmd.output().expect("groundwork runs");
        (
            out.status.code().expect("groundwork exits"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The user `validate` says the spec is for, after checking that it found the spec valid.
    fn user_read(&self) -> String {
        let (code, out) = self.validate();
        assert_eq!(code, 0, "{out}");
        out.split("valid (user ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("no user in {out:?}"))
            .to_string()
    }

    /// The kept file as groundwork wrote it, with its one entry's user changed to `planted`.
    fn planted(&self) -> Value {
        fs::remove_file(self.kept()).ok();
        assert_eq!(self.user_read(), "k3s", "a first run parses the spec");
        let mut kept: Value = serde_json::from_slice(&fs::read(self.kept()).unwrap()).unwrap();
        kept["entries"][0]["spec"]["user"]["name"] = "planted".into();
        kept
    }

    /// Writes `kept` at `path`, owned by `uid`, with `mode`.
    fn plant_at(&self, path: &Path, kept: &Value, uid: u32, mode: u32) {
        fs::remove_file(path).ok();
        fs::write(path, serde_json::to_vec(kept).unwrap()).unwrap();
        std::os::unix::fs::chown(path, Some(uid), None).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn a_valid_spec_is_kept_for_its_user_alone() {
    let user = User::new();
    assert_eq!(user.user_read(), "k3s");
    let meta = fs::symlink_metadata(user.kept()).expect("the parsed spec is kept");
    assert!(meta.is_file());
    assert_eq!(meta.uid(), user.uid);
    assert_eq!(meta.mode() & 0o777, 0o600);
}

#[test]
fn the_kept_entry_is_taken_for_the_same_text() {
    let user = User::new();
    let kept = user.planted();
    user.plant_at(&user.kept(), &kept, user.uid, 0o600);
    assert_eq!(user.user_read(), "planted");
    // Others may read it; that does not make anyone else its author.
    user.plant_at(&user.kept(), &kept, user.uid, 0o644);
    assert_eq!(user.user_read(), "planted");
}

#[test]
fn a_kept_file_others_can_write_is_not_taken() {
    let user = User::new();
    let kept = user.planted();
    for mode in [0o620, 0o602, 0o666] {
        user.plant_at(&user.kept(), &kept, user.uid, mode);
        assert_eq!(user.user_read(), "k3s", "mode {mode:o}");
    }
}

#[test]
fn a_kept_file_reached_through_a_symlink_is_not_taken() {
    let user = User::new();
    let kept = user.planted();
    let elsewhere = user.cache_home().join("elsewhere.json");
    user.plant_at(&elsewhere, &kept, user.uid, 0o600);
    fs::remove_file(user.kept()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, user.kept()).unwrap();
    assert_eq!(user.user_read(), "k3s");
}

#[test]
fn a_kept_file_another_user_owns_is_not_taken() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root, to plant a file owned by another user");
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        return;
    }
    let user = User::new();
    let kept = user.planted();
    user.plant_at(&user.kept(), &kept, 0, 0o644);
    assert_eq!(user.user_read(), "k3s");
}

#[test]
fn an_entry_from_another_build_or_for_other_text_is_not_taken() {
    let user = User::new();
    let mut kept = user.planted();
    user.plant_at(&user.kept(), &kept, user.uid, 0o600);
    user.write_spec(&format!("{SPEC}# one more line\n"));
    assert_eq!(user.user_read(), "k3s", "other text");

    user.write_spec(SPEC);
    kept["build"] = "0000000000000000".into();
    user.plant_at(&user.kept(), &kept, user.uid, 0o600);
    assert_eq!(user.user_read(), "k3s", "another build");
}

#[test]
fn an_invalid_spec_is_never_kept() {
    let user = User::new();
    user.write_spec("user: { name: k3s }\nk3s: { version: v1.31.4+k3s1, color: blue }\n");
    let (code, out) = user.validate();
    assert_eq!(code, 1, "{out}");
    assert!(!user.kept().exists(), "an invalid spec was kept");
}
