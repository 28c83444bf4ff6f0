//! groundwork-helper: the privileged half of groundwork, run as `sudo -n groundwork-helper` with
//! one JSON request line on stdin (never in argv, which `ps` shows), followed only for
//! install_k3s by the binary's bytes. It resets what the caller could have set up, finds the
//! invoking user, reads root's policy, parses the request into a closed set of verbs, validates
//! and authorizes it, runs it, logs every outcome (refusals included) to syslog, and prints one
//! JSON reply.
//!
//! Exit codes: 0 done, 1 the verb failed, 2 the request was refused (nothing changed).

use groundwork::policy::{self, LOGIN_DEFS, POLICY_FILE, Policy};
use groundwork::privileged::{
    self, Context, Kind, Request, Response, VerbError, audit_log, authorize, hardening, request,
    secure_fs,
};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The request line must arrive within this; a binary may take longer, but never stall.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const PAYLOAD_TIMEOUT: Duration = Duration::from_secs(900);
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    let reset = hardening::reset_process();
    let (invoker, verb, result) = handle(reset);
    let (kind, changed, msg) = match &result {
        Ok(done) => (Kind::Done, done.changed, done.msg.clone()),
        Err(e @ VerbError::Failed { changed, .. }) => (e.kind(), *changed, e.to_string()),
        Err(e) => (e.kind(), false, e.to_string()),
    };
    let outcome = match kind {
        Kind::Done if changed => "changed",
        Kind::Done => "unchanged",
        Kind::Refused => "refused",
        Kind::Failed => "failed",
    };
    audit_log::record(&invoker, verb, outcome, &msg);
    let response = Response {
        ok: kind == Kind::Done,
        changed,
        kind,
        msg,
    };
    let line = serde_json::to_string(&response).expect("responses serialize");
    let _ = writeln!(std::io::stdout(), "{line}");
    std::process::exit(kind.exit_code());
}

/// The effective policy, from root's files only.
fn load_policy() -> Result<Policy, String> {
    let read = |path: &str| {
        secure_fs::read_trusted(Path::new(path), 256 * 1024).map_err(|e| {
            format!("{path} cannot be trusted: {e}; every request is refused until root fixes it")
        })
    };
    let policy_text = read(POLICY_FILE)?;
    let login_defs = read(LOGIN_DEFS)?.unwrap_or_default();
    policy::from_texts(policy_text.as_deref(), &login_defs)
        .map_err(|e| format!("{e}; every request is refused until root fixes it"))
}

/// Returns who asked (as logged), the verb, and the result.
fn handle(
    reset: std::io::Result<()>,
) -> (String, &'static str, Result<privileged::Done, VerbError>) {
    let uid_env = std::env::var("SUDO_UID").ok();
    let refused =
        |who: String, verb: &'static str, msg: String| (who, verb, Err(VerbError::Refused(msg)));
    let unknown = format!(
        "unknown (SUDO_UID={})",
        uid_env.as_deref().unwrap_or("unset")
    );
    if let Err(e) = reset {
        return refused(
            unknown,
            "-",
            format!("cannot reset the process limits: {e}"),
        );
    }
    // Who asks comes first, so that even a refusal of argv names them in the log.
    let invoker = match authorize::invoker(nix::unistd::getuid().as_raw(), uid_env.as_deref()) {
        Ok(i) => i,
        Err(e) => return refused(unknown, "-", e),
    };
    // argv carries nothing: a request in argv would be visible to every user through ps.
    if std::env::args_os().count() != 1 {
        return refused(
            invoker.describe(),
            "-",
            "the helper takes no arguments; send the request as JSON on stdin".into(),
        );
    }
    let who = invoker.describe();
    if let Err(e) = hardening::check_cgroup() {
        return refused(who, "-", e);
    }
    let policy = match load_policy() {
        Ok(p) => p,
        Err(e) => return refused(who, "-", e),
    };
    let mut stdin = hardening::TimedStdin::new(HEADER_TIMEOUT, IDLE_TIMEOUT);
    let (line, _) = match stdin.read_line(request::MAX_REQUEST_BYTES) {
        Ok(l) => l,
        Err(e) => return refused(who, "-", format!("cannot read the request: {e}")),
    };
    let req: Request = match request::parse(&line) {
        Ok(r) => r,
        Err(e) => return refused(who, "-", e),
    };
    let verb = req.verb();
    let mut payload = hardening::TimedStdin::new(PAYLOAD_TIMEOUT, IDLE_TIMEOUT);
    if req.payload_size() == 0 {
        // Nothing may follow a request without a payload: trailing bytes mean a confused or
        // hostile caller, and the request is refused whole.
        let mut rest = [0u8; 64];
        match std::io::Read::read(&mut payload, &mut rest) {
            Ok(0) => {}
            Ok(n) if rest[..n].iter().all(u8::is_ascii_whitespace) => {}
            Ok(_) => {
                return refused(
                    who,
                    verb,
                    "request refused: data after the request line".into(),
                );
            }
            Err(e) => return refused(who, verb, format!("cannot read the request: {e}")),
        }
    }
    let result = privileged::execute(
        &req,
        &mut Context {
            invoker: &invoker,
            policy: &policy,
            payload: &mut payload,
        },
    );
    (who, verb, result)
}
