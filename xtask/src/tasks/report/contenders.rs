//! The classic contenders: each is built here from a real tool, from the C
//! sources beside this file or from a Debian package, and goes into its own
//! `FROM scratch` image.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;
use crate::core::cmd;

/// Where the contenders' C and assembly sources live (beside this file).
const SOURCES: &str = "xtask/src/tasks/report";

/// A figure published elsewhere, for comparison.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    /// In bytes, as `docker images` rounds it (powers of 1000).
    pub bytes: u64,
    /// As published.
    pub text: &'static str,
    pub source: &'static str,
}

/// Where the progression's figures come from.
pub const PROGRESSION: &str =
    "the progression quoted in issue 7 (`docker images` figures from blog posts)";
/// Where the i386 assembly figure comes from.
pub const ASM_I386: &str =
    "the hand-written i386 header-overlap file quoted in issue 10 (62 bytes)";
/// Where the x86-64 assembly records come from.
pub const ASM_RECORDS: &str =
    "the x86-64 tiny-ELF records quoted in issue 10 (78 to 81 bytes, mapping about 4 GB)";
pub const HUGHES: &str =
    "Oliver Hughes, \"Honey, I Shrunk the Image!\" (oliverhughes.dev), `docker images` output";

/// A row the report does not build: published figures only.
pub struct Reference {
    pub id: &'static str,
    pub label: &'static str,
    pub how: &'static str,
    pub published: Published,
    /// The base image the report tries to pull (with a short timeout), to show
    /// what happens here; None for a figure no pull could check.
    pub pull: Option<&'static str>,
}

/// Where Docker's `hello-world` size today comes from.
pub const HELLO_WORLD_TODAY: &str = "Docker's hello-world:latest for linux/amd64 (docker-library/repo-info, \
     repos/hello-world/remote/latest.md, March 2026 images), as quoted in issue 10";

pub const REFERENCES: &[Reference] = &[
    Reference {
        id: "ubuntu",
        label: "ubuntu + echo",
        how: "FROM ubuntu, CMD [\"echo\", ...]",
        published: Published {
            bytes: 72_800_000,
            text: "72.8 MB",
            source: HUGHES,
        },
        pull: Some("ubuntu:latest"),
    },
    Reference {
        id: "alpine",
        label: "alpine + echo",
        how: "FROM alpine, CMD [\"echo\", ...]",
        published: Published {
            bytes: 5_610_000,
            text: "5.61 MB",
            source: PROGRESSION,
        },
        pull: Some("alpine:latest"),
    },
    Reference {
        id: "hello-world-2021",
        label: "Docker hello-world, 2021",
        how: "docker images hello-world, as published in 2021",
        published: Published {
            bytes: 13_300,
            text: "13.3 kB",
            source: HUGHES,
        },
        pull: None,
    },
    Reference {
        id: "hello-world-today",
        label: "Docker hello-world, today (linux/amd64)",
        how: "hello-world:latest for linux/amd64, as published",
        published: Published {
            bytes: 10_072,
            text: "10,072 bytes",
            source: HELLO_WORLD_TODAY,
        },
        pull: Some("hello-world:latest"),
    },
];

/// How a classic contender's file is made.
pub enum Recipe {
    /// Compile a C source beside this file. In `args`, `{src}` is the source,
    /// `{out}` the output, `{inc}` the directory holding message.h, `{musl}`
    /// musl's library directory and `{tccinc}` tcc's own headers.
    C {
        cc: &'static str,
        source: &'static str,
        args: &'static [&'static str],
        /// Then `strip -R .comment -s`, as Docker's hello-world Makefile does.
        strip: bool,
    },
    /// Debian busybox-static's /bin/busybox, run as `busybox echo -n MESSAGE`.
    Busybox,
    /// Assemble a NASM source beside this file with `nasm -f bin`: it writes
    /// the whole file, headers included. It includes `message.inc`.
    Nasm { source: &'static str },
}

