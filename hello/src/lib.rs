//! What every program in the images shares: Linux system calls, one module per
//! architecture, a `write` loop, SHA-256 (for the quine), and the panic handler.
//!
//! The programs are `src/main.rs` (`hello`) and `src/bin/<name>.rs`; each is
//! `#![no_std]`/`#![no_main]` with its own `_start`, and calls the kernel only
//! through [`sys`], so every architecture's `asm!` exists once. The library has
//! no state and no start-up code: with LTO, what a program does not call is not
//! in its file.
#![no_std]
#![deny(unsafe_code)] // only `sys` (the system-call instruction) opts in

/// The system calls: this architecture's `asm!` (src/sys/<arch>.rs) and the
/// typed calls built on its raw `syscallN` functions once for all
/// (src/sys/calls.rs).
///
/// The programs see only typed calls and named constants: the raw `syscallN`
/// functions and `SYS_*` numbers stay in here, so every `unsafe` system call is
/// one of the library's, with its SAFETY line.
pub mod sys {
    #[cfg_attr(target_arch = "x86_64", path = "x86_64.rs")]
    #[cfg_attr(target_arch = "x86", path = "x86.rs")]
    #[cfg_attr(target_arch = "aarch64", path = "aarch64.rs")]
    #[cfg_attr(target_arch = "arm", path = "arm.rs")]
    #[cfg_attr(target_arch = "riscv64", path = "riscv64.rs")]
    #[cfg_attr(target_arch = "s390x", path = "s390x.rs")]
    #[cfg_attr(target_arch = "powerpc64", path = "powerpc64.rs")]
    mod arch;
    pub use arch::{exit, write};
    // The quine's scratch memory and the server's worker processes.
    pub use arch::{fork, mmap_anonymous};

    mod calls;
    pub use calls::*;
}

// serve's run-time functions on linux/arm/v5, in place of the precompiled ones.
#[cfg(armv5)]
mod armv5;

pub mod sha256;
pub mod site;

/// Standard output: file descriptor 1 on every platform.
pub const STDOUT: u32 = 1;

/// `EINTR` in include/uapi/asm-generic/errno-base.h (the same number on every
/// architecture here): a signal arrived before `write` wrote anything.
const EINTR: isize = 4;

/// Writes all of `buf` to `fd`, one `write` after another: after a short write
/// it writes the remainder, after `EINTR` it tries again. True only when every
/// byte was written; false on an error or a `write` that wrote nothing.
pub fn write_all(fd: u32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        let n = sys::write(fd, buf);
        if n == -EINTR {
            continue;
        }
        // A negative `n` (-errno) is above any length as a usize: `get` fails.
        match buf.get(n as usize..) {
            Some(rest) if n != 0 => buf = rest,
            _ => return false,
        }
    }
    true
}

/// Nothing in the programs should panic; if a change ever makes it possible,
/// exit with the status Rust's std uses for a panic rather than spin.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::exit(101)
}
