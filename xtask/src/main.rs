//! `cargo xtask`: builds, checks and packages the `hello` images. This file
//! only reads the task's name and dispatches; the tasks live in the library
//! (src/lib.rs, src/tasks/).
use std::process::ExitCode;

use xtask::Error;
use xtask::tasks::{bench_serve, dist, explain, image, publish, report, stress};

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

Every task reads its options the same way: --name value or --name=value,
-- ends the options, and -h or --help prints the task's help.
";

fn try_main() -> Result<(), Error> {
    let mut args = std::env::args_os().skip(1);
    let task = args.next();
    let rest: Vec<_> = args.collect();
    match task.as_ref().and_then(|t| t.to_str()) {
        Some("dist") => dist::run(rest),
        Some("bench-serve") => bench_serve::run(rest),
        Some("explain") => explain::run(rest),
        Some("image") => image::run(rest),
        Some("publish") => publish::run(rest),
        Some("report") => report::run(rest),
        Some("stress") => stress::run(rest),
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
