//! hello's linux/arm/v5 file holds no instruction the ARM926EJ-S (ARMv5TE)
//! lacks, disassembled from the linked ELF (xtask/src/build/thumb1.rs).
//! linux/arm/v6's hello, the Thumb-2 target with only `target-cpu` set (as
//! linux/arm/v5's was before HELLO_ARMV5_FLAGS, byte for byte the same file),
//! fails the same check: it catches what the v5 build leaves out.

use super::*;
use xtask::build::hello::{DEFAULT_MESSAGE, build};
use xtask::build::thumb1::{Fault, armv5_faults, summary};
use xtask::core::platform::{Layout, Platform};

/// Builds hello for `platform` with the default message and checks its
/// linked ELF: the faults and the number of instructions checked.
fn faults_of(platform: &str) -> (Vec<Fault>, usize) {
    // linux/arm/v7, v6 and v5 link the same path
    // (target/thumbv7neon-unknown-linux-gnueabihf/release/hello): no other
    // test of this binary relinks it between the build and the check.
    let _g = lock();
    let built = build(
        Platform::find(platform).unwrap(),
        Layout::Compat,
        DEFAULT_MESSAGE,
    )
    .unwrap_or_else(|e| panic!("hello {platform}: {e:?}"));
    armv5_faults(&built.elf).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn hello_on_arm_v5_has_only_armv5te_instructions() {
    let (faults, checked) = faults_of("linux/arm/v5");
    assert!(
        faults.is_empty(),
        "hello linux/arm/v5: {} instructions ARMv5TE lacks: {}",
        faults.len(),
        summary(&faults)
    );
    // `_start`: three loads, two system calls of two instructions each, the
    // `subs`, the trap and the padding, all 16-bit.
    assert!(checked >= 10, "only {checked} instructions checked");
}

#[test]
fn the_check_fails_hello_on_arm_v6() {
    let (faults, _) = faults_of("linux/arm/v6");
    let lines: Vec<(&str, &str)> = faults
        .iter()
        .filter(|f| f.function == "_start")
        .map(|f| (f.line.as_str(), f.why))
        .collect();
    // sys/arm.rs's `write` saving and restoring r7 with a low-register `mov`,
    // and the Thumb-2 `nop` padding before the literal pool.
    assert_eq!(
        lines,
        [
            (
                "463b mov\tr3, r7",
                "mov between two low registers: UNPREDICTABLE before ARMv6"
            ),
            (
                "461f mov\tr7, r3",
                "mov between two low registers: UNPREDICTABLE before ARMv6"
            ),
            ("bf00 <unknown>", "not an ARMv5TE Thumb instruction"),
        ],
        "hello linux/arm/v6's `_start`: {}",
        summary(&faults)
    );
}
