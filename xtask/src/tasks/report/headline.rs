//! README.md's headline: our smallest well-behaved image (and this machine's
//! platform's), and for each size it names what every smaller row on the
//! Scoreboard does, in words drawn from the rows' verdicts.
use super::data::{Kind, Report, Row};
use super::render::chart_bytes;
use super::verdict::Cell;

/// The headline sentence: our smallest image that passes all seven checks,
/// and this machine's platform's if that is another.
pub fn headline(report: &Report) -> String {
    let passing = |platform: Option<&str>| {
        report
            .rows
            .iter()
            .filter(|r| r.kind == Kind::Ours && r.is_well_behaved())
            .filter(|r| platform.is_none_or(|p| r.platform == p))
            .min_by_key(|r| r.sizes.image_bytes.unwrap_or(u64::MAX))
    };
    let Some(best) = passing(None) else {
        return "No image of ours passed all seven checks in this run: see the Scoreboard".into();
    };
    let name = |r: &Row| {
        format!(
            "{} bytes for {} (`{}` layout)",
            r.sizes.image_bytes.unwrap_or(0),
            r.platform,
            r.layout.as_deref().unwrap_or("?")
        )
    };
    let mut s = format!(
        "The smallest well-behaved Docker image that prints a message, built in Rust: {}",
        name(best)
    );
    let host = report.host.as_str();
    if host != best.platform
        && let Some(h) = passing(Some(host))
    {
        s.push_str(&format!(", {}", name(h)));
    }
    s.push('.');
    let mut named = vec![best];
    if let Some(h) = passing(Some(host)).filter(|h| h.id != best.id) {
        named.push(h);
    }
    for sentence in smaller(report, &named) {
        s.push(' ');
        s.push_str(&sentence);
    }
    s
}

/// For each size the headline names (smallest first), what the rows smaller
/// than it (and not already told) do: one sentence each, drawn from their verdicts.
fn smaller(report: &Report, named: &[&Row]) -> Vec<String> {
    let mut sizes: Vec<u64> = named
        .iter()
        .map(|r| r.sizes.image_bytes.unwrap_or(0))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut rows: Vec<(&Row, u64)> = report
        .rows
        .iter()
        .filter(|r| !named.iter().any(|n| n.id == r.id))
        .filter_map(|r| Some((r, chart_bytes(r)?)))
        .collect();
    rows.sort_by_key(|&(_, b)| b);
    let mut out = Vec::new();
    let mut from = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let these: Vec<(&Row, u64)> = rows
            .iter()
            .copied()
            .filter(|&(_, b)| b >= from && b < size)
            .collect();
        from = size;
        let head = if i == 0 {
            format!("Smaller than {size} bytes on the Scoreboard")
        } else {
            format!("Smaller than {size} bytes, besides these")
        };
        if these.is_empty() {
            out.push(if i == 0 {
                format!("Nothing on the Scoreboard is smaller than {size} bytes.")
            } else {
                format!("Nothing else is smaller than {size} bytes.")
            });
            continue;
        }
        // Rows that do the same, together, in order of size.
        let mut groups: Vec<(String, String, Vec<Item>)> = Vec::new();
        for (r, bytes) in these {
            let (verb, plural) = does(r);
            match groups.iter_mut().find(|g| g.0 == verb) {
                Some(g) => add(&mut g.2, r, bytes),
                None => {
                    let mut items = Vec::new();
                    add(&mut items, r, bytes);
                    groups.push((verb, plural, items));
                }
            }
        }
        let said: Vec<String> = groups
            .iter()
            .map(|(verb, plural, items)| {
                let names: Vec<String> = items.iter().map(Item::name).collect();
                let many =
                    names.len() > 1 || items[0].platforms.len() > 1 || items[0].layouts.len() > 1;
                let verb = if many { plural.clone() } else { verb.clone() };
                format!("{} {verb}", and(&names))
            })
            .collect();
        out.push(format!("{head}: {}.", said.join("; ")));
    }
    out
}

