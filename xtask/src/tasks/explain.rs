//! `cargo xtask explain`: the file as a table, one row per run of bytes, with
//! every role those bytes play and why the loaders accept the value.
use std::ffi::OsString;
use std::process::Command;

use crate::Error;
use crate::build::hello::DEFAULT_MESSAGE;
use crate::build::{self, Built, symbol, tools};
use crate::core::args::{self, Opt};
use crate::core::cmd;
use crate::core::platform::{Layout, Platform, host_or_usage, layout_option, platform_option};
use crate::elf::{self, Reader};

const HELP: &str = "\
cargo xtask explain [--platform P] [--layout compat|tiny]

Builds the file with the default message and prints it as a table: each run of
bytes with its offset, its bytes, every role it plays (ELF header field,
program header field, instruction, message) and why the loader accepts it.
Fields read as numbers are shown as `name @offset+size = value`, the value in
the file's byte order.

Options:
  --platform P           a Docker platform dist builds (linux/arm64, ...);
                         default: this machine's
  --layout compat|tiny   compat (default) or tiny, as for dist
  -h, --help             print this help
";

/// Who reads a header field.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// Linux and qemu both check or use it.
    Both,
    /// Only qemu checks it; Linux ignores it.
    Qemu,
    /// Neither loader reads it (on this architecture).
    Neither,
    /// A value this architecture's ABI defines, which the file keeps: the
    /// text says who reads it.
    Abi(&'static str),
}

impl Read {
    fn says(self) -> &'static str {
        match self {
            Read::Both => "Linux and qemu read it",
            Read::Qemu => "qemu checks it, Linux does not read it",
            Read::Neither => "neither Linux nor qemu reads it",
            Read::Abi(text) => text,
        }
    }
}

/// Who reads each header field (elf::EHDR64 and friends say where it is):
/// the same in both classes. `e_flags` depends on the platform.
fn read(name: &str, platform: &Platform) -> Read {
    match name {
        "e_ident[EI_MAG0..4]"
        | "e_type"
        | "e_machine"
        | "e_entry"
        | "e_phoff"
        | "e_phentsize"
        | "e_phnum" => Read::Both,
        "p_type" | "p_flags" | "p_offset" | "p_vaddr" | "p_filesz" | "p_memsz" => Read::Both,
        "e_ident[EI_CLASS]" | "e_ident[EI_DATA]" | "e_ident[EI_VERSION]" | "e_ehsize" => Read::Qemu,
        "e_flags" => e_flags_read(platform),
        _ => Read::Neither,
    }
}

/// Who reads `e_flags` on `platform`: on most, no loader does.
fn e_flags_read(platform: &Platform) -> Read {
    match platform.arch() {
        "arm" => Read::Abi(
            "the EABI version: an arm64 kernel runs only EABI 32-bit programs, and qemu-arm takes it",
        ),
        "riscv64" => Read::Abi(
            "RVC and the double-float ABI, as rustc's riscv64gc objects declare them: kept so that a loader checking the ABI accepts the file",
        ),
        "powerpc64" => Read::Abi(
            "Linux and qemu read only bits 0..1 (EF_PPC64_ABI), which must be 2: ELFv2, so both start _start with r12 = its address",
        ),
        _ => Read::Neither,
    }
}

/// One role a run of bytes plays.
#[derive(Debug, Clone)]
pub struct Role {
    /// Where the whole field, instruction or message starts, and its length.
    pub start: u64,
    pub len: u64,
    pub text: String,
    read: Option<Read>,
}

/// A run of bytes with the same roles.
#[derive(Debug)]
pub struct Row {
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub roles: Vec<Role>,
}

pub const OPTS: &[Opt] = &[
    args::value("--platform", "P"),
    args::value("--layout", "compat|tiny"),
];

pub fn run(words: Vec<OsString>) -> Result<(), Error> {
    let a = args::read("explain", OPTS, words)?;
    if a.help {
        print!("{HELP}");
        return Ok(());
    }
    a.no_free()?;
    let layout = match a.os("--layout") {
        None => Layout::DEFAULT,
        Some(v) => layout_option(&v.to_string_lossy())?,
    };
    let platform = match a.os("--platform") {
        Some(v) => platform_option(&v.to_string_lossy(), "")?,
        None => host_or_usage("give --platform P")?,
    };
    tools::ensure_binutils()?;
    let built = build::hello::build(platform, layout, DEFAULT_MESSAGE)?;
    let rows = rows(platform, &built)?;
    println!(
        "{} {}: {} bytes, loaded at {:#x}\n",
        platform.docker,
        layout.name(),
        built.bytes.len(),
        built.header.load_address()
    );
    print!("{}", render(&rows, platform.layout_in_effect(layout)));
    if !platform.trap.is_empty() {
        println!(
            "\nLeft out: the {}-byte trap rustc puts after the exit system call ({:02x?}); it is past p_filesz and never runs.",
            platform.trap.len(),
            platform.trap
        );
    }
    Ok(())
}

