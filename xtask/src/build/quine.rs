//! The quine: one layout, the default message (which it does not print), its
//! own budget, and where its bytes go, read from its linker script's symbols.
use crate::Error;
use crate::build::{self, Built, Link};
use crate::core::platform::{Layout, Platform, Program};

/// The quine's size budget in bytes, on every platform (issue 12); its linker
/// scripts assert the same (QUINE_MAX_FILE).
pub const QUINE_MAX: u64 = 2560;

/// Builds the quine for `platform`, and checks it.
pub fn build(platform: &Platform) -> Result<Built, Error> {
    let message = build::hello::DEFAULT_MESSAGE;
    let (elf, bytes) = build::link(
        platform,
        &Link {
            program: Program::Quine,
            layout: Layout::Compat,
            message,
            env: Vec::new(),
            rustflags: &[],
        },
    )?;
    build::segment_only(
        platform,
        Layout::Compat,
        elf,
        bytes,
        Some(QUINE_MAX),
        message.len() as u64,
    )
}

/// Where a quine file's bytes go, each part measured on its own so that
/// their sum can disagree with the file's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// Up to the linker script's `__quine_constants`.
    pub headers: u64,
    /// From there to `__quine_code`.
    pub constants: u64,
    /// Alignment gaps in the code: before the first function and between
    /// functions (arm64 aligns its 4-byte instructions).
    pub padding: u64,
    /// The function symbols' sizes, up to the end of the file (the trap after
    /// `_start`'s exit is not in the file).
    pub code: u64,
}

/// The file's parts, read from the linked ELF's symbol table.
pub fn parts(built: &Built) -> Result<Parts, Error> {
    let symbols = build::symbols(&built.elf)?;
    let at = |name: &str| {
        symbols
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.address)
            .ok_or_else(|| Error::fail(format!("no symbol {name} in {}", built.elf.display())))
    };
    let base = built.header.load_address();
    let (constants, code) = (at("__quine_constants")?, at("__quine_code")?);
    let end = base + built.bytes.len() as u64;
    let mut functions: Vec<(u64, u64)> = symbols
        .iter()
        .filter(|s| s.is_function() && s.size > 0 && (code..end).contains(&s.address))
        .map(|s| (s.address, (s.address + s.size).min(end)))
        .collect();
    functions.sort_unstable();
    functions.dedup();
    let mut padding = 0;
    let mut at_end = code;
    for &(start, stop) in &functions {
        padding += start.saturating_sub(at_end);
        at_end = at_end.max(stop);
    }
    Ok(Parts {
        headers: constants - base,
        constants: code - constants,
        padding,
        code: functions.iter().map(|(start, stop)| stop - start).sum(),
    })
}
