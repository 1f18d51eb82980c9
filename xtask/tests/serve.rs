//! `serve`, the web server: `cargo xtask dist --program serve`, the file it
//! writes, run natively, under qemu-aarch64 and in Docker, with real clients.
//!
//! Every server here is built with a port that was free a moment before (tests
//! run in parallel, with other helpers' tests on the same machine), and talks
//! to 127.0.0.1 or ::1 only.
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PAGE: &[u8] = b"<!DOCTYPE html><title>Hello World</title><h1>Hello World</h1>\n";
/// The budgets and goal, as in xtask/src/build/serve.rs.
const BUDGET_AMD64: usize = 2048;
const BUDGET_ARM64: usize = 2304;
const GOAL: usize = 1024;

/// A TCP port free on every address right now.
fn free_port() -> u16 {
    let l = TcpListener::bind("[::]:0").expect("bind [::]:0");
    l.local_addr().unwrap().port()
}

/// `cargo xtask dist --program serve <args>` for `platform`, without Docker; a
/// copy of the file it wrote, named for `label`, that later builds leave alone.
fn build(platform: &str, label: &str, args: &[&str]) -> PathBuf {
    let _g = lock();
    let mut all = vec![
        "dist",
        "--program",
        "serve",
        "--no-docker",
        "--platform",
        platform,
    ];
    all.extend_from_slice(args);
    xtask_ok(&all);
    let dir = platform.replace('/', "-");
    let copy =
        std::env::temp_dir().join(format!("hello-serve-test-{}-{label}", std::process::id()));
    std::fs::copy(root().join("target/dist").join(dir).join("serve"), &copy).unwrap();
    copy
}

/// A server process, stopped with SIGTERM (then killed) when dropped.
struct Server {
    child: Child,
}

impl Server {
    /// Starts `cmd` and waits until `port` accepts connections.
    fn start(mut cmd: Command, port: u16) -> Server {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let server = Server { child };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{cmd:?} did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// SIGTERM; the exit status and how long it took.
    fn stop(&mut self) -> (std::process::ExitStatus, Duration) {
        let start = Instant::now();
        signal(self.child.id(), "TERM");
        let status = self.child.wait().unwrap();
        (status, start.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill -{name} {pid}");
}

/// A client connection that reads whole responses, keeping what follows.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> &mut Conn {
        self.stream.write_all(bytes).expect("send");
        self
    }

    /// Reads one response: (head including the blank line, body by Content-Length).
    fn response(&mut self) -> (String, Vec<u8>) {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill("a response head");
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("an ASCII head");
        let len: usize = header(&head, "content-length")
            .unwrap_or_else(|| panic!("no Content-Length in {head:?}"))
            .parse()
            .unwrap();
        self.buf.drain(..end);
        while self.buf.len() < len {
            self.fill("the body");
        }
        let body = self.buf.drain(..len).collect();
        (head, body)
    }

    /// Reads one response head only (for HEAD requests: no body follows).
    fn head_only(&mut self) -> String {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill("a response head");
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
        self.buf.drain(..end);
        head
    }

    fn fill(&mut self, what: &str) {
        let mut chunk = [0u8; 65536];
        let n = self
            .stream
            .read(&mut chunk)
            .unwrap_or_else(|e| panic!("reading {what}: {e}"));
        assert!(
            n > 0,
            "the server closed the connection before {what}; had {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// True when the server has closed: the next read gives end of file (or a
    /// reset), with nothing more sent.
    fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => self.buf.is_empty(),
            Ok(_) => false,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// A header's value, by name (case-insensitive).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The exact head of a 200 for `page` with `content_type`.
fn ok_head(content_type: &str, len: usize, close: bool) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n{}\r\n",
        if close { "Connection: close\r\n" } else { "" }
    )
}

/// A fresh connection's `GET /` gets the 200 and the page.
fn assert_serves(port: u16, what: &str) {
    let mut c = Conn::open(port);
    let (head, body) = c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").response();
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && body == PAGE,
        "after {what}, GET / got {head:?} and {} bytes",
        body.len()
    );
}

/// An error response, and that the server then closes the connection.
fn assert_refused(port: u16, request: &[u8], status: &str, what: &str) {
    let mut c = Conn::open(port);
    // The server may answer and close before the whole request is sent.
    let _ = c.stream.write_all(request);
    let (head, body) = c.response();
    assert!(
        head.starts_with(&format!("HTTP/1.1 {status}")),
        "{what}: expected {status}, got {head:?}"
    );
    assert_eq!(
        header(&head, "connection"),
        Some("close"),
        "{what}: {head:?}"
    );
    assert!(body.is_empty(), "{what}: a body of {} bytes", body.len());
    assert!(
        c.closed(),
        "{what}: the connection stayed open after {status}"
    );
    assert_serves(port, what);
}

/// `curl -sS <args>`: (exit status, stdout).
fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = Command::new("curl")
        .arg("-sS")
        .args(["--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    (out.status.code().unwrap_or(-1), out.stdout)
}

/// What curl sees: GET on two paths, IPv4 and IPv6, HEAD, POST.
fn assert_curl(port: u16, what: &str) {
    let want = [ok_head("text/html", PAGE.len(), false).as_bytes(), PAGE].concat();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}/any/path?q=1"),
        format!("http://[::1]:{port}/"),
    ] {
        let (code, out) = curl(&["-i", &url]);
        assert_eq!(code, 0, "{what}: curl -i {url}");
        assert!(
            out == want,
            "{what}: curl -i {url} printed {:?}",
            String::from_utf8_lossy(&out)
        );
    }
    let url = format!("http://127.0.0.1:{port}/");
    let (code, out) = curl(&["-I", &url]);
    assert_eq!(code, 0, "{what}: curl -I");
    assert_eq!(
        String::from_utf8_lossy(&out),
        ok_head("text/html", PAGE.len(), false),
        "{what}: HEAD gets the headers and no body"
    );
    let (code, out) = curl(&["-i", "-X", "POST", "-d", "x=1", &url]);
    assert_eq!(code, 0, "{what}: curl -X POST");
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
            && header(&out, "allow") == Some("GET, HEAD"),
        "{what}: POST got {out:?}"
    );
}

