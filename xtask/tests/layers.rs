//! The xtask's layers, read from its sources: every `crate::` path in every
//! module's code (`use crate::…` lines and paths written inline), checked
//! against the arrows src/lib.rs draws. A module may use its own layer and
//! the ones below it; no task uses another task; no two modules use each
//! other, directly or around a circle. Also: no source file over 600 lines,
//! in src/ or tests/, and each module opens with a doc line that says what it
//! owns.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::lex::{files, lex_rust};
use common::root;

/// The layers, bottom first. The crate root (`crate::Error`, `root()`,
/// `cargo()`) counts as core.
const LAYERS: &[&[&str]] = &[
    &["core", ""],
    &["run", "elf", "oci"],
    &["build"],
    &["tasks"],
];

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    LAYERS
        .iter()
        .position(|l| l.contains(&top))
        .unwrap_or_else(|| panic!("module {module} is in no layer: add `{top}` to LAYERS"))
}

/// `src/tasks/dist/mod.rs` -> `tasks::dist`; `src/lib.rs` -> ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "mod" && p != "lib")
        .collect();
    parts.join("::")
}

/// Every `crate::` path in `code` (literals and comments already lexed out),
/// braces expanded: `crate::{Error, core::{cmd, files}}` gives `Error`,
/// `core::cmd` and `core::files`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `xtask_crate::`, not ours
        }
        expand("", rest, &mut out);
    }
    out
}

/// Reads one path (or brace group) at the start of `s` with `prefix` before it.
fn expand(prefix: &str, s: &str, out: &mut Vec<String>) -> usize {
    let s_trim = s.trim_start();
    let skipped = s.len() - s_trim.len();
    if let Some(inner) = s_trim.strip_prefix('{') {
        let mut used = 1;
        let mut at = inner;
        loop {
            let n = expand(prefix, at, out);
            used += n;
            at = &at[n..];
            let t = at.trim_start();
            used += at.len() - t.len();
            at = t;
            match at.chars().next() {
                Some(',') => {
                    used += 1;
                    at = &at[1..];
                }
                Some('}') => return skipped + used + 1,
                _ => return skipped + used,
            }
        }
    }
    let end = s_trim
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s_trim.len());
    let (word, after) = s_trim.split_at(end);
    let path = format!("{prefix}{word}");
    if path.ends_with("::") && after.starts_with('{') {
        return skipped + end + expand(&path, after, out);
    }
    let path = path.trim_end_matches("::").trim_end_matches("::self");
    if !path.is_empty() && path != "self" {
        out.push(path.to_string());
    } else if !prefix.is_empty() {
        out.push(prefix.trim_end_matches("::").to_string());
    }
    skipped + end
}

