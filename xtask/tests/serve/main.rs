//! `serve`, the web server: `cargo xtask dist --program serve`, the file it
//! writes, run natively, under qemu-user and in Docker (every platform it is
//! built for: platforms.rs), with real clients.
//!
//! Every server here is built with a port below the ephemeral range that was
//! free a moment before (tests run in parallel, with other helpers' tests on
//! the same machine, and their clients' ports come from the ephemeral range),
//! and talks to 127.0.0.1 or ::1 only.
#[path = "../common/mod.rs"]
mod common;

mod armv5;
mod checks;
mod dates;
mod descriptors;
mod platforms;
mod protocol;
mod server;
mod sizes;
mod spread;

use checks::*;
use common::*;
use dates::*;
use protocol::*;
use server::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    // The server checks deadlines in a sweep once a second, so the close comes
    // 10 to 11 s after the connection's last progress; a loaded machine adds
    // scheduling delay (the slowest seen: 13.4 s, in a CI run beside other
    // test runs and builds on the 2 cores; 11.6 s in 10 runs of tests/serve.rs in a row while `cargo xtask bench-serve --seconds 2` ran beside them, and a CI run on the same 2 cores). Under 9 s would be a timeout
    // shorter than IDLE; 20 s leaves room for load and still fails a server
    // that never closes.
    assert!(
        closed && after >= Duration::from_secs(9) && after < Duration::from_secs(20),
        "an idle connection: closed {closed} after {after:?}, expected 10 to 11 s"
    );
    assert_serves(port, "the idle timeout");
    let (status, took) = server.stop();
    assert_eq!(status.code(), Some(0), "SIGTERM: exit status");
    // Slowest under load (10 runs of tests/serve.rs in a row while `cargo xtask bench-serve --seconds 2` ran beside them, and a CI run on the same 2 cores): 74 ms.
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
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut got = 0;
        let mut chunk = [0u8; 65536];
        while got < page.len() / 2 {
            got += c.stream.read(&mut chunk).unwrap();
        }
        c.stream.shutdown(Shutdown::Both).unwrap();
    }
    let mut c = Conn::open(port);
    let (head, body) = c.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").response();
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
    let (head, body) = Conn::open(port)
        .send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .response();
    assert_eq!(head, ok_head("text/x-note", 6, false));
    assert_eq!(body, b"plain\n");
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
    open.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").response();
    let took = docker_stop(&name);
    // Issue 18 asks for a docker stop under 1 s; slowest under load (10 runs of tests/serve.rs in a row while `cargo xtask bench-serve --seconds 2` ran beside them, and a CI run on the same 2 cores): 546 ms.
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
                    let (head, body) = c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").response();
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
        // No process per connection: the first try should be answered, and
        // was in every one of 10 runs under load (tests/serve.rs in a row
        // beside `cargo xtask bench-serve --seconds 2` and a CI run). 5 s
        // bounds a server that stops answering.
        let mut c = Conn::open(port);
        let _ = c.stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
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
    // Slowest under load (10 runs of tests/serve.rs in a row while `cargo xtask bench-serve --seconds 2` ran beside them, and a CI run on the same 2 cores): 308 ms.
    assert!(
        took < Duration::from_secs(1),
        "hardened docker stop took {took:?}"
    );
    let _ = docker(&["rmi", &tag]);
}

#[test]
fn sigterm_stops_every_process() {
    stops_cleanly("TERM");
}

#[test]
fn sigint_stops_every_process() {
    stops_cleanly("INT");
}

/// 1,000 idle connections and 100 that send one byte at a time: a good
/// request still gets its 200 at once.
#[test]
fn idle_connections_lock_no_one_out() {
    let (_server, port) = native_server("idle");
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect an idle client"))
        .collect();
    let mut slow: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for (i, byte) in b"GET / HT".iter().enumerate() {
        for s in &mut slow {
            s.write_all(&[*byte]).unwrap();
        }
        if i == 4 {
            // The limit is generous for a loaded machine: answers here came in
            // a few milliseconds.
            let start = Instant::now();
            assert_serves(port, "1,000 idle and 100 slow connections");
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "{:?}",
                start.elapsed()
            );
        }
    }
    drop(idle);
    drop(slow);
}

