//! The helper's request path on arbitrary bytes: parse, then validate whatever parses. Neither
//! may panic, and an accepted request must stay inside the allow-lists and bounds.
#![no_main]

use groundwork::allow;
use groundwork::privileged::Request;
use groundwork::privileged::request::{MAX_K3S_BYTES, MAX_REQUEST_BYTES, parse};
use groundwork::privileged::validate::validate;
use libfuzzer_sys::fuzz_target;

/// The value's integers, in the key's shape and bounds (a second reading of allow's rules).
fn sysctl_ok(key: &str, value: &str) -> bool {
    let Some(k) = allow::sysctl(key) else {
        return false;
    };
    let nums: Option<Vec<i64>> = value
        .split(' ')
        .map(|p| {
            let d = p.strip_prefix('-').unwrap_or(p);
            (!d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
                .then(|| p.parse::<i64>().ok())
                .flatten()
        })
        .collect();
    let Some(nums) = nums else {
        return false;
    };
    match k.shape {
        allow::Shape::Int { min, max } => nums.len() == 1 && (min..=max).contains(&nums[0]),
        allow::Shape::Pair { min, max } => {
            nums.len() == 2 && nums.iter().all(|v| (min..=max).contains(v)) && nums[0] <= nums[1]
        }
    }
}

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
            assert!(sysctl_ok(key, value), "{key:?} = {value:?}");
        }
        Request::PersistSysctls { settings } => {
            assert!(!settings.is_empty());
            for (key, value) in settings {
                assert!(sysctl_ok(key, value), "{key:?} = {value:?}");
            }
        }
        Request::SetSubids {
            user,
            start,
            count,
            uids,
            gids,
        } => {
            assert!(user != "root" && groundwork::names::is_user_name(user));
            assert!(*start >= 100_000);
            assert!((65_536..=allow::MAX_SUBID_COUNT).contains(count));
            assert!(start.checked_add(*count).is_some());
            assert!(*uids || *gids);
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
        Request::WriteDelegation { controllers } => {
            for c in controllers {
                assert!(allow::CGROUP_CONTROLLERS.contains(&c.as_str()));
            }
        }
        Request::InstallApparmorProfile { binary } => {
            assert!(
                ["/usr/local/bin/k3s", "/usr/bin/k3s", "/opt/k3s/bin/k3s"]
                    .contains(&binary.as_str())
            );
        }
        Request::InstallK3s {
            version,
            sha256,
            size,
            install_path,
        } => {
            assert!(
                ["/usr/local/bin/k3s", "/usr/bin/k3s", "/opt/k3s/bin/k3s"]
                    .contains(&install_path.as_str())
            );
            assert!(version.starts_with('v') && version.contains("+k3s"));
            assert!(!version.contains(['/', '\n', ' ', '\\']));
            assert!(sha256.len() == 64 && sha256.bytes().all(|c| b"0123456789abcdef".contains(&c)));
            assert!((1..=MAX_K3S_BYTES).contains(size));
        }
        Request::CreateUser { user }
        | Request::RestartUserManager { user }
        | Request::EnableLinger { user } => {
            assert!(user != "root" && groundwork::names::is_user_name(user));
        }
    }
    // What the helper accepted re-serializes to a request that parses to the same thing.
    let again = serde_json::to_vec(&req).expect("requests serialize");
    assert_eq!(parse(&again).as_ref(), Ok(&req));
});
