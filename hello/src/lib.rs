//! What every program in the images shares: Linux system calls, one module per
//! architecture, and the panic handler.
//!
//! The programs are `src/main.rs` (`hello`) and `src/bin/<name>.rs`; each is
//! `#![no_std]`/`#![no_main]` with its own `_start`, and calls the kernel only
//! through [`sys`], so every architecture's `asm!` exists once. The library has
//! no state and no start-up code: with LTO, what a program does not call is not
//! in its file.
#![no_std]
#![deny(unsafe_code)] // only `sys` (the system-call instruction) opts in

/// The system calls: this architecture's `asm!` (src/sys/<arch>.rs) and, where
/// an architecture has the raw `syscallN` functions the server needs, the typed
/// calls built on them once for all (src/sys/calls.rs).
pub mod sys {
    #[cfg_attr(target_arch = "x86_64", path = "x86_64.rs")]
    #[cfg_attr(target_arch = "x86", path = "x86.rs")]
    #[cfg_attr(target_arch = "aarch64", path = "aarch64.rs")]
    #[cfg_attr(target_arch = "arm", path = "arm.rs")]
    #[cfg_attr(target_arch = "riscv64", path = "riscv64.rs")]
    #[cfg_attr(target_arch = "s390x", path = "s390x.rs")]
    mod arch;
    pub use arch::*;

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    mod calls;
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub use calls::*;
}

/// Standard output: file descriptor 1 on every platform.
pub const STDOUT: u32 = 1;

/// Nothing in the programs should panic; if a change ever makes it possible,
/// exit with the status Rust's std uses for a panic rather than spin.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::exit(101)
}
