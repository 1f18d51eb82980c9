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

/// The size a message of `n` bytes gives, from the default file's `default`:
/// the same file while it fits the 12-byte header slot; past that the message
/// goes after the headers and the slot stays empty; from 123 bytes on the code
/// compares the count in full (see hello/src/main.rs) and loads a 32-bit length.
fn size_bound(default: usize, n: usize) -> (usize, usize) {
    match n {
        0..=12 => (default, default),
        13..=122 => (default + n, default + n),
        _ => (default + n, default + n + 11),
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
            let (lo, hi) = size_bound(default, message.len());
            assert!(
                (lo..=hi).contains(&size),
                "{what}: {size} bytes, expected {lo}..={hi} for a {}-byte message (default file {default})",
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
    for (name, message, via_file) in cases() {
        dist_with(&message, via_file, &["--tag", "hello:test-message"]);
        let out = docker_run("hello:test-message", &[]);
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
    docker(&["rmi", "hello:test-message"]);
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

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn bad_input_is_refused_with_status_2_and_changes_nothing() {
    let _g = lock();
    dist_default();
    let file = dist_file();
    let hash = sha256(&file);
    let image_id = || docker(&["image", "inspect", "--format", "{{.Id}}", "hello:latest"]).stdout;
    let image_before = image_id();

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
        let mut full = vec!["dist"];
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
        assert_eq!(sha256(&file), hash, "{what}: target/dist/hello changed");
        assert_eq!(
            image_id(),
            image_before,
            "{what}: the image hello:latest changed"
        );
    }
}

#[test]
fn readme_message_sizes_match_measured() {
    let _g = lock();
    let mut table = String::from("| message | tiny | compat |\n|---|---:|---:|\n");
    let samples: [(&str, usize); 6] = [
        ("1 byte", 1),
        ("`Hello World\\n`, 12 bytes (default)", 12),
        ("13 bytes", 13),
        ("`hello IDBS engineering\\n`, 23 bytes", 23),
        ("4,096 bytes", 4096),
        ("65,536 bytes", 65536),
    ];
    for (label, n) in samples {
        let mut row = format!("| {label} |");
        for layout in ["tiny", "compat"] {
            let message: Vec<u8> = match n {
                12 => MESSAGE.to_vec(),
                23 => b"hello IDBS engineering\n".to_vec(),
                _ => vec![b'm'; n],
            };
            dist_with(&message, false, &["--no-docker", "--layout", layout]);
            row.push_str(&format!(
                " {} |",
                std::fs::metadata(dist_file()).unwrap().len()
            ));
        }
        table.push_str(&row);
        table.push('\n');
    }
    assert_readme_block("message-sizes", &table);
}
