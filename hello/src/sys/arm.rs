//! Linux system calls on 32-bit Arm (EABI): the only `asm!` in the program.
//!
//! Each `asm!` is the `svc #0` instruction and its register operands: the number
//! in r7, the arguments in r0..r2, the result in r0. Numbers are from the
//! kernel's table, arch/arm/tools/syscall.tbl.
//!
//! Every arm build here is Thumb code, where r7 is the frame pointer, which
//! Rust does not let an `asm!` operand name. So each `asm!` also loads r7
//! itself, with the number as an immediate, and `write`'s (which returns)
//! saves and restores it around the `svc`, as every Thumb syscall wrapper does.
//!
//! Serve's and hello's linux/arm/v5 builds (`cfg(armv5)`, set by the xtask
//! for those files) are Thumb-1 for the ARM926EJ-S, whose Thumb (ARMv5TE)
//! has a 16-bit `mov` between two registers only when one of them is high
//! (r8..r15): the same encoding between two low registers is UNPREDICTABLE
//! there, and LLVM refuses it. There `mov!` gives `movs`, the ARMv4T form (encoded as
//! `lsls rd, rm, #0`), which sets the flags as well; no `asm!` here promises
//! to keep them (`preserves_flags`). Every other build keeps its `mov`, and
//! with it its bytes.
#![allow(unsafe_code)]

use core::arch::asm;

/// The register-to-register move of this build's `asm!`: `mov`, or `movs`
/// for ARMv5's Thumb (see the module's docs).
#[cfg(not(armv5))]
macro_rules! mov {
    () => {
        "mov"
    };
}
#[cfg(armv5)]
macro_rules! mov {
    () => {
        "movs"
    };
}

/// `write` in syscall.tbl.
const SYS_WRITE: usize = 4;
/// `exit` in syscall.tbl. The program has one thread, so `exit` ends the
/// process just as `exit_group` (248) would, and 1 loads in fewer bytes.
const SYS_EXIT: usize = 1;

/// `write(fd, buf.as_ptr(), buf.len())`: the number of bytes written, or `-errno`.
#[inline(always)]
pub fn write(fd: u32, buf: &[u8]) -> isize {
    let ret;
    // SAFETY: the kernel reads `buf.len()` bytes from `buf.as_ptr()`, which a live
    // shared slice guarantees are readable; it writes no user memory (`readonly`)
    // and does not touch the user stack (`nostack`). `svc` preserves every
    // register but r0, which carries the result. r7 is saved in `saved` and
    // restored before the `asm!` ends, so the compiler's r7 survives.
    unsafe {
        asm!(
            concat!(mov!(), " {saved}, r7"),
            "movs r7, #{nr}",
            "svc #0",
            concat!(mov!(), " r7, {saved}"),
            nr = const SYS_WRITE,
            saved = out(reg) _,
            inlateout("r0") fd as usize => ret,
            in("r1") buf.as_ptr(),
            in("r2") buf.len(),
            options(nostack, readonly),
        );
    }
    ret
}

