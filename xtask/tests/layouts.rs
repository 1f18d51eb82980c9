//! The two layouts: sizes and where each runs (tests/explain.rs has `cargo
//! xtask explain`).
mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const LAYOUTS: [(&str, usize); 2] = [("tiny", 120), ("compat", 128)];

/// Builds `layout` with the default message; returns a copy of the file so
/// later builds do not change it under the caller.
fn build(layout: &str) -> (Vec<u8>, PathBuf) {
    xtask_ok(&["dist", "--no-docker", "--layout", layout]);
    let bytes = std::fs::read(dist_file()).unwrap();
    let copy = root().join(format!("target/test-layouts/{layout}/hello"));
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(dist_file(), &copy).unwrap();
    (bytes, copy)
}

#[test]
fn each_layout_within_its_budget() {
    let _g = lock();
    for (layout, budget) in LAYOUTS {
        let (bytes, _) = build(layout);
        assert!(
            bytes.len() <= budget,
            "{layout}: {} bytes, over its budget of {budget}",
            bytes.len()
        );
    }
}

/// The magic and mask qemu registers with binfmt_misc for x86-64 on non-x86
/// hosts: x86_64_magic and x86_64_mask in qemu's scripts/qemu-binfmt-conf.sh.
/// An x86 host registers no such entry, so they are written out here.
const X86_64_MAGIC: [u8; 20] =
    *b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00";
const X86_64_MASK: [u8; 20] =
    *b"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff";

fn matches_binfmt(bytes: &[u8]) -> bool {
    bytes.len() >= 20
        && (0..20).all(|i| bytes[i] & X86_64_MASK[i] == X86_64_MAGIC[i] & X86_64_MASK[i])
}

#[test]
fn default_is_compat_and_matches_qemus_binfmt_entry() {
    let _g = lock();
    // What `dist` builds without --layout, and so what hello:latest, the OCI
    // index and the `docker load` archive hold: it must be the portable file.
    let default = dist_default();
    let (compat, _) = build("compat");
    assert!(
        default == compat,
        "dist's default layout is not compat: {} bytes, compat {}",
        default.len(),
        compat.len()
    );
    assert!(
        matches_binfmt(&default),
        "the default file's first 20 bytes do not match qemu's x86_64 binfmt_misc magic/mask: {:02x?}",
        &default[..20]
    );
    let (tiny, _) = build("tiny");
    assert!(
        !matches_binfmt(&tiny),
        "tiny now matches qemu's binfmt entry; update docs/layouts.md and this test"
    );
}

/// What qemu-x86_64 does with a file: runs it (exact message, status 0, and a
/// non-zero status with `> /dev/full` and with stdout closed, each asserted),
/// or rejects it, with the reason qemu gave.
enum Qemu {
    Runs,
    Rejected(String),
}

/// `qemu-x86_64 FILE` with `stdout`, through `sh` as the native runs are.
fn qemu_run(qemu: &Path, file: &Path, stdout: Stdout) -> std::process::Output {
    let script = match stdout {
        Stdout::Closed => "exec \"$@\" >&-",
        _ => "exec \"$@\"",
    };
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).arg("sh").arg(qemu).arg(file);
    cmd.stdin(Stdio::null());
    match stdout {
        Stdout::DevFull => {
            let full = std::fs::File::options().write(true).open("/dev/full");
            cmd.stdout(full.expect("open /dev/full"));
        }
        _ => {
            cmd.stdout(Stdio::piped());
        }
    }
    cmd.output().expect("run /bin/sh")
}

fn run_qemu(qemu: &Path, file: &Path) -> Qemu {
    let out = qemu_run(qemu, file, Stdout::Pipe);
    if out.status.code() != Some(0) || out.stdout != MESSAGE {
        assert!(
            out.stdout.is_empty(),
            "{}: qemu printed {:?} and exited with {}: neither a run nor a rejection",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            out.status
        );
        // `qemu-x86_64-static: PATH: REASON`: keep the reason.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.trim().rsplit(": ").next().unwrap_or("").to_string();
        return Qemu::Rejected(why);
    }
    for bad in [Stdout::DevFull, Stdout::Closed] {
        let out = qemu_run(qemu, file, bad);
        assert!(
            out.status.code().is_some_and(|c| c != 0),
            "{} under qemu with stdout {bad:?}: expected a non-zero status, got {}",
            file.display(),
            out.status
        );
    }
    Qemu::Runs
}

/// The table's cell for a qemu rejection: qemu's own words, and the cause
/// where the file shows it. qemu's elfload.c rejects a header whose e_ident
/// is not ELFCLASS64 for x86-64 with "Invalid ELF image for this architecture".
fn rejection_cell(file: &[u8], why: &str) -> String {
    if why == "Invalid ELF image for this architecture" && file[4] != 2 {
        format!(
            "no: qemu says \"{why}\" (`EI_CLASS` is {:#04x}, a message byte, not ELFCLASS64)",
            file[4]
        )
    } else {
        format!("no: qemu says \"{why}\"")
    }
}

