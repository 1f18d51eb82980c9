//! SHA-256 (FIPS 180-4), small rather than fast: the quine hashes its own
//! layer with it, a few KiB once per run.
//!
//! Plain `core` Rust with no `unsafe` and no dependencies, so that the xtask's
//! tests compile this same file (`#[path]`) and compare it with the `sha2`
//! crate. Every sum wraps, as the standard says, in debug builds too.
//!
//! Size tricks: the constants are computed, not stored (288 bytes of tables
//! cost more than the loop that finds the primes and their roots); the padding
//! is not copied into a buffer: each byte of the padded message is computed as
//! it is fed, four at a time into the first 16 words of the schedule.

/// The low 32 bits of `p`'s `n`th root (n = 2 or 3) times 2^32, that is, the
/// first 32 bits of the root's fractional part: found bit by bit from the
/// top, each kept if the power stays at most p * 2^(32n). Roots below 2^35
/// (primes below 2^9), so the powers (and p * 2^96) fit a u128.
fn root(p: u64, n: u32) -> u32 {
    // One constant shift: a u128 (or, on 32-bit Arm, u64) shift by a variable
    // calls compiler_builtins, and LLVM makes one of two shifts of `p` chosen
    // by `n`. So a square is compared as square * 2^32 with p * 2^96.
    let x = u128::from(p) << 96;
    let mut r: u64 = 0;
    // Bit 34 down to bit 0, halved each step: a u64 shift by a variable is a
    // call into compiler_builtins on 32-bit Arm (and one by 1 is not).
    let mut bit: u64 = 1 << 34;
    while bit != 0 {
        let t = r | bit;
        let square = u128::from(t) * u128::from(t);
        let power = if n == 3 {
            square * u128::from(t)
        } else {
            square << 32
        };
        if power <= x {
            r = t;
        }
        bit >>= 1;
    }
    r as u32
}

/// The SHA-256 digest of `data`, as its eight 32-bit words; the digest's bytes
/// are each word's bytes, most significant first.
pub fn sha256(data: &[u8]) -> [u32; 8] {
    let mut state = Sha256::new();
    *state.digest(data)
}

/// The hash state and the block being fed: a value the caller places where it
/// likes (the quine keeps it off its stack, see src/bin/quine.rs). All zero
/// bytes are a valid value, as from `new`.
#[repr(C)]
pub struct Sha256 {
    h: [u32; 8],
    w: [u32; 64],
    /// The round constants: the first 32 bits of the fractional parts of the
    /// cube roots of the first 64 primes (FIPS 180-4, 4.2.2).
    k: [u32; 64],
}

impl Sha256 {
    pub const fn new() -> Sha256 {
        Sha256 {
            h: [0; 8],
            w: [0; 64],
            k: [0; 64],
        }
    }

    /// The SHA-256 digest of `data`, as its eight 32-bit words; the digest's
    /// bytes are each word's bytes, most significant first. Starts afresh on
    /// every call.
    pub fn digest(&mut self, data: &[u8]) -> &[u32; 8] {
        // The constants, computed rather than stored. The initial hash value is the first
        // 32 bits of the fractional parts of the square roots of the first 8
        // primes (FIPS 180-4, 5.3.3), the round constants those of the cube
        // roots of the first 64.
        let mut p: u64 = 1;
        for i in 0..64 {
            // The next prime: no divisor from 2 up to p - 1. A divisor's
            // multiples are counted up to p, not found by division: on 32-bit
            // architectures a u64 remainder is a call into compiler_builtins
            // (hundreds of bytes), and on Arm so is a u32 one.
            p += 1;
            while (2..p).any(|d| {
                let mut m = d;
                while m < p {
                    m += d;
                }
                m == p
            }) {
                p += 1;
            }
            self.k[i] = root(p, 3);
            if let Some(h) = self.h.get_mut(i) {
                *h = root(p, 2);
            }
        }
        let len = data.len();
        // The padded message: the data, 0x80, zeros, and the length in bits as
        // a big-endian u64, in whole 64-byte blocks.
        let total = (len + 9).next_multiple_of(64);
        // As bytes, not shifted out of a u64: a u64 shift by a variable is a
        // call into compiler_builtins on 32-bit Arm.
        let bits = (len as u64).wrapping_mul(8).to_be_bytes();
        for k in 0..total {
            let byte = if let Some(&b) = data.get(k) {
                b
            } else if k == len {
                0x80
            } else if let Some(&b) = bits.get(k.wrapping_sub(total - 8)) {
                b
            } else {
                0
            };
            // Four bytes shift each word in whole: no need to clear it first.
            let word = &mut self.w[(k / 4) % 16];
            *word = (*word << 8) | u32::from(byte);
            if k % 64 == 63 {
                compress(&mut self.h, &mut self.w, &self.k);
            }
        }
        &self.h
    }
}

impl Default for Sha256 {
    fn default() -> Sha256 {
        Sha256::new()
    }
}

/// One block: the 64 rounds over `w` (the block's 16 words, expanded here to
/// 64) with the round constants `k`, added into `h`.
fn compress(h: &mut [u32; 8], w: &mut [u32; 64], k: &[u32; 64]) {
    for i in 16..64 {
        // W[i] = σ1(W[i-2]) + W[i-7] + σ0(W[i-15]) + W[i-16]
        let (w2, w15) = (w[i - 2], w[i - 15]);
        let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
        let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let mut s = *h;
    for (i, &k) in k.iter().enumerate() {
        let [a, b, c, d, e, f, g, hh] = s;
        let big_s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(big_s1)
            .wrapping_add(ch)
            .wrapping_add(k)
            .wrapping_add(w[i]);
        let big_s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = big_s0.wrapping_add(maj);
        s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (x, y) in h.iter_mut().zip(s) {
        *x = x.wrapping_add(y);
    }
}
