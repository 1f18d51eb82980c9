//! bench-serve's site point (issue 19): the test site (xtask/tests/site/www)
//! served by `serve --site`, by nginx (gzip_static, so it sends the same
//! zopfli copies) and by busybox httpd (which sends a file's `.gz` beside it
//! when it was built to), loaded by wrk with a Lua script that asks for a
//! fixed round of the site's paths with `Accept-Encoding: gzip`, at
//! [`CONNECTIONS`] connections.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use super::servers::{self, Running};
use super::{memory, wrk};
use crate::Error;
use crate::build::serve::{self, Config};
use crate::build::site::{self, bake};
use crate::core::files::{io, write, write_program};
use crate::core::platform::Platform;

/// The connections of the site point, as the goals are judged.
pub const CONNECTIONS: u32 = 100;

/// The test site's files, and the URL paths the load asks for: every file and
/// each directory with an index.
fn paths(site: &site::Site) -> Vec<String> {
    let mut out = vec!["/".to_string()];
    for (path, _) in &site.files {
        if let Some(dir) = path.strip_suffix("/index.html") {
            out.push(bake::encode(&format!("/{dir}/")));
        }
        out.push(bake::encode(&format!("/{path}")));
    }
    out
}

/// wrk's Lua script: the paths in turn, each request with Accept-Encoding: gzip.
pub fn script(paths: &[String]) -> String {
    let list: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "-- bench-serve's site point: the test site's paths in turn, with gzip.\n\
         local paths = {{{}}}\n\
         local i = 0\n\
         request = function()\n  \
           i = i % #paths + 1\n  \
           return wrk.format(\"GET\", paths[i], {{[\"Accept-Encoding\"] = \"gzip\"}})\n\
         end\n",
        list.join(", ")
    )
}

/// Measures the site point: one JSON object with each server's numbers.
pub fn measure(dir: &Path, platform: &'static Platform, seconds: u32) -> Result<Value, Error> {
    let root = crate::root();
    let site = site::read(&root.join("xtask/tests/site/www"), None, None)?;
    // The files, and beside each the gzipped copy serve bakes, in a directory
    // every uid may read (nginx's workers run as www-data).
    let www = std::env::temp_dir().join(format!("hello-serve-bench-site-{}", std::process::id()));
    let _ = fs::remove_dir_all(&www);
    let cache = root.join("target/xtask/site-gzip");
    let gzip = move |bytes: &[u8]| bake::gzip_cached(&cache, bytes);
    let baked = bake::bake(&site, &gzip)?;
    for (path, bytes) in &site.files {
        write(&www.join(path), bytes)?;
    }
    for k in baked
        .keys
        .iter()
        .filter(|k| k.kind == bake::FILE && k.gzip != k.plain)
    {
        let path = &baked.text[k.path as usize..(k.path + k.len) as usize];
        let path = String::from_utf8_lossy(path).into_owned();
        if path.ends_with('/') {
            continue;
        }
        let v = &baked.vars[k.gzip as usize];
        let gz = &baked.content[v.body as usize..(v.body + v.len) as usize];
        write(&www.join(format!("{}.gz", &path[1..])), gz)?;
    }
    for entry in walk(&www)? {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&entry, fs::Permissions::from_mode(mode))
            .map_err(|e| io("chmod", &entry, e))?;
    }

    let port = servers::free_port()?;
    let config = Config {
        page: serve::DEFAULT_PAGE.to_vec(),
        content_type: serve::DEFAULT_CONTENT_TYPE.into(),
        port,
        site: Some(site.clone()),
    };
    let built = serve::build(platform, &config)?;
    let file = dir.join("serve-site");
    write_program(&built.bytes, &file)?;
    let contenders = servers::site_contenders(dir, &www, &file, port)?;
    let paths = paths(&site);
    let lua = dir.join("site.lua");
    write(&lua, script(&paths).as_bytes())?;
    let index = site
        .files
        .iter()
        .find(|(p, _)| p == "index.html")
        .map(|(_, b)| b.clone())
        .unwrap_or_default();
    let mut results = Vec::new();
    for c in &contenders {
        let port = c.main.port;
        println!("bench-serve site: starting {} on port {port}", c.name);
        let mut server = Running::start(c)?;
        servers::check_page(port, "/", &index).map_err(|e| {
            Error::fail(format!(
                "{} on port {port} does not serve the test site: {e}",
                c.name
            ))
        })?;
        println!(
            "bench-serve site: {} at {CONNECTIONS} connections for {seconds} s, {} paths",
            c.name,
            paths.len()
        );
        let pid = server.pid();
        let target = wrk::Target {
            name: c.name,
            port,
            path: "/",
            conns: CONNECTIONS,
            seconds,
            close: false,
            script: Some(&lua),
        };
        let (load, (pss_kib, processes)) = wrk::run(&target, || memory::pss(pid))?;
        server.stop();
        println!(
            "  {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors, {} KiB PSS",
            load.rps, load.p50_ms, load.p99_ms, load.errors, pss_kib
        );
        results.push(json!({
            "name": c.name,
            "version": c.version,
            "command": c.main.shown,
            "rps": load.rps,
            "p50_ms": load.p50_ms,
            "p99_ms": load.p99_ms,
            "errors": load.errors,
            "requests": load.requests,
            "pss_kib": pss_kib,
            "processes": processes,
        }));
    }
    let _ = fs::remove_dir_all(&www);
    Ok(json!({
        "what": "the test site (xtask/tests/site/www), every path in turn with Accept-Encoding: gzip",
        "connections": CONNECTIONS,
        "paths": paths.len(),
        "site_bytes": site.bytes(),
        "serve_bytes": built.bytes.len(),
        "contenders": results,
    }))
}

