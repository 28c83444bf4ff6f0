//! People's plan fits their terminal: it wraps to $COLUMNS, or to the terminal's width, with
//! continuation lines under the text they continue; a pipe or a file gets whole lines. A legend
//! under the items says what the symbols mean.

mod common;
use common::*;

/// The lines of a human plan longer than `width` that are neither the header, the closing
/// hint, a line of a file's diff (file content is shown as it is) nor one word too long for
/// any line (a path), which stays whole.
fn overlong(plan: &str, width: usize) -> Vec<String> {
    let mut in_diff = false;
    let mut long = Vec::new();
    for line in plan.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("--- ") {
            in_diff = true;
        } else if line.is_empty() || (line.starts_with("  ") && !line.starts_with("   ")) {
            in_diff = false;
        }
        let exempt = in_diff
            || line.starts_with("groundwork plan for")
            || line.starts_with("Run `")
            || !trimmed.contains(' ');
        if !exempt && line.chars().count() > width {
            long.push(line.to_string());
        }
    }
    long
}

#[test]
fn columns_wrap_the_plan_with_continuations_under_their_text() {
    let h = Host::fresh();
    let out = h.groundwork_with(&h.root(), &[("COLUMNS", "60")], &["plan", SPEC]);
    out.code(2);
    assert_eq!(overlong(&out.stdout, 60), Vec::<String>::new());
    assert!(
        out.stdout.contains(
            "  + packages    install dbus-user-session, fuse-overlayfs,\n                slirp4netns, uidmap (root)\n"
        ),
        "{}",
        out.report()
    );
    assert!(
        out.stdout.contains(
            "                now: not installed  →  dbus-user-session,\n                     fuse-overlayfs, slirp4netns, uidmap\n"
        ),
        "{}",
        out.report()
    );
    insta::assert_snapshot!(out.report());
}

#[test]
fn without_a_terminal_lines_are_whole() {
    let h = Host::fresh();
    let out = h.groundwork(&["plan", SPEC]);
    out.code(2);
    assert!(
        out.stdout.contains(
            "  + packages    install dbus-user-session, fuse-overlayfs, slirp4netns, uidmap (root)\n"
        ),
        "{}",
        out.report()
    );
    assert!(
        out.stdout.contains(
            "\nLegend: + create  ~ update  > run  ! blocked (manual fix)  (root) needs root\nPlan: "
        ),
        "{}",
        out.report()
    );
}

/// On a terminal (a pseudo-terminal from `script`, 70 columns wide) the plan fits it.
#[test]
fn on_a_terminal_the_plan_wraps_to_its_width() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(std::env::var_os("CI").is_none(), "CI has script (bsdutils)");
        eprintln!("skipped: no script(1) to make a terminal with");
        return;
    }
    let h = Host::fresh();
    let command = format!(
        "stty cols 70 rows 40; {} --root {} plan {}",
        env!("CARGO_BIN_EXE_groundwork"),
        h.root().display(),
        h.spec_path().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .env("XDG_CACHE_HOME", h.outside("cache"))
        .output()
        .expect("script runs");
    let screen = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(
        screen.contains(
            "  + packages    install dbus-user-session, fuse-overlayfs,\n                slirp4netns, uidmap (root)\n"
        ),
        "{screen}"
    );
    assert_eq!(overlong(&screen, 70), Vec::<String>::new(), "{screen}");
}

#[test]
fn a_narrow_legend_breaks_between_entries() {
    let h = Host::converged();
    h.write("/proc/sys/net/ipv4/ip_forward", "0\n");
    let out = h.groundwork_with(&h.root(), &[("COLUMNS", "40")], &["plan", SPEC]);
    out.code(2);
    assert!(
        out.stdout.contains(
            "Legend: + create  ~ update  > run\n        ! blocked (manual fix)\n        (root) needs root\n"
        ),
        "{}",
        out.report()
    );
}
