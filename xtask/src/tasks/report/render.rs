//! What the report draws from report.json ([`Report`]): the table for stdout,
//! docs/scoreboard.md's scoreboard block, the chart's bars, and the
//! issue's sanity figures. Functions of the record alone.
use serde_json::{Value, json};

use super::chart::Bar;
use super::data::{Cost, Kind, Outcome, Report, Row, Timing};
use super::measure::{INSTRUCTIONS, PAGE_FAULTS};
use super::verdict::{CHECKS, Cell};

fn exec_of(c: &Cost) -> Option<Timing> {
    c.exec
}

fn docker_of(c: &Cost) -> Option<Timing> {
    c.docker
}

fn duration(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// A perf count for the table: the mean, "unavailable: <why>" when perf
/// cannot count the event here, "-" for a file that was not run natively.
fn perf_cell(report: &Report, r: &Row, event: &str) -> String {
    let count = match event {
        INSTRUCTIONS => r.cost.instructions,
        PAGE_FAULTS => r.cost.page_faults,
        _ => None,
    };
    if let Some(v) = count {
        return format!("{v:.0}");
    }
    match report.perf_unavailable.iter().find(|u| u.event == event) {
        Some(u) if r.cost.native_ok() => format!("unavailable: {}", u.short),
        _ => "-".into(),
    }
}

/// The full table for stdout: sizes, run cost and the verdict.
pub fn table(report: &Report) -> String {
    let mut t = String::from(
        "| contender | platform | file bytes | image bytes | gzipped layer | pull | in `scratch` \
         | exec median | × -nostartfiles | docker run median | × -nostartfiles | instructions:u | page faults | well-behaved |\n\
         |---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in &report.rows {
        let (st, _) = r.outcome.status();
        // A file built for another architecture cannot be timed here: say so.
        let untimed = if r.file.is_some() && !r.cost.native_ok() {
            "not timed"
        } else {
            "-"
        };
        let timing = |pick: fn(&Cost) -> Option<Timing>| {
            pick(&r.cost).map_or((untimed.into(), "-".into()), |t| {
                (
                    duration(t.median_ns),
                    report
                        .ratio(r, pick)
                        .map_or("-".into(), |x| format!("{x:.3}")),
                )
            })
        };
        let (exec, exec_x) = timing(exec_of);
        let (dock, dock_x) = timing(docker_of);
        let image = match (r.sizes.image_bytes, &r.published) {
            (Some(b), _) => b.to_string(),
            (None, Some(p)) if r.kind == Kind::Reference => format!("{} (published)", p.text),
            _ => "-".into(),
        };
        t.push_str(&format!(
            "| {} | {} | {} | {image} | {} | {} | {st} | {exec} | {exec_x} | {dock} | {dock_x} | {} | {} | {} |\n",
            r.label,
            r.platform,
            opt(r.sizes.file_bytes),
            opt(r.sizes.gzip_bytes),
            opt(r.sizes.pull_bytes),
            perf_cell(report, r, INSTRUCTIONS),
            perf_cell(report, r, PAGE_FAULTS),
            r.well_behaved(),
        ));
    }
    t
}

/// What the README's "prints the message in `scratch`" cell says.
fn runs_cell(o: &Outcome) -> String {
    match o {
        Outcome::Prints => "yes".to_string(),
        Outcome::Fails(why) => format!("no: {why}"),
        Outcome::NotRun(why) => why.clone(),
    }
}

/// The README's block: the deterministic figures (sizes, whether each runs,
/// the verdicts) and the sources of the published figures.
pub fn scoreboard(report: &Report) -> String {
    let rows = &report.rows;
    let mut t = String::from(
        "| contender | platform | file bytes | image bytes | gzipped layer bytes | pull bytes | published, not measured | prints the message in `scratch` | well-behaved |\n\
         |---|---|---:|---:|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.label,
            r.platform,
            opt(r.sizes.file_bytes),
            opt(r.sizes.image_bytes),
            opt(r.sizes.gzip_bytes),
            opt(r.sizes.pull_bytes),
            r.published.as_ref().map_or("", |p| &p.text),
            runs_cell(&r.outcome),
            r.well_behaved(),
        ));
    }
    t.push_str("\nThe seven checks, for every contender with a file or an image:\n\n| contender |");
    for (_, h) in CHECKS {
        t.push_str(&format!(" {h} |"));
    }
    t.push_str("\n|---|");
    t.push_str(&"---|".repeat(CHECKS.len()));
    t.push('\n');
    for r in rows {
        let Some(v) = &r.verdict else { continue };
        t.push_str(&format!("| {} |", r.label));
        for (_, _, c) in v.checks.cells() {
            t.push_str(&format!(" {} |", c.text()));
        }
        t.push('\n');
    }
    for r in rows {
        if let Some(w) = r.verdict.as_ref().and_then(|v| v.with_volume.as_ref()) {
            t.push_str(&format!(
                "\n{}, run with `-v <dir>:/dir:ro` where <dir> holds our file: {}\n",
                r.label,
                w.text()
            ));
        }
    }
    t.push_str("\nPublished figures, typed in from their sources and not measured here:\n\n");
    for r in rows {
        if let Some(p) = &r.published {
            t.push_str(&format!("- {}: {}, from {}.\n", r.label, p.text, p.source));
        }
    }
    t
}

