//! The measuring itself: every server runs for the whole benchmark. First
//! the idle connections, then the load: each repetition goes through every
//! idle count (or every point, then the h2load cross-check), each on every
//! server in turn, so that whatever else the machine does at some moment
//! falls on all of them alike and the repetitions interleave. The results
//! are raw: one run per repetition.
use serde_json::{Value, json};

use super::servers::{self, BIG_PATH, Contender, Running};
use super::{CROSS_CHECKED, EXTRA_CONNECTIONS, Options, h2load, memory, wrk};
use crate::Error;
use crate::build::serve;

/// How a point loads a server.
#[derive(Clone, Copy)]
pub struct Point {
    pub connections: u32,
    /// Every request asks `Connection: close`.
    pub close: bool,
    /// The 1 MiB page instead of the default one.
    pub big: bool,
}

impl Point {
    pub fn page_bytes(&self) -> usize {
        if self.big {
            serve::MAX_PAGE_FILE
        } else {
            serve::DEFAULT_PAGE.len()
        }
    }

    /// How the chart names the point, short: "10", "100, close", "100, 1 MiB".
    fn label(&self) -> String {
        match (self.close, self.big) {
            (true, _) => format!("{}, close", self.connections),
            (_, true) => format!("{}, 1 MiB", self.connections),
            _ => self.connections.to_string(),
        }
    }

    /// The point in a progress line.
    fn what(&self) -> String {
        match (self.close, self.big) {
            (true, _) => format!("{} connections, Connection: close", self.connections),
            (_, true) => format!("{} connections, 1 MiB page", self.connections),
            _ => format!("{} connections", self.connections),
        }
    }
}

/// The points of a run: each keep-alive count, then `Connection: close` and
/// the 1 MiB page at EXTRA_CONNECTIONS.
pub fn points(opts: &Options) -> Vec<Point> {
    let mut out: Vec<Point> = opts
        .connections
        .iter()
        .map(|&connections| Point {
            connections,
            close: false,
            big: false,
        })
        .collect();
    out.push(Point {
        connections: EXTRA_CONNECTIONS,
        close: true,
        big: false,
    });
    out.push(Point {
        connections: EXTRA_CONNECTIONS,
        close: false,
        big: true,
    });
    out
}

/// One contender's results, as JSON arrays.
pub struct Measured {
    /// One object per point: how it loads, and `runs`.
    pub points: Value,
    /// h2load's runs at EXTRA_CONNECTIONS (empty unless CROSS_CHECKED).
    pub h2load: Value,
    /// One object per idle count: `connections` and `runs`.
    pub idle: Value,
}

