//! The hardened `docker run`: the flags every image must pass. The tests read
//! them too (`xtask::run::hardened`), so that they, the report and
//! `cargo xtask stress` run the same command.

/// The pids limit of the hardened run. runc starts the container with
/// `runc init`, a Go program whose threads sit in the container's pids cgroup
/// until it execs the image's program; a limit below what it needs fails now
/// and then with `runtime/cgo: pthread_create failed` before our program runs
/// (measured on main: 1 in 30 runs at 1, 1 in 40 at 4). The container
/// cgroup's pids.peak over 100 hardened amd64 runs was 5 (12 runs), 6 (58),
/// 7 (18), 8 (11), 9 (1); over 40 arm64 runs through qemu 5 to 8. 32 is more
/// than three times that. That the program itself starts no process or thread
/// is shown apart from the limit (tests/processes.rs: strace -f).
pub const PIDS_LIMIT: &str = "32";

/// The hardened `docker run` flags every image must pass (podman takes them too).
pub const HARDENED: &[&str] = &[
    "--read-only",
    "--cap-drop",
    "ALL",
    "--user",
    "65534:65534",
    "--security-opt",
    "no-new-privileges",
    "--pids-limit",
    PIDS_LIMIT,
    "--memory",
    "6m",
];
