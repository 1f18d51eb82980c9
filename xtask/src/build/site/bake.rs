//! A checked site baked into the tables hello/src/site.rs reads: the URL
//! paths and their hash slots, each file's copies (gzipped with zopfli where
//! that saves at least 10%), ETags from the bytes, the header blocks; written
//! as Rust (site.rs) and two blobs for hello/build.rs to put in OUT_DIR.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::Site;
use super::content_type_for;
use crate::Error;

/// The 404 page when the site has no 404.html.
pub const NOT_FOUND_PAGE: &[u8] =
    b"<!DOCTYPE html><title>404 Not Found</title><h1>404 Not Found</h1>\n";
/// The type of a file whose extension has none in the table.
pub const UNKNOWN_TYPE: &str = "application/octet-stream";
/// Extensions whose files are text (or compress as well): gzipped when that
/// saves at least 10%.
pub const COMPRESSIBLE: &[&str] = &[
    "html", "htm", "css", "js", "mjs", "json", "txt", "text", "md", "csv", "xml", "svg", "wasm",
    "ico",
];

/// The kinds of keys, as hello/src/site.rs names them: a file, a `301`.
pub const FILE: u32 = 0;
pub const MOVED: u32 = 1;

/// One copy of a file, as hello/src/site.rs's `Var`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub body: u32,
    pub len: u32,
    pub head: u32,
    pub val: u32,
    pub rep: u32,
    pub rep_len: u32,
}

/// One URL path, as hello/src/site.rs's `Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub path: u32,
    pub len: u32,
    pub kind: u32,
    pub plain: u32,
    pub gzip: u32,
}

/// The baked site.
#[derive(Debug, Default)]
pub struct Baked {
    pub slots: Vec<u32>,
    pub keys: Vec<Key>,
    pub vars: Vec<Var>,
    pub text: Vec<u8>,
    pub content: Vec<u8>,
    pub not_found: u32,
    pub fallback: u32,
    /// Bytes of request target `serve` keeps: any longer one matches no key.
    pub target_cap: usize,
    /// The health check's request.
    pub health: Vec<u8>,
    /// Files baked with a gzipped copy, and those copies' bytes.
    pub gzipped: usize,
    pub gzip_bytes: u64,
}

impl Baked {
    /// Bytes the tables take in the program (slots, keys, vars, text): what
    /// the program has besides its code and the files' bytes.
    pub fn table_bytes(&self) -> u64 {
        (self.slots.len() * 4 + self.keys.len() * 20 + self.vars.len() * 24 + self.text.len())
            as u64
    }
}

/// FNV-1a, as hello/src/site.rs's `hash`.
pub fn hash(path: &[u8]) -> u32 {
    path.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A path as a URL carries it: bytes other than unreserved ones, sub-delims,
/// `:`, `@` and `/` percent-encoded (RFC 3986 section 3.3).
pub fn encode(path: &str) -> String {
    let mut out = String::new();
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The type of a file at `path`: the table `--page-file` uses, else
/// [`UNKNOWN_TYPE`].
pub fn type_of(path: &str) -> &'static str {
    content_type_for(Path::new(path)).unwrap_or(UNKNOWN_TYPE)
}

fn compressible(path: &str) -> bool {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    ext.is_some_and(|e| COMPRESSIBLE.contains(&e.as_str()))
}

/// What compresses one file: zopfli, cached ([`gzip_cached`]), or a test's own.
pub type Gzip<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, Error> + Sync + 'a;

/// The gzipped copy of each compressible file (`None` for the others), on
/// every CPU: zopfli takes seconds on a large site.
fn gzip_all(site: &Site, gzip: &Gzip) -> Result<Vec<Option<Vec<u8>>>, Error> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out: Vec<_> = site
        .files
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((path, bytes)) = site.files.get(i) else {
                        break;
                    };
                    if compressible(path) {
                        *out[i].lock().unwrap() = Some(gzip(bytes));
                    }
                }
            });
        }
    });
    out.into_iter()
        .map(|m| m.into_inner().unwrap().transpose())
        .collect()
}

