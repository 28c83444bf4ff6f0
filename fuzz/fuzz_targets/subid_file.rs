//! /etc/subuid on arbitrary text: `subid_ranges::parse`, which the plan and the helper share,
//! then `with_only_range`, the helper's rewrite. Neither may panic; every line is exactly one of
//! blank or comment, an entry, or malformed with a reason; an entry is its line written back in
//! plain decimal (the only form groundwork and shadow-utils' `strtoul` read alike); and the
//! rewrite keeps every other owner's entry and every malformed line, and leaves the user one
//! range.
#![no_main]

use groundwork::subid_ranges::{SubidFile, parse, with_only_range};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "me";
const UID: u32 = 1000;

fn others(f: &SubidFile) -> Vec<(String, u32, u32)> {
    f.entries
        .iter()
        .filter(|e| e.owner != NAME && e.owner != UID.to_string())
        .map(|e| (e.owner.to_string(), e.start, e.count))
        .collect()
}

fn problems(f: &SubidFile) -> Vec<&str> {
    f.malformed_lines.iter().map(|m| m.problem.as_str()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f = parse("/etc/subuid", Some(text));
    let lines: Vec<&str> = text.split('\n').collect();
    let mut seen = vec![0u8; lines.len()];
    for e in &f.entries {
        assert_eq!(
            lines[e.line - 1],
            format!("{}:{}:{}", e.owner, e.start, e.count),
            "line {} read as an entry it does not spell",
            e.line
        );
        assert!(e.count > 0);
        seen[e.line - 1] += 1;
    }
    for m in &f.malformed_lines {
        assert!(!m.problem.is_empty());
        seen[m.line - 1] += 1;
    }
    for (i, line) in lines.iter().enumerate() {
        let skipped = line.trim().is_empty() || line.trim_start().starts_with('#');
        assert_eq!(seen[i], u8::from(!skipped), "line {} {line:?}", i + 1);
    }

    let (start, count) = (200_000, 65_536);
    let new = with_only_range(text, NAME, UID, start, count);
    let g = parse("/etc/subuid", Some(&new));
    assert_eq!(others(&g), others(&f), "another owner's entry changed");
    assert_eq!(problems(&g), problems(&f), "a malformed line changed");
    let mine: Vec<_> = g.owned_by(NAME, Some(UID)).collect();
    assert_eq!(mine.len(), 1, "{new:?}");
    assert_eq!((mine[0].start, mine[0].count), (start, count));
    assert!(new.ends_with(&format!("{NAME}:{start}:{count}\n")));
});
