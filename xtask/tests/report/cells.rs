//! What the report's cells must say, judged here apart from the report: each
//! contender run natively, under qemu or in Docker, nasm's contenders, and check 5's setting.

use super::*;

/// The file a row's image holds, as the report wrote it.
pub(crate) fn file_of(r: &Value) -> PathBuf {
    root().join(r["file"].as_str().expect("a row with a file"))
}

/// "exit N" or "killed by signal N", as the report's cells say it.
pub(crate) fn status_words(out: &Output) -> String {
    match (out.status.code(), out.status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => unreachable!(),
    }
}

/// Check 1's rule, recomputed here: "yes", or the words the "no" cell must hold.
pub(crate) fn prints_cell(out: &Output) -> Result<(), String> {
    if out.status.code() == Some(0) && out.stdout == MESSAGE {
        Ok(())
    } else {
        Err(status_words(out))
    }
}

/// Checks 2 and 3's rule: the program's own non-zero exit status.
pub(crate) fn fails_cell(out: &Output) -> Result<(), String> {
    match out.status.code() {
        Some(c) if c != 0 => Ok(()),
        _ => Err(status_words(out)),
    }
}

/// The report's cell agrees with what this test saw.
pub(crate) fn assert_cell(id: &str, key: &str, cell: &Value, seen: Result<(), String>) {
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
pub(crate) fn qemu_for(platform: &str) -> (String, Option<&'static str>) {
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

pub(crate) fn qemu_run(platform: &str, file: &Path) -> Output {
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
pub(crate) fn every_contender_is_run_and_failures_say_why(run: &Run) {
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

/// A directory uid 65534 can reach, holding the message's message.inc.
pub(crate) fn nasm_dir(what: &str) -> PathBuf {
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
pub(crate) fn nasm(dir: &Path, source: &str) -> PathBuf {
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

/// The assembly contenders' and the control's check 6, their images run here
/// with the hardened flags.
pub(crate) fn assembly_hardened_runs(run: &Run) {
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
pub(crate) fn hardened_flags(platform: &str) -> Vec<&'static str> {
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
pub(crate) fn cheat_image_runs_only_with_a_host_volume(run: &Run) {
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

/// Puts `vm.mmap_min_addr` back as the test found it, even if it panics.
pub(crate) struct Restore(pub(crate) String);

impl Drop for Restore {
    fn drop(&mut self) {
        let _lock = min_addr::lock().unwrap();
        std::fs::write(min_addr::PATH, &self.0).unwrap();
    }
}

/// `vm.mmap_min_addr` as read now, by uid 0 or not.
pub(crate) fn min_addr_now() -> String {
    min_addr::read().unwrap()
}
