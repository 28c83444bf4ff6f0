//! groundwork-helper: the privileged half of groundwork, run as `sudo -n groundwork-helper` with
//! one JSON request on stdin (never in argv, which `ps` shows). It parses the request into a
//! closed set of verbs, validates every argument, checks that the invoking user acts only for
//! themself, runs the verb, logs it to syslog, and prints one JSON response.
//!
//! Exit codes: 0 done, 1 the verb failed, 2 the request was refused (nothing changed).

use groundwork::privileged::{self, Request, Response, authorize, request};
use std::io::{Read, Write};

const EXIT_FAILED: i32 = 1;
const EXIT_REFUSED: i32 = 2;

fn main() {
    let (code, response) = handle();
    let line = serde_json::to_string(&response).expect("responses serialize");
    let _ = writeln!(std::io::stdout(), "{line}");
    std::process::exit(code);
}

fn refused(msg: String) -> (i32, Response) {
    (
        EXIT_REFUSED,
        Response {
            ok: false,
            changed: false,
            msg,
        },
    )
}

fn handle() -> (i32, Response) {
    // argv carries nothing: a request in argv would be visible to every user through ps.
    if std::env::args_os().count() != 1 {
        return refused("the helper takes no arguments; send the request as JSON on stdin".into());
    }
    let invoker = match authorize::invoker(
        nix::unistd::getuid().as_raw(),
        std::env::var("SUDO_UID").ok().as_deref(),
    ) {
        Ok(i) => i,
        Err(e) => return refused(e),
    };
    let mut input = Vec::new();
    let limit = request::MAX_REQUEST_BYTES as u64 + 1;
    if let Err(e) = std::io::stdin().take(limit).read_to_end(&mut input) {
        return refused(format!("cannot read the request: {e}"));
    }
    let req: Request = match request::parse(&input) {
        Ok(r) => r,
        Err(e) => {
            log(&invoker, "-", &format!("refused: {e}"));
            return refused(e);
        }
    };
    if let Err(e) =
        privileged::validate::validate(&req).and_then(|_| authorize::authorize(&invoker, &req))
    {
        log(&invoker, req.verb(), &format!("refused: {e}"));
        return refused(e);
    }
    match privileged::execute_for(&req, &invoker) {
        Ok((changed, msg)) => {
            log(&invoker, req.verb(), &msg);
            (
                0,
                Response {
                    ok: true,
                    changed,
                    msg,
                },
            )
        }
        Err(msg) => {
            log(&invoker, req.verb(), &format!("failed: {msg}"));
            (
                EXIT_FAILED,
                Response {
                    ok: false,
                    changed: false,
                    msg,
                },
            )
        }
    }
}

/// One syslog line per request (the journal picks it up), naming the invoking user.
fn log(invoker: &authorize::Invoker, verb: &str, msg: &str) {
    let text = format!("invoker={} verb={verb} {msg}", invoker.describe());
    let Ok(c) = std::ffi::CString::new(text.replace('\0', " ")) else {
        return;
    };
    let ident = c"groundwork-helper";
    // SAFETY: ident is a static C string; the format is a constant "%s" with one C string arg.
    unsafe {
        libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_AUTHPRIV);
        libc::syslog(libc::LOG_NOTICE, c"%s".as_ptr(), c.as_ptr());
        libc::closelog();
    }
}
