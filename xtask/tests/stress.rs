//! `cargo xtask stress`: its options, and a tiny run (two hardened runs per
//! image) whose table has a row per image with its runs, failures, the
//! pids.peak values and the memory peaks it measured.
mod common;

use common::{docker_available, is_root, lock, skip, xtask};
use xtask::core::platform::{PLATFORMS, Platform};

#[test]
fn stress_refuses_runs_that_would_prove_nothing() {
    for (args, says) in [
        (
            &["--host-runs", "0"][..],
            "--host-runs 0: give a whole number from 1",
        ),
        (
            &["--foreign-runs=0"],
            "--foreign-runs 0: give a whole number from 1",
        ),
        (
            &["--pids-limit", "0"],
            "--pids-limit 0: give a whole number from 1 to 4096",
        ),
        (
            &["--host-runs", "some"],
            "--host-runs some: give a whole number",
        ),
    ] {
        let mut all = vec!["stress"];
        all.extend_from_slice(args);
        let out = xtask(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{all:?}: {stderr:?} should say {says:?}"
        );
        assert!(out.stdout.is_empty(), "{all:?} printed {:?}", out.stdout);
    }
}

#[test]
fn a_tiny_stress_run_reports_every_image_and_its_pids_peak() {
    let test = "a_tiny_stress_run_reports_every_image_and_its_pids_peak";
    if !docker_available(test) {
        return;
    }
    let _g = lock();
    let out = xtask(&["stress", "--host-runs", "2", "--foreign-runs", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let host = Platform::host().expect("this machine's platform is built");
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| linux/"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    // Every platform once, this machine's in both layouts.
    assert_eq!(rows.len(), PLATFORMS.len() + 1, "{stdout}");
    for p in PLATFORMS {
        let n = rows.iter().filter(|r| r[0] == p.docker).count();
        assert_eq!(
            n,
            if p.docker == host.docker { 2 } else { 1 },
            "{}: {stdout}",
            p.docker
        );
    }
    let measured = is_root();
    if !measured {
        skip(
            test,
            "pids.peak needs root to make a cgroup",
            "run the tests as root",
        );
    }
    for r in &rows {
        assert_eq!((r[2], r[3]), ("2", "0"), "two runs, no failure: {r:?}");
        if measured {
            // `5 (1), 6 (1)`: the counts add up to the runs, each peak under the limit.
            let mut runs = 0;
            for part in r[4].split(", ") {
                let (peak, count) = part
                    .strip_suffix(')')
                    .and_then(|p| p.split_once(" ("))
                    .unwrap_or_else(|| panic!("pids.peak cell {:?} in {r:?}", r[4]));
                let peak: u32 = peak.parse().unwrap();
                assert!((1..32).contains(&peak), "{r:?}");
                runs += count.parse::<u32>().unwrap();
            }
            assert_eq!(runs, 2, "{r:?}");
            // `5.1-7.3` MiB: runc's start-up alone charges megabytes, and the
            // container's cgroup cannot hold more than --memory (32m); runc's
            // start-up charges the parent under a MiB before it joins.
            let (lo, hi) = r[5]
                .split_once('-')
                .and_then(|(lo, hi)| Some((lo.parse::<f64>().ok()?, hi.parse::<f64>().ok()?)))
                .unwrap_or_else(|| panic!("memory peak cell {:?} in {r:?}", r[5]));
            assert!(1.0 <= lo && lo <= hi && hi < 33.0, "{r:?}");
        }
    }
    assert!(
        stdout.contains("0 failure(s) in 20 runs; 0 image(s) not run"),
        "{stdout}"
    );
}
