//! The quine: one layout, the default message (which it does not print), its
//! own budget, and where its bytes go, read from its linker script's symbols.
use crate::Error;
use crate::build::{self, Built, Link};
use crate::core::platform::{Layout, Platform, Program};

/// The quine's size budget in bytes, on every platform (issue 12); its linker
/// scripts assert the same (QUINE_MAX_FILE).
pub const QUINE_MAX: u64 = 2048;

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

/// The file's parts in bytes: ELF headers, constants, and code (the rest),
/// from the linker script's `__quine_constants` and `__quine_code` symbols.
pub fn parts(built: &Built) -> Result<(u64, u64, u64), Error> {
    let symbol = |name| build::symbol(&built.elf, name);
    let base = built.header.load_address();
    let headers = symbol("__quine_constants")? - base;
    let constants = symbol("__quine_code")? - base - headers;
    let size = built.bytes.len() as u64;
    Ok((headers, constants, size - headers - constants))
}
