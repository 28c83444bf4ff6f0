//! The network stage's moving parts: a listener that runs as the user inside the namespace
//! (`groundwork net-probe listen`), slirp4netns's API as k3s's port driver uses it
//! (`groundwork net-probe hostfwd`, also as the user, so that root never connects through a path
//! the user controls), the client that verify runs on the host, and why a port could not be
//! exposed.
//!
//! The exchange, per connection: the listener writes the client's address as it saw it, reads
//! until the client stops sending, then writes how many bytes it got. The client sends for at
//! most `MAX_BYTES` and `MAX_SEND` (bounded in bytes and in seconds), so the figure is a
//! throughput a user can compare with the host's own loopback, measured the same way.

use super::bounded;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// The most a probe sends.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;
/// The longest a probe sends.
pub const MAX_SEND: Duration = Duration::from_secs(3);
/// A listener exits on its own after this, should nothing stop it.
const LISTENER_LIFETIME: Duration = Duration::from_secs(300);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// `groundwork net-probe listen PORT...`: binds every port on all addresses (0: any free port),
/// prints `listening P...` once all are bound (or `cannot listen on P: ERROR` and exits 1), then
/// serves the exchange on each until killed.
pub fn listen(ports: &[u16]) -> i32 {
    let mut bound = Vec::new();
    for &p in ports {
        match TcpListener::bind(("0.0.0.0", p)) {
            Ok(l) => bound.push(l),
            Err(e) => {
                println!("cannot listen on {p}: {e}");
                return 1;
            }
        }
    }
    let names: Vec<String> = bound
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.port().to_string())
        .collect();
    println!("listening {}", names.join(" "));
    let _ = std::io::stdout().flush();
    for l in bound {
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                std::thread::spawn(move || serve(conn));
            }
        });
    }
    std::thread::sleep(LISTENER_LIFETIME);
    0
}

fn serve(mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let peer = conn
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "unknown".into());
    if writeln!(conn, "{peer}").is_err() {
        return;
    }
    let mut buf = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(_) => return,
        }
    }
    let _ = writeln!(conn, "{total}");
}

/// What one probe saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The client's address as the listener saw it.
    pub source: String,
    /// Bytes the listener counted.
    pub bytes: u64,
    pub secs: f64,
}

impl Probe {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.bytes as f64 / self.secs / 1e6
        } else {
            0.0
        }
    }
}

/// Connects to `addr`, reads the address the listener saw, sends for at most `max_bytes` and
/// `max_send`, and reads back the count. Blocking: run it on a blocking thread.
pub fn probe(addr: SocketAddr, max_bytes: u64, max_send: Duration) -> Result<Probe, String> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    conn.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut reader = BufReader::new(conn.try_clone().map_err(|e| format!("{addr}: {e}"))?);
    let mut source = String::new();
    bounded::read_line(&mut reader, &mut source).map_err(|e| {
        format!("{addr} accepted the connection but the listener said nothing: {e}")
    })?;
    let source = source.trim().to_string();
    if source.is_empty() {
        return Err(format!(
            "{addr} accepted the connection and closed it: nothing listens behind it"
        ));
    }
    let chunk = vec![0x5au8; 256 * 1024];
    let started = Instant::now();
    let mut sent: u64 = 0;
    while sent < max_bytes && started.elapsed() < max_send {
        let n = chunk.len().min((max_bytes - sent) as usize);
        conn.write_all(&chunk[..n])
            .map_err(|e| format!("sending to {addr}: {e}"))?;
        sent += n as u64;
    }
    conn.shutdown(Shutdown::Write)
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut count = String::new();
    bounded::read_line(&mut reader, &mut count)
        .map_err(|e| format!("{addr} did not count what it got: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let bytes = count
        .trim()
        .parse()
        .map_err(|_| format!("{addr} answered {count:?}, not a byte count"))?;
    if bytes != sent {
        return Err(format!("{addr} got {bytes} of {sent} bytes"));
    }
    Ok(Probe {
        source,
        bytes,
        secs,
    })
}

/// `groundwork net-probe hostfwd SOCKET PORT GUEST`: asks slirp4netns's API to forward host
/// port PORT (all addresses) to GUEST:PORT, as RootlessKit's slirp4netns port driver does.
/// Prints `id N`, or `error DESC`; exits 0 either way, so that the caller reads the words.
pub fn hostfwd(socket: &std::path::Path, port: u16, guest: &str) -> i32 {
    let request = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": "tcp",
            "host_addr": "0.0.0.0",
            "host_port": port,
            "guest_addr": guest,
            "guest_port": port,
        }
    });
    let reply = (|| -> std::io::Result<String> {
        let mut s = std::os::unix::net::UnixStream::connect(socket)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.write_all(request.to_string().as_bytes())?;
        s.shutdown(Shutdown::Write)?;
        let mut text = String::new();
        s.take(64 * 1024).read_to_string(&mut text)?;
        Ok(text)
    })();
    match reply.map_err(|e| format!("{}: {e}", socket.display())) {
        Ok(text) => match parse_reply(&text) {
            Ok(id) => {
                println!("id {id}");
                0
            }
            Err(e) => {
                println!("error {e}");
                0
            }
        },
        Err(e) => {
            println!("error {e}");
            0
        }
    }
}

