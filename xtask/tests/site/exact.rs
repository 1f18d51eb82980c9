//! Each rule of issue 19 against the running server, with exact status,
//! headers (the Date's value aside) and body bytes.
use super::*;

const CC: &str = "public, max-age=60";

/// The head of a 200 (or `status`) for a file of the test site: validators,
/// then representation headers.
fn file_head(
    status: &str,
    bytes: &[u8],
    vary: bool,
    cc: bool,
    ty: &str,
    gzip: bool,
    length: &str,
) -> String {
    format!(
        "HTTP/1.1 {status}\r\nETag: {}\r\n{}{}Content-Type: {ty}\r\n{}Accept-Ranges: bytes\r\n{length}Date: DATE\r\n\r\n",
        etag(bytes),
        if vary {
            "Vary: Accept-Encoding\r\n"
        } else {
            ""
        },
        if cc {
            format!("Cache-Control: {CC}\r\n")
        } else {
            String::new()
        },
        if gzip {
            "Content-Encoding: gzip\r\n"
        } else {
            ""
        },
    )
}

fn ok_head(path: &str, vary: bool, ty: &str) -> String {
    let bytes = file(path);
    file_head(
        "200 OK",
        &bytes,
        vary,
        true,
        ty,
        false,
        &format!("Content-Length: {}\r\n", bytes.len()),
    )
}

const HTML: &str = "text/html; charset=utf-8";

#[test]
fn each_rule_exactly() {
    let s = site("rules", &www(), &["--cache-control", CC]);
    let port = s.port;
    println!("{}", s.stdout);
    paths(port);
    types(port);
    not_modified(port);
    gzip(port);
    ranges(port);
    pipelined(port);
}

/// The same rules from the arm64 file, under qemu-aarch64.
#[test]
fn each_rule_on_arm64() {
    let Some(qemu) = qemu("each_rule_on_arm64", "aarch64") else {
        return;
    };
    let s = site_for(
        "linux/arm64",
        Some(&qemu),
        "rules-arm64",
        &www(),
        &["--cache-control", CC],
    );
    let port = s.port;
    paths(port);
    types(port);
    not_modified(port);
    gzip(port);
    ranges(port);
    pipelined(port);
}

/// Index, 301, 404 with the site's 404.html, percent-decoding, queries, and
/// what cannot leave the site.
fn paths(port: u16) {
    for target in [
        "/",
        "/index.html",
        "/%69ndex.html",
        "/?a=b",
        "/index.html?x=%zz&y=/..",
        "http://test",
        "http://test/",
        "http://test/index.html",
        "https://other.example:8080/index.html?q",
    ] {
        let r = get(port, target, &[]);
        assert_eq!(head(&r), ok_head("index.html", true, HTML), "GET {target}");
        assert_eq!(r.body, file("index.html"), "GET {target}");
    }
    for target in [
        "/docs/",
        "/docs%2Findex.html",
        "/docs%2findex.html",
        "/%64ocs/",
    ] {
        let r = get(port, target, &[]);
        assert_eq!(
            head(&r),
            ok_head("docs/index.html", true, HTML),
            "GET {target}"
        );
        assert_eq!(r.body, file("docs/index.html"), "GET {target}");
    }
    for target in ["/docs", "/docs?page=2", "/%64ocs"] {
        let r = get(port, target, &[]);
        assert_eq!(
            head(&r),
            "HTTP/1.1 301 Moved Permanently\r\nLocation: /docs/\r\nContent-Length: 0\r\nDate: DATE\r\n\r\n",
            "GET {target}"
        );
        assert!(r.body.is_empty());
    }
    let txt = "text/plain; charset=utf-8";
    let r = get(port, "/docs/with%20space%20100%25.txt", &[]);
    assert_eq!(head(&r), ok_head("docs/with space 100%.txt", false, txt));
    assert_eq!(r.body, file("docs/with space 100%.txt"));
    // Unknown paths, and every way out of the site: the site's 404.html.
    let not_found = file("404.html");
    let want = format!(
        "HTTP/1.1 404 Not Found\r\nContent-Type: {HTML}\r\nContent-Length: {}\r\nDate: DATE\r\n\r\n",
        not_found.len()
    );
    for target in [
        "/nope",
        "/nope.html",
        "/docs/nope/",
        "/index.htm",
        "/INDEX.HTML",
        "/docs/../index.html",
        "/docs/./index.html",
        "//index.html",
        "/docs//index.html",
        "/docs/..%2findex.html",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/docs%2f..%2f..%2fetc%2fpasswd",
        "/%2fetc%2fpasswd",
        "/docs/with space 100%.txt",
        "/docs/with%20space%20100%.txt",
        "/index.html%00",
        "/%",
        "*",
        "http:/index.html",
        &format!("/{}", "a".repeat(4000)),
    ] {
        let r = get(port, target, &[]);
        if target.contains(' ') {
            // A space ends the target: the request line is malformed.
            assert_eq!(r.status, 400, "GET {target}: {:?}", r.head);
            continue;
        }
        assert_eq!(head(&r), want, "GET {target}");
        assert_eq!(r.body, not_found, "GET {target}");
    }
    // HEAD: the same head, no body.
    let r = request(port, "HEAD", "/", &[]);
    assert_eq!(head(&r), ok_head("index.html", true, HTML));
    let r = request(port, "HEAD", "/nope", &[]);
    assert_eq!(head(&r), want);
}

