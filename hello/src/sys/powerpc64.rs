//! Linux system calls on 64-bit PowerPC (ppc64le, ELFv2): the only `asm!` in
//! the program.
//!
//! Each `asm!` is the `sc` instruction and its register operands: the number in
//! r0, the arguments in r3..r5, the result in r3 (Documentation/powerpc/
//! syscall64-abi.rst). Unlike the other architectures, a failed call returns a
//! positive errno in r3 and says so in cr0's summary-overflow bit. Rust has no
//! operand class that reads a condition register, so `write`'s `asm!` adds one
//! `mfcr`, which copies the condition register into a general one; Rust code
//! then turns the errno into `-errno`. Numbers are from the kernel's table,
//! arch/powerpc/kernel/syscalls/syscall.tbl.
#![allow(unsafe_code)]

use core::arch::asm;

/// `write` in syscall.tbl.
const SYS_WRITE: usize = 4;
/// `exit` in syscall.tbl. The program has one thread, so `exit` ends the
/// process just as `exit_group` (234) would.
const SYS_EXIT: usize = 1;

/// cr0's summary-overflow bit (SO) in the value `mfcr` gives: CR bit 3, the
/// fourth from the most significant end of the 32-bit register. `sc` sets it
/// when the call failed.
const CR0_SO: u32 = 1 << 28;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret: isize;
    let cr: u32;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). syscall64-abi.rst lists what
    // `sc` may change: r0 and r3..r12, ctr, xer and cr0, cr1, cr5..cr7, all
    // declared as outputs or clobbers here; r1, r2, r13..r31, lr and cr2..cr4
    // survive. `mfcr 6` only copies the condition register into r6 (`cr`), one
    // of the registers `sc` clobbers anyway, so no register the caller keeps is
    // spent (a `reg` operand would get a callee-saved one, and a save). `fd` is a
    // u32 in a 64-bit register: the kernel declares it `unsigned int` and reads
    // the low 32 bits.
    unsafe {
        asm!(
            "sc",
            "mfcr 6",
            inlateout("r0") SYS_WRITE => _,
            inlateout("r3") fd as usize => ret,
            inlateout("r4") buf.as_ptr() => _,
            inlateout("r5") buf.len() => _,
            lateout("r6") cr,
            lateout("r7") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            lateout("ctr") _,
            lateout("xer") _,
            lateout("cr0") _,
            lateout("cr1") _,
            lateout("cr5") _,
            lateout("cr6") _,
            lateout("cr7") _,
            options(nostack, readonly),
        );
    }
    if cr & CR0_SO != 0 { -ret } else { ret }
}

/// `exit(status)`: ends the process; the kernel keeps the low 8 bits of `status`.
#[inline(always)]
pub fn exit(status: u32) -> ! {
    // SAFETY: `exit` reads and writes no user memory and never returns, so no
    // register state after it matters. `status` is a u32 in a 64-bit register:
    // the kernel declares it `int` and reads the low 32 bits.
    unsafe {
        asm!(
            "sc",
            in("r0") SYS_EXIT,
            in("r3") status,
            options(noreturn, nostack, nomem),
        );
    }
}
