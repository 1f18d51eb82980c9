//! The two layouts: sizes and where each runs (tests/explain.rs has `cargo
//! xtask explain`).
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const LAYOUTS: [(&str, usize); 2] = [("tiny", 120), ("compat", 128)];

/// qemu-user for x86-64: Debian's qemu-user-static names it qemu-x86_64-static.
fn qemu() -> PathBuf {
    for name in ["qemu-x86_64-static", "qemu-x86_64"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return name.into();
        }
    }
    panic!("no qemu-x86_64-static or qemu-x86_64 on PATH: apt-get install qemu-user-static");
}

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
        "tiny now matches qemu's binfmt entry; update the README and this test"
    );
}

enum Qemu {
    Runs,
    Rejected(String),
}

fn run_qemu(file: &Path) -> (Qemu, Output3) {
    let out = Command::new(qemu())
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let status = out.status.code();
    let res = if status == Some(0) && out.stdout == MESSAGE {
        Qemu::Runs
    } else {
        Qemu::Rejected(String::from_utf8_lossy(&out.stderr).trim().to_string())
    };
    (res, (status, out.stdout))
}

type Output3 = (Option<i32>, Vec<u8>);

#[test]
fn default_runs_under_qemu_and_tiny_is_recorded() {
    let _g = lock();
    // The default file, which is compat (default_is_compat_and_matches_qemus_binfmt_entry).
    let _ = dist_default();
    let compat = root().join("target/test-layouts/default/hello");
    std::fs::create_dir_all(compat.parent().unwrap()).unwrap();
    std::fs::copy(dist_file(), &compat).unwrap();
    let (res, (status, stdout)) = run_qemu(&compat);
    assert!(
        matches!(res, Qemu::Runs),
        "the default file under qemu-x86_64: status {status:?}, stdout {stdout:?}"
    );
    let full = Command::new(qemu())
        .arg(&compat)
        .stdout(
            std::fs::File::options()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .status()
        .unwrap();
    assert!(
        full.code().is_some_and(|c| c != 0),
        "the default file under qemu-x86_64 > /dev/full: {full}"
    );

    // What qemu does with tiny today: it checks EI_CLASS, which holds the message.
    let (_, tiny) = build("tiny");
    match run_qemu(&tiny).0 {
        Qemu::Rejected(why) => assert!(
            why.contains("Invalid ELF image"),
            "qemu's behaviour with tiny changed: it now says {why:?}; update the README's layouts table"
        ),
        Qemu::Runs => panic!("qemu now runs tiny: update the README's layouts table and this test"),
    }
}

/// Runs the compatibility matrix and checks the README's table against it.
#[test]
fn compatibility_matrix_matches_readme() {
    if !docker_available("compatibility_matrix_matches_readme") {
        return;
    }
    let _g = lock();
    let mut table = String::from(
        "| layout | bytes | Linux | as uid 65534 | `ulimit -v 256` | `docker run` | hardened `docker run` | `qemu-x86_64` |\n\
         |---|---:|---|---|---|---|---|---|\n",
    );
    for (layout, _) in LAYOUTS {
        let tag = format!("hello:{layout}");
        xtask_ok(&["dist", "--layout", layout, "--tag", &tag]);
        let bytes = std::fs::read(dist_file()).unwrap();
        let file = root().join(format!("target/test-layouts/{layout}/hello"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::copy(dist_file(), &file).unwrap();

        // assert_behaves covers root, uid 65534 and ulimit -v 256, with /dev/full and a closed stdout.
        assert_behaves(&file, MESSAGE);
        let mut row = vec![
            layout.to_string(),
            bytes.len().to_string(),
            "yes".into(),
            "yes".into(),
            "yes".into(),
        ];
        assert_docker_prints(&tag, MESSAGE);
        row.extend(["yes".to_string(), "yes".to_string()]);
        row.push(match run_qemu(&file).0 {
            Qemu::Runs => "yes".into(),
            Qemu::Rejected(_) => {
                "no: rejected (qemu checks `EI_CLASS`, which holds the message)".into()
            }
        });
        table.push_str(&format!("| {} |\n", row.join(" | ")));
        docker(&["rmi", &tag]);
    }
    assert_readme_block("layouts", &table);
}
