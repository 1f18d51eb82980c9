//! Shared by the end-to-end tests: running the xtask, the built file, and Docker.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod lex;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use platform::Platform;
/// The xtask's platform table (xtask/src/core/platform.rs), so tests cover
/// every platform `dist` builds, including ones added later.
pub use xtask::core::platform;

/// binfmt_misc's entries, read as dist reads them (xtask/src/run/binfmt.rs).
pub use xtask::run::binfmt;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `target/dist/hello`.
pub fn dist_file() -> PathBuf {
    root().join("target/dist/hello")
}

pub const MESSAGE: &[u8] = b"Hello World\n";

static DIST: Mutex<()> = Mutex::new(());

/// Holds the build: tests in one binary run on threads, and every `dist`
/// writes the same target/dist files. Keep the guard while using the output.
pub fn lock() -> MutexGuard<'static, ()> {
    DIST.lock().unwrap_or_else(|e| e.into_inner())
}

/// `cargo xtask <args>`, run from the built xtask binary; caller holds `lock()`.
pub fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("run the xtask binary")
}

/// `xtask` that must succeed; panics with its output otherwise.
pub fn xtask_ok(args: &[&str]) -> Output {
    let out = xtask(args);
    assert!(
        out.status.success(),
        "cargo xtask {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Builds the default file without Docker and returns its bytes; caller holds `lock()`.
pub fn dist_default() -> Vec<u8> {
    xtask_ok(&["dist", "--no-docker"]);
    std::fs::read(dist_file()).expect("read target/dist/hello")
}

/// How stdout is set up for a run.
#[derive(Clone, Copy, Debug)]
pub enum Stdout {
    Pipe,
    DevFull,
    Closed,
}

/// Runs `file` natively with `stdout`, optionally as `uid` and under `ulimit -v kib`.
pub fn run(file: &Path, stdout: Stdout, uid: Option<u32>, ulimit_kib: Option<u32>) -> Output {
    // `sh` sets the limit and the descriptor, then execs the file itself.
    let mut script = String::new();
    if let Some(k) = ulimit_kib {
        script.push_str(&format!("ulimit -v {k} || exit 125; "));
    }
    script.push_str("exec \"$0\"");
    if let Stdout::Closed = stdout {
        script.push_str(" >&-");
    }
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).arg(file).stdin(Stdio::null());
    match stdout {
        Stdout::DevFull => {
            cmd.stdout(
                File::options()
                    .write(true)
                    .open("/dev/full")
                    .expect("open /dev/full"),
            );
        }
        Stdout::Pipe | Stdout::Closed => {
            cmd.stdout(Stdio::piped());
        }
    }
    if let Some(uid) = uid {
        use std::os::unix::process::CommandExt;
        // std drops supplementary groups too when it switches from root.
        cmd.uid(uid).gid(uid);
    }
    cmd.output().expect("run /bin/sh")
}

/// True when running as root, so tests can switch to uid 65534.
pub fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// The behaviour every build must show natively: exact bytes and status 0, and a
/// non-zero status when stdout is /dev/full or closed; as root, as uid 65534
/// (when the tests run as root), and under `ulimit -v 256`.
pub fn assert_behaves(file: &Path, message: &[u8]) {
    // uid 65534 must be able to reach the file: the checkout may sit in a
    // private directory (mktemp -d is 0700), so run a copy from a 0755 one.
    let dir = std::env::temp_dir().join(format!("hello-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join(file.file_name().unwrap());
    std::fs::copy(file, &copy).unwrap();
    let file = copy.as_path();
    let mut uids = vec![None];
    if is_root() {
        uids.push(Some(65534));
    } else {
        skip(
            &format!("the uid 65534 runs of {}", file.display()),
            "the tests do not run as root, so they cannot switch to uid 65534",
            "run the tests as root (CI does)",
        );
    }
    for uid in uids {
        for ulimit in [None, Some(256)] {
            let what = format!("{} (uid {uid:?}, ulimit -v {ulimit:?})", file.display());
            let ok = run(file, Stdout::Pipe, uid, ulimit);
            assert_eq!(ok.status.code(), Some(0), "{what}: exit status");
            assert!(
                ok.stdout == message,
                "{what}: stdout {:?}",
                String::from_utf8_lossy(&ok.stdout)
            );
            assert!(
                ok.stderr.is_empty(),
                "{what}: stderr {:?}",
                String::from_utf8_lossy(&ok.stderr)
            );
            for bad in [Stdout::DevFull, Stdout::Closed] {
                let out = run(file, bad, uid, ulimit);
                let code = out.status.code();
                assert!(
                    code.is_some_and(|c| c != 0 && c != 125),
                    "{what} with stdout {bad:?}: expected a non-zero exit status from the program, got {:?}",
                    out.status
                );
            }
        }
    }
}

/// The variable CI sets: every loud skip below becomes a failure.
pub const REQUIRE: &str = "HELLO_REQUIRE_TOOLS";

/// A test cannot run here because `what` is missing: print a loud skip line
/// naming `install`, the command that fixes it, and return false; with
/// HELLO_REQUIRE_TOOLS set (CI), fail instead.
pub fn skip(test: &str, what: &str, install: &str) -> bool {
    assert!(
        std::env::var_os(REQUIRE).is_none(),
        "{test}: {REQUIRE} is set but {what}: {install}"
    );
    // Straight to stderr, not through eprintln!: the test harness captures
    // what a passing test prints that way, and the skip would go unseen.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: {what}; install it with `{install}` (set {REQUIRE}=1 to make this a failure) ***\n"
    );
    false
}

/// Whether `program` is on PATH; a loud skip (see [`skip`]) naming `install` when not.
pub fn tool_available(test: &str, program: &str, install: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| d.join(program).is_file()) {
        return true;
    }
    skip(test, &format!("`{program}` is not on PATH"), install)
}

/// qemu-user for `arch` (`aarch64`, `x86_64`, ...) on PATH: Debian's
/// `qemu-<arch>-static`, or `qemu-<arch>`; a loud skip (see [`skip`]) when neither is.
pub fn qemu(test: &str, arch: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [format!("qemu-{arch}-static"), format!("qemu-{arch}")] {
        if let Some(dir) = std::env::split_paths(&path).find(|d| d.join(&name).is_file()) {
            return Some(dir.join(&name));
        }
    }
    skip(
        test,
        &format!("neither qemu-{arch}-static nor qemu-{arch} is on PATH"),
        "apt-get install -y qemu-user-static",
    );
    None
}

/// Whether `docker run --platform` (or `podman run --platform`) can run `file`,
/// a foreign architecture's program, in a container: binfmt_misc holds an
/// enabled entry with the F flag whose magic and mask match it (read from
/// $HELLO_BINFMT_DIR when set, as dist does). A loud skip (see [`skip`]) naming
/// `qemu`'s entry (`qemu-aarch64`) when not.
pub fn binfmt_available(test: &str, qemu: &str, file: &Path) -> bool {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    match binfmt::for_container(&bytes) {
        Ok(_) => true,
        Err(why) => skip(
            test,
            &format!("{why}, so a container cannot run {}", file.display()),
            &binfmt::fix(qemu),
        ),
    }
}

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

/// Whether `podman` is on PATH; a loud skip (see [`skip`]) when not.
pub fn podman_available(test: &str) -> bool {
    tool_available(test, "podman", "apt-get install -y podman uidmap")
}

/// Podman's default rlimits (nofile, nproc) can exceed the hard limits the
/// tests run under, and then every `podman run` fails: ask for modest ones.
pub const PODMAN_ULIMITS: &[&str] = &[
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// `podman <args>`, returning the output whatever the status.
pub fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

/// `podman run --rm --network none <ulimits> <extra> <image>`.
pub fn podman_run(image: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(PODMAN_ULIMITS);
    args.extend_from_slice(extra);
    args.push(image);
    podman(&args)
}

/// How podman is run: as this user, or as `user` through runuser.
#[derive(Clone, Copy, Debug)]
pub enum As<'a> {
    Me,
    User(&'a str),
}

/// `podman <args>` as `who`, returning the output whatever the status.
pub fn podman_as(who: As, args: &[&str]) -> Output {
    let mut cmd = match who {
        As::Me => Command::new("podman"),
        As::User(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--", "podman"]);
            // Root's runtime directory is not the user's: podman picks its own.
            c.env_remove("XDG_RUNTIME_DIR").current_dir("/");
            c
        }
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The unprivileged user the rootless runs use, with subordinate ids for its
/// user namespace; created when missing. Err(why) when it cannot be.
pub fn rootless_user() -> Result<&'static str, String> {
    const USER: &str = "hello-rootless";
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let out = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", USER])
            .output()
            .map_err(|e| format!("useradd: {e}"))?;
        if !out.status.success() {
            return Err(format!("useradd {USER}: {}", output_text(&out)));
        }
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let has = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{USER}:")));
        if !has {
            let flag = if file.ends_with("uid") {
                "--add-subuids"
            } else {
                "--add-subgids"
            };
            let out = Command::new("usermod")
                .args([flag, "400000-465535", USER])
                .output()
                .map_err(|e| format!("usermod: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "usermod {flag} 400000-465535 {USER}: {}",
                    output_text(&out)
                ));
            }
        }
    }
    Ok(USER)
}

/// Who runs podman rootless here: this user when the tests do not run as
/// root, else the unprivileged `hello-rootless` through runuser. None after a
/// loud skip (see [`skip`]). The caller has checked that podman is on PATH.
pub fn rootless_podman(test: &str) -> Option<As<'static>> {
    if !is_root() {
        return Some(As::Me);
    }
    if !tool_available(test, "runuser", "apt-get install -y util-linux") {
        return None;
    }
    let user = match rootless_user() {
        Ok(u) => u,
        Err(why) => {
            skip(
                test,
                &format!("no unprivileged user for rootless podman: {why}"),
                "useradd",
            );
            return None;
        }
    };
    let info = podman_as(
        As::User(user),
        &["info", "--format", "{{.Host.Security.Rootless}}"],
    );
    if String::from_utf8_lossy(&info.stdout).trim() != "true" {
        skip(
            test,
            &format!(
                "podman as {user} does not run rootless: {}",
                output_text(&info).trim()
            ),
            "apt-get install -y uidmap (newuidmap), and allow user namespaces",
        );
        return None;
    }
    Some(As::User(user))
}

