//! Linux system calls on RISC-V (64-bit): the only `asm!` in the program.
//!
//! Each `asm!` is the `ecall` instruction and its register operands: the number
//! in a7, the arguments in a0..a2, the result in a0. Numbers are from the
//! kernel's generic table, include/uapi/asm-generic/unistd.h, which riscv uses.
#![allow(unsafe_code)]

use core::arch::asm;

/// `__NR_write` in asm-generic/unistd.h.
const SYS_WRITE: usize = 64;
/// `__NR_exit` in asm-generic/unistd.h. The program has one thread, so `exit`
/// ends the process just as `exit_group` (94) would.
const SYS_EXIT: usize = 93;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). `ecall` preserves every
    // register but a0, which carries the result. `fd` is a u32 in a 64-bit
    // register: the kernel declares it `unsigned int` and reads the low 32 bits.
    unsafe {
        asm!(
            "ecall",
            inlateout("a0") fd as usize => ret,
            in("a1") buf.as_ptr(),
            in("a2") buf.len(),
            in("a7") SYS_WRITE,
            options(nostack, readonly),
        );
    }
    ret
}

/// `exit(status)`: ends the process; the kernel keeps the low 8 bits of `status`.
#[inline(always)]
pub fn exit(status: u32) -> ! {
    // SAFETY: `exit` reads and writes no user memory and never returns, so no
    // register state after it matters.
    unsafe {
        asm!(
            "ecall",
            in("a0") status,
            in("a7") SYS_EXIT,
            options(noreturn, nostack, nomem),
        );
    }
}
