//! `wrk`: running it against a server on 127.0.0.1, and reading its
//! `--latency` output into numbers.
use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use super::servers::with_nofile;
use crate::Error;
use crate::core::cmd;

/// wrk's threads: one per core of the 2-core machine the numbers are for.
pub const THREADS: u32 = 2;

/// What one wrk run measured.
#[derive(Debug, PartialEq)]
pub struct Load {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Socket errors (connect, read, write, timeout) and non-2xx/3xx answers.
    pub errors: u64,
    pub requests: u64,
}

/// The flags every run uses, as the JSON records them.
pub fn flags(seconds: u32) -> String {
    format!("-t{THREADS} -c<connections> -d{seconds}s --latency --timeout 5s")
}

/// The header the `Connection: close` point adds, so that every request
/// takes a new connection (wrk reconnects when the server closes).
pub const CLOSE: &str = "Connection: close";

/// One wrk run: where, how many connections, how long, and whether each
/// request asks for `Connection: close`.
pub struct Target<'a> {
    pub name: &'a str,
    pub port: u16,
    pub path: &'a str,
    pub conns: u32,
    pub seconds: u32,
    pub close: bool,
    /// wrk's Lua script (`-s`), choosing the requests, when given.
    pub script: Option<&'a std::path::Path>,
}

/// wrk against `t`; `halfway` runs halfway through (to sample the server
/// under load), and its result comes back beside wrk's numbers.
pub fn run<T>(t: &Target, halfway: impl FnOnce() -> T) -> Result<(Load, T), Error> {
    let (name, seconds) = (t.name, t.seconds);
    let mut args: Vec<OsString> = vec![
        "wrk".into(),
        format!("-t{THREADS}").into(),
        format!("-c{}", t.conns).into(),
        format!("-d{seconds}s").into(),
        "--latency".into(),
        "--timeout".into(),
        "5s".into(),
    ];
    if t.close {
        args.extend(["-H".into(), CLOSE.into()]);
    }
    if let Some(s) = t.script {
        args.extend(["-s".into(), s.into()]);
    }
    args.push(format!("http://127.0.0.1:{}{}", t.port, t.path).into());
    let mut wrk = with_nofile(&args);
    eprintln!("$ {}", cmd::line(&wrk));
    let child = wrk
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::fail(format!("could not run wrk: {e}")))?;
    std::thread::sleep(Duration::from_millis(u64::from(seconds) * 500));
    let sampled = halfway();
    let out = child
        .wait_with_output()
        .map_err(|e| Error::fail(format!("wrk: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::fail(format!(
            "wrk failed ({}) against {name}:\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let load =
        parse(&text).ok_or_else(|| Error::fail(format!("could not read wrk's output:\n{text}")))?;
    Ok((load, sampled))
}

/// wrk's `--latency` report; `None` without requests/s, p50 or p99.
pub fn parse(text: &str) -> Option<Load> {
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0;
    let mut requests = 0;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = duration_ms(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_ms(v.trim());
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // connect 0, read 0, write 0, timeout 0
            errors += v
                .split(',')
                .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().ok()?;
        } else if line.contains(" requests in ") {
            requests = line.split_whitespace().next()?.parse().ok()?;
        }
    }
    Some(Load {
        rps: rps?,
        p50_ms: p50?,
        p99_ms: p99?,
        errors,
        requests,
    })
}

/// wrk's `307.00us`, `1.23ms`, `2.00s` in milliseconds.
fn duration_ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    Some(num.parse::<f64>().ok()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wrk 4.1.0 (Debian's) against busybox httpd, as printed; its last line
    /// has no newline.
    const CLEAN: &str = "\
Running 1s test @ http://127.0.0.1:18931/
  2 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.14ms    3.81ms  34.60ms   92.39%
    Req/Sec     1.32k   273.42     1.87k    60.00%
  Latency Distribution
     50%    3.44ms
     75%    4.68ms
     90%    6.56ms
     99%   22.85ms
  2657 requests in 1.01s, 544.89KB read
Requests/sec:   2625.56
Transfer/sec:    538.44KB";

    /// The same shape with errors, latencies in µs and s, as wrk prints them
    /// (its `print_stats_latency` and the two error lines of wrk.c).
    const ERRORS: &str = "\
Running 10s test @ http://127.0.0.1:8080/
  2 threads and 1000 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    30.21ms  150.55ms   1.67s    97.00%
    Req/Sec     1.75k   300.10     2.50k    70.00%
  Latency Distribution
     50%  307.00us
     75%    3.14ms
     90%   10.00ms
     99%    1.67s
  34910 requests in 10.00s, 7.13MB read
  Socket errors: connect 3, read 2, write 0, timeout 14
  Non-2xx or 3xx responses: 5
Requests/sec:   3491.00
Transfer/sec:    730.00KB
";

    #[test]
    fn reads_a_clean_run() {
        assert_eq!(
            parse(CLEAN),
            Some(Load {
                rps: 2625.56,
                p50_ms: 3.44,
                p99_ms: 22.85,
                errors: 0,
                requests: 2657,
            })
        );
    }

    #[test]
    fn counts_socket_errors_and_bad_answers_and_reads_every_unit() {
        let load = parse(ERRORS).unwrap();
        assert_eq!(load.errors, 3 + 2 + 14 + 5);
        assert_eq!(load.requests, 34910);
        assert!((load.p50_ms - 0.307).abs() < 1e-12, "{}", load.p50_ms);
        assert!((load.p99_ms - 1670.0).abs() < 1e-9, "{}", load.p99_ms);
        assert_eq!(load.rps, 3491.0);
    }

    #[test]
    fn output_without_the_figures_is_not_read() {
        // wrk's message when the server is gone: no numbers at all.
        assert_eq!(
            parse("unable to connect to 127.0.0.1:1 Connection refused"),
            None
        );
        // No latency distribution (run without --latency).
        let no_latency: String = CLEAN
            .lines()
            .filter(|l| !l.contains('%'))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&no_latency), None);
        assert_eq!(duration_ms("12.5ms"), Some(12.5));
        assert_eq!(duration_ms("12.5"), None);
    }
}
