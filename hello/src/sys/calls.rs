//! The typed system calls the server needs, the same on every architecture
//! that has them: each is a safe function over its architecture's raw
//! `syscallN` (src/sys/<arch>.rs), which holds the only `asm!`.
//!
//! The constants are the same on x86-64 and arm64; each cites the uapi header
//! that defines it. Results are the kernel's: a count, a descriptor, or `-errno`.
#![allow(unsafe_code)]

use super::arch::{
    SA_RESTORER, SYS_ACCEPT4, SYS_BIND, SYS_CLOSE, SYS_LISTEN, SYS_READ, SYS_RT_SIGACTION,
    SYS_SETSOCKOPT, SYS_SHUTDOWN, SYS_SOCKET, SYS_WRITEV, syscall1, syscall2, syscall3, syscall4,
    syscall5,
};
use core::marker::PhantomData;
use core::mem::MaybeUninit;

/// `AF_INET6` in include/linux/socket.h.
pub const AF_INET6: u32 = 10;
/// `SOCK_STREAM` in include/linux/net.h.
pub const SOCK_STREAM: u32 = 1;
/// `SOL_SOCKET` in include/uapi/asm-generic/socket.h.
pub const SOL_SOCKET: u32 = 1;
/// `SO_REUSEADDR` in include/uapi/asm-generic/socket.h.
pub const SO_REUSEADDR: u32 = 2;
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
/// `SIGPIPE` in include/uapi/asm-generic/signal.h.
pub const SIGPIPE: u32 = 13;
/// `SIGTERM` in include/uapi/asm-generic/signal.h.
pub const SIGTERM: u32 = 15;
/// `SIGCHLD` in include/uapi/asm-generic/signal.h.
pub const SIGCHLD: u32 = 17;
/// `SIG_IGN` in include/uapi/asm-generic/signal-defs.h: ignore the signal.
const SIG_IGN: usize = 1;

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
/// or `-errno`. `buf` need not be initialized: the first `n` bytes are when it
/// returns `n > 0`.
#[inline(always)]
pub fn read(fd: u32, buf: &mut [MaybeUninit<u8>]) -> isize {
    // SAFETY: the kernel writes at most `buf.len()` bytes at `buf.as_mut_ptr()`,
    // which an exclusive slice guarantees are ours to write; writing initializes
    // MaybeUninit bytes, which is always sound.
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

/// `setsockopt(fd, level, name, &value, 4)`: an `int` option.
#[inline(always)]
pub fn setsockopt(fd: u32, level: u32, name: u32, value: &u32) -> isize {
    // SAFETY: the kernel reads the 4 bytes of `value`, a live reference.
    unsafe {
        syscall5(
            SYS_SETSOCKOPT,
            fd as usize,
            level as usize,
            name as usize,
            value as *const u32 as usize,
            4,
        )
    }
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
/// sa_restorer, sa_mask (one 64-bit word: _NSIG / 8 = 8 bytes, all clear).
#[repr(C)]
pub struct SigAction {
    handler: usize,
    flags: usize,
    restorer: usize,
    mask: u64,
}

impl SigAction {
    pub fn new(action: Action) -> SigAction {
        let handler = handler(action);
        SigAction {
            handler,
            flags: SA_RESTORER,
            // Where the architecture needs no SA_RESTORER, this word is zero too.
            restorer: if SA_RESTORER != 0 { handler } else { 0 },
            mask: 0,
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
    // SAFETY: the kernel reads the 32 bytes of `action`, a live reference to a
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
