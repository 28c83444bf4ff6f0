//! Subordinate id ranges (/etc/subuid, /etc/subgid, subuid(5)): parsing, overlap, allocation
//! and the rewrite that gives one user exactly one range. The plan and the helper share this
//! code, so that what the plan promises is what the helper checks and writes.
//!
//! A line is an entry only when groundwork reads it exactly as shadow-utils does: three fields,
//! the numbers plain decimal. shadow reads its numbers with `strtoul(s, _, 0)` (4.13's `getulong`,
//! 4.17's `str2ul`), so `0200000` is octal 65536 to newuidmap and `0x30000` is hex, and it
//! accepts leading blanks, a sign and values past u32. Such a line is malformed here, never
//! skipped over: the plan blocks on it and the helper refuses beside it, since a range that looks
//! free next to it may be one newuidmap already grants to someone else.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubidEntry {
    /// User name or numeric uid, as written.
    pub owner: Owner,
    pub start: u32,
    pub count: u32,
    /// 1-based line in the file.
    pub line: usize,
}

impl SubidEntry {
    /// One past the last id; u64 so that a range ending at 2^32 is representable.
    pub fn end(&self) -> u64 {
        self.start as u64 + self.count as u64
    }

    fn is_owned_by(&self, name: &str, uid: Option<u32>) -> bool {
        owner_is(self.owner.as_bytes(), name, uid)
    }
}

/// An owner field names the user: their name, or their uid in decimal (subuid(5)).
fn owner_is(owner: &[u8], name: &str, uid: Option<u32>) -> bool {
    owner == name.as_bytes() || uid.is_some_and(|u| is_decimal_of(owner, u))
}

/// An owner field as written. Up to 31 bytes it is kept inline (useradd's names are at most
/// 32, and nearly all far shorter), so that reading a file of many users allocates nothing per
/// line: in a drift check that was a quarter of reading /etc/subuid and /etc/subgid.
#[derive(Clone, PartialEq, Eq)]
pub struct Owner(OwnerText);

#[derive(Clone, PartialEq, Eq)]
enum OwnerText {
    Inline { len: u8, bytes: [u8; 31] },
    Heap(Box<str>),
}

