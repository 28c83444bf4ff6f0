//! verify: proof that rootless works and the cluster is healthy. A started process is not proof
//! of health: stage one runs a rootless smoke test that needs no k3s, stage two asks the cluster,
//! and a failure is mapped to the missing prerequisite through k3s's own log.

pub mod diagnose;
pub mod health;
pub mod smoke;

use crate::apply::user_unit::{Target, command_as, systemctl};
use crate::facts::Facts;
use crate::plan::Plan;
use crate::spec::{Spec, parse_duration};
use serde::Serialize;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn pass(name: &str, detail: String) -> Self {
        Check {
            name: name.into(),
            ok: true,
            detail,
        }
    }
    pub fn fail(name: &str, detail: String) -> Self {
        Check {
            name: name.into(),
            ok: false,
            detail,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub user: String,
    pub smoke: Vec<Check>,
    pub cluster: Vec<Check>,
    pub diagnosis: Vec<diagnose::Diagnosis>,
    /// Plan items still open: the most direct diagnosis of all.
    pub not_converged: Vec<String>,
    pub healthy: bool,
}

pub struct Options {
    pub skip_cluster: bool,
    pub timeout: Option<Duration>,
}

pub fn run(spec: &Spec, facts: &Facts, plan: &Plan, opts: &Options) -> Result<Report, String> {
    let not_converged = plan
        .items
        .iter()
        .map(|i| format!("{}: {}", i.resource.name(), i.summary))
        .collect();
    // Before the first apply the account may not exist: nothing can run as it, and the open
    // plan items are the whole diagnosis.
    let target = match Target::resolve(&spec.user.name) {
        Ok(t) => t,
        Err(e) if !facts.account.exists => {
            return Ok(Report {
                user: spec.user.name.clone(),
                smoke: vec![Check::fail("target user exists", e)],
                cluster: Vec::new(),
                diagnosis: Vec::new(),
                not_converged,
                healthy: false,
            });
        }
        Err(e) => return Err(e),
    };
    let smoke = vec![
        smoke::user_namespace(&target, &facts.subids),
        smoke::network(&target),
        smoke::devices(&target),
        smoke::delegation(&target, &spec.cgroup.delegate),
    ];
    let mut cluster = Vec::new();
    if !opts.skip_cluster {
        let timeout = opts
            .timeout
            .or_else(|| parse_duration(&spec.health.timeout))
            .unwrap_or(Duration::from_secs(300));
        cluster = cluster_health(spec, facts, &target, timeout);
    }
    let healthy = smoke.iter().chain(&cluster).all(|c| c.ok);
    let mut diagnosis = Vec::new();
    if !healthy {
        let mut evidence: String = smoke
            .iter()
            .chain(&cluster)
            .filter(|c| !c.ok)
            .map(|c| format!("{}\n", c.detail))
            .collect();
        evidence.push_str(&unit_journal(&target));
        diagnosis = diagnose::diagnose(&evidence);
    }
    Ok(Report {
        user: target.name.clone(),
        smoke,
        cluster,
        diagnosis,
        not_converged,
        healthy,
    })
}

fn kubectl(spec: &Spec, target: &Target, args: &[&str]) -> Result<String, String> {
    let kubeconfig = format!("{}/.kube/k3s.yaml", target.home);
    let out = command_as(target, &spec.k3s.install_path)
        .arg("kubectl")
        .args(args)
        .env("KUBECONFIG", &kubeconfig)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} kubectl: {e}", spec.k3s.install_path))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Polls until everything is healthy or the timeout passes; reports the last observation.
fn cluster_health(spec: &Spec, facts: &Facts, target: &Target, timeout: Duration) -> Vec<Check> {
    let started = Instant::now();
    loop {
        let checks = cluster_once(spec, facts, target);
        if checks.iter().all(|c| c.ok) || started.elapsed() >= timeout {
            return checks;
        }
        std::thread::sleep(Duration::from_secs(5).min(timeout.saturating_sub(started.elapsed())));
    }
}

fn cluster_once(spec: &Spec, facts: &Facts, target: &Target) -> Vec<Check> {
    let mut checks = Vec::new();
    let active =
        crate::resources::unit::observe(&crate::host_root::HostRoot::new("/"), &facts.account)
            .map(|u| u.active)
            .unwrap_or(false);
    checks.push(if active {
        Check::pass(
            "k3s-rootless unit active",
            "its cgroup has processes".into(),
        )
    } else {
        Check::fail("k3s-rootless unit active", "the unit is not running".into())
    });
    let kubeconfig = format!("{}/.kube/k3s.yaml", target.home);
    if !std::path::Path::new(&kubeconfig).exists() {
        checks.push(Check::fail(
            "kubeconfig written",
            format!("{kubeconfig} does not exist yet"),
        ));
        return checks;
    }
    checks.push(Check::pass("kubeconfig written", kubeconfig));
    match kubectl(spec, target, &["get", "nodes", "-o", "json"]).and_then(|j| health::nodes(&j)) {
        Ok(nodes) if !nodes.is_empty() && spec.health.nodes_ready => {
            let bad: Vec<String> = nodes
                .iter()
                .filter(|n| !n.healthy)
                .map(|n| format!("{} {}", n.name, n.status))
                .collect();
            checks.push(if bad.is_empty() {
                Check::pass(
                    "nodes Ready",
                    nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            } else {
                Check::fail("nodes Ready", bad.join(", "))
            });
        }
        Ok(nodes) if nodes.is_empty() => {
            checks.push(Check::fail("nodes Ready", "the API lists no nodes".into()))
        }
        Ok(_) => {}
        Err(e) => checks.push(Check::fail("API answers", e)),
    }
    if spec.health.system_pods_running {
        match kubectl(
            spec,
            target,
            &["get", "pods", "-n", "kube-system", "-o", "json"],
        )
        .and_then(|j| health::pods(&j))
        {
            Ok(pods) if pods.is_empty() => checks.push(Check::fail(
                "kube-system pods running",
                "no pods yet".into(),
            )),
            Ok(pods) => {
                let bad: Vec<String> = pods
                    .iter()
                    .filter(|p| !p.healthy)
                    .map(|p| format!("{} {}", p.name, p.status))
                    .collect();
                checks.push(if bad.is_empty() {
                    Check::pass(
                        "kube-system pods running",
                        format!("{} pods Running or Completed", pods.len()),
                    )
                } else {
                    Check::fail("kube-system pods running", bad.join(", "))
                });
            }
            Err(e) => checks.push(Check::fail("kube-system pods running", e)),
        }
    }
    checks
}

/// The unit's log since its main process last started, as root from the system journal or as
/// the user from theirs. Older runs are left out: an error that an apply has since repaired
/// would otherwise be diagnosed again.
fn unit_journal(target: &Target) -> String {
    let mut args: Vec<String> = if nix::unistd::getuid().is_root() {
        vec![
            "--no-pager".into(),
            "-n".into(),
            "300".into(),
            format!("_UID={}", target.uid),
            "_SYSTEMD_USER_UNIT=k3s-rootless.service".into(),
        ]
    } else {
        [
            "--user",
            "--no-pager",
            "-n",
            "300",
            "-u",
            "k3s-rootless.service",
        ]
        .map(String::from)
        .to_vec()
    };
    // systemctl prints timestamps in a form journalctl's --since reads back.
    let started = systemctl(
        target,
        &[
            "show",
            "-p",
            "ExecMainStartTimestamp",
            "--value",
            "k3s-rootless.service",
        ],
    )
    .map(|s| s.trim().to_string())
    .unwrap_or_default();
    if !started.is_empty() && started != "n/a" {
        args.push(format!("--since={started}"));
    }
    let out = std::process::Command::new("/usr/bin/journalctl")
        .args(&args)
        .env_clear()
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(_) => String::new(),
    }
}

pub fn render(report: &Report) -> String {
    let mut out = format!(
        "groundwork verify for user {}\n\nRootless smoke test:\n",
        report.user
    );
    let line = |c: &Check| {
        format!(
            "  {} {}: {}\n",
            if c.ok { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        )
    };
    for c in &report.smoke {
        out.push_str(&line(c));
    }
    if !report.cluster.is_empty() {
        out.push_str("\nCluster health:\n");
        for c in &report.cluster {
            out.push_str(&line(c));
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
    out.push_str(if report.healthy {
        "\nhealthy\n"
    } else {
        "\nUNHEALTHY\n"
    });
    out
}

/// JUnit XML: one test case per check.
pub fn render_junit(report: &Report) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let checks: Vec<(&str, &Check)> = report
        .smoke
        .iter()
        .map(|c| ("smoke", c))
        .chain(report.cluster.iter().map(|c| ("cluster", c)))
        .collect();
    let failures = checks.iter().filter(|(_, c)| !c.ok).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"groundwork-verify\" tests=\"{}\" failures=\"{failures}\">\n",
        checks.len()
    );
    for (stage, c) in checks {
        if c.ok {
            out.push_str(&format!(
                "  <testcase classname=\"verify.{stage}\" name=\"{}\"/>\n",
                esc(&c.name)
            ));
        } else {
            out.push_str(&format!("  <testcase classname=\"verify.{stage}\" name=\"{}\">\n    <failure message=\"{}\"/>\n  </testcase>\n", esc(&c.name), esc(&c.detail)));
        }
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}
