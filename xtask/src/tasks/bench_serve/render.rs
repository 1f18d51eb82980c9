//! docs/serve.md's block: the load table (the median of each point's runs and
//! their spread), the servers table (design, memory per idle connection,
//! image), the h2load cross-check and the issue's goals, each ratio computed
//! here from the run's JSON alone, so it can be drawn again from the
//! committed docs/serve-bench.json.
use std::fmt::Write as _;

use serde_json::Value;

use super::goals::{best_peer, goals};
use super::stats::{self, Key, Spread, contender, contenders_of, median, point};
use crate::Error;

/// The whole block.
pub fn table(json: &Value) -> Result<String, Error> {
    let mut s = intro(json);
    load_table(json, &mut s)?;
    servers_table(json, &mut s)?;
    cross_check(json, &mut s);
    goals(json, &mut s);
    s.push_str(&super::site::table(json));
    Ok(s)
}

/// README.md's sentence on the run: serve at 100 keep-alive connections
/// against the best peer and the floor, its memory against nginx's, and the
/// machine memory per idle connection, each from the JSON.
pub fn summary(json: &Value) -> Result<String, Error> {
    let at = stats::keep_alive(json, 100);
    let serve = |what| median_of(json, "serve", at, what);
    let missing = |what: &str| Error::fail(format!("the run has no {what} at 100 connections"));
    let rps = serve("rps").ok_or_else(|| missing("requests/s for serve"))?;
    let p99 = serve("p99_ms").ok_or_else(|| missing("p99 for serve"))?;
    let pss = serve("pss_kib").ok_or_else(|| missing("PSS for serve"))?;
    let (peer, peer_rps) =
        best_peer(json, at, "rps", false).ok_or_else(|| missing("peer with requests/s"))?;
    let (p99_peer, peer_p99) =
        best_peer(json, at, "p99_ms", true).ok_or_else(|| missing("peer with a p99"))?;
    let floor = median_of(json, "floor", at, "rps");
    let nginx_pss = median_of(json, "nginx", at, "pss_kib");
    let most = idle_counts(json).into_iter().max().unwrap_or(0);
    let idle = |name| contender(json, name).and_then(|c| stats::idle(c, most, false));
    let mut s = format!(
        "at 100 keep-alive connections `serve` answered {rps:.0} requests/s, {} times the best \
         peer's ({peer})",
        shown_ratio(ratio(Some(rps), Some(peer_rps)))
    );
    if floor.is_some() {
        let _ = write!(
            s,
            " and {} times the C floor's",
            shown_ratio(ratio(Some(rps), floor))
        );
    }
    let _ = write!(
        s,
        "; its p99 latency was {p99:.2} ms, {} times the lowest peer's ({p99_peer}); its \
         processes' memory (PSS) was {pss:.0} KiB",
        shown_ratio(ratio(Some(p99), Some(peer_p99)))
    );
    if let Some(n) = nginx_pss {
        let _ = write!(s, " against nginx's {n:.0}");
    }
    if let (Some(ours), Some(theirs)) = (idle("serve"), idle("nginx")) {
        let _ = write!(
            s,
            "; each of {most} idle connections cost {:.1} KiB of machine memory, kernel \
             included, against nginx's {:.1}",
            ours.median, theirs.median
        );
    }
    s.push('.');
    Ok(s)
}

fn intro(json: &Value) -> String {
    let runs = json["repetitions"].as_u64().unwrap_or(1);
    format!(
        "{}, `wrk {}` (`-H '{}'` for Connection: close), {} CPUs, a {}-byte page and a {}-byte \
         one; {runs} {} per point, interleaved across the servers: each figure is the median, \
         with the lowest and highest in brackets. \"x best peer\" is against the best of {} at the \
         same point; \"no requests\": the point's median run completed none (it spent its time \
         connecting), so it has no rate or latency and is not judged.\n\n",
        json["wrk"]["version"].as_str().unwrap_or("?"),
        json["wrk"]["flags"].as_str().unwrap_or("?"),
        json["wrk"]["close_header"].as_str().unwrap_or("?"),
        json["cpus"],
        json["page_bytes"],
        json["big_page_bytes"],
        if runs == 1 { "run" } else { "runs" },
        names(&json["peers"]),
    )
}

/// `["a", "b", "c"]` as "a, b or c".
fn names(list: &Value) -> String {
    let v: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match v.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => "?".into(),
    }
}