impl Owner {
    pub fn new(text: &str) -> Self {
        let mut bytes = [0; 31];
        match bytes.get_mut(..text.len()) {
            Some(head) => {
                head.copy_from_slice(text.as_bytes());
                Owner(OwnerText::Inline {
                    len: text.len() as u8,
                    bytes,
                })
            }
            None => Owner(OwnerText::Heap(text.into())),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            OwnerText::Inline { len, bytes } => &bytes[..*len as usize],
            OwnerText::Heap(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Bytes copied whole from a `&str` of at most 31 bytes: always UTF-8.
            OwnerText::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            OwnerText::Heap(s) => s,
        }
    }
}

impl PartialEq<str> for Owner {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Owner {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<String> for Owner {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Owner {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubidFile {
    pub path: String,
    pub exists: bool,
    pub entries: Vec<SubidEntry>,
    /// Lines that are not blank, not a comment and not `owner:start:count` in plain decimal.
    pub malformed_lines: Vec<MalformedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MalformedLine {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong with it, in words for an error message.
    pub problem: String,
}

/// `owner` is `n` written in decimal, as `n.to_string()` writes it (no sign, no leading zero),
/// without allocating that string for each line of a long file.
fn is_decimal_of(owner: &[u8], n: u32) -> bool {
    // Nearly every owner is a name: no digits to write out for it.
    if !owner.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let mut digits = [0u8; 10];
    let (mut at, mut rest) = (digits.len(), n);
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    owner == &digits[at..]
}

/// `[a_start, a_end)` and `[b_start, b_end)` share an id.
pub fn overlaps(a_start: u64, a_end: u64, b_start: u64, b_end: u64) -> bool {
    a_start < b_end && b_start < a_end
}

/// `owner:start:count`, exactly three fields as `split(':')` gives them, the numbers plain
/// decimal (no sign, no blank, no leading zero) that fit a u32, the count not 0. One pass over
/// the bytes: drift reads every line of both files.
fn parse_line(line: &str) -> Option<(&str, u32, u32)> {
    let bytes = line.as_bytes();
    // Owners are a few bytes long: a plain scan costs less than setting up memchr's.
    let owner_end = bytes.iter().position(|&b| b == b':')?;
    if owner_end == 0 {
        return None;
    }
    let mut at = owner_end + 1;
    let start = number(bytes, &mut at)?;
    if bytes.get(at) != Some(&b':') {
        return None;
    }
    at += 1;
    let count = number(bytes, &mut at)?;
    // Anything after the count, a fourth field or a `\r` included, makes the line malformed.
    (at == bytes.len() && count != 0).then(|| (&line[..owner_end], start, count))
}

/// The digits from `*at` up to the next `:` or the end, which `*at` is left on: 1 to 10 of
/// them, fitting a u32, and no leading zero (shadow reads that as octal). Any other byte is no
/// number.
fn number(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let from = *at;
    if bytes.get(from) == Some(&b'0') && bytes.get(from + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    while let Some(&b) = bytes.get(*at) {
        match b {
            b'0'..=b'9' if *at - from < 10 => n = n * 10 + u64::from(b - b'0'),
            b':' => break,
            _ => return None,
        }
        *at += 1;
    }
    if *at == from {
        return None;
    }
    u32::try_from(n).ok()
}

/// `line` without the whitespace around it, as `str::trim` gives it. A line that starts and
/// ends with a printable ASCII character (nearly every line) needs no look at the rest.
fn trim(line: &str) -> &str {
    match line.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => line,
        _ => line.trim(),
    }
}

/// Why `line`, which `parse_line` refused, is not an entry. Only malformed lines get here.
fn problem(line: &str) -> String {
    if line.ends_with('\r') {
        return "it ends in a carriage return (a Windows line end), so shadow-utils reads no range from it".into();
    }
    let fields: Vec<&str> = line.split(':').collect();
    let [owner, start, count] = fields[..] else {
        return format!(
            "it has {} fields where subuid(5) has three, owner:start:count",
            fields.len()
        );
    };
    if owner.is_empty() {
        return "it names no owner".into();
    }
    for (what, text) in [("start", start), ("count", count)] {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        // The value strtoul gives, when `text` is all digits of `radix` after `prefix`.
        let radix = |prefix: &str, radix| {
            text.strip_prefix(prefix)
                .filter(|rest| rest.chars().all(|c| c.is_digit(radix)))
                .and_then(|rest| u64::from_str_radix(rest, radix).ok())
        };
        if text.is_empty() {
            return format!("its {what} is empty");
        } else if let Some(n) = radix("0x", 16).or_else(|| radix("0X", 16)) {
            return format!("its {what} `{text}` is hexadecimal: shadow-utils reads it as {n}");
        } else if digits && text.len() > 1 && text.starts_with('0') {
            return match radix("0", 8) {
                Some(n) => format!(
                    "its {what} `{text}` has a leading zero: shadow-utils reads it as octal, {n}"
                ),
                None => format!(
                    "its {what} `{text}` has a leading zero, which means octal to shadow-utils"
                ),
            };
        } else if digits {
            if text.parse::<u32>().is_err() {
                return format!("its {what} `{text}` is past the last id, {}", u32::MAX);
            }
        } else {
            return format!("its {what} `{text}` is not a plain decimal number");
        }
    }
    "its count is 0".into()
}

pub fn parse(path: &str, text: Option<&str>) -> SubidFile {
    let mut entries = Vec::new();
    let mut malformed_lines = Vec::new();
    // Split on `\n` alone: shadow keeps a `\r` in the line, and then reads no range from it.
    for (i, line) in crate::colon_fields::lines_keeping_cr(text.unwrap_or_default()).enumerate() {
        let bare = trim(line);
        if bare.is_empty() || bare.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Some((owner, start, count)) => entries.push(SubidEntry {
                owner: Owner::new(owner),
                start,
                count,
                line: i + 1,
            }),
            None => malformed_lines.push(MalformedLine {
                line: i + 1,
                problem: problem(line),
            }),
        }
    }
    SubidFile {
        path: path.to_string(),
        exists: text.is_some(),
        entries,
        malformed_lines,
    }
}

impl SubidFile {
    /// The user's own entries (by name or by numeric uid, as subuid(5) allows).
    pub fn owned_by<'a>(
        &'a self,
        name: &'a str,
        uid: Option<u32>,
    ) -> impl Iterator<Item = &'a SubidEntry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.is_owned_by(name, uid))
    }