/// One limit of the hardened run, read back from a container's cgroup.
#[derive(Debug, PartialEq)]
pub struct Limit {
    /// The flag and its value, as in HARDENED: `--pids-limit 32`.
    pub flag: String,
    /// The cgroup file read (pids.max, memory.limit_in_bytes or memory.max).
    pub file: &'static str,
    /// Whether that file, in the container's own cgroup, holds the value.
    pub applied: bool,
}

/// The pids and memory limits HARDENED asks for, as podman (as `who`) sets
/// them up for `image`: `podman create` and `podman init` make the container
/// and its cgroups without starting the program; the limits are then read
/// from the cgroup files of the container's process (/proc/PID/cgroup, v1 or
/// v2), and the container is removed.
pub fn podman_limits(who: As, image: &str) -> Vec<Limit> {
    let mut args = vec!["create", "--network", "none"];
    args.extend_from_slice(PODMAN_ULIMITS);
    args.extend_from_slice(HARDENED);
    args.push(image);
    let created = podman_as(who, &args);
    assert!(
        created.status.success(),
        "podman {}: {}",
        args.join(" "),
        output_text(&created)
    );
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let init = podman_as(who, &["init", &id]);
    let pid = podman_as(who, &["inspect", "--format", "{{.State.Pid}}", &id]);
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    if !init.status.success() || cgroups.is_empty() {
        podman_as(who, &["rm", "-f", &id]);
        panic!("podman init {id} (pid {pid:?}): {}", output_text(&init));
    }
    // `N:pids:/path` on cgroup v1, `0::/path` on v2.
    let path = |controller: &str| {
        cgroups.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, names, path) = (f.next()?, f.next()?, f.next()?);
            names
                .split(',')
                .any(|n| n == controller)
                .then(|| path.to_string())
        })
    };
    let flag = |name: &str| {
        let at = HARDENED.iter().position(|f| *f == name).unwrap();
        HARDENED[at + 1]
    };
    let memory = flag("--memory");
    let (number, unit) = memory.split_at(memory.len() - 1);
    let shift = match unit {
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => panic!("HARDENED's --memory {memory}: expected a k, m or g suffix"),
    };
    let memory_bytes = (number.parse::<u64>().unwrap() << shift).to_string();
    let v1 = path("pids").is_some();
    let read = |controller: &str, file: &str| {
        let dir = match (v1, path(controller)) {
            (true, Some(p)) => format!("/sys/fs/cgroup/{controller}{p}"),
            (false, _) => format!("/sys/fs/cgroup{}", path("").unwrap_or_default()),
            (true, None) => return None,
        };
        std::fs::read_to_string(Path::new(&dir).join(file))
            .ok()
            .map(|v| v.trim().to_string())
    };
    let (pids_file, memory_file) = if v1 {
        ("pids.max", "memory.limit_in_bytes")
    } else {
        ("pids.max", "memory.max")
    };
    // Read while the container (and so its cgroup) exists.
    let limits = vec![
        Limit {
            flag: format!("--pids-limit {}", flag("--pids-limit")),
            file: pids_file,
            applied: read("pids", pids_file).as_deref() == Some(flag("--pids-limit")),
        },
        Limit {
            flag: format!("--memory {memory}"),
            file: memory_file,
            applied: read("memory", memory_file).as_deref() == Some(memory_bytes.as_str()),
        },
    ];
    podman_as(who, &["rm", "-f", &id]);
    limits
}

