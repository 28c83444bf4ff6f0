//! The lines of /etc/passwd, /etc/group, /etc/subuid, /etc/subgid and the sysctl.d files, and
//! the colon-separated fields of the first four, exactly as `str::lines` (or
//! `split_terminator('\n')`) and `str::split(':')` give them. A drift check reads every line of
//! those files, and for lines and fields this short, std's general searches cost several times
//! more than these.

/// The lines of `text`, exactly as `str::lines` gives them.
pub fn lines(text: &str) -> Lines<'_> {
    Lines {
        rest: text,
        strip_cr: true,
    }
}

/// The lines of `text` split at `\n` alone, exactly as `str::split_terminator('\n')` gives
/// them: the `\r` of a `\r\n` stays in the line, as shadow-utils keeps it.
pub fn lines_keeping_cr(text: &str) -> Lines<'_> {
    Lines {
        rest: text,
        strip_cr: false,
    }
}

pub struct Lines<'a> {
    rest: &'a str,
    strip_cr: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', self.rest.as_bytes()) {
            Some(i) => {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                match self.strip_cr {
                    true => Some(line.strip_suffix('\r').unwrap_or(line)),
                    false => Some(line),
                }
            }
            // The last line, without an end: a `\r` there stays, as with `str::lines`.
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

/// The fields of `line`, exactly as `line.split(':')` gives them.
pub fn fields(line: &str) -> Fields<'_> {
    Fields { rest: Some(line) }
}

pub struct Fields<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == b':') {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Where the first `N` colons of `line` are, or None when it has fewer: the fields a caller
/// wants, found in one pass over the line, eight bytes at a time (a byte-by-byte scan was most
/// of reading /etc/passwd).
pub fn colons<const N: usize>(line: &str) -> Option<[usize; N]> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const COLONS: u64 = u64::from_ne_bytes([b':'; 8]);
    let bytes = line.as_bytes();
    let mut at = [0; N];
    let mut found = 0;
    let mut words = bytes.chunks_exact(8);
    for (w, word) in words.by_ref().enumerate() {
        if found == N {
            return Some(at);
        }
        // A byte of `x` is 0 exactly where the line has a colon; `zero` has its high bit set
        // there and nowhere else (no borrow from one byte into the next).
        let x = u64::from_le_bytes(word.try_into().expect("chunks of eight")) ^ COLONS;
        let mut zero = !(((x & LOW7) + LOW7) | x | LOW7);
        while zero != 0 && found < N {
            at[found] = w * 8 + zero.trailing_zeros() as usize / 8;
            found += 1;
            zero &= zero - 1;
        }
    }
    let tail_start = bytes.len() - words.remainder().len();
    for (i, &b) in words.remainder().iter().enumerate() {
        if found == N {
            break;
        }
        if b == b':' {
            at[found] = tail_start + i;
            found += 1;
        }
    }
    (found == N).then_some(at)
}

/// The numeric third field (the uid or gid) of each line of /etc/passwd or /etc/group, in the
/// file's order; comment lines and lines without a number there are skipped.
pub fn ids(db: &str) -> impl Iterator<Item = u32> + '_ {
    lines(db)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| fields(l).nth(2)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::{colons, fields, ids, lines, lines_keeping_cr};
    use proptest::prelude::*;

    #[test]
    fn fields_are_what_split_gives() {
        for line in [
            "",
            ":",
            "a",
            "a:",
            ":a",
            "root:x:0:0:root:/root:/bin/bash",
            "é:ü::",
        ] {
            assert_eq!(
                fields(line).collect::<Vec<_>>(),
                line.split(':').collect::<Vec<_>>(),
                "{line:?}"
            );
        }
    }

    /// Lines a user cannot write into /etc/passwd, but a broken or hostile one might hold.
    #[test]
    fn ids_skip_what_is_not_an_id() {
        let db = "root:x:0:0::/root:/bin/sh\n\
                  #c:x:5:\n\
                  bad\n\
                  :::\n\
                  big:x:4294967296:0::/:/bin/sh\n\
                  neg:x:-1:0::/:/bin/sh\n\
                  é:x:7:\n\
                  many:x:1000:1000::/home/k3s:/bin/sh:extra:fields\n\
                  k3s:x:1000:1000::/home/k3s:/bin/sh\n";
        assert_eq!(ids(db).collect::<Vec<_>>(), [0, 7, 1000, 1000]);
    }

    proptest! {
        #[test]
        fn any_text_has_the_lines_str_lines_gives(text in "[a\r\n:]{0,40}") {
            prop_assert_eq!(lines(&text).collect::<Vec<_>>(), text.lines().collect::<Vec<_>>());
        }

        #[test]
        fn any_text_has_the_lines_split_terminator_gives(text in "[a\r\n:]{0,40}") {
            prop_assert_eq!(
                lines_keeping_cr(&text).collect::<Vec<_>>(),
                text.split_terminator('\n').collect::<Vec<_>>()
            );
        }

        #[test]
        fn colons_are_where_split_ends_the_fields(line in "[a:é \u{3a3a}\u{ba}]{0,40}") {
            let ends: Vec<usize> = line.match_indices(':').map(|(i, _)| i).take(3).collect();
            prop_assert_eq!(colons::<3>(&line).map(Vec::from), (ends.len() == 3).then_some(ends));
            let ends: Vec<usize> = line.match_indices(':').map(|(i, _)| i).take(6).collect();
            prop_assert_eq!(colons::<6>(&line).map(Vec::from), (ends.len() == 6).then_some(ends));
        }

        #[test]
        fn any_line_splits_as_split_does(line in "[a-z:é0-9 ]{0,40}") {
            prop_assert_eq!(fields(&line).collect::<Vec<_>>(), line.split(':').collect::<Vec<_>>());
        }
    }
}