    /// Other owners' entries that share an id with `[start, start+count)`.
    pub fn conflicts(
        &self,
        name: &str,
        uid: Option<u32>,
        start: u32,
        count: u32,
    ) -> Vec<&SubidEntry> {
        let end = start as u64 + count as u64;
        self.entries
            .iter()
            .filter(|e| !e.is_owned_by(name, uid))
            .filter(|e| overlaps(start as u64, end, e.start as u64, e.end()))
            .collect()
    }

    /// Pairs of the user's own entries that overlap each other: newuidmap refuses to map them
    /// ("write to uid_map failed: Invalid argument").
    pub fn own_overlaps<'a>(
        &'a self,
        name: &'a str,
        uid: Option<u32>,
    ) -> Vec<(&'a SubidEntry, &'a SubidEntry)> {
        overlapping_pairs(&self.owned_by(name, uid).collect::<Vec<_>>())
    }
}

/// The pairs of `entries` (one user's) that share an id.
pub fn overlapping_pairs<'a>(entries: &[&'a SubidEntry]) -> Vec<(&'a SubidEntry, &'a SubidEntry)> {
    let mut out = Vec::new();
    for (i, a) in entries.iter().enumerate() {
        for b in &entries[i + 1..] {
            if overlaps(a.start as u64, a.end(), b.start as u64, b.end()) {
                out.push((*a, *b));
            }
        }
    }
    out
}

/// Whether `[start, start+count)` is free: no other owner's range in any of `files`, no id in
/// `real_ids`, and inside `bounds` (inclusive).
pub fn is_free(
    files: &[&SubidFile],
    name: &str,
    uid: Option<u32>,
    start: u64,
    count: u32,
    real_ids: &[u32],
    bounds: (u32, u32),
) -> bool {
    let end = start + count as u64;
    start >= bounds.0 as u64
        && end <= bounds.1 as u64 + 1
        && files
            .iter()
            .all(|f| f.conflicts(name, uid, start as u32, count).is_empty())
        && real_ids
            .iter()
            .all(|id| !overlaps(start, end, *id as u64, *id as u64 + 1))
}

/// The start of `count` free ids for the user: `prefer` (where the user's range already begins,
/// so that growing it extends it in place) when that is free, else the lowest free start.
/// The user's own ranges do not count as taken: the new range replaces them. Deterministic.
pub fn allocate(
    files: &[&SubidFile],
    name: &str,
    uid: Option<u32>,
    count: u32,
    real_ids: &[u32],
    bounds: (u32, u32),
    prefer: Option<u32>,
) -> Option<u32> {
    let free = |s: u64| is_free(files, name, uid, s, count, real_ids, bounds);
    if let Some(p) = prefer
        && free(p as u64)
    {
        return Some(p);
    }
    let mut candidates: Vec<u64> = vec![bounds.0 as u64];
    for f in files {
        candidates.extend(
            f.entries
                .iter()
                .filter(|e| !e.is_owned_by(name, uid))
                .map(SubidEntry::end),
        );
    }
    candidates.extend(real_ids.iter().map(|id| *id as u64 + 1));
    candidates.retain(|c| *c >= bounds.0 as u64);
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .find(|&s| free(s))
        .and_then(|s| u32::try_from(s).ok())
}

