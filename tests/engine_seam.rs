//! The executor's rules, checked through its seam without a VM: a recording fake stands in for
//! the host (every privileged request, user-session call and download is recorded, and one can
//! be made to fail), and the plans come from the captured Debian 12 trees. The real host runs
//! the same executor in the VM suite.

mod common;

use common::{Host, STANDIN_VERSION};
use groundwork::authority::Executor;
use groundwork::engine::apply::{Executed, execute};
use groundwork::engine::events::{Event, FnSink};
use groundwork::engine::host_ops::{HomeFile, HostOps, OpError, OpKind};
use groundwork::engine::k3s_fetch::Fetched;
use groundwork::engine::{self, Target};
use groundwork::host::HostRoot;
use groundwork::plan::{Plan, SavedPlan, Step};
use groundwork::privileged::{Done, Request};
use groundwork::spec::{Spec, SpecSource};
use std::path::{Path, PathBuf};

/// Records what apply asks of the host, in order; fails the call named in `fail_on`.
#[derive(Default)]
struct Recording {
    calls: Vec<String>,
    fail_on: Option<String>,
}

impl Recording {
    fn call(&mut self, what: String) -> Result<(), OpError> {
        let fails = self.fail_on.as_deref() == Some(what.as_str());
        self.calls.push(what.clone());
        if fails {
            return Err(OpError {
                kind: OpKind::Failed,
                changed: false,
                msg: format!("{what}: made to fail"),
            });
        }
        Ok(())
    }

    fn position(&self, what: &str) -> usize {
        self.calls
            .iter()
            .position(|c| c == what)
            .unwrap_or_else(|| panic!("no {what:?} in {:?}", self.calls))
    }
}

impl HostOps for Recording {
    async fn privileged(&mut self, req: &Request, payload: Option<&Path>) -> Result<Done, OpError> {
        let with = if payload.is_some() { " +payload" } else { "" };
        self.call(format!("privileged {}{with}", req.verb()))?;
        Ok(Done::changed(req.verb()))
    }

    async fn fetch_k3s(&mut self, _: &groundwork::spec::K3sSpec) -> Result<Fetched, OpError> {
        self.call("fetch k3s".into())?;
        Ok(Fetched {
            path: PathBuf::from("/dev/null"),
            sha256: "0".repeat(64),
            size: 1,
        })
    }

    async fn home_file(
        &mut self,
        _: &str,
        file: HomeFile,
        content: Option<&[u8]>,
    ) -> Result<(), OpError> {
        let verb = if content.is_some() { "write" } else { "remove" };
        self.call(format!("{verb} {file:?}"))
    }

    async fn systemctl_user(&mut self, _: &str, args: &[&str]) -> Result<(), OpError> {
        self.call(format!("systemctl {}", args.join(" ")))
    }

    async fn wait_for_user_manager(&mut self, _: &str) -> Result<(), OpError> {
        self.call("wait for the user manager".into())
    }
}

fn spec_of(h: &Host) -> (Spec, SpecSource) {
    groundwork::spec::load_file(&h.spec_path()).expect("a valid spec")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn plan_of(h: &Host) -> (Plan, Spec) {
    let (spec, source) = spec_of(h);
    let root = HostRoot::new(h.root());
    let planned = block_on(engine::plan(&Target {
        root: &root,
        spec: &spec,
        source: &source,
        executor: Executor::Root,
    }))
    .expect("a plan");
    (planned.plan, spec)
}

/// Runs the plan through the fake; returns what ran and the ids of the finished steps, as the
/// events reported them.
fn run(plan: &Plan, spec: &Spec, host: &mut Recording) -> (Executed, Vec<String>) {
    let mut finished = Vec::new();
    let mut sink = FnSink(|e: Event<'_>| {
        if let Event::StepFinished { outcome, .. } = e {
            finished.push(outcome.id.clone());
        }
    });
    let done = block_on(execute(plan, spec, host, &mut sink));
    (done, finished)
}

fn step_ids(plan: &Plan) -> Vec<String> {
    plan.steps().map(|(i, _)| i.id.clone()).collect()
}

#[test]
fn apply_runs_exactly_the_saved_plan_step_by_step() {
    let h = Host::fresh();
    let (plan, spec) = plan_of(&h);
    // Through a plan file, as `plan --out` and `apply FILE` do.
    let (_, source) = spec_of(&h);
    let file = h.outside("plan.json");
    SavedPlan {
        saved_plan: plan.clone(),
        spec_name: source.name.clone(),
        spec_text: source.text.clone(),
    }
    .write(&file)
    .unwrap();
    let saved = SavedPlan::read_if_plan(&file)
        .unwrap()
        .expect("a plan file");
    assert_eq!(saved.saved_plan, plan);
    let mut host = Recording::default();
    let (done, finished) = run(&saved.saved_plan, &spec, &mut host);
    assert_eq!(done.failed(), 0);
    assert_eq!(
        finished,
        step_ids(&plan),
        "the event log is the plan, in order"
    );
    // Every call the host got belongs to a step of the plan: one per step, the install's
    // download excepted (it is part of the install_k3s step).
    assert_eq!(
        host.calls.len(),
        plan.steps().count() + 1,
        "{:?}",
        host.calls
    );
    assert!(host.position("fetch k3s") < host.position("privileged install_k3s +payload"));
}

