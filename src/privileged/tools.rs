//! Running the host's own tools: absolute paths only, a cleared environment with a fixed PATH,
//! never a shell, and `--` before operands so that no operand is read as an option.

use std::process::Command;

const SAFE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The first of `candidates` that exists (tools live in /usr/sbin on merged-usr hosts and in
/// /sbin on older ones).
pub fn find(candidates: &[&'static str]) -> Result<&'static str, String> {
    candidates
        .iter()
        .copied()
        .find(|p| std::path::Path::new(p).is_file())
        .ok_or_else(|| format!("none of {} exists on this host", candidates.join(", ")))
}

/// Runs a tool and returns its stdout; a non-zero exit is an error with the tool's stderr.
pub fn run(program: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Result<String, String> {
    debug_assert!(program.starts_with('/'), "tools run by absolute path");
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("LANG", "C.UTF-8");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            tail.join(" / ")
        ))
    }
}