/// The protocol, byte for byte, and the bad input, each followed by a good
/// request on a fresh connection.
fn assert_protocol(port: u16) {
    // Keep-alive and pipelining: three requests in one write, answered in order.
    let mut c = Conn::open(port);
    c.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\nHost: x\n\n");
    let (h1, b1) = c.response();
    let h2 = c.head_only();
    let (h3, b3) = c.response();
    assert_eq!(h1, ok_head("text/html", PAGE.len(), false));
    assert_eq!(b1, PAGE);
    assert_eq!(h2, ok_head("text/html", PAGE.len(), false), "HEAD");
    assert_eq!(
        h3,
        ok_head("text/html", PAGE.len(), false),
        "bare-LF request"
    );
    assert_eq!(b3, PAGE);
    // The connection is still open for a fourth, sent in two pieces.
    c.send(b"GET / HT");
    std::thread::sleep(Duration::from_millis(50));
    let (h4, _) = c.send(b"TP/1.1\r\n\r\n").response();
    assert_eq!(h4, ok_head("text/html", PAGE.len(), false), "split request");

    // HTTP/1.0 and `Connection: close`: the answer says so, then the server closes.
    for req in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
    ] {
        let mut c = Conn::open(port);
        let (head, body) = c.send(req).response();
        assert_eq!(
            head,
            ok_head("text/html", PAGE.len(), true),
            "{:?}",
            String::from_utf8_lossy(req)
        );
        assert_eq!(body, PAGE);
        assert!(c.closed(), "{:?}: not closed", String::from_utf8_lossy(req));
    }

    // Bad input.
    assert_refused(
        port,
        b"\x00\xff\x13garbage\x07\r\n\r\n",
        "400",
        "garbage bytes",
    );
    assert_refused(
        port,
        b"GET /\r\n\r\n",
        "400",
        "a request line without a version",
    );
    assert_refused(
        port,
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
        "400",
        "a header line without a colon",
    );
    assert_refused(
        port,
        b"GET / HTTP/1.1\r\n bad: x\r\n\r\n",
        "400",
        "a header name with a space",
    );
    assert_refused(port, b"GET / HTTP/2.0\r\n\r\n", "400", "an unknown version");
    assert_refused(
        port,
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "405",
        "POST",
    );
    assert_refused(port, b"DELETE /x HTTP/1.1\r\n\r\n", "405", "DELETE");
    let mut big = b"GET / HTTP/1.1\r\n".to_vec();
    while big.len() < 64 * 1024 {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    big.extend_from_slice(b"\r\n");
    assert_refused(port, &big, "431", "a 64 KiB header block");
    // Just under the limit is fine.
    let mut fits = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    fits.resize(8 * 1024 - 4, b'a');
    fits.extend_from_slice(b"\r\n\r\n");
    assert_eq!(fits.len(), 8 * 1024);
    let (head, _) = Conn::open(port).send(&fits).response();
    assert!(head.starts_with("HTTP/1.1 200 "), "an 8 KiB head: {head:?}");

    // A client that sends half a request and waits holds up no one.
    let mut half = Conn::open(port);
    half.send(b"GET / HTTP/1.1\r\nHost:");
    let start = Instant::now();
    assert_serves(port, "a half-sent request on another connection");
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(half);

    // 500 idle connections held open, then a good request.
    let idle: Vec<TcpStream> = (0..500)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect an idle client"))
        .collect();
    assert_serves(port, "500 idle connections");
    drop(idle);
    assert_serves(port, "500 idle connections closed");
}

