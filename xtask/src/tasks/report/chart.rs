//! The SVG bar chart of image sizes on a log scale, largest first.
//!
//! One `<g class="row">` per bar, holding a `<text class="label">`, a
//! `<rect class="bar">` with `data-bytes`, and a `<text class="value">`, so a
//! test can read it back. Drawn with core::svg, as bench-serve's chart is.
use crate::core::svg::{self, human};

/// One bar.
pub struct Bar {
    pub id: String,
    pub label: String,
    pub bytes: u64,
    /// `reference` (published, not measured), `classic`, `failing` or `ours`.
    pub class: &'static str,
    /// The verdict's mark: `yes`, `no`, `not checked` or `not measured`.
    pub well_behaved: &'static str,
    /// The report rows this bar stands for (ours with equal files share one).
    pub rows: Vec<String>,
    /// Ours: the layouts the bar stands for.
    pub layouts: Vec<String>,
}

/// The margin around everything drawn.
const MARGIN: f64 = 16.0;
/// The gap between a label and its bar, and between a bar and its value.
const GAP: f64 = 8.0;
const PLOT_W: f64 = 420.0;
const ROW_H: f64 = 26.0;
/// The font sizes: the chart's own, the title's, and the axis and legend's.
const FONT: f64 = 13.0;
const TITLE_FONT: f64 = 15.0;
const SMALL_FONT: f64 = 11.0;
/// The axis runs from 10 B to 100 MB: seven decades.
const MIN_DECADE: i32 = 1;
const MAX_DECADE: i32 = 8;

const TITLE: &str = "Hello-world image sizes, log scale (docker image inspect)";
const COLOURS: &str = "grey: published, not measured here · blue: built and run here · \
                       red: does not run in scratch · orange: hello";
/// The legend's marks: (the bar's `wb-` mark, a swatch's colour class, what it says).
const MARKS: [(&str, &str, &str); 4] = [
    ("yes", "ours", "well-behaved (all seven checks)"),
    ("no", "ours", "fails a check"),
    ("not checked", "ours", "a check not made here"),
    ("not measured", "reference", "published, not measured"),
];
const SWATCH_W: f64 = 16.0;

/// The bar's width for `bytes` on the log axis; at least 2 px so every bar shows.
pub fn bar_width(bytes: u64) -> f64 {
    let span = f64::from(MAX_DECADE - MIN_DECADE);
    let x = ((bytes.max(1) as f64).log10() - f64::from(MIN_DECADE)) / span;
    (x.clamp(0.0, 1.0) * PLOT_W).max(2.0)
}

/// An axis label: 10 B, 100 B, 1 kB, ...
fn decade(d: i32) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    format!("{} {}", 10u64.pow((d % 3) as u32), UNITS[(d / 3) as usize])
}

/// The `wb-` class of a verdict's mark: `wb-not-checked`.
fn mark_class(mark: &str) -> String {
    format!("wb-{}", mark.replace(' ', "-"))
}

