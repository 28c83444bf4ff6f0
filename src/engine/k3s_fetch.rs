//! Getting the k3s binary, as the unprivileged user: from a local file (air-gapped hosts) or
//! downloaded into a cache, with a timeout, retries, resumption where the server allows it,
//! and the checksum verified before anything is handed to the helper (which checks it again).

use crate::resources::k3s_binary::asset_for;
use crate::spec::K3sSpec;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const ATTEMPTS: u32 = 3;

/// The name k3s uses in `sha256sum-<arch>.txt`.
fn checksum_arch(asset: &str) -> &'static str {
    match asset {
        "k3s-arm64" => "arm64",
        "k3s-armhf" => "arm",
        _ => "amd64",
    }
}

pub fn expand(template: &str, version: &str, asset: &str) -> String {
    template
        .replace("{version}", version)
        .replace("{asset}", asset)
}

/// A verified binary on local disk, its sha256 and size.
pub struct Fetched {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

impl Fetched {
    fn at(path: PathBuf, sha256: String) -> Result<Self, String> {
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
            .len();
        Ok(Fetched { path, sha256, size })
    }
}

pub fn file_sha256(path: &Path) -> Result<String, String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Finds the hash of `asset` in a sha256sum file (`<hex>  <name>` lines).
pub fn parse_checksums(text: &str, asset: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        let (hash, name) = (parts.next()?, parts.next()?);
        (name.trim_start_matches('*') == asset && crate::names::is_sha256_hex(hash))
            .then(|| hash.to_string())
    })
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

