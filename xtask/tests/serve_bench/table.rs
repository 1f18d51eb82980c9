//! Checks of the benchmark's table: the goals, each ratio recomputed from the
//! raw numbers, and the committed run's table and JSON read back.

use super::*;

/// The goals for serve against nginx at [`GOAL_CONNECTIONS`], stated
/// here and not read from the code under test: what the table calls the
/// measure, its key in a point, whether serve's value must be at least (or at
/// most) `target` times nginx's, and `target`.
pub(crate) const GOALS: [(&str, &str, bool, f64); 3] = [
    ("requests/s", "rps", true, 1.0),
    ("p99", "p99_ms", false, 1.0),
    ("PSS", "pss_kib", false, 0.5),
];
pub(crate) const GOAL_CONNECTIONS: u64 = 100;

/// `contender`'s point at `connections` in a serve.json.
pub(crate) fn point<'a>(json: &'a Value, contender: &str, connections: u64) -> Option<&'a Value> {
    json["contenders"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == contender)?["points"]
        .as_array()?
        .iter()
        .find(|p| p["connections"] == connections)
}

/// `a / b` from the raw numbers, as the table shows a ratio (two decimals).
pub(crate) fn ratio_shown(a: &Value, b: Option<&Value>) -> String {
    match (a.as_f64(), b.and_then(Value::as_f64)) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// `table`, what `bench-serve --table` printed for `json`, holds the JSON's
/// raw numbers, every ratio recomputed here from them, and a goals line whose
/// verdicts are recomputed here against [`GOALS`] (from the measured ratio,
/// not the rounded one: 0.9999 shows as 1.00 and misses ">= 1.0").
pub(crate) fn assert_table_recomputed(json: &Value, table: &str, what: &str) {
    // The page's table: up to the site point's (bench_serve/site.rs).
    let rows: Vec<Vec<&str>> = table
        .lines()
        .take_while(|l| !l.starts_with("The site point"))
        .filter(|l| l.starts_with("| ") && !l.starts_with("| server |"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let mut expected = Vec::new();
    for c in json["contenders"].as_array().unwrap() {
        for p in c["points"].as_array().unwrap() {
            let base = point(json, "nginx", p["connections"].as_u64().unwrap());
            let f = |key: &str| p[key].as_f64().unwrap();
            expected.push(vec![
                c["name"].as_str().unwrap().to_string(),
                p["connections"].to_string(),
                format!("{:.0}", f("rps")),
                ratio_shown(&p["rps"], base.map(|b| &b["rps"])),
                format!("{:.3}", f("p50_ms")),
                format!("{:.3}", f("p99_ms")),
                ratio_shown(&p["p99_ms"], base.map(|b| &b["p99_ms"])),
                p["errors"].to_string(),
                p["pss_kib"].to_string(),
                ratio_shown(&p["pss_kib"], base.map(|b| &b["pss_kib"])),
                c["image_bytes"]
                    .as_u64()
                    .map_or("-".into(), |b| b.to_string()),
            ]);
        }
    }
    assert_eq!(
        rows, expected,
        "{what}: the table's rows (the JSON's numbers and ratios)"
    );
    let goals = table
        .lines()
        .filter(|l| l.starts_with("Goals for "))
        .collect::<Vec<_>>();
    let (Some(ours), Some(base)) = (
        point(json, "serve", GOAL_CONNECTIONS),
        point(json, "nginx", GOAL_CONNECTIONS),
    ) else {
        assert_eq!(
            goals,
            Vec::<&str>::new(),
            "{what}: no point to judge, no goals line"
        );
        return;
    };
    let verdicts: Vec<String> = GOALS
        .iter()
        .map(|&(name, key, at_least, target)| {
            let r = ours[key].as_f64().unwrap() / base[key].as_f64().unwrap();
            let met = if at_least { r >= target } else { r <= target };
            format!(
                "{name} {} {target:.1}: {r:.2} ({})",
                if at_least { ">=" } else { "<=" },
                if met { "met" } else { "missed" }
            )
        })
        .collect();
    assert_eq!(
        goals,
        [format!(
            "Goals for serve at {GOAL_CONNECTIONS} connections, against nginx: {}.",
            verdicts.join("; ")
        )],
        "{what}: the goals line"
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

/// Every contender at every connection count, with numbers that show it ran.
pub(crate) fn assert_complete(json: &Value, what: &str) {
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
