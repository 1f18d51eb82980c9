//! `vm.mmap_min_addr` = 65536 for a moment, as the report's check 5 needs it:
//! set under a lock every run on this machine takes, and restored when dropped.
//!
//! The lock makes the setting exclusive: without it, run B (another checkout,
//! the same engine) sees 65536 already set, records nothing to restore, and
//! run A restores the old value while B's check 5 is still running.
use std::fs::{self, File, TryLockError};
use std::process::Command;

use crate::core::cmd;

/// `vm.mmap_min_addr` during check 5: Debian's and most distributions' default.
pub const MIN_ADDR: u64 = 65536;
/// The setting.
pub const PATH: &str = "/proc/sys/vm/mmap_min_addr";
/// The lock file every run takes (flock) while it holds the setting: one path
/// for every checkout on this machine.
pub const LOCK: &str = "/tmp/hello-vm.mmap_min_addr.lock";

/// `vm.mmap_min_addr` as it is now.
pub fn read() -> Result<String, String> {
    fs::read_to_string(PATH)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("cannot read {PATH}: {e}"))
}

/// Takes the lock, waiting for any other holder (and saying so).
pub fn lock() -> Result<File, String> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK)
        .map_err(|e| format!("cannot open the lock file {LOCK}: {e}"))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(TryLockError::WouldBlock) => eprintln!(
            "waiting for another run to finish its check 5 (it holds {LOCK} while vm.mmap_min_addr = {MIN_ADDR})"
        ),
        Err(TryLockError::Error(e)) => return Err(format!("cannot lock {LOCK}: {e}")),
    }
    file.lock()
        .map_err(|e| format!("cannot lock {LOCK}: {e}"))?;
    Ok(file)
}

/// What check 5 can do on this machine: switch to uid 65534 (root only) with
/// `vm.mmap_min_addr` set to 65536.
pub enum MinAddr {
    /// Set, under the lock, and restored when dropped; `old` is the value
    /// to restore, if it differed.
    Set {
        old: Option<String>,
        _lock: File,
    },
    Cannot(String),
}

impl MinAddr {
    /// Takes the lock and sets `vm.mmap_min_addr` to 65536; says why not where it cannot.
    pub fn set() -> MinAddr {
        let root = cmd::probe(Command::new("id").arg("-u"))
            .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !root {
            return MinAddr::Cannot(
                "needs root (to switch to uid 65534 and set vm.mmap_min_addr)".into(),
            );
        }
        let lock = match lock() {
            Ok(f) => f,
            Err(why) => return MinAddr::Cannot(why),
        };
        let old = match read() {
            Ok(s) => s,
            Err(why) => return MinAddr::Cannot(why),
        };
        if old == MIN_ADDR.to_string() {
            return MinAddr::Set {
                old: None,
                _lock: lock,
            };
        }
        if let Err(e) = fs::write(PATH, MIN_ADDR.to_string()) {
            return MinAddr::Cannot(format!("cannot set vm.mmap_min_addr = {MIN_ADDR}: {e}"));
        }
        eprintln!(
            "set vm.mmap_min_addr = {MIN_ADDR} (was {old}) for check 5; restored at once after \
             (if interrupted: sysctl vm.mmap_min_addr={old})"
        );
        MinAddr::Set {
            old: Some(old),
            _lock: lock,
        }
    }

    /// The value it will restore, where it changed one.
    pub fn old(&self) -> Option<&str> {
        match self {
            MinAddr::Set { old, .. } => old.as_deref(),
            MinAddr::Cannot(_) => None,
        }
    }
}

impl Drop for MinAddr {
    /// Restores the old value; the lock goes after, with the file.
    fn drop(&mut self) {
        if let MinAddr::Set { old: Some(old), .. } = self {
            match fs::write(PATH, old.as_bytes()) {
                Ok(()) => eprintln!("restored vm.mmap_min_addr = {old}"),
                Err(e) => eprintln!(
                    "error: could not restore vm.mmap_min_addr = {old} ({e}): run `sysctl vm.mmap_min_addr={old}`"
                ),
            }
        }
    }
}
