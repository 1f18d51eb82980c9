//! Tidy checks, as ordinary tests: formatting, lints, and the comments that the
//! project's rules ask for.
mod common;

use common::lex::{files, lex_rust};
use common::root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `path:line` for a 0-based line index, relative to the root.
fn location(file: &Path, i: usize) -> String {
    format!("{}:{}", file.strip_prefix(root()).unwrap().display(), i + 1)
}

#[test]
fn formatted() {
    let out = Command::new(env!("CARGO"))
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo fmt --all -- --check found differences; run `cargo fmt --all`:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn clippy_clean() {
    // hello builds only with panic = "abort", i.e. in release, and for each of
    // the targets in xtask/src/core/platform.rs (dist installs them on first use).
    let platforms = std::fs::read_to_string(root().join("xtask/src/core/platform.rs")).unwrap();
    let mut triples: Vec<&str> = platforms
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            // A platform's triple, or a program's own (`THUMB1_TRIPLE`, serve on arm/v6).
            let l = l.strip_prefix("triple: \"").or_else(|| {
                l.strip_prefix("pub const ")
                    .and_then(|l| l.split_once("_TRIPLE: &str = \""))
                    .map(|(_, t)| t)
            })?;
            l.strip_suffix("\",").or_else(|| l.strip_suffix("\";"))
        })
        .collect();
    triples.sort_unstable();
    triples.dedup();
    assert!(
        triples.len() >= 2,
        "found no target triples in xtask/src/core/platform.rs"
    );
    // Each run with the rustflags it needs for the hello crate, if any.
    let mut runs: Vec<(Vec<&str>, &str)> = vec![(
        vec!["clippy", "--quiet", "--package", "xtask", "--all-targets"],
        "",
    )];
    for triple in triples {
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&installed.stdout)
            .lines()
            .any(|l| l == triple)
        {
            let add = Command::new("rustup")
                .args(["target", "add", triple])
                .status()
                .unwrap();
            assert!(add.success(), "rustup target add {triple} failed");
        }
        let hello = vec![
            "clippy",
            "--quiet",
            "--package",
            "hello",
            "--release",
            "--target",
            triple,
        ];
        // serve's linux/arm/v5 build: its own code (`cfg(armv5)`, from
        // platform.rs's ARMV5_FLAGS; the cfg alone, as the unstable feature
        // flag there draws a warning of its own).
        if triple == xtask::core::platform::THUMB1_TRIPLE {
            runs.push((hello.clone(), "--cfg=armv5"));
        }
        runs.push((hello, ""));
    }
    for (args, rustflags) in runs {
        let out = Command::new(env!("CARGO"))
            .args(&args)
            .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
            .args(["--", "-D", "warnings"])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "CARGO_ENCODED_RUSTFLAGS={rustflags:?} cargo {} -- -D warnings failed; fix what it reports:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// 0-based lines with an `unsafe` block, `unsafe(...)` attribute, `unsafe impl`
/// or `unsafe extern` that lacks its own `// SAFETY:` comment.
///
/// The rule: every such `unsafe` has a `// SAFETY: <why>` line comment directly
/// above the line it starts on (for an attribute, the line its `#[` starts on).
/// Between the two, only more comment lines (the rest of the SAFETY text) and
/// attribute lines may stand; a blank or code line ends the search. Each SAFETY
/// comment belongs to the one `unsafe` below it: a second `unsafe` under the same
/// comment, or on the same line, needs its own. `unsafe fn` declarations are
/// not covered: the `unsafe` blocks that call them are. Literals and comments
/// are lexed out first, so quotes on a line hide nothing.
fn unsafe_without_safety(text: &str) -> Vec<usize> {
    let lexed = lex_rust(text);
    let lines = &lexed.code;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    // For each line: inside an attribute from its first code character to its
    // last (attribute-only), and where each attribute starts.
    let mut attr_only = vec![false; lines.len()];
    let mut attr_start_of: Vec<Vec<Option<usize>>> = vec![Vec::new(); lines.len()];
    let mut depth = 0usize; // bracket depth inside an attribute; 0 outside
    let mut pending = false; // saw `#` or `#!`, its `[` comes next
    let mut start = 0usize;
    for (l, line) in lines.iter().enumerate() {
        let mut only = line.iter().any(|c| !c.is_whitespace());
        let mut starts = vec![None; line.len()];
        for (col, &c) in line.iter().enumerate() {
            if depth == 0 && !pending && c == '#' {
                let rest: String = line[col + 1..]
                    .iter()
                    .filter(|c| !c.is_whitespace())
                    .take(2)
                    .collect();
                if rest.starts_with('[') || rest.starts_with("![") {
                    pending = true;
                    start = l;
                    starts[col] = Some(l);
                    continue;
                }
            }
            if pending {
                starts[col] = Some(start);
                if c == '[' {
                    pending = false;
                    depth = 1;
                }
                continue;
            }
            if depth > 0 {
                starts[col] = Some(start);
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ => {}
                }
                continue;
            }
            if !c.is_whitespace() {
                only = false;
            }
        }
        attr_only[l] = only;
        attr_start_of[l] = starts;
    }
    let is_comment_line = |l: usize| {
        lines[l].iter().all(|c| c.is_whitespace())
            && (lexed.line_comment[l].is_some() || lexed.block_comment[l])
    };
    let safety = |l: usize| {
        lines[l].iter().all(|c| c.is_whitespace())
            && lexed.line_comment[l].as_deref().is_some_and(|c| {
                c.strip_prefix("// SAFETY:")
                    .is_some_and(|why| !why.trim().is_empty())
            })
    };
    let mut claimed = vec![false; lines.len()];
    let mut missing = Vec::new();
    // Every `unsafe` token, with what follows it (across lines).
    let flat: Vec<(usize, usize, char)> = lines
        .iter()
        .enumerate()
        .flat_map(|(l, line)| {
            line.iter()
                .enumerate()
                .map(move |(col, &c)| (l, col, c))
                .chain(std::iter::once((l, line.len(), '\n')))
        })
        .collect();
    for (k, &(l, col, _)) in flat.iter().enumerate() {
        let word: String = flat[k..].iter().take(7).map(|&(_, _, c)| c).collect();
        let before_ok = k == 0 || !ident(flat[k - 1].2);
        if word.len() < 6
            || !word.starts_with("unsafe")
            || !before_ok
            || word.chars().nth(6).is_some_and(ident)
        {
            continue;
        }
        let after: String = flat[k + 6..]
            .iter()
            .map(|&(_, _, c)| c)
            .skip_while(|c| c.is_whitespace())
            .take(6)
            .collect();
        if after
            .strip_prefix("fn")
            .is_some_and(|rest| !rest.starts_with(ident))
        {
            continue;
        }
        let anchor = attr_start_of[l].get(col).copied().flatten().unwrap_or(l);
        let mut found = None;
        let mut up = anchor;
        while up > 0 {
            up -= 1;
            if safety(up) {
                found = Some(up);
                break;
            }
            if !(is_comment_line(up) || attr_only[up]) {
                break;
            }
        }
        match found {
            Some(s) if !claimed[s] => claimed[s] = true,
            _ => missing.push(l),
        }
    }
    missing
}