/// `exit(status)`: ends the process; the kernel keeps the low 8 bits of `status`.
#[inline(always)]
pub fn exit(status: u32) -> ! {
    // SAFETY: `exit` reads and writes no user memory and never returns, so no
    // register state after it matters, r7 included.
    unsafe {
        asm!(
            "movs r7, #{nr}",
            "svc #0",
            nr = const SYS_EXIT,
            in("r0") status,
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
/// `mmap2` in syscall.tbl: EABI has no `mmap`; the offset is in pages.
const SYS_MMAP2: usize = 192;
/// `fork` in syscall.tbl.
const SYS_FORK: usize = 2;

/// `mmap2(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`:
/// the address of `len` fresh bytes, all zero, or `-errno`.
#[inline(always)]
pub fn mmap_anonymous(len: usize) -> isize {
    let ret;
    // SAFETY: an anonymous private mapping at an address the kernel chooses
    // (addr 0, no MAP_FIXED) replaces no existing memory and reads none; the
    // kernel writes no user memory. r7 is pushed and popped around the `svc`
    // (six arguments leave no spare register to keep it in, on Thumb-1).
    unsafe {
        asm!(
            "push {{r7}}",
            "movs r7, #{nr}",
            "svc #0",
            "pop {{r7}}",
            nr = const SYS_MMAP2,
            inlateout("r0") 0usize as isize => ret,
            in("r1") len,
            in("r2") PROT_READ | PROT_WRITE,
            in("r3") MAP_PRIVATE | MAP_ANONYMOUS,
            in("r4") -1isize,
            in("r5") 0usize,
            options(nomem),
        );
    }
    ret
}

/// `fork()`: the child's pid in the parent, 0 in the child, or `-errno`.
#[inline(always)]
pub fn fork() -> isize {
    let ret;
    // SAFETY: `fork` reads and writes no user memory; the child resumes here
    // with a copy of every register and of the address space, so both
    // processes continue as after any other call. r7 as in `mmap_anonymous`.
    unsafe {
        asm!("push {{r7}}", "movs r7, #{nr}", "svc #0", "pop {{r7}}", nr = const SYS_FORK,
             lateout("r0") ret, options(nomem));
    }
    ret
}

// ## The server's system calls (src/bin/serve.rs): numbers, then the raw
// instruction with one to five arguments. The typed, safe wrappers over these
// are in src/sys/calls.rs, shared by every architecture. Each pushes r7, moves
// the number into it, and pops it after the `svc`: numbers above 255 do not
// fit a Thumb-1 `movs`, and Thumb-1 has no spare register to keep r7 in.

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
pub const SYS_SOCKET: usize = 281;
/// `bind` in syscall.tbl.
pub const SYS_BIND: usize = 282;
/// `connect` in syscall.tbl.
pub const SYS_CONNECT: usize = 283;
/// `listen` in syscall.tbl.
pub const SYS_LISTEN: usize = 284;
/// `accept4` in syscall.tbl.
pub const SYS_ACCEPT4: usize = 366;
/// `setsockopt` in syscall.tbl.
pub const SYS_SETSOCKOPT: usize = 294;
/// `shutdown` in syscall.tbl.
pub const SYS_SHUTDOWN: usize = 293;
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
pub const SYS_SCHED_GETAFFINITY: usize = 242;
/// `clock_gettime64` in syscall.tbl (Linux 5.1): it writes a struct
/// __kernel_timespec, two 64-bit words, as `clock_gettime` does on 64-bit
/// architectures; the 32-bit `clock_gettime` (263) ends in 2038.
pub const SYS_CLOCK_GETTIME: usize = 403;
/// `epoll_ctl` in syscall.tbl.
pub const SYS_EPOLL_CTL: usize = 251;
/// `openat` in syscall.tbl.
pub const SYS_OPENAT: usize = 322;
/// `epoll_pwait` in syscall.tbl (used everywhere: the generic table has no `epoll_wait`).
pub const SYS_EPOLL_PWAIT: usize = 346;
/// `signalfd4` in syscall.tbl.
pub const SYS_SIGNALFD4: usize = 355;
/// `epoll_create1` in syscall.tbl.
pub const SYS_EPOLL_CREATE1: usize = 357;
/// `prlimit64` in syscall.tbl.
pub const SYS_PRLIMIT64: usize = 369;

/// `SO_RCVTIMEO_OLD` and `SO_SNDTIMEO_OLD` in include/uapi/asm-generic/socket.h:
/// a `struct timeval` of two `long`s, 32-bit here.
pub const SO_RCVTIMEO: u32 = 20;
pub const SO_SNDTIMEO: u32 = 21;

/// `struct epoll_event` as EABI lays it out: 16 bytes, the data 8-byte
/// aligned (include/uapi/linux/eventpoll.h packs it on x86-64 only).
#[repr(C)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// No `SA_RESTORER`: the only handler installed is SIG_IGN, which needs no
/// signal frame (and a handler without it returns through the kernel's
/// sigreturn page).
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
    // `svc` preserves every register but r0, the result; r7 is pushed and
    // popped, so the stack is as it was.
    unsafe {
        asm!("push {{r7}}", concat!(mov!(), " r7, {n}"), "svc #0", "pop {{r7}}", n = in(reg) n,
             inlateout("r0") a => ret);
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
    // SAFETY: as in `syscall1`; the second argument goes in r1.
    unsafe {
        asm!("push {{r7}}", concat!(mov!(), " r7, {n}"), "svc #0", "pop {{r7}}", n = in(reg) n,
             inlateout("r0") a => ret, in("r1") b);
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
    // SAFETY: as in `syscall1`; the third argument goes in r2.
    unsafe {
        asm!("push {{r7}}", concat!(mov!(), " r7, {n}"), "svc #0", "pop {{r7}}", n = in(reg) n,
             inlateout("r0") a => ret, in("r1") b, in("r2") c);
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
    // SAFETY: as in `syscall1`; the fourth argument goes in r3.
    unsafe {
        asm!("push {{r7}}", concat!(mov!(), " r7, {n}"), "svc #0", "pop {{r7}}", n = in(reg) n,
             inlateout("r0") a => ret, in("r1") b, in("r2") c, in("r3") d);
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
    // SAFETY: as in `syscall1`; the fifth argument goes in r4.
    unsafe {
        asm!("push {{r7}}", concat!(mov!(), " r7, {n}"), "svc #0", "pop {{r7}}", n = in(reg) n,
             inlateout("r0") a => ret, in("r1") b, in("r2") c, in("r3") d, in("r4") e);
    }
    ret
}
