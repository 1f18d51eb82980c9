//! `cargo xtask dist`: builds a program (hello, the quine or serve) for each
//! platform asked for, writes and runs its file, packages its images, and
//! builds and runs them when a Docker engine answers. This module reads and
//! checks the options; each program's workflow is a submodule.
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;

use crate::Error;
use crate::build::hello::{DEFAULT_MESSAGE, MAX_MESSAGE};
use crate::build::{serve, site, tools};
use crate::core::args::{self, Opt};
use crate::core::platform::{
    Layout, PLATFORMS, Platform, Program, host_or_usage, layout_option, platform_option,
};
use crate::core::reference::check_tag;
use crate::oci::quine::QUINE_TAG;
use crate::run::{NotRun, docker};

mod hello;
mod quine;
mod serving;

const HELP: &str = "\
cargo xtask dist [options]

Builds hello, writes target/dist/<os>-<arch>[-<variant>]/hello (and, for this
machine's platform, target/dist/hello), runs it (under qemu-user for other
architectures), and, when a Docker engine answers, builds and runs the image
hello:<os>-<arch>[-<variant>] (and hello:latest for this machine's platform).
Then writes target/dist/oci and target/dist/hello-image.tar, without Docker
(cargo xtask image --help), from the files this run built and the platforms
earlier runs built with the same message and layout (each file's inputs are in
target/dist/<os>-<arch>/hello.inputs); a line names the platforms it leaves
out. Without this machine's platform in the index, the archive is removed,
and a line says so (docs/dist.md).

With --program quine: builds target/dist/<os>-<arch>/quine (every platform;
in ARM state, not Thumb, on linux/arm/v6 and v5), checks that what it prints is
byte for byte the docker load archive the image code writes from it, writes
that archive to target/dist/<os>-<arch>/quine-image.tar (and, for this
machine, target/dist/quine and target/dist/quine-image.tar) and the OCI
layout target/dist/quine-oci (with the platforms earlier runs built), and,
with an engine, loads hello:quine and checks that it prints the archive again.

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
  --no-docker            skip docker build and run even if an engine answers
  --require-run          exit 1 when a file or image could not be run here
                         (no qemu-user, no binfmt_misc entry, no Docker
                         engine); without it dist builds everything, says in
                         one line what it did not run and how to fix that,
                         and exits 0
  -h, --help             print this help

For --program serve: writes target/dist/serve-oci and
target/dist/serve-image.tar (tag hello:serve) as hello's, from the files
built with the same page, type and port.
  --page-file PATH       the page it serves, 1 byte to 1 MiB (default: a small
                         HTML Hello World); its type comes from the extension
  --content-type TYPE    the page's Content-Type, whatever the extension
  --port N               the TCP port it listens on, 1-65535 (default 8080)
  --site DIR             serve a whole static site instead: every regular
                         file under DIR, baked in at build time, with
                         index.html for directories, 404.html for unknown
                         paths, ETags, gzipped copies and ranges
                         (docs/site.md); up to 256 MiB
  --fallback PATH        with --site: the file (an SPA's /index.html) served
                         with 200 for unknown paths without an extension
  --cache-control VALUE  with --site: a Cache-Control header on every file
";

pub const OPTS: &[Opt] = &[
    args::value("--program", "hello|quine|serve"),
    args::value("--platform", "P|all"),
    args::value("--layout", "tiny|compat"),
    args::value("--message", "TEXT"),
    args::value("--message-file", "PATH"),
    args::value("--tag", "NAME[:TAG]"),
    args::flag("--no-docker"),
    args::flag("--require-run"),
    args::value("--page-file", "PATH"),
    args::value("--content-type", "TYPE"),
    args::value("--port", "N"),
    args::value("--site", "DIR"),
    args::value("--fallback", "PATH"),
    args::value("--cache-control", "VALUE"),
];

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
    pub serve: serve::Config,
}

/// Reads and checks the options; every problem is a usage error (status 2)
/// that names the fix. `None` for `--help`, which it prints.
pub fn parse(words: Vec<OsString>) -> Result<Option<Options>, Error> {
    let a = args::read("dist", OPTS, words)?;
    if a.help {
        print!("{HELP}");
        return Ok(None);
    }
    a.no_free()?;
    let program = match a.os("--program") {
        None => Program::Hello,
        Some(v) => {
            let v = v.to_string_lossy();
            Program::parse(&v).ok_or_else(|| {
                Error::usage(format!(
                    "unknown program `{v}`: use --program hello, quine or serve"
                ))
            })?
        }
    };
    let layout = match a.os("--layout") {
        None => Layout::DEFAULT,
        Some(v) => layout_option(&v.to_string_lossy())?,
    };
    let all_platforms = a.os("--platform").is_some_and(|v| v == "all");
    let platforms = match a.os("--platform") {
        None => None,
        Some(_) if all_platforms => Some(PLATFORMS.iter().collect()),
        Some(v) => Some(vec![platform_option(
            &v.to_string_lossy(),
            "--platform all or ",
        )?]),
    };
    let tag = match a.os("--tag") {
        None => None,
        Some(v) => {
            let t = v.to_str().map(str::to_string).unwrap_or_default();
            check_tag(&t).map_err(|why| {
                Error::usage(format!(
                    "invalid --tag {:?}: {why}; use a Docker reference like hello:latest or localhost:5000/hello:v1",
                    v.to_string_lossy()
                ))
            })?;
            Some(t)
        }
    };
    let message_given = a.given("--message") || a.given("--message-file");
    let serve_option = [
        "--page-file",
        "--content-type",
        "--port",
        "--site",
        "--fallback",
        "--cache-control",
    ]
    .into_iter()
    .find(|o| a.given(o));
    if let (false, Some(option)) = (program == Program::Serve, serve_option) {
        return Err(Error::usage(format!(
            "{option} is an option of --program serve, not {}: add --program serve",
            program.name()
        )));
    }
    if let (false, Some(option)) = (
        a.given("--site"),
        ["--fallback", "--cache-control"]
            .into_iter()
            .find(|o| a.given(o)),
    ) {
        return Err(Error::usage(format!(
            "{option} goes with --site DIR: add the site's directory"
        )));
    }
    if let (true, Some(option)) = (
        a.given("--site"),
        ["--page-file", "--content-type"]
            .into_iter()
            .find(|o| a.given(o)),
    ) {
        return Err(Error::usage(format!(
            "--site and {option} were both given: a site's files have their own types; give one of them"
        )));
    }
    if program == Program::Serve && (message_given || a.given("--layout")) {
        return Err(Error::usage(
            "--message, --message-file and --layout are options of hello; serve takes --page-file, --content-type and --port",
        ));
    }
    let mut serve = serve::config(
        a.os("--page-file").map(Into::into),
        a.os("--content-type").map(|v| v.to_string_lossy().into()),
        a.os("--port").cloned(),
    )?;
    if let Some(dir) = a.os("--site") {
        let text = |o: &str| a.os(o).map(|v| v.to_string_lossy().into_owned());
        serve.site = Some(site::read(
            std::path::Path::new(dir),
            text("--fallback").as_deref(),
            text("--cache-control").as_deref(),
        )?);
    }
    // Options that mean nothing for the quine, which refuses them.
    let hello_only = ["--layout", "--message", "--message-file", "--tag"]
        .into_iter()
        .find(|o| a.given(o));
    if let (Program::Quine, Some(option)) = (program, hello_only) {
        return Err(Error::usage(format!(
            "{option} is for --program hello: the quine prints its own image, tagged {QUINE_TAG}, \
             and has one layout"
        )));
    }
    let message = match (a.os("--message"), a.os("--message-file")) {
        (Some(_), Some(_)) => {
            return Err(Error::usage(
                "--message and --message-file were both given: give one of them",
            ));
        }
        (Some(m), None) => m.as_bytes().to_vec(),
        (None, Some(path)) => fs::read(path).map_err(|e| {
            Error::usage(format!(
                "cannot read --message-file {}: {e}; give a readable file",
                path.to_string_lossy()
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
        None => vec![host_or_usage("give --platform P or --platform all")?],
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
        docker: !a.given("--no-docker"),
        require_run: a.given("--require-run"),
        serve,
    }))
}

pub fn run(words: Vec<OsString>) -> Result<(), Error> {
    let Some(opts) = parse(words)? else {
        return Ok(());
    };
    tools::ensure_binutils()?;
    let mut not_run = NotRun::default();
    let engine = if opts.docker {
        match docker::engine() {
            Ok(v) => Some(v),
            Err(why) => {
                println!("note: no Docker engine answers ({why}); skipped docker build and run.");
                println!(
                    "note: {}, then run cargo xtask dist again.",
                    docker::START_HINT
                );
                not_run.record(format!("docker build and run: no Docker engine ({why})"));
                None
            }
        }
    } else {
        None
    };
    match opts.program {
        Program::Hello => hello::run(&opts, engine.as_deref(), &mut not_run)?,
        Program::Quine => quine::run(&opts, engine.as_deref(), &mut not_run)?,
        Program::Serve => serving::run(&opts, engine.as_deref(), &mut not_run)?,
    }
    not_run.check(opts.require_run)
}
