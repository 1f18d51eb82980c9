//! Linux system calls on AArch64: the only `asm!` in the program.
//!
//! Each `asm!` is the `svc #0` instruction and its register operands: the
//! number in x8, the arguments in x0..x2, the result in x0. Numbers are from the
//! kernel's generic table, include/uapi/asm-generic/unistd.h, which arm64 uses.
#![allow(unsafe_code)]

use core::arch::asm;

/// `__NR_write` in asm-generic/unistd.h.
const SYS_WRITE: usize = 64;
/// `__NR_mmap` in asm-generic/unistd.h.
const SYS_MMAP: usize = 222;
/// `__NR_exit` in asm-generic/unistd.h. The program has one thread, so `exit`
/// ends the process just as `exit_group` (94) would.
const SYS_EXIT: usize = 93;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). `svc` preserves every
    // register but x0, which carries the result. `fd` is a u32 in a 64-bit
    // register: the kernel declares it `unsigned int` and reads the low 32 bits.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") fd as usize => ret,
            in("x1") buf.as_ptr(),
            in("x2") buf.len(),
            in("x8") SYS_WRITE,
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
    // kernel writes no user memory. `svc` preserves every register but x0.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") 0usize as isize => ret,
            in("x1") len,
            in("x2") PROT_READ | PROT_WRITE,
            in("x3") MAP_PRIVATE | MAP_ANONYMOUS,
            in("x4") -1isize,
            in("x5") 0usize,
            in("x8") SYS_MMAP,
            options(nostack, nomem),
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
            "svc #0",
            in("x0") status,
            in("x8") SYS_EXIT,
            options(noreturn, nostack, nomem),
        );
    }
}