/// Splits the file into runs of bytes that share the same roles.
pub fn rows(platform: &Platform, built: &Built) -> Result<Vec<Row>, Error> {
    let bytes = &built.bytes;
    let r = Reader {
        bytes,
        big_endian: platform.big_endian,
    };
    let mut roles = Vec::new();
    let mut field = |base: u64, f: &elf::Field| {
        let (name, len) = (f.name, f.size);
        let read = read(name, platform);
        let start = base + f.offset;
        if let Some(value) = r.uint(start, len as usize) {
            roles.push(Role {
                start,
                len,
                text: format!(
                    "{name} @{start:#04x}+{len} = {value:#x}{}",
                    meaning(name, value, platform.arch())
                ),
                read: Some(read),
            });
        }
    };
    let (ehdr, phdr) = elf::tables(platform.class64);
    for f in ehdr {
        field(0, f);
    }
    for f in phdr {
        field(built.header.e_phoff, f);
    }
    let load = built.header.load_address();
    // The message: where the linker put the MESSAGE static.
    let msg_at = symbol(&built.elf, "hello::MESSAGE")? - load;
    roles.push(Role {
        start: msg_at,
        len: built.message_len,
        text: "message".into(),
        read: None,
    });
    // Thumb code: e_entry has bit 0 set, the code starts at the even address.
    let entry = if platform.arch() == "arm" {
        built.header.e_entry & !1
    } else {
        built.header.e_entry
    };
    // rust-objdump's comments start with `@` in Arm syntax and `//` in AArch64
    // syntax, where `#` marks an immediate; with `#` elsewhere.
    let comment = match platform.arch() {
        "arm" => "@",
        "aarch64" => "//",
        _ => "#",
    };
    for (addr, len, asm) in disassemble(&built.elf, entry, load + bytes.len() as u64, comment)? {
        roles.push(Role {
            start: addr - load,
            len,
            text: format!("code: {asm}"),
            read: None,
        });
    }

    // Cut the file at every role's start and end; each piece is one row.
    let mut cuts: Vec<u64> = vec![0, bytes.len() as u64];
    for role in &roles {
        cuts.push(role.start.min(bytes.len() as u64));
        cuts.push((role.start + role.len).min(bytes.len() as u64));
    }
    cuts.sort_unstable();
    cuts.dedup();
    Ok(cuts
        .windows(2)
        .map(|w| Row {
            offset: w[0],
            bytes: bytes[w[0] as usize..w[1] as usize].to_vec(),
            roles: roles
                .iter()
                .filter(|r| r.start <= w[0] && w[1] <= r.start + r.len)
                .cloned()
                .collect(),
        })
        .collect())
}

/// Names for the values that have one.
fn meaning(field: &str, value: u64, arch: &str) -> String {
    let s = match (field, value) {
        ("e_type", v) if v == u64::from(elf::ET_EXEC) => "ET_EXEC",
        ("e_machine", v) => match u16::try_from(v).ok().and_then(elf::machine_name) {
            Some(name) => name,
            None => return String::new(),
        },
        ("e_ident[EI_CLASS]", 1) => "ELFCLASS32",
        ("e_ident[EI_CLASS]", 2) => "ELFCLASS64",
        ("e_ident[EI_DATA]", 1) => "ELFDATA2LSB",
        ("e_ident[EI_DATA]", 2) => "ELFDATA2MSB",
        ("e_ident[EI_VERSION]" | "e_version", 1) => "EV_CURRENT",
        ("p_type", 1) => "PT_LOAD",
        ("e_phentsize", 56) => "sizeof(Elf64_Phdr)",
        ("e_ehsize", 64) => "sizeof(Elf64_Ehdr)",
        ("e_phentsize", 32) => "sizeof(Elf32_Phdr)",
        ("e_ehsize", 52) => "sizeof(Elf32_Ehdr)",
        ("e_flags", 0x05000000) if arch == "arm" => "EF_ARM_EABI_VER5",
        ("e_flags", 5) if arch == "riscv64" => "EF_RISCV_RVC|EF_RISCV_FLOAT_ABI_DOUBLE",
        ("e_flags", v) if arch == "powerpc64" && v & 3 == 2 => {
            "EF_PPC64_ABI = 2 (ELFv2) in bits 0..1"
        }
        ("p_flags", v) if v & 7 == 5 => "PF_R|PF_X",
        _ => return String::new(),
    };
    format!(" ({s})")
}