/// The file's text with every line of the user's (by name or uid) removed and `name:start:count`
/// appended. Other lines, comments and malformed lines included, stay byte for byte.
pub fn with_only_range(text: &str, name: &str, uid: u32, start: u32, count: u32) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive('\n') {
        let owned = parse_line(line.strip_suffix('\n').unwrap_or(line))
            .is_some_and(|(owner, _, _)| owner_is(owner.as_bytes(), name, Some(uid)));
        if !owned {
            out.push_str(line);
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("{name}:{start}:{count}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SubidFile {
        parse("/etc/subuid", Some(text))
    }

    const B: (u32, u32) = (100_000, 600_100_000);

    #[test]
    fn an_owner_is_a_uid_only_as_to_string_writes_it() {
        for (owner, n) in [("1001", 1001), ("0", 0), ("4294967295", u32::MAX)] {
            assert!(is_decimal_of(owner.as_bytes(), n), "{owner}");
            assert_eq!(owner, n.to_string());
        }
        for (owner, n) in [
            ("01001", 1001),
            ("+1001", 1001),
            ("1001 ", 1001),
            ("", 0),
            ("00", 0),
        ] {
            assert!(!is_decimal_of(owner.as_bytes(), n), "{owner:?}");
        }
    }

    /// Owner, start, count and line of each entry; the malformed lines.
    type Read = (Vec<(String, u32, u32, usize)>, Vec<usize>);

    /// The plain reading, field by field, that the one-pass parser must agree with.
    fn reference(text: &str) -> Read {
        let (mut entries, mut malformed) = (Vec::new(), Vec::new());
        for (i, line) in text.split('\n').enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(':').collect();
            let num = |s: &str| {
                let plain = !s.is_empty()
                    && s.bytes().all(|c| c.is_ascii_digit())
                    && (s == "0" || !s.starts_with('0'));
                plain.then(|| s.parse::<u32>().ok()).flatten()
            };
            match f[..] {
                [owner, start, count] if !owner.is_empty() => match (num(start), num(count)) {
                    (Some(s), Some(c)) if c > 0 => entries.push((owner.to_string(), s, c, i + 1)),
                    _ => malformed.push(i + 1),
                },
                _ => malformed.push(i + 1),
            }
        }
        (entries, malformed)
    }

    proptest::proptest! {
        #[test]
        fn an_owner_is_a_uid_exactly_when_to_string_spells_it(
            owner in "[0-9+ a]{0,11}",
            n in proptest::prop_oneof![0u32..20, 990u32..1010, proptest::num::u32::ANY],
        ) {
            proptest::prop_assert_eq!(is_decimal_of(owner.as_bytes(), n), owner == n.to_string());
            let n_text = n.to_string();
            proptest::prop_assert!(is_decimal_of(n_text.as_bytes(), n));
        }

        #[test]
        fn parse_reads_what_the_plain_reading_reads(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "k3s", ":", "::", "100000", "65536", "4294967295", "4294967296", "0", "",
                "\n", "\r\n", "\r", " ", "\t", "#", "\u{a0}", "\u{2003}", "é", "-1", "+1", "01",
                "12345678901", "k3s:00000000001:1", "k3s:100000:65536", "0x10", "0200000",
                "00",
            ]), 0..30),
        ) {
            let text = pieces.concat();
            let got = parse("/etc/subuid", Some(&text));
            let entries: Vec<_> = got
                .entries
                .iter()
                .map(|e| (e.owner.to_string(), e.start, e.count, e.line))
                .collect();
            let malformed: Vec<usize> = got.malformed_lines.iter().map(|m| m.line).collect();
            proptest::prop_assert_eq!((entries, malformed), reference(&text));
        }
    }

    fn malformed(f: &SubidFile) -> Vec<(usize, &str)> {
        f.malformed_lines
            .iter()
            .map(|m| (m.line, m.problem.as_str()))
            .collect()
    }

    #[test]
    fn parses_entries_and_flags_malformed_lines() {
        let f = file(
            "alice:100000:65536\n# comment\n\nbob:165536:65536\nbroken\ncarol:x:1\n1001:231072:65536\nd:+5:1\ne:1:2:3\n",
        );
        assert_eq!(f.entries.len(), 3);
        assert_eq!(f.entries[2].owner, "1001");
        let lines: Vec<usize> = f.malformed_lines.iter().map(|m| m.line).collect();
        assert_eq!(lines, [5, 6, 8, 9]);
    }

    /// Lines a hostile or broken /etc/subuid might hold. The helper decides overlaps on what
    /// this returns, so a line is an entry only where shadow-utils (`strtoul` with base 0) reads
    /// the same numbers; anything else is malformed, with the reason the user is shown.
    #[test]
    fn lines_shadow_reads_otherwise_are_malformed() {
        let f = file(concat!(
            "k3s:100000:65536\r\n",     // 1: shadow keeps the \r: no range at all
            "mal:165536:65536\u{a0}\n", // 2: a trailing no-break space
            "pad:00000165536:65536\n",  // 3: a leading zero: octal to shadow
            "four:231072:65536:\n",     // 4: a fourth (empty) field
            "plus:+296608:65536\n",     // 5: a sign
            " sp :362144:65536\n",      // 6: owner " sp ", as shadow reads it
            "nul\0:427680:65536\n",     // 7: a NUL stays in the owner
            ":493216:65536\n",          // 8: no owner
            "top:4294967295:1\n",       // 9: the last id
            "over:4294967296:1\n",      // 10: past u32
            "empty::1\n",               // 11: no start
            "oct:0200000:65536\n",      // 12: octal 65536 to shadow
            "hex:0x30000:65536\n",      // 13: hex 196608 to shadow
            "blank: 500000:65536\n",    // 14: strtoul skips the blank
            "none:600000:0\n",          // 15: a count of 0
            "zero:0:1\n",               // 16: 0 is plain decimal
            "  # a comment\n",          // 17: skipped
        ));
        let read: Vec<_> = f
            .entries
            .iter()
            .map(|e| (e.owner.as_str(), e.start, e.count, e.line))
            .collect();
        assert_eq!(
            read,
            [
                (" sp ", 362144, 65536, 6),
                ("nul\0", 427680, 65536, 7),
                ("top", 4294967295, 1, 9),
                ("zero", 0, 1, 16),
            ]
        );
        assert_eq!(
            malformed(&f),
            [
                (
                    1,
                    "it ends in a carriage return (a Windows line end), so shadow-utils reads no range from it"
                ),
                (2, "its count `65536\u{a0}` is not a plain decimal number"),
                (
                    3,
                    "its start `00000165536` has a leading zero: shadow-utils reads it as octal, 60254"
                ),
                (
                    4,
                    "it has 4 fields where subuid(5) has three, owner:start:count"
                ),
                (5, "its start `+296608` is not a plain decimal number"),
                (8, "it names no owner"),
                (10, "its start `4294967296` is past the last id, 4294967295"),
                (11, "its start is empty"),
                (
                    12,
                    "its start `0200000` has a leading zero: shadow-utils reads it as octal, 65536"
                ),
                (
                    13,
                    "its start `0x30000` is hexadecimal: shadow-utils reads it as 196608"
                ),
                (14, "its start ` 500000` is not a plain decimal number"),
                (15, "its count is 0"),
            ]
        );
        assert_eq!(f.entries[2].end(), 1 << 32);
    }

    /// The overlap the old decimal reading of `0200000` hid: shadow grants bob 65536-131071,
    /// so 100000 is not free for anyone else.
    #[test]
    fn an_octal_range_is_never_taken_for_a_free_one() {
        let f = file("bob:0200000:65536\n");
        assert!(f.entries.is_empty());
        assert_eq!(f.malformed_lines.len(), 1);
        assert!(f.malformed_lines[0].problem.contains("octal, 65536"));
    }

    #[test]
    fn an_owner_reads_back_as_written_inline_or_not() {
        for text in [
            "",
            "k3s",
            "é",
            &"a".repeat(31),
            &"a".repeat(32),
            &"é".repeat(16),
        ] {
            let owner = Owner::new(text);
            assert_eq!(owner.as_str(), text);
            let owned: String = text.into();
            assert!(owner == text && owner == owned);
            assert_eq!(format!("{owner}|{owner:?}"), format!("{text}|{text:?}"));
            assert_eq!(
                serde_json::to_string(&owner).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
        assert!(Owner::new("k3s") != "k3s2" && Owner::new("k3s") != Owner::new("k3"));
    }

    #[test]
    fn allocates_the_lowest_free_range() {
        let al = |f: &[&SubidFile], ids: &[u32]| allocate(f, "me", None, 65536, ids, B, None);
        assert_eq!(al(&[&file("")], &[]), Some(100_000));
        assert_eq!(al(&[&file("a:100000:65536\n")], &[]), Some(165_536));
        assert_eq!(
            al(&[&file("a:100000:65536\nb:300000:65536\n")], &[]),
            Some(165_536)
        );
        assert_eq!(
            al(&[&file("a:100000:65536\nb:200000:65536\n")], &[]),
            Some(265_536)
        );
        assert_eq!(
            al(&[&file("a:100000:65536\n"), &file("b:165536:65536\n")], &[]),
            Some(231_072)
        );
        assert_eq!(al(&[&file("")], &[120_000]), Some(120_001));
    }

    #[test]
    fn growing_extends_in_place_or_moves_whole() {
        let f = file("me:100000:65536\nother:300000:65536\n");
        // The user's own range does not block its own growth.
        assert_eq!(
            allocate(&[&f], "me", None, 131_072, &[], B, Some(100_000)),
            Some(100_000)
        );
        let f = file("me:100000:65536\nother:165536:65536\n");
        assert_eq!(
            allocate(&[&f], "me", None, 131_072, &[], B, Some(100_000)),
            Some(231_072)
        );
    }

    #[test]
    fn allocation_stays_in_bounds_and_never_overflows() {
        let f = file(&format!("a:100000:{}\n", u32::MAX - 100_000));
        assert_eq!(
            allocate(&[&f], "me", None, 65536, &[], (100_000, u32::MAX), None),
            None
        );
        assert_eq!(
            allocate(
                &[&file("")],
                "me",
                None,
                65536,
                &[],
                (100_000, 165_534),
                None
            ),
            None
        );
    }

    #[test]
    fn own_overlaps_are_found() {
        let f = file("me:100000:131072\nme:100000:65536\n1000:300000:10\n");
        assert_eq!(f.own_overlaps("me", Some(1000)).len(), 1);
        assert!(file("me:1:2\nme:3:4\n").own_overlaps("me", None).is_empty());
    }

    #[test]
    fn rewrite_keeps_other_lines_byte_for_byte() {
        let text = "# keep\nalice:100000:65536\nme:165536:65536\n1000:500000:5\nbroken line\nbob:231072:65536";
        assert_eq!(
            with_only_range(text, "me", 1000, 165_536, 131_072),
            "# keep\nalice:100000:65536\nbroken line\nbob:231072:65536\nme:165536:131072\n"
        );
        assert_eq!(with_only_range("", "me", 1, 2, 3), "me:2:3\n");
    }
}
