//! Malformed specs: every command refuses them with exit 1 and a message that names the file,
//! line, column and field path (with a "did you mean" for a misspelt key), before it observes
//! anything.
//!
//! "Before it observes anything" is checked by pointing `--root` at a directory that does not
//! exist: an observation would fail with "cannot observe the host" instead.

mod common;
use common::*;

const K3S: &str = "k3s: { version: v1.31.4+k3s1 }\n";

/// Runs `validate`, then `plan`, `drift` and `facts` against a root that does not exist, and
/// checks that all four refuse the spec with the same message, which contains every string in
/// `expected` (`{spec}` stands for the spec's path). Returns validate's report.
fn refused(spec: impl AsRef<[u8]>, expected: &[&str]) -> String {
    let h = Host::bare();
    h.set_spec(spec);
    refused_by(&h, &[SPEC], expected)
}

fn refused_by(h: &Host, spec_args: &[&str], expected: &[&str]) -> String {
    let nowhere = h.outside("no-such-root");
    let validate = h.groundwork_at(&nowhere, &[&["validate"], spec_args].concat());
    validate.code(1);
    assert!(validate.stdout.is_empty(), "{}", validate.report());
    assert!(
        validate.stderr.starts_with("error: invalid spec\n"),
        "{}",
        validate.report()
    );
    for want in expected {
        let want = want.replace(SPEC, "[TMP]/spec.yaml");
        assert!(
            validate.filter(&validate.stderr).contains(&want),
            "the message lacks {want:?}\n{}",
            validate.report()
        );
    }
    for command in ["plan", "drift", "facts"] {
        let out = h.groundwork_at(&nowhere, &[&[command], spec_args].concat());
        out.code(1);
        assert!(out.stdout.is_empty(), "{command}: {}", out.report());
        assert_eq!(out.stderr, validate.stderr, "{command} says something else");
    }
    validate.report()
}

/// `spec_error! { name, spec text, [strings the message must contain] }`
macro_rules! spec_error {
    ($name:ident, $spec:expr, [$($want:expr),* $(,)?]) => {
        #[test]
        fn $name() {
            let report = refused($spec, &[$($want),*]);
            insta::assert_snapshot!(report);
        }
    };
}

// ---- files that are no spec at all ------------------------------------------------------

spec_error! { empty_file, "", ["{spec}: the spec is empty"] }

spec_error! { only_comments, "# nothing yet\n\n  # really\n", ["{spec}: the spec is empty"] }

spec_error! {
    binary_junk, b"\x7fELF\x02\x01\x01\x00\x00\x00user: k3s\n".as_slice(),
    ["{spec}: this is a binary file (it contains NUL bytes)"]
}

spec_error! {
    not_utf8, b"user: { name: k3s }\n# caf\xe9\n".as_slice(),
    ["{spec}: the spec is not valid UTF-8 (at byte 25)"]
}

spec_error! {
    too_large, format!("user: {{ name: k3s }}\n{K3S}{}", "# padding\n".repeat(110_000)),
    ["{spec}: the spec is 1100051 bytes; a spec is at most 1048576 bytes"]
}

spec_error! {
    yaml_syntax_error, format!("user: {{ name: k3s\n{K3S}"),
    ["{spec}:1:7: field `user`: this `{` is not closed"]
}

spec_error! { a_list_instead_of_a_map, "- user: k3s\n", ["{spec}:1:1: "] }

// ---- fields -----------------------------------------------------------------------------

spec_error! {
    unknown_field_suggests_the_right_one, format!("user:\n  name: k3s\n  crate: true\n{K3S}"),
    [
        "{spec}:3:3: field `user.crate`: unknown field `crate`",
        "= hint: did you mean `create`?",
    ]
}

spec_error! {
    unknown_top_level_field_suggests_the_right_one,
    format!("user: {{ name: k3s }}\nsysctl:\n  net.ipv4.ip_forward: 1\n{K3S}"),
    [
        "{spec}:2:1: field `sysctl`: unknown field `sysctl`",
        "= hint: did you mean `sysctls`?",
    ]
}

spec_error! {
    unknown_field_far_from_any_has_no_suggestion,
    format!("user: {{ name: k3s }}\n{K3S}kubernetes: true\n"),
    ["{spec}:3:1: field `kubernetes`: unknown field `kubernetes`"]
}

spec_error! {
    duplicate_key, format!("user: {{ name: k3s }}\n{K3S}user: {{ name: bob }}\n"),
    ["{spec}:3:1: field `user`: `user` is given twice; each key may appear once"]
}

