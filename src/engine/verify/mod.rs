//! verify: proof that rootless works and the cluster is healthy. A started process is not proof
//! of health: stage one runs a rootless smoke test that needs no k3s, stage two asks the cluster,
//! and a failure is mapped to the missing prerequisite through k3s's own log. It runs on the
//! live host only: its checks start processes as the user.

pub mod bounded;
pub mod check;
pub mod diagnose;
pub mod health;
pub mod netstage;
pub mod ports;
pub mod smoke;

pub use check::Check;

use crate::engine::events::{Event, EventSink};
use crate::host::HostRoot;
use crate::host::session::{Account, UNIT_NAME, command_as, systemctl};
use crate::plan::Plan;
use crate::resources::Facts;
use crate::resources::account::AccountFacts;
use crate::resources::subids::SubidFacts;
use crate::spec::{Spec, parse_duration};
use serde::Serialize;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Version of the JSON shape of `verify --output json`.
pub const REPORT_FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub user: String,
    /// The spec verify checked against (a path, or "the embedded default spec").
    pub spec: String,
    pub smoke: Vec<Check>,
    /// The network stage: each wanted port exposed through the port driver, the client's
    /// address inside, and the path's throughput beside the host's loopback.
    pub network: Vec<Check>,
    pub cluster: Vec<Check>,
    pub diagnosis: Vec<diagnose::Diagnosis>,
    /// Blocked plan items: root causes that only a person can fix, and that `apply` refuses to
    /// work around. They come first in the report.
    pub blocked: Vec<BlockedCause>,
    /// Plan items `apply` can close: the most direct diagnosis of all.
    pub not_converged: Vec<String>,
    /// What will break at the next boot though everything runs now: a later sysctl file that
    /// overrides groundwork's with a value k3s cannot run with.
    pub boot_warnings: Vec<String>,
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockedCause {
    pub summary: String,
    pub fix: String,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub skip_cluster: bool,
    pub timeout: Option<Duration>,
}

/// What the failed checks said, one line each: the diagnosis reads it (with the unit's journal).
pub fn failed_evidence<'a>(checks: impl IntoIterator<Item = &'a Check>) -> String {
    checks
        .into_iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}\n", c.detail))
        .collect()
}

/// The report of the checks that ran, against the plan of the host. Public so that a report
/// of recorded checks (the README's samples from the VM suite) renders through this same path.
pub fn report(
    user: &str,
    smoke: Vec<Check>,
    network: Vec<Check>,
    cluster: Vec<Check>,
    diagnosis: Vec<diagnose::Diagnosis>,
    plan: &Plan,
) -> Report {
    let healthy = smoke.iter().chain(&network).chain(&cluster).all(|c| c.ok) && !smoke.is_empty();
    Report {
        format_version: REPORT_FORMAT_VERSION,
        user: user.to_string(),
        spec: plan.spec.clone(),
        smoke,
        network,
        cluster,
        diagnosis,
        blocked: plan
            .blocked()
            .map(|i| BlockedCause {
                summary: format!("{}: {}", i.resource, i.summary),
                fix: i.manual_fix.clone().unwrap_or_default(),
            })
            .collect(),
        not_converged: plan
            .changes()
            .map(|i| format!("{}: {}", i.resource, i.summary))
            .collect(),
        boot_warnings: boot_warnings(plan),
        healthy,
    }
}

/// The blocked overrides of the plan: each means the kernel runs a wrong value after the next
/// boot, however healthy k3s is now.
fn boot_warnings(plan: &Plan) -> Vec<String> {
    plan.blocked()
        .filter(|i| i.id.ends_with("/override"))
        .map(|i| {
            format!(
                "{}; after the next boot k3s may fail. Fix: {}",
                i.summary,
                i.manual_fix.as_deref().unwrap_or("")
            )
        })
        .collect()
}

