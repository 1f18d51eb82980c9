//! The servers' memory: the summed PSS of a process and its descendants,
//! from /proc; and, from a memory cgroup of each server's own, what idle
//! keep-alive connections cost it, the kernel's share included.
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::Error;
use crate::core::cmd;
use crate::core::files::io;

/// `root` and its descendants, from /proc.
pub fn tree(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// The summed PSS (KiB) of `root` and its descendants, and how many there are.
pub fn pss(root: u32) -> (u64, usize) {
    let tree = tree(root);
    let mut total = 0;
    let mut count = 0;
    for pid in &tree {
        if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            let kib = text.lines().find_map(|l| {
                l.strip_prefix("Pss:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            });
            if let Some(k) = kib {
                total += k;
                count += 1;
            }
        }
    }
    (total, count)
}

/// A memory cgroup of one server's own, so that what its processes and the
/// kernel on their behalf take can be read apart from everything else on the
/// machine. Under cgroup v1 (this machine's), `memory.usage_in_bytes` counts
/// the group's pages and its kernel memory (slab: socket, file and epoll
/// objects; kernel stacks; page tables); socket buffers are counted apart, in
/// `memory.kmem.tcp.usage_in_bytes`, once a TCP limit is set, which [`new`]
/// does (at the largest value, so it limits nothing). Under cgroup v2,
/// `memory.current` counts all of these. An accepted connection is charged
/// to the group of the process that accepts it; the clients' ends are in this
/// process's group, not the server's.
///
/// [`new`]: Cgroup::new
pub struct Cgroup {
    pub dir: PathBuf,
    v1: bool,
}

/// A memory reading of a [`Cgroup`], in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// Everything the group is charged, socket buffers included.
    pub total: u64,
    /// The kernel's share of it: slab, kernel stacks, page tables (v1's
    /// memory.kmem.usage_in_bytes; v2's memory.stat kernel) and socket
    /// buffers (v1's memory.kmem.tcp.usage_in_bytes; v2's memory.stat sock).
    pub kernel: u64,
}

/// Where the memory controller is mounted and this process's group in it:
/// (directory, v1).
fn own_memory_cgroup() -> Option<(PathBuf, bool)> {
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    let mount_of = |fstype: &str, option: Option<&str>| {
        mounts.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let fits = f.len() > 3
                && f[2] == fstype
                && option.is_none_or(|o| f[3].split(',').any(|x| x == o));
            fits.then(|| PathBuf::from(f[1]))
        })
    };
    // v1: "4:memory:/some/group".
    let v1 = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, names, path) = (f.next()?, f.next()?, f.next()?);
        names.split(',').any(|n| n == "memory").then_some(path)
    });
    if let (Some(path), Some(mount)) = (v1, mount_of("cgroup", Some("memory"))) {
        return Some((mount.join(path.trim_start_matches('/')), true));
    }
    // v2: a group under the root, whose subtree has the memory controller
    // (below the root, a group with processes cannot give it to children).
    let mount = mount_of("cgroup2", None)?;
    let control = fs::read_to_string(mount.join("cgroup.subtree_control")).ok()?;
    control
        .split_whitespace()
        .any(|c| c == "memory")
        .then_some((mount, false))
}

impl Cgroup {
    /// A new group for `name` beside this process's own (v1) or under the
    /// root (v2); an error that says what is missing.
    pub fn new(name: &str) -> Result<Cgroup, Error> {
        let (parent, v1) = own_memory_cgroup().ok_or_else(|| {
            Error::fail(
                "no memory cgroup controller (cgroup v1's memory hierarchy, or cgroup v2 with \
                 memory in the root's cgroup.subtree_control): bench-serve measures each \
                 server's memory in a cgroup of its own; run it as root on a machine with one",
            )
        })?;
        let slug: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let dir = parent.join(format!("hello-bench-{}-{slug}", std::process::id()));
        if dir.exists() {
            let _ = fs::remove_dir(&dir);
        }
        fs::create_dir(&dir).map_err(|e| {
            Error::fail(format!(
                "create the memory cgroup {}: {e} (bench-serve needs root for it)",
                dir.display()
            ))
        })?;
        let group = Cgroup { dir, v1 };
        if v1 {
            // Counts socket buffers (the largest value v1 takes: no limit).
            group.write("memory.kmem.tcp.limit_in_bytes", "9223372036854771712")?;
        }
        Ok(group)
    }

    /// The file a process writes its pid to, to join the group.
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    fn write(&self, file: &str, value: &str) -> Result<(), Error> {
        let path = self.dir.join(file);
        fs::write(&path, value).map_err(|e| io("write", &path, e))
    }

    fn read(&self, file: &str) -> Result<String, Error> {
        let path = self.dir.join(file);
        fs::read_to_string(&path).map_err(|e| io("read", &path, e))
    }

    fn number(&self, file: &str) -> Result<u64, Error> {
        let text = self.read(file)?;
        text.trim().parse().map_err(|_| {
            Error::fail(format!(
                "{}/{file} holds {text:?}, not a number",
                self.dir.display()
            ))
        })
    }