spec_error! { missing_required_field, "user: { name: k3s }\n", ["{spec}:1:1: field `k3s`: missing field `k3s`"] }

spec_error! {
    wrong_type_number, format!("user: {{ name: k3s }}\nsubids:\n  count: lots\n{K3S}"),
    ["{spec}:3:10: field `subids.count`: "]
}

spec_error! {
    wrong_type_boolean, format!("user: {{ name: k3s }}\nlinger: \"yes please\"\n{K3S}"),
    ["{spec}:2:9: field `linger`: "]
}

// serde's derive would read a sequence as `[value, optional, at_least]`.
spec_error! {
    wrong_type_sysctl_value,
    format!("user: {{ name: k3s }}\n{K3S}sysctls:\n  net.ipv4.ip_forward: [1]\n"),
    ["{spec}:4:24: field `sysctls[\"net.ipv4.ip_forward\"]`: expected a whole number from 0 to 1 or a mapping with `value`, `optional` and `at_least`, found a list"]
}

// ---- values -----------------------------------------------------------------------------

spec_error! {
    bad_sysctl_key,
    format!("user: {{ name: k3s }}\n{K3S}sysctls:\n  net.ipv4.ip_forward: 1\n  net/ipv4/../../../etc/shadow: 1\n"),
    ["{spec}:5:3: field `sysctls[\"net/ipv4/../../../etc/shadow\"]`: \"net/ipv4/../../../etc/shadow\" is not a sysctl key"]
}

spec_error! {
    sysctl_groundwork_does_not_manage,
    format!("user: {{ name: k3s }}\n{K3S}sysctls:\n  kernel.core_pattern: \"|/bin/sh\"\n"),
    ["{spec}:4:3: field `sysctls[\"kernel.core_pattern\"]`: groundwork does not manage \"kernel.core_pattern\""]
}

spec_error! {
    subid_count_below_65536,
    format!("user: {{ name: k3s }}\nsubids:\n  start: auto\n  count: 1000\n{K3S}"),
    ["{spec}:4:3: field `subids.count`: count 1000 is outside 65536 to 16777216: rootless k3s needs at least 65536"]
}

// ---- values the helper would refuse half-way through an apply (issue #13, point 4) ------

// Once "no free range is left, remove stale entries" on an empty /etc/subuid.
spec_error! {
    subid_count_past_what_the_helper_grants,
    format!("user: {{ name: k3s }}\nsubids:\n  count: 4294967295\n{K3S}"),
    ["{spec}:3:3: field `subids.count`: count 4294967295 is outside 65536 to 16777216: groundwork grants one user at most 16777216 ids"]
}

spec_error! {
    subid_count_one_past_the_bound,
    format!("user: {{ name: k3s }}\nsubids:\n  count: 16777217\n{K3S}"),
    ["{spec}:3:3: field `subids.count`: count 16777217 is outside 65536 to 16777216"]
}

spec_error! {
    sysctl_value_the_helper_refuses,
    format!("user: {{ name: k3s }}\n{K3S}sysctls:\n  net.ipv4.ip_forward: \"one\"\n  vm.max_map_count: {{ value: 0 }}\n"),
    [
        "{spec}:4:3: field `sysctls[\"net.ipv4.ip_forward\"]`: net.ipv4.ip_forward takes 0 or 1, not \"one\"",
        "{spec}:5:3: field `sysctls[\"vm.max_map_count\"]`: vm.max_map_count takes an integer from 1 to 2147483647, not \"0\"",
    ]
}

// The helper installs a binary it knows only as the release it is.
spec_error! {
    k3s_checksum_of_another_release,
    "user: { name: k3s }\nk3s:\n  version: v1.36.4+k3s1\n  source:\n    sha256: 959c9310a6ab893958d1c95bc5d7609de9d7884630c8832180f059369b6dc331\n",
    ["{spec}:5:5: field `k3s.source.sha256`: this is the sha256 of k3s v1.35.0+k3s1 (k3s), not of v1.36.4+k3s1"]
}

spec_error! {
    k3s_install_path_the_helper_refuses,
    "user: { name: k3s }\nk3s:\n  version: v1.31.4+k3s1\n  install_path: /usr/local/bin/sudo\n",
    ["{spec}:4:3: field `k3s.install_path`: \"/usr/local/bin/sudo\" is not an allowed k3s path"]
}

spec_error! {
    subid_start_overlapping_real_ids, format!("user: {{ name: k3s }}\nsubids:\n  start: 1000\n{K3S}"),
    ["{spec}:3:3: field `subids.start`: start 1000 overlaps the range of real user ids (below 100000)"]
}

