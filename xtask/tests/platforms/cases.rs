//! The platforms' cases (limits, page sizes, binfmt magic) and running one:
//! natively, under qemu-user, and the binfmt entry that matches it.

use super::*;

/// The issues' limit for a platform's file with the default message: 160
/// bytes, and 192 for ppc64le (issue 11: its 64-bit header, e_flags that must
/// say ELFv2, the TOC pointer and the errno in cr0 cost more).
pub(crate) fn limit(case: &Case) -> usize {
    if case.docker == "linux/ppc64le" {
        192
    } else {
        160
    }
}

/// One platform as the tests see it.
pub(crate) struct Case {
    /// Docker's platform string.
    pub(crate) docker: &'static str,
    /// qemu-user's name for the architecture (`qemu-<arch>`).
    pub(crate) qemu: &'static str,
    /// The Rust target the file is built for (as in xtask/src/core/platform.rs).
    pub(crate) triple: &'static str,
    /// `qemu -cpu`: the oldest CPU the platform promises, where it matters.
    pub(crate) cpu: Option<&'static str>,
    /// The magic and mask qemu-user-static registers with binfmt_misc for
    /// this architecture, from qemu's scripts/qemu-binfmt-conf.sh (Debian's
    /// /usr/share/binfmts/qemu-* carry the same), as hex.
    pub(crate) magic: &'static str,
    pub(crate) mask: &'static str,
    /// Docker's `hello-world` image for this platform: its one layer, gzip
    /// compressed, in bytes. Published, not measured here (no registry answers
    /// on the machines this runs on); docs/platforms.md labels it so. From
    /// docker-library/repo-info, repos/hello-world/remote/latest.md (commit
    /// 11dd8d4c, images of March 2026).
    pub(crate) hello_world_layer: u64,
    /// docs/platforms.md's name for the row.
    pub(crate) label: &'static str,
    /// Page sizes besides 4K that the file is run with (`qemu -p`).
    pub(crate) pages: &'static [u32],
}

/// 16K and 64K pages: arm64 kernels come with either; the others are run with
/// them too, since qemu allows it and nothing in the files depends on 4K.
pub(crate) const LARGE_PAGES: &[u32] = &[16384, 65536];
/// 32-bit Arm: Linux for arm has 4K pages, and an arm64 kernel runs 32-bit
/// programs only with 4K pages (16K with CONFIG_EXPERT). qemu-arm 7.2 with
/// `-p 65536` aborts on its own (page_set_flags: `end - 1 <= GUEST_ADDR_MAX`,
/// for the Arm helper page at 0xffff0000) whatever it runs.
pub(crate) const ARM_PAGES: &[u32] = &[16384];

/// The mask of every non-x86 entry: e_ident but EI_OSABI, e_type's low bits
/// (ET_EXEC or ET_DYN), and e_machine are compared.
pub(crate) const MASK: &str = "ffffffffffffff00fffffffffffffffffeffffff";

