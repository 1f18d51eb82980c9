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

use crate::Error;
use crate::build::serve;
use crate::core::cmd;
use crate::core::files::{io, write};
use crate::core::platform::Platform;
use crate::run::docker;

/// One server to measure.
pub struct Contender {
    pub name: &'static str,
    pub version: String,
    pub port: u16,
    cmd: Vec<OsString>,
    /// The command line, for the JSON.
    pub shown: String,
}

/// The directory every contender serves the page from, readable by all
/// (outside the checkout, which may be private to its owner).
pub fn www_dir() -> PathBuf {
    std::env::temp_dir().join(format!("hello-serve-bench-www-{}", std::process::id()))
}

pub fn contenders(dir: &Path, ours: &Path, ours_port: u16) -> Result<Vec<Contender>, Error> {
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

/// The site point's servers (bench_serve/site.rs): serve built with the
/// site, nginx with gzip_static and Debian's mime.types, busybox httpd; each
/// serving `www` on 127.0.0.1.
pub fn site_contenders(
    dir: &Path,
    www: &Path,
    ours: &Path,
    ours_port: u16,
) -> Result<Vec<Contender>, Error> {
    let mut out = vec![Contender::new(
        "serve",
        "this repository".into(),
        ours_port,
        vec![ours.into()],
    )];
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
    out.push(Contender::new(
        "nginx",
        version(Command::new(&nginx).arg("-v")),
        port,
        vec![nginx.into(), "-c".into(), conf.into()],
    ));
    let port = free_port()?;
    let busybox = find("busybox")
        .ok_or_else(|| Error::fail("busybox is not installed: apt-get install busybox-static"))?;
    out.push(Contender::new(
        "busybox httpd",
        version(&mut Command::new(&busybox)),
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
    ));
    Ok(out)
}

impl Contender {
    fn new(name: &'static str, version: String, port: u16, cmd: Vec<OsString>) -> Contender {
        let shown = cmd
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Contender {
            name,
            version,
            port,
            cmd,
            shown,
        }
    }
}

/// A started contender.
pub struct Running {
    child: Child,
}

/// Runs `cmd` with the soft descriptor limit raised toward the hard one: 1000
/// connections need more than the usual 1024.
pub fn with_nofile(cmd: &[OsString]) -> Command {
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
    /// The server's process id (its first process: nginx's master).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn start(c: &Contender) -> Result<Running, Error> {
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

    pub fn stop(&mut self) {
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

/// One `GET /` must return 200 and exactly the page.
pub fn check_page(port: u16, page: &[u8]) -> Result<(), String> {
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
