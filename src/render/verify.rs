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
        "groundwork verify for user {}\n\nRootless smoke test:\n",
        report.user
    );
    for c in &report.smoke {
        out.push_str(&check_line(c));
    }
    if !report.cluster.is_empty() {
        out.push_str("\nCluster health:\n");
        for c in &report.cluster {
            out.push_str(&check_line(c));
        }
    }
    if !report.not_converged.is_empty() {
        out.push_str("\nThe host does not match the spec (run `groundwork apply`):\n");
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
