//! `cargo xtask dist`: build `hello`, flatten it into the final file, check it,
//! write it, run it, and build and run the image when a Docker engine answers.
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::platform::{Layout, NOT_BUILT, PLATFORMS, Platform, Program};
use crate::{Error, cmd, docker, elf, tools};

pub const DEFAULT_MESSAGE: &[u8] = b"Hello World\n";
pub const MAX_MESSAGE: usize = 65_536;
pub const DEFAULT_TAG: &str = "hello:latest";
/// The quine's size budget in bytes, on every platform (issue 12); its linker
/// scripts assert the same (QUINE_MAX_FILE).
pub const QUINE_MAX: u64 = 2048;

const HELP: &str = "\
cargo xtask dist [options]

Builds hello, writes target/dist/<os>-<arch>[-<variant>]/hello (and, for this
machine's platform, target/dist/hello), runs it (under qemu-user for other
architectures), and, when a Docker engine answers, builds and runs the image
hello:<os>-<arch>[-<variant>] (and hello:latest for this machine's platform).
Then writes target/dist/oci and target/dist/hello-image.tar from the files
this run built, without Docker (cargo xtask image --help).

With --program quine: builds target/dist/<os>-<arch>/quine (linux/amd64 and
linux/arm64; --platform all means those two), checks that what it prints is
byte for byte the docker load archive the image code writes from it, writes
that archive to target/dist/<os>-<arch>/quine-image.tar (and, for this
machine, target/dist/quine and target/dist/quine-image.tar) and the OCI
layout target/dist/quine-oci, and, with an engine, loads hello:quine and
checks that it prints the archive again.

Options:
  --program NAME         hello (default), quine or serve: which program of the
                         hello crate to build (hello/src/main.rs, hello/src/bin/)
  --platform P|all       a Docker platform (linux/arm64, linux/arm/v7, ...) or
                         all of them; default: this machine's
  --layout compat|tiny   compat (default): runs under the Linux kernel and
                         under qemu-user through binfmt_misc, as Docker runs
                         a foreign image; every image and archive uses it.
                         tiny: the kernel-only record, smaller on amd64 and
                         386, where qemu-user refuses it (on the other
                         platforms it is the compat file)
  --message TEXT         the message, byte for byte (no newline is added)
  --message-file PATH    the message: the file's bytes, whatever they are
  --tag NAME[:TAG]       the image's name (default hello:latest and
                         hello:<os>-<arch>[-<variant>]; for serve, hello:serve
                         and hello:serve-<os>-<arch>); one platform only

For --program serve (linux/amd64 and linux/arm64):
  --page-file PATH       the page it serves, 1 byte to 1 MiB (default: a small
                         HTML Hello World); its type comes from the extension
  --content-type TYPE    the page's Content-Type, whatever the extension
  --port N               the TCP port it listens on, 1-65535 (default 8080)
  --no-docker            skip docker build and run even if an engine answers
  --require-run          exit 1 when a file or image could not be run here
                         (no qemu-user, no binfmt_misc entry, no Docker
                         engine); without it dist builds everything, says in
                         one line what it did not run and how to fix that,
                         and exits 0
  -h, --help             print this help
";

/// What `dist` was asked to do.
#[derive(Debug)]
pub struct Options {
    pub program: Program,
    pub platforms: Vec<&'static Platform>,
    pub layout: Layout,
    pub message: Vec<u8>,
    /// `--tag`, if given: replaces the default tags.
    pub tag: Option<String>,
    pub docker: bool,
    /// `--require-run`: a run that cannot be made here is a failure.
    pub require_run: bool,
    /// `serve`'s page, type and port (the defaults for other programs).
    pub serve: crate::serve::Config,
    /// `--platform all`: for a program built for fewer platforms than hello,
    /// the ones it is built for.
    pub all_platforms: bool,
}

