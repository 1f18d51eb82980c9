//! Linux system calls on x86-64: the only `asm!` in the program.
//!
//! Each `asm!` is the `syscall` instruction and its register operands; the
//! compiler materialises every value. Numbers are from the kernel's table,
//! arch/x86/entry/syscalls/syscall_64.tbl.
#![allow(unsafe_code)]

use core::arch::asm;

/// `write` in syscall_64.tbl.
const SYS_WRITE: usize = 1;
/// `mmap` in syscall_64.tbl.
const SYS_MMAP: usize = 9;
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

/// `PROT_READ`, `PROT_WRITE` in include/uapi/asm-generic/mman-common.h.
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
/// `MAP_PRIVATE` (uapi/linux/mman.h) and `MAP_ANONYMOUS` (asm-generic/mman-common.h).
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`:
/// the address of `len` fresh bytes, all zero, or `-errno`.
#[inline(always)]
pub fn mmap_anonymous(len: usize) -> isize {
    let ret;
    // SAFETY: an anonymous private mapping at an address the kernel chooses
    // (addr 0, no MAP_FIXED) replaces no existing memory and reads none; the
    // kernel writes no user memory. `syscall` overwrites rcx and r11, declared
    // as clobbered.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") SYS_MMAP as isize => ret,
            in("rdi") 0usize,
            in("rsi") len,
            in("rdx") PROT_READ | PROT_WRITE,
            in("r10") MAP_PRIVATE | MAP_ANONYMOUS,
            in("r8") -1isize,
            in("r9") 0usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, nomem),
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
