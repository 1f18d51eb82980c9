//! The well-behaved verdict: seven checks made on every contender that has a
//! file, in the report's own run. Each cell is `yes`, `no: <what was
//! observed>`, or `not checked: <why>`; a contender is well-behaved when all
//! seven are `yes`.
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::data::Checks;
use crate::Error;
use crate::core::cmd;
use crate::core::platform::Platform;
use crate::run::min_addr::MinAddr;

/// The checks, in table order: (key in report.json, column heading).
pub const CHECKS: [(&str, &str); 7] = [
    ("prints", "1. message, status 0"),
    ("dev_full", "2. `> /dev/full` fails"),
    ("closed_stdout", "3. closed stdout fails"),
    ("ulimit_v_256", "4. `ulimit -v 256`"),
    ("uid_65534_min_addr", "5. uid 65534, mmap_min_addr 65536"),
    ("hardened_docker_run", "6. hardened `docker run`"),
    ("qemu_user", "7. qemu-user"),
];

/// The hardened `docker run` of check 6: the flags every hardened run here
/// uses (xtask/src/run/hardened.rs, which says why the pids limit is not 1), and
/// no network, as GUIDE.md's run has it.
pub fn hardened_flags() -> Vec<&'static str> {
    let mut flags = crate::run::hardened::HARDENED.to_vec();
    flags.extend(["--network", "none"]);
    flags
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Yes,
    No(String),
    NotChecked(String),
}

impl Cell {
    /// What [`Cell::text`] wrote: `yes`, `no: <why>` or `not checked: <why>`.
    pub fn parse(text: &str) -> Option<Cell> {
        if text == "yes" {
            return Some(Cell::Yes);
        }
        if let Some(why) = text.strip_prefix("no: ") {
            return Some(Cell::No(why.into()));
        }
        text.strip_prefix("not checked: ")
            .map(|why| Cell::NotChecked(why.into()))
    }

    pub fn text(&self) -> String {
        match self {
            Cell::Yes => "yes".into(),
            Cell::No(why) => format!("no: {why}"),
            Cell::NotChecked(why) => format!("not checked: {why}"),
        }
    }
}

/// How a file is run on this machine: itself, or under its qemu-user.
pub enum Runner {
    Native,
    Qemu {
        program: PathBuf,
        cpu: Option<&'static str>,
    },
    /// No way to run it here (no qemu for its architecture).
    Cannot(String),
}

impl Runner {
    pub fn for_platform(platform: &Platform) -> Runner {
        if platform.runs_natively() {
            return Runner::Native;
        }
        qemu(platform)
    }
}

/// The platform's qemu-user, with its oldest CPU where the platform sets one.
pub fn qemu(platform: &Platform) -> Runner {
    match platform.qemu_program() {
        Ok(program) => Runner::Qemu {
            program,
            cpu: platform.qemu_cpu,
        },
        Err(why) => Runner::Cannot(why),
    }
}

#[derive(Clone, Copy)]
enum Stdout {
    Pipe,
    DevFull,
    Closed,
}

/// One run of `file args` through `runner`, by `/bin/sh`, which sets the limit
/// and the descriptor and then execs it; optionally as uid and gid 65534.
fn run(
    runner: &Runner,
    file: &Path,
    args: &[String],
    stdout: Stdout,
    ulimit_kib: Option<u32>,
    nobody: bool,
) -> Result<Output, String> {
    let mut script = String::new();
    if let Some(k) = ulimit_kib {
        // 125: the shell could not set the limit, not the program's status.
        script.push_str(&format!("ulimit -v {k} || exit 125; "));
    }
    script.push_str("exec \"$0\" \"$@\"");
    if let Stdout::Closed = stdout {
        script.push_str(" >&-");
    }
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(script);
    match runner {
        Runner::Native => {
            c.arg(file);
        }
        Runner::Qemu { program, cpu } => {
            c.arg(program);
            if let Some(cpu) = cpu {
                c.args(["-cpu", cpu]);
            }
            c.arg(file);
        }
        Runner::Cannot(why) => return Err(why.clone()),
    }
    c.args(args).stdin(Stdio::null()).stderr(Stdio::piped());
    match stdout {
        Stdout::DevFull => {
            let full = File::options()
                .write(true)
                .open("/dev/full")
                .map_err(|e| format!("open /dev/full: {e}"))?;
            c.stdout(full);
        }
        Stdout::Pipe | Stdout::Closed => {
            c.stdout(Stdio::piped());
        }
    }
    if nobody {
        // std drops the supplementary groups too when it switches from root.
        c.uid(65534).gid(65534);
    }
    c.output()
        .map_err(|e| format!("could not run `{}`: {e}", cmd::line(&c)))
}

