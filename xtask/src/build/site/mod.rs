//! `serve --site DIR`: the directory read and checked (every refusal a usage
//! error, status 2, before anything is built or written), then baked into the
//! tables hello/src/site.rs reads ([`bake`]).
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::Error;

pub mod bake;

/// The most bytes a site may have, its files' own (gzipped copies not
/// counted): 256 MiB. The file is mapped whole, and every byte is in the image.
pub const MAX_SITE: u64 = 256 << 20;

/// What `--site`, `--fallback` and `--cache-control` asked for, read and checked.
#[derive(Debug, Clone)]
pub struct Site {
    /// Every regular file, by its path under DIR (`/`-separated, no leading
    /// slash), sorted.
    pub files: Vec<(String, Vec<u8>)>,
    /// The file served for an unknown path without an extension, as a path
    /// under DIR.
    pub fallback: Option<String>,
    pub cache_control: Option<String>,
}

impl Site {
    /// Bytes of all the files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|(_, b)| b.len() as u64).sum()
    }

    /// The path `dist` tries and the health check asks for (`/` when there is
    /// an index.html, else the first file), and the bytes it should get.
    pub fn probe(&self) -> (String, &[u8]) {
        let (path, bytes) = self
            .files
            .iter()
            .find(|(p, _)| p == "index.html")
            .unwrap_or(&self.files[0]);
        let url = if path == "index.html" {
            "/".to_string()
        } else {
            bake::encode(&format!("/{path}"))
        };
        (url, bytes)
    }
}

/// The Content-Type for a file name's extension: the common web types (for
/// `--page-file` and every file of a site).
pub fn content_type_for(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "text" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/vnd.microsoft.icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "bin" => "application/octet-stream",
        _ => return None,
    })
}

/// Reads and checks DIR and the two options that go with it.
pub fn read(
    dir: &Path,
    fallback: Option<&str>,
    cache_control: Option<&str>,
) -> Result<Site, Error> {
    let shown = dir.display();
    let meta = fs::metadata(dir).map_err(|e| {
        Error::usage(format!(
            "--site {shown}: {e}; give the directory of the site to serve"
        ))
    })?;
    if !meta.is_dir() {
        return Err(Error::usage(format!(
            "--site {shown} is not a directory: give the directory of the site to serve"
        )));
    }
    let top = dir
        .canonicalize()
        .map_err(|e| Error::usage(format!("--site {shown}: {e}")))?;
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut seen = BTreeSet::new();
    walk(&top, &top, "", &mut seen, &mut files, &mut total, dir)?;
    if files.is_empty() {
        return Err(Error::usage(format!(
            "--site {shown} holds no regular file: give a directory with the site's files"
        )));
    }
    files.sort();
    let fallback = match fallback {
        None => None,
        Some(f) => {
            let rel = f.trim_start_matches('/');
            if !files.iter().any(|(p, _)| p == rel) {
                return Err(Error::usage(format!(
                    "--fallback {f}: no such file in --site {shown}; give a file of the site, e.g. /index.html"
                )));
            }
            Some(rel.to_string())
        }
    };
    if let Some(v) = cache_control {
        let ok = !v.is_empty() && v.bytes().all(|b| (b' '..0x7f).contains(&b));
        if !ok {
            return Err(Error::usage(format!(
                "--cache-control {v:?}: give a header value in printable ASCII, e.g. \"max-age=3600\""
            )));
        }
    }
    Ok(Site {
        files,
        fallback,
        cache_control: cache_control.map(str::to_string),
    })
}

/// Adds the regular files under `at` (whose path in the site is `prefix`).
/// Symlinks are followed while they stay inside `top`; `seen` holds the
/// directories entered, so a link back up is entered once.
fn walk(
    top: &Path,
    at: &Path,
    prefix: &str,
    seen: &mut BTreeSet<PathBuf>,
    files: &mut Vec<(String, Vec<u8>)>,
    total: &mut u64,
    given: &Path,
) -> Result<(), Error> {
    if !seen.insert(at.to_path_buf()) {
        return Ok(());
    }
    let shown = given.display();
    let entries = fs::read_dir(at)
        .map_err(|e| Error::usage(format!("--site {shown}: {}: {e}", at.display())))?;
    let mut entries: Vec<_> = entries
        .collect::<Result<_, _>>()
        .map_err(|e| Error::usage(format!("--site {shown}: {}: {e}", at.display())))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let rel = format!("{prefix}{}", name_ok(name.as_bytes(), prefix, given)?);
        let path = entry.path();
        let real = path.canonicalize().map_err(|e| {
            Error::usage(format!(
                "--site {shown}: {rel}: {e} (a broken symlink?); remove it or point it at a file inside the site"
            ))
        })?;
        if !real.starts_with(top) {
            return Err(Error::usage(format!(
                "--site {shown}: {rel} is a symlink to {}, outside the site: copy the file in or remove the link",
                real.display()
            )));
        }
        let meta =
            fs::metadata(&real).map_err(|e| Error::usage(format!("--site {shown}: {rel}: {e}")))?;
        if meta.is_dir() {
            walk(top, &real, &format!("{rel}/"), seen, files, total, given)?;
        } else if meta.is_file() {
            *total += meta.len();
            if *total > MAX_SITE {
                return Err(Error::usage(format!(
                    "--site {shown} has more than {MAX_SITE} bytes (256 MiB) of files: serve a smaller site"
                )));
            }
            let bytes = fs::read(&real)
                .map_err(|e| Error::usage(format!("--site {shown}: cannot read {rel}: {e}")))?;
            files.push((rel, bytes));
        }
        // Sockets, fifos and devices are not a site's files: left out.
    }
    Ok(())
}

/// A file name as the URL carries it: UTF-8 (what browsers encode paths
/// as), without control characters (no link or address bar carries them).
fn name_ok<'a>(name: &'a [u8], prefix: &str, given: &Path) -> Result<&'a str, Error> {
    let text = std::str::from_utf8(name)
        .ok()
        .filter(|s| !s.chars().any(char::is_control));
    text.ok_or_else(|| {
        Error::usage(format!(
            "--site {}: the name {prefix}{} cannot be carried by a URL (not UTF-8, or a control character): rename it",
            given.display(),
            String::from_utf8_lossy(name).escape_debug()
        ))
    })
}
