//! The colon-separated fields of /etc/passwd, /etc/group, /etc/subuid and /etc/subgid lines,
//! as `str::split(':')` yields them. A drift check reads every line of those files; `split`
//! searches for each field's end with a general substring search, which for fields this short
//! cost several times more than a plain byte scan.

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

/// The numeric third field (the uid or gid) of each line of /etc/passwd or /etc/group, in the
/// file's order; comment lines and lines without a number there are skipped.
pub fn ids(db: &str) -> impl Iterator<Item = u32> + '_ {
    db.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| fields(l).nth(2)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::{fields, ids};
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
        fn any_line_splits_as_split_does(line in "[a-z:é0-9 ]{0,40}") {
            prop_assert_eq!(fields(&line).collect::<Vec<_>>(), line.split(':').collect::<Vec<_>>());
        }
    }
}