    pub fn usage(&self) -> Result<Usage, Error> {
        if self.v1 {
            let tcp = self.number("memory.kmem.tcp.usage_in_bytes")?;
            return Ok(Usage {
                total: self.number("memory.usage_in_bytes")? + tcp,
                kernel: self.number("memory.kmem.usage_in_bytes")? + tcp,
            });
        }
        let stat = self.read("memory.stat")?;
        let field = |name: &str| {
            stat.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(Usage {
            total: self.number("memory.current")?,
            kernel: field("kernel") + field("sock"),
        })
    }
}

impl Drop for Cgroup {
    /// Removes the group once its processes are gone. The servers are
    /// stopped before, but a server's children may outlive its first
    /// process (busybox httpd's, each finishing its connection): those left
    /// in the group, all started by this run, are killed (SIGKILL) first.
    fn drop(&mut self) {
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            let left = fs::read_to_string(self.procs()).unwrap_or_default();
            for pid in left.split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "bench-serve: could not remove the memory cgroup {}: remove it with `rmdir` once \
             `cat {}` is empty",
            self.dir.display(),
            self.procs().display()
        );
    }
}

/// One measurement of idle keep-alive connections, raw.
pub struct Idle {
    /// Connections still open (not closed by the server) when measured.
    pub open: usize,
    /// The server's cgroup right before opening them, and while holding them.
    pub before: Usage,
    pub held: Usage,
    /// The server's PSS while holding them, and its processes.
    pub pss_kib: u64,
    pub processes: usize,
}

/// How long the server is given to settle before each reading.
const SETTLE: Duration = Duration::from_millis(300);

/// Opens `count` connections to `port`, each sending one keep-alive GET and
/// reading the whole answer (`page_bytes` of body), and holds them idle while
/// it reads the server's cgroup and the PSS of `pid`'s processes; then
/// closes them. The rise is from right before they were opened.
pub fn idle(
    port: u16,
    count: u32,
    page_bytes: usize,
    pid: u32,
    group: &Cgroup,
) -> Result<Idle, Error> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    std::thread::sleep(SETTLE);
    let before = group.usage()?;
    let mut held = Vec::with_capacity(count as usize);
    for i in 0..count {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
                read_answer(&mut s, page_bytes)?;
                Ok(s)
            })
            .map_err(|e| {
                Error::fail(format!(
                    "idle connection {} of {count} to port {port}: {e}",
                    i + 1
                ))
            })?;
        held.push(s);
        // A server that closes after each answer holds no idle connections:
        // one is enough to tell.
        if i == 0 {
            std::thread::sleep(Duration::from_millis(50));
            if !is_open(&held[0]) {
                break;
            }
        }
    }
    std::thread::sleep(SETTLE);
    let after = group.usage()?;
    let (pss_kib, processes) = pss(pid);
    let open = held.iter().filter(|s| is_open(s)).count();
    drop(held);
    Ok(Idle {
        open,
        before,
        held: after,
        pss_kib,
        processes,
    })
}

/// Reads one answer whose body is `page_bytes` long: the head, then the body.
fn read_answer(s: &mut TcpStream, page_bytes: usize) -> std::io::Result<()> {
    let mut got = Vec::with_capacity(512 + page_bytes);
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            // A server that closes after answering (busybox httpd) is fine:
            // the connection is then counted as not open.
            return Ok(());
        }
        got.extend_from_slice(&buf[..n]);
        if let Some(head) = got.windows(4).position(|w| w == b"\r\n\r\n")
            && got.len() >= head + 4 + page_bytes
        {
            return Ok(());
        }
    }
}

/// Whether the server still holds `s` open: nothing to read, and no EOF.
fn is_open(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    let open = matches!(s.peek(&mut b), Err(e) if e.kind() == ErrorKind::WouldBlock);
    let _ = s.set_nonblocking(false);
    open
}

/// This process's soft descriptor limit, raised to the hard limit when
/// below `needed` (with util-linux's prlimit: std has no setrlimit); an
/// error that says what to do when even the hard limit is too low.
pub fn raise_nofile(needed: u64) -> Result<(), Error> {
    let soft = || -> Option<(u64, u64)> {
        let text = fs::read_to_string("/proc/self/limits").ok()?;
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        let mut w = line.split_whitespace().skip(3);
        let parse = |v: &str| {
            if v == "unlimited" {
                Some(u64::MAX)
            } else {
                v.parse().ok()
            }
        };
        Some((parse(w.next()?)?, parse(w.next()?)?))
    };
    let Some((now, hard)) = soft() else {
        return Err(Error::fail("could not read /proc/self/limits"));
    };
    if now >= needed {
        return Ok(());
    }
    if hard < needed {
        return Err(Error::fail(format!(
            "holding the idle connections needs {needed} descriptors, and the hard limit is \
             {hard}: raise it (`ulimit -Hn {needed}` as root), or give smaller --idle counts"
        )));
    }
    let mut prlimit = Command::new("prlimit");
    prlimit
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"));
    cmd::run(&mut prlimit)?;
    match soft() {
        Some((now, _)) if now >= needed => Ok(()),
        _ => Err(Error::fail(format!(
            "`{}` did not raise the descriptor limit to {needed}: run `ulimit -n {hard}` first",
            cmd::line(&prlimit)
        ))),
    }
}
