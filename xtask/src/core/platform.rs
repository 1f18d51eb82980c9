//! The platforms `dist` builds for, and what differs between them; the
//! programs it builds. (Each platform's `e_machine` follows from its
//! architecture: `elf::machine`.)

/// One Docker platform and how `hello` is built for it.
#[derive(Debug)]
pub struct Platform {
    /// Docker's platform string, e.g. `linux/amd64`.
    pub docker: &'static str,
    /// Rust's target triple. A Linux target: `core` ships for it, and rust-lld
    /// links it; no C toolchain or libc is used.
    pub triple: &'static str,
    /// Codegen flags for this platform's `hello`, after the common ones.
    pub rustflags: &'static [&'static str],
    /// ELFCLASS64 (true) or ELFCLASS32.
    pub class64: bool,
    /// ELFDATA2MSB (true) or ELFDATA2LSB.
    pub big_endian: bool,
    /// The trap rustc emits after `_start`'s noreturn exit, when it ends the
    /// linked image; the segment ends before it. Empty when the code ends with
    /// something else (Thumb's literal pool), and the file keeps the trap.
    pub trap: &'static [u8],
    /// The qemu-user program that runs this platform's files on another host
    /// (Debian's qemu-user-static also installs it as `<qemu>-static`).
    pub qemu: &'static str,
    /// `qemu -cpu` for the oldest CPU the platform promises, if not qemu's default.
    pub qemu_cpu: Option<&'static str>,
    /// The longest message this platform's code generation handles, if limited.
    pub max_message: Option<usize>,
    /// Size budget in bytes with the default message, per layout: (tiny, compat).
    /// Where only qemu can run the file here, both layouts are the compat one.
    pub budget: (u64, u64),
}