/// "10", "100, Connection: close", "100, 1 MiB page".
pub(super) fn label(json: &Value, key: Key) -> String {
    if key.close {
        format!("{}, Connection: close", key.connections)
    } else if Some(key.page_bytes) != json["page_bytes"].as_u64() {
        if key.page_bytes == 1 << 20 {
            format!("{}, 1 MiB page", key.connections)
        } else {
            format!("{}, {}-byte page", key.connections, key.page_bytes)
        }
    } else {
        key.connections.to_string()
    }
}

/// The points of the run, in the order measured (the first contender's).
fn keys(json: &Value) -> Result<Vec<Key>, Error> {
    Ok(contenders_of(json)?
        .first()
        .and_then(|c| c["points"].as_array())
        .into_iter()
        .flatten()
        .map(Key::of)
        .collect())
}

/// A median with its spread, `decimals` places; the median alone for one run.
fn shown(s: Option<Spread>, decimals: usize) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.min == s.max => format!("{:.*}", decimals, s.median),
        Some(s) => format!(
            "{:.*} ({:.*}–{:.*})",
            decimals, s.median, decimals, s.min, decimals, s.max
        ),
    }
}

pub(super) fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

pub(super) fn shown_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

/// The median of `what` of contender `name` at `key`.
pub(super) fn median_of(json: &Value, name: &str, key: Key, what: &str) -> Option<f64> {
    median(point(contender(json, name)?, key)?, what)
}

fn load_table(json: &Value, s: &mut String) -> Result<(), Error> {
    s.push_str(
        "| server | connections | requests/s | x best peer | p50 ms | p99 ms | x best peer | errors | PSS KiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let keys = keys(json)?;
    for c in contenders_of(json)? {
        for &key in &keys {
            let Some(p) = point(c, key) else { continue };
            let rps = stats::spread(&p["runs"], "rps");
            let p99 = stats::spread(&p["runs"], "p99_ms");
            let best_rps = best_peer(json, key, "rps", false).map(|b| b.1);
            let best_p99 = best_peer(json, key, "p99_ms", true).map(|b| b.1);
            if stats::empty(p) {
                let _ = writeln!(
                    s,
                    "| {} | {} | no requests | - | - | - | - | {} | {:.0} |",
                    c["name"].as_str().unwrap_or("?"),
                    label(json, key),
                    stats::sum(p, "errors"),
                    median(p, "pss_kib").unwrap_or(0.0),
                );
                continue;
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.3} | {} | {} | {} | {:.0} |",
                c["name"].as_str().unwrap_or("?"),
                label(json, key),
                shown(rps, 0),
                shown_ratio(ratio(rps.map(|r| r.median), best_rps)),
                median(p, "p50_ms").unwrap_or(0.0),
                shown(p99, 2),
                shown_ratio(ratio(p99.map(|r| r.median), best_p99)),
                stats::sum(p, "errors"),
                median(p, "pss_kib").unwrap_or(0.0),
            );
        }
    }
    Ok(())
}

