//! The README's sample outputs are the real ones. Each sample is a fenced block that starts with
//! the command (`$ groundwork ...`), right after a marker that names how to reproduce it:
//!
//! ```text
//! <!-- sample: SETUP (a note for readers) -->
//! ```
//!
//! SETUP is a host of tests/common (`fresh`, `converged`) with a change, below in `setup`. The
//! command runs on it (`--root` is added) in a directory that holds `lab.yaml`, and its output
//! (stdout, then stderr) must be the block's. `UPDATE_README_SAMPLES=1 cargo test --test
//! readme_samples` writes the real output into the README instead.
//!
//! The samples from the VM suite (`vm-verify-*`: verify needs a live host) cannot be run here;
//! their checks are rendered through verify's own report, with the plan of a captured host in
//! the same state and the diagnosis that verify's code gives for the failed checks, and each
//! check's name must be one that verify has.

mod common;
use common::*;
use groundwork::authority::Executor;
use groundwork::engine::Target;
use groundwork::engine::verify::check::Check;
use groundwork::engine::verify::diagnose;
use groundwork::host::HostRoot;
use groundwork::plan::Plan;
use groundwork::resources::Facts;
use groundwork::spec::SpecSource;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One sample of the README: its setup, the command, the output, and where its body is.
struct Sample {
    setup: String,
    command: String,
    output: String,
    /// Lines of README.md (0-based) of the output: after the `$` line, up to the closing fence.
    body: std::ops::Range<usize>,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README.md")
}

fn samples(readme: &str) -> Vec<Sample> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("<!-- sample: ") else {
            continue;
        };
        let setup = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            lines.get(i + 1),
            Some(&"```"),
            "README.md:{}: a sample marker must be followed by a fence",
            i + 1
        );
        let command = lines
            .get(i + 2)
            .and_then(|l| l.strip_prefix("$ "))
            .unwrap_or_else(|| {
                panic!(
                    "README.md:{}: a sample starts with `$ groundwork ...`",
                    i + 3
                )
            });
        let start = i + 3;
        let end = start
            + lines[start..]
                .iter()
                .position(|l| *l == "```")
                .expect("a closing fence");
        out.push(Sample {
            setup,
            command: command.to_string(),
            output: lines[start..end].iter().map(|l| format!("{l}\n")).collect(),
            body: start..end,
        });
    }
    out
}

/// The host of a setup, with `lab.yaml` (the example spec) beside its root.
fn setup(name: &str) -> Host {
    let h = match name {
        "fresh" | "empty" | "misspelt-create" | "three-mistakes" => Host::fresh(),
        "drifted" | "vm-verify-healthy" | "vm-verify-no-userns" => Host::converged(),
        other => panic!("README.md names the unknown sample setup {other:?}"),
    };
    let mut lab = EXAMPLE_SPEC.clone();
    match name {
        // Someone set ip_forward back to 0 at runtime, and edited groundwork's sysctl file.
        "drifted" => {
            h.write("/proc/sys/net/ipv4/ip_forward", "0\n").edit(
                groundwork::managed_files::SYSCTL_FILE,
                "net.ipv4.ip_forward = 1\n",
                "",
            );
        }
        "misspelt-create" => lab = lab.replacen("  create: true", "  crate: true", 1),
        // Every mistake is reported in one run: a misspelt key, a count in words, no version.
        "three-mistakes" => {
            let version = lab
                .lines()
                .find(|l| l.trim_start().starts_with("version: v"))
                .expect("the example pins k3s")
                .to_string();
            lab = lab
                .replacen("  create: true", "  crate: true", 1)
                .replacen("  count: 65536", "  count: lots", 1)
                .replacen(&format!("{version}\n"), "", 1);
        }
        "vm-verify-no-userns" => {
            h.write("/proc/sys/user/max_user_namespaces", "0\n");
        }
        _ => {}
    }
    if name != "empty" {
        std::fs::write(h.outside("lab.yaml"), lab).unwrap();
    }
    h
}

/// What the sample's command prints on its host: stdout, then stderr.
fn real_output(sample: &Sample) -> String {
    let h = setup(&sample.setup);
    let args: Vec<&str> = sample.command.split_whitespace().collect();
    assert_eq!(args[0], "groundwork", "{}", sample.command);
    if sample.setup.starts_with("vm-") {
        return rendered_verify(&h, sample);
    }
    let out = h.groundwork(&args[1..]);
    out.filter(&format!("{}{}", out.stdout, out.stderr))
}

