//! Every host path goes through `HostRoot`, so that the read-only commands can run against a
//! directory that holds a captured host (`--root DIR`, as systemd's tools have) as well as `/`.
//! A read that fails for any reason but absence is an error that names the file: an
//! observation that fails is never "in sync".

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct HostRoot {
    base: PathBuf,
}

/// Absent: the file (or a directory on its way) does not exist.
fn is_absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

impl HostRoot {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }

    /// True when observing the live host rather than a captured tree.
    pub fn is_live(&self) -> bool {
        self.base == Path::new("/")
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Maps an absolute host path onto this root.
    pub fn path(&self, host_path: impl AsRef<Path>) -> PathBuf {
        // Byte concatenation, not `strip_prefix` and `join`: those parse both paths into
        // components, and drift maps a path for every file it reads. `strip_prefix` also drops
        // `.` components, so a path holding one takes the slow way, to map exactly as before.
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let p = host_path.as_ref();
        let rel = p.as_os_str().as_bytes();
        let has_dot_part = memchr::memchr_iter(b'.', rel).any(|at| at == 0 || rel[at - 1] == b'/')
            && rel.split(|&b| b == b'/').any(|part| part == b".");
        if has_dot_part {
            return self.base.join(p.strip_prefix("/").unwrap_or(p));
        }
        let rel = &rel[rel.iter().take_while(|&&b| b == b'/').count()..];
        let base = self.base.as_os_str().as_bytes();
        let mut joined = Vec::with_capacity(base.len() + 1 + rel.len());
        joined.extend_from_slice(base);
        if !base.is_empty() && !base.ends_with(b"/") {
            joined.push(b'/');
        }
        joined.extend_from_slice(rel);
        PathBuf::from(std::ffi::OsString::from_vec(joined))
    }

    /// Reads a file; a missing file is `Ok(None)`, any other failure is an error that names it.
    pub fn read_optional(&self, host_path: impl AsRef<Path>) -> io::Result<Option<String>> {
        let host_path = host_path.as_ref();
        match read_regular(&self.path(host_path)) {
            // Checked first: from_utf8 is several times cheaper than a lossy pass on valid text.
            Ok(bytes) => {
                tracing::info!(path = %host_path.display(), bytes = bytes.len(), "read");
                Ok(Some(String::from_utf8(bytes).unwrap_or_else(|e| {
                    String::from_utf8_lossy(e.as_bytes()).into_owned()
                })))
            }
            Err(e) if is_absent(&e) => {
                tracing::info!(path = %host_path.display(), "absent");
                Ok(None)
            }
            Err(e) => Err(cannot_read(host_path, e)),
        }
    }

    /// Reads a file's bytes; a missing file is `Ok(None)`.
    pub fn read_bytes_optional(&self, host_path: impl AsRef<Path>) -> io::Result<Option<Vec<u8>>> {
        let host_path = host_path.as_ref();
        match read_regular(&self.path(host_path)) {
            Ok(bytes) => {
                tracing::info!(path = %host_path.display(), bytes = bytes.len(), "read");
                Ok(Some(bytes))
            }
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(cannot_read(host_path, e)),
        }
    }

    /// Passes each line of a file (without its `\n` or `\r\n`, as `str::lines`) to `line`,
    /// never holding the whole file: for the large files observation mostly passes over
    /// (modules.dep is half a megabyte, and a dozen of its lines matter). Ok(false) when the
    /// file is missing; bytes that are not UTF-8 are replaced.
    pub fn each_line_optional(
        &self,
        host_path: impl AsRef<Path>,
        mut line: impl FnMut(&str),
    ) -> io::Result<bool> {
        use std::io::{BufRead, Read};
        let host_path = host_path.as_ref();
        let named = |e| cannot_read(host_path, e);
        let file = match open_regular(&self.path(host_path)) {
            Ok((file, _)) => file,
            Err(e) if is_absent(&e) => {
                tracing::info!(path = %host_path.display(), "absent");
                return Ok(false);
            }
            Err(e) => return Err(named(e)),
        };
        let mut reader = io::BufReader::with_capacity(16 << 10, file.take(MAX_READ + 1));
        let (mut buf, mut total) = (Vec::new(), 0u64);
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(named)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > MAX_READ {
                return Err(named(too_large()));
            }
            let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            line(&String::from_utf8_lossy(text));
        }
        tracing::info!(path = %host_path.display(), bytes = total, "read");
        Ok(true)
    }

    /// Reads a file that must exist.
    pub fn read(&self, host_path: impl AsRef<Path>) -> io::Result<String> {
        self.read_optional(&host_path)?
            .ok_or_else(|| missing(host_path.as_ref()))
    }

    /// Reads the bytes of a file that must exist.
    pub fn read_bytes(&self, host_path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        self.read_bytes_optional(&host_path)?
            .ok_or_else(|| missing(host_path.as_ref()))
    }

    /// Whether anything (a link counts, unfollowed) is at the path. Only absence is `false`: a
    /// permission error is an error.
    pub fn exists(&self, host_path: impl AsRef<Path>) -> io::Result<bool> {
        let host_path = host_path.as_ref();
        match self.path(host_path).symlink_metadata() {
            Ok(_) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot look at {}: {e}", host_path.display()),
            )),
        }
    }

    /// Whether a directory is at the path (following links).
    pub fn is_dir(&self, host_path: impl AsRef<Path>) -> io::Result<bool> {
        let host_path = host_path.as_ref();
        match self.path(host_path).metadata() {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot look at {}: {e}", host_path.display()),
            )),
        }
    }

    /// Lists a directory's entry names, sorted; a missing directory is empty.
    pub fn list_dir(&self, host_path: impl AsRef<Path>) -> io::Result<Vec<String>> {
        let host_path = host_path.as_ref();
        let entries = match std::fs::read_dir(self.path(host_path)) {
            Ok(e) => e,
            Err(e) if is_absent(&e) => return Ok(Vec::new()),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot list {}: {e}", host_path.display()),
                ));
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            names.push(
                name.into_string()
                    .unwrap_or_else(|name| name.to_string_lossy().into_owned()),
            );
        }
        names.sort();
        Ok(names)
    }
}

