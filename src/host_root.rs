//! Every host path goes through `HostRoot`, so that the read-only commands can run against a
//! directory that holds a captured host (`--root DIR`, as systemd's tools have) as well as `/`.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct HostRoot {
    base: PathBuf,
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
        let p = host_path.as_ref();
        let rel = p.strip_prefix("/").unwrap_or(p);
        self.base.join(rel)
    }

    /// Reads a file; a missing file is `Ok(None)`, any other failure is an error that names it.
    pub fn read_optional(&self, host_path: impl AsRef<Path>) -> io::Result<Option<String>> {
        let path = self.path(&host_path);
        match std::fs::read(&path) {
            // Checked first: from_utf8 is several times cheaper than a lossy pass on valid text.
            Ok(bytes) => {
                Ok(Some(String::from_utf8(bytes).unwrap_or_else(|e| {
                    String::from_utf8_lossy(e.as_bytes()).into_owned()
                })))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", host_path.as_ref().display()),
            )),
        }
    }

    /// Reads a file that must exist.
    pub fn read(&self, host_path: impl AsRef<Path>) -> io::Result<String> {
        self.read_optional(&host_path)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} does not exist", host_path.as_ref().display()),
            )
        })
    }

    pub fn exists(&self, host_path: impl AsRef<Path>) -> bool {
        self.path(host_path).symlink_metadata().is_ok()
    }

    /// Lists a directory's entry names, sorted; a missing directory is empty.
    pub fn list_dir(&self, host_path: impl AsRef<Path>) -> io::Result<Vec<String>> {
        let path = self.path(&host_path);
        let entries = match std::fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot list {}: {e}", host_path.as_ref().display()),
                ));
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}
