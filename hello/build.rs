//! Chooses the message and the linker script for the `hello` binary, and the
//! linker scripts of the other programs.
//!
//! Inputs (both set by `cargo xtask dist`, both optional):
//! - `HELLO_MESSAGE_FILE`: a file whose bytes are the message; default `Hello World\n`.
//! - `HELLO_LAYOUT`: `compat` (default) or `tiny`. x86-64 and x86 have a
//!   kernel-only `tiny` script of their own (`linker/<arch>-tiny.ld`); otherwise
//!   the script is the layout of the target's ELF class and byte order
//!   (`linker/elf64-le.ld.in`, ...) with this architecture's values from `ARCHES`
//!   filled in, written to `OUT_DIR/hello-<layout>.ld`.
//!
//! And for `serve` (also set by `cargo xtask dist --program serve`, which
//! checks them first and refuses bad values with exit status 2):
//! - `HELLO_SERVE_PAGE_FILE`: the page it serves; default [`DEFAULT_PAGE`].
//! - `HELLO_SERVE_CONTENT_TYPE`: its type; default `text/html`.
//! - `HELLO_SERVE_PORT`: the TCP port, 1..=65535; default 8080.
//!
//! Post-processing of the linked file happens in the xtask, never here: a build
//! script runs before linking.
use std::{
    env, fs,
    path::{Path, PathBuf},
};

const DEFAULT_MESSAGE: &[u8] = b"Hello World\n";
const LAYOUTS: [&str; 2] = ["tiny", "compat"];