/// Each file's type: the table, charset on text, octet-stream when unknown;
/// Vary only where a gzipped copy is baked.
fn types(port: u16) {
    for (path, ty, vary) in [
        ("style.css", "text/css; charset=utf-8", true),
        ("app.js", "text/javascript; charset=utf-8", true),
        ("data.json", "application/json", true),
        ("notes.txt", "text/plain; charset=utf-8", true),
        ("docs/guide.html", HTML, true),
        ("img/logo.svg", "image/svg+xml", true),
        ("img/dot.png", "image/png", false),
        ("img/blob.xyz", "application/octet-stream", false),
        ("404.html", HTML, true),
    ] {
        let r = get(port, &format!("/{path}"), &[]);
        assert_eq!(head(&r), ok_head(path, vary, ty), "GET /{path}");
        assert_eq!(r.body, file(path), "GET /{path}: the file's bytes exactly");
    }
}

/// If-None-Match: the ETag, a list, weak, `*`: 304 with the validators and no
/// body; another tag: 200.
fn not_modified(port: u16) {
    let css = file("style.css");
    let tag = etag(&css);
    let want = format!(
        "HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\nVary: Accept-Encoding\r\nCache-Control: {CC}\r\nDate: DATE\r\n\r\n"
    );
    for inm in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"x\", {tag}"),
        format!("\"x\",W/{tag} , \"y\""),
        "*".to_string(),
        format!(" {tag} "),
    ] {
        let line = format!("If-None-Match: {inm}");
        let r = get(port, "/style.css", &[&line]);
        assert_eq!(head(&r), want, "{line}");
        let r = request(port, "HEAD", "/style.css", &[&line]);
        assert_eq!(head(&r), want, "HEAD, {line}");
    }
    // Two lines make one list.
    let r = get(
        port,
        "/style.css",
        &["If-None-Match: \"x\"", &format!("If-None-Match: {tag}")],
    );
    assert_eq!(r.status, 304, "{:?}", r.head);
    let plain = ok_head("style.css", true, "text/css; charset=utf-8");
    let other = &tag[..tag.len() - 2];
    for inm in [
        "\"x\"".to_string(),
        format!("{other}\""),
        format!("{tag}x"),
        tag[1..tag.len() - 1].to_string(),
        "W/*".to_string(),
    ] {
        let line = format!("If-None-Match: {inm}");
        let r = get(port, "/style.css", &[&line]);
        assert_eq!(head(&r), plain, "{line}");
        assert_eq!(r.body, css);
    }
    // The gzipped copy has its own tag: the plain copy's is not it.
    let r = get(
        port,
        "/style.css",
        &["Accept-Encoding: gzip", &format!("If-None-Match: {tag}")],
    );
    assert_eq!(r.status, 200, "{:?}", r.head);
    let gz_tag = etag(&r.body);
    let r = get(
        port,
        "/style.css",
        &["Accept-Encoding: gzip", &format!("If-None-Match: {gz_tag}")],
    );
    assert_eq!(r.status, 304, "{:?}", r.head);
    assert_eq!(r.header("etag"), Some(gz_tag.as_str()));
}

