//! SHA-256 (FIPS 180-4), small rather than fast: the quine hashes its own
//! layer with it, a few KiB once per run.
//!
//! Plain `core` Rust with no `unsafe` and no dependencies, so that the xtask's
//! tests compile this same file (`#[path]`) and compare it with the `sha2`
//! crate. Every sum wraps, as the standard says, in debug builds too.
//!
//! Size tricks: the padding is not copied into a buffer; each byte of the
//! padded message is computed as it is fed, four at a time into the words of a
//! 16-word schedule that is expanded in place (a ring) instead of to 64 words.

/// The first 32 bits of the fractional parts of the cube roots of the first 64
/// primes (FIPS 180-4, 4.2.2).
static K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The initial hash value: the first 32 bits of the fractional parts of the
/// square roots of the first 8 primes (FIPS 180-4, 5.3.3).
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

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
    w: [u32; 16],
}

impl Sha256 {
    pub const fn new() -> Sha256 {
        Sha256 {
            h: [0; 8],
            w: [0; 16],
        }
    }

    /// The SHA-256 digest of `data`, as its eight 32-bit words; the digest's
    /// bytes are each word's bytes, most significant first. Starts afresh on
    /// every call.
    pub fn digest(&mut self, data: &[u8]) -> &[u32; 8] {
        self.h = H0;
        let len = data.len();
        // The padded message: the data, 0x80, zeros, and the length in bits as
        // a big-endian u64, in whole 64-byte blocks.
        let total = (len + 9).next_multiple_of(64);
        let bits = (len as u64).wrapping_mul(8);
        for k in 0..total {
            let byte = if let Some(&b) = data.get(k) {
                b
            } else if k == len {
                0x80
            } else if k >= total - 8 {
                (bits >> ((total - 1 - k) * 8)) as u8
            } else {
                0
            };
            // Four bytes shift each word in whole: no need to clear it first.
            let word = &mut self.w[(k / 4) % 16];
            *word = (*word << 8) | u32::from(byte);
            if k % 64 == 63 {
                compress(&mut self.h, &mut self.w);
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

/// One block: the 64 rounds over `w` (the block's 16 words, expanded in place),
/// added into `h`.
fn compress(h: &mut [u32; 8], w: &mut [u32; 16]) {
    let mut s = *h;
    for (i, &k) in K.iter().enumerate() {
        if i >= 16 {
            // W[i] = σ1(W[i-2]) + W[i-7] + σ0(W[i-15]) + W[i-16]; the ring slot
            // i % 16 holds W[i-16] until it is overwritten here.
            let (w2, w15) = (w[(i + 14) % 16], w[(i + 1) % 16]);
            let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
            let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
            w[i % 16] = w[i % 16]
                .wrapping_add(s0)
                .wrapping_add(w[(i + 9) % 16])
                .wrapping_add(s1);
        }
        let [a, b, c, d, e, f, g, hh] = s;
        let big_s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(big_s1)
            .wrapping_add(ch)
            .wrapping_add(k)
            .wrapping_add(w[i % 16]);
        let big_s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = big_s0.wrapping_add(maj);
        s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (x, y) in h.iter_mut().zip(s) {
        *x = x.wrapping_add(y);
    }
}