pub struct Classic {
    pub id: &'static str,
    pub label: &'static str,
    pub recipe: Recipe,
    pub published: Option<Published>,
    /// The Docker platform of its file, where it is not this machine's.
    pub platform: Option<&'static str>,
}

/// The id of the contender every run cost is divided by.
pub const BASELINE: &str = "gcc-nostartfiles";

pub const CLASSICS: &[Classic] = &[
    Classic {
        id: "busybox",
        label: "busybox echo (busybox-static)",
        recipe: Recipe::Busybox,
        published: Some(Published {
            bytes: 1_240_000,
            text: "1.24 MB",
            source: PROGRESSION,
        }),
        platform: None,
    },
    Classic {
        id: "gcc-static",
        label: "gcc -static (glibc)",
        recipe: Recipe::C {
            cc: "gcc",
            source: "hello.c",
            args: &["-static", "-I{inc}", "-o", "{out}", "{src}"],
            strip: false,
        },
        published: Some(Published {
            bytes: 869_000,
            text: "869 kB",
            source: PROGRESSION,
        }),
        platform: None,
    },
    Classic {
        id: "gcc-static-os-s",
        label: "gcc -static -Os -s (glibc)",
        recipe: Recipe::C {
            cc: "gcc",
            source: "hello.c",
            args: &["-static", "-Os", "-s", "-I{inc}", "-o", "{out}", "{src}"],
            strip: false,
        },
        published: Some(Published {
            bytes: 793_000,
            text: "793 kB",
            source: PROGRESSION,
        }),
        platform: None,
    },
    Classic {
        id: "musl-hello-world",
        label: "musl, hello-world's flags",
        recipe: Recipe::C {
            cc: "musl-gcc",
            source: "hello-world.c",
            args: &[
                "-Os",
                "-static",
                "-ffunction-sections",
                "-fdata-sections",
                "-Wl,--gc-sections",
                "-Wl,-z,norelro",
                "-I{inc}",
                "-o",
                "{out}",
                "{src}",
            ],
            strip: true,
        },
        // Docker's published figures have their own rows (REFERENCES).
        published: None,
        platform: None,
    },
    Classic {
        id: BASELINE,
        label: "gcc -nostartfiles (glibc)",
        recipe: Recipe::C {
            cc: "gcc",
            source: "nostartfiles.c",
            args: &[
                "-static",
                "-Os",
                "-nostartfiles",
                "-fno-asynchronous-unwind-tables",
                "-I{inc}",
                "-o",
                "{out}",
                "{src}",
            ],
            strip: true,
        },
        published: Some(Published {
            bytes: 8_900,
            text: "8.9 kB",
            source: PROGRESSION,
        }),
        platform: None,
    },
    Classic {
        id: "tcc",
        label: "tcc (dynamic, its default)",
        recipe: Recipe::C {
            cc: "tcc",
            source: "hello.c",
            args: &["-I{inc}", "-o", "{out}", "{src}"],
            strip: false,
        },
        published: Some(Published {
            bytes: 2_990,
            text: "2.99 kB",
            source: PROGRESSION,
        }),
        platform: None,
    },
    Classic {
        id: "tcc-static-musl",
        label: "tcc -static (musl)",
        // tcc cannot link glibc's libc.a (it stops at a TLS relocation), but
        // it links musl's: its start files and libc.a, named by hand.
        recipe: Recipe::C {
            cc: "tcc",
            source: "hello.c",
            args: &[
                "-static",
                "-nostdlib",
                "-nostdinc",
                "-I{inc}",
                "-I{musl_inc}",
                "-I{tccinc}",
                "-o",
                "{out}",
                "{musl}/crt1.o",
                "{musl}/crti.o",
                "{src}",
                "{musl}/libc.a",
                "{musl}/crtn.o",
            ],
            strip: false,
        },
        published: None,
        platform: None,
    },
    Classic {
        id: "nasm-i386",
        label: "hand-written i386 assembly (nasm)",
        recipe: Recipe::Nasm {
            source: "hello-i386.asm",
        },
        published: Some(Published {
            bytes: 62,
            text: "62 bytes",
            source: ASM_I386,
        }),
        platform: Some("linux/386"),
    },
    Classic {
        id: "nasm-x86_64",
        label: "hand-written x86-64 assembly (nasm)",
        recipe: Recipe::Nasm {
            source: "hello-x86_64.asm",
        },
        published: Some(Published {
            bytes: 81,
            text: "78 to 81 bytes",
            source: ASM_RECORDS,
        }),
        platform: Some("linux/amd64"),
    },
    Classic {
        id: BELOW_MIN_ADDR,
        label: "control: x86-64 loading at 0x1000 (nasm)",
        recipe: Recipe::Nasm {
            source: "below-min-addr.asm",
        },
        published: None,
        platform: Some("linux/amd64"),
    },
];