pub(super) fn idle_counts(json: &Value) -> Vec<u64> {
    json["idle_connections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect()
}

fn servers_table(json: &Value, s: &mut String) -> Result<(), Error> {
    let counts = idle_counts(json);
    let fewest = counts.iter().copied().min().unwrap_or(1).max(1);
    let cpus = json["cpus"].as_u64().unwrap_or(1);
    let baseline = json["baseline"].as_str().unwrap_or("nginx");
    s.push_str("\n| server | version | design |");
    for n in &counts {
        let _ = write!(
            s,
            " KiB per idle connection, {n} | the kernel's | x {baseline} |"
        );
    }
    s.push_str(" image bytes |\n|---|---|---|");
    s.push_str(&"---:|---:|---:|".repeat(counts.len()));
    s.push_str("---:|\n");
    let base = contender(json, baseline);
    for c in contenders_of(json)? {
        let _ = write!(
            s,
            "| {} | {} | {} |",
            c["name"].as_str().unwrap_or("?"),
            c["version"].as_str().unwrap_or("?"),
            c["design"].as_str().unwrap_or("?"),
        );
        for &n in &counts {
            let mine = stats::idle(c, n, false);
            let theirs = base.and_then(|b| stats::idle(b, n, false));
            // Fewer open than asked for: the server's limit or idle timeout
            // closed some.
            let partly = match stats::idle_open(c, n) {
                Some(open) if open > 0 && open < n => format!(", {open} open"),
                _ => String::new(),
            };
            let _ = write!(
                s,
                " {}{partly} | {} | {} |",
                shown(mine, 1),
                shown(stats::idle(c, n, true), 1),
                shown_ratio(ratio(mine.map(|m| m.median), theirs.map(|t| t.median)))
            );
        }
        let _ = writeln!(
            s,
            " {} |",
            c["image_bytes"]
                .as_u64()
                .map_or("-".to_string(), |b| b.to_string())
        );
    }
    let _ = writeln!(
        s,
        "\nMemory per idle connection: each server runs in a memory cgroup of its own; {} \
         keep-alive connections are opened to it, one request each, and held; the figure is \
         the rise in the cgroup's charge from before they were opened to while they are held \
         (cgroup v1: memory.usage_in_bytes plus memory.kmem.tcp.usage_in_bytes), over the \
         connections. It counts the server's pages and the kernel memory charged to it: \
         socket, file and epoll objects (slab), socket buffers, kernel stacks and page tables \
         (\"the kernel's\": that share). The clients' ends are not in it. \"N open\": the \
         server closed some (its connection limit), and the figure is over those still \
         open; \"-\": the server closed them all. The kernel charges a cgroup ahead, up to \
         64 pages (256 KiB) per CPU, so a figure may be high by up to {:.2} KiB at {} \
         connections ({} CPUs).",
        counts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
        256.0 * cpus as f64 / fewest as f64,
        fewest,
        cpus
    );
    Ok(())
}

/// h2load's requests per second over wrk's at the same point, for each
/// contender h2load ran against.
fn cross_check(json: &Value, s: &mut String) {
    let Ok(contenders) = contenders_of(json) else {
        return;
    };
    let at = json["h2load"]["connections"].as_u64().unwrap_or(0);
    let key = stats::keep_alive(json, at);
    let parts: Vec<String> = contenders
        .iter()
        .filter(|c| c["h2load"].as_array().is_some_and(|a| !a.is_empty()))
        .map(|c| {
            let h2 = stats::spread(&c["h2load"], "rps").map(|r| r.median);
            let wrk = point(c, key).and_then(|p| median(p, "rps"));
            format!(
                "{} {} ({} / {})",
                c["name"].as_str().unwrap_or("?"),
                shown_ratio(ratio(h2, wrk)),
                h2.map_or("-".into(), |v| format!("{v:.0}")),
                wrk.map_or("-".into(), |v| format!("{v:.0}")),
            )
        })
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(
            s,
            "\nThe second load generator, {} (`h2load {}`) at {at} connections: its requests/s \
             over wrk's (h2load / wrk): {}.",
            json["h2load"]["version"].as_str().unwrap_or("?"),
            json["h2load"]["flags"].as_str().unwrap_or("?"),
            parts.join("; ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run as bench-serve writes it: serve and nginx at 100 keep-alive
    /// connections three times, everyone once at Connection: close; idle
    /// memory at 1000 (h2o without a figure, busybox closing them).
    fn run() -> Value {
        let ka = |runs: &str| {
            format!(r#"{{"connections": 100, "close": false, "page_bytes": 62, "runs": [{runs}]}}"#)
        };
        let close = |runs: &str| {
            format!(r#"{{"connections": 100, "close": true, "page_bytes": 62, "runs": [{runs}]}}"#)
        };
        let r = |rps: u32, p99: f64, pss: u32, errors: u32| {
            format!(
                r#"{{"rps": {rps}, "requests": {}, "p50_ms": {}, "p99_ms": {p99}, "errors": {errors},
                    "pss_kib": {pss}}}"#,
                rps * 10,
                p99 / 4.0
            )
        };
        // The cgroup rose by `fall` KiB, four fifths of it the kernel's.
        let idle = |open: u32, fall: u32| {
            format!(
                r#"[{{"connections": 1000, "runs": [{{"open": {open}, "before_bytes": 1048576,
                   "held_bytes": {}, "kernel_before_bytes": 0, "kernel_held_bytes": {}}}]}}]"#,
                1048576 + fall * 1024,
                fall * 1024 * 4 / 5
            )
        };
        let c = |name: &str, points: [String; 2], h2load: &str, idle: &str| {
            format!(
                r#"{{"name": "{name}", "version": "{name} 1", "design": "its way",
                    "image_bytes": null, "points": [{}, {}], "h2load": [{h2load}], "idle": {idle}}}"#,
                points[0], points[1]
            )
        };
        let text = format!(
            r#"{{
              "baseline": "nginx", "peers": ["nginx", "lighttpd", "h2o"], "floor": "floor",
              "connections": [100], "extra_connections": 100, "idle_connections": [1000],
              "repetitions": 3, "cpus": 2, "page_bytes": 62, "big_page_bytes": 1048576,
              "wrk": {{"version": "wrk 4.1.0", "flags": "-t2 -c<connections> -d10s",
                      "close_header": "Connection: close"}},
              "h2load": {{"version": "h2load nghttp2/1.52.0", "flags": "--h1 -t2 -c<connections> -D10",
                         "connections": 100}},
              "contenders": [{}, {}, {}, {}, {}, {}]
            }}"#,
            c(
                "serve",
                [
                    ka(&[
                        r(60000, 4.0, 1204, 0),
                        r(58000, 5.0, 1210, 1),
                        r(61000, 3.0, 1200, 0)
                    ]
                    .join(",")),
                    close(&r(9000, 30.0, 100, 0)),
                ],
                r#"{"rps": 57000}, {"rps": 59000}, {"rps": 58000}"#,
                &idle(1000, 10000),
            ),
            c(
                "nginx",
                [ka(&r(40000, 8.0, 9000, 0)), close(&r(10000, 20.0, 9100, 0))],
                r#"{"rps": 44000}"#,
                &idle(1000, 5000),
            ),
            c(
                "lighttpd",
                [ka(&r(59000, 5.0, 1500, 0)), close(&r(8000, 25.0, 1600, 0))],
                "",
                &idle(1000, 3000),
            ),
            c(
                "h2o",
                // At Connection: close, a run that completed no request.
                [ka(&r(62000, 6.0, 8000, 0)), close(&r(0, 0.0, 8100, 0))],
                "",
                r#"[{"connections": 1000, "runs": []}]"#,
            ),
            c(
                "busybox httpd",
                [ka(&r(3000, 90.0, 900, 7)), close(&r(3000, 9.0, 900, 0))],
                "",
                &idle(0, 0),
            ),
            c(
                "floor",
                [ka(&r(64000, 2.0, 200, 0)), close(&r(12000, 10.0, 200, 0))],
                "",
                &idle(500, 1000),
            ),
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn table_gives_medians_spreads_and_every_goal_as_measured() {
        // Medians of three runs with their spread, one run alone; each ratio
        // against the best peer at that point (h2o for requests/s at 100,
        // lighttpd for p99), nginx for memory, the floor; "-" where there is
        // no figure (h2o measured no idle runs, busybox closed them); the
        // floor's figure over the 500 connections it kept open; h2o's point
        // without requests shown so and left out of the best peer (its p99
        // of 0 would be the lowest).
        assert_eq!(
            table(&run()).unwrap(),
            "\
             wrk 4.1.0, `wrk -t2 -c<connections> -d10s` (`-H 'Connection: close'` for Connection: close), 2 CPUs, a 62-byte page and a 1048576-byte one; 3 runs per point, interleaved across the servers: each figure is the median, with the lowest and highest in brackets. \"x best peer\" is against the best of nginx, lighttpd or h2o at the same point; \"no requests\": the point's median run completed none (it spent its time connecting), so it has no rate or latency and is not judged.\n\
             \n\
             | server | connections | requests/s | x best peer | p50 ms | p99 ms | x best peer | errors | PSS KiB |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|\n\
             | serve | 100 | 60000 (58000–61000) | 0.97 | 1.000 | 4.00 (3.00–5.00) | 0.80 | 1 | 1204 |\n\
             | serve | 100, Connection: close | 9000 | 0.90 | 7.500 | 30.00 | 1.50 | 0 | 100 |\n\
             | nginx | 100 | 40000 | 0.65 | 2.000 | 8.00 | 1.60 | 0 | 9000 |\n\
             | nginx | 100, Connection: close | 10000 | 1.00 | 5.000 | 20.00 | 1.00 | 0 | 9100 |\n\
             | lighttpd | 100 | 59000 | 0.95 | 1.250 | 5.00 | 1.00 | 0 | 1500 |\n\
             | lighttpd | 100, Connection: close | 8000 | 0.80 | 6.250 | 25.00 | 1.25 | 0 | 1600 |\n\
             | h2o | 100 | 62000 | 1.00 | 1.500 | 6.00 | 1.20 | 0 | 8000 |\n\
             | h2o | 100, Connection: close | no requests | - | - | - | - | 0 | 8100 |\n\
             | busybox httpd | 100 | 3000 | 0.05 | 22.500 | 90.00 | 18.00 | 7 | 900 |\n\
             | busybox httpd | 100, Connection: close | 3000 | 0.30 | 2.250 | 9.00 | 0.45 | 0 | 900 |\n\
             | floor | 100 | 64000 | 1.03 | 0.500 | 2.00 | 0.40 | 0 | 200 |\n\
             | floor | 100, Connection: close | 12000 | 1.20 | 2.500 | 10.00 | 0.50 | 0 | 200 |\n\
             \n\
             | server | version | design | KiB per idle connection, 1000 | the kernel's | x nginx | image bytes |\n\
             |---|---|---|---:|---:|---:|---:|\n\
             | serve | serve 1 | its way | 10.0 | 8.0 | 2.00 | - |\n\
             | nginx | nginx 1 | its way | 5.0 | 4.0 | 1.00 | - |\n\
             | lighttpd | lighttpd 1 | its way | 3.0 | 2.4 | 0.60 | - |\n\
             | h2o | h2o 1 | its way | - | - | - | - |\n\
             | busybox httpd | busybox httpd 1 | its way | - | - | - | - |\n\
             | floor | floor 1 | its way | 2.0, 500 open | 1.6 | 0.40 | - |\n\
             \n\
             Memory per idle connection: each server runs in a memory cgroup of its own; 1000 keep-alive connections are opened to it, one request each, and held; the figure is the rise in the cgroup's charge from before they were opened to while they are held (cgroup v1: memory.usage_in_bytes plus memory.kmem.tcp.usage_in_bytes), over the connections. It counts the server's pages and the kernel memory charged to it: socket, file and epoll objects (slab), socket buffers, kernel stacks and page tables (\"the kernel's\": that share). The clients' ends are not in it. \"N open\": the server closed some (its connection limit), and the figure is over those still open; \"-\": the server closed them all. The kernel charges a cgroup ahead, up to 64 pages (256 KiB) per CPU, so a figure may be high by up to 0.51 KiB at 1000 connections (2 CPUs).\n\
             \n\
             The second load generator, h2load nghttp2/1.52.0 (`h2load --h1 -t2 -c<connections> -D10`) at 100 connections: its requests/s over wrk's (h2load / wrk): serve 0.97 (58000 / 60000); nginx 1.10 (44000 / 40000).\n\
             \n\
             Goals for serve, from the medians above:\n\
             \n\
             | connections | requests/s >= 1.0 x best peer | p99 <= 1.0 x best peer | PSS <= 0.5 x nginx | PSS <= 1.0 x lighttpd |\n\
             |---|---|---|---|---|\n\
             | 100 | 0.97 (missed) against h2o | 0.80 (met) against lighttpd | 0.13 (met) | 0.80 (met) |\n\
             | 100, Connection: close | 0.90 (missed) against nginx | 1.50 (missed) against nginx | 0.01 (met) | 0.06 (met) |\n\
             \n\
             Memory per idle connection <= 1.0 x nginx's: 2.00 (missed) at 1000.\n\
             Requests/s >= 0.9 x the floor's at 100 connections: 0.94 (met).\n\
             "
        );
    }

    /// A point where serve completed no request is not judged on the load,
    /// and still on memory.
    #[test]
    fn an_empty_point_is_not_judged() {
        let mut json = run();
        json["contenders"][0]["points"][1]["runs"][0]["requests"] = 0.into();
        let t = table(&json).unwrap();
        assert!(
            t.contains(
                "| 100, Connection: close | - (not judged: serve completed no request) | \
                 - (not judged: serve completed no request) | 0.01 (met) | 0.06 (met) |\n"
            ),
            "{t}"
        );
        assert!(t.contains(
            "| serve | 100, Connection: close | no requests | - | - | - | - | 0 | 100 |"
        ));
    }

    #[test]
    fn table_needs_contenders() {
        let e = table(&serde_json::json!({"wrk": {}})).unwrap_err();
        assert_eq!(e.message, "the JSON has no contenders");
    }
}