#[test]
fn dist_refuses_bad_options() {
    let _g = lock();
    let file = root().join("target/dist/linux-amd64/serve");
    let before = std::fs::read(&file).ok();
    let dir = std::env::temp_dir().join(format!("hello-serve-opts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.html");
    std::fs::write(&empty, b"").unwrap();
    let huge = dir.join("huge.html");
    std::fs::write(&huge, vec![b'a'; (1 << 20) + 1]).unwrap();
    let odd = dir.join("page.xyz");
    std::fs::write(&odd, b"x").unwrap();
    let missing = dir.join("missing.html");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--page-file", missing.to_str().unwrap()],
            "cannot read --page-file",
        ),
        (vec!["--page-file", empty.to_str().unwrap()], "is empty"),
        (
            vec!["--page-file", huge.to_str().unwrap()],
            "more than the 1048576",
        ),
        (
            vec!["--page-file", odd.to_str().unwrap()],
            "give --content-type",
        ),
        (vec!["--content-type", "bad\ttype"], "not a media type"),
        (vec!["--port", "0"], "from 1 to 65535"),
        (vec!["--port", "65536"], "from 1 to 65535"),
        (vec!["--port", "http"], "from 1 to 65535"),
        (vec!["--frobnicate"], "unknown option"),
        (vec!["--message", "hi"], "options of hello"),
        (
            vec!["--platform", "linux/386"],
            "linux/amd64 and linux/arm64 only",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["dist", "--program", "serve"];
        all.extend_from_slice(&args);
        let out = xtask(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got {stderr:?}"
        );
        assert!(stderr.contains(want), "{args:?}: {stderr:?} lacks {want:?}");
        assert!(out.stdout.is_empty(), "{args:?}: printed {:?}", out.stdout);
    }
    // And the serve options are refused for hello.
    let out = xtask(&["dist", "--port", "80"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&file).ok(),
        before,
        "{} changed",
        file.display()
    );
}

#[test]
fn serves_natively() {
    if !tool_available("serves_natively", "curl", "apt-get install -y curl") {
        return;
    }
    let port = free_port();
    let file = build("linux/amd64", "native", &["--port", &port.to_string()]);
    assert!(
        std::fs::metadata(&file).unwrap().len() as usize <= BUDGET_AMD64,
        "over the budget"
    );
    let mut server = Server::start(Command::new(&file), port);
    // An idle connection is closed after about 10 s; watched meanwhile.
    let idle = std::thread::spawn(move || {
        let mut c = Conn::open(port);
        let start = Instant::now();
        let closed = c.closed();
        (closed, start.elapsed())
    });
    assert_curl(port, "native");
    assert_protocol(port);
    let (closed, after) = idle.join().unwrap();
    assert!(
        closed && after >= Duration::from_secs(9) && after < Duration::from_secs(13),
        "an idle connection: closed {closed} after {after:?}, expected about 10 s"
    );
    assert_serves(port, "the idle timeout");
    let (status, took) = server.stop();
    assert_eq!(status.code(), Some(0), "SIGTERM: exit status");
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
}

#[test]
fn second_server_on_a_taken_port_exits_with_eaddrinuse() {
    let port = free_port();
    let file = build("linux/amd64", "taken", &["--port", &port.to_string()]);
    let _holder = TcpListener::bind(("::", port)).unwrap();
    let out = Command::new(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(98), "EADDRINUSE is 98");
}

