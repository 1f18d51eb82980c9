//! ELF: the constants under their C names, one table of every header field
//! (name, offset, size) per class, and reading and checking the few fields a
//! loader uses. `cargo xtask explain` reads the same table.
//!
//! The file's own EI_CLASS and EI_DATA bytes may hold the message (the `tiny`
//! layout), so class and byte order come from the platform, not from the file.

use crate::core::platform::Platform;

pub const PT_LOAD: u32 = 1;
pub const PF_X: u32 = 1;
pub const PF_R: u32 = 4;
/// The lowest address a file may load at (the usual vm.mmap_min_addr).
pub const MIN_LOAD_ADDRESS: u64 = 0x10000;
pub const PAGE: u64 = 4096;
/// The largest page size a Linux kernel for these platforms uses (arm64,
/// ppc64le and others build with 64 KiB pages): a file whose p_vaddr and
/// p_offset agree modulo this loads with 4K, 16K and 64K pages alike.
pub const MAX_PAGE_SIZE: u64 = 65536;

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

/// One header field: its name as the ELF specification writes it, its offset
/// within its header (the ELF header, or one program header), and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: u64,
    pub size: u64,
}

const fn f(name: &'static str, offset: u64, size: u64) -> Field {
    Field { name, offset, size }
}

/// Elf64_Ehdr, every byte (include/uapi/linux/elf.h).
pub const EHDR64: &[Field] = &[
    f("e_ident[EI_MAG0..4]", 0x00, 4),
    f("e_ident[EI_CLASS]", 0x04, 1),
    f("e_ident[EI_DATA]", 0x05, 1),
    f("e_ident[EI_VERSION]", 0x06, 1),
    f("e_ident[EI_OSABI]", 0x07, 1),
    f("e_ident[EI_ABIVERSION..16]", 0x08, 8),
    f("e_type", 0x10, 2),
    f("e_machine", 0x12, 2),
    f("e_version", 0x14, 4),
    f("e_entry", 0x18, 8),
    f("e_phoff", 0x20, 8),
    f("e_shoff", 0x28, 8),
    f("e_flags", 0x30, 4),
    f("e_ehsize", 0x34, 2),
    f("e_phentsize", 0x36, 2),
    f("e_phnum", 0x38, 2),
    f("e_shentsize", 0x3a, 2),
    f("e_shnum", 0x3c, 2),
    f("e_shstrndx", 0x3e, 2),
];

/// Elf32_Ehdr, every byte.
pub const EHDR32: &[Field] = &[
    f("e_ident[EI_MAG0..4]", 0x00, 4),
    f("e_ident[EI_CLASS]", 0x04, 1),
    f("e_ident[EI_DATA]", 0x05, 1),
    f("e_ident[EI_VERSION]", 0x06, 1),
    f("e_ident[EI_OSABI]", 0x07, 1),
    f("e_ident[EI_ABIVERSION..16]", 0x08, 8),
    f("e_type", 0x10, 2),
    f("e_machine", 0x12, 2),
    f("e_version", 0x14, 4),
    f("e_entry", 0x18, 4),
    f("e_phoff", 0x1c, 4),
    f("e_shoff", 0x20, 4),
    f("e_flags", 0x24, 4),
    f("e_ehsize", 0x28, 2),
    f("e_phentsize", 0x2a, 2),
    f("e_phnum", 0x2c, 2),
    f("e_shentsize", 0x2e, 2),
    f("e_shnum", 0x30, 2),
    f("e_shstrndx", 0x32, 2),
];

/// Elf64_Phdr, every byte.
pub const PHDR64: &[Field] = &[
    f("p_type", 0x00, 4),
    f("p_flags", 0x04, 4),
    f("p_offset", 0x08, 8),
    f("p_vaddr", 0x10, 8),
    f("p_paddr", 0x18, 8),
    f("p_filesz", 0x20, 8),
    f("p_memsz", 0x28, 8),
    f("p_align", 0x30, 8),
];

