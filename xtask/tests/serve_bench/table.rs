//! Checks of the benchmark's table: each figure and ratio recomputed from the
//! raw runs, each goal's verdict recomputed against goals stated here, and
//! the committed run's table and JSON read back.

use super::*;

/// The peers serve's load is judged against (the best of them at each point).
pub(crate) const PEERS: [&str; 3] = ["nginx", "lighttpd", "h2o"];

/// The goals for serve at each judged point, stated here and not
/// read from the code under test: the measure (a run's key), whether serve's
/// median must be at least (or at most) `target` times the reference's, and
/// the reference (`None`: the best peer at that point).
pub(crate) const GOALS: [(&str, bool, f64, Option<&str>); 4] = [
    ("rps", true, 1.0, None),
    ("p99_ms", false, 1.0, None),
    ("pss_kib", false, 0.5, Some("nginx")),
    ("pss_kib", false, 1.0, Some("lighttpd")),
];
/// Memory per idle connection at most this times nginx's.
pub(crate) const IDLE_GOAL: f64 = 1.0;
/// Requests per second at least this times the floor's, at FLOOR_AT.
pub(crate) const FLOOR_GOAL: f64 = 0.9;
pub(crate) const FLOOR_AT: u64 = 100;

/// A point's key: (connections, Connection: close, page bytes).
pub(crate) type Key = (u64, bool, u64);

pub(crate) fn key_of(p: &Value) -> Key {
    (
        p["connections"].as_u64().unwrap(),
        p["close"].as_bool().unwrap(),
        p["page_bytes"].as_u64().unwrap(),
    )
}

/// `contender`'s point at `key` in a serve.json.
pub(crate) fn point<'a>(json: &'a Value, contender: &str, key: Key) -> Option<&'a Value> {
    json["contenders"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == contender)?["points"]
        .as_array()?
        .iter()
        .find(|p| key_of(p) == key)
}

/// The lowest, median and highest of `key` over `runs`.
pub(crate) fn spread(runs: &Value, key: &str) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = runs
        .as_array()?
        .iter()
        .map(|r| r[key].as_f64().unwrap())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((v[0], median, v[n - 1]))
}

pub(crate) fn median(p: &Value, key: &str) -> f64 {
    spread(&p["runs"], key).unwrap().1
}

/// A point whose median run completed no request.
pub(crate) fn empty(p: &Value) -> bool {
    median(p, "requests") == 0.0
}

/// The best peer's name and median of `key` at `at` (highest requests/s,
/// lowest p99), among peers whose point completed requests.
pub(crate) fn best(json: &Value, at: Key, key: &str, at_least: bool) -> Option<(String, f64)> {
    let mut found: Option<(String, f64)> = None;
    for peer in PEERS {
        let Some(p) = point(json, peer, at).filter(|p| !empty(p)) else {
            continue;
        };
        let v = median(p, key);
        if found
            .as_ref()
            .is_none_or(|f| if at_least { v > f.1 } else { v < f.1 })
        {
            found = Some((peer.to_string(), v));
        }
    }
    found
}

fn shown(s: Option<(f64, f64, f64)>, d: usize) -> String {
    match s {
        None => "-".into(),
        Some((lo, m, hi)) if lo == hi => format!("{m:.d$}"),
        Some((lo, m, hi)) => format!("{m:.d$} ({lo:.d$}–{hi:.d$})"),
    }
}

fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// "1.05 (met)": from the measured ratio, not the rounded one (0.9999 shows
/// as 1.00 and misses ">= 1.0").
fn verdict(r: f64, at_least: bool, target: f64) -> String {
    let met = if at_least { r >= target } else { r <= target };
    format!("{r:.2} ({})", if met { "met" } else { "missed" })
}

/// How the table names a point.
pub(crate) fn label(json: &Value, (n, close, bytes): Key) -> String {
    if close {
        format!("{n}, Connection: close")
    } else if bytes == 1 << 20 {
        format!("{n}, 1 MiB page")
    } else {
        assert_eq!(json["page_bytes"], bytes);
        n.to_string()
    }
}