/// What a run did, in a few words: its status, and its last stderr line.
pub fn observed(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    // docker ends its errors with a "Run 'docker run --help'" hint: skip it.
    let said = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty() && !l.starts_with("Run '"))
        .map(|l| l.trim().replace('|', "/"))
        .unwrap_or_default();
    let status = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}{}", signal_name(s)),
        _ => format!("{}", out.status),
    };
    let mut s = format!("{status}, {} bytes on stdout", out.stdout.len());
    if !said.is_empty() {
        // Paths inside the checkout, relative to it: the same in every clone.
        let root = format!("{}/", crate::root().display());
        s.push_str(&format!(", stderr: {}", said.replace(&root, "")));
    }
    s
}

fn signal_name(s: i32) -> &'static str {
    match s {
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        13 => " (SIGPIPE)",
        _ => "",
    }
}

/// Check 1's rule, for any run: exactly the message, and status 0.
pub fn prints(out: &Output, message: &[u8]) -> Cell {
    if out.status.code() == Some(0) && out.stdout == message {
        Cell::Yes
    } else {
        Cell::No(observed(out))
    }
}

/// Checks 2 and 3: the program itself exits with a non-zero status. A death
/// by signal is not a status the program chose, so it does not count.
fn fails(out: &Output) -> Cell {
    match out.status.code() {
        Some(0) => Cell::No(format!(
            "{} (a lost write reported as success)",
            observed(out)
        )),
        Some(_) => Cell::Yes,
        None => Cell::No(observed(out)),
    }
}

fn cell(result: Result<Output, String>, rule: impl Fn(&Output) -> Cell) -> Cell {
    match result {
        Ok(out) => rule(&out),
        Err(why) => Cell::NotChecked(why),
    }
}

/// A file to check, and how.
pub struct Subject<'a> {
    pub file: &'a Path,
    pub args: &'a [String],
    /// How this machine runs it (checks 1 to 3).
    pub runner: Runner,
    /// Its architecture's qemu-user (check 7).
    pub qemu: Runner,
}

/// Checks 1 to 4 and 7, made by running the file on this machine.
pub struct Local {
    pub prints: Cell,
    pub dev_full: Cell,
    pub closed_stdout: Cell,
    pub ulimit_v_256: Cell,
    pub qemu_user: Cell,
}

/// Checks 1 to 4 and 7: runs of the file on this machine.
pub fn local_checks(s: &Subject, message: &[u8]) -> Local {
    let go = |stdout, ulimit| run(&s.runner, s.file, s.args, stdout, ulimit, false);
    let c1 = cell(go(Stdout::Pipe, None), |o| prints(o, message));
    let c2 = cell(go(Stdout::DevFull, None), fails);
    let c3 = cell(go(Stdout::Closed, None), fails);
    let c4 = match s.runner {
        Runner::Native => cell(go(Stdout::Pipe, Some(256)), |o| {
            if o.status.code() == Some(125) {
                Cell::NotChecked("the shell could not set `ulimit -v 256`".into())
            } else {
                prints(o, message)
            }
        }),
        _ => Cell::NotChecked(
            "runs under qemu-user here, which needs more than 256 KiB itself".into(),
        ),
    };
    let c7 = cell(
        run(&s.qemu, s.file, s.args, Stdout::Pipe, None, false),
        |o| prints(o, message),
    );
    Local {
        prints: c1,
        dev_full: c2,
        closed_stdout: c3,
        ulimit_v_256: c4,
        qemu_user: c7,
    }
}

/// Check 5: as uid 65534 with `vm.mmap_min_addr` = 65536 (set by the caller,
/// who holds `min`), from a copy in a directory uid 65534 can reach.
pub fn min_addr_check(s: &Subject, min: &MinAddr, message: &[u8], scratch: &Path) -> Cell {
    if let MinAddr::Cannot(why) = min {
        return Cell::NotChecked(why.clone());
    }
    if !matches!(s.runner, Runner::Native) {
        return Cell::NotChecked(
            "runs under qemu-user here, which chooses the guest's addresses itself".into(),
        );
    }
    let copy = match copy_for_nobody(s.file, scratch) {
        Ok(p) => p,
        Err(e) => return Cell::NotChecked(e.message),
    };
    cell(
        run(&s.runner, &copy, s.args, Stdout::Pipe, None, true),
        |o| prints(o, message),
    )
}

