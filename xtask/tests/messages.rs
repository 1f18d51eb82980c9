//! Your own message: exact bytes out, both layouts, in Docker, and clear errors.
mod common;

use common::*;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

/// The messages from the issue, each with how it is passed: `--message` takes
/// the argument's bytes, `--message-file` a file's bytes.
fn cases() -> Vec<(&'static str, Vec<u8>, bool)> {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    vec![
        ("IDBS", b"hello IDBS engineering\n".to_vec(), false),
        ("one byte", b"!".to_vec(), false),
        ("13 bytes", b"Hello, World\n".to_vec(), false),
        (
            "4096 bytes",
            (0..4096).map(|i| b'a' + (i % 26) as u8).collect(),
            false,
        ),
        (
            "65536 bytes",
            (0..65536).map(|i| b'A' + (i % 26) as u8).collect(),
            false,
        ),
        ("bytes 0..=255", all_bytes, true),
        ("emoji", "héllo wörld 👋🌍 ✓\n".as_bytes().to_vec(), true),
        (
            "shell metacharacters",
            br#"$HOME `id` $(rm -rf /) "double" 'single' \ | & ; < > * ? ! #
"#
            .to_vec(),
            false,
        ),
    ]
}

/// Runs `cargo xtask dist` with `message`, as `--message` or through a file.
fn dist_with(message: &[u8], via_file: bool, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(root()).arg("dist").args(extra);
    if via_file {
        let path = root().join("target/test-messages/message.bin");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, message).unwrap();
        cmd.arg("--message-file").arg(path);
    } else {
        cmd.arg("--message")
            .arg(std::ffi::OsStr::from_bytes(message));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "dist {extra:?} with a {}-byte message failed:\n{}",
        message.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Exact bytes and status 0; non-zero with /dev/full and with stdout closed.
fn assert_prints(file: &Path, message: &[u8], what: &str) {
    let ok = run(file, Stdout::Pipe, None, None);
    assert_eq!(ok.status.code(), Some(0), "{what}: exit status");
    assert!(
        ok.stdout == message,
        "{what}: printed {} bytes that differ from the {}-byte message",
        ok.stdout.len(),
        message.len()
    );
    for bad in [Stdout::DevFull, Stdout::Closed] {
        let out = run(file, bad, None, None);
        assert!(
            out.status.code().is_some_and(|c| c != 0),
            "{what} with stdout {bad:?}: {:?}",
            out.status
        );
    }
}

/// The header slot: a message of up to this many bytes sits inside the ELF
/// header (both layouts on linux/amd64) and costs nothing.
const SLOT: usize = 12;
/// From this length on, `exit_status` (hello/src/main.rs) compares the count in
/// full (`xor`, `cmp`, `setne`) instead of one `lea`: 256 - 133 (the highest
/// errno), past which `written - len` could be 0 modulo 256 for an error.
const FULL_COMPARE_FROM: usize = 123;
/// What that comparison costs on linux/amd64, measured: 10 bytes instead of 3.
const FULL_COMPARE_BYTES: usize = 7;
/// From this length on, the length and the comparison no longer fit a
/// sign-extended 8-bit immediate (`push 0x7f; pop rdx`, `cmp rax, 0x7f`).
const WIDE_LENGTH_FROM: usize = 128;
/// What the 32-bit immediates cost on top, measured: `mov edx, imm32` (5 bytes
/// for 3) and `cmp rax, imm32` (6 for 4).
const WIDE_LENGTH_BYTES: usize = 4;

/// The exact size of the linux/amd64 file for an `n`-byte message, given
/// `default`, the file's size with the default message: the same file while the
/// message fits the header slot; past that the message goes after the headers
/// (the slot stays empty), plus the code above for long messages.
fn expected_size(default: usize, n: usize) -> usize {
    match n {
        0..=SLOT => default,
        _ if n < FULL_COMPARE_FROM => default + n,
        _ if n < WIDE_LENGTH_FROM => default + n + FULL_COMPARE_BYTES,
        _ => default + n + FULL_COMPARE_BYTES + WIDE_LENGTH_BYTES,
    }
}

#[test]
fn every_message_prints_exactly_in_both_layouts() {
    let _g = lock();
    for layout in ["tiny", "compat"] {
        let default = {
            xtask_ok(&["dist", "--no-docker", "--layout", layout]);
            std::fs::read(dist_file()).unwrap().len()
        };
        for (name, message, via_file) in cases() {
            dist_with(&message, via_file, &["--no-docker", "--layout", layout]);
            let what = format!("{layout}, {name}");
            assert_prints(&dist_file(), &message, &what);
            let size = std::fs::metadata(dist_file()).unwrap().len() as usize;
            assert_eq!(
                size,
                expected_size(default, message.len()),
                "{what}: file size for a {}-byte message (default file {default} bytes)",
                message.len()
            );
        }
    }
}

#[test]
fn every_message_prints_exactly_in_docker() {
    if !docker_available("every_message_prints_exactly_in_docker") {
        return;
    }
    let _g = lock();
    // A tag of this run's own: another checkout's run of this test would
    // otherwise rebuild the same tag with another message in between.
    let tag = own_tag("message");
    for (name, message, via_file) in cases() {
        dist_with(&message, via_file, &["--tag", &tag]);
        let out = docker_run(&tag, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: docker run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == message,
            "{name}: docker run printed {} bytes that differ from the message",
            out.stdout.len()
        );
    }
    docker(&["rmi", &tag]);
}

#[test]
fn the_default_message_gives_the_default_file_back() {
    let _g = lock();
    let before = dist_default();
    dist_with(b"something else\n", false, &["--no-docker"]);
    assert_ne!(std::fs::read(dist_file()).unwrap(), before);
    assert_eq!(
        dist_default(),
        before,
        "going back to the default message changed the file"
    );
}

/// The file's SHA-256, or why it cannot be read.
fn sha256(path: &Path) -> Result<Vec<u8>, String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    Ok(Sha256::digest(&bytes).to_vec())
}

