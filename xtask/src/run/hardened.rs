//! The hardened `docker run`: the flags every image must pass. The tests read
//! them too (`xtask::run::hardened`), so that they, the report and
//! `cargo xtask stress` run the same command.

/// The pids limit of the hardened run. runc starts the container with
/// `runc init`, a Go program whose threads sit in the container's pids cgroup
/// until it execs the image's program, and qemu-user starts a thread of its
/// own; a limit below what they need fails before our program runs, with
/// `runtime/cgo: pthread_create failed` or `qemu_thread_create: Resource
/// temporarily unavailable`. Measured with `cargo xtask stress` (which prints
/// each run's pids.peak, read from a pids cgroup of its own), on this
/// project's 2-core Debian 12 machine, Docker 20.10 with runc 1.1:
///
/// - `cargo xtask stress --host-runs 100 --foreign-runs 20`: 0 failures in
///   360 runs; pids.peak on linux/amd64 compat `5 (15), 6 (66), 7 (18),
///   8 (1)`, tiny `5 (8), 6 (73), 7 (15), 8 (3), 9 (1)`; on the other
///   platforms, through qemu, 5 to 9.
/// - `cargo xtask stress --pids-limit 4 --host-runs 40 --foreign-runs 5`:
///   1 failure in 120 runs (amd64 compat, runc's `pthread_create failed`).
/// - `cargo xtask stress --pids-limit 1 --host-runs 30 --foreign-runs 5`:
///   35 failures in 100 runs: every foreign run (qemu's thread) and none of
///   the 60 native ones.
///
/// 32 is more than three times the highest peak. That the program itself
/// starts no process or thread is shown apart from the limit
/// (tests/processes.rs: strace -f).
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
