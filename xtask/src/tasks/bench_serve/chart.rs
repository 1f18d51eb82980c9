//! bench-serve's chart (docs/serve-bench.svg), a function of the run's JSON
//! alone: three panels side by side, one per measure (requests/s, p99
//! latency, PSS), each on its own axis with its unit; the run's points on the
//! x axis, one mark per server at each (the median of the point's runs, with
//! a whisker from the lowest to the highest), a legend, and the issue's goals
//! as reference lines at each point they are judged at. Any number of servers
//! and points: the chart is sized from them and from its text. A point whose
//! median run completed no request has no requests/s or p99 mark.
//!
//! So that a test can read it, each panel is a `<g class="panel">` with
//! `data-measure` (the runs' key), `data-unit` and `data-scale` (`linear`
//! or `log`); in it each mark has `class="mark"`, `data-server`, `data-point`
//! and `data-value` (the median of the JSON's runs), each whisker
//! `class="spread"` with `data-server`, `data-point`, `data-min` and
//! `data-max`, each axis tick a `class="y-tick"` label and a `class="y-grid"`
//! line with its `data-value`, each point's label `class="x-tick"`, and a goal
//! is a `<line class="goal">` with its `data-point` and `data-value`. The legend's entries are `class="legend-item"` with
//! `data-server`.
use std::fmt::Write as _;

use serde_json::Value;

use super::axis::{Axis, tick_label};
use super::goals::{GOALS, judged};
use super::stats::{self, Key, Spread, contenders_of};
use crate::Error;
use crate::core::svg::{self, text_width};

/// One panel: the point's key, the axis title (with the unit), the unit, and
/// whether its axis is logarithmic (latency and memory span decades between
/// the servers; requests per second is drawn from zero, as bars).
struct Measure {
    key: &'static str,
    title: &'static str,
    unit: &'static str,
    better: &'static str,
    log: bool,
}

const MEASURES: [Measure; 3] = [
    Measure {
        key: "rps",
        title: "requests/s",
        unit: "requests/s",
        better: "higher is better",
        log: false,
    },
    Measure {
        key: "p99_ms",
        title: "p99 latency, ms",
        unit: "ms",
        better: "lower is better",
        log: true,
    },
    Measure {
        key: "pss_kib",
        title: "PSS under load, KiB",
        unit: "KiB",
        better: "lower is better",
        log: true,
    },
];

const COLORS: [&str; 8] = [
    "#d9480f", "#1c7ed6", "#37b24d", "#868e96", "#ae3ec9", "#f59f00", "#0ca678", "#e64980",
];
/// Font sizes: the title, the text, the axes' labels.
const TITLE: f64 = 15.0;
const TEXT: f64 = 12.0;
const SMALL: f64 = 11.0;
/// The outer margin, the gap between panels, a plot's height.
const PAD: f64 = 16.0;
const PANEL_GAP: f64 = 32.0;
const PLOT_H: f64 = 180.0;
/// Each server's slot in a point's group, the mark's width in it, and the gap
/// between groups.
const SLOT: f64 = 12.0;
const BAR: f64 = 10.0;
const GROUP_GAP: f64 = 14.0;

/// A point's place on the x axis: its `label` when the run gives one (a point
/// that is not a plain keep-alive connection count), else its connection count.
fn point_label(p: &Value) -> String {
    match p["label"].as_str() {
        Some(label) => label.to_string(),
        None => p["connections"].to_string(),
    }
}

