//! Running a built file here: itself where this machine runs it, else under
//! the qemu-user for its architecture.
use std::path::Path;
use std::process::Command;

use crate::core::platform::Platform;

/// The command that installs qemu-user, for `not run` lines and errors.
pub const INSTALL: &str = "apt-get install -y qemu-user-static";

/// The command that runs `file` here: itself, or under qemu-user; or why it
/// cannot run here (no qemu-user for it).
pub fn command(platform: &Platform, file: &Path) -> Result<Command, String> {
    if platform.runs_natively() {
        return Ok(Command::new(file));
    }
    let qemu = platform.qemu_program()?;
    let mut cmd = Command::new(qemu);
    if let Some(cpu) = platform.qemu_cpu {
        cmd.args(["-cpu", cpu]);
    }
    cmd.arg(file);
    Ok(cmd)
}
