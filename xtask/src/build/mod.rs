//! The build pipeline, the same for every program: cargo links one binary of
//! the `hello` crate with rust-lld, `rust-objcopy` flattens it, the ELF checks
//! run on the bytes. What differs per program (hello's message and trap,
//! quine's budget, serve's page and port) is in its own module here.
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;
use crate::core::cmd;
use crate::core::platform::{Layout, Platform, Program};
use crate::elf;

pub mod hello;
pub mod inputs;
pub mod quine;
pub mod serve;
pub mod site;
pub mod thumb1;
pub mod tools;

/// The final file, checked.
pub struct Built {
    pub bytes: Vec<u8>,
    pub header: elf::Header,
    /// The linked ELF file the bytes came from (for symbols and disassembly).
    pub elf: PathBuf,
    pub message_len: u64,
    /// The size budget that applied, if the message is the default one.
    pub budget: Option<u64>,
}

/// A program's file inside the build context: target/dist/<os>-<arch>[-<variant>]/<program>.
pub fn program_path(program: Program, platform: &Platform) -> PathBuf {
    PathBuf::from("target/dist")
        .join(platform.dir_name())
        .join(program.name())
}

/// What one link of one program needs besides its platform.
pub struct Link<'a> {
    pub program: Program,
    pub layout: Layout,
    /// hello's message (the others get the default, which they do not read).
    pub message: &'a [u8],
    /// More environment for hello/build.rs (serve's page, type and port).
    pub env: Vec<(&'static str, OsString)>,
    /// More codegen flags for this one program.
    pub rustflags: &'a [&'a str],
}

/// Links `link.program` for `platform` and flattens it: the linked ELF's path
/// and the `.image` section's bytes, not yet checked.
pub fn link(platform: &Platform, link: &Link) -> Result<(PathBuf, Vec<u8>), Error> {
    let (triple, platform_flags) = link.program.target(platform);
    tools::ensure_target(triple)?;
    let root = crate::root();
    let message_file = root.join("target/xtask/message.bin");
    crate::core::files::write_if_changed(&message_file, link.message)?;

    let mut cargo = Command::new(crate::cargo());
    cargo
        .current_dir(&root)
        .env("HELLO_LAYOUT", link.layout.name())
        .env("HELLO_MESSAGE_FILE", &message_file)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .args([
            "rustc",
            "--quiet",
            "--package",
            "hello",
            "--bin",
            link.program.name(),
            "--release",
            "--target",
        ])
        .arg(triple)
        .args(["--message-format=json-render-diagnostics", "--"])
        // Link with rust-lld directly: no C toolchain or C runtime is involved, and
        // one linker serves every platform.
        .args(["-C", "linker=rust-lld", "-C", "linker-flavor=ld.lld"])
        // Absolute addresses: the message's address loads as one immediate.
        .args(["-C", "relocation-model=static"])
        // What this platform needs besides (see core/platform.rs), then this program.
        .args(platform_flags)
        .args(link.rustflags)
        // The Docker platform (the quine writes it into its config; the arm
        // variants share one target_arch).
        .env("HELLO_PLATFORM", platform.docker);
    // The program's flags for every crate, the `hello` library's too (hello
    // and serve on linux/arm/v5: ARMv5TE's Thumb-1), then its own environment.
    if let Some(flags) = link.program.crate_flags(platform) {
        cargo.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    }
    cargo.envs(link.env.iter().map(|(k, v)| (k, v)));
    let json = cmd::stdout(&mut cargo)?;
    let elf_path = artifact(&json, link.program)?;
    if link.program.armv5_thumb(platform) {
        let (faults, _) = thumb1::armv5_faults(&elf_path)?;
        if !faults.is_empty() {
            return Err(Error::fail(format!(
                "{} {}: {} instructions the ARM926EJ-S (ARMv5TE) lacks (xtask/src/build/thumb1.rs \
                 says what it looks for; `rust-objdump -d {}` shows them): {}",
                link.program.name(),
                platform.docker,
                faults.len(),
                elf_path.display(),
                thumb1::summary(&faults)
            )));
        }
    }

    let flat = root.join("target/xtask").join(format!(
        "{}-{}-{}.bin",
        link.program.name(),
        platform.dir_name(),
        link.layout.name()
    ));
    cmd::run(
        Command::new("rust-objcopy")
            .args(["-O", "binary", "--only-section=.image"])
            .arg(&elf_path)
            .arg(&flat),
    )?;
    let bytes =
        fs::read(&flat).map_err(|e| Error::fail(format!("read {}: {e}", flat.display())))?;
    Ok((elf_path, bytes))
}