/// Elf32_Phdr, every byte (p_flags moves after p_memsz).
pub const PHDR32: &[Field] = &[
    f("p_type", 0x00, 4),
    f("p_offset", 0x04, 4),
    f("p_vaddr", 0x08, 4),
    f("p_paddr", 0x0c, 4),
    f("p_filesz", 0x10, 4),
    f("p_memsz", 0x14, 4),
    f("p_flags", 0x18, 4),
    f("p_align", 0x1c, 4),
];

/// The ELF header's and the program header's fields for one class.
pub fn tables(class64: bool) -> (&'static [Field], &'static [Field]) {
    if class64 {
        (EHDR64, PHDR64)
    } else {
        (EHDR32, PHDR32)
    }
}

/// The field called `name` in `table`; every name the xtask asks for is there.
pub fn field(table: &[Field], name: &str) -> Field {
    *table
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no ELF field {name}"))
}

/// `e_type` of an executable.
pub const ET_EXEC: u16 = 2;
/// `e_machine` values (include/uapi/linux/elf-em.h), under their C names.
pub const EM_386: u16 = 3;
pub const EM_S390: u16 = 22;
pub const EM_PPC64: u16 = 21;
pub const EM_ARM: u16 = 40;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
pub const EM_RISCV: u16 = 243;

/// The `e_machine` of Rust's `target_arch`, for the architectures dist builds.
pub fn machine(arch: &str) -> Option<u16> {
    Some(match arch {
        "x86" => EM_386,
        "x86_64" => EM_X86_64,
        "arm" => EM_ARM,
        "aarch64" => EM_AARCH64,
        "riscv64" => EM_RISCV,
        "s390x" => EM_S390,
        "powerpc64" => EM_PPC64,
        _ => return None,
    })
}

/// The C name of an `e_machine` value.
pub fn machine_name(value: u16) -> Option<&'static str> {
    Some(match value {
        EM_386 => "EM_386",
        EM_X86_64 => "EM_X86_64",
        EM_ARM => "EM_ARM",
        EM_AARCH64 => "EM_AARCH64",
        EM_RISCV => "EM_RISCV",
        EM_S390 => "EM_S390",
        EM_PPC64 => "EM_PPC64",
        _ => return None,
    })
}

/// A platform's `e_machine`.
pub fn platform_machine(platform: &Platform) -> u16 {
    machine(platform.arch()).unwrap_or_else(|| {
        panic!(
            "no e_machine for target_arch {}: add it to elf::machine",
            platform.arch()
        )
    })
}

/// `e_flags`, which follows `e_shoff`.
fn parse_flags(bytes: &[u8], platform: &Platform) -> Result<u64, String> {
    let at = field(tables(platform.class64).0, "e_flags");
    Reader {
        bytes,
        big_endian: platform.big_endian,
    }
    .uint(at.offset, at.size as usize)
    .ok_or_else(|| format!("the file ({} bytes) ends before e_flags", bytes.len()))
}

