//! What each program's file in target/dist was built with, kept beside it as
//! one line (target/dist/<os>-<arch>/<program>.inputs), so that `dist` can
//! package, next to the platforms it builds now, the ones earlier runs built
//! with the same inputs, and leave out (and name) the others.
use std::fs;
use std::path::PathBuf;

use crate::Error;
use crate::build::program_path;
use crate::core::files::{rel, write_atomic, write_program};
use crate::core::platform::{PLATFORMS, Platform, Program};

/// The line that stands for `program`'s inputs: what, besides the platform,
/// decides its bytes. `hello layout compat message sha256:…`,
/// `serve port 8080 type text/html; charset=utf-8 page sha256:…`, `quine`.
pub fn line(program: Program, options: &[(&str, &str)]) -> String {
    let mut s = program.name().to_string();
    for (k, v) in options {
        s.push_str(&format!(" {k} {v}"));
    }
    s
}

fn path(program: Program, platform: &Platform) -> PathBuf {
    let mut p = crate::root().join(program_path(program, platform));
    p.set_extension("inputs");
    p
}

/// Writes `program`'s file for `platform` and its inputs line: the old line
/// goes first, so a file never sits beside a line it was not built with.
pub fn write(
    program: Program,
    platform: &Platform,
    bytes: &[u8],
    inputs: &str,
) -> Result<(), Error> {
    let stamp = path(program, platform);
    if stamp.exists() {
        fs::remove_file(&stamp).map_err(|e| Error::fail(format!("remove {}: {e}", rel(&stamp))))?;
    }
    write_program(bytes, &crate::root().join(program_path(program, platform)))?;
    write_atomic(&stamp, format!("{inputs}\n").as_bytes())
}

/// The platforms with a file of `program` in target/dist, in table order:
/// those built with `inputs` (each with its file), and the others.
pub struct Found {
    pub same: Vec<(&'static Platform, PathBuf)>,
    pub other: Vec<&'static Platform>,
}

pub fn find(program: Program, inputs: &str) -> Found {
    let mut found = Found {
        same: Vec::new(),
        other: Vec::new(),
    };
    for p in PLATFORMS {
        let file = crate::root().join(program_path(program, p));
        if !file.is_file() {
            continue;
        }
        let line = fs::read_to_string(path(program, p)).unwrap_or_default();
        if line.trim_end_matches('\n') == inputs {
            found.same.push((p, file));
        } else {
            found.other.push(p);
        }
    }
    found
}

impl Found {
    /// The one line that says which platforms' files `layout` leaves out and
    /// why, if any.
    pub fn left_out(&self, program: Program, layout: &str, differs: &str) -> Option<String> {
        if self.other.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.other.iter().map(|p| p.docker).collect();
        Some(format!(
            "note: {layout} leaves out {}: an earlier run built {} there with another {differs} \
             (target/dist/<os>-<arch>/{}.inputs); build them with these options to add them",
            names.join(", "),
            program.name(),
            program.name()
        ))
    }
}
