//! `dist` for a platform this machine cannot run: it builds the file and the
//! image, says in one line what it did not run, why and the command that fixes
//! it, and exits 0, or 1 with `--require-run`. A machine without qemu's
//! binfmt_misc entries is played by an empty HELLO_BINFMT_DIR, one without
//! qemu-user by a PATH without it.
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A platform this machine's kernel does not run, and qemu's name for it.
fn foreign() -> (&'static str, &'static str) {
    if std::env::consts::ARCH == "aarch64" {
        ("linux/amd64", "qemu-x86_64")
    } else {
        ("linux/arm64", "qemu-aarch64")
    }
}

fn dir_name(platform: &str) -> String {
    platform.replace('/', "-")
}

/// `cargo xtask ARGS` with `env` set; caller holds `lock()`.
fn xtask_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).current_dir(root()).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the xtask binary")
}

/// A fresh empty directory under target/.
fn empty_dir(name: &str) -> PathBuf {
    let dir = root()
        .join("target/test-foreign")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lines of `out`'s stdout that start with `not run: `.
fn not_run_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("not run: "))
        .map(str::to_string)
        .collect()
}

fn show(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn binfmt_entries_parse_and_match_as_the_kernel_does() {
    let text = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\
        flags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n\
        mask ffffffffffffff00fffffffffffffffffeffffff\n";
    let e = binfmt::Entry::parse("qemu-aarch64", text).unwrap();
    assert!(e.enabled && e.fixed());
    assert_eq!(e.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
    let mut header =
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00".to_vec();
    assert!(e.matches(&header));
    header[7] = 3; // EI_OSABI: the mask ignores it
    assert!(e.matches(&header));
    header[16] = 3; // e_type ET_DYN: the mask ignores its low bit
    assert!(e.matches(&header));
    header[18] = 0x3e; // e_machine EM_X86_64
    assert!(!e.matches(&header));
    assert!(!e.matches(&header[..10]), "a short file never matches");
    let disabled = text.replacen("enabled", "disabled", 1);
    assert!(
        !binfmt::Entry::parse("qemu-aarch64", &disabled)
            .unwrap()
            .enabled
    );
}

#[test]
fn dist_without_binfmt_builds_the_image_and_says_why_in_one_line() {
    let test = "dist_without_binfmt_builds_the_image_and_says_why_in_one_line";
    if !docker_available(test) {
        return;
    }
    let (platform, qemu) = foreign();
    let empty = empty_dir("binfmt");
    let tag = own_tag(&format!("foreign-{}", dir_name(platform)));
    let _g = lock();
    for require in [false, true] {
        let mut args = vec!["dist", "--platform", platform, "--tag", &tag];
        if require {
            args.push("--require-run");
        }
        let out = xtask_env(&args, &[("HELLO_BINFMT_DIR", empty.as_os_str())]);
        // Without qemu-user on PATH, dist also says that the file was not run
        // (the test below checks that line).
        let lines: Vec<String> = not_run_lines(&out)
            .into_iter()
            .filter(|l| !l.contains("under qemu-user"))
            .collect();
        assert_eq!(
            lines,
            [format!(
                "not run: docker run --platform {platform} {tag} (the image is built): \
                 binfmt_misc has no entries in {}; to run it: {}",
                empty.display(),
                binfmt::fix(qemu)
            )],
            "cargo xtask {}: one line saying what was not run, why and the fix\n{}",
            args.join(" "),
            show(&out)
        );
        let want = if require { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(want), "{}", show(&out));
        if require {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("error: --require-run: ")
                    && stderr.contains(&format!(
                        "{tag} (the image is built): binfmt_misc has no entries"
                    )),
                "{stderr}"
            );
        }
        // The image was built all the same, with the file in it.
        let size = docker(&["image", "inspect", "--format", "{{.Size}}", &tag]);
        let file = root()
            .join("target/dist")
            .join(dir_name(platform))
            .join("hello");
        assert_eq!(
            String::from_utf8_lossy(&size.stdout).trim(),
            std::fs::metadata(&file).unwrap().len().to_string(),
            "docker image inspect {tag}: {}",
            String::from_utf8_lossy(&size.stderr)
        );
        docker(&["rmi", &tag]);
    }
    std::fs::remove_dir_all(&empty).unwrap();
}

/// A binfmt_misc entry as the kernel prints it in `<dir>/<name>`: `magic` is
/// the first bytes of a file, matched under a mask of 0xff (every bit).
fn entry_text(enabled: bool, flags: &str, magic: &[u8]) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}\ninterpreter /usr/libexec/qemu-binfmt/fake-binfmt-P\nflags: {flags}\noffset 0\n\
         magic {}\nmask {}\n",
        if enabled { "enabled" } else { "disabled" },
        hex(magic),
        hex(&vec![0xff; magic.len()])
    )
}

