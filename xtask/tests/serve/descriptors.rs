//! serve out of descriptors (issue 18: `accept` failures back off instead of
//! spinning). Under `prlimit --nofile=64`, more clients connect than serve has
//! descriptors: the kernel queues them (the listen backlog is 4096), and each
//! `accept` fails with EMFILE while the queue holds one. A server that retried
//! at once would burn its CPUs until a descriptor came free; serve stops
//! listening until its next second's sweep. The test reads serve's CPU time
//! while the queue stays full, then frees descriptors and asks for the page.

use super::*;

/// Clock ticks (user + system) that `pid` and its children have used, from
/// /proc/PID/stat (fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    std::iter::once(pid)
        .chain(children(pid))
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // The fields after the command's name, which may hold spaces,
            // start at field 3 (state): field N is f[N - 3].
            let f: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
            f.get(11..13)
                .map_or(0, |t| t.iter().map(|v| v.parse::<u64>().unwrap()).sum())
        })
        .sum()
}

/// 300 clients against serve with 64 descriptors a process: over 3 s with the
/// accept queue full, serve's processes use under 0.3 s of CPU together (a
/// server spinning on EMFILE uses about 3 s a process); once most clients have
/// gone, a good request gets the page within 3 s (the sweep listens again
/// within a second, and the queue's closed connections are taken and closed).
#[test]
fn out_of_descriptors_it_waits_instead_of_spinning() {
    let test = "out_of_descriptors_it_waits_instead_of_spinning";
    if !tool_available(test, "prlimit", "apt-get install -y util-linux") {
        return;
    }
    let port = free_port();
    let file = build("linux/amd64", "nofile", &["--port", &port.to_string()]);
    let mut cmd = Command::new("prlimit");
    cmd.args(["--nofile=64:64", "--"]).arg(&file);
    let mut server = Server::start(cmd, port);
    let pid = server.child.id();
    // More clients than the server's processes have descriptors together.
    let clients: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect a client"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(pid) - before;
    eprintln!("{test}: 300 clients, 64 descriptors a process: {used} clock ticks of CPU in 3 s");
    assert!(
        used < 30,
        "serve used {used} clock ticks (1/100 s) of CPU in 3 s with its accept queue full: \
         it retries accept instead of waiting"
    );
    assert!(server.child.try_wait().unwrap().is_none(), "serve exited");
    drop(clients);
    good_get(port, PAGE, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("a good request after the clients left: {e}"));
    let (status, _) = server.stop();
    assert!(status.success(), "serve's exit after SIGTERM: {status}");
}
