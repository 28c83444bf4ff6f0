//! `groundwork drift`'s arguments are read without clap when they take a common form
//! (`src/cli/drift_args.rs`). Whatever that reader accepts, clap must read the same way; what it
//! gives up on goes to clap. Exhaustive over short argument lists, random over longer ones.

use clap::Parser;
use groundwork::cli::args::Cli;
use groundwork::cli::drift_args;
use proptest::prelude::*;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// Arguments as people and timers write them, and the near misses clap reads differently.
fn alphabet() -> Vec<OsString> {
    let words = [
        "drift",
        "spec.yaml",
        "/etc/gw.yaml",
        "--root",
        "/srv/root",
        "--root=/srv/root",
        "--root=",
        "--root=a=b",
        "--user",
        "k3s",
        "--user=k3s",
        "--executor",
        "helper",
        "--executor=root",
        "--executor=bogus",
        "auto",
        "--log-format",
        "json",
        "--log-format=text",
        "-q",
        "--quiet",
        "--quiet=true",
        "-v",
        "-vv",
        "-vvv",
        "--verbose",
        "--verbose=2",
        "-vq",
        "-o",
        "--output",
        "--output=junit",
        "-o=json",
        "-ojson",
        "human",
        "junit",
        "JSON",
        "--textfile",
        "/var/lib/node_exporter/gw.prom",
        "--textfile=t.prom",
        "--",
        "-",
        "",
        "-h",
        "--help",
        "--version",
        "-x",
        "--bogus",
        "plan",
    ];
    let mut all: Vec<OsString> = words.iter().map(OsString::from).collect();
    all.push(OsString::from_vec(b"spec-\xff.yaml".to_vec()));
    all.push(OsString::from_vec(b"--user=\xff".to_vec()));
    all
}

fn agree(tail: &[OsString]) {
    let mut args = vec![OsString::from("groundwork")];
    args.extend_from_slice(tail);
    let Some(fast) = drift_args::parse(&args) else {
        return;
    };
    let by_clap = Cli::try_parse_from(&args)
        .unwrap_or_else(|e| panic!("{args:?}: accepted without clap, refused by clap: {e}"));
    assert_eq!(
        format!("{fast:?}"),
        format!("{by_clap:?}"),
        "{args:?} read differently"
    );
}

#[test]
fn whatever_is_read_without_clap_clap_reads_the_same_way() {
    let alphabet = alphabet();
    let drift = OsString::from("drift");
    agree(std::slice::from_ref(&drift));
    for a in &alphabet {
        agree(&[drift.clone(), a.clone()]);
        agree(std::slice::from_ref(a));
        for b in &alphabet {
            agree(&[drift.clone(), a.clone(), b.clone()]);
            for c in &alphabet {
                agree(&[drift.clone(), a.clone(), b.clone(), c.clone()]);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn longer_argument_lists_agree_too(picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..9)) {
        let alphabet = alphabet();
        let mut tail = vec![OsString::from("drift")];
        tail.extend(picks.iter().map(|i| alphabet[i.index(alphabet.len())].clone()));
        agree(&tail);
    }
}

/// `groundwork` and `line`'s words.
fn args_of(line: &str) -> Vec<OsString> {
    std::iter::once("groundwork")
        .chain(line.split(' '))
        .map(OsString::from)
        .collect()
}

/// The forms the docs, the shipped timer and the benchmark use skip clap: without this, the
/// reader could quietly give up on everything and the tests above would still pass.
#[test]
fn the_common_forms_are_read_without_clap() {
    for line in [
        "drift",
        "drift /etc/groundwork/spec.yaml",
        "drift /etc/groundwork/spec.yaml --textfile /var/lib/groundwork-drift/groundwork.prom",
        "drift --root /srv/root spec.yaml",
        "drift -q --textfile /var/lib/node_exporter/textfile/groundwork.prom",
        "drift --output json --user k3s --executor helper",
        "drift -o junit -vv --log-format json",
        "drift --root=/srv/root --output=json spec.yaml",
    ] {
        let args = args_of(line);
        assert!(drift_args::parse(&args).is_some(), "`{line}` went to clap");
        agree(&args[1..]);
    }
}

#[test]
fn help_version_and_other_commands_go_to_clap() {
    for line in [
        "drift --help",
        "drift -h",
        "--version",
        "plan",
        "drift a.yaml b.yaml",
        "drift --root /a --root /b",
        "drift -o yaml",
        "drift --",
    ] {
        let args = args_of(line);
        assert!(
            drift_args::parse(&args).is_none(),
            "`{line}` was not left to clap"
        );
    }
}