/// The memory per idle connection (KiB) of `c`'s runs at `n` (`kernel`: its
/// kernel share): the rise in its cgroup over the connections still open;
/// `None` when a run kept none open.
fn idle(c: &Value, n: u64, kernel: bool) -> Option<(f64, f64, f64)> {
    let runs = c["idle"]
        .as_array()?
        .iter()
        .find(|i| i["connections"] == n)?["runs"]
        .clone();
    let prefix = if kernel { "kernel_" } else { "" };
    let each: Option<Vec<Value>> = runs
        .as_array()?
        .iter()
        .map(|r| {
            let open = r["open"].as_f64().filter(|&o| o > 0.0)?;
            let rise = r[format!("{prefix}held_bytes")].as_f64()?
                - r[format!("{prefix}before_bytes")].as_f64()?;
            Some(serde_json::json!({"v": rise / 1024.0 / open}))
        })
        .collect();
    spread(&Value::Array(each?), "v")
}

/// The markdown tables of `table` (runs of `| ` lines), each as rows of
/// cells, the header and rule left out.
pub(crate) fn tables(table: &str) -> Vec<Vec<Vec<String>>> {
    let mut out: Vec<Vec<Vec<String>>> = Vec::new();
    let mut last_was_row = false;
    // The page's tables: up to the site point's (bench_serve/site.rs).
    for l in table
        .lines()
        .take_while(|l| !l.starts_with("The site point"))
    {
        let row = l.starts_with("| ");
        if row && !last_was_row {
            out.push(Vec::new());
        }
        if row {
            out.last_mut().unwrap().push(
                l.trim_matches('|')
                    .split(" | ")
                    .map(|c| c.trim().to_string())
                    .collect(),
            );
        }
        last_was_row = row || l.starts_with("|---");
    }
    for t in &mut out {
        t.remove(0);
    }
    out
}

