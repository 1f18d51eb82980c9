//! report.json as a typed record: what the measuring fills in, written as JSON
//! and read back, so that every table, block and chart is drawn from the file.
//!
//! The file also carries what is drawn from the rows (the headline, the
//! sanity checks, the chart's bars, each timing's ratio) for readers of the
//! JSON; reading ignores those and the renderers draw them again.
use serde_json::{Map, Value, json};

use super::verdict::{CHECKS, Cell};
use crate::Error;

/// The whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub message: String,
    /// This machine's docker platform, or `none`.
    pub host: String,
    pub docker_engine: String,
    pub exec_runs: u32,
    pub docker_runs: u32,
    pub perf_runs: u32,
    /// The row every ratio is against.
    pub baseline: String,
    /// The perf events that count here.
    pub perf_counted: Vec<String>,
    pub perf_unavailable: Vec<Unavailable>,
    pub hardened_docker_run: Vec<String>,
    pub notes: Vec<String>,
    pub rows: Vec<Row>,
}

/// A perf event that does not count here.
#[derive(Debug, Clone, PartialEq)]
pub struct Unavailable {
    pub event: String,
    pub why: String,
    /// For a table cell: `unavailable: <short>`.
    pub short: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Published figures only: not built here.
    Reference,
    /// Built here from real tools.
    Classic,
    /// The 0-byte image that runs a file from a host volume.
    Cheat,
    /// Built by `dist`.
    Ours,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Reference => "reference",
            Kind::Classic => "classic",
            Kind::Cheat => "cheat",
            Kind::Ours => "ours",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::Reference, Kind::Classic, Kind::Cheat, Kind::Ours]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// Whether the image prints the message in `scratch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Prints,
    Fails(String),
    /// Built, but this machine cannot run it (another architecture, or not measured).
    NotRun(String),
}

impl Outcome {
    /// `status` and `reason` in report.json.
    pub fn status(&self) -> (&'static str, Option<&str>) {
        match self {
            Outcome::Prints => ("prints", None),
            Outcome::Fails(why) => ("fails", Some(why)),
            Outcome::NotRun(why) => ("not-run", Some(why)),
        }
    }
}

/// A figure published elsewhere, typed in with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub bytes: u64,
    pub text: String,
    pub source: String,
}

/// The sizes measured of a row's file and image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sizes {
    pub file_bytes: Option<u64>,
    /// sha256 of the file: rows with equal files share one chart bar.
    pub file_sha256: Option<String>,
    pub image_bytes: Option<u64>,
    pub gzip_bytes: Option<u64>,
    /// The registry pull size (manifest, config and compressed layers), ours only.
    pub pull_bytes: Option<u64>,
}

/// The seven checks, each by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks {
    pub prints: Cell,
    pub dev_full: Cell,
    pub closed_stdout: Cell,
    pub ulimit_v_256: Cell,
    pub uid_65534_min_addr: Cell,
    pub hardened_docker_run: Cell,
    pub qemu_user: Cell,
}

impl Checks {
    /// Every check with its key and heading, in table order ([`CHECKS`]'s).
    pub fn cells(&self) -> [(&'static str, &'static str, &Cell); 7] {
        let c = [
            &self.prints,
            &self.dev_full,
            &self.closed_stdout,
            &self.ulimit_v_256,
            &self.uid_65534_min_addr,
            &self.hardened_docker_run,
            &self.qemu_user,
        ];
        let mut i = 0;
        c.map(|cell| {
            let (key, heading) = CHECKS[i];
            i += 1;
            (key, heading, cell)
        })
    }

    fn read(v: &Value) -> Option<Checks> {
        let c = |key: &str| Cell::parse(v[key].as_str()?);
        Some(Checks {
            prints: c("prints")?,
            dev_full: c("dev_full")?,
            closed_stdout: c("closed_stdout")?,
            ulimit_v_256: c("ulimit_v_256")?,
            uid_65534_min_addr: c("uid_65534_min_addr")?,
            hardened_docker_run: c("hardened_docker_run")?,
            qemu_user: c("qemu_user")?,
        })
    }
}

/// The verdict: the seven checks, and the overall well-behaved cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub checks: Checks,
    pub well_behaved: Cell,
    /// The cheat only: its run with the host volume that holds our file.
    pub with_volume: Option<Cell>,
}

/// A median over interleaved runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub median_ns: u64,
    pub runs: usize,
}

/// What running the file costs, measured where it runs natively (and prints
/// the message): every such file is timed, so `exec` is `Some` exactly for them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cost {
    pub exec: Option<Timing>,
    pub docker: Option<Timing>,
    pub instructions: Option<f64>,
    pub page_faults: Option<f64>,
}

