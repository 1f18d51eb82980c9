//! RFC 9112 on the wire: how bodies are framed, which requests are refused
//! and why, and a graceful close.

use super::*;

/// Sends `request` on a fresh connection and reads until the server closes
/// (or `wait` passes with the connection still open): all the bytes, and
/// whether it closed.
pub(crate) fn exchange(port: u16, request: &[u8], wait: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).expect("send");
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// The status lines of every response in `bytes` (each response's head and
/// its Content-Length body).
pub(crate) fn statuses(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end + 4]).to_string();
        out.push(head.lines().next().unwrap_or_default().to_string());
        let len: usize = header(&head, "content-length").map_or(0, |v| v.parse().unwrap());
        rest = &rest[(end + 4 + len).min(rest.len())..];
    }
    assert!(rest.is_empty(), "bytes after the last response: {rest:?}");
    out
}

/// Starts a native server on a fresh port.
pub(crate) fn native_server(label: &str) -> (Server, u16) {
    let port = free_port();
    let file = build("linux/amd64", label, &["--port", &port.to_string()]);
    (Server::start(Command::new(&file), port), port)
}

/// RFC 9112 section 6: bodies are framed, never read as requests; each rule's
/// exact status, and a smuggled request gets no response.
#[test]
pub(crate) fn framing() {
    let (_server, port) = native_server("framing");
    let wait = Duration::from_secs(2);
    // A Content-Length body is read and dropped: its bytes, a request of their
    // own, get no response; the request after the body does.
    let smuggled = b"HEAD /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut req = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        smuggled.len()
    )
    .into_bytes();
    req.extend_from_slice(smuggled);
    req.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (out, closed) = exchange(port, &req, wait);
    assert_eq!(
        statuses(&out),
        ["HTTP/1.1 200 OK"; 2],
        "Content-Length body"
    );
    assert!(closed);
    // A chunked body is decoded and dropped, extensions and trailers too.
    let req = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nHEAD \r\n1f\r\n/smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n\
        GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (out, _) = exchange(port, req, wait);
    assert_eq!(statuses(&out), ["HTTP/1.1 200 OK"; 2], "chunked body");
    // The refusals: status, Connection: close, then the server closes, and
    // what follows (a request) gets nothing.
    let big = (1 << 20) + 1;
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            "501 Not Implemented",
            "an unknown transfer coding",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".into(),
            "501 Not Implemented",
            "a coding before chunked",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                .into(),
            "400 Bad Request",
            "Transfer-Encoding with Content-Length",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n".into(),
            "400 Bad Request",
            "a Content-Length that is not a number",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".into(),
            "400 Bad Request",
            "two different Content-Lengths",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 10\r\n\r\n".into(),
            "400 Bad Request",
            "a Content-Length list whose values differ",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".into(),
            "400 Bad Request",
            "a negative Content-Length",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +8\r\n\r\n".into(),
            "400 Bad Request",
            "a Content-Length with a sign",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {big}\r\n\r\n"),
            "413 Content Too Large",
            "a Content-Length over 1 MiB",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{big:x}\r\n"),
            "413 Content Too Large",
            "a chunk over 1 MiB",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into(),
            "400 Bad Request",
            "a chunk size that is not hex",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHEAD / HTTP/1.1\r\n\r\n"
                .into(),
            "400 Bad Request",
            "a trailer line that is not a field line",
        ),
    ];
    for (req, status, what) in cases {
        let req = format!("{req}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
        let (out, closed) = exchange(port, req.as_bytes(), wait);
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            statuses(&out),
            [format!("HTTP/1.1 {status}")],
            "{what}: {text:?}"
        );
        assert_eq!(
            header(&text, "connection"),
            Some("close"),
            "{what}: {text:?}"
        );
        assert!(closed, "{what}: the connection stayed open");
    }
    // Equal Content-Lengths are one length, on two lines or in one list
    // (RFC 9110 section 8.6).
    for req in [
        &b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2 , 2\r\nConnection: close\r\n\r\nab",
    ] {
        assert_eq!(statuses(&exchange(port, req, wait).0), ["HTTP/1.1 200 OK"]);
    }
    // A chunked body of many chunks adding up to over 1 MiB: 413.
    let mut req = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..17 {
        req.extend_from_slice(b"10000\r\n");
        req.extend(std::iter::repeat_n(b'a', 0x10000));
        req.extend_from_slice(b"\r\n");
    }
    let (out, _) = exchange(port, &req, wait);
    assert_eq!(statuses(&out), ["HTTP/1.1 413 Content Too Large"]);
}

