//! Linux system calls on 32-bit x86 (i386): the only `asm!` in the program.
//!
//! Each `asm!` is the `int 0x80` instruction and its register operands: the
//! number in eax, the arguments in ebx, ecx, edx, the result in eax. Numbers are
//! from the kernel's table, arch/x86/entry/syscalls/syscall_32.tbl.
#![allow(unsafe_code)]

use core::arch::asm;

/// `write` in syscall_32.tbl.
const SYS_WRITE: usize = 4;
/// `exit` in syscall_32.tbl. The program has one thread, so `exit` ends the
/// process just as `exit_group` (252) would, and 1 loads in fewer bytes.
const SYS_EXIT: usize = 1;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). `int 0x80` preserves every
    // register but eax, which carries the result.
    unsafe {
        asm!(
            "int 0x80",
            inlateout("eax") SYS_WRITE as isize => ret,
            in("ebx") fd,
            in("ecx") buf.as_ptr(),
            in("edx") buf.len(),
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
            "int 0x80",
            in("eax") SYS_EXIT,
            in("ebx") status,
            options(noreturn, nostack, nomem),
        );
    }
}