/// Decodes the header; `Err` names the first field that lies outside the file.
pub fn parse(bytes: &[u8], platform: &Platform) -> Result<Header, String> {
    let r = Reader {
        bytes,
        big_endian: platform.big_endian,
    };
    let (ehdr, phdr) = tables(platform.class64);
    let get = |base: u64, table: &[Field], name: &str| {
        let f = field(table, name);
        let off = base + f.offset;
        r.uint(off, f.size as usize).ok_or_else(|| {
            format!(
                "the file ({} bytes) ends before {name} at offset {off:#x}",
                bytes.len()
            )
        })
    };
    let e = |name| get(0, ehdr, name);
    let e_phoff = e("e_phoff")?;
    let ph = |name| get(e_phoff, phdr, name);
    Ok(Header {
        e_type: e("e_type")? as u16,
        e_machine: e("e_machine")? as u16,
        e_entry: e("e_entry")?,
        e_phoff,
        e_ehsize: e("e_ehsize")? as u16,
        e_phentsize: e("e_phentsize")? as u16,
        e_phnum: e("e_phnum")? as u16,
        p_type: ph("p_type")? as u32,
        p_flags: ph("p_flags")? as u32,
        p_offset: ph("p_offset")?,
        p_vaddr: ph("p_vaddr")?,
        p_filesz: ph("p_filesz")?,
        p_memsz: ph("p_memsz")?,
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
    let fail = |what: String| {
        Err(format!(
            "{what} (the linker script for target_arch {}: hello/build.rs says which)",
            platform.arch()
        ))
    };
    let machine = platform_machine(platform);
    if h.e_machine != machine {
        return fail(format!(
            "e_machine is {}, expected {machine} for {}",
            h.e_machine, platform.docker
        ));
    }
    // ppc64: Linux and qemu take e_entry as a function descriptor unless
    // EF_PPC64_ABI, e_flags' low two bits, says ELFv2 (2).
    if machine == EM_PPC64 {
        let flags = parse_flags(bytes, platform)?;
        if flags & 3 != 2 {
            return fail(format!(
                "e_flags is {flags:#x}: its low two bits (EF_PPC64_ABI) must be 2, ELFv2"
            ));
        }
    }
    if h.e_type != ET_EXEC {
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
    if h.p_offset % MAX_PAGE_SIZE != h.p_vaddr % MAX_PAGE_SIZE {
        return fail(format!(
            "p_offset {:#x} and p_vaddr {:#x} differ modulo {MAX_PAGE_SIZE:#x}: a kernel with \
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
    use crate::core::platform::PLATFORMS;

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
        let (eh, ph) = tables(platform.class64);
        let mut e = |name, v| {
            let f = field(eh, name);
            put(f.offset as usize, f.size as usize, v)
        };
        e("e_type", u64::from(ET_EXEC));
        e("e_machine", u64::from(platform_machine(platform)));
        e("e_entry", base + (ehsize + phsize) as u64);
        e("e_phoff", ehsize as u64);
        e("e_ehsize", ehsize as u64);
        e("e_phentsize", phsize as u64);
        e("e_phnum", 1);
        if platform_machine(platform) == EM_PPC64 {
            // e_flags: ELFv2, which check requires of ppc64 files.
            e("e_flags", 2);
        }
        let mut p = |name, v| {
            let f = field(ph, name);
            put(ehsize + f.offset as usize, f.size as usize, v)
        };
        p("p_type", u64::from(PT_LOAD));
        p("p_flags", u64::from(PF_R | PF_X));
        p("p_offset", 0);
        p("p_vaddr", base);
        p("p_filesz", len as u64);
        p("p_memsz", len as u64);
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
            let (eh, ph) = tables(p.class64);
            let ehsize = if p.class64 { 64 } else { 52 };
            let at = |t: &[Field], base: usize, name| {
                let f = field(t, name);
                (base + f.offset as usize, f.size as usize)
            };
            // (offset, size, what the error says): each field elf::check reads.
            let cases: [((usize, usize), &str); 6] = [
                (at(eh, 0, "e_machine"), "e_machine"),
                (at(eh, 0, "e_type"), "e_type"),
                (at(eh, 0, "e_phnum"), "e_phentsize/e_phnum"),
                (at(ph, ehsize, "p_type"), "the program header is type"),
                (at(ph, ehsize, "p_memsz"), "differs from p_memsz"),
                (at(eh, 0, "e_entry"), "e_entry"),
            ];
            for ((at, size), says) in cases {
                let mut bad = good.clone();
                // Flip a bit of the field's lowest byte, in the platform's byte order.
                let low = if p.big_endian { at + size - 1 } else { at };
                bad[low] ^= 0x40;
                let err = check(&bad, p).unwrap_err();
                assert!(err.contains(says), "{}: {says}: got {err:?}", p.docker);
            }
            if platform_machine(p) == EM_PPC64 {
                let mut elfv1 = good.clone();
                elfv1[0x30] = 1; // e_flags = 1: ELFv1, function descriptors
                let err = check(&elfv1, p).unwrap_err();
                assert!(err.contains("EF_PPC64_ABI"), "{}: got {err:?}", p.docker);
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
