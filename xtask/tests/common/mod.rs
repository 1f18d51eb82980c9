//! Shared by the end-to-end tests: running the xtask and the built file, and
//! the loud skips; Docker, podman, ELF, page blocks and serve in submodules,
//! re-exported here so `common::name` reaches them all.
#![allow(dead_code)] // each test binary uses its own part of this module

mod docker;
mod elf;
pub mod lex;
mod pages;
mod podman;
mod serve;

// Each test binary uses its own part.
#[allow(unused_imports)]
pub use {docker::*, elf::*, pages::*, podman::*, serve::*};

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

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
