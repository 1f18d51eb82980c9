//! Which instructions of a linked Thumb file the ARM926EJ-S (ARMv5TE) lacks:
//! hello's and serve's linux/arm/v5 builds are checked with this before they
//! are written (`link` in xtask/src/build/mod.rs), and tests/platforms/armv5.rs
//! and tests/serve/armv5.rs run it on those files and on linux/arm/v6's,
//! which have such instructions.
//!
//! The code is what the linked ELF's function symbols cover; inside them, the
//! ELF's mapping symbols (`$t` Thumb code, `$d` data such as literal pools,
//! which the ARM ELF ABI has the assembler emit) say which bytes are
//! instructions. `rust-objdump` (LLVM's, from rustup's llvm-tools) decodes
//! them as ARMv5TE Thumb (`--triple=thumbv5te-none-eabi`), so an ARMv6 or
//! Thumb-2 instruction reads `<unknown>`; on top of that the check names:
//! - any 32-bit encoding but `bl`/`blx` (ARMv5's only 32-bit Thumb pair);
//! - ARMv6 and later mnemonics (`uxtb`, `rev`, `cps`, `cbz`, `it`, ...), in
//!   case LLVM decodes one anyway;
//! - a 16-bit `mov` between two low registers (halfword 0x4600..=0x463F):
//!   ARMv6 made it valid; on ARMv5 it is UNPREDICTABLE (LLVM decodes it, and
//!   qemu runs it, so only its encoding tells).
//!
//! Every byte of every function must be on a line of the disassembly,
//! instruction or data, so a decoding the parser misreads fails the check
//! instead of passing it.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::Error;
use crate::core::cmd;

/// Mnemonics ARMv5TE's Thumb lacks (ARMv6, ARMv6-M, ARMv6T2, ARMv7).
const LATER: &[&str] = &[
    "uxtb", "uxth", "sxtb", "sxth", "rev", "rev16", "revsh", "cps", "cpsie", "cpsid", "setend",
    "cbz", "cbnz", "nop", "yield", "wfe", "wfi", "sev", "dmb", "dsb", "isb", "mrs", "msr",
];

/// One instruction the CPU lacks: where, in which function, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub address: u64,
    pub function: String,
    /// The disassembly line, trimmed.
    pub line: String,
    pub why: &'static str,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:#x} in {}: {} ({})",
            self.address, self.function, self.line, self.why
        )
    }
}