#[test]
fn large_page_and_a_client_that_leaves_halfway() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("hello-serve-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let path = dir.join("big.bin");
    std::fs::write(&path, &page).unwrap();
    let file = build(
        "linux/amd64",
        "big",
        &[
            "--port",
            &port.to_string(),
            "--page-file",
            path.to_str().unwrap(),
        ],
    );
    let _server = Server::start(Command::new(&file), port);
    for _ in 0..3 {
        // Read half of the page, then close.
        let mut c = Conn::open(port);
        c.send(b"GET / HTTP/1.1\r\n\r\n");
        let mut got = 0;
        let mut chunk = [0u8; 65536];
        while got < page.len() / 2 {
            got += c.stream.read(&mut chunk).unwrap();
        }
        c.stream.shutdown(Shutdown::Both).unwrap();
    }
    let mut c = Conn::open(port);
    let (head, body) = c.send(b"GET /big HTTP/1.1\r\n\r\n").response();
    assert_eq!(head, ok_head("application/octet-stream", page.len(), false));
    assert!(body == page, "the 1 MiB page differs");

    // --content-type overrides the extension.
    let port = free_port();
    let txt = dir.join("note.txt");
    std::fs::write(&txt, b"plain\n").unwrap();
    let typed = build(
        "linux/amd64",
        "typed",
        &[
            "--port",
            &port.to_string(),
            "--page-file",
            txt.to_str().unwrap(),
            "--content-type",
            "text/x-note",
        ],
    );
    let _typed = Server::start(Command::new(&typed), port);
    let (head, body) = Conn::open(port).send(b"GET / HTTP/1.1\r\n\r\n").response();
    assert_eq!(head, ok_head("text/x-note", 6, false));
    assert_eq!(body, b"plain\n");
}

#[test]
fn arm64_under_qemu() {
    if !tool_available(
        "arm64_under_qemu",
        "qemu-aarch64-static",
        "apt-get install -y qemu-user-static",
    ) {
        return;
    }
    let port = free_port();
    let file = build("linux/arm64", "arm64", &["--port", &port.to_string()]);
    assert!(std::fs::metadata(&file).unwrap().len() as usize <= BUDGET_ARM64);
    let mut cmd = Command::new("qemu-aarch64-static");
    cmd.arg(&file);
    let mut server = Server::start(cmd, port);
    assert_protocol(port);
    let (status, _) = server.stop();
    assert_eq!(status.code(), Some(0), "SIGTERM under qemu: exit status");

    // The arm64 image, as Docker runs it here: through binfmt_misc and qemu.
    if !docker_available("arm64_under_qemu (docker run --platform linux/arm64)")
        || !tool_available("arm64_under_qemu", "curl", "apt-get install -y curl")
    {
        return;
    }
    let port = free_port();
    let tag = format!("hello-serve-test:arm64-{}", std::process::id());
    {
        let _g = lock();
        xtask_ok(&[
            "dist",
            "--program",
            "serve",
            "--platform",
            "linux/arm64",
            "--port",
            &port.to_string(),
            "--tag",
            &tag,
        ]);
    }
    let name = format!("hello-serve-test-{}-arm64", std::process::id());
    let out = docker_serve(&name, &tag, &["--platform", "linux/arm64"]);
    assert!(
        out.status.success(),
        "docker run --platform linux/arm64: {out:?}"
    );
    let _c = Container(name.clone());
    wait_listening(port);
    assert_curl(port, "docker run --platform linux/arm64");
    let took = docker_stop(&name);
    assert!(
        took < Duration::from_secs(1),
        "arm64: docker stop took {took:?}"
    );
    let _ = docker(&["rmi", &tag]);
}

/// `docker run` flags for a server container on this machine: host network.
fn docker_serve(name: &str, tag: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "-d",
        "--rm",
        "--pull",
        "never",
        "--network",
        "host",
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    args.push(tag);
    docker(&args)
}

/// Removes the container when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

