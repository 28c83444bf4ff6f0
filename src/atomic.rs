//! Atomic file replacement: write a sibling temp file, fsync it, rename it over the target,
//! fsync the directory. A reader sees the old file or the new one, never half of either, and a
//! crash at any point leaves one of the two on disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replaces `path` with `data`, creating parent directories, with the given mode.
pub fn write(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent(path)?;
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    // The temp name must not match the target's glob (*.conf, *.prom), so that a reader that
    // scans the directory never picks up a half-written file.
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(data)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Replaces `path` with `data` in a directory that must already exist: a missing directory is
/// more likely a typo (a node_exporter path, a plan's path) than something to create.
pub fn write_new_file(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent(path)?;
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the directory {} does not exist; create it first, or check the path",
                dir.display()
            ),
        ));
    }
    write(path, data, mode)
}

/// The directory `path` is in: `.` for a bare file name, whose parent is the empty path (which
/// cannot be opened to fsync it).
fn parent(path: &Path) -> io::Result<&Path> {
    match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Ok(Path::new(".")),
        Some(d) => Ok(d),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no parent directory",
        )),
    }
}

/// For the user's own caches and outputs: mode 0644.
pub fn write_user_file(path: &Path, data: &[u8]) -> io::Result<()> {
    write(path, data, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/x.prom");
        write(&target, b"one\n", 0o600).unwrap();
        write(&target, b"two\n", 0o640).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two\n");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.prom")]);
    }
}
