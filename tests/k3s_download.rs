//! The k3s download against a real HTTP server on 127.0.0.1: good and bad checksums, a 404, a
//! slow server, and a truncated body that is resumed with a Range request.

use groundwork::engine::k3s_fetch::{Fetched, fetch_into};
use groundwork::spec::{K3sSource, K3sSpec};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A stand-in for the k3s binary: the download code only sees bytes.
fn payload() -> Vec<u8> {
    (0..900_000u32).map(|i| (i % 251) as u8).collect()
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

struct Server {
    port: u16,
    truncations: Arc<AtomicUsize>,
}

fn respond(mut s: TcpStream, path: &str, range_from: Option<usize>, truncations: &AtomicUsize) {
    let body = payload();
    let good_sums = format!(
        "{}  k3s\n{}  k3s-airgap-images-amd64.tar.zst\n",
        sha(&body),
        "0".repeat(64)
    );
    let bad_sums = format!("{}  k3s\n", "f".repeat(64));
    let send = |s: &mut TcpStream, status: &str, headers: &str, data: &[u8]| {
        let _ = write!(s, "HTTP/1.1 {status}\r\nConnection: close\r\n{headers}\r\n");
        let _ = s.write_all(data);
    };
    match path {
        "/good/v1.31.4+k3s1/sha256sum-amd64.txt"
        | "/trunc/v1.31.4+k3s1/sha256sum-amd64.txt"
        | "/alwaystrunc/v1.31.4+k3s1/sha256sum-amd64.txt" => send(
            &mut s,
            "200 OK",
            &format!("Content-Length: {}\r\n", good_sums.len()),
            good_sums.as_bytes(),
        ),
        "/bad/v1.31.4+k3s1/sha256sum-amd64.txt" => send(
            &mut s,
            "200 OK",
            &format!("Content-Length: {}\r\n", bad_sums.len()),
            bad_sums.as_bytes(),
        ),
        "/good/v1.31.4+k3s1/k3s" | "/bad/v1.31.4+k3s1/k3s" => send(
            &mut s,
            "200 OK",
            &format!("Content-Length: {}\r\n", body.len()),
            &body,
        ),
        "/slow/v1.31.4+k3s1/sha256sum-amd64.txt" => {
            std::thread::sleep(Duration::from_secs(4));
            send(
                &mut s,
                "200 OK",
                &format!("Content-Length: {}\r\n", good_sums.len()),
                good_sums.as_bytes(),
            )
        }
        "/trunc/v1.31.4+k3s1/k3s" | "/alwaystrunc/v1.31.4+k3s1/k3s" => {
            let always = path.starts_with("/alwaystrunc");
            match range_from {
                Some(from) if !always => {
                    let rest = &body[from..];
                    send(
                        &mut s,
                        "206 Partial Content",
                        &format!(
                            "Content-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\n",
                            rest.len(),
                            body.len() - 1,
                            body.len()
                        ),
                        rest,
                    )
                }
                _ => {
                    // Promise the whole body, send a third, and hang up.
                    truncations.fetch_add(1, Ordering::SeqCst);
                    send(
                        &mut s,
                        "200 OK",
                        &format!("Content-Length: {}\r\n", body.len()),
                        &body[..body.len() / 3],
                    );
                }
            }
        }
        _ => send(
            &mut s,
            "404 Not Found",
            "Content-Length: 9\r\n",
            b"not found",
        ),
    }
}

fn serve() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let truncations = Arc::new(AtomicUsize::new(0));
    let t = truncations.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .replace("%2B", "+");
                let mut range_from = None;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        range_from = v.trim().trim_end_matches('-').parse().ok();
                    }
                }
                respond(stream, &path, range_from, &t);
            });
        }
    });
    Server { port, truncations }
}

fn spec(server: &Server, route: &str, sha256: &str) -> K3sSpec {
    K3sSpec {
        version: "v1.31.4+k3s1".into(),
        install_path: "/usr/local/bin/k3s".into(),
        source: K3sSource {
            url: format!(
                "http://127.0.0.1:{}/{route}/{{version}}/{{asset}}",
                server.port
            ),
            sha256: sha256.into(),
            file: None,
        },
    }
}

fn fetch(spec: &K3sSpec, cache: &std::path::Path) -> Result<Fetched, String> {
    fetch_into(spec, "x86_64", cache, Duration::from_secs(2), false)
}

#[test]
fn good_checksum_from_the_release_file() {
    let server = serve();
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&spec(&server, "good", "auto"), cache.path()).unwrap();
    assert_eq!(got.sha256, sha(&payload()));
    assert_eq!(std::fs::read(&got.path).unwrap(), payload());
}

#[test]
fn pinned_checksum_is_used_and_a_mismatch_installs_nothing() {
    let server = serve();
    let cache = tempfile::tempdir().unwrap();
    let ok = fetch(&spec(&server, "good", &sha(&payload())), cache.path()).unwrap();
    assert!(ok.path.exists());

    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&spec(&server, "good", &"a".repeat(64)), cache.path())
        .err()
        .unwrap();
    assert!(err.contains("expected aaaa"), "{err}");
    let leftovers: Vec<_> = walk(cache.path());
    assert!(
        leftovers.iter().all(|p| !p.ends_with("/k3s")),
        "a bad download must not stay in the cache: {leftovers:?}"
    );
}

#[test]
fn bad_checksum_file_refuses_the_binary() {
    let server = serve();
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&spec(&server, "bad", "auto"), cache.path())
        .err()
        .unwrap();
    assert!(err.contains("nothing was installed"), "{err}");
}

#[test]
fn not_found_is_reported_without_retrying_forever() {
    let server = serve();
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&spec(&server, "nowhere", "auto"), cache.path())
        .err()
        .unwrap();
    assert!(err.contains("HTTP 404"), "{err}");
}

#[test]
fn a_slow_server_times_out() {
    let server = serve();
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&spec(&server, "slow", "auto"), cache.path())
        .err()
        .unwrap();
    assert!(
        err.to_lowercase().contains("timeout") || err.to_lowercase().contains("timed out"),
        "{err}"
    );
}

#[test]
fn a_truncated_body_is_resumed_with_a_range_request() {
    let server = serve();
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&spec(&server, "trunc", "auto"), cache.path()).unwrap();
    assert_eq!(
        server.truncations.load(Ordering::SeqCst),
        1,
        "exactly one truncated response, then a 206"
    );
    assert_eq!(std::fs::read(&got.path).unwrap(), payload());
}

#[test]
fn a_body_that_always_breaks_fails_and_keeps_the_partial_file() {
    let server = serve();
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&spec(&server, "alwaystrunc", "auto"), cache.path())
        .err()
        .unwrap();
    assert!(err.contains("after 3 attempts"), "{err}");
    assert!(walk(cache.path()).iter().any(|p| p.ends_with(".part")));
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}
