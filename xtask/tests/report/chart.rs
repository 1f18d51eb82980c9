//! The committed chart (docs/sizes.svg) against the report: bars, labels,
//! styles, and no text outside its box.

use super::*;

/// The committed chart: one bar per distinct image (ours with equal files on
/// one platform share a bar), labelled, sized and marked as report.json says,
/// largest first, on a log scale.
#[test]
pub(crate) fn chart_matches_the_report() {
    let Some(run) = report() else { return };
    let doc = roxmltree::Document::parse(&run.committed_svg)
        .expect("docs/sizes.svg is not well-formed XML: run `cargo xtask report --update-docs` and commit it");
    let has_class = |n: &roxmltree::Node, c: &str| {
        n.attribute("class")
            .is_some_and(|v| v.split(' ').any(|x| x == c))
    };
    let bars: Vec<(String, String, u64, f64, String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, "row"))
        .map(|g| {
            let child = |c: &str| {
                g.children()
                    .find(|n| has_class(n, c))
                    .unwrap_or_else(|| panic!("a chart row without {c}"))
            };
            let rect = child("bar");
            (
                g.attribute("data-id").unwrap().to_string(),
                child("label").text().unwrap().to_string(),
                rect.attribute("data-bytes").unwrap().parse().unwrap(),
                rect.attribute("width").unwrap().parse().unwrap(),
                child("value").text().unwrap().to_string(),
                rect.attribute("data-well-behaved").unwrap().to_string(),
            )
        })
        .collect();
    // Expected from the rows: ours grouped by platform and file hash.
    let mut want: Vec<(String, String, u64, String)> = Vec::new();
    let mut groups: Vec<(String, String, Vec<&Value>)> = Vec::new();
    for r in rows(run) {
        let Some(bytes) = r["image_bytes"]
            .as_u64()
            .or_else(|| (r["kind"] == "reference").then(|| r["published"]["bytes"].as_u64())?)
        else {
            continue;
        };
        let mark = |r: &Value| match r["well_behaved"].as_str().unwrap() {
            "yes" => "yes",
            "not measured" => "not measured",
            w if w.starts_with("not checked") => "not checked",
            _ => "no",
        };
        if r["kind"] == "ours" {
            let key = (
                r["platform"].as_str().unwrap().to_string(),
                r["file_sha256"].as_str().unwrap().to_string(),
            );
            if let Some(g) = groups
                .iter_mut()
                .find(|g| (g.0.clone(), g.1.clone()) == key)
            {
                g.2.push(r);
            } else {
                groups.push((key.0, key.1, vec![r]));
            }
            continue;
        }
        want.push((
            r["id"].as_str().unwrap().to_string(),
            r["label"].as_str().unwrap().to_string(),
            bytes,
            mark(r).to_string(),
        ));
        let _ = mark;
    }
    for (platform, _, members) in &groups {
        let layouts: Vec<&str> = members
            .iter()
            .map(|m| m["layout"].as_str().unwrap())
            .collect();
        let marks: Vec<&str> = members
            .iter()
            .map(|m| match m["well_behaved"].as_str().unwrap() {
                "yes" => "yes",
                w if w.starts_with("not checked") => "not checked",
                _ => "no",
            })
            .collect();
        let mark = if marks.iter().all(|m| *m == marks[0]) {
            marks[0]
        } else if marks.contains(&"no") {
            "no"
        } else {
            "not checked"
        };
        want.push((
            format!(
                "{}+{}",
                members[0]["id"].as_str().unwrap(),
                layouts[1..].join("+")
            )
            .trim_end_matches('+')
            .to_string(),
            format!("hello {} ({platform})", layouts.join(" and ")),
            members[0]["image_bytes"].as_u64().unwrap(),
            mark.to_string(),
        ));
    }
    // Largest first; equal sizes in the table's order (ours come last in it).
    let order = |id: &str| {
        rows(run)
            .iter()
            .position(|r| {
                let rid = r["id"].as_str().unwrap();
                id == rid || id.starts_with(&format!("{rid}+"))
            })
            .unwrap()
    };
    want.sort_by_key(|w| (std::cmp::Reverse(w.2), order(&w.0)));
    let got: Vec<(String, String, u64, String)> = bars
        .iter()
        .map(|b| (b.0.clone(), b.1.clone(), b.2, b.5.clone()))
        .collect();
    assert_eq!(
        got, want,
        "docs/sizes.svg disagrees with report.json: run `cargo xtask report --update-docs` and commit docs/sizes.svg"
    );
    // Where tiny and compat are the same file, they share a bar.
    for (platform, _, members) in &groups {
        if members.len() == 2 {
            assert!(
                bars.iter()
                    .any(|b| b.1 == format!("hello tiny and compat ({platform})"))
            );
        }
    }
    for b in &bars {
        assert_eq!(b.4, human(b.2), "the value printed beside {}", b.0);
    }
    // A log scale: equal size ratios make equal width differences.
    let wide: Vec<_> = bars.iter().filter(|b| b.3 > 2.0).collect();
    let (first, last) = (wide[0], wide[wide.len() - 1]);
    let px_per_decade = (first.3 - last.3) / ((first.2 as f64).log10() - (last.2 as f64).log10());
    for b in &wide {
        let expect = last.3 + px_per_decade * ((b.2 as f64).log10() - (last.2 as f64).log10());
        assert!(
            (b.3 - expect).abs() < 0.2,
            "bar {} is {} px wide, {expect:.1} on a log scale",
            b.0,
            b.3
        );
    }
    assert_eq!(bars.len(), run.json["chart"].as_array().unwrap().len());
    // Drawn as its verdict says, by the chart's own CSS; and no text cut off.
    let rules = css_rules(&run.committed_svg);
    let mut marks = std::collections::BTreeSet::new();
    for rect in doc.descendants().filter(|n| n.has_tag_name("rect")) {
        let classes: Vec<&str> = rect.attribute("class").unwrap_or("").split(' ').collect();
        if !classes.contains(&"bar") && !classes.contains(&"swatch") {
            continue;
        }
        let mark = rect.attribute("data-well-behaved").unwrap();
        let style = style_of(&rules, &classes);
        if let Err(e) = drawn_as(mark, &style) {
            panic!("docs/sizes.svg: {classes:?}: {e}");
        }
        marks.insert((classes[0], mark));
    }
    for (kind, mark) in &marks {
        if *kind == "bar" {
            assert!(
                marks.contains(&("swatch", mark)),
                "the legend has no {mark} swatch"
            );
        }
    }
    assert_eq!(
        text_overflows(&run.committed_svg, &rules),
        Vec::<String>::new(),
        "docs/sizes.svg"
    );
    // And byte for byte: the committed chart is the one this run drew.
    assert!(
        run.committed_svg == run.svg,
        "docs/sizes.svg differs from target/report/sizes.svg, drawn in this run: \
         run `cargo xtask report --update-docs` and commit docs/sizes.svg"
    );
}

