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

/// `PROT_READ`, `PROT_WRITE` in include/uapi/asm-generic/mman-common.h.
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
/// `MAP_PRIVATE` (uapi/linux/mman.h) and `MAP_ANONYMOUS` (asm-generic/mman-common.h).
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;
/// `mmap` in syscall.tbl: `sys_old_mmap`, which reads its six arguments from
/// memory (`struct mmap_arg_struct`); s390x has no six-register `mmap`.
const SYS_MMAP: usize = 90;
/// `fork` in syscall.tbl.
const SYS_FORK: u8 = 2;

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`:
/// the address of `len` fresh bytes, all zero, or `-errno`.
#[inline(always)]
pub fn mmap_anonymous(len: usize) -> isize {
    // struct mmap_arg_struct: addr, len, prot, flags, fd, offset.
    let args = [
        0,
        len,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        usize::MAX,
        0,
    ];
    // SAFETY: the kernel reads the six words of `args`, a live local; an
    // anonymous private mapping at an address it chooses (no MAP_FIXED)
    // replaces no existing memory, and it writes no user memory.
    unsafe { syscall1(SYS_MMAP, args.as_ptr() as usize) }
}

/// `fork()`: the child's pid in the parent, 0 in the child, or `-errno`.
#[inline(always)]
pub fn fork() -> isize {
    let ret;
    // SAFETY: `fork` reads and writes no user memory; the child resumes here
    // with a copy of every register and of the address space, so both
    // processes continue as after any other call.
    unsafe {
        asm!("svc {nr}", nr = const SYS_FORK, lateout("r2") ret, options(nostack, nomem));
    }
    ret
}

// ## The server's system calls (src/bin/serve.rs): numbers, then the raw
// instruction with one to five arguments. The typed, safe wrappers over these
// are in src/sys/calls.rs, shared by every architecture. They use `svc 0`,
// which takes the number from r1: the socket calls' numbers (Linux 4.3 added
// them beside `socketcall`) are above the 255 an `svc` immediate holds.

/// `read` in syscall.tbl.
pub const SYS_READ: usize = 3;
/// `close` in syscall.tbl.
pub const SYS_CLOSE: usize = 6;
/// `rt_sigaction` in syscall.tbl.
pub const SYS_RT_SIGACTION: usize = 174;
/// `rt_sigprocmask` in syscall.tbl.
pub const SYS_RT_SIGPROCMASK: usize = 175;
/// `writev` in syscall.tbl.
pub const SYS_WRITEV: usize = 146;
/// `socket` in syscall.tbl.
pub const SYS_SOCKET: usize = 359;
/// `bind` in syscall.tbl.
pub const SYS_BIND: usize = 361;
/// `connect` in syscall.tbl.
pub const SYS_CONNECT: usize = 362;
/// `listen` in syscall.tbl.
pub const SYS_LISTEN: usize = 363;
/// `accept4` in syscall.tbl.
pub const SYS_ACCEPT4: usize = 364;
/// `setsockopt` in syscall.tbl.
pub const SYS_SETSOCKOPT: usize = 366;
/// `shutdown` in syscall.tbl.
pub const SYS_SHUTDOWN: usize = 373;
/// `wait4` in syscall.tbl.
pub const SYS_WAIT4: usize = 114;
/// `kill` in syscall.tbl.
pub const SYS_KILL: usize = 37;
/// `getpid` in syscall.tbl.
pub const SYS_GETPID: usize = 20;
/// `getppid` in syscall.tbl.
pub const SYS_GETPPID: usize = 64;
/// `prctl` in syscall.tbl.
pub const SYS_PRCTL: usize = 172;
/// `sched_getaffinity` in syscall.tbl.
pub const SYS_SCHED_GETAFFINITY: usize = 240;
/// `clock_gettime` in syscall.tbl.
pub const SYS_CLOCK_GETTIME: usize = 260;
/// `epoll_ctl` in syscall.tbl.
pub const SYS_EPOLL_CTL: usize = 250;
/// `openat` in syscall.tbl.
pub const SYS_OPENAT: usize = 288;
/// `epoll_pwait` in syscall.tbl (used everywhere: the generic table has no `epoll_wait`).
pub const SYS_EPOLL_PWAIT: usize = 312;
/// `signalfd4` in syscall.tbl.
pub const SYS_SIGNALFD4: usize = 322;
/// `epoll_create1` in syscall.tbl.
pub const SYS_EPOLL_CREATE1: usize = 327;
/// `prlimit64` in syscall.tbl.
pub const SYS_PRLIMIT64: usize = 334;

/// `SO_RCVTIMEO_OLD` and `SO_SNDTIMEO_OLD` in include/uapi/asm-generic/socket.h:
/// a `struct timeval` of two `long`s.
pub const SO_RCVTIMEO: u32 = 20;
pub const SO_SNDTIMEO: u32 = 21;

/// `struct epoll_event` on s390x: 16 bytes, the data 8-byte aligned
/// (include/uapi/linux/eventpoll.h packs it on x86-64 only).
#[repr(C)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// No `SA_RESTORER`: the only handler installed is SIG_IGN, which needs no
/// signal frame (and without it the kernel builds its own sigreturn).
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
    // The kernel restores every register but r2, the result, and does not use
    // the user stack (`nostack`).
    unsafe {
        asm!("svc 0", in("r1") n, inlateout("r2") a => ret, options(nostack));
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
    // SAFETY: as in `syscall1`; the second argument goes in r3.
    unsafe {
        asm!("svc 0", in("r1") n, inlateout("r2") a => ret, in("r3") b, options(nostack));
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
    // SAFETY: as in `syscall1`; the third argument goes in r4.
    unsafe {
        asm!("svc 0", in("r1") n, inlateout("r2") a => ret, in("r3") b, in("r4") c,
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
    // SAFETY: as in `syscall1`; the fourth argument goes in r5.
    unsafe {
        asm!("svc 0", in("r1") n, inlateout("r2") a => ret, in("r3") b, in("r4") c,
             in("r5") d, options(nostack));
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
    // SAFETY: as in `syscall1`; the fifth argument goes in r6.
    unsafe {
        asm!("svc 0", in("r1") n, inlateout("r2") a => ret, in("r3") b, in("r4") c,
             in("r5") d, in("r6") e, options(nostack));
    }
    ret
}
