//! docs/serve.md's sizes and where the bytes go, as `cargo xtask dist` measures
//! them with the default page, on every platform: nine rows, each within its
//! budget and within 125% of amd64's file (but those OVER_RATIO lists).
use super::common::*;
use super::server::*;
use xtask::core::platform::{PLATFORMS, Program};

/// One platform's file: its platform, size and parts.
type Measured = (&'static str, usize, Vec<(String, usize)>);

/// The sizes and their parts (ELF headers, code by what it does, padding,
/// read-only data, page): dist reads the parts from the linked file's symbols,
/// each on its own, so their sum is checked against the file.
#[test]
fn sizes_in_readme() {
    // A free port that dist can try the file on, from 18080..18144: the port
    // is baked into the code, and on riscv64 its value changes the size (a
    // byte below 32 takes a 2-byte instruction); these ports share one high
    // byte and have low bytes 160 to 223 (neither 0..31 nor, read as a signed byte, -32..-1),
    // so every one gives the same file.
    let port = (18080..18144u16)
        .find(|&p| std::net::TcpListener::bind(("::", p)).is_ok())
        .expect("a free port in 18080..18144")
        .to_string();
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
    let measured: Vec<Measured> = Program::Serve
        .platforms()
        .map(|p| {
            let (size, parts) = measure(p.docker);
            (p.docker, size, parts)
        })
        .collect();
    assert_eq!(
        measured.len(),
        PLATFORMS.len(),
        "serve is built for all nine"
    );
    let amd64 = measured[0].1;
    let mut table = String::from(
        "| `serve`, default page | bytes | of amd64's | budget | goal |\n|---|---:|---:|---:|---:|\n",
    );
    for &(docker, n, _) in &measured {
        let budget = match docker {
            "linux/amd64" => BUDGET_AMD64,
            "linux/arm64" => BUDGET_ARM64,
            "linux/ppc64le" => BUDGET_PPC64LE,
            _ => BUDGET_OTHERS,
        };
        assert!(n <= budget, "serve {}: {n} bytes, over {budget}", docker);
        let over = n * 100 > amd64 * 125;
        assert_eq!(
            over,
            OVER_RATIO.contains(&docker),
            "serve {}: {n} bytes, {}% of amd64's {amd64}: over 125% exactly when OVER_RATIO \
             (tests/serve/server.rs) lists it",
            docker,
            n * 100 / amd64
        );
        let goal = if n <= GOAL {
            "met".to_string()
        } else {
            format!("missed by {} bytes", n - GOAL)
        };
        table.push_str(&format!(
            "| {} | {n} | {}%{} | {budget} | {GOAL} ({goal}) |\n",
            docker,
            n * 100 / amd64,
            if over { " (over 125%)" } else { "" }
        ));
    }
    // Where the bytes go, a column per platform (the os/ left off).
    table.push_str("\n| where the bytes go |");
    for (p, _, _) in &measured {
        table.push_str(&format!(" {} |", &p["linux/".len()..]));
    }
    table.push_str("\n|---|");
    table.push_str(&"---:|".repeat(measured.len()));
    table.push('\n');
    let mut names: Vec<&str> = Vec::new();
    for (_, _, parts) in &measured {
        for (name, _) in parts {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    for name in names {
        table.push_str(&format!("| {name} |"));
        for (_, _, parts) in &measured {
            let n = parts
                .iter()
                .find(|(m, _)| m == name)
                .map_or("-".to_string(), |(_, n)| n.to_string());
            table.push_str(&format!(" {n} |"));
        }
        table.push('\n');
    }
    assert_page_block("docs/serve.md", "serve-sizes", &table);
}
