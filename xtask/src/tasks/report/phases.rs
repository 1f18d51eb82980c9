//! The report's measuring, phase by phase: the contenders (built here, or
//! published figures), each one's image and checks, check 5 for all at once,
//! and the timed runs and perf counts. Each phase fills its part of the rows.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::contenders::{self, BASELINE, BuiltFile};
use super::data::{Checks, Kind, Outcome, Published, Row, Timing, Verdict};
use super::measure;
use super::verdict::{self, Cell, Runner, Subject};
use crate::Error;
use crate::build::hello;
use crate::core::cmd;
use crate::core::files::{self, write, write_program};
use crate::core::platform::{Layout, PLATFORMS, Platform};
use crate::oci;
use crate::run::docker;
use crate::run::min_addr::MinAddr;

/// `perf stat -r`: counts are deterministic enough that a few runs give the mean.
pub const PERF_RUNS: u32 = 20;

/// A row while it is measured: what goes into report.json, and what the
/// measuring needs besides (the file to run, the image's tag).
pub struct Entry {
    pub row: Row,
    pub file: Option<BuiltFile>,
    pub tag: Option<String>,
    /// The file runs natively here and printed the message: it is timed.
    pub native_ok: bool,
}

impl Entry {
    fn new(row: Row) -> Entry {
        Entry {
            row,
            file: None,
            tag: None,
            native_ok: false,
        }
    }

    /// The row as report.json holds it.
    pub fn into_row(self) -> Row {
        let mut row = self.row;
        row.file = self.file.map(|f| files::rel(&f.path));
        row.image = self.tag;
        row
    }
}

fn published(p: contenders::Published) -> Published {
    Published {
        bytes: p.bytes,
        text: p.text.into(),
        source: p.source.into(),
    }
}

