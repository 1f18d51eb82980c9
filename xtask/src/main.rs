//! `cargo xtask`: builds, checks and packages the `hello` image.
//!
//! Run `cargo xtask help` for the tasks.
use std::path::PathBuf;
use std::process::ExitCode;

mod bench_serve;
mod binfmt;
mod cmd;
mod dist;
mod docker;
mod elf;
mod explain;
mod hardened;
mod image;
mod platform;
mod publish;
mod report;
mod serve;
mod stress;
mod tools;

const HELP: &str = "\
cargo xtask <task> [options]

Tasks:
  dist      build target/dist/hello and, if a Docker engine answers, the image
            (cargo xtask dist --help for its options; --program quine builds
            the image that prints itself, hello:quine; --program serve the
            web server, hello:serve)
  bench-serve
            serve against nginx, lighttpd and busybox httpd under wrk
            (cargo xtask bench-serve --help)
  explain   print the file as a table: every byte, every role it plays, and why
            the loader accepts it (cargo xtask explain --layout tiny|compat)
  image     write target/dist/oci (OCI layout, every platform built) and
            target/dist/hello-image.tar (for docker load) from dist's files;
            no Docker daemon needed (dist runs it too)
  publish   push target/dist/oci's whole index to a registry:
            cargo xtask publish 127.0.0.1:5000/hello:latest
            (--program quine: target/dist/quine-oci's)
  report    build the classic hello-world images beside ours, measure them all,
            and write the table, target/report/report.json and docs/sizes.svg
            (cargo xtask report --help for its options)
  stress    the hardened docker run, 200 times per layout for this machine's
            platform and 50 times per other platform; not part of CI
            (cargo xtask stress --help)
  help      print this help
";

/// A failure: the one-line message for stderr and the exit status.
#[derive(Debug)]
pub struct Error {
    pub message: String,
    /// 2 for a usage error (bad option, bad input), 1 for a failed step.
    pub status: u8,
}

impl Error {
    /// A step failed: a tool exited non-zero, a check did not hold.
    pub fn fail(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            status: 1,
        }
    }

    /// The user asked for something that cannot be done as asked.
    pub fn usage(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            status: 2,
        }
    }
}

/// The workspace root (this crate's parent directory).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The cargo that runs us, so that the same toolchain builds `hello`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn try_main() -> Result<(), Error> {
    let mut args = std::env::args_os().skip(1);
    let task = args.next();
    let rest: Vec<_> = args.collect();
    match task.as_ref().and_then(|t| t.to_str()) {
        Some("dist") => dist::main(rest),
        Some("bench-serve") => bench_serve::main(rest),
        Some("explain") => explain::main(rest),
        Some("image") => image::main(rest),
        Some("publish") => publish::main(rest),
        Some("report") => report::main(rest),
        Some("stress") => stress::main(rest),
        Some("help" | "-h" | "--help") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(Error::usage(format!(
            "unknown task `{other}`: run `cargo xtask help` for the list"
        ))),
    }
}

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.status)
        }
    }
}