/// One contender.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub label: String,
    pub kind: Kind,
    pub platform: String,
    /// Ours: `tiny` or `compat`.
    pub layout: Option<String>,
    pub how: String,
    pub published: Option<Published>,
    /// The file the image holds, relative to the root.
    pub file: Option<String>,
    /// The image's tag in this run (`hello-report-<pid>:<id>`), removed at
    /// the end of the run unless it was asked to keep them.
    pub image: Option<String>,
    pub sizes: Sizes,
    pub outcome: Outcome,
    /// What `docker run` (or the build) said when the image did not print the message.
    pub detail: Option<String>,
    pub verdict: Option<Verdict>,
    pub cost: Cost,
}

impl Cost {
    /// The file ran natively here and printed the message (so it was timed).
    pub fn native_ok(&self) -> bool {
        self.exec.is_some()
    }
}

impl Row {
    pub fn new(id: String, label: String, kind: Kind, platform: &str) -> Row {
        Row {
            id,
            label,
            kind,
            platform: platform.to_string(),
            layout: None,
            how: String::new(),
            published: None,
            file: None,
            image: None,
            sizes: Sizes::default(),
            outcome: Outcome::NotRun(String::new()),
            detail: None,
            verdict: None,
            cost: Cost::default(),
        }
    }

    /// The well-behaved cell as the tables show it.
    pub fn well_behaved(&self) -> String {
        match (&self.verdict, self.kind) {
            (Some(v), _) => v.well_behaved.text(),
            (None, Kind::Reference) => "not measured".into(),
            (None, _) => "-".into(),
        }
    }

    pub fn is_well_behaved(&self) -> bool {
        self.verdict
            .as_ref()
            .is_some_and(|v| v.well_behaved == Cell::Yes)
    }
}

impl Report {
    /// The row's timing (`pick`: exec or docker run) over the baseline's.
    pub fn ratio(&self, row: &Row, pick: fn(&Cost) -> Option<Timing>) -> Option<f64> {
        let base = self.rows.iter().find(|r| r.id == self.baseline)?;
        Some(pick(&row.cost)?.median_ns as f64 / pick(&base.cost)?.median_ns as f64)
    }

    /// The JSON of the measured record (without the headline, sanity checks
    /// and chart, which the caller adds from the renderers).
    pub fn to_json(&self) -> Value {
        json!({
            "message": self.message,
            "host": self.host,
            "docker_engine": self.docker_engine,
            "exec_runs": self.exec_runs,
            "docker_runs": self.docker_runs,
            "perf_runs": self.perf_runs,
            "baseline": self.baseline,
            "perf": {
                "counted": self.perf_counted,
                "unavailable": self.perf_unavailable.iter().map(|u| json!({"event": u.event, "why": u.why, "cell": format!("unavailable: {}", u.short)})).collect::<Vec<_>>(),
            },
            "checks_made": CHECKS.iter().map(|(k, h)| json!({"key": k, "heading": h})).collect::<Vec<_>>(),
            "hardened_docker_run": self.hardened_docker_run,
            "notes": self.notes,
            "rows": self.rows.iter().map(|r| self.row_json(r)).collect::<Vec<_>>(),
        })
    }

    fn row_json(&self, r: &Row) -> Value {
        let (st, why) = r.outcome.status();
        let timing = |pick: fn(&Cost) -> Option<Timing>| {
            pick(&r.cost).map(|t| {
                json!({
                    "median_ns": t.median_ns,
                    "runs": t.runs,
                    "ratio_to_baseline": self.ratio(r, pick),
                })
            })
        };
        let verdict = r.verdict.as_ref().map(|v| {
            let mut m = Map::new();
            for (key, _, c) in v.checks.cells() {
                m.insert(key.into(), Value::String(c.text()));
            }
            Value::Object(m)
        });
        let dir = |name: &str| format!("target/report/{}/{name}", r.id);
        let s = &r.sizes;
        json!({
            "id": r.id,
            "label": r.label,
            "kind": r.kind.name(),
            "platform": r.platform,
            "layout": r.layout,
            "how": r.how,
            "file": r.file,
            "image": r.image,
            "file_bytes": s.file_bytes,
            "file_sha256": s.file_sha256,
            "image_bytes": s.image_bytes,
            "gzip_layer_bytes": s.gzip_bytes,
            "gzip_layer_file": (r.file.is_some() && s.gzip_bytes.is_some()).then(|| dir("layer.tar.gz")),
            "pull_bytes": s.pull_bytes,
            "oci_layout": s.pull_bytes.map(|_| dir("oci")),
            "published": r.published.as_ref().map(|p| json!({"bytes": p.bytes, "text": p.text, "source": p.source})),
            "status": st,
            "reason": why,
            "detail": r.detail,
            "verdict": verdict,
            "with_volume": r.verdict.as_ref().and_then(|v| v.with_volume.as_ref()).map(Cell::text),
            "well_behaved": r.well_behaved(),
            "exec": timing(|c| c.exec),
            "docker_run": timing(|c| c.docker),
            "instructions_u": r.cost.instructions,
            "page_faults": r.cost.page_faults,
        })
    }

