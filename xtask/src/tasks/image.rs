//! `cargo xtask image`: writes target/dist/oci and the `docker load` archive
//! from the hello files earlier dist runs wrote, without a Docker daemon.
use std::ffi::OsString;
use std::path::PathBuf;

use crate::Error;
use crate::core::args::{self, Opt};
use crate::core::platform::{PLATFORMS, Platform};
use crate::core::reference::{DEFAULT_TAG, check_tag};
use crate::oci;

const HELP: &str = "\
cargo xtask image [options]

Writes, without a Docker daemon, from the files in target/dist/<os>-<arch>/hello:
  target/dist/oci/             an OCI image layout: one image index (tag latest)
                               with one manifest per platform
  target/dist/hello-image.tar  this machine's platform, for `docker load`
and prints the bytes a client pulls per platform. `cargo xtask dist` runs this
step itself; run it alone to repackage files dist already wrote.

Options:
  --tag NAME[:TAG]   the tag `docker load` gives the image (default hello:latest)
  -h, --help         print this help
";

/// The platforms with a file in `target/dist/<os>-<arch>/hello`, in table order.
pub fn built_files() -> Vec<(&'static Platform, PathBuf)> {
    let dist = crate::root().join("target/dist");
    PLATFORMS
        .iter()
        .map(|p| (p, dist.join(p.dir_name()).join("hello")))
        .filter(|(_, path)| path.is_file())
        .collect()
}

pub const OPTS: &[Opt] = &[args::value("--tag", "NAME[:TAG]")];

pub fn run(words: Vec<OsString>) -> Result<(), Error> {
    let args = args::read("image", OPTS, words)?;
    if args.help {
        print!("{HELP}");
        return Ok(());
    }
    args.no_free()?;
    let tag = match args.text("--tag")? {
        Some(t) => {
            check_tag(t).map_err(|why| {
                Error::usage(format!(
                    "invalid --tag {t:?}: {why}; use a Docker reference like hello:latest"
                ))
            })?;
            t.to_string()
        }
        None => DEFAULT_TAG.to_string(),
    };
    let files = built_files();
    if files.is_empty() {
        return Err(Error::fail(
            "no target/dist/<os>-<arch>/hello to package: run `cargo xtask dist` first",
        ));
    }
    oci::write(&oci::Spec::hello(), &files, &tag)?;
    Ok(())
}
