//! `cargo xtask report` end to end: it runs to the end and prints its table,
//! every contender it built is run and checked here again (the assembly
//! contenders rebuilt with nasm, samples of the verdict cells recomputed, the
//! 0-byte image run both ways), docs/scoreboard.md's scoreboard, README.md's
//! headline and the committed chart docs/sizes.svg agree with
//! target/report/report.json, and the run leaves the checkout as it was (it
//! writes under target/ only).
#[path = "../common/mod.rs"]
mod common;

mod cells;
mod chart;
mod run;
mod scoreboard;

use cells::*;
use common::*;
use run::*;
use scoreboard::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use xtask::run::min_addr::{self, MinAddr};

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["report", "--exec-runs", "10"][..],
        &["report", "--docker-runs", "5"],
        &["report", "--bogus"],
        &["report", "--update-docs=yes"],
    ] {
        let out = xtask(args);
        assert_eq!(out.status.code(), Some(2), "cargo xtask {}", args.join(" "));
        assert!(String::from_utf8_lossy(&out.stderr).contains("error: "));
    }
}

#[test]
fn report_runs_to_the_end_and_prints_its_table() {
    let Some(run) = report() else { return };
    assert!(
        run.stdout
            .contains("| contender | platform | file bytes | image bytes |"),
        "the report printed no table:\n{}",
        run.stdout
    );
    for r in rows(run) {
        let label = r["label"].as_str().unwrap();
        assert!(
            run.stdout.contains(&format!("| {label} |")),
            "the table has no row for {label}:\n{}",
            run.stdout
        );
    }
    assert!(run.json["exec_runs"].as_u64().unwrap() >= 200);
    assert!(run.json["docker_runs"].as_u64().unwrap() >= 20);
    assert_eq!(run.json["message"], "Hello World\n");
    // The Markdown table is the last thing on stdout.
    let last = run.stdout.trim_end().lines().last().unwrap_or_default();
    let last_row = rows(run).last().unwrap()["label"].as_str().unwrap();
    assert!(
        last.starts_with(&format!("| {last_row} |")),
        "stdout does not end with the table: {last}"
    );
}

/// The report's images: each contender's run again here, the 0-byte image,
/// the sizes, check 6 of the assembly files; then removed, with the function
/// the report removes them with when not asked to keep them.
#[test]
fn images_are_what_the_report_says() {
    let Some(run) = report() else { return };
    let remove = RemoveImages(run);
    let tags: Vec<&str> = rows(run)
        .iter()
        .filter(|r| !r["image"].is_null())
        .map(image)
        .collect();
    for (r, tag) in rows(run)
        .iter()
        .filter(|r| !r["image"].is_null())
        .zip(&tags)
    {
        assert_eq!(
            *tag,
            format!("{}:{}", run.images, r["id"].as_str().unwrap())
        );
    }
    every_contender_is_run_and_failures_say_why(run);
    cheat_image_runs_only_with_a_host_volume(run);
    sizes_are_what_docker_says(run);
    assembly_hardened_runs(run);

    let removed = xtask::run::docker::remove_repository(&run.images).unwrap();
    assert_eq!(removed, tags.len(), "tags removed");
    let left = docker(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        &run.images,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&left.stdout),
        "",
        "{}:* left",
        run.images
    );
    drop(remove);
}

