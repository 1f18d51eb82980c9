//! Running what was built: Docker, qemu-user, binfmt_misc, the hardened flags,
//! vm.mmap_min_addr for a moment (locked), and the one record of what could
//! not be run here and why.
pub mod binfmt;
pub mod cgroup;
pub mod docker;
pub mod hardened;
pub mod min_addr;
pub mod qemu;

use std::path::Path;

/// The runs a task could not make here, each said once in a `not run:` line
/// with the command that fixes it; `--require-run` turns any into a failure.
#[derive(Debug, Default)]
pub struct NotRun {
    lines: Vec<String>,
}

impl NotRun {
    /// Says, in one line, that `what` was not run, why, and how to run it.
    pub fn say(&mut self, what: &str, why: &str, fix: &str) {
        println!("not run: {what}: {why}; to run it: {fix}");
        self.lines.push(format!("{what}: {why}"));
    }

    /// Records a run not made that was already explained in other words.
    pub fn record(&mut self, line: String) {
        self.lines.push(line);
    }

    /// A file that has no qemu-user here: built, not run.
    pub fn file(&mut self, file: &Path, why: &str) {
        let root = crate::root();
        self.say(
            &format!(
                "{} under qemu-user (the file is built)",
                file.strip_prefix(&root).unwrap_or(file).display()
            ),
            why,
            qemu::INSTALL,
        );
    }

    /// With `--require-run`: a failure naming every run not made.
    pub fn check(&self, require_run: bool) -> Result<(), crate::Error> {
        if !require_run || self.lines.is_empty() {
            return Ok(());
        }
        Err(crate::Error::fail(format!(
            "--require-run: {} run(s) could not be made here (see the `not run` lines above): {}",
            self.lines.len(),
            self.lines.join("; ")
        )))
    }
}