/// Parses the options; every problem is a usage error (status 2) that names the fix.
pub fn parse(args: Vec<OsString>) -> Result<Option<Options>, Error> {
    let mut program = Program::Hello;
    let mut layout = Layout::DEFAULT;
    let mut message: Option<Vec<u8>> = None;
    let mut message_file: Option<PathBuf> = None;
    let mut tag = None;
    let mut docker = true;
    let mut require_run = false;
    let mut platforms = None;
    let mut page_file: Option<PathBuf> = None;
    let mut content_type: Option<String> = None;
    let mut port: Option<OsString> = None;
    let mut layout_given = false;
    let mut message_given = false;
    // Options that mean nothing for the quine, which refuses them.
    let mut hello_only: Option<String> = None;
    let mut all_platforms = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        // `--name=value` or `--name value`; values are raw bytes (a message need not be UTF-8).
        let raw = arg.as_bytes();
        let (name, inline) = match raw.iter().position(|&b| b == b'=') {
            Some(i) if raw.starts_with(b"--") => (
                String::from_utf8_lossy(&raw[..i]).into_owned(),
                Some(OsString::from(std::ffi::OsStr::from_bytes(&raw[i + 1..]))),
            ),
            _ => (arg.to_string_lossy().into_owned(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| Error::usage(format!("{name} needs a value: {name} {what}")))
        };
        if matches!(
            name.as_str(),
            "--layout" | "--message" | "--message-file" | "--tag"
        ) {
            hello_only = Some(name.clone());
        }
        match name.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(None);
            }
            "--program" => {
                let v = value("hello|quine|serve")?;
                let v = v.to_string_lossy();
                program = Program::parse(&v).ok_or_else(|| {
                    Error::usage(format!(
                        "unknown program `{v}`: use --program hello, quine or serve"
                    ))
                })?;
            }
            "--layout" => {
                layout_given = true;
                let v = value("tiny|compat")?;
                let v = v.to_string_lossy();
                layout = Layout::parse(&v).ok_or_else(|| {
                    Error::usage(format!(
                        "unknown layout `{v}`: use --layout tiny or --layout compat"
                    ))
                })?;
            }
            "--platform" => {
                let v = value("P|all")?;
                let v = v.to_string_lossy();
                let names = || {
                    PLATFORMS
                        .iter()
                        .map(|p| p.docker)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                all_platforms = v == "all";
                platforms = Some(if all_platforms {
                    PLATFORMS.iter().collect()
                } else {
                    vec![Platform::find(&v).ok_or_else(|| {
                        match NOT_BUILT.iter().find(|(p, _)| *p == v) {
                            Some((p, why)) => Error::usage(format!("{p} is not built: {why}")),
                            None => Error::usage(format!(
                                "unknown platform `{v}`: use --platform all or one of {}",
                                names()
                            )),
                        }
                    })?]
                });
            }
            "--message" => {
                message_given = true;
                message = Some(value("TEXT")?.as_bytes().to_vec())
            }
            "--message-file" => {
                message_given = true;
                message_file = Some(value("PATH")?.into())
            }
            "--page-file" => page_file = Some(value("PATH")?.into()),
            "--content-type" => content_type = Some(value("TYPE")?.to_string_lossy().into()),
            "--port" => port = Some(value("N")?),
            "--tag" => {
                let v = value("NAME[:TAG]")?;
                let t = v.to_str().map(str::to_string).unwrap_or_default();
                check_tag(&t).map_err(|why| {
                    Error::usage(format!(
                        "invalid --tag {:?}: {why}; use a Docker reference like hello:latest or localhost:5000/hello:v1",
                        v.to_string_lossy()
                    ))
                })?;
                tag = Some(t);
            }
            "--no-docker" => docker = false,
            "--require-run" => require_run = true,
            _ => {
                return Err(Error::usage(format!(
                    "unknown option `{}`: run `cargo xtask dist --help` for the options",
                    arg.to_string_lossy()
                )));
            }
        }
    }
    let serve_option = page_file.is_some() || content_type.is_some() || port.is_some();
    if program != Program::Serve && serve_option {
        return Err(Error::usage(format!(
            "--page-file, --content-type and --port are options of --program serve, not {}: add --program serve",
            program.name()
        )));
    }
    if program == Program::Serve && (message_given || layout_given) {
        return Err(Error::usage(
            "--message, --message-file and --layout are options of hello; serve takes --page-file, --content-type and --port",
        ));
    }
    let serve = crate::serve::config(page_file, content_type, port)?;
    if let (Program::Quine, Some(option)) = (program, &hello_only) {
        return Err(Error::usage(format!(
            "{option} is for --program hello: the quine prints its own image, tagged {}, \
             and has one layout",
            crate::image::QUINE_TAG
        )));
    }
    let message = match (message, message_file) {
        (Some(_), Some(_)) => {
            return Err(Error::usage(
                "--message and --message-file were both given: give one of them",
            ));
        }
        (Some(m), None) => m,
        (None, Some(path)) => fs::read(&path).map_err(|e| {
            Error::usage(format!(
                "cannot read --message-file {}: {e}; give a readable file",
                path.display()
            ))
        })?,
        (None, None) => DEFAULT_MESSAGE.to_vec(),
    };
    if message.is_empty() {
        return Err(Error::usage("the message is empty: give at least one byte"));
    }
    if message.len() > MAX_MESSAGE {
        return Err(Error::usage(format!(
            "the message has {} bytes, more than the {MAX_MESSAGE} allowed: shorten it",
            message.len()
        )));
    }
    let platforms = match platforms {
        Some(p) => p,
        None => vec![Platform::host().ok_or_else(|| {
            Error::usage(format!(
                "this machine's architecture ({}) is not one dist builds for: give --platform P or --platform all",
                std::env::consts::ARCH
            ))
        })?],
    };
    for p in &platforms {
        if let Some(max) = p.max_message.filter(|&max| message.len() > max) {
            return Err(Error::usage(format!(
                "the message has {} bytes, but {} takes at most {max} (its Thumb code has no \
                 instruction for a longer length on that CPU): shorten it, or leave {} out",
                message.len(),
                p.docker,
                p.docker
            )));
        }
    }
    if program == Program::Serve {
        crate::serve::check_platforms(&platforms)?;
    }
    if tag.is_some() && platforms.len() > 1 {
        return Err(Error::usage(
            "--tag names one image, but --platform all builds one per platform (tagged hello:<os>-<arch>[-<variant>]): drop --tag or give one --platform",
        ));
    }
    Ok(Some(Options {
        program,
        platforms,
        layout,
        message,
        tag,
        docker,
        require_run,
        serve,
        all_platforms,
    }))
}

