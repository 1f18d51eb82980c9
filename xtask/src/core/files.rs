//! Files: the fixed mtime every output gets, and the ways the xtask writes
//! and reads them, each failure naming the path.
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::Error;

/// The error for a failed `what` (read, write, create) of `path`.
pub fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::fail(format!("{what} {}: {e}", path.display()))
}

/// `path` relative to the workspace root, for messages.
pub fn rel(path: &Path) -> String {
    path.strip_prefix(crate::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The mtime every output gets: `SOURCE_DATE_EPOCH`, else 0, so that layers and
/// archives built from the file are the same on every machine.
pub fn mtime() -> Result<SystemTime, Error> {
    let secs = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse::<u64>().map_err(|_| {
            Error::usage(format!(
                "SOURCE_DATE_EPOCH={s:?} is not a number of seconds: unset it or fix it"
            ))
        })?,
        Err(_) => 0,
    };
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// [`mtime`] in seconds, as tar entries carry it.
pub fn mtime_secs() -> Result<u64, Error> {
    let t = mtime()?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()))
}

/// Writes `bytes` to `path`, creating its directory, unless it holds them
/// already (so cargo's build scripts see an unchanged mtime).
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    write(path, bytes)
}

/// Writes `bytes` to `path`, creating its directory.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| io("write", path, e))?;
    }
    fs::write(path, bytes).map_err(|e| io("write", path, e))
}

/// Writes `bytes` to `path` through a temporary file, so a failure leaves the
/// previous file as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |e| io("write", path, e);
    let tmp = path.with_extension("tmp");
    fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

/// Writes a program file: `bytes` to `path` with mode 0755 and the fixed
/// mtime, atomically: a failure leaves the previous file as it was.
pub fn write_program(bytes: &[u8], path: &Path) -> Result<(), Error> {
    let io = |e: std::io::Error| io("write", path, e);
    let dir = path.parent().expect("an output path has a directory");
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(".hello.tmp");
    {
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.set_permissions(fs::Permissions::from_mode(0o755))
            .map_err(io)?;
        f.set_modified(mtime()?).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, path).map_err(io)
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> Result<serde_json::Value, Error> {
    let bytes = fs::read(path).map_err(|e| io("read", path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::fail(format!("{} is not JSON: {e}", path.display())))
}