/// `hello:test-<what>-<pid>`: an image tag no other test run uses, so runs in
/// other checkouts sharing this Docker engine cannot change it under a test.
pub fn own_tag(what: &str) -> String {
    format!("hello:test-{what}-{}", std::process::id())
}

/// The text between `<!-- BEGIN name -->` and `<!-- END name -->` in `page`, a
/// Markdown file named from the root: README.md or one of docs/*.md.
pub fn page_block(page: &str, name: &str) -> String {
    let text =
        std::fs::read_to_string(root().join(page)).unwrap_or_else(|e| panic!("read {page}: {e}"));
    let (start, stop) = block_span(&text, page, name);
    text[start..stop].to_string()
}

/// Where the block `name` starts and stops in `text` (the Markdown file `page`).
/// A block is whole lines or, for one figure inside a sentence, inline.
fn block_span(text: &str, page: &str, name: &str) -> (usize, usize) {
    let begin = format!("<!-- BEGIN {name} -->");
    let end = format!("<!-- END {name} -->");
    let begin = if text.contains(&format!("{begin}\n")) {
        format!("{begin}\n")
    } else {
        begin
    };
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("{page} has no `{begin}` marker"))
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("{page} has no `{end}` marker"))
        + start;
    (start, stop)
}

/// Fails unless the block `name` in `page` (README.md or docs/*.md) is exactly
/// `expected`, printing the block to paste. With HELLO_UPDATE_README=1 it
/// rewrites the block instead (then review the diff and commit it).
pub fn assert_page_block(page: &str, name: &str, expected: &str) {
    let got = page_block(page, name);
    if got == expected {
        return;
    }
    if std::env::var_os("HELLO_UPDATE_README").is_some() {
        let path = root().join(page);
        let text = std::fs::read_to_string(&path).unwrap();
        let (start, stop) = block_span(&text, page, name);
        let updated = format!("{}{expected}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, updated).unwrap();
        eprintln!("HELLO_UPDATE_README: rewrote {page}'s `{name}` block");
        return;
    }
    panic!(
        "{page}'s `{name}` block differs from what was measured. Replace the lines between \
         <!-- BEGIN {name} --> and <!-- END {name} --> in {page} with the lines below, or \
         rerun with HELLO_UPDATE_README=1:\n{expected}\n({page} has:\n{got})"
    );
}

/// `out` is exactly `expected` on stdout with status 0; `what` names the run.
pub fn assert_output(out: &Output, expected: &[u8], what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == expected,
        "{what} printed {} bytes, not the expected {}: {:?}",
        out.stdout.len(),
        expected.len(),
        String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(200)])
    );
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

