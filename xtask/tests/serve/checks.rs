//! What a serving server must do, checked with raw bytes and curl, in Docker,
//! and when it is stopped.

use super::*;

/// A fresh connection's `GET /` gets the 200 and the page.
pub(crate) fn assert_serves(port: u16, what: &str) {
    let mut c = Conn::open(port);
    let (head, body) = c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").response();
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && body == PAGE,
        "after {what}, GET / got {head:?} and {} bytes",
        body.len()
    );
}

/// An error response, and that the server then closes the connection.
pub(crate) fn assert_refused(port: u16, request: &[u8], status: &str, what: &str) {
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
pub(crate) fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = Command::new("curl")
        .arg("-sS")
        .args(["--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    (out.status.code().unwrap_or(-1), out.stdout)
}

/// curl's output with the response head's Date as [`dated`] leaves it.
pub(crate) fn curl_dated(out: &[u8]) -> Vec<u8> {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |i| i + 4);
    let head = dated(&String::from_utf8_lossy(&out[..end]));
    [head.as_bytes(), &out[end..]].concat()
}

/// What curl sees: GET on two paths, IPv4 and IPv6, HEAD, POST.
pub(crate) fn assert_curl(port: u16, what: &str) {
    let want = [ok_head(HTML, PAGE.len(), false).as_bytes(), PAGE].concat();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}/any/path?q=1"),
        format!("http://[::1]:{port}/"),
    ] {
        let (code, out) = curl(&["-i", &url]);
        assert_eq!(code, 0, "{what}: curl -i {url}");
        let out = curl_dated(&out);
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
        String::from_utf8_lossy(&curl_dated(&out)),
        ok_head(HTML, PAGE.len(), false),
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
pub(crate) fn assert_protocol(port: u16) {
    // Keep-alive and pipelining: three requests in one write, answered in order.
    let mut c = Conn::open(port);
    c.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\nHost: x\n\n");
    let (h1, b1) = c.response();
    let h2 = c.head_only();
    let (h3, b3) = c.response();
    assert_eq!(h1, ok_head(HTML, PAGE.len(), false));
    assert_eq!(b1, PAGE);
    assert_eq!(h2, ok_head(HTML, PAGE.len(), false), "HEAD");
    assert_eq!(h3, ok_head(HTML, PAGE.len(), false), "bare-LF request");
    assert_eq!(b3, PAGE);
    // The connection is still open for a fourth, sent in two pieces.
    c.send(b"GET / HT");
    std::thread::sleep(Duration::from_millis(50));
    let (h4, _) = c.send(b"TP/1.1\r\nHost: x\r\n\r\n").response();
    assert_eq!(h4, ok_head(HTML, PAGE.len(), false), "split request");

    // HTTP/1.0 and `Connection: close`: the answer says so, then the server closes.
    for req in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let mut c = Conn::open(port);
        let (head, body) = c.send(req).response();
        assert_eq!(
            head,
            ok_head(HTML, PAGE.len(), true),
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
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        "405",
        "POST",
    );
    assert_refused(
        port,
        b"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n",
        "405",
        "DELETE",
    );
    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    while big.len() < 64 * 1024 {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    big.extend_from_slice(b"\r\n");
    assert_refused(port, &big, "431", "a 64 KiB header block");
    // Just under the limit is fine.
    let mut fits = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
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
    // Slowest under load (10 runs of tests/serve.rs in a row while `cargo xtask bench-serve --seconds 2` ran beside them, and a CI run on the same 2 cores): 5 ms. 2 s is a generous bound that
    // still fails a server that makes other clients wait for this one.
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

/// Waits until a server listens on `port`.
pub(crate) fn wait_listening(port: u16) {
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
pub(crate) fn docker_stop(name: &str) -> Duration {
    let start = Instant::now();
    let out = docker(&["stop", name]);
    let took = start.elapsed();
    assert!(out.status.success(), "docker stop {name}: {out:?}");
    took
}

/// SIGTERM or SIGINT with 100 keep-alive connections open: exit 0, no process
/// of the server left within 1 s, every connection closed.
pub(crate) fn stops_cleanly(signal_name: &str) {
    let (mut server, port) = native_server(&format!("stop-{signal_name}"));
    let pid = server.child.id();
    let workers = children(pid);
    let mut conns: Vec<Conn> = (0..100).map(|_| Conn::open(port)).collect();
    for c in &mut conns {
        let (head, _) = c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").response();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        c.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
    }
    let start = Instant::now();
    signal(pid, signal_name);
    let status = server.child.wait().unwrap();
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0), "{signal_name}: exit status");
    // The limit leaves room for a loaded machine: the stop takes about 10 ms;
    // the slowest under load (10 runs of tests/serve.rs in a row while `cargo xtask bench-serve --seconds 2` ran beside them, and a CI run on the same 2 cores) was 78 ms.
    assert!(
        took < Duration::from_secs(1),
        "{signal_name}: exit took {took:?}"
    );
    let left: Vec<u32> = workers
        .iter()
        .copied()
        .filter(|w| std::path::Path::new(&format!("/proc/{w}")).exists())
        .collect();
    assert!(
        left.is_empty(),
        "{signal_name}: workers {left:?} of {workers:?} still run"
    );
    for (i, c) in conns.iter_mut().enumerate() {
        assert!(c.closed(), "{signal_name}: connection {i} still open");
    }
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "{signal_name}: something still listens"
    );
}

/// A server of one process (no workers): pinned with `taskset` to the first
/// CPU this test may use, so that every connection goes to the same slot table.
pub(crate) fn one_process_server(label: &str) -> (Server, u16) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list in /proc/self/status");
    let first = cpus.trim().split([',', '-']).next().unwrap().to_string();
    let port = free_port();
    let file = build("linux/amd64", label, &["--port", &port.to_string()]);
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", &first]).arg(&file);
    (Server::start(cmd, port), port)
}
