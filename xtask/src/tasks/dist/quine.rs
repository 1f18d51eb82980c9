//! `dist --program quine`: each platform's quine built and run, its output
//! checked against the archive the image code writes, the archives and the
//! OCI layout written, and, with an engine, the host's loaded and run.
use std::fs;
use std::process::Command;

use super::Options;
use crate::Error;
use crate::build::quine::QUINE_MAX;
use crate::build::{self, inputs, program_path};
use crate::core::cmd;
use crate::core::files::{rel, write_program};
use crate::core::platform::{PLATFORMS, Platform, Program};
use crate::oci::{
    self,
    quine::{QUINE_ARCHIVE, QUINE_LAYOUT, QUINE_TAG},
};
use crate::run::{NotRun, docker, qemu};

/// `dist --program quine`: builds each platform's quine, checks that what it
/// prints is byte for byte the archive the image code writes from the file,
/// writes the archives and the OCI layout, and, with an engine, loads the
/// host's archive as hello:quine and checks that the image prints it again.
pub fn run(opts: &Options, engine: Option<&str>, not_run: &mut NotRun) -> Result<(), Error> {
    let root = crate::root();
    let host = Platform::host().map(|p| p.docker);
    let mut quines = Vec::new();
    for &platform in &opts.platforms {
        let built = build::quine::build(platform)?;
        let file = root.join(program_path(Program::Quine, platform));
        inputs::write(Program::Quine, platform, &built.bytes, &quine_inputs())?;
        let is_host = host == Some(platform.docker);
        let out = if is_host {
            let out = root.join("target/dist/quine");
            write_program(&built.bytes, &out)?;
            out
        } else {
            file.clone()
        };
        let q = oci::quine::quine(platform, &built.bytes)?;
        // Where the bytes go, from the linker script's symbols.
        let p = build::quine::parts(&built)?;
        let size = built.bytes.len() as u64;
        println!(
            "quine {}: {size} bytes = ELF headers {} + constants {} + padding {} + code {}; \
             prints {} bytes; budget {QUINE_MAX} -> {}",
            platform.docker,
            p.headers,
            p.constants,
            p.padding,
            p.code,
            q.archive.len(),
            out.strip_prefix(&root).unwrap_or(&out).display()
        );
        match qemu::command(platform, &file) {
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
            Err(why) => not_run.file(&file, &why),
        }
        quines.push(q);
    }
    let host_quine = quines
        .iter()
        .find(|q| Some(q.image.platform.docker) == host)
        .map(|q| (q.archive.clone(), q.image.config.digest.clone()));
    // The layout also holds the platforms earlier runs built (docs/dist.md).
    let found = inputs::find(Program::Quine, &quine_inputs());
    if let Some(line) = found.left_out(
        Program::Quine,
        QUINE_LAYOUT,
        "xtask, which wrote no inputs line",
    ) {
        println!("{line}");
    }
    for (platform, file) in found.same {
        if quines
            .iter()
            .any(|q| q.image.platform.docker == platform.docker)
        {
            continue;
        }
        let bytes =
            fs::read(&file).map_err(|e| Error::fail(format!("read {}: {e}", file.display())))?;
        println!(
            "quine {}: built by an earlier run ({})",
            platform.docker,
            rel(&file)
        );
        quines.push(oci::quine::quine(platform, &bytes)?);
    }
    quines.sort_by_key(|q| {
        PLATFORMS
            .iter()
            .position(|p| p.docker == q.image.platform.docker)
    });
    oci::quine::write_quine(quines)?;

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
    let tag = QUINE_TAG;
    println!("Docker engine {version}: loading {}", QUINE_ARCHIVE);
    let loaded =
        cmd::stdout(
            Command::new("docker")
                .current_dir(&root)
                .args(["load", "-i", QUINE_ARCHIVE]),
        )?;
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

/// The quine has no options: every build of it has the same inputs.
fn quine_inputs() -> String {
    inputs::line(Program::Quine, &[])
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
        "`{what}` printed {} bytes that differ from the {}-byte archive xtask/src/oci/quine.rs \
         writes (quine) at offset {at} (block {}, byte {}): the program and the image code \
         disagree; compare hello/src/bin/quine.rs with oci::quine::quine",
        printed.len(),
        archive.len(),
        at / 512,
        at % 512
    )))
}
