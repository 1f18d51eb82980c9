//! Talking to a Docker engine through the `docker` client.
use std::path::Path;
use std::process::Command;

use crate::{Error, cmd};

/// How to get an engine, for messages when none answers.
pub const START_HINT: &str = "start one with `apt-get install -y docker.io` and \
    `dockerd --bridge=none --iptables=false &` (as root), or point DOCKER_HOST at one";

/// `Ok(version)` when an engine answers `docker info`, else why not.
pub fn engine() -> Result<String, String> {
    let out = cmd::probe(Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]))
        .ok_or("no `docker` client on PATH")?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !version.is_empty() {
        Ok(version)
    } else {
        let why = String::from_utf8_lossy(&out.stderr);
        Err(why
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("docker info failed")
            .trim()
            .to_string())
    }
}

/// `docker build --platform P -t TAG DIR`, with the Dockerfile at the repository root.
pub fn build(root: &Path, platform: &str, tag: &str) -> Result<(), Error> {
    cmd::run(Command::new("docker").current_dir(root).args([
        "build",
        "--platform",
        platform,
        "-t",
        tag,
        ".",
    ]))
}

/// `docker run --rm --pull never --network none [--platform P] TAG`: its stdout.
pub fn run(platform: &str, tag: &str) -> Result<Vec<u8>, Error> {
    cmd::stdout(Command::new("docker").args([
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "--platform",
        platform,
        tag,
    ]))
}

/// `docker image inspect --format {{.Size}} TAG`.
pub fn image_size(tag: &str) -> Result<u64, Error> {
    let out = cmd::stdout(Command::new("docker").args([
        "image",
        "inspect",
        "--format",
        "{{.Size}}",
        tag,
    ]))?;
    let s = String::from_utf8_lossy(&out);
    s.trim()
        .parse()
        .map_err(|_| Error::fail(format!("docker image inspect printed {s:?}, not a size")))
}
