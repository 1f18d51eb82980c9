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

/// `PROT_READ`, `PROT_WRITE` in include/uapi/asm-generic/mman-common.h.
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
/// `MAP_PRIVATE` (uapi/linux/mman.h) and `MAP_ANONYMOUS` (asm-generic/mman-common.h).
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;
/// `__NR_mmap` in asm-generic/unistd.h.
const SYS_MMAP: usize = 222;
/// `__NR_clone` in asm-generic/unistd.h (the generic table has no `fork`).
const SYS_CLONE: usize = 220;

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`:
/// the address of `len` fresh bytes, all zero, or `-errno`.
#[inline(always)]
pub fn mmap_anonymous(len: usize) -> isize {
    let ret;
    // SAFETY: an anonymous private mapping at an address the kernel chooses
    // (addr 0, no MAP_FIXED) replaces no existing memory and reads none; the
    // kernel writes no user memory. `ecall` preserves every register but a0.
    unsafe {
        asm!(
            "ecall",
            inlateout("a0") 0usize as isize => ret,
            in("a1") len,
            in("a2") PROT_READ | PROT_WRITE,
            in("a3") MAP_PRIVATE | MAP_ANONYMOUS,
            in("a4") -1isize,
            in("a5") 0usize,
            in("a7") SYS_MMAP,
            options(nostack, nomem),
        );
    }
    ret
}

/// `fork()`, as `clone(SIGCHLD, 0, 0, 0, 0)`: the child's pid in the parent, 0
/// in the child, or `-errno`.
#[inline(always)]
pub fn fork() -> isize {
    /// SIGCHLD (17, include/uapi/asm-generic/signal.h): the signal the parent
    /// gets when the child ends, as after `fork`.
    const SIGCHLD: usize = 17;
    let ret;
    // SAFETY: `clone` with only an exit signal and a null stack is `fork`: it
    // reads and writes no user memory, and the child resumes here with a copy of
    // every register and of the address space. a1..a4 (stack, parent_tid, tls,
    // child_tid) are zero: no new stack, nothing stored.
    unsafe {
        asm!("ecall", inlateout("a0") SIGCHLD => ret, in("a1") 0, in("a2") 0,
             in("a3") 0, in("a4") 0, in("a7") SYS_CLONE, options(nostack, nomem));
    }
    ret
}

// ## The server's system calls (src/bin/serve.rs): numbers, then the raw
// instruction with one to five arguments. The typed, safe wrappers over these
// are in src/sys/calls.rs, shared by every architecture.

/// `__NR_read` in asm-generic/unistd.h.
pub const SYS_READ: usize = 63;
/// `__NR_close` in asm-generic/unistd.h.
pub const SYS_CLOSE: usize = 57;
/// `__NR_rt_sigaction` in asm-generic/unistd.h.
pub const SYS_RT_SIGACTION: usize = 134;
/// `__NR_rt_sigprocmask` in asm-generic/unistd.h.
pub const SYS_RT_SIGPROCMASK: usize = 135;
/// `__NR_writev` in asm-generic/unistd.h.
pub const SYS_WRITEV: usize = 66;
/// `__NR_socket` in asm-generic/unistd.h.
pub const SYS_SOCKET: usize = 198;
/// `__NR_bind` in asm-generic/unistd.h.
pub const SYS_BIND: usize = 200;
/// `__NR_connect` in asm-generic/unistd.h.
pub const SYS_CONNECT: usize = 203;
/// `__NR_listen` in asm-generic/unistd.h.
pub const SYS_LISTEN: usize = 201;
/// `__NR_accept4` in asm-generic/unistd.h.
pub const SYS_ACCEPT4: usize = 242;
/// `__NR_setsockopt` in asm-generic/unistd.h.
pub const SYS_SETSOCKOPT: usize = 208;
/// `__NR_shutdown` in asm-generic/unistd.h.
pub const SYS_SHUTDOWN: usize = 210;
/// `__NR_wait4` in asm-generic/unistd.h.
pub const SYS_WAIT4: usize = 260;
/// `__NR_kill` in asm-generic/unistd.h.
pub const SYS_KILL: usize = 129;
/// `__NR_getpid` in asm-generic/unistd.h.
pub const SYS_GETPID: usize = 172;
/// `__NR_getppid` in asm-generic/unistd.h.
pub const SYS_GETPPID: usize = 173;
/// `__NR_prctl` in asm-generic/unistd.h.
pub const SYS_PRCTL: usize = 167;
/// `__NR_sched_getaffinity` in asm-generic/unistd.h.
pub const SYS_SCHED_GETAFFINITY: usize = 123;
/// `__NR_clock_gettime` in asm-generic/unistd.h.
pub const SYS_CLOCK_GETTIME: usize = 113;
/// `__NR_epoll_ctl` in asm-generic/unistd.h.
pub const SYS_EPOLL_CTL: usize = 21;
/// `__NR_openat` in asm-generic/unistd.h.
pub const SYS_OPENAT: usize = 56;
/// `__NR_epoll_pwait` in asm-generic/unistd.h (used everywhere: the generic table has no `epoll_wait`).
pub const SYS_EPOLL_PWAIT: usize = 22;
/// `__NR_signalfd4` in asm-generic/unistd.h.
pub const SYS_SIGNALFD4: usize = 74;
/// `__NR_epoll_create1` in asm-generic/unistd.h.
pub const SYS_EPOLL_CREATE1: usize = 20;
/// `__NR_prlimit64` in asm-generic/unistd.h.
pub const SYS_PRLIMIT64: usize = 261;

/// `SO_RCVTIMEO_OLD` and `SO_SNDTIMEO_OLD` in include/uapi/asm-generic/socket.h:
/// a `struct timeval` of two `long`s.
pub const SO_RCVTIMEO: u32 = 20;
pub const SO_SNDTIMEO: u32 = 21;

/// `struct epoll_event` on riscv64: 16 bytes, the data 8-byte aligned
/// (include/uapi/linux/eventpoll.h packs it on x86-64 only).
#[repr(C)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// riscv64 returns from a handler through the vDSO's sigreturn trampoline:
/// there is no `SA_RESTORER` (arch/riscv/kernel/signal.c).
pub const SA_RESTORER: usize = 0;

/// System call `n` with one argument: the result, or `-errno`.
///
/// # Safety
/// The caller guarantees that the call reads and writes only memory it owns,
/// as the kernel documents the call's arguments.
#[inline(always)]
pub unsafe fn syscall1(n: usize, a: usize) -> isize {
    let ret;
    // SAFETY: the caller vouches for the memory the call touches (see above).
    // `ecall` preserves every register but a0, the result; the kernel does not
    // use the user stack (`nostack`).
    unsafe {
        asm!("ecall", inlateout("a0") a => ret, in("a7") n, options(nostack));
    }
    ret
}

/// System call `n` with two arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a: usize, b: usize) -> isize {
    let ret;
    // SAFETY: as in `syscall1`; the second argument goes in a1.
    unsafe {
        asm!("ecall", inlateout("a0") a => ret, in("a1") b, in("a7") n, options(nostack));
    }
    ret
}

/// System call `n` with three arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> isize {
    let ret;
    // SAFETY: as in `syscall1`; the third argument goes in a2.
    unsafe {
        asm!("ecall", inlateout("a0") a => ret, in("a1") b, in("a2") c, in("a7") n,
             options(nostack));
    }
    ret
}

/// System call `n` with four arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret;
    // SAFETY: as in `syscall1`; the fourth argument goes in a3.
    unsafe {
        asm!("ecall", inlateout("a0") a => ret, in("a1") b, in("a2") c, in("a3") d,
             in("a7") n, options(nostack));
    }
    ret
}

/// System call `n` with five arguments; see [`syscall1`].
///
/// # Safety
/// As [`syscall1`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret;
    // SAFETY: as in `syscall1`; the fifth argument goes in a4.
    unsafe {
        asm!("ecall", inlateout("a0") a => ret, in("a1") b, in("a2") c, in("a3") d,
             in("a4") e, in("a7") n, options(nostack));
    }
    ret
}
