//! verify's report for people.

use crate::engine::verify::{Check, Report};

pub fn check_line(c: &Check) -> String {
    format!(
        "  {} {}: {}\n",
        if c.ok { "PASS" } else { "FAIL" },
        c.name,
        c.detail
    )
}

pub fn report(report: &Report) -> String {
    let mut out = format!(
        "groundwork verify for user {} from {}\n\nRootless smoke test:\n",
        report.user, report.spec
    );
    for c in &report.smoke {
        out.push_str(&check_line(c));
    }
    if !report.network.is_empty() {
        out.push_str("\nRootless networking:\n");
        for c in &report.network {
            out.push_str(&check_line(c));
        }
    }
    if !report.cluster.is_empty() {
        out.push_str("\nCluster health:\n");
        for c in &report.cluster {
            out.push_str(&check_line(c));
        }
    }
    // Root causes first: what only a person can fix, and what blocks apply altogether.
    if !report.blocked.is_empty() {
        out.push_str("\nBlocked: `groundwork apply` cannot fix these, and refuses to run until they are fixed:\n");
        for b in &report.blocked {
            out.push_str(&format!("  ! {}\n    fix: {}\n", b.summary, b.fix));
        }
    }
    if !report.not_converged.is_empty() {
        out.push_str(if report.blocked.is_empty() {
            "\nThe host does not match the spec (run `groundwork apply`):\n"
        } else {
            "\nThe host does not match the spec (`groundwork apply` closes these once nothing is blocked):\n"
        });
        for i in &report.not_converged {
            out.push_str(&format!("  - {i}\n"));
        }
    }
    if !report.diagnosis.is_empty() {
        out.push_str("\nDiagnosis:\n");
        for d in &report.diagnosis {
            out.push_str(&format!(
                "  cause: {}\n  fix:   {}\n  seen:  {}\n",
                d.cause, d.fix, d.evidence
            ));
        }
    }
    for w in &report.boot_warnings {
        out.push_str(&format!("\nWARNING: {w}\n"));
    }
    out.push_str(match (report.healthy, report.boot_warnings.is_empty()) {
        (true, true) => "\nhealthy\n",
        (true, false) => "\nhealthy now, but NOT after the next boot (see the warning above)\n",
        (false, _) => "\nUNHEALTHY\n",
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::verify::BlockedCause;

    fn unhealthy(blocked: Vec<BlockedCause>, not_converged: Vec<String>) -> Report {
        Report {
            format_version: 1,
            user: "k3s".into(),
            spec: "lab.yaml".into(),
            smoke: vec![Check::fail(
                "cgroup v2 delegation applies limits",
                "x".into(),
            )],
            network: Vec::new(),
            cluster: Vec::new(),
            diagnosis: Vec::new(),
            blocked,
            not_converged,
            boot_warnings: Vec::new(),
            healthy: false,
        }
    }

    // Issue #13: blocked root causes come first, and apply is not offered for them.
    #[test]
    fn the_network_stage_comes_between_the_smoke_test_and_the_cluster() {
        let mut r = unhealthy(Vec::new(), Vec::new());
        r.network = vec![Check::fail(
            "host port 80 into the namespace (slirp4netns)",
            "port 80 is below net.ipv4.ip_unprivileged_port_start (1024)".into(),
        )];
        r.cluster = vec![Check::pass("kubeconfig written", "k3s.yaml".into())];
        let text = report(&r);
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} in {text}"));
        assert!(
            at("Rootless smoke test:") < at("Rootless networking:"),
            "{text}"
        );
        assert!(at("Rootless networking:") < at("Cluster health:"), "{text}");
        assert!(
            text.contains("  FAIL host port 80 into the namespace (slirp4netns): port 80 is below"),
            "{text}"
        );
        // No network checks, no heading.
        r.network.clear();
        assert!(!report(&r).contains("Rootless networking:"));
    }

    #[test]
    fn blocked_causes_come_first_without_offering_apply() {
        let text = report(&unhealthy(
            vec![BlockedCause {
                summary: "host: the host mixes cgroup v1 and v2".into(),
                fix: "boot with systemd.unified_cgroup_hierarchy=1".into(),
            }],
            vec!["delegation: write /etc/systemd/system/user@.service.d/delegate.conf".into()],
        ));
        let blocked = text.find("Blocked:").expect("a blocked section");
        let open = text
            .find("does not match the spec")
            .expect("the open items");
        assert!(blocked < open, "{text}");
        assert!(
            text.contains("    fix: boot with systemd.unified_cgroup_hierarchy=1"),
            "{text}"
        );
        assert!(!text.contains("(run `groundwork apply`)"), "{text}");
        assert!(text.contains("once nothing is blocked"), "{text}");
    }

    #[test]
    fn without_blocked_items_apply_is_the_fix() {
        let text = report(&unhealthy(
            Vec::new(),
            vec!["subids: add subordinate ids".into()],
        ));
        assert!(!text.contains("Blocked:"), "{text}");
        assert!(
            text.contains("The host does not match the spec (run `groundwork apply`):\n  - subids"),
            "{text}"
        );
    }
}