/// The linked executable's path, from cargo's JSON messages.
fn artifact(json: &[u8], program: Program) -> Result<PathBuf, Error> {
    for line in json.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == program.name()
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(PathBuf::from(exe));
        }
    }
    Err(Error::fail(format!(
        "cargo built {0} but reported no executable for it",
        program.name()
    )))
}

/// Cuts the flattened image at the end of its segment, after checking that
/// what is left out is the trap rustc puts after the noreturn exit and
/// nothing else (hello and the quine: their linker scripts end p_filesz
/// before it), then checks the file and its budget.
pub fn segment_only(
    platform: &Platform,
    layout: Layout,
    elf_path: PathBuf,
    mut bytes: Vec<u8>,
    budget: Option<u64>,
    message_len: u64,
) -> Result<Built, Error> {
    let header = elf::parse(&bytes, platform).map_err(Error::fail)?;
    let end = usize::try_from(header.segment_end()).unwrap_or(usize::MAX);
    if end > bytes.len() || &bytes[end..] != platform.trap {
        return Err(Error::fail(format!(
            "{}: the linked image has {} bytes and its segment ends at {end}; expected exactly the trap {:02x?} after it. \
             Check the linker script for {} {} (hello/build.rs says which) and that _start ends with the exit system call",
            elf_path.display(),
            bytes.len(),
            platform.trap,
            platform.arch(),
            layout.name()
        )));
    }
    bytes.truncate(end);
    let header = elf::check(&bytes, platform).map_err(Error::fail)?;
    if let Some(b) = budget {
        if bytes.len() as u64 > b {
            return Err(Error::fail(format!(
                "{} {}: {} bytes, over the budget of {b}: see `rust-objdump -d {}` for what grew",
                platform.docker,
                layout.name(),
                bytes.len(),
                elf_path.display()
            )));
        }
        if header.mapped_bytes() > elf::PAGE {
            return Err(Error::fail(format!(
                "the segment maps {} bytes; with the default message it must fit one page",
                header.mapped_bytes()
            )));
        }
    }
    Ok(Built {
        bytes,
        header,
        elf: elf_path,
        message_len,
        budget,
    })
}

/// The address of the symbol whose demangled name starts with `prefix`, in
/// the linked ELF file.
pub fn symbol(elf: &Path, prefix: &str) -> Result<u64, Error> {
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

/// One entry of a linked ELF file's symbol table, as `rust-nm --print-size`
/// prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub address: u64,
    pub size: u64,
    /// nm's type letter: `T`/`t` code, `R`/`r` read-only data, `A` absolute.
    pub kind: char,
    pub name: String,
}

impl Symbol {
    pub fn is_function(&self) -> bool {
        matches!(self.kind, 'T' | 't')
    }
}

/// The symbols of the linked ELF file, demangled, with their sizes.
pub fn symbols(elf: &Path) -> Result<Vec<Symbol>, Error> {
    let out = cmd::stdout(
        Command::new("rust-nm")
            .args(["--print-size", "--demangle"])
            .arg(elf),
    )?;
    Ok(parse_symbols(&String::from_utf8_lossy(&out)))
}

/// `rust-nm --print-size` lines: `address size type name`; lines without a
/// size (undefined symbols) are left out.
fn parse_symbols(text: &str) -> Vec<Symbol> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, ' ');
            let address = u64::from_str_radix(parts.next()?, 16).ok()?;
            let size = u64::from_str_radix(parts.next()?, 16).ok()?;
            let kind = parts.next()?.chars().next()?;
            let name = parts.next()?.to_string();
            Some(Symbol {
                address,
                size,
                kind,
                name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nm_lines_read_as_symbols() {
        let text = "0000000000010167 000000000000002c t quine::Archive::put::h9bb1\n\
                    0000000000010000 0000000000000000 A QUINE_BASE\n\
                    0000000000010360 T _start\n";
        let s = parse_symbols(text);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(
            s[0],
            Symbol {
                address: 0x10167,
                size: 0x2c,
                kind: 't',
                name: "quine::Archive::put::h9bb1".into()
            }
        );
        assert!(s[0].is_function() && !s[1].is_function());
    }
}
