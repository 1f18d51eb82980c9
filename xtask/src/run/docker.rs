//! Talking to a Docker engine through the `docker` client.
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::Error;
use crate::core::cmd;

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

/// The Dockerfile's line that copies the file in; `build_hello` points it at the
/// platform's file.
const COPY_LINE: &str = "COPY target/dist/hello /hello";

/// `docker build --no-cache --platform P -t TAG... -f - DIR`, with the
/// repository root's Dockerfile on stdin, its `COPY` taking `file` (relative to
/// `root`).
///
/// `--no-cache`: with the legacy builder's cache, two builds of the same file
/// share one image, and a `docker rmi` of the other build's tag between this
/// build's cache hit and its tagging fails it with "unable to find image"
/// (seen with two checkouts testing on one engine). A scratch image with one
/// small file costs nothing to build again.
pub fn build_hello(root: &Path, platform: &str, file: &Path, tags: &[String]) -> Result<(), Error> {
    let path = root.join("Dockerfile");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::fail(format!("read {}: {e}", path.display())))?;
    if text.lines().filter(|l| *l == COPY_LINE).count() != 1 {
        return Err(Error::fail(format!(
            "{} must have the line `{COPY_LINE}` once: dist replaces its path with each platform's file",
            path.display()
        )));
    }
    let copy = format!("COPY {} /hello", file.display());
    let text = text.replace(COPY_LINE, &copy);
    let mut cmd = Command::new("docker");
    cmd.current_dir(root)
        .args(["build", "--no-cache", "--platform", platform]);
    for tag in tags {
        cmd.args(["-t", tag]);
    }
    cmd.args(["-f", "-", "."]);
    let what = format!("Dockerfile with `{copy}`");
    run_with_stdin(&mut cmd, text.as_bytes(), &what)
}

/// `docker build --quiet --no-cache --platform P -t TAG -f - DIR` with
/// `dockerfile` on stdin: an image from a small build context (serve's
/// target/dist/<os>-<arch>); `--no-cache` as in `build_hello`.
pub fn build_context(
    platform: &str,
    context: &Path,
    tag: &str,
    dockerfile: &str,
) -> Result<(), Error> {
    let mut cmd = Command::new("docker");
    cmd.args([
        "build",
        "--quiet",
        "--no-cache",
        "--platform",
        platform,
        "-t",
        tag,
        "-f",
        "-",
    ])
    .arg(context)
    .stdout(Stdio::null());
    run_with_stdin(&mut cmd, dockerfile.as_bytes(), "Dockerfile")
}

/// Echoes and runs `cmd` with `input` on its stdin, stdout and stderr
/// inherited; fails unless it exits 0.
fn run_with_stdin(cmd: &mut Command, input: &[u8], what: &str) -> Result<(), Error> {
    eprintln!("$ {} < ({what}, {} bytes)", cmd::line(cmd), input.len());
    let shown = cmd::line(cmd);
    let fail = |e: std::io::Error| Error::fail(format!("could not run `{shown}`: {e}"));
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(fail)?;
    let written = child.stdin.take().expect("stdin is piped").write_all(input);
    let status = child.wait().map_err(fail)?;
    written.map_err(fail)?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::fail(format!(
            "`{}` failed ({status})",
            cmd::line(cmd)
        )))
    }
}

/// `docker run --rm --pull never --network none --platform P TAG`: a missing
/// tag fails at once instead of trying a registry.
pub fn run_command(platform: &str, tag: &str) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args([
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "--platform",
        platform,
        tag,
    ]);
    cmd
}

/// `run_command`, echoed, failing unless it exits 0: its stdout.
pub fn run(platform: &str, tag: &str) -> Result<Vec<u8>, Error> {
    cmd::stdout(&mut run_command(platform, tag))
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

/// Removes every tag of `repository` (`docker rmi REPOSITORY:TAG ...`), and
/// so only what was tagged under that name: an image that another name
/// also tags stays, untagged from this one. Returns how many tags it removed.
pub fn remove_repository(repository: &str) -> Result<usize, Error> {
    let out = cmd::stdout(Command::new("docker").args([
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        repository,
    ]))?;
    let tags: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .filter(|t| t.starts_with(&format!("{repository}:")))
        .map(str::to_string)
        .collect();
    if !tags.is_empty() {
        cmd::stdout(Command::new("docker").arg("rmi").args(&tags))?;
    }
    Ok(tags.len())
}