/// A Docker image reference without digest: `[host[:port]/]path[:tag]`, as the
/// reference grammar of the distribution spec has it.
pub fn check_tag(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let (name, tag) = match s.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (s, None),
    };
    if let Some(t) = tag {
        let ok_start = t
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_start
            || t.len() > 128
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(format!(
                "the tag `{t}` must be 1-128 of [A-Za-z0-9_.-], not starting with . or -"
            ));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = host.split_once(':').unwrap_or((host, "0"));
        if h.is_empty()
            || !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
            || port.parse::<u16>().is_err()
        {
            return Err(format!("the registry host `{host}` is not a host[:port]"));
        }
    }
    for p in parts {
        let ok = !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && p.starts_with(|c: char| c.is_ascii_alphanumeric())
            && p.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "the name component `{p}` must be lowercase letters and digits, with . _ or - between them"
            ));
        }
    }
    Ok(())
}

pub fn main(args: Vec<OsString>) -> Result<(), Error> {
    let Some(mut opts) = parse(args)? else {
        return Ok(());
    };
    if opts.program == Program::Quine {
        let root = crate::root();
        let has_script = |p: &Platform| root.join(format!("linker/quine-{}.ld", p.arch())).exists();
        if opts.all_platforms {
            opts.platforms.retain(|p| has_script(p));
        }
        for p in &opts.platforms {
            let script = format!("linker/quine-{}.ld", p.arch());
            if !root.join(&script).exists() {
                return Err(Error::usage(format!(
                    "--program quine is not built for {}: there is no {script} \
                     (it is built for linux/amd64 and linux/arm64); give one of those to --platform",
                    p.docker
                )));
            }
        }
    }
    tools::ensure_binutils()?;
    let mut skipped = Vec::new();
    let engine = if opts.docker {
        match docker::engine() {
            Ok(v) => Some(v),
            Err(why) => {
                println!("note: no Docker engine answers ({why}); skipped docker build and run.");
                println!(
                    "note: {}, then run cargo xtask dist again.",
                    docker::START_HINT
                );
                skipped.push(format!("docker build and run: no Docker engine ({why})"));
                None
            }
        }
    } else {
        None
    };
    if opts.program == Program::Serve {
        return crate::serve::dist(&opts, engine.as_deref());
    }
    if opts.program == Program::Quine {
        return quine(&opts, engine.as_deref());
    }
    for &platform in &opts.platforms {
        one(platform, &opts, engine.as_deref(), &mut skipped)?;
    }
    // The OCI layout and the `docker load` archive, from the files just written.
    let built_now: Vec<_> = opts
        .platforms
        .iter()
        .map(|&p| (p, crate::root().join(dist_path(p))))
        .collect();
    crate::image::write(&built_now, opts.tag.as_deref().unwrap_or(DEFAULT_TAG))?;
    if opts.require_run && !skipped.is_empty() {
        return Err(Error::fail(format!(
            "--require-run: {} run(s) could not be made here (see the `not run` lines above): {}",
            skipped.len(),
            skipped.join("; ")
        )));
    }
    Ok(())
}

