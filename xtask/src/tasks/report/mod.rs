//! `cargo xtask report`: the scoreboard. Builds the classic hello-world images
//! side by side with ours, measures them in one run (phases.rs), writes
//! everything measured to `target/report/report.json` (data.rs), and draws the
//! table (stdout), the README's blocks and the chart from that file
//! (render.rs, headline.rs, chart.rs). docs/sizes.svg and the README blocks are written
//! only when asked (`--update-docs`).
use std::ffi::OsString;
use std::path::Path;
use std::time::Instant;

use crate::Error;
use crate::build::hello::DEFAULT_MESSAGE;
use crate::build::tools;
use crate::core::args::{self, Opt};
use crate::core::blocks::{self, Asked};
use crate::core::files::{read_json, rel, write, write_if_changed};
use crate::core::platform::Platform;
use crate::run::docker;

mod chart;
mod contenders;
mod data;
mod headline;
mod measure;
mod packages;
mod phases;
mod render;
mod verdict;

use data::{Report, Unavailable};

const HELP: &str = "\
cargo xtask report [options]

Builds every contender that can be built here (static glibc with gcc, plain and
-Os -s; gcc -nostartfiles; tcc; musl with Docker hello-world's flags; busybox
echo; hand-written i386 and x86-64 assembly with nasm; a 0-byte image that
runs a file from a host volume; a control for check 5, an x86-64 file that
loads at 0x1000) and ours for every platform and layout, each as a FROM
scratch image; checks that each prints the message; makes the seven
well-behaved checks on each (exact output and status 0; non-zero status on
/dev/full and on a closed stdout; ulimit -v 256; uid 65534 with
vm.mmap_min_addr = 65536, which it sets and restores holding the lock
/tmp/hello-vm.mmap_min_addr.lock, so that a run from another checkout waits;
a hardened docker run; qemu-user); measures file, image and gzipped layer
sizes and the run cost as ratios against gcc -nostartfiles; tries `docker
pull` for the published references; prints a line on stderr as each
contender starts and finishes; and writes, under target/ only:
  stdout                        the table (last)
  target/report/report.json     everything measured
  target/report/scoreboard.md   docs/scoreboard.md's scoreboard block
  target/report/headline.md     the README's headline block
  target/report/sizes.svg       the chart of image sizes (log scale)
The tables, blocks and chart are drawn from report.json. With --update-docs
(or HELLO_UPDATE_README=1) it also writes the chart to docs/sizes.svg and the
scoreboard block into docs/scoreboard.md and the headline into README.md,
to review and commit.

Needs a Docker engine; installs gcc, tcc, musl-tools, nasm, busybox-static and
qemu-user-static with apt-get when run as root, and otherwise names the
command; without qemu-user it runs on, check 7 `not checked`, and says so.

Options:
  --exec-runs N     timed runs of each file (default 1000, at least 200)
  --docker-runs N   timed `docker run`s of ours and -nostartfiles (default 20, at least 20)
  --update-docs     also write docs/sizes.svg, docs/scoreboard.md's scoreboard
                    and README.md's headline
  --keep-images     keep the images it built (tagged hello-report-<pid>:<row
                    id>, as report.json's `image` says); without it, the run
                    removes every image it tagged, and only those
  -h, --help        print this help
";

const MIN_EXEC_RUNS: u32 = 200;
const MIN_DOCKER_RUNS: u32 = 20;

/// The page that holds the `scoreboard` block (under the root).
const SCOREBOARD_PAGE: &str = "docs/scoreboard.md";
/// The page that holds the `headline` block (under the root).
const HEADLINE_PAGE: &str = "README.md";
/// The committed chart.
const CHART: &str = "docs/sizes.svg";

struct Options {
    exec_runs: u32,
    docker_runs: u32,
    update_docs: Asked,
    keep_images: bool,
}

pub const OPTS: &[Opt] = &[
    args::value("--exec-runs", "N"),
    args::value("--docker-runs", "N"),
    args::flag("--update-docs"),
    args::flag("--keep-images"),
];

/// Reads and checks the options; `None` for `--help`, which it prints.
fn parse(words: Vec<OsString>) -> Result<Option<Options>, Error> {
    let a = args::read("report", OPTS, words)?;
    if a.help {
        print!("{HELP}");
        return Ok(None);
    }
    a.no_free()?;
    let at_least = |min: u32| {
        move |v: &str| match v.parse::<u32>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(format!("give a whole number of at least {min}")),
        }
    };
    Ok(Some(Options {
        exec_runs: a
            .parse("--exec-runs", at_least(MIN_EXEC_RUNS))?
            .unwrap_or(1000),
        docker_runs: a
            .parse("--docker-runs", at_least(MIN_DOCKER_RUNS))?
            .unwrap_or(MIN_DOCKER_RUNS),
        update_docs: blocks::asked(a.given("--update-docs")),
        keep_images: a.given("--keep-images"),
    }))
}

