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

// ## The server's system calls (src/bin/serve.rs): numbers, then the raw
// instruction with one to five arguments. The typed, safe wrappers over these
// are in src/sys/calls.rs, shared by every architecture.

/// `read` in syscall_64.tbl.
pub const SYS_READ: usize = 0;
/// `close` in syscall_64.tbl.
pub const SYS_CLOSE: usize = 3;
/// `rt_sigaction` in syscall_64.tbl.
pub const SYS_RT_SIGACTION: usize = 13;
/// `writev` in syscall_64.tbl.
pub const SYS_WRITEV: usize = 20;
/// `socket` in syscall_64.tbl.
pub const SYS_SOCKET: usize = 41;
/// `shutdown` in syscall_64.tbl.
pub const SYS_SHUTDOWN: usize = 48;
/// `bind` in syscall_64.tbl.
pub const SYS_BIND: usize = 49;
/// `listen` in syscall_64.tbl.
pub const SYS_LISTEN: usize = 50;
/// `setsockopt` in syscall_64.tbl.
pub const SYS_SETSOCKOPT: usize = 54;
/// `fork` in syscall_64.tbl.
const SYS_FORK: usize = 57;
/// `accept4` in syscall_64.tbl.
pub const SYS_ACCEPT4: usize = 288;
/// `rt_sigprocmask` in syscall_64.tbl.
pub const SYS_RT_SIGPROCMASK: usize = 14;
/// `connect` in syscall_64.tbl.
pub const SYS_CONNECT: usize = 42;
/// `wait4` in syscall_64.tbl.
pub const SYS_WAIT4: usize = 61;
/// `kill` in syscall_64.tbl.
pub const SYS_KILL: usize = 62;
/// `getpid` in syscall_64.tbl.
pub const SYS_GETPID: usize = 39;
/// `getppid` in syscall_64.tbl.
pub const SYS_GETPPID: usize = 110;
/// `prctl` in syscall_64.tbl.
pub const SYS_PRCTL: usize = 157;
/// `sched_getaffinity` in syscall_64.tbl.
pub const SYS_SCHED_GETAFFINITY: usize = 204;
/// `clock_gettime` in syscall_64.tbl.
pub const SYS_CLOCK_GETTIME: usize = 228;
/// `epoll_ctl` in syscall_64.tbl.
pub const SYS_EPOLL_CTL: usize = 233;
/// `openat` in syscall_64.tbl.
pub const SYS_OPENAT: usize = 257;
/// `epoll_pwait` in syscall_64.tbl (arm64 has no `epoll_wait`, so both use this).
pub const SYS_EPOLL_PWAIT: usize = 281;
/// `signalfd4` in syscall_64.tbl.
pub const SYS_SIGNALFD4: usize = 289;
/// `epoll_create1` in syscall_64.tbl.
pub const SYS_EPOLL_CREATE1: usize = 291;
/// `prlimit64` in syscall_64.tbl.
pub const SYS_PRLIMIT64: usize = 302;

/// `SO_RCVTIMEO_OLD` and `SO_SNDTIMEO_OLD` in include/uapi/asm-generic/socket.h:
/// a `struct timeval` of two `long`s.
pub const SO_RCVTIMEO: u32 = 20;
pub const SO_SNDTIMEO: u32 = 21;

/// `struct epoll_event` as x86-64 lays it out: `EPOLL_PACKED` in
/// include/uapi/linux/eventpoll.h makes it 12 bytes, the data right after the
/// 4-byte event mask.
#[repr(C, packed)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// `SA_RESTORER` in arch/x86/include/uapi/asm/signal.h. x86-64 Linux builds a
/// signal frame only for handlers that have it (arch/x86/kernel/signal_64.c,
/// x64_setup_rt_frame), so every handler is installed with it.
pub const SA_RESTORER: usize = 0x0400_0000;

/// System call `n` with one argument: the result, or `-errno`.
///
/// # Safety
/// The caller guarantees that the call reads and writes only memory it owns,
/// as the kernel documents the call's arguments.
#[inline(always)]
pub unsafe fn syscall1(n: usize, a: usize) -> isize {
    let ret;
    // SAFETY: the caller vouches for the memory the call touches (see above).
    // `syscall` overwrites rcx and r11, declared clobbered; the kernel keeps the
    // other registers and does not use the user stack (`nostack`).
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a,
             lateout("rcx") _, lateout("r11") _, options(nostack));
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
    // SAFETY: as in `syscall1`; the second argument goes in rsi.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
             lateout("rcx") _, lateout("r11") _, options(nostack));
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
    // SAFETY: as in `syscall1`; the third argument goes in rdx.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, lateout("rcx") _, lateout("r11") _, options(nostack));
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
    // SAFETY: as in `syscall1`; the fourth argument goes in r10 (not rcx, which
    // `syscall` overwrites).
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, lateout("rcx") _, lateout("r11") _, options(nostack));
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
    // SAFETY: as in `syscall1`; the fifth argument goes in r8.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _,
             options(nostack));
    }
    ret
}

/// `fork()`: the child's pid in the parent, 0 in the child, or `-errno`.
#[inline(always)]
pub fn fork() -> isize {
    let ret;
    // SAFETY: `fork` reads and writes no user memory; the child resumes here
    // with a copy of every register and of the address space, so both
    // processes continue as after any other call. Clobbers as in `syscall1`.
    unsafe {
        asm!("syscall", inlateout("rax") SYS_FORK as isize => ret,
             lateout("rcx") _, lateout("r11") _, options(nostack, nomem));
    }
    ret
}
