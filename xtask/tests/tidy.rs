//! Tidy checks, as ordinary tests: formatting, lints, and the comments that the
//! project's rules ask for.
mod common;

use common::root;
use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n != "target" && n != ".git")
            {
                files(&path, ext, out);
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// `path:line` for a 0-based line index, relative to the root.
fn location(file: &Path, i: usize) -> String {
    format!("{}:{}", file.strip_prefix(root()).unwrap().display(), i + 1)
}

#[test]
fn formatted() {
    let out = Command::new(env!("CARGO"))
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo fmt --all -- --check found differences; run `cargo fmt --all`:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn clippy_clean() {
    // hello builds only with panic = "abort", i.e. in release, and for each of
    // the Linux targets in xtask/src/platform.rs (dist installs them on first use).
    let platforms = std::fs::read_to_string(root().join("xtask/src/platform.rs")).unwrap();
    let mut triples: Vec<&str> = platforms
        .lines()
        .filter_map(|l| l.trim().strip_prefix("triple: \"")?.strip_suffix("\","))
        .collect();
    triples.sort_unstable();
    triples.dedup();
    assert!(
        triples.len() >= 2,
        "found no target triples in xtask/src/platform.rs"
    );
    let mut runs: Vec<Vec<&str>> = vec![vec![
        "clippy",
        "--quiet",
        "--package",
        "xtask",
        "--all-targets",
    ]];
    for triple in triples {
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&installed.stdout)
            .lines()
            .any(|l| l == triple)
        {
            let add = Command::new("rustup")
                .args(["target", "add", triple])
                .status()
                .unwrap();
            assert!(add.success(), "rustup target add {triple} failed");
        }
        runs.push(vec![
            "clippy",
            "--quiet",
            "--package",
            "hello",
            "--release",
            "--target",
            triple,
        ]);
    }
    for args in runs {
        let out = Command::new(env!("CARGO"))
            .args(&args)
            .args(["--", "-D", "warnings"])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo {} -- -D warnings failed; fix what it reports:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every `unsafe {` block has a `// SAFETY:` comment in the lines just above it.
#[test]
fn every_unsafe_block_says_why() {
    let mut rs = Vec::new();
    files(&root(), "rs", &mut rs);
    let mut missing = Vec::new();
    for file in rs {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap();
            let opens_block = code.contains("unsafe {") || code.trim_end().ends_with("unsafe");
            let unsafe_attr = code.contains("#[unsafe(");
            if !(opens_block || unsafe_attr) || code.contains("\"") {
                continue;
            }
            let above = &lines[i.saturating_sub(12)..i];
            if !above
                .iter()
                .any(|l| l.trim_start().starts_with("// SAFETY:"))
            {
                missing.push(location(&file, i));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "unsafe without a `// SAFETY:` comment above it: {missing:?}"
    );
}

/// Every line of a linker script or layout template (`linker/*.ld.in`, which
/// hello/build.rs fills in) that places bytes (BYTE, SHORT, LONG, QUAD, or an
/// input section) carries a comment saying why.
#[test]
fn every_linker_script_byte_is_explained() {
    let mut ld = Vec::new();
    files(&root().join("linker"), "ld", &mut ld);
    assert!(!ld.is_empty(), "no linker scripts found in linker/");
    let mut templates = Vec::new();
    files(&root().join("linker"), "in", &mut templates);
    assert!(
        templates.len() >= 3,
        "expected the layouts linker/elf64-le.ld.in, elf64-be.ld.in and elf32-le.ld.in, found {templates:?}"
    );
    ld.extend(templates);
    let mut missing = Vec::new();
    for file in ld {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("/*").next().unwrap();
            let places = ["BYTE(", "SHORT(", "LONG(", "QUAD(", "KEEP("]
                .iter()
                .any(|k| code.contains(k));
            let commented = line.contains("/*")
                || lines[..i]
                    .last()
                    .is_some_and(|l| l.trim_end().ends_with("*/"));
            if places && !commented {
                missing.push(location(&file, i));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "linker-script lines that place bytes without a comment: {missing:?}"
    );
}
