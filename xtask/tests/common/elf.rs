//! The ELF fields a loader reads, decoded from a file's bytes apart from the
//! xtask's own reader, and the checks every built file must pass.

use super::platform::Platform;

/// The ELF header and program header fields a loader reads, decoded from the
/// file here, independently of xtask/src/elf.rs (which `dist` uses), with the
/// offsets of the System V ABI's Elf32/Elf64 structures.
#[derive(Debug)]
pub struct ElfFields {
    pub e_type: u64,
    pub e_machine: u64,
    pub e_entry: u64,
    pub e_phoff: u64,
    pub e_phentsize: u64,
    pub e_phnum: u64,
    pub p_type: u64,
    pub p_flags: u64,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
}

impl ElfFields {
    /// The address file offset 0 maps at.
    pub fn load_address(&self) -> u64 {
        self.p_vaddr.wrapping_sub(self.p_offset)
    }
}

/// Decodes `bytes` as `platform`'s class and byte order (the `tiny` layout may
/// hold the message in EI_CLASS and EI_DATA, so the file's own say nothing).
pub fn elf_fields(bytes: &[u8], platform: &Platform, what: &str) -> ElfFields {
    let int = |off: u64, size: u64| -> u64 {
        let (off, size) = (off as usize, size as usize);
        let b = bytes.get(off..off + size).unwrap_or_else(|| {
            panic!(
                "{what}: the file has {} bytes and ends before the field at {off:#x}",
                bytes.len()
            )
        });
        let fold = |v: u64, &x: &u8| (v << 8) | u64::from(x);
        if platform.big_endian {
            b.iter().fold(0, fold)
        } else {
            b.iter().rev().fold(0, fold)
        }
    };
    // (e_entry, e_phoff, e_phentsize, e_phnum, word) and the program header's
    // (p_flags, p_offset, p_vaddr, p_filesz, p_memsz), from Elf64_Ehdr/Elf64_Phdr
    // and Elf32_Ehdr/Elf32_Phdr.
    let (entry, phoff, phentsize, phnum, w) = if platform.class64 {
        (0x18, 0x20, 0x36, 0x38, 8)
    } else {
        (0x18, 0x1c, 0x2a, 0x2c, 4)
    };
    let (flags, offset, vaddr, filesz, memsz) = if platform.class64 {
        (0x04, 0x08, 0x10, 0x20, 0x28)
    } else {
        (0x18, 0x04, 0x08, 0x10, 0x14)
    };
    let ph = int(phoff, w);
    ElfFields {
        e_type: int(0x10, 2),
        e_machine: int(0x12, 2),
        e_entry: int(entry, w),
        e_phoff: ph,
        e_phentsize: int(phentsize, 2),
        e_phnum: int(phnum, 2),
        p_type: int(ph, 4),
        p_flags: int(ph + flags, 4),
        p_offset: int(ph + offset, w),
        p_vaddr: int(ph + vaddr, w),
        p_filesz: int(ph + filesz, w),
        p_memsz: int(ph + memsz, w),
    }
}

/// Asserts, from the file's bytes, everything xtask/src/elf.rs's `check` demands:
/// the magic, ET_EXEC, the platform's e_machine, one program header of the true
/// size, PT_LOAD readable and executable but not writable, p_vaddr = p_offset
/// modulo 64 KiB (so 4K, 16K and 64K page kernels map it), a load address at or
/// above 0x10000, p_filesz = p_memsz, a segment that ends where the file ends,
/// and an entry point inside the segment after the headers.
pub fn assert_well_formed(bytes: &[u8], platform: &Platform, what: &str) -> ElfFields {
    assert_eq!(bytes.get(..4), Some(&b"\x7fELF"[..]), "{what}: ELF magic");
    let f = elf_fields(bytes, platform, what);
    assert_eq!(f.e_type, 2, "{what}: e_type must be ET_EXEC");
    assert_eq!(
        f.e_machine,
        u64::from(xtask::elf::platform_machine(platform)),
        "{what}: e_machine for {}",
        platform.docker
    );
    let phentsize = if platform.class64 { 56 } else { 32 };
    assert_eq!(
        (f.e_phentsize, f.e_phnum),
        (phentsize, 1),
        "{what}: e_phentsize and e_phnum"
    );
    assert_eq!(f.p_type, 1, "{what}: p_type must be PT_LOAD");
    assert_eq!(f.p_flags & 7, 5, "{what}: p_flags must be R and X, not W");
    assert_eq!(
        f.p_vaddr % 0x10000,
        f.p_offset % 0x10000,
        "{what}: p_vaddr {:#x} and p_offset {:#x} must agree modulo 64 KiB",
        f.p_vaddr,
        f.p_offset
    );
    assert!(
        f.load_address() >= 0x10000,
        "{what}: load address {:#x} below vm.mmap_min_addr 0x10000",
        f.load_address()
    );
    assert_eq!(f.p_filesz, f.p_memsz, "{what}: p_filesz and p_memsz");
    assert_eq!(
        f.p_offset + f.p_filesz,
        bytes.len() as u64,
        "{what}: the segment must end where the file ends"
    );
    let code = f.load_address() + f.e_phoff;
    assert!(
        (code..f.p_vaddr + f.p_filesz).contains(&f.e_entry),
        "{what}: e_entry {:#x} outside the segment after the headers ({code:#x}..{:#x})",
        f.e_entry,
        f.p_vaddr + f.p_filesz
    );
    f
}