/// A run that cannot be made here: says so in one line (what, why, the
/// command that fixes it) and records it for --require-run.
fn not_run(skipped: &mut Vec<String>, what: &str, why: &str, fix: &str) {
    println!("not run: {what}: {why}; to run it: {fix}");
    skipped.push(format!("{what}: {why}"));
}

/// `dist --program quine`: builds each platform's quine, checks that what it
/// prints is byte for byte the archive the image code writes from the file,
/// writes the archives and the OCI layout, and, with an engine, loads the
/// host's archive as hello:quine and checks that the image prints it again.
fn quine(opts: &Options, engine: Option<&str>) -> Result<(), Error> {
    let root = crate::root();
    let host = Platform::host().map(|p| p.docker);
    let mut quines = Vec::new();
    for &platform in &opts.platforms {
        let built = build(platform, Program::Quine, Layout::Compat, DEFAULT_MESSAGE)?;
        let file = root.join(program_path(Program::Quine, platform));
        write_file(&built.bytes, &file)?;
        let is_host = host == Some(platform.docker);
        let out = if is_host {
            let out = root.join("target/dist/quine");
            write_file(&built.bytes, &out)?;
            out
        } else {
            file.clone()
        };
        let q = crate::image::quine(platform, &built.bytes)?;
        // Where the bytes go, from the linker script's symbols.
        let symbol = |name| crate::explain::symbol(&built.elf, name);
        let base = built.header.load_address();
        let headers = symbol("__quine_constants")? - base;
        let constants = symbol("__quine_code")? - base - headers;
        let size = built.bytes.len() as u64;
        println!(
            "quine {}: {size} bytes = ELF headers {headers} + constants {constants} + code {}; \
             prints {} bytes; budget {QUINE_MAX} -> {}",
            platform.docker,
            size - headers - constants,
            q.archive.len(),
            out.strip_prefix(&root).unwrap_or(&out).display()
        );
        match run_command(platform, &file) {
            Ok(mut run) => {
                eprintln!("$ {}", cmd::line(&run));
                let printed = run.output().map_err(|e| {
                    Error::fail(format!("could not run `{}`: {e}", cmd::line(&run)))
                })?;
                check_quine_output(&cmd::line(&run), &printed.stdout, &q.archive)?;
                if !printed.status.success() {
                    return Err(Error::fail(format!(
                        "`{}` printed the archive but exited with {}",
                        cmd::line(&run),
                        printed.status
                    )));
                }
                println!(
                    "{} printed the {}-byte archive the image code writes, byte for byte",
                    cmd::line(&run),
                    q.archive.len()
                );
            }
            Err(why) if opts.require_run => return Err(qemu_missing(why)),
            Err(why) => say_not_run(&file, &why),
        }
        quines.push(q);
    }
    let host_quine = quines
        .iter()
        .find(|q| Some(q.image.platform.docker) == host)
        .map(|q| (q.archive.clone(), q.image.config.digest.clone()));
    crate::image::write_quine(quines)?;

    let Some(version) = engine else {
        return Ok(());
    };
    let Some((archive, id)) = host_quine else {
        println!(
            "note: not loaded into Docker: this run did not build this machine's platform ({})",
            host.unwrap_or(std::env::consts::ARCH)
        );
        return Ok(());
    };
    let tag = crate::image::QUINE_TAG;
    println!(
        "Docker engine {version}: loading {}",
        crate::image::QUINE_ARCHIVE
    );
    let loaded = cmd::stdout(Command::new("docker").current_dir(&root).args([
        "load",
        "-i",
        crate::image::QUINE_ARCHIVE,
    ]))?;
    let loaded = String::from_utf8_lossy(&loaded);
    if !loaded.contains(&format!("Loaded image: {tag}")) {
        return Err(Error::fail(format!(
            "docker load printed {loaded:?}, not `Loaded image: {tag}`"
        )));
    }
    let got =
        cmd::stdout(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", tag]))?;
    let got = String::from_utf8_lossy(&got).trim().to_string();
    if got != id {
        return Err(Error::fail(format!(
            "docker gave {tag} the image ID {got}, not sha256(config) = {id}"
        )));
    }
    let platform = host.expect("the host quine was built");
    let out = docker::run(platform, tag)?;
    check_quine_output(&format!("docker run {tag}"), &out, &archive)?;
    println!("image {tag}: ID {id}; docker run {tag} printed the archive it was loaded from");
    Ok(())
}

/// Fails unless `printed` is `archive`, naming the first byte that differs.
fn check_quine_output(what: &str, printed: &[u8], archive: &[u8]) -> Result<(), Error> {
    if printed == archive {
        return Ok(());
    }
    let at = printed
        .iter()
        .zip(archive)
        .position(|(a, b)| a != b)
        .unwrap_or(printed.len().min(archive.len()));
    Err(Error::fail(format!(
        "`{what}` printed {} bytes that differ from the {}-byte archive xtask/src/image.rs \
         writes (quine) at offset {at} (block {}, byte {}): the program and the image code \
         disagree; compare hello/src/bin/quine.rs with image::quine",
        printed.len(),
        archive.len(),
        at / 512,
        at % 512
    )))
}

/// The `hello` file's path inside the build context, for `platform`.
pub fn dist_path(platform: &Platform) -> PathBuf {
    program_path(Program::Hello, platform)
}

/// A program's file inside the build context: target/dist/<os>-<arch>[-<variant>]/<program>.
pub fn program_path(program: Program, platform: &Platform) -> PathBuf {
    PathBuf::from("target/dist")
        .join(platform.dir_name())
        .join(program.name())
}

/// Builds, writes, runs, and (with an engine) packages one platform's file.
fn one(
    platform: &'static Platform,
    opts: &Options,
    engine: Option<&str>,
    skipped: &mut Vec<String>,
) -> Result<(), Error> {
    let built = build(platform, Program::Hello, opts.layout, &opts.message)?;
    let root = crate::root();
    let file = root.join(dist_path(platform));
    write_file(&built.bytes, &file)?;
    let is_host = Platform::host().is_some_and(|h| h.docker == platform.docker);
    let out = if is_host {
        let out = root.join("target/dist/hello");
        write_file(&built.bytes, &out)?;
        out
    } else {
        file.clone()
    };
    println!(
        "hello {} {}: {} bytes (budget {}), loads at {:#x}, maps {} bytes -> {}",
        platform.docker,
        opts.layout.name(),
        built.bytes.len(),
        built
            .budget
            .map_or("none for this message".into(), |b| b.to_string()),
        built.header.load_address(),
        built.header.mapped_bytes(),
        out.strip_prefix(&root).unwrap_or(&out).display()
    );
    // The linker's output, before flattening: it keeps the symbols.
    println!(
        "  linked ELF (symbols for rust-nm, code for rust-objdump): {}",
        built.elf.display()
    );
    match run_command(platform, &file) {
        Ok(mut run) => run_file(&mut run, &file, &opts.message)?,
        Err(why) => not_run(
            skipped,
            &format!(
                "{} under qemu-user (the file is built)",
                file.strip_prefix(&root).unwrap_or(&file).display()
            ),
            &why,
            "apt-get install -y qemu-user-static",
        ),
    }
    if let Some(version) = engine {
        let tags = match &opts.tag {
            Some(t) => vec![t.clone()],
            None if is_host => vec![DEFAULT_TAG.to_string(), platform_tag(platform)],
            None => vec![platform_tag(platform)],
        };
        println!("Docker engine {version}: building {}", tags.join(", "));
        image(platform, &tags, &opts.message, &built.bytes, skipped)?;
    }
    Ok(())
}

/// `hello:linux-arm-v7`: the image tag for one platform.
pub fn platform_tag(platform: &Platform) -> String {
    format!("hello:{}", platform.dir_name())
}

/// The final file, checked.
pub struct Built {
    pub bytes: Vec<u8>,
    pub header: elf::Header,
    /// The linked ELF file the bytes came from (for symbols and disassembly).
    pub elf: PathBuf,
    pub message_len: u64,
    /// The size budget that applied, if the message is the default one.
    pub budget: Option<u64>,
}

/// Builds `program` for `platform` with `layout` and `message` (both used by
/// `hello` alone), and flattens it.
pub fn build(
    platform: &Platform,
    program: Program,
    layout: Layout,
    message: &[u8],
) -> Result<Built, Error> {
    build_with(platform, program, layout, message, &[], &[])
}

/// [`build`], with more environment for hello/build.rs (`serve`'s page, type
/// and port) and more codegen flags for this one program.
pub fn build_with(
    platform: &Platform,
    program: Program,
    layout: Layout,
    message: &[u8],
    env: &[(&str, std::ffi::OsString)],
    rustflags: &[&str],
) -> Result<Built, Error> {
    tools::ensure_target(platform.triple)?;
    let root = crate::root();
    let message_file = root.join("target/xtask/message.bin");
    write_if_changed(&message_file, message)?;

    let mut cargo = Command::new(crate::cargo());
    cargo
        .current_dir(&root)
        .env("HELLO_LAYOUT", layout.name())
        .env("HELLO_MESSAGE_FILE", &message_file)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .args([
            "rustc",
            "--quiet",
            "--package",
            "hello",
            "--bin",
            program.name(),
            "--release",
            "--target",
        ])
        .arg(platform.triple)
        .args(["--message-format=json-render-diagnostics", "--"])
        // Link with rust-lld directly: no C toolchain or C runtime is involved, and
        // one linker serves every platform.
        .args(["-C", "linker=rust-lld", "-C", "linker-flavor=ld.lld"])
        // Absolute addresses: the message's address loads as one immediate.
        .args(["-C", "relocation-model=static"])
        // What this platform needs besides (see platform.rs), then this program.
        .args(platform.rustflags)
        .args(rustflags)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let json = cmd::stdout(&mut cargo)?;
    let elf_path = artifact(&json, program)?;

    let flat = root.join("target/xtask").join(format!(
        "{}-{}-{}.bin",
        program.name(),
        platform.dir_name(),
        layout.name()
    ));
    cmd::run(
        Command::new("rust-objcopy")
            .args(["-O", "binary", "--only-section=.image"])
            .arg(&elf_path)
            .arg(&flat),
    )?;
    let mut bytes =
        fs::read(&flat).map_err(|e| Error::fail(format!("read {}: {e}", flat.display())))?;
    if program == Program::Serve {
        // serve's scripts end the segment at the end of the file, and its
        // budget is its own (checked by its dist code).
        let header = elf::check(&bytes, platform).map_err(Error::fail)?;
        return Ok(Built {
            bytes,
            header,
            elf: elf_path,
            message_len: message.len() as u64,
            budget: None,
        });
    }

    // The segment ends before the trap rustc puts after the noreturn exit; the
    // linker script says so in p_filesz. Ship the segment, after checking that
    // what is left out is that trap and nothing else.
    let header = elf::parse(&bytes, platform).map_err(Error::fail)?;
    let end = usize::try_from(header.segment_end()).unwrap_or(usize::MAX);
    if end > bytes.len() || &bytes[end..] != platform.trap {
        return Err(Error::fail(format!(
            "{}: the linked image has {} bytes and its segment ends at {end}; expected exactly the trap {:02x?} after it. \
             Check the linker script for {} {} (hello/build.rs says which) and that _start ends with the exit system call",
            elf_path.display(),
            bytes.len(),
            platform.trap,
            platform.arch(),
            layout.name()
        )));
    }
    bytes.truncate(end);
    let header = elf::check(&bytes, platform).map_err(Error::fail)?;

    let budget = match program {
        Program::Quine => Some(QUINE_MAX),
        _ => (message == DEFAULT_MESSAGE).then(|| platform.budget(layout)),
    };
    if let Some(b) = budget {
        if bytes.len() as u64 > b {
            return Err(Error::fail(format!(
                "{} {}: {} bytes, over the budget of {b}: see `rust-objdump -d {}` for what grew",
                platform.docker,
                layout.name(),
                bytes.len(),
                elf_path.display()
            )));
        }
        if header.mapped_bytes() > elf::PAGE {
            return Err(Error::fail(format!(
                "the segment maps {} bytes; with the default message it must fit one page",
                header.mapped_bytes()
            )));
        }
    }
    Ok(Built {
        bytes,
        header,
        elf: elf_path,
        message_len: message.len() as u64,
        budget,
    })
}

/// The linked executable's path, from cargo's JSON messages.
fn artifact(json: &[u8], program: Program) -> Result<PathBuf, Error> {
    for line in json.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == program.name()
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(PathBuf::from(exe));
        }
    }
    Err(Error::fail(format!(
        "cargo built {0} but reported no executable for it",
        program.name()
    )))
}

pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    let io = |e: std::io::Error| Error::fail(format!("write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    fs::write(path, bytes).map_err(io)
}

/// The mtime every output gets: `SOURCE_DATE_EPOCH`, else 0, so that layers and
/// archives built from the file are the same on every machine.
pub fn mtime() -> Result<SystemTime, Error> {
    let secs = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse::<u64>().map_err(|_| {
            Error::usage(format!(
                "SOURCE_DATE_EPOCH={s:?} is not a number of seconds: unset it or fix it"
            ))
        })?,
        Err(_) => 0,
    };
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Writes `bytes` to `path` with mode 0755 and the fixed mtime, atomically: a
/// failure leaves the previous file as it was.
pub fn write_file(bytes: &[u8], path: &Path) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::fail(format!("write {}: {e}", path.display()));
    let dir = path.parent().expect("an output path has a directory");
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(".hello.tmp");
    {
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.set_permissions(fs::Permissions::from_mode(0o755))
            .map_err(io)?;
        f.set_modified(mtime()?).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, path).map_err(io)
}

/// Prints what a run printed, as bytes.
fn show(label: &str, out: &[u8]) {
    println!("{label}:");
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out);
    if !out.ends_with(b"\n") {
        let _ = writeln!(stdout, "\n(no newline at the end)");
    }
    let _ = stdout.flush();
}