#[test]
fn bad_input_is_refused_with_status_2_and_changes_nothing() {
    let _g = lock();
    // The image a refused `dist` would have replaced: a tag of this run's own,
    // so that other runs building hello:latest at the same time cannot change it.
    let refused_tag = own_tag("refused");
    let refused_tag = refused_tag.as_str();
    // The image part needs an engine; the file part runs everywhere.
    let engine = docker_available(
        "bad_input_is_refused_with_status_2_and_changes_nothing (image unchanged)",
    );
    let image_id = || {
        let out = docker(&["image", "inspect", "--format", "{{.Id}}", refused_tag]);
        assert!(
            out.status.success(),
            "docker image inspect {refused_tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let image_before = if engine {
        xtask_ok(&["dist", "--tag", refused_tag]);
        let id = image_id();
        assert!(id.starts_with("sha256:"), "{refused_tag} has the id {id:?}");
        Some(id)
    } else {
        dist_default();
        None
    };
    let file = dist_file();
    let hash = sha256(&file).unwrap();

    let too_long = root().join("target/test-messages/too-long.bin");
    std::fs::create_dir_all(too_long.parent().unwrap()).unwrap();
    std::fs::write(&too_long, vec![b'x'; 65_537]).unwrap();
    let unreadable = root().join("target/test-messages/does-not-exist.bin");
    let too_long = too_long.to_str().unwrap();
    let unreadable = unreadable.to_str().unwrap();
    let long_arg = "y".repeat(65_537);

    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("empty message", vec!["--message", ""], "empty"),
        (
            "message over 65,536 bytes (file)",
            vec!["--message-file", too_long],
            "65536",
        ),
        (
            "message over 65,536 bytes (argument)",
            vec!["--message", &long_arg],
            "65536",
        ),
        (
            "missing --message-file",
            vec!["--message-file", unreadable],
            "cannot read",
        ),
        (
            "unreadable --message-file (a directory)",
            vec!["--message-file", "/"],
            "cannot read",
        ),
        (
            "both --message and --message-file",
            vec!["--message", "a", "--message-file", too_long],
            "both",
        ),
        ("unknown option", vec!["--colour", "blue"], "unknown option"),
        (
            "option missing its value",
            vec!["--message"],
            "needs a value",
        ),
        ("--tag missing its value", vec!["--tag"], "needs a value"),
        (
            "invalid --tag (uppercase)",
            vec!["--tag", "Hello:latest"],
            "invalid --tag",
        ),
        (
            "invalid --tag (empty tag)",
            vec!["--tag", "hello:"],
            "invalid --tag",
        ),
        (
            "invalid --tag (space)",
            vec!["--tag", "hel lo"],
            "invalid --tag",
        ),
        ("unknown layout", vec!["--layout", "huge"], "unknown layout"),
    ];
    for (what, args, says) in cases {
        // With the image's tag first: a dist that got past its options would
        // rebuild that image. (Cases about --tag give their own: an option
        // given twice is refused as such.)
        let mut full = vec!["dist"];
        if !args.contains(&"--tag") {
            full.extend(["--tag", refused_tag]);
        }
        full.extend(args.iter().copied());
        let out = xtask(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: exit status; stderr: {stderr}"
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{what}: expected one line on stderr, got:\n{stderr}"
        );
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{what}: stderr {stderr:?} should mention {says:?}"
        );
        assert_eq!(
            sha256(&file),
            Ok(hash.clone()),
            "{what}: target/dist/hello changed"
        );
        if let Some(before) = &image_before {
            assert_eq!(
                &image_id(),
                before,
                "{what}: the image {refused_tag} changed"
            );
        }
    }
    if image_before.is_some() {
        docker(&["rmi", refused_tag]);
    }
}