/// Waits until a server listens on `port`.
fn wait_listening(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing listens on port {port} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `docker stop NAME`: how long it took.
fn docker_stop(name: &str) -> Duration {
    let start = Instant::now();
    let out = docker(&["stop", name]);
    let took = start.elapsed();
    assert!(out.status.success(), "docker stop {name}: {out:?}");
    took
}

#[test]
fn serves_in_docker() {
    if !docker_available("serves_in_docker")
        || !tool_available("serves_in_docker", "curl", "apt-get install -y curl")
    {
        return;
    }
    let port = free_port();
    let tag = format!("hello-serve-test:{}", std::process::id());
    {
        let _g = lock();
        xtask_ok(&[
            "dist",
            "--program",
            "serve",
            "--port",
            &port.to_string(),
            "--tag",
            &tag,
        ]);
    }
    let size: usize = String::from_utf8_lossy(
        &docker(&["image", "inspect", "--format", "{{.Size}}", &tag]).stdout,
    )
    .trim()
    .parse()
    .unwrap();
    assert!(size <= BUDGET_AMD64, "image {tag}: {size} bytes");

    // Plain run: curl, the protocol, and docker stop under 1 s.
    let name = format!("hello-serve-test-{}-plain", std::process::id());
    let out = docker_serve(&name, &tag, &[]);
    assert!(out.status.success(), "docker run: {out:?}");
    let _c = Container(name.clone());
    wait_listening(port);
    assert_curl(port, "docker run");
    assert_refused(port, b"GET /\r\n\r\n", "400", "docker: no version");
    // An open keep-alive connection must not delay the stop.
    let mut open = Conn::open(port);
    open.send(b"GET / HTTP/1.1\r\n\r\n").response();
    let took = docker_stop(&name);
    assert!(took < Duration::from_secs(1), "docker stop took {took:?}");

    // Hardened: read-only, no capabilities, nobody, 16 MiB, few processes; under load.
    let name = format!("hello-serve-test-{}-hardened", std::process::id());
    let out = docker_serve(
        &name,
        &tag,
        &[
            "--read-only",
            "--cap-drop",
            "ALL",
            "--user",
            "65534:65534",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            "16m",
            "--pids-limit",
            "64",
        ],
    );
    assert!(out.status.success(), "hardened docker run: {out:?}");
    let _h = Container(name.clone());
    wait_listening(port);
    let clients: Vec<_> = (0..32)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Conn::open(port);
                for _ in 0..200 {
                    let (head, body) = c.send(b"GET / HTTP/1.1\r\n\r\n").response();
                    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && body == PAGE);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client under load got a wrong answer");
    }
    // More connections than --pids-limit allows processes: those it cannot
    // fork for are closed, and the server goes on.
    let many: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    drop(many);
    let start = Instant::now();
    loop {
        // The children of the closed connections exit at once; a fresh
        // connection may still meet the limit for a moment.
        let mut c = Conn::open(port);
        let _ = c.stream.write_all(b"GET / HTTP/1.1\r\n\r\n");
        let mut first = [0u8; 1];
        if matches!(c.stream.read(&mut first), Ok(1)) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "hardened: no answer 5 s after the pids limit was reached"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_serves(port, "the pids limit");
    let took = docker_stop(&name);
    assert!(
        took < Duration::from_secs(1),
        "hardened docker stop took {took:?}"
    );
    let _ = docker(&["rmi", &tag]);
}

#[test]
fn sizes_in_readme() {
    // The port does not change the size; a free one lets dist try the file.
    let port = free_port().to_string();
    let amd64 = std::fs::metadata(build("linux/amd64", "size-amd64", &["--port", &port]))
        .unwrap()
        .len() as usize;
    let arm64 = std::fs::metadata(build("linux/arm64", "size-arm64", &["--port", &port]))
        .unwrap()
        .len() as usize;
    assert!(amd64 <= BUDGET_AMD64 && arm64 <= BUDGET_ARM64);
    let row = |p: &str, n: usize, budget: usize| {
        let goal = if n <= GOAL {
            "met".to_string()
        } else {
            format!("missed by {} bytes", n - GOAL)
        };
        format!("| {p} | {n} | {budget} | {GOAL} ({goal}) |\n")
    };
    let table = format!(
        "| `serve`, default page | bytes | budget | goal |\n|---|---:|---:|---:|\n{}{}",
        row("linux/amd64", amd64, BUDGET_AMD64),
        row("linux/arm64", arm64, BUDGET_ARM64)
    );
    assert_page_block("docs/serve.md", "serve-sizes", &table);
}