/// slirp4netns's answer: `{"return":{"id":N}}` or `{"error":{"desc":"..."}}`.
pub fn parse_reply(text: &str) -> Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|_| format!("unreadable reply {text:?}"))?;
    if let Some(desc) = v.pointer("/error/desc").and_then(|d| d.as_str()) {
        return Err(desc.to_string());
    }
    v.pointer("/return/id")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| format!("unexpected reply {text:?}"))
}

/// A TLS 1.2 ClientHello (ECDHE with AES-GCM, P-256 and X25519), enough for any TLS server to
/// answer with its ServerHello or an alert. A port driver that forwards to nothing accepts the
/// connection and closes it, so an answer proves a server behind the port.
fn client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    body.push(0); // no session id
    let suites: [u16; 4] = [0xc02b, 0xc02f, 0xc02c, 0xc030];
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null
    let ext = |kind: u16, data: &[u8]| {
        let mut e = kind.to_be_bytes().to_vec();
        e.extend((data.len() as u16).to_be_bytes());
        e.extend(data);
        e
    };
    let mut exts = Vec::new();
    exts.extend(ext(0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17])); // groups: x25519, P-256
    exts.extend(ext(0x000b, &[1, 0])); // point formats: uncompressed
    exts.extend(ext(0x000d, &[0, 4, 0x04, 0x03, 0x08, 0x04])); // ecdsa/rsa-pss with sha256
    body.extend((exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![0x01];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

/// Whether a TLS server answers at `addr`: it replies to a ClientHello with a handshake record
/// (0x16) or an alert (0x15). Blocking.
pub fn tls_answers(addr: SocketAddr) -> Result<&'static str, String> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    conn.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| format!("{addr}: {e}"))?;
    conn.write_all(&client_hello())
        .map_err(|e| format!("sending a TLS ClientHello to {addr}: {e}"))?;
    let mut first = [0u8; 1];
    match conn.read(&mut first) {
        Ok(1) if first[0] == 0x16 => Ok("a TLS handshake"),
        Ok(1) if first[0] == 0x15 => Ok("a TLS alert"),
        Ok(1) => Err(format!(
            "{addr} answered a TLS ClientHello with byte {:#04x}, not TLS",
            first[0]
        )),
        // Closed with the hello unread, the kernel answers with a reset: the same thing.
        Ok(_) => Err(closed(addr)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Err(closed(addr)),
        Err(e) => Err(format!("{addr} did not answer a TLS ClientHello: {e}")),
    }
}

fn closed(addr: SocketAddr) -> String {
    format!(
        "{addr} accepted the connection and closed it: the port driver listens, but nothing answers behind it"
    )
}

/// The socket inodes of TCP listeners on `port` in a /proc/net/tcp or tcp6 table.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit_once(':')?.1;
            // State 0A is LISTEN.
            (u16::from_str_radix(local_port, 16).ok()? == port && *f.get(3)? == "0A")
                .then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

/// The process holding a listening socket on `port` of the host, as far as this process may
/// look into others' file descriptors: `Some("sshd (pid 612)")`, `Some("")` when a listener
/// exists but its owner is hidden, None when nothing listens.
pub fn holder(port: u16) -> Option<String> {
    holder_pid(port).map(|h| {
        h.map(|(pid, comm)| format!("{comm} (pid {pid})"))
            .unwrap_or_default()
    })
}

/// Whether the process holding `port` runs in the cgroup of the systemd unit `unit` (k3s's own
/// port driver exposing it already).
pub fn held_by_unit(port: u16, unit: &str) -> Option<String> {
    let (pid, comm) = holder_pid(port)??;
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cgroup
        .lines()
        .any(|l| l.split('/').any(|part| part == unit))
        .then(|| format!("{comm} (pid {pid})"))
}

/// None: nothing listens; Some(None): a listener whose process is hidden; else (pid, comm).
fn holder_pid(port: u16) -> Option<Option<(String, String)>> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|t| listening_inodes(&t, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && wanted.iter().any(|w| target.as_os_str() == w.as_str())
            {
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                return Some(Some((pid, comm.trim().to_string())));
            }
        }
    }
    Some(None)
}