/// The control for check 5: a plain file that loads below 65536, which check
/// 5 must fail (below-min-addr.asm says why the other checks pass it).
pub const BELOW_MIN_ADDR: &str = "below-min-addr";

/// A contender's file, built, and how its image runs it.
pub struct BuiltFile {
    pub path: PathBuf,
    /// The file's name inside the image.
    pub name: &'static str,
    /// Arguments after the program, in the image and natively.
    pub args: Vec<String>,
    /// The command lines that made it.
    pub how: String,
}

/// Debian busybox-static's file.
pub const BUSYBOX: &str = "/bin/busybox";

/// NASM's `message.inc`: `MESSAGE_LEN equ N` and `%define MESSAGE db ...`, byte for byte.
pub fn message_inc(message: &[u8]) -> String {
    let bytes: Vec<String> = message.iter().map(|b| b.to_string()).collect();
    format!(
        "; Written by cargo xtask report: the message, byte for byte.\nMESSAGE_LEN equ {}\n%define MESSAGE db {}\n",
        message.len(),
        bytes.join(",")
    )
}

/// `#define MESSAGE "..."`, every byte as an octal escape, so any message is a valid C string.
pub fn message_header(message: &[u8]) -> String {
    let mut s = String::from(
        "/* Written by cargo xtask report: the message, byte for byte. */\n#define MESSAGE \"",
    );
    for b in message {
        s.push_str(&format!("\\{b:03o}"));
    }
    s.push_str("\"\n");
    s
}

fn expand(arg: &str, vars: &[(&str, String)]) -> String {
    vars.iter().fold(arg.to_string(), |a, (k, v)| {
        a.replace(&format!("{{{k}}}"), v)
    })
}

