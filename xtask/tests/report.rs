//! `cargo xtask report` end to end: it runs to the end and prints its table,
//! every contender it built is run and checked here again, and the README's
//! scoreboard and the committed chart docs/sizes.svg agree with
//! target/report/report.json for the sizes.
mod common;

use common::*;
use serde_json::Value;
use std::sync::OnceLock;

/// One report run, shared by the tests in this file.
struct Run {
    stdout: String,
    json: Value,
    /// docs/sizes.svg and the README block as committed, read before the report
    /// rewrote the chart.
    committed_svg: String,
    committed_block: String,
    /// target/report/scoreboard.md: the block to paste.
    block: String,
}

fn report() -> Option<&'static Run> {
    static RUN: OnceLock<Option<Run>> = OnceLock::new();
    RUN.get_or_init(|| {
        if !docker_available("tests/report.rs (cargo xtask report)") {
            return None;
        }
        let committed_svg = std::fs::read_to_string(root().join("docs/sizes.svg"))
            .expect("read docs/sizes.svg: run `cargo xtask report` and commit it");
        let committed_block = readme_block("scoreboard");
        let _g = lock();
        let out = xtask_ok(&["report"]);
        let dir = root().join("target/report");
        let json = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap())
            .expect("target/report/report.json is JSON");
        Some(Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            json,
            committed_svg,
            committed_block,
            block: std::fs::read_to_string(dir.join("scoreboard.md")).unwrap(),
        })
    })
    .as_ref()
}

fn rows(run: &Run) -> &[Value] {
    run.json["rows"].as_array().expect("report.json has rows")
}

fn row<'a>(run: &'a Run, id: &str) -> &'a Value {
    rows(run)
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("report.json has no row {id}"))
}

/// Sizes as `docker images` prints them (three significant digits, powers of 1000).
fn human(bytes: u64) -> String {
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let (v, unit) = if bytes < 999_500 {
        (bytes as f64 / 1e3, "kB")
    } else {
        (bytes as f64 / 1e6, "MB")
    };
    let digits = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["report", "--exec-runs", "10"][..],
        &["report", "--docker-runs", "5"],
        &["report", "--bogus"],
    ] {
        let out = xtask(args);
        assert_eq!(out.status.code(), Some(2), "cargo xtask {}", args.join(" "));
        assert!(String::from_utf8_lossy(&out.stderr).contains("error: "));
    }
}

#[test]
fn report_runs_to_the_end_and_prints_its_table() {
    let Some(run) = report() else { return };
    assert!(
        run.stdout
            .contains("| contender | platform | file bytes | image bytes |"),
        "the report printed no table:\n{}",
        run.stdout
    );
    for r in rows(run) {
        let label = r["label"].as_str().unwrap();
        assert!(
            run.stdout.contains(&format!("| {label} |")),
            "the table has no row for {label}:\n{}",
            run.stdout
        );
    }
    assert!(run.json["exec_runs"].as_u64().unwrap() >= 200);
    assert!(run.json["docker_runs"].as_u64().unwrap() >= 20);
    assert_eq!(run.json["message"], "Hello World\n");
}

