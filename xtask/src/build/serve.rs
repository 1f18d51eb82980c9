//! `serve`: the page, type and port it bakes in, checked before anything is
//! built; its budget; its build; and its image's Dockerfile.
use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use crate::Error;
use crate::build::site::{Site, bake, content_type_for};
use crate::build::{self, Built, Link};
use crate::core::platform::{Layout, Platform, Program};
use crate::elf;
use crate::oci;

/// The page `serve` serves when none is given (hello/build.rs has the same bytes).
pub const DEFAULT_PAGE: &[u8] = b"<!DOCTYPE html><title>Hello World</title><h1>Hello World</h1>\n";
/// Its type: every text type says its charset, the default page's too
/// (hello/build.rs has the same value).
pub const DEFAULT_CONTENT_TYPE: &str = "text/html; charset=utf-8";
pub const DEFAULT_PORT: u16 = 8080;
/// The largest page: 1 MiB. The page is part of the file, and so of the image.
pub const MAX_PAGE_FILE: usize = 1 << 20;
/// The image's tag for this machine's platform.
pub const DEFAULT_TAG: &str = "hello:serve";

/// What `serve` bakes in.
#[derive(Debug, Clone)]
pub struct Config {
    pub page: Vec<u8>,
    pub content_type: String,
    pub port: u16,
    /// `--site DIR`: a whole site instead of the page.
    pub site: Option<Site>,
}

impl Config {
    pub fn is_default(&self) -> bool {
        self.page == DEFAULT_PAGE
            && self.content_type == DEFAULT_CONTENT_TYPE
            && self.site.is_none()
    }
}

/// A site build's sizes: the file less the site's bytes (the files and their
/// gzipped copies) is code, headers and the path table.
#[derive(Debug, Clone, Copy)]
pub struct SiteSizes {
    pub files: usize,
    pub file_bytes: u64,
    pub gzipped: usize,
    pub gzip_bytes: u64,
    /// The tables: hash slots, keys, copies, header text and paths.
    pub table_bytes: u64,
    /// The whole file less `file_bytes`, `gzip_bytes` and the built-in 404 page.
    pub without_content: u64,
}

/// The budget for a site build's file without its content, on amd64 (issue
/// 19), and the goal.
pub const SITE_BUDGET: u64 = 6144;
pub const SITE_GOAL: u64 = 4096;

/// Checks `serve`'s options (usage errors, status 2, before anything is built).
pub fn config(
    page_file: Option<PathBuf>,
    content_type: Option<String>,
    port: Option<OsString>,
) -> Result<Config, Error> {
    let page = match &page_file {
        Some(path) => {
            let page = fs::read(path).map_err(|e| {
                Error::usage(format!(
                    "cannot read --page-file {}: {e}; give a readable file",
                    path.display()
                ))
            })?;
            if page.is_empty() {
                return Err(Error::usage(format!(
                    "--page-file {} is empty: give a page of at least one byte",
                    path.display()
                )));
            }
            if page.len() > MAX_PAGE_FILE {
                return Err(Error::usage(format!(
                    "--page-file {} has {} bytes, more than the {MAX_PAGE_FILE} (1 MiB) allowed: give a smaller page",
                    path.display(),
                    page.len()
                )));
            }
            page
        }
        None => DEFAULT_PAGE.to_vec(),
    };
    let content_type = match (content_type, &page_file) {
        (Some(t), _) => {
            let ok = !t.is_empty()
                && t.contains('/')
                && t.bytes().all(|b| (b' '..0x7f).contains(&b));
            if !ok {
                return Err(Error::usage(format!(
                    "--content-type {t:?} is not a media type: give type/subtype in printable ASCII, e.g. text/plain"
                )));
            }
            t
        }
        (None, Some(path)) => content_type_for(path)
            .ok_or_else(|| {
                Error::usage(format!(
                    "--page-file {}: no content type known for its extension; give --content-type TYPE",
                    path.display()
                ))
            })?
            .to_string(),
        (None, None) => DEFAULT_CONTENT_TYPE.to_string(),
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(v) => {
            let s = v.to_string_lossy();
            match s.parse::<u32>() {
                Ok(p @ 1..=65535) => p as u16,
                _ => {
                    return Err(Error::usage(format!(
                        "--port {s}: give a TCP port from 1 to 65535"
                    )));
                }
            }
        }
    };
    Ok(Config {
        page,
        content_type,
        port,
        site: None,
    })
}

/// The size budget with the default page and type, per platform. hello/build.rs gives linker/serve.ld.in the same
/// number (SERVE_BUDGET). Every platform's file is also at most
/// [`MAX_RATIO_PERCENT`] of amd64's (tests/serve/ measures it).
pub fn budget(platform: &Platform) -> u64 {
    match platform.arch() {
        "x86_64" => BUDGET_AMD64,
        "aarch64" => BUDGET_ARM64,
        "powerpc64" => BUDGET_PPC64LE,
        _ => BUDGET_AMD64 * MAX_RATIO_PERCENT / 100,
    }
}