pub fn run(opts: &Options, contenders: &[Contender]) -> Result<Vec<Measured>, Error> {
    let max_idle = opts.idle.iter().copied().max().unwrap_or(0);
    memory::raise_nofile(u64::from(max_idle) + 100)?;
    let mut running = Vec::new();
    for c in contenders {
        println!(
            "bench-serve: starting {} ({}) on port {}",
            c.name, c.version, c.main.port
        );
        let server = Running::start(c)?;
        for (port, path, page) in [
            (c.main.port, "/", serve::DEFAULT_PAGE.to_vec()),
            (c.big_port(), BIG_PATH, servers::big_page()),
        ] {
            servers::check_page(port, path, &page).map_err(|e| {
                Error::fail(format!(
                    "{} on port {port} does not serve {path} as written: {e}",
                    c.name
                ))
            })?;
        }
        running.push(server);
    }
    let points = points(opts);
    let mut out: Vec<Measured> = contenders
        .iter()
        .map(|_| Measured {
            points: Value::Array(
                points
                    .iter()
                    .map(|p| {
                        json!({
                            "label": p.label(),
                            "connections": p.connections,
                            "close": p.close,
                            "page_bytes": p.page_bytes(),
                            "runs": [],
                        })
                    })
                    .collect(),
            ),
            h2load: json!([]),
            idle: Value::Array(
                opts.idle
                    .iter()
                    .map(|n| json!({"connections": n, "runs": []}))
                    .collect(),
            ),
        })
        .collect();
    let n_cross = contenders
        .iter()
        .filter(|c| CROSS_CHECKED.contains(&c.name))
        .count();
    let per_round = contenders.len() * (points.len() + opts.idle.len()) + n_cross;
    let total = per_round * opts.repetitions as usize;
    let mut n = 0;
    let mut step = |what: String| {
        n += 1;
        println!("bench-serve [{n}/{total}]: {what}");
    };
    // The idle connections first, before any load has grown the servers'
    // pools and buffers.
    for rep in 1..=opts.repetitions {
        let of = format!("repetition {rep} of {}", opts.repetitions);
        for (k, &count) in opts.idle.iter().enumerate() {
            for (i, c) in contenders.iter().enumerate() {
                step(format!(
                    "{} holding {count} idle connections ({of})",
                    c.name
                ));
                let m = memory::idle(
                    c.main.port,
                    count,
                    serve::DEFAULT_PAGE.len(),
                    running[i].pid(),
                    &running[i].group,
                )?;
                let rise = m.held.total as f64 - m.before.total as f64;
                let kernel = m.held.kernel as f64 - m.before.kernel as f64;
                let each = match m.open {
                    0 => "none held open".to_string(),
                    n => format!(
                        "{:.2} KiB each, the kernel's {:.2}",
                        rise / 1024.0 / n as f64,
                        kernel / 1024.0 / n as f64
                    ),
                };
                println!(
                    "  {} held open, its cgroup rose {:.0} KiB ({each}), {} KiB PSS in {} processes",
                    m.open,
                    rise / 1024.0,
                    m.pss_kib,
                    m.processes
                );
                push(
                    &mut out[i].idle[k]["runs"],
                    json!({
                        "open": m.open,
                        "before_bytes": m.before.total,
                        "held_bytes": m.held.total,
                        "kernel_before_bytes": m.before.kernel,
                        "kernel_held_bytes": m.held.kernel,
                        "pss_kib": m.pss_kib,
                        "processes": m.processes,
                    }),
                );
            }
        }
    }
    for rep in 1..=opts.repetitions {
        let of = format!("repetition {rep} of {}", opts.repetitions);
        for (k, p) in points.iter().enumerate() {
            for (i, c) in contenders.iter().enumerate() {
                step(format!(
                    "{} at {} for {} s ({of})",
                    c.name,
                    p.what(),
                    opts.seconds
                ));
                let target = wrk::Target {
                    name: c.name,
                    port: if p.big { c.big_port() } else { c.main.port },
                    path: if p.big { BIG_PATH } else { "/" },
                    conns: p.connections,
                    seconds: opts.seconds,
                    close: p.close,
                    script: None,
                };
                // The server's memory is summed halfway through, under load.
                let pid = if p.big {
                    running[i].big_pid()
                } else {
                    running[i].pid()
                };
                let (load, (pss_kib, processes)) = wrk::run(&target, || memory::pss(pid))?;
                println!(
                    "  {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors, {} KiB PSS in {} processes",
                    load.rps, load.p50_ms, load.p99_ms, load.errors, pss_kib, processes
                );
                push(
                    &mut out[i].points[k]["runs"],
                    json!({
                        "rps": load.rps,
                        "p50_ms": load.p50_ms,
                        "p99_ms": load.p99_ms,
                        "errors": load.errors,
                        "requests": load.requests,
                        "pss_kib": pss_kib,
                        "processes": processes,
                    }),
                );
            }
        }
        for (i, c) in contenders.iter().enumerate() {
            if !CROSS_CHECKED.contains(&c.name) {
                continue;
            }
            step(format!(
                "{} at {EXTRA_CONNECTIONS} connections with h2load for {} s ({of})",
                c.name, opts.seconds
            ));
            let load = h2load::run(c.name, c.main.port, EXTRA_CONNECTIONS, opts.seconds)?;
            println!("  {:.0} req/s, {} errors", load.rps, load.errors);
            push(
                &mut out[i].h2load,
                json!({"rps": load.rps, "requests": load.requests, "errors": load.errors}),
            );
        }
    }
    for mut server in running {
        server.stop();
    }
    Ok(out)
}

fn push(array: &mut Value, v: Value) {
    array.as_array_mut().expect("the runs are an array").push(v);
}
