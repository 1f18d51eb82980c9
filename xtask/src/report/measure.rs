//! Measuring: images (build, size, gzipped layer), runs (exec and `docker run`
//! wall time), and `perf stat` counts.
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::{Error, cmd};

/// Echoes and runs `cmd`, capturing both streams; fails with its stderr unless it exits 0.
pub fn quiet(cmd: &mut Command) -> Result<Output, Error> {
    eprintln!("$ {}", cmd::line(cmd));
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::fail(format!("could not run `{}`: {e}", cmd::line(cmd))))?;
    if !out.status.success() {
        return Err(Error::fail(format!(
            "`{}` failed ({}):\n{}",
            cmd::line(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    Ok(out)
}

/// `docker build --platform P -t TAG -f DOCKERFILE CONTEXT`.
pub fn docker_build(
    platform: &str,
    tag: &str,
    dockerfile: &Path,
    context: &Path,
) -> Result<(), Error> {
    // --no-cache: the legacy builder's cache ignores the platform's variant, so
    // arm/v6's image would reuse arm/v7's (same file, same Dockerfile) and say v7.
    quiet(
        Command::new("docker")
            .args([
                "build",
                "-q",
                "--no-cache",
                "--platform",
                platform,
                "-t",
                tag,
                "-f",
            ])
            .arg(dockerfile)
            .arg(context),
    )?;
    Ok(())
}

/// `docker run --rm --pull never --network none --platform P TAG`, whatever its status.
pub fn docker_run(platform: &str, tag: &str) -> Result<Output, Error> {
    let mut run = crate::docker::run_command(platform, tag);
    run.stdin(Stdio::null());
    run.output()
        .map_err(|e| Error::fail(format!("could not run `{}`: {e}", cmd::line(&run))))
}

/// The image's layers as `docker save` writes them, each gzipped as our own image
/// layers are (zopfli, xtask/src/image.rs): the bytes a registry would store and
/// send for them. Returns the sum.
pub fn gzipped_layers(tag: &str) -> Result<u64, Error> {
    let out = quiet(Command::new("docker").args(["save", tag]))?;
    let archive =
        tar_entries(&out.stdout).map_err(|why| Error::fail(format!("docker save {tag}: {why}")))?;
    let find = |name: &str| {
        archive
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, data)| *data)
            .ok_or_else(|| Error::fail(format!("docker save {tag}: no {name} in the archive")))
    };
    let manifest: serde_json::Value = serde_json::from_slice(find("manifest.json")?)
        .map_err(|e| Error::fail(format!("docker save {tag}: manifest.json: {e}")))?;
    let layers = manifest[0]["Layers"]
        .as_array()
        .ok_or_else(|| Error::fail(format!("docker save {tag}: manifest.json has no Layers")))?;
    let mut total = 0;
    for layer in layers {
        let name = layer.as_str().unwrap_or_default();
        total += gzip_len(find(name)?)?;
    }
    Ok(total)
}

/// The length of `data` gzipped as image layers are.
pub fn gzip_len(data: &[u8]) -> Result<u64, Error> {
    Ok(crate::image::gzip(data)?.len() as u64)
}

/// The regular files of a ustar archive: (path, contents).
fn tar_entries(tar: &[u8]) -> Result<Vec<(String, &[u8])>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 512 <= tar.len() {
        let h = &tar[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let text = |r: std::ops::Range<usize>| {
            let f = &h[r];
            let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let size = u64::from_str_radix(text(124..136).trim(), 8)
            .map_err(|_| format!("a tar header at {pos} has no octal size"))?;
        let size = usize::try_from(size).map_err(|_| "a tar entry is too large".to_string())?;
        let mut name = text(0..100);
        if &h[257..262] == b"ustar" {
            let prefix = text(345..500);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let start = pos + 512;
        let data = tar
            .get(start..start + size)
            .ok_or_else(|| format!("the tar entry {name} runs past the end"))?;
        if matches!(h[156], b'0' | 0) {
            out.push((name, data));
        }
        pos = start + size.div_ceil(512) * 512;
    }
    Ok(out)
}

/// The median of `samples` (nanoseconds); the mean of the middle two for an even count.
pub fn median(samples: &mut [u64]) -> u64 {
    samples.sort_unstable();
    let n = samples.len();
    if n == 0 {
        0
    } else if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}

/// One timed run of `program args` with stdout to /dev/null: wall nanoseconds,
/// from before the spawn to after the wait. Fails unless it exits 0.
pub fn exec_once(program: &Path, args: &[String]) -> Result<u64, Error> {
    let mut c = Command::new(program);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let status = c
        .status()
        .map_err(|e| Error::fail(format!("could not run {}: {e}", program.display())))?;
    let ns = start.elapsed().as_nanos() as u64;
    if !status.success() {
        return Err(Error::fail(format!(
            "{} exited with {status} during the timed runs",
            cmd::line(&c)
        )));
    }
    Ok(ns)
}

/// One timed `docker run`; fails unless it prints `message` and exits 0.
pub fn docker_once(platform: &str, tag: &str, message: &[u8]) -> Result<u64, Error> {
    let start = Instant::now();
    let out = docker_run(platform, tag)?;
    let ns = start.elapsed().as_nanos() as u64;
    if !out.status.success() || out.stdout != message {
        return Err(Error::fail(format!(
            "docker run {tag} exited with {} and printed {} bytes during the timed runs",
            out.status,
            out.stdout.len()
        )));
    }
    Ok(ns)
}

/// What `perf stat` can count here, probed on `true`.
pub struct Perf {
    /// The events that count, as perf spells them.
    pub events: Vec<&'static str>,
    /// Why a wanted event is not counted, per event.
    pub unavailable: Vec<(&'static str, String)>,
}

pub const INSTRUCTIONS: &str = "instructions:u";
pub const PAGE_FAULTS: &str = "page-faults";

/// `perf stat -x, -e instructions:u,page-faults true`: which of the two count.
pub fn perf_probe() -> Perf {
    let wanted = [INSTRUCTIONS, PAGE_FAULTS];
    let out = cmd::probe(
        Command::new("perf")
            .args(["stat", "-x,", "-e", &wanted.join(",")])
            .arg("true"),
    );
    let Some(out) = out else {
        return Perf {
            events: Vec::new(),
            unavailable: wanted
                .iter()
                .map(|&e| {
                    (
                        e,
                        "perf is not installed (apt-get install linux-perf)".into(),
                    )
                })
                .collect(),
        };
    };
    let counts = perf_counts(&String::from_utf8_lossy(&out.stderr));
    let mut perf = Perf {
        events: Vec::new(),
        unavailable: Vec::new(),
    };
    for e in wanted {
        match counts.iter().find(|(name, _)| name == e) {
            Some((_, Ok(_))) if out.status.success() => perf.events.push(e),
            Some((_, Err(why))) => perf.unavailable.push((
                e,
                format!("`perf stat -e {e} true` says {why} (no hardware counters here?)"),
            )),
            _ => perf.unavailable.push((
                e,
                format!(
                    "`perf stat -e {e} true` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("no output")
                ),
            )),
        }
    }
    perf
}

/// Parses `perf stat -x,` lines: (event, count or why not).
fn perf_counts(stderr: &str) -> Vec<(String, Result<f64, String>)> {
    stderr
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() < 3 {
                return None;
            }
            let value = f[0].trim();
            let count = value.parse::<f64>().map_err(|_| value.to_string());
            Some((f[2].trim().to_string(), count))
        })
        .collect()
}

/// Mean counts per run over `runs` runs: `perf stat -r RUNS -x, -e EVENTS -- program args`.
pub fn perf_stat(
    perf: &Perf,
    runs: u32,
    program: &Path,
    args: &[String],
) -> Result<Vec<(&'static str, f64)>, Error> {
    if perf.events.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = Command::new("perf");
    c.args(["stat", "-r", &runs.to_string(), "-x,", "-e"])
        .arg(perf.events.join(","))
        .arg("--")
        .arg(program)
        .args(args)
        .stdout(Stdio::null());
    let out = quiet(&mut c)?;
    let counts = perf_counts(&String::from_utf8_lossy(&out.stderr));
    Ok(perf
        .events
        .iter()
        .filter_map(|&e| {
            counts
                .iter()
                .find(|(n, _)| n == e)
                .and_then(|(_, c)| c.as_ref().ok().map(|&v| (e, v)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [5, 1, 3]), 3);
        assert_eq!(median(&mut [4, 1, 3, 2]), 2);
    }

    #[test]
    fn perf_csv() {
        let c = perf_counts(
            "<not supported>,,instructions:u,0,100.00,,\n49,,page-faults,748288,100.00,,\n",
        );
        assert_eq!(c[0].0, "instructions:u");
        assert!(c[0].1.is_err());
        assert_eq!(c[1], ("page-faults".to_string(), Ok(49.0)));
    }
}