/// A failed read, naming the host path (not the path under --root).
fn cannot_read(host_path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot read {}: {e}", host_path.display()),
    )
}

/// The error for a file that must exist and does not.
fn missing(host_path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} does not exist", host_path.display()),
    )
}

/// The most groundwork reads of one file: dpkg's status database of a large host is a few MiB.
pub const MAX_READ: u64 = 64 * 1024 * 1024;

/// Reads a regular file of at most `MAX_READ` bytes. Anything else is an error, never a wait:
/// a user can put a FIFO where groundwork reads (its unit file), which would block root's drift
/// check, and everyone after it on the lock, for good; or a link to /dev/zero, which never ends.
/// O_NONBLOCK makes opening a FIFO return at once; it changes nothing for a regular file.
fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (f, meta) = open_regular(path)?;
    // Sized from the file, so the read does not grow the buffer step by step. Files under
    // /proc say 0; what drift reads there (a sysctl's value, a cgroup's processes) is short.
    let size = meta.len().min(MAX_READ) as usize;
    let mut bytes = Vec::with_capacity(if size == 0 { 256 } else { size + 1 });
    f.take(MAX_READ + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_READ {
        return Err(too_large());
    }
    Ok(bytes)
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than {} MiB, more than any file groundwork reads",
            MAX_READ >> 20
        ),
    )
}