/// The size the chart shows: measured, or for a reference row the published one.
pub fn chart_bytes(r: &Row) -> Option<u64> {
    match r.kind {
        Kind::Reference => r.published.as_ref().map(|p| p.bytes),
        Kind::Classic | Kind::Cheat | Kind::Ours => r.sizes.image_bytes,
    }
}

/// The chart's bars: one per distinct image (ours with equal files on one
/// platform share a bar), measured or published, largest first.
pub fn bars(report: &Report) -> Vec<Bar> {
    let rows = &report.rows;
    let mut bars: Vec<Bar> = Vec::new();
    for r in rows {
        let Some(bytes) = chart_bytes(r) else {
            continue;
        };
        let layout = r.layout.clone().unwrap_or_else(|| "?".into());
        let mark = match (&r.verdict, r.kind) {
            (_, Kind::Reference) => "not measured",
            (Some(v), _) if v.well_behaved == Cell::Yes => "yes",
            (Some(v), _) if matches!(v.well_behaved, Cell::NotChecked(_)) => "not checked",
            _ => "no",
        };
        let same_file = |b: &&mut Bar| {
            r.kind == Kind::Ours
                && b.class == "ours"
                && rows.iter().any(|o| {
                    b.rows.contains(&o.id)
                        && o.platform == r.platform
                        && o.sizes.file_sha256.is_some()
                        && o.sizes.file_sha256 == r.sizes.file_sha256
                })
        };
        if let Some(b) = bars.iter_mut().find(same_file) {
            // The same bytes: one bar, labelled with both layouts; it is
            // well-behaved only if every row it stands for is.
            b.rows.push(r.id.clone());
            b.id = format!("{}+{layout}", b.id);
            b.layouts.push(layout);
            b.label = format!("hello {} ({})", b.layouts.join(" and "), r.platform);
            if b.well_behaved != mark {
                b.well_behaved = if b.well_behaved == "no" || mark == "no" {
                    "no"
                } else {
                    "not checked"
                };
            }
            continue;
        }
        let class = match (r.kind, &r.outcome) {
            (Kind::Reference, _) => "reference",
            (Kind::Ours, _) => "ours",
            (Kind::Classic | Kind::Cheat, Outcome::Fails(_)) => "failing",
            (Kind::Classic | Kind::Cheat, _) => "classic",
        };
        bars.push(Bar {
            id: r.id.clone(),
            label: r.label.clone(),
            bytes,
            class,
            well_behaved: mark,
            rows: vec![r.id.clone()],
            layouts: r.layout.iter().cloned().collect(),
        });
    }
    // Stable: equal sizes keep the table's order.
    bars.sort_by_key(|b| std::cmp::Reverse(b.bytes));
    bars
}

