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

/// `PROT_READ`, `PROT_WRITE` in include/uapi/asm-generic/mman-common.h.
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
/// `MAP_PRIVATE` (uapi/linux/mman.h) and `MAP_ANONYMOUS` (asm-generic/mman-common.h).
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;
/// `mmap` in syscall_32.tbl: `sys_old_mmap`, which reads its six arguments
/// from memory (`struct mmap_arg_struct`). `mmap2` would take them in
/// registers, the sixth in ebp, which Rust keeps as the frame pointer.
const SYS_MMAP: usize = 90;

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

// ## The server's system calls (src/bin/serve.rs): numbers, then the raw
// instruction with one to five arguments. The typed, safe wrappers over these
// are in src/sys/calls.rs, shared by every architecture. The socket calls are
// direct system calls (Linux 4.3 and later), not `socketcall`.

/// `read` in syscall_32.tbl.
pub const SYS_READ: usize = 3;
/// `close` in syscall_32.tbl.
pub const SYS_CLOSE: usize = 6;
/// `rt_sigaction` in syscall_32.tbl.
pub const SYS_RT_SIGACTION: usize = 174;
/// `rt_sigprocmask` in syscall_32.tbl.
pub const SYS_RT_SIGPROCMASK: usize = 175;
/// `writev` in syscall_32.tbl.
pub const SYS_WRITEV: usize = 146;
/// `socket` in syscall_32.tbl.
pub const SYS_SOCKET: usize = 359;
/// `bind` in syscall_32.tbl.
pub const SYS_BIND: usize = 361;
/// `connect` in syscall_32.tbl.
pub const SYS_CONNECT: usize = 362;
/// `listen` in syscall_32.tbl.
pub const SYS_LISTEN: usize = 363;
/// `accept4` in syscall_32.tbl.
pub const SYS_ACCEPT4: usize = 364;
/// `setsockopt` in syscall_32.tbl.
pub const SYS_SETSOCKOPT: usize = 366;
/// `shutdown` in syscall_32.tbl.
pub const SYS_SHUTDOWN: usize = 373;
/// `fork` in syscall_32.tbl.
const SYS_FORK: usize = 2;
/// `wait4` in syscall_32.tbl.
pub const SYS_WAIT4: usize = 114;
/// `kill` in syscall_32.tbl.
pub const SYS_KILL: usize = 37;
/// `getpid` in syscall_32.tbl.
pub const SYS_GETPID: usize = 20;
/// `getppid` in syscall_32.tbl.
pub const SYS_GETPPID: usize = 64;
/// `prctl` in syscall_32.tbl.
pub const SYS_PRCTL: usize = 172;
/// `sched_getaffinity` in syscall_32.tbl.
pub const SYS_SCHED_GETAFFINITY: usize = 242;
/// `clock_gettime64` in syscall_32.tbl (Linux 5.1): it writes a struct
/// __kernel_timespec, two 64-bit words, as `clock_gettime` does on 64-bit
/// architectures; the 32-bit `clock_gettime` (265) ends in 2038.
pub const SYS_CLOCK_GETTIME: usize = 403;
/// `epoll_ctl` in syscall_32.tbl.
pub const SYS_EPOLL_CTL: usize = 255;
/// `openat` in syscall_32.tbl.
pub const SYS_OPENAT: usize = 295;
/// `epoll_pwait` in syscall_32.tbl (used everywhere: the generic table has no `epoll_wait`).
pub const SYS_EPOLL_PWAIT: usize = 319;
/// `signalfd4` in syscall_32.tbl.
pub const SYS_SIGNALFD4: usize = 327;
/// `epoll_create1` in syscall_32.tbl.
pub const SYS_EPOLL_CREATE1: usize = 329;
/// `prlimit64` in syscall_32.tbl.
pub const SYS_PRLIMIT64: usize = 340;

/// `SO_RCVTIMEO_OLD` and `SO_SNDTIMEO_OLD` in include/uapi/asm-generic/socket.h:
/// a `struct timeval` of two `long`s, 32-bit here.
pub const SO_RCVTIMEO: u32 = 20;
pub const SO_SNDTIMEO: u32 = 21;

/// `struct epoll_event` as i386 lays it out: 12 bytes, the data right after
/// the 4-byte event mask (a u64 is 4-byte aligned in the i386 ABI; packed
/// here so that the layout does not depend on it).
#[repr(C, packed)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// No `SA_RESTORER`: the only handler installed is SIG_IGN, which needs no
/// signal frame (and a handler without it returns through the vDSO).
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
    // `int 0x80` preserves every register but eax, the result; the kernel does
    // not use the user stack (`nostack`).
    unsafe {
        asm!("int 0x80", inlateout("eax") n as isize => ret, in("ebx") a, options(nostack));
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
    // SAFETY: as in `syscall1`; the second argument goes in ecx.
    unsafe {
        asm!("int 0x80", inlateout("eax") n as isize => ret, in("ebx") a, in("ecx") b,
             options(nostack));
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
    // SAFETY: as in `syscall1`; the third argument goes in edx.
    unsafe {
        asm!("int 0x80", inlateout("eax") n as isize => ret, in("ebx") a, in("ecx") b,
             in("edx") c, options(nostack));
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
    // SAFETY: as in `syscall1`; the fourth argument goes in esi, which LLVM
    // keeps for itself (its base pointer), so it is swapped in from another
    // register and back: esi and that register hold what they held before.
    unsafe {
        asm!("xchg esi, {d}", "int 0x80", "xchg esi, {d}", d = in(reg) d,
             inlateout("eax") n as isize => ret, in("ebx") a, in("ecx") b, in("edx") c,
             options(nostack));
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
    // SAFETY: as in `syscall4`; the fifth argument goes in edi.
    unsafe {
        asm!("xchg esi, {d}", "int 0x80", "xchg esi, {d}", d = in(reg) d,
             inlateout("eax") n as isize => ret, in("ebx") a, in("ecx") b, in("edx") c,
             in("edi") e, options(nostack));
    }
    ret
}

/// `fork()`: the child's pid in the parent, 0 in the child, or `-errno`.
#[inline(always)]
pub fn fork() -> isize {
    let ret;
    // SAFETY: `fork` reads and writes no user memory; the child resumes here
    // with a copy of every register and of the address space, so both
    // processes continue as after any other call.
    unsafe {
        asm!("int 0x80", inlateout("eax") SYS_FORK as isize => ret, options(nostack, nomem));
    }
    ret
}