/// The ELF header and program header fields a loader reads, decoded from the
/// file here, independently of xtask/src/elf.rs (which `dist` uses), with the
/// offsets of the System V ABI's Elf32/Elf64 structures.
#[derive(Debug)]
pub struct ElfFields {
    pub e_type: u64,
    pub e_machine: u64,
    pub e_entry: u64,
    pub e_phoff: u64,
    pub e_phentsize: u64,
    pub e_phnum: u64,
    pub p_type: u64,
    pub p_flags: u64,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
}

impl ElfFields {
    /// The address file offset 0 maps at.
    pub fn load_address(&self) -> u64 {
        self.p_vaddr.wrapping_sub(self.p_offset)
    }
}

/// Decodes `bytes` as `platform`'s class and byte order (the `tiny` layout may
/// hold the message in EI_CLASS and EI_DATA, so the file's own say nothing).
pub fn elf_fields(bytes: &[u8], platform: &Platform, what: &str) -> ElfFields {
    let int = |off: u64, size: u64| -> u64 {
        let (off, size) = (off as usize, size as usize);
        let b = bytes.get(off..off + size).unwrap_or_else(|| {
            panic!(
                "{what}: the file has {} bytes and ends before the field at {off:#x}",
                bytes.len()
            )
        });
        let fold = |v: u64, &x: &u8| (v << 8) | u64::from(x);
        if platform.big_endian {
            b.iter().fold(0, fold)
        } else {
            b.iter().rev().fold(0, fold)
        }
    };
    // (e_entry, e_phoff, e_phentsize, e_phnum, word) and the program header's
    // (p_flags, p_offset, p_vaddr, p_filesz, p_memsz), from Elf64_Ehdr/Elf64_Phdr
    // and Elf32_Ehdr/Elf32_Phdr.
    let (entry, phoff, phentsize, phnum, w) = if platform.class64 {
        (0x18, 0x20, 0x36, 0x38, 8)
    } else {
        (0x18, 0x1c, 0x2a, 0x2c, 4)
    };
    let (flags, offset, vaddr, filesz, memsz) = if platform.class64 {
        (0x04, 0x08, 0x10, 0x20, 0x28)
    } else {
        (0x18, 0x04, 0x08, 0x10, 0x14)
    };
    let ph = int(phoff, w);
    ElfFields {
        e_type: int(0x10, 2),
        e_machine: int(0x12, 2),
        e_entry: int(entry, w),
        e_phoff: ph,
        e_phentsize: int(phentsize, 2),
        e_phnum: int(phnum, 2),
        p_type: int(ph, 4),
        p_flags: int(ph + flags, 4),
        p_offset: int(ph + offset, w),
        p_vaddr: int(ph + vaddr, w),
        p_filesz: int(ph + filesz, w),
        p_memsz: int(ph + memsz, w),
    }
}

