//! serve's linux/arm/v5 file holds no instruction the ARM926EJ-S (ARMv5TE)
//! lacks, disassembled from the linked ELF (xtask/src/build/thumb1.rs), and
//! none of the precompiled `compiler_builtins` and `core` functions, built
//! for ARMv6-M, that hello/src/armv5.rs stands in for. linux/arm/v6's serve,
//! the same Thumb-1 target built without `cfg(armv5)` and with ARMv6 on,
//! fails the same check: it catches what the v5 build leaves out.

use super::*;
use xtask::build::serve::{Config, DEFAULT_CONTENT_TYPE, DEFAULT_PAGE, DEFAULT_PORT, build};
use xtask::build::thumb1::{Fault, armv5_faults, summary};
use xtask::core::platform::Platform;

/// Builds serve for `platform` with the default page and checks its linked
/// ELF: the faults, the number of instructions checked, and the functions.
fn faults_of(platform: &str) -> (Vec<Fault>, usize, Vec<String>) {
    // No other test of this binary relinks thumbv6m-none-eabi's serve (which
    // linux/arm/v6's build shares) between the build and the check.
    let _g = lock();
    let config = Config {
        page: DEFAULT_PAGE.to_vec(),
        content_type: DEFAULT_CONTENT_TYPE.into(),
        port: DEFAULT_PORT,
        site: None,
    };
    let built = match build(Platform::find(platform).unwrap(), &config) {
        Ok(b) => b,
        Err(e) => panic!("serve {platform}: {e:?}"),
    };
    let (faults, checked) = armv5_faults(&built.elf).unwrap_or_else(|e| panic!("{e:?}"));
    let functions = xtask::build::symbols(&built.elf)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_iter()
        .filter(|s| s.is_function() && s.size > 0)
        .map(|s| s.name)
        .collect();
    (faults, checked, functions)
}

#[test]
fn serve_on_arm_v5_has_only_armv5te_instructions() {
    let (faults, checked, functions) = faults_of("linux/arm/v5");
    assert!(
        faults.is_empty(),
        "serve linux/arm/v5: {} instructions ARMv5TE lacks: {}",
        faults.len(),
        summary(&faults)
    );
    // The whole program: the code is over 4 KiB, 2-byte instructions.
    assert!(checked > 2000, "only {checked} instructions checked");
    // Ours, not the precompiled ones (whose names say their crate).
    for name in ["__aeabi_uidivmod", "__aeabi_memcpy", "memcmp"] {
        assert!(
            functions.iter().any(|f| f == name),
            "no {name} in serve linux/arm/v5: {functions:?}"
        );
    }
    let foreign: Vec<&String> = functions
        .iter()
        .filter(|f| f.starts_with("compiler_builtins::") || f.starts_with("core::slice::memchr"))
        .collect();
    assert!(
        foreign.is_empty(),
        "serve linux/arm/v5 links precompiled ARMv6-M code: {foreign:?}"
    );
}

#[test]
fn the_check_fails_serve_on_arm_v6() {
    let (faults, _, _) = faults_of("linux/arm/v6");
    let has = |why: &str, function: &str| {
        faults
            .iter()
            .any(|f| f.why.starts_with(why) && f.function.contains(function))
    };
    // Low-register movs in compiler_builtins' division, and ARMv6's
    // extends (uxtb, sxtb: ARMv5TE has none, so they read <unknown>) in
    // serve's own code, compiled with ARMv6 on.
    assert!(
        has("mov between two low", "u32_div_rem"),
        "no low-register mov found in linux/arm/v6's division: {}",
        summary(&faults)
    );
    assert!(
        has("not an ARMv5TE", "serve6server"),
        "no ARMv6 instruction found in linux/arm/v6's serve code: {}",
        summary(&faults)
    );
}