/// `table`, what `bench-serve --table` printed for `json`, holds the JSON's
/// runs as medians and spreads, every ratio recomputed here from them, and
/// the goals' verdicts recomputed here against [`GOALS`].
pub(crate) fn assert_table_recomputed(json: &Value, table: &str, what: &str) {
    let t = tables(table);
    assert_eq!(t.len(), 3, "{what}: the load, servers and goals tables");
    let contenders = json["contenders"].as_array().unwrap();
    let mut load = Vec::new();
    for c in contenders {
        for p in c["points"].as_array().unwrap() {
            let key = key_of(p);
            let errors: u64 = p["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["errors"].as_u64().unwrap())
                .sum();
            let name = c["name"].as_str().unwrap().to_string();
            let pss = format!("{:.0}", median(p, "pss_kib"));
            if empty(p) {
                load.push(vec![
                    name,
                    label(json, key),
                    "no requests".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    errors.to_string(),
                    pss,
                ]);
                continue;
            }
            let rps = spread(&p["runs"], "rps");
            let p99 = spread(&p["runs"], "p99_ms");
            load.push(vec![
                name,
                label(json, key),
                shown(rps, 0),
                ratio(rps.unwrap().1, best(json, key, "rps", true).map(|b| b.1)),
                format!("{:.3}", median(p, "p50_ms")),
                shown(p99, 2),
                ratio(
                    p99.unwrap().1,
                    best(json, key, "p99_ms", false).map(|b| b.1),
                ),
                errors.to_string(),
                pss,
            ]);
        }
    }
    assert_eq!(t[0], load, "{what}: the load table");

    let counts: Vec<u64> = json["idle_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    let nginx = contenders.iter().find(|c| c["name"] == "nginx").unwrap();
    let mut servers = Vec::new();
    for c in contenders {
        let mut row: Vec<String> = ["name", "version", "design"]
            .iter()
            .map(|k| c[*k].as_str().unwrap().to_string())
            .collect();
        for &n in &counts {
            let open = c["idle"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["connections"] == n)
                .unwrap()["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["open"].as_u64().unwrap())
                .min()
                .unwrap();
            let partly = if open > 0 && open < n {
                format!(", {open} open")
            } else {
                String::new()
            };
            let mine = idle(c, n, false);
            row.push(format!("{}{partly}", shown(mine, 1)));
            row.push(shown(idle(c, n, true), 1));
            row.push(match mine {
                Some(m) => ratio(m.1, idle(nginx, n, false).map(|b| b.1)),
                None => "-".into(),
            });
        }
        row.push(
            c["image_bytes"]
                .as_u64()
                .map_or("-".into(), |b| b.to_string()),
        );
        servers.push(row);
    }
    assert_eq!(t[1], servers, "{what}: the servers table");

    // The goals, at every keep-alive count and Connection: close.
    let page = json["page_bytes"].as_u64().unwrap();
    let mut judged: Vec<Key> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n.as_u64().unwrap(), false, page))
        .collect();
    judged.push((json["extra_connections"].as_u64().unwrap(), true, page));
    let mut goals = Vec::new();
    for at in judged {
        let ours = point(json, "serve", at).unwrap();
        let mut row = vec![label(json, at)];
        for (key, at_least, target, against) in GOALS {
            let on_load = key != "pss_kib";
            let reference = match against {
                None => best(json, at, key, at_least),
                Some(name) => point(json, name, at).map(|p| (name.to_string(), median(p, key))),
            };
            row.push(match reference {
                _ if on_load && empty(ours) => "- (not judged: serve completed no request)".into(),
                None if against.is_some() => "- (missed: no figure)".into(),
                None => "- (not judged: no peer completed a request)".into(),
                Some((peer, v)) => {
                    let r = verdict(median(ours, key) / v, at_least, target);
                    if against.is_none() {
                        format!("{r} against {peer}")
                    } else {
                        r
                    }
                }
            });
        }
        goals.push(row);
    }
    assert_eq!(t[2], goals, "{what}: the goals table");

    let serve = contenders.iter().find(|c| c["name"] == "serve").unwrap();
    let idle_line: Vec<String> = counts
        .iter()
        .map(|&n| {
            let v = match (idle(serve, n, false), idle(nginx, n, false)) {
                (Some(a), Some(b)) => verdict(a.1 / b.1, false, IDLE_GOAL),
                _ => "- (missed: no figure)".into(),
            };
            format!("{v} at {n}")
        })
        .collect();
    assert!(
        table.contains(&format!(
            "\nMemory per idle connection <= {IDLE_GOAL:.1} x nginx's: {}.\n",
            idle_line.join("; ")
        )),
        "{what}: the idle memory goal, {idle_line:?}, in:\n{table}"
    );
    let at = (FLOOR_AT, false, page);
    let floor = verdict(
        median(point(json, "serve", at).unwrap(), "rps")
            / median(point(json, "floor", at).unwrap(), "rps"),
        true,
        FLOOR_GOAL,
    );
    assert!(
        table.contains(&format!(
            "\nRequests/s >= {FLOOR_GOAL:.1} x the floor's at {FLOOR_AT} connections: {floor}.\n"
        )),
        "{what}: the floor goal, {floor}, in:\n{table}"
    );
    // h2load's requests/s over wrk's, for serve and nginx.
    let cross: Vec<String> = CROSS_CHECKED
        .iter()
        .map(|name| {
            let c = contenders.iter().find(|c| c["name"] == *name).unwrap();
            let h2 = spread(&c["h2load"], "rps").unwrap().1;
            let wrk = median(point(json, name, (FLOOR_AT, false, page)).unwrap(), "rps");
            format!("{name} {} ({h2:.0} / {wrk:.0})", ratio(h2, Some(wrk)))
        })
        .collect();
    assert!(
        table.contains(&format!("(h2load / wrk): {}.\n", cross.join("; "))),
        "{what}: the h2load cross-check, {cross:?}, in:\n{table}"
    );
}

/// `bench-serve --table` (or `--chart`) over `json`, written to a file of this
/// test's own (`name` differs between the tests, which run at once).
pub(crate) fn drawn(option: &str, json: &Value, name: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "hello-serve-bench-test-{}-{name}",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_vec(json).unwrap()).unwrap();
    let out = xtask_ok(&["bench-serve", option, path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn table_of(json: &Value, name: &str) -> String {
    drawn("--table", json, name)
}

/// The committed run.
pub(crate) fn committed() -> Value {
    let path = root().join("docs/serve-bench.json");
    serde_json::from_slice(
        &std::fs::read(&path)
            .expect("docs/serve-bench.json: run `cargo xtask bench-serve --update-docs`"),
    )
    .expect("docs/serve-bench.json is JSON")
}
