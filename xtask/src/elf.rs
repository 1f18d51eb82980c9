//! Reading and checking the few ELF fields a loader uses.
//!
//! The file's own EI_CLASS and EI_DATA bytes may hold the message (the `tiny`
//! layout), so class and byte order come from the platform, not from the file.

use crate::platform::Platform;

pub const PT_LOAD: u32 = 1;
pub const PF_X: u32 = 1;
pub const PF_R: u32 = 4;
/// The lowest address a file may load at (the usual vm.mmap_min_addr).
pub const MIN_LOAD_ADDRESS: u64 = 0x10000;
pub const PAGE: u64 = 4096;
/// The largest page size a Linux kernel for these platforms uses (arm64,
/// ppc64le and others build with 64 KiB pages): a file whose p_vaddr and
/// p_offset agree modulo this loads with 4K, 16K and 64K pages alike.
pub const MAX_PAGE: u64 = 65536;

/// The ELF header and first program header fields, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub e_type: u16,
    pub e_machine: u16,
    pub e_entry: u64,
    pub e_phoff: u64,
    pub e_ehsize: u16,
    pub e_phentsize: u16,
    pub e_phnum: u16,
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
}

/// Reads integers of the platform's width and byte order.
pub struct Reader<'a> {
    pub bytes: &'a [u8],
    pub big_endian: bool,
}

impl Reader<'_> {
    pub fn uint(&self, off: u64, size: usize) -> Option<u64> {
        let off = usize::try_from(off).ok()?;
        let b = self.bytes.get(off..off.checked_add(size)?)?;
        let mut v = 0u64;
        for i in 0..size {
            let byte = if self.big_endian {
                b[i]
            } else {
                b[size - 1 - i]
            };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }
}

/// Field offsets, (ELF header, program header), for one class.
struct Offsets {
    entry: u64,
    phoff: u64,
    ehsize: u64,
    phentsize: u64,
    phnum: u64,
    word: usize,
    p_flags: u64,
    p_offset: u64,
    p_vaddr: u64,
    p_filesz: u64,
    p_memsz: u64,
}

const ELF64: Offsets = Offsets {
    entry: 0x18,
    phoff: 0x20,
    ehsize: 0x34,
    phentsize: 0x36,
    phnum: 0x38,
    word: 8,
    p_flags: 0x04,
    p_offset: 0x08,
    p_vaddr: 0x10,
    p_filesz: 0x20,
    p_memsz: 0x28,
};

const ELF32: Offsets = Offsets {
    entry: 0x18,
    phoff: 0x1c,
    ehsize: 0x28,
    phentsize: 0x2a,
    phnum: 0x2c,
    word: 4,
    p_flags: 0x18,
    p_offset: 0x04,
    p_vaddr: 0x08,
    p_filesz: 0x10,
    p_memsz: 0x14,
};

/// Decodes the header; `Err` names the first field that lies outside the file.
pub fn parse(bytes: &[u8], platform: &Platform) -> Result<Header, String> {
    let r = Reader {
        bytes,
        big_endian: platform.big_endian,
    };
    let o = if platform.class64 { &ELF64 } else { &ELF32 };
    let get = |off: u64, size: usize, what: &str| {
        r.uint(off, size).ok_or_else(|| {
            format!(
                "the file ({} bytes) ends before {what} at offset {off:#x}",
                bytes.len()
            )
        })
    };
    let e_phoff = get(o.phoff, o.word, "e_phoff")?;
    let ph = |off: u64, size: usize, what: &str| get(e_phoff + off, size, what);
    Ok(Header {
        e_type: get(0x10, 2, "e_type")? as u16,
        e_machine: get(0x12, 2, "e_machine")? as u16,
        e_entry: get(o.entry, o.word, "e_entry")?,
        e_phoff,
        e_ehsize: get(o.ehsize, 2, "e_ehsize")? as u16,
        e_phentsize: get(o.phentsize, 2, "e_phentsize")? as u16,
        e_phnum: get(o.phnum, 2, "e_phnum")? as u16,
        p_type: ph(0, 4, "p_type")? as u32,
        p_flags: ph(o.p_flags, 4, "p_flags")? as u32,
        p_offset: ph(o.p_offset, o.word, "p_offset")?,
        p_vaddr: ph(o.p_vaddr, o.word, "p_vaddr")?,
        p_filesz: ph(o.p_filesz, o.word, "p_filesz")?,
        p_memsz: ph(o.p_memsz, o.word, "p_memsz")?,
    })
}

