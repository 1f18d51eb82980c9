//! Linux system calls on 64-bit PowerPC (ppc64le, ELFv2): the only `asm!` in
//! the program.
//!
//! Each `asm!` is the `sc` instruction and its register operands: the number in
//! r0, the arguments in r3..r5, the result in r3 (Documentation/powerpc/
//! syscall64-abi.rst). Unlike the other architectures, a failed call returns a
//! positive errno in r3 and says so in cr0's summary-overflow bit. Rust has no
//! operand class that reads a condition register, so `write`'s `asm!` adds one
//! `mfcr`, which copies the condition register into a general one; Rust code
//! then turns the errno into `-errno`. The server's calls (`syscall1`..
//! `syscall5`) instead `bl` to one copy of `sc` and the conversion,
//! `sc_errno`. Numbers are from the kernel's table,
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

/// `PROT_READ`, `PROT_WRITE` in include/uapi/asm-generic/mman-common.h.
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
/// `MAP_PRIVATE` (uapi/linux/mman.h) and `MAP_ANONYMOUS` (asm-generic/mman-common.h).
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;
/// `mmap` in syscall.tbl.
const SYS_MMAP: usize = 90;
/// `fork` in syscall.tbl.
const SYS_FORK: usize = 2;

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`:
/// the address of `len` fresh bytes, all zero, or `-errno`.
#[inline(always)]
pub fn mmap_anonymous(len: usize) -> isize {
    let ret: isize;
    let cr: usize;
    // SAFETY: an anonymous private mapping at an address the kernel chooses
    // (addr 0, no MAP_FIXED) replaces no existing memory and reads none; the
    // kernel writes no user memory. Registers as in `write`; the flags go in
    // r6, which `mfcr 6` then takes for `cr`.
    unsafe {
        asm!(
            "sc",
            "mfcr 6",
            inlateout("r0") SYS_MMAP => _,
            inlateout("r3") 0usize => ret,
            inlateout("r4") len => _,
            inlateout("r5") PROT_READ | PROT_WRITE => _,
            inlateout("r6") MAP_PRIVATE | MAP_ANONYMOUS => cr,
            inlateout("r7") usize::MAX => _,
            inlateout("r8") 0usize => _,
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
            options(nostack, nomem),
        );
    }
    if cr & CR0_SO as usize != 0 { -ret } else { ret }
}

/// `fork()`: the child's pid in the parent, 0 in the child, or `-errno`.
#[inline(always)]
pub fn fork() -> isize {
    // SAFETY: `fork` reads and writes no user memory; the child resumes after
    // the `sc` with a copy of every register and of the address space, so both
    // processes continue as after any other call. (Its argument is ignored.)
    unsafe { syscall1(SYS_FORK, 0) }
}

// ## The server's system calls (src/bin/serve.rs): numbers, then the raw
// instruction with one to five arguments. The typed, safe wrappers over these
// are in src/sys/calls.rs, shared by every architecture; the errno convention
// (a positive errno and cr0.SO) is turned into `-errno` here, as in `write`.

/// `read` in syscall.tbl.
pub const SYS_READ: usize = 3;
/// `close` in syscall.tbl.
pub const SYS_CLOSE: usize = 6;
/// `rt_sigaction` in syscall.tbl.
pub const SYS_RT_SIGACTION: usize = 173;
/// `rt_sigprocmask` in syscall.tbl.
pub const SYS_RT_SIGPROCMASK: usize = 174;
/// `writev` in syscall.tbl.
pub const SYS_WRITEV: usize = 146;
/// `socket` in syscall.tbl.
pub const SYS_SOCKET: usize = 326;
/// `bind` in syscall.tbl.
pub const SYS_BIND: usize = 327;
/// `connect` in syscall.tbl.
pub const SYS_CONNECT: usize = 328;
/// `listen` in syscall.tbl.
pub const SYS_LISTEN: usize = 329;
/// `accept4` in syscall.tbl.
pub const SYS_ACCEPT4: usize = 344;
/// `setsockopt` in syscall.tbl.
pub const SYS_SETSOCKOPT: usize = 339;
/// `shutdown` in syscall.tbl.
pub const SYS_SHUTDOWN: usize = 338;
/// `wait4` in syscall.tbl.
pub const SYS_WAIT4: usize = 114;
/// `kill` in syscall.tbl.
pub const SYS_KILL: usize = 37;
/// `getpid` in syscall.tbl.
pub const SYS_GETPID: usize = 20;
/// `getppid` in syscall.tbl.
pub const SYS_GETPPID: usize = 64;
/// `prctl` in syscall.tbl.
pub const SYS_PRCTL: usize = 171;
/// `sched_getaffinity` in syscall.tbl.
pub const SYS_SCHED_GETAFFINITY: usize = 223;
/// `clock_gettime` in syscall.tbl.
pub const SYS_CLOCK_GETTIME: usize = 246;
/// `epoll_ctl` in syscall.tbl.
pub const SYS_EPOLL_CTL: usize = 237;
/// `openat` in syscall.tbl.
pub const SYS_OPENAT: usize = 286;
/// `epoll_pwait` in syscall.tbl (used everywhere: the generic table has no `epoll_wait`).
pub const SYS_EPOLL_PWAIT: usize = 303;
/// `signalfd4` in syscall.tbl.
pub const SYS_SIGNALFD4: usize = 313;
/// `epoll_create1` in syscall.tbl.
pub const SYS_EPOLL_CREATE1: usize = 315;
/// `prlimit64` in syscall.tbl.
pub const SYS_PRLIMIT64: usize = 325;

/// `SO_RCVTIMEO_OLD` and `SO_SNDTIMEO_OLD` in arch/powerpc/include/uapi/asm/socket.h
/// (18 and 19 on powerpc, not the generic 20 and 21): a `struct timeval` of two `long`s.
pub const SO_RCVTIMEO: u32 = 18;
pub const SO_SNDTIMEO: u32 = 19;

/// `struct epoll_event` on ppc64le: 16 bytes, the data 8-byte aligned
/// (include/uapi/linux/eventpoll.h packs it on x86-64 only).
#[repr(C)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// No `SA_RESTORER`: the only handler installed is SIG_IGN, which needs no
/// signal frame (and without it the kernel returns through the vDSO).
pub const SA_RESTORER: usize = 0;

/// `sc`, then `-errno` in r3 if the call failed (cr0.SO set): the one copy of
/// the conversion, which [`syscall1`]..[`syscall5`] reach with `bl` rather
/// than repeat at each of serve's 40 call sites (`mfcr` at each, and three
/// more instructions where the result is read: 320 bytes in all). Registers
/// are those of `sc`: the number in r0, the arguments in r3..r7, the result
/// in r3; it returns to lr with no frame and no TOC. `write`, `exit` and
/// `mmap_anonymous` stay inline: hello's and the quine's files are unchanged.
///
/// # Safety
/// Only the `asm!` of [`syscall1`]..[`syscall5`] reach it, with their
/// registers and clobbers: it is not a C function, whatever its ABI says.
// SAFETY: the body is the whole function (`sc`, the conversion, `blr`): no
// prologue is needed, as it uses no stack, no TOC and no callee-saved register.
#[unsafe(naked)]
// SAFETY: never called from Rust (see # Safety): only `bl` in the `asm!` below.
unsafe extern "C" fn sc_errno() {
    core::arch::naked_asm!("sc", "bnslr", "neg 3, 3", "blr");
}

/// System call `n` with one argument: the result, or `-errno`.
///
/// # Safety
/// The caller guarantees that the call reads and writes only memory it owns,
/// as the kernel documents the call's arguments.
#[inline(always)]
pub unsafe fn syscall1(n: usize, a: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the memory the call touches (see above).
    // Registers as in `write`: every one `sc` may change is an output or a
    // clobber, and so is lr, which `bl` sets; `sc_errno` changes nothing else
    // (r3 and cr0, both outputs here). The kernel does not use the user stack
    // and `sc_errno` makes no frame (`nostack`).
    unsafe {
        asm!(
            "bl {sc}",
            sc = sym sc_errno,
            inlateout("r0") n => _,
            inlateout("r3") a => ret,
            lateout("r6") _,
            lateout("r4") _,
            lateout("r5") _,
            lateout("r7") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            lateout("ctr") _,
            lateout("lr") _,
            lateout("xer") _,
            lateout("cr0") _,
            lateout("cr1") _,
            lateout("cr5") _,
            lateout("cr6") _,
            lateout("cr7") _,
            options(nostack),
        );
    }
    ret
}

/// System call `n` with two arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a: usize, b: usize) -> isize {
    let ret: isize;
    // SAFETY: as in `syscall1`; the second argument goes in r4.
    unsafe {
        asm!(
            "bl {sc}",
            sc = sym sc_errno,
            inlateout("r0") n => _,
            inlateout("r3") a => ret,
            inlateout("r4") b => _,
            lateout("r6") _,
            lateout("r5") _,
            lateout("r7") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            lateout("ctr") _,
            lateout("lr") _,
            lateout("xer") _,
            lateout("cr0") _,
            lateout("cr1") _,
            lateout("cr5") _,
            lateout("cr6") _,
            lateout("cr7") _,
            options(nostack),
        );
    }
    ret
}

/// System call `n` with three arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: as in `syscall1`; the third argument goes in r5.
    unsafe {
        asm!(
            "bl {sc}",
            sc = sym sc_errno,
            inlateout("r0") n => _,
            inlateout("r3") a => ret,
            inlateout("r4") b => _,
            inlateout("r5") c => _,
            lateout("r6") _,
            lateout("r7") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            lateout("ctr") _,
            lateout("lr") _,
            lateout("xer") _,
            lateout("cr0") _,
            lateout("cr1") _,
            lateout("cr5") _,
            lateout("cr6") _,
            lateout("cr7") _,
            options(nostack),
        );
    }
    ret
}

/// System call `n` with four arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: as in `syscall1`; the fourth argument goes in r6.
    unsafe {
        asm!(
            "bl {sc}",
            sc = sym sc_errno,
            inlateout("r0") n => _,
            inlateout("r3") a => ret,
            inlateout("r4") b => _,
            inlateout("r5") c => _,
            inlateout("r6") d => _,
            lateout("r7") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            lateout("ctr") _,
            lateout("lr") _,
            lateout("xer") _,
            lateout("cr0") _,
            lateout("cr1") _,
            lateout("cr5") _,
            lateout("cr6") _,
            lateout("cr7") _,
            options(nostack),
        );
    }
    ret
}

/// System call `n` with five arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    // SAFETY: as in `syscall1`; the fifth argument goes in r7.
    unsafe {
        asm!(
            "bl {sc}",
            sc = sym sc_errno,
            inlateout("r0") n => _,
            inlateout("r3") a => ret,
            inlateout("r4") b => _,
            inlateout("r5") c => _,
            inlateout("r6") d => _,
            inlateout("r7") e => _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            lateout("ctr") _,
            lateout("lr") _,
            lateout("xer") _,
            lateout("cr0") _,
            lateout("cr1") _,
            lateout("cr5") _,
            lateout("cr6") _,
            lateout("cr7") _,
            options(nostack),
        );
    }
    ret
}