/// `serve health`: 0 against a serving server on its port, 1 when nothing
/// listens, 2 for another argument.
#[test]
fn health_check_natively() {
    let port = free_port();
    let file = build("linux/amd64", "health", &["--port", &port.to_string()]);
    let health = || Command::new(&file).arg("health").status().unwrap().code();
    assert_eq!(health(), Some(1), "nothing listens");
    let server = Server::start(Command::new(&file), port);
    assert_eq!(health(), Some(0), "serving");
    drop(server);
    let out = Command::new(&file).arg("nonsense").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out.stderr, b"usage: serve [health]\n");
}

/// The image's health check under a real engine: `healthy` while it serves;
/// `unhealthy` when the port is held by something that answers 500.
#[test]
fn health_check_in_docker() {
    if !docker_available("health_check_in_docker")
        || !tool_available(
            "health_check_in_docker",
            "busybox",
            "apt-get install -y busybox-static",
        )
    {
        return;
    }
    let port = free_port();
    let tag = own_tag("hello-serve-health");
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
    let inspect = |what: &str, name: &str| {
        String::from_utf8_lossy(&docker(&["inspect", "--format", what, name]).stdout)
            .trim()
            .to_string()
    };
    assert_eq!(
        inspect("{{json .Config.Healthcheck.Test}}", &tag),
        r#"["CMD","/serve","health"]"#
    );
    let wait_for = |name: &str, want: &str| {
        let start = Instant::now();
        loop {
            let got = inspect("{{.State.Health.Status}}", name);
            if got == want {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "{name}: health {got:?}, not {want:?} after 40 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    // Serving, in the hardened run: healthy.
    let name = format!("{tag}-up").replace([':', '/'], "-");
    let out = docker_serve(&name, &tag, HARDENED);
    assert!(out.status.success(), "docker run: {out:?}");
    let _c = Container(name.clone());
    wait_for(&name, "healthy");
    drop(_c);
    // The port held by a server that answers 500; the container runs busybox's
    // sleep (bind-mounted), so only its health check talks to the port.
    let holder = TcpListener::bind(("::", port)).unwrap();
    std::thread::spawn(move || {
        for s in holder.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let name = format!("{tag}-taken").replace([':', '/'], "-");
    let out = docker(&[
        "run",
        "-d",
        "--rm",
        "--pull",
        "never",
        "--network",
        "host",
        "--name",
        &name,
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "-v",
        "/bin/busybox:/busybox:ro",
        "--entrypoint",
        "/busybox",
        &tag,
        "sleep",
        "120",
    ]);
    assert!(out.status.success(), "docker run: {out:?}");
    let _c = Container(name.clone());
    wait_for(&name, "unhealthy");
    let _ = docker(&["rmi", &tag]);
}

/// A connection's slot is used again by the next connection that gets its
/// descriptor, and starts clean. Here the first connection leaves requests
/// unread behind a `Connection: close` (the server reads them into the slot's
/// buffer and stops partway), and the next connection on the same descriptor
/// pipelines two requests. Both must be answered: a slot that kept the old
/// buffer offset dropped the second (or, with the offset past what was held,
/// spun in the read loop at full CPU, deaf to every client and to SIGTERM).
/// The fuzz (tests/serve_fuzz/) met it after about 500 cases.
#[test]
fn a_reused_slot_starts_clean() {
    let (mut server, port) = one_process_server("reuse");
    let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let close = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    // A barrier: once its response is back, the server has handled every
    // event before its request, connections closed by their clients included.
    let mut barrier = Conn::open(port);
    let mut sync = || assert!(barrier.send(get).response().0.starts_with("HTTP/1.1 200"));
    sync();
    // Two answers, then the close; the third request is left unanswered.
    let (out, closed) = exchange(
        port,
        &[&get[..], close, get].concat(),
        Duration::from_secs(5),
    );
    assert_eq!(statuses(&out), ["HTTP/1.1 200 OK"; 2]);
    assert!(closed);
    sync();
    // The lowest free descriptor: the one just closed.
    let mut c = Conn::open(port);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    c.send(&[&get[..], get].concat());
    for i in 1..=2 {
        let (head, body) = c.response();
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\n") && body == PAGE,
            "pipelined request {i} on a reused slot: {head:?}"
        );
    }
    drop(c);
    let (status, took) = server.stop();
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
}
