//! Reading the project's Rust sources as the tidy tests need them: every
//! file of a kind under a folder, and the code with literals and comments
//! lexed out.
use std::path::{Path, PathBuf};

/// The repository paths a page names in its prose or code (`xtask/src/…`,
/// `hello/…`, `linker/…`, `docs/…`, `.ci/…`): a file or folder that moved
/// must not leave the page naming the old place.
pub fn named_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || "`()[],;:'\"*".contains(c)) {
        let word = word.trim_end_matches(['.', '/']);
        let known = ["xtask/", "hello/", "linker/", "docs/", ".ci/"]
            .iter()
            .any(|p| word.starts_with(p));
        // A path with a wildcard or a placeholder names no one file.
        if known && !word.contains(['<', '*', '{', '#', '…']) && word.contains('/') {
            out.push(word.to_string());
        }
    }
    out
}

/// Every file under `dir` whose extension is `ext`, skipping target/ and .git/.
pub fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n != "target" && n != ".git")
            {
                files(&path, ext, out);
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Rust source with the insides of string and char literals blanked and
/// comments removed (newlines kept, so lines and columns stay), and each line's
/// `//` comment text, if it has one.
pub struct Lexed {
    pub code: Vec<Vec<char>>,
    pub line_comment: Vec<Option<String>>,
    /// The line holds (part of) a block comment.
    pub block_comment: Vec<bool>,
}

pub fn lex_rust(text: &str) -> Lexed {
    let src: Vec<char> = text.chars().collect();
    let mut code = vec![Vec::new()];
    let mut line_comment = vec![None];
    let mut block_comment = vec![false];
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    // Pushes `c` as code, or a blank when `keep` is false; a newline starts a line.
    macro_rules! emit {
        ($c:expr, $keep:expr) => {{
            let c: char = $c;
            if c == '\n' {
                code.push(Vec::new());
                line_comment.push(None);
                block_comment.push(false);
            } else {
                code.last_mut().unwrap().push(if $keep { c } else { ' ' });
            }
        }};
    }
    while i < src.len() {
        let c = src[i];
        let next = src.get(i + 1).copied();
        let prev_ident = i > 0 && ident(src[i - 1]);
        if c == '/' && next == Some('/') {
            let end = src[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(src.len(), |n| i + n);
            *line_comment.last_mut().unwrap() = Some(src[i..end].iter().collect());
            i = end;
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            loop {
                if i >= src.len() {
                    break;
                }
                *block_comment.last_mut().unwrap() = true;
                if src[i] == '/' && src.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if src[i] == '*' && src.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if src[i] == '\n' {
                        emit!('\n', true);
                    }
                    i += 1;
                }
            }
        } else if !prev_ident && (c == 'r' || (matches!(c, 'b' | 'c') && next == Some('r'))) && {
            let start = if c == 'r' { i + 1 } else { i + 2 };
            let hashes = src[start.min(src.len())..]
                .iter()
                .take_while(|&&h| h == '#')
                .count();
            src.get(start + hashes) == Some(&'"')
        } {
            // A raw string: r"..", r#".."#, br"..", cr"..".
            let start = if c == 'r' { i + 1 } else { i + 2 };
            let hashes = src[start..].iter().take_while(|&&h| h == '#').count();
            for &p in &src[i..start + hashes + 1] {
                emit!(p, true);
            }
            i = start + hashes + 1;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < src.len() && !src[i..].starts_with(&close) {
                emit!(src[i], false);
                i += 1;
            }
            for _ in 0..close.len().min(src.len() - i) {
                emit!(src[i], true);
                i += 1;
            }
        } else if c == '"' {
            emit!(c, true);
            i += 1;
            while i < src.len() && src[i] != '"' {
                if src[i] == '\\' {
                    emit!(src[i], false);
                    i += 1;
                }
                if i < src.len() {
                    emit!(src[i], false);
                    i += 1;
                }
            }
            if i < src.len() {
                emit!('"', true);
                i += 1;
            }
        } else if c == '\'' && (next == Some('\\') || src.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\''); otherwise a lifetime or label.
            emit!(c, true);
            i += 1;
            if src.get(i) == Some(&'\\') {
                emit!(' ', true);
                i += 2;
            }
            while i < src.len() && src[i] != '\'' {
                emit!(src[i], false);
                i += 1;
            }
            if i < src.len() {
                emit!('\'', true);
                i += 1;
            }
        } else {
            emit!(c, true);
            i += 1;
        }
    }
    Lexed {
        code,
        line_comment,
        block_comment,
    }
}