/// `faults` in a few lines: how many in each function, then the first ten.
pub fn summary(faults: &[Fault]) -> String {
    let mut per: Vec<(&str, usize)> = Vec::new();
    for f in faults {
        match per.iter_mut().find(|(name, _)| *name == f.function) {
            Some((_, n)) => *n += 1,
            None => per.push((&f.function, 1)),
        }
    }
    let mut text = per
        .iter()
        .map(|(name, n)| format!("{n} in {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    for f in faults.iter().take(10) {
        text.push_str(&format!("\n  {f}"));
    }
    if faults.len() > 10 {
        text.push_str(&format!("\n  and {} more", faults.len() - 10));
    }
    text
}

/// The instructions of `elf`'s functions that ARMv5TE lacks, and how many
/// instructions were checked.
pub fn armv5_faults(elf: &Path) -> Result<(Vec<Fault>, usize), Error> {
    let symbols = cmd::stdout(Command::new("rust-objdump").arg("-t").arg(elf))?;
    let disassembly = cmd::stdout(
        Command::new("rust-objdump")
            .args(["-d", "-z", "--triple=thumbv5te-none-eabi"])
            .arg(elf),
    )?;
    check(
        &String::from_utf8_lossy(&symbols),
        &String::from_utf8_lossy(&disassembly),
    )
    .map_err(|e| Error::fail(format!("{}: {e}", elf.display())))
}

/// [`armv5_faults`] on `rust-objdump -t` and `rust-objdump -d -z` output.
pub fn check(symbols: &str, disassembly: &str) -> Result<(Vec<Fault>, usize), String> {
    // Functions: address -> (end, name); mapping symbols: address -> code?
    let mut functions: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    let mut mapping: BTreeMap<u64, bool> = BTreeMap::new();
    for line in symbols.lines() {
        // `00010048 g     F .image	000002c0 _start`: the flags are columns
        // 9..16, then the section, a tab, the size and the name.
        let (Some(addr), Some(flags), Some(rest)) =
            (line.get(..8), line.get(9..16), line.get(17..))
        else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        let Some((_section, rest)) = rest.split_once('\t') else {
            continue;
        };
        let Some((size, name)) = rest.split_once(' ') else {
            continue;
        };
        let Ok(size) = u64::from_str_radix(size, 16) else {
            continue;
        };
        let name = name.trim_start_matches(".hidden ").to_string();
        let kind = |m: &str| name == m || name.starts_with(&format!("{m}."));
        if kind("$t") || kind("$d") {
            mapping.insert(addr, kind("$t"));
        } else if flags.ends_with('F') && size > 0 {
            functions.insert(addr, (addr + size, name));
        }
    }
    if functions.is_empty() || mapping.is_empty() {
        return Err(format!(
            "found {} functions and {} mapping symbols ($t, $d) in rust-objdump -t's output",
            functions.len(),
            mapping.len()
        ));
    }
    let function_at = |a: u64| {
        functions
            .range(..=a)
            .next_back()
            .filter(|(_, (end, _))| a < *end)
            .map(|(_, (_, name))| name.as_str())
    };
    let mut faults = Vec::new();
    let mut checked = 0;
    let mut covered: BTreeMap<u64, u64> = BTreeMap::new();
    for line in disassembly.lines() {
        // `   10048: b5f0         	push	{r4, r5, r6, r7, lr}`: address, the
        // encoding (Thumb halfwords, or data bytes), a tab, the text.
        let Some((addr, rest)) = line.split_once(':') else {
            continue;
        };
        let Ok(address) = u64::from_str_radix(addr.trim(), 16) else {
            continue;
        };
        if !line.starts_with(' ') {
            continue; // `00010048 <_start>:`
        }
        let Some((hex, text)) = rest.split_once('\t') else {
            continue;
        };
        let groups: Vec<&str> = hex.split_whitespace().collect();
        if groups.is_empty()
            || !groups
                .iter()
                .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            continue;
        }
        let Some(function) = function_at(address) else {
            continue;
        };
        let bytes: u64 = groups.iter().map(|g| g.len() as u64 / 2).sum();
        covered.insert(address, bytes);
        let code = mapping
            .range(..=address)
            .next_back()
            .is_some_and(|(_, &t)| t);
        if !code {
            continue;
        }
        checked += 1;
        let text = text.trim();
        let mnemonic = text.split_whitespace().next().unwrap_or("");
        let first = u16::from_str_radix(groups[0], 16).ok();
        let why = if groups.iter().any(|g| g.len() != 4) {
            Some("not Thumb halfwords where the mapping symbols say code")
        } else if mnemonic == "<unknown>" {
            Some("not an ARMv5TE Thumb instruction")
        } else if groups.len() > 1 && !matches!(mnemonic, "bl" | "blx") {
            Some("a 32-bit Thumb-2 instruction")
        } else if LATER.contains(&mnemonic) || mnemonic.starts_with("it") {
            Some("ARMv6 or later")
        } else if groups.len() == 1 && first.is_some_and(|h| (0x4600..=0x463f).contains(&h)) {
            Some("mov between two low registers: UNPREDICTABLE before ARMv6")
        } else {
            None
        };
        if let Some(why) = why {
            faults.push(Fault {
                address,
                function: function.to_string(),
                line: format!("{} {text}", groups.join(" ")),
                why,
            });
        }
    }
    // Every function's bytes, each on one line.
    for (&start, (end, name)) in &functions {
        let mut at = start;
        while at < *end {
            match covered.get(&at) {
                Some(&n) => at += n,
                None => {
                    return Err(format!(
                        "{name} ({start:#x}..{end:#x}): no disassembly line at {at:#x}"
                    ));
                }
            }
        }
    }
    Ok((faults, checked))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYMBOLS: &str = "\
00010000 g       *ABS*\t00000000 IMAGE_BASE
00010048 g     F .image\t00000010 _start
00010048 l       .image\t00000000 $t
00010054 l       .image\t00000000 $d
00010058 l     F .image\t00000008 .hidden memcmp
00010058 l       .image\t00000000 $t
00010060 l     O .image\t00000004 HEAD
";

    fn disassembly(memcmp: &str) -> String {
        format!(
            "\n00010048 <_start>:\n\
             \x20  10048: b5f0         \tpush\t{{r4, r5, r6, r7, lr}}\n\
             \x20  1004a: 4690         \tmov\tr8, r2\n\
             \x20  1004c: f000 f804    \tbl\t0x10058 <memcmp>\n\
             \x20  10050: 0010         \tmovs\tr0, r2\n\
             \x20  10052: defe         \ttrap\n\
             \x20  10054: 53 19 01 00  \t.word\t0x00011953\n\
             \n00010058 <memcmp>:\n\
             \x20  10058: 2000         \tmovs\tr0, #0x0\n\
             {memcmp}\
             \x20  1005c: 4770         \tbx\tlr\n\
             \x20  1005e: 46c0         \tmov\tr8, r8\n\
             \x20  10060: 48 45 41 44  \t.word\t0x44414548\n"
        )
    }

    #[test]
    fn armv5_code_passes() {
        let d = disassembly("   1005a: 0011         \tmovs\tr1, r2\n");
        assert_eq!(check(SYMBOLS, &d), Ok((vec![], 9)));
    }

    #[test]
    fn later_instructions_fail() {
        for (line, why) in [
            (
                "   1005a: 4611         \tmov\tr1, r2\n",
                "mov between two low",
            ),
            ("   1005a: b2c1         \t<unknown>\n", "not an ARMv5TE"),
            ("   1005a: b2c1         \tuxtb\tr1, r0\n", "ARMv6 or later"),
            ("   1005a: bf00         \tnop\n", "ARMv6 or later"),
        ] {
            let (faults, _) = check(SYMBOLS, &disassembly(line)).unwrap();
            assert_eq!(faults.len(), 1, "{line}: {faults:?}");
            assert_eq!(faults[0].function, "memcmp");
            assert!(faults[0].why.starts_with(why), "{line}: {faults:?}");
        }
        // A Thumb-2 instruction, four bytes where two were.
        let d = disassembly("   1005a: f8d0 1000    \tldr.w\tr1, [r0]\n")
            .replace("1005c: 4770", "1005e: 4770")
            .replace("   1005e: 46c0         \tmov\tr8, r8\n", "");
        let symbols = SYMBOLS.replace("00000008 .hidden memcmp", "00000008 memcmp");
        let (faults, _) = check(&symbols, &d).unwrap();
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(faults[0].why.starts_with("a 32-bit"));
    }

    #[test]
    fn a_byte_left_undecoded_fails() {
        let d = disassembly("");
        let e = check(SYMBOLS, &d).unwrap_err();
        assert!(e.contains("memcmp") && e.contains("0x1005a"), "{e}");
    }
}