spec_error! {
    subid_range_past_32_bits, format!("user: {{ name: k3s }}\nsubids:\n  start: 4294950000\n{K3S}"),
    ["{spec}:3:3: field `subids.start`: the range 4294950000 + 65536 overflows 32-bit ids"]
}

spec_error! {
    subid_start_neither_auto_nor_a_number,
    format!("user: {{ name: k3s }}\nsubids:\n  start: next\n{K3S}"),
    ["{spec}:3:10: field `subids.start`: expected `auto` or a whole number from 100000 to 4294901759, found the text \"next\""]
}

spec_error! {
    root_user, format!("user:\n  name: root\n  create: false\n{K3S}"),
    ["{spec}:2:3: field `user.name`: the target user must not be root"]
}

spec_error! {
    invalid_user_name, format!("user:\n  name: ../k3s\n{K3S}"),
    ["{spec}:2:3: field `user.name`: \"../k3s\" is not a valid user name"]
}

spec_error! {
    bad_k3s_version, "user: { name: k3s }\nk3s:\n  version: latest\n",
    ["{spec}:3:3: field `k3s.version`: \"latest\" is not a k3s release tag"]
}

spec_error! {
    bad_k3s_checksum,
    "user: { name: k3s }\nk3s:\n  version: v1.31.4+k3s1\n  source:\n    sha256: abc\n",
    ["{spec}:5:5: field `k3s.source.sha256`: expected `auto` or 64 lower-case hex digits"]
}

spec_error! {
    package_that_is_an_option,
    format!("user: {{ name: k3s }}\n{K3S}packages:\n  - uidmap\n  - -oAPT::Update::Pre-Invoke::=/bin/sh\n"),
    ["{spec}:5:5: field `packages[1]`: \"-oAPT::Update::Pre-Invoke::=/bin/sh\" is not a package name"]
}

spec_error! {
    controller_listed_twice,
    format!("user: {{ name: k3s }}\n{K3S}cgroup:\n  delegate: [cpu, memory, cpu]\n"),
    ["{spec}:4:27: field `cgroup.delegate[2]`: \"cpu\" is listed twice"]
}

spec_error! {
    rootless_flag_in_args, format!("user: {{ name: k3s }}\n{K3S}unit:\n  args: [--rootless]\n"),
    ["{spec}:4:10: field `unit.args[0]`: `--rootless` is always passed"]
}

spec_error! {
    every_problem_is_reported,
    format!("user:\n  name: Root User\nsubids:\n  count: 10\n{K3S}health:\n  timeout: forever\n"),
    [
        "{spec}:2:3: field `user.name`: \"Root User\" is not a valid user name",
        "{spec}:4:3: field `subids.count`: count 10 is outside 65536 to 16777216: rootless k3s needs at least 65536",
        "{spec}:7:3: field `health.timeout`: \"forever\" is not a timeout between 1s and 1h",
    ]
}

// ---- every mistake at once, each at its place, in plain words (issue #13, point 5) -------

// Four kinds of mistake, each once: all four are reported, in the order of the file.
spec_error! {
    four_mistakes_are_reported_at_once,
    "user:\n  name: k3s\n  crate: true\nsubids:\n  count: lots\nsysctls:\n  net.ipv4.ip_forward: \"one\"\nk3s:\n  install_path: /usr/local/bin/k3s\n",
    [
        "{spec}:3:3: field `user.crate`: unknown field `crate`",
        "{spec}:5:10: field `subids.count`: expected a whole number from 65536 to 16777216, found the text \"lots\"",
        "{spec}:7:3: field `sysctls[\"net.ipv4.ip_forward\"]`: net.ipv4.ip_forward takes 0 or 1, not \"one\"",
        "{spec}:8:1: field `k3s.version`: missing field `version`",
    ]
}

// Once the caret went to the next key, `install_path`.
spec_error! {
    missing_k3s_version_points_at_k3s,
    "user: { name: k3s }\nk3s:\n  install_path: /usr/local/bin/k3s\nunit:\n  enabled: true\n",
    [
        "{spec}:2:1: field `k3s.version`: missing field `version`",
        "= hint: add `version:` under `k3s:` (the pinned release, for example `v1.31.4+k3s1`)",
    ]
}

// Once the caret went to the last line.
spec_error! {
    missing_user_points_at_the_start_of_the_spec,
    format!("# site spec\n{K3S}linger: true\n\n# end\n"),
    [
        "{spec}:2:1: field `user`: missing field `user`",
        "= hint: add `user:` at the top level (the unprivileged account that runs k3s)",
    ]
}

