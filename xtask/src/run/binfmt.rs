//! binfmt_misc: which registered interpreter, if any, the kernel would hand a
//! file to. `docker run --platform` of a foreign image needs one (qemu-user,
//! registered with the F flag so that the kernel opened it at registration and
//! it need not exist inside the container).
//!
//! The tests read it too (`xtask::run::binfmt`), to decide whether a foreign
//! run is possible or must be skipped.
use std::path::{Path, PathBuf};

/// Where the entries live; tests point it at another directory (an empty one
/// plays a machine without qemu's entries). Not meant for users.
pub const DIR_VAR: &str = "HELLO_BINFMT_DIR";
pub const DEFAULT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// One registered entry, as the kernel prints it in `<dir>/<name>`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub enabled: bool,
    pub interpreter: String,
    pub flags: String,
    pub offset: usize,
    /// Empty for an extension entry (`extension .foo`), which never matches here.
    pub magic: Vec<u8>,
    /// Missing bytes count as 0xff, as the kernel does.
    pub mask: Vec<u8>,
}

impl Entry {
    /// Parses the kernel's text for entry `name`; None for anything else
    /// (`register`, `status`, a malformed file).
    pub fn parse(name: &str, text: &str) -> Option<Entry> {
        let mut lines = text.lines();
        let enabled = match lines.next()?.trim() {
            "enabled" => true,
            "disabled" => false,
            _ => return None,
        };
        let mut entry = Entry {
            name: name.to_string(),
            enabled,
            interpreter: String::new(),
            flags: String::new(),
            offset: 0,
            magic: Vec::new(),
            mask: Vec::new(),
        };
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let value = value.trim();
            match key {
                "interpreter" => entry.interpreter = value.to_string(),
                "flags:" => entry.flags = value.to_string(),
                "offset" => entry.offset = value.parse().ok()?,
                "magic" => entry.magic = hex(value)?,
                "mask" => entry.mask = hex(value)?,
                _ => {}
            }
        }
        Some(entry)
    }

    /// Whether the kernel would pick this entry for a file starting with `bytes`.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let Some(window) = bytes.get(self.offset..self.offset + self.magic.len()) else {
            return false;
        };
        !self.magic.is_empty()
            && self.magic.iter().enumerate().all(|(i, &m)| {
                let k = self.mask.get(i).copied().unwrap_or(0xff);
                window[i] & k == m & k
            })
    }

    /// The F ("fix binary") flag: the interpreter was opened at registration,
    /// so it works inside a container, where its path does not exist.
    pub fn fixed(&self) -> bool {
        self.flags.contains('F')
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The directory read: $HELLO_BINFMT_DIR, else /proc/sys/fs/binfmt_misc.
pub fn dir() -> PathBuf {
    std::env::var_os(DIR_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// Every entry in `dir`, sorted by name.
pub fn entries(dir: &Path) -> Vec<Entry> {
    let mut out: Vec<Entry> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "register" || name == "status" {
                return None;
            }
            Entry::parse(&name, &std::fs::read_to_string(e.path()).ok()?)
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The entry that runs a file starting with `bytes` inside a container: the
/// first enabled, F-flagged entry whose magic and mask match. Otherwise why
/// not, as a phrase for a message.
pub fn for_container(bytes: &[u8]) -> Result<Entry, String> {
    let dir = dir();
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    if status.trim() == "disabled" {
        return Err(format!(
            "binfmt_misc is disabled ({})",
            dir.join("status").display()
        ));
    }
    let all = entries(&dir);
    let matching: Vec<&Entry> = all.iter().filter(|e| e.matches(bytes)).collect();
    if let Some(e) = matching.iter().find(|e| e.enabled && e.fixed()) {
        return Ok((*e).clone());
    }
    Err(match matching.first() {
        None if all.is_empty() => format!("binfmt_misc has no entries in {}", dir.display()),
        None => format!(
            "no binfmt_misc entry in {} matches the file's header (entries: {})",
            dir.display(),
            all.iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(e) if !e.enabled => format!("the binfmt_misc entry {} is disabled", e.name),
        Some(e) => format!(
            "the binfmt_misc entry {} lacks the F flag (flags `{}`), so its interpreter {} cannot be found inside a container",
            e.name, e.flags, e.interpreter
        ),
    })
}

/// The command that registers Debian's qemu-user-static entry `qemu` (e.g.
/// `qemu-aarch64`), with the F flag.
pub fn fix(qemu: &str) -> String {
    format!("apt-get install -y qemu-user-static binfmt-support && update-binfmts --enable {qemu}")
}