#[test]
fn readme_message_sizes_match_measured() {
    let _g = lock();
    let mut table = String::from("| message | tiny | compat |\n|---|---:|---:|\n");
    let samples: [(&str, usize); 11] = [
        ("1 byte", 1),
        ("`Hello World\\n`, 12 bytes (default)", 12),
        ("13 bytes", 13),
        ("`hello IDBS engineering\\n`, 23 bytes", 23),
        ("122 bytes", 122),
        ("123 bytes", 123),
        ("127 bytes", 127),
        ("128 bytes", 128),
        ("129 bytes", 129),
        ("4,096 bytes", 4096),
        ("65,536 bytes", 65536),
    ];
    // Per layout: (message length, bytes the file has beyond default + message).
    let mut extra: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut sizes = vec![Vec::new(); samples.len()];
    for layout in ["tiny", "compat"] {
        dist_with(MESSAGE, false, &["--no-docker", "--layout", layout]);
        let default = std::fs::metadata(dist_file()).unwrap().len() as usize;
        let mut growth = Vec::new();
        for (i, &(_, n)) in samples.iter().enumerate() {
            let message: Vec<u8> = match n {
                12 => MESSAGE.to_vec(),
                23 => b"hello IDBS engineering\n".to_vec(),
                _ => vec![b'm'; n],
            };
            dist_with(&message, false, &["--no-docker", "--layout", layout]);
            let size = std::fs::metadata(dist_file()).unwrap().len() as usize;
            // Every sample is a real build: exact size, exact output, and
            // failures on /dev/full and a closed stdout (the exit status code
            // changes at 123 bytes).
            assert_eq!(
                size,
                expected_size(default, n),
                "{layout}: file size for a {n}-byte message (default file {default} bytes)"
            );
            assert_prints(&dist_file(), &message, &format!("{layout}, {n} bytes"));
            if n > SLOT {
                growth.push((n, size - default - n));
            }
            sizes[i].push(size);
        }
        extra.push(growth);
    }
    for ((label, _), row) in samples.iter().zip(&sizes) {
        table.push_str(&format!("| {label} | {} | {} |\n", row[0], row[1]));
    }
    assert_page_block("docs/message.md", "message-sizes", &table);

    // The sentence before the table, from the same builds: where the code grows
    // and by how much. Both layouts grow alike, or the sentence would need one each.
    assert_eq!(
        extra[0], extra[1],
        "tiny and compat grow differently with the message: say so in docs/message.md"
    );
    let growth = &extra[0];
    let first = growth.iter().find(|&&(_, e)| e > 0).copied();
    let (from1, bytes1) = first.expect("no sample shows the code growing");
    let (from2, bytes2) = growth
        .iter()
        .find(|&&(_, e)| e > bytes1)
        .copied()
        .expect("no sample shows the second step");
    assert!(
        growth.iter().any(|&(n, e)| n == from1 - 1 && e == 0)
            && growth.iter().any(|&(n, e)| n == from2 - 1 && e == bytes1),
        "the samples do not pin where the code grows ({growth:?}): add the lengths just below each step"
    );
    assert_page_block(
        "docs/message.md",
        "message-growth",
        &format!(
            "from {from1} bytes on the exit status needs a full comparison (see `exit_status` \
             in hello/src/main.rs), {bytes1} bytes more, and from {from2} bytes on the length \
             and that comparison take 32-bit immediates, {bytes2} bytes more in all"
        ),
    );
}
