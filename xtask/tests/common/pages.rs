//! The README's and docs' generated blocks (read, compared, rewritten on
//! request), and whether a run left the checkout as it was.

use std::process::Command;

use super::root;

/// The text between `<!-- BEGIN name -->` and `<!-- END name -->` in `page`, a
/// Markdown file named from the root: README.md or one of docs/*.md.
pub fn page_block(page: &str, name: &str) -> String {
    let text =
        std::fs::read_to_string(root().join(page)).unwrap_or_else(|e| panic!("read {page}: {e}"));
    let (start, stop) = block_span(&text, page, name);
    text[start..stop].to_string()
}

/// Where the block `name` starts and stops in `text` (the Markdown file `page`).
/// A block is whole lines or, for one figure inside a sentence, inline.
fn block_span(text: &str, page: &str, name: &str) -> (usize, usize) {
    let begin = format!("<!-- BEGIN {name} -->");
    let end = format!("<!-- END {name} -->");
    let begin = if text.contains(&format!("{begin}\n")) {
        format!("{begin}\n")
    } else {
        begin
    };
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("{page} has no `{begin}` marker"))
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("{page} has no `{end}` marker"))
        + start;
    (start, stop)
}

/// Fails unless the block `name` in `page` (README.md or docs/*.md) is exactly
/// `expected`, printing the block to paste. With HELLO_UPDATE_README=1 it
/// rewrites the block instead (then review the diff and commit it).
pub fn assert_page_block(page: &str, name: &str, expected: &str) {
    let got = page_block(page, name);
    if got == expected {
        return;
    }
    if std::env::var_os("HELLO_UPDATE_README").is_some() {
        let path = root().join(page);
        let text = std::fs::read_to_string(&path).unwrap();
        let (start, stop) = block_span(&text, page, name);
        let updated = format!("{}{expected}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, updated).unwrap();
        eprintln!("HELLO_UPDATE_README: rewrote {page}'s `{name}` block");
        return;
    }
    panic!(
        "{page}'s `{name}` block differs from what was measured. Replace the lines between \
         <!-- BEGIN {name} --> and <!-- END {name} --> in {page} with the lines below, or \
         rerun with HELLO_UPDATE_README=1:\n{expected}\n({page} has:\n{got})"
    );
}

/// What git sees of the checkout: `git status --porcelain` with every
/// untracked file, and the diff of the tracked ones (so a rewrite of a file
/// already modified shows too).
#[derive(Debug, PartialEq, Eq)]
pub struct Checkout {
    pub status: String,
    pub diff: String,
}

/// The checkout now, for comparing before and after a run; `None` (said on
/// stderr) when HELLO_UPDATE_README asks runs to rewrite the docs.
pub fn checkout() -> Option<Checkout> {
    if std::env::var_os("HELLO_UPDATE_README").is_some() {
        eprintln!(
            "HELLO_UPDATE_README is set: not checking that the run leaves the checkout as it was"
        );
        return None;
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {}: {out:?}", args.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    Some(Checkout {
        status: git(&["status", "--porcelain", "--untracked-files=all"]),
        diff: git(&["diff", "--no-ext-diff"]),
    })
}

/// `cargo xtask <what>` left the checkout as it was: `before` and `after`,
/// taken right before and after the run (it writes under target/ only,
/// unless asked with `--update-docs`).
pub fn assert_checkout_unchanged(before: &Option<Checkout>, after: &Option<Checkout>, what: &str) {
    let (Some(before), Some(after)) = (before, after) else {
        return;
    };
    assert_eq!(
        before.status, after.status,
        "`cargo xtask {what}` changed `git status --porcelain`: it must write under target/ only \
         (docs/ and README.md only with --update-docs)"
    );
    assert!(
        before.diff == after.diff,
        "`cargo xtask {what}` rewrote a tracked file that was already modified (see `git diff`): \
         it must write under target/ only"
    );
}