pub(crate) const CASES: &[Case] = &[
    Case {
        docker: "linux/amd64",
        triple: "x86_64-unknown-linux-gnu",
        qemu: "x86_64",
        cpu: None,
        magic: "7f454c4602010100000000000000000002003e00",
        mask: "fffffffffffefe00fffffffffffffffffeffffff",
        hello_world_layer: 2415,
        label: "linux/amd64",
        pages: &[],
    },
    Case {
        docker: "linux/386",
        triple: "i686-unknown-linux-gnu",
        qemu: "i386",
        cpu: None,
        magic: "7f454c4601010100000000000000000002000300",
        mask: "fffffffffffefe00fffffffffffffffffeffffff",
        hello_world_layer: 2618,
        label: "linux/386",
        pages: LARGE_PAGES,
    },
    Case {
        docker: "linux/arm64",
        triple: "aarch64-unknown-linux-gnu",
        qemu: "aarch64",
        cpu: None,
        magic: "7f454c460201010000000000000000000200b700",
        mask: MASK,
        hello_world_layer: 3149,
        label: "linux/arm64",
        pages: LARGE_PAGES,
    },
    Case {
        docker: "linux/arm/v7",
        triple: "thumbv7neon-unknown-linux-gnueabihf",
        qemu: "arm",
        cpu: Some("cortex-a7"),
        magic: "7f454c4601010100000000000000000002002800",
        mask: MASK,
        hello_world_layer: 3023,
        label: "linux/arm/v7 (Thumb-2)",
        pages: ARM_PAGES,
    },
    Case {
        docker: "linux/arm/v6",
        triple: "thumbv7neon-unknown-linux-gnueabihf",
        qemu: "arm",
        cpu: Some("arm1176"),
        magic: "7f454c4601010100000000000000000002002800",
        mask: MASK,
        hello_world_layer: 3687,
        label: "linux/arm/v6 (Thumb)",
        pages: ARM_PAGES,
    },
    Case {
        docker: "linux/arm/v5",
        triple: "thumbv7neon-unknown-linux-gnueabihf",
        qemu: "arm",
        cpu: Some("arm926"),
        magic: "7f454c4601010100000000000000000002002800",
        mask: MASK,
        hello_world_layer: 3688,
        label: "linux/arm/v5 (Thumb)",
        pages: ARM_PAGES,
    },
    Case {
        docker: "linux/riscv64",
        triple: "riscv64gc-unknown-linux-gnu",
        qemu: "riscv64",
        cpu: None,
        magic: "7f454c460201010000000000000000000200f300",
        mask: MASK,
        hello_world_layer: 3217,
        label: "linux/riscv64 (RVC)",
        pages: LARGE_PAGES,
    },
    Case {
        docker: "linux/s390x",
        triple: "s390x-unknown-linux-gnu",
        qemu: "s390x",
        cpu: None,
        magic: "7f454c4602020100000000000000000000020016",
        mask: "fffffffffffffffcfffffffffffffffffffeffff",
        hello_world_layer: 3122,
        label: "linux/s390x",
        pages: LARGE_PAGES,
    },
    Case {
        docker: "linux/ppc64le",
        triple: "powerpc64le-unknown-linux-gnu",
        qemu: "ppc64le",
        cpu: None,
        magic: "7f454c4602010100000000000000000002001500",
        mask: "fffffffffffffffcfffffffffffffffffeffff00",
        hello_world_layer: 3521,
        label: "linux/ppc64le",
        pages: LARGE_PAGES,
    },
];

impl Case {
    pub(crate) fn dir(&self) -> String {
        self.docker.replace('/', "-")
    }

    pub(crate) fn file(&self) -> PathBuf {
        root().join("target/dist").join(self.dir()).join("hello")
    }

    /// This x86-64 machine runs amd64 and 386 files itself.
    pub(crate) fn native(&self) -> bool {
        std::env::consts::ARCH == "x86_64" && matches!(self.docker, "linux/amd64" | "linux/386")
    }
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Whether `bytes` match binfmt_misc's magic under its mask.
pub(crate) fn binfmt_matches(bytes: &[u8], magic: &[u8], mask: &[u8]) -> bool {
    bytes.len() >= magic.len()
        && magic
            .iter()
            .zip(mask)
            .zip(bytes)
            .all(|((m, k), b)| b & k == m & k)
}

/// qemu-user for `arch` on PATH; callers checked with [`qemu_here`] first.
pub(crate) fn qemu(arch: &str) -> PathBuf {
    common::qemu("(checked before)", arch).expect("qemu_here said it is on PATH")
}

/// Whether qemu-user for `case` is on PATH; a loud skip of that case's
/// emulated runs when not.
pub(crate) fn qemu_here(case: &Case) -> bool {
    common::qemu(
        &format!("{} under qemu-{}", case.docker, case.qemu),
        case.qemu,
    )
    .is_some()
}

/// Whether qemu-user for `arch` is on PATH; a loud skip (see common::skip) when not.
pub(crate) fn qemu_available(test: &str, arch: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = [format!("qemu-{arch}-static"), format!("qemu-{arch}")]
        .iter()
        .any(|name| std::env::split_paths(&path).any(|d| d.join(name).is_file()));
    found
        || skip(
            test,
            &format!("neither qemu-{arch}-static nor qemu-{arch} is on PATH"),
            "apt-get install -y qemu-user-static",
        )
}

/// Runs `file` for `case` with stdout `stdout`: natively, or under qemu-user
/// with `-p page` when given.
pub(crate) fn run_case(case: &Case, file: &Path, stdout: Stdout, page: Option<u32>) -> Output {
    let mut argv: Vec<String> = Vec::new();
    if !case.native() || page.is_some() {
        argv.push(qemu(case.qemu).display().to_string());
        if let Some(cpu) = case.cpu {
            argv.extend(["-cpu".into(), cpu.into()]);
        }
        if let Some(p) = page {
            argv.extend(["-p".into(), p.to_string()]);
        }
    }
    argv.push(file.display().to_string());
    // `sh` closes the descriptor when asked, then execs the command.
    let script = match stdout {
        Stdout::Closed => "exec \"$@\" >&-",
        _ => "exec \"$@\"",
    };
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).arg("sh").args(&argv);
    cmd.stdin(Stdio::null());
    match stdout {
        Stdout::DevFull => {
            cmd.stdout(File::options().write(true).open("/dev/full").unwrap());
        }
        _ => {
            cmd.stdout(Stdio::piped());
        }
    }
    cmd.output().expect("run /bin/sh")
}