/// Asserts, from the file's bytes, everything xtask/src/elf.rs's `check` demands:
/// the magic, ET_EXEC, the platform's e_machine, one program header of the true
/// size, PT_LOAD readable and executable but not writable, p_vaddr = p_offset
/// modulo 64 KiB (so 4K, 16K and 64K page kernels map it), a load address at or
/// above 0x10000, p_filesz = p_memsz, a segment that ends where the file ends,
/// and an entry point inside the segment after the headers.
pub fn assert_well_formed(bytes: &[u8], platform: &Platform, what: &str) -> ElfFields {
    assert_eq!(bytes.get(..4), Some(&b"\x7fELF"[..]), "{what}: ELF magic");
    let f = elf_fields(bytes, platform, what);
    assert_eq!(f.e_type, 2, "{what}: e_type must be ET_EXEC");
    assert_eq!(
        f.e_machine,
        u64::from(xtask::elf::platform_machine(platform)),
        "{what}: e_machine for {}",
        platform.docker
    );
    let phentsize = if platform.class64 { 56 } else { 32 };
    assert_eq!(
        (f.e_phentsize, f.e_phnum),
        (phentsize, 1),
        "{what}: e_phentsize and e_phnum"
    );
    assert_eq!(f.p_type, 1, "{what}: p_type must be PT_LOAD");
    assert_eq!(f.p_flags & 7, 5, "{what}: p_flags must be R and X, not W");
    assert_eq!(
        f.p_vaddr % 0x10000,
        f.p_offset % 0x10000,
        "{what}: p_vaddr {:#x} and p_offset {:#x} must agree modulo 64 KiB",
        f.p_vaddr,
        f.p_offset
    );
    assert!(
        f.load_address() >= 0x10000,
        "{what}: load address {:#x} below vm.mmap_min_addr 0x10000",
        f.load_address()
    );
    assert_eq!(f.p_filesz, f.p_memsz, "{what}: p_filesz and p_memsz");
    assert_eq!(
        f.p_offset + f.p_filesz,
        bytes.len() as u64,
        "{what}: the segment must end where the file ends"
    );
    let code = f.load_address() + f.e_phoff;
    assert!(
        (code..f.p_vaddr + f.p_filesz).contains(&f.e_entry),
        "{what}: e_entry {:#x} outside the segment after the headers ({code:#x}..{:#x})",
        f.e_entry,
        f.p_vaddr + f.p_filesz
    );
    f
}

