//! `hello`: write one message to stdout, then exit.
//!
//! The exit status is 0 only when every byte of the message was written, and
//! non-zero otherwise (`> /dev/full`, a closed stdout, a short write).
//!
//! The message is chosen at build time (see `build.rs`). The linker script in
//! `linker/` places `_start` and the message inside a hand-written ELF header;
//! `cargo xtask dist` turns the linked file into the final one.
#![no_std]
#![no_main]
#![deny(unsafe_code)] // only the two attributes below opt in; the `asm!` is in the library's `sys`

use hello::{STDOUT, sys};

/// The message bytes, written by `build.rs` from the default or the user's message.
///
/// `build.rs` sets `hello_message_in_header` when the message fits the slot the
/// layout keeps for it inside the ELF header; the linker script places each of the
/// two sections (see `linker/`).
#[allow(unsafe_code)]
// SAFETY: a link section name only tells the linker script where to place these
// read-only bytes; the script puts this one in the header slot, which nothing
// but the message uses (the loaders do not read those header bytes).
#[cfg_attr(
    hello_message_in_header,
    unsafe(link_section = ".hello.message.header")
)]
// SAFETY: a link section name only tells the linker script where to place these
// read-only bytes; the script puts this one after the headers, where nothing else
// is placed.
#[cfg_attr(
    not(hello_message_in_header),
    unsafe(link_section = ".hello.message.tail")
)]
static MESSAGE: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/message.bin")).len()] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/message.bin"));

/// The highest errno Linux returns to user space (`EHWPOISON`, 133, in
/// include/uapi/asm-generic/errno.h).
const LAST_ERRNO: usize = 133;

/// The exit status for a `write` that returned `written`: 0 only when it wrote
/// every byte of the message.
///
/// The kernel keeps only the low 8 bits of the status. For messages shorter than
/// `256 - LAST_ERRNO` bytes, `written - len` is non-zero in those 8 bits for every
/// failure: a short write gives `1..=len`, an error `-errno - len`, which is
/// `256 - errno - len` modulo 256 and so in `1..=255`. That costs one `lea`
/// instead of a compare and a `setne`. Longer messages use the plain comparison.
fn exit_status(written: isize) -> u32 {
    let len = MESSAGE.len();
    if len < 256 - LAST_ERRNO {
        (written as usize).wrapping_sub(len) as u32
    } else {
        (written as usize != len) as u32
    }
}

/// The process entry point: the kernel jumps here with nothing set up but a stack.
#[allow(unsafe_code)]
// SAFETY: `_start` is the one symbol of that name in the program (no C runtime is
// linked), so exporting it unmangled cannot clash with another definition.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let written = sys::write(STDOUT, &MESSAGE);
    sys::exit(exit_status(written))
}
