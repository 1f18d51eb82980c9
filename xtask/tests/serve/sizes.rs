//! docs/serve.md's sizes and where the bytes go, as `cargo xtask dist` measures
//! them with the default page on linux/amd64 and linux/arm64.
use super::common::*;
use super::server::*;

/// The sizes and their parts (ELF headers, code by what it does, padding,
/// read-only data, page): dist reads the parts from the linked file's symbols,
/// each on its own, so their sum is checked against the file.
#[test]
fn sizes_in_readme() {
    // The port does not change the size; a free one lets dist try the file.
    let port = free_port().to_string();
    let measure = |platform: &str| -> (usize, Vec<(String, usize)>) {
        let _g = lock();
        let out = xtask_ok(&[
            "dist",
            "--program",
            "serve",
            "--no-docker",
            "--platform",
            platform,
            "--port",
            &port,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // serve P: N bytes = part A + part B + ...
        let prefix = format!("serve {platform}: ");
        let line = stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .find(|l| l.contains(" = "))
            .unwrap_or_else(|| panic!("no `{prefix}N bytes = ...` line:\n{stdout}"));
        let (size, list) = line.split_once(" bytes = ").unwrap();
        let size: usize = size.parse().unwrap();
        let parts: Vec<(String, usize)> = list
            .split(" + ")
            .map(|p| {
                let (name, n) = p.rsplit_once(' ').unwrap();
                (name.to_string(), n.parse().unwrap())
            })
            .collect();
        assert_eq!(
            parts.iter().map(|(_, n)| n).sum::<usize>(),
            size,
            "the parts do not add up to the file: {line:?}"
        );
        let file = root()
            .join("target/dist")
            .join(platform.replace('/', "-"))
            .join("serve");
        assert_eq!(std::fs::metadata(file).unwrap().len() as usize, size);
        (size, parts)
    };
    let (amd64, amd64_parts) = measure("linux/amd64");
    let (arm64, arm64_parts) = measure("linux/arm64");
    assert!(amd64 <= BUDGET_AMD64 && arm64 <= BUDGET_ARM64);
    let row = |p: &str, n: usize, budget: usize| {
        let goal = if n <= GOAL {
            "met".to_string()
        } else {
            format!("missed by {} bytes", n - GOAL)
        };
        format!("| {p} | {n} | {budget} | {GOAL} ({goal}) |\n")
    };
    let mut table = format!(
        "| `serve`, default page | bytes | budget | goal |\n|---|---:|---:|---:|\n{}{}",
        row("linux/amd64", amd64, BUDGET_AMD64),
        row("linux/arm64", arm64, BUDGET_ARM64)
    );
    table.push_str("\n| where the bytes go | linux/amd64 | linux/arm64 |\n|---|---:|---:|\n");
    for (name, n) in &amd64_parts {
        let other = arm64_parts
            .iter()
            .find(|(m, _)| m == name)
            .map_or("-".to_string(), |(_, n)| n.to_string());
        table.push_str(&format!("| {name} | {n} | {other} |\n"));
    }
    assert_page_block("docs/serve.md", "serve-sizes", &table);
}