/// Every `unsafe` block (and unsafe attribute, impl, extern) has its own
/// `// SAFETY:` comment directly above it: see [`unsafe_without_safety`].
#[test]
fn every_unsafe_block_says_why() {
    let mut rs = Vec::new();
    files(&root(), "rs", &mut rs);
    assert!(
        rs.iter().any(|f| f.starts_with(root().join("hello/src"))),
        "found no Rust files in hello/src"
    );
    let mut missing = Vec::new();
    for file in rs {
        let text = std::fs::read_to_string(&file).unwrap();
        for i in unsafe_without_safety(&text) {
            missing.push(location(&file, i));
        }
    }
    assert!(
        missing.is_empty(),
        "unsafe without its own `// SAFETY: <why>` comment directly above it (only comment \
         and attribute lines may stand between; one comment per unsafe): {missing:?}"
    );
}

#[test]
fn the_unsafe_check_catches_what_it_should() {
    let flagged = |src: &str| unsafe_without_safety(src);
    // Each unsafe block with its own comment directly above: fine.
    assert_eq!(
        flagged(
            "fn f() {\n    // SAFETY: why\n    unsafe { a() }\n    // SAFETY: why\n    let x = unsafe { b() };\n}\n"
        ),
        Vec::<usize>::new()
    );
    // One comment for two blocks.
    assert_eq!(
        flagged("// SAFETY: why\nunsafe { a() }\nunsafe { b() }\n"),
        vec![2]
    );
    assert_eq!(
        flagged("// SAFETY: why\nunsafe { a() }; unsafe { b() }\n"),
        vec![1]
    );
    // A comment a few lines up, with code between.
    assert_eq!(
        flagged("// SAFETY: why\nlet a = 1;\nunsafe { a() }\n"),
        vec![2]
    );
    // A blank line between.
    assert_eq!(flagged("// SAFETY: why\n\nunsafe { a() }\n"), vec![2]);
    // A quote on the line no longer hides it.
    assert_eq!(flagged("let s = \"a\"; unsafe { f(s) }\n"), vec![0]);
    // An empty SAFETY comment says nothing.
    assert_eq!(flagged("// SAFETY:\nunsafe { a() }\n"), vec![1]);
    // A multi-line comment, attributes between: fine.
    assert_eq!(
        flagged("// SAFETY: why,\n// and more why\n#[allow(x)]\nunsafe { a() }\n"),
        Vec::<usize>::new()
    );
    // Unsafe attributes, one comment each, rustfmt's multi-line form: fine.
    let two = "#[allow(unsafe_code)]\n// SAFETY: one\n#[cfg_attr(\n    a,\n    unsafe(link_section = \".a\")\n)]\n// SAFETY: two\n#[cfg_attr(\n    not(a),\n    unsafe(link_section = \".b\")\n)]\nstatic X: u8 = 0;\n";
    assert_eq!(flagged(two), Vec::<usize>::new());
    // ... and one comment for both: the second is flagged.
    let shared = two.replace("// SAFETY: two\n", "");
    assert_eq!(flagged(&shared), vec![8]);
    assert_eq!(
        flagged("// SAFETY: why\n#[unsafe(no_mangle)]\npub extern \"C\" fn f() {}\n"),
        Vec::<usize>::new()
    );
    assert_eq!(flagged("#[unsafe(no_mangle)]\nfn f() {}\n"), vec![0]);
    // Not unsafe code: strings, comments, identifiers, declarations.
    assert_eq!(
        flagged(
            "let s = \"unsafe { x }\";\nlet r = r#\"unsafe {\"#;\n// unsafe {\n/* unsafe { */\n#![deny(unsafe_code)]\nunsafe fn g() {}\nlet c = '\"'; let l: &'static str = \"\";\n"
        ),
        Vec::<usize>::new()
    );
    // A char literal holding a quote does not open a string that hides code.
    assert_eq!(flagged("let c = '\"';\nunsafe { a() }\n"), vec![1]);
}

