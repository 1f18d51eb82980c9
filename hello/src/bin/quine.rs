//! `quine`: print a `docker load` archive of the image this program runs in.
//!
//! `docker run --rm hello:quine | docker load` prints `Loaded image: hello:quine`,
//! and the loaded image is the one that ran: the same config, so the same image
//! ID, and run again it prints the same bytes.
//!
//! The archive is an uncompressed tar with three files, as `cargo xtask dist
//! --program quine` writes it (xtask/src/oci/quine.rs, `quine`), byte for byte:
//! - `c.json`: the image config; it names the layer by its SHA-256, which
//!   this program computes at run time (the layer holds this very file, so no
//!   build step can know it);
//! - `l.tar`: one entry, `quine`, mode 0555: this program's file, read from
//!   memory (the linker script maps the whole file, from offset 0);
//! - `manifest.json`: the config's and the layer's paths and the tag.
//!
//! It reads nothing and takes no arguments. Exit status: 0 when every byte of
//! the archive was written (in a loop over short writes and EINTR), 1
//! otherwise (`> /dev/full`, a closed stdout, or no memory for the archive).
//! Built for every platform `hello` ships for (linker/quine.ld.in in its
//! class's layout); the config names the platform (hello/build.rs).
#![no_std]
#![no_main]
#![deny(unsafe_code)] // only the linker symbols, `own_file` and `zeroed` opt in, each with its reason

// The library's panic handler, which every no_std binary needs.
use hello as _;

mod quine {
    use hello::sha256::Sha256;
    use hello::{STDOUT, sys, write_all};

    /// The config up to the layer's digest, and after it, for this platform;
    /// written by build.rs with the keys sorted, as serde_json writes them in
    /// xtask/src/oci.
    const CONFIG_HEAD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/quine-config-head.bin"));
    const CONFIG_TAIL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/quine-config-tail.bin"));
    /// The digest in hex: 64 digits.
    const HEX_DIGITS: usize = 64;
    const CONFIG_LEN: usize = CONFIG_HEAD.len() + HEX_DIGITS + CONFIG_TAIL.len();

    /// `docker load`'s table of contents.
    const MANIFEST: &[u8] =
        br#"[{"Config":"c.json","Layers":["l.tar"],"RepoTags":["hello:quine"]}]"#;

    /// A tar block: headers are one, data is padded to whole ones.
    const BLOCK: usize = 512;
    /// The two zero blocks that end a tar archive.
    const END: usize = 2 * BLOCK;
    /// ustar header bytes 257..265: magic "ustar\0" and version "00".
    const MAGIC: &[u8; 8] = b"ustar\x0000";

    /// The archive buffer's size: a power of two above the largest archive
    /// (7680 bytes for the 2560 bytes the linker script allows the file), so every
    /// index is taken modulo it and needs no bounds check.
    const OUT: usize = 8192;

    /// What the program works in, in memory from `mmap` rather than on the
    /// stack. The stack would do on arm64, but on x86-64 `_start` is entered
    /// with rsp a multiple of 16 where compiled code expects rsp + 8 to be
    /// one (no `call` pushed a return address), so an array on the stack
    /// would be copied with SSE stores that fault on the misaligned slots;
    /// realigning needs an instruction this project does not hand-write.
    /// What remains on the stack is scalars, which need no alignment. The
    /// hash state comes first: its fields are then within a 1-byte offset.
    #[repr(C)]
    struct Scratch {
        sha: Sha256,
        out: [u8; OUT],
    }

    /// The archive as it is written: the bytes so far, all zero past `at`.
    struct Archive {
        bytes: &'static mut [u8; OUT],
        at: usize,
    }

    impl Archive {
        fn put(&mut self, data: &[u8]) {
            let mut at = self.at;
            for &b in data {
                self.bytes[at % OUT] = b;
                at += 1;
            }
            self.at = at;
        }

        /// Skips to the next block boundary (the zeros pad the data).
        fn pad(&mut self) {
            self.at = self.at.next_multiple_of(BLOCK);
        }

        /// `value` as `digits` octal digits at `at`.
        fn octal(&mut self, at: usize, digits: usize, mut value: usize) {
            for i in (0..digits).rev() {
                self.bytes[(at + i) % OUT] = b'0' + (value & 7) as u8;
                value >>= 3;
            }
        }