// A list item indented one space too deep: YAML folds it into the item above. It was blamed
// on line 4 as "\"uidmap - fuse3\" is not a package name".
spec_error! {
    list_item_indented_too_deep_is_blamed_on_its_own_line,
    format!("user: {{ name: k3s }}\n{K3S}packages:\n  - uidmap\n   - fuse3\n"),
    [
        "{spec}:5:4: field `packages[0]`: line 5 is indented more than line 4, so YAML reads it as more of the text on line 4: \"uidmap - fuse3\"",
        "= hint: indent line 5 by 2 spaces, like line 4",
    ]
}

spec_error! {
    key_indented_too_deep,
    format!("user:\n  name: k3s\n   create: true\n{K3S}"),
    [
        "{spec}:3:4: field `user.name`: line 3 is indented more than line 2, so YAML reads it as more of the value on line 2",
        "= hint: indent `create:` by 2 spaces, like `name:` on line 2",
    ]
}

spec_error! {
    key_indented_between_two_levels,
    format!("user:\n  name: k3s\n create: true\n{K3S}"),
    [
        "{spec}:3:2: field `user.create`: line 3 is indented by 1 space, which lines up with no line above it",
        "= hint: indent it by 2 spaces like `name:` on line 2, or by 0 like `user:` on line 1",
    ]
}

// "expected mapping start", "expected sequence start" and "invalid u32" were the parser's.
spec_error! {
    text_where_a_mapping_belongs,
    format!("user: k3s\n{K3S}"),
    [
        "{spec}:1:7: field `user`: expected a mapping with `name` and `create`, found the text \"k3s\"",
        "= hint: write its fields below it, such as `user: { name: ... }`",
    ]
}

spec_error! {
    text_where_a_list_belongs,
    format!("user: {{ name: k3s }}\n{K3S}packages: uidmap\n"),
    [
        "{spec}:3:11: field `packages`: expected a list, found the text \"uidmap\"",
        "= hint: write it as a list: `packages: [uidmap]`",
    ]
}

spec_error! {
    fraction_where_a_count_belongs,
    format!("user: {{ name: k3s }}\n{K3S}subids: {{ count: 65536.5 }}\n"),
    [
        "{spec}:3:18: field `subids.count`: expected a whole number from 65536 to 16777216, found the number 65536.5",
        "= hint: use a whole number, without a decimal point",
    ]
}

// The schema says "integer": a count in quotes is text, in the editor and here alike.
spec_error! {
    count_in_quotes,
    format!("user: {{ name: k3s }}\n{K3S}subids: {{ count: \"65536\" }}\n"),
    [
        "{spec}:3:18: field `subids.count`: expected a whole number from 65536 to 16777216, found the text \"65536\"",
        "= hint: remove the quotes",
    ]
}

spec_error! {
    tab_indentation_says_use_spaces,
    format!("user:\n\tname: k3s\n{K3S}"),
    [
        "{spec}:2:1: field `user.name`: a tab character here: YAML indents and separates with spaces only",
        "= hint: replace the tab with spaces",
    ]
}

spec_error! {
    key_without_a_colon,
    format!("user: {{ name: k3s }}\nlinger true\n{K3S}"),
    [
        "{spec}:2:1: line 2 has no `:` after its key",
        "= hint: write it as `key: value`, such as `linger: true`",
    ]
}

// The network section's cross-checks, each at its own line.
spec_error! {
    network_mistakes_each_at_their_field,
    format!(
        "user: {{ name: k3s }}\n{K3S}network:\n  ports: [8080, 80, 8080]\n  cidr: 10.41.0.1/16\n  mtu: 70000\nunit:\n  env: {{ K3S_ROOTLESS_PORT_DRIVER: builtin }}\n"
    ),
    [
        "{spec}:4:3: field `network.ports`: the API server's port 6443 is missing",
        "= hint: add 6443 to network.ports",
        "{spec}:4:",
        "8080 is listed twice",
        "{spec}:5:3: field `network.cidr`: \"10.41.0.1/16\" has host bits set",
        "{spec}:6:3: field `network.mtu`: MTU 70000 is out of range",
        "{spec}:8:10: field `unit.env.K3S_ROOTLESS_PORT_DRIVER`: K3S_ROOTLESS_PORT_DRIVER is set by `network.port_driver`",
    ]
}

