//! Generated blocks in the Markdown pages: the text between
//! `<!-- BEGIN name -->` and `<!-- END name -->`, rewritten in place.
//!
//! A block is whole lines (`BEGIN` ends its line) or one figure inside a
//! sentence (inline), as xtask/tests/common reads them.
use std::path::Path;

use crate::Error;
use crate::core::files::{self, rel};

/// The environment variable that asks every task (and test) that writes
/// generated docs to rewrite them; CI (.ci/run) refuses to run with it set.
pub const UPDATE_ENV: &str = "HELLO_UPDATE_README";

/// Whether a run was asked to rewrite docs/ and the pages' blocks, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    No,
    /// The task's `--update-docs`.
    Option,
    /// [`UPDATE_ENV`] is set.
    Env,
}

/// [`Asked`] from the task's `--update-docs` (`option`) and the environment.
pub fn asked(option: bool) -> Asked {
    if option {
        Asked::Option
    } else if std::env::var_os(UPDATE_ENV).is_some() {
        Asked::Env
    } else {
        Asked::No
    }
}

/// `page` with block `name` replaced by `text`; an error naming the page and
/// the marker when either marker is missing.
pub fn replaced(page_text: &str, page: &Path, name: &str, text: &str) -> Result<String, Error> {
    let missing = |marker: String| {
        Error::fail(format!(
            "{} has no `{marker}` marker: put the block's markers back where it goes",
            rel(page)
        ))
    };
    let begin = format!("<!-- BEGIN {name} -->");
    let end = format!("<!-- END {name} -->");
    let begin_line = format!("{begin}\n");
    let begin = if page_text.contains(&begin_line) {
        begin_line
    } else {
        begin
    };
    let start = page_text
        .find(&begin)
        .ok_or_else(|| missing(begin.clone()))?
        + begin.len();
    let stop = page_text[start..]
        .find(&end)
        .ok_or_else(|| missing(end.clone()))?
        + start;
    Ok(format!(
        "{}{text}{}",
        &page_text[..start],
        &page_text[stop..]
    ))
}

/// Rewrites block `name` of `page` (a path under the root) with `text`,
/// leaving the file untouched when it holds that already.
pub fn write(page: &Path, name: &str, text: &str) -> Result<(), Error> {
    let old = std::fs::read_to_string(page).map_err(|e| files::io("read", page, e))?;
    let new = replaced(&old, page, name, text)?;
    files::write_if_changed(page, new.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_line_and_inline_blocks() {
        let page = Path::new("README.md");
        let text =
            "a\n<!-- BEGIN t -->\nold\n<!-- END t -->\nb <!-- BEGIN n -->1<!-- END n --> c\n";
        let t = replaced(text, page, "t", "new 1\nnew 2\n").unwrap();
        assert_eq!(
            t,
            "a\n<!-- BEGIN t -->\nnew 1\nnew 2\n<!-- END t -->\nb <!-- BEGIN n -->1<!-- END n --> c\n"
        );
        let n = replaced(&t, page, "n", "22").unwrap();
        assert!(n.ends_with("b <!-- BEGIN n -->22<!-- END n --> c\n"));
        let e = replaced(text, page, "gone", "x").unwrap_err();
        assert!(
            e.message
                .contains("README.md has no `<!-- BEGIN gone -->` marker")
        );
    }
}
