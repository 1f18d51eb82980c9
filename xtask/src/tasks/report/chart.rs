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

const WIDTH: f64 = 760.0;
const LABEL_W: f64 = 250.0;
const PLOT_W: f64 = 420.0;
const ROW_H: f64 = 26.0;
const TOP: f64 = 66.0;
/// The axis runs from 10 B to 100 MB: seven decades.
const MIN_DECADE: i32 = 1;
const MAX_DECADE: i32 = 8;

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

/// The chart; `bars` in the order to draw them, top to bottom.
pub fn svg(bars: &[Bar]) -> String {
    let height = TOP + ROW_H * bars.len() as f64 + 44.0;
    let x0 = LABEL_W;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">
<title>Hello-world Docker image sizes, log scale (written by cargo xtask report)</title>
<style>
.reference {{ fill: #b8b8b8; }}
.classic {{ fill: #4e79a7; }}
.failing {{ fill: #e15759; }}
.ours {{ fill: #f28e2b; stroke: #f28e2b; }}
.reference {{ stroke: #b8b8b8; }}
.classic {{ stroke: #4e79a7; }}
.failing {{ stroke: #e15759; }}
.wb-no {{ fill-opacity: 0.2; stroke-width: 1.5; }}
.wb-not-checked {{ fill: url(#hatch); stroke-width: 1.5; }}
.grid {{ stroke: #dddddd; }}
.axis {{ fill: #666666; font-size: 11px; }}
</style>
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#f28e2b" stroke-width="3"/></pattern></defs>
<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>
<text x="16" y="22" font-size="15" font-weight="bold">Hello-world image sizes, log scale (docker image inspect)</text>
<text x="16" y="40" class="axis">grey: published, not measured here · blue: built and run here · red: does not run in scratch · orange: hello</text>
<text x="16" y="54" class="axis">solid: well-behaved (all seven checks) · outlined: fails a check · hatched: a check could not be made here</text>
"##
    );
    let bottom = TOP + ROW_H * bars.len() as f64;
    for d in MIN_DECADE..=MAX_DECADE {
        let x = x0 + bar_width(10u64.pow(d as u32));
        let x = if d == MIN_DECADE { x0 } else { x };
        s.push_str(&format!(
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom}\"/>\n\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            bottom + 16.0,
            decade(d)
        ));
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let w = bar_width(bar.bytes);
        let ty = format!("{:.1}", y + ROW_H * 0.5 + 4.5);
        let mark = bar.well_behaved.replace(' ', "-");
        s.push_str(&format!(
            "<g class=\"row\" data-id=\"{}\">\n{}\n{}\n{}\n</g>\n",
            svg::escape(&bar.id),
            svg::text(
                &[
                    ("class", &"label"),
                    ("x", &format!("{:.1}", x0 - 8.0)),
                    ("y", &ty),
                    ("text-anchor", &"end")
                ],
                &bar.label
            ),
            svg::rect(&[
                ("class", &format!("bar {} wb-{mark}", bar.class)),
                ("x", &x0),
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
