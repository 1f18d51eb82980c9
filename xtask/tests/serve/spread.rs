//! serve's processes share the load (issue 18: one event loop per CPU). Each
//! process listens on the port with a socket of its own (SO_REUSEPORT), and
//! the kernel spreads new connections over them by address. With one shared
//! listener, the process that woke first took a whole burst: wrk's 100
//! connections split 100 to 0 or 92 to 8, and one core idled. The first
//! listener still binds without SO_REUSEPORT, so a second serve on the port
//! exits 98 instead of joining the first.

use super::*;

/// The TCP sockets `pid` holds (its listener among them), from /proc/PID/fd.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// The server's processes: `pid` and its children.
fn processes(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    all.extend(children(pid));
    all
}

/// 100 connections per process, opened in one burst and each answered: every
/// process holds between half and one and a half times its even share. The
/// shares are binomial (each connection lands on one of n listeners by its
/// address hash), so a process misses that band about once in 10^6 runs; a
/// shared listener missed it in 4 of 5 bursts of wrk's 100.
#[test]
fn connections_spread_over_the_processes() {
    let port = free_port();
    let file = build("linux/amd64", "spread", &["--port", &port.to_string()]);
    let mut server = Server::start(Command::new(&file), port);
    let pid = server.child.id();
    // The workers fork right after the first listens: wait until all are up.
    let cpus = std::thread::available_parallelism().unwrap().get().min(16);
    let start = Instant::now();
    while processes(pid).len() < cpus && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let procs = processes(pid);
    assert_eq!(procs.len(), cpus, "one process per CPU: {procs:?}");
    let idle: Vec<usize> = procs.iter().map(|&p| sockets(p)).collect();
    let total = 100 * procs.len();
    // A burst: every connection made before any is used.
    let mut conns: Vec<Conn> = (0..total).map(|_| Conn::open(port)).collect();
    for c in &mut conns {
        c.stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    }
    for c in &mut conns {
        let (head, body) = c.response();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body, PAGE);
    }
    let held: Vec<usize> = procs
        .iter()
        .zip(&idle)
        .map(|(&p, &before)| sockets(p) - before)
        .collect();
    eprintln!(
        "{total} connections over {} processes: {held:?}",
        procs.len()
    );
    assert_eq!(
        held.iter().sum::<usize>(),
        total,
        "every connection held once"
    );
    if procs.len() == 1 {
        eprintln!("one CPU: one process holds them all, nothing to spread");
    }
    for (p, &n) in procs.iter().zip(&held) {
        assert!(
            (50..=150).contains(&n),
            "process {p} holds {n} of {total} connections ({held:?}): not spread evenly"
        );
    }
    drop(conns);
    let (status, _) = server.stop();
    assert!(status.success(), "serve's exit after SIGTERM: {status}");
}

/// A second serve on the port of a running one exits 98 (EADDRINUSE) at
/// once, rather than sharing the port, and the first goes on serving.
#[test]
fn a_second_serve_on_its_port_exits_with_eaddrinuse() {
    let port = free_port();
    let file = build("linux/amd64", "second", &["--port", &port.to_string()]);
    let mut first = Server::start(Command::new(&file), port);
    let mut second = Command::new(&file).spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = second.kill();
            let _ = second.wait();
            panic!("the second serve still runs after 5 s: it shares the port");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status.code(),
        Some(98),
        "the second serve: EADDRINUSE is 98"
    );
    for _ in 0..20 {
        good_get(port, PAGE, Duration::from_secs(1))
            .unwrap_or_else(|e| panic!("the first serve after the second exited: {e}"));
    }
    let (status, _) = first.stop();
    assert!(status.success(), "serve's exit after SIGTERM: {status}");
}
