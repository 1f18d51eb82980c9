//! One command-line grammar for every task (xtask/src/core/args.rs): each task
//! is run with `--x=v` and `--x v`, an unknown option, a missing value and a
//! repeated option, and must answer each alike: status 2, one line naming the
//! option. And each task's `--help` lists exactly the options it accepts.
//! Every case here fails before anything is built, so the test is quick.
mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output};

use xtask::core::args::Opt;
use xtask::tasks;

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(common::root())
        .output()
        .expect("run the xtask binary")
}

/// Each task, its options, and one option with a value that it refuses while
/// reading its options, with what the refusal says.
const TASKS: &[(&str, &[Opt], &str, &str, &str)] = &[
    (
        "dist",
        tasks::dist::OPTS,
        "--platform",
        "linux/nope",
        "unknown platform `linux/nope`",
    ),
    (
        "explain",
        tasks::explain::OPTS,
        "--layout",
        "huge",
        "unknown layout `huge`",
    ),
    (
        "image",
        tasks::image::OPTS,
        "--tag",
        "Bad",
        "invalid --tag \"Bad\"",
    ),
    (
        "publish",
        tasks::publish::OPTS,
        "--program",
        "nope",
        "--program needs hello, quine or serve",
    ),
    (
        "report",
        tasks::report::OPTS,
        "--exec-runs",
        "1",
        "--exec-runs 1: give a whole number of at least 200",
    ),
    (
        "bench-serve",
        tasks::bench_serve::OPTS,
        "--seconds",
        "0",
        "--seconds 0: give a whole number from 1 to 600",
    ),
    (
        "stress",
        tasks::stress::OPTS,
        "--host-runs",
        "many",
        "--host-runs many: give a whole number",
    ),
];

/// Status 2 and exactly one line, `error: ...` containing `says`.
fn refused(out: &Output, says: &str, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: status; stderr {stderr:?}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "{what}: one line, got {stderr:?}"
    );
    assert!(
        stderr.starts_with("error: ") && stderr.contains(says),
        "{what}: {stderr:?} should say {says:?}"
    );
    assert!(out.stdout.is_empty(), "{what}: printed {:?}", out.stdout);
    stderr
}

#[test]
fn every_task_reads_its_options_the_same_way() {
    for &(task, opts, name, bad, says) in TASKS {
        assert!(opts.iter().any(|o| o.name == name), "{task}: no {name}");
        let joined = format!("{name}={bad}");
        let a = refused(&xtask(&[task, &joined]), says, &format!("{task} {joined}"));
        let b = refused(
            &xtask(&[task, name, bad]),
            says,
            &format!("{task} {name} {bad}"),
        );
        assert_eq!(a, b, "{task}: --x=v and --x v must read alike");

        let help = format!("run `cargo xtask {task} --help` for the options");
        let unknown = refused(
            &xtask(&[task, "--bogus=1"]),
            "unknown option `--bogus`",
            task,
        );
        assert!(
            unknown.contains(&help),
            "{task}: {unknown:?} should point at {help:?}"
        );
        let missing = format!("`{name}` needs a value");
        refused(&xtask(&[task, name]), &missing, &format!("{task} {name}"));
        // Given twice: refused even when both values are fine on their own.
        let twice = format!("`{name}` was given twice");
        refused(&xtask(&[task, name, bad, name, bad]), &twice, task);
        // After `--`, an option is a free argument: refused as such by the
        // tasks that take none, and never read as the option.
        let out = xtask(&[task, "--", name, bad]);
        if task != "publish" {
            refused(
                &out,
                &format!("unexpected argument `{name}`"),
                &format!("{task} -- {name}"),
            );
        }
    }
}

#[test]
fn flags_take_no_value() {
    let out = xtask(&["dist", "--no-docker=yes"]);
    refused(
        &out,
        "`--no-docker` takes no value, but was given `yes`",
        "dist --no-docker=yes",
    );
}

#[test]
fn each_help_lists_exactly_the_options_its_task_accepts() {
    for &(task, opts, ..) in TASKS {
        for ask in ["--help", "-h"] {
            let out = xtask(&[task, ask]);
            assert!(out.status.success(), "{task} {ask}: {out:?}");
            let text = String::from_utf8_lossy(&out.stdout);
            // Option lines: two spaces, then the option (`  --tag NAME  ...`,
            // `  -h, --help ...`); descriptions are indented further.
            let listed: BTreeSet<String> = text
                .lines()
                .filter(|l| l.starts_with("  -"))
                .flat_map(|l| {
                    l.split_whitespace()
                        .take_while(|w| w.starts_with('-'))
                        .map(|w| w.trim_end_matches(',').to_string())
                        .collect::<Vec<_>>()
                })
                .collect();
            let mut accepted: BTreeSet<String> = opts.iter().map(|o| o.name.to_string()).collect();
            accepted.extend(["-h".to_string(), "--help".to_string()]);
            assert_eq!(
                listed, accepted,
                "cargo xtask {task} {ask} lists other options than it accepts:\n{text}"
            );
        }
    }
}