/// How the report removes its images: every tag under its name, and nothing
/// else, even where another name (another checkout's run) tags the same image.
#[test]
fn removing_a_run_s_images_removes_only_its_tags() {
    if !docker_available("tests/report.rs removing a run's images") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("hello-report-rmi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCMD [\"/hello\"]\n").unwrap();
    let ours = format!("hello-report-test-{}", std::process::id());
    let other = own_tag("report-other-checkout");
    let build = docker(&[
        "build",
        "-q",
        "-t",
        &format!("{ours}:a"),
        dir.to_str().unwrap(),
    ]);
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    for tag in [format!("{ours}:b"), other.clone()] {
        assert!(
            docker(&["tag", &format!("{ours}:a"), &tag])
                .status
                .success()
        );
    }
    assert_eq!(xtask::run::docker::remove_repository(&ours).unwrap(), 2);
    let left = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", &ours]);
    assert_eq!(String::from_utf8_lossy(&left.stdout), "", "{ours}:* left");
    let kept = docker(&["image", "inspect", &other]).status.success();
    // Ours are gone; then the other name, whatever happened.
    let _ = docker(&["rmi", &other]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(kept, "{other}, another name for the same image, went too");
}

/// ubuntu and alpine: the report tried `docker pull` and says what happened.
#[test]
fn references_say_what_the_pull_did() {
    let Some(run) = report() else { return };
    for id in ["ubuntu", "alpine"] {
        let why = row(run, id)["reason"].as_str().unwrap();
        assert!(
            why.contains("`docker pull ") && (why.contains("failed: ") || why.contains("worked")),
            "{id}: {why}"
        );
        // Where it failed, report.json has docker's whole message.
        if why.contains("failed: ") {
            let cause = why.rsplit("failed: ").next().unwrap();
            let detail = row(run, id)["detail"].as_str().unwrap_or_default();
            assert!(
                detail.contains(cause) || cause.starts_with("no answer within"),
                "{id}: {detail}"
            );
        }
    }
    for id in ["hello-world-2021", "hello-world-today"] {
        let r = row(run, id);
        assert_eq!(r["kind"], "reference");
        assert!(
            r["image_bytes"].is_null(),
            "{id} is published, not measured"
        );
    }
    assert_eq!(row(run, "hello-world-2021")["published"]["bytes"], 13_300);
    assert_eq!(row(run, "hello-world-today")["published"]["bytes"], 10_072);
}

/// The assembly contenders and check 5's control, rebuilt here with nasm from their sources: the
/// same bytes as the report's, and their verdict cells as this test sees them.
#[test]
fn assembly_contenders_are_built_with_nasm_and_checked() {
    let Some(run) = report() else { return };
    if !tool_available("assembly contenders", "nasm", "apt-get install -y nasm") {
        return;
    }
    let dir = nasm_dir("nasm");
    for (id, source, qemu_platform) in [
        ("nasm-i386", "hello-i386.asm", "linux/386"),
        ("nasm-x86_64", "hello-x86_64.asm", "linux/amd64"),
        ("below-min-addr", "below-min-addr.asm", "linux/amd64"),
    ] {
        let r = row(run, id);
        let out = nasm(&dir, source);
        let built = std::fs::read(&out).unwrap();
        assert_eq!(
            built,
            std::fs::read(file_of(r)).unwrap(),
            "{id}: the report's file differs from nasm's"
        );
        assert_eq!(Some(built.len() as u64), r["file_bytes"].as_u64(), "{id}");
        let v = &r["verdict"];
        assert_cell(
            id,
            "prints",
            &v["prints"],
            prints_cell(&run_file(&out, Stdout::Pipe, None, None)),
        );
        assert_cell(
            id,
            "dev_full",
            &v["dev_full"],
            fails_cell(&run_file(&out, Stdout::DevFull, None, None)),
        );
        assert_cell(
            id,
            "closed_stdout",
            &v["closed_stdout"],
            fails_cell(&run_file(&out, Stdout::Closed, None, None)),
        );
        assert_cell(
            id,
            "ulimit_v_256",
            &v["ulimit_v_256"],
            prints_cell(&run_file(&out, Stdout::Pipe, None, Some(256))),
        );
        assert_cell(
            id,
            "qemu_user",
            &v["qemu_user"],
            prints_cell(&qemu_run(qemu_platform, &out)),
        );
        eprintln!("{id}: {} bytes, verdict {v}", built.len());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Our every platform and layout: checks 1 and 7 recomputed here (natively
/// and under qemu, or under qemu only for other architectures), and amd64
/// `tiny` fails under qemu as the README says.
#[test]
fn our_verdict_cells_are_what_a_run_shows() {
    let Some(run) = report() else { return };
    let host = run.json["host"].as_str().unwrap();
    for r in rows(run).iter().filter(|r| r["kind"] == "ours") {
        let id = r["id"].as_str().unwrap();
        let platform = r["platform"].as_str().unwrap();
        let file = file_of(r);
        let v = &r["verdict"];
        let qemu = qemu_run(platform, &file);
        assert_cell(id, "qemu_user", &v["qemu_user"], prints_cell(&qemu));
        let native = platform == host || (host == "linux/amd64" && platform == "linux/386");
        let local = if native {
            run_file(&file, Stdout::Pipe, None, None)
        } else {
            qemu
        };
        assert_cell(id, "prints", &v["prints"], prints_cell(&local));
        if native {
            assert_cell(
                id,
                "dev_full",
                &v["dev_full"],
                fails_cell(&run_file(&file, Stdout::DevFull, None, None)),
            );
        } else {
            for key in ["ulimit_v_256", "uid_65534_min_addr"] {
                assert!(
                    v[key].as_str().unwrap().starts_with("not checked: "),
                    "{id} {key}: {}",
                    v[key]
                );
            }
        }
    }
    if host == "linux/amd64" {
        let tiny = row(run, "hello-linux-amd64-tiny");
        assert!(
            tiny["verdict"]["qemu_user"]
                .as_str()
                .unwrap()
                .starts_with("no: "),
            "amd64 tiny under qemu: {}",
            tiny["verdict"]["qemu_user"]
        );
        assert_eq!(row(run, "hello-linux-amd64-compat")["well_behaved"], "yes");
    }
}

/// The README's headline is the report's, and true: the image it names passes
/// all seven checks, and no contender smaller than it does.
#[test]
fn headline_names_the_smallest_well_behaved_image() {
    let Some(run) = report() else { return };
    let headline = run.json["headline"].as_str().unwrap();
    assert_eq!(
        run.committed_headline, headline,
        "README.md's headline differs from the report's: put this between <!-- BEGIN headline --> and <!-- END headline --> (or run `cargo xtask report --update-docs`):\n{headline}"
    );
    let best = rows(run)
        .iter()
        .filter(|r| r["kind"] == "ours" && r["well_behaved"] == "yes")
        .min_by_key(|r| r["image_bytes"].as_u64().unwrap())
        .expect("no image of ours is well-behaved");
    for (key, _) in run.json["checks_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["key"].as_str().unwrap(), ()))
    {
        assert_eq!(best["verdict"][key], "yes", "{} {key}", best["id"]);
    }
    let bytes = best["image_bytes"].as_u64().unwrap();
    assert!(
        headline.contains(&format!(
            "{bytes} bytes for {} (`{}` layout)",
            best["platform"].as_str().unwrap(),
            best["layout"].as_str().unwrap()
        )),
        "the headline does not name {}: {headline}",
        best["id"]
    );
    // Every smaller row is told, with its size and its verdict in words:
    // smaller than this machine's platform's image where that is named too.
    let host = run.json["host"].as_str().unwrap();
    let host_best = rows(run)
        .iter()
        .filter(|r| r["kind"] == "ours" && r["well_behaved"] == "yes" && r["platform"] == host)
        .min_by_key(|r| r["image_bytes"].as_u64().unwrap());
    let mut named = vec![best];
    named.extend(
        host_best.filter(|h| headline.contains(&format!("{} bytes for {host}", h["image_bytes"]))),
    );
    let largest = named
        .iter()
        .map(|r| r["image_bytes"].as_u64().unwrap())
        .max()
        .unwrap();
    for r in rows(run)
        .iter()
        .filter(|r| !named.iter().any(|n| n["id"] == r["id"]))
    {
        let size = r["image_bytes"]
            .as_u64()
            .or_else(|| (r["kind"] == "reference").then(|| r["published"]["bytes"].as_u64())?);
        let Some(size) = size.filter(|&s| s < largest) else {
            continue;
        };
        let w = r["well_behaved"].as_str().unwrap();
        let words = w
            .strip_prefix("no: fails ")
            .or_else(|| w.strip_prefix("no: "))
            .or_else(|| w.strip_prefix("not checked: "))
            .unwrap_or(match w {
                "yes" => "all seven checks",
                _ => "published figure",
            });
        assert!(
            headline.contains(&format!("({size} bytes)")) && headline.contains(words),
            "{} ({size} bytes, well-behaved: {w}) is smaller than the headline's image, and the headline does not say so: {headline}",
            r["id"]
        );
    }
}

#[test]
fn run_costs_are_measured_against_nostartfiles() {
    let Some(run) = report() else { return };
    assert_eq!(run.json["baseline"], "gcc-nostartfiles");
    let base = row(run, "gcc-nostartfiles");
    for key in ["exec", "docker_run"] {
        assert_eq!(
            base[key]["ratio_to_baseline"].as_f64(),
            Some(1.0),
            "the baseline's own {key} ratio"
        );
    }
    for r in rows(run) {
        let id = r["id"].as_str().unwrap();
        for key in ["exec", "docker_run"] {
            let t = &r[key];
            if t.is_null() {
                continue;
            }
            let quotient =
                t["median_ns"].as_f64().unwrap() / base[key]["median_ns"].as_f64().unwrap();
            let ratio = t["ratio_to_baseline"].as_f64().unwrap();
            assert!(
                (ratio - quotient).abs() <= 1e-12 * quotient,
                "{id} {key}: ratio {ratio}, medians' quotient {quotient}"
            );
            assert!(
                t["runs"].as_u64().unwrap() >= if key == "exec" { 200 } else { 20 },
                "{id}: {t}"
            );
        }
        // Every file that runs here is timed.
        if r["status"] == "prints" && r["kind"] != "cheat" {
            let native = r["platform"] == run.json["host"]
                || (run.json["host"] == "linux/amd64" && r["platform"] == "linux/386");
            assert_eq!(!r["exec"].is_null(), native, "{id}: exec timing");
        }
    }
    for id in ["hello-linux-amd64-tiny", "hello-linux-amd64-compat"] {
        assert!(
            !row(run, id)["docker_run"].is_null(),
            "{id}: docker run timing"
        );
    }
    // perf: each event is counted for every file run here, or shows why not in the table.
    let perf = &run.json["perf"];
    for e in perf["counted"].as_array().unwrap() {
        let key = if e == "page-faults" {
            "page_faults"
        } else {
            "instructions_u"
        };
        for r in rows(run).iter().filter(|r| !r["exec"].is_null()) {
            assert!(r[key].as_f64().is_some(), "{}: no {key}", r["id"]);
        }
    }
    for u in perf["unavailable"].as_array().unwrap() {
        let cell = u["cell"].as_str().unwrap();
        assert!(cell.starts_with("unavailable: "), "{u}");
        assert!(
            run.stdout.contains(&format!("| {cell} |")),
            "the table does not say `{cell}` for {}",
            u["event"]
        );
    }
    let ours = row(run, "hello-linux-amd64-tiny");
    eprintln!(
        "exec ratio of hello tiny to gcc -nostartfiles: {} (issue 7 expects <= 1.05); docker run ratio: {}",
        ours["exec"]["ratio_to_baseline"], ours["docker_run"]["ratio_to_baseline"]
    );
}

/// The report writes under target/ only: docs/sizes.svg and README.md are
/// rewritten only with --update-docs (or HELLO_UPDATE_README).
#[test]
fn report_leaves_the_checkout_as_it_was() {
    let Some(run) = report() else { return };
    assert_checkout_unchanged(
        &run.checkout_before,
        &run.checkout_after,
        "report --exec-runs 200 --docker-runs 20",
    );
}

/// Issue 7's sanity figures, deterministic: image sizes.
#[test]
fn ours_is_far_smaller_than_the_classics() {
    let Some(run) = report() else { return };
    let size = |id: &str| row(run, id)["image_bytes"].as_u64().unwrap();
    let ours = size("hello-linux-amd64-tiny");
    assert!(
        ours * 50 <= size("musl-hello-world"),
        "ours {ours} vs musl {}",
        size("musl-hello-world")
    );
    assert!(
        ours * 20 <= size("tcc"),
        "ours {ours} vs tcc {}",
        size("tcc")
    );
}

/// Check 5's setting, apart from the report: `MinAddr::set` sets 65536 under
/// the lock and its drop restores what it found; while it is set, uid 65534
/// cannot run check 5's control (it loads at 0x1000) and can run a file that
/// loads above 65536, and at 4096 it runs the control. Two holders at once
/// (threads, each with its own lock file description, as two runs have) both
/// see 65536 for as long as they hold it.
#[test]
fn check_5_setting_is_set_restored_and_exclusive() {
    let test = "tests/report.rs check 5's setting";
    if !is_root() {
        skip(
            test,
            "the tests do not run as root, so they cannot set vm.mmap_min_addr or switch to uid 65534",
            "run the tests as root (CI does)",
        );
        return;
    }
    if !tool_available(test, "nasm", "apt-get install -y nasm") {
        return;
    }
    let dir = nasm_dir("min-addr");
    let control = nasm(&dir, "below-min-addr.asm");
    let above = nasm(&dir, "hello-x86_64.asm");
    let nobody = |file: &Path| run_file(file, Stdout::Pipe, Some(65534), None);
    // Start from 4096, below the value to set, whatever this machine's is.
    let restore = {
        let _lock = min_addr::lock().unwrap();
        let found = min_addr_now();
        std::fs::write(min_addr::PATH, "4096").unwrap();
        Restore(found)
    };

    let set = MinAddr::set();
    assert!(!matches!(set, MinAddr::Cannot(_)), "MinAddr::set as root");
    assert_eq!(min_addr_now(), "65536", "MinAddr::set did not set it");
    assert_eq!(set.old(), Some("4096"), "the value it will restore");
    let low = nobody(&control);
    assert!(
        !low.status.success() && low.stdout.is_empty(),
        "uid 65534 ran a file loading at 0x1000 with vm.mmap_min_addr = 65536: {:?}",
        low.status
    );
    assert_eq!(
        prints_cell(&nobody(&above)),
        Ok(()),
        "uid 65534, a file above 65536"
    );
    drop(set);
    {
        let _lock = min_addr::lock().unwrap();
        assert_eq!(min_addr_now(), "4096", "MinAddr's drop did not restore it");
        assert_eq!(
            prints_cell(&nobody(&control)),
            Ok(()),
            "the control at 4096"
        );
    }

    // Two at once: B asks while A holds it, and each watches the value while
    // it holds it, A for 150 ms and B for 300 ms: B is still watching when A
    // has done.
    let watch = |held: Option<std::sync::mpsc::Sender<()>>, reads: u32| {
        let set = MinAddr::set();
        if let Some(held) = held {
            held.send(()).unwrap();
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..reads {
            seen.insert(min_addr_now());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(set);
        seen
    };
    let (held, asked) = std::sync::mpsc::channel();
    let a = std::thread::spawn(move || watch(Some(held), 15));
    asked.recv().unwrap();
    let b = std::thread::spawn(move || watch(None, 30));
    let only = std::collections::BTreeSet::from(["65536".to_string()]);
    assert_eq!(a.join().unwrap(), only, "run A's check 5 saw");
    assert_eq!(b.join().unwrap(), only, "run B's check 5 saw");
    drop(restore);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Check 5 fails its control, the file that loads at 0x1000, in the report's
/// own run; the plain checks 1 to 3 pass it, so the failure is check 5's.
#[test]
fn check_5_fails_its_control() {
    let Some(run) = report() else { return };
    let r = row(run, "below-min-addr");
    let v = &r["verdict"];
    for key in ["prints", "dev_full", "closed_stdout"] {
        assert_eq!(v[key], "yes", "below-min-addr {key}");
    }
    let cell = v["uid_65534_min_addr"].as_str().unwrap();
    if !is_root() {
        assert!(cell.starts_with("not checked: needs root"), "{cell}");
        return;
    }
    assert!(
        cell.starts_with("no: "),
        "check 5 passed a file that loads at 0x1000: {cell}"
    );
    let failed = r["well_behaved"].as_str().unwrap();
    assert!(
        failed
            .strip_prefix("no: fails check ")
            .is_some_and(|n| n.split(", ").any(|n| n == "5")),
        "{failed}"
    );
}
