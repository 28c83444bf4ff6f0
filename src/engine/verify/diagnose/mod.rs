//! Known failure signatures of rootless k3s, matched in its journal and in the smoke test's
//! failed checks, mapped to the prerequisite that is missing and the exact fix. One message can
//! have several causes (a refused user namespace: AppArmor, a sysctl or a container); the host
//! as verify observed it picks the cause, so the fix is the one that applies here.

mod context;
mod signatures;

#[cfg(test)]
mod corpus;

pub use context::HostContext;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The signature that matched (stable, for machines).
    pub signature: &'static str,
    /// The log line that matched.
    pub evidence: String,
    pub cause: String,
    pub fix: String,
}

/// A log line as the signatures read it: journald's and logrus's `\"` unescaped (k3s quotes
/// keys and paths with %q), and lower-cased, since k3s versions differ in case.
pub(super) struct Line {
    pub text: String,
    pub lower: String,
}

impl Line {
    fn new(raw: &str) -> Self {
        let text = raw.replace("\\\"", "\"");
        // ASCII only: the byte offsets stay those of `text`.
        let lower = text.to_ascii_lowercase();
        Line { text, lower }
    }
}

/// How much of a matching line the report shows.
const EVIDENCE_BYTES: usize = 300;

/// The line; where it is longer than the report shows, the part that ends just after the words
/// that matched (kubelet's lines put them after a long preamble).
fn excerpt(raw: &str, needle: &str) -> String {
    let raw = raw.trim();
    if raw.len() <= EVIDENCE_BYTES {
        return raw.to_string();
    }
    let lower = raw.to_ascii_lowercase();
    let end = lower
        .find(needle)
        .map(|at| at + needle.len())
        .or_else(|| {
            let escaped = needle.replace('"', "\\\"");
            lower.find(&escaped).map(|at| at + escaped.len())
        })
        .unwrap_or(0);
    let mut stop = (end + 40).clamp(EVIDENCE_BYTES, raw.len());
    let mut start = stop - EVIDENCE_BYTES;
    while !raw.is_char_boundary(start) {
        start += 1;
    }
    while !raw.is_char_boundary(stop) {
        stop -= 1;
    }
    format!(
        "{}{}{}",
        if start > 0 { "…" } else { "" },
        &raw[start..stop],
        if stop < raw.len() { "…" } else { "" }
    )
}

/// Every signature found in the log, in the order of the table: each signature once (its first
/// line), and a cause already named by an earlier signature not again.
pub fn diagnose(log: &str, host: &HostContext) -> Vec<Diagnosis> {
    let lines: Vec<(&str, Line)> = log.lines().map(|l| (l, Line::new(l))).collect();
    let mut found: Vec<Diagnosis> = Vec::new();
    for sig in signatures::SIGNATURES {
        let Some((raw, line, needle)) = lines.iter().find_map(|(raw, line)| {
            let needle = sig.needles.iter().find(|n| line.lower.contains(*n))?;
            Some((raw, line, needle))
        }) else {
            continue;
        };
        let finding = (sig.explain)(line, host);
        if found.iter().any(|d| d.cause == finding.cause) {
            continue;
        }
        found.push(Diagnosis {
            signature: sig.id,
            evidence: excerpt(raw, needle),
            cause: finding.cause,
            fix: finding.fix,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_are_lower_case_so_that_they_can_match() {
        for sig in signatures::SIGNATURES {
            for n in sig.needles {
                assert_eq!(*n, n.to_lowercase(), "{}", sig.id);
            }
        }
    }

    #[test]
    fn each_signature_once_and_each_cause_once() {
        // Two lines of one signature, and the k3s line and the smoke check's line of one cause.
        let log = "\
level=fatal msg=\"Error: failed to find cpu cgroup (v2)\"
level=fatal msg=\"Error: failed to find cpuset cgroup (v2)\"
controllers not delegated to the user manager user@1000.service: cpu (it has: memory pids)
";
        let found = diagnose(log, &HostContext::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].signature, "cgroup-controller-missing");
        assert!(found[0].evidence.contains("cpu cgroup"), "{found:?}");
    }

    #[test]
    fn a_long_line_shows_the_words_that_matched() {
        let short = "unshare failed: No space left on device";
        assert_eq!(excerpt(short, "unshare failed"), short);
        let preamble = "x".repeat(400);
        let long = format!(
            "{preamble} msg=\\\"exec: \\\"newuidmap\\\": executable file not found in $PATH\\\" tail"
        );
        let e = excerpt(&long, "exec: \"newuidmap\": executable file not found");
        assert!(e.starts_with('…') && !e.ends_with('…'), "{e}");
        assert!(
            e.contains("exec: \\\"newuidmap\\\": executable file not found"),
            "{e}"
        );
        assert!(e.len() <= EVIDENCE_BYTES + "…".len(), "{e}");
        // Unknown words: the start of the line.
        let e = excerpt(&long, "not there");
        assert!(e.starts_with("xxx") && e.ends_with('…'), "{e}");
    }

    #[test]
    fn a_clean_log_has_no_diagnosis() {
        let log = "level=info msg=\"cgroup v2 controllers are delegated for rootless.\"\n";
        assert!(diagnose(log, &HostContext::default()).is_empty());
    }
}