        /// One ustar header: `name`, mode 0`mode``mode``mode`, `size` bytes of data.
        fn header(&mut self, name: &[u8], size: usize, mode: u8) {
            let h = self.at;
            self.put(name);
            // Bytes 100..157 as xtask/src/oci writes them: the mode
            // (0000`mode``mode``mode`), uid 0, gid 0, the size (below), mtime 0,
            // each as octal digits and a NUL; the checksum field as spaces
            // (it is summed so); typeflag '0'. Cheaper as code than as a table.
            for i in 100..157 {
                self.bytes[(h + i) % OUT] = match i {
                    104..107 => mode,
                    107 | 115 | 123 | 135 | 147 => 0,
                    148..156 => b' ',
                    _ => b'0',
                };
            }
            self.octal(h + 124, 11, size);
            self.at = h + 257;
            self.put(MAGIC);
            let sum = (h..h + BLOCK)
                .map(|i| usize::from(self.bytes[i % OUT]))
                .sum();
            // Six digits, a NUL, and the space already there.
            self.octal(h + 148, 6, sum);
            self.bytes[(h + 154) % OUT] = 0;
            self.at = h + BLOCK;
        }
    }

    /// A fresh, zeroed `Scratch` from the kernel, or `None`.
    #[allow(unsafe_code)]
    fn zeroed() -> Option<&'static mut Scratch> {
        let addr = sys::mmap_anonymous(size_of::<Scratch>());
        // -4095..=-1 is -errno; anything else is the mapping's address.
        if (-4095..0).contains(&addr) {
            return None;
        }
        // SAFETY: the kernel just mapped size_of::<Scratch>() readable and
        // writable bytes at `addr`, page aligned (so aligned for Scratch),
        // zero-filled and used by nothing else. All zero bytes are a valid
        // Scratch: bytes and a Sha256, which is u32 arrays (its docs say so).
        // The mapping is never unmapped, so 'static holds, and this is the
        // only reference to it.
        Some(unsafe { &mut *(addr as *mut Scratch) })
    }

    #[allow(unsafe_code)]
    // SAFETY: two symbols the linker script defines; declared as bytes, only
    // their addresses are used (see `own_file`).
    unsafe extern "C" {
        /// The first byte of the file in memory and the byte after its last,
        /// from the linker script (QUINE_BASE, __quine_end).
        static __quine_start: u8;
        static __quine_end: u8;
    }

    /// This program's file, as the kernel mapped it.
    #[allow(unsafe_code)]
    fn own_file() -> &'static [u8] {
        // SAFETY: linker/quine.ld.in maps the whole file read-only, from file
        // offset 0 (__quine_start) to its end (__quine_end), in one PT_LOAD
        // segment that stays mapped for the life of the process and that nothing
        // writes; the two symbols are in the same mapping, start before end.
        unsafe {
            let start = &raw const __quine_start;
            let len = (&raw const __quine_end).offset_from(start) as usize;
            core::slice::from_raw_parts(start, len)
        }
    }

    /// The process entry point: the kernel jumps here with nothing set up but a stack.
    #[allow(unsafe_code)]
    // SAFETY: `_start` is the one symbol of that name in the program (no C runtime
    // is linked), so exporting it unmangled cannot clash with another definition.
    #[unsafe(no_mangle)]
    pub extern "C" fn _start() -> ! {
        let file = own_file();
        let Some(Scratch { sha, out }) = zeroed() else {
            sys::exit(1)
        };
        let mut a = Archive { bytes: out, at: 0 };
        a.header(b"c.json", CONFIG_LEN, b'4');
        let config = a.at;
        a.put(CONFIG_HEAD);
        a.at += HEX_DIGITS;
        a.put(CONFIG_TAIL);
        a.pad();

        let layer_len = BLOCK + file.len().next_multiple_of(BLOCK) + END;
        a.header(b"l.tar", layer_len, b'4');
        let layer = a.at;
        a.header(b"quine", file.len(), b'5');
        a.put(file);
        a.pad();
        a.at += END;

        // The layer's digest, in hex, into the config's gap.
        // `at` is at most 7680 (see OUT), so the modulo changes nothing; the
        // layer starts before it, so `get` never fails.
        let Some(layer) = a.bytes[..a.at % OUT].get(layer..) else {
            sys::exit(1)
        };
        let mut at = config + CONFIG_HEAD.len();
        for &word in sha.digest(layer) {
            let mut word = word;
            for _ in 0..8 {
                // The top nibble comes round to the bottom.
                word = word.rotate_left(4);
                let nibble = word as u8 & 15;
                a.bytes[at % OUT] = nibble + if nibble < 10 { b'0' } else { b'a' - 10 };
                at += 1;
            }
        }

        a.header(b"manifest.json", MANIFEST.len(), b'4');
        a.put(MANIFEST);
        a.pad();
        a.at += END;

        // `at` is at most 7680 (see OUT), so the modulo changes nothing.
        let ok = write_all(STDOUT, &a.bytes[..a.at % OUT]);
        sys::exit(u32::from(!ok))
    }
}
