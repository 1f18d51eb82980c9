//! `cargo xtask bench-serve`: `serve` against nginx, lighttpd and busybox httpd,
//! on this machine, in one run, each serving the same page on 127.0.0.1, loaded
//! by `wrk`. This module owns the options and the run: it measures into
//! target/report/serve.json and renders the table (render.rs) and chart
//! (chart.rs) from that JSON; docs/serve-bench.json, docs/serve-bench.svg and
//! docs/serve.md's block are written only when asked (`--update-docs`).
mod axis;
mod chart;
mod memory;
mod render;
mod servers;
mod site;
mod wrk;

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::Error;
use crate::build::serve::{self, Config};
use crate::build::tools;
use crate::core::args::{self, Opt};
use crate::core::blocks;
use crate::core::files::{io, read_json, rel, write, write_if_changed, write_program};
use crate::core::platform::Platform;
use crate::run::docker;
use servers::{Contender, Running};

pub use chart::chart;
pub use render::table;

const HELP: &str = "\
cargo xtask bench-serve [options]

Runs serve (built for this machine, run natively), nginx (nginx-light,
worker_processes auto, access_log off), lighttpd and busybox httpd (busybox-
static), each serving serve's default page on 127.0.0.1 on a free port, and
loads each with `wrk -t2 -cN -dS --latency` at each connection count. Measures
requests per second, p50 and p99 latency, errors (socket errors and non-2xx
answers), the summed PSS of the server's processes under load
(/proc/PID/smaps_rollup), and, with a Docker engine, the size of the FROM
scratch images (serve's, busybox's). Ratios are against nginx.

Then the site point: the test site (xtask/tests/site/www) from serve --site,
nginx (gzip_static) and busybox httpd, loaded by wrk with a Lua script that
asks for each of its paths in turn with Accept-Encoding: gzip, at 100
connections.

Writes target/report/serve.json, target/report/serve.md (docs/serve.md's table) and
target/report/serve.svg, and nothing outside target/. With --update-docs (or
HELLO_UPDATE_README=1), the full run (no --seconds or --connections) also
writes docs/serve-bench.json and docs/serve-bench.svg and the serve-bench
block of docs/serve.md, which are checked against each other (cargo test --test
serve_bench).

Needs wrk, nginx, lighttpd and busybox: apt-get install -y wrk nginx-light
lighttpd busybox-static.

Options:
  --seconds S            seconds of load per point (default 10; CI uses 1)
  --connections A,B,..   connection counts (default 10,100,1000)
  --table FILE           print docs/serve.md's table for a serve.json and exit
  --chart FILE           print the SVG chart for a serve.json and exit
  --update-docs          also write docs/serve-bench.{json,svg} and docs/serve.md's block
  -h, --help             print this help
";

const DEFAULT_SECONDS: u32 = 10;
const DEFAULT_CONNECTIONS: [u32; 3] = [10, 100, 1000];
/// The baseline every ratio is against.
const BASELINE: &str = "nginx";
const INSTALL: &str = "apt-get install -y wrk nginx-light lighttpd busybox-static";
/// The page that holds the `serve-bench` block (under the root).
const TABLE_PAGE: &str = "docs/serve.md";
/// The block's name in it.
const TABLE_BLOCK: &str = "serve-bench";

struct Options {
    seconds: u32,
    connections: Vec<u32>,
    table: Option<PathBuf>,
    chart: Option<PathBuf>,
    /// `--update-docs` or HELLO_UPDATE_README: write docs/ and docs/serve.md's block.
    update_docs: blocks::Asked,
}

impl Options {
    /// The run whose results are committed: the default seconds and counts.
    fn is_full(&self) -> bool {
        self.seconds == DEFAULT_SECONDS && self.connections == DEFAULT_CONNECTIONS
    }
}

pub const OPTS: &[Opt] = &[
    args::value("--seconds", "S"),
    args::value("--connections", "A,B,.."),
    args::value("--table", "FILE"),
    args::value("--chart", "FILE"),
    args::flag("--update-docs"),
];

/// Reads and checks the options; `None` for `--help`, which it prints.
fn parse(words: Vec<OsString>) -> Result<Option<Options>, Error> {
    let a = args::read("bench-serve", OPTS, words)?;
    if a.help {
        print!("{HELP}");
        return Ok(None);
    }
    a.no_free()?;
    let connections = a.parse("--connections", |v| {
        let list: Option<Vec<u32>> = v
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .ok()
                    .filter(|&n| (wrk::THREADS..=10_000).contains(&n))
            })
            .collect();
        list.filter(|l| !l.is_empty()).ok_or_else(|| {
            format!(
                "give counts from {} to 10000, separated by commas",
                wrk::THREADS
            )
        })
    })?;
    let opts = Options {
        seconds: a
            .parse("--seconds", args::number(1..=600))?
            .unwrap_or(DEFAULT_SECONDS),
        connections: connections.unwrap_or_else(|| DEFAULT_CONNECTIONS.to_vec()),
        table: a.os("--table").map(PathBuf::from),
        chart: a.os("--chart").map(PathBuf::from),
        update_docs: blocks::asked(a.given("--update-docs")),
    };
    if opts.update_docs == blocks::Asked::Option && !opts.is_full() {
        return Err(Error::usage(
            "--update-docs writes the committed results, which are the full run's: \
             drop --seconds and --connections",
        ));
    }
    Ok(Some(opts))
}

