//! JUnit XML for CI pipelines: one test case per resource, failing when the resource has a
//! pending change or is blocked.

use crate::plan::{Action, Plan, Resource};
use std::fmt::Write;

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn render(plan: &Plan) -> String {
    let failures = Resource::ALL
        .iter()
        .filter(|r| plan.items.iter().any(|i| i.resource == **r))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites><testsuite name=\"groundwork\" tests=\"{}\" failures=\"{failures}\">",
        Resource::ALL.len()
    );
    for r in Resource::ALL {
        let items: Vec<_> = plan.items.iter().filter(|i| i.resource == r).collect();
        let _ = write!(
            out,
            "  <testcase classname=\"groundwork.{}\" name=\"{}\"",
            xml_escape(&plan.user),
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
            xml_escape(&items[0].summary),
            xml_escape(&text.join("\n"))
        );
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}
