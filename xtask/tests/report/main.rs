//! `cargo xtask report` end to end: it runs to the end and prints its table,
//! every contender it built is run and checked here again (the assembly
//! contenders rebuilt with nasm, samples of the verdict cells recomputed, the
//! 0-byte image run both ways), docs/scoreboard.md's scoreboard, README.md's
//! headline and the committed chart docs/sizes.svg agree with
//! target/report/report.json, and the run leaves the checkout as it was (it
//! writes under target/ only).
#[path = "../common/mod.rs"]
mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use xtask::run::min_addr::{self, MinAddr};

/// common::run, under the name this file uses (run is the report's run here).
fn run_file(file: &Path, stdout: Stdout, uid: Option<u32>, ulimit_kib: Option<u32>) -> Output {
    common::run(file, stdout, uid, ulimit_kib)
}

/// One report run, shared by the tests in this file.
struct Run {
    stdout: String,
    json: Value,
    /// docs/sizes.svg and the two blocks as committed, read before the run.
    committed_svg: String,
    committed_block: String,
    committed_headline: String,
    /// target/report/scoreboard.md: the block to paste.
    block: String,
    /// target/report/sizes.svg: the chart drawn in this run.
    svg: String,
    /// The repository the run tagged its images under (`hello-report-<pid>`).
    images: String,
    /// The checkout right before and after the run (None with HELLO_UPDATE_README).
    checkout_before: Option<Checkout>,
    checkout_after: Option<Checkout>,
}

fn report() -> Option<&'static Run> {
    static RUN: OnceLock<Option<Run>> = OnceLock::new();
    RUN.get_or_init(|| {
        let test = "tests/report.rs (cargo xtask report)";
        if !docker_available(test) {
            return None;
        }
        // Check 7 runs every contender under qemu-user, and these tests run
        // the files again under it: without qemu-user the report's tables
        // cannot match the README's.
        if ["i386", "x86_64", "aarch64"]
            .iter()
            .any(|arch| common::qemu(test, arch).is_none())
        {
            return None;
        }
        let committed_svg = std::fs::read_to_string(root().join("docs/sizes.svg"))
            .expect("read docs/sizes.svg: run `cargo xtask report --update-docs` and commit it");
        let committed_block = page_block("docs/scoreboard.md", "scoreboard");
        let committed_headline = page_block("README.md", "headline");
        let _g = lock();
        let checkout_before = checkout();
        // The fewest timed runs the report accepts: CI proves it works, and
        // asserts no speed.
        // Its images stay for the tests that run them; images_are_what_the_report_says
        // removes them after.
        let out = xtask_ok(&[
            "report",
            "--exec-runs",
            "200",
            "--docker-runs",
            "20",
            "--keep-images",
        ]);
        let checkout_after = checkout();
        let dir = root().join("target/report");
        let json: Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap())
            .expect("target/report/report.json is JSON");
        let images = images_of(&json);
        Some(Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            json,
            committed_svg,
            committed_block,
            committed_headline,
            block: std::fs::read_to_string(dir.join("scoreboard.md")).unwrap(),
            svg: std::fs::read_to_string(dir.join("sizes.svg")).unwrap(),
            images,
            checkout_before,
            checkout_after,
        })
    })
    .as_ref()
}

/// The one repository every row's image is tagged under.
fn images_of(json: &Value) -> String {
    let repos: std::collections::BTreeSet<&str> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["image"].as_str()?.split(':').next())
        .collect();
    assert_eq!(repos.len(), 1, "report.json's images: {repos:?}");
    let repo = repos.into_iter().next().unwrap().to_string();
    assert!(repo.starts_with("hello-report-"), "{repo}");
    repo
}

fn rows(run: &Run) -> &[Value] {
    run.json["rows"].as_array().expect("report.json has rows")
}

fn row<'a>(run: &'a Run, id: &str) -> &'a Value {
    rows(run)
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("report.json has no row {id}"))
}