pub fn run(args: Vec<OsString>) -> Result<(), Error> {
    let Some(opts) = parse(args)? else {
        return Ok(());
    };
    if let Some(path) = &opts.table {
        print!("{}", table(&read_json(path)?)?);
        return Ok(());
    }
    if let Some(path) = &opts.chart {
        print!("{}", chart(&read_json(path)?)?);
        return Ok(());
    }
    let json = measure(&opts)?;
    write_results(&opts, &json)
}

/// What the servers are given, and serve's own file.
struct Setup {
    dir: PathBuf,
    platform: &'static Platform,
    ours_file: PathBuf,
    ours_port: u16,
    serve_bytes: usize,
}

/// Checks the tools, writes the page, and builds serve for this machine.
fn setup() -> Result<Setup, Error> {
    for tool in ["wrk", "nginx", "lighttpd", "busybox"] {
        if servers::find(tool).is_none() {
            return Err(Error::fail(format!(
                "`{tool}` is not on PATH (nor in /usr/sbin): install the contenders with `{INSTALL}`"
            )));
        }
    }
    let dir = crate::root().join("target/report/serve-bench");
    let _ = fs::remove_dir_all(&dir);
    let www = servers::www_dir();
    let _ = fs::remove_dir_all(&www);
    write(&www.join("index.html"), serve::DEFAULT_PAGE)?;
    // nginx's workers run as www-data, which must reach the page: the checkout
    // may sit in a private directory (mktemp -d is 0700), so the page lives in
    // a world-readable directory of its own.
    fs::set_permissions(&www, fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod", &www, e))?;

    let platform = Platform::host()
        .ok_or_else(|| Error::usage("this machine's architecture is not one serve is built for"))?;
    serve::check_platforms(&[platform])?;
    let ours_port = servers::free_port()?;
    let config = Config {
        page: serve::DEFAULT_PAGE.to_vec(),
        content_type: serve::DEFAULT_CONTENT_TYPE.into(),
        port: ours_port,
        site: None,
    };
    tools::ensure_binutils()?;
    let built = serve::build(platform, &config)?;
    let ours_file = dir.join("serve");
    write_program(&built.bytes, &ours_file)?;
    Ok(Setup {
        dir,
        platform,
        ours_file,
        ours_port,
        serve_bytes: built.bytes.len(),
    })
}

/// The whole run: every server at every connection count, then the image
/// sizes; the raw numbers as the JSON the table and chart are drawn from.
fn measure(opts: &Options) -> Result<Value, Error> {
    let setup = setup()?;
    // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer": up to the copyright.
    let wrk_version = servers::version(Command::new("wrk").arg("-v"))
        .split(" Copyright")
        .next()
        .unwrap_or_default()
        .to_string();
    let contenders = servers::contenders(&setup.dir, &setup.ours_file, setup.ours_port)?;
    let points = load_all(opts, &contenders)?;
    let site = site::measure(&setup.dir, setup.platform, opts.seconds)?;
    let engine = docker::engine().ok();
    let mut results = Vec::new();
    for (c, points) in contenders.iter().zip(points) {
        let image = match engine {
            Some(_) => image_bytes(&setup, c)?,
            None => None,
        };
        results.push(json!({
            "name": c.name,
            "version": c.version,
            "command": c.shown,
            "image_bytes": image,
            "points": points,
        }));
    }
    Ok(json!({
        "what": "serve vs nginx, lighttpd and busybox httpd on 127.0.0.1, loaded by wrk",
        "baseline": BASELINE,
        "seconds": opts.seconds,
        "connections": opts.connections,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "page_bytes": serve::DEFAULT_PAGE.len(),
        "serve_bytes": setup.serve_bytes,
        "wrk": {
            "version": wrk_version,
            "flags": wrk::flags(opts.seconds),
        },
        "contenders": results,
        "site": site,
    }))
}

/// Every server runs for the whole benchmark, and the points go round robin
/// (each connection count, then each server), so that whatever else the
/// machine does at some moment falls on all of them alike. One list of
/// points (JSON objects) per contender.
fn load_all(opts: &Options, contenders: &[Contender]) -> Result<Vec<Vec<Value>>, Error> {
    let page = serve::DEFAULT_PAGE;
    let mut running = Vec::new();
    for c in contenders {
        println!(
            "bench-serve: starting {} ({}) on port {}",
            c.name, c.version, c.port
        );
        let server = Running::start(c)?;
        servers::check_page(c.port, page).map_err(|e| {
            Error::fail(format!(
                "{} on port {} does not serve the page: {e}",
                c.name, c.port
            ))
        })?;
        running.push(server);
    }
    let mut points: Vec<Vec<Value>> = contenders.iter().map(|_| Vec::new()).collect();
    let total = contenders.len() * opts.connections.len();
    let mut n = 0;
    for &conns in &opts.connections {
        for (i, c) in contenders.iter().enumerate() {
            n += 1;
            println!(
                "bench-serve [{n}/{total}]: {} at {conns} connections for {} s",
                c.name, opts.seconds
            );
            // The server's memory is summed halfway through, under load.
            let pid = running[i].pid();
            let (load, (pss_kib, processes)) =
                wrk::run(c.name, c.port, conns, opts.seconds, || memory::pss(pid))?;
            println!(
                "  {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors, {} KiB PSS in {} processes",
                load.rps, load.p50_ms, load.p99_ms, load.errors, pss_kib, processes
            );
            points[i].push(json!({
                "connections": conns,
                "rps": load.rps,
                "p50_ms": load.p50_ms,
                "p99_ms": load.p99_ms,
                "errors": load.errors,
                "requests": load.requests,
                "pss_kib": pss_kib,
                "processes": processes,
            }));
        }
    }
    for mut server in running {
        server.stop();
    }
    Ok(points)
}

/// The FROM scratch image's size, for the contenders that have one (serve's
/// and busybox's).
fn image_bytes(setup: &Setup, c: &Contender) -> Result<Option<u64>, Error> {
    match c.name {
        "serve" => {
            let tag = "hello-serve-bench:serve";
            let context = setup
                .ours_file
                .parent()
                .expect("a dist file has a directory");
            docker::build_context(
                setup.platform.docker,
                context,
                tag,
                &serve::dockerfile(setup.ours_port),
            )?;
            Ok(Some(docker::image_size(tag)?))
        }
        "busybox httpd" => Ok(Some(servers::busybox_image(&setup.dir, setup.platform)?)),
        _ => Ok(None),
    }
}

/// Writes the JSON and what is drawn from it under target/report/, prints the
/// table, and, when asked on a full run, writes docs/ and docs/serve.md's block.
fn write_results(opts: &Options, json: &Value) -> Result<(), Error> {
    let root = crate::root();
    let report = root.join("target/report");
    let text = serde_json::to_string_pretty(json).expect("JSON") + "\n";
    let md = table(json)?;
    let svg = chart(json)?;
    write(&report.join("serve.json"), text.as_bytes())?;
    write(&report.join("serve.md"), md.as_bytes())?;
    write(&report.join("serve.svg"), svg.as_bytes())?;
    println!("\n{md}");
    match (opts.update_docs, opts.is_full()) {
        (blocks::Asked::No, _) => println!(
            "wrote target/report/serve.{{json,md,svg}}; to put a full run's results in docs/ \
             and {TABLE_PAGE}, run `cargo xtask bench-serve --update-docs`"
        ),
        (_, false) => println!(
            "wrote target/report/serve.{{json,md,svg}} (a short run: HELLO_UPDATE_README \
             updates docs/ from the full run only)"
        ),
        (_, true) => {
            let page = root.join(TABLE_PAGE);
            write_if_changed(&root.join("docs/serve-bench.json"), text.as_bytes())?;
            write_if_changed(&root.join("docs/serve-bench.svg"), svg.as_bytes())?;
            blocks::write(&page, TABLE_BLOCK, &md)?;
            println!(
                "wrote target/report/serve.{{json,md,svg}}, docs/serve-bench.json, \
                 docs/serve-bench.svg and {}'s {TABLE_BLOCK} block: review and commit them",
                rel(&page)
            );
        }
    }
    Ok(())
}
