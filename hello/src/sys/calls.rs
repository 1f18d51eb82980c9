//! The typed system calls the server needs, the same on every architecture
//! that has them: each is a safe function over its architecture's raw
//! `syscallN` (src/sys/<arch>.rs), which holds the only `asm!`.
//!
//! The constants here are the same on every architecture built (x86-64, x86,
//! arm64, arm, riscv64, s390x, ppc64le); each cites the uapi header that
//! defines it. What differs (numbers, `struct epoll_event`, the socket-timeout
//! options) comes from src/sys/<arch>.rs. Results are the kernel's: a count, a
//! descriptor, or `-errno`.
#![allow(unsafe_code)]

pub use super::arch::{EpollEvent, SO_RCVTIMEO, SO_SNDTIMEO};
use super::arch::{
    SA_RESTORER, SYS_ACCEPT4, SYS_BIND, SYS_CLOCK_GETTIME, SYS_CLOSE, SYS_CONNECT,
    SYS_EPOLL_CREATE1, SYS_EPOLL_CTL, SYS_EPOLL_PWAIT, SYS_GETPID, SYS_GETPPID, SYS_KILL,
    SYS_LISTEN, SYS_OPENAT, SYS_PRCTL, SYS_PRLIMIT64, SYS_READ, SYS_RT_SIGACTION,
    SYS_RT_SIGPROCMASK, SYS_SCHED_GETAFFINITY, SYS_SETSOCKOPT, SYS_SHUTDOWN, SYS_SIGNALFD4,
    SYS_SOCKET, SYS_WAIT4, SYS_WRITEV, syscall1, syscall2, syscall3, syscall4, syscall5,
};
use core::marker::PhantomData;
use core::mem::MaybeUninit;

/// `AF_INET` in include/linux/socket.h.
pub const AF_INET: u32 = 2;
/// `AF_INET6` in include/linux/socket.h.
pub const AF_INET6: u32 = 10;
/// `SOCK_STREAM` in include/linux/net.h.
pub const SOCK_STREAM: u32 = 1;
/// `SOCK_NONBLOCK` in include/linux/net.h (= `O_NONBLOCK`, 0o4000 in
/// asm-generic/fcntl.h, which every architecture here keeps): `accept4` makes
/// the new socket non-blocking.
pub const SOCK_NONBLOCK: u32 = 0o4000;
/// `SOL_SOCKET` in include/uapi/asm-generic/socket.h.
pub const SOL_SOCKET: u32 = 1;
/// `SO_REUSEADDR` and `SO_REUSEPORT` in include/uapi/asm-generic/socket.h
/// (arch/powerpc's socket.h has the same numbers).
pub const SO_REUSEADDR: u32 = 2;
pub const SO_REUSEPORT: u32 = 15;
/// `IPPROTO_TCP` in include/uapi/linux/in.h.
pub const IPPROTO_TCP: u32 = 6;
/// `TCP_NODELAY` in include/uapi/linux/tcp.h.
pub const TCP_NODELAY: u32 = 1;
/// `IPPROTO_IPV6` in include/uapi/linux/in.h.
pub const IPPROTO_IPV6: u32 = 41;
/// `IPV6_V6ONLY` in include/uapi/linux/in6.h.
pub const IPV6_V6ONLY: u32 = 26;
/// `SHUT_WR`: `how` = 1, which `inet_shutdown` (net/ipv4/af_inet.c) turns into
/// SEND_SHUTDOWN by adding one.
pub const SHUT_WR: u32 = 1;
/// `SIGINT` in include/uapi/asm-generic/signal.h (x86 has the same numbers).
pub const SIGINT: u32 = 2;
/// `SIGKILL` in include/uapi/asm-generic/signal.h.
pub const SIGKILL: u32 = 9;
/// `SIGPIPE` in include/uapi/asm-generic/signal.h.
pub const SIGPIPE: u32 = 13;
/// `SIGTERM` in include/uapi/asm-generic/signal.h.
pub const SIGTERM: u32 = 15;
/// `SIGCHLD` in include/uapi/asm-generic/signal.h.
pub const SIGCHLD: u32 = 17;
/// `SIG_IGN` in include/uapi/asm-generic/signal-defs.h: ignore the signal.
const SIG_IGN: usize = 1;
/// `SIG_BLOCK` in include/uapi/asm-generic/signal-defs.h.
const SIG_BLOCK: usize = 0;
/// Errors, in include/uapi/asm-generic/errno-base.h and errno.h (the same
/// numbers on every architecture here), as the calls return them: negative.
pub const EAGAIN: isize = -11;
pub const ECONNABORTED: isize = -103;
/// `EPOLLIN`, `EPOLLOUT` and `EPOLLET` in
/// include/uapi/linux/eventpoll.h.
pub const EPOLLIN: u32 = 0x1;
pub const EPOLLOUT: u32 = 0x4;
pub const EPOLLET: u32 = 1 << 31;
/// `EPOLL_CTL_ADD` and `EPOLL_CTL_DEL` in include/uapi/linux/eventpoll.h.
pub const EPOLL_CTL_ADD: u32 = 1;
pub const EPOLL_CTL_DEL: u32 = 2;
/// `CLOCK_REALTIME` and `CLOCK_MONOTONIC` in include/uapi/linux/time.h.
pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;
/// `PR_SET_PDEATHSIG` in include/uapi/linux/prctl.h.
pub const PR_SET_PDEATHSIG: u32 = 1;
/// `RLIMIT_NOFILE` in include/uapi/asm-generic/resource.h.
pub const RLIMIT_NOFILE: u32 = 7;
/// `AT_FDCWD` in include/uapi/linux/fcntl.h: a path relative to the working
/// directory (an absolute path ignores it).
const AT_FDCWD: isize = -100;