/// Accept-Encoding: the gzipped copy, its own ETag, `q=0` honoured, Vary on both.
fn gzip(port: u16) {
    for path in [
        "index.html",
        "style.css",
        "docs/guide.html",
        "notes.txt",
        "img/logo.svg",
    ] {
        let plain = file(path);
        let target = format!("/{path}");
        for ae in [
            "gzip",
            "gzip, deflate, br, zstd",
            "GZIP;Q=1",
            "br;q=1.0, gzip;q=0.5",
            "*",
            "*;q=0.1",
            "x-gzip",
            "identity;q=0, gzip",
        ] {
            let line = format!("Accept-Encoding: {ae}");
            let r = get(port, &target, &[&line]);
            let ty = xtask::build::site::bake::type_of(path);
            let want = file_head(
                "200 OK",
                &r.body,
                true,
                true,
                ty,
                true,
                &format!("Content-Length: {}\r\n", r.body.len()),
            );
            assert_eq!(head(&r), want, "GET {target}, {line}");
            assert_eq!(gunzip(&r.body), plain, "GET {target}, {line}: gunzipped");
            assert!(r.body.len() * 10 <= plain.len() * 9, "{target}: saves 10%");
        }
        for ae in [
            "gzip;q=0",
            "gzip; q=0.000",
            "gzip;q=0, *",
            "*;q=0",
            "identity",
            "br, zstd",
            "deflate",
            "gzipx",
            "",
            "gzip;q=0., br",
        ] {
            let line = format!("Accept-Encoding: {ae}");
            let r = get(port, &target, &[&line]);
            assert_eq!(
                head(&r),
                ok_head(path, true, xtask::build::site::bake::type_of(path)),
                "GET {target}, {line}"
            );
            assert_eq!(r.body, plain);
        }
    }
    // A file with no gzipped copy: the file, no Vary.
    let r = get(port, "/img/dot.png", &["Accept-Encoding: gzip"]);
    assert_eq!(head(&r), ok_head("img/dot.png", false, "image/png"));
}

/// Ranges: 206 with Content-Range, 416, and the whole file where RFC 9110 lets
/// a server ignore the Range.
fn ranges(port: u16) {
    let notes = file("notes.txt");
    let n = notes.len();
    let ty = "text/plain; charset=utf-8";
    for (spec, start, end) in [
        ("bytes=10-19", 10, 20),
        ("bytes=0-0", 0, 1),
        (&format!("bytes={}-", n - 92) as &str, n - 92, n),
        ("bytes=-5", n - 5, n),
        ("bytes=0-999999", 0, n),
        (&format!("bytes=-{}", n + 10) as &str, 0, n),
        ("BYTES= 7-8", 7, 9),
    ] {
        let line = format!("Range: {spec}");
        let r = get(port, "/notes.txt", &[&line]);
        let want = file_head(
            "206 Partial Content",
            &notes,
            true,
            true,
            ty,
            false,
            &format!(
                "Content-Range: bytes {start}-{}/{n}\r\nContent-Length: {}\r\n",
                end - 1,
                end - start
            ),
        );
        assert_eq!(head(&r), want, "{line}");
        assert_eq!(r.body, &notes[start..end], "{line}");
    }
    for spec in [
        format!("bytes={n}-"),
        format!("bytes={}-{}", n + 5, n + 9),
        "bytes=-0".into(),
    ] {
        let line = format!("Range: {spec}");
        let r = get(port, "/notes.txt", &[&line]);
        assert_eq!(
            head(&r),
            format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nETag: {}\r\nVary: Accept-Encoding\r\nCache-Control: {CC}\r\nContent-Range: bytes */{n}\r\nContent-Length: 0\r\nDate: DATE\r\n\r\n",
                etag(&notes)
            ),
            "{line}"
        );
        assert!(r.body.is_empty());
    }
    let whole = ok_head("notes.txt", true, ty);
    for spec in [
        "bytes=0-1,5-6",
        "bytes=5-2",
        "bytes=a-b",
        "items=0-1",
        "bytes=-",
        "bytes=1",
        "bytes=0-1-2",
    ] {
        let line = format!("Range: {spec}");
        let r = get(port, "/notes.txt", &[&line]);
        assert_eq!(head(&r), whole, "{line}");
        assert_eq!(r.body, notes);
    }
    // HEAD ignores Range; If-Range with this copy's tag keeps it, another drops it.
    let r = request(port, "HEAD", "/notes.txt", &["Range: bytes=0-1"]);
    assert_eq!(head(&r), whole);
    let tag = etag(&notes);
    let r = get(
        port,
        "/notes.txt",
        &["Range: bytes=0-1", &format!("If-Range: {tag}")],
    );
    assert_eq!(r.status, 206, "{:?}", r.head);
    for if_range in [
        format!("W/{tag}"),
        "\"other\"".into(),
        "Tue, 01 Dec 2026 00:00:00 GMT".into(),
    ] {
        let r = get(
            port,
            "/notes.txt",
            &["Range: bytes=0-1", &format!("If-Range: {if_range}")],
        );
        assert_eq!(head(&r), whole, "If-Range: {if_range}");
    }
    // The gzipped copy has its own bytes to take a range of.
    let gz = get(port, "/notes.txt", &["Accept-Encoding: gzip"]).body;
    let r = get(
        port,
        "/notes.txt",
        &["Accept-Encoding: gzip", "Range: bytes=2-9"],
    );
    assert_eq!(r.status, 206, "{:?}", r.head);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 2-9/{}", gz.len()).as_str())
    );
    assert_eq!(r.body, &gz[2..10]);
}

