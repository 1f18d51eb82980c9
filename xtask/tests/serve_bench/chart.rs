//! Checks of the benchmark's chart: its panels, points and labels, and that
//! every text fits inside the chart.

use super::*;

/// The chart's panels: the measure (a point's key), its unit, and its scale.
pub(crate) const PANELS: [(&str, &str, &str); 3] = [
    ("rps", "requests/s", "linear"),
    ("p99_ms", "ms", "log"),
    ("pss_kib", "KiB", "log"),
];

pub(crate) fn attr(n: roxmltree::Node, name: &str) -> String {
    n.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", n.tag_name().name()))
        .to_string()
}

pub(crate) fn class<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    class: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.descendants()
        .filter(move |d| d.attribute("class") == Some(class))
}

/// A point's place on the chart's x axis: its label, else its connection count.
pub(crate) fn point_label(p: &Value) -> String {
    p["label"]
        .as_str()
        .map_or_else(|| p["connections"].to_string(), String::from)
}

/// The chart drawn from `json` shows what the JSON holds: three panels, each
/// axis titled with its unit; the run's points on each x axis; one mark per
/// server per point, carrying the JSON's number and drawn where the panel's
/// axis (read from its grid lines) puts that number, in its point's group
/// and its server's legend colour; and, where a goal applies, a reference
/// line at nginx's value at 100 connections times the goal, over that group.
pub(crate) fn assert_chart(svg: &str, json: &Value, what: &str) {
    let doc = roxmltree::Document::parse(svg).expect("the chart is XML");
    let contenders = json["contenders"].as_array().unwrap();
    let names: Vec<&str> = contenders
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let mut labels: Vec<String> = Vec::new();
    for p in contenders
        .iter()
        .flat_map(|c| c["points"].as_array().unwrap())
    {
        if !labels.contains(&point_label(p)) {
            labels.push(point_label(p));
        }
    }
    // The legend: each server once, in the JSON's order, each its own colour.
    let legend: Vec<(String, String)> = class(doc.root(), "legend-item")
        .map(|n| {
            let swatch = n.children().find(|c| c.has_tag_name("rect")).unwrap();
            (attr(n, "data-server"), attr(swatch, "fill"))
        })
        .collect();
    assert_eq!(
        legend.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(),
        names,
        "{what}: the legend"
    );
    let colour = |server: &str| legend.iter().find(|l| l.0 == server).unwrap().1.clone();
    if names.len() <= 8 {
        let mut fills: Vec<&String> = legend.iter().map(|l| &l.1).collect();
        fills.sort();
        fills.dedup();
        assert_eq!(fills.len(), names.len(), "{what}: a colour per server");
    }
    let panels: Vec<_> = class(doc.root(), "panel").collect();
    assert_eq!(
        panels
            .iter()
            .map(|p| (
                attr(*p, "data-measure"),
                attr(*p, "data-unit"),
                attr(*p, "data-scale")
            ))
            .collect::<Vec<_>>(),
        PANELS.map(|(k, u, sc)| (k.to_string(), u.to_string(), sc.to_string())),
        "{what}: the panels"
    );
    for (panel, (key, unit, scale)) in panels.iter().zip(PANELS) {
        let what = format!("{what}, panel {key}");
        let title = class(*panel, "axis-title").next().expect("an axis title");
        assert!(
            title.text().unwrap().contains(unit),
            "{what}: the axis title {:?} does not name the unit {unit}",
            title.text()
        );
        let ticks: Vec<(String, f64)> = class(*panel, "x-tick")
            .map(|t| (t.text().unwrap().to_string(), attr(t, "x").parse().unwrap()))
            .collect();
        assert_eq!(
            ticks.iter().map(|t| t.0.clone()).collect::<Vec<_>>(),
            labels,
            "{what}: the x axis"
        );
        assert_eq!(
            class(*panel, "x-title").next().and_then(|t| t.text()),
            Some("connections"),
            "{what}: the x axis's title"
        );
        // The axis, from its lowest and highest grid lines; every grid line
        // lies on it.
        let grid: Vec<(f64, f64)> = class(*panel, "y-grid")
            .map(|g| {
                let y: f64 = attr(g, "y1").parse().unwrap();
                assert_eq!(attr(g, "y2"), attr(g, "y1"), "{what}: a level grid line");
                (attr(g, "data-value").parse().unwrap(), y)
            })
            .collect();
        assert!(grid.len() >= 2, "{what}: grid lines {grid:?}");
        let f = |v: f64| if scale == "log" { v.log10() } else { v };
        let (lo, hi) = (grid[0], grid[grid.len() - 1]);
        let y_of = |v: f64| lo.1 + (f(v) - f(lo.0)) / (f(hi.0) - f(lo.0)) * (hi.1 - lo.1);
        for &(v, y) in &grid {
            assert!(
                (y_of(v) - y).abs() < 0.1,
                "{what}: the grid line at {v} is at y {y}"
            );
        }
        assert!(hi.1 < lo.1, "{what}: the axis goes up");
        let mut seen = Vec::new();
        for m in class(*panel, "mark") {
            let (server, label) = (attr(m, "data-server"), attr(m, "data-point"));
            let c = contenders
                .iter()
                .find(|c| c["name"] == server.as_str())
                .unwrap();
            let p = c["points"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| point_label(p) == label)
                .unwrap_or_else(|| {
                    panic!("{what}: a mark for {server} at {label}, not in the JSON")
                });
            assert!(
                key == "pss_kib" || !empty(p),
                "{what}: a mark for {server} at {label}, which completed no request"
            );
            let (lo_v, v, hi_v) = spread(&p["runs"], key).unwrap();
            let shown: f64 = attr(m, "data-value").parse().unwrap();
            assert_eq!(shown, v, "{what}: {server} at {label}");
            let (x, y, w) = match m.tag_name().name() {
                "rect" => {
                    let n = |a: &str| attr(m, a).parse::<f64>().unwrap();
                    // A bar stands on the axis's zero.
                    assert_eq!(lo.0, 0.0, "{what}: bars start at zero");
                    assert!(
                        (n("y") + n("height") - lo.1).abs() < 0.1,
                        "{what}: {server} at {label}'s bar stands on zero"
                    );
                    (n("x"), n("y"), n("width"))
                }
                "circle" => {
                    let n = |a: &str| attr(m, a).parse::<f64>().unwrap();
                    (n("cx") - n("r"), n("cy"), 2.0 * n("r"))
                }
                other => panic!("{what}: a mark is a <{other}>"),
            };
            assert!(
                (y - y_of(v)).abs() < 0.1,
                "{what}: {server} at {label} ({v}) is drawn at y {y}, not {:.1}",
                y_of(v)
            );
            let nearest = ticks
                .iter()
                .min_by(|a, b| {
                    (a.1 - x - w / 2.0)
                        .abs()
                        .total_cmp(&(b.1 - x - w / 2.0).abs())
                })
                .unwrap();
            assert_eq!(
                nearest.0, label,
                "{what}: {server} at {label} is drawn in its group"
            );
            assert_eq!(
                attr(m, "fill"),
                colour(&server),
                "{what}: {server}'s colour"
            );
            // The whisker: from the lowest run to the highest, through the
            // mark's middle; none when they are equal.
            let whiskers: Vec<_> = class(*panel, "spread")
                .filter(|l| attr(*l, "data-server") == server && attr(*l, "data-point") == label)
                .collect();
            if lo_v == hi_v {
                assert!(
                    whiskers.is_empty(),
                    "{what}: {server} at {label}: a whisker for one value"
                );
            } else {
                assert_eq!(whiskers.len(), 1, "{what}: {server} at {label}'s whisker");
                let l = whiskers[0];
                let n = |a: &str| attr(l, a).parse::<f64>().unwrap();
                assert!(
                    (n("data-min"), n("data-max")) == (lo_v, hi_v)
                        && (n("y1") - y_of(lo_v)).abs() < 0.1
                        && (n("y2") - y_of(hi_v)).abs() < 0.1
                        && n("x1") == n("x2")
                        && (n("x1") - x - w / 2.0).abs() < 0.1,
                    "{what}: {server} at {label}'s whisker is not from {lo_v} to {hi_v}"
                );
            }
            seen.push((server, label));
        }
        let mut expected: Vec<(String, String)> = contenders
            .iter()
            .flat_map(|c| {
                c["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| key == "pss_kib" || !empty(p))
                    .map(|p| (c["name"].as_str().unwrap().to_string(), point_label(p)))
            })
            .collect();
        expected.sort();
        seen.sort();
        assert_eq!(seen, expected, "{what}: one mark per server per point");
        // The goal's reference line at each judged point (every keep-alive
        // count of the default page, and Connection: close), over the
        // point's marks: the reference's median times the goal.
        let (_, at_least, target, against) = GOALS.iter().find(|g| g.0 == key).unwrap();
        let page = json["page_bytes"].as_u64().unwrap();
        let mut judged: Vec<Key> = json["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n.as_u64().unwrap(), false, page))
            .collect();
        judged.push((json["extra_connections"].as_u64().unwrap(), true, page));
        let mut lines: Vec<(String, f64)> = Vec::new();
        for at in judged {
            let reference = match against {
                None => best(json, at, key, *at_least).map(|b| b.1),
                Some(name) => point(json, name, at).map(|p| median(p, key)),
            };
            let Some(reference) = reference else { continue };
            let label = point_label(point(json, "nginx", at).unwrap());
            lines.push((label, reference * target));
        }
        let goals: Vec<(String, f64)> = class(*panel, "goal")
            .map(|g| {
                (
                    attr(g, "data-point"),
                    attr(g, "data-value").parse().unwrap(),
                )
            })
            .collect();
        assert_eq!(goals, lines, "{what}: the goal lines");
        for g in class(*panel, "goal") {
            let n = |a: &str| attr(g, a).parse::<f64>().unwrap();
            let label = attr(g, "data-point");
            assert!(
                (n("y1") - y_of(n("data-value"))).abs() < 0.1 && n("y2") == n("y1"),
                "{what}: the goal line at {label} is not at its value"
            );
            let xs: Vec<f64> = class(*panel, "mark")
                .filter(|m| attr(*m, "data-point") == label)
                .map(|m| {
                    attr(m, m.attribute("cx").map_or("x", |_| "cx"))
                        .parse()
                        .unwrap()
                })
                .collect();
            assert!(
                xs.iter().all(|&x| n("x1") <= x && x <= n("x2")),
                "{what}: the goal line spans the marks at {label}"
            );
        }
    }
}

/// A text's average advance, in ems, in the font a reader's renderer picks for
/// `sans-serif` (Debian's rsvg-convert: DejaVu Sans). Measured from the old
/// chart's cut-off title: DejaVu Sans Bold drew it at 0.58 em a character;
/// its digits are 0.70 em, and Book's 0.64 em. Rounded up, so that a label of
/// digits fits too.
pub(crate) const ADVANCE: f64 = 0.6;
pub(crate) const ADVANCE_BOLD: f64 = 0.66;
/// DejaVu Sans's ascent and descent, in ems.
pub(crate) const ASCENT: f64 = 0.93;
pub(crate) const DESCENT: f64 = 0.24;

/// An attribute of `n` or of the nearest element above it that has one
/// (font-size, font-weight and text-anchor are inherited).
pub(crate) fn inherited<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    n.ancestors().find_map(|a| a.attribute(name))
}

pub(crate) fn number(n: roxmltree::Node, name: &str) -> f64 {
    let v = n.attribute(name).unwrap_or("0");
    v.parse()
        .unwrap_or_else(|_| panic!("<{}> {name}={v:?} is not a number", n.tag_name().name()))
}

/// Every `<text>` in `svg` lies inside its viewBox, and no two overlap, by an
/// estimate of each one's extent: its characters times the font's average
/// advance across, its ascent and descent up and down, placed by its x, y and
/// text-anchor.
pub(crate) fn assert_text_inside(svg: &str, what: &str) {
    let doc = roxmltree::Document::parse(svg).expect("the chart is XML");
    let view: Vec<f64> = doc
        .root_element()
        .attribute("viewBox")
        .expect("a viewBox")
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let (x0, y0, x1, y1) = (view[0], view[1], view[0] + view[2], view[1] + view[3]);
    let mut boxes: Vec<(String, [f64; 4])> = Vec::new();
    for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let content: String = t
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        assert!(
            t.ancestors().all(|a| a.attribute("transform").is_none())
                && t.descendants().skip(1).all(|n| !n.is_element()),
            "{what}: {content:?} is transformed or has <tspan>s, which this estimate does not follow"
        );
        let size: f64 = inherited(t, "font-size").unwrap_or("16").parse().unwrap();
        let advance = match inherited(t, "font-weight") {
            Some("bold") => ADVANCE_BOLD,
            _ => ADVANCE,
        };
        let width = content.chars().count() as f64 * advance * size;
        let (x, y) = (number(t, "x"), number(t, "y"));
        let left = match inherited(t, "text-anchor") {
            Some("middle") => x - width / 2.0,
            Some("end") => x - width,
            _ => x,
        };
        let (top, bottom) = (y - ASCENT * size, y + DESCENT * size);
        assert!(
            left >= x0 && left + width <= x1 && top >= y0 && bottom <= y1,
            "{what}: the text {content:?} spans x {left:.0} to {:.0}, y {top:.0} to {bottom:.0}, \
             outside the viewBox ({x0} {y0} to {x1} {y1}): size the chart from its text",
            left + width
        );
        let b = [left, top, left + width, bottom];
        for (other, o) in &boxes {
            assert!(
                b[2] <= o[0] || o[2] <= b[0] || b[3] <= o[1] || o[3] <= b[1],
                "{what}: the texts {other:?} and {content:?} overlap: space the chart from its text"
            );
        }
        boxes.push((content, b));
    }
    assert!(!boxes.is_empty(), "{what}: no text");
}
