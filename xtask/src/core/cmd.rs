//! Running other programs: echo the command, run it, fail with the command line.
use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use crate::Error;

/// The command as a shell-like line, for echoing and for error messages.
pub fn line(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), quote(v)));
        }
    }
    s.push_str(&quote(cmd.get_program()));
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%{}".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn spawn_error(cmd: &Command, e: std::io::Error) -> Error {
    Error::fail(format!("could not run `{}`: {e}", line(cmd)))
}

fn status_error(cmd: &Command, out: &Output) -> Error {
    let mut msg = format!("`{}` failed ({})", line(cmd), out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        msg.push_str(":\n");
        msg.push_str(stderr.trim_end());
    }
    Error::fail(msg)
}

/// Echoes and runs `cmd` with inherited stdio; fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<(), Error> {
    eprintln!("$ {}", line(cmd));
    let status = cmd.status().map_err(|e| spawn_error(cmd, e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::fail(format!("`{}` failed ({status})", line(cmd))))
    }
}

/// Echoes and runs `cmd`, capturing stdout (stderr passes through); fails unless it exits 0.
pub fn stdout(cmd: &mut Command) -> Result<Vec<u8>, Error> {
    eprintln!("$ {}", line(cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| spawn_error(cmd, e))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(status_error(cmd, &out))
    }
}

/// Runs `cmd` quietly and captures everything; `None` when it cannot be started.
/// For probes ("is this tool here?"), whose failure is an answer, not an error.
pub fn probe(cmd: &mut Command) -> Option<Output> {
    cmd.stdin(Stdio::null()).output().ok()
}
