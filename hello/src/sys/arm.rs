//! Linux system calls on 32-bit Arm (EABI): the only `asm!` in the program.
//!
//! Each `asm!` is the `svc #0` instruction and its register operands: the number
//! in r7, the arguments in r0..r2, the result in r0. Numbers are from the
//! kernel's table, arch/arm/tools/syscall.tbl.
//!
//! Every arm build here is Thumb code, where r7 is the frame pointer, which
//! Rust does not let an `asm!` operand name. So each `asm!` also loads r7
//! itself, with the number as an immediate, and `write`'s (which returns)
//! saves and restores it around the `svc`, as every Thumb syscall wrapper does.
#![allow(unsafe_code)]

use core::arch::asm;

/// `write` in syscall.tbl.
const SYS_WRITE: usize = 4;
/// `exit` in syscall.tbl. The program has one thread, so `exit` ends the
/// process just as `exit_group` (248) would, and 1 loads in fewer bytes.
const SYS_EXIT: usize = 1;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). `svc` preserves every
    // register but r0, which carries the result. r7 is saved in `saved` and
    // restored before the `asm!` ends, so the compiler's r7 survives.
    unsafe {
        asm!(
            "mov {saved}, r7",
            "movs r7, #{nr}",
            "svc #0",
            "mov r7, {saved}",
            nr = const SYS_WRITE,
            saved = out(reg) _,
            inlateout("r0") fd as usize => ret,
            in("r1") buf.as_ptr(),
            in("r2") buf.len(),
            options(nostack, readonly),
        );
    }
    ret
}

/// `exit(status)`: ends the process; the kernel keeps the low 8 bits of `status`.
#[inline(always)]
pub fn exit(status: u32) -> ! {
    // SAFETY: `exit` reads and writes no user memory and never returns, so no
    // register state after it matters, r7 included.
    unsafe {
        asm!(
            "movs r7, #{nr}",
            "svc #0",
            nr = const SYS_EXIT,
            in("r0") status,
            options(noreturn, nostack, nomem),
        );
    }
}