/// A chart's `<style>` rules: (class, [(property, value)]), in order.
pub(crate) fn css_rules(svg: &str) -> Vec<(String, Vec<(String, String)>)> {
    let css = &svg[svg.find("<style>").unwrap() + 7..svg.find("</style>").unwrap()];
    css.split('}')
        .filter_map(|rule| {
            let (selector, body) = rule.split_once('{')?;
            let props = body
                .split(';')
                .filter_map(|p| p.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            Some((selector.trim().trim_start_matches('.').to_string(), props))
        })
        .collect()
}

/// The style the rules give an element with `classes` (later rules win).
pub(crate) fn style_of(
    rules: &[(String, Vec<(String, String)>)],
    classes: &[&str],
) -> std::collections::HashMap<String, String> {
    let mut style = std::collections::HashMap::new();
    for (class, props) in rules {
        if classes.contains(&class.as_str()) {
            style.extend(props.iter().cloned());
        }
    }
    style
}

/// A bar of `mark`, drawn: well-behaved alone solid; failing outlined (a
/// faint fill, a solid stroke); not checked hatched; not measured a dashed
/// outline.
pub(crate) fn drawn_as(
    mark: &str,
    style: &std::collections::HashMap<String, String>,
) -> Result<(), String> {
    let get = |k: &str| style.get(k).map(String::as_str);
    let colour = |k: &str| get(k).is_some_and(|v| v.starts_with('#'));
    let opacity: f64 = get("fill-opacity").map_or(1.0, |v| v.parse().unwrap());
    let dashed = get("stroke-dasharray").is_some();
    let ok = match mark {
        "yes" => colour("fill") && opacity == 1.0 && !dashed,
        "no" => colour("fill") && opacity <= 0.3 && colour("stroke") && !dashed,
        "not checked" => get("fill") == Some("url(#hatch)") && opacity == 1.0 && !dashed,
        "not measured" => opacity == 0.0 && colour("stroke") && dashed,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("a `{mark}` bar is drawn with {style:?}"))
    }
}

/// Every text element whose estimated extent (characters × the average
/// advance, xtask::core::svg::text_width, at its size and weight, placed by
/// its anchor) leaves the viewBox.
pub(crate) fn text_overflows(svg: &str, rules: &[(String, Vec<(String, String)>)]) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let root = doc.root_element();
    let view: Vec<f64> = root
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let base: f64 = root.attribute("font-size").unwrap().parse().unwrap();
    let mut out = Vec::new();
    for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let classes: Vec<&str> = t.attribute("class").unwrap_or("").split(' ').collect();
        let size = style_of(rules, &classes)
            .get("font-size")
            .map(|v| v.trim_end_matches("px").to_string())
            .or(t.attribute("font-size").map(str::to_string))
            .map_or(base, |v| v.parse().unwrap());
        let content = t.text().unwrap_or("");
        let w =
            xtask::core::svg::text_width(content, size, t.attribute("font-weight") == Some("bold"));
        let x: f64 = t.attribute("x").unwrap().parse().unwrap();
        let y: f64 = t.attribute("y").unwrap().parse().unwrap();
        let left = match t.attribute("text-anchor") {
            Some("end") => x - w,
            Some("middle") => x - w / 2.0,
            _ => x,
        };
        if left < view[0]
            || left + w > view[0] + view[2]
            || y - size < view[1]
            || y > view[1] + view[3]
        {
            out.push(format!(
                "{content:?} reaches x {left:.1} to {:.1}, outside the viewBox {view:?}",
                left + w
            ));
        }
    }
    out
}
