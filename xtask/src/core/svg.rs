//! SVG for the charts (report's sizes, bench-serve's three measures):
//! escaping, elements from attribute lists, how wide a text is drawn, and
//! sizes as `docker images` prints them.
use std::fmt::Display;

/// `s` safe inside an attribute value or a text node.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// ` name="value"` for each attribute, in order, values escaped. The caller
/// formats numbers (`format!("{x:.1}")`) so the chart decides its precision.
fn attrs(list: &[(&str, &dyn Display)]) -> String {
    list.iter()
        .map(|(name, value)| format!(" {name}=\"{}\"", escape(&value.to_string())))
        .collect()
}

/// `<rect a="v" .../>`.
pub fn rect(list: &[(&str, &dyn Display)]) -> String {
    format!("<rect{}/>", attrs(list))
}

/// `<name a="v" .../>`: a `<line>`, `<circle>` or other empty element.
pub fn element(name: &str, list: &[(&str, &dyn Display)]) -> String {
    format!("<{name}{}/>", attrs(list))
}

/// `<text a="v" ...>content</text>`, the content escaped.
pub fn text(list: &[(&str, &dyn Display)], content: &str) -> String {
    format!("<text{}>{}</text>", attrs(list), escape(content))
}

/// A character's average advance, as a fraction of the font size, for
/// estimating how wide a text is drawn: DejaVu Sans (what librsvg and most
/// Linux browsers draw for Helvetica and Arial here) averages about 0.56 on
/// these labels and Helvetica about 0.5, so 0.6 leaves room for either.
pub const ADVANCE: f64 = 0.6;
/// The same for bold text (DejaVu Sans Bold averages about 0.63).
pub const ADVANCE_BOLD: f64 = 0.68;

/// The estimated width of `text` drawn at `font_size` px: characters times
/// the average advance ([`ADVANCE`], or [`ADVANCE_BOLD`]).
pub fn text_width(text: &str, font_size: f64, bold: bool) -> f64 {
    let advance = if bold { ADVANCE_BOLD } else { ADVANCE };
    text.chars().count() as f64 * font_size * advance
}

/// Sizes as `docker images` shows them: three significant digits, powers of 1000.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 999.5 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} B");
    }
    let digits = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"a<b & "c">"#), "a&lt;b &amp; &quot;c&quot;&gt;");
    }

    #[test]
    fn elements() {
        assert_eq!(
            rect(&[("x", &format!("{:.1}", 1.25)), ("fill", &"#fff")]),
            r##"<rect x="1.2" fill="#fff"/>"##
        );
        assert_eq!(
            text(&[("class", &"label"), ("y", &46)], "busybox <httpd>"),
            r#"<text class="label" y="46">busybox &lt;httpd&gt;</text>"#
        );
    }

    #[test]
    fn empty_elements_and_text_widths() {
        assert_eq!(
            element("line", &[("x1", &1), ("class", &"goal")]),
            r#"<line x1="1" class="goal"/>"#
        );
        assert_eq!(text_width("10 ms", 10.0, false), 30.0);
        assert!((text_width("é", 10.0, true) - 6.8).abs() < 1e-9);
    }

    #[test]
    fn human_sizes_read_like_docker_images() {
        assert_eq!(human(120), "120 B");
        assert_eq!(human(999), "999 B");
        assert_eq!(human(8_760), "8.76 kB");
        assert_eq!(human(13_300), "13.3 kB");
        assert_eq!(human(762_296), "762 kB");
        assert_eq!(human(72_800_000), "72.8 MB");
        assert_eq!(human(5_610_000), "5.61 MB");
    }
}
