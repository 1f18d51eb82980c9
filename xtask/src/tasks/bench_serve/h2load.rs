//! `h2load --h1` (nghttp2's load generator, in HTTP/1.1 mode): the second
//! generator, which cross-checks wrk's requests per second at one point.
use std::ffi::OsString;
use std::process::Stdio;

use super::servers::with_nofile;
use super::wrk::THREADS;
use crate::Error;
use crate::core::cmd;

/// What one h2load run measured.
#[derive(Debug, PartialEq)]
pub struct Load {
    pub rps: f64,
    /// Requests that completed with any status.
    pub requests: u64,
    /// Failed, errored or timed-out requests, and answers other than 2xx.
    pub errors: u64,
}

/// The flags every run uses, as the JSON records them.
pub fn flags(seconds: u32) -> String {
    format!("--h1 -t{THREADS} -c<connections> -D{seconds}")
}

/// h2load against `port` at `conns` connections for `seconds`.
pub fn run(name: &str, port: u16, conns: u32, seconds: u32) -> Result<Load, Error> {
    let args: Vec<OsString> = vec![
        "h2load".into(),
        "--h1".into(),
        format!("-t{THREADS}").into(),
        format!("-c{conns}").into(),
        format!("-D{seconds}").into(),
        format!("http://127.0.0.1:{port}/").into(),
    ];
    let mut h2load = with_nofile(&args);
    eprintln!("$ {}", cmd::line(&h2load));
    let out = h2load
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::fail(format!("could not run h2load: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::fail(format!(
            "h2load failed ({}) against {name}:\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    parse(&text).ok_or_else(|| Error::fail(format!("could not read h2load's output:\n{text}")))
}

/// h2load's summary; `None` without its `finished in` and `requests:` lines.
pub fn parse(text: &str) -> Option<Load> {
    let mut rps = None;
    let mut counts = None;
    let mut not_2xx = 0;
    for line in text.lines().map(str::trim) {
        // finished in 1.00s, 84674.00 req/s, 5.98MB/s
        if let Some(v) = line.strip_prefix("finished in ") {
            rps = v.split(", ").nth(1)?.strip_suffix(" req/s")?.parse().ok();
        // requests: 84674 total, 84684 started, 84674 done, 84674 succeeded, 0 failed, 0 errored, 0 timeout
        } else if let Some(v) = line.strip_prefix("requests: ") {
            let field = |name: &str| {
                v.split(", ")
                    .find_map(|f| f.strip_suffix(name)?.trim().parse::<u64>().ok())
            };
            counts = Some((
                field(" done")?,
                field(" failed")? + field(" errored")? + field(" timeout")?,
            ));
        // status codes: 84674 2xx, 0 3xx, 0 4xx, 0 5xx
        } else if let Some(v) = line.strip_prefix("status codes: ") {
            not_2xx = v
                .split(", ")
                .filter(|f| !f.ends_with(" 2xx"))
                .filter_map(|f| f.split(' ').next()?.parse::<u64>().ok())
                .sum();
        }
    }
    let (requests, failed) = counts?;
    Some(Load {
        rps: rps?,
        requests,
        errors: failed + not_2xx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// h2load 1.52.0 (Debian's) against the floor, its summary as printed.
    const RUN: &str = "\
starting benchmark...
spawning thread #0: 5 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
Main benchmark duration is over for thread #1. Stopping all clients.
Stopped all clients for thread #1

finished in 1.00s, 84674.00 req/s, 5.98MB/s
requests: 84674 total, 84684 started, 84674 done, 84670 succeeded, 1 failed, 2 errored, 3 timeout
status codes: 84670 2xx, 0 3xx, 4 4xx, 0 5xx
traffic: 5.98MB (6265876) total, 2.99MB (3133123) headers (space savings 0.00%), 826.94KB (846790) data
                     min         max         mean         sd        +/- sd
time for request:       14us      5.70ms       117us       256us    98.48%
req/s           :    7813.45    10843.68     8466.50     1251.32    80.00%
";

    #[test]
    fn reads_the_summary() {
        assert_eq!(
            parse(RUN),
            Some(Load {
                rps: 84674.0,
                requests: 84674,
                errors: 1 + 2 + 3 + 4,
            })
        );
    }

    #[test]
    fn output_without_the_summary_is_not_read() {
        assert_eq!(
            parse("starting benchmark...\nconnect: Connection refused"),
            None
        );
        let no_requests: String = RUN
            .lines()
            .filter(|l| !l.starts_with("requests:"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&no_requests), None);
    }
}