/// Copies `file` into `dir` (mode 0755, like the file) so that uid 65534 can
/// run it whatever the checkout's permissions.
fn copy_for_nobody(file: &Path, dir: &Path) -> Result<PathBuf, Error> {
    let io = |e: std::io::Error| Error::fail(format!("{}: {e}", dir.display()));
    fs::create_dir_all(dir).map_err(io)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(io)?;
    // The same name: busybox, for one, chooses its applet by it.
    let copy = dir.join(file.file_name().unwrap_or_default());
    let bytes = fs::read(file).map_err(io)?;
    fs::write(&copy, bytes).map_err(io)?;
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).map_err(io)?;
    Ok(copy)
}

/// Check 6: `docker run` with the hardened flags, and `extra` (a volume) before the tag.
pub fn hardened(platform: &str, tag: &str, extra: &[&str], message: &[u8]) -> Result<Cell, Error> {
    let out = docker_run(platform, tag, &hardened_flags(), extra)?;
    Ok(prints(&out, message))
}

/// `docker run --rm --pull never --platform P FLAGS EXTRA TAG`, whatever its status.
pub fn docker_run(
    platform: &str,
    tag: &str,
    flags: &[&str],
    extra: &[&str],
) -> Result<Output, Error> {
    let mut c = Command::new("docker");
    c.args(["run", "--rm", "--pull", "never", "--platform", platform])
        .args(flags)
        .args(extra)
        .arg(tag)
        .stdin(Stdio::null());
    c.output()
        .map_err(|e| Error::fail(format!("could not run `{}`: {e}", cmd::line(&c))))
}

/// Well-behaved: all seven `yes`. Otherwise `no: <the checks that failed>`, or
/// `not checked: <the checks not made>` when none failed.
pub fn overall(checks: &Checks) -> Cell {
    let numbers = |want: fn(&Cell) -> bool| {
        checks
            .cells()
            .into_iter()
            .filter(|(_, _, c)| want(c))
            .map(|(_, h, _)| h.split('.').next().unwrap_or(h))
            .collect::<Vec<_>>()
    };
    let failed = numbers(|c| matches!(c, Cell::No(_)));
    let unchecked = numbers(|c| matches!(c, Cell::NotChecked(_)));
    if !failed.is_empty() {
        Cell::No(format!("fails check {}", failed.join(", ")))
    } else if !unchecked.is_empty() {
        Cell::NotChecked(format!("check {} not made here", unchecked.join(", ")))
    } else {
        Cell::Yes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(cell: Cell) -> Checks {
        Checks {
            prints: cell.clone(),
            dev_full: cell.clone(),
            closed_stdout: cell.clone(),
            ulimit_v_256: cell.clone(),
            uid_65534_min_addr: cell.clone(),
            hardened_docker_run: cell.clone(),
            qemu_user: cell,
        }
    }

    #[test]
    fn overall_names_the_checks() {
        let mut checks = all(Cell::Yes);
        assert_eq!(overall(&checks), Cell::Yes);
        checks.ulimit_v_256 = Cell::NotChecked("x".into());
        assert_eq!(
            overall(&checks),
            Cell::NotChecked("check 4 not made here".into())
        );
        checks.qemu_user = Cell::No("y".into());
        assert_eq!(overall(&checks), Cell::No("fails check 7".into()));
        checks.dev_full = Cell::No("z".into());
        assert_eq!(overall(&checks), Cell::No("fails check 2, 7".into()));
        assert_eq!(Cell::No("exit 1".into()).text(), "no: exit 1");
    }

    #[test]
    fn cells_read_back_as_written() {
        for c in [
            Cell::Yes,
            Cell::No("exit 0, 12 bytes on stdout".into()),
            Cell::NotChecked("needs root".into()),
        ] {
            assert_eq!(Cell::parse(&c.text()), Some(c));
        }
        assert_eq!(Cell::parse("maybe"), None);
    }
}
