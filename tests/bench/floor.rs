//! The floor for the drift benchmark: a program that does only the unavoidable part of a drift
//! check — read the files groundwork reads (their list, recorded with strace, is the argument)
//! — and nothing else: no parsing, no spec, no runtime. groundwork is measured against it.

use std::io::Read;

fn main() {
    let list = std::env::args().nth(1).expect("usage: floor FILE-LIST");
    let paths = std::fs::read_to_string(list).expect("the file list is readable");
    let mut buf = Vec::with_capacity(1 << 20);
    let mut total = 0usize;
    for path in paths.lines().filter(|l| !l.is_empty()) {
        match std::fs::File::open(path) {
            Ok(mut f) => {
                buf.clear();
                total += f.read_to_end(&mut buf).unwrap_or(0);
            }
            Err(_) => {
                // Absent files are part of the check too (a missing linger file is an answer).
                let _ = std::fs::symlink_metadata(path);
            }
        }
    }
    std::hint::black_box(total);
}