/// What one architecture's `hello` file differs in: a row of `ARCHES`. The
/// layout itself, one per ELF class and byte order, is `linker/<layout>.ld.in`;
/// [`script`] makes its `@NAME@` values from this row and [`fill`] puts them in.
struct Arch {
    /// rustc's `target_arch`.
    arch: &'static str,
    /// The layout: `linker/<layout>.ld.in`.
    layout: &'static str,
    /// `e_machine` and its name in elf.h.
    machine: (u16, &'static str),
    /// What the loaders need in `e_flags`, and so whether the message may use it.
    flags: Flags,
    /// Bytes rustc puts after the exit system call, which the segment leaves
    /// out, and what they are.
    trap: (usize, &'static str),
    /// Whether `e_entry` has bit 0 set: Thumb code on arm (32-bit layout only).
    thumb: bool,
    /// A file in linker/ with the output sections (and their assertions) this
    /// architecture adds to the layout, at its `@SECTIONS@`.
    sections: Option<&'static str>,
}

/// What the loaders read of `e_flags`, the 4 bytes after `e_shoff`.
enum Flags {
    /// Neither Linux nor qemu reads it (the text says so): the message slot
    /// takes `e_flags` as well as `e_shoff`.
    Unread(&'static str),
    /// The loaders want this value (the text says what it means): the slot is
    /// `e_shoff` alone.
    Value(u32, &'static str),
    /// The loaders read only the bits in `mask`, which must equal `value` (the
    /// text says what they mean): a message whose bytes there have those bits
    /// may use the slot through `e_flags`; another gets `value` there.
    Bits {
        mask: u32,
        value: u32,
        what: &'static str,
    },
}

const ARCHES: &[Arch] = &[
    Arch {
        arch: "x86_64",
        layout: "elf64-le",
        machine: (62, "EM_X86_64"),
        flags: Flags::Unread("neither the kernel nor qemu reads them on x86-64"),
        trap: (2, "ud2 (0f 0b)"),
        thumb: false,
        sections: None,
    },
    Arch {
        arch: "aarch64",
        layout: "elf64-le",
        machine: (183, "EM_AARCH64"),
        flags: Flags::Unread("arm64 Linux and qemu-aarch64 read neither"),
        trap: (4, "brk #1"),
        thumb: false,
        sections: None,
    },
    Arch {
        arch: "riscv64",
        layout: "elf64-le",
        machine: (243, "EM_RISCV"),
        flags: Flags::Value(
            0x5,
            "EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE, as rustc's riscv64gc objects",
        ),
        trap: (2, "c.unimp"),
        thumb: false,
        sections: None,
    },
    Arch {
        arch: "powerpc64",
        layout: "elf64-le",
        machine: (21, "EM_PPC64"),
        // Linux (SET_PERSONALITY in arch/powerpc/include/asm/elf.h) and qemu
        // (get_ppc64_abi in linux-user/elfload.c) read only EF_PPC64_ABI, the
        // low two bits. `Hello World\n`'s ninth byte, `r` (0x72), has them.
        flags: Flags::Bits {
            mask: 0x3,
            value: 0x2,
            what: "EF_PPC64_ABI = 2, ELFv2: the only e_flags bits Linux and qemu read; \
                   with ELFv2 both start `_start` with r12 = its address",
        },
        trap: (
            16,
            "trap (08 00 e0 7f), then the 12 zero bytes LLVM puts after every ppc64 \
             function (an empty traceback table)",
        ),
        thumb: false,
        // lld's .got, which holds the TOC base.
        sections: Some("ppc64-got.ld.in"),
    },
    Arch {
        arch: "s390x",
        layout: "elf64-be",
        machine: (22, "EM_S390"),
        flags: Flags::Unread("s390x Linux and qemu-s390x read neither"),
        trap: (4, "j .+2"),
        thumb: false,
        sections: None,
    },
    Arch {
        arch: "x86",
        layout: "elf32-le",
        machine: (3, "EM_386"),
        flags: Flags::Unread("neither the kernel nor qemu reads them on x86"),
        trap: (2, "ud2 (0f 0b)"),
        thumb: false,
        sections: None,
    },
    Arch {
        arch: "arm",
        layout: "elf32-le",
        machine: (40, "EM_ARM"),
        flags: Flags::Value(
            0x05000000,
            "EF_ARM_EABI_VER5: an arm64 kernel runs only EABI programs",
        ),
        // rustc's Thumb `_start` ends with the message's address (a literal
        // pool word) after its trap (udf), so the file keeps the trap.
        trap: (0, "nothing: Thumb code ends with its literal pool"),
        thumb: true,
        sections: None,
    },
];

/// The linker script of `program` for `arch` and `layout`, and whether
/// `message` sits in the ELF header. x86-64 and x86 have a kernel-only `tiny`
/// layout of their own for `hello` (`linker/<arch>-tiny.ld`, message in
/// e_ident[4..16]); everywhere else the script is the class's layout filled in
/// from `ARCHES`, with the program's part (`linker/<program>.ld.in`) in it.
/// The other programs have no message: pass an empty one.
fn script(
    linker: &Path,
    program: &str,
    arch: &str,
    layout: &str,
    message: &[u8],
) -> (String, bool) {
    if program == "hello" && layout == "tiny" && (arch == "x86_64" || arch == "x86") {
        // e_ident[4..16]: the kernel reads only the four magic bytes of e_ident.
        return (
            read(&linker.join(format!("{arch}-tiny.ld"))),
            message.len() <= 12,
        );
    }
    let a = ARCHES
        .iter()
        .find(|a| a.arch == arch)
        .unwrap_or_else(|| panic!("no linker layout for target_arch {arch}: add it to ARCHES"));
    // The message slot starts at e_shoff (a word of the class); e_flags, 4 bytes, follows.
    let (e_shoff, word) = if a.layout.starts_with("elf64") {
        (0x28, 8)
    } else {
        (0x20, 4)
    };
    // What goes in e_flags: the message's bytes (and why the loaders accept
    // them), or a value (and what it means).
    let e_flags = match a.flags {
        Flags::Unread(why) => Err(why.to_string()),
        Flags::Value(value, what) => Ok((value, what)),
        Flags::Bits { mask, value, what } => {
            // The message's bytes that would be e_flags, read as the loaders do.
            let mut b = [0u8; 4];
            let tail = message.get(word..).unwrap_or_default();
            b[..tail.len().min(4)].copy_from_slice(&tail[..tail.len().min(4)]);
            let read = if a.layout.ends_with("-be") {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            };
            if message.len() > word && message.len() <= word + 4 && read & mask == value {
                Err(format!(
                    "the message's bytes in e_flags read as {read:#x}, whose bits {mask:#x} are {value:#x}: {what}"
                ))
            } else {
                Ok((value, what))
            }
        }
    };
    let (slot, slot_len, e_flags, e_flags_what) = match e_flags {
        Err(why) => (format!("e_shoff, e_flags ({why})"), word + 4, None, None),
        Ok((value, what)) => (
            "e_shoff (not read)".to_string(),
            word,
            Some(format!("{value:#x}")),
            Some(what.to_string()),
        ),
    };
    // Thumb code, unless this build's flags turn Thumb off (the quine on ARMv6
    // and ARMv5: xtask/src/build/quine.rs, arm_state_flags); cargo passes the
    // flags to this script, and reruns it when they change.
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let thumb = a.thumb && !flags.split('\x1f').any(|f| f.contains("-thumb-mode"));
    let entry = if thumb {
        "bit 0 set: start in Thumb state"
    } else if a.thumb {
        "the address of `_start`, bit 0 clear: start in ARM state (this build turns Thumb off)"
    } else {
        "the address of `_start`"
    };
    let own = read(&linker.join(format!("{program}.ld.in")));
    let text = fill(
        &linker.join(format!("{}.ld.in", a.layout)),
        &[
            ("MACHINE", Some(a.machine.0.to_string())),
            ("MACHINE_NAME", Some(a.machine.1.to_string())),
            ("SLOT", Some(slot)),
            ("SLOT_END", Some(format!("{:#x}", e_shoff + slot_len))),
            ("E_FLAGS", e_flags),
            ("E_FLAGS_WHAT", e_flags_what),
            ("TRAP_SIZE", Some(a.trap.0.to_string())),
            ("TRAP", Some(a.trap.1.to_string())),
            ("ENTRY_BIT", Some(u8::from(thumb).to_string())),
            ("ENTRY", Some(entry.to_string())),
            ("SECTIONS", a.sections.map(|name| read(&linker.join(name)))),
            ("BODY", Some(part(&own, "BODY"))),
            ("UNEXPECTED", Some(part(&own, "UNEXPECTED"))),
            ("ASSERTS", Some(part(&own, "ASSERTS"))),
        ],
    );
    let text = format!(
        "/* Generated by hello/build.rs from linker/{}.ld.in and linker/{program}.ld.in \
         for target_arch {arch}, layout {layout}: edit those, not this file. */\n{text}",
        a.layout
    );
    (text, !message.is_empty() && message.len() <= slot_len)
}

/// The part of a program's `linker/<program>.ld.in` that follows its line
/// `/* @NAME */` (the name without at-signs there), up to the next such line.
fn part(text: &str, name: &str) -> String {
    let mark = format!("/* @{name} */");
    let mut lines = text.lines().skip_while(|l| l.trim() != mark);
    assert!(
        lines.next().is_some(),
        "a linker/<program>.ld.in has no line {mark}"
    );
    let mut out = String::new();
    for line in lines.take_while(|l| !(l.starts_with("/* @") && l.ends_with(" */"))) {
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end_matches('\n').to_string()
}

/// The template at `path` with each `@NAME@` replaced by its value in `values`.
/// A line that holds a name whose value is `None` is left out: that is how a
/// template says "only where this architecture has it" (e_flags, sections).
/// A name missing from `values` is an error naming the template and the name.
fn fill(path: &Path, values: &[(&str, Option<String>)]) -> String {
    let template = read(path);
    let mut out = String::new();
    'lines: for line in template.split_inclusive('\n') {
        let mut filled = String::new();
        let mut rest = line;
        while let Some(at) = rest.find('@') {
            filled.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let name = &after[..after.find('@').unwrap_or(after.len())];
            let value = values.iter().find(|(n, _)| *n == name).unwrap_or_else(|| {
                panic!(
                    "{}: @{name}@ is not filled in by hello/build.rs",
                    path.display()
                )
            });
            match &value.1 {
                Some(v) => filled.push_str(v),
                None => continue 'lines,
            }
            rest = &after[(name.len() + 1).min(after.len())..];
        }
        filled.push_str(rest);
        out.push_str(&filled);
    }
    out
}

/// The text of `path`, which cargo reruns this script for when it changes.
fn read(path: &Path) -> String {
    println!("cargo:rerun-if-changed={}", path.display());
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `serve`'s default page: a small, valid HTML5 document (html, head and body
/// are implied by the parser, so they need no tags).
const DEFAULT_PAGE: &[u8] = b"<!DOCTYPE html><title>Hello World</title><h1>Hello World</h1>\n";
/// Every text type says its charset, the default page's too (xtask/src/build/serve.rs
/// has the same value).
const DEFAULT_CONTENT_TYPE: &str = "text/html; charset=utf-8";
const DEFAULT_PORT: &str = "8080";
/// `serve`'s size budget with the default page, by `target_arch` (the others:
/// 125% of x86-64's); the same numbers as xtask/src/build/serve.rs `budget()`.
const SERVE_BUDGETS: [(&str, u64); 3] = [("x86_64", 6656), ("aarch64", 7168), ("powerpc64", 8704)];
const SERVE_BUDGET_OTHERS: u64 = 8320;

fn main() {
    println!("cargo:rerun-if-env-changed=HELLO_MESSAGE_FILE");
    println!("cargo:rerun-if-env-changed=HELLO_PLATFORM");
    println!("cargo:rerun-if-env-changed=HELLO_LAYOUT");
    println!("cargo:rustc-check-cfg=cfg(hello_message_in_header)");
    // `--cfg armv5`: serve for linux/arm/v5 (xtask/src/core/platform.rs, ARMV5_FLAGS).
    println!("cargo:rustc-check-cfg=cfg(armv5)");

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
    write_if_changed(&out.join("message.bin"), &message);

    let layout = env::var("HELLO_LAYOUT").unwrap_or_else(|_| "compat".into());
    assert!(
        LAYOUTS.contains(&layout.as_str()),
        "HELLO_LAYOUT={layout}: expected one of {LAYOUTS:?}"
    );
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    serve_config(&out, &arch);
    quine_config(&out, &arch);

    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("..");
    let linker = root.join("linker");
    let (text, in_header) = script(&linker, "hello", &arch, &layout, &message);
    if in_header {
        println!("cargo:rustc-cfg=hello_message_in_header");
    }
    // One file per layout, so a layout change is a change of link arguments too.
    let path = out.join(format!("hello-{layout}.ld"));
    write_if_changed(&path, text.as_bytes());
    link_with("hello", &path);
    // The other programs (src/bin/<name>.rs) have one layout, compat, on every
    // architecture, and no message.
    for program in PROGRAMS {
        let (text, _) = script(&linker, program, &arch, "compat", b"");
        let path = out.join(format!("{program}-compat.ld"));
        write_if_changed(&path, text.as_bytes());
        link_with(program, &path);
    }
}

/// The programs besides `hello`, each `src/bin/<name>.rs`.
const PROGRAMS: [&str; 2] = ["quine", "serve"];

/// Writes what `serve` bakes in: `serve-head.bin` (the 200 response's status
/// line and headers, each ending in CRLF, then `Date: `, whose value `serve`
/// writes at run time),
/// `serve-page.bin`, and `serve-port.bin` (the port, big-endian, as `bind` wants it).
fn serve_config(out: &Path, arch: &str) {
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
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nDate: ",
        page.len()
    );
    // The page's length, and the default one's, for linker/serve.ld.in's
    // size-budget ASSERT (which counts the file less the page). A site's
    // tables and files count as its page: the ASSERT bounds the code.
    // A site's code has room of its own beyond the page budget (its budget
    // without the site's bytes is checked by xtask/tests/site/).
    let (page_len, default_len, allowance) = match site(out) {
        Some(baked) => (baked, 0, SITE_ALLOWANCE),
        None => (page.len() as u64, DEFAULT_PAGE.len() as u64, 0),
    };
    println!("cargo:rustc-link-arg-bin=serve=--defsym=SERVE_PAGE_LEN={page_len}");
    println!("cargo:rustc-link-arg-bin=serve=--defsym=SERVE_DEFAULT_PAGE_LEN={default_len}");
    println!("cargo:rustc-link-arg-bin=serve=--defsym=SERVE_SITE_ALLOWANCE={allowance}");
    let budget = SERVE_BUDGETS
        .iter()
        .find(|(a, _)| *a == arch)
        .map_or(SERVE_BUDGET_OTHERS, |(_, b)| *b);
    println!("cargo:rustc-link-arg-bin=serve=--defsym=SERVE_BUDGET={budget}");
    write_if_changed(&out.join("serve-head.bin"), head.as_bytes());
    write_if_changed(&out.join("serve-page.bin"), &page);
    write_if_changed(&out.join("serve-port.bin"), &port.to_be_bytes());
}

/// Docker's platform for each `target_arch`, where `HELLO_PLATFORM` does not
/// say (it tells the arm variants apart, which share one `target_arch`).
const DOCKER_PLATFORMS: &[(&str, &str)] = &[
    ("x86_64", "linux/amd64"),
    ("x86", "linux/386"),
    ("aarch64", "linux/arm64"),
    ("arm", "linux/arm/v7"),
    ("riscv64", "linux/riscv64"),
    ("s390x", "linux/s390x"),
    ("powerpc64", "linux/ppc64le"),
];

/// Writes the quine's image config around the layer's digest, which it
/// computes at run time: `quine-config-head.bin` (up to `sha256:`) and
/// `quine-config-tail.bin`, the keys sorted as serde_json writes them in
/// xtask/src/oci (architecture, config, os, rootfs, variant). The platform is
/// `HELLO_PLATFORM` (`cargo xtask dist` sets it), else `arch`'s.
fn quine_config(out: &Path, arch: &str) {
    let platform = env::var("HELLO_PLATFORM").unwrap_or_else(|_| {
        let (_, p) = DOCKER_PLATFORMS
            .iter()
            .find(|(a, _)| *a == arch)
            .unwrap_or_else(|| {
                panic!("no Docker platform for target_arch {arch}: add it to DOCKER_PLATFORMS")
            });
        p.to_string()
    });
    let mut parts = platform.splitn(3, '/');
    let (os, architecture, variant) = (parts.next().unwrap_or(""), parts.next(), parts.next());
    let architecture =
        architecture.unwrap_or_else(|| panic!("HELLO_PLATFORM={platform}: give os/arch[/variant]"));
    let head = format!(
        r#"{{"architecture":"{architecture}","config":{{"Entrypoint":["/quine"],"User":"65534:65534"}},"os":"{os}","rootfs":{{"diff_ids":["sha256:"#
    );
    let variant = variant
        .map(|v| format!(r#","variant":"{v}""#))
        .unwrap_or_default();
    let tail = format!(r#""],"type":"layers"}}{variant}}}"#);
    write_if_changed(&out.join("quine-config-head.bin"), head.as_bytes());
    write_if_changed(&out.join("quine-config-tail.bin"), tail.as_bytes());
}

/// Bytes a site build's code may take beyond the page budget, at link time.
const SITE_ALLOWANCE: u64 = 8192;

/// `HELLO_SERVE_SITE`: the directory where `cargo xtask dist --site` wrote a
/// site's tables (site.rs) and bytes (site-text.bin, site-content.bin). Copies
/// them into OUT_DIR and turns on `serve_site` (hello/src/site.rs); returns
/// the bytes the tables take with their text and content (site.rs's `BYTES`).
fn site(out: &Path) -> Option<u64> {
    println!("cargo:rerun-if-env-changed=HELLO_SERVE_SITE");
    println!("cargo:rustc-check-cfg=cfg(serve_site)");
    let dir = PathBuf::from(env::var_os("HELLO_SERVE_SITE")?);
    for name in ["site.rs", "site-text.bin", "site-content.bin"] {
        let from = dir.join(name);
        println!("cargo:rerun-if-changed={}", from.display());
        let bytes = fs::read(&from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        write_if_changed(&out.join(name), &bytes);
    }
    println!("cargo:rustc-cfg=serve_site");
    // site.rs says how many bytes its tables and blobs take.
    let source = fs::read_to_string(out.join("site.rs")).unwrap_or_default();
    let bytes = source.lines().find_map(|l| {
        l.strip_prefix("pub const BYTES: usize = ")?
            .strip_suffix(';')?
            .parse()
            .ok()
    });
    Some(bytes.unwrap_or_else(|| panic!("{}/site.rs has no `pub const BYTES`", dir.display())))
}

/// Rewrites `path` only on change, so that an unchanged input does not look new to cargo.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// Links `bin` with `script` alone.
fn link_with(bin: &str, script: &Path) {
    // The script lays out the whole file, ELF header included; -T replaces lld's
    // default layout. Only this binary gets it.
    println!("cargo:rustc-link-arg-bin={bin}=-T{}", script.display());
    // lld's own section headers and symbols are dropped by objcopy later; this
    // just keeps the intermediate ELF free of a build id nobody reads.
    println!("cargo:rustc-link-arg-bin={bin}=--build-id=none");
}
