//! A pids cgroup of our own to run a container under (`docker run
//! --cgroup-parent /NAME`), so that its `pids.peak`, the most tasks it ever
//! held, and its memory peak can be read after the run: runc's start-up,
//! qemu's thread and the program together.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::core::cmd;

/// A pids cgroup `/NAME`, removed when dropped.
pub struct PidsCgroup {
    name: String,
    dir: PathBuf,
}

impl PidsCgroup {
    /// Makes the cgroup, or says why it cannot be used here: Docker must use
    /// the cgroupfs driver (its systemd driver takes no `/NAME` parent), and
    /// the kernel must have `pids.peak` (Linux 6.1 or later); creating it
    /// needs root.
    pub fn new(name: &str) -> Result<PidsCgroup, String> {
        let driver =
            cmd::probe(Command::new("docker").args(["info", "--format", "{{.CgroupDriver}}"]))
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
        if driver != "cgroupfs" {
            return Err(format!(
                "Docker's cgroup driver is {driver:?}, not cgroupfs, so `--cgroup-parent /NAME` \
                 cannot be used; run dockerd with --exec-opt native.cgroupdriver=cgroupfs"
            ));
        }
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let base = if v1.is_dir() {
            v1
        } else {
            let controls = std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control")
                .unwrap_or_default();
            if !controls.split_whitespace().any(|c| c == "pids") {
                return Err("no pids controller in /sys/fs/cgroup".into());
            }
            Path::new("/sys/fs/cgroup")
        };
        let dir = base.join(name);
        std::fs::create_dir(&dir).map_err(|e| {
            format!(
                "cannot create {} ({e}): measuring pids.peak needs root",
                dir.display()
            )
        })?;
        let cgroup = PidsCgroup {
            name: name.to_string(),
            dir,
        };
        if !cgroup.dir.join("pids.peak").exists() {
            return Err("this kernel has no pids.peak (it came in Linux 6.1)".into());
        }
        Ok(cgroup)
    }

    /// `--cgroup-parent` for `docker run`.
    pub fn parent(&self) -> String {
        format!("/{}", self.name)
    }

    /// The most memory, in bytes, charged to the cgroup (and so to every
    /// container under it) at once: `memory.max_usage_in_bytes` of the memory
    /// hierarchy's `/NAME` on cgroup v1 (Docker makes it with the container),
    /// `memory.peak` on v2. It can exceed the container's `--memory`: what
    /// runc's start-up charged before it joined the container's own cgroup
    /// stays here.
    pub fn memory_peak(&self) -> Result<u64, String> {
        let v1 = Path::new("/sys/fs/cgroup/memory").join(&self.name);
        let path = if v1.is_dir() {
            v1.join("memory.max_usage_in_bytes")
        } else {
            self.dir.join("memory.peak")
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        text.trim()
            .parse()
            .map_err(|_| format!("{}: {text:?} is not a byte count", path.display()))
    }

    /// The most tasks the cgroup (and so every container under it) has held.
    pub fn peak(&self) -> Result<u64, String> {
        let path = self.dir.join("pids.peak");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        text.trim()
            .parse()
            .map_err(|_| format!("{}: {text:?} is not a count", path.display()))
    }
}

impl Drop for PidsCgroup {
    /// Removes the cgroup from every hierarchy Docker created it in.
    fn drop(&mut self) {
        for dir in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(dir.path().join(&self.name));
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.name));
    }
}
