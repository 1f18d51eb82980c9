//! `cargo xtask publish REF`: pushes the image index in `target/dist/oci` (or
//! quine's or serve's; every platform, unchanged, same digests) to a registry with skopeo, then reads it
//! back from the registry to check that it serves the same index.
use std::ffi::OsString;
use std::fs;
use std::process::Command;

use crate::Error;
use crate::build::serve;
use crate::core::args::{self, Opt};
use crate::core::cmd;
use crate::core::reference::{check_tag, registry};
use crate::oci::{self, quine::QUINE_LAYOUT};

const HELP: &str = "\
cargo xtask publish [options] REF

Pushes the image index in target/dist/oci (written by `cargo xtask dist` or
`cargo xtask image`) with every platform's manifest, config and layer to the
registry in REF, keeping every digest, with skopeo. REF is like
registry.example.com/hello:latest or 127.0.0.1:5000/hello:latest.

A registry on 127.0.0.1, ::1 or localhost is spoken to over plain HTTP, as
Docker does; others need HTTPS unless --insecure is given. Credentials come
from skopeo's usual places (`skopeo login REGISTRY`).

Options:
  --program hello|quine|serve
               which images: target/dist/oci (hello, the default),
               target/dist/quine-oci (cargo xtask dist --program quine) or
               target/dist/serve-oci (cargo xtask dist --program serve)
  --insecure   plain HTTP or unverified TLS for any registry
  -h, --help   print this help
";

const INSTALL: &str = "install it with `apt-get install -y skopeo`";

/// Docker treats registries on the loopback interface as insecure by default.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.split(':').next().unwrap_or(registry),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub const OPTS: &[Opt] = &[
    args::value("--program", "hello|quine|serve"),
    args::flag("--insecure"),
];

pub fn run(words: Vec<OsString>) -> Result<(), Error> {
    let a = args::read("publish", OPTS, words)?;
    if a.help {
        print!("{HELP}");
        return Ok(());
    }
    let layout_dir = match a.text("--program")? {
        None | Some("hello") => oci::LAYOUT,
        Some("quine") => QUINE_LAYOUT,
        Some("serve") => serve::LAYOUT,
        Some(_) => {
            return Err(Error::usage(
                "--program needs hello, quine or serve: cargo xtask publish --program serve REF",
            ));
        }
    };
    let mut insecure = a.given("--insecure");
    let reference = match a.free.as_slice() {
        [] => None,
        [one] => Some(one.to_string_lossy().into_owned()),
        [_, extra, ..] => {
            return Err(Error::usage(format!(
                "unexpected argument `{}`: publish takes one REF; run `cargo xtask publish --help` for the options",
                extra.to_string_lossy()
            )));
        }
    };
    let reference = reference.ok_or_else(|| {
        Error::usage("publish needs a reference: cargo xtask publish 127.0.0.1:5000/hello:latest")
    })?;
    check_tag(&reference).map_err(|why| {
        Error::usage(format!(
            "invalid reference {reference:?}: {why}; use one like 127.0.0.1:5000/hello:latest"
        ))
    })?;
    let Some(registry) = registry(&reference) else {
        return Err(Error::usage(format!(
            "{reference:?} names no registry: give host[:port]/name[:tag], e.g. 127.0.0.1:5000/{reference}"
        )));
    };
    if is_loopback(registry) && !insecure {
        println!("note: {registry} is on this machine: plain HTTP, as Docker does");
        insecure = true;
    }

    let root = crate::root();
    let layout = root.join(layout_dir);
    let index_json = layout.join("index.json");
    let index = fs::read(&index_json).map_err(|e| {
        Error::fail(format!(
            "read {}: {e}; run `cargo xtask dist` (or `cargo xtask image`) first",
            index_json.display()
        ))
    })?;
    let want = layout_index_digest(&index)?;
    let index_blob = fs::read(
        layout
            .join("blobs/sha256")
            .join(want.trim_start_matches("sha256:")),
    )
    .map_err(|e| {
        Error::fail(format!(
            "read the image index {want} in {}: {e}",
            layout.display()
        ))
    })?;

    if cmd::probe(Command::new("skopeo").arg("--version")).is_none() {
        return Err(Error::fail(format!("skopeo is not on PATH: {INSTALL}")));
    }
    let tls = format!("--dest-tls-verify={}", !insecure);
    cmd::run(
        Command::new("skopeo")
            .args(["copy", "--all", "--preserve-digests", &tls])
            .arg(format!("oci:{}:{}", layout.display(), oci::LAYOUT_TAG))
            .arg(format!("docker://{reference}")),
    )?;

    // What the registry now serves for REF must be our index, byte for byte.
    let tls = format!("--tls-verify={}", !insecure);
    let served = cmd::stdout(Command::new("skopeo").args([
        "inspect",
        "--raw",
        &tls,
        &format!("docker://{reference}"),
    ]))?;
    if served != index_blob {
        return Err(Error::fail(format!(
            "the registry serves {} for {reference}, not the pushed index {want}",
            oci::sha256(&served)
        )));
    }
    println!("published {reference}: index {want}");
    Ok(())
}

/// The digest of the one image index that the layout's `index.json` points at.
fn layout_index_digest(index_json: &[u8]) -> Result<String, Error> {
    let v: serde_json::Value = serde_json::from_slice(index_json).map_err(|e| {
        Error::fail(format!(
            "the layout's index.json is not JSON ({e}): run `cargo xtask image` (or dist) again"
        ))
    })?;
    match v["manifests"].as_array().map(Vec::as_slice) {
        Some([one]) => one["digest"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::fail("the layout's index.json has no digest")),
        _ => Err(Error::fail(
            "the layout's index.json should point at exactly one image index: run `cargo xtask image` (or dist) again",
        )),
    }
}
