//! `cargo xtask bench-serve`: `serve` against nginx, lighttpd, h2o, busybox
//! httpd and a floor (a minimal C server), on this machine, in one run, each
//! serving the same page on 127.0.0.1, loaded by `wrk` and cross-checked by
//! `h2load`. This module owns the options and the run: it measures into
//! target/report/serve.json (rounds.rs runs the repetitions) and renders the
//! table (render.rs) and chart (chart.rs) from that JSON;
//! docs/serve-bench.json, docs/serve-bench.svg and docs/serve.md's block are
//! written only when asked (`--update-docs`).
mod axis;
mod chart;
mod goals;
mod h2load;
mod memory;
mod render;
mod rounds;
mod servers;
mod site;
mod stats;
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
use servers::Contender;

pub use chart::chart;
pub use render::{summary, table};

const HELP: &str = "\
cargo xtask bench-serve [options]

Runs serve (built for this machine, run natively), nginx (nginx-light,
worker_processes auto, access_log off, no cap on requests per connection), lighttpd, h2o (one thread per core),
busybox httpd (busybox-static) and the floor (floor.c beside this task's
sources: epoll, one process per core, one prebuilt response per request,
compiled with gcc), each serving serve's default page on 127.0.0.1 on a free
port. Each point loads each server with `wrk -t2 -cN -dS --latency`: N
keep-alive connections at each --connections count, 100 connections that
each ask `Connection: close` (a new connection per request), and 100
connections fetching a 1 MiB page. Measures requests per second, p50 and p99
latency, errors (socket errors and non-2xx answers), and the summed PSS of the
server's processes under load (/proc/PID/smaps_rollup). Cross-checks the
100-connection point with `h2load --h1` for serve and nginx. Each server runs
in a memory cgroup of its own (so this needs root); holding --idle counts of
idle keep-alive connections to it, measures the rise in the cgroup's charge,
which counts the kernel memory charged to the server (socket buffers, slab,
kernel stacks, page tables) besides its pages. With a Docker engine, measures
the FROM scratch images (serve's, busybox's). Each repetition runs every point
on every server in turn, so the repetitions interleave; the table gives the
median and the spread, and ratios against the best peer (nginx, lighttpd or
h2o), nginx and the floor. The full run takes about 12 minutes on 2 cores.