/// A linker script, lexed: each line's code outside comments and strings, and
/// every comment as (first line, last line, text), 0-based.
struct Script {
    code: Vec<String>,
    comments: Vec<(usize, usize, String)>,
}

fn lex_linker_script(text: &str) -> Script {
    let mut code = vec![String::new()];
    let mut comments = Vec::new();
    let src: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        if c == '/' && src.get(i + 1) == Some(&'*') {
            let first = code.len() - 1;
            let mut comment = String::new();
            i += 2;
            while i < src.len() && !(src[i] == '*' && src.get(i + 1) == Some(&'/')) {
                if src[i] == '\n' {
                    code.push(String::new());
                }
                comment.push(src[i]);
                i += 1;
            }
            i += 2;
            comments.push((first, code.len() - 1, comment));
        } else if c == '"' {
            // ASSERT messages: neither code nor comment.
            code.last_mut().unwrap().push_str("\"\"");
            i += 1;
            while i < src.len() && src[i] != '"' && src[i] != '\n' {
                i += 1;
            }
            i += 1;
        } else if c == '\n' {
            code.push(String::new());
            i += 1;
        } else {
            code.last_mut().unwrap().push(c);
            i += 1;
        }
    }
    Script { code, comments }
}

/// Whether a linker script's code places bytes: a data command (BYTE, SHORT,
/// LONG, QUAD, SQUAD, FILL), KEEP of an input section, an assignment to the
/// location counter (`. = ...`, `. += ...`, padding), or an output section's fill.
fn places_bytes(code: &str) -> bool {
    let c: Vec<char> = code.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let word_at = |k: usize, w: &str| {
        code[k..].starts_with(w)
            && (k == 0 || !ident(c[k - 1]))
            && code[k + w.len()..].trim_start().starts_with('(')
    };
    let assigns_after = |k: usize| {
        let rest = code[k..].trim_start();
        (rest.starts_with('=') && !rest.starts_with("==")) || rest.starts_with("+=")
    };
    (0..c.len()).any(|k| {
        if !code.is_char_boundary(k) {
            return false;
        }
        ["BYTE", "SHORT", "LONG", "QUAD", "SQUAD", "FILL", "KEEP"]
            .iter()
            .any(|w| word_at(k, w))
            || (c[k] == '.'
                && (k == 0 || !ident(c[k - 1]))
                && c.get(k + 1).is_none_or(|&n| !ident(n))
                && assigns_after(k + 1))
            || (c[k] == '}' && assigns_after(k + 1))
    })
}