/// A row, or ours with equal sizes on several layouts and platforms, as the headline names it.
struct Item {
    label: String,
    bytes: u64,
    /// Ours: the layouts and platforms it stands for.
    layouts: Vec<String>,
    platforms: Vec<String>,
}

impl Item {
    fn name(&self) -> String {
        if self.layouts.is_empty() {
            format!("{} ({} bytes)", self.label, self.bytes)
        } else {
            format!(
                "hello {} ({}) ({} bytes)",
                self.layouts.join(" and "),
                self.platforms.join(", "),
                self.bytes
            )
        }
    }
}

/// Adds `r` to `items`; ours merges with ours of the same size: its other
/// layout on the same platform, then the same layouts on other platforms.
fn add(items: &mut Vec<Item>, r: &Row, bytes: u64) {
    let (Kind::Ours, Some(layout)) = (r.kind, &r.layout) else {
        items.push(Item {
            label: r.label.clone(),
            bytes,
            layouts: Vec::new(),
            platforms: Vec::new(),
        });
        return;
    };
    let ours = |it: &Item| it.bytes == bytes && !it.layouts.is_empty();
    let Some(i) = items
        .iter()
        .position(|it| ours(it) && it.platforms == [r.platform.clone()])
    else {
        items.push(Item {
            label: r.label.clone(),
            bytes,
            layouts: vec![layout.clone()],
            platforms: vec![r.platform.clone()],
        });
        return;
    };
    items[i].layouts.push(layout.clone());
    // Its layouts now may match another platform's of the same size: one item.
    if let Some(j) = (0..items.len())
        .find(|&j| j != i && ours(&items[j]) && items[j].layouts == items[i].layouts)
    {
        let it = items.remove(i);
        let j = if j > i { j - 1 } else { j };
        items[j].platforms.extend(it.platforms);
    }
}