/// The bars as report.json lists them.
pub fn bars_json(bars: &[Bar]) -> Value {
    bars.iter()
        .map(|b| json!({"id": b.id, "label": b.label, "bytes": b.bytes, "class": b.class, "well_behaved": b.well_behaved, "rows": b.rows}))
        .collect()
}

/// The issue's sanity figures, as measured: how much smaller our host image is
/// than the musl hello-world-style and tcc images, and the exec time ratio.
pub fn sanity(report: &Report) -> Vec<String> {
    let rows = &report.rows;
    let mut out = Vec::new();
    let find = |id: &str| rows.iter().find(|r| r.id == id);
    let Some(ours) = rows
        .iter()
        .find(|r| r.kind == Kind::Ours && r.cost.native_ok() && r.sizes.image_bytes.is_some())
    else {
        return vec!["no image of ours was built and run on this machine".into()];
    };
    let ours_image = ours.sizes.image_bytes.unwrap_or(1) as f64;
    for (id, want) in [("musl-hello-world", 50.0), ("tcc", 20.0)] {
        if let Some(b) = find(id).and_then(|r| r.sizes.image_bytes) {
            let x = b as f64 / ours_image;
            out.push(format!(
                "{} image is {x:.1}x smaller than {id}'s (issue 7 expects at least {want}x): {}",
                ours.label,
                if x >= want { "holds" } else { "DOES NOT HOLD" }
            ));
        } else {
            out.push(format!(
                "{id} has no image in this run: its size comparison is not made"
            ));
        }
    }
    for r in rows.iter().filter(|r| r.kind == Kind::Ours) {
        // The 1.05 expectation is for this machine's own platform; 386 files go
        // through the kernel's 32-bit compat path, which costs more per exec.
        let same_platform = rows
            .iter()
            .any(|b| b.id == report.baseline && b.platform == r.platform);
        if let Some(x) = report.ratio(r, exec_of) {
            out.push(format!(
                "{} exec median is {x:.3}x gcc -nostartfiles's{}",
                r.label,
                match (same_platform, x <= 1.05) {
                    (false, _) => " (another platform: no expectation)",
                    (true, true) => " (issue 7 expects at most 1.05): holds",
                    (true, false) => " (issue 7 expects at most 1.05): DOES NOT HOLD in this run",
                }
            ));
        }
        if let Some(x) = report.ratio(r, docker_of) {
            out.push(format!(
                "{} docker run median is {x:.3}x gcc -nostartfiles's",
                r.label
            ));
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A small run: a published figure, the baseline, a classic that fails
    /// in scratch, and ours in two layouts that are the same file (one bar).
    const RUN: &str = r#"{
      "message": "Hello World\n", "host": "linux/amd64", "docker_engine": "20.10",
      "exec_runs": 200, "docker_runs": 20, "perf_runs": 20, "baseline": "gcc-nostartfiles",
      "perf": {"counted": ["page-faults"], "unavailable": [{"event": "instructions:u",
        "why": "no hardware counters", "cell": "unavailable: not supported here"}]},
      "hardened_docker_run": ["--read-only"], "notes": [],
      "rows": [
        {"id": "alpine", "label": "alpine + echo", "kind": "reference", "platform": "linux/amd64",
         "how": "FROM alpine", "status": "not-run", "reason": "not measured: published figure",
         "published": {"bytes": 5610000, "text": "5.61 MB", "source": "issue 7"},
         "well_behaved": "not measured"},
        {"id": "gcc-nostartfiles", "label": "gcc -nostartfiles (glibc)", "kind": "classic",
         "platform": "linux/amd64", "how": "gcc", "file": "target/report/gcc-nostartfiles/hello",
         "file_bytes": 8760, "file_sha256": "sha256:aa", "image_bytes": 8760,
         "gzip_layer_bytes": 551, "status": "prints", "page_faults": 2.0,
         "exec": {"median_ns": 300000, "runs": 200}, "docker_run": {"median_ns": 900000000, "runs": 20},
         "verdict": {"prints": "yes", "dev_full": "no: killed by signal 11 (SIGSEGV), 0 bytes on stdout",
           "closed_stdout": "no: killed by signal 11 (SIGSEGV), 0 bytes on stdout",
           "ulimit_v_256": "yes", "uid_65534_min_addr": "yes", "hardened_docker_run": "yes",
           "qemu_user": "yes"},
         "well_behaved": "no: fails check 2, 3"},
        {"id": "tcc", "label": "tcc (dynamic, its default)", "kind": "classic", "platform": "linux/amd64",
         "how": "tcc", "file": "target/report/tcc/hello", "file_bytes": 3304, "image_bytes": 3304,
         "gzip_layer_bytes": 1135, "status": "fails", "reason": "dynamically linked",
         "published": {"bytes": 2990, "text": "2.99 kB", "source": "issue 7"},
         "exec": {"median_ns": 600000, "runs": 200},
         "verdict": {"prints": "yes", "dev_full": "yes", "closed_stdout": "yes", "ulimit_v_256": "yes",
           "uid_65534_min_addr": "yes", "hardened_docker_run": "no: exit 1", "qemu_user": "yes"},
         "well_behaved": "no: fails check 6"},
        {"id": "hello-linux-amd64-tiny", "label": "hello tiny (linux/amd64)", "kind": "ours",
         "platform": "linux/amd64", "layout": "tiny", "how": "dist", "file": "t/hello",
         "file_bytes": 128, "file_sha256": "sha256:bb", "image_bytes": 128, "gzip_layer_bytes": 160,
         "pull_bytes": 700, "status": "prints", "page_faults": 1.0,
         "exec": {"median_ns": 270000, "runs": 200}, "docker_run": {"median_ns": 990000000, "runs": 20},
         "verdict": {"prints": "yes", "dev_full": "yes", "closed_stdout": "yes", "ulimit_v_256": "yes",
           "uid_65534_min_addr": "yes", "hardened_docker_run": "yes", "qemu_user": "yes"},
         "well_behaved": "yes"},
        {"id": "hello-linux-amd64-compat", "label": "hello compat (linux/amd64)", "kind": "ours",
         "platform": "linux/amd64", "layout": "compat", "how": "dist", "file": "c/hello",
         "file_bytes": 128, "file_sha256": "sha256:bb", "image_bytes": 128, "gzip_layer_bytes": 160,
         "pull_bytes": 700, "status": "prints",
         "verdict": {"prints": "yes", "dev_full": "yes", "closed_stdout": "yes", "ulimit_v_256": "yes",
           "uid_65534_min_addr": "not checked: needs root", "hardened_docker_run": "yes",
           "qemu_user": "yes"},
         "well_behaved": "not checked: check 5 not made here"}
      ]
    }"#;

    /// The fixture [`RUN`], read.
    pub fn report() -> Report {
        Report::from_json(&serde_json::from_str(RUN).unwrap()).unwrap()
    }

    #[test]
    fn reads_back_what_it_writes() {
        let r = report();
        assert_eq!(r.rows.len(), 5);
        assert_eq!(
            r.rows[1].verdict.as_ref().unwrap().checks.dev_full,
            Cell::No("killed by signal 11 (SIGSEGV), 0 bytes on stdout".into())
        );
        assert_eq!(Report::from_json(&r.to_json()).unwrap(), r);
        // A row without its kind is an error naming the row.
        let mut v: Value = serde_json::from_str(RUN).unwrap();
        v["rows"][2]["kind"] = Value::Null;
        let e = Report::from_json(&v).unwrap_err();
        assert!(
            e.message.contains("row tcc is missing or malformed"),
            "{}",
            e.message
        );
    }

    #[test]
    fn scoreboard_block() {
        assert_eq!(
            scoreboard(&report()),
            "\
| contender | platform | file bytes | image bytes | gzipped layer bytes | pull bytes | published, not measured | prints the message in `scratch` | well-behaved |
|---|---|---:|---:|---:|---:|---:|---|---|
| alpine + echo | linux/amd64 | - | - | - | - | 5.61 MB | not measured: published figure | not measured |
| gcc -nostartfiles (glibc) | linux/amd64 | 8760 | 8760 | 551 | - |  | yes | no: fails check 2, 3 |
| tcc (dynamic, its default) | linux/amd64 | 3304 | 3304 | 1135 | - | 2.99 kB | no: dynamically linked | no: fails check 6 |
| hello tiny (linux/amd64) | linux/amd64 | 128 | 128 | 160 | 700 |  | yes | yes |
| hello compat (linux/amd64) | linux/amd64 | 128 | 128 | 160 | 700 |  | yes | not checked: check 5 not made here |

The seven checks, for every contender with a file or an image:

| contender | 1. message, status 0 | 2. `> /dev/full` fails | 3. closed stdout fails | 4. `ulimit -v 256` | 5. uid 65534, mmap_min_addr 65536 | 6. hardened `docker run` | 7. qemu-user |
|---|---|---|---|---|---|---|---|
| gcc -nostartfiles (glibc) | yes | no: killed by signal 11 (SIGSEGV), 0 bytes on stdout | no: killed by signal 11 (SIGSEGV), 0 bytes on stdout | yes | yes | yes | yes |
| tcc (dynamic, its default) | yes | yes | yes | yes | yes | no: exit 1 | yes |
| hello tiny (linux/amd64) | yes | yes | yes | yes | yes | yes | yes |
| hello compat (linux/amd64) | yes | yes | yes | yes | not checked: needs root | yes | yes |

Published figures, typed in from their sources and not measured here:

- alpine + echo: 5.61 MB, from issue 7.
- tcc (dynamic, its default): 2.99 kB, from issue 7.
"
        );
    }

    #[test]
    fn bars_share_one_file_and_sort_largest_first() {
        let bars = bars(&report());
        let got: Vec<(&str, &str, u64, &str, &str)> = bars
            .iter()
            .map(|b| {
                (
                    b.id.as_str(),
                    b.label.as_str(),
                    b.bytes,
                    b.class,
                    b.well_behaved,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "alpine",
                    "alpine + echo",
                    5610000,
                    "reference",
                    "not measured"
                ),
                (
                    "gcc-nostartfiles",
                    "gcc -nostartfiles (glibc)",
                    8760,
                    "classic",
                    "no"
                ),
                ("tcc", "tcc (dynamic, its default)", 3304, "failing", "no"),
                (
                    "hello-linux-amd64-tiny+compat",
                    "hello tiny and compat (linux/amd64)",
                    128,
                    "ours",
                    "not checked"
                ),
            ]
        );
        assert_eq!(
            bars[3].rows,
            ["hello-linux-amd64-tiny", "hello-linux-amd64-compat"]
        );
    }

    #[test]
    fn table_times_against_the_baseline() {
        let t = table(&report());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(
            lines[5],
            "| hello tiny (linux/amd64) | linux/amd64 | 128 | 128 | 160 | 700 | prints | 270.0 µs | 0.900 \
             | 990.0 ms | 1.100 | unavailable: not supported here | 1 | yes |"
        );
        // Not run natively: "not timed", and no perf cells.
        assert_eq!(
            lines[6],
            "| hello compat (linux/amd64) | linux/amd64 | 128 | 128 | 160 | 700 | prints | not timed | - \
             | not timed | - | - | - | not checked: check 5 not made here |"
        );
        assert!(lines[2].starts_with("| alpine + echo | linux/amd64 | - | 5.61 MB (published) |"));
    }

    #[test]
    fn sanity_figures() {
        assert_eq!(
            sanity(&report()),
            [
                "hello tiny (linux/amd64) image is 25.8x smaller than tcc's (issue 7 expects at least 20x): holds",
                "musl-hello-world has no image in this run: its size comparison is not made",
            ]
            .iter()
            .rev()
            .map(|s| s.to_string())
            .chain([
                "hello tiny (linux/amd64) exec median is 0.900x gcc -nostartfiles's (issue 7 expects at most 1.05): holds".to_string(),
                "hello tiny (linux/amd64) docker run median is 1.100x gcc -nostartfiles's".to_string(),
            ])
            .collect::<Vec<_>>()
        );
    }
}
