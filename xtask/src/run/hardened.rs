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

/// The memory limit of the hardened run. Like the pids limit, it is set by
/// what runc and qemu-user need, not by our programs (hello holds one page;
/// serve a few per connection). Each run's memory peak, read from a memory
/// cgroup made for that run alone (`cargo xtask stress` prints them),
/// includes runc's start-up and, for another architecture, qemu-user with
/// its translation buffer. Measured on this project's 2-core Debian 12
/// machine, Docker 20.10 with runc 1.1, cgroup v1, under `--memory 32m`:
///
/// - hello (`cargo xtask stress --host-runs 100 --foreign-runs 30`, 440
///   runs, 0 failures): linux/amd64 and linux/386 3.6-4.4 MiB; through qemu
///   5.4 (riscv64) to 6.5 MiB (arm64);
/// - serve, started, answering one GET and stopped (two runs each):
///   linux/amd64 3.9 MiB; through qemu 8.2 (s390x) to 8.8 MiB (arm64).
///
/// The limit was 6m until a CI run failed: qemu-user under 6 MiB ran only
/// by the kernel reclaiming its own file pages over and over (failcnt over
/// 10,000 in one run), and once the translation buffer got a 2 MiB
/// transparent huge page (qemu asks for them with madvise) the memory
/// cgroup OOM-killed it (`dmesg`: "Memory cgroup out of memory: Killed
/// process ... (hello)", rss_huge 2097152). 32m is over three times the
/// highest peak.
pub const MEMORY_LIMIT: &str = "32m";

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
    MEMORY_LIMIT,
];