// Nine levels of ten aliases expand to 10^9 nodes; the parser's budget stops it.
spec_error! {
    alias_bomb,
    {
        let mut bomb = String::from("[&a0 [1,1,1,1,1,1,1,1,1,1]");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(",");
            bomb.push_str(&format!(", &a{i} [{refs}]"));
        }
        format!("user: {{ name: k3s }}\n{K3S}sysctls:\n  net.ipv4.ip_forward: {bomb}]\n")
    },
    [
        "{spec}:4:",
        "field `sysctls[\"net.ipv4.ip_forward\"]",
        "the document is too large once its aliases are expanded",
    ]
}

// ---- where the spec comes from ----------------------------------------------------------

#[test]
fn nonexistent_file() {
    let h = Host::bare();
    let missing = h.outside("missing.yaml");
    let report = refused_by(
        &h,
        &[missing.to_str().expect("UTF-8")],
        &["[TMP]/missing.yaml: cannot read the spec: No such file or directory"],
    );
    insta::assert_snapshot!(report);
}

#[test]
fn a_directory_is_no_spec() {
    let h = Host::bare();
    let dir = h.outside("specs");
    std::fs::create_dir(&dir).expect("a directory");
    refused_by(
        &h,
        &[dir.to_str().expect("UTF-8")],
        &["[TMP]/specs: cannot read the spec: Is a directory"],
    );
}

/// `--user` stands in for `user.name`, and is checked the same way.
#[test]
fn user_flag_naming_root() {
    let h = Host::bare();
    let nowhere = h.outside("no-such-root");
    for command in ["plan", "drift", "facts"] {
        let out = h.groundwork_at(&nowhere, &["--user", "root", command, SPEC]);
        out.code(1);
        assert!(out.stdout.is_empty());
        assert_eq!(
            out.stderr,
            "error: invalid spec\n--user: the target user must not be root: rootless k3s runs as an unprivileged account\n"
        );
    }
}

#[test]
fn valid_spec_is_valid() {
    let h = Host::bare();
    let out = h.groundwork(&["validate", SPEC]);
    out.code(0);
    assert_eq!(
        out.filter(&out.stdout),
        "[TMP]/spec.yaml: valid (user k3s, k3s v1.31.4+k3s1)\n"
    );
    assert!(out.stderr.is_empty());
}

// ---- machine output (issue #13, point 7) ------------------------------------------------

const FOUR_MISTAKES: &str = "user:\n  name: k3s\n  crate: true\nsubids:\n  count: lots\nsysctls:\n  net.ipv4.ip_forward: \"one\"\nk3s:\n  install_path: /usr/local/bin/k3s\n";

/// `validate --output json` prints every problem as one JSON document; every other command
/// given `--output json` prints the very same document for a spec it cannot use, exit 1.
#[test]
fn json_output_reports_every_problem_in_one_document() {
    let h = Host::bare();
    h.set_spec(FOUR_MISTAKES);
    let nowhere = h.outside("no-such-root");
    let validate = h.groundwork_at(&nowhere, &["validate", SPEC, "--output", "json"]);
    validate.code(1);
    let doc = validate.json();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["errors"].as_array().expect("errors").len(), 4);
    insta::assert_snapshot!(validate.filter(&validate.stdout));
    for args in [
        &["plan", SPEC, "--output", "json"][..],
        &["drift", SPEC, "--output", "json"],
        &["verify", SPEC, "--output", "json"],
        &["apply", SPEC, "--yes", "--output", "json"],
        &["facts", SPEC, "--output", "json"],
    ] {
        let out = h.groundwork_at(&nowhere, args);
        out.code(1);
        assert_eq!(out.stdout, validate.stdout, "{args:?}\n{}", out.report());
    }
}

#[test]
fn json_output_of_a_valid_spec() {
    let h = Host::bare();
    let out = h.groundwork(&["validate", SPEC, "--output", "json"]);
    out.code(0);
    assert_eq!(
        out.json(),
        serde_json::json!({"format_version": 1, "ok": true, "errors": []})
    );
    assert!(out.stderr.is_empty(), "{}", out.report());
}

/// A flag's problem has no line: its "file" is the flag.
#[test]
fn json_output_of_a_flag_problem() {
    let h = Host::bare();
    let out = h.groundwork(&["--user", "root", "plan", SPEC, "--output", "json"]);
    out.code(1);
    assert_eq!(
        out.json()["errors"],
        serde_json::json!([{
            "file": "--user",
            "line": null,
            "column": null,
            "field": null,
            "message": "the target user must not be root: rootless k3s runs as an unprivileged account",
            "hint": null,
        }])
    );
}