/// The run's points, in the order they first appear.
fn point_labels(contenders: &[Value]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for p in contenders
        .iter()
        .flat_map(|c| c["points"].as_array().into_iter().flatten())
    {
        let label = point_label(p);
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels
}

/// What one panel draws: its axis and the widths its text needs.
struct Panel<'a> {
    measure: &'a Measure,
    axis: Axis,
    /// The goal's subtitle, and its value at each judged point's label.
    goal: Option<(String, Vec<(String, f64)>)>,
    /// From the panel's left edge to its plot's left edge (the tick labels).
    left: f64,
    width: f64,
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// What a panel shows of `c` at `label`: the median of its runs and their
/// spread; `None` where it has no figure (no such point, or a point that
/// completed no request, on a load measure).
fn figure(c: &Value, label: &str, key: &str) -> Option<Spread> {
    let p = c["points"]
        .as_array()?
        .iter()
        .find(|p| point_label(p) == label)?;
    if key != "pss_kib" && stats::empty(p) {
        return None;
    }
    stats::spread(&p["runs"], key)
}

/// The SVG chart of a run's JSON (docs/serve-bench.svg).
pub fn chart(json: &Value) -> Result<String, Error> {
    let contenders = contenders_of(json)?;
    let labels = point_labels(contenders);
    // The label of each judged point, as the runs name it.
    let judged: Vec<(Key, String)> = judged(json)
        .into_iter()
        .filter_map(|k| {
            let p = contenders
                .iter()
                .flat_map(|c| c["points"].as_array().into_iter().flatten())
                .find(|p| Key::of(p) == k)?;
            Some((k, point_label(p)))
        })
        .collect();
    // A point's group holds its marks and its label, with a gap.
    let group_w = labels
        .iter()
        .map(|l| text_width(l, SMALL, false))
        .fold(SLOT * contenders.len() as f64, f64::max)
        + GROUP_GAP;
    let plot_w = group_w * labels.len() as f64;

    let panels: Vec<Panel> = MEASURES
        .iter()
        .map(|m| {
            let goal = GOALS.iter().find(|g| g.key == m.key).map(|g| {
                let text = format!(
                    "{}; goal for serve {} {:.1}\u{d7} {}",
                    m.better,
                    if g.at_least { "\u{2265}" } else { "\u{2264}" },
                    g.target,
                    g.against.unwrap_or("best peer")
                );
                let at: Vec<(String, f64)> = judged
                    .iter()
                    .filter_map(|(k, label)| {
                        let (_, v) = g.reference(json, *k)?;
                        Some((label.clone(), v * g.target))
                    })
                    .collect();
                (text, at)
            });
            let mut values: Vec<f64> = contenders
                .iter()
                .flat_map(|c| labels.iter().filter_map(|l| figure(c, l, m.key)))
                .flat_map(|s| [s.min, s.max])
                .collect();
            values.extend(goal.iter().flat_map(|g| g.1.iter().map(|v| v.1)));
            let axis = Axis::new(&values, m.log);
            let left = axis
                .ticks
                .iter()
                .map(|&t| text_width(&tick_label(t), SMALL, false))
                .fold(0.0, f64::max)
                + 10.0;
            let subtitle = goal.as_ref().map_or(m.better, |g| g.0.as_str());
            let width = (left + plot_w)
                .max(text_width(m.title, TEXT, true))
                .max(text_width(subtitle, SMALL, false))
                .max(left + 2.0 * text_width("connections", SMALL, false));
            Panel {
                measure: m,
                axis,
                goal,
                left,
                width,
            }
        })
        .collect();

    let version = json["wrk"]["version"].as_str().unwrap_or("?");
    let title = format!(
        "bench-serve on 127.0.0.1: wrk {}, {} s per point, a {}-byte page; the median of {} runs, \
         whiskers from the lowest to the highest",
        version.split(' ').nth(1).unwrap_or(""),
        json["seconds"],
        json["page_bytes"],
        json["repetitions"].as_u64().unwrap_or(1)
    );
    let goal_legend = "goal for serve at each point it is judged at".to_string();
    let names: Vec<&str> = contenders
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("?"))
        .collect();
    // A legend item: a 10 px swatch, 4 px, the name, 18 px to the next.
    let item_w = |name: &str| 14.0 + text_width(name, TEXT, false) + 18.0;
    let panels_w: f64 =
        panels.iter().map(|p| p.width).sum::<f64>() + PANEL_GAP * (panels.len() - 1) as f64;
    let inner = panels_w
        .max(text_width(&title, TITLE, true))
        .max(names.iter().map(|n| item_w(n)).fold(0.0, f64::max))
        .max(item_w(&goal_legend) + 10.0);
    let w = (inner + 2.0 * PAD).ceil();

    let mut s = String::new();
    let mut y = PAD + TITLE;
    let mut body = String::new();
    let _ = writeln!(
        body,
        "{}",
        svg::text(
            &[
                ("x", &PAD),
                ("y", &f1(y)),
                ("font-size", &TITLE),
                ("font-weight", &"bold")
            ],
            &title
        )
    );
    // The legend, wrapped to the chart's width.
    y += 24.0;
    let mut x = PAD;
    body.push_str("<g class=\"legend\">\n");
    for (i, name) in names.iter().enumerate() {
        if x > PAD && x + item_w(name) > w - PAD {
            x = PAD;
            y += 20.0;
        }
        let _ = writeln!(
            body,
            "<g class=\"legend-item\" data-server=\"{}\">{}{}</g>",
            svg::escape(name),
            svg::rect(&[
                ("x", &f1(x)),
                ("y", &f1(y - 10.0)),
                ("width", &10),
                ("height", &10),
                ("fill", &COLORS[i % COLORS.len()])
            ]),
            svg::text(&[("x", &f1(x + 14.0)), ("y", &f1(y))], name)
        );
        x += item_w(name);
    }
    if x > PAD && x + item_w(&goal_legend) + 10.0 > w - PAD {
        x = PAD;
        y += 20.0;
    }
    let _ = writeln!(
        body,
        "{}{}",
        svg::element(
            "line",
            &[
                ("x1", &f1(x)),
                ("x2", &f1(x + 20.0)),
                ("y1", &f1(y - 4.0)),
                ("y2", &f1(y - 4.0)),
                ("stroke", &"#212529"),
                ("stroke-width", &1.5),
                ("stroke-dasharray", &"4 3")
            ]
        ),
        svg::text(&[("x", &f1(x + 24.0)), ("y", &f1(y))], &goal_legend)
    );
    body.push_str("</g>\n");

    let header = y + 16.0 + TEXT;
    let plot_top = header + SMALL + 16.0;
    let bottom = plot_top + PLOT_H;
    let mut left = PAD;
    for panel in &panels {
        draw_panel(&mut body, panel, left, plot_top, contenders, &labels);
        left += panel.width + PANEL_GAP;
    }
    let h = (bottom + 2.0 * 16.0 + PAD).ceil();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"{TEXT}\">"
    );
    let _ = writeln!(
        s,
        "{}",
        svg::rect(&[("width", &w), ("height", &h), ("fill", &"white")])
    );
    s.push_str(&body);
    s.push_str("</svg>\n");
    Ok(s)
}