/// Each way `binfmt::for_container` refuses a foreign file, played by a fake
/// HELLO_BINFMT_DIR: binfmt_misc disabled as a whole, no entry matching the
/// file, the matching entry disabled, the matching entry without the F flag.
/// `dist` builds the image and says which in its `not run:` line. Then a
/// directory holding all of those and one enabled F-flagged matching entry:
/// dist picks that one and runs the image.
#[test]
fn dist_names_each_binfmt_refusal_and_picks_the_usable_entry() {
    let test = "dist_names_each_binfmt_refusal_and_picks_the_usable_entry";
    if !docker_available(test) {
        return;
    }
    let (platform, qemu) = foreign();
    let tag = own_tag(&format!("binfmt-{}", dir_name(platform)));
    let _g = lock();
    xtask_ok(&["dist", "--platform", platform, "--no-docker"]);
    let file = root()
        .join("target/dist")
        .join(dir_name(platform))
        .join("hello");
    let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let magic = &bytes[..20];
    // The same header with another e_machine: an entry for another architecture.
    let mut other = magic.to_vec();
    other[18] ^= 0xff;
    let fake = |name: &str, files: &[(&str, String)]| {
        let dir = empty_dir(name);
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        std::fs::write(dir.join("register"), "").unwrap();
        dir
    };
    let enabled_f = entry_text(true, "PF", magic);
    let cases = [
        (
            fake(
                "status-disabled",
                &[("status", "disabled\n".into()), ("m", enabled_f.clone())],
            ),
            "binfmt_misc is disabled ({dir}/status)".to_string(),
        ),
        (
            fake(
                "no-match",
                &[
                    ("status", "enabled\n".into()),
                    ("other", entry_text(true, "PF", &other)),
                ],
            ),
            "no binfmt_misc entry in {dir} matches the file's header (entries: other)".into(),
        ),
        (
            fake(
                "entry-disabled",
                &[
                    ("status", "enabled\n".into()),
                    ("m", entry_text(false, "PF", magic)),
                ],
            ),
            "the binfmt_misc entry m is disabled".into(),
        ),
        (
            fake(
                "no-f-flag",
                &[
                    ("status", "enabled\n".into()),
                    ("m", entry_text(true, "P", magic)),
                ],
            ),
            "the binfmt_misc entry m lacks the F flag (flags `P`), so its interpreter \
             /usr/libexec/qemu-binfmt/fake-binfmt-P cannot be found inside a container"
                .into(),
        ),
    ];
    for (dir, why) in &cases {
        let why = why.replace("{dir}", &dir.display().to_string());
        let args = ["dist", "--platform", platform, "--tag", &tag];
        let out = xtask_env(&args, &[("HELLO_BINFMT_DIR", dir.as_os_str())]);
        assert_eq!(
            not_run_lines(&out),
            [format!(
                "not run: docker run --platform {platform} {tag} (the image is built): \
                 {why}; to run it: {}",
                binfmt::fix(qemu)
            )],
            "HELLO_BINFMT_DIR={} cargo xtask {}\n{}",
            dir.display(),
            args.join(" "),
            show(&out)
        );
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        std::fs::remove_dir_all(dir).unwrap();
    }

    // Every refusal above beside one usable entry, sorted last: dist runs the
    // image through it (the kernel's own entry does the run).
    if binfmt_available(test, qemu, &file) {
        let dir = fake(
            "usable",
            &[
                ("status", "enabled\n".into()),
                ("a-disabled", entry_text(false, "PF", magic)),
                ("b-no-f-flag", entry_text(true, "P", magic)),
                ("c-other", entry_text(true, "PF", &other)),
                ("d-usable", enabled_f),
            ],
        );
        let args = [
            "dist",
            "--platform",
            platform,
            "--tag",
            &tag,
            "--require-run",
        ];
        let out = xtask_env(&args, &[("HELLO_BINFMT_DIR", dir.as_os_str())]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!(
                "{platform}: runs through binfmt_misc entry d-usable \
                 (/usr/libexec/qemu-binfmt/fake-binfmt-P)\n"
            )) && not_run_lines(&out).is_empty(),
            "HELLO_BINFMT_DIR={} cargo xtask {}: dist must pick d-usable\n{}",
            dir.display(),
            args.join(" "),
            show(&out)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    docker(&["rmi", &tag]);
}

/// A PATH of symlinks to every program on this PATH but qemu-user's.
fn path_without_qemu() -> PathBuf {
    let bin = empty_dir("path");
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let link = bin.join(&name);
            if name.to_string_lossy().starts_with("qemu-") || link.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), &link).unwrap();
        }
    }
    bin
}

#[test]
fn dist_without_qemu_builds_the_file_and_says_why_in_one_line() {
    let (platform, qemu) = foreign();
    let bin = path_without_qemu();
    let _g = lock();
    let file = root()
        .join("target/dist")
        .join(dir_name(platform))
        .join("hello");
    let _ = std::fs::remove_file(&file);
    for require in [false, true] {
        let mut args = vec!["dist", "--platform", platform, "--no-docker"];
        if require {
            args.push("--require-run");
        }
        let out = xtask_env(&args, &[("PATH", bin.as_os_str())]);
        let lines = not_run_lines(&out);
        assert_eq!(
            lines,
            [format!(
                "not run: {} under qemu-user (the file is built): neither {qemu}-static nor \
                 {qemu} is on PATH, and {platform} files need one to run here; to run it: \
                 apt-get install -y qemu-user-static",
                Path::new("target/dist")
                    .join(dir_name(platform))
                    .join("hello")
                    .display()
            )],
            "cargo xtask {}: one line saying what was not run, why and the fix\n{}",
            args.join(" "),
            show(&out)
        );
        assert_eq!(
            out.status.code(),
            Some(if require { 1 } else { 0 }),
            "{}",
            show(&out)
        );
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(&bytes[..4], b"\x7fELF", "{} is built", file.display());
    }
    std::fs::remove_dir_all(&bin).unwrap();
}