    /// Reads what [`Report::to_json`] wrote; the error names the field.
    pub fn from_json(v: &Value) -> Result<Report, Error> {
        let bad = |what: &str| {
            Error::fail(format!(
                "report.json: {what} is missing or malformed: run `cargo xtask report` again"
            ))
        };
        let text = |v: &Value, k: &str| v[k].as_str().map(str::to_string).ok_or_else(|| bad(k));
        let number = |k: &str| {
            v[k].as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(k))
        };
        let strings = |v: &Value, what: &str| -> Result<Vec<String>, Error> {
            v.as_array()
                .ok_or_else(|| bad(what))?
                .iter()
                .map(|s| s.as_str().map(str::to_string).ok_or_else(|| bad(what)))
                .collect()
        };
        let perf_unavailable = v["perf"]["unavailable"]
            .as_array()
            .ok_or_else(|| bad("perf.unavailable"))?
            .iter()
            .map(|u| {
                Ok(Unavailable {
                    event: text(u, "event")?,
                    why: text(u, "why")?,
                    short: text(u, "cell")?
                        .strip_prefix("unavailable: ")
                        .ok_or_else(|| bad("perf.unavailable.cell"))?
                        .to_string(),
                })
            })
            .collect::<Result<_, Error>>()?;
        let rows = v["rows"]
            .as_array()
            .ok_or_else(|| bad("rows"))?
            .iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap_or("?");
                read_row(r).ok_or_else(|| bad(&format!("row {id}")))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Report {
            message: text(v, "message")?,
            host: text(v, "host")?,
            docker_engine: text(v, "docker_engine")?,
            exec_runs: number("exec_runs")?,
            docker_runs: number("docker_runs")?,
            perf_runs: number("perf_runs")?,
            baseline: text(v, "baseline")?,
            perf_counted: strings(&v["perf"]["counted"], "perf.counted")?,
            perf_unavailable,
            hardened_docker_run: strings(&v["hardened_docker_run"], "hardened_docker_run")?,
            notes: strings(&v["notes"], "notes")?,
            rows,
        })
    }
}

/// `null` as `None`, anything else through `f` (which fails on the wrong type).
fn opt<T>(v: &Value, f: impl FnOnce(&Value) -> Option<T>) -> Option<Option<T>> {
    if v.is_null() {
        Some(None)
    } else {
        f(v).map(Some)
    }
}

fn opt_text(v: &Value) -> Option<Option<String>> {
    opt(v, |v| v.as_str().map(str::to_string))
}

fn read_timing(v: &Value) -> Option<Option<Timing>> {
    opt(v, |t| {
        Some(Timing {
            median_ns: t["median_ns"].as_u64()?,
            runs: usize::try_from(t["runs"].as_u64()?).ok()?,
        })
    })
}

fn read_row(r: &Value) -> Option<Row> {
    let reason = r["reason"].as_str().unwrap_or_default().to_string();
    let outcome = match r["status"].as_str()? {
        "prints" => Outcome::Prints,
        "fails" => Outcome::Fails(reason),
        "not-run" => Outcome::NotRun(reason),
        _ => return None,
    };
    let verdict = opt(&r["verdict"], |v| {
        Some(Verdict {
            checks: Checks::read(v)?,
            well_behaved: Cell::parse(r["well_behaved"].as_str()?)?,
            with_volume: opt(&r["with_volume"], |w| Cell::parse(w.as_str()?))?,
        })
    })?;
    Some(Row {
        id: r["id"].as_str()?.to_string(),
        label: r["label"].as_str()?.to_string(),
        kind: Kind::parse(r["kind"].as_str()?)?,
        platform: r["platform"].as_str()?.to_string(),
        layout: opt_text(&r["layout"])?,
        how: r["how"].as_str()?.to_string(),
        published: opt(&r["published"], |p| {
            Some(Published {
                bytes: p["bytes"].as_u64()?,
                text: p["text"].as_str()?.to_string(),
                source: p["source"].as_str()?.to_string(),
            })
        })?,
        file: opt_text(&r["file"])?,
        image: opt_text(&r["image"])?,
        sizes: Sizes {
            file_bytes: opt(&r["file_bytes"], Value::as_u64)?,
            file_sha256: opt_text(&r["file_sha256"])?,
            image_bytes: opt(&r["image_bytes"], Value::as_u64)?,
            gzip_bytes: opt(&r["gzip_layer_bytes"], Value::as_u64)?,
            pull_bytes: opt(&r["pull_bytes"], Value::as_u64)?,
        },
        outcome,
        detail: opt_text(&r["detail"])?,
        verdict,
        cost: Cost {
            exec: read_timing(&r["exec"])?,
            docker: read_timing(&r["docker_run"])?,
            instructions: opt(&r["instructions_u"], Value::as_f64)?,
            page_faults: opt(&r["page_faults"], Value::as_f64)?,
        },
    })
}
