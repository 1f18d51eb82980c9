//! Docker for the tests: whether an engine answers, `docker run` plain and
//! hardened, per-run image tags, and a local registry.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{assert_output, skip};

/// Whether a Docker engine answers. Without one, tests that need it skip, loudly
/// (see [`skip`]).
pub fn docker_available(test: &str) -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    ok || skip(
        test,
        "no Docker engine answers `docker info`",
        "apt-get install -y docker.io && dockerd --bridge=none --iptables=false &",
    )
}

/// `docker <args>`, returning the output whatever the status.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

/// `docker run --rm --pull never --network none <extra> <tag>`: a missing tag
/// fails at once instead of trying a registry.
pub fn docker_run(tag: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--rm", "--pull", "never", "--network", "none"];
    args.extend_from_slice(extra);
    args.push(tag);
    docker(&args)
}

/// The hardened run's flags and pids limit, shared with `cargo xtask stress`.
#[allow(unused_imports)] // each test binary uses its own part
pub use xtask::run::hardened::{HARDENED, PIDS_LIMIT};

/// `hello:test-<what>-<pid>`: an image tag no other test run uses, so runs in
/// other checkouts sharing this Docker engine cannot change it under a test.
pub fn own_tag(what: &str) -> String {
    format!("hello:test-{what}-{}", std::process::id())
}

/// `tag` prints exactly `message` and exits 0, in a plain and in a hardened `docker run`.
pub fn assert_docker_prints(tag: &str, message: &[u8]) {
    for extra in [&[][..], HARDENED] {
        let out = docker_run(tag, extra);
        assert_output(
            &out,
            message,
            &format!("docker run {} {tag}", extra.join(" ")),
        );
    }
}

/// Debian's docker-registry on a free port of 127.0.0.1, storage in a temp
/// dir; stopped and removed on drop.
pub struct Registry {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Registry {
    pub fn start() -> Registry {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("hello-registry-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("data")).unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        fs::write(dir.join("config.yml"), config).unwrap();
        let log = fs::File::create(dir.join("log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("run docker-registry ({e}): install it with `apt-get install -y docker-registry`")
            });
        let mut registry = Registry { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if registry
                .get("/v2/", "*/*")
                .is_some_and(|(status, _, _)| status.contains(" 200 "))
            {
                break;
            }
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!("docker-registry exited ({status}):\n{}", registry.log());
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer in 20 s:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }

    /// `GET path` over HTTP/1.0: the status line, the headers (names in lower
    /// case) and the body; None when the registry does not answer.
    pub fn get(
        &self,
        path: &str,
        accept: &str,
    ) -> Option<(String, BTreeMap<String, String>, Vec<u8>)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n\r\n"
        )
        .ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&out[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Some((status, headers, out[end + 4..].to_vec()))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Bytes of each successful GET in the access log from `from` on, by path.
    pub fn gets_since(&self, from: usize) -> Vec<(String, usize)> {
        let log = self.log();
        log[from..]
            .lines()
            .filter_map(|l| {
                // `"GET /v2/... HTTP/1.1" 200 141 ...` (Apache combined format)
                let (_, rest) = l.split_once("\"GET ")?;
                let (path, rest) = rest.split_once(' ')?;
                let (_, rest) = rest.split_once("\" ")?;
                let mut f = rest.split(' ');
                (f.next()? == "200").then_some(())?;
                Some((path.to_string(), f.next()?.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `docker run` flags for a server container on this machine: host network.
pub fn docker_serve(name: &str, tag: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "-d",
        "--rm",
        "--pull",
        "never",
        "--network",
        "host",
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    args.push(tag);
    docker(&args)
}

/// Removes the container when dropped.
pub struct Container(pub String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}
