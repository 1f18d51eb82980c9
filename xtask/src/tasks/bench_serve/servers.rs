//! The servers bench-serve measures: their configuration files and command
//! lines, starting and stopping them, checking that each serves the page,
//! and the FROM scratch busybox image.
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::memory::{self, Cgroup};
use crate::Error;
use crate::build::serve;
use crate::core::cmd;
use crate::core::files::{io, write};
use crate::core::platform::Platform;
use crate::run::docker;

/// One process (or process tree) serving on a port.
pub struct Instance {
    pub port: u16,
    cmd: Vec<OsString>,
    /// The command line, for the JSON.
    pub shown: String,
}

impl Instance {
    fn new(port: u16, cmd: Vec<OsString>) -> Instance {
        let shown = cmd
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Instance { port, cmd, shown }
    }
}

/// One server to measure.
pub struct Contender {
    pub name: &'static str,
    pub version: String,
    /// How it serves (processes, threads, event loop), for the table.
    pub design: String,
    pub main: Instance,
    /// Servers whose page is built in (serve, the floor) run a second
    /// instance for the 1 MiB page; the others serve it as BIG_PATH.
    pub big: Option<Instance>,
}

impl Contender {
    /// The port that serves BIG_PATH.
    pub fn big_port(&self) -> u16 {
        self.big.as_ref().unwrap_or(&self.main).port
    }
}

/// The 1 MiB page's path, beside index.html.
pub const BIG_PATH: &str = "/big.html";

/// The 1 MiB page: HTML, the same bytes every run, exactly serve's largest
/// page (MAX_PAGE_FILE).
pub fn big_page() -> Vec<u8> {
    let mut page = b"<!DOCTYPE html><title>1 MiB</title>\n".to_vec();
    let mut n = 0u32;
    while page.len() < serve::MAX_PAGE_FILE {
        page.extend_from_slice(format!("<p>line {n:07} of the 1 MiB page</p>\n").as_bytes());
        n += 1;
    }
    page.truncate(serve::MAX_PAGE_FILE - 1);
    page.push(b'\n');
    page
}

/// The directory every contender serves the page from, readable by all
/// (outside the checkout, which may be private to its owner).
pub fn www_dir() -> PathBuf {
    std::env::temp_dir().join(format!("hello-serve-bench-www-{}", std::process::id()))
}

/// The floor's source (see its opening comment).
const FLOOR_C: &str = include_str!("floor.c");

/// Compiles the floor into `dir` with gcc.
pub fn build_floor(dir: &Path) -> Result<PathBuf, Error> {
    let src = dir.join("floor.c");
    let out = dir.join("floor");
    write(&src, FLOOR_C.as_bytes())?;
    let mut gcc = Command::new("gcc");
    gcc.args(["-O2", "-Wall", "-o"]).arg(&out).arg(&src);
    cmd::run(&mut gcc)?;
    Ok(out)
}

