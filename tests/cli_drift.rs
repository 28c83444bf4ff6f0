//! `groundwork drift`: the terse check for timers. Exits 0 in sync, 2 on drift (blocked items
//! included), 1 on error; `--textfile` writes node_exporter metrics that agree with the JSON.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

/// A converged host with two changes (ip_forward, the delegation drop-in) and one blocked item
/// (no systemd).
fn drifted() -> Host {
    drifted_on(Release::Bookworm)
}

fn drifted_on(release: Release) -> Host {
    let h = Host::converged_on(release);
    h.write("/proc/sys/net/ipv4/ip_forward", "0\n")
        .remove("/etc/systemd/system/user@.service.d/delegate.conf")
        .remove("/run/systemd");
    h
}

/// The metrics with the values that change from run to run replaced; those values are checked
/// for plausibility here.
fn stable_metrics(text: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs_f64();
    text.lines()
        .map(|line| {
            let value = |l: &str| -> f64 {
                l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("a number")
            };
            if line.starts_with("groundwork_last_check_timestamp_seconds ") {
                let t = value(line);
                assert!((now - t).abs() < 600.0, "timestamp {t} is not now ({now})");
                "groundwork_last_check_timestamp_seconds [TIMESTAMP]".to_string()
            } else if line.starts_with("groundwork_check_duration_seconds ") {
                let d = value(line);
                assert!((0.0..60.0).contains(&d), "duration {d}");
                "groundwork_check_duration_seconds [DURATION]".to_string()
            } else {
                line.replace(
                    &format!("version=\"{}\"", env!("CARGO_PKG_VERSION")),
                    "version=\"[VERSION]\"",
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `name{resource="x"} 1` for every resource with a 1.
fn flagged(metrics: &str, name: &str) -> BTreeSet<String> {
    let prefix = format!("{name}{{resource=\"");
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter(|l| l.ends_with("\"} 1"))
        .map(|l| l.trim_end_matches("\"} 1").to_string())
        .collect()
}

fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
}

#[test]
fn in_sync_human() {
    let out = Host::converged().groundwork(&["drift", SPEC]);
    out.code(0);
    let report = out.report();
    insta::assert_snapshot!(report);
}

#[test]
fn drifted_human() {
    let out = drifted().groundwork(&["drift", SPEC]);
    out.code(2);
    let report = out.report();
    insta::assert_snapshot!(report);
}

#[test]
fn drifted_json() {
    let out = drifted().groundwork(&["drift", SPEC, "--output", "json"]);
    out.code(2);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

/// A host whose only gap is blocked still counts as drift for a timer.
#[test]
fn blocked_only_is_drift() {
    let h = Host::converged();
    h.remove("/run/systemd");
    let out = h.groundwork(&["drift", SPEC, "--output", "json"]);
    out.code(2);
    assert_eq!(out.json()["in_sync"], false);
    assert_eq!(
        out.json()["resources_out_of_sync"],
        serde_json::json!(["host"])
    );
}

#[test]
fn in_sync_textfile_has_every_series_at_zero() {
    let h = Host::converged();
    let prom = h.outside("groundwork.prom");
    let out = h.groundwork(&["drift", SPEC, "--textfile", prom.to_str().expect("UTF-8")]);
    out.code(0);
    assert_eq!(
        out.filter(&out.stdout),
        "in sync for user k3s from [TMP]/spec.yaml\n"
    );
    let metrics = std::fs::read_to_string(&prom).expect("the textfile");
    assert_eq!(gauge(&metrics, "groundwork_resources"), 13.0);
    assert_eq!(gauge(&metrics, "groundwork_resources_out_of_sync"), 0.0);
    assert!(flagged(&metrics, "groundwork_drift").is_empty());
    assert!(flagged(&metrics, "groundwork_blocked").is_empty());
    let metrics = out.filter(&stable_metrics(&metrics));
    insta::assert_snapshot!(metrics);
}

/// One run writes the textfile and prints the JSON: they must tell the same story.
#[test]
fn drifted_textfile_agrees_with_the_json() {
    let h = drifted();
    let prom = h.outside("groundwork.prom");
    let out = h.groundwork(&[
        "drift",
        SPEC,
        "--output",
        "json",
        "--textfile",
        prom.to_str().expect("UTF-8"),
    ]);
    out.code(2);
    let report = out.json();
    let metrics = std::fs::read_to_string(&prom).expect("the textfile");

    let out_of_sync: BTreeSet<String> = report["resources_out_of_sync"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r.as_str().expect("a name").to_string())
        .collect();
    let items = report["items"].as_array().expect("items");
    let by_action = |blocked: bool| -> BTreeSet<String> {
        items
            .iter()
            .filter(|i| (i["action"] == "blocked") == blocked)
            .map(|i| i["resource"].as_str().expect("a resource").to_string())
            .collect()
    };
    assert_eq!(flagged(&metrics, "groundwork_drift"), by_action(false));
    assert_eq!(flagged(&metrics, "groundwork_blocked"), by_action(true));
    let either: BTreeSet<String> = by_action(false).union(&by_action(true)).cloned().collect();
    assert_eq!(either, out_of_sync);
    assert_eq!(
        gauge(&metrics, "groundwork_resources_out_of_sync"),
        out_of_sync.len() as f64
    );
    assert!(metrics.contains(&format!(
        "spec_sha256=\"{}\"",
        report["spec_sha256"].as_str().expect("a hash")
    )));
    let metrics = out.filter(&stable_metrics(&metrics));
    insta::assert_snapshot!(metrics);
}

/// A failed check leaves the last textfile alone, so that its age (node_textfile_mtime_seconds)
/// shows the failure, and never writes zeros that would read as "in sync".
#[test]
fn failed_check_leaves_the_textfile_alone() {
    let h = Host::converged();
    h.remove("/etc/passwd").mkdir("/etc/passwd");
    let prom = h.outside("groundwork.prom");
    std::fs::write(&prom, "# the previous check's metrics\n").expect("write");
    let out = h.groundwork(&["drift", SPEC, "--textfile", prom.to_str().expect("UTF-8")]);
    out.code(1);
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&prom).expect("the textfile"),
        "# the previous check's metrics\n"
    );
    let report = out.report();
    insta::assert_snapshot!(report);
}

/// A bare file name is written in the working directory, and the write reports success (it
/// once fsynced the empty parent path and failed after writing).
#[test]
fn textfile_with_a_bare_name_is_written_in_the_working_directory() {
    let h = Host::converged();
    let out = h.groundwork(&["drift", SPEC, "--textfile", "groundwork.prom"]);
    out.code(0);
    assert!(out.stderr.is_empty(), "{}", out.report());
    let metrics = std::fs::read_to_string(h.outside("groundwork.prom")).expect("the textfile");
    assert_eq!(gauge(&metrics, "groundwork_resources_out_of_sync"), 0.0);
}

// ---- Debian 13 (trixie) -----------------------------------------------------------------

#[test]
fn trixie_in_sync_human() {
    let out = Host::converged_on(Release::Trixie).groundwork(&["drift", SPEC]);
    out.code(0);
    assert_eq!(
        out.filter(&out.stdout),
        "in sync for user k3s from [TMP]/spec.yaml\n",
        "{}",
        out.report()
    );
    let report = out.report();
    insta::assert_snapshot!(report);
}

#[test]
fn trixie_in_sync_json() {
    let out = Host::converged_on(Release::Trixie).groundwork(&["drift", SPEC, "--output", "json"]);
    out.code(0);
    assert_eq!(out.json()["in_sync"], true, "{}", out.report());
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

#[test]
fn trixie_drifted_human() {
    let out = drifted_on(Release::Trixie).groundwork(&["drift", SPEC]);
    out.code(2);
    let report = out.report();
    insta::assert_snapshot!(report);
}

#[test]
fn trixie_drifted_json() {
    let out = drifted_on(Release::Trixie).groundwork(&["drift", SPEC, "--output", "json"]);
    out.code(2);
    let json = out.filter(&out.stdout);
    insta::assert_snapshot!(json);
}

/// A typo in the node_exporter path is an error, not a silent gap in monitoring: the folder is
/// not created (issue #13, point 6).
#[test]
fn textfile_into_a_missing_folder_is_an_error_and_creates_nothing() {
    let h = Host::converged();
    let dir = h.outside("textfile_collecter");
    let target = dir.join("groundwork.prom").display().to_string();
    let out = h.groundwork(&["drift", SPEC, "--textfile", &target]);
    out.code(1);
    assert!(
        out.stderr
            .contains("does not exist; create it first, or check the path"),
        "{}",
        out.report()
    );
    assert!(!dir.exists(), "{} was created", dir.display());
}
