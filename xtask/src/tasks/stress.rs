//! `cargo xtask stress`: the hardened `docker run`, many times per image, to
//! show it does not flake. Kept out of CI (it takes minutes); run it by hand
//! after touching the hardened flags, the layouts or the platforms.
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::Command;

use crate::Error;
use crate::build::hello::{self, DEFAULT_MESSAGE};
use crate::build::{program_path, tools};
use crate::core::args::{self, Opt};
use crate::core::cmd;
use crate::core::files::write_program;
use crate::core::platform::{Layout, PLATFORMS, Platform, Program};
use crate::run::cgroup::PidsCgroup;
use crate::run::{binfmt, docker, hardened};

const HELP: &str = "\
cargo xtask stress [options]

Builds the image of every layout for this machine's platform and of the
default layout for every other platform, then runs each with the hardened
`docker run` (xtask/src/run/hardened.rs): N times per host layout (default 200),
M times per foreign platform (default 50; those run through qemu-user and
binfmt_misc). Prints progress, then every failure with its output, and exits 1
if any run failed or could not be made. Needs a Docker engine.

Each run goes under a pids cgroup of its own (as root, with Docker's cgroupfs
driver and Linux 6.1 or later), and the table gives the pids.peak values seen
and the range of memory peaks: what runc's start-up, qemu and the program
needed together.

Options:
  --host-runs N      runs per layout of this machine's platform (default 200)
  --foreign-runs M   runs per other platform (default 50)
  --pids-limit L     the hardened run's --pids-limit (default PIDS_LIMIT, 32),
                     to measure how often a lower limit fails
  -h, --help         print this help
";

/// `5.1-7.3`: the lowest and highest memory peak in MiB; `not measured`.
fn memory(peaks: &[u64]) -> String {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    match (peaks.iter().min(), peaks.iter().max()) {
        (Some(&lo), Some(&hi)) => format!("{:.1}-{:.1}", mib(lo), mib(hi)),
        _ => "not measured".into(),
    }
}

/// One image and how its runs went.
struct Target {
    platform: &'static Platform,
    layout: Layout,
    tag: String,
    runs: usize,
    failures: Vec<String>,
    /// pids.peak of each run: value -> how many runs peaked there.
    peaks: BTreeMap<u64, usize>,
    /// The memory peak of each run, in bytes.
    memory: Vec<u64>,
}

pub const OPTS: &[Opt] = &[
    args::value("--host-runs", "N"),
    args::value("--foreign-runs", "M"),
    args::value("--pids-limit", "L"),
];