/// Why host port `port` could not be exposed: the sysctl, a holder, or the driver's own word.
pub fn cause(port: u16, port_start: Option<u16>, holder: Option<String>, said: &str) -> String {
    if let Some(start) = port_start
        && port < start
    {
        return format!(
            "port {port} is below net.ipv4.ip_unprivileged_port_start ({start}): the user may not bind it on the host; add {port} to `network.ports` and run `groundwork apply`, which lowers the sysctl to it"
        );
    }
    match holder {
        Some(h) if !h.is_empty() => format!(
            "port {port} is already held on the host by {h}: stop it, or move the service to another port"
        ),
        Some(_) => format!(
            "port {port} is already held on the host by another process (run verify as root to see which): stop it, or move the service to another port"
        ),
        None => format!("the port driver refused port {port}: {said}"),
    }
}

/// net.ipv4.ip_unprivileged_port_start as the host runs it.
pub fn port_start() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The host's first IPv4 address that is not loopback, from the kernel's routing trie: a client
/// there shows whether the driver keeps its address.
pub fn host_address() -> Option<std::net::Ipv4Addr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let lines: Vec<&str> = trie.lines().collect();
    lines.windows(2).find_map(|w| {
        let addr = w[0].trim().strip_prefix("|-- ")?;
        if !w[1].contains("/32 host LOCAL") {
            return None;
        }
        let ip: std::net::Ipv4Addr = addr.parse().ok()?;
        (!ip.is_loopback()).then_some(ip)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_counts_what_it_sent_within_its_bounds() {
        // A real listener on the loopback, in this process.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                std::thread::spawn(move || serve(c));
            }
        });
        let p = probe(addr, 3 * 1024 * 1024, Duration::from_secs(3)).unwrap();
        assert_eq!((p.source.as_str(), p.bytes), ("127.0.0.1", 3 * 1024 * 1024));
        assert!(p.mb_per_s() > 0.0);
        // Bounded in seconds too: a byte budget it cannot reach in 200 ms.
        let started = Instant::now();
        let p = probe(addr, u64::MAX, Duration::from_millis(200)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "{p:?}");
        assert!(p.bytes > 0);
    }

    /// Found in review: the probe read the peer's lines without a bound, and verify runs it as
    /// root against a port in the user's namespace, which any process of the user's can serve. A
    /// peer sending one endless line grew root's memory for as long as it kept sending.
    #[test]
    fn a_peer_that_sends_an_endless_line_gets_a_bounded_read() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sending = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            if let Some(Ok(mut c)) = l.incoming().next() {
                let chunk = [b'x'; 64 * 1024];
                while !sending.load(std::sync::atomic::Ordering::Relaxed)
                    && c.write_all(&chunk).is_ok()
                {}
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(probe(addr, 1024, Duration::from_millis(200)));
        });
        let got = rx.recv_timeout(Duration::from_secs(30));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let result = got.expect("the probe returned, with the peer still sending");
        // The address line was cut at its bound; the count line never came as a number.
        let e = result.unwrap_err();
        assert!(e.contains(&addr.to_string()), "{e}");
    }

    #[test]
    fn a_port_nothing_serves_is_an_error_that_names_it() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = probe(addr, 1024, Duration::from_secs(1)).unwrap_err();
        assert!(e.contains(&addr.to_string()), "{e}");
    }

    #[test]
    fn a_tls_answer_is_told_from_a_closed_forward() {
        let serve_with = |reply: &'static [u8]| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            std::thread::spawn(move || {
                if let Some(Ok(mut c)) = l.incoming().next() {
                    let mut hello = [0u8; 5];
                    let _ = c.read_exact(&mut hello);
                    assert_eq!(hello[0], 0x16, "a TLS handshake record");
                    let _ = c.write_all(reply);
                }
            });
            addr
        };
        // An alert for a hello the server cannot accept, as a TLS server sends it.
        let addr = serve_with(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        assert_eq!(tls_answers(addr), Ok("a TLS alert"));
        // Accepted and closed: a forward with nothing behind it.
        let addr = serve_with(b"");
        assert!(
            tls_answers(addr)
                .unwrap_err()
                .contains("nothing answers behind it")
        );
        let addr = serve_with(b"HTTP/1.1 400 Bad Request\r\n");
        assert!(tls_answers(addr).unwrap_err().contains("not TLS"));
        // The hello's lengths add up, as a TLS server parses them.
        let h = client_hello();
        assert_eq!(usize::from(u16::from_be_bytes([h[3], h[4]])), h.len() - 5);
        assert_eq!(
            u32::from_be_bytes([0, h[6], h[7], h[8]]) as usize,
            h.len() - 9
        );
    }

    #[test]
    fn slirp4netns_replies() {
        assert_eq!(parse_reply(r#"{"return":{"id":3}}"#), Ok(3));
        assert_eq!(
            parse_reply(
                r#"{"error":{"desc":"bad request: add_hostfwd: slirp_add_hostfwd failed"}}"#
            ),
            Err("bad request: add_hostfwd: slirp_add_hostfwd failed".into())
        );
        assert!(parse_reply("").is_err() && parse_reply(r#"{"return":{}}"#).is_err());
    }

    #[test]
    fn the_holder_of_a_port_is_found_in_proc() {
        // This process listens; /proc/net/tcp lists it and its fd points at the socket.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = holder(port).expect("a listener");
        assert!(h.contains(&format!("pid {}", std::process::id())), "{h}");
        drop(l);
        assert_eq!(holder(port), None);
    }

    #[test]
    fn the_cause_names_the_sysctl_the_holder_or_the_driver() {
        assert!(
            cause(80, Some(1024), None, "")
                .contains("below net.ipv4.ip_unprivileged_port_start (1024)")
        );
        assert!(
            cause(8080, Some(1024), Some("nginx (pid 7)".into()), "")
                .contains("held on the host by nginx (pid 7)")
        );
        assert!(cause(8080, Some(1024), Some(String::new()), "").contains("run verify as root"));
        assert!(
            cause(80, Some(80), None, "slirp_add_hostfwd failed")
                .ends_with("slirp_add_hostfwd failed")
        );
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8080), [4242]);
        assert!(listening_inodes(table, 80).is_empty());
    }
}