/// Every image the report built is run again here: those it says print must
/// print the message; those it says fail must fail, with a reason.
#[test]
fn every_contender_is_run_and_failures_say_why() {
    let Some(run) = report() else { return };
    let host = run.json["host"].as_str().unwrap();
    let mut checked = 0;
    for r in rows(run) {
        let id = r["id"].as_str().unwrap();
        let status = r["status"].as_str().unwrap();
        if r["kind"] == "reference" {
            assert_eq!(status, "not-run", "{id}");
            assert!(r["reason"].as_str().unwrap().contains("not measured"));
            assert!(
                r["published"]["source"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
            continue;
        }
        assert!(
            r["file_bytes"].as_u64().is_some(),
            "{id} was not built: {}",
            r["reason"]
        );
        if status != "prints" {
            let why = r["reason"].as_str().unwrap_or_default();
            assert!(!why.is_empty(), "{id} is {status} without a reason");
        }
        if r["platform"] != host {
            continue;
        }
        let out = docker(&[
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "none",
            &format!("hello-report:{id}"),
        ]);
        let prints = out.status.success() && out.stdout == MESSAGE;
        assert_eq!(
            prints,
            status == "prints",
            "{id}: report.json says {status} ({}), docker run exited {} with stdout {:?}",
            r["reason"],
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        checked += 1;
    }
    // Every classic contender but the dynamic tcc runs in scratch, and so does ours.
    for id in [
        "busybox",
        "gcc-static",
        "gcc-static-os-s",
        "musl-hello-world",
        "gcc-nostartfiles",
        "tcc-static-musl",
        "hello-linux-amd64-tiny",
    ] {
        assert_eq!(row(run, id)["status"], "prints", "{id}");
    }
    let tcc = row(run, "tcc");
    assert_eq!(tcc["status"], "fails");
    let why = tcc["reason"].as_str().unwrap();
    assert!(
        why.contains("dynamically linked") && why.contains("ld-linux"),
        "tcc: {why}"
    );
    assert!(checked >= 8, "only {checked} images were checked");
}

#[test]
fn run_costs_are_measured_against_nostartfiles() {
    let Some(run) = report() else { return };
    let host = run.json["host"].as_str().unwrap();
    assert_eq!(run.json["baseline"], "gcc-nostartfiles");
    for r in rows(run) {
        let id = r["id"].as_str().unwrap();
        if r["status"] != "prints" || r["platform"] != host {
            continue;
        }
        let exec = &r["exec"];
        assert!(exec["runs"].as_u64().unwrap() >= 200, "{id}: {exec}");
        assert!(exec["median_ns"].as_u64().unwrap() > 0, "{id}: {exec}");
        assert!(exec["ratio_to_baseline"].as_f64().is_some(), "{id}: {exec}");
        if r["kind"] == "ours" || id == "gcc-nostartfiles" {
            let d = &r["docker_run"];
            assert!(d["runs"].as_u64().unwrap() >= 20, "{id}: {d}");
            assert!(d["ratio_to_baseline"].as_f64().is_some(), "{id}: {d}");
        }
    }
    let perf = &run.json["perf"];
    assert!(
        !perf["counted"].as_array().unwrap().is_empty()
            || !perf["unavailable"].as_array().unwrap().is_empty(),
        "the report says nothing about perf"
    );
    // Shown, not asserted: timings vary from run to run.
    let ours = row(run, "hello-linux-amd64-tiny");
    eprintln!(
        "exec ratio of hello tiny to gcc -nostartfiles: {} (issue 7 expects <= 1.05); docker run ratio: {}",
        ours["exec"]["ratio_to_baseline"], ours["docker_run"]["ratio_to_baseline"]
    );
}

/// The sizes in report.json, against Docker and the image's own layers.
#[test]
fn sizes_are_what_docker_says() {
    let Some(run) = report() else { return };
    for r in rows(run).iter().filter(|r| r["image_bytes"].is_u64()) {
        let id = r["id"].as_str().unwrap();
        let tag = format!("hello-report:{id}");
        let inspect = docker(&["image", "inspect", "--format", "{{.Size}}", &tag]);
        assert_eq!(
            String::from_utf8_lossy(&inspect.stdout).trim(),
            r["image_bytes"].to_string(),
            "{tag}: docker image inspect size"
        );
        // One layer holding the one file: its tar, gzipped as our image layers are (zopfli).
        let save = docker(&["save", &tag]);
        assert!(save.status.success(), "docker save {tag}");
        let layers = layer_tars(&save.stdout);
        assert_eq!(layers.len(), 1, "{tag}: layers");
        // Same settings as xtask/src/image.rs's gzip: one iteration past 64 KiB.
        let mut options = zopfli::Options::default();
        if layers[0].len() > 64 * 1024 {
            options.iteration_count = std::num::NonZeroU64::MIN;
        }
        let mut gz = Vec::new();
        zopfli::compress(options, zopfli::Format::Gzip, &layers[0][..], &mut gz).unwrap();
        let gz_len = gz.len() as u64;
        assert_eq!(
            Some(gz_len),
            r["gzip_layer_bytes"].as_u64(),
            "{tag}: gzipped layer"
        );
        assert!(
            layers[0].len() as u64 > r["file_bytes"].as_u64().unwrap(),
            "{tag}: the layer is smaller than the file"
        );
    }
    // Ours also shows what a registry serves for it: manifest, config and layer.
    let ours = row(run, "hello-linux-amd64-tiny");
    let (pull, gz) = (
        ours["pull_bytes"].as_u64(),
        ours["gzip_layer_bytes"].as_u64().unwrap(),
    );
    assert!(
        pull.is_some_and(|p| p > gz),
        "hello-linux-amd64-tiny: pull_bytes {pull:?}"
    );
}

/// The layer tars of a `docker save` archive, in manifest order.
fn layer_tars(tar: &[u8]) -> Vec<Vec<u8>> {
    let mut files = std::collections::HashMap::new();
    let mut pos = 0;
    while pos + 512 <= tar.len() && tar[pos] != 0 {
        let h = &tar[pos..pos + 512];
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&h[124..135]).trim_matches(|c: char| c == '\0' || c == ' '),
            8,
        )
        .unwrap();
        files.insert(name, tar[pos + 512..pos + 512 + size].to_vec());
        pos += 512 + size.div_ceil(512) * 512;
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| files[l.as_str().unwrap()].clone())
        .collect()
}

/// The committed README block agrees with report.json, row by row: the sizes,
/// the published figures, and whether each image of this machine's platform runs.
#[test]
fn readme_scoreboard_matches_the_report() {
    let Some(run) = report() else { return };
    let lines: Vec<&str> = run
        .committed_block
        .lines()
        .skip(2)
        .filter(|l| l.starts_with("| "))
        .collect();
    let paste = || {
        format!(
            "Replace the lines between <!-- BEGIN scoreboard --> and <!-- END scoreboard --> in README.md with:\n{}",
            run.block
        )
    };
    assert_eq!(
        lines.len(),
        rows(run).len(),
        "README scoreboard rows. {}",
        paste()
    );
    for (line, r) in lines.iter().zip(rows(run)) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let num = |k: &str| r[k].as_u64().map_or("-".to_string(), |v| v.to_string());
        let want = [
            r["label"].as_str().unwrap().to_string(),
            num("file_bytes"),
            num("image_bytes"),
            num("gzip_layer_bytes"),
            num("pull_bytes"),
            r["published"]["text"].as_str().unwrap_or("").to_string(),
        ];
        assert_eq!(
            cells[..6],
            want[..],
            "README scoreboard row {line}. {}",
            paste()
        );
        // Whether it runs is fixed for this machine's own platform; for others it
        // depends on the machine's qemu and binfmt_misc set-up, so it is not compared.
        if r["platform"] == run.json["host"] {
            let why = r["reason"].as_str().unwrap_or("");
            let runs = match r["status"].as_str().unwrap() {
                "prints" => "yes".to_string(),
                "fails" => format!("no: {why}"),
                _ => why.to_string(),
            };
            assert_eq!(cells[6], runs, "README scoreboard row {line}. {}", paste());
        }
    }
}