#[test]
fn a_written_unit_is_reloaded_before_it_is_enabled_or_started() {
    let h = Host::fresh();
    let (plan, spec) = plan_of(&h);
    let mut host = Recording::default();
    run(&plan, &spec, &mut host);
    let write = host.position("write Unit");
    let reload = host.position("systemctl daemon-reload");
    let enable = host.position("systemctl enable k3s-rootless.service");
    let start = host.position("systemctl start k3s-rootless.service");
    assert!(
        write < reload && reload < enable && enable < start,
        "{:?}",
        host.calls
    );
    // A fresh host's manager starts with linger: the plan waits for it before the reload.
    let linger = host.position("privileged enable_linger");
    let wait = host.position("wait for the user manager");
    assert!(linger < wait && wait < reload, "{:?}", host.calls);
    // reset-failed comes right before the start, so a failed unit starts.
    assert_eq!(
        host.position("systemctl reset-failed k3s-rootless.service") + 1,
        start
    );
}

#[test]
fn a_failure_stops_apply_and_lists_what_did_not_run() {
    let h = Host::fresh();
    let (plan, spec) = plan_of(&h);
    let mut host = Recording {
        fail_on: Some("privileged set_subids".into()),
        ..Default::default()
    };
    let (done, finished) = run(&plan, &spec, &mut host);
    assert_eq!(done.failed(), 1);
    let failed = done.outcomes.last().unwrap();
    assert_eq!((failed.id.as_str(), failed.ok), ("subids", false));
    assert_eq!(failed.kind, "failed");
    assert_eq!(host.calls.last().unwrap(), "privileged set_subids");
    let ids = step_ids(&plan);
    let at = ids.iter().position(|i| i == "subids").unwrap();
    assert_eq!(finished, ids[..=at]);
    let not_run: Vec<String> = done.not_run.iter().map(|i| i.id.clone()).collect();
    assert_eq!(not_run, ids[at + 1..], "every later step, in order");
}

#[test]
fn the_restart_record_precedes_the_change_that_needs_the_restart() {
    let h = Host::converged();
    h.install_k3s("v1.30.8+k3s1");
    let (plan, spec) = plan_of(&h);
    assert!(
        plan.steps()
            .any(|(_, s)| matches!(s, Step::MarkRestartPending { .. })),
        "{plan:#?}"
    );
    let mut host = Recording::default();
    run(&plan, &spec, &mut host);
    let mark = host.position("write PendingRestart");
    let install = host.position("privileged install_k3s +payload");
    let restart = host.position("systemctl restart k3s-rootless.service");
    let clear = host.position("remove PendingRestart");
    assert!(
        mark < install && install < restart && restart < clear,
        "{:?}",
        host.calls
    );
    // The spec pins the stand-in's release: the same run on a host of that release changes
    // nothing and restarts nothing.
    h.install_k3s(STANDIN_VERSION);
    let (plan, _) = plan_of(&h);
    assert!(plan.is_empty(), "{plan:#?}");
}

#[test]
fn a_failure_between_the_record_and_the_restart_leaves_the_record() {
    let h = Host::converged();
    h.install_k3s("v1.30.8+k3s1");
    let (plan, spec) = plan_of(&h);
    let mut host = Recording {
        fail_on: Some("privileged install_k3s +payload".into()),
        ..Default::default()
    };
    let (done, _) = run(&plan, &spec, &mut host);
    assert_eq!(done.failed(), 1);
    assert!(host.calls.contains(&"write PendingRestart".to_string()));
    assert!(!host.calls.contains(&"remove PendingRestart".to_string()));
    // The next plan, on a host where the record is there, restarts the unit.
    h.write(
        "/home/k3s/.local/state/groundwork/pending-restart",
        "k3s-rootless must restart\n",
    );
    h.install_k3s(STANDIN_VERSION);
    let (plan, _) = plan_of(&h);
    let steps: Vec<&str> = plan.steps().map(|(_, s)| s.name()).collect();
    assert_eq!(
        steps,
        ["reset_failed_unit", "restart_unit", "clear_restart_pending"]
    );
}

/// Every step that finishes has started first, the failing one included: a progress display
/// never counts a step it was not told about (a failed reload of the user manager once
/// finished without having started).
#[test]
fn every_finished_step_was_started() {
    let h = Host::fresh();
    let (plan, spec) = plan_of(&h);
    let mut host = Recording {
        fail_on: Some("systemctl daemon-reload".into()),
        ..Default::default()
    };
    let mut log: Vec<(bool, usize, String)> = Vec::new();
    let mut sink = FnSink(|e: Event<'_>| match e {
        Event::StepStarted { index, item, .. } => log.push((true, index, item.id.clone())),
        Event::StepFinished { index, outcome, .. } => log.push((false, index, outcome.id.clone())),
        _ => {}
    });
    let done = block_on(execute(&plan, &spec, &mut host, &mut sink));
    assert_eq!(done.failed(), 1);
    assert_eq!(done.outcomes.last().unwrap().step, "reload_user_manager");
    for pair in log.chunks(2) {
        let [(true, a, id_a), (false, b, id_b)] = pair else {
            panic!("a step finished without starting: {log:?}");
        };
        assert_eq!((a, id_a), (b, id_b));
    }
}