#[test]
fn default_runs_under_qemu_and_tiny_is_recorded() {
    let test = "default_runs_under_qemu_and_tiny_is_recorded";
    let Some(qemu) = common::qemu(test, "x86_64") else {
        return;
    };
    let _g = lock();
    // The default file, which is compat (default_is_compat_and_matches_qemus_binfmt_entry).
    let _ = dist_default();
    let compat = root().join("target/test-layouts/default/hello");
    std::fs::create_dir_all(compat.parent().unwrap()).unwrap();
    std::fs::copy(dist_file(), &compat).unwrap();
    // A run: exact output and status 0, and non-zero with /dev/full and closed stdout.
    assert!(
        matches!(run_qemu(&qemu, &compat), Qemu::Runs),
        "the default file under qemu-x86_64: see the rejection above"
    );

    // What qemu does with tiny today: it checks EI_CLASS, which holds the message.
    let (bytes, tiny) = build("tiny");
    match run_qemu(&qemu, &tiny) {
        Qemu::Rejected(why) => assert!(
            rejection_cell(&bytes, &why).contains("EI_CLASS"),
            "qemu's behaviour with tiny changed: it now says {why:?}; docs/layouts.md's table will show it"
        ),
        Qemu::Runs => panic!("qemu now runs tiny: docs/layouts.md's table will show it"),
    }
}

/// The three runs every kernel and qemu cell stands for: exact message and
/// status 0, a non-zero status with `> /dev/full`, and with stdout closed.
fn assert_native(file: &Path, uid: Option<u32>, ulimit: Option<u32>) {
    let what = format!("{} (uid {uid:?}, ulimit -v {ulimit:?})", file.display());
    let ok = run(file, Stdout::Pipe, uid, ulimit);
    assert_eq!(
        (ok.status.code(), ok.stdout.as_slice()),
        (Some(0), MESSAGE),
        "{what}: stderr {:?}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for bad in [Stdout::DevFull, Stdout::Closed] {
        let out = run(file, bad, uid, ulimit);
        assert!(
            out.status.code().is_some_and(|c| c != 0 && c != 125),
            "{what} with stdout {bad:?}: expected a non-zero status from the program, got {}",
            out.status
        );
    }
}

/// A container run's cell: the exact message and status 0 (asserted).
fn container_cell(what: &str, out: &std::process::Output) -> String {
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), MESSAGE),
        "{what}: stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    "yes".into()
}

