//! `serve` under hostile clients (tests/serve_hostile.rs, tests/serve_fuzz/):
//! building it, running it, and reading its responses byte by byte.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{lock, root, xtask_ok};

/// `serve`'s IDLE (hello/src/bin/serve.rs): the seconds a client has to send a
/// request head, and that a response may make no progress before the
/// connection is closed. Tests that hold connections finish well inside it.
pub const SERVE_IDLE: Duration = Duration::from_secs(10);

static NEXT_PORT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A TCP port below /proc/sys/net/ipv4/ip_local_port_range that nothing
/// listens on now. Free ports from `bind(0)` come from that range, where any
/// client's connection (the tests' own thousands) may take one as its local
/// port before the server binds it; ports below it are never handed out so.
/// Each call gives a different port; the start depends on the pid, so test runs
/// in other checkouts start elsewhere.
pub fn quiet_port() -> u16 {
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("read /proc/sys/net/ipv4/ip_local_port_range");
    let low: u32 = range
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("ip_local_port_range: two numbers");
    let first = 10_000;
    assert!(
        low > first + 1000,
        "ip_local_port_range starts at {low}: the tests need ports {first}..{low} outside it; \
         raise it with `sysctl -w net.ipv4.ip_local_port_range=\"32768 60999\"`"
    );
    let span = low - first;
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT_PORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (first + (start + n) % span) as u16;
        // [::] binds IPv4 too (net.ipv6.bindv6only is 0); check both anyway.
        if TcpListener::bind(("::", port)).is_ok() && TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free TCP port from {first} to {low}");
}

/// The directory for this test process's files that another uid must read
/// (mode 0755, in the temp dir: the checkout may be private).
pub fn shared_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hello-serve-hostile-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `cargo xtask dist --program serve --no-docker --platform linux/amd64 <args>`:
/// a copy of the file it wrote, named for `label` in [`shared_dir`] (mode 0755),
/// that later builds leave alone.
pub fn serve_build(label: &str, args: &[&str]) -> PathBuf {
    let _g = lock();
    let mut all = vec![
        "dist",
        "--program",
        "serve",
        "--no-docker",
        "--platform",
        "linux/amd64",
    ];
    all.extend_from_slice(args);
    xtask_ok(&all);
    let copy = shared_dir().join(format!("serve-{label}"));
    fs::copy(root().join("target/dist/linux-amd64/serve"), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// A uid that no process has now (so `prlimit --nproc`, which counts every
/// process of a uid, counts the server's alone), and that no account names.
pub fn unused_uid() -> u32 {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let named: Vec<u32> = passwd
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    let mut busy = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            busy.extend(
                line.split_whitespace()
                    .skip(1)
                    .filter_map(|u| u.parse::<u32>().ok()),
            );
        }
    }
    let start = 50_000 + std::process::id() % 10_000;
    (start..start + 10_000)
        .find(|u| !named.contains(u) && !busy.contains(u))
        .expect("a free uid from 50000 on")
}

/// Raises this test process's descriptor limit (soft and hard) to `n`, with
/// util-linux's `prlimit --pid` (std has no setrlimit); the clients of the
/// tests that hold thousands of connections need it.
pub fn raise_nofile(n: u32) {
    let out = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={n}:{n}"))
        .output()
        .expect("run prlimit (util-linux)");
    assert!(
        out.status.success(),
        "prlimit --nofile={n}:{n} on the test process: {}; the hard limit must allow {n} \
         (`ulimit -Hn`)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// PIDs of `pid`'s children, from /proc.
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                // pid (comm) state ppid ...
                s.rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().nth(1))
                    == Some(&pid.to_string())
            })
        })
        .collect()
}

/// A running server and every process it starts: spawned in a process group
/// of its own, and on drop sent SIGTERM, then SIGKILL, as a group.
pub struct ServeProcess {
    pub child: Child,
    pub port: u16,
}

impl ServeProcess {
    /// Starts `cmd` in its own process group and waits (up to 20 s) until
    /// 127.0.0.1:`port` accepts a connection; panics if it exits first.
    pub fn start(mut cmd: Command, port: u16) -> ServeProcess {
        use std::os::unix::process::CommandExt;
        let what = format!("{cmd:?}");
        let child = cmd
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let mut server = ServeProcess { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{what} exited ({status}) before listening on port {port}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{what} did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Whether the first process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal_group(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.signal_group("TERM");
        let start = Instant::now();
        while self.alive() && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.signal_group("KILL");
        let _ = self.child.wait();
    }
}

/// One HTTP response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The status line and headers, with the empty line.
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value, by name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads responses off a client connection, keeping what follows each.
pub struct Responses {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Responses {
    pub fn new(stream: TcpStream) -> Responses {
        Responses {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more; false at end of file; an error (a reset, a timeout) as text.
    fn fill(&mut self) -> Result<bool, String> {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) => Err(format!("{e} ({:?})", e.kind())),
        }
    }

    /// The next response: `Ok(None)` when the server closed with nothing more
    /// sent; an error for a read error or timeout, a head that is not HTTP, or
    /// a close in the middle of a response. `head_request`: the request was
    /// HEAD, so no body follows.
    pub fn next(&mut self, head_request: bool) -> Result<Option<Response>, String> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill()? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(format!(
                    "closed after {} bytes of a response head: {:?}",
                    self.buf.len(),
                    String::from_utf8_lossy(&self.buf[..self.buf.len().min(200)])
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP/1.1 status line: {head:?}"))?;
        self.buf.drain(..end);
        let mut r = Response {
            status,
            head,
            body: Vec::new(),
        };
        let len = match r.header("content-length") {
            _ if head_request || status < 200 || status == 204 || status == 304 => Some(0),
            Some(v) => Some(
                v.parse::<usize>()
                    .map_err(|_| format!("Content-Length {v:?} in {:?}", r.head))?,
            ),
            None => None,
        };
        match len {
            Some(len) => {
                while self.buf.len() < len {
                    if !self.fill()? {
                        return Err(format!(
                            "closed after {} of {len} body bytes of {:?}",
                            self.buf.len(),
                            r.head
                        ));
                    }
                }
                r.body = self.buf.drain(..len).collect();
            }
            // No length: the body runs to the close.
            None => {
                while self.fill()? {}
                r.body = std::mem::take(&mut self.buf);
            }
        }
        Ok(Some(r))
    }
}

/// `GET /` on a fresh connection to 127.0.0.1:`port`: Ok(how long it took) for
/// a 200 whose body is exactly `page`, within `limit`; otherwise what happened.
pub fn good_get(port: u16, page: &[u8], limit: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), limit)
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(limit)).unwrap();
    (&stream)
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut r = Responses::new(stream);
    let took = match r.next(false) {
        Ok(Some(resp)) if resp.status == 200 && resp.body == page => start.elapsed(),
        Ok(Some(resp)) => {
            return Err(format!(
                "{:?} with a {}-byte body (want 200 and {} bytes)",
                resp.head,
                resp.body.len(),
                page.len()
            ));
        }
        Ok(None) => return Err("closed with no response".into()),
        Err(e) => return Err(e),
    };
    if took > limit {
        return Err(format!("answered after {took:?}, over {limit:?}"));
    }
    Ok(took)
}

/// Whether the server still holds `stream` open: a non-blocking read finds
/// nothing to read, not end of file or a reset.
pub fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open =
        matches!((&*stream).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    open
}
