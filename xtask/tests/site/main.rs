//! `serve --site DIR` (issue 19): the rules as pure functions (rules.rs), each
//! rule end to end with exact status, headers and bytes (exact.rs), the
//! refused inputs (refuse.rs), and a real site nobody here wrote, rustdoc's,
//! against nginx with wget, curl and chromium (real.rs).
//!
//! The test site is tests/site/www: pages, a style sheet, a script, JSON, an
//! SVG and a PNG, a 404.html, a directory with its own index.html, a file
//! whose name has a space and a `%`, and one with an unknown extension.
#[path = "../common/mod.rs"]
mod common;

mod exact;
mod image;
mod real;
mod refuse;
mod rules;
mod sizes;

use common::*;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The test site.
pub fn www() -> PathBuf {
    root().join("xtask/tests/site/www")
}

/// A file of the test site.
pub fn file(path: &str) -> Vec<u8> {
    std::fs::read(www().join(path)).unwrap_or_else(|e| panic!("read www/{path}: {e}"))
}

/// A `serve` built with `--site` and `args` on a port of its own, running.
pub struct Site {
    pub server: ServeProcess,
    pub port: u16,
    pub file: PathBuf,
    /// What `dist` printed.
    pub stdout: String,
}

/// Builds (`label` names the copy) and starts a site server for linux/amd64.
pub fn site(label: &str, site: &std::path::Path, args: &[&str]) -> Site {
    site_for("linux/amd64", None, label, site, args)
}

/// [`site`] for `platform`, run by `runner` (qemu-user) when given.
pub fn site_for(
    platform: &str,
    runner: Option<&std::path::Path>,
    label: &str,
    site: &std::path::Path,
    args: &[&str],
) -> Site {
    let port = quiet_port();
    let port_text = port.to_string();
    let mut all = vec!["--site", site.to_str().unwrap(), "--port", &port_text];
    all.extend_from_slice(args);
    let (file, stdout) = {
        let _g = lock();
        let mut words = vec![
            "dist",
            "--program",
            "serve",
            "--no-docker",
            "--platform",
            platform,
        ];
        words.extend_from_slice(&all);
        let out = xtask_ok(&words);
        let copy = shared_dir().join(format!("serve-site-{label}"));
        let dir = platform.replace('/', "-");
        std::fs::copy(root().join(format!("target/dist/{dir}/serve")), &copy).unwrap();
        (copy, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let cmd = match runner {
        Some(qemu) => {
            let mut c = Command::new(qemu);
            c.arg(&file);
            c
        }
        None => Command::new(&file),
    };
    let server = ServeProcess::start(cmd, port);
    Site {
        server,
        port,
        file,
        stdout,
    }
}

/// Sends `request` (whole requests, pipelined) on one new connection and
/// reads `n` responses; `heads[i]`: response i answers a HEAD.
pub fn exchange(port: u16, request: &[u8], heads: &[bool]) -> Vec<Response> {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (&stream).write_all(request).unwrap();
    let mut r = Responses::new(stream);
    let out = heads
        .iter()
        .map(|&head| {
            r.next(head)
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(request)))
                .unwrap_or_else(|| panic!("{:?}: closed", String::from_utf8_lossy(request)))
        })
        .collect();
    // Nothing after the last response (a body a 304 must not have, say).
    std::thread::sleep(Duration::from_millis(20));
    r.stream.set_nonblocking(true).unwrap();
    let mut more = [0u8; 64];
    let extra = match std::io::Read::read(&mut r.stream, &mut more) {
        Ok(n) => n + r.buf.len(),
        Err(_) => r.buf.len(),
    };
    assert_eq!(
        extra,
        0,
        "{:?}: bytes after the responses",
        String::from_utf8_lossy(request)
    );
    out
}

/// `GET target` with `headers` (each a whole line, no CR LF): the response.
pub fn get(port: u16, target: &str, headers: &[&str]) -> Response {
    request(port, "GET", target, headers)
}

pub fn request(port: u16, method: &str, target: &str, headers: &[&str]) -> Response {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    exchange(port, req.as_bytes(), &[method == "HEAD"]).remove(0)
}

/// The response's head with the Date's value replaced by `DATE`, after
/// checking that it is an IMF-fixdate (29 bytes ending in GMT).
pub fn head(r: &Response) -> String {
    let mut out = String::new();
    for line in r.head.split_inclusive("\r\n") {
        match line.strip_prefix("Date: ") {
            Some(v) => {
                assert!(
                    v.len() == 31 && v.ends_with(" GMT\r\n"),
                    "Date {v:?} in {:?}",
                    r.head
                );
                out.push_str("Date: DATE\r\n");
            }
            None => out.push_str(line),
        }
    }
    out
}

/// The strong ETag the xtask gives these bytes, quoted.
pub fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", xtask::build::site::bake::etag(bytes))
}

/// `gzip -dc` of `bytes`.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::process::Stdio;
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip -dc");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gzip -dc failed on {} bytes",
        bytes.len()
    );
    out.stdout
}

/// nginx (Debian's) serving `www` on `port`, with its own mime.types, and
/// relative redirects, as serve sends them.
pub fn nginx(www: &Path, port: u16) -> ServeProcess {
    let dir = shared_dir().join(format!("nginx-{port}"));
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    // nginx's workers run as nobody when the tests run as root, and the
    // checkout may be private (a `mktemp -d` clone is 0700): serve a copy
    // they can read, or every path is 403.
    let readable = dir.join("www");
    let _ = std::fs::remove_dir_all(&readable);
    for (cmd, args) in [
        (
            "cp",
            vec![OsStr::new("-r"), www.as_os_str(), readable.as_os_str()],
        ),
        (
            "chmod",
            vec![OsStr::new("-R"), OsStr::new("a+rX"), readable.as_os_str()],
        ),
    ] {
        let status = Command::new(cmd).args(&args).status().unwrap();
        assert!(status.success(), "{cmd} {args:?}: {status}");
    }
    let www = readable.as_path();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  \
             access_log off;\n  absolute_redirect off;\n  client_body_temp_path {d}/tmp;\n  \
             proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  \
             scgi_temp_path {d}/tmp;\n  server {{\n    listen 127.0.0.1:{port};\n    root {w};\n  }}\n}}\n",
            d = dir.display(),
            w = www.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("/usr/sbin/nginx");
    cmd.arg("-c").arg(&conf);
    ServeProcess::start(cmd, port)
}

/// `wget --recursive --spider` from `start`: the broken links it reports,
/// with the port taken out, and its log.
pub fn broken_links(port: u16, start: &str) -> (BTreeSet<String>, String) {
    let dir = shared_dir().join(format!("wget-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("wget")
        .args([
            "--recursive",
            "--level=inf",
            "--spider",
            "--no-verbose",
            "-e",
            "robots=off",
        ])
        .arg("--directory-prefix")
        .arg(&dir)
        .arg(format!("http://127.0.0.1:{port}{start}"))
        .output()
        .expect("run wget");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let host = format!("http://127.0.0.1:{port}");
    let mut broken = BTreeSet::new();
    let mut in_list = false;
    for line in log.lines() {
        if line.starts_with("Found ") && line.contains("broken link") {
            in_list = true;
            continue;
        }
        if in_list && line.starts_with(&host) {
            broken.insert(line.replacen(&host, "", 1));
        }
    }
    (broken, log)
}
