//! `cargo xtask explain`: for every platform and both layouts, the table covers
//! every byte of the shipped file exactly once, and every field it shows holds
//! the value the file's bytes give, in the file's byte order.
mod common;

use common::*;

/// (Docker platform, big-endian, the system-call instruction as rust-objdump
/// prints it), for every platform `dist` builds.
const PLATFORMS: &[(&str, bool, &str)] = &[
    ("linux/amd64", false, "code: syscall"),
    ("linux/386", false, "code: int $0x80"),
    ("linux/arm64", false, "code: svc #0"),
    ("linux/arm/v7", false, "code: svc #0x0"),
    ("linux/arm/v6", false, "code: svc #0x0"),
    ("linux/arm/v5", false, "code: svc #0x0"),
    ("linux/riscv64", false, "code: ecall"),
    ("linux/s390x", true, "code: svc 4"),
    ("linux/ppc64le", false, "code: sc"),
];

/// Splits `| a | b | c |` into cells.
fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn explain_covers_every_byte_once_and_shows_true_values() {
    let _g = lock();
    for layout in ["compat", "tiny"] {
        // explain builds the same file as dist does, without writing it.
        xtask_ok(&[
            "dist",
            "--no-docker",
            "--platform",
            "all",
            "--layout",
            layout,
        ]);
        for &(platform, big_endian, syscall) in PLATFORMS {
            let what = format!("{platform} {layout}");
            let path = root()
                .join("target/dist")
                .join(platform.replace('/', "-"))
                .join("hello");
            let file = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let out = xtask_ok(&["explain", "--platform", platform, "--layout", layout]);
            let text = String::from_utf8(out.stdout).unwrap();
            check(&what, &file, &text, big_endian, syscall);
        }
    }
}

fn check(what: &str, file: &[u8], text: &str, big_endian: bool, syscall: &str) {
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter(|l| l.starts_with("| 0x"))
        .map(cells)
        .collect();
    assert!(!rows.is_empty(), "{what}: explain printed no rows:\n{text}");
    let mut next = 0usize;
    let mut fields = 0;
    for row in &rows {
        let offset = usize::from_str_radix(row[0].trim_start_matches("0x"), 16).unwrap();
        assert_eq!(
            offset, next,
            "{what}: row at {offset:#x} does not follow the previous one (expected {next:#x})"
        );
        let bytes: Vec<u8> = row[1]
            .split(' ')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        assert_eq!(
            &file[offset..offset + bytes.len()],
            &bytes[..],
            "{what}: bytes at {offset:#x}"
        );
        next = offset + bytes.len();
        assert!(
            !row[2].is_empty(),
            "{what}: row at {offset:#x} names no role"
        );
        // Every `name @0xOFF+LEN = 0xVALUE` role must decode from the file.
        for role in row[2].split("; ") {
            let Some((_, rest)) = role.split_once(" @0x") else {
                continue;
            };
            let (at, rest) = rest.split_once('+').unwrap();
            let (len, rest) = rest.split_once(" = 0x").unwrap();
            let value = rest.split(' ').next().unwrap();
            let (at, len) = (
                usize::from_str_radix(at, 16).unwrap(),
                len.parse::<usize>().unwrap(),
            );
            let value = u64::from_str_radix(value, 16).unwrap();
            let field = &file[at..at + len];
            let fold = |v: u64, &b: &u8| (v << 8) | u64::from(b);
            let decoded = if big_endian {
                field.iter().fold(0, fold)
            } else {
                field.iter().rev().fold(0, fold)
            };
            assert_eq!(
                decoded, value,
                "{what}: `{role}` shows a value the bytes do not hold"
            );
            fields += 1;
        }
        if row[2].contains("message") {
            assert!(
                row[2].contains(&format!("{:?}", String::from_utf8_lossy(&bytes).as_ref())),
                "{what}: {row:?}"
            );
        }
    }
    assert_eq!(
        next,
        file.len(),
        "{what}: the rows end at {next:#x}, the file at {:#x}",
        file.len()
    );
    // 19 ELF header fields and 8 program header fields, in 32 and 64 bits; a
    // field past the end of the file is not shown (p_align when nothing follows).
    assert!(fields >= 26, "{what}: only {fields} header fields shown");
    assert!(
        text.contains(syscall),
        "{what}: no `{syscall}` in the disassembly:\n{text}"
    );
}