/// `5 (12), 6 (58)`: each pids.peak seen and in how many runs; `not measured`.
fn peaks(peaks: &BTreeMap<u64, usize>) -> String {
    if peaks.is_empty() {
        return "not measured".into();
    }
    peaks
        .iter()
        .map(|(peak, runs)| format!("{peak} ({runs})"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(words: Vec<OsString>) -> Result<(), Error> {
    let a = args::read("stress", OPTS, words)?;
    if a.help {
        print!("{HELP}");
        return Ok(());
    }
    a.no_free()?;
    // Zero runs would pass without running anything: at least one.
    let host_runs = a
        .parse("--host-runs", args::number(1..=1_000_000))?
        .unwrap_or(200);
    let foreign_runs = a
        .parse("--foreign-runs", args::number(1..=1_000_000))?
        .unwrap_or(50);
    let pids_limit: u32 = a
        .parse("--pids-limit", args::number(1..=4096))?
        .unwrap_or_else(|| {
            hardened::PIDS_LIMIT
                .parse()
                .expect("PIDS_LIMIT is a number")
        });
    let pids_limit = pids_limit.to_string();
    let mut flags: Vec<&str> = hardened::HARDENED.to_vec();
    let at = flags
        .iter()
        .position(|f| *f == "--pids-limit")
        .expect("the hardened run has a pids limit");
    flags[at + 1] = &pids_limit;
    let version = docker::engine().map_err(|why| {
        Error::fail(format!(
            "no Docker engine answers ({why}): {}",
            docker::START_HINT
        ))
    })?;
    println!("Docker engine {version}; hardened run: {}", flags.join(" "));
    // Each run under a pids cgroup of ours, to read its pids.peak after it.
    let cgroup_name = format!("hello-stress-{}", std::process::id());
    let peaks_here = match PidsCgroup::new(&cgroup_name) {
        Ok(c) => Some(c),
        Err(why) => {
            println!("note: pids.peak not measured: {why}");
            None
        }
    };
    tools::ensure_binutils()?;
    let root = crate::root();
    let mut targets = Vec::new();
    let mut not_run = Vec::new();
    for platform in PLATFORMS {
        let native = platform.runs_natively();
        let is_host = Platform::host().is_some_and(|h| h.docker == platform.docker);
        let layouts: &[Layout] = if is_host {
            &Layout::ALL
        } else {
            &[Layout::DEFAULT]
        };
        for &layout in layouts {
            let built = hello::build(platform, layout, DEFAULT_MESSAGE)?;
            if !native && let Err(why) = binfmt::for_container(&built.bytes) {
                let line = format!(
                    "{} {}: {why}; to run it: {}",
                    platform.docker,
                    layout.name(),
                    binfmt::fix(platform.qemu)
                );
                println!("not run: {line}");
                not_run.push(line);
                continue;
            }
            write_program(
                &built.bytes,
                &root.join(program_path(Program::Hello, platform)),
            )?;
            // A tag of this run's own: another checkout's stress run on the
            // same engine cannot rebuild it under us.
            let tag = format!(
                "hello-stress-{}:{}-{}",
                std::process::id(),
                platform.dir_name(),
                layout.name()
            );
            docker::build_hello(
                &root,
                platform.docker,
                &program_path(Program::Hello, platform),
                std::slice::from_ref(&tag),
            )?;
            targets.push(Target {
                platform,
                layout,
                tag,
                runs: if is_host { host_runs } else { foreign_runs },
                failures: Vec::new(),
                peaks: BTreeMap::new(),
                memory: Vec::new(),
            });
        }
    }
    let total: usize = targets.iter().map(|t| t.runs).sum();
    println!("{total} hardened runs of {} images", targets.len());
    for t in &mut targets {
        for i in 1..=t.runs {
            // A fresh cgroup per run: pids.peak never goes down.
            let cgroup = peaks_here
                .as_ref()
                .and_then(|_| PidsCgroup::new(&format!("{cgroup_name}-run")).ok());
            let mut run = Command::new("docker");
            run.args(["run", "--rm", "--pull", "never", "--network", "none"])
                .args(["--platform", t.platform.docker]);
            if let Some(c) = &cgroup {
                run.args(["--cgroup-parent", &c.parent()]);
            }
            run.args(&flags).arg(&t.tag);
            let out = cmd::probe(&mut run)
                .ok_or_else(|| Error::fail(format!("could not run `{}`", cmd::line(&run))))?;
            if let Some(peak) = cgroup.as_ref().and_then(|c| c.peak().ok()) {
                *t.peaks.entry(peak).or_default() += 1;
            }
            if let Some(bytes) = cgroup.as_ref().and_then(|c| c.memory_peak().ok()) {
                t.memory.push(bytes);
            }
            drop(cgroup);
            if !out.status.success() || out.stdout != DEFAULT_MESSAGE {
                // The first line of stderr says what failed; a Go runtime's
                // abort (runc's) goes on for hundreds of lines after it.
                let stderr = String::from_utf8_lossy(&out.stderr);
                let mut lines = stderr.trim().lines();
                let first = lines.next().unwrap_or("");
                let more = lines.count();
                // 137 is 128 + SIGKILL: what the memory cgroup's OOM killer
                // leaves, with nothing on stderr.
                let killed = if out.status.code() == Some(137) {
                    " (137: SIGKILL; an OOM kill under --memory shows in `dmesg`)"
                } else {
                    ""
                };
                t.failures.push(format!(
                    "run {i}: {}{killed} printed {:?}, stderr {first:?}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    if more > 0 {
                        format!(" (and {more} more lines)")
                    } else {
                        String::new()
                    }
                ));
            }
            if i % 25 == 0 || i == t.runs {
                println!(
                    "{} {}: {i}/{} runs, {} failed",
                    t.platform.docker,
                    t.layout.name(),
                    t.runs,
                    t.failures.len()
                );
            }
        }
        let _ = cmd::probe(Command::new("docker").args(["rmi", &t.tag]));
    }
    println!(
        "\n| platform | layout | hardened runs | failures | pids.peak: value (runs) | memory peak, MiB: min-max |\n|---|---|---:|---:|---|---|"
    );
    for t in &targets {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            t.platform.docker,
            t.layout.name(),
            t.runs,
            t.failures.len(),
            peaks(&t.peaks),
            memory(&t.memory)
        );
    }
    drop(peaks_here);
    let failed: Vec<String> = targets
        .iter()
        .flat_map(|t| {
            t.failures
                .iter()
                .map(move |f| format!("{} {}: {f}", t.platform.docker, t.layout.name()))
        })
        .collect();
    for f in &failed {
        println!("FAILED {f}");
    }
    println!(
        "{} failure(s) in {total} runs; {} image(s) not run",
        failed.len(),
        not_run.len()
    );
    if failed.is_empty() && not_run.is_empty() {
        Ok(())
    } else {
        // The failures again in the error, last: a log cut in the middle
        // still shows what failed.
        Err(Error::fail(format!(
            "{} hardened run(s) failed and {} image(s) could not be run:\n{}",
            failed.len(),
            not_run.len(),
            failed
                .iter()
                .chain(&not_run)
                .map(|f| format!("  {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        )))
    }
}
