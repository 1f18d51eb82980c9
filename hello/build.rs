//! Chooses the message and the linker script for the `hello` binary, and the
//! linker scripts of the other programs.
//!
//! Inputs (both set by `cargo xtask dist`, both optional):
//! - `HELLO_MESSAGE_FILE`: a file whose bytes are the message; default `Hello World\n`.
//! - `HELLO_LAYOUT`: `tiny` (default) or `compat`; picks `linker/<arch>-<layout>.ld`.
//!
//! And for `serve` (also set by `cargo xtask dist --program serve`, which
//! checks them first and refuses bad values with exit status 2):
//! - `HELLO_SERVE_PAGE_FILE`: the page it serves; default [`DEFAULT_PAGE`].
//! - `HELLO_SERVE_CONTENT_TYPE`: its type; default `text/html`.
//! - `HELLO_SERVE_PORT`: the TCP port, 1..=65535; default 8080.
//!
//! Post-processing of the linked file happens in the xtask, never here: a build
//! script runs before linking.
use std::{env, fs, path::PathBuf};

const DEFAULT_MESSAGE: &[u8] = b"Hello World\n";
const LAYOUTS: [&str; 2] = ["tiny", "compat"];

/// Bytes each (arch, layout) keeps for the message inside the ELF header; the
/// linker script says where. A longer message goes after the code instead.
fn header_slot(arch: &str, layout: &str) -> usize {
    match (arch, layout) {
        // e_ident[4..16]: the kernel reads only the four magic bytes of e_ident.
        ("x86_64", "tiny") => 12,
        // e_shoff and e_flags: neither the kernel nor qemu reads them.
        ("x86_64", "compat") => 12,
        // e_ident[4..16], as on x86-64.
        ("x86", "tiny") => 12,
        // e_shoff and e_flags: neither the kernel nor qemu reads them on x86.
        ("x86", "compat") => 8,
        // e_shoff and e_flags: arm64 Linux and qemu-aarch64 read neither.
        ("aarch64", _) => 12,
        // e_shoff; e_flags declares the float ABI (riscv), the EABI version (arm).
        ("riscv64", _) => 8,
        // e_shoff and e_flags: s390x Linux and qemu-s390x read neither.
        ("s390x", _) => 12,
        ("arm", _) => 4,
        _ => 0,
    }
}

/// `serve`'s default page: a small, valid HTML5 document (html, head and body
/// are implied by the parser, so they need no tags).
const DEFAULT_PAGE: &[u8] = b"<!DOCTYPE html><title>Hello World</title><h1>Hello World</h1>\n";
/// The default page is ASCII, so it needs no charset parameter.
const DEFAULT_CONTENT_TYPE: &str = "text/html";
const DEFAULT_PORT: &str = "8080";

fn main() {
    println!("cargo:rerun-if-env-changed=HELLO_MESSAGE_FILE");
    println!("cargo:rerun-if-env-changed=HELLO_LAYOUT");
    println!("cargo:rustc-check-cfg=cfg(hello_message_in_header)");

    let message = match env::var_os("HELLO_MESSAGE_FILE") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
            fs::read(&path).unwrap_or_else(|e| {
                panic!("HELLO_MESSAGE_FILE={}: {e}", PathBuf::from(&path).display())
            })
        }
        None => DEFAULT_MESSAGE.to_vec(),
    };
    assert!(
        !message.is_empty(),
        "the message is empty: give at least one byte"
    );

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Rewrite only on change, so an unchanged message does not look new to cargo.
    let msg_path = out.join("message.bin");
    if fs::read(&msg_path).ok().as_deref() != Some(&message[..]) {
        fs::write(&msg_path, &message).expect("write OUT_DIR/message.bin");
    }

    let layout = env::var("HELLO_LAYOUT").unwrap_or_else(|_| "tiny".into());
    assert!(
        LAYOUTS.contains(&layout.as_str()),
        "HELLO_LAYOUT={layout}: expected one of {LAYOUTS:?}"
    );
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    if message.len() <= header_slot(&arch, &layout) {
        println!("cargo:rustc-cfg=hello_message_in_header");
    }

    serve_config(&out);

    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("..");
    let linker = root.join("linker");
    let script = linker.join(format!("{arch}-{layout}.ld"));
    assert!(
        script.exists(),
        "no linker script {} for target_arch {arch}, layout {layout}",
        script.display()
    );
    link_with("hello", &script);
    // The other programs (src/bin/<name>.rs) have one layout each per
    // architecture: linker/<name>-<arch>.ld. Where a program has no script for
    // this architecture, it gets no link arguments, and `cargo xtask dist`
    // refuses that platform for it before building.
    for program in PROGRAMS {
        let script = linker.join(format!("{program}-{arch}.ld"));
        if script.exists() {
            link_with(program, &script);
            // A program's script may INCLUDE a layout it shares with others
            // (linker/serve-elf64.ld); lld looks for it in the -L directories.
            println!("cargo:rustc-link-arg-bin={program}=-L{}", linker.display());
            println!("cargo:rerun-if-changed={}", linker.display());
        }
    }
}

/// The programs besides `hello`, each `src/bin/<name>.rs`.
const PROGRAMS: [&str; 2] = ["quine", "serve"];

/// Writes what `serve` bakes in: `serve-head.bin` (the 200 response's status
/// line and headers, each ending in CRLF, without the blank line),
/// `serve-page.bin`, and `serve-port.bin` (the port, big-endian, as `bind` wants it).
fn serve_config(out: &std::path::Path) {
    for var in [
        "HELLO_SERVE_PAGE_FILE",
        "HELLO_SERVE_CONTENT_TYPE",
        "HELLO_SERVE_PORT",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let page = match env::var_os("HELLO_SERVE_PAGE_FILE") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
            fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "HELLO_SERVE_PAGE_FILE={}: {e}",
                    PathBuf::from(&path).display()
                )
            })
        }
        None => DEFAULT_PAGE.to_vec(),
    };
    assert!(
        !page.is_empty(),
        "the page is empty: give at least one byte"
    );
    let content_type =
        env::var("HELLO_SERVE_CONTENT_TYPE").unwrap_or_else(|_| DEFAULT_CONTENT_TYPE.into());
    assert!(
        !content_type.is_empty() && content_type.bytes().all(|b| (b' '..0x7f).contains(&b)),
        "HELLO_SERVE_CONTENT_TYPE={content_type:?}: printable ASCII, no CR or LF"
    );
    let port = env::var("HELLO_SERVE_PORT").unwrap_or_else(|_| DEFAULT_PORT.into());
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p != 0)
        .unwrap_or_else(|| panic!("HELLO_SERVE_PORT={port}: give 1..=65535"));
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        page.len()
    );
    write_if_changed(&out.join("serve-head.bin"), head.as_bytes());
    write_if_changed(&out.join("serve-page.bin"), &page);
    write_if_changed(&out.join("serve-port.bin"), &port.to_be_bytes());
}

/// Rewrites `path` only on change, so that an unchanged input does not look new to cargo.
fn write_if_changed(path: &std::path::Path, bytes: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// Links `bin` with `script` alone.
fn link_with(bin: &str, script: &std::path::Path) {
    println!("cargo:rerun-if-changed={}", script.display());
    // The script lays out the whole file, ELF header included; -T replaces lld's
    // default layout. Only this binary gets it.
    println!("cargo:rustc-link-arg-bin={bin}=-T{}", script.display());
    // lld's own section headers and symbols are dropped by objcopy later; this
    // just keeps the intermediate ELF free of a build id nobody reads.
    println!("cargo:rustc-link-arg-bin={bin}=--build-id=none");
}