/// serve's two builds (the default page, the 1 MiB page) and the floor.
pub struct Ours<'a> {
    pub serve: (&'a Path, u16),
    pub serve_big: (&'a Path, u16),
    pub floor: &'a Path,
}

pub fn contenders(dir: &Path, ours: &Ours) -> Result<Vec<Contender>, Error> {
    let www = www_dir();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::new();
    out.push(Contender {
        name: "serve",
        version: "this repository".into(),
        design: "its own (docs/serve.md)".into(),
        main: Instance::new(ours.serve.1, vec![ours.serve.0.into()]),
        big: Some(Instance::new(
            ours.serve_big.1,
            vec![ours.serve_big.0.into()],
        )),
    });

    let port = free_port()?;
    let conf = dir.join("nginx.conf");
    let text = format!(
        "# bench-serve: nginx as Debian ships it, with the issue's settings.\n\
         worker_processes auto;\n\
         # 10,000 connections on one worker, under the 20,000 hard limit.\n\
         worker_rlimit_nofile 20000;\n\
         daemon off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/nginx-error.log;\n\
         events {{ worker_connections 16384; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 # No cap on requests per connection, as serve has none (nginx's\n\
         \x20 # default closes each after 1000): h2load 1.52 --h1 -D, reconnecting\n\
         \x20 # after such a close, ran past its duration and never ended in 3 of\n\
         \x20 # 61 runs here (0 of 40 without the cap).\n\
         \x20 keepalive_requests 1000000000;\n\
         \x20 default_type text/html;\n\
         \x20 client_body_temp_path {dir}/tmp;\n\
         \x20 proxy_temp_path {dir}/tmp;\n\
         \x20 fastcgi_temp_path {dir}/tmp;\n\
         \x20 uwsgi_temp_path {dir}/tmp;\n\
         \x20 scgi_temp_path {dir}/tmp;\n\
         \x20 server {{\n\
         \x20   # The listen backlog serve and the floor have (nginx's is 511):\n\
         \x20   # 10,000 clients connecting at once overflow a short one, and\n\
         \x20   # each refused handshake waits 1 s to be tried again.\n\
         \x20   listen 127.0.0.1:{port} backlog=4096;\n\
         \x20   root {www};\n\
         \x20   location = {BIG_PATH} {{ }}\n\
         \x20   location / {{ try_files /index.html =404; }}\n\
         \x20 }}\n\
         }}\n",
        dir = dir.display(),
        www = www.display()
    );
    fs::create_dir_all(dir.join("tmp")).map_err(|e| io("create", dir, e))?;
    write(&conf, text.as_bytes())?;
    let nginx = find("nginx").unwrap();
    out.push(Contender {
        name: "nginx",
        version: version(Command::new(&nginx).arg("-v")),
        design: format!("{cpus} worker processes (worker_processes auto), epoll"),
        main: Instance::new(port, vec![nginx.into(), "-c".into(), conf.into()]),
        big: None,
    });

    let port = free_port()?;
    let conf = dir.join("lighttpd.conf");
    let text = format!(
        "# bench-serve: lighttpd's defaults, serving the page.\n\
         server.document-root = \"{www}\"\n\
         server.bind = \"127.0.0.1\"\n\
         # The listen backlog serve and the floor have (lighttpd's is 1024).\n\
         server.listen-backlog = 4096\n\
         server.port = {port}\n\
         server.errorlog = \"{dir}/lighttpd-error.log\"\n\
         index-file.names = ( \"index.html\" )\n\
         mimetype.assign = ( \".html\" => \"text/html\" )\n\
         # 10,000 connections: lighttpd allows at most half its descriptors,\n\
         # and it cannot raise its limit past the hard one (20,000 here).\n\
         server.max-fds = 20000\n\
         server.max-connections = 10000\n",
        dir = dir.display(),
        www = www.display()
    );
    write(&conf, text.as_bytes())?;
    let lighttpd = find("lighttpd").unwrap();
    out.push(Contender {
        name: "lighttpd",
        version: version(Command::new(&lighttpd).arg("-v")),
        // At 10,000 connections it is at its limit: accepting stops until
        // one closes ("sockets disabled, connection limit reached").
        design: "one process, epoll; at most 10,000 connections (half of its 20,000 \
                 descriptors)"
            .into(),
        main: Instance::new(
            port,
            vec![lighttpd.into(), "-D".into(), "-f".into(), conf.into()],
        ),
        big: None,
    });

    let port = free_port()?;
    let conf = dir.join("h2o.conf");
    let text = format!(
        "# bench-serve: h2o as Debian ships it, one thread per core.\n\
         num-threads: {cpus}\n\
         # 10,000 connections (the default is 1024).\n\
         max-connections: 20000\n\
         error-log: {dir}/h2o-error.log\n\
         listen:\n\
         \x20 host: 127.0.0.1\n\
         \x20 port: {port}\n\
         hosts:\n\
         \x20 default:\n\
         \x20   paths:\n\
         \x20     /:\n\
         \x20       file.dir: {www}\n",
        dir = dir.display(),
        www = www.display()
    );
    write(&conf, text.as_bytes())?;
    let h2o = find("h2o").unwrap();
    out.push(Contender {
        name: "h2o",
        version: version(Command::new(&h2o).arg("-v")),
        design: format!("{cpus} threads (num-threads), epoll"),
        main: Instance::new(port, vec![h2o.into(), "-c".into(), conf.into()]),
        big: None,
    });

    let port = free_port()?;
    let busybox = find("busybox").unwrap();
    out.push(Contender {
        name: "busybox httpd",
        version: version(&mut Command::new(&busybox)),
        design: "a process per connection (fork), one request each".into(),
        main: Instance::new(
            port,
            vec![
                busybox.into(),
                "httpd".into(),
                "-f".into(),
                "-p".into(),
                format!("127.0.0.1:{port}").into(),
                "-h".into(),
                www.clone().into(),
            ],
        ),
        big: None,
    });

    let floor = |port: u16, page: &str| {
        Instance::new(
            port,
            vec![
                ours.floor.into(),
                port.to_string().into(),
                www.join(page).into(),
            ],
        )
    };
    out.push(Contender {
        name: "floor",
        version: "xtask/src/tasks/bench_serve/floor.c, gcc -O2".into(),
        design: format!("epoll, one process per core ({cpus}), a listener each (SO_REUSEPORT); no parsing, no limits"),
        main: floor(free_port()?, "index.html"),
        big: Some(floor(free_port()?, &BIG_PATH[1..])),
    });
    Ok(out)
}

/// The site point's servers (bench_serve/site.rs): serve built with the
/// site, nginx with gzip_static and Debian's mime.types, busybox httpd; each
/// serving `www` on 127.0.0.1.
pub fn site_contenders(
    dir: &Path,
    www: &Path,
    ours: &Path,
    ours_port: u16,
) -> Result<Vec<Contender>, Error> {
    let mut out = vec![Contender {
        name: "serve",
        version: "this repository".into(),
        design: "its own (docs/serve.md), --site".into(),
        main: Instance::new(ours_port, vec![ours.into()]),
        big: None,
    }];
    let port = free_port()?;
    let conf = dir.join("nginx-site.conf");
    let text = format!(
        "# bench-serve's site point: nginx as Debian ships it, sending the .gz copies.\n\
         worker_processes auto;\n\
         daemon off;\n\
         pid {dir}/nginx-site.pid;\n\
         error_log {dir}/nginx-site-error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20 include /etc/nginx/mime.types;\n\
         \x20 access_log off;\n\
         \x20 gzip_static on;\n\
         \x20 client_body_temp_path {dir}/tmp;\n\
         \x20 proxy_temp_path {dir}/tmp;\n\
         \x20 fastcgi_temp_path {dir}/tmp;\n\
         \x20 uwsgi_temp_path {dir}/tmp;\n\
         \x20 scgi_temp_path {dir}/tmp;\n\
         \x20 server {{ listen 127.0.0.1:{port}; root {www}; }}\n\
         }}\n",
        dir = dir.display(),
        www = www.display()
    );
    fs::create_dir_all(dir.join("tmp")).map_err(|e| io("create", dir, e))?;
    write(&conf, text.as_bytes())?;
    let nginx = find("nginx")
        .ok_or_else(|| Error::fail("nginx is not installed: apt-get install nginx-light"))?;
    out.push(Contender {
        name: "nginx",
        version: version(Command::new(&nginx).arg("-v")),
        design: "worker_processes auto, epoll, gzip_static".into(),
        main: Instance::new(port, vec![nginx.into(), "-c".into(), conf.into()]),
        big: None,
    });
    let port = free_port()?;
    let busybox = find("busybox")
        .ok_or_else(|| Error::fail("busybox is not installed: apt-get install busybox-static"))?;
    out.push(Contender {
        name: "busybox httpd",
        version: version(&mut Command::new(&busybox)),
        design: "a process per connection".into(),
        main: Instance::new(
            port,
            vec![
                busybox.into(),
                "httpd".into(),
                "-f".into(),
                "-p".into(),
                format!("127.0.0.1:{port}").into(),
                "-h".into(),
                www.into(),
            ],
        ),
        big: None,
    });
    Ok(out)
}

/// A started contender: its first process, its 1 MiB instance's, and its
/// memory cgroup.
pub struct Running {
    main: Child,
    big: Option<Child>,
    /// Dropped after the processes are stopped (a group is removed empty).
    pub group: Cgroup,
}

/// Runs `cmd` with the soft descriptor limit raised to the hard one (20,000
/// here): 10,000 connections need more than the usual 1024.
pub fn with_nofile(cmd: &[OsString]) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", "ulimit -n \"$(ulimit -Hn)\"; exec \"$@\"", "sh"])
        .args(cmd);
    c
}