/// Several answers on one keep-alive connection, pipelined: each framed right.
fn pipelined(port: u16) {
    let css = file("style.css");
    let req = format!(
        "GET /style.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: {}\r\n\r\n\
         GET /notes.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\n\r\n\
         GET /docs HTTP/1.1\r\nHost: t\r\n\r\n\
         HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n\
         GET /notes.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=999999-\r\n\r\n\
         GET /style.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n\
         GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        etag(&css)
    );
    let r = exchange(
        port,
        req.as_bytes(),
        &[false, false, false, true, false, false, false],
    );
    let statuses: Vec<u16> = r.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [304, 206, 301, 404, 416, 200, 200]);
    assert_eq!(r[1].body, &file("notes.txt")[..5]);
    assert_eq!(gunzip(&r[5].body), css);
    assert_eq!(r[6].body, css);
}

/// `--fallback`, and the built-in 404 page of a site without 404.html; no
/// Cache-Control without the option.
#[test]
fn fallback_and_built_in_404() {
    let dir = shared_dir().join("site-no-404");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    let index = b"<!DOCTYPE html><title>app</title><div id=app></div>\n";
    std::fs::write(dir.join("index.html"), index).unwrap();
    std::fs::write(dir.join("assets/app.js"), b"console.log(1)\n").unwrap();
    let s = site("fallback", &dir, &["--fallback", "/index.html"]);
    let want = format!(
        "HTTP/1.1 200 OK\r\nETag: {}\r\nContent-Type: {HTML}\r\nAccept-Ranges: bytes\r\nContent-Length: {}\r\nDate: DATE\r\n\r\n",
        etag(index),
        index.len()
    );
    for target in ["/", "/app", "/app/route/deep", "/users/42?tab=x", "/assets"] {
        let r = get(s.port, target, &[]);
        assert_eq!(head(&r), want, "GET {target}");
        assert_eq!(r.body, index);
    }
    let r = get(
        s.port,
        "/app",
        &[&format!("If-None-Match: {}", etag(index))],
    );
    assert_eq!(r.status, 304, "the fallback has its ETag: {:?}", r.head);
    let page = b"<!DOCTYPE html><title>404 Not Found</title><h1>404 Not Found</h1>\n";
    for target in ["/missing.png", "/app/route.js", "/assets/other.js", "/.env"] {
        let r = get(s.port, target, &[]);
        assert_eq!(
            head(&r),
            format!(
                "HTTP/1.1 404 Not Found\r\nContent-Type: {HTML}\r\nContent-Length: {}\r\nDate: DATE\r\n\r\n",
                page.len()
            ),
            "GET {target}"
        );
        assert_eq!(r.body, page);
    }
    let r = get(s.port, "/assets/app.js", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), None);
}