/// Every contender, in table order: the published references, the classics
/// (built here; a failed build is a row that says why), the cheat, and ours
/// for every platform and layout (built with `dist`'s pipeline). Our builds
/// that fail are left out with a note.
pub fn contenders(
    dir: &Path,
    message: &[u8],
    host: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<Entry>, Error> {
    let mut rows = Vec::new();
    for r in contenders::REFERENCES {
        let mut row = Row::new(r.id.into(), r.label.into(), Kind::Reference, "linux/amd64");
        row.how = r.how.into();
        row.published = Some(published(r.published));
        row.outcome = Outcome::NotRun("not measured: published figure".into());
        rows.push(Entry::new(row));
    }
    for c in contenders::CLASSICS {
        let mut e = Entry::new(Row::new(
            c.id.into(),
            c.label.into(),
            Kind::Classic,
            c.platform.unwrap_or(host),
        ));
        e.row.published = c.published.map(published);
        match contenders::build(c, &dir.join(c.id), dir, message) {
            Ok(file) => {
                e.row.how = file.how.clone();
                e.file = Some(file);
            }
            Err(err) => {
                // One line for the tables; the whole message in report.json.
                let first = err.message.lines().next().unwrap_or_default();
                e.row.outcome =
                    Outcome::Fails(format!("build failed: {}", first.replace('|', "/")));
                e.row.detail = Some(err.message);
            }
        }
        rows.push(e);
    }
    let mut cheat = Row::new(
        CHEAT.into(),
        "0-byte image + host volume".into(),
        Kind::Cheat,
        host,
    );
    cheat.how = "FROM scratch; CMD [\"dir/hello\"]; docker run -v <dir>:/dir:ro, <dir> holding hello compat".into();
    rows.push(Entry::new(cheat));
    for platform in PLATFORMS {
        for layout in Layout::ALL {
            if let Some(e) = ours(dir, platform, layout, message, notes)? {
                rows.push(e);
            }
        }
    }
    Ok(rows)
}

/// Ours for `platform` and `layout`, built with the repository's Dockerfile
/// in a context that holds only the file; `None` (and a note) when the build fails.
fn ours(
    dir: &Path,
    platform: &'static Platform,
    layout: Layout,
    message: &[u8],
    notes: &mut Vec<String>,
) -> Result<Option<Entry>, Error> {
    let what = format!("{} {}", platform.docker, layout.name());
    let built = match hello::build(platform, layout, message) {
        Ok(b) => b,
        Err(e) => {
            let first = e.message.lines().next().unwrap_or_default().to_string();
            notes.push(format!("skipped hello {what}: the build failed: {first}"));
            return Ok(None);
        }
    };
    let id = format!("hello-{}-{}", platform.dir_name(), layout.name());
    let path = dir.join(&id).join("target/dist/hello");
    write_program(&built.bytes, &path)?;
    let mut row = Row::new(
        id,
        format!("hello {} ({})", layout.name(), platform.docker),
        Kind::Ours,
        platform.docker,
    );
    row.layout = Some(layout.name().into());
    row.how = format!(
        "cargo xtask dist --layout {} (for {})",
        layout.name(),
        platform.docker
    );
    // What a registry serves for this platform: the image code's own
    // figure, and its OCI layout beside the row for the tests to read.
    let pulled = oci::image(
        &oci::Spec::hello(),
        platform,
        &built.bytes,
        files::mtime_secs()?,
    )?;
    row.sizes.pull_bytes = Some(pulled.pull_bytes() as u64);
    oci::write_layout(&oci::indexed(vec![pulled]), &dir.join(&row.id).join("oci"))?;
    let how = row.how.clone();
    let mut e = Entry::new(row);
    e.file = Some(BuiltFile {
        path,
        name: "hello",
        args: Vec::new(),
        how,
    });
    Ok(Some(e))
}

/// How long `docker pull` may try for a reference row's base image.
const PULL_TIMEOUT: Duration = Duration::from_secs(20);

/// One short progress line on stderr: `report [3/31] label: what`.
fn progress(i: usize, n: usize, label: &str, what: &str) {
    // Short: the whole story is in the tables and report.json.
    let mut what = what.to_string();
    if what.chars().count() > 90 {
        what = what.chars().take(89).collect::<String>() + "…";
    }
    eprintln!("report [{}/{n}] {label}: {what}", i + 1);
}

/// Each row in turn, with a progress line as it starts and ends: a reference
/// tries its pull, the cheat runs both ways, and every other row's image is
/// built (tagged `images:<row id>`), measured and checked (all checks but 5).
pub fn check_each(
    rows: &mut [Entry],
    dir: &Path,
    message: &[u8],
    host: &str,
    images: &str,
) -> Result<(), Error> {
    let n = rows.len();
    let cheat_file = rows
        .iter()
        .find(|e| {
            e.row.kind == Kind::Ours && e.row.platform == host && e.row.id.ends_with("-compat")
        })
        .and_then(|e| e.file.as_ref().map(|f| f.path.clone()));
    for (i, e) in rows.iter_mut().enumerate() {
        progress(i, n, &e.row.label, "start");
        let done = match e.row.kind {
            Kind::Reference => reference(&mut e.row, contenders::REFERENCES),
            Kind::Cheat => cheat_row(e, dir, message, cheat_file.as_deref(), images)?,
            Kind::Classic | Kind::Ours => {
                image(e, dir, message, host, images)?;
                checks(e, message)?
            }
        };
        progress(i, n, &e.row.label, &done);
    }
    Ok(())
}

/// Check 5 for every row with a file, at once: it needs vm.mmap_min_addr =
/// 65536 for a moment, set here and restored when `min_addr` is dropped.
pub fn check_min_addr(rows: &mut [Entry], message: &[u8]) {
    // uid 65534 runs copies from a directory of its own outside the checkout,
    // which may sit in a directory private to its owner (mktemp -d is 0700).
    let scratch = std::env::temp_dir().join(format!("hello-report-nobody-{}", std::process::id()));
    {
        let min_addr = MinAddr::set();
        for e in rows.iter_mut() {
            let (Some(file), Some(v)) = (&e.file, &mut e.row.verdict) else {
                continue;
            };
            let subject = subject(file, Platform::find(&e.row.platform));
            v.checks.uid_65534_min_addr =
                verdict::min_addr_check(&subject, &min_addr, message, &scratch);
            v.well_behaved = verdict::overall(&v.checks);
        }
    }
    let _ = fs::remove_dir_all(&scratch);
}

/// perf's counts for every row that runs natively; a failure is a note.
pub fn count(rows: &mut [Entry], notes: &mut Vec<String>) -> measure::Perf {
    let perf = measure::perf_probe();
    for e in rows.iter_mut().filter(|e| e.native_ok) {
        let file = e.file.as_ref().expect("a row that ran has a file");
        match measure::perf_stat(&perf, PERF_RUNS, &file.path, &file.args) {
            Ok(counts) => {
                let get = |event: &str| counts.iter().find(|(n, _)| *n == event).map(|(_, v)| *v);
                e.row.cost.instructions = get(measure::INSTRUCTIONS);
                e.row.cost.page_faults = get(measure::PAGE_FAULTS);
            }
            Err(err) => notes.push(format!(
                "{}: perf stat failed, no counts: {}",
                e.row.label, err.message
            )),
        }
    }
    perf
}

/// The cheat's id.
const CHEAT: &str = "cheat-volume";

/// The file's subject for the checks: how this machine runs it, and its qemu.
fn subject<'a>(file: &'a BuiltFile, platform: Option<&'static Platform>) -> Subject<'a> {
    let (runner, qemu) = match platform {
        Some(p) => (Runner::for_platform(p), verdict::qemu(p)),
        None => (
            Runner::Native,
            Runner::Cannot("no qemu-user is known for this platform".into()),
        ),
    };
    Subject {
        file: &file.path,
        args: &file.args,
        runner,
        qemu,
    }
}

/// A reference row: try to pull its base image, and say what happened.
fn reference(row: &mut Row, refs: &[contenders::Reference]) -> String {
    let Some(image) = refs.iter().find(|r| r.id == row.id).and_then(|r| r.pull) else {
        return "published figure only, not measured".into();
    };
    let what = match measure::pull(image, PULL_TIMEOUT) {
        Ok(bytes) => {
            format!("not measured as a contender; `docker pull {image}` worked here: {bytes} bytes")
        }
        Err(why) => {
            // The tables keep the cause alone ("no such host"), the same from
            // run to run; the whole message, with its timing and resolver,
            // goes to report.json.
            let cause = if why.contains("did not finish") {
                format!("no answer within {} s", PULL_TIMEOUT.as_secs())
            } else {
                why.rsplit(": ").next().unwrap_or(&why).trim().to_string()
            };
            row.detail = Some(why);
            format!("not measured: `docker pull {image}` failed: {cause}")
        }
    };
    row.outcome = Outcome::NotRun(what.clone());
    what
}

/// The 0-byte image: built, run plainly (it must fail), run hardened, and run
/// with the volume holding our file (it prints).
fn cheat_row(
    e: &mut Entry,
    dir: &Path,
    message: &[u8],
    ours: Option<&Path>,
    images: &str,
) -> Result<String, Error> {
    let row = &mut e.row;
    let ctx = dir.join(&row.id);
    let vol = ctx.join("dir");
    fs::create_dir_all(&vol).map_err(|err| files::io("create", &vol, err))?;
    let df = ctx.join("Dockerfile");
    write(&df, contenders::CHEAT_DOCKERFILE.as_bytes())?;
    let tag = format!("{images}:{}", row.id);
    // The context holds only the Dockerfile and the volume's directory, which
    // the Dockerfile does not copy.
    measure::docker_build(&row.platform, &tag, &df, &ctx)?;
    row.sizes.image_bytes = Some(docker::image_size(&tag)?);
    // No layers at all: `docker save` refuses an image without one ("empty
    // export"), and there is nothing to gzip.
    let layers = cmd::stdout(Command::new("docker").args([
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        &tag,
    ]))?;
    if String::from_utf8_lossy(&layers).trim() != "0" {
        return Err(Error::fail(format!(
            "{tag} should have no layers, and docker image inspect counts {}",
            String::from_utf8_lossy(&layers).trim()
        )));
    }
    row.sizes.gzip_bytes = Some(0);
    e.tag = Some(tag.clone());
    let Some(ours) = ours else {
        row.outcome = Outcome::NotRun("no file of ours for this machine to mount".into());
        return Ok("not run: no file of ours for this machine".into());
    };
    let file = vol.join("hello");
    let bytes = fs::read(ours).map_err(|err| files::io("read", ours, err))?;
    write_program(&bytes, &file)?;
    let volume = format!("{}:/dir:ro", vol.display());
    let plain = verdict::docker_run(&row.platform, &tag, &["--network", "none"], &[])?;
    let hardened = verdict::hardened(&row.platform, &tag, &[], message)?;
    let with = verdict::docker_run(
        &row.platform,
        &tag,
        &["--network", "none"],
        &["-v", &volume],
    )?;
    let no_file = || Cell::NotChecked("the image holds no file to run".into());
    row.outcome = Outcome::Fails(format!(
        "not self-contained: needs a host volume (without one: {})",
        verdict::observed(&plain)
    ));
    row.detail = Some(verdict::observed(&plain));
    row.verdict = Some(Verdict {
        checks: Checks {
            prints: verdict::prints(&plain, message),
            dev_full: no_file(),
            closed_stdout: no_file(),
            ulimit_v_256: no_file(),
            uid_65534_min_addr: no_file(),
            hardened_docker_run: hardened,
            qemu_user: no_file(),
        },
        well_behaved: Cell::No("not self-contained: needs a host volume".into()),
        with_volume: Some(verdict::prints(&with, message)),
    });
    Ok(format!(
        "image {} bytes; without a volume {}; with one {}",
        row.sizes.image_bytes.unwrap_or(0),
        verdict::observed(&plain),
        verdict::prints(&with, message).text()
    ))
}

/// Checks 1 to 4, 6 and 7 for a row with a file and an image (check 5 comes
/// after, for every row at once, while vm.mmap_min_addr is raised).
fn checks(e: &mut Entry, message: &[u8]) -> Result<String, Error> {
    let row = &mut e.row;
    let (Some(file), Some(tag)) = (&e.file, &e.tag) else {
        return Ok(format!(
            "not built: {}",
            row.outcome.status().1.unwrap_or("")
        ));
    };
    let local = verdict::local_checks(&subject(file, Platform::find(&row.platform)), message);
    let checks = Checks {
        prints: local.prints,
        dev_full: local.dev_full,
        closed_stdout: local.closed_stdout,
        ulimit_v_256: local.ulimit_v_256,
        uid_65534_min_addr: Cell::NotChecked("not yet made".into()),
        hardened_docker_run: verdict::hardened(&row.platform, tag, &[], message)?,
        qemu_user: local.qemu_user,
    };
    let summary = summary(&checks);
    row.verdict = Some(Verdict {
        well_behaved: verdict::overall(&checks),
        checks,
        with_volume: None,
    });
    Ok(format!(
        "{} bytes; {summary} (check 5 after)",
        row.sizes.image_bytes.unwrap_or(0)
    ))
}

/// "yes 1,2,3; no 4; not checked 7": the checks made so far (all but 5), by number.
fn summary(checks: &Checks) -> String {
    let numbers = |want: fn(&Cell) -> bool| {
        checks
            .cells()
            .into_iter()
            .filter(|(key, _, c)| *key != "uid_65534_min_addr" && want(c))
            .map(|(_, heading, _)| heading.split('.').next().unwrap_or(heading))
            .collect::<Vec<_>>()
            .join(",")
    };
    [
        ("yes", numbers(|c| *c == Cell::Yes)),
        ("no", numbers(|c| matches!(c, Cell::No(_)))),
        ("not checked", numbers(|c| matches!(c, Cell::NotChecked(_)))),
    ]
    .iter()
    .filter(|(_, n)| !n.is_empty())
    .map(|(w, n)| format!("{w} {n}"))
    .collect::<Vec<_>>()
    .join("; ")
}

/// Builds the row's image, measures it, and checks what it prints, in `scratch` and natively.
fn image(e: &mut Entry, dir: &Path, message: &[u8], host: &str, images: &str) -> Result<(), Error> {
    let Some(file) = &e.file else {
        return Ok(());
    };
    let row = &mut e.row;
    let bytes = fs::read(&file.path).map_err(|err| files::io("read", &file.path, err))?;
    row.sizes.file_bytes = Some(bytes.len() as u64);
    row.sizes.file_sha256 = Some(oci::sha256(&bytes));
    let tag = format!("{images}:{}", row.id);
    let (dockerfile, context): (PathBuf, PathBuf) = if row.kind == Kind::Ours {
        (crate::root().join("Dockerfile"), dir.join(&row.id))
    } else {
        let ctx = file
            .path
            .parent()
            .expect("a file has a directory")
            .to_path_buf();
        let df = ctx.join("Dockerfile");
        write(&df, contenders::dockerfile(file).as_bytes())?;
        (df, ctx)
    };
    measure::docker_build(&row.platform, &tag, &dockerfile, &context)?;
    row.sizes.image_bytes = Some(docker::image_size(&tag)?);
    // The gzipped layer, kept beside the row for the tests to decompress.
    let layers = measure::gzipped_layers(&tag)?;
    row.sizes.gzip_bytes = Some(layers.iter().map(|l| l.len() as u64).sum());
    if let [layer] = &layers[..] {
        write(&dir.join(&row.id).join("layer.tar.gz"), layer)?;
    }
    e.tag = Some(tag.clone());

    // This machine runs the file itself: its own platform, or 386 on x86-64.
    let native =
        row.platform == host || Platform::find(&row.platform).is_some_and(|p| p.runs_natively());
    let out = measure::docker_run(&row.platform, &tag)?;
    row.outcome = if out.status.success() && out.stdout == message {
        Outcome::Prints
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        let what = format!(
            "docker run exited with {} and printed {} bytes{}{said}",
            out.status
                .code()
                .map_or("a signal".into(), |c| c.to_string()),
            out.stdout.len(),
            if said.is_empty() { "" } else { ": " }
        );
        row.detail = Some(what.clone());
        match contenders::interpreter(&bytes) {
            Some(loader) if native => Outcome::Fails(format!(
                "dynamically linked: needs the loader {loader}, which scratch lacks"
            )),
            _ if native => Outcome::Fails(what),
            _ => Outcome::NotRun(format!("{} on a {host} machine: {what}", row.platform)),
        }
    };
    if let Outcome::Fails(why) | Outcome::NotRun(why) = &row.outcome {
        eprintln!(
            "{} in scratch: {why} ({})",
            row.label,
            row.detail.as_deref().unwrap_or_default()
        );
    }
    if native {
        let mut run = Command::new(&file.path);
        run.args(&file.args).stdin(Stdio::null());
        let out = run
            .output()
            .map_err(|err| Error::fail(format!("could not run {}: {err}", file.path.display())))?;
        e.native_ok = out.status.success() && out.stdout == message;
        if !e.native_ok {
            eprintln!(
                "{}: run natively, exited with {} and printed {} bytes, not the message; not timed",
                row.label,
                out.status,
                out.stdout.len()
            );
        }
    }
    Ok(())
}

/// The medians of `runs` rounds over the rows `timed` (indices), each round
/// one `once` per row, starting one row later each round so that drift in the
/// machine's load (2 cores, shared) falls on every contender alike.
fn interleaved(
    timed: &[usize],
    runs: u32,
    mut once: impl FnMut(usize) -> Result<u64, Error>,
) -> Result<Vec<Timing>, Error> {
    let mut samples = vec![Vec::with_capacity(runs as usize); timed.len()];
    for round in 0..runs as usize {
        for j in 0..timed.len() {
            let k = (round + j) % timed.len();
            samples[k].push(once(timed[k])?);
        }
    }
    Ok(samples
        .iter_mut()
        .map(|s| Timing {
            runs: s.len(),
            median_ns: measure::median(s),
        })
        .collect())
}

/// Median wall time of executing each file that runs here, runs interleaved.
pub fn time_exec(rows: &mut [Entry], runs: u32) -> Result<(), Error> {
    let timed: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].native_ok).collect();
    eprintln!(
        "timing {runs} runs of each of {} files, interleaved",
        timed.len()
    );
    let medians = interleaved(&timed, runs, |i| {
        let file = rows[i].file.as_ref().expect("a row that ran has a file");
        measure::exec_once(&file.path, &file.args)
    })?;
    for (&i, t) in timed.iter().zip(medians) {
        rows[i].row.cost.exec = Some(t);
    }
    Ok(())
}

/// Median wall time of `docker run`, for ours and the baseline only, interleaved.
pub fn time_docker(rows: &mut [Entry], runs: u32, message: &[u8]) -> Result<(), Error> {
    let timed: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            let e = &rows[i];
            (e.row.kind == Kind::Ours || e.row.id == BASELINE)
                && e.native_ok
                && matches!(e.row.outcome, Outcome::Prints)
        })
        .collect();
    eprintln!(
        "timing {runs} docker runs of each of {} images, interleaved",
        timed.len()
    );
    let medians = interleaved(&timed, runs, |i| {
        let e = &rows[i];
        let tag = e.tag.as_ref().expect("a row that ran has an image");
        measure::docker_once(&e.row.platform, tag, message)
    })?;
    for (&i, t) in timed.iter().zip(medians) {
        rows[i].row.cost.docker = Some(t);
    }
    Ok(())
}