/// Opens a regular file for reading, as `read_regular` reads it.
fn open_regular(path: &Path) -> io::Result<(std::fs::File, std::fs::Metadata)> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{what}, where a regular file belongs: remove it (or replace it with the file)"
            ),
        ));
    }
    Ok((f, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A user's FIFO where groundwork reads (found in review: root's plan hung on it for good,
    /// holding the lock) and a link to /dev/zero are errors, at once.
    #[test]
    fn a_fifo_or_a_device_is_an_error_not_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path());
        nix::unistd::mkfifo(&dir.path().join("unit"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        let (done, wait) = std::sync::mpsc::channel();
        let reader = root.clone();
        std::thread::spawn(move || {
            let answers = (
                reader.read_optional("/unit").map_err(|e| e.to_string()),
                reader
                    .read_bytes_optional("/zero")
                    .map_err(|e| e.to_string()),
            );
            let _ = done.send(answers);
        });
        let (fifo, zero) = wait
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("reading a FIFO or /dev/zero must not block");
        let fifo = fifo.unwrap_err();
        assert!(fifo.contains("/unit") && fifo.contains("a FIFO"), "{fifo}");
        let zero = zero.unwrap_err();
        assert!(
            zero.contains("/zero") && zero.contains("a device"),
            "{zero}"
        );
    }

    /// The byte concatenation in `path` maps every path as `strip_prefix("/")` and `join` did.
    #[test]
    fn path_maps_as_join_does() {
        use proptest::prelude::*;
        let part = prop::sample::select(vec!["/", "//", ".", "..", "a", "b.conf", "", " "]);
        let path = prop::collection::vec(part, 0..7).prop_map(|p| p.concat());
        proptest!(|(base in path.clone(), host in path)| {
            let by_join = {
                let p = Path::new(&host);
                Path::new(&base).join(p.strip_prefix("/").unwrap_or(p))
            };
            prop_assert_eq!(HostRoot::new(&base).path(&host), by_join);
        });
    }

    #[test]
    fn only_absence_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path());
        std::fs::write(dir.path().join("file"), "x").unwrap();
        assert!(root.exists("/file").unwrap());
        assert!(!root.exists("/missing").unwrap());
        assert!(!root.exists("/file/below").unwrap(), "ENOTDIR is absence");
        // A loop of links is no absence: looking through it fails (ELOOP), as root too.
        std::os::unix::fs::symlink(dir.path().join("b"), dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("b")).unwrap();
        assert!(root.exists("/a/x").is_err());
        assert!(root.read_optional("/a").is_err());
        if !nix::unistd::geteuid().is_root() {
            // As a user, a directory without search permission hides what is in it: that is
            // an error, never "absent". (Root searches every directory.)
            let closed = dir.path().join("closed");
            std::fs::create_dir(&closed).unwrap();
            std::fs::write(closed.join("f"), "x").unwrap();
            std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
            assert!(root.exists("/closed/f").is_err());
            assert!(root.read_optional("/closed/f").is_err());
            std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// Line by line, a file reads as `str::lines` reads it whole; absence is `false`, and a
    /// FIFO is an error at once, as for every read.
    #[test]
    fn each_line_reads_as_lines_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path());
        let text = "one\r\ntwo\n\nthree without an end";
        std::fs::write(dir.path().join("file"), text).unwrap();
        std::fs::write(dir.path().join("latin1"), b"caf\xe9\n").unwrap();
        let collect = |path: &str| {
            let mut lines = Vec::new();
            root.each_line_optional(path, |l| lines.push(l.to_string()))
                .map(|found| (found, lines))
        };
        assert_eq!(
            collect("/file").unwrap(),
            (true, text.lines().map(String::from).collect())
        );
        assert_eq!(
            collect("/latin1").unwrap(),
            (true, vec!["caf\u{fffd}".into()])
        );
        assert_eq!(collect("/missing").unwrap(), (false, vec![]));
        nix::unistd::mkfifo(&dir.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let fifo = collect("/fifo").unwrap_err().to_string();
        assert!(fifo.contains("/fifo") && fifo.contains("a FIFO"), "{fifo}");
        std::fs::create_dir(dir.path().join("dir")).unwrap();
        assert!(collect("/dir").is_err());
    }
}
