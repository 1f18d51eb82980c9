//! The run-time functions serve's linux/arm/v5 build calls, in Rust, in place
//! of the precompiled ones (`cfg(armv5)`: xtask/src/core/platform.rs,
//! ARMV5_FLAGS).
//!
//! That build is thumbv6m-none-eabi's Thumb-1 with ARMv6 turned off, which the
//! ARM926EJ-S (ARMv5TE) runs. Its own crates are compiled with the flag, but
//! rustup's `compiler_builtins` for the target is precompiled for ARMv6-M:
//! 16-bit `mov`s between two low registers (UNPREDICTABLE on ARMv5) in its
//! division, `memcpy`, `memclr`, `memcmp` and 64-bit shift. The linker takes
//! an archive member only for a symbol still undefined, so these definitions
//! win, and the others are never linked (xtask/tests/serve/armv5.rs
//! disassembles the linked file and fails on any instruction ARMv5TE lacks).
//! Only what serve's link asks for is here.
//!
//! The loops must stay loops: LLVM's loop-idiom pass turns a loop that copies
//! or zeroes bytes into a call of `memcpy` or `memset`, which inside these
//! functions would call themselves forever. Each byte is read and written with
//! a volatile access, which LLVM must perform as written, one at a time, so
//! no pass can make a call of the loop. (Speed matters little here: serve
//! copies and clears only its small tables and buffers; the page goes out
//! with `writev` from where it lies.)
#![allow(unsafe_code)] // raw pointers: these are the C ABI's functions

/// `__aeabi_memcpy(dest, src, n)`: copies `n` bytes (the ARM run-time ABI's
/// `memcpy`, which LLVM calls for copies it does not inline; it returns nothing).
///
/// # Safety
/// As C's `memcpy`: `src` readable and `dest` writable for `n` bytes, apart.
// SAFETY: no other definition of this symbol is linked (the module's docs).
#[unsafe(no_mangle)]
// SAFETY: callers keep the `# Safety` terms above, as LLVM's calls keep C's.
pub unsafe extern "C" fn __aeabi_memcpy(dest: *mut u8, src: *const u8, n: usize) {
    for i in 0..n {
        // SAFETY: i < n, and the caller vouches for n bytes at each.
        unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
    }
}

/// `__aeabi_memclr4(dest, n)`: zeroes `n` bytes at a 4-byte aligned `dest`.
///
/// # Safety
/// `dest` writable for `n` bytes.
// SAFETY: no other definition of this symbol is linked (the module's docs).
#[unsafe(no_mangle)]
// SAFETY: callers keep the `# Safety` terms above, as LLVM's calls keep C's.
pub unsafe extern "C" fn __aeabi_memclr4(dest: *mut u8, n: usize) {
    for i in 0..n {
        // SAFETY: i < n, and the caller vouches for n bytes.
        unsafe { dest.add(i).write_volatile(0) };
    }
}

/// `__aeabi_memclr8(dest, n)`: zeroes `n` bytes at an 8-byte aligned `dest`.
///
/// # Safety
/// `dest` writable for `n` bytes.
// SAFETY: no other definition of this symbol is linked (the module's docs).
#[unsafe(no_mangle)]
// SAFETY: callers keep the `# Safety` terms above, as LLVM's calls keep C's.
pub unsafe extern "C" fn __aeabi_memclr8(dest: *mut u8, n: usize) {
    // SAFETY: the same contract.
    unsafe { __aeabi_memclr4(dest, n) }
}

/// `memcmp(a, b, n)`: the difference of the first bytes that differ, or 0.
///
/// # Safety
/// `a` and `b` readable for `n` bytes.
// SAFETY: no other definition of this symbol is linked (the module's docs).
#[unsafe(no_mangle)]
// SAFETY: callers keep the `# Safety` terms above, as LLVM's calls keep C's.
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, and the caller vouches for n bytes at each.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// `__aeabi_uidivmod(n, d)`: the quotient in r0 and the remainder in r1, as
/// one 64-bit value (AAPCS returns it in r0, low half, and r1). Thumb-1 has
/// no divide instruction: LLVM calls this for every `/` and `%` of a u32 by a
/// value it cannot turn into a shift. `d` is never 0: Rust checks first.
///
/// Long division, one bit of `n` at a time: the remainder so far, shifted
/// left, takes the next bit; where it reaches `d`, `d` is subtracted and the
/// quotient's bit is 1. `top` keeps the bit shifted out of a remainder above
/// 2^31, which is then at least `d` whatever the low 32 bits say.
// SAFETY: no other definition of this symbol is linked (the module's docs).
#[unsafe(no_mangle)]
pub extern "C" fn __aeabi_uidivmod(n: u32, d: u32) -> u64 {
    let (mut q, mut r) = (0u32, 0u32);
    let mut bit = 32;
    while bit > 0 {
        bit -= 1;
        let top = r >> 31;
        r = (r << 1) | ((n >> bit) & 1);
        if top != 0 || r >= d {
            r = r.wrapping_sub(d);
            q |= 1 << bit;
        }
    }
    u64::from(q) | (u64::from(r) << 32)
}

/// `__aeabi_uidiv(n, d)`: the quotient (see [`__aeabi_uidivmod`]).
// SAFETY: no other definition of this symbol is linked (the module's docs).
#[unsafe(no_mangle)]
pub extern "C" fn __aeabi_uidiv(n: u32, d: u32) -> u32 {
    __aeabi_uidivmod(n, d) as u32
}

/// `__aeabi_llsr(a, s)`: `a >> s` for a u64 and `s` < 64, from 32-bit
/// shifts (a u64 shifted by a variable amount is what LLVM calls this for).
// SAFETY: no other definition of this symbol is linked (the module's docs).
#[unsafe(no_mangle)]
pub extern "C" fn __aeabi_llsr(a: u64, s: u32) -> u64 {
    let (lo, hi) = (a as u32, (a >> 32) as u32);
    let (lo, hi) = match s {
        0 => (lo, hi),
        1..32 => ((lo >> s) | (hi << (32 - s)), hi >> s),
        _ => (hi >> (s & 31), 0),
    };
    u64::from(lo) | (u64::from(hi) << 32)
}