/// The command that runs `file` here: itself, or under qemu-user; or why it
/// cannot run here (no qemu-user for it).
pub fn run_command(platform: &Platform, file: &Path) -> Result<Command, String> {
    if platform.runs_natively() {
        return Ok(Command::new(file));
    }
    let qemu = platform.qemu_program()?;
    let mut cmd = Command::new(qemu);
    if let Some(cpu) = platform.qemu_cpu {
        cmd.args(["-cpu", cpu]);
    }
    cmd.arg(file);
    Ok(cmd)
}

/// The one `not run:` line for a file that has no qemu-user here (quine and
/// serve; hello's goes through `not_run`, which also counts it).
pub fn say_not_run(file: &Path, why: &str) {
    let root = crate::root();
    println!(
        "not run: {} under qemu-user (the file is built): {why}; to run it: apt-get install -y qemu-user-static",
        file.strip_prefix(&root).unwrap_or(file).display()
    );
}

/// `run_command`'s answer as an error, with --require-run.
pub fn qemu_missing(why: String) -> Error {
    Error::fail(format!(
        "{why}: install it with `apt-get install -y qemu-user-static`"
    ))
}

fn run_file(run: &mut Command, file: &Path, message: &[u8]) -> Result<(), Error> {
    eprintln!("$ {}", cmd::line(run));
    let out = run
        .output()
        .map_err(|e| Error::fail(format!("could not run `{}`: {e}", cmd::line(run))))?;
    show(&format!("{} printed", file.display()), &out.stdout);
    if out.stdout != message || !out.status.success() {
        return Err(Error::fail(format!(
            "`{}` printed {} bytes and exited with {}; expected the {}-byte message and status 0",
            cmd::line(run),
            out.stdout.len(),
            out.status,
            message.len()
        )));
    }
    Ok(())
}

