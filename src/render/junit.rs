//! JUnit XML for CI pipelines: for a plan, one test case per resource, failing when the
//! resource has a pending change or is blocked; for verify, one test case per check.

use super::xml::escape;
use crate::engine::verify::{Check, Report};
use crate::plan::{Action, Plan};
use std::fmt::Write;

/// Which user and spec the suite is about, as JUnit's suite properties.
fn properties(user: &str, spec: &str) -> String {
    format!(
        "  <properties>\n    <property name=\"user\" value=\"{}\"/>\n    <property name=\"spec\" value=\"{}\"/>\n  </properties>\n",
        escape(user),
        escape(spec)
    )
}

pub fn plan(plan: &Plan) -> String {
    let ids: Vec<_> = crate::resources::ids().collect();
    let failures = ids
        .iter()
        .filter(|r| plan.resource_has(r, |_| true))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites><testsuite name=\"groundwork\" tests=\"{}\" failures=\"{failures}\">",
        ids.len()
    );
    out.push_str(&properties(&plan.user, &plan.spec));
    for r in &ids {
        let items: Vec<_> = plan.items.iter().filter(|i| &i.resource == r).collect();
        let _ = write!(
            out,
            "  <testcase classname=\"groundwork.{}\" name=\"{}\"",
            escape(&plan.user),
            r.name()
        );
        if items.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        let kind = if items.iter().any(|i| i.action == Action::Blocked) {
            "blocked"
        } else {
            "drift"
        };
        let text: Vec<String> = items
            .iter()
            .map(|i| match &i.manual_fix {
                Some(fix) => format!("blocked: {} (fix: {fix})", i.summary),
                None => format!("pending: {}", i.summary),
            })
            .collect();
        let _ = writeln!(
            out,
            ">\n    <failure type=\"{kind}\" message=\"{}\">{}</failure>\n  </testcase>",
            escape(&items[0].summary),
            escape(&text.join("\n"))
        );
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}

pub fn verify(report: &Report) -> String {
    let checks: Vec<(&str, &Check)> = report
        .smoke
        .iter()
        .map(|c| ("smoke", c))
        .chain(report.network.iter().map(|c| ("network", c)))
        .chain(report.cluster.iter().map(|c| ("cluster", c)))
        .collect();
    let failures = checks.iter().filter(|(_, c)| !c.ok).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"groundwork-verify\" tests=\"{}\" failures=\"{failures}\">\n",
        checks.len()
    );
    out.push_str(&properties(&report.user, &report.spec));
    for (stage, c) in checks {
        if c.ok {
            let _ = writeln!(
                out,
                "  <testcase classname=\"verify.{stage}\" name=\"{}\"/>",
                escape(&c.name)
            );
        } else {
            let _ = writeln!(
                out,
                "  <testcase classname=\"verify.{stage}\" name=\"{}\">\n    <failure message=\"{}\"/>\n  </testcase>",
                escape(&c.name),
                escape(&c.detail)
            );
        }
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}