/// The image `podman load` (as `who`) made of `archive`, from its `Loaded
/// image: NAME` line.
fn podman_load(who: As, archive: &Path) -> String {
    let out = podman_as(who, &["load", "-i", archive.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "podman load -i {}: {}{}",
        archive.display(),
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .unwrap_or_else(|| panic!("podman load printed no `Loaded image:` line: {stdout}"))
        .trim()
        .to_string()
}

/// A hardened podman cell: "yes", and the limits its container's cgroup
/// did not hold.
fn limits_cell(limits: &[Limit]) -> String {
    let missing: Vec<String> = limits
        .iter()
        .filter(|l| !l.applied)
        .map(|l| format!("`{}`", l.flag))
        .collect();
    if missing.is_empty() {
        "yes".into()
    } else {
        format!("yes, but without {} (see below)", missing.join(" and "))
    }
}

/// What the legend says of the limits podman (as root or rootless) applied.
fn limits_sentence(who: &str, limits: &[Limit]) -> String {
    let list = |applied: bool| {
        limits
            .iter()
            .filter(|l| l.applied == applied)
            .map(|l| format!("`{}` ({})", l.flag, l.file))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (list(true), list(false)) {
        (yes, no) if no.is_empty() => format!("{who}: applied, {yes}"),
        (yes, no) if yes.is_empty() => format!("{who}: not applied, {no}"),
        (yes, no) => format!("{who}: applied, {yes}; not applied, {no}"),
    }
}

/// Runs every layout wherever this machine can run it, and checks
/// docs/layouts.md's table (and its legend) against what ran. A column that cannot be run here
/// is a loud skip (a failure under HELLO_REQUIRE_TOOLS), its cell says
/// "not run", and docs/layouts.md is then not compared.
#[test]
fn compatibility_matrix_matches_readme() {
    let test = "compatibility_matrix_matches_readme";
    if !docker_available(test) {
        return;
    }
    let qemu = common::qemu(test, "x86_64");
    let with_podman = podman_available(test);
    let root_user = is_root()
        || skip(
            test,
            "the tests do not run as root, so no run as uid 65534",
            "run them as root (CI does)",
        );
    let rootless = if with_podman {
        rootless_podman(test)
    } else {
        None
    };
    let complete = qemu.is_some() && with_podman && root_user && rootless.is_some();
    let _g = lock();
    let mut table = String::from(
        "| layout | bytes | kernel | as uid 65534 | `ulimit -v 256` | `qemu-x86_64` | `docker run` | `podman run` | hardened `docker run`, `podman run` | hardened `podman run`, rootless |\n\
         |---|---:|---|---|---|---|---|---|---|---|\n",
    );
    // What podman said and applied, as root and rootless, for the legend:
    // the same for every layout.
    let mut podman_limits_seen: Option<(Vec<Limit>, Vec<Limit>, String)> = None;
    for (layout, _) in LAYOUTS {
        let tag = own_tag(&format!("layouts-{layout}"));
        xtask_ok(&["dist", "--layout", layout, "--tag", &tag]);
        let bytes = std::fs::read(dist_file()).unwrap();
        // uid 65534 must reach the file: copy it to a 0755 directory.
        let dir = std::env::temp_dir().join(format!("hello-layouts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.join(format!("hello-{layout}"));
        std::fs::copy(dist_file(), &file).unwrap();

        let mut row = vec![layout.to_string(), bytes.len().to_string()];
        assert_native(&file, None, None);
        row.push("yes".into());
        if root_user {
            assert_native(&file, Some(65534), None);
            row.push("yes".into());
        } else {
            row.push("not run (needs root)".into());
        }
        assert_native(&file, None, Some(256));
        row.push("yes".into());
        row.push(match &qemu {
            None => "not run (no qemu-x86_64)".into(),
            Some(q) => match run_qemu(q, &file) {
                Qemu::Runs => "yes".into(),
                Qemu::Rejected(why) => rejection_cell(&bytes, &why),
            },
        });
        let docker_plain = container_cell(&format!("docker run {tag}"), &docker_run(&tag, &[]));
        let docker_hard = container_cell(
            &format!("docker run {} {tag}", HARDENED.join(" ")),
            &docker_run(&tag, HARDENED),
        );
        row.push(docker_plain);
        // The archive dist wrote, tagged with this test's own tag, where the
        // rootless user can read it.
        let archive = dir.join("hello-image.tar");
        std::fs::copy(root().join("target/dist/hello-image.tar"), &archive).unwrap();
        std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut as_root = Vec::new();
        if with_podman {
            let image = podman_load(As::Me, &archive);
            row.push(container_cell(
                &format!("podman run {image}"),
                &podman_run(&image, &[]),
            ));
            container_cell(
                &format!("podman run {} {image}", HARDENED.join(" ")),
                &podman_run(&image, HARDENED),
            );
            as_root = podman_limits(As::Me, &image);
            podman(&["rmi", &image]);
            row.push(limits_cell(&as_root));
        } else {
            row.push("not run (no podman)".into());
            row.push(format!("{docker_hard} (docker only: no podman)"));
        }
        if let Some(rootless) = rootless {
            let image = podman_load(rootless, &archive);
            let mut args = vec!["run", "--rm", "--network", "none"];
            args.extend_from_slice(PODMAN_ULIMITS);
            args.extend_from_slice(HARDENED);
            args.push(&image);
            let out = podman_as(rootless, &args);
            container_cell(&format!("rootless podman {}", args.join(" ")), &out);
            // Podman's own word on the limits, if it says any.
            let said = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| l.contains("limit"))
                .collect::<Vec<_>>()
                .join(" ");
            let limits = podman_limits(rootless, &image);
            podman_as(rootless, &["rmi", &image]);
            row.push(limits_cell(&limits));
            let seen = (as_root, limits, said);
            match &podman_limits_seen {
                None => podman_limits_seen = Some(seen),
                Some(before) => assert_eq!(before, &seen, "podman's limits differ between layouts"),
            }
        } else {
            row.push("not run (no rootless podman)".into());
        }
        table.push_str(&format!("| {} |\n", row.join(" | ")));
        docker(&["rmi", &tag]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    table.push_str(&format!(
        "\n\
         - kernel, as uid 65534, `ulimit -v 256` (KiB) and `qemu-x86_64`: \"yes\" is three runs: \
         the exact message with status 0, a non-zero status with `> /dev/full`, and a \
         non-zero status with stdout closed.\n\
         - `docker run`, `podman run` and hardened: \"yes\" is the exact message with status 0. \
         Only that: a container's stdout is a pipe to the engine, which copies it to the \
         client, and a `FROM scratch` image has no shell to redirect it, so `> /dev/full` \
         and a closed stdout cannot be set up inside the container.\n\
         - hardened: `{}` (podman also with `{}`, which this machine's rlimits need).\n",
        HARDENED.join(" "),
        PODMAN_ULIMITS.join(" ")
    ));
    if let Some((as_root, rootless, said)) = &podman_limits_seen {
        table.push_str(&format!(
            "- podman's limits, read back from the container's cgroup (`podman create`, \
             `podman init`, then the files of its process's cgroup) on this machine (cgroup v{}): \
             {}; {}.{} Docker's are not read back here.\n",
            if rootless
                .iter()
                .chain(as_root)
                .any(|l| l.file == "memory.max")
            {
                2
            } else {
                1
            },
            limits_sentence("as root", as_root),
            limits_sentence("rootless (as an unprivileged user)", rootless),
            if said.is_empty() {
                String::new()
            } else {
                format!(" Rootless podman says: \"{said}\".")
            }
        ));
    }
    if complete {
        assert_page_block("docs/layouts.md", "layouts", &table);
    } else {
        eprintln!(
            "the table as measured here (not compared with docs/layouts.md: a column was not run):\n{table}"
        );
    }
}