/// Exact output and status 0, and a non-zero status on /dev/full and a closed
/// stdout, for every way the file runs here.
pub(crate) fn assert_runs(case: &Case, file: &Path, message: &[u8]) {
    if !case.native() && !qemu_here(case) {
        return;
    }
    let mut pages = vec![None];
    if !case.native() {
        // Kernels with larger pages must load it too.
        pages.extend(case.pages.iter().copied().map(Some));
    }
    assert_runs_with(case, file, message, &pages);
}

/// As [`assert_runs`], once per entry of `pages`: natively for `None` (or
/// under qemu when the platform is foreign), under qemu with `-p page` otherwise.
pub(crate) fn assert_runs_with(case: &Case, file: &Path, message: &[u8], pages: &[Option<u32>]) {
    for &page in pages {
        let what = format!("{} {} (qemu -p {page:?})", case.docker, file.display());
        let ok = run_case(case, file, Stdout::Pipe, page);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{what}: exit status; stderr {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(
            ok.stdout == message,
            "{what}: stdout {:?}",
            String::from_utf8_lossy(&ok.stdout)
        );
        for bad in [Stdout::DevFull, Stdout::Closed] {
            let out = run_case(case, file, bad, page);
            assert!(
                out.status.code().is_some_and(|c| c != 0),
                "{what} with stdout {bad:?}: expected a non-zero exit status, got {:?}",
                out.status
            );
        }
    }
}

/// The file matches qemu-user-static's binfmt_misc entry, as qemu's script
/// defines it and, where this machine registered it, as the kernel holds it;
/// and, when registered, the kernel runs the file through it directly.
pub(crate) fn assert_binfmt(case: &Case, file: &Path, message: &[u8]) {
    let bytes = std::fs::read(file).unwrap();
    assert!(
        binfmt_matches(&bytes, &hex(case.magic), &hex(case.mask)),
        "{}: the header does not match qemu's binfmt_misc magic {} under mask {}: see the linker script's compat rules",
        file.display(),
        case.magic,
        case.mask
    );
    let entry = Path::new("/proc/sys/fs/binfmt_misc").join(format!("qemu-{}", case.qemu));
    let Ok(text) = std::fs::read_to_string(&entry) else {
        if case.native() {
            // This kernel runs the file itself; an entry would send every such
            // program through qemu instead, so Debian registers none here.
            eprintln!(
                "note: {} is not registered: this x86-64 kernel runs {} files itself, so \
                 Debian's qemu-user-static registers no qemu-{} entry here. {} was checked \
                 against the magic and mask of qemu's own scripts/qemu-binfmt-conf.sh \
                 (above), which a host of another architecture registers; the kernel's \
                 entry and a run through it were not checked.",
                entry.display(),
                case.docker,
                case.qemu,
                file.display()
            );
        } else {
            skip(
                "assert_binfmt",
                &format!(
                    "{} is not registered, so `docker run --platform {}` cannot reach qemu",
                    entry.display(),
                    case.docker
                ),
                &format!("update-binfmts --enable qemu-{} (.ci/run does)", case.qemu),
            );
        }
        return;
    };
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(field("magic "), case.magic, "{}: magic", entry.display());
    assert_eq!(field("mask "), case.mask, "{}: mask", entry.display());
    assert!(
        text.starts_with("enabled"),
        "{} is registered but disabled: run `update-binfmts --enable qemu-{}` (.ci/run does)",
        entry.display(),
        case.qemu
    );
    let out = Command::new(file).stdin(Stdio::null()).output().unwrap();
    assert_eq!(
        out.stdout,
        message,
        "{} run through binfmt_misc",
        file.display()
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} run through binfmt_misc",
        file.display()
    );
}