pub async fn run(
    root: &HostRoot,
    spec: &Spec,
    facts: &Facts,
    plan: &Plan,
    opts: &Options,
    sink: &mut dyn EventSink,
) -> Result<Report, String> {
    if !root.is_live() {
        return Err(
            "verify runs its checks on the live host; it cannot check a captured tree (--root)"
                .into(),
        );
    }
    // Before the first apply the account may not exist: nothing can run as it, and the open
    // plan items are the whole diagnosis.
    let target = match Account::resolve(&spec.user.name) {
        Ok(t) => t,
        Err(e) if !facts.get::<AccountFacts>().exists => {
            let check = Check::fail("target user exists", e.to_string());
            sink.event(Event::Check {
                stage: "smoke",
                check: &check,
            });
            return Ok(report(
                &spec.user.name,
                vec![check],
                Vec::new(),
                Vec::new(),
                Vec::new(),
                plan,
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let subids = facts.get::<SubidFacts>();
    let mut smoke_checks = Vec::new();
    for check in [
        smoke::user_namespace(&target, &subids.subuid, &subids.subgid).await,
        smoke::network(&target).await,
        smoke::devices(&target).await,
        smoke::delegation(&target, &spec.cgroup.delegate).await,
    ] {
        sink.event(Event::Check {
            stage: "smoke",
            check: &check,
        });
        smoke_checks.push(check);
    }
    // Ports need a working namespace and slirp4netns: after the smoke test, before k3s.
    let k3s_running = crate::resources::unit_state::observe(root, facts.get::<AccountFacts>())
        .is_ok_and(|u| u.active);
    let network = netstage::stage(&target, spec, k3s_running).await;
    for check in &network {
        sink.event(Event::Check {
            stage: "network",
            check,
        });
    }
    let mut cluster = Vec::new();
    if !opts.skip_cluster {
        let timeout = opts
            .timeout
            .or_else(|| parse_duration(&spec.health.timeout))
            .unwrap_or(Duration::from_secs(300));
        cluster = cluster_health(root, spec, facts, &target, timeout, sink).await;
        for check in &cluster {
            sink.event(Event::Check {
                stage: "cluster",
                check,
            });
        }
    }
    let healthy = smoke_checks
        .iter()
        .chain(&network)
        .chain(&cluster)
        .all(|c| c.ok);
    let mut diagnosis = Vec::new();
    if !healthy {
        let journal = unit_journal(&target).await;
        // A unit that does not run says why in its own log: its last error goes with the
        // check, so that the report (and Ansible's message) names the cause without a login.
        if let Some(c) = cluster.iter_mut().find(|c| c.name == UNIT_CHECK && !c.ok)
            && let Some(line) = last_error(&journal)
        {
            c.detail.push_str(&format!("; its last error: {line}"));
        }
        let mut evidence = failed_evidence(smoke_checks.iter().chain(&network).chain(&cluster));
        evidence.push_str(&journal);
        diagnosis = diagnose::diagnose(&evidence, &diagnose::HostContext::from_facts(facts));
    }
    Ok(report(
        &target.name,
        smoke_checks,
        network,
        cluster,
        diagnosis,
        plan,
    ))
}

async fn kubectl(spec: &Spec, target: &Account, args: &[&str]) -> Result<String, String> {
    let kubeconfig = format!("{}/.kube/k3s.yaml", target.home);
    let mut cmd = command_as(target, &spec.k3s.install_path);
    cmd.arg("kubectl")
        .args(args)
        .env("KUBECONFIG", &kubeconfig)
        .stdin(Stdio::null());
    let out = bounded::output(cmd.into(), Duration::from_secs(60))
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => format!(
                "{} kubectl did not answer within 60 s",
                spec.k3s.install_path
            ),
            _ => format!("{} kubectl: {e}", spec.k3s.install_path),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Polls until everything is healthy or the timeout passes; reports the last observation.
async fn cluster_health(
    root: &HostRoot,
    spec: &Spec,
    facts: &Facts,
    target: &Account,
    timeout: Duration,
    sink: &mut dyn EventSink,
) -> Vec<Check> {
    let started = Instant::now();
    loop {
        let mut checks = cluster_once(root, spec, facts, target).await;
        if checks.iter().all(|c| c.ok) || started.elapsed() >= timeout {
            return checks;
        }
        // Waiting helps only while systemd still starts or restarts the unit.
        if let Some(why) = unit_will_not_start(target).await {
            if let Some(c) = checks.iter_mut().find(|c| c.name == UNIT_CHECK && !c.ok) {
                c.detail = why;
            }
            return checks;
        }
        sink.event(Event::WaitingForCluster {
            elapsed_secs: started.elapsed().as_secs(),
            timeout_secs: timeout.as_secs(),
        });
        tokio::time::sleep(Duration::from_secs(5).min(timeout.saturating_sub(started.elapsed())))
            .await;
    }
}

const UNIT_CHECK: &str = "k3s-rootless unit active";

/// Why the unit cannot come up however long verify waits: it is not installed, or systemd has
/// given up on it (failed, or inactive and not starting). None while it runs or (re)starts.
async fn unit_will_not_start(target: &Account) -> Option<String> {
    let out = systemctl(
        target,
        &[
            "show",
            "-p",
            "LoadState,ActiveState,SubState,Result",
            UNIT_NAME,
        ],
    )
    .await
    .ok()?;
    let prop = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
            .to_string()
    };
    let (load, active, sub, result) = (
        prop("LoadState"),
        prop("ActiveState"),
        prop("SubState"),
        prop("Result"),
    );
    match (load.as_str(), active.as_str()) {
        ("not-found", _) => Some(format!(
            "{UNIT_NAME} is not installed for {}: run `groundwork apply`",
            target.name
        )),
        (_, "failed") => Some(format!(
            "{UNIT_NAME} failed ({sub}, result {result}) and systemd stopped restarting it: `journalctl --user -u {UNIT_NAME}` as {} shows why",
            target.name
        )),
        (_, "inactive") => Some(format!(
            "{UNIT_NAME} is inactive ({sub}): nothing starts it; `systemctl --user start {UNIT_NAME}` as {}, or `groundwork apply`",
            target.name
        )),
        _ => None,
    }
}

/// The API server answers on its port from the host, through the port driver: what every
/// kubectl and client outside the namespace needs.
async fn api_from_host(spec: &Spec) -> Check {
    let name = "API server answers from the host";
    let port = crate::spec::network::api_port(spec).unwrap_or(crate::spec::network::API_PORT);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    match tokio::task::spawn_blocking(move || ports::tls_answers(addr)).await {
        Ok(Ok(what)) => Check::pass(
            name,
            format!("127.0.0.1:{port} answered a TLS ClientHello with {what}"),
        ),
        Ok(Err(e)) => Check::fail(name, e),
        Err(e) => Check::fail(name, format!("the probe panicked: {e}")),
    }
}

async fn cluster_once(root: &HostRoot, spec: &Spec, facts: &Facts, target: &Account) -> Vec<Check> {
    let mut checks = Vec::new();
    let active = crate::resources::unit_state::observe(root, facts.get::<AccountFacts>())
        .map(|u| u.active)
        .unwrap_or(false);
    checks.push(if active {
        Check::pass(UNIT_CHECK, "its cgroup has processes".into())
    } else {
        Check::fail(UNIT_CHECK, "the unit is not running".into())
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
    checks.push(api_from_host(spec).await);
    match kubectl(spec, target, &["get", "nodes", "-o", "json"])
        .await
        .and_then(|j| health::nodes(&j))
    {
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
        .await
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

/// The last fatal or error line of k3s's log (logrus: `level=fatal msg="..."` in the journal,
/// `FATA[0000] ...` on a terminal): its message alone, unquoted, without control characters and
/// at most 300 characters, as the log is the user's process's to write.
fn last_error(journal: &str) -> Option<String> {
    let line = journal.lines().rev().find(|l| {
        ["level=fatal", "level=error", "FATA[", "ERRO["]
            .iter()
            .any(|m| l.contains(m))
    })?;
    let msg = match line.split_once(" msg=\"") {
        Some((_, rest)) => {
            let mut out = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '"' => break,
                    c => out.push(c),
                }
            }
            out
        }
        None => {
            let at = ["FATA[", "ERRO["].iter().filter_map(|m| line.find(m)).min();
            at.map_or(line, |i| &line[i..]).to_string()
        }
    };
    let clean: String = msg
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_string())
}

/// The unit's log since its main process last started, as root from the system journal or as
/// the user from theirs. Older runs are left out: an error that an apply has since repaired
/// would otherwise be diagnosed again.
async fn unit_journal(target: &Account) -> String {
    let mut args: Vec<String> = if nix::unistd::getuid().is_root() {
        vec![
            "--no-pager".into(),
            "-n".into(),
            "300".into(),
            format!("_UID={}", target.uid),
            format!("_SYSTEMD_USER_UNIT={UNIT_NAME}"),
        ]
    } else {
        ["--user", "--no-pager", "-n", "300", "-u", UNIT_NAME]
            .map(String::from)
            .to_vec()
    };
    // systemctl prints timestamps in a form journalctl's --since reads back.
    let started = systemctl(
        target,
        &["show", "-p", "ExecMainStartTimestamp", "--value", UNIT_NAME],
    )
    .await
    .map(|s| s.trim().to_string())
    .unwrap_or_default();
    if !started.is_empty() && started != "n/a" {
        args.push(format!("--since={started}"));
    }
    let mut cmd = tokio::process::Command::new("/usr/bin/journalctl");
    cmd.args(&args).env_clear().stdin(Stdio::null());
    match bounded::output(cmd, Duration::from_secs(30)).await {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Item, PLAN_FORMAT_VERSION, ResourceId};

    /// Shapes from the diagnosis corpus (tests/fixtures/diagnosis/log-lines.txt): the journal's
    /// and a terminal's.
    #[test]
    fn the_last_error_is_the_message_of_the_last_fatal_or_error_line() {
        let journal = "Feb 20 21:05:47 h k3s[21831]: time=\"2026-02-20T21:05:47+01:00\" level=info msg=\"Starting k3s v1.35.1+k3s1\"\n\
            Feb 20 21:05:48 h k3s[21831]: time=\"2026-02-20T21:05:48+01:00\" level=fatal msg=\"expected sysctl value \\\"net.ipv4.ip_forward\\\" to be \\\"1\\\", got \\\"0\\\"\"\n\
            Feb 20 21:05:48 h systemd[1200]: k3s-rootless.service: Main process exited, code=exited, status=1/FAILURE\n";
        assert_eq!(
            last_error(journal).as_deref(),
            Some(r#"expected sysctl value "net.ipv4.ip_forward" to be "1", got "0""#)
        );
        assert_eq!(
            last_error("x\nFATA[0000] failed to start the child: fork/exec /proc/self/exe: operation not permitted\n").as_deref(),
            Some("FATA[0000] failed to start the child: fork/exec /proc/self/exe: operation not permitted")
        );
        assert_eq!(
            last_error("level=info msg=\"fine\"\nStarted k3s-rootless.service\n"),
            None
        );
        let hostile = format!("level=fatal msg=\"a\u{1b}[2Jb{}\"", "x".repeat(1000));
        let got = last_error(&hostile).unwrap();
        assert!(!got.contains('\u{1b}'), "{got:?}");
        assert_eq!(got.chars().count(), 300);
    }

    #[test]
    fn a_boot_time_override_is_a_warning_of_a_healthy_report() {
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            spec: "s".into(),
            spec_sha256: "0".into(),
            user: "k3s".into(),
            executor: "root".into(),
            items: vec![Item::blocked(
                ResourceId::new("sysctl"),
                "sysctl/user.max_user_namespaces/override",
                "/etc/sysctl.d/99-x.conf:1 sets user.max_user_namespaces = 0 and overrides /etc/sysctl.d/90-groundwork.conf at boot",
                "remove that line, or set it to at least 28633",
            )],
            notes: vec![],
        };
        let r = report(
            "k3s",
            vec![Check::pass("smoke", "ok".into())],
            vec![],
            vec![],
            vec![],
            &plan,
        );
        assert!(r.healthy);
        assert_eq!(r.boot_warnings.len(), 1);
        let text = crate::render::verify::report(&r);
        assert!(
            text.contains("WARNING: /etc/sysctl.d/99-x.conf:1 sets"),
            "{text}"
        );
        assert!(text.contains("NOT after the next boot"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["boot_warnings"].as_array().unwrap().len(), 1);
    }
}
