//! The xtask's library: every task and the machinery under them, in layers.
//!
//! Arrows point down; no module imports one above it, and no task imports
//! another task (xtask/tests/tidy.rs checks both from the `use crate::` lines):
//!
//! ```text
//! tasks   dist  explain  image  publish  report  bench-serve  stress   (one `run` each)
//!           |       |       |       |       |          |         |
//! build   the cargo/objcopy pipeline; hello, quine and serve's differences
//! oci     blobs, tar, the image layout, the docker-load archives
//! elf     constants, the header field table, parse and check
//! run     docker, qemu-user, binfmt_misc, the hardened flags, vm.mmap_min_addr,
//!         what was not run
//!           |
//! core    the command-line grammar, commands, files, platforms, image references
//! ```
//!
//! `build`, `oci`, `elf` and `run` may use each other where the arrow points
//! down the list above (build uses oci, elf and run; oci and elf use run only
//! for nothing at all); all of them use `core`.
pub mod build;
pub mod core;
pub mod elf;
pub mod oci;
pub mod run;
pub mod tasks;

use std::path::PathBuf;

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
