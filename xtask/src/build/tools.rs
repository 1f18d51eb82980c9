//! The tools `dist` needs besides cargo, installed on first use.
use std::process::Command;

use crate::Error;
use crate::core::cmd;

fn has_line(cmd_out: Option<std::process::Output>, want: &str) -> bool {
    cmd_out.filter(|o| o.status.success()).is_some_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == want)
    })
}

fn rustup_missing() -> Error {
    Error::fail(
        "rustup is not on PATH: install Rust with rustup (https://rustup.rs), or add the \
         target and the llvm-tools component to your toolchain yourself",
    )
}

/// `rustup target add TRIPLE` unless the toolchain already has `core` for it.
pub fn ensure_target(triple: &str) -> Result<(), Error> {
    let installed = cmd::probe(Command::new("rustup").args(["target", "list", "--installed"]));
    if installed.is_none() {
        return Err(rustup_missing());
    }
    if !has_line(installed, triple) {
        eprintln!("note: the Rust target {triple} is missing; installing it");
        cmd::run(Command::new("rustup").args(["target", "add", triple]))?;
    }
    Ok(())
}

/// llvm-tools (LLVM's objcopy and objdump) and cargo-binutils (the `rust-objcopy`
/// and `rust-objdump` front ends on PATH).
pub fn ensure_binutils() -> Result<(), Error> {
    let components = cmd::probe(Command::new("rustup").args(["component", "list", "--installed"]));
    if components.is_none() {
        return Err(rustup_missing());
    }
    let has_llvm_tools = components.filter(|o| o.status.success()).is_some_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with("llvm-tools"))
    });
    if !has_llvm_tools {
        eprintln!("note: the rustup component llvm-tools is missing; installing it");
        cmd::run(Command::new("rustup").args(["component", "add", "llvm-tools"]))?;
    }
    let has_binutils = cmd::probe(Command::new("rust-objcopy").arg("--version"))
        .is_some_and(|o| o.status.success());
    if !has_binutils {
        eprintln!("note: rust-objcopy (cargo-binutils) is missing; installing it");
        cmd::run(Command::new(crate::cargo()).args(["install", "cargo-binutils", "--locked"]))?;
        if cmd::probe(Command::new("rust-objcopy").arg("--version")).is_none() {
            return Err(Error::fail(
                "cargo-binutils is installed but rust-objcopy is not on PATH: add ~/.cargo/bin to PATH",
            ));
        }
    }
    Ok(())
}
