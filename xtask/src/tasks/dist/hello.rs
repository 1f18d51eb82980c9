//! `dist` for hello: each platform's file built, written, run (natively or
//! under qemu-user), packaged as the OCI layout and `docker load` archive, and,
//! with an engine, built as an image and run.
use std::io::Write;
use std::path::Path;
use std::process::Command;

use super::Options;
use crate::Error;
use crate::build::{self, inputs, program_path};
use crate::core::cmd;
use crate::core::files::write_program;
use crate::core::platform::{Platform, Program};
use crate::core::reference::{DEFAULT_TAG, platform_tag};
use crate::oci;
use crate::run::{NotRun, binfmt, docker, qemu};

/// Every platform asked for, then the OCI layout and the `docker load`
/// archive from the files just written and those earlier runs wrote with the
/// same message and layout (docs/dist.md).
pub fn run(opts: &Options, engine: Option<&str>, not_run: &mut NotRun) -> Result<(), Error> {
    let inputs = inputs_line(opts);
    for &platform in &opts.platforms {
        one(platform, opts, &inputs, engine, not_run)?;
    }
    let found = inputs::find(Program::Hello, &inputs);
    if let Some(line) = found.left_out(Program::Hello, oci::LAYOUT, "message or --layout") {
        println!("{line}");
    }
    let tag = opts.tag.as_deref().unwrap_or(DEFAULT_TAG);
    oci::write(&oci::Spec::hello(), &found.same, tag)?;
    Ok(())
}

/// What besides the platform decides hello's bytes: the layout and the message.
fn inputs_line(opts: &Options) -> String {
    inputs::line(
        Program::Hello,
        &[
            ("layout", opts.layout.name()),
            ("message", &oci::sha256(&opts.message)),
        ],
    )
}

/// Builds, writes, runs, and (with an engine) packages one platform's file.
fn one(
    platform: &'static Platform,
    opts: &Options,
    inputs: &str,
    engine: Option<&str>,
    not_run: &mut NotRun,
) -> Result<(), Error> {
    let built = build::hello::build(platform, opts.layout, &opts.message)?;
    let root = crate::root();
    let file = root.join(program_path(Program::Hello, platform));
    inputs::write(Program::Hello, platform, &built.bytes, inputs)?;
    let is_host = Platform::host().is_some_and(|h| h.docker == platform.docker);
    let out = if is_host {
        let out = root.join("target/dist/hello");
        write_program(&built.bytes, &out)?;
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
    match qemu::command(platform, &file) {
        Ok(mut run) => run_file(&mut run, &file, &opts.message)?,
        Err(why) => not_run.file(&file, &why),
    }
    if let Some(version) = engine {
        let tags = match &opts.tag {
            Some(t) => vec![t.clone()],
            None if is_host => vec![DEFAULT_TAG.to_string(), platform_tag(platform)],
            None => vec![platform_tag(platform)],
        };
        println!("Docker engine {version}: building {}", tags.join(", "));
        docker_image(platform, &tags, &opts.message, &built.bytes, not_run)?;
    }
    Ok(())
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

fn docker_image(
    platform: &Platform,
    tags: &[String],
    message: &[u8],
    file: &[u8],
    not_run: &mut NotRun,
) -> Result<(), Error> {
    let file_size = file.len() as u64;
    docker::build_hello(
        &crate::root(),
        platform.docker,
        &program_path(Program::Hello, platform),
        tags,
    )?;
    // A foreign file runs in a container only through a binfmt_misc entry the
    // kernel holds: without one, Docker's answer would be a bare
    // `exec /hello: exec format error`.
    if !platform.runs_natively() {
        match binfmt::for_container(file) {
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
                    not_run.say(
                        &format!(
                            "docker run --platform {} {tag} (the image is built)",
                            platform.docker
                        ),
                        &why,
                        &binfmt::fix(platform.qemu),
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