pub const PLATFORMS: &[Platform] = &[
    Platform {
        docker: "linux/amd64",
        triple: "x86_64-unknown-linux-gnu",
        rustflags: &[],
        class64: true,
        big_endian: false,
        trap: &[0x0f, 0x0b], // ud2
        qemu: "qemu-x86_64",
        qemu_cpu: None,
        max_message: None,
        budget: (120, 128),
    },
    Platform {
        docker: "linux/386",
        triple: "i686-unknown-linux-gnu",
        rustflags: &[],
        class64: false,
        big_endian: false,
        trap: &[0x0f, 0x0b], // ud2
        qemu: "qemu-i386",
        qemu_cpu: None,
        max_message: None,
        budget: (87, 111),
    },
    Platform {
        docker: "linux/arm64",
        triple: "aarch64-unknown-linux-gnu",
        // The tiny code model: the message's address is one `adr`, not adrp+add.
        rustflags: &["-C", "code-model=tiny"],
        class64: true,
        big_endian: false,
        trap: &[0x20, 0x00, 0x20, 0xd4], // brk #1
        qemu: "qemu-aarch64",
        qemu_cpu: None,
        max_message: None,
        budget: (136, 136),
    },
    Platform {
        docker: "linux/arm/v7",
        // Thumb-2 by default: 16-bit instructions where they fit.
        triple: "thumbv7neon-unknown-linux-gnueabihf",
        rustflags: &[],
        class64: false,
        big_endian: false,
        trap: &[],
        qemu: "qemu-arm",
        qemu_cpu: Some("cortex-a7"),
        max_message: None,
        budget: (112, 112),
    },
    Platform {
        docker: "linux/arm/v6",
        // Thumb code for the ARM1176 (Raspberry Pi 1 and Zero): rustup ships no
        // `core` for arm-unknown-linux-gnueabi here, so this is the Thumb-2
        // target with the CPU set to an ARMv6 one. Its `_start` then uses only
        // 16-bit Thumb instructions, which ARMv6 has, for messages up to 255
        // bytes (see max_message); dist and the tests run every file on qemu's
        // arm1176, which faults on anything else.
        triple: "thumbv7neon-unknown-linux-gnueabihf",
        rustflags: &["-C", "target-cpu=arm1176jzf-s"],
        class64: false,
        big_endian: false,
        trap: &[],
        qemu: "qemu-arm",
        qemu_cpu: Some("arm1176"),
        // The Thumb-2 target emits 32-bit Thumb-2 instructions, which ARMv5TE
        // and ARMv6 lack, to load a length above 255 (`movs` takes 8 bits).
        max_message: Some(255),
        budget: (112, 112),
    },
    Platform {
        docker: "linux/arm/v5",
        // As linux/arm/v6, for the ARM926EJ-S (ARMv5TE), run on qemu's arm926,
        // and with ARMv6 and Thumb-2 off for every crate (HELLO_ARMV5_FLAGS,
        // through Program::crate_flags): the code is ARMv5TE's Thumb, checked
        // instruction by instruction (build/thumb1.rs).
        triple: "thumbv7neon-unknown-linux-gnueabihf",
        rustflags: &["-C", "target-cpu=arm926ej-s"],
        class64: false,
        big_endian: false,
        trap: &[],
        qemu: "qemu-arm",
        qemu_cpu: Some("arm926"),
        // The Thumb-2 target emits 32-bit Thumb-2 instructions, which ARMv5TE
        // and ARMv6 lack, to load a length above 255 (`movs` takes 8 bits).
        max_message: Some(255),
        budget: (112, 112),
    },
    Platform {
        docker: "linux/riscv64",
        // RV64GC: the C extension gives 16-bit forms of most instructions here.
        triple: "riscv64gc-unknown-linux-gnu",
        rustflags: &[],
        class64: true,
        big_endian: false,
        trap: &[0x00, 0x00], // c.unimp
        qemu: "qemu-riscv64",
        qemu_cpu: None,
        max_message: None,
        budget: (146, 146),
    },
    Platform {
        docker: "linux/s390x",
        triple: "s390x-unknown-linux-gnu",
        rustflags: &[],
        class64: true,
        big_endian: true,
        trap: &[0xa7, 0xf4, 0x00, 0x01], // j .+2
        qemu: "qemu-s390x",
        qemu_cpu: None,
        max_message: None,
        budget: (134, 134),
    },
    Platform {
        docker: "linux/ppc64le",
        // POWER8 and later, little-endian, ELFv2: what Debian, Ubuntu and RHEL
        // ship for ppc64le, and rustc's default CPU for it.
        triple: "powerpc64le-unknown-linux-gnu",
        rustflags: &[],
        class64: true,
        big_endian: false,
        // `trap`, then the 12 zero bytes LLVM puts after every ppc64 function
        // (an empty traceback table): neither runs.
        trap: &[0x08, 0x00, 0xe0, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        qemu: "qemu-ppc64le",
        qemu_cpu: None,
        max_message: None,
        // The budget is 192 and its goal 168.
        budget: (164, 164),
    },
];

/// Platforms Docker's `hello-world` ships for that `dist` does not build, and why.
pub const NOT_BUILT: &[(&str, &str)] = &[];

/// The layouts: how much of the ELF header the file bends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The smallest file the Linux kernel runs: the kernel-only record, on
    /// amd64 and 386 (elsewhere it is the compat layout).
    Tiny,
    /// Runs under the kernel and under qemu-user, and matches qemu's
    /// binfmt_misc entry: the default, and what every image ships.
    Compat,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Tiny, Layout::Compat];
    /// What `dist`, the image index, the `docker load` archive and `publish`
    /// use unless told otherwise: the file must run wherever the image may go,
    /// and Docker runs a foreign image through qemu-user.
    pub const DEFAULT: Layout = Layout::Compat;

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

    /// `target_arch` as rustc spells it (what hello/build.rs and the linker
    /// script names use), from the triple's first component.
    pub fn arch(&self) -> &'static str {
        match self.triple.split('-').next().unwrap_or(self.triple) {
            "i586" | "i686" => "x86",
            t if t.starts_with("thumb") || t.starts_with("arm") => "arm",
            t if t.starts_with("riscv64") => "riscv64",
            t if t.starts_with("powerpc64") => "powerpc64",
            t => t,
        }
    }

    pub fn budget(&self, layout: Layout) -> u64 {
        match layout {
            Layout::Tiny => self.budget.0,
            Layout::Compat => self.budget.1,
        }
    }

    /// The layout a build with `layout` gets: `tiny` is a layout of its own,
    /// read by the kernel alone, only on amd64 and 386 (linker/x86_64-tiny.ld,
    /// linker/x86-tiny.ld); elsewhere it is the compat file.
    pub fn layout_in_effect(&self, layout: Layout) -> Layout {
        match self.arch() {
            "x86_64" | "x86" => layout,
            _ => Layout::Compat,
        }
    }

    pub fn find(docker: &str) -> Option<&'static Platform> {
        PLATFORMS.iter().find(|p| p.docker == docker)
    }

    /// True when this machine runs the platform's files itself: its own
    /// platform, and 386 on an x86-64 kernel (which runs 32-bit x86 programs).
    pub fn runs_natively(&self) -> bool {
        let host = Platform::host().map(|p| p.docker);
        host == Some(self.docker) || (host == Some("linux/amd64") && self.docker == "linux/386")
    }

    /// The qemu-user program on PATH for this platform: Debian's
    /// `qemu-<arch>-static` or a plain `qemu-<arch>`.
    pub fn qemu_program(&self) -> Result<std::path::PathBuf, String> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        for name in [format!("{}-static", self.qemu), self.qemu.to_string()] {
            for dir in std::env::split_paths(&path) {
                let candidate = dir.join(&name);
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
        Err(format!(
            "neither {0}-static nor {0} is on PATH, and {1} files need one to run here",
            self.qemu, self.docker
        ))
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

/// The programs `dist` builds: each one binary of the `hello` crate
/// (`hello/src/main.rs`, `hello/src/bin/<name>.rs`) with its own linker script,
/// sharing the crate's per-architecture system calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// Prints the message and exits: the image this project is named for.
    Hello,
    /// Prints a `docker load` archive of its own image.
    Quine,
    /// Serves one page over HTTP.
    Serve,
}

impl Program {
    pub const ALL: [Program; 3] = [Program::Hello, Program::Quine, Program::Serve];

    /// The binary's name, the file's name in the image and in target/dist.
    pub fn name(self) -> &'static str {
        match self {
            Program::Hello => "hello",
            Program::Quine => "quine",
            Program::Serve => "serve",
        }
    }

    pub fn parse(s: &str) -> Option<Program> {
        Program::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The Rust target this program is built from for `platform`, and the
    /// platform's codegen flags for it: the platform's own, but for serve on
    /// linux/arm/v6 and linux/arm/v5. serve calls precompiled `core` and
    /// `compiler_builtins` functions (division, `memchr`, `memcpy`), which
    /// in the Thumb-2 target are Thumb-2 code that ARMv6 cannot run;
    /// thumbv6m-none-eabi's are Thumb-1 (ARMv6-M), which the ARM1176 runs,
    /// and its own code is Thumb-1 too. It is a bare-metal target, but serve uses nothing of an OS's from
    /// Rust: the system calls are the same EABI `svc #0` with the number in r7
    /// (src/sys/arm.rs), and the linker script makes the Linux executable.
    /// Its CPU stays thumbv6m's (the Thumb-2 target's `target-cpu` flag does
    /// not apply). On linux/arm/v5, ARMv6 is turned off and our own functions
    /// replace the precompiled ones ([`ARMV5_FLAGS`], [`Program::crate_flags`]).
    pub fn target(self, platform: &Platform) -> (&'static str, &'static [&'static str]) {
        match (self, platform.docker) {
            (Program::Serve, "linux/arm/v6" | "linux/arm/v5") => (THUMB1_TRIPLE, &[]),
            _ => (platform.triple, platform.rustflags),
        }
    }

    /// Codegen flags for every crate of this program's build for `platform`
    /// (the `hello` library's too, through CARGO_ENCODED_RUSTFLAGS), if any:
    /// serve's and hello's on linux/arm/v5 ([`ARMV5_FLAGS`], [`HELLO_ARMV5_FLAGS`]).
    pub fn crate_flags(self, platform: &Platform) -> Option<&'static [&'static str]> {
        match (self, platform.docker) {
            (Program::Serve, "linux/arm/v5") => Some(ARMV5_FLAGS),
            (Program::Hello, "linux/arm/v5") => Some(HELLO_ARMV5_FLAGS),
            _ => None,
        }
    }

    /// Whether this program's file for `platform` is Thumb code for the
    /// ARM926EJ-S (ARMv5TE), which the build checks instruction by instruction
    /// (build/thumb1.rs): hello's and serve's on linux/arm/v5. (The quine's
    /// there is ARM-state code: build/quine.rs.)
    pub fn armv5_thumb(self, platform: &Platform) -> bool {
        matches!(self, Program::Hello | Program::Serve) && platform.docker == "linux/arm/v5"
    }

    /// The platforms this program is built for, in the table's order: every
    /// one, for every program.
    pub fn platforms(self) -> impl Iterator<Item = &'static Platform> {
        PLATFORMS.iter()
    }
}

