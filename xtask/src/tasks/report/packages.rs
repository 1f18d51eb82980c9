//! The Debian packages the report needs, installed with apt-get when missing
//! and we are root: the contenders' compilers (without them there is no
//! report) and qemu-user-static (without it check 7 is "not checked", said
//! in one line before the run).
use std::fs;
use std::process::Command;

use super::contenders::{BUSYBOX, interpreter};
use crate::Error;
use crate::core::cmd;
use crate::core::platform::PLATFORMS;
use crate::run::qemu;

/// The Debian packages the contenders come from, after a command that shows they are there.
const PACKAGES: &[(&str, &[&str])] = &[
    // libc6-dev holds glibc's libc.a; gcc only recommends it.
    ("gcc", &["gcc", "libc6-dev"]),
    ("strip", &["binutils"]),
    ("tcc", &["tcc"]),
    ("musl-gcc", &["musl-tools"]),
    ("nasm", &["nasm"]),
];

/// Check 7's package: every platform's qemu-user.
const QEMU_PACKAGE: &str = "qemu-user-static";

fn on_path(program: &str) -> bool {
    cmd::probe(Command::new("sh").args(["-c", &format!("command -v {program}")]))
        .is_some_and(|o| o.status.success())
}

fn is_root() -> bool {
    cmd::probe(Command::new("id").arg("-u"))
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `apt-get install` of `packages`, after `apt-get update` if it fails at first.
fn apt_install(packages: &[&str]) -> Result<(), Error> {
    let install = || {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages);
        c
    };
    if cmd::run(&mut install()).is_err() {
        cmd::run(Command::new("apt-get").args(["update", "-q"]))?;
        cmd::run(&mut install())?;
    }
    Ok(())
}

/// Installs what is missing with apt-get when we are root, and says so;
/// otherwise fails naming the command. qemu-user-static is installed the
/// same way, but where it cannot be, the run goes on without check 7, and
/// one line says so and why.
pub fn ensure() -> Result<(), Error> {
    let mut missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(program, _)| !on_path(program))
        .flat_map(|&(_, packages)| packages.iter().copied())
        .collect();
    // Debian's `busybox` package is dynamically linked; only busybox-static runs in scratch.
    let busybox_static = fs::read(BUSYBOX).is_ok_and(|b| interpreter(&b).is_none());
    if !busybox_static {
        missing.push("busybox-static");
    }
    let root = is_root();
    let apt = on_path("apt-get");
    if !missing.is_empty() {
        let list = missing.join(" ");
        if !root || !apt {
            return Err(Error::fail(format!(
                "the report builds its contenders with Debian packages that are missing: \
                 install them with `sudo apt-get install -y {list}` and run it again"
            )));
        }
        eprintln!("note: installing the contenders' Debian packages: {list}");
        apt_install(&missing)?;
    }
    let Some(why) = qemu_missing() else {
        return Ok(());
    };
    let failed = if root && apt {
        eprintln!("note: installing {QEMU_PACKAGE} for check 7 ({why})");
        apt_install(&[QEMU_PACKAGE])
            .err()
            .map(|e| format!("`apt-get install {QEMU_PACKAGE}` failed: {}", e.message))
            .or_else(|| qemu_missing().map(|why| format!("after installing {QEMU_PACKAGE}, {why}")))
    } else {
        Some(why)
    };
    if let Some(why) = failed {
        eprintln!("{}", no_check_7(&why, root, apt));
    }
    Ok(())
}

/// Why some platform has no qemu-user here, if one has none.
fn qemu_missing() -> Option<String> {
    PLATFORMS.iter().find_map(|p| p.qemu_program().err())
}

/// The one progress line when qemu-user is missing and not installed.
fn no_check_7(why: &str, root: bool, apt: bool) -> String {
    let fix = match (root, apt) {
        (false, _) => format!("run the report as root, or `sudo {}` first", qemu::INSTALL),
        (true, false) => "install qemu-user-static (Debian's package) by hand".to_string(),
        (true, true) => format!("fix apt and run `{}`", qemu::INSTALL),
    };
    format!(
        "note: check 7 (qemu-user) will be \"not checked\" for those files: {why}{}; \
         to make it, {fix}",
        if root {
            ""
        } else {
            ", and only root can install it"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_qemu_one_line_says_check_7_is_not_made_and_why() {
        let why = "neither qemu-arm-static nor qemu-arm is on PATH, and linux/arm/v7 files need one to run here";
        assert_eq!(
            no_check_7(why, false, true),
            format!(
                "note: check 7 (qemu-user) will be \"not checked\" for those files: {why}, and \
                 only root can install it; to make it, run the report as root, or `sudo \
                 apt-get install -y qemu-user-static` first"
            )
        );
        assert!(no_check_7(why, true, true).ends_with(
            "for those files: neither qemu-arm-static nor qemu-arm is on PATH, and linux/arm/v7 \
             files need one to run here; to make it, fix apt and run `apt-get install -y \
             qemu-user-static`"
        ));
    }
}
