//! A real site nobody here wrote: rustdoc's output for the xtask (`cargo doc
//! --no-deps`: html, css, js, woff2 fonts, svg and a search index), served by
//! serve and by nginx from the same directory, then crawled by wget, fetched
//! file by file by curl, and rendered by chromium; each pair must agree.
use super::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;

/// target/site-doc/doc (its own target directory, so that a `cargo doc` with
/// dependencies elsewhere does not change it), copied to a directory every
/// uid may read (nginx's workers run as nobody; rustdoc's .lock is 0600).
fn rustdoc() -> PathBuf {
    let target = root().join("target/site-doc");
    let out = Command::new(env!("CARGO"))
        .args([
            "doc",
            "--quiet",
            "--no-deps",
            "--package",
            "xtask",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(root())
        .output()
        .expect("run cargo doc");
    assert!(
        out.status.success(),
        "cargo doc --no-deps -p xtask failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = shared_dir().join("doc");
    let _ = std::fs::remove_dir_all(&copy);
    let status = Command::new("cp")
        .arg("-r")
        .arg(target.join("doc"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success(), "cp -r target/site-doc/doc");
    let status = Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success(), "chmod -R a+rX {}", copy.display());
    copy
}

/// Every regular file under `dir`, as a path under it.
fn files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            files(&e.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

fn tools(test: &str) -> bool {
    let nginx = Path::new("/usr/sbin/nginx").exists()
        || skip(
            test,
            "/usr/sbin/nginx is missing",
            "apt-get install nginx-light",
        );
    nginx
        && tool_available(test, "wget", "apt-get install wget")
        && tool_available(test, "curl", "apt-get install curl")
        && tool_available(test, "chromium", "apt-get install chromium")
}

/// The types serve gives where nginx (Debian's mime.types) gives another, by
/// extension, and why serve's is the one to send.
const TYPE_DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "js",
        "text/javascript; charset=utf-8",
        "application/javascript",
        "RFC 9239 makes text/javascript the one type for JavaScript and obsoletes application/javascript; the charset saves the browser a guess",
    ),
    (
        "html",
        "text/html; charset=utf-8",
        "text/html",
        "rustdoc writes UTF-8; the charset in the header spares the browser a guess before <meta charset>",
    ),
    (
        "css",
        "text/css; charset=utf-8",
        "text/css",
        "rustdoc's CSS is UTF-8; a text type says its charset",
    ),
    (
        "txt",
        "text/plain; charset=utf-8",
        "text/plain",
        "the licence texts are UTF-8; without a charset a browser may read them as windows-1252",
    ),
    (
        "md",
        "text/markdown; charset=utf-8",
        "application/octet-stream",
        "RFC 7763 registers text/markdown; nginx's mime.types has no .md, so it offers a download",
    ),
];

#[test]
fn rustdoc_against_nginx() {
    let test = "rustdoc_against_nginx";
    if !tools(test) {
        return;
    }
    let doc = rustdoc();
    let mut all = Vec::new();
    files(&doc, "", &mut all);
    assert!(all.len() > 200, "rustdoc wrote only {} files", all.len());
    let s = site("rustdoc", &doc, &[]);
    println!("{}", s.stdout);
    let nginx_port = quiet_port();
    let _nginx = nginx(&doc, nginx_port);
    same_bodies(&doc, &all, s.port, nginx_port);
    same_broken_links(s.port, nginx_port);
    same_dom(&doc, s.port, nginx_port);
}

/// curl fetches every file from both: the file's bytes from each, and the
/// Content-Types that differ are exactly [`TYPE_DIFFERENCES`].
fn same_bodies(doc: &Path, all: &[String], ours: u16, theirs: u16) {
    let fetch = |port: u16, into: &Path| -> Vec<(u16, String)> {
        let _ = std::fs::remove_dir_all(into);
        std::fs::create_dir_all(into).unwrap();
        let mut cmd = Command::new("curl");
        cmd.args([
            "--silent",
            "--show-error",
            "--write-out",
            "%{http_code} %{content_type}\\n",
        ]);
        for (i, path) in all.iter().enumerate() {
            cmd.arg("--output").arg(into.join(i.to_string()));
            cmd.arg(format!(
                "http://127.0.0.1:{port}{}",
                xtask::build::site::bake::encode(&format!("/{path}"))
            ));
        }
        let out = cmd.stderr(Stdio::inherit()).output().expect("run curl");
        assert!(
            out.status.success(),
            "curl against port {port}: {}",
            out.status
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let (code, ty) = l.split_once(' ').unwrap_or((l, ""));
                (code.parse().unwrap_or(0), ty.to_string())
            })
            .collect()
    };
    let dir = shared_dir().join("curl");
    let a = fetch(ours, &dir.join("serve"));
    let b = fetch(theirs, &dir.join("nginx"));
    assert_eq!(a.len(), all.len(), "curl wrote one line per file");
    let mut differences = BTreeSet::new();
    for (i, path) in all.iter().enumerate() {
        let want = std::fs::read(doc.join(path)).unwrap();
        let ours_body = std::fs::read(dir.join("serve").join(i.to_string())).unwrap_or_default();
        let theirs_body = std::fs::read(dir.join("nginx").join(i.to_string())).unwrap_or_default();
        assert_eq!(a[i].0, 200, "serve: GET /{path}");
        assert_eq!(b[i].0, 200, "nginx: GET /{path}");
        assert!(ours_body == want, "serve: /{path} is not the file's bytes");
        assert!(
            theirs_body == ours_body,
            "/{path}: nginx's body differs from serve's"
        );
        if a[i].1 != b[i].1 {
            let ext = Path::new(path)
                .extension()
                .map_or(String::new(), |e| e.to_string_lossy().into_owned());
            differences.insert((ext, a[i].1.clone(), b[i].1.clone()));
        }
    }
    println!(
        "Content-Types serve sends that nginx does not ({} files fetched from each):",
        all.len()
    );
    for (ext, ours, theirs) in &differences {
        let why = TYPE_DIFFERENCES
            .iter()
            .find(|d| d.0 == ext && d.1 == ours && d.2 == theirs)
            .map_or("NOT EXPLAINED", |d| d.3);
        println!("  .{ext}: serve {ours:?}, nginx {theirs:?}: {why}");
    }
    let explained: BTreeSet<_> = TYPE_DIFFERENCES
        .iter()
        .map(|d| (d.0.to_string(), d.1.to_string(), d.2.to_string()))
        .filter(|d| differences.contains(d))
        .collect();
    assert_eq!(
        differences, explained,
        "a Content-Type differs from nginx's without a reason in TYPE_DIFFERENCES"
    );
}

fn same_broken_links(ours: u16, theirs: u16) {
    let (a, log_a) = broken_links(ours, "/xtask/index.html");
    let (b, log_b) = broken_links(theirs, "/xtask/index.html");
    // Each URL wget reached is one `-nv` line with `URL:`.
    let reached = |log: &str| log.lines().filter(|l| l.contains(" URL:")).count();
    let crawled = reached(&log_a);
    println!(
        "wget --recursive --spider: {crawled} URLs from serve, {} from nginx; broken links, the \
         same from both: {a:?}",
        reached(&log_b)
    );
    assert!(crawled > 300, "wget reached only {crawled} URLs:\n{log_a}");
    assert_eq!(
        crawled,
        reached(&log_b),
        "wget reached as many URLs from serve as from nginx"
    );
    assert_eq!(
        a, b,
        "the broken links wget finds against serve and against nginx"
    );
}

/// `chromium --headless --dump-dom`: the DOM after the pages' scripts ran.
fn dom(port: u16, path: &str) -> String {
    let profile = shared_dir().join(format!("chromium-{port}"));
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --dump-dom {path}: {}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).replace(&format!("127.0.0.1:{port}"), "HOST")
}

fn same_dom(doc: &Path, ours: u16, theirs: u16) {
    for path in ["/xtask/index.html", "/xtask/build/site/bake/index.html"] {
        let a = dom(ours, path);
        let b = dom(theirs, path);
        assert!(a.len() > 1000, "chromium's DOM of {path} from serve: {a}");
        // The scripts ran: rustdoc's main.js fills the sidebar's crate list,
        // which the file leaves empty.
        let html = std::fs::read_to_string(doc.join(&path[1..])).unwrap();
        assert!(
            a != html && a.contains("sidebar"),
            "{path}: the DOM is the file: did the scripts run?"
        );
        assert!(
            a == b,
            "chromium's DOM of {path}: serve's and nginx's differ:\n{a}\n----\n{b}"
        );
        println!(
            "chromium --dump-dom {path}: {} bytes, the same from serve and nginx",
            a.len()
        );
    }
}
