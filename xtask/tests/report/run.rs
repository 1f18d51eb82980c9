//! The one report run every test here shares (a OnceLock), reading its rows
//! and images, and a guard that removes a run's images.

use super::*;

/// common::run, under the name this file uses (run is the report's run here).
pub(crate) fn run_file(
    file: &Path,
    stdout: Stdout,
    uid: Option<u32>,
    ulimit_kib: Option<u32>,
) -> Output {
    common::run(file, stdout, uid, ulimit_kib)
}

/// One report run, shared by the tests in this file.
pub(crate) struct Run {
    pub(crate) stdout: String,
    pub(crate) json: Value,
    /// docs/sizes.svg and the two blocks as committed, read before the run.
    pub(crate) committed_svg: String,
    pub(crate) committed_block: String,
    pub(crate) committed_headline: String,
    /// target/report/scoreboard.md: the block to paste.
    pub(crate) block: String,
    /// target/report/sizes.svg: the chart drawn in this run.
    pub(crate) svg: String,
    /// The repository the run tagged its images under (`hello-report-<pid>`).
    pub(crate) images: String,
    /// The checkout right before and after the run (None with HELLO_UPDATE_README).
    pub(crate) checkout_before: Option<Checkout>,
    pub(crate) checkout_after: Option<Checkout>,
}

pub(crate) fn report() -> Option<&'static Run> {
    static RUN: OnceLock<Option<Run>> = OnceLock::new();
    RUN.get_or_init(|| {
        let test = "tests/report.rs (cargo xtask report)";
        if !docker_available(test) {
            return None;
        }
        // Check 7 runs every contender under qemu-user, and these tests run
        // the files again under it: without qemu-user the report's tables
        // cannot match the README's.
        if ["i386", "x86_64", "aarch64"]
            .iter()
            .any(|arch| common::qemu(test, arch).is_none())
        {
            return None;
        }
        let committed_svg = std::fs::read_to_string(root().join("docs/sizes.svg"))
            .expect("read docs/sizes.svg: run `cargo xtask report --update-docs` and commit it");
        let committed_block = page_block("docs/scoreboard.md", "scoreboard");
        let committed_headline = page_block("README.md", "headline");
        let _g = lock();
        let checkout_before = checkout();
        // The fewest timed runs the report accepts: CI proves it works, and
        // asserts no speed.
        // Its images stay for the tests that run them; images_are_what_the_report_says
        // removes them after.
        let out = xtask_ok(&[
            "report",
            "--exec-runs",
            "200",
            "--docker-runs",
            "20",
            "--keep-images",
        ]);
        let checkout_after = checkout();
        let dir = root().join("target/report");
        let json: Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap())
            .expect("target/report/report.json is JSON");
        let images = images_of(&json);
        Some(Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            json,
            committed_svg,
            committed_block,
            committed_headline,
            block: std::fs::read_to_string(dir.join("scoreboard.md")).unwrap(),
            svg: std::fs::read_to_string(dir.join("sizes.svg")).unwrap(),
            images,
            checkout_before,
            checkout_after,
        })
    })
    .as_ref()
}

/// The one repository every row's image is tagged under.
pub(crate) fn images_of(json: &Value) -> String {
    let repos: std::collections::BTreeSet<&str> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["image"].as_str()?.split(':').next())
        .collect();
    assert_eq!(repos.len(), 1, "report.json's images: {repos:?}");
    let repo = repos.into_iter().next().unwrap().to_string();
    assert!(repo.starts_with("hello-report-"), "{repo}");
    repo
}

pub(crate) fn rows(run: &Run) -> &[Value] {
    run.json["rows"].as_array().expect("report.json has rows")
}

pub(crate) fn row<'a>(run: &'a Run, id: &str) -> &'a Value {
    rows(run)
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("report.json has no row {id}"))
}

/// Sizes as `docker images` prints them (three significant digits, powers of 1000).
pub(crate) fn human(bytes: u64) -> String {
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

/// The row's image, as this run of the report tagged it.
pub(crate) fn image(r: &Value) -> &str {
    r["image"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: report.json names no image", r["id"]))
}

/// Removes the report's images (the tags under its own name) when dropped,
/// after the tests that run them, whether they passed or not.
pub(crate) struct RemoveImages<'a>(pub(crate) &'a Run);

impl Drop for RemoveImages<'_> {
    fn drop(&mut self) {
        if let Err(e) = xtask::run::docker::remove_repository(&self.0.images) {
            eprintln!(
                "could not remove the report's images {}:*: {}",
                self.0.images, e.message
            );
        }
    }
}