/// The committed chart: one bar per row with an image size, labelled and
/// sized as report.json says, largest first, on a log scale.
#[test]
fn chart_matches_the_report() {
    let Some(run) = report() else { return };
    let doc = roxmltree::Document::parse(&run.committed_svg)
        .expect("docs/sizes.svg is not well-formed XML: run `cargo xtask report` and commit it");
    let has_class = |n: &roxmltree::Node, c: &str| {
        n.attribute("class")
            .is_some_and(|v| v.split(' ').any(|x| x == c))
    };
    let bars: Vec<(String, String, u64, f64, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, "row"))
        .map(|g| {
            let child = |c: &str| {
                g.children()
                    .find(|n| has_class(n, c))
                    .unwrap_or_else(|| panic!("a chart row without {c}"))
            };
            let rect = child("bar");
            (
                g.attribute("data-id").unwrap().to_string(),
                child("label").text().unwrap().to_string(),
                rect.attribute("data-bytes").unwrap().parse().unwrap(),
                rect.attribute("width").unwrap().parse().unwrap(),
                child("value").text().unwrap().to_string(),
            )
        })
        .collect();
    // Every row with a size, measured or (for references) published, has one bar.
    let mut want: Vec<(String, String, u64)> = rows(run)
        .iter()
        .filter_map(|r| {
            let bytes = r["image_bytes"].as_u64().or_else(|| {
                (r["kind"] == "reference").then(|| r["published"]["bytes"].as_u64())?
            })?;
            Some((
                r["id"].as_str()?.to_string(),
                r["label"].as_str()?.to_string(),
                bytes,
            ))
        })
        .collect();
    want.sort_by_key(|w| std::cmp::Reverse(w.2));
    let got: Vec<(String, String, u64)> = bars
        .iter()
        .map(|b| (b.0.clone(), b.1.clone(), b.2))
        .collect();
    assert_eq!(
        got, want,
        "docs/sizes.svg disagrees with report.json: run `cargo xtask report` and commit docs/sizes.svg"
    );
    for b in &bars {
        assert_eq!(b.4, human(b.2), "the value printed beside {}", b.0);
    }
    // A log scale: equal size ratios make equal width differences.
    let wide: Vec<_> = bars.iter().filter(|b| b.3 > 2.0).collect();
    let (first, last) = (wide[0], wide[wide.len() - 1]);
    let px_per_decade = (first.3 - last.3) / ((first.2 as f64).log10() - (last.2 as f64).log10());
    for b in &wide {
        let expect = last.3 + px_per_decade * ((b.2 as f64).log10() - (last.2 as f64).log10());
        assert!(
            (b.3 - expect).abs() < 0.2,
            "bar {} is {} px wide, {expect:.1} on a log scale",
            b.0,
            b.3
        );
    }
    assert_eq!(bars.len(), run.json["chart"].as_array().unwrap().len());
}

/// Issue 7's sanity figures, deterministic: image sizes.
#[test]
fn ours_is_far_smaller_than_the_classics() {
    let Some(run) = report() else { return };
    let size = |id: &str| row(run, id)["image_bytes"].as_u64().unwrap();
    let ours = size("hello-linux-amd64-tiny");
    assert!(
        ours * 50 <= size("musl-hello-world"),
        "ours {ours} vs musl {}",
        size("musl-hello-world")
    );
    assert!(
        ours * 20 <= size("tcc"),
        "ours {ours} vs tcc {}",
        size("tcc")
    );
}