/// Starts `i` in `group` (its shell joins the group, then execs the
/// server, whose processes stay in it), and waits until the server itself
/// listens on its port: a port another program took after [`free_port`]
/// chose it is an error, not a server measured by mistake.
fn start(i: &Instance, group: &Cgroup) -> Result<Child, Error> {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "echo $$ > \"$0\" && ulimit -n \"$(ulimit -Hn)\" && exec \"$@\"",
    ])
    .arg(group.procs())
    .args(&i.cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    eprintln!("$ {} &", i.shown);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::fail(format!("could not run `{}`: {e}", i.shown)))?;
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::fail(format!(
                "`{}` exited ({status}) before it listened on port {}",
                i.shown, i.port
            )));
        }
        if TcpStream::connect(("127.0.0.1", i.port)).is_ok() {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            stop(&mut child);
            return Err(Error::fail(format!(
                "`{}` did not listen on port {} within 20 s",
                i.shown, i.port
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !listens(child.id(), i.port) {
        stop(&mut child);
        return Err(Error::fail(format!(
            "port {} answers, but not from `{}`: another program took it; run again \
             (bench-serve chooses free ports afresh each run)",
            i.port, i.shown
        )));
    }
    Ok(child)
}

/// Whether a process in `root`'s tree holds a socket listening on `port`
/// (its inode in /proc/net/tcp or tcp6, among the processes' fds).
fn listens(root: u32, port: u16) -> bool {
    // "  0: 0100007F:1F90 00000000:0000 0A ... uid timeout inode"
    let suffix = format!(":{port:04X}");
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| fs::read_to_string(t).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.len() > 9 && f[1].ends_with(&suffix) && f[3] == "0A")
                        .then(|| format!("socket:[{}]", f[9]))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    memory::tree(root).iter().any(|pid| {
        fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| fs::read_link(e.path()).ok())
            .any(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
    })
}

fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Running {
    /// The server's process id (its first process: nginx's master).
    pub fn pid(&self) -> u32 {
        self.main.id()
    }

    /// The process serving the 1 MiB page.
    pub fn big_pid(&self) -> u32 {
        self.big.as_ref().unwrap_or(&self.main).id()
    }

    pub fn start(c: &Contender) -> Result<Running, Error> {
        let group = Cgroup::new(c.name)?;
        let mut main = start(&c.main, &group)?;
        let big = match &c.big {
            Some(b) => match start(b, &group) {
                Ok(child) => Some(child),
                Err(e) => {
                    stop(&mut main);
                    return Err(e);
                }
            },
            None => None,
        };
        Ok(Running { main, big, group })
    }

    pub fn stop(&mut self) {
        stop(&mut self.main);
        if let Some(b) = &mut self.big {
            stop(b);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `GET path` must return 200 and exactly the page.
pub fn check_page(port: u16, path: &str, page: &[u8]) -> Result<(), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| &out[i + 4..]);
    if out.starts_with(b"HTTP/1.") && out.get(9..12) == Some(b"200") && body == Some(page) {
        Ok(())
    } else {
        Err(format!(
            "got {:?}",
            String::from_utf8_lossy(&out[..out.len().min(200)])
        ))
    }
}

/// The FROM scratch busybox image serving the page: its size.
pub fn busybox_image(dir: &Path, platform: &Platform) -> Result<u64, Error> {
    let ctx = dir.join("busybox-image");
    write(&ctx.join("www/index.html"), serve::DEFAULT_PAGE)?;
    fs::copy(find("busybox").unwrap(), ctx.join("busybox")).map_err(|e| io("copy", &ctx, e))?;
    write(
        &ctx.join("Dockerfile"),
        b"FROM scratch\nCOPY busybox /busybox\nCOPY www /www\nUSER 65534:65534\n\
          ENTRYPOINT [\"/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    )?;
    let tag = "hello-serve-bench:busybox";
    let mut build = Command::new("docker");
    build
        .args(["build", "--quiet", "--platform", platform.docker, "-t", tag])
        .arg(&ctx)
        .stdout(Stdio::null());
    cmd::run(&mut build)?;
    docker::image_size(tag)
}

/// `program`'s version line (the first non-empty line it prints, on stdout or stderr).
pub fn version(cmd: &mut Command) -> String {
    let out = cmd::probe(cmd);
    out.and_then(|o| {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    })
    .unwrap_or_else(|| "unknown".into())
}

/// `tool` on PATH, or in /usr/sbin (where nginx and lighttpd live).
pub fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::fail(format!("bind 127.0.0.1:0 to find a free port: {e}")))?;
    Ok(l.local_addr()
        .expect("a bound socket has an address")
        .port())
}
