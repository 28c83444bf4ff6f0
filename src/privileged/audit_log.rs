//! One syslog line per request (the journal picks it up, as AUTHPRIV like sudo's own), naming
//! the invoking user, the verb and the outcome, refusals included. Everything a caller could have
//! chosen is escaped: no newline or control byte reaches the log, so a request cannot forge
//! lines.

/// Printable ASCII stays; everything else becomes `\xNN`; at most `max` bytes are kept.
pub fn escape(text: &str, max: usize) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if out.len() >= max {
            out.push_str("...");
            break;
        }
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

pub fn record(invoker: &str, verb: &str, outcome: &str, msg: &str) {
    let text = format!(
        "invoker={} verb={} outcome={outcome} {}",
        escape(invoker, 80),
        escape(verb, 40),
        escape(msg, 1500)
    );
    let Ok(c) = std::ffi::CString::new(text) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_forges_a_line() {
        assert_eq!(
            escape("a\nb\r\x1b[31m\\ é", 100),
            "a\\x0ab\\x0d\\x1b[31m\\\\ \\xc3\\xa9"
        );
        assert_eq!(escape(&"x".repeat(50), 10), "xxxxxxxxxx...");
    }
}