/// 0-based lines of a linker script that place bytes without their own comment:
/// one that starts on the same line, or a comment-only block that ends on the
/// line directly above (it explains that one line; the next line needs its
/// own). A comment must say something: at least one word of two letters.
fn linker_lines_without_comment(text: &str) -> Vec<usize> {
    let script = lex_linker_script(text);
    let says = |c: &str| {
        c.split(|ch: char| !ch.is_alphabetic())
            .any(|w| w.chars().count() >= 2)
    };
    let mut missing = Vec::new();
    for (i, code) in script.code.iter().enumerate() {
        if !places_bytes(code) {
            continue;
        }
        let own = script
            .comments
            .iter()
            .any(|(first, _, c)| *first == i && says(c));
        let above = script.comments.iter().any(|(first, last, c)| {
            *last + 1 == i
                && says(c)
                && script.code[*first..=*last]
                    .iter()
                    .all(|l| l.trim().is_empty())
        });
        if !(own || above) {
            missing.push(i);
        }
    }
    missing
}

/// Every line of every linker script that places bytes has its own comment
/// saying why: see [`linker_lines_without_comment`]. Every file in linker/ is
/// read (scripts, templates, included fragments), whatever its name, but
/// dotfiles and Markdown.
#[test]
fn every_linker_script_byte_is_explained() {
    let mut scripts = Vec::new();
    all_files(&root().join("linker"), &mut scripts);
    scripts.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        !name.starts_with('.') && !name.ends_with(".md")
    });
    assert!(!scripts.is_empty(), "no linker scripts found in linker/");
    let mut missing = Vec::new();
    for file in scripts {
        let text = std::fs::read_to_string(&file).unwrap();
        for i in linker_lines_without_comment(&text) {
            missing.push(location(&file, i));
        }
    }
    assert!(
        missing.is_empty(),
        "linker-script lines that place bytes without their own comment (on the line, or a \
         comment-only line directly above): {missing:?}"
    );
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn the_linker_check_catches_what_it_should() {
    let flagged = |src: &str| linker_lines_without_comment(src);
    assert_eq!(
        flagged("  SHORT(2) /* e_type = ET_EXEC */\n  SHORT(62) /* e_machine */\n"),
        Vec::<usize>::new()
    );
    // The previous line's trailing comment is that line's, not this one's.
    assert_eq!(flagged("  SHORT(2) /* e_type */\n  SHORT(62)\n"), vec![1]);
    // An empty or wordless comment explains nothing.
    assert_eq!(
        flagged("  LONG(1) /**/\n  LONG(2) /* 0x14 */\n"),
        vec![0, 1]
    );
    // A comment-only line directly above explains the one line below it.
    assert_eq!(
        flagged("  /* ## the code */\n  KEEP(*(.text._start))\n  KEEP(*(.text.x))\n"),
        vec![2]
    );
    // ... also when it spans lines.
    assert_eq!(
        flagged("  /* the code, which\n   * rustc wrote */\n  KEEP(*(.text._start))\n"),
        Vec::<usize>::new()
    );
    // A comment that starts on the line and goes on below it.
    assert_eq!(
        flagged("  QUAD(0) /* p_paddr, which\n   * nothing reads */\n"),
        Vec::<usize>::new()
    );
    // Location counter assignments and fills place bytes too.
    assert_eq!(
        flagged("  . = HELLO_BASE + 0x10;\n  . += 4;\n  FILL(0)\n  } =0\n"),
        vec![0, 1, 2, 3]
    );
    // Symbol assignments, ASSERTs and `/*` inside a string are not comments or bytes.
    assert_eq!(
        flagged(
            "  __end = . - 2;\nASSERT(. == 1, \"no /* comment */ here\")\n  LONG(1) ASSERT(1, \"/* not a comment */\")\n"
        ),
        vec![2]
    );
}

/// `.ci/run` refuses to start with HELLO_UPDATE_README set, which would turn
/// every README check into a rewrite that passes. Run with an empty PATH, so
/// that if the guard were gone the script could start nothing (it fails at its
/// first outside command instead).
#[test]
fn ci_refuses_to_rewrite_the_readme() {
    for value in ["1", ""] {
        let out = Command::new("/bin/bash")
            .arg(root().join(".ci/run"))
            .env_clear()
            .env("PATH", "/nonexistent-hello-tidy")
            .env("HELLO_UPDATE_README", value)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            (out.status.code(), out.stdout.as_slice()),
            (Some(1), &b""[..]),
            "HELLO_UPDATE_README={value:?} bash .ci/run: expected exit status 1 before doing \
             anything; stderr:\n{stderr}"
        );
        assert!(
            stderr.starts_with("error: HELLO_UPDATE_README is set") && stderr.lines().count() == 1,
            "HELLO_UPDATE_README={value:?} bash .ci/run: stderr should be one line naming \
             the variable, got:\n{stderr}"
        );
    }
}
