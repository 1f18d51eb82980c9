//! `cargo xtask bench-serve`: a short run works end to end (CI runs this; it
//! proves the benchmark works and asserts no speed) and leaves the checkout as
//! it was, and docs/serve.md's table and docs/serve-bench.svg agree with the full
//! run's committed results, docs/serve-bench.json.
mod common;

use common::*;
use serde_json::Value;

const CONTENDERS: [&str; 4] = ["serve", "nginx", "lighttpd", "busybox httpd"];
const CONNECTIONS: [u64; 3] = [10, 100, 1000];

fn tools_available(test: &str) -> bool {
    let install = "apt-get install -y wrk nginx-light lighttpd busybox-static";
    ["wrk", "nginx", "lighttpd", "busybox"]
        .iter()
        .all(|t| tool_available(test, t, install))
}

/// `data-server`, `data-connections`, `data-rps` of every bar in the chart.
fn bars(svg: &str) -> Vec<(String, u64, u64)> {
    let doc = roxmltree::Document::parse(svg).expect("the chart is XML");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("bar"))
        .map(|n| {
            (
                n.attribute("data-server").unwrap().to_string(),
                n.attribute("data-connections").unwrap().parse().unwrap(),
                n.attribute("data-rps").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// Every contender at every connection count, with numbers that show it ran.
fn assert_complete(json: &Value, what: &str) {
    let contenders = json["contenders"].as_array().expect("contenders");
    let names: Vec<&str> = contenders
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, CONTENDERS, "{what}: contenders");
    assert!(
        json["wrk"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("wrk ")),
        "{what}: wrk's version"
    );
    assert!(
        json["wrk"]["flags"]
            .as_str()
            .is_some_and(|f| f.starts_with("-t2 -c<connections> -d")),
        "{what}: wrk's flags"
    );
    for c in contenders {
        let points = c["points"].as_array().unwrap();
        let counts: Vec<u64> = points
            .iter()
            .map(|p| p["connections"].as_u64().unwrap())
            .collect();
        assert_eq!(counts, CONNECTIONS, "{what}: {}", c["name"]);
        for p in points {
            assert!(
                p["rps"].as_f64().unwrap() > 0.0
                    && p["requests"].as_u64().unwrap() > 0
                    && p["p50_ms"].as_f64().unwrap() > 0.0
                    && p["p99_ms"].as_f64().unwrap() >= p["p50_ms"].as_f64().unwrap()
                    && p["pss_kib"].as_u64().unwrap() > 0
                    && p["processes"].as_u64().unwrap() > 0
                    && p["errors"].is_u64(),
                "{what}: {} at {}: {p}",
                c["name"],
                p["connections"]
            );
        }
    }
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["bench-serve", "--seconds", "0"][..],
        &["bench-serve", "--connections", "1"],
        &["bench-serve", "--connections", "10,x"],
        &["bench-serve", "--frobnicate"],
        // docs/ holds the full run's results only.
        &["bench-serve", "--seconds", "1", "--update-docs"],
        &["bench-serve", "--connections", "10", "--update-docs"],
    ] {
        let out = xtask(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
}

#[test]
fn short_run_works() {
    if !tools_available("short_run_works") {
        return;
    }
    let (out, before, after) = {
        let _g = lock();
        let before = checkout();
        let out = xtask_ok(&["bench-serve", "--seconds", "1"]);
        (out, before, checkout())
    };
    // It writes under target/ only: docs/ only with --update-docs.
    assert_checkout_unchanged(&before, &after, "bench-serve --seconds 1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for k in 1..=12 {
        assert!(
            stdout.contains(&format!("bench-serve [{k}/12]: ")),
            "no progress line {k}/12 in:\n{stdout}"
        );
    }
    let dir = root().join("target/report");
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("serve.json")).unwrap()).unwrap();
    assert_eq!(json["seconds"], 1);
    assert_complete(&json, "target/report/serve.json");
    // The table printed and written is the one rendered from the JSON.
    let table = xtask_ok(&[
        "bench-serve",
        "--table",
        dir.join("serve.json").to_str().unwrap(),
    ]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("serve.md")).unwrap(),
        table
    );
    assert!(stdout.contains(&table), "the run did not print its table");
    let svg = std::fs::read_to_string(dir.join("serve.svg")).unwrap();
    assert_eq!(bars(&svg).len(), 12, "target/report/serve.svg bars");
}

#[test]
fn readme_and_chart_match_the_committed_run() {
    let path = root().join("docs/serve-bench.json");
    let json: Value = serde_json::from_slice(
        &std::fs::read(&path)
            .expect("docs/serve-bench.json: run `cargo xtask bench-serve --update-docs`"),
    )
    .expect("docs/serve-bench.json is JSON");
    assert_eq!(json["seconds"], 10, "the committed run is the full one");
    assert_complete(&json, "docs/serve-bench.json");
    let table = xtask_ok(&["bench-serve", "--table", path.to_str().unwrap()]);
    assert_page_block(
        "docs/serve.md",
        "serve-bench",
        &String::from_utf8(table.stdout).unwrap(),
    );
    // The committed chart is the one drawn from the JSON, and each bar is
    // the JSON's number.
    let svg = std::fs::read_to_string(root().join("docs/serve-bench.svg")).unwrap();
    let drawn = xtask_ok(&["bench-serve", "--chart", path.to_str().unwrap()]);
    assert!(
        svg.as_bytes() == drawn.stdout,
        "docs/serve-bench.svg is not the chart of docs/serve-bench.json: run \
         `cargo xtask bench-serve --chart docs/serve-bench.json > docs/serve-bench.svg`"
    );
    let got = bars(&svg);
    assert_eq!(got.len(), 12, "docs/serve-bench.svg bars");
    for (server, conns, rps) in got {
        let c = json["contenders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == server.as_str())
            .unwrap();
        let p = c["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["connections"] == conns)
            .unwrap();
        assert_eq!(
            rps,
            p["rps"].as_f64().unwrap().round() as u64,
            "docs/serve-bench.svg: {server} at {conns}: rerun `cargo xtask bench-serve --update-docs` and commit docs/"
        );
    }
}
