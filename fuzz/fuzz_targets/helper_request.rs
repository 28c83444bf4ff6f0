//! The helper's request path on arbitrary bytes: parse, then validate whatever parses. Neither
//! may panic, and an accepted request must stay inside the allow-lists and bounds.
#![no_main]

use groundwork::privileged::request::{MAX_REQUEST_BYTES, parse};
use groundwork::privileged::validate::validate;
use groundwork::privileged::{Request, allow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_REQUEST_BYTES && !data.contains(&0));
    if validate(&req).is_err() {
        return;
    }
    match &req {
        Request::SetSysctl { key, value } => {
            assert!(allow::SYSCTLS.contains(&key.as_str()));
            assert!(allow::is_numeric_sysctl_value(value));
        }
        Request::PersistSysctls { settings } => {
            for (key, value) in settings {
                assert!(allow::SYSCTLS.contains(&key.as_str()));
                assert!(allow::is_numeric_sysctl_value(value));
            }
        }
        Request::AddSubids { start, count, .. } => {
            assert!(*start >= 100_000);
            assert!((65_536..=allow::MAX_SUBID_COUNT).contains(count));
            assert!(start.checked_add(*count).is_some());
        }
        Request::InstallPackages { names } => {
            for n in names {
                assert!(allow::PACKAGES.contains(&n.as_str()) && !n.starts_with('-'));
            }
        }
        Request::LoadModule { name } => {
            assert!(allow::MODULES.contains(&name.as_str()) && !name.starts_with('-'));
        }
        Request::PersistModules { names } => {
            for n in names {
                assert!(allow::MODULES.contains(&n.as_str()) && !n.starts_with('-'));
            }
        }
        Request::InstallK3s { install_path, .. } => {
            assert!(allow::is_allowed_install_path(install_path));
        }
        _ => {}
    }
    // What the helper accepted re-serializes to a request that parses to the same thing.
    let again = serde_json::to_vec(&req).expect("requests serialize");
    assert_eq!(parse(&again).as_ref(), Ok(&req));
});