/// Host, 414, the empty line, HTTP/1.0 keep-alive, Date, charset, and bytes
/// that are not HTTP: each with its exact bytes or status.
#[test]
pub(crate) fn request_rules() {
    let (_server, port) = native_server("rules");
    let wait = Duration::from_secs(2);
    for (req, status, what) in [
        (
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            "400 Bad Request",
            "HTTP/1.1 without Host",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            "400 Bad Request",
            "two Hosts",
        ),
        (
            b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
            "400 Bad Request",
            "two Hosts in HTTP/1.0",
        ),
        (
            b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "400 Bad Request",
            "two empty lines",
        ),
        // RFC 9112 section 3.2: a Host that is not uri-host [ ":" port ].
        (
            b"GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n",
            "400 Bad Request",
            "a Host with a quote",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
            "400 Bad Request",
            "a Host with an unclosed IPv6 literal",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            "400 Bad Request",
            "a Host with a space",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n",
            "400 Bad Request",
            "a Host that is a list",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n",
            "400 Bad Request",
            "a Host whose port is not a number",
        ),
        (
            b"GET / HTTP/1.0\r\nHost: a/b\r\n\r\n",
            "400 Bad Request",
            "a Host with a slash, in HTTP/1.0",
        ),
        // RFC 9110 section 5.5: NUL, CR or LF within a field value; RFC 9112
        // section 2.2: a bare CR. And DEL, which no field value holds.
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
            "400 Bad Request",
            "NUL in a field value",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
            "400 Bad Request",
            "a bare CR in a field value",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n",
            "400 Bad Request",
            "DEL in a field value",
        ),
    ] {
        let (out, closed) = exchange(port, req, wait);
        assert_eq!(statuses(&out), [format!("HTTP/1.1 {status}")], "{what}");
        assert!(closed, "{what}: not closed");
    }
    // HTTP/1.0 needs no Host.
    let (out, _) = exchange(port, b"GET / HTTP/1.0\r\n\r\n", wait);
    assert_eq!(statuses(&out), ["HTTP/1.1 200 OK"]);
    // Valid Hosts: a name with a port, an IPv6 literal with one, the
    // characters a reg-name may hold, an empty one (RFC 9112 section 3.2).
    for host in [
        "localhost:8080",
        "[::1]:80",
        "[::1]",
        "127.0.0.1",
        "a-b.c_d~e!$&'()*+,;=%41.example",
        "x.example \t",
        "",
    ] {
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let (out, _) = exchange(port, req.as_bytes(), wait);
        assert_eq!(statuses(&out), ["HTTP/1.1 200 OK"], "Host: {host}");
    }
    // A field value with bytes past ASCII (obs-text) is allowed.
    let (out, _) = exchange(
        port,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\nConnection: close\r\n\r\n",
        wait,
    );
    assert_eq!(statuses(&out), ["HTTP/1.1 200 OK"]);
    // Connection is a list (RFC 9110 section 7.6.1): a `close` in it closes.
    for value in ["keep-alive, close", "upgrade, CLOSE", "a ,close , b"] {
        let req = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: {value}\r\n\r\nGET /more HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let (out, closed) = exchange(port, req.as_bytes(), wait);
        assert_eq!(statuses(&out), ["HTTP/1.1 200 OK"], "Connection: {value}");
        assert!(closed, "Connection: {value}: not closed");
    }
    // ... and HTTP/1.0's keep-alive, in a list, keeps it open.
    let mut c = Conn::open(port);
    for _ in 0..2 {
        let (head, _) = c
            .send(b"GET / HTTP/1.0\r\nConnection: te, keep-alive\r\n\r\n")
            .response();
        assert_eq!(header(&head, "connection"), Some("keep-alive"));
    }
    // A long target: 414 (nginx says the same past its 8 KiB buffers).
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    let (out, _) = exchange(port, long.as_bytes(), wait);
    assert_eq!(statuses(&out), ["HTTP/1.1 414 URI Too Long"]);
    // One empty line before the request line is skipped (CRLF or LF).
    for req in [
        &b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let (head, body) = Conn::open(port).send(req).response();
        assert_eq!(head, ok_head(HTML, PAGE.len(), false));
        assert_eq!(body, PAGE);
    }
    // HTTP/1.0 keep-alive, asked for: answered in kind, the connection stays.
    let mut c = Conn::open(port);
    for _ in 0..3 {
        let (head, body) = c
            .send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .response();
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {HTML}\r\nContent-Length: 62\r\nDate: DATE\r\nConnection: keep-alive\r\n\r\n"
            )
        );
        assert_eq!(body, PAGE);
    }
    // ... and Connection: close still wins.
    let (out, closed) = exchange(
        port,
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
        wait,
    );
    assert_eq!(statuses(&out), ["HTTP/1.1 200 OK"]);
    assert!(closed);
    // Date on the error responses too (ok_head and `response` check it on
    // the 200s), and the exact bytes of one.
    let mut c = Conn::open(port);
    let _ = c.stream.write_all(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, _) = c.response();
    assert_eq!(
        head,
        "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nDate: DATE\r\nConnection: close\r\n\r\n"
    );
    // Not HTTP (a TLS ClientHello's first bytes, binary): 400 at once, not
    // after the idle timeout. The limit is generous for a loaded machine;
    // answers here came in under 10 ms.
    for req in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"\x00\xff\x13",
    ] {
        let start = Instant::now();
        let (out, closed) = exchange(port, req, Duration::from_secs(5));
        assert_eq!(statuses(&out), ["HTTP/1.1 400 Bad Request"], "{req:?}");
        assert!(
            closed && start.elapsed() < Duration::from_secs(2),
            "{req:?}: {:?}",
            start.elapsed()
        );
    }
}

/// A 400 followed by more bytes than the receive buffers hold: the server sends
/// its answer and FIN, then reads on until the client is done, so the client
/// reads the whole answer and then end of file, no reset.
#[test]
pub(crate) fn graceful_close() {
    let (_server, port) = native_server("graceful");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut writer = s.try_clone().unwrap();
    // 16 MiB: far more than the socket buffers on both sides hold.
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(b"GET /\r\n\r\n");
        let junk = vec![b'x'; 1 << 20];
        for _ in 0..16 {
            if writer.write_all(&junk).is_err() {
                return false;
            }
        }
        writer.shutdown(Shutdown::Write).is_ok()
    });
    let mut out = Vec::new();
    let end = s.read_to_end(&mut out);
    assert!(end.is_ok(), "reading the 400: {end:?} after {out:?}");
    assert!(
        sender.join().unwrap(),
        "the server reset or closed before the client had sent everything"
    );
    let text = String::from_utf8_lossy(&out);
    assert_eq!(statuses(&out), ["HTTP/1.1 400 Bad Request"], "{text:?}");
}