Writes target/report/serve.json, target/report/serve.md (docs/serve.md's table) and
target/report/serve.svg, and nothing outside target/. With --update-docs (or
HELLO_UPDATE_README=1), the full run (no --seconds, --connections,
--repetitions or --idle) also writes docs/serve-bench.json and
docs/serve-bench.svg and the serve-bench block of docs/serve.md, which are
checked against each other (cargo test --test serve_bench).

Needs wrk, h2load, nginx, lighttpd, h2o, busybox and gcc: apt-get install -y
wrk nghttp2-client nginx-light lighttpd h2o busybox-static gcc.

Then the site point (issue 19): the test site (xtask/tests/site/www) from
serve --site, nginx (gzip_static) and busybox httpd, loaded by wrk with a Lua
script that asks for each of its paths in turn with Accept-Encoding: gzip, at
100 connections.

Options:
  --seconds S            seconds of load per point (default 5; CI uses 1)
  --connections A,B,..   keep-alive connection counts (default 10,100,1000,10000)
  --repetitions R        runs of every point (default 3; CI uses 1)
  --idle A,B,..          idle connection counts to measure memory at
                         (default 1000,10000)
  --table FILE           print docs/serve.md's table for a serve.json and exit
  --chart FILE           print the SVG chart for a serve.json and exit
  --update-docs          also write docs/serve-bench.{json,svg}, docs/serve.md's block
                         and README.md's sentence on the run
  -h, --help             print this help
";

const DEFAULT_SECONDS: u32 = 5;
const DEFAULT_CONNECTIONS: [u32; 4] = [10, 100, 1000, 10_000];
const DEFAULT_REPETITIONS: u32 = 3;
const DEFAULT_IDLE: [u32; 2] = [1000, 10_000];
/// The most connections a point or the idle memory may ask for: each one
/// is a descriptor in this process or wrk, under the hard limit of 20,000.
const MAX_CONNECTIONS: u32 = 10_000;
/// The connection count of the `Connection: close` and 1 MiB points, and
/// of the h2load cross-check and the goal against the floor.
const EXTRA_CONNECTIONS: u32 = 100;
/// The servers h2load cross-checks.
const CROSS_CHECKED: [&str; 2] = ["serve", "nginx"];
/// The baseline of the memory ratios; the rps and p99 goals are against the
/// best of PEERS at each point.
const BASELINE: &str = "nginx";
const PEERS: [&str; 3] = ["nginx", "lighttpd", "h2o"];
const FLOOR: &str = "floor";
const TOOLS: [&str; 7] = [
    "wrk", "h2load", "nginx", "lighttpd", "h2o", "busybox", "gcc",
];
const INSTALL: &str =
    "apt-get install -y wrk nghttp2-client nginx-light lighttpd h2o busybox-static gcc";
/// The page that holds the `serve-bench` block (under the root).
const TABLE_PAGE: &str = "docs/serve.md";
/// The block's name in it.
const TABLE_BLOCK: &str = "serve-bench";
/// README.md's inline block: the run in one sentence ([`summary`]).
const SUMMARY_BLOCK: &str = "serve-summary";

struct Options {
    seconds: u32,
    connections: Vec<u32>,
    repetitions: u32,
    idle: Vec<u32>,
    table: Option<PathBuf>,
    chart: Option<PathBuf>,
    /// `--update-docs` or HELLO_UPDATE_README: write docs/ and docs/serve.md's block.
    update_docs: blocks::Asked,
}

impl Options {
    /// The run whose results are committed: the default seconds and counts.
    fn is_full(&self) -> bool {
        self.seconds == DEFAULT_SECONDS
            && self.connections == DEFAULT_CONNECTIONS
            && self.repetitions == DEFAULT_REPETITIONS
            && self.idle == DEFAULT_IDLE
    }
}

pub const OPTS: &[Opt] = &[
    args::value("--seconds", "S"),
    args::value("--connections", "A,B,.."),
    args::value("--repetitions", "R"),
    args::value("--idle", "A,B,.."),
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
    let counts = |v: &str| {
        let list: Option<Vec<u32>> = v
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .ok()
                    .filter(|&n| (wrk::THREADS..=MAX_CONNECTIONS).contains(&n))
            })
            .collect();
        list.filter(|l| !l.is_empty()).ok_or_else(|| {
            format!(
                "give counts from {} to {MAX_CONNECTIONS}, separated by commas",
                wrk::THREADS
            )
        })
    };
    let connections = a.parse("--connections", counts)?;
    let idle = a.parse("--idle", counts)?;
    let opts = Options {
        seconds: a
            .parse("--seconds", args::number(1..=600))?
            .unwrap_or(DEFAULT_SECONDS),
        connections: connections.unwrap_or_else(|| DEFAULT_CONNECTIONS.to_vec()),
        repetitions: a
            .parse("--repetitions", args::number(1..=9))?
            .unwrap_or(DEFAULT_REPETITIONS),
        idle: idle.unwrap_or_else(|| DEFAULT_IDLE.to_vec()),
        table: a.os("--table").map(PathBuf::from),
        chart: a.os("--chart").map(PathBuf::from),
        update_docs: blocks::asked(a.given("--update-docs")),
    };
    if opts.update_docs == blocks::Asked::Option && !opts.is_full() {
        return Err(Error::usage(
            "--update-docs writes the committed results, which are the full run's: \
             drop --seconds, --connections, --repetitions and --idle",
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
    contenders: Vec<Contender>,
}

/// Checks the tools, writes the pages, builds serve for this machine (once
/// with the default page, once with the 1 MiB page) and the floor.
fn setup() -> Result<Setup, Error> {
    for tool in TOOLS {
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
    let big = servers::big_page();
    write(&www.join("index.html"), serve::DEFAULT_PAGE)?;
    write(&www.join(&servers::BIG_PATH[1..]), &big)?;
    // nginx's workers run as www-data and h2o as nobody, who must reach the
    // pages: the checkout may sit in a private directory (mktemp -d is
    // 0700), so the pages live in a world-readable directory of their own.
    fs::set_permissions(&www, fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod", &www, e))?;

    let platform = Platform::host()
        .ok_or_else(|| Error::usage("this machine's architecture is not one serve is built for"))?;
    tools::ensure_binutils()?;
    let build = |page: Vec<u8>, name: &str| -> Result<(PathBuf, u16, usize), Error> {
        let port = servers::free_port()?;
        let config = Config {
            page,
            content_type: serve::DEFAULT_CONTENT_TYPE.into(),
            port,
            site: None,
        };
        let built = serve::build(platform, &config)?;
        let file = dir.join(name).join("serve");
        write_program(&built.bytes, &file)?;
        Ok((file, port, built.bytes.len()))
    };
    let (ours_file, ours_port, serve_bytes) = build(serve::DEFAULT_PAGE.to_vec(), "default")?;
    let (big_file, big_port, _) = build(big, "big")?;
    let floor = servers::build_floor(&dir)?;
    let contenders = servers::contenders(
        &dir,
        &servers::Ours {
            serve: (&ours_file, ours_port),
            serve_big: (&big_file, big_port),
            floor: &floor,
        },
    )?;
    Ok(Setup {
        dir,
        platform,
        ours_file,
        ours_port,
        serve_bytes,
        contenders,
    })
}

/// The whole run: every server at every point, the idle connections, then
/// the image sizes; the raw numbers as the JSON the table and chart are
/// drawn from.
fn measure(opts: &Options) -> Result<Value, Error> {
    let setup = setup()?;
    // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer": up to the copyright.
    let wrk_version = servers::version(Command::new("wrk").arg("-v"))
        .split(" Copyright")
        .next()
        .unwrap_or_default()
        .to_string();
    let h2load_version = servers::version(Command::new("h2load").arg("--version"));
    let contenders = &setup.contenders;
    let measured = rounds::run(opts, contenders)?;
    let site = site::measure(&setup.dir, setup.platform, opts.seconds)?;
    let engine = docker::engine().ok();
    let mut results = Vec::new();
    for (c, m) in contenders.iter().zip(measured) {
        let image = match engine {
            Some(_) => image_bytes(&setup, c)?,
            None => None,
        };
        let mut command = c.main.shown.clone();
        if let Some(big) = &c.big {
            command = format!("{command}; 1 MiB page: {}", big.shown);
        }
        results.push(json!({
            "name": c.name,
            "version": c.version,
            "design": c.design,
            "command": command,
            "image_bytes": image,
            "points": m.points,
            "h2load": m.h2load,
            "idle": m.idle,
        }));
    }
    Ok(json!({
        "what": "serve vs nginx, lighttpd, h2o, busybox httpd and a floor on 127.0.0.1, \
                 loaded by wrk, cross-checked by h2load",
        "baseline": BASELINE,
        "peers": PEERS,
        "floor": FLOOR,
        "seconds": opts.seconds,
        "repetitions": opts.repetitions,
        "connections": opts.connections,
        "extra_connections": EXTRA_CONNECTIONS,
        "idle_connections": opts.idle,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "page_bytes": serve::DEFAULT_PAGE.len(),
        "big_page_bytes": serve::MAX_PAGE_FILE,
        "serve_bytes": setup.serve_bytes,
        "wrk": {
            "version": wrk_version,
            "flags": wrk::flags(opts.seconds),
            "close_header": wrk::CLOSE,
        },
        "h2load": {
            "version": h2load_version,
            "flags": h2load::flags(opts.seconds),
            "connections": EXTRA_CONNECTIONS,
        },
        "memory": "idle: the rise in the server's own memory cgroup (v1: memory.usage_in_bytes \
                   + memory.kmem.tcp.usage_in_bytes; kernel: memory.kmem.usage_in_bytes + \
                   memory.kmem.tcp.usage_in_bytes) while this process holds the connections; \
                   points: PSS under load",
        "contenders": results,
        "site": site,
    }))
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
                .expect("a built file has a directory");
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
    // Drawn from the JSON as written and read back, as `--table` and
    // `--chart` draw it later: serde_json's parse may differ from a
    // computed number in the last place (2009.9999999999998 reads as 2010).
    let json: Value = serde_json::from_str(&text).expect("the JSON just written");
    let md = table(&json)?;
    let svg = chart(&json)?;
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
            blocks::write(&root.join("README.md"), SUMMARY_BLOCK, &summary(&json)?)?;
            println!(
                "wrote target/report/serve.{{json,md,svg}}, docs/serve-bench.json, \
                 docs/serve-bench.svg, {}'s {TABLE_BLOCK} block and README.md's \
                 {SUMMARY_BLOCK}: review and commit them",
                rel(&page)
            );
        }
    }
    Ok(())
}