fn image(
    platform: &Platform,
    tags: &[String],
    message: &[u8],
    file: &[u8],
    skipped: &mut Vec<String>,
) -> Result<(), Error> {
    let file_size = file.len() as u64;
    docker::build(&crate::root(), platform.docker, &dist_path(platform), tags)?;
    // A foreign file runs in a container only through a binfmt_misc entry the
    // kernel holds: without one, Docker's answer would be a bare
    // `exec /hello: exec format error`.
    if !platform.runs_natively() {
        match crate::binfmt::for_container(file) {
            Ok(entry) => println!(
                "{}: runs through binfmt_misc entry {} ({})",
                platform.docker, entry.name, entry.interpreter
            ),
            Err(why) => {
                for tag in tags {
                    let size = docker::image_size(tag)?;
                    println!(
                        "image {tag}: {size} bytes (docker image inspect), file {file_size} bytes"
                    );
                    not_run(
                        skipped,
                        &format!(
                            "docker run --platform {} {tag} (the image is built)",
                            platform.docker
                        ),
                        &why,
                        &crate::binfmt::fix(platform.qemu),
                    );
                }
                return Ok(());
            }
        }
    }
    for tag in tags {
        let out = docker::run(platform.docker, tag)?;
        show(&format!("docker run {tag} printed"), &out);
        if out != message {
            return Err(Error::fail(format!(
                "docker run {tag} printed {} bytes, not the {}-byte message",
                out.len(),
                message.len()
            )));
        }
        let size = docker::image_size(tag)?;
        println!("image {tag}: {size} bytes (docker image inspect), file {file_size} bytes");
    }
    Ok(())
}