/// Every directory and file under `dir`, itself included.
fn walk(dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            for e in fs::read_dir(&out[i]).map_err(|e| io("read", &out[i], e))? {
                out.push(e.map_err(|e| io("read", dir, e))?.path());
            }
        }
        i += 1;
    }
    Ok(out)
}

/// The site point's table, when the JSON has one: ratios against nginx.
pub fn table(json: &Value) -> String {
    let Some(c) = json["site"]["contenders"].as_array() else {
        return String::new();
    };
    let base = c.iter().find(|c| c["name"] == super::BASELINE);
    let ratio = |c: &Value, key: &str| match (c[key].as_f64(), base.and_then(|b| b[key].as_f64())) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    let mut s = format!(
        "\nThe site point: the test site ({} bytes, {} paths in turn, Accept-Encoding: gzip) at {} connections.\n\n\
         | server | requests/s | x nginx | p99 ms | p99 x nginx | errors | PSS KiB | PSS x nginx |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        json["site"]["site_bytes"], json["site"]["paths"], json["site"]["connections"]
    );
    for c in c.iter() {
        s.push_str(&format!(
            "| {} | {:.0} | {} | {:.3} | {} | {} | {} | {} |\n",
            c["name"].as_str().unwrap_or("?"),
            c["rps"].as_f64().unwrap_or(0.0),
            ratio(c, "rps"),
            c["p99_ms"].as_f64().unwrap_or(0.0),
            ratio(c, "p99_ms"),
            c["errors"],
            c["pss_kib"],
            ratio(c, "pss_kib"),
        ));
    }
    // The goals for serve, on the site as on the page: against nginx.
    if let (Some(ours), Some(base)) = (c.iter().find(|c| c["name"] == "serve"), base) {
        let verdicts: Vec<String> = [
            ("requests/s", "rps", true, 1.0),
            ("p99", "p99_ms", false, 1.0),
            ("PSS", "pss_kib", false, 0.5),
        ]
        .iter()
        .map(|&(what, key, at_least, target)| {
            let met = match (ours[key].as_f64(), base[key].as_f64()) {
                (Some(a), Some(b)) if b > 0.0 => {
                    if at_least {
                        a / b >= target
                    } else {
                        a / b <= target
                    }
                }
                _ => false,
            };
            format!(
                "{what} {} {target:.1}: {} ({})",
                if at_least { ">=" } else { "<=" },
                ratio(ours, key),
                if met { "met" } else { "missed" }
            )
        })
        .collect();
        s.push_str(&format!(
            "\nThe site point's goals for serve, against nginx: {}.\n",
            verdicts.join("; ")
        ));
    }
    s
}
