//! The floor for the drift benchmark: a program that does only the unavoidable part of a drift
//! check and nothing else: no parsing, no spec, no runtime, no output. groundwork is measured
//! against it.
//!
//! Its one argument is a trace list that tests/bench/peers.sh derives from an strace of
//! `groundwork drift` on the converged host (tests/bench/README.md says how). One operation a line:
//!
//! - `read PATH`: open the file and read all of it (a missing file is an answer too);
//! - `dir PATH`: list the directory;
//! - `stat PATH`: look at the path without following a last symlink (absent is an answer);
//! - `readlink PATH`: read the symbolic link;
//! - `lock PATH`: open (create) the lock file and take an exclusive flock, as drift does;
//! - `exec PROGRAM ARG...`: run the program to completion, its output read and dropped.

use std::io::Read;

fn main() {
    let list = std::env::args()
        .nth(1)
        .expect("usage: bench-floor TRACE-LIST");
    let ops = std::fs::read_to_string(list).expect("the trace list is readable");
    let mut buf = Vec::with_capacity(1 << 20);
    let mut total = 0usize;
    for line in ops.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (op, arg) = line.split_once(' ').unwrap_or((line, ""));
        match op {
            "read" => {
                if let Ok(mut f) = std::fs::File::open(arg) {
                    buf.clear();
                    total += f.read_to_end(&mut buf).unwrap_or(0);
                }
            }
            "dir" => {
                if let Ok(entries) = std::fs::read_dir(arg) {
                    total += entries.flatten().count();
                }
            }
            "lock" => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(arg)
                    .expect("the lock file opens");
                let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                    .expect("the lock is taken");
                std::hint::black_box(&held);
            }
            "stat" => total += std::fs::symlink_metadata(arg).is_ok() as usize,
            "readlink" => total += std::fs::read_link(arg).is_ok() as usize,
            "exec" => {
                let mut words = arg.split(' ');
                let program = words.next().expect("exec needs a program");
                if let Ok(out) = std::process::Command::new(program).args(words).output() {
                    total += out.stdout.len();
                }
            }
            other => panic!("unknown operation {other:?} in the trace list"),
        }
    }
    std::hint::black_box(total);
}