/// A verify sample from the VM suite, rendered by verify's own report from its checks.
fn rendered_verify(h: &Host, sample: &Sample) -> String {
    let spec = sample.command.split_whitespace().last().unwrap();
    let (mut smoke, mut network, mut cluster) = (Vec::new(), Vec::new(), Vec::new());
    let mut stage = "";
    let verify_src = source_of_verify();
    for line in sample.output.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            stage = line;
            continue;
        }
        let Some(check) = line
            .strip_prefix("  PASS ")
            .map(|c| (true, c))
            .or_else(|| line.strip_prefix("  FAIL ").map(|c| (false, c)))
        else {
            continue;
        };
        let (ok, text) = check;
        let (name, detail) = text.split_once(": ").expect("NAME: detail");
        assert!(
            verify_src.contains(&format!("\"{name}\"")),
            "README's verify sample names a check verify does not have: {name:?}"
        );
        let check = if ok {
            Check::pass(name, detail.to_string())
        } else {
            Check::fail(name, detail.to_string())
        };
        match stage {
            "Rootless smoke test:" => smoke.push(check),
            "Rootless networking:" => network.push(check),
            "Cluster health:" => cluster.push(check),
            other => panic!("a check under {other:?}"),
        }
    }
    let (mut plan, facts) = plan_of(h);
    plan.spec = spec.to_string();
    let evidence =
        groundwork::engine::verify::failed_evidence(smoke.iter().chain(&network).chain(&cluster));
    let diagnosis = diagnose::diagnose(&evidence, &diagnose::HostContext::from_facts(&facts));
    let report =
        groundwork::engine::verify::report(USER, smoke, network, cluster, diagnosis, &plan);
    groundwork::render::verify::report(&report)
}

/// The plan of `lab.yaml` on the host, and the facts it was made from, as verify gets them.
fn plan_of(h: &Host) -> (Plan, std::sync::Arc<Facts>) {
    let source = SpecSource {
        name: "lab.yaml".into(),
        text: std::fs::read_to_string(h.outside("lab.yaml")).unwrap(),
    };
    let spec = groundwork::spec::parse(&source).expect("lab.yaml is valid");
    let root = HostRoot::new(h.root());
    let planned = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(groundwork::engine::plan(&Target {
            root: &root,
            spec: &spec,
            source: &source,
            executor: Executor::Root,
        }))
        .expect("a plan");
    (planned.plan, planned.facts)
}

/// The source of verify's checks (the files of src/engine/verify), where every check's name is
/// a string literal.
fn source_of_verify() -> String {
    let dir = Path::new(ROOT).join("src/engine/verify");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn every_sample_is_the_real_output() {
    let text = readme();
    let samples = samples(&text);
    assert!(samples.len() >= 5, "the README's samples were not found");
    let update = std::env::var_os("UPDATE_README_SAMPLES").is_some();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut stale = Vec::new();
    // Bottom up, so that a rewritten body does not move the ones above it.
    for sample in samples.iter().rev() {
        let real = real_output(sample);
        if real == sample.output {
            continue;
        }
        if update && !sample.setup.starts_with("vm-") {
            lines.splice(sample.body.clone(), real.lines().map(String::from));
            continue;
        }
        let diff = similar::TextDiff::from_lines(&sample.output, &real)
            .unified_diff()
            .header("README.md", "real output")
            .to_string();
        stale.push(format!(
            "README.md:{}: `{}` ({}) prints something else:\n{diff}",
            sample.body.start, sample.command, sample.setup
        ));
    }
    if update {
        std::fs::write(Path::new(ROOT).join("README.md"), lines.join("\n") + "\n").unwrap();
    }
    assert!(
        stale.is_empty(),
        "{}\nRegenerate with `UPDATE_README_SAMPLES=1 cargo test --test readme_samples` (not the \
         vm-* samples: take those from the VM suite's logs).",
        stale.join("\n")
    );
}

/// Every block that shows a groundwork command's output is a checked sample.
#[test]
fn every_output_block_is_marked() {
    let text = readme();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("$ groundwork") {
            assert!(
                i >= 2 && lines[i - 2].starts_with("<!-- sample: "),
                "README.md:{}: the output of `{line}` is not marked as a sample \
                 (`<!-- sample: SETUP -->` before its fence; see tests/readme_samples.rs)",
                i + 1
            );
        }
    }
}
