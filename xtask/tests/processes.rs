//! The program starts no process and no thread: no clone, clone3, fork or
//! vfork. Shown natively under `strace -f`, under qemu-user (where qemu itself
//! starts one thread, and `qemu -strace` shows the program's own calls), and in
//! a container from the pids cgroup, whose peak must stay under the hardened
//! run's limit (xtask/src/run/hardened.rs, PIDS_LIMIT, says why it is not 1).
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use xtask::run::cgroup::PidsCgroup;

/// One traced system call: the thread that made it, its name, its arguments.
#[derive(Debug)]
struct Call {
    pid: u32,
    name: String,
    args: String,
}

/// Parses `strace -f -qq -o FILE` output (`PID name(args) = ret` per line),
/// leaving out the second halves of calls another thread interrupted
/// (`PID <... name resumed>...`) and signals (`PID --- SIG...`).
fn parse_trace(text: &str) -> Vec<Call> {
    text.lines()
        .filter(|l| !l.contains(" <... ") && !l.contains(" --- ") && !l.contains(" +++ "))
        .map(|l| {
            let (pid, rest) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("strace line without a pid: {l:?}"));
            let (name, args) = rest
                .trim_start()
                .split_once('(')
                .unwrap_or_else(|| panic!("strace line without a call: {l:?}"));
            Call {
                pid: pid
                    .parse()
                    .unwrap_or_else(|_| panic!("strace pid in {l:?}")),
                name: name.to_string(),
                args: args.to_string(),
            }
        })
        .collect()
}

/// `strace -f -qq -o TRACE ARGV...`: the calls, and the program's stdout.
fn strace(argv: &[&Path]) -> (Vec<Call>, Vec<u8>) {
    let trace = root().join(format!(
        "target/test-processes-{}.trace",
        std::process::id()
    ));
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .expect("run strace");
    assert!(
        out.status.success(),
        "strace -f {argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    std::fs::remove_file(&trace).unwrap();
    (parse_trace(&text), out.stdout)
}

const PROCESS_CALLS: [&str; 4] = ["clone", "clone3", "fork", "vfork"];

/// Builds `platform` with `layout`; a copy of the file, kept from later builds.
fn build(platform: &str, layout: &str) -> PathBuf {
    xtask_ok(&[
        "dist",
        "--no-docker",
        "--platform",
        platform,
        "--layout",
        layout,
    ]);
    let dir = platform.replace('/', "-");
    let file = root().join("target/dist").join(&dir).join("hello");
    let copy = root()
        .join("target/test-processes")
        .join(format!("{dir}-{layout}"));
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&file, &copy).unwrap();
    copy
}

/// Native platforms: this machine's, and 386 on x86-64.
fn native_platforms() -> Vec<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => vec!["linux/amd64", "linux/386"],
        "aarch64" => vec!["linux/arm64"],
        "riscv64" => vec!["linux/riscv64"],
        "s390x" => vec!["linux/s390x"],
        _ => vec![],
    }
}

#[test]
fn natively_the_program_calls_execve_write_exit_and_nothing_else() {
    if !tool_available(
        "natively_the_program_calls_execve_write_exit_and_nothing_else",
        "strace",
        "apt-get install -y strace",
    ) {
        return;
    }
    let _g = lock();
    for platform in native_platforms() {
        for layout in ["tiny", "compat"] {
            let file = build(platform, layout);
            let (calls, stdout) = strace(&[&file]);
            assert_eq!(stdout, MESSAGE, "{platform} {layout} under strace");
            let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
            // execve is strace starting the file; then the program's own two calls.
            assert_eq!(
                names,
                ["execve", "write", "exit"],
                "{platform} {layout}: the system calls under strace -f: {calls:#?}"
            );
            assert!(
                calls.iter().all(|c| c.pid == calls[0].pid),
                "{platform} {layout}: more than one thread in {calls:#?}"
            );
            assert!(
                calls[1]
                    .args
                    .starts_with(&format!("1, \"Hello World\\n\", {}", MESSAGE.len())),
                "{platform} {layout}: {:?}",
                calls[1]
            );
        }
    }
}

/// A platform this machine runs under qemu-user, and qemu's name for it.
fn emulated() -> (&'static str, &'static str) {
    if std::env::consts::ARCH == "aarch64" {
        ("linux/amd64", "x86_64")
    } else {
        ("linux/arm64", "aarch64")
    }
}

