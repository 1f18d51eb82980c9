//! Shared by the end-to-end tests: running the xtask, the built file, and Docker.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

/// binfmt_misc's entries, read as dist reads them (xtask/src/binfmt.rs).
#[path = "../../src/binfmt.rs"]
pub mod binfmt;

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
#[path = "../../src/hardened.rs"]
mod hardened;
#[allow(unused_imports)] // each test binary uses its own part
pub use hardened::{HARDENED, PIDS_LIMIT};

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

/// The text between `<!-- BEGIN name -->` and `<!-- END name -->` in README.md.
pub fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    // A block is whole lines or, for one figure inside a sentence, inline.
    let begin = format!("<!-- BEGIN {name} -->");
    let end = format!("<!-- END {name} -->");
    let begin = if readme.contains(&format!("{begin}\n")) {
        format!("{begin}\n")
    } else {
        begin
    };
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README.md has no `{begin}` marker"))
        + begin.len();
    let stop = readme[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("README.md has no `{end}` marker"))
        + start;
    readme[start..stop].to_string()
}

/// Fails unless the README block `name` is exactly `expected`, printing the block
/// to paste. With HELLO_UPDATE_README=1 it rewrites the block instead (then
/// review the diff and commit it).
pub fn assert_readme_block(name: &str, expected: &str) {
    let got = readme_block(name);
    if got == expected {
        return;
    }
    if std::env::var_os("HELLO_UPDATE_README").is_some() {
        let path = root().join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let begin = format!("<!-- BEGIN {name} -->");
        let begin = if readme.contains(&format!("{begin}\n")) {
            format!("{begin}\n")
        } else {
            begin
        };
        let start = readme.find(&begin).unwrap() + begin.len();
        let updated = format!(
            "{}{expected}{}",
            &readme[..start],
            &readme[start + got.len()..]
        );
        std::fs::write(&path, updated).unwrap();
        eprintln!("HELLO_UPDATE_README: rewrote README.md's `{name}` block");
        return;
    }
    panic!(
        "README.md's `{name}` block differs from what was measured. Replace the lines between \
         <!-- BEGIN {name} --> and <!-- END {name} --> with the lines below, or rerun with \
         HELLO_UPDATE_README=1:\n{expected}\n(README.md has:\n{got})"
    );
}

/// `tag` prints exactly `message` and exits 0, in a plain and in a hardened `docker run`.
pub fn assert_docker_prints(tag: &str, message: &[u8]) {
    for extra in [&[][..], HARDENED] {
        let out = docker_run(tag, extra);
        let what = format!("docker run {} {tag}", extra.join(" "));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == message,
            "{what} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