pub fn run(args: Vec<OsString>) -> Result<(), Error> {
    let Some(opts) = parse(args)? else {
        return Ok(());
    };
    let started = Instant::now();
    // This run's own image name: another checkout's run on the same engine
    // tags and removes its own.
    let images = format!("hello-report-{}", std::process::id());
    let measured = measure(&opts, &images);
    let kept = images_left(&images, opts.keep_images);
    let report = measured.inspect_err(|_| eprintln!("{kept}"))?;
    let dir = crate::root().join("target/report");
    let json = write_json(&dir, &report)?;
    // Everything below is drawn from the file, as `--table` would draw it.
    let report = Report::from_json(&read_json(&json)?)?;
    let drawn = Drawn::of(&report);
    drawn.write(&dir)?;
    let docs = match opts.update_docs {
        Asked::No => format!(
            "; to put them in {CHART} and {SCOREBOARD_PAGE}, run `cargo xtask report --update-docs`"
        ),
        Asked::Option | Asked::Env => drawn.update_docs()?,
    };

    // Everything else first: the Markdown table is the last thing on stdout.
    for r in &report.rows {
        if let Some(p) = &r.published {
            println!(
                "published (not measured): {} {}: {}",
                r.label, p.text, p.source
            );
        }
    }
    for u in &report.perf_unavailable {
        println!("perf: {} not counted: {}", u.event, u.why);
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    for c in &render::sanity(&report) {
        println!("check: {c}");
    }
    println!("{kept}");
    println!("headline: {}", drawn.headline);
    println!(
        "wrote target/report/report.json, scoreboard.md and headline.md (the blocks of docs/scoreboard.md and README.md) and sizes.svg in {:.0} s{docs}",
        started.elapsed().as_secs_f64()
    );
    println!("\n{}", render::table(&report));
    Ok(())
}

/// The run's images (tagged `images:<row id>`): kept, or removed; says which.
fn images_left(images: &str, keep: bool) -> String {
    if keep {
        return format!(
            "kept the images, tagged {images}:<row id> (report.json's `image`); to remove them: \
             docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' {images} | xargs -r docker rmi"
        );
    }
    match docker::remove_repository(images) {
        Ok(n) => format!("removed the {n} images this run tagged {images}:<row id>"),
        Err(e) => format!(
            "could not remove this run's images ({}): run `docker images --format \
             '{{{{.Repository}}}}:{{{{.Tag}}}}' {images} | xargs -r docker rmi`",
            e.message
        ),
    }
}

/// Every phase of the measuring, in order; the record report.json holds.
fn measure(opts: &Options, images: &str) -> Result<Report, Error> {
    let engine = docker::engine().map_err(|why| {
        Error::fail(format!(
            "the report builds and runs images, and no Docker engine answers ({why}): {}",
            docker::START_HINT
        ))
    })?;
    packages::ensure()?;
    tools::ensure_binutils()?;
    let dir = crate::root().join("target/report");
    let message = DEFAULT_MESSAGE;
    write(
        &dir.join("message.h"),
        contenders::message_header(message).as_bytes(),
    )?;
    write(
        &dir.join("message.inc"),
        contenders::message_inc(message).as_bytes(),
    )?;
    let host = Platform::host().map_or("none", |p| p.docker);

    let mut notes = Vec::new();
    let mut rows = phases::contenders(&dir, message, host, &mut notes)?;
    phases::check_each(&mut rows, &dir, message, host, images)?;
    phases::check_min_addr(&mut rows, message);
    phases::time_exec(&mut rows, opts.exec_runs)?;
    phases::time_docker(&mut rows, opts.docker_runs, message)?;
    let perf = phases::count(&mut rows, &mut notes);
    Ok(Report {
        message: String::from_utf8_lossy(message).into_owned(),
        host: host.into(),
        docker_engine: engine,
        exec_runs: opts.exec_runs,
        docker_runs: opts.docker_runs,
        perf_runs: phases::PERF_RUNS,
        baseline: contenders::BASELINE.into(),
        perf_counted: perf.events.iter().map(|e| e.to_string()).collect(),
        perf_unavailable: perf
            .unavailable
            .iter()
            .map(|u| Unavailable {
                event: u.event.into(),
                why: u.why.clone(),
                short: u.short.into(),
            })
            .collect(),
        hardened_docker_run: verdict::hardened_flags()
            .iter()
            .map(|f| f.to_string())
            .collect(),
        notes,
        rows: rows.into_iter().map(phases::Entry::into_row).collect(),
    })
}

/// Writes report.json: the record, with what is drawn from it for readers
/// of the JSON (the headline, the sanity checks, the chart's bars).
fn write_json(dir: &Path, report: &Report) -> Result<std::path::PathBuf, Error> {
    let mut json = report.to_json();
    json["headline"] = headline::headline(report).into();
    json["checks"] = render::sanity(report).into();
    json["chart"] = render::bars_json(&render::bars(report));
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&json).expect("JSON values serialise") + "\n";
    write(&path, text.as_bytes())?;
    Ok(path)
}

/// What is drawn from report.json for files: the two README blocks and the chart.
struct Drawn {
    scoreboard: String,
    headline: String,
    svg: String,
}

impl Drawn {
    fn of(report: &Report) -> Drawn {
        Drawn {
            scoreboard: render::scoreboard(report),
            headline: headline::headline(report),
            svg: chart::svg(&render::bars(report)),
        }
    }

    /// Under target/report/.
    fn write(&self, dir: &Path) -> Result<(), Error> {
        write(&dir.join("sizes.svg"), self.svg.as_bytes())?;
        write(&dir.join("scoreboard.md"), self.scoreboard.as_bytes())?;
        write(&dir.join("headline.md"), self.headline.as_bytes())
    }

    /// The committed chart and blocks; says what it wrote.
    fn update_docs(&self) -> Result<String, Error> {
        let root = crate::root();
        write_if_changed(&root.join(CHART), self.svg.as_bytes())?;
        let scoreboard = root.join(SCOREBOARD_PAGE);
        blocks::write(&scoreboard, "scoreboard", &self.scoreboard)?;
        let headline = root.join(HEADLINE_PAGE);
        blocks::write(&headline, "headline", &self.headline)?;
        Ok(format!(
            ", and {CHART}, {}'s scoreboard block and {}'s headline block (review and commit them)",
            rel(&scoreboard),
            rel(&headline)
        ))
    }
}
