//! Reads of what the user's processes write: kubectl run as the user, the user's journal, the
//! net-probe listener, whatever answers on a port in the user's namespace. groundwork runs
//! verify as root too (after an apply as root, from Ansible), so none of it is read without a
//! bound: a hostile user could otherwise stream into root's memory until the host runs out.

use std::io::{self, BufRead};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt};

/// The longest line read from a listener or a probe's peer; the exchange's lines are a few
/// dozen bytes.
pub const MAX_LINE: u64 = 4096;

/// The most read from a command's stdout or stderr: `kubectl get nodes -o json` of a rootless
/// single-node cluster is a few kilobytes.
pub const MAX_OUTPUT: u64 = 8 << 20;

/// One line of at most `MAX_LINE` bytes; a longer line is cut, its rest left unread.
pub fn read_line<R: BufRead>(reader: &mut R, line: &mut String) -> io::Result<usize> {
    io::Read::take(&mut *reader, MAX_LINE).read_line(line)
}

/// `read_line` for an async reader.
pub async fn read_line_async<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut String,
) -> io::Result<usize> {
    (&mut *reader).take(MAX_LINE).read_line(line).await
}

/// Runs `cmd` to its end and returns its status and output, like `Command::output`, except
/// that a command still running after `timeout` (`ErrorKind::TimedOut`), or writing more than
/// `MAX_OUTPUT` bytes to either stream (`ErrorKind::FileTooLarge`), is killed and is an error.
pub async fn output(mut cmd: tokio::process::Command, timeout: Duration) -> io::Result<Output> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let run = async {
        let (stdout, stderr) = tokio::try_join!(capped(stdout), capped(stderr))?;
        Ok::<_, io::Error>(Output {
            status: child.wait().await?,
            stdout,
            stderr,
        })
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("it did not finish within {} s", timeout.as_secs()),
        )),
    }
    // On an error the child is dropped here, and killed.
}

/// How long `drain` reads.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What the pipe of a process that was killed still holds, as text: at most `MAX_OUTPUT` bytes,
/// read for at most `DRAIN_TIMEOUT` (a process the user started can leave its process group and
/// keep the pipe open).
pub async fn drain(pipe: Option<&mut (impl AsyncRead + Unpin)>) -> String {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let mut pipe = pipe.take(MAX_OUTPUT);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, pipe.read_to_end(&mut bytes)).await;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn capped(stream: Option<impl AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(stream) = stream {
        stream.take(MAX_OUTPUT + 1).read_to_end(&mut out).await?;
    }
    if out.len() as u64 > MAX_OUTPUT {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("it wrote more than {} MiB", MAX_OUTPUT >> 20),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_cut_at_its_bound() {
        let endless = "x".repeat(3 * MAX_LINE as usize) + "\nnext\n";
        let mut reader = io::BufReader::new(endless.as_bytes());
        let mut line = String::new();
        assert_eq!(
            read_line(&mut reader, &mut line).unwrap(),
            MAX_LINE as usize
        );
        assert_eq!(line.len(), MAX_LINE as usize);
    }

    #[tokio::test]
    async fn a_command_that_writes_without_end_is_killed_at_the_bound() {
        let mut cmd = tokio::process::Command::new("/usr/bin/yes");
        cmd.stdin(Stdio::null());
        let err = output(cmd, Duration::from_secs(60)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge, "{err}");
    }

    #[tokio::test]
    async fn a_command_that_does_not_end_is_killed_at_the_timeout() {
        let mut cmd = tokio::process::Command::new("/bin/sleep");
        cmd.arg("30").stdin(Stdio::null());
        let started = std::time::Instant::now();
        let err = output(cmd, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[tokio::test]
    async fn a_pipe_held_open_is_drained_for_a_bounded_time() {
        // A writer that keeps the pipe open and writes on and on: drain stops at its bound, and
        // keeps what it read.
        let mut child = tokio::process::Command::new("/usr/bin/yes")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let text = drain(child.stdout.as_mut()).await;
        assert_eq!(text.len() as u64, MAX_OUTPUT);
        assert!(text.starts_with("y\ny\n"));
    }

    #[tokio::test]
    async fn a_command_within_bounds_gives_its_output() {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = output(cmd, Duration::from_secs(30)).await.unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }
}