#[test]
fn under_qemu_only_qemu_starts_a_thread() {
    let test = "under_qemu_only_qemu_starts_a_thread";
    if !tool_available(test, "strace", "apt-get install -y strace") {
        return;
    }
    let (platform, arch) = emulated();
    let Some(qemu) = common::qemu(test, arch) else {
        return;
    };
    let _g = lock();
    let file = build(platform, "compat");
    let (calls, stdout) = strace(&[&qemu, &file]);
    assert_eq!(stdout, MESSAGE, "{platform} under qemu and strace");
    let started: Vec<&Call> = calls
        .iter()
        .filter(|c| PROCESS_CALLS.contains(&c.name.as_str()))
        .collect();
    // qemu starts its RCU thread at start-up, before it loads the program.
    assert_eq!(
        started.len(),
        1,
        "{platform}: qemu-{arch} and the program started {} threads or processes: {started:#?}",
        started.len()
    );
    assert!(
        started[0].args.contains("CLONE_THREAD") && started[0].args.contains("CLONE_VM"),
        "qemu's one clone is a thread: {:?}",
        started[0]
    );
    let first_write = calls.iter().position(|c| c.name == "write").unwrap();
    let clone_at = calls
        .iter()
        .position(|c| PROCESS_CALLS.contains(&c.name.as_str()))
        .unwrap();
    assert!(
        clone_at < first_write,
        "qemu's thread starts before the program writes"
    );

    // The program's own calls, as qemu sees them: write and exit.
    let out = Command::new(&qemu)
        .arg("-strace")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.stdout, MESSAGE);
    let guest: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| {
            let call = l.split_once(' ')?.1.trim_start();
            Some(call.split('(').next()?.to_string())
        })
        .collect();
    assert_eq!(
        guest,
        ["write", "exit"],
        "{platform}: the program's system calls under qemu-{arch} -strace:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The hardened run's pids.peak: the most tasks its cgroup ever held. It
/// counts runc's own start-up (runc init's threads, before it execs the
/// program) and, under emulation, qemu's thread; after the exec the program is
/// the container's one task. The peak must stay under the limit, or the
/// hardened run would fail now and then before the program runs.
#[test]
fn hardened_runs_peak_under_the_pids_limit() {
    let test = "hardened_runs_peak_under_the_pids_limit";
    if !docker_available(test) {
        return;
    }
    let _g = lock();
    let (foreign, arch) = emulated();
    // Images under this test's own tags: other checkouts share the engine.
    let tag = |platform: &str| own_tag(&format!("pids-{}", platform.replace('/', "-")));
    let host = native_platforms()[0];
    for platform in [host, foreign] {
        xtask_ok(&["dist", "--platform", platform, "--tag", &tag(platform)]);
    }
    let limit: u64 = PIDS_LIMIT.parse().unwrap();
    let mut platforms = vec![(host, 10)];
    let file = root()
        .join("target/dist")
        .join(foreign.replace('/', "-"))
        .join("hello");
    if binfmt_available(test, &format!("qemu-{arch}"), &file) {
        platforms.push((foreign, 5));
    }
    for (platform, runs) in platforms {
        let tag = tag(platform);
        let mut peaks = Vec::new();
        for i in 0..runs {
            let name = format!("hello-pids-test-{}-{i}", std::process::id());
            let cgroup = match PidsCgroup::new(&name) {
                Ok(c) => c,
                Err(why) => {
                    skip(
                        test,
                        &why,
                        "run dockerd with --exec-opt native.cgroupdriver=cgroupfs, as root",
                    );
                    return;
                }
            };
            let parent = cgroup.parent();
            let mut extra = vec!["--platform", platform, "--cgroup-parent", &parent];
            extra.extend_from_slice(HARDENED);
            let out = docker_run(&tag, &extra);
            let peak = cgroup.peak().unwrap();
            drop(cgroup);
            assert_eq!(
                (out.status.code(), out.stdout.as_slice()),
                (Some(0), MESSAGE),
                "docker run {} {tag}: {}",
                extra.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            peaks.push(peak);
        }
        docker(&["rmi", &tag]);
        eprintln!("{platform}: pids.peak of {runs} hardened runs: {peaks:?} (limit {limit})");
        assert!(
            peaks.iter().all(|&p| (1..limit).contains(&p)),
            "{platform}: pids.peak {peaks:?} reaches the limit {limit}: raise PIDS_LIMIT in xtask/src/run/hardened.rs"
        );
    }
}