/// What git sees of the checkout: `git status --porcelain` with every
/// untracked file, and the diff of the tracked ones (so a rewrite of a file
/// already modified shows too).
#[derive(Debug, PartialEq, Eq)]
pub struct Checkout {
    pub status: String,
    pub diff: String,
}

/// The checkout now, for comparing before and after a run; `None` (said on
/// stderr) when HELLO_UPDATE_README asks runs to rewrite the docs.
pub fn checkout() -> Option<Checkout> {
    if std::env::var_os("HELLO_UPDATE_README").is_some() {
        eprintln!(
            "HELLO_UPDATE_README is set: not checking that the run leaves the checkout as it was"
        );
        return None;
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {}: {out:?}", args.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    Some(Checkout {
        status: git(&["status", "--porcelain", "--untracked-files=all"]),
        diff: git(&["diff", "--no-ext-diff"]),
    })
}

/// `cargo xtask <what>` left the checkout as it was: `before` and `after`,
/// taken right before and after the run (it writes under target/ only,
/// unless asked with `--update-docs`).
pub fn assert_checkout_unchanged(before: &Option<Checkout>, after: &Option<Checkout>, what: &str) {
    let (Some(before), Some(after)) = (before, after) else {
        return;
    };
    assert_eq!(
        before.status, after.status,
        "`cargo xtask {what}` changed `git status --porcelain`: it must write under target/ only \
         (docs/ and README.md only with --update-docs)"
    );
    assert!(
        before.diff == after.diff,
        "`cargo xtask {what}` rewrote a tracked file that was already modified (see `git diff`): \
         it must write under target/ only"
    );
}

// `serve` under hostile clients (tests/serve_hostile.rs, tests/serve_fuzz.rs):
// building it, running it, and reading its responses byte by byte.

/// `serve`'s IDLE (hello/src/bin/serve.rs): the seconds a client has to send a
/// request head, and that a response may make no progress before the
/// connection is closed. Tests that hold connections finish well inside it.
pub const SERVE_IDLE: Duration = Duration::from_secs(10);

static NEXT_PORT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A TCP port below /proc/sys/net/ipv4/ip_local_port_range that nothing
/// listens on now. Free ports from `bind(0)` come from that range, where any
/// client's connection (the tests' own thousands) may take one as its local
/// port before the server binds it; ports below it are never handed out so.
/// Each call gives a different port; the start depends on the pid, so test runs
/// in other checkouts start elsewhere.
pub fn quiet_port() -> u16 {
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("read /proc/sys/net/ipv4/ip_local_port_range");
    let low: u32 = range
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("ip_local_port_range: two numbers");
    let first = 10_000;
    assert!(
        low > first + 1000,
        "ip_local_port_range starts at {low}: the tests need ports {first}..{low} outside it; \
         raise it with `sysctl -w net.ipv4.ip_local_port_range=\"32768 60999\"`"
    );
    let span = low - first;
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT_PORT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (first + (start + n) % span) as u16;
        // [::] binds IPv4 too (net.ipv6.bindv6only is 0); check both anyway.
        if TcpListener::bind(("::", port)).is_ok() && TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free TCP port from {first} to {low}");
}

/// The directory for this test process's files that another uid must read
/// (mode 0755, in the temp dir: the checkout may be private).
pub fn shared_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hello-serve-hostile-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `cargo xtask dist --program serve --no-docker --platform linux/amd64 <args>`:
/// a copy of the file it wrote, named for `label` in [`shared_dir`] (mode 0755),
/// that later builds leave alone.
pub fn serve_build(label: &str, args: &[&str]) -> PathBuf {
    let _g = lock();
    let mut all = vec![
        "dist",
        "--program",
        "serve",
        "--no-docker",
        "--platform",
        "linux/amd64",
    ];
    all.extend_from_slice(args);
    xtask_ok(&all);
    let copy = shared_dir().join(format!("serve-{label}"));
    fs::copy(root().join("target/dist/linux-amd64/serve"), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// A uid that no process has now (so `prlimit --nproc`, which counts every
/// process of a uid, counts the server's alone), and that no account names.
pub fn unused_uid() -> u32 {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let named: Vec<u32> = passwd
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    let mut busy = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            busy.extend(
                line.split_whitespace()
                    .skip(1)
                    .filter_map(|u| u.parse::<u32>().ok()),
            );
        }
    }
    let start = 50_000 + std::process::id() % 10_000;
    (start..start + 10_000)
        .find(|u| !named.contains(u) && !busy.contains(u))
        .expect("a free uid from 50000 on")
}