/// The Thumb-1 target serve is built from for linux/arm/v6 and linux/arm/v5
/// ([`Program::target`]).
pub const THUMB1_TRIPLE: &str = "thumbv6m-none-eabi";

/// The flags every crate of serve's linux/arm/v5 build gets, on top of
/// [`THUMB1_TRIPLE`]: ARMv6-M less ARMv6 is the Thumb-1 of ARMv4T/ARMv5TE,
/// which the ARM926EJ-S runs (no `uxtb`/`uxth`/`sxtb`/`rev`, and no 16-bit
/// `mov` between two low registers, which ARMv5 leaves UNPREDICTABLE). The
/// cfg `armv5` swaps in hello/src/sys/arm.rs's ARMv5 forms and
/// hello/src/armv5.rs, which stands in for the precompiled `core` and
/// `compiler_builtins` functions (built for ARMv6-M) that serve calls. The
/// feature is unstable, so rustc warns of it: `-A warnings` keeps dist's
/// output to its own lines (clippy and the other builds see this code).
pub const ARMV5_FLAGS: &[&str] = &[
    "-C",
    "target-feature=-v6",
    "--cfg",
    "armv5",
    "-A",
    "warnings",
];

/// The flags every crate of hello's linux/arm/v5 build gets (the platform's
/// own target, the Thumb-2 one: hello calls no precompiled code): the
/// ARM926EJ-S with ARMv6 and Thumb-2 turned off. With only the `target-cpu`,
/// the target's Thumb-2 stays on: LLVM pads `_start`'s literal pool with the
/// Thumb-2 `nop` (bf00) and accepts the 16-bit `mov` between two low
/// registers, UNPREDICTABLE on ARMv5. Here it pads with `mov r8, r8` (46c0),
/// and the cfg `armv5` gives hello/src/sys/arm.rs's `movs`: the same 112
/// bytes. (`-v6` alone leaves the `thumb2` feature on, and LLVM fails to
/// select a branch.) Not serve's [`THUMB1_TRIPLE`]: that target keeps frame
/// pointers whatever the flags, and `_start` grows a `push {r7, lr}` and an
/// `add r7, sp, #0`, 116 bytes, over the budget. `-A warnings` as in
/// [`ARMV5_FLAGS`].
pub const HELLO_ARMV5_FLAGS: &[&str] = &[
    "-C",
    "target-cpu=arm926ej-s",
    "-C",
    "target-feature=-v6,-thumb2",
    "--cfg",
    "armv5",
    "-A",
    "warnings",
];

/// `--layout VALUE`, for the tasks that take one.
pub fn layout_option(v: &str) -> Result<Layout, crate::Error> {
    Layout::parse(v).ok_or_else(|| {
        crate::Error::usage(format!(
            "unknown layout `{v}`: use --layout tiny or --layout compat"
        ))
    })
}

/// `--platform VALUE`: one platform of the table. `all` names what else the
/// task takes (`--platform all or `), if anything.
pub fn platform_option(v: &str, all: &str) -> Result<&'static Platform, crate::Error> {
    Platform::find(v).ok_or_else(|| match NOT_BUILT.iter().find(|(p, _)| *p == v) {
        Some((p, why)) => crate::Error::usage(format!("{p} is not built: {why}")),
        None => crate::Error::usage(format!(
            "unknown platform `{v}`: use {all}one of {}",
            PLATFORMS
                .iter()
                .map(|p| p.docker)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    })
}

/// This machine's platform, for a task given no `--platform`.
pub fn host_or_usage(fix: &str) -> Result<&'static Platform, crate::Error> {
    Platform::host().ok_or_else(|| {
        crate::Error::usage(format!(
            "this machine's architecture ({}) is not one dist builds for: {fix}",
            std::env::consts::ARCH
        ))
    })
}