/// A `struct sockaddr_in6` for every address (`::`) at `port` (big-endian):
/// family (a native-endian u16), port, flow info, address, scope id.
#[inline(always)]
pub fn sockaddr_in6_any(port: [u8; 2]) -> [u8; 28] {
    let mut addr = [0u8; 28];
    let family = (AF_INET6 as u16).to_ne_bytes();
    (addr[0], addr[1], addr[2], addr[3]) = (family[0], family[1], port[0], port[1]);
    addr
}

/// A `struct sockaddr_in` for 127.0.0.1 at `port` (big-endian): family (a
/// native-endian u16), port, address, eight bytes of zero padding.
#[inline(always)]
pub fn sockaddr_in_loopback(port: [u8; 2]) -> [u8; 16] {
    let family = (AF_INET as u16).to_ne_bytes();
    [
        family[0], family[1], port[0], port[1], 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ]
}

/// One `struct iovec`: a borrowed byte slice in the layout `writev` reads.
#[repr(C)]
pub struct IoVec<'a> {
    base: *const u8,
    len: usize,
    bytes: PhantomData<&'a [u8]>,
}

impl<'a> IoVec<'a> {
    pub fn new(bytes: &'a [u8]) -> IoVec<'a> {
        IoVec {
            base: bytes.as_ptr(),
            len: bytes.len(),
            bytes: PhantomData,
        }
    }
}

/// `read(fd, buf.as_mut_ptr(), buf.len())`: the bytes read, 0 at end of file,
/// or `-errno`.
#[inline(always)]
pub fn read(fd: u32, buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most `buf.len()` bytes at `buf.as_mut_ptr()`,
    // which an exclusive slice guarantees are ours to write; any bytes are valid u8.
    unsafe { syscall3(SYS_READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) }
}

/// `writev(fd, iov, iov.len())`: the bytes written, or `-errno`.
#[inline(always)]
pub fn writev(fd: u32, iov: &[IoVec<'_>]) -> isize {
    // SAFETY: the kernel reads `iov.len()` `struct iovec`s (IoVec is repr(C) with
    // the same two fields) and the bytes each names, all borrowed for the call.
    unsafe { syscall3(SYS_WRITEV, fd as usize, iov.as_ptr() as usize, iov.len()) }
}

/// `close(fd)`.
#[inline(always)]
pub fn close(fd: u32) -> isize {
    // SAFETY: `close` takes a number and touches no user memory.
    unsafe { syscall1(SYS_CLOSE, fd as usize) }
}

/// `socket(domain, ty, protocol)`: a descriptor, or `-errno`.
#[inline(always)]
pub fn socket(domain: u32, ty: u32, protocol: u32) -> isize {
    // SAFETY: `socket` takes numbers and touches no user memory.
    unsafe { syscall3(SYS_SOCKET, domain as usize, ty as usize, protocol as usize) }
}

/// `setsockopt(fd, level, name, &value, size_of::<T>())`: `T` is the option's
/// type (`u32` for an `int`, `[usize; 2]` for a `struct timeval`).
#[inline(always)]
pub fn setsockopt<T>(fd: u32, level: u32, name: u32, value: &T) -> isize {
    // SAFETY: the kernel reads the size_of::<T>() bytes of `value`, a live reference.
    unsafe {
        syscall5(
            SYS_SETSOCKOPT,
            fd as usize,
            level as usize,
            name as usize,
            value as *const T as usize,
            size_of::<T>(),
        )
    }
}

/// `connect(fd, addr.as_ptr(), addr.len())`, `addr` being a whole `struct sockaddr_*`.
#[inline(always)]
pub fn connect(fd: u32, addr: &[u8]) -> isize {
    // SAFETY: the kernel reads `addr.len()` bytes at `addr.as_ptr()`, a live slice.
    unsafe { syscall3(SYS_CONNECT, fd as usize, addr.as_ptr() as usize, addr.len()) }
}

/// `bind(fd, addr.as_ptr(), addr.len())`, `addr` being a whole `struct sockaddr_*`.
#[inline(always)]
pub fn bind(fd: u32, addr: &[u8]) -> isize {
    // SAFETY: the kernel reads `addr.len()` bytes at `addr.as_ptr()`, a live slice.
    unsafe { syscall3(SYS_BIND, fd as usize, addr.as_ptr() as usize, addr.len()) }
}

/// `listen(fd, backlog)`.
#[inline(always)]
pub fn listen(fd: u32, backlog: u32) -> isize {
    // SAFETY: `listen` takes numbers and touches no user memory.
    unsafe { syscall2(SYS_LISTEN, fd as usize, backlog as usize) }
}

/// `accept4(fd, NULL, NULL, flags)`: the new connection's descriptor, or `-errno`.
#[inline(always)]
pub fn accept4(fd: u32, flags: u32) -> isize {
    // SAFETY: with null address pointers the kernel writes no user memory.
    unsafe { syscall4(SYS_ACCEPT4, fd as usize, 0, 0, flags as usize) }
}

/// `shutdown(fd, how)`.
#[inline(always)]
pub fn shutdown(fd: u32, how: u32) -> isize {
    // SAFETY: `shutdown` takes numbers and touches no user memory.
    unsafe { syscall2(SYS_SHUTDOWN, fd as usize, how as usize) }
}

/// What a signal does: see [`sigaction`].
pub enum Action {
    /// Nothing (`SIG_IGN`). For SIGCHLD this also has the kernel reap children at once.
    Ignore,
    /// Run this function, which never returns (so no signal frame is ever
    /// unwound, and the x86-64 restorer is never used).
    Run(extern "C" fn(i32) -> !),
}

/// A `struct sigaction` as the kernel reads it: sa_handler, sa_flags,
/// sa_restorer, sa_mask (_NSIG / 8 = 8 bytes, all clear). The mask is two u32s,
/// not a u64: on 32-bit Arm a u64 would be 8-byte aligned, after a gap the
/// kernel reads as the mask.
#[repr(C)]
pub struct SigAction {
    handler: usize,
    flags: usize,
    restorer: usize,
    mask: [u32; 2],
}

impl SigAction {
    pub fn new(action: Action) -> SigAction {
        let handler = handler(action);
        SigAction {
            handler,
            flags: SA_RESTORER,
            // Where the architecture needs no SA_RESTORER, this word is zero too.
            restorer: if SA_RESTORER != 0 { handler } else { 0 },
            mask: [0; 2],
        }
    }

    /// Changes only the handler: the restorer, if any, is never used, since a
    /// handler here never returns.
    pub fn set(&mut self, action: Action) {
        self.handler = handler(action);
    }
}

fn handler(action: Action) -> usize {
    match action {
        Action::Ignore => SIG_IGN,
        Action::Run(f) => f as usize,
    }
}

/// `rt_sigaction(signal, action, NULL, 8)`.
#[inline(always)]
pub fn sigaction(signal: u32, action: &SigAction) -> isize {
    // SAFETY: the kernel reads the 32 (20 on 32-bit) bytes of `action`, a live reference to a
    // repr(C) struct sigaction; the old-action pointer is null, so it writes
    // nothing. The handler is SIG_IGN or a function that never returns (the
    // type of `Action::Run` says so).
    unsafe {
        syscall4(
            SYS_RT_SIGACTION,
            signal as usize,
            action as *const SigAction as usize,
            0,
            8,
        )
    }
}

/// `rt_sigprocmask(SIG_BLOCK, &mask, NULL, 8)`: blocks the signals in `mask`
/// (bit `n - 1` for signal `n`).
#[inline(always)]
pub fn block_signals(mask: u64) -> isize {
    // SAFETY: the kernel reads the 8 bytes of `mask`, a live local; the old-mask
    // pointer is null, so it writes nothing.
    unsafe {
        syscall4(
            SYS_RT_SIGPROCMASK,
            SIG_BLOCK,
            &mask as *const u64 as usize,
            0,
            8,
        )
    }
}

/// `signalfd4(-1, &mask, 8, 0)`: a new descriptor that is readable while one of
/// the (blocked) signals in `mask` is pending, or `-errno`.
#[inline(always)]
pub fn signalfd(mask: u64) -> isize {
    // SAFETY: the kernel reads the 8 bytes of `mask`, a live local.
    unsafe {
        syscall4(
            SYS_SIGNALFD4,
            usize::MAX,
            &mask as *const u64 as usize,
            8,
            0,
        )
    }
}

/// `kill(pid, signal)`.
#[inline(always)]
pub fn kill(pid: u32, signal: u32) -> isize {
    // SAFETY: `kill` takes numbers and touches no user memory.
    unsafe { syscall2(SYS_KILL, pid as usize, signal as usize) }
}

/// `getpid()`: this process's pid.
#[inline(always)]
pub fn getpid() -> u32 {
    // SAFETY: `getpid` takes no arguments (the one passed is ignored) and
    // touches no user memory.
    unsafe { syscall1(SYS_GETPID, 0) as u32 }
}

/// `getppid()`: the parent's pid (after the parent ends, the reaper's).
#[inline(always)]
pub fn getppid() -> u32 {
    // SAFETY: `getppid` takes no arguments (the one passed is ignored) and
    // touches no user memory.
    unsafe { syscall1(SYS_GETPPID, 0) as u32 }
}

/// `wait4(-1, NULL, 0, NULL)`: waits for any child to end; its pid, or
/// `-errno` (`ECHILD` when there is none left).
#[inline(always)]
pub fn wait_child() -> isize {
    // SAFETY: with null status and rusage pointers the kernel writes no user memory.
    unsafe { syscall4(SYS_WAIT4, usize::MAX, 0, 0, 0) }
}

/// `prctl(PR_SET_PDEATHSIG, signal)`: the kernel sends `signal` to this process
/// when its parent ends.
#[inline(always)]
pub fn parent_death_signal(signal: u32) -> isize {
    // SAFETY: this `prctl` option takes a number and touches no user memory.
    unsafe { syscall2(SYS_PRCTL, PR_SET_PDEATHSIG as usize, signal as usize) }
}

/// `sched_getaffinity(0, size_of_val(mask), mask)`: the CPUs this process may
/// run on, one bit each; the bytes the kernel wrote, or `-errno`.
#[inline(always)]
pub fn cpus(mask: &mut [u64]) -> isize {
    // SAFETY: the kernel writes at most size_of_val(mask) bytes at `mask`, an
    // exclusive slice of plain integers.
    unsafe {
        syscall3(
            SYS_SCHED_GETAFFINITY,
            0,
            size_of_val(mask),
            mask.as_mut_ptr() as usize,
        )
    }
}

/// `clock_gettime(clock, &ts)`: the time as `[seconds, nanoseconds]`.
#[inline(always)]
pub fn clock(clock: u32) -> [u64; 2] {
    let mut ts = [0u64; 2];
    // SAFETY: the kernel writes one struct __kernel_timespec (two 64-bit words;
    // on 32-bit architectures SYS_CLOCK_GETTIME is clock_gettime64) at `ts`, a
    // live local of that size.
    unsafe { syscall2(SYS_CLOCK_GETTIME, clock as usize, ts.as_mut_ptr() as usize) };
    ts
}

/// `prlimit64(0, resource, new, old)`: reads (`old`) and sets (`new`) this
/// process's limit, each `[soft, hard]`; either may be `None`.
#[inline(always)]
pub fn prlimit(resource: u32, new: Option<&[u64; 2]>, old: Option<&mut [u64; 2]>) -> isize {
    let new = new.map_or(0, |n| n as *const [u64; 2] as usize);
    let old = old.map_or(0, |o| o as *mut [u64; 2] as usize);
    // SAFETY: the kernel reads a struct rlimit64 (two u64) at `new` and writes
    // one at `old`, each null or a live reference of that size.
    unsafe { syscall4(SYS_PRLIMIT64, 0, resource as usize, new, old) }
}

/// `openat(AT_FDCWD, path, O_RDONLY)`: a descriptor, or `-errno`. `path` ends in NUL.
#[inline(always)]
pub fn open(path: &core::ffi::CStr) -> isize {
    // SAFETY: the kernel reads the NUL-terminated string at `path`, which a
    // CStr guarantees. O_RDONLY is 0.
    unsafe { syscall3(SYS_OPENAT, AT_FDCWD as usize, path.as_ptr() as usize, 0) }
}

/// `epoll_create1(0)`: a new epoll descriptor, or `-errno`.
#[inline(always)]
pub fn epoll_create() -> isize {
    // SAFETY: `epoll_create1` takes a number and touches no user memory.
    unsafe { syscall1(SYS_EPOLL_CREATE1, 0) }
}

/// `epoll_ctl(epfd, op, fd, &{events, data})`.
#[inline(always)]
pub fn epoll_ctl(epfd: u32, op: u32, fd: u32, events: u32, data: u64) -> isize {
    let event = EpollEvent { events, data };
    // SAFETY: the kernel reads one struct epoll_event at `event`, a live local in
    // this architecture's layout (EpollEvent); EPOLL_CTL_DEL ignores it.
    unsafe {
        syscall4(
            SYS_EPOLL_CTL,
            epfd as usize,
            op as usize,
            fd as usize,
            &event as *const EpollEvent as usize,
        )
    }
}

/// `epoll_pwait(epfd, events, events.len(), timeout_ms, NULL)`: waits up to
/// `timeout_ms` for events; how many it wrote at the front of `events`, or `-errno`.
#[inline(always)]
pub fn epoll_wait(epfd: u32, events: &mut [MaybeUninit<EpollEvent>], timeout_ms: u32) -> isize {
    // SAFETY: the kernel writes at most `events.len()` struct epoll_event at
    // `events`, an exclusive slice of this architecture's layout (writing
    // initializes MaybeUninit); the signal-mask pointer is null, so it reads no mask.
    unsafe {
        syscall5(
            SYS_EPOLL_PWAIT,
            epfd as usize,
            events.as_mut_ptr() as usize,
            events.len(),
            timeout_ms as usize,
            0,
        )
    }
}

/// `memcpy`, which LLVM calls for some copies (a struct, a constant array) as
/// it would in C; no libc provides it here. Byte by byte, with volatile
/// accesses so that LLVM cannot turn the loop back into a call to itself. The
/// copies it makes are small: a few dozen bytes.
///
/// # Safety
/// As C's: `dst` and `src` are valid for `n` bytes and do not overlap.
// SAFETY: no libc is linked, so no other `memcpy` can clash with this name.
#[unsafe(no_mangle)]
// SAFETY: callers (LLVM's copies) keep C's contract, stated above.
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees both ranges are valid for `n` bytes,
        // and `i < n`.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) }
    }
    dst
}

/// `memset`, for the same reason as [`memcpy`].
///
/// # Safety
/// As C's: `dst` is valid for `n` bytes.
// SAFETY: no libc is linked, so no other `memset` can clash with this name.
#[unsafe(no_mangle)]
// SAFETY: callers (LLVM's stores) keep C's contract, stated above.
pub unsafe extern "C" fn memset(dst: *mut u8, value: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees `dst` is valid for `n` bytes, and `i < n`.
        unsafe { dst.add(i).write_volatile(value as u8) }
    }
    dst
}

/// `bcmp`, for the same reason as [`memcpy`]: LLVM calls it to compare a few
/// bytes on the 32-bit architectures. Zero when the `n` bytes are equal.
///
/// # Safety
/// As C's: `a` and `b` are valid for `n` bytes.
// SAFETY: no libc is linked, so no other `bcmp` can clash with this name.
#[unsafe(no_mangle)]
// SAFETY: callers (LLVM's comparisons) keep C's contract, stated above.
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller guarantees both ranges are valid for `n` bytes,
        // and `i < n`.
        if unsafe { a.add(i).read_volatile() != b.add(i).read_volatile() } {
            return 1;
        }
    }
    0
}