/// Raises this test process's descriptor limit (soft and hard) to `n`, with
/// util-linux's `prlimit --pid` (std has no setrlimit); the clients of the
/// tests that hold thousands of connections need it.
pub fn raise_nofile(n: u32) {
    let out = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={n}:{n}"))
        .output()
        .expect("run prlimit (util-linux)");
    assert!(
        out.status.success(),
        "prlimit --nofile={n}:{n} on the test process: {}; the hard limit must allow {n} \
         (`ulimit -Hn`)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A running server and every process it starts: spawned in a process group
/// of its own, and on drop sent SIGTERM, then SIGKILL, as a group.
pub struct ServeProcess {
    pub child: Child,
    pub port: u16,
}

impl ServeProcess {
    /// Starts `cmd` in its own process group and waits (up to 20 s) until
    /// 127.0.0.1:`port` accepts a connection; panics if it exits first.
    pub fn start(mut cmd: Command, port: u16) -> ServeProcess {
        use std::os::unix::process::CommandExt;
        let what = format!("{cmd:?}");
        let child = cmd
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let mut server = ServeProcess { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{what} exited ({status}) before listening on port {port}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{what} did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Whether the first process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal_group(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.signal_group("TERM");
        let start = Instant::now();
        while self.alive() && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.signal_group("KILL");
        let _ = self.child.wait();
    }
}

/// One HTTP response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The status line and headers, with the empty line.
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value, by name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads responses off a client connection, keeping what follows each.
pub struct Responses {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Responses {
    pub fn new(stream: TcpStream) -> Responses {
        Responses {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more; false at end of file; an error (a reset, a timeout) as text.
    fn fill(&mut self) -> Result<bool, String> {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) => Err(format!("{e} ({:?})", e.kind())),
        }
    }

    /// The next response: `Ok(None)` when the server closed with nothing more
    /// sent; an error for a read error or timeout, a head that is not HTTP, or
    /// a close in the middle of a response. `head_request`: the request was
    /// HEAD, so no body follows.
    pub fn next(&mut self, head_request: bool) -> Result<Option<Response>, String> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill()? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(format!(
                    "closed after {} bytes of a response head: {:?}",
                    self.buf.len(),
                    String::from_utf8_lossy(&self.buf[..self.buf.len().min(200)])
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP/1.1 status line: {head:?}"))?;
        self.buf.drain(..end);
        let mut r = Response {
            status,
            head,
            body: Vec::new(),
        };
        let len = match r.header("content-length") {
            _ if head_request || status < 200 || status == 204 || status == 304 => Some(0),
            Some(v) => Some(
                v.parse::<usize>()
                    .map_err(|_| format!("Content-Length {v:?} in {:?}", r.head))?,
            ),
            None => None,
        };
        match len {
            Some(len) => {
                while self.buf.len() < len {
                    if !self.fill()? {
                        return Err(format!(
                            "closed after {} of {len} body bytes of {:?}",
                            self.buf.len(),
                            r.head
                        ));
                    }
                }
                r.body = self.buf.drain(..len).collect();
            }
            // No length: the body runs to the close.
            None => {
                while self.fill()? {}
                r.body = std::mem::take(&mut self.buf);
            }
        }
        Ok(Some(r))
    }
}

/// `GET /` on a fresh connection to 127.0.0.1:`port`: Ok(how long it took) for
/// a 200 whose body is exactly `page`, within `limit`; otherwise what happened.
pub fn good_get(port: u16, page: &[u8], limit: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), limit)
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(limit)).unwrap();
    (&stream)
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut r = Responses::new(stream);
    let took = match r.next(false) {
        Ok(Some(resp)) if resp.status == 200 && resp.body == page => start.elapsed(),
        Ok(Some(resp)) => {
            return Err(format!(
                "{:?} with a {}-byte body (want 200 and {} bytes)",
                resp.head,
                resp.body.len(),
                page.len()
            ));
        }
        Ok(None) => return Err("closed with no response".into()),
        Err(e) => return Err(e),
    };
    if took > limit {
        return Err(format!("answered after {took:?}, over {limit:?}"));
    }
    Ok(took)
}

/// Whether the server still holds `stream` open: a non-blocking read finds
/// nothing to read, not end of file or a reset.
pub fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open =
        matches!((&*stream).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    open
}