/// Sizes as `docker images` prints them (three significant digits, powers of 1000).
fn human(bytes: u64) -> String {
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let (v, unit) = if bytes < 999_500 {
        (bytes as f64 / 1e3, "kB")
    } else {
        (bytes as f64 / 1e6, "MB")
    };
    let digits = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

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

/// The row's image, as this run of the report tagged it.
fn image(r: &Value) -> &str {
    r["image"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: report.json names no image", r["id"]))
}

/// Removes the report's images (the tags under its own name) when dropped,
/// after the tests that run them, whether they passed or not.
struct RemoveImages<'a>(&'a Run);

impl Drop for RemoveImages<'_> {
    fn drop(&mut self) {
        if let Err(e) = xtask::run::docker::remove_repository(&self.0.images) {
            eprintln!(
                "could not remove the report's images {}:*: {}",
                self.0.images, e.message
            );
        }
    }
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

/// The file a row's image holds, as the report wrote it.
fn file_of(r: &Value) -> PathBuf {
    root().join(r["file"].as_str().expect("a row with a file"))
}

/// "exit N" or "killed by signal N", as the report's cells say it.
fn status_words(out: &Output) -> String {
    match (out.status.code(), out.status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => unreachable!(),
    }
}

/// Check 1's rule, recomputed here: "yes", or the words the "no" cell must hold.
fn prints_cell(out: &Output) -> Result<(), String> {
    if out.status.code() == Some(0) && out.stdout == MESSAGE {
        Ok(())
    } else {
        Err(status_words(out))
    }
}

/// Checks 2 and 3's rule: the program's own non-zero exit status.
fn fails_cell(out: &Output) -> Result<(), String> {
    match out.status.code() {
        Some(c) if c != 0 => Ok(()),
        _ => Err(status_words(out)),
    }
}

/// The report's cell agrees with what this test saw.
fn assert_cell(id: &str, key: &str, cell: &Value, seen: Result<(), String>) {
    let cell = cell
        .as_str()
        .unwrap_or_else(|| panic!("{id}: no {key} cell"));
    match seen {
        Ok(()) => assert_eq!(cell, "yes", "{id} {key}: the test saw it pass"),
        Err(words) => assert!(
            cell.starts_with("no: ") && cell.contains(&words),
            "{id} {key}: the test saw `{words}`, the report says `{cell}`"
        ),
    }
}

/// The qemu-user program for a Docker platform, with its -cpu, as platform.rs has it.
fn qemu_for(platform: &str) -> (String, Option<&'static str>) {
    let (arch, cpu) = match platform {
        "linux/amd64" => ("x86_64", None),
        "linux/386" => ("i386", None),
        "linux/arm64" => ("aarch64", None),
        "linux/arm/v7" => ("arm", Some("cortex-a7")),
        "linux/arm/v6" => ("arm", Some("arm1176")),
        "linux/arm/v5" => ("arm", Some("arm926")),
        "linux/riscv64" => ("riscv64", None),
        "linux/s390x" => ("s390x", None),
        "linux/ppc64le" => ("ppc64le", None),
        p => panic!("no qemu known for {p}: add it here"),
    };
    (format!("qemu-{arch}-static"), cpu)
}

fn qemu_run(platform: &str, file: &Path) -> Output {
    let (qemu, cpu) = qemu_for(platform);
    let mut c = Command::new(&qemu);
    if let Some(cpu) = cpu {
        c.args(["-cpu", cpu]);
    }
    c.arg(file).stdin(Stdio::null());
    c.output().unwrap_or_else(|e| panic!("run {qemu}: {e}"))
}

/// Every image the report built is run again here, with `docker run
/// --platform` (through qemu and binfmt_misc for other architectures): those
/// it says print must print the message; those it says fail must fail, with a
/// reason.
fn every_contender_is_run_and_failures_say_why(run: &Run) {
    let mut checked = 0;
    for r in rows(run) {
        let id = r["id"].as_str().unwrap();
        let status = r["status"].as_str().unwrap();
        if r["kind"] == "reference" {
            assert_eq!(status, "not-run", "{id}");
            let why = r["reason"].as_str().unwrap();
            assert!(why.starts_with("not measured"), "{id}: {why}");
            assert!(
                r["published"]["source"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
            assert_eq!(r["well_behaved"], "not measured", "{id}");
            continue;
        }
        if r["kind"] == "cheat" {
            continue; // cheat_image_runs_only_with_a_host_volume
        }
        assert!(
            r["file_bytes"].as_u64().is_some(),
            "{id} was not built: {}",
            r["reason"]
        );
        if status != "prints" {
            let why = r["reason"].as_str().unwrap_or_default();
            assert!(!why.is_empty(), "{id} is {status} without a reason");
        }
        let platform = r["platform"].as_str().unwrap();
        let out = docker_run(image(r), &["--platform", platform]);
        let prints = out.status.success() && out.stdout == MESSAGE;
        assert_eq!(
            prints,
            status == "prints",
            "{id}: report.json says {status} ({}), docker run --platform {platform} exited {} with stdout {:?}",
            r["reason"],
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        checked += 1;
    }
    // Every classic contender but the dynamic tcc runs in scratch, and so does
    // every image of ours.
    for id in [
        "busybox",
        "gcc-static",
        "gcc-static-os-s",
        "musl-hello-world",
        "gcc-nostartfiles",
        "tcc-static-musl",
        "nasm-i386",
        "nasm-x86_64",
    ] {
        assert_eq!(row(run, id)["status"], "prints", "{id}");
    }
    for r in rows(run).iter().filter(|r| r["kind"] == "ours") {
        assert_eq!(r["status"], "prints", "{}", r["id"]);
    }
    let tcc = row(run, "tcc");
    assert_eq!(tcc["status"], "fails");
    let why = tcc["reason"].as_str().unwrap();
    assert!(
        why.contains("dynamically linked") && why.contains("ld-linux"),
        "tcc: {why}"
    );
    assert!(checked >= 20, "only {checked} images were checked");
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

/// A directory uid 65534 can reach, holding the message's message.inc.
fn nasm_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hello-report-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bytes: Vec<String> = MESSAGE.iter().map(|b| b.to_string()).collect();
    std::fs::write(
        dir.join("message.inc"),
        format!(
            "MESSAGE_LEN equ {}\n%define MESSAGE db {}\n",
            MESSAGE.len(),
            bytes.join(",")
        ),
    )
    .unwrap();
    dir
}

/// `nasm -f bin` of a source beside the report, into `dir` (from [`nasm_dir`]), mode 0755.
fn nasm(dir: &Path, source: &str) -> PathBuf {
    let out = dir.join(source.trim_end_matches(".asm"));
    let status = Command::new("nasm")
        .args(["-f", "bin"])
        .arg(format!("-I{}/", dir.display()))
        .arg("-o")
        .arg(&out)
        .arg(root().join("xtask/src/tasks/report").join(source))
        .status()
        .unwrap();
    assert!(status.success(), "nasm {source}");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    out
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

/// The assembly contenders' and the control's check 6, their images run here
/// with the hardened flags.
fn assembly_hardened_runs(run: &Run) {
    for (id, platform) in [
        ("nasm-i386", "linux/386"),
        ("nasm-x86_64", "linux/amd64"),
        ("below-min-addr", "linux/amd64"),
    ] {
        let r = row(run, id);
        let hardened = docker_run(image(r), &hardened_flags(platform));
        assert_cell(
            id,
            "hardened_docker_run",
            &r["verdict"]["hardened_docker_run"],
            prints_cell(&hardened),
        );
    }
}

/// The hardened `docker run` flags as report.json records them, for `platform`.
fn hardened_flags(platform: &str) -> Vec<&'static str> {
    let run = report().unwrap();
    let mut flags: Vec<&'static str> = run.json["hardened_docker_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &*String::leak(f.as_str().unwrap().to_string()))
        .collect();
    // common::docker_run gives its own `--network none`, and docker refuses two.
    let net = flags
        .iter()
        .position(|f| *f == "--network")
        .expect("--network");
    assert_eq!(flags[net + 1], "none");
    flags.drain(net..net + 2);
    flags.extend(["--platform", String::leak(platform.to_string())]);
    // The pids limit is there, and leaves runc room to start.
    let pids = flags
        .iter()
        .position(|f| *f == "--pids-limit")
        .expect("a pids limit");
    assert!(flags[pids + 1].parse::<u32>().unwrap() >= 8);
    flags
}

/// The 0-byte image: it fails alone and prints with the volume that holds our file.
fn cheat_image_runs_only_with_a_host_volume(run: &Run) {
    let r = row(run, "cheat-volume");
    assert_eq!(r["image_bytes"], 0, "the cheat's image size");
    let tag = image(r);
    let alone = docker_run(tag, &[]);
    assert!(
        !alone.status.success() && alone.stdout.is_empty(),
        "{tag} ran without its volume: {:?}",
        alone
    );
    assert_cell(
        "cheat-volume",
        "prints",
        &r["verdict"]["prints"],
        prints_cell(&alone),
    );
    let vol = root().join("target/report/cheat-volume/dir");
    let volume = format!("{}:/dir:ro", vol.display());
    let with = docker_run(tag, &["-v", &volume]);
    assert_eq!(
        prints_cell(&with),
        Ok(()),
        "{tag} with -v {volume}: {}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert_eq!(r["with_volume"], "yes");
    assert_eq!(
        r["well_behaved"],
        "no: not self-contained: needs a host volume"
    );
    // It mounted a file of ours.
    let ours = rows(run)
        .iter()
        .find(|o| {
            o["kind"] == "ours" && o["platform"] == run.json["host"] && o["layout"] == "compat"
        })
        .unwrap();
    assert_eq!(
        std::fs::read(vol.join("hello")).unwrap(),
        std::fs::read(file_of(ours)).unwrap()
    );
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

/// `gzip -dc FILE`, by the system's gzip.
fn gunzip(file: &Path) -> Vec<u8> {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(file)
        .output()
        .expect("run gzip");
    assert!(out.status.success(), "gzip -dc {}", file.display());
    out.stdout
}

/// The sizes in report.json, against Docker, the system's gzip, and the OCI
/// layout the image code wrote.
fn sizes_are_what_docker_says(run: &Run) {
    for r in rows(run).iter().filter(|r| r["image_bytes"].is_u64()) {
        let tag = image(r);
        let inspect = docker(&["image", "inspect", "--format", "{{.Size}}", tag]);
        assert_eq!(
            String::from_utf8_lossy(&inspect.stdout).trim(),
            r["image_bytes"].to_string(),
            "{tag}: docker image inspect size"
        );
        if r["kind"] == "cheat" {
            assert_eq!(r["gzip_layer_bytes"], 0, "{tag}: no layer");
            continue;
        }
        // One layer holding the one file; the report's gzip of it, undone by
        // the system's gzip, is the layer `docker save` wrote.
        let save = docker(&["save", tag]);
        assert!(save.status.success(), "docker save {tag}");
        let layers = layer_tars(&save.stdout);
        assert_eq!(layers.len(), 1, "{tag}: layers");
        let gz = root().join(r["gzip_layer_file"].as_str().expect("a gzip_layer_file"));
        assert_eq!(
            std::fs::metadata(&gz).unwrap().len(),
            r["gzip_layer_bytes"].as_u64().unwrap(),
            "{tag}: gzipped layer size"
        );
        assert!(
            gunzip(&gz) == layers[0],
            "{tag}: gzip -dc {} is not the layer",
            gz.display()
        );
        assert!(
            layers[0].len() as u64 > r["file_bytes"].as_u64().unwrap(),
            "{tag}: the layer is smaller than the file"
        );
    }
    // Ours: the pull size is the manifest, config and layer of the row's OCI layout.
    for r in rows(run).iter().filter(|r| r["kind"] == "ours") {
        let id = r["id"].as_str().unwrap();
        let oci = root().join(r["oci_layout"].as_str().expect("an oci_layout"));
        let blob = |digest: &str| {
            std::fs::read(
                oci.join("blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
            .unwrap_or_else(|e| panic!("{id}: blob {digest}: {e}"))
        };
        let index: Value =
            serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
        let image_index: Value =
            serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap()))
                .unwrap();
        let m = &image_index["manifests"][0];
        assert_eq!(m["platform"]["os"], "linux", "{id}: the index's platform");
        let manifest_bytes = blob(m["digest"].as_str().unwrap());
        assert_eq!(
            manifest_bytes.len() as u64,
            m["size"].as_u64().unwrap(),
            "{id}: manifest size"
        );
        let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
        let mut pull = manifest_bytes.len() as u64;
        for d in std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap())
        {
            let b = blob(d["digest"].as_str().unwrap());
            assert_eq!(b.len() as u64, d["size"].as_u64().unwrap(), "{id}: {d}");
            pull += b.len() as u64;
        }
        assert_eq!(Some(pull), r["pull_bytes"].as_u64(), "{id}: pull bytes");
        // The layer, decompressed by the system's gzip, holds the row's file.
        let layer = oci.join("blobs/sha256").join(
            manifest["layers"][0]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:"),
        );
        let tar = gunzip(&layer);
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&tar[124..135]).trim_matches(|c: char| c == '\0' || c == ' '),
            8,
        )
        .unwrap();
        assert_eq!(&tar[..6], b"hello\0", "{id}: the layer's entry");
        assert_eq!(
            tar[512..512 + size],
            std::fs::read(file_of(r)).unwrap()[..],
            "{id}: the layer's file"
        );
    }
}

/// The layer tars of a `docker save` archive, in manifest order.
fn layer_tars(tar: &[u8]) -> Vec<Vec<u8>> {
    let mut files = std::collections::HashMap::new();
    let mut pos = 0;
    while pos + 512 <= tar.len() && tar[pos] != 0 {
        let h = &tar[pos..pos + 512];
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&h[124..135]).trim_matches(|c: char| c == '\0' || c == ' '),
            8,
        )
        .unwrap();
        files.insert(name, tar[pos + 512..pos + 512 + size].to_vec());
        pos += 512 + size.div_ceil(512) * 512;
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| files[l.as_str().unwrap()].clone())
        .collect()
}

/// The cells of a Markdown table's rows (after the header and separator).
fn table_cells(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            l.trim()
                .trim_start_matches("| ")
                .trim_end_matches(" |")
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The committed README block agrees with report.json, row by row: the sizes,
/// the published figures, whether each image runs, and every verdict cell.
#[test]
fn readme_scoreboard_matches_the_report() {
    let Some(run) = report() else { return };
    let paste = || {
        format!(
            "Replace the lines between <!-- BEGIN scoreboard --> and <!-- END scoreboard --> in docs/scoreboard.md (or run `cargo xtask report --update-docs`) with:\n{}",
            run.block
        )
    };
    let lines: Vec<&str> = run.committed_block.lines().collect();
    let sizes = table_cells(&lines);
    assert_eq!(
        sizes.len(),
        rows(run).len(),
        "docs/scoreboard.md scoreboard rows. {}",
        paste()
    );
    for (cells, r) in sizes.iter().zip(rows(run)) {
        let num = |k: &str| r[k].as_u64().map_or("-".to_string(), |v| v.to_string());
        let why = r["reason"].as_str().unwrap_or("");
        let runs = match r["status"].as_str().unwrap() {
            "prints" => "yes".to_string(),
            "fails" => format!("no: {why}"),
            _ => why.to_string(),
        };
        let want = [
            r["label"].as_str().unwrap().to_string(),
            r["platform"].as_str().unwrap().to_string(),
            num("file_bytes"),
            num("image_bytes"),
            num("gzip_layer_bytes"),
            num("pull_bytes"),
            r["published"]["text"].as_str().unwrap_or("").to_string(),
            runs,
            r["well_behaved"].as_str().unwrap().to_string(),
        ];
        assert_eq!(
            cells[..],
            want[..],
            "docs/scoreboard.md scoreboard row {cells:?}. {}",
            paste()
        );
    }
    // The verdict table: one row per contender with a verdict, every cell as report.json has it.
    let start = lines
        .iter()
        .position(|l| l.starts_with("| contender | 1."))
        .unwrap_or_else(|| {
            panic!(
                "docs/scoreboard.md scoreboard has no verdict table. {}",
                paste()
            )
        });
    let verdicts = table_cells(&lines[start..]);
    let keys: Vec<&str> = run.json["checks_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    let with: Vec<&Value> = rows(run)
        .iter()
        .filter(|r| r["verdict"].is_object())
        .collect();
    assert_eq!(
        verdicts.len(),
        with.len(),
        "docs/scoreboard.md verdict rows. {}",
        paste()
    );
    for (cells, r) in verdicts.iter().zip(with) {
        let mut want = vec![r["label"].as_str().unwrap().to_string()];
        want.extend(
            keys.iter()
                .map(|k| r["verdict"][k].as_str().unwrap().to_string()),
        );
        assert_eq!(cells, &want, "docs/scoreboard.md verdict row. {}", paste());
        // Well-behaved is all seven.
        let all = keys.iter().all(|k| r["verdict"][k] == "yes");
        assert_eq!(all, r["well_behaved"] == "yes", "{}", r["id"]);
    }
    assert_eq!(
        run.committed_block,
        run.block,
        "docs/scoreboard.md scoreboard. {}",
        paste()
    );
}

/// The committed chart: one bar per distinct image (ours with equal files on
/// one platform share a bar), labelled, sized and marked as report.json says,
/// largest first, on a log scale.
#[test]
fn chart_matches_the_report() {
    let Some(run) = report() else { return };
    let doc = roxmltree::Document::parse(&run.committed_svg)
        .expect("docs/sizes.svg is not well-formed XML: run `cargo xtask report --update-docs` and commit it");
    let has_class = |n: &roxmltree::Node, c: &str| {
        n.attribute("class")
            .is_some_and(|v| v.split(' ').any(|x| x == c))
    };
    let bars: Vec<(String, String, u64, f64, String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, "row"))
        .map(|g| {
            let child = |c: &str| {
                g.children()
                    .find(|n| has_class(n, c))
                    .unwrap_or_else(|| panic!("a chart row without {c}"))
            };
            let rect = child("bar");
            (
                g.attribute("data-id").unwrap().to_string(),
                child("label").text().unwrap().to_string(),
                rect.attribute("data-bytes").unwrap().parse().unwrap(),
                rect.attribute("width").unwrap().parse().unwrap(),
                child("value").text().unwrap().to_string(),
                rect.attribute("data-well-behaved").unwrap().to_string(),
            )
        })
        .collect();
    // Expected from the rows: ours grouped by platform and file hash.
    let mut want: Vec<(String, String, u64, String)> = Vec::new();
    let mut groups: Vec<(String, String, Vec<&Value>)> = Vec::new();
    for r in rows(run) {
        let Some(bytes) = r["image_bytes"]
            .as_u64()
            .or_else(|| (r["kind"] == "reference").then(|| r["published"]["bytes"].as_u64())?)
        else {
            continue;
        };
        let mark = |r: &Value| match r["well_behaved"].as_str().unwrap() {
            "yes" => "yes",
            "not measured" => "not measured",
            w if w.starts_with("not checked") => "not checked",
            _ => "no",
        };
        if r["kind"] == "ours" {
            let key = (
                r["platform"].as_str().unwrap().to_string(),
                r["file_sha256"].as_str().unwrap().to_string(),
            );
            if let Some(g) = groups
                .iter_mut()
                .find(|g| (g.0.clone(), g.1.clone()) == key)
            {
                g.2.push(r);
            } else {
                groups.push((key.0, key.1, vec![r]));
            }
            continue;
        }
        want.push((
            r["id"].as_str().unwrap().to_string(),
            r["label"].as_str().unwrap().to_string(),
            bytes,
            mark(r).to_string(),
        ));
        let _ = mark;
    }
    for (platform, _, members) in &groups {
        let layouts: Vec<&str> = members
            .iter()
            .map(|m| m["layout"].as_str().unwrap())
            .collect();
        let marks: Vec<&str> = members
            .iter()
            .map(|m| match m["well_behaved"].as_str().unwrap() {
                "yes" => "yes",
                w if w.starts_with("not checked") => "not checked",
                _ => "no",
            })
            .collect();
        let mark = if marks.iter().all(|m| *m == marks[0]) {
            marks[0]
        } else if marks.contains(&"no") {
            "no"
        } else {
            "not checked"
        };
        want.push((
            format!(
                "{}+{}",
                members[0]["id"].as_str().unwrap(),
                layouts[1..].join("+")
            )
            .trim_end_matches('+')
            .to_string(),
            format!("hello {} ({platform})", layouts.join(" and ")),
            members[0]["image_bytes"].as_u64().unwrap(),
            mark.to_string(),
        ));
    }
    // Largest first; equal sizes in the table's order (ours come last in it).
    let order = |id: &str| {
        rows(run)
            .iter()
            .position(|r| {
                let rid = r["id"].as_str().unwrap();
                id == rid || id.starts_with(&format!("{rid}+"))
            })
            .unwrap()
    };
    want.sort_by_key(|w| (std::cmp::Reverse(w.2), order(&w.0)));
    let got: Vec<(String, String, u64, String)> = bars
        .iter()
        .map(|b| (b.0.clone(), b.1.clone(), b.2, b.5.clone()))
        .collect();
    assert_eq!(
        got, want,
        "docs/sizes.svg disagrees with report.json: run `cargo xtask report --update-docs` and commit docs/sizes.svg"
    );
    // Where tiny and compat are the same file, they share a bar.
    for (platform, _, members) in &groups {
        if members.len() == 2 {
            assert!(
                bars.iter()
                    .any(|b| b.1 == format!("hello tiny and compat ({platform})"))
            );
        }
    }
    for b in &bars {
        assert_eq!(b.4, human(b.2), "the value printed beside {}", b.0);
    }
    // A log scale: equal size ratios make equal width differences.
    let wide: Vec<_> = bars.iter().filter(|b| b.3 > 2.0).collect();
    let (first, last) = (wide[0], wide[wide.len() - 1]);
    let px_per_decade = (first.3 - last.3) / ((first.2 as f64).log10() - (last.2 as f64).log10());
    for b in &wide {
        let expect = last.3 + px_per_decade * ((b.2 as f64).log10() - (last.2 as f64).log10());
        assert!(
            (b.3 - expect).abs() < 0.2,
            "bar {} is {} px wide, {expect:.1} on a log scale",
            b.0,
            b.3
        );
    }
    assert_eq!(bars.len(), run.json["chart"].as_array().unwrap().len());
    // Drawn as its verdict says, by the chart's own CSS; and no text cut off.
    let rules = css_rules(&run.committed_svg);
    let mut marks = std::collections::BTreeSet::new();
    for rect in doc.descendants().filter(|n| n.has_tag_name("rect")) {
        let classes: Vec<&str> = rect.attribute("class").unwrap_or("").split(' ').collect();
        if !classes.contains(&"bar") && !classes.contains(&"swatch") {
            continue;
        }
        let mark = rect.attribute("data-well-behaved").unwrap();
        let style = style_of(&rules, &classes);
        if let Err(e) = drawn_as(mark, &style) {
            panic!("docs/sizes.svg: {classes:?}: {e}");
        }
        marks.insert((classes[0], mark));
    }
    for (kind, mark) in &marks {
        if *kind == "bar" {
            assert!(
                marks.contains(&("swatch", mark)),
                "the legend has no {mark} swatch"
            );
        }
    }
    assert_eq!(
        text_overflows(&run.committed_svg, &rules),
        Vec::<String>::new(),
        "docs/sizes.svg"
    );
    // And byte for byte: the committed chart is the one this run drew.
    assert!(
        run.committed_svg == run.svg,
        "docs/sizes.svg differs from target/report/sizes.svg, drawn in this run: \
         run `cargo xtask report --update-docs` and commit docs/sizes.svg"
    );
}

/// A chart's `<style>` rules: (class, [(property, value)]), in order.
fn css_rules(svg: &str) -> Vec<(String, Vec<(String, String)>)> {
    let css = &svg[svg.find("<style>").unwrap() + 7..svg.find("</style>").unwrap()];
    css.split('}')
        .filter_map(|rule| {
            let (selector, body) = rule.split_once('{')?;
            let props = body
                .split(';')
                .filter_map(|p| p.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            Some((selector.trim().trim_start_matches('.').to_string(), props))
        })
        .collect()
}

/// The style the rules give an element with `classes` (later rules win).
fn style_of(
    rules: &[(String, Vec<(String, String)>)],
    classes: &[&str],
) -> std::collections::HashMap<String, String> {
    let mut style = std::collections::HashMap::new();
    for (class, props) in rules {
        if classes.contains(&class.as_str()) {
            style.extend(props.iter().cloned());
        }
    }
    style
}

/// A bar of `mark`, drawn: well-behaved alone solid; failing outlined (a
/// faint fill, a solid stroke); not checked hatched; not measured a dashed
/// outline.
fn drawn_as(mark: &str, style: &std::collections::HashMap<String, String>) -> Result<(), String> {
    let get = |k: &str| style.get(k).map(String::as_str);
    let colour = |k: &str| get(k).is_some_and(|v| v.starts_with('#'));
    let opacity: f64 = get("fill-opacity").map_or(1.0, |v| v.parse().unwrap());
    let dashed = get("stroke-dasharray").is_some();
    let ok = match mark {
        "yes" => colour("fill") && opacity == 1.0 && !dashed,
        "no" => colour("fill") && opacity <= 0.3 && colour("stroke") && !dashed,
        "not checked" => get("fill") == Some("url(#hatch)") && opacity == 1.0 && !dashed,
        "not measured" => opacity == 0.0 && colour("stroke") && dashed,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("a `{mark}` bar is drawn with {style:?}"))
    }
}

/// Every text element whose estimated extent (characters × the average
/// advance, xtask::core::svg::text_width, at its size and weight, placed by
/// its anchor) leaves the viewBox.
fn text_overflows(svg: &str, rules: &[(String, Vec<(String, String)>)]) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let root = doc.root_element();
    let view: Vec<f64> = root
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let base: f64 = root.attribute("font-size").unwrap().parse().unwrap();
    let mut out = Vec::new();
    for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let classes: Vec<&str> = t.attribute("class").unwrap_or("").split(' ').collect();
        let size = style_of(rules, &classes)
            .get("font-size")
            .map(|v| v.trim_end_matches("px").to_string())
            .or(t.attribute("font-size").map(str::to_string))
            .map_or(base, |v| v.parse().unwrap());
        let content = t.text().unwrap_or("");
        let w =
            xtask::core::svg::text_width(content, size, t.attribute("font-weight") == Some("bold"));
        let x: f64 = t.attribute("x").unwrap().parse().unwrap();
        let y: f64 = t.attribute("y").unwrap().parse().unwrap();
        let left = match t.attribute("text-anchor") {
            Some("end") => x - w,
            Some("middle") => x - w / 2.0,
            _ => x,
        };
        if left < view[0]
            || left + w > view[0] + view[2]
            || y - size < view[1]
            || y > view[1] + view[3]
        {
            out.push(format!(
                "{content:?} reaches x {left:.1} to {:.1}, outside the viewBox {view:?}",
                left + w
            ));
        }
    }
    out
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

/// Puts `vm.mmap_min_addr` back as the test found it, even if it panics.
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        let _lock = min_addr::lock().unwrap();
        std::fs::write(min_addr::PATH, &self.0).unwrap();
    }
}

/// `vm.mmap_min_addr` as read now, by uid 0 or not.
fn min_addr_now() -> String {
    min_addr::read().unwrap()
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
