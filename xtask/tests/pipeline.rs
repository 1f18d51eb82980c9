//! The pipeline end to end: `cargo xtask dist`, the file it writes, the image.
mod common;

use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// The pipeline's own limit; the layouts' budgets are tighter (tests/layouts.rs).
const PIPELINE_BUDGET: usize = 140;

#[test]
fn file_is_small_and_well_formed() {
    let _g = lock();
    let bytes = dist_default();
    assert!(
        bytes.len() <= PIPELINE_BUDGET,
        "target/dist/hello is {} bytes, over {PIPELINE_BUDGET}",
        bytes.len()
    );
    assert_eq!(&bytes[..4], b"\x7fELF");
    let meta = std::fs::metadata(dist_file()).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        0o755,
        "target/dist/hello mode"
    );
    let want_mtime = std::env::var("SOURCE_DATE_EPOCH").map_or(0, |s| s.parse().unwrap());
    assert_eq!(
        meta.mtime(),
        want_mtime,
        "target/dist/hello mtime: SOURCE_DATE_EPOCH, else 0"
    );
}

#[test]
fn prints_the_message_and_reports_failure() {
    let _g = lock();
    dist_default();
    assert_behaves(&dist_file(), MESSAGE);
}

#[test]
fn dist_is_reproducible() {
    let _g = lock();
    let first = dist_default();
    // A fresh build of hello, not the cached one.
    let clean = std::process::Command::new(env!("CARGO"))
        .args([
            "clean",
            "--release",
            "-p",
            "hello",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(clean.success());
    let second = dist_default();
    assert_eq!(
        first, second,
        "two cargo xtask dist runs gave different files"
    );
}

#[test]
fn dist_prints_size_and_output() {
    let _g = lock();
    let out = xtask_ok(&["dist", "--no-docker"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let size = std::fs::metadata(dist_file()).unwrap().len();
    assert!(
        stdout.contains(&format!(": {size} bytes")),
        "dist does not print the size {size}:\n{stdout}"
    );
    assert!(
        stdout.contains("Hello World\n"),
        "dist does not show the program's output:\n{stdout}"
    );
}

#[test]
fn docker_image_runs_plain_and_hardened() {
    if !docker_available("docker_image_runs_plain_and_hardened") {
        return;
    }
    let _g = lock();
    let out = xtask_ok(&["dist"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let size = std::fs::metadata(dist_file()).unwrap().len();
    assert!(
        stdout.contains(&format!("image hello:latest: {size} bytes")),
        "dist did not report the image size:\n{stdout}"
    );

    assert_docker_prints("hello:latest", MESSAGE);

    let inspect = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Size}} {{.Config.User}}",
        "hello:latest",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        format!("{size} 65534:65534")
    );
}

#[test]
fn docker_build_of_the_dockerfile_succeeds() {
    if !docker_available("docker_build_of_the_dockerfile_succeeds") {
        return;
    }
    let _g = lock();
    dist_default();
    let out = std::process::Command::new("docker")
        .args(["build", "-q", "-t", "hello:test-build", "."])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = docker_run("hello:test-build", &[]);
    assert_eq!(run.stdout, MESSAGE);
    assert_eq!(run.status.code(), Some(0));
    docker(&["rmi", "hello:test-build"]);
}

#[test]
fn readme_sizes_match_measured() {
    let _g = lock();
    // The default is the portable layout; `tiny` is the kernel-only record.
    let compat = dist_default().len();
    let tiny = {
        xtask_ok(&["dist", "--no-docker", "--layout", "tiny"]);
        std::fs::read(dist_file()).unwrap().len()
    };
    // Leave target/dist/hello as the default build for the tests after this one.
    dist_default();
    // The image holds the one file; docker_image_runs_plain_and_hardened checks
    // that `docker image inspect` agrees.
    let expected = format!(
        "| linux/amd64 | runs under | file bytes | `docker image inspect` size |\n\
         |---|---|---:|---:|\n\
         | `compat` (default): `target/dist/hello`, image `hello:latest` | the Linux kernel, and qemu-user through binfmt_misc (Docker on another architecture) | {compat} | {compat} |\n\
         | `tiny` (`--layout tiny`): the record | the Linux kernel only | {tiny} | not shipped: an image holds it only when asked |\n"
    );
    assert_readme_block("sizes", &expected);
}