/// The module a path names, or that holds the item it names: its longest
/// prefix that is a module of the crate.
fn target(path: &str, modules: &BTreeSet<String>) -> String {
    let parts: Vec<&str> = path.split("::").collect();
    (0..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

/// The xtask's modules and, for each, the modules its code uses.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut rs = Vec::new();
    files(src, "rs", &mut rs);
    rs.retain(|f| f.file_name().is_some_and(|n| n != "main.rs"));
    let modules: BTreeSet<String> = rs.iter().map(|f| module_of(src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &rs {
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let lexed = lex_rust(&text);
        let code: String = lexed
            .code
            .iter()
            .map(|l| l.iter().collect::<String>() + "\n")
            .collect();
        let uses: BTreeSet<String> = crate_paths(&code)
            .iter()
            .map(|p| target(p, &modules))
            .filter(|t| *t != module)
            .collect();
        graph.insert(module, uses);
    }
    graph
}

/// What is wrong with `graph`: arrows pointing up, tasks using tasks, circles.
fn problems(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    fn task(m: &str) -> Option<&str> {
        m.strip_prefix("tasks::")
            .map(|t| t.split("::").next().unwrap())
    }
    for (from, uses) in graph {
        for to in uses {
            if layer(to) > layer(from) {
                found.push(format!(
                    "{from} uses {to}, a layer above it: move what both need down, below {from}"
                ));
            }
            if let (Some(a), Some(b)) = (task(from), task(to))
                && a != b
            {
                found.push(format!(
                    "task {a} ({from}) uses task {b} ({to}): move what both need into build, oci, elf, run or core"
                ));
            }
        }
    }
    // Circles: a depth-first walk that finds a module on its own path. A
    // module and its parent (`tasks::dist` and `tasks::dist::hello`) may use
    // each other: that is one module's items split over files.
    let related =
        |a: &str, b: &str| a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"));
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut path = vec![start.clone()];
        walk(graph, &mut path, &mut done, &related, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

fn walk(
    graph: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
    related: &dyn Fn(&str, &str) -> bool,
    found: &mut Vec<String>,
) {
    let here = path.last().unwrap().clone();
    if done.contains(&here) {
        return;
    }
    for next in graph.get(&here).into_iter().flatten() {
        if related(&here, next) {
            continue;
        }
        if let Some(i) = path.iter().position(|m| m == next) {
            let mut circle = path[i..].to_vec();
            circle.push(next.clone());
            found.push(format!("import circle: {}", circle.join(" -> ")));
            continue;
        }
        path.push(next.clone());
        walk(graph, path, done, related, found);
        path.pop();
    }
    done.insert(here);
}

#[test]
fn arrows_point_down_and_no_task_imports_another() {
    let src = root().join("xtask/src");
    let graph = graph(&src);
    assert!(
        graph.len() > 20 && graph["tasks::dist::hello"].contains("build"),
        "the reader found too little: {graph:?}"
    );
    let found = problems(&graph);
    assert!(
        found.is_empty(),
        "xtask/src's layers (src/lib.rs draws them):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layer_check_catches_what_it_should() {
    let g = |edges: &[(&str, &[&str])]| -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(m, uses)| (m.to_string(), uses.iter().map(|u| u.to_string()).collect()))
            .collect()
    };
    // Fine: down, sideways in a layer, a task's own submodules.
    let ok = g(&[
        (
            "tasks::dist",
            &["build", "core::args", "tasks::dist::hello"],
        ),
        ("tasks::dist::hello", &["tasks::dist", "oci"]),
        ("build", &["elf", "core::cmd"]),
        ("elf", &["core::platform"]),
        ("oci", &["core::files", "run"]),
    ]);
    assert_eq!(problems(&ok), Vec::<String>::new());
    let up = problems(&g(&[("core::files", &["build"])]));
    assert!(up[0].contains("a layer above"), "{up:?}");
    let task = problems(&g(&[("tasks::dist", &["tasks::explain"])]));
    assert!(
        task[0].contains("task dist (tasks::dist) uses task explain"),
        "{task:?}"
    );
    let circle = problems(&g(&[
        ("run::docker", &["run::qemu"]),
        ("run::qemu", &["oci"]),
        ("oci", &["run::docker"]),
    ]));
    assert!(
        circle.iter().any(|p| p.starts_with("import circle:")),
        "{circle:?}"
    );
    // The reader: braces, `self`, inline paths, comments and strings skipped.
    let lexed = lex_rust(
        "use crate::{Error, core::{cmd, files::write}, oci::{self, tar}};\n\
         // crate::tasks::x in a comment\n\
         let s = \"crate::build\"; crate::run::qemu::command(p);\n",
    );
    let code: String = lexed
        .code
        .iter()
        .map(|l| l.iter().collect::<String>() + "\n")
        .collect();
    assert_eq!(
        crate_paths(&code),
        [
            "Error",
            "core::cmd",
            "core::files::write",
            "oci",
            "oci::tar",
            "run::qemu::command"
        ]
    );
}

#[test]
fn no_source_file_over_600_lines_and_each_says_what_it_owns() {
    let mut rs: Vec<PathBuf> = Vec::new();
    files(&root().join("xtask/src"), "rs", &mut rs);
    // The tests too: a test binary too long for one file becomes
    // tests/NAME/main.rs with modules beside it (still one binary).
    files(&root().join("xtask/tests"), "rs", &mut rs);
    assert!(
        rs.iter().any(|f| f.ends_with("xtask/tests/common/mod.rs")),
        "the walk missed xtask/tests"
    );
    let mut found = Vec::new();
    for file in &rs {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.strip_prefix(root()).unwrap().display();
        let lines = text.lines().count();
        if lines > 600 {
            found.push(format!(
                "{name}: {lines} lines; split it (no source file over 600)"
            ));
        }
        let first = text.lines().next().unwrap_or("");
        if !first.starts_with("//! ") || first.len() < 20 {
            found.push(format!(
                "{name}: its first line should be a `//!` doc line that says what the module owns, not {first:?}"
            ));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