/// Builds the tables, the gzipped copies from `gzip`.
pub fn bake(site: &Site, gzip: &Gzip) -> Result<Baked, Error> {
    let gzipped = gzip_all(site, gzip)?;
    let mut b = Baked::default();
    let mut reps: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut rep = |text: &mut Vec<u8>, s: String| -> (u32, u32) {
        let at = *reps.entry(s.clone().into_bytes()).or_insert_with(|| {
            let at = text.len() as u32;
            text.extend_from_slice(s.as_bytes());
            at
        });
        (at, s.len() as u32)
    };
    let cc = site
        .cache_control
        .as_ref()
        .map(|v| format!("Cache-Control: {v}\r\n"))
        .unwrap_or_default();
    // URL path -> (kind, plain var, gzip var).
    let mut paths: Vec<(String, u32, u32, u32)> = Vec::new();
    let mut file_key: HashMap<&str, (u32, u32)> = HashMap::new();
    for ((path, bytes), gz) in site.files.iter().zip(gzipped) {
        let ty = type_of(path);
        let gz = gz.filter(|g| g.len() * 10 <= bytes.len() * 9);
        let vary = if gz.is_some() {
            "Vary: Accept-Encoding\r\n"
        } else {
            ""
        };
        let mut copy = |b: &mut Baked, body: &[u8], encoding: &str| -> u32 {
            let head = b.text.len() as u32;
            let val = format!("ETag: \"{}\"\r\n{vary}{cc}", etag(body));
            b.text.extend_from_slice(val.as_bytes());
            let (rep_at, rep_len) = rep(
                &mut b.text,
                format!("Content-Type: {ty}\r\n{encoding}Accept-Ranges: bytes\r\n"),
            );
            b.vars.push(Var {
                body: b.content.len() as u32,
                len: body.len() as u32,
                head,
                val: val.len() as u32,
                rep: rep_at,
                rep_len,
            });
            b.content.extend_from_slice(body);
            b.vars.len() as u32 - 1
        };
        let plain = copy(&mut b, bytes, "");
        let gzip = match &gz {
            Some(g) => {
                b.gzipped += 1;
                b.gzip_bytes += g.len() as u64;
                copy(&mut b, g, "Content-Encoding: gzip\r\n")
            }
            None => plain,
        };
        file_key.insert(path, (plain, gzip));
        paths.push((format!("/{path}"), FILE, plain, gzip));
    }
    // Directories with an index.html: `/dir/` serves it, `/dir` moves there.
    for (path, _) in &site.files {
        let Some(dir) = path.strip_suffix("index.html") else {
            continue;
        };
        if !(dir.is_empty() || dir.ends_with('/')) {
            continue;
        }
        let (plain, gzip) = file_key[path.as_str()];
        paths.push((format!("/{dir}"), FILE, plain, gzip));
        if let Some(d) = dir.strip_suffix('/') {
            let head = b.text.len() as u32;
            let val = format!("Location: {}\r\n", encode(&format!("/{d}/")));
            b.text.extend_from_slice(val.as_bytes());
            b.vars.push(Var {
                body: 0,
                len: 0,
                head,
                val: val.len() as u32,
                rep: 0,
                rep_len: 0,
            });
            let v = b.vars.len() as u32 - 1;
            paths.push((format!("/{d}"), MOVED, v, v));
        }
    }
    // The 404 page: no validators, no ranges; the site's 404.html's bytes,
    // or the built-in page's.
    let body = match file_key.get("404.html") {
        Some(&(plain, _)) => b.vars[plain as usize].body,
        None => {
            b.content.extend_from_slice(NOT_FOUND_PAGE);
            (b.content.len() - NOT_FOUND_PAGE.len()) as u32
        }
    };
    let len = site
        .files
        .iter()
        .find(|(p, _)| p == "404.html")
        .map_or(NOT_FOUND_PAGE.len(), |(_, b)| b.len());
    let (rep_at, rep_len) = rep(
        &mut b.text,
        "Content-Type: text/html; charset=utf-8\r\n".into(),
    );
    b.vars.push(Var {
        body,
        len: len as u32,
        head: 0,
        val: 0,
        rep: rep_at,
        rep_len,
    });
    b.not_found = b.vars.len() as u32 - 1;

    let longest = paths.iter().map(|p| p.0.len()).max().unwrap_or(0);
    // A target of more bytes than thrice the longest path (every byte as %XX)
    // decodes to more than the longest path; at least 256, so an SPA's long
    // routes still reach the fallback.
    b.target_cap = (3 * longest).max(256);
    for (path, kind, plain, gzip) in &paths {
        let at = b.text.len() as u32;
        b.text.extend_from_slice(path.as_bytes());
        b.keys.push(Key {
            path: at,
            len: path.len() as u32,
            kind: *kind,
            plain: *plain,
            gzip: *gzip,
        });
    }
    b.fallback = match &site.fallback {
        Some(f) => {
            let want = format!("/{f}");
            paths.iter().position(|p| p.0 == want).unwrap_or(0) as u32
        }
        None => u32::MAX,
    };
    let size = (2 * paths.len()).next_power_of_two().max(2);
    b.slots = vec![0; size];
    for (i, (path, ..)) in paths.iter().enumerate() {
        let mut at = hash(path.as_bytes()) as usize;
        while b.slots[at & (size - 1)] != 0 {
            at += 1;
        }
        b.slots[at & (size - 1)] = i as u32 + 1;
    }
    let (probe, _) = site.probe();
    b.health = format!("GET {probe} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes();
    Ok(b)
}

/// A strong ETag's opaque tag: the first 8 bytes of the bytes' SHA-256, in hex.
pub fn etag(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The tables as Rust: `TARGET`, `HEALTH` and the `SITE` static, whose text
/// and content are `site-text.bin` and `site-content.bin` beside it in OUT_DIR.
pub fn source(b: &Baked) -> String {
    let mut s = String::from(
        "// Generated by cargo xtask dist --program serve --site (xtask/src/build/site/bake.rs).\n",
    );
    let _ = writeln!(
        s,
        "/// Bytes of the tables, text and content (hello/build.rs reads this line).\n\
         #[allow(dead_code)]\npub const BYTES: usize = {};",
        b.table_bytes() + b.content.len() as u64
    );
    let _ = writeln!(s, "pub const TARGET: usize = {};", b.target_cap);
    let _ = writeln!(
        s,
        "pub const HEALTH: &[u8] = b\"{}\";",
        b.health.escape_ascii()
    );
    s.push_str("use hello::site::{Key as K, Var as V};\n");
    s.push_str("pub static SITE: hello::site::Site = hello::site::Site {\n    slots: &[");
    for n in &b.slots {
        let _ = write!(s, "{n},");
    }
    s.push_str("],\n    keys: &[\n");
    for k in &b.keys {
        let _ = writeln!(
            s,
            "        K {{ path: {}, len: {}, kind: {}, plain: {}, gzip: {} }},",
            k.path, k.len, k.kind, k.plain, k.gzip
        );
    }
    s.push_str("    ],\n    vars: &[\n");
    for v in &b.vars {
        let _ = writeln!(
            s,
            "        V {{ body: {}, len: {}, head: {}, val: {}, rep: {}, rep_len: {} }},",
            v.body, v.len, v.head, v.val, v.rep, v.rep_len
        );
    }
    let _ = write!(
        s,
        "    ],\n    text: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/site-text.bin\")),\n    \
         content: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/site-content.bin\")),\n    \
         not_found: {},\n    fallback: {},\n}};\n",
        b.not_found, b.fallback
    );
    s
}

/// Writes site.rs, site-text.bin and site-content.bin into `dir`.
pub fn write(b: &Baked, dir: &Path) -> Result<(), Error> {
    use crate::core::files::write_if_changed;
    fs::create_dir_all(dir).map_err(|e| Error::fail(format!("create {}: {e}", dir.display())))?;
    write_if_changed(&dir.join("site.rs"), source(b).as_bytes())?;
    write_if_changed(&dir.join("site-text.bin"), &b.text)?;
    write_if_changed(&dir.join("site-content.bin"), &b.content)
}

/// Gzip with zopfli, remembered in `cache` by the bytes' SHA-256 (zopfli
/// takes about a second a megabyte): 15 iterations up to 64 KiB, one above
/// (as the image layers: more change the size by a fraction of a percent).
pub fn gzip_cached(cache: &Path, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let name = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let file = cache.join(format!("{name}.gz"));
    if let Ok(g) = fs::read(&file) {
        return Ok(g);
    }
    let mut options = zopfli::Options::default();
    if bytes.len() > 64 * 1024 {
        options.iteration_count = std::num::NonZeroU64::MIN;
    }
    let mut out = Vec::new();
    zopfli::compress(options, zopfli::Format::Gzip, bytes, &mut out)
        .map_err(|e| Error::fail(format!("gzip a site file: {e}")))?;
    fs::create_dir_all(cache)
        .map_err(|e| Error::fail(format!("create {}: {e}", cache.display())))?;
    crate::core::files::write_atomic(&file, &out)?;
    Ok(out)
}
