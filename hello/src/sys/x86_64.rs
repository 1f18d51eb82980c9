//! Linux system calls on x86-64: the only `asm!` in the program.
//!
//! Each `asm!` is the `syscall` instruction and its register operands; the
//! compiler materialises every value. Numbers are from the kernel's table,
//! arch/x86/entry/syscalls/syscall_64.tbl.
#![allow(unsafe_code)]

use core::arch::asm;

/// `write` in syscall_64.tbl.
const SYS_WRITE: usize = 1;
/// `exit` in syscall_64.tbl. The program has one thread, so `exit` ends the
/// process just as `exit_group` (231) would, and 60 loads in fewer bytes.
const SYS_EXIT: usize = 60;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). `syscall` itself overwrites
    // rcx (return address) and r11 (saved rflags), declared as clobbered; the
    // kernel preserves every other register. `fd` is a u32 in a 64-bit register:
    // the kernel declares it `unsigned int` and reads only the low 32 bits.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") SYS_WRITE as isize => ret,
            in("rdi") fd,
            in("rsi") buf.as_ptr(),
            in("rdx") buf.len(),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, readonly),
        );
    }
    ret
}

/// `exit(status)`: ends the process; the kernel keeps the low 8 bits of `status`.
#[inline(always)]
pub fn exit(status: u32) -> ! {
    // SAFETY: `exit` reads and writes no user memory and never returns, so no
    // register state after it matters. `status` is a u32 in a 64-bit register:
    // the kernel declares it `int` and reads only the low 32 bits.
    unsafe {
        asm!(
            "syscall",
            in("rax") SYS_EXIT,
            in("rdi") status,
            options(noreturn, nostack, nomem),
        );
    }
}
