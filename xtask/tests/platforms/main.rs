//! Every platform Docker's own `hello-world` supports: each file is within its
//! limit (160 bytes, 192 for ppc64le), prints exactly the message, fails on
//! /dev/full, runs under qemu-user and matches qemu's binfmt_misc entry (the
//! default layout is the portable one), and its image runs with
//! `docker run --platform`. Files for other architectures run under
//! qemu-user (Debian's qemu-user-static), which `.ci/run` installs.
#[path = "../common/mod.rs"]
mod common;

mod armv5;
mod cases;

use cases::*;
use common::*;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[test]
fn every_platform_is_small_and_runs() {
    let _g = lock();
    xtask_ok(&["dist", "--platform", "all", "--no-docker"]);
    for case in CASES {
        let file = case.file();
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            bytes.len() <= limit(case),
            "{}: {} bytes, over {}",
            case.docker,
            bytes.len(),
            limit(case)
        );
        assert_runs(case, &file, MESSAGE);
        // The default layout is the portable one on every platform: the file
        // matches qemu's binfmt_misc entry, and a host of another architecture
        // runs it under qemu-user, as Docker would (amd64 and 386 too).
        assert_binfmt(case, &file, MESSAGE);
        if case.native() && qemu_here(case) {
            let out = run_case(case, &file, Stdout::Pipe, Some(4096));
            assert_eq!(
                (out.status.code(), out.stdout.as_slice()),
                (Some(0), MESSAGE),
                "{} under qemu-{}: {}",
                file.display(),
                case.qemu,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn i386_runs_natively_in_both_layouts() {
    let case = CASES.iter().find(|c| c.docker == "linux/386").unwrap();
    if !case.native() {
        // The other tests run i386 under qemu; the native claim needs x86-64.
        skip(
            "i386_runs_natively_in_both_layouts",
            &format!(
                "this is an {} machine, and only an x86-64 kernel runs i386 files itself",
                std::env::consts::ARCH
            ),
            "run the tests on an x86-64 machine (CI does)",
        );
        return;
    }
    let _g = lock();
    for layout in ["tiny", "compat"] {
        xtask_ok(&[
            "dist",
            "--platform",
            "linux/386",
            "--layout",
            layout,
            "--no-docker",
        ]);
        // As root, as uid 65534, and under `ulimit -v 256`.
        assert_behaves(&case.file(), MESSAGE);
        if layout == "compat" {
            assert_binfmt(case, &case.file(), MESSAGE);
            assert_runs(&Case { cpu: None, ..*case }, &case.file(), MESSAGE);
            // qemu-i386 with every page size: x86_compat_runs_under_qemu_with_every_page_size.
        } else {
            let bytes = std::fs::read(case.file()).unwrap();
            assert!(
                bytes.len() < 96,
                "the tiny i386 file has {} bytes",
                bytes.len()
            );
        }
    }
}

/// Page sizes the x86 compat files are run with under qemu: 4K, which x86
/// kernels use, and the 16K and 64K of other kernels, which the 64 KiB aligned
/// load address is for.
const X86_QEMU_PAGES: [u32; 3] = [4096, 16384, 65536];

#[test]
fn x86_compat_runs_under_qemu_with_every_page_size() {
    let test = "x86_compat_runs_under_qemu_with_every_page_size";
    let _g = lock();
    for docker in ["linux/amd64", "linux/386"] {
        let case = CASES.iter().find(|c| c.docker == docker).unwrap();
        if !qemu_available(test, case.qemu) {
            continue;
        }
        xtask_ok(&[
            "dist",
            "--platform",
            docker,
            "--layout",
            "compat",
            "--no-docker",
        ]);
        // Some(page) runs under qemu even on this x86-64 machine, which runs the
        // file natively otherwise: exact stdout, status 0, and a non-zero status
        // with /dev/full and with stdout closed, for each page size.
        let pages: Vec<Option<u32>> = X86_QEMU_PAGES.iter().copied().map(Some).collect();
        assert_runs_with(case, &case.file(), MESSAGE, &pages);
    }
}

/// Where each platform's file must load, per layout: 0x10000 (the usual
/// vm.mmap_min_addr, and 64 KiB aligned), except 386's `tiny`, whose p_vaddr
/// bits 16..31 are e_phentsize (32): 0x200000.
fn expected_load_address(platform: &platform::Platform, layout: platform::Layout) -> u64 {
    match (platform.docker, layout) {
        ("linux/386", platform::Layout::Tiny) => 0x20_0000,
        _ => 0x1_0000,
    }
}

/// Reads every shipped file's program header, for every platform and layout
/// `dist` builds: well formed (every rule elf::check enforces, decoded here
/// independently), loaded exactly where expected, and mapping one 4 KiB page
/// (so also one page of 16K or 64K, from a 64 KiB aligned address). Also the
/// README's load-address claims.
#[test]
fn every_file_loads_at_its_address_and_maps_one_page() {
    let _g = lock();
    let mut i386_tiny = None;
    for layout in platform::Layout::ALL {
        xtask_ok(&[
            "dist",
            "--platform",
            "all",
            "--layout",
            layout.name(),
            "--no-docker",
        ]);
        for p in platform::PLATFORMS {
            let file = root().join("target/dist").join(p.dir_name()).join("hello");
            let what = format!("{} {} ({})", p.docker, layout.name(), file.display());
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{what}: {e}"));
            let f = assert_well_formed(&bytes, p, &what);
            let load = f.load_address();
            assert_eq!(
                load,
                expected_load_address(p, layout),
                "{what}: load address {load:#x}; see HELLO_BASE in the linker script for {} {} (hello/build.rs)",
                p.arch(),
                layout.name()
            );
            // The segment, from the start of p_vaddr's page to its end.
            let first_page = f.p_vaddr & !0xfff;
            let end = f.p_vaddr + f.p_memsz;
            assert!(
                end - first_page <= 4096,
                "{what}: the segment spans {first_page:#x}..{end:#x}, more than one 4 KiB page"
            );
            if p.docker == "linux/386" && layout == platform::Layout::Tiny {
                i386_tiny = Some(load);
            }
        }
    }
    // docs/platforms.md's "386 ... loaded at 0x200000".
    let i386_tiny = i386_tiny.expect("PLATFORMS has linux/386");
    assert_page_block(
        "docs/platforms.md",
        "load-386",
        &format!("loaded at {i386_tiny:#x}"),
    );
    // The README's opening "loads at 0x10000 and maps one page": the default build.
    let bytes = dist_default();
    let host = platform::Platform::host().expect("this machine's platform is built");
    let f = assert_well_formed(&bytes, host, "target/dist/hello");
    let pages = (f.p_vaddr + f.p_memsz).div_ceil(4096) - f.p_vaddr / 4096;
    assert_page_block(
        "README.md",
        "load",
        &format!(
            "loads at {:#x} and maps {}",
            f.load_address(),
            if pages == 1 {
                "one page".to_string()
            } else {
                format!("{pages} pages")
            }
        ),
    );
}

#[test]
fn message_and_layout_work_for_every_platform() {
    let _g = lock();
    // 3 bytes fit every layout's header slot; 40 bytes fit none.
    let short: &[u8] = b"Hi\n";
    let long: &[u8] = b"Hello from a message too long for slots\n";
    for message in [short, long] {
        let text = std::str::from_utf8(message).unwrap();
        xtask_ok(&[
            "dist",
            "--platform",
            "all",
            "--no-docker",
            "--message",
            text,
        ]);
        for case in CASES {
            assert_runs(case, &case.file(), message);
        }
    }
    // The tiny layout of every platform but amd64 (tests/layouts.rs has it):
    // the kernel-only record on 386, the compat file elsewhere.
    for case in CASES.iter().filter(|c| c.docker != "linux/amd64") {
        xtask_ok(&[
            "dist",
            "--platform",
            case.docker,
            "--layout",
            "tiny",
            "--no-docker",
        ]);
        assert_runs(case, &case.file(), MESSAGE);
        if !case.native() {
            assert_binfmt(case, &case.file(), MESSAGE);
        }
    }
}

#[test]
fn docker_runs_every_platform() {
    if !docker_available("docker_runs_every_platform") {
        return;
    }
    let _g = lock();
    for case in CASES {
        // An image under this test run's own tag: other checkouts share the
        // engine, and dist's default hello:<os>-<arch> is theirs too.
        let tag = own_tag(&case.dir());
        xtask_ok(&["dist", "--platform", case.docker, "--tag", &tag]);
        let test = format!("docker_runs_every_platform ({})", case.docker);
        if !case.native() && !binfmt_available(&test, &format!("qemu-{}", case.qemu), &case.file())
        {
            docker(&["rmi", &tag]);
            continue;
        }
        let args = [
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "none",
            "--platform",
            case.docker,
            &tag,
        ];
        let out = docker(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, MESSAGE, "docker {}", args.join(" "));

        // The hardened run. Under emulation qemu-user runs in the container
        // too, and starts a thread of its own (its RCU thread): PIDS_LIMIT
        // leaves room for it as for runc's.
        let mut hardened: Vec<&str> = args[..8].to_vec();
        hardened.extend_from_slice(HARDENED);
        hardened.push(&tag);
        let out = docker(&hardened);
        assert_eq!(
            (out.status.code(), out.stdout.as_slice()),
            (Some(0), MESSAGE),
            "docker {}: {}",
            hardened.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );

        let inspect = docker(&[
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}/{{.Variant}} {{.Size}}",
            &tag,
        ]);
        let size = std::fs::metadata(case.file()).unwrap().len();
        // Docker shows no variant for amd64, 386, arm64 (v8 is implied), ...
        let platform = if case.docker.matches('/').count() == 2 {
            case.docker.to_string()
        } else {
            format!("{}/", case.docker)
        };
        assert_eq!(
            String::from_utf8_lossy(&inspect.stdout).trim(),
            format!("{platform} {size}"),
            "docker image inspect {tag}: the platform and the size (the one file)"
        );
        docker(&["rmi", &tag]);
    }
}

#[test]
fn every_platform_is_reproducible() {
    let _g = lock();
    let build = || {
        xtask_ok(&["dist", "--platform", "all", "--no-docker"]);
        CASES
            .iter()
            .map(|c| std::fs::read(c.file()).unwrap())
            .collect::<Vec<_>>()
    };
    let first = build();
    // Fresh builds of hello for every target, not the cached ones.
    for case in CASES {
        let clean = Command::new(env!("CARGO"))
            .args(["clean", "--release", "-p", "hello", "--target", case.triple])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(clean.success(), "cargo clean --target {}", case.triple);
    }
    let second = build();
    for ((case, a), b) in CASES.iter().zip(&first).zip(&second) {
        assert_eq!(a, b, "{}: two builds gave different files", case.docker);
    }
}

#[test]
fn readme_platforms_table_matches_measured() {
    let _g = lock();
    xtask_ok(&["dist", "--platform", "all", "--no-docker"]);
    let mut expected = String::from(
        "| platform | `hello` file, bytes | Docker's `hello-world` layer, gzip, bytes (published) |\n\
         |---|---:|---:|\n",
    );
    for case in CASES {
        let size = std::fs::metadata(case.file()).unwrap().len();
        expected.push_str(&format!(
            "| {} | {size} | {} |\n",
            case.label,
            group(case.hello_world_layer)
        ));
    }
    assert_page_block("docs/platforms.md", "platforms", &expected);
}

/// 3149 -> "3,149".
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn arm_v5_and_v6_take_messages_up_to_255_bytes() {
    let _g = lock();
    let mut message = vec![b'x'; 254];
    message.push(b'\n');
    let text = String::from_utf8(message.clone()).unwrap();
    for case in CASES
        .iter()
        .filter(|c| matches!(c.docker, "linux/arm/v5" | "linux/arm/v6"))
    {
        // Run on qemu's ARMv5TE / ARMv6 CPU: any Thumb-2 instruction faults.
        xtask_ok(&[
            "dist",
            "--platform",
            case.docker,
            "--no-docker",
            "--message",
            &text,
        ]);
        assert_runs(case, &case.file(), &message);
        let longer = format!("x{text}");
        let out = xtask(&[
            "dist",
            "--platform",
            case.docker,
            "--no-docker",
            "--message",
            &longer,
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: 256 bytes is a usage error",
            case.docker
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("at most 255"),
            "{}: the error says the limit: {stderr}",
            case.docker
        );
    }
}
