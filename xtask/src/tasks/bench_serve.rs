//! `cargo xtask bench-serve`: `serve` against nginx, lighttpd and busybox httpd,
//! on this machine, in one run, each serving the same page on 127.0.0.1, loaded
//! by `wrk`. Writes target/report/serve.json, target/report/serve.md
//! (docs/serve.md's table) and target/report/serve.svg; the full run (the
//! default options) also writes docs/serve-bench.json and docs/serve-bench.svg,
//! which docs/serve.md's table and chart are checked against.
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Error;
use crate::build::serve::{self, Config};
use crate::build::tools;
use crate::core::args::{self, Opt};
use crate::core::cmd;
use crate::core::files::write_program;
use crate::core::platform::Platform;
use crate::run::docker;

const HELP: &str = "\
cargo xtask bench-serve [options]

Runs serve (built for this machine, run natively), nginx (nginx-light,
worker_processes auto, access_log off), lighttpd and busybox httpd (busybox-
static), each serving serve's default page on 127.0.0.1 on a free port, and
loads each with `wrk -t2 -cN -dS --latency` at each connection count. Measures
requests per second, p50 and p99 latency, errors (socket errors and non-2xx
answers), the summed PSS of the server's processes under load
(/proc/PID/smaps_rollup), and, with a Docker engine, the size of the FROM
scratch images (serve's, busybox's). Ratios are against nginx.

Writes target/report/serve.json, target/report/serve.md (docs/serve.md's
table) and target/report/serve.svg; the full run (no options) also writes
docs/serve-bench.json and docs/serve-bench.svg, which docs/serve.md is checked
against (cargo test --test serve_bench).

Needs wrk, nginx, lighttpd and busybox: apt-get install -y wrk nginx-light
lighttpd busybox-static.

Options:
  --seconds S            seconds of load per point (default 10; CI uses 1)
  --connections A,B,..   connection counts (default 10,100,1000)
  --table FILE           print docs/serve.md's table for a serve.json and exit
  --chart FILE           print the SVG chart for a serve.json and exit
  -h, --help             print this help
";

const DEFAULT_SECONDS: u32 = 10;
const DEFAULT_CONNECTIONS: [u32; 3] = [10, 100, 1000];
const THREADS: u32 = 2;
/// The baseline every ratio is against.
const BASELINE: &str = "nginx";
const INSTALL: &str = "apt-get install -y wrk nginx-light lighttpd busybox-static";

struct Options {
    seconds: u32,
    connections: Vec<u32>,
    table: Option<PathBuf>,
    chart: Option<PathBuf>,
}

pub const OPTS: &[Opt] = &[
    args::value("--seconds", "S"),
    args::value("--connections", "A,B,.."),
    args::value("--table", "FILE"),
    args::value("--chart", "FILE"),
];

/// Reads and checks the options; `None` for `--help`, which it prints.
fn parse(words: Vec<OsString>) -> Result<Option<Options>, Error> {
    let a = args::read("bench-serve", OPTS, words)?;
    if a.help {
        print!("{HELP}");
        return Ok(None);
    }
    a.no_free()?;
    let connections = a.parse("--connections", |v| {
        let list: Option<Vec<u32>> = v
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .ok()
                    .filter(|&n| (THREADS..=10_000).contains(&n))
            })
            .collect();
        list.filter(|l| !l.is_empty())
            .ok_or_else(|| format!("give counts from {THREADS} to 10000, separated by commas"))
    })?;
    Ok(Some(Options {
        seconds: a
            .parse("--seconds", args::number(1..=600))?
            .unwrap_or(DEFAULT_SECONDS),
        connections: connections.unwrap_or_else(|| DEFAULT_CONNECTIONS.to_vec()),
        table: a.os("--table").map(PathBuf::from),
        chart: a.os("--chart").map(PathBuf::from),
    }))
}

