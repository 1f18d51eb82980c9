//! `cargo xtask explain`: the file as a table, one row per run of bytes, with
//! every role those bytes play and why the loaders accept the value.
use std::ffi::OsString;
use std::process::Command;

use crate::dist::{self, DEFAULT_MESSAGE};
use crate::elf::Reader;
use crate::platform::{Layout, Platform, Program};
use crate::{Error, cmd};

const HELP: &str = "\
cargo xtask explain [--layout tiny|compat]

Builds the file with the default message and prints it as a table: each run of
bytes with its offset, its bytes, every role it plays (ELF header field,
program header field, instruction, message) and why the loader accepts it.
Fields read as numbers are shown as `name @offset+size = value`.
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
}

impl Read {
    fn says(self) -> &'static str {
        match self {
            Read::Both => "Linux and qemu read it",
            Read::Qemu => "qemu checks it, Linux does not read it",
            Read::Neither => "neither Linux nor qemu reads it",
        }
    }
}

/// A header field: name, offset within its header, size, who reads it.
type Field = (&'static str, u64, u64, Read);

const EHDR64: &[Field] = &[
    ("e_ident[EI_MAG0..4]", 0x00, 4, Read::Both),
    ("e_ident[EI_CLASS]", 0x04, 1, Read::Qemu),
    ("e_ident[EI_DATA]", 0x05, 1, Read::Qemu),
    ("e_ident[EI_VERSION]", 0x06, 1, Read::Qemu),
    ("e_ident[EI_OSABI]", 0x07, 1, Read::Neither),
    ("e_ident[EI_ABIVERSION..16]", 0x08, 8, Read::Neither),
    ("e_type", 0x10, 2, Read::Both),
    ("e_machine", 0x12, 2, Read::Both),
    ("e_version", 0x14, 4, Read::Neither),
    ("e_entry", 0x18, 8, Read::Both),
    ("e_phoff", 0x20, 8, Read::Both),
    ("e_shoff", 0x28, 8, Read::Neither),
    ("e_flags", 0x30, 4, Read::Neither),
    ("e_ehsize", 0x34, 2, Read::Qemu),
    ("e_phentsize", 0x36, 2, Read::Both),
    ("e_phnum", 0x38, 2, Read::Both),
    ("e_shentsize", 0x3a, 2, Read::Neither),
    ("e_shnum", 0x3c, 2, Read::Neither),
    ("e_shstrndx", 0x3e, 2, Read::Neither),
];

const PHDR64: &[Field] = &[
    ("p_type", 0x00, 4, Read::Both),
    ("p_flags", 0x04, 4, Read::Both),
    ("p_offset", 0x08, 8, Read::Both),
    ("p_vaddr", 0x10, 8, Read::Both),
    ("p_paddr", 0x18, 8, Read::Neither),
    ("p_filesz", 0x20, 8, Read::Both),
    ("p_memsz", 0x28, 8, Read::Both),
    ("p_align", 0x30, 8, Read::Neither),
];

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

pub fn main(args: Vec<OsString>) -> Result<(), Error> {
    let mut layout = Layout::DEFAULT;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.to_str() {
            Some("-h" | "--help") => {
                print!("{HELP}");
                return Ok(());
            }
            Some("--layout") => {
                let v = it
                    .next()
                    .ok_or_else(|| Error::usage("--layout needs a value: --layout tiny|compat"))?;
                let v = v.to_string_lossy();
                layout = Layout::parse(&v).ok_or_else(|| {
                    Error::usage(format!(
                        "unknown layout `{v}`: use --layout tiny or --layout compat"
                    ))
                })?;
            }
            _ => {
                return Err(Error::usage(format!(
                    "unknown option `{}`: run `cargo xtask explain --help`",
                    arg.to_string_lossy()
                )));
            }
        }
    }
    let platform = Platform::host()
        .ok_or_else(|| Error::fail("explain runs on the platforms dist builds for"))?;
    crate::tools::ensure_binutils()?;
    let built = dist::build(platform, Program::Hello, layout, DEFAULT_MESSAGE)?;
    let rows = rows(platform, &built)?;
    println!(
        "{} {}: {} bytes, loaded at {:#x}\n",
        platform.docker,
        layout.name(),
        built.bytes.len(),
        built.header.load_address()
    );
    print!("{}", render(&rows, layout));
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
pub fn rows(platform: &Platform, built: &dist::Built) -> Result<Vec<Row>, Error> {
    if !platform.class64 {
        return Err(Error::fail(format!(
            "explain knows the 64-bit ELF layout only, not {}",
            platform.docker
        )));
    }
    let bytes = &built.bytes;
    let r = Reader {
        bytes,
        big_endian: platform.big_endian,
    };
    let mut roles = Vec::new();
    let mut field = |base: u64, f: &Field| {
        let (name, off, len, read) = *f;
        let start = base + off;
        if let Some(value) = r.uint(start, len as usize) {
            roles.push(Role {
                start,
                len,
                text: format!(
                    "{name} @{start:#04x}+{len} = {value:#x}{}",
                    meaning(name, value)
                ),
                read: Some(read),
            });
        }
    };
    for f in EHDR64 {
        field(0, f);
    }
    for f in PHDR64 {
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
    for (addr, len, asm) in
        disassemble(&built.elf, built.header.e_entry, load + bytes.len() as u64)?
    {
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
fn meaning(field: &str, value: u64) -> String {
    let s = match (field, value) {
        ("e_type", 2) => "ET_EXEC",
        ("e_machine", 62) => "EM_X86_64",
        ("e_ident[EI_CLASS]", 2) => "ELFCLASS64",
        ("e_ident[EI_DATA]", 1) => "ELFDATA2LSB",
        ("e_ident[EI_VERSION]" | "e_version", 1) => "EV_CURRENT",
        ("p_type", 1) => "PT_LOAD",
        ("e_phentsize", 56) => "sizeof(Elf64_Phdr)",
        ("e_ehsize", 64) => "sizeof(Elf64_Ehdr)",
        ("p_flags", v) if v & 7 == 5 => "PF_R|PF_X",
        _ => return String::new(),
    };
    format!(" ({s})")
}

/// Whether `layout` may put any value in a field that `read` describes: `tiny`
/// answers to Linux alone, `compat` to qemu as well.
fn free(read: Read, layout: Layout) -> bool {
    match read {
        Read::Both => false,
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

/// The address of the symbol whose demangled name starts with `prefix`.
pub fn symbol(elf: &std::path::Path, prefix: &str) -> Result<u64, Error> {
    let out = cmd::stdout(Command::new("rust-nm").arg("--demangle").arg(elf))?;
    for line in String::from_utf8_lossy(&out).lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(addr), Some(_), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if name.starts_with(prefix) {
            return u64::from_str_radix(addr, 16)
                .map_err(|_| Error::fail(format!("rust-nm printed {line:?}")));
        }
    }
    Err(Error::fail(format!(
        "no symbol {prefix} in {}",
        elf.display()
    )))
}

/// `_start`'s instructions below `end`: (address, length, text), from rust-objdump.
fn disassemble(
    elf: &std::path::Path,
    start: u64,
    end: u64,
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
            .split('#')
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