/// The budgets: the next multiples of 512 above what the files measure (6353
/// and 6857 bytes). Issue 18 asks for 4096 on amd64; docs/serve.md says where
/// the bytes go and why this is not that. The other platforms' is
/// [`MAX_RATIO_PERCENT`] of amd64's.
pub const BUDGET_AMD64: u64 = 6656;
pub const BUDGET_ARM64: u64 = 7168;
/// Every platform's file, with the default page, is at most 125% of amd64's
/// (issue 20), but ppc64le's: 127.98% (8294 bytes) since amd64's file lost 18%
/// to issue 18, most of it in ways ppc64's fixed 4-byte code does not gain;
/// its budget is the next multiple of 512 above it (docs/not-done.md).
pub const MAX_RATIO_PERCENT: u64 = 125;
pub const BUDGET_PPC64LE: u64 = 8704;
/// The goal, beyond the budget: 2 KiB.
pub const GOAL: u64 = 2048;

/// Where a `serve` file's bytes go: the ELF headers, the code by what it does
/// (from the function symbols' names and sizes), the gaps between functions,
/// the read-only data (strings and tables) and the page. Each is measured on
/// its own, so their sum is a check against the file's size.
pub fn parts(built: &Built) -> Result<Vec<(&'static str, u64)>, Error> {
    let symbols = build::symbols(&built.elf)?;
    let base = built.header.load_address();
    let end = base + built.bytes.len() as u64;
    let at = |name: &str| {
        symbols
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.address)
            .ok_or_else(|| Error::fail(format!("no symbol {name} in {}", built.elf.display())))
    };
    let start = at("_start")?;
    let page = at("SERVE_PAGE_LEN")?;
    // The one segment is executable, so nm calls the statics (HEAD, PAGE)
    // code too: names in capitals are data, and so are the assembler's local
    // labels that riscv64 keeps (`.Lanon.…` strings, `.LJTI…` jump tables).
    let mut functions: Vec<_> = symbols
        .iter()
        .filter(|s| s.is_function() && s.size > 0 && (start..end).contains(&s.address))
        .filter(|s| !fn_name(&s.name).bytes().all(|b| b.is_ascii_uppercase()))
        .filter(|s| !s.name.starts_with(".L"))
        .collect();
    functions.sort_by_key(|s| s.address);
    functions.dedup_by_key(|s| s.address);
    let mut parts = vec![("ELF headers", start - base)];
    let mut padding = 0;
    let mut code_end = start;
    for f in &functions {
        padding += f.address.saturating_sub(code_end);
        code_end = code_end.max(f.address + f.size);
        let part = part_of(&f.name);
        match parts.iter_mut().find(|(name, _)| *name == part) {
            Some((_, n)) => *n += f.size,
            None => parts.push((part, f.size)),
        }
    }
    parts.push(("padding", padding));
    parts.push(("read-only data", end - code_end - page));
    parts.push(("page", page));
    Ok(parts)
}

/// What a function of serve.rs does, by its name (`serve::server::<fn>::h…`,
/// or the library's and core's for the rest).
fn part_of(symbol: &str) -> &'static str {
    match fn_name(symbol) {
        "_start" | "arguments" | "listening" | "health" | "check" | "hello" => {
            "start-up and health check"
        }
        "serve" | "drive" | "send" | "tables" | "close" | "watch" | "event_fd" => {
            "event loop and sending"
        }
        "date" | "digits" => "Date",
        "feed" | "step" | "words" | "host" | "field_done" | "element_done" | "head_done"
        | "error" => "request parser",
        _ => "other code (memcpy, panic stubs, outlined fragments, compiler builtins)",
    }
}

/// A symbol's name in serve.rs (`serve::server::<name>::h…`), or the first
/// part of another's (`hello::write_all` is `hello`, `core::…` is `core`).
fn fn_name(symbol: &str) -> &str {
    let name = symbol.strip_prefix("serve::server::").unwrap_or(symbol);
    name.split("::").next().unwrap_or(name)
}

/// Builds `serve` for `platform` with `config`: the checked file's bytes
/// (and, for a site, its sizes).
pub fn build(platform: &Platform, config: &Config) -> Result<Built, Error> {
    build_sized(platform, config).map(|(b, _)| b)
}