pub fn run(args: Vec<OsString>) -> Result<(), Error> {
    let Some(opts) = parse(args)? else {
        return Ok(());
    };
    if let Some(path) = &opts.table {
        let json = read_json(path)?;
        print!("{}", table(&json)?);
        return Ok(());
    }
    if let Some(path) = &opts.chart {
        let json = read_json(path)?;
        print!("{}", chart(&json)?);
        return Ok(());
    }
    for tool in ["wrk", "nginx", "lighttpd", "busybox"] {
        if find(tool).is_none() {
            return Err(Error::fail(format!(
                "`{tool}` is not on PATH (nor in /usr/sbin): install the contenders with `{INSTALL}`"
            )));
        }
    }
    let root = crate::root();
    let dir = root.join("target/report/serve-bench");
    let _ = fs::remove_dir_all(&dir);
    let www = www_dir();
    let _ = fs::remove_dir_all(&www);
    fs::create_dir_all(&www).map_err(|e| io("create", &www, e))?;
    // nginx's workers run as www-data, which must reach the page: the checkout
    // may sit in a private directory (mktemp -d is 0700), so the page lives in
    // a world-readable directory of its own.
    fs::set_permissions(&www, fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod", &www, e))?;
    let page = serve::DEFAULT_PAGE;
    fs::write(www.join("index.html"), page).map_err(|e| io("write", &www, e))?;

    let platform = Platform::host()
        .ok_or_else(|| Error::usage("this machine's architecture is not one serve is built for"))?;
    serve::check_platforms(&[platform])?;
    let ours_port = free_port()?;
    let config = Config {
        page: page.to_vec(),
        content_type: serve::DEFAULT_CONTENT_TYPE.into(),
        port: ours_port,
    };
    tools::ensure_binutils()?;
    let built = serve::build(platform, &config)?;
    let ours_file = dir.join("serve");
    write_program(&built.bytes, &ours_file)?;

    // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer": up to the copyright.
    let wrk_version = version(Command::new("wrk").arg("-v"))
        .split(" Copyright")
        .next()
        .unwrap_or_default()
        .to_string();
    let contenders = contenders(&dir, &ours_file, ours_port)?;
    let engine = docker::engine().ok();
    // Every server runs for the whole benchmark, and the points go round
    // robin (each connection count, then each server), so that whatever else
    // the machine does at some moment falls on all of them alike.
    let mut running = Vec::new();
    for c in &contenders {
        println!(
            "bench-serve: starting {} ({}) on port {}",
            c.name, c.version, c.port
        );
        let server = Running::start(c)?;
        check_page(c.port, page).map_err(|e| {
            Error::fail(format!(
                "{} on port {} does not serve the page: {e}",
                c.name, c.port
            ))
        })?;
        running.push(server);
    }
    let mut points: Vec<Vec<Point>> = contenders.iter().map(|_| Vec::new()).collect();
    let total = contenders.len() * opts.connections.len();
    let mut n = 0;
    for &conns in &opts.connections {
        for (i, c) in contenders.iter().enumerate() {
            n += 1;
            println!(
                "bench-serve [{n}/{total}]: {} at {conns} connections for {} s",
                c.name, opts.seconds
            );
            let point = load(c, &running[i], conns, opts.seconds)?;
            println!(
                "  {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors, {} KiB PSS in {} processes",
                point.rps, point.p50_ms, point.p99_ms, point.errors, point.pss_kib, point.processes
            );
            points[i].push(point);
        }
    }
    for mut server in running {
        server.stop();
    }
    let mut results = Vec::new();
    for (c, points) in contenders.iter().zip(&points) {
        let image = match (&engine, c.name) {
            (Some(_), "serve") => {
                let tag = "hello-serve-bench:serve";
                let context = ours_file.parent().expect("a dist file has a directory");
                docker::build_context(
                    platform.docker,
                    context,
                    tag,
                    &serve::dockerfile(ours_port),
                )?;
                Some(docker::image_size(tag)?)
            }
            (Some(_), "busybox httpd") => Some(busybox_image(&dir, platform)?),
            _ => None,
        };
        results.push(json!({
            "name": c.name,
            "version": c.version,
            "command": c.shown,
            "image_bytes": image,
            "points": points.iter().map(Point::json).collect::<Vec<_>>(),
        }));
    }
    let json = json!({
        "what": "serve vs nginx, lighttpd and busybox httpd on 127.0.0.1, loaded by wrk",
        "baseline": BASELINE,
        "seconds": opts.seconds,
        "connections": opts.connections,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "page_bytes": page.len(),
        "serve_bytes": built.bytes.len(),
        "wrk": {
            "version": wrk_version,
            "flags": format!("-t{THREADS} -c<connections> -d{}s --latency --timeout 5s", opts.seconds),
        },
        "contenders": results,
    });
    let report = root.join("target/report");
    let text = serde_json::to_string_pretty(&json).expect("JSON") + "\n";
    let md = table(&json)?;
    let svg = chart(&json)?;
    write(&report.join("serve.json"), text.as_bytes())?;
    write(&report.join("serve.md"), md.as_bytes())?;
    write(&report.join("serve.svg"), svg.as_bytes())?;
    println!("\n{md}");
    if opts.seconds == DEFAULT_SECONDS && opts.connections == DEFAULT_CONNECTIONS {
        write(&root.join("docs/serve-bench.json"), text.as_bytes())?;
        write(&root.join("docs/serve-bench.svg"), svg.as_bytes())?;
        println!(
            "wrote target/report/serve.{{json,md,svg}}, docs/serve-bench.json and docs/serve-bench.svg; \
             paste target/report/serve.md into docs/serve.md's serve-bench block (or run \
             HELLO_UPDATE_README=1 cargo test --test serve_bench)"
        );
    } else {
        println!(
            "wrote target/report/serve.{{json,md,svg}} (a short run: docs/ is written by the full run only)"
        );
    }
    Ok(())
}

/// One server to measure.
struct Contender {
    name: &'static str,
    version: String,
    port: u16,
    cmd: Vec<OsString>,
    /// The command line, for the JSON.
    shown: String,
}

/// The directory every contender serves the page from, readable by all
/// (outside the checkout, which may be private to its owner).
fn www_dir() -> PathBuf {
    std::env::temp_dir().join(format!("hello-serve-bench-www-{}", std::process::id()))
}

fn contenders(dir: &Path, ours: &Path, ours_port: u16) -> Result<Vec<Contender>, Error> {
    let www = www_dir();
    let mut out = Vec::new();
    let mut add = |name: &'static str, version: String, port: u16, cmd: Vec<OsString>| {
        let shown = cmd
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Contender {
            name,
            version,
            port,
            cmd,
            shown,
        });
    };
    add(
        "serve",
        "this repository".into(),
        ours_port,
        vec![ours.into()],
    );

    let port = free_port()?;
    let conf = dir.join("nginx.conf");
    let text = format!(
        "# bench-serve: nginx as Debian ships it, with the issue's settings.\n\
         worker_processes auto;\n\
         daemon off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/nginx-error.log;\n\
         # Enough for 1000 connections on each worker (the default is 512).\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 default_type text/html;\n\
         \x20 client_body_temp_path {dir}/tmp;\n\
         \x20 proxy_temp_path {dir}/tmp;\n\
         \x20 fastcgi_temp_path {dir}/tmp;\n\
         \x20 uwsgi_temp_path {dir}/tmp;\n\
         \x20 scgi_temp_path {dir}/tmp;\n\
         \x20 server {{\n\
         \x20   listen 127.0.0.1:{port};\n\
         \x20   root {www};\n\
         \x20   location / {{ try_files /index.html =404; }}\n\
         \x20 }}\n\
         }}\n",
        dir = dir.display(),
        www = www.display()
    );
    fs::create_dir_all(dir.join("tmp")).map_err(|e| io("create", dir, e))?;
    write(&conf, text.as_bytes())?;
    add(
        "nginx",
        version(Command::new(find("nginx").unwrap()).arg("-v")),
        port,
        vec![find("nginx").unwrap().into(), "-c".into(), conf.into()],
    );

    let port = free_port()?;
    let conf = dir.join("lighttpd.conf");
    let text = format!(
        "# bench-serve: lighttpd's defaults, serving the page.\n\
         server.document-root = \"{www}\"\n\
         server.bind = \"127.0.0.1\"\n\
         server.port = {port}\n\
         server.errorlog = \"{dir}/lighttpd-error.log\"\n\
         index-file.names = ( \"index.html\" )\n\
         mimetype.assign = ( \".html\" => \"text/html\" )\n\
         # Enough for 1000 connections (the default is 1024 descriptors).\n\
         server.max-fds = 8192\n\
         server.max-connections = 4096\n",
        dir = dir.display(),
        www = www.display()
    );
    write(&conf, text.as_bytes())?;
    add(
        "lighttpd",
        version(Command::new(find("lighttpd").unwrap()).arg("-v")),
        port,
        vec![
            find("lighttpd").unwrap().into(),
            "-D".into(),
            "-f".into(),
            conf.into(),
        ],
    );

    let port = free_port()?;
    add(
        "busybox httpd",
        version(&mut Command::new(find("busybox").unwrap())),
        port,
        vec![
            find("busybox").unwrap().into(),
            "httpd".into(),
            "-f".into(),
            "-p".into(),
            format!("127.0.0.1:{port}").into(),
            "-h".into(),
            www.into(),
        ],
    );
    Ok(out)
}

