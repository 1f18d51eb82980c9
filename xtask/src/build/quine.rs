//! The quine: one layout, the default message (which it does not print), its
//! own budget, and where its bytes go, read from its linker script's symbols.
use crate::Error;
use crate::build::{self, Built, Link};
use crate::core::platform::{Layout, Platform, Program};

/// The quine's size budget in bytes, on every platform (issue 12); its linker
/// scripts assert the same (QUINE_MAX_FILE).
pub const QUINE_MAX: u64 = 2560;

/// The codegen flags every crate of the quine gets (the `hello` library too,
/// through CARGO_ENCODED_RUSTFLAGS) where the platform's CPU lacks Thumb-2:
/// ARMv6 and ARMv5. The one arm target rustup ships here is Thumb-2
/// (thumbv7neon-unknown-linux-gnueabihf), and its code generation emits
/// Thumb-2 instructions whatever the `target-cpu`; in ARM state, with the
/// ARMv6T2 (ARMv6 for v5) and NEON features off, it emits only what the CPU
/// has. hello/build.rs sees `-thumb-mode` and enters `_start` in ARM state.
/// The features are unstable, so rustc warns of each: `-A warnings` keeps
/// dist's output to its own lines (clippy and the other builds see this code).
pub fn arm_state_flags(platform: &Platform) -> Option<&'static [&'static str]> {
    match platform.docker {
        "linux/arm/v6" => Some(&[
            "-C",
            "target-cpu=arm1176jzf-s",
            "-C",
            "target-feature=-thumb-mode,-v6t2,-neon,-vfp3,-d32",
            "-A",
            "warnings",
        ]),
        "linux/arm/v5" => Some(&[
            "-C",
            "target-cpu=arm926ej-s",
            "-C",
            "target-feature=-thumb-mode,-v6,-neon,-vfp3,-d32",
            "-A",
            "warnings",
        ]),
        _ => None,
    }
}

/// Builds the quine for `platform`, and checks it.
pub fn build(platform: &Platform) -> Result<Built, Error> {
    let message = build::hello::DEFAULT_MESSAGE;
    let env = arm_state_flags(platform)
        .map(|flags| ("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f").into()))
        .into_iter()
        .collect();
    let (elf, bytes) = build::link(
        platform,
        &Link {
            program: Program::Quine,
            layout: Layout::Compat,
            message,
            env,
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
