//! `hello`: the message is the program's input, and its budget applies with
//! the default message only.
use crate::Error;
use crate::build::{self, Built, Link};
use crate::core::platform::{Layout, Platform, Program};

pub const DEFAULT_MESSAGE: &[u8] = b"Hello World\n";
pub const MAX_MESSAGE: usize = 65_536;

/// Builds `hello` for `platform` with `layout` and `message`, and checks it.
pub fn build(platform: &Platform, layout: Layout, message: &[u8]) -> Result<Built, Error> {
    let (elf, bytes) = build::link(
        platform,
        &Link {
            program: Program::Hello,
            layout,
            message,
            env: Vec::new(),
            rustflags: &[],
        },
    )?;
    let budget = (message == DEFAULT_MESSAGE).then(|| platform.budget(layout));
    build::segment_only(platform, layout, elf, bytes, budget, message.len() as u64)
}