/// A started contender.
struct Running {
    child: Child,
}

/// Runs `cmd` with the soft descriptor limit raised toward the hard one: 1000
/// connections need more than the usual 1024.
fn with_nofile(cmd: &[OsString]) -> Command {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        "ulimit -n 16384 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$@\"",
        "sh",
    ])
    .args(cmd);
    c
}

impl Running {
    fn start(c: &Contender) -> Result<Running, Error> {
        let mut cmd = with_nofile(&c.cmd);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        eprintln!("$ {} &", c.shown);
        let child = cmd
            .spawn()
            .map_err(|e| Error::fail(format!("could not run `{}`: {e}", c.shown)))?;
        let running = Running { child };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", c.port)).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                return Err(Error::fail(format!(
                    "`{}` did not listen on port {} within 20 s",
                    c.shown, c.port
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(running)
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// One measurement.
struct Point {
    connections: u32,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    requests: u64,
    pss_kib: u64,
    processes: usize,
}

impl Point {
    fn json(&self) -> Value {
        json!({
            "connections": self.connections,
            "rps": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
            "requests": self.requests,
            "pss_kib": self.pss_kib,
            "processes": self.processes,
        })
    }
}

/// wrk at `conns` connections for `seconds`, with the server's PSS summed
/// halfway through.
fn load(c: &Contender, server: &Running, conns: u32, seconds: u32) -> Result<Point, Error> {
    let args: Vec<OsString> = vec![
        "wrk".into(),
        format!("-t{THREADS}").into(),
        format!("-c{conns}").into(),
        format!("-d{seconds}s").into(),
        "--latency".into(),
        "--timeout".into(),
        "5s".into(),
        format!("http://127.0.0.1:{}/", c.port).into(),
    ];
    let mut wrk = with_nofile(&args);
    eprintln!("$ {}", cmd::line(&wrk));
    let child = wrk
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::fail(format!("could not run wrk: {e}")))?;
    std::thread::sleep(Duration::from_millis(u64::from(seconds) * 500));
    let (pss_kib, processes) = pss(server.child.id());
    let out = child
        .wait_with_output()
        .map_err(|e| Error::fail(format!("wrk: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::fail(format!(
            "wrk failed ({}) against {}:\n{text}{}",
            out.status,
            c.name,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    parse_wrk(&text, conns, pss_kib, processes)
        .ok_or_else(|| Error::fail(format!("could not read wrk's output:\n{text}")))
}

fn parse_wrk(text: &str, connections: u32, pss_kib: u64, processes: usize) -> Option<Point> {
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0;
    let mut requests = 0;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = duration_ms(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_ms(v.trim());
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // connect 0, read 0, write 0, timeout 0
            errors += v
                .split(',')
                .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().ok()?;
        } else if line.contains(" requests in ") {
            requests = line.split_whitespace().next()?.parse().ok()?;
        }
    }
    Some(Point {
        connections,
        rps: rps?,
        p50_ms: p50?,
        p99_ms: p99?,
        errors,
        requests,
        pss_kib,
        processes,
    })
}

/// wrk's `307.00us`, `1.23ms`, `2.00s` in milliseconds.
fn duration_ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    Some(num.parse::<f64>().ok()? * scale)
}

/// The summed PSS (KiB) of `root` and its descendants, and how many there are.
fn pss(root: u32) -> (u64, usize) {
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

/// One `GET /` must return 200 and exactly the page.
fn check_page(port: u16, page: &[u8]) -> Result<(), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
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
fn busybox_image(dir: &Path, platform: &Platform) -> Result<u64, Error> {
    let ctx = dir.join("busybox-image");
    fs::create_dir_all(ctx.join("www")).map_err(|e| io("create", &ctx, e))?;
    fs::copy(find("busybox").unwrap(), ctx.join("busybox")).map_err(|e| io("copy", &ctx, e))?;
    fs::write(ctx.join("www/index.html"), serve::DEFAULT_PAGE).map_err(|e| io("write", &ctx, e))?;
    fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /busybox\nCOPY www /www\nUSER 65534:65534\n\
         ENTRYPOINT [\"/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    )
    .map_err(|e| io("write", &ctx, e))?;
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
fn version(cmd: &mut Command) -> String {
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
fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::fail(format!("bind 127.0.0.1:0 to find a free port: {e}")))?;
    Ok(l.local_addr()
        .expect("a bound socket has an address")
        .port())
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::fail(format!("{what} {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).map_err(|e| io("create", d, e))?;
    }
    fs::write(path, bytes).map_err(|e| io("write", path, e))
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let bytes = fs::read(path).map_err(|e| io("read", path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::fail(format!("{} is not JSON: {e}", path.display())))
}

fn contenders_of(json: &Value) -> Result<&Vec<Value>, Error> {
    json["contenders"]
        .as_array()
        .ok_or_else(|| Error::fail("the JSON has no contenders"))
}

/// The baseline's point at `connections`.
fn baseline<'a>(json: &'a Value, connections: &Value) -> Option<&'a Value> {
    contenders_of(json)
        .ok()?
        .iter()
        .find(|c| c["name"] == BASELINE)?["points"]
        .as_array()?
        .iter()
        .find(|p| p["connections"] == *connections)
}

fn ratio(a: &Value, b: Option<&Value>) -> String {
    match (a.as_f64(), b.and_then(Value::as_f64)) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// docs/serve.md's table: one row per contender and connection count, with ratios
/// against nginx at the same count.
pub fn table(json: &Value) -> Result<String, Error> {
    let mut s = format!(
        "{}, `wrk {}`, {} CPUs, a {}-byte page; ratios are against nginx at the same connection count.\n\n",
        json["wrk"]["version"].as_str().unwrap_or("?"),
        json["wrk"]["flags"].as_str().unwrap_or("?"),
        json["cpus"],
        json["page_bytes"]
    );
    s.push_str(
        "| server | connections | requests/s | x nginx | p50 ms | p99 ms | p99 x nginx | errors | PSS KiB | PSS x nginx | image bytes |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in contenders_of(json)? {
        let image = c["image_bytes"]
            .as_u64()
            .map_or("-".to_string(), |b| b.to_string());
        for p in c["points"].as_array().into_iter().flatten() {
            let base = baseline(json, &p["connections"]);
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {} |",
                c["name"].as_str().unwrap_or("?"),
                p["connections"],
                p["rps"].as_f64().unwrap_or(0.0),
                ratio(&p["rps"], base.map(|b| &b["rps"])),
                p["p50_ms"].as_f64().unwrap_or(0.0),
                p["p99_ms"].as_f64().unwrap_or(0.0),
                ratio(&p["p99_ms"], base.map(|b| &b["p99_ms"])),
                p["errors"],
                p["pss_kib"],
                ratio(&p["pss_kib"], base.map(|b| &b["pss_kib"])),
                image
            );
        }
    }
    // The goals, as measured: serve against nginx at 100 connections.
    let ours = contenders_of(json)?
        .iter()
        .find(|c| c["name"] == "serve")
        .and_then(|c| {
            c["points"]
                .as_array()?
                .iter()
                .find(|p| p["connections"] == GOAL_CONNECTIONS)
        });
    if let (Some(p), Some(base)) = (ours, baseline(json, &json!(GOAL_CONNECTIONS))) {
        let goal = |what: &str, key: &str, at_least: bool, target: f64| {
            let r = ratio(&p[key], Some(&base[key]));
            let met = r
                .parse::<f64>()
                .is_ok_and(|v| if at_least { v >= target } else { v <= target });
            format!(
                "{what} {} {target:.1}: {r} ({})",
                if at_least { ">=" } else { "<=" },
                if met { "met" } else { "missed" }
            )
        };
        let _ = writeln!(
            s,
            "\nGoals for serve at {GOAL_CONNECTIONS} connections, against nginx: {}; {}; {}.",
            goal("requests/s", "rps", true, 1.0),
            goal("p99", "p99_ms", false, 1.0),
            goal("PSS", "pss_kib", false, 0.5)
        );
    }
    Ok(s)
}

/// The connection count the goals are set at.
const GOAL_CONNECTIONS: u64 = 100;

/// A grouped bar chart of requests per second (one group per connection
/// count) with each bar's PSS under it. Each bar is a `<rect class="bar">`
/// with `data-server`, `data-connections` and `data-rps`, so a test can read it.
pub fn chart(json: &Value) -> Result<String, Error> {
    let contenders = contenders_of(json)?;
    let counts: Vec<u64> = json["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let max = contenders
        .iter()
        .flat_map(|c| c["points"].as_array().into_iter().flatten())
        .filter_map(|p| p["rps"].as_f64())
        .fold(1.0, f64::max);
    const COLORS: [&str; 4] = ["#d9480f", "#1c7ed6", "#37b24d", "#868e96"];
    let (w, h, top, plot_h, bar_w, gap) = (760.0, 380.0, 60.0, 240.0, 34.0, 40.0);
    let group_w = bar_w * contenders.len() as f64 + gap;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"20\" y=\"24\" font-size=\"16\" font-weight=\"bold\">Requests per second on 127.0.0.1 (wrk {}, {} s per point; PSS under load below each bar)</text>",
        escape(
            json["wrk"]["version"]
                .as_str()
                .unwrap_or("?")
                .split(' ')
                .nth(1)
                .unwrap_or("")
        ),
        json["seconds"]
    );
    for (i, c) in contenders.iter().enumerate() {
        let x = 20.0 + i as f64 * 150.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"36\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"46\">{}</text>",
            COLORS[i % COLORS.len()],
            x + 16.0,
            escape(c["name"].as_str().unwrap_or("?"))
        );
    }
    for (g, &conns) in counts.iter().enumerate() {
        let gx = 60.0 + g as f64 * group_w;
        for (i, c) in contenders.iter().enumerate() {
            let Some(p) = c["points"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["connections"].as_u64() == Some(conns))
            else {
                continue;
            };
            let rps = p["rps"].as_f64().unwrap_or(0.0);
            let bh = (rps / max * plot_h).max(1.0);
            let x = gx + i as f64 * bar_w;
            let y = top + plot_h - bh + 10.0;
            let _ = writeln!(
                s,
                "<rect class=\"bar\" data-server=\"{}\" data-connections=\"{conns}\" data-rps=\"{rps:.0}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"/>",
                escape(c["name"].as_str().unwrap_or("?")),
                bar_w - 4.0,
                COLORS[i % COLORS.len()]
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{:.0}k</text>",
                x + (bar_w - 4.0) / 2.0,
                y - 3.0,
                rps / 1000.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}K</text>",
                x + (bar_w - 4.0) / 2.0,
                top + plot_h + 24.0,
                p["pss_kib"]
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{conns} connections</text>",
            gx + (group_w - gap) / 2.0,
            top + plot_h + 44.0
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