fn get_text(agent: &ureq::Agent, url: &str) -> Result<String, String> {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match agent.get(url).call() {
            Ok(mut r) if r.status().is_success() => {
                return r
                    .body_mut()
                    .read_to_string()
                    .map_err(|e| format!("reading {url}: {e}"));
            }
            Ok(r) if r.status().is_client_error() => {
                return Err(format!("{url} answered HTTP {}", r.status().as_u16()));
            }
            Ok(r) => last = format!("{url} answered HTTP {}", r.status().as_u16()),
            Err(e) => last = format!("{url}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(500 * attempt as u64));
    }
    Err(format!("{last} (after {ATTEMPTS} attempts)"))
}

/// Downloads `url` to `dest`, resuming a partial `dest.part` with a Range request.
fn download(agent: &ureq::Agent, url: &str, dest: &Path, progress: bool) -> Result<(), String> {
    let part = dest.with_extension("part");
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut req = agent.get(url);
        if have > 0 {
            req = req.header("Range", &format!("bytes={have}-"));
        }
        match req.call() {
            Ok(mut r) => {
                let status = r.status().as_u16();
                let append = status == 206 && have > 0;
                if status == 404 || (400..500).contains(&status) && status != 416 {
                    return Err(format!("{url} answered HTTP {status}"));
                }
                if status == 416 {
                    // The partial file is not a prefix of this resource: start over.
                    let _ = std::fs::remove_file(&part);
                    last = format!("{url}: the partial download did not match; restarting");
                    continue;
                }
                if !(status == 200 || status == 206) {
                    last = format!("{url} answered HTTP {status}");
                } else {
                    let total = r
                        .headers()
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .write(true)
                        .append(append)
                        .truncate(!append)
                        .open(&part)
                        .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
                    let mut reader = r.body_mut().with_config().limit(1 << 30).reader();
                    let mut buf = vec![0u8; 1 << 16];
                    let mut got = if append { have } else { 0 };
                    let expected_end = total.map(|t| t + if append { have } else { 0 });
                    let result: Result<(), String> = loop {
                        match reader.read(&mut buf) {
                            Ok(0) => break Ok(()),
                            Ok(n) => {
                                file.write_all(&buf[..n]).map_err(|e| e.to_string())?;
                                got += n as u64;
                                if progress {
                                    match expected_end {
                                        Some(t) if t > 0 => eprint!(
                                            "\rdownloading k3s: {:>3}% of {} MiB",
                                            got * 100 / t,
                                            t >> 20
                                        ),
                                        _ => eprint!("\rdownloading k3s: {} MiB", got >> 20),
                                    }
                                }
                            }
                            Err(e) => break Err(format!("{url}: {e}")),
                        }
                    };
                    if progress {
                        eprintln!();
                    }
                    file.sync_all().map_err(|e| e.to_string())?;
                    match result {
                        Ok(()) if expected_end.is_none_or(|t| got == t) => {
                            return std::fs::rename(&part, dest)
                                .map_err(|e| format!("cannot move the download into place: {e}"));
                        }
                        Ok(()) => {
                            last = format!(
                                "{url}: the body ended after {got} of {} bytes",
                                expected_end.unwrap_or(0)
                            )
                        }
                        Err(e) => last = e,
                    }
                }
            }
            Err(e) => last = format!("{url}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(500 * attempt as u64));
    }
    Err(format!(
        "{last} (after {ATTEMPTS} attempts; the partial file is kept for resumption)"
    ))
}

fn cache_dir() -> Result<PathBuf, String> {
    let dir = crate::cache::dir()
        .ok_or("no cache directory for the k3s download: set HOME or XDG_CACHE_HOME")?
        .join("k3s");
    if nix::unistd::geteuid().is_root() {
        // Root downloads into a directory only root can change, then installs from it.
        crate::privileged::secure_fs::ensure_trusted_dir(&dir, 0o755)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(dir)
}

/// Produces a verified binary for `spec`, downloading it into the user's cache if needed.
pub fn fetch(spec: &K3sSpec, arch: &str, progress: bool) -> Result<Fetched, String> {
    fetch_into(
        spec,
        arch,
        &cache_dir()?,
        Duration::from_secs(600),
        progress,
    )
}

/// As `fetch`, with an explicit cache directory and overall timeout per request.
pub fn fetch_into(
    spec: &K3sSpec,
    arch: &str,
    cache: &Path,
    timeout: Duration,
    progress: bool,
) -> Result<Fetched, String> {
    if let Some(file) = &spec.source.file {
        let path = Path::new(file);
        if nix::unistd::geteuid().is_root()
            && !crate::privileged::k3s_install::is_roots(path).unwrap_or(false)
        {
            return Err(format!(
                "{file} is not owned by root and writable by root alone; as root, groundwork installs only a file no other user could have changed: copy it to a root-owned directory and point `k3s.source.file` there"
            ));
        }
        let actual = file_sha256(path)?;
        if actual != spec.source.sha256 {
            return Err(format!(
                "{file} has sha256 {actual}, but the spec pins {}; refusing to install it",
                spec.source.sha256
            ));
        }
        return Fetched::at(path.to_path_buf(), actual);
    }
    let asset = asset_for(arch)?;
    let agent = agent(timeout);
    let known = crate::k3s_releases::lookup(&spec.version, asset).map(|r| r.sha256.to_string());
    let expected = match (spec.source.sha256.as_str(), known) {
        ("auto", Some(k)) => k,
        ("auto", None) => {
            let sums_url = expand(
                &spec.source.url,
                &spec.version,
                &format!("sha256sum-{}.txt", checksum_arch(asset)),
            );
            let text = get_text(&agent, &sums_url)?;
            parse_checksums(&text, asset)
                .ok_or_else(|| format!("{sums_url} lists no sha256 for {asset}"))?
        }
        (pinned, _) => pinned.to_string(),
    };
    let dir = cache.join(&spec.version);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dest = dir.join(asset);
    if dest.exists() && file_sha256(&dest)? == expected {
        return Fetched::at(dest, expected);
    }
    let _ = std::fs::remove_file(&dest);
    let url = expand(&spec.source.url, &spec.version, asset);
    download(&agent, &url, &dest, progress)?;
    let actual = file_sha256(&dest)?;
    if actual != expected {
        let _ = std::fs::remove_file(&dest);
        return Err(format!(
            "the download from {url} has sha256 {actual}, expected {expected}; it was deleted and nothing was installed"
        ));
    }
    Fetched::at(dest, actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_release_checksum_files() {
        // The shape of k3s's sha256sum-amd64.txt.
        let text = format!(
            "{}  k3s\n{}  k3s-airgap-images-amd64.tar.gz\n",
            "a".repeat(64),
            "b".repeat(64)
        );
        assert_eq!(parse_checksums(&text, "k3s"), Some("a".repeat(64)));
        assert_eq!(parse_checksums(&text, "k3s-arm64"), None);
    }

    #[test]
    fn expands_url_templates() {
        assert_eq!(
            expand("https://h/{version}/{asset}", "v1.31.4+k3s1", "k3s"),
            "https://h/v1.31.4+k3s1/k3s"
        );
    }
}
