//! Measuring: images (build, size, gzipped layer), runs (exec and `docker run`
//! wall time), and `perf stat` counts.
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::core::cmd;

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
    let mut run = crate::run::docker::run_command(platform, tag);
    run.stdin(Stdio::null());
    run.output()
        .map_err(|e| Error::fail(format!("could not run `{}`: {e}", cmd::line(&run))))
}

/// The image's layers as `docker save` writes them, each gzipped as our own image
/// layers are (zopfli, xtask/src/oci/mod.rs): the bytes a registry would store and
/// send for them, in manifest order.
pub fn gzipped_layers(tag: &str) -> Result<Vec<Vec<u8>>, Error> {
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
    let mut out = Vec::new();
    for layer in layers {
        let name = layer.as_str().unwrap_or_default();
        out.push(crate::oci::tar::gzip(find(name)?)?);
    }
    Ok(out)
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

/// `docker pull IMAGE`, stopped after `timeout`: one line saying what happened.
/// Ok(size) when it pulled (the image's `docker image inspect` size).
pub fn pull(image: &str, timeout: Duration) -> Result<u64, String> {
    let mut c = Command::new("docker");
    c.args(["pull", "-q", image])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    eprintln!("$ {} (for at most {} s)", cmd::line(&c), timeout.as_secs());
    let start = Instant::now();
    let mut child = c
        .spawn()
        .map_err(|e| format!("could not run `{}`: {e}", cmd::line(&c)))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`docker pull {image}` did not finish within {} s",
                    timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for `docker pull {image}`: {e}")),
        }
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    if !status.success() {
        let said = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim()
            .replace('|', "/");
        return Err(format!(
            "`docker pull {image}` failed after {:.1} s: {said}",
            start.elapsed().as_secs_f64()
        ));
    }
    crate::run::docker::image_size(image).map_err(|e| e.message)
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
    /// The wanted events that do not count here, and why.
    pub unavailable: Vec<Unavailable>,
}

pub struct Unavailable {
    pub event: &'static str,
    /// For a table cell: "unavailable: <short>".
    pub short: &'static str,
    pub why: String,
}

pub const INSTRUCTIONS: &str = "instructions:u";
pub const PAGE_FAULTS: &str = "page-faults";

/// `perf stat -x, -e instructions:u,page-faults true`: which of the two count.
pub fn perf_probe() -> Perf {
    perf_probe_with("perf")
}

/// `perf_probe` with `program` as perf.
pub fn perf_probe_with(program: &str) -> Perf {
    let wanted = [INSTRUCTIONS, PAGE_FAULTS];
    let out = cmd::probe(
        Command::new(program)
            .args(["stat", "-x,", "-e", &wanted.join(",")])
            .arg("true"),
    );
    let Some(out) = out else {
        return Perf {
            events: Vec::new(),
            unavailable: wanted
                .iter()
                .map(|&event| Unavailable {
                    event,
                    short: "perf not installed",
                    why: format!("`{program}` is not installed (apt-get install linux-perf)"),
                })
                .collect(),
        };
    };
    let counts = perf_counts(&String::from_utf8_lossy(&out.stderr));
    let mut perf = Perf {
        events: Vec::new(),
        unavailable: Vec::new(),
    };
    for event in wanted {
        match counts.iter().find(|(name, _)| name == event) {
            Some((_, Ok(_))) if out.status.success() => perf.events.push(event),
            Some((_, Err(why))) => perf.unavailable.push(Unavailable {
                event,
                short: "not supported here",
                why: format!("`perf stat -e {event} true` says {why} (no hardware counters here?)"),
            }),
            _ => perf.unavailable.push(Unavailable {
                event,
                short: "perf stat failed",
                why: format!(
                    "`perf stat -e {event} true` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("no output")
                ),
            }),
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
    fn missing_perf_says_so() {
        let p = perf_probe_with("perf-is-not-installed-here");
        assert!(p.events.is_empty());
        assert_eq!(p.unavailable.len(), 2);
        for u in &p.unavailable {
            assert_eq!(u.short, "perf not installed");
        }
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