/// [`build`], with a site's sizes.
pub fn build_sized(
    platform: &Platform,
    config: &Config,
) -> Result<(Built, Option<SiteSizes>), Error> {
    let root = crate::root();
    // Builds with different pages or ports share target/xtask/serve-page.bin
    // and cargo's output file, which dist reads after cargo exits: one build at
    // a time, across processes (tests and the benchmark run in parallel).
    let lock_path = root.join("target/xtask/serve.lock");
    fs::create_dir_all(root.join("target/xtask"))
        .map_err(|e| Error::fail(format!("create target/xtask: {e}")))?;
    let lock = fs::File::create(&lock_path)
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| Error::fail(format!("lock {}: {e}", lock_path.display())))?;
    let page_file = root.join("target/xtask/serve-page.bin");
    crate::core::files::write_if_changed(&page_file, &config.page)?;
    let mut baked = None;
    let site_dir = root.join("target/xtask/site");
    if let Some(site) = &config.site {
        let cache = root.join("target/xtask/site-gzip");
        let gzip = move |bytes: &[u8]| bake::gzip_cached(&cache, bytes);
        let b = bake::bake(site, &gzip)?;
        bake::write(&b, &site_dir)?;
        baked = Some(b);
    }
    let mut env = vec![
        ("HELLO_SERVE_PAGE_FILE", page_file.into_os_string()),
        (
            "HELLO_SERVE_CONTENT_TYPE",
            config.content_type.clone().into(),
        ),
        ("HELLO_SERVE_PORT", config.port.to_string().into()),
    ];
    if baked.is_some() {
        env.push(("HELLO_SERVE_SITE", site_dir.into_os_string()));
    }
    // x86-64 and x86 enter `_start` with the stack 16-byte aligned, not 8 (4)
    // past it as after a call: have LLVM realign any frame that needs alignment.
    // And no jump tables on x86-64: with the static relocation model each entry
    // is an 8-byte address, and compares take fewer bytes (80 fewer in all).
    // ppc64 inlines a little more than opt-level z's threshold (5): its calls
    // cost a frame of one `std` per saved register (64 bytes fewer).
    let rustflags: &[&str] = match platform.arch() {
        "x86_64" => &[
            "-C",
            "llvm-args=-stackrealign",
            "-C",
            "llvm-args=-min-jump-table-entries=64",
        ],
        "x86" => &["-C", "llvm-args=-stackrealign"],
        "powerpc64" => &["-C", "llvm-args=-inline-threshold=25"],
        _ => &[],
    };
    let message = build::hello::DEFAULT_MESSAGE;
    let (elf_path, bytes) = build::link(
        platform,
        &Link {
            program: Program::Serve,
            layout: Layout::Compat,
            message,
            env,
            rustflags,
        },
    )?;
    // serve's scripts end the segment at the end of the file: no trap to cut.
    let header = elf::check(&bytes, platform).map_err(Error::fail)?;
    let budget = Some(budget(platform)).filter(|_| config.is_default());
    if let Some(b) = budget
        && bytes.len() as u64 > b
    {
        return Err(Error::fail(format!(
            "serve {}: {} bytes with the default page, over the budget of {b}: see `rust-objdump -d {}` for what grew",
            platform.docker,
            bytes.len(),
            elf_path.display()
        )));
    }
    drop(lock);
    let sizes = match (&config.site, &baked) {
        (Some(site), Some(b)) => Some(SiteSizes {
            files: site.files.len(),
            file_bytes: site.bytes(),
            gzipped: b.gzipped,
            gzip_bytes: b.gzip_bytes,
            table_bytes: b.table_bytes(),
            without_content: bytes.len() as u64 - site.bytes() - b.gzip_bytes,
        }),
        _ => None,
    };
    Ok((
        Built {
            bytes,
            header,
            elf: elf_path,
            message_len: message.len() as u64,
            budget,
        },
        sizes,
    ))
}

/// The image's Dockerfile: the one file, as the top-level Dockerfile has it
/// for `hello`, with the server's port declared and its health check: the
/// same file run as `/serve health` (no shell or curl in `scratch`), which
/// ends within 2 s. Every 5 s, so that a new container shows `healthy` soon
/// (this Docker, 20.10, has no --start-interval).
pub fn dockerfile(port: u16) -> String {
    format!(
        "# Generated by cargo xtask dist --program serve (xtask/src/build/serve.rs).\n\
         FROM scratch\n\
         COPY serve /serve\n\
         USER 65534:65534\n\
         EXPOSE {port}\n\
         HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD [\"/serve\", \"health\"]\n\
         ENTRYPOINT [\"/serve\"]\n"
    )
}

/// serve's images as `dist` writes them without Docker: what [`dockerfile`]
/// says, as config keys (`EXPOSE` and `HEALTHCHECK`, in nanoseconds), in
/// target/dist/serve-oci and target/dist/serve-image.tar.
pub fn image_spec(port: u16) -> oci::Spec {
    let second = 1_000_000_000u64;
    let config = serde_json::json!({
        "ExposedPorts": { format!("{port}/tcp"): {} },
        "Healthcheck": {
            "Test": ["CMD", "/serve", "health"],
            "Interval": 5 * second,
            "Timeout": 3 * second,
            "Retries": 3,
        },
    });
    oci::Spec {
        entry: Program::Serve.name(),
        config: config.as_object().expect("an object").clone(),
        layout: LAYOUT,
        archive: ARCHIVE,
    }
}

/// serve's OCI layout (`cargo xtask publish --program serve REF`).
pub const LAYOUT: &str = "target/dist/serve-oci";
/// serve's `docker load` archive, this machine's platform.
pub const ARCHIVE: &str = "target/dist/serve-image.tar";