/// What a row does, in the singular and the plural: its verdict in words.
fn does(r: &Row) -> (String, String) {
    let Some(v) = &r.verdict else {
        return if r.kind == Kind::Reference {
            (
                "is a published figure, not measured here".into(),
                "are published figures, not measured here".into(),
            )
        } else {
            let why = r.outcome.status().1.unwrap_or("no verdict");
            (
                format!("is not checked: {why}"),
                format!("are not checked: {why}"),
            )
        };
    };
    match &v.well_behaved {
        Cell::Yes => (
            "passes all seven checks".into(),
            "pass all seven checks".into(),
        ),
        Cell::No(why) => match why.strip_prefix("fails ") {
            Some(rest) => (format!("fails {rest}"), format!("fail {rest}")),
            None => (
                format!("is not well-behaved: {why}"),
                format!("are not well-behaved: {why}"),
            ),
        },
        Cell::NotChecked(why) => {
            // Why each check was not made, once per reason.
            let mut reasons: Vec<(Vec<&str>, &str)> = Vec::new();
            for (_, heading, c) in v.checks.cells() {
                if let Cell::NotChecked(reason) = c {
                    let number = heading.split('.').next().unwrap_or(heading);
                    match reasons.iter_mut().find(|(_, r)| r == reason) {
                        Some((n, _)) => n.push(number),
                        None => reasons.push((vec![number], reason)),
                    }
                }
            }
            let reasons: Vec<String> = reasons
                .iter()
                .map(|(n, r)| format!("check {}: {r}", n.join(", ")))
                .collect();
            let what = format!("{why} ({})", reasons.join("; "));
            (
                format!("is not checked: {what}"),
                format!("are not checked: {what}"),
            )
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::report::render::tests::report;

    /// A row of ours like the fixture's tiny one, on `platform` in `layout`.
    fn ours(r: &Report, platform: &str, layout: &str, bytes: u64, verdict: Cell) -> Row {
        let mut o = r.rows[3].clone();
        o.id = format!("hello-{platform}-{layout}");
        o.label = format!("hello {layout} ({platform})");
        o.platform = platform.into();
        o.layout = Some(layout.into());
        o.sizes.image_bytes = Some(bytes);
        let v = o.verdict.as_mut().unwrap();
        if let Cell::NotChecked(_) = verdict {
            v.checks.ulimit_v_256 = Cell::NotChecked("runs under qemu-user here".into());
            v.checks.uid_65534_min_addr = Cell::NotChecked("runs under qemu-user here".into());
        }
        v.well_behaved = verdict;
        o
    }

    #[test]
    fn headline_names_the_smallest_well_behaved() {
        let mut r = report();
        assert_eq!(
            headline(&r),
            "The smallest well-behaved Docker image that prints a message, built in Rust: \
             128 bytes for linux/amd64 (`tiny` layout). Nothing on the Scoreboard is \
             smaller than 128 bytes."
        );
        // Smaller rows, each told by its verdict: 386's compat passes and is
        // named first; arm's are not checked; 386's tiny and a classic fail.
        let unchecked = || Cell::NotChecked("check 4, 5 not made here".into());
        let fails = |n: &str| Cell::No(format!("fails check {n}"));
        let mut asm = r.rows[2].clone();
        asm.id = "nasm".into();
        asm.label = "nasm".into();
        asm.sizes.image_bytes = Some(89);
        asm.verdict.as_mut().unwrap().well_behaved = fails("4, 7");
        r.rows.extend([
            asm,
            ours(&r, "linux/386", "tiny", 87, fails("7")),
            ours(&r, "linux/386", "compat", 111, Cell::Yes),
            ours(&r, "linux/arm/v7", "tiny", 112, unchecked()),
            ours(&r, "linux/arm/v7", "compat", 112, unchecked()),
            ours(&r, "linux/arm/v6", "tiny", 112, unchecked()),
            ours(&r, "linux/arm/v6", "compat", 112, unchecked()),
            ours(&r, "linux/arm/v5", "tiny", 120, fails("7")),
        ]);
        let start = "The smallest well-behaved Docker image that prints a message, built in Rust: \
                     111 bytes for linux/386 (`compat` layout), 128 bytes for linux/amd64 (`tiny` \
                     layout). Smaller than 111 bytes on the Scoreboard: hello tiny (linux/386) \
                     (87 bytes) fails check 7; nasm (89 bytes) fails check 4, 7. Smaller than 128 \
                     bytes, besides these: ";
        assert_eq!(
            headline(&r),
            format!(
                "{start}hello tiny and compat (linux/arm/v7, linux/arm/v6) (112 bytes) are not \
                 checked: check 4, 5 not made here (check 4, 5: runs under qemu-user here); \
                 hello tiny (linux/arm/v5) (120 bytes) fails check 7."
            )
        );
        // One smaller row's verdict changes: so does the sentence.
        let v6 = r
            .rows
            .iter()
            .position(|o| o.id == "hello-linux/arm/v6-compat")
            .unwrap();
        r.rows[v6].verdict.as_mut().unwrap().well_behaved = fails("2");
        assert_eq!(
            headline(&r),
            format!(
                "{start}hello tiny and compat (linux/arm/v7) (112 bytes) and hello tiny \
                 (linux/arm/v6) (112 bytes) are not checked: check 4, 5 not made here (check 4, \
                 5: runs under qemu-user here); hello compat (linux/arm/v6) (112 bytes) fails \
                 check 2; hello tiny (linux/arm/v5) (120 bytes) fails check 7."
            )
        );
        // And one that passes is said to.
        r.rows[v6].verdict.as_mut().unwrap().well_behaved = Cell::Yes;
        assert!(
            headline(&r)
                .contains("hello compat (linux/arm/v6) (112 bytes) passes all seven checks;"),
            "{}",
            headline(&r)
        );
        for o in r.rows.iter_mut().filter(|o| o.kind == Kind::Ours) {
            o.verdict.as_mut().unwrap().well_behaved = fails("7");
        }
        assert_eq!(
            headline(&r),
            "No image of ours passed all seven checks in this run: see the Scoreboard"
        );
    }
}