/// One panel, its left edge at `left`, its plot's top at `top`.
fn draw_panel(
    s: &mut String,
    panel: &Panel,
    left: f64,
    top: f64,
    contenders: &[Value],
    labels: &[String],
) {
    let m = panel.measure;
    let axis = &panel.axis;
    let plot_left = left + panel.left;
    let bottom = top + PLOT_H;
    let y_of = |v: f64| bottom - axis.fraction(v) * PLOT_H;
    // The groups share the plot, which is as wide as the panel's text needs.
    let plot_right = left + panel.width;
    let group_w = (plot_right - plot_left) / labels.len().max(1) as f64;
    let marks_w = SLOT * contenders.len() as f64;
    let _ = writeln!(
        s,
        "<g class=\"panel\" data-measure=\"{}\" data-unit=\"{}\" data-scale=\"{}\">",
        m.key,
        svg::escape(m.unit),
        if axis.log { "log" } else { "linear" }
    );
    let _ = writeln!(
        s,
        "{}",
        svg::text(
            &[
                ("class", &"axis-title"),
                ("x", &f1(left)),
                ("y", &f1(top - SMALL - 16.0)),
                ("font-weight", &"bold")
            ],
            m.title
        )
    );
    let subtitle = panel.goal.as_ref().map_or(m.better, |g| g.0.as_str());
    let _ = writeln!(
        s,
        "{}",
        svg::text(
            &[
                ("x", &f1(left)),
                ("y", &f1(top - 12.0)),
                ("font-size", &SMALL)
            ],
            subtitle
        )
    );
    for &t in &axis.ticks {
        let y = f1(y_of(t));
        let _ = writeln!(
            s,
            "{}{}",
            svg::element(
                "line",
                &[
                    ("class", &"y-grid"),
                    ("data-value", &t),
                    ("x1", &f1(plot_left)),
                    ("x2", &f1(plot_right)),
                    ("y1", &y),
                    ("y2", &y),
                    ("stroke", &"#dee2e6")
                ]
            ),
            svg::text(
                &[
                    ("class", &"y-tick"),
                    ("data-value", &t),
                    ("x", &f1(plot_left - 6.0)),
                    ("y", &f1(y_of(t) + 4.0)),
                    ("font-size", &SMALL),
                    ("text-anchor", &"end")
                ],
                &tick_label(t)
            )
        );
    }
    let _ = writeln!(
        s,
        "{}",
        svg::element(
            "path",
            &[
                (
                    "d",
                    &format!(
                        "M{} {}V{}H{}",
                        f1(plot_left),
                        f1(top),
                        f1(bottom),
                        f1(plot_right)
                    )
                ),
                ("fill", &"none"),
                ("stroke", &"#495057")
            ]
        )
    );
    for (g, label) in labels.iter().enumerate() {
        let gx = plot_left + g as f64 * group_w + (group_w - marks_w) / 2.0;
        for (i, c) in contenders.iter().enumerate() {
            let Some(spread) = figure(c, label, m.key) else {
                continue;
            };
            let value = spread.median;
            let v = value;
            let x = gx + i as f64 * SLOT + (SLOT - BAR) / 2.0;
            let y = y_of(value);
            let name = c["name"].as_str().unwrap_or("?");
            let fill = COLORS[i % COLORS.len()];
            let data: [(&str, &dyn std::fmt::Display); 4] = [
                ("class", &"mark"),
                ("data-server", &name),
                ("data-point", label),
                ("data-value", &v),
            ];
            let mark = if axis.log {
                let mut a: Vec<(&str, &dyn std::fmt::Display)> = data.to_vec();
                let (cx, cy) = (f1(x + BAR / 2.0), f1(y));
                a.extend([
                    ("cx", &cx as &dyn std::fmt::Display),
                    ("cy", &cy),
                    ("r", &4),
                    ("fill", &fill),
                    ("stroke", &"white"),
                ]);
                svg::element("circle", &a)
            } else {
                let mut a: Vec<(&str, &dyn std::fmt::Display)> = data.to_vec();
                let (bx, by, bh) = (f1(x), f1(y), f1(bottom - y));
                a.extend([
                    ("x", &bx as &dyn std::fmt::Display),
                    ("y", &by),
                    ("width", &BAR),
                    ("height", &bh),
                    ("fill", &fill),
                ]);
                svg::rect(&a)
            };
            let _ = writeln!(s, "{mark}");
            if spread.min < spread.max {
                let cx = f1(x + BAR / 2.0);
                let _ = writeln!(
                    s,
                    "{}",
                    svg::element(
                        "line",
                        &[
                            ("class", &"spread"),
                            ("data-server", &name),
                            ("data-point", label),
                            ("data-min", &spread.min),
                            ("data-max", &spread.max),
                            ("x1", &cx),
                            ("x2", &cx),
                            ("y1", &f1(y_of(spread.min))),
                            ("y2", &f1(y_of(spread.max))),
                            ("stroke", &"#212529"),
                            ("stroke-width", &1)
                        ]
                    )
                );
            }
        }
        let _ = writeln!(
            s,
            "{}",
            svg::text(
                &[
                    ("class", &"x-tick"),
                    ("data-point", label),
                    ("x", &f1(gx + marks_w / 2.0)),
                    ("y", &f1(bottom + 16.0)),
                    ("font-size", &SMALL),
                    ("text-anchor", &"middle")
                ],
                label
            )
        );
        let goal = panel
            .goal
            .iter()
            .flat_map(|g| g.1.iter())
            .find(|(l, _)| l == label)
            .map(|(_, v)| v);
        if let Some(goal) = goal {
            let y = f1(y_of(*goal));
            let _ = writeln!(
                s,
                "{}",
                svg::element(
                    "line",
                    &[
                        ("class", &"goal"),
                        ("data-point", label),
                        ("data-value", goal),
                        ("x1", &f1(gx - 4.0)),
                        ("x2", &f1(gx + marks_w + 4.0)),
                        ("y1", &y),
                        ("y2", &y),
                        ("stroke", &"#212529"),
                        ("stroke-width", &1.5),
                        ("stroke-dasharray", &"4 3")
                    ]
                )
            );
        }
    }
    let _ = writeln!(
        s,
        "{}",
        svg::text(
            &[
                ("class", &"x-title"),
                ("x", &f1((plot_left + plot_right) / 2.0)),
                ("text-anchor", &"middle"),
                ("y", &f1(bottom + 32.0)),
                ("font-size", &SMALL)
            ],
            "connections"
        )
    );
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_labelled_by_count_or_their_own_label() {
        let json: Value = serde_json::from_str(
            r#"{"contenders": [
                {"name": "a", "points": [{"connections": 10}, {"connections": 100}]},
                {"name": "b", "points": [{"connections": 100, "label": "close"},
                                         {"connections": 10}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            point_labels(json["contenders"].as_array().unwrap()),
            ["10", "100", "close"]
        );
        let svg = chart(&json).unwrap();
        assert_eq!(svg.matches("<g class=\"panel\"").count(), 3);
        // No values: no marks, and no goal without nginx.
        assert!(!svg.contains("class=\"mark\"") && !svg.contains("class=\"goal\""));
        assert!(svg.contains(r#"<g class="legend-item" data-server="b">"#));
    }
}