/// Builds `c` into `dir`; `inc` holds message.h.
pub fn build(c: &Classic, dir: &Path, inc: &Path, message: &[u8]) -> Result<BuiltFile, Error> {
    let io = |e: std::io::Error| Error::fail(format!("{}: {e}", dir.display()));
    fs::create_dir_all(dir).map_err(io)?;
    match &c.recipe {
        Recipe::Busybox => {
            let bytes = fs::read(BUSYBOX).map_err(|e| {
                Error::fail(format!(
                    "read {BUSYBOX}: {e}: apt-get install busybox-static"
                ))
            })?;
            let path = dir.join("busybox");
            crate::core::files::write_program(&bytes, &path)?;
            Ok(BuiltFile {
                path,
                name: "busybox",
                args: vec![
                    "echo".into(),
                    "-n".into(),
                    String::from_utf8_lossy(message).into_owned(),
                ],
                how: format!(
                    "cp {BUSYBOX} (Debian busybox-static); ENTRYPOINT [\"/busybox\", \"echo\", \"-n\", MESSAGE]"
                ),
            })
        }
        Recipe::Nasm { source } => {
            let src = crate::root().join(SOURCES).join(source);
            let out = dir.join("hello");
            // -I takes a prefix: the directory with its slash.
            let mut asm = Command::new("nasm");
            asm.args(["-f", "bin"])
                .arg(format!("-I{}/", inc.display()))
                .arg("-o")
                .arg(&out)
                .arg(&src);
            let root = format!("{}/", crate::root().display());
            let how = cmd::line(&asm).replace(&root, "");
            cmd::run(&mut asm)?;
            let bytes = fs::read(&out).map_err(io)?;
            crate::core::files::write_program(&bytes, &out)?;
            Ok(BuiltFile {
                path: out,
                name: "hello",
                args: Vec::new(),
                how,
            })
        }
        Recipe::C {
            cc,
            source,
            args,
            strip,
        } => {
            let src = crate::root().join(SOURCES).join(source);
            let out = dir.join("hello");
            let arch = std::env::consts::ARCH;
            let vars = [
                ("src", src.display().to_string()),
                ("out", out.display().to_string()),
                ("inc", inc.display().to_string()),
                ("musl", format!("/usr/lib/{arch}-linux-musl")),
                ("musl_inc", format!("/usr/include/{arch}-linux-musl")),
                ("tccinc", format!("/usr/lib/{arch}-linux-gnu/tcc/include")),
            ];
            let mut compile = Command::new(cc);
            compile.args(args.iter().map(|a| expand(a, &vars)));
            let mut how = cmd::line(&compile);
            cmd::run(&mut compile)?;
            if *strip {
                let mut s = Command::new("strip");
                s.args(["-R", ".comment", "-s"]).arg(&out);
                how.push_str(&format!("; {}", cmd::line(&s)));
                cmd::run(&mut s)?;
            }
            // The fixed mode and mtime, as for our file, so layers compare like with like.
            let bytes = fs::read(&out).map_err(io)?;
            crate::core::files::write_program(&bytes, &out)?;
            let root = format!("{}/", crate::root().display());
            Ok(BuiltFile {
                path: out,
                name: "hello",
                args: Vec::new(),
                how: how.replace(&root, ""),
            })
        }
    }
}

/// The `Dockerfile` of a contender's image: its one file, as nobody, like ours.
pub fn dockerfile(file: &BuiltFile) -> String {
    let mut entry = vec![format!("/{}", file.name)];
    entry.extend(file.args.iter().cloned());
    format!(
        "# Written by cargo xtask report.\nFROM scratch\nCOPY {name} /{name}\nUSER 65534:65534\nENTRYPOINT {}\n",
        serde_json::to_string(&entry).expect("strings serialise"),
        name = file.name
    )
}

/// The ELF program interpreter (PT_INTERP) of a 64-bit little-endian file, if it has one.
pub fn interpreter(bytes: &[u8]) -> Option<String> {
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
        return None;
    }
    let r = crate::elf::Reader {
        bytes,
        big_endian: false,
    };
    let phoff = r.uint(0x20, 8)?;
    let phentsize = r.uint(0x36, 2)?;
    let phnum = r.uint(0x38, 2)?;
    (0..phnum).find_map(|i| {
        let ph = phoff + i * phentsize;
        const PT_INTERP: u64 = 3;
        if r.uint(ph, 4)? != PT_INTERP {
            return None;
        }
        let off = usize::try_from(r.uint(ph + 8, 8)?).ok()?;
        let len = usize::try_from(r.uint(ph + 0x20, 8)?).ok()?;
        let s = bytes.get(off..off.checked_add(len)?)?;
        Some(
            String::from_utf8_lossy(s)
                .trim_end_matches('\0')
                .to_string(),
        )
    })
}

/// The 0-byte "image": nothing copied in, only a command naming a file that a
/// host volume must supply at run time.
pub const CHEAT_DOCKERFILE: &str =
    "# Written by cargo xtask report.\nFROM scratch\nCMD [\"dir/hello\"]\n";
