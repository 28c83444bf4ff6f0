//! The manual: `groundwork man [PAGE]` and `groundwork man --dir DIR` give groundwork(1), a page
//! per command and groundwork-spec(5); each renders with `man --warnings` without a warning,
//! has the sections a page needs, and refers only to pages that exist.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Every page, written by `man --dir`, as (file name, roff).
fn pages(h: &Host) -> Vec<(String, String)> {
    let dir = h.outside("man");
    std::fs::create_dir(&dir).unwrap();
    let out = h.groundwork(&["man", "--dir", dir.to_str().unwrap()]);
    out.code(0);
    out.stdout
        .lines()
        .map(|path| {
            let path = Path::new(path);
            assert_eq!(path.parent(), Some(dir.as_path()));
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(path).expect("a written page"))
        })
        .collect()
}

/// The text of a roff page with its escapes for `-` and fonts removed, for reading references.
fn plain(roff: &str) -> String {
    roff.replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
}

#[test]
fn there_is_a_page_per_command_and_one_for_the_spec() {
    let names: Vec<String> = pages(&Host::bare()).into_iter().map(|p| p.0).collect();
    insta::assert_snapshot!(names.join("\n"));
}

#[test]
fn every_page_renders_without_warnings() {
    if Command::new("man").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have man (man-db): .ci/run installs it"
        );
        eprintln!("skipped: no man here (apt-get install man-db)");
        return;
    }
    let h = Host::bare();
    let dir = h.outside("man");
    for (name, _) in pages(&h) {
        let out = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(dir.join(&name))
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("man runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: man failed: {stderr}");
        assert!(stderr.is_empty(), "{name} renders with warnings:\n{stderr}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("NAME"), "{name} rendered empty:\n{text}");
    }
}

#[test]
fn pages_have_exit_status_environment_files_and_see_also() {
    for (name, roff) in pages(&Host::bare()) {
        let mut wanted = vec![
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH \"SEE ALSO\"",
        ];
        if name.ends_with(".1") {
            wanted.extend([".SH \"EXIT STATUS\"", ".SH ENVIRONMENT"]);
        }
        let reads_a_spec = ["plan", "apply", "drift", "verify", "facts"]
            .iter()
            .any(|c| name == format!("groundwork-{c}.1"));
        if reads_a_spec || name == "groundwork.1" {
            wanted.extend([".SH SPEC", ".SH FILES"]);
        }
        if name == "groundwork-spec.5" {
            wanted.extend([".SH KEYS", ".SH EXAMPLE", ".SH FILES"]);
        }
        for section in wanted {
            assert!(roff.contains(section), "{name} has no {section}:\n{roff}");
        }
    }
}

/// The old stub referred to groundwork-plan(1) and others that did not exist.
#[test]
fn every_page_referred_to_exists() {
    let pages = pages(&Host::bare());
    let names: Vec<String> = pages
        .iter()
        .map(|(file, _)| {
            let (name, section) = file.rsplit_once('.').unwrap();
            format!("{name}({section})")
        })
        .collect();
    for (file, roff) in &pages {
        let text = plain(roff);
        for (at, _) in text.match_indices("groundwork") {
            let word: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_()".contains(*c))
                .collect();
            let Some(open) = word.find('(') else { continue };
            let reference = &word[..word[open..].find(')').map_or(word.len(), |i| open + i + 1)];
            if reference[open + 1..].starts_with(|c: char| c.is_ascii_digit()) {
                assert!(
                    names.iter().any(|n| n == reference),
                    "{file} refers to {reference}, which is not among {names:?}"
                );
            }
        }
    }
}

/// groundwork-spec(5) comes from the schema: every key of every mapping of it is described.
#[test]
fn the_spec_page_describes_every_key_of_the_schema() {
    let h = Host::bare();
    let schema = h.groundwork(&["schema"]).json();
    let page = h.groundwork(&["man", "spec"]);
    page.code(0);
    let text = plain(&page.stdout);
    let mut keys: Vec<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for def in schema["$defs"].as_object().unwrap().values() {
        if let Some(props) = def["properties"].as_object() {
            keys.extend(props.keys().cloned());
        }
    }
    for key in keys {
        assert!(
            text.lines()
                .any(|l| l == key || l.ends_with(&format!(".{key}"))),
            "groundwork-spec(5) does not describe `{key}`"
        );
    }
    assert!(text.contains(".SH EXAMPLE"));
    assert!(text.contains("port_driver: slirp4netns"));
}

#[test]
fn one_page_by_command_name_or_page_name() {
    let h = Host::bare();
    let pages = pages(&h);
    let page = |file: &str| pages.iter().find(|p| p.0 == file).unwrap().1.clone();
    for (ask, file) in [
        ("plan", "groundwork-plan.1"),
        ("groundwork-plan", "groundwork-plan.1"),
        ("groundwork-plan.1", "groundwork-plan.1"),
        ("groundwork-plan(1)", "groundwork-plan.1"),
        ("helper-sudoers", "groundwork-helper-sudoers.1"),
        ("spec", "groundwork-spec.5"),
        ("groundwork-spec.5", "groundwork-spec.5"),
    ] {
        let out = h.groundwork(&["man", ask]);
        out.code(0);
        assert_eq!(out.stdout, page(file), "man {ask}");
    }
    let out = h.groundwork(&["man"]);
    out.code(0);
    assert_eq!(out.stdout, page("groundwork.1"));
}

#[test]
fn an_unknown_page_lists_the_pages() {
    let out = Host::bare().groundwork(&["man", "nosuch"]);
    out.code(1);
    insta::assert_snapshot!(out.report());
}

#[test]
fn a_missing_directory_is_not_created() {
    let h = Host::bare();
    let out = h.groundwork(&["man", "--dir", "share/man"]);
    out.code(1);
    insta::assert_snapshot!(out.report());
    assert!(!h.outside("share").exists());
}

/// The exit codes a page states are the ones the command exits with.
#[test]
fn exit_status_sections_use_the_codes_of_the_commands() {
    let h = Host::bare();
    let page = plain(&h.groundwork(&["man", "plan"]).stdout);
    let section = &page[page.find(".SH \"EXIT STATUS\"").unwrap()..];
    let section = &section[..section[1..].find(".SH").unwrap()];
    insta::assert_snapshot!(section);
    let converged = Host::converged();
    let blocked = Host::converged();
    blocked.remove("/run/systemd");
    let codes = [
        converged.groundwork(&["plan", SPEC]).code,
        Host::fresh().groundwork(&["plan", SPEC]).code,
        blocked.groundwork(&["plan", SPEC]).code,
        h.groundwork(&["plan", "--no-such-option"]).code,
    ];
    assert_eq!(codes, [0, 2, 3, 1]);
    for code in codes {
        assert!(
            section.contains(&format!(".TP\n{code}\n")),
            "exit {code} is not in groundwork-plan(1):\n{section}"
        );
    }
}
