//! The site build's size without the site's bytes (issue 19's budget and
//! goal), measured for the test site on amd64 and arm64, in docs/site.md.
use super::*;
use xtask::build::serve::{BUDGET_AMD64, BUDGET_ARM64, SITE_BUDGET, SITE_GOAL};

/// The number after `word` in `text`.
fn number_after(text: &str, word: &str) -> u64 {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("no {word:?} in {text:?}"))
        + word.len();
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {word:?} in {text:?}"))
}

#[test]
fn sizes_without_the_site() {
    let mut rows = String::new();
    for platform in ["linux/amd64", "linux/arm64"] {
        let port = quiet_port().to_string();
        let out = {
            let _g = lock();
            xtask_ok(&[
                "dist",
                "--program",
                "serve",
                "--no-docker",
                "--platform",
                platform,
                "--site",
                www().to_str().unwrap(),
                "--port",
                &port,
            ])
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("serve {platform}:")))
            .unwrap_or_else(|| panic!("dist printed no size line: {stdout}"));
        let file = std::fs::metadata(
            root().join(format!("target/dist/{}/serve", platform.replace('/', "-"))),
        )
        .unwrap()
        .len();
        let site = xtask::build::site::read(&www(), None, None).unwrap();
        let gzip = number_after(line, "gzipped copies (");
        let without = number_after(line, "without them ");
        let tables = number_after(line, "of which ");
        // The file less the files' bytes and their gzipped copies.
        assert_eq!(without, file - site.bytes() - gzip, "{line}");
        assert_eq!(number_after(line, ": "), file, "{line}");
        // What the link-time ASSERT allows site code (linker/serve-elf64.ld):
        // the page budget and SERVE_SITE_ALLOWANCE (8192, hello/build.rs).
        let page_budget = if platform == "linux/amd64" {
            BUDGET_AMD64
        } else {
            BUDGET_ARM64
        };
        assert!(without - tables <= page_budget + 8192, "{line}");
        let verdict = |limit: u64| {
            if without <= limit {
                "met".to_string()
            } else {
                format!("missed by {}", without - limit)
            }
        };
        rows.push_str(&format!(
            "| {platform} | {file} | {} + {gzip} | {without} | {tables} | {SITE_BUDGET} ({}) | {SITE_GOAL} ({}) |\n",
            site.bytes(),
            verdict(SITE_BUDGET),
            verdict(SITE_GOAL)
        ));
    }
    let table = format!(
        "| test site | file | site's files + gzipped copies | without them | of which tables | budget | goal |\n\
         |---|---:|---:|---:|---:|---:|---:|\n{rows}"
    );
    println!("{table}");
    assert_page_block("README.md", "site-sizes", &table);
}