/// Whether `layout` may put any value in a field that `read` describes: `tiny`
/// answers to Linux alone, `compat` to qemu as well.
fn free(read: Read, layout: Layout) -> bool {
    match read {
        Read::Both | Read::Abi(_) => false,
        Read::Qemu => layout == Layout::Tiny,
        Read::Neither => true,
    }
}

/// Why the loader accepts a run whose bytes play these roles.
fn why(row: &Row, layout: Layout) -> String {
    let mut s = why_fields(row, layout);
    // qemu's binfmt_misc entry compares bytes 0..20 under a mask that ignores
    // only EI_OSABI (offset 7) and the low bit of e_type and EI_DATA/EI_VERSION.
    if layout == Layout::Compat && row.offset < 20 && row.offset != 7 {
        s.push_str("; binfmt_misc's entry for qemu matches these bytes");
    }
    s
}

fn why_fields(row: &Row, layout: Layout) -> String {
    let name = |r: &Role| r.text.split(" @").next().unwrap_or("").to_string();
    let fields: Vec<&Role> = row.roles.iter().filter(|r| r.read.is_some()).collect();
    let (free_fields, checked): (Vec<&Role>, Vec<&Role>) =
        fields.iter().partition(|r| free(r.read.unwrap(), layout));
    let other = row.roles.iter().find(|r| r.read.is_none()).map(|r| {
        if r.text.starts_with("code") {
            "the code"
        } else {
            "the message"
        }
    });
    let free_names = free_fields
        .iter()
        .map(|r| name(r))
        .collect::<Vec<_>>()
        .join(", ");
    let says = |r: &Role| format!("{} ({})", name(r), r.read.unwrap().says());
    match (checked.len(), free_fields.is_empty(), other) {
        (0, true, _) => String::new(),
        (0, false, Some(o)) => {
            format!("{free_names}: not read by this layout's loader, so {o} can use the bytes")
        }
        (0, false, None) => format!("{free_names}: not read by this layout's loader"),
        (1, true, None) => says(checked[0]),
        (_, false, None) => format!(
            "{}; {free_names} not read by this layout's loader, so it takes the value needed",
            checked
                .iter()
                .map(|r| says(r))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        (_, true, None) => format!(
            "one value serves both: {}",
            checked
                .iter()
                .map(|r| says(r))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        (_, _, Some(o)) => format!(
            "{o} happens to hold what {} needs",
            checked
                .iter()
                .map(|r| name(r))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The table as Markdown.
pub fn render(rows: &[Row], layout: Layout) -> String {
    let mut out = String::from("| offset | bytes | roles | why it loads |\n|---|---|---|---|\n");
    for row in rows {
        let hex: Vec<String> = row.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut roles: Vec<String> = row.roles.iter().map(|r| r.text.clone()).collect();
        if roles.iter().any(|r| r == "message") {
            let i = roles.iter().position(|r| r == "message").unwrap();
            roles[i] = format!("message {:?}", String::from_utf8_lossy(&row.bytes));
        }
        if roles.is_empty() {
            roles.push("padding (zero)".into());
        }
        out.push_str(&format!(
            "| {:#04x} | {} | {} | {} |\n",
            row.offset,
            hex.join(" "),
            roles.join("; "),
            why(row, layout)
        ));
    }
    out
}

/// `_start`'s instructions below `end`: (address, length, text), from rust-objdump.
fn disassemble(
    elf: &std::path::Path,
    start: u64,
    end: u64,
    comment: &str,
) -> Result<Vec<(u64, u64, String)>, Error> {
    let out = cmd::stdout(
        Command::new("rust-objdump")
            .args(["-d", "--no-show-raw-insn"])
            .arg(format!("--start-address={start:#x}"))
            .arg(format!("--stop-address={end:#x}"))
            .arg(elf),
    )?;
    let mut insns: Vec<(u64, String)> = Vec::new();
    for line in String::from_utf8_lossy(&out).lines() {
        let Some((addr, rest)) = line.trim().split_once(':') else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr.trim(), 16) else {
            continue;
        };
        let text = rest
            .split(comment)
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() {
            insns.push((addr, text));
        }
    }
    let mut res = Vec::new();
    for (i, (addr, text)) in insns.iter().enumerate() {
        let next = insns.get(i + 1).map_or(end, |n| n.0);
        res.push((*addr, next - addr, text.clone()));
    }
    if res.is_empty() {
        return Err(Error::fail(format!(
            "rust-objdump found no instructions at {start:#x} in {}",
            elf.display()
        )));
    }
    Ok(res)
}
