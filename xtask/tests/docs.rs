//! The README and the pages in docs/: every relative link between them
//! resolves (the file exists and, for `#anchor`, the heading does, by GitHub's
//! anchor rules), README.md links every page, stays a front page (under 200
//! lines), and each generated block lives on exactly one page.
mod common;

use common::lex::{files, named_paths};

use common::root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The most lines README.md may have: what a newcomer reads in five minutes.
const README_MAX_LINES: usize = 200;

/// README.md and every docs/*.md, as paths from the root.
fn pages() -> Vec<String> {
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("read docs/")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    let mut pages = vec!["README.md".to_string()];
    pages.extend(docs);
    pages
}

fn read(page: &str) -> String {
    std::fs::read_to_string(root().join(page)).unwrap_or_else(|e| panic!("read {page}: {e}"))
}

/// The lines of a Markdown text outside fenced code blocks, numbered from 1.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// `line` without its inline code spans (`` `...` ``), which hold no links.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out
}

/// The targets of the inline links and images in `text` (`[text](target)`,
/// `![alt](target)`), with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after
                .find(')')
                .unwrap_or_else(|| panic!("line {n}: a link with no closing `)`: {line}"));
            out.push((n, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading's text: the rendered text (code spans and
/// links as their text, emphasis marks dropped), lower-cased, with everything
/// but letters, digits, spaces, `-` and `_` removed, and spaces turned into
/// `-`.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // A link renders as its text.
    while let Some(i) = rest.find("](") {
        let close = rest[i..].find(')').map_or(rest.len(), |j| i + j + 1);
        text.push_str(&rest[..i]);
        rest = &rest[close..];
    }
    text.push_str(rest);
    text.chars()
        .filter(|&c| c != '`' && c != '*' && c != '[')
        .flat_map(char::to_lowercase)
        .filter(|&c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings, as GitHub makes them: a repeated one gets
/// `-1`, `-2`, ... in order.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(line[hashes..].trim().trim_end_matches('#').trim());
        let count = seen.entry(base.clone()).or_insert(0);
        out.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    out
}

/// `target` (a link on `page`, without its `#anchor`) as a path from the root,
/// or None when it leaves the repository.
fn resolve(page: &str, target: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    let base = Path::new(page).parent().unwrap();
    for part in base.join(target).components() {
        match part {
            Component::Normal(p) => path.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !path.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(path)
}

/// What is wrong with the links on `page` (whose text is `text`), one line
/// each; `read` gives another page's text, for its anchors.
fn broken_links(page: &str, text: &str, read: &dyn Fn(&Path) -> Option<String>) -> Vec<String> {
    let mut broken = Vec::new();
    for (n, target) in links(text) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((file, anchor)) => (file, Some(anchor)),
            None => (target.as_str(), None),
        };
        let (path, other) = if file.is_empty() {
            (PathBuf::from(page), Some(text.to_string()))
        } else {
            let Some(path) = resolve(page, file) else {
                broken.push(format!(
                    "{page}:{n}: `{target}` points outside the repository"
                ));
                continue;
            };
            let other = read(&path);
            (path, other)
        };
        let Some(other) = other else {
            broken.push(format!(
                "{page}:{n}: `{target}`: there is no {}",
                path.display()
            ));
            continue;
        };
        if let Some(anchor) = anchor {
            let have = anchors(&other);
            if !have.contains(anchor) {
                broken.push(format!(
                    "{page}:{n}: `{target}`: {} has no heading with the anchor `{anchor}` (it has: {})",
                    path.display(),
                    have.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    broken
}

/// Every relative link and image in README.md and docs/*.md names a file that
/// exists, and every `#anchor` a heading of that page.
#[test]
fn every_link_resolves() {
    let file = |path: &Path| -> Option<String> {
        let full = root().join(path);
        if full.is_dir() {
            return Some(String::new());
        }
        let bytes = std::fs::read(full).ok()?;
        // Anchors are only looked for in Markdown; other files just exist.
        Some(String::from_utf8(bytes).unwrap_or_default())
    };
    let mut broken = Vec::new();
    for page in pages() {
        broken.extend(broken_links(&page, &read(&page), &file));
    }
    assert!(
        broken.is_empty(),
        "broken links: fix the target or the heading:\n{}",
        broken.join("\n")
    );
}

/// Every page in docs/ is linked from README.md, so none is lost.
#[test]
fn readme_links_every_page() {
    let readme = read("README.md");
    let linked: BTreeSet<PathBuf> = links(&readme)
        .into_iter()
        .filter_map(|(_, t)| resolve("README.md", t.split('#').next().unwrap()))
        .collect();
    let missing: Vec<String> = pages()
        .into_iter()
        .skip(1)
        .filter(|p| !linked.contains(Path::new(p)))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md links no page for {}: add a line for each to README.md's Pages",
        missing.join(", ")
    );
}

/// README.md is a front page: under 200 lines; the rest goes in docs/.
#[test]
fn readme_is_short() {
    let lines = read("README.md").lines().count();
    assert!(
        lines < README_MAX_LINES,
        "README.md has {lines} lines, {README_MAX_LINES} or more: move a section to a page in docs/ and link it from README.md's Pages"
    );
}

/// Each generated block (`<!-- BEGIN name -->`) is on one page only, so the
/// test that checks it and the page a reader finds it on are the same.
#[test]
fn every_block_is_on_one_page() {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for page in pages() {
        let text = read(&page);
        let mut rest = text.as_str();
        while let Some(i) = rest.find("<!-- BEGIN ") {
            rest = &rest[i + "<!-- BEGIN ".len()..];
            let name = rest.split(" -->").next().unwrap().to_string();
            assert!(
                text.contains(&format!("<!-- END {name} -->")),
                "{page}: `<!-- BEGIN {name} -->` has no `<!-- END {name} -->`"
            );
            found.entry(name).or_default().push(page.clone());
        }
    }
    assert_eq!(
        found.get("headline"),
        Some(&vec!["README.md".to_string()]),
        "the headline block opens README.md"
    );
    for (name, on) in found {
        assert_eq!(on.len(), 1, "the block `{name}` is on {on:?}: keep one");
    }
}

/// GitHub's anchors, for headings this project has.
#[test]
fn slugs_follow_github() {
    for (heading, anchor) in [
        ("The web server: `serve`", "the-web-server-serve"),
        ("What was not done, and why", "what-was-not-done-and-why"),
        ("Layouts: `compat` and `tiny`", "layouts-compat-and-tiny"),
        (
            "`cargo xtask dist` --platform all",
            "cargo-xtask-dist---platform-all",
        ),
        ("bench_serve and [a link](x.md)", "bench_serve-and-a-link"),
        ("Über 1.0", "über-10"),
    ] {
        assert_eq!(slug(heading), anchor, "{heading}");
    }
    let text = "# A\n## Notes\n```\n# not a heading\n```\n## Notes\n#nospace\n";
    let want: BTreeSet<String> = ["a", "notes", "notes-1"].map(String::from).into();
    assert_eq!(anchors(text), want);
}

/// The checker finds what it is for: a missing file, a missing heading, a
/// link out of the repository; and passes a good link, in code or not.
#[test]
fn broken_links_are_found() {
    let files: BTreeMap<&str, &str> = [
        ("docs/a.md", "# A\n## Serve it\n"),
        ("docs/b.svg", "<svg/>"),
    ]
    .into();
    let read = |p: &Path| files.get(p.to_str().unwrap()).map(|s| s.to_string());
    let page = "See [a](docs/a.md#serve-it), ![b](docs/b.svg), [top](#top), \
                `[not](a link)`, [web](https://example.com).\n\
                [x](docs/x.md) [y](docs/a.md#serve) [z](../../etc/passwd)\n# Top\n";
    let broken = broken_links("README.md", page, &read);
    assert_eq!(broken.len(), 3, "{broken:#?}");
    assert!(broken[0].contains("README.md:2: `docs/x.md`: there is no docs/x.md"));
    assert!(broken[1].contains("has no heading with the anchor `serve`"));
    assert!(broken[2].contains("points outside the repository"));
}

#[test]
fn every_repository_path_a_page_names_exists() {
    let mut missing = Vec::new();
    for page in pages() {
        for path in named_paths(&read(&page)) {
            if !root().join(&path).exists() {
                missing.push(format!("{page}: names {path}, which does not exist"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert_eq!(
        named_paths("see `xtask/src/run/hardened.rs`, (hello/src/main.rs) and target/x"),
        ["xtask/src/run/hardened.rs", "hello/src/main.rs"]
    );
}

#[test]
fn every_repository_path_the_sources_name_exists() {
    let mut rs = Vec::new();
    files(&root().join("xtask/src"), "rs", &mut rs);
    files(&root().join("hello"), "rs", &mut rs);
    files(&root().join("linker"), "ld", &mut rs);
    files(&root().join("linker"), "in", &mut rs);
    let mut missing = Vec::new();
    for file in rs {
        for path in named_paths(&std::fs::read_to_string(&file).unwrap()) {
            if !root().join(&path).exists() {
                missing.push(format!(
                    "{}: names {path}, which does not exist",
                    file.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