/// The chart; `bars` in the order to draw them, top to bottom. Its width
/// comes from its texts: the longest label sets the left margin, and the
/// widest of the title, the legend and the bars with their values the rest.
pub fn svg(bars: &[Bar]) -> String {
    let width = |t: &str| svg::text_width(t, FONT, false);
    let small = |t: &str| svg::text_width(t, SMALL_FONT, false);
    let x0 = MARGIN + bars.iter().map(|b| width(&b.label)).fold(0.0, f64::max) + GAP;
    let legend_w: f64 = MARKS
        .iter()
        .map(|(_, _, say)| SWATCH_W + 4.0 + small(say) + 14.0)
        .sum();
    let right = bars
        .iter()
        .map(|b| x0 + bar_width(b.bytes) + 6.0 + width(&human(b.bytes)))
        .chain([x0 + PLOT_W + small(&decade(MAX_DECADE)) / 2.0])
        .fold(0.0, f64::max);
    let total = (right + MARGIN)
        .max(MARGIN + svg::text_width(TITLE, TITLE_FONT, true) + MARGIN)
        .max(MARGIN + small(COLOURS) + MARGIN)
        .max(MARGIN + legend_w + MARGIN)
        .ceil();
    let top = 76.0;
    let height = top + ROW_H * bars.len() as f64 + 44.0;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" viewBox="0 0 {total} {height}" font-family="Helvetica, Arial, sans-serif" font-size="{FONT}">
<title>Hello-world Docker image sizes, log scale (written by cargo xtask report)</title>
<style>
.reference {{ fill: #b8b8b8; }}
.classic {{ fill: #4e79a7; }}
.failing {{ fill: #e15759; }}
.ours {{ fill: #f28e2b; stroke: #f28e2b; }}
.reference {{ stroke: #8c8c8c; }}
.classic {{ stroke: #4e79a7; }}
.failing {{ stroke: #e15759; }}
.wb-no {{ fill-opacity: 0.2; stroke-width: 1.5; }}
.wb-not-checked {{ fill: url(#hatch); stroke-width: 1.5; }}
.wb-not-measured {{ fill-opacity: 0; stroke-width: 1.5; stroke-dasharray: 4 3; }}
.grid {{ stroke: #dddddd; }}
.axis {{ fill: #666666; font-size: {SMALL_FONT}px; }}
</style>
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#f28e2b" stroke-width="3"/></pattern></defs>
<rect width="{total}" height="{height}" fill="#ffffff"/>
<text x="{MARGIN}" y="22" font-size="{TITLE_FONT}" font-weight="bold">{TITLE}</text>
<text x="{MARGIN}" y="40" class="axis">{COLOURS}</text>
"##
    );
    // The marks' legend: a swatch drawn with the bars' classes, and its words.
    let mut x = MARGIN;
    for (mark, colour, say) in MARKS {
        s.push_str(&svg::rect(&[
            ("class", &format!("swatch {colour} {}", mark_class(mark))),
            ("x", &format!("{x:.1}")),
            ("y", &"48"),
            ("width", &SWATCH_W),
            ("height", &"9"),
            ("data-well-behaved", &mark),
        ]));
        s.push('\n');
        x += SWATCH_W + 4.0;
        s.push_str(&svg::text(
            &[("class", &"axis"), ("x", &format!("{x:.1}")), ("y", &"57")],
            say,
        ));
        s.push('\n');
        x += small(say) + 14.0;
    }
    let bottom = top + ROW_H * bars.len() as f64;
    for d in MIN_DECADE..=MAX_DECADE {
        let x = x0 + bar_width(10u64.pow(d as u32));
        let x = if d == MIN_DECADE { x0 } else { x };
        s.push_str(&format!(
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom}\"/>\n\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            bottom + 16.0,
            decade(d)
        ));
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = top + ROW_H * i as f64;
        let w = bar_width(bar.bytes);
        let ty = format!("{:.1}", y + ROW_H * 0.5 + 4.5);
        s.push_str(&format!(
            "<g class=\"row\" data-id=\"{}\">\n{}\n{}\n{}\n</g>\n",
            svg::escape(&bar.id),
            svg::text(
                &[
                    ("class", &"label"),
                    ("x", &format!("{:.1}", x0 - GAP)),
                    ("y", &ty),
                    ("text-anchor", &"end")
                ],
                &bar.label
            ),
            svg::rect(&[
                (
                    "class",
                    &format!("bar {} {}", bar.class, mark_class(bar.well_behaved))
                ),
                ("x", &format!("{x0:.1}")),
                ("y", &format!("{:.1}", y + 4.0)),
                ("width", &format!("{w:.1}")),
                ("height", &format!("{:.1}", ROW_H - 8.0)),
                ("data-bytes", &bar.bytes),
                ("data-well-behaved", &bar.well_behaved),
            ]),
            svg::text(
                &[
                    ("class", &"value"),
                    ("x", &format!("{:.1}", x0 + w + 6.0)),
                    ("y", &ty)
                ],
                &human(bar.bytes)
            ),
        ));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `<style>` rules: (class, [(property, value)]), in document order.
    fn rules(svg: &str) -> Vec<(String, Vec<(String, String)>)> {
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

    /// What each text element of `svg` overflows: its extent estimated as
    /// characters × the average advance (core::svg::text_width) at its font
    /// size and weight, placed by its anchor, against the viewBox.
    fn overflows(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        let root = doc.root_element();
        let view: Vec<f64> = root
            .attribute("viewBox")
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        let base: f64 = root.attribute("font-size").unwrap().parse().unwrap();
        let rules = rules(svg);
        let mut out = Vec::new();
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            let classes: Vec<&str> = t.attribute("class").unwrap_or("").split(' ').collect();
            let mut size = t.attribute("font-size").map(|s| s.parse().unwrap());
            for (class, props) in &rules {
                if classes.contains(&class.as_str()) {
                    for (k, v) in props {
                        if k == "font-size" {
                            size = Some(v.trim_end_matches("px").parse().unwrap());
                        }
                    }
                }
            }
            let size = size.unwrap_or(base);
            let content = t.text().unwrap_or("");
            let bold = t.attribute("font-weight") == Some("bold");
            let w = svg::text_width(content, size, bold);
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
                    "{content:?}: x {left:.1} to {:.1}, y {:.1} to {y:.1}, outside the viewBox {view:?}",
                    left + w,
                    y - size
                ));
            }
        }
        out
    }

    fn bar(id: &str, label: &str, bytes: u64, class: &'static str, mark: &'static str) -> Bar {
        Bar {
            id: id.into(),
            label: label.into(),
            bytes,
            class,
            well_behaved: mark,
            rows: vec![id.into()],
            layouts: Vec::new(),
        }
    }

    /// One bar of each mark, and the longest label the report draws.
    fn sample() -> Vec<Bar> {
        vec![
            bar(
                "ubuntu",
                "ubuntu + echo",
                72_800_000,
                "reference",
                "not measured",
            ),
            bar(
                "busybox",
                "busybox echo (busybox-static)",
                1_982_256,
                "classic",
                "no",
            ),
            bar(
                "hello-world-today",
                "Docker hello-world, today (linux/amd64)",
                10_072,
                "reference",
                "not measured",
            ),
            bar("musl", "musl, hello-world's flags", 9_264, "classic", "yes"),
            bar("tcc", "tcc (dynamic, its default)", 3_304, "failing", "no"),
            bar(
                "hello-linux-ppc64le-tiny+compat",
                "hello tiny and compat (linux/ppc64le)",
                164,
                "ours",
                "not checked",
            ),
            bar(
                "hello-linux-amd64-compat",
                "hello compat (linux/amd64)",
                128,
                "ours",
                "yes",
            ),
        ]
    }

    /// The style the rules give an element with `classes`: later rules win.
    fn style(
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

    /// What a bar (or swatch) of `mark` must look like, drawn: well-behaved
    /// alone solid; failing outlined; not checked hatched; not measured dashed.
    fn drawn_as(
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

    #[test]
    fn each_bar_is_drawn_as_its_verdict() {
        let bars = sample();
        let svg = svg(&bars);
        let rules = rules(&svg);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let mut seen = Vec::new();
        for r in doc.descendants().filter(|n| n.has_tag_name("rect")) {
            let classes: Vec<&str> = r.attribute("class").unwrap_or("").split(' ').collect();
            if !classes.contains(&"bar") && !classes.contains(&"swatch") {
                continue;
            }
            let mark = r.attribute("data-well-behaved").unwrap();
            assert_eq!(
                drawn_as(mark, &style(&rules, &classes)),
                Ok(()),
                "{classes:?}"
            );
            seen.push((classes[0], mark));
        }
        // Every bar, and a legend swatch for every mark.
        assert_eq!(seen.iter().filter(|(c, _)| *c == "bar").count(), bars.len());
        for (mark, _, _) in MARKS {
            assert!(
                seen.contains(&("swatch", mark)),
                "no legend entry for {mark}"
            );
            assert!(
                seen.contains(&("bar", mark)),
                "the sample has no {mark} bar"
            );
        }
        assert!(svg.contains("<pattern id=\"hatch\""));
    }

    #[test]
    fn every_text_lies_inside_the_view_box() {
        let mut bars = sample();
        assert_eq!(overflows(&svg(&bars)), Vec::<String>::new());
        // Longer labels widen the margin.
        bars[0].label = "a contender with a much, much longer label than any today".into();
        assert_eq!(overflows(&svg(&bars)), Vec::<String>::new());
    }

    #[test]
    fn axis_labels() {
        let labels: Vec<String> = (MIN_DECADE..=MAX_DECADE).map(decade).collect();
        assert_eq!(
            labels,
            [
                "10 B", "100 B", "1 kB", "10 kB", "100 kB", "1 MB", "10 MB", "100 MB"
            ]
        );
    }

    #[test]
    fn log_scale() {
        assert!((bar_width(10) - 2.0).abs() < 1e-9);
        assert!((bar_width(100_000_000) - PLOT_W).abs() < 1e-9);
        assert!((bar_width(10_000) - PLOT_W * 3.0 / 7.0).abs() < 1e-9);
    }
}
