//! Linux system calls on s390x: the only `asm!` in the program.
//!
//! Each `asm!` is the `svc` instruction, with the system-call number (below
//! 256) as its immediate operand, and its register operands: the arguments in
//! r2..r4, the result in r2. Numbers are from the kernel's table,
//! arch/s390/kernel/syscalls/syscall.tbl.
#![allow(unsafe_code)]

use core::arch::asm;

/// `write` in syscall.tbl.
const SYS_WRITE: u8 = 4;
/// `exit` in syscall.tbl. The program has one thread, so `exit` ends the
/// process just as `exit_group` (248) would.
const SYS_EXIT: u8 = 1;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). The kernel restores every
    // register on return but r2, which carries the result (arch/s390/kernel/
    // entry.S). `fd` is a u32 in a 64-bit register: the kernel declares it
    // `unsigned int` and reads the low 32 bits.
    unsafe {
        asm!(
            "svc {nr}",
            nr = const SYS_WRITE,
            inlateout("r2") fd as usize => ret,
            in("r3") buf.as_ptr(),
            in("r4") buf.len(),
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
            "svc {nr}",
            nr = const SYS_EXIT,
            in("r2") status,
            options(noreturn, nostack, nomem),
        );
    }
}