impl Header {
    /// The address file offset 0 is mapped at.
    pub fn load_address(&self) -> u64 {
        self.p_vaddr.wrapping_sub(self.p_offset)
    }

    /// Where the segment's file image ends: the file needs no byte past it.
    pub fn segment_end(&self) -> u64 {
        self.p_offset.saturating_add(self.p_filesz)
    }

    /// Memory the segment maps, in whole pages.
    pub fn mapped_bytes(&self) -> u64 {
        let start = self.p_vaddr & !(PAGE - 1);
        (self.p_vaddr + self.p_memsz).div_ceil(PAGE) * PAGE - start
    }
}

/// What must hold for the file to load and run as intended. Each failure says
/// which field is wrong and what it should be.
pub fn check(bytes: &[u8], platform: &Platform) -> Result<Header, String> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err("the file does not start with the ELF magic 7f 45 4c 46".into());
    }
    let h = parse(bytes, platform)?;
    let phentsize = if platform.class64 { 56 } else { 32 };
    let fail = |what: String| Err(format!("{what} (linker/{}-*.ld)", platform.arch()));
    if h.e_machine != platform.machine {
        return fail(format!(
            "e_machine is {}, expected {} for {}",
            h.e_machine, platform.machine, platform.docker
        ));
    }
    if h.e_type != 2 {
        return fail(format!("e_type is {}, expected 2 (ET_EXEC)", h.e_type));
    }
    if h.e_phentsize != phentsize || h.e_phnum != 1 {
        return fail(format!(
            "e_phentsize/e_phnum are {}/{}, expected {phentsize}/1",
            h.e_phentsize, h.e_phnum
        ));
    }
    if h.p_type != PT_LOAD || h.p_flags & (PF_R | PF_X) != PF_R | PF_X || h.p_flags & 2 != 0 {
        return fail(format!(
            "the program header is type {} flags {:#x}, expected PT_LOAD with R and X and without W",
            h.p_type, h.p_flags
        ));
    }
    if h.p_offset % MAX_PAGE != h.p_vaddr % MAX_PAGE {
        return fail(format!(
            "p_offset {:#x} and p_vaddr {:#x} differ modulo {MAX_PAGE:#x}: a kernel with \
             64 KiB pages cannot map the file; put the load address on a 64 KiB boundary",
            h.p_offset, h.p_vaddr
        ));
    }
    if h.load_address() < MIN_LOAD_ADDRESS {
        return fail(format!(
            "the load address {:#x} is below {MIN_LOAD_ADDRESS:#x}",
            h.load_address()
        ));
    }
    if h.p_filesz != h.p_memsz {
        return fail(format!(
            "p_filesz {} differs from p_memsz {}",
            h.p_filesz, h.p_memsz
        ));
    }
    if h.segment_end() != bytes.len() as u64 {
        return fail(format!(
            "the segment ends at offset {} but the file has {} bytes",
            h.segment_end(),
            bytes.len()
        ));
    }
    let code = h.load_address() + h.e_phoff;
    if h.e_entry < code || h.e_entry >= h.p_vaddr + h.p_filesz {
        return fail(format!(
            "e_entry {:#x} is not inside the segment after the headers ({code:#x}..{:#x})",
            h.e_entry,
            h.p_vaddr + h.p_filesz
        ));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::PLATFORMS;

    /// A minimal well-formed file for `platform`: ELF header, one program
    /// header right after it, then 8 bytes of "code"; loaded at `base`.
    fn file(platform: &Platform, base: u64) -> Vec<u8> {
        let (ehsize, phsize) = if platform.class64 { (64, 56) } else { (52, 32) };
        let len = ehsize + phsize + 8;
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(b"\x7fELF");
        let mut put = |off: usize, size: usize, v: u64| {
            for i in 0..size {
                let shift = if platform.big_endian {
                    8 * (size - 1 - i)
                } else {
                    8 * i
                };
                b[off + i] = (v >> shift) as u8;
            }
        };
        let o = if platform.class64 { &ELF64 } else { &ELF32 };
        let w = o.word;
        put(0x10, 2, 2);
        put(0x12, 2, u64::from(platform.machine));
        put(o.entry as usize, w, base + (ehsize + phsize) as u64);
        put(o.phoff as usize, w, ehsize as u64);
        put(o.ehsize as usize, 2, ehsize as u64);
        put(o.phentsize as usize, 2, phsize as u64);
        put(o.phnum as usize, 2, 1);
        put(ehsize, 4, u64::from(PT_LOAD));
        put(ehsize + o.p_flags as usize, 4, u64::from(PF_R | PF_X));
        put(ehsize + o.p_offset as usize, w, 0);
        put(ehsize + o.p_vaddr as usize, w, base);
        put(ehsize + o.p_filesz as usize, w, len as u64);
        put(ehsize + o.p_memsz as usize, w, len as u64);
        b
    }

    #[test]
    fn a_well_formed_file_passes_for_every_platform() {
        for p in PLATFORMS {
            let h = check(&file(p, 0x10000), p)
                .unwrap_or_else(|e| panic!("{}: a well-formed file was refused: {e}", p.docker));
            assert_eq!(h.load_address(), 0x10000, "{}", p.docker);
            assert_eq!(h.mapped_bytes(), PAGE, "{}", p.docker);
        }
    }

    #[test]
    fn a_load_address_aligned_to_4k_only_is_refused() {
        // 0x11000 is a 4 KiB page boundary but not a 64 KiB one: a kernel with
        // 64 KiB pages cannot map file offset 0 there.
        for p in PLATFORMS {
            let err = check(&file(p, 0x11000), p).unwrap_err();
            assert!(
                err.contains("differ modulo 0x10000"),
                "{}: unexpected error {err:?}",
                p.docker
            );
            // 16 KiB-aligned is not enough either.
            assert!(check(&file(p, 0x14000), p).is_err(), "{}", p.docker);
            assert!(check(&file(p, 0x20000), p).is_ok(), "{}", p.docker);
        }
    }

    #[test]
    fn a_load_address_below_mmap_min_addr_is_refused() {
        let p = &PLATFORMS[0];
        // p_vaddr 0 is 64 KiB aligned, but below vm.mmap_min_addr.
        let err = check(&file(p, 0), p).unwrap_err();
        assert!(err.contains("is below 0x10000"), "{err}");
    }

    #[test]
    fn each_field_check_names_the_field() {
        for p in PLATFORMS {
            let good = file(p, 0x10000);
            let o = if p.class64 { &ELF64 } else { &ELF32 };
            let ehsize = if p.class64 { 64 } else { 52 };
            // (offset, size, what the error says): each field elf::check reads.
            let cases: [(usize, usize, &str); 6] = [
                (0x12, 2, "e_machine"),
                (0x10, 2, "e_type"),
                (o.phnum as usize, 2, "e_phentsize/e_phnum"),
                (ehsize, 4, "the program header is type"),
                (ehsize + o.p_memsz as usize, o.word, "differs from p_memsz"),
                (o.entry as usize, o.word, "e_entry"),
            ];
            for (at, size, says) in cases {
                let mut bad = good.clone();
                // Flip a bit of the field's lowest byte, in the platform's byte order.
                let low = if p.big_endian { at + size - 1 } else { at };
                bad[low] ^= 0x40;
                let err = check(&bad, p).unwrap_err();
                assert!(err.contains(says), "{}: {says}: got {err:?}", p.docker);
            }
            let mut short = good.clone();
            short.pop();
            assert!(check(&short, p).is_err(), "{}: a truncated file", p.docker);
            let mut magic = good;
            magic[1] = b'F';
            assert!(check(&magic, p).unwrap_err().contains("ELF magic"));
        }
    }
}
