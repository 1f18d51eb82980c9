//! The platforms `dist` builds for, and what differs between them.

/// One Docker platform and how `hello` is built for it.
#[derive(Debug)]
pub struct Platform {
    /// Docker's platform string, e.g. `linux/amd64`.
    pub docker: &'static str,
    /// Rust's target triple. A Linux target: `core` ships for it, and rust-lld
    /// links it; no C toolchain or libc is used.
    pub triple: &'static str,
    /// ELF `e_machine`.
    pub machine: u16,
    /// ELFCLASS64 (true) or ELFCLASS32.
    pub class64: bool,
    /// ELFDATA2MSB (true) or ELFDATA2LSB.
    pub big_endian: bool,
    /// The trap rustc emits after `_start`'s noreturn exit; the segment ends before it.
    pub trap: &'static [u8],
    /// The qemu-user program that runs this platform's files on another host.
    #[allow(dead_code)] // used once platforms other than the host run under qemu
    pub qemu: &'static str,
    /// Size budget in bytes with the default message, per layout: (tiny, compat).
    pub budget: (u64, u64),
}

pub const PLATFORMS: &[Platform] = &[Platform {
    docker: "linux/amd64",
    triple: "x86_64-unknown-linux-gnu",
    machine: 62, // EM_X86_64
    class64: true,
    big_endian: false,
    trap: &[0x0f, 0x0b], // ud2
    qemu: "qemu-x86_64",
    budget: (120, 128),
}];

/// The layouts: how much of the ELF header the file bends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The smallest file the Linux kernel runs.
    Tiny,
    /// Also runs under qemu-user and matches qemu's binfmt_misc entry.
    Compat,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Tiny, Layout::Compat];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Tiny => "tiny",
            Layout::Compat => "compat",
        }
    }

    pub fn parse(s: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.name() == s)
    }
}

impl Platform {
    /// `linux-amd64`, `linux-arm-v7`: the platform as one path component.
    pub fn dir_name(&self) -> String {
        self.docker.replace('/', "-")
    }

    /// `target_arch` as rustc spells it: the first component of the triple.
    pub fn arch(&self) -> &'static str {
        self.triple.split('-').next().unwrap_or(self.triple)
    }

    pub fn budget(&self, layout: Layout) -> u64 {
        match layout {
            Layout::Tiny => self.budget.0,
            Layout::Compat => self.budget.1,
        }
    }

    pub fn find(docker: &str) -> Option<&'static Platform> {
        PLATFORMS.iter().find(|p| p.docker == docker)
    }

    /// The platform of the machine running the xtask, if `dist` builds for it.
    pub fn host() -> Option<&'static Platform> {
        let docker = match std::env::consts::ARCH {
            "x86_64" => "linux/amd64",
            "x86" => "linux/386",
            "aarch64" => "linux/arm64",
            "riscv64" => "linux/riscv64",
            "powerpc64" => "linux/ppc64le",
            "s390x" => "linux/s390x",
            _ => return None,
        };
        Platform::find(docker)
    }
}
