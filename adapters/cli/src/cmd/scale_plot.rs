//! The plots of `gridloop bench --scale`: one small SVG per measure, the
//! measured points against log length joined by a line, and the
//! least-squares line dashed (flat is the goal for memory and restart).
//! Written by hand: a few dozen lines of SVG need no plotting library.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::scale::{MEASURES, Results};

const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 46.0;

/// Writes `scale-<measure>.svg` for every measure some size has.
pub fn write_all(out: &Path, results: &Results) -> Result<()> {
    for (name, unit, what) in MEASURES {
        let points: Vec<(f64, f64)> =
            results.sizes.iter().filter_map(|s| Some((s.events as f64, *s.measures.get(name)?))).collect();
        if points.is_empty() {
            continue;
        }
        let fit = results.fits.get(name).map(|f| (f.intercept, f.slope_per_million / 1e6));
        let svg = plot(&format!("{what} ({unit}), {}", results.store), &points, fit);
        std::fs::write(out.join(format!("scale-{}.svg", name.replace('_', "-"))), svg)?;
    }
    Ok(())
}

/// One figure: x from 0 to the longest log, y from 0 to the highest value.
fn plot(title: &str, points: &[(f64, f64)], fit: Option<(f64, f64)>) -> String {
    let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max).max(1.0) * 1.05;
    let mut y_max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    if let Some((a, b)) = fit {
        y_max = y_max.max(a + b * x_max);
    }
    let y_max = nice(y_max.max(1e-9) * 1.1);
    let sx = |x: f64| LEFT + x / x_max * (WIDTH - LEFT - RIGHT);
    let sy = |y: f64| HEIGHT - BOTTOM - y.max(0.0) / y_max * (HEIGHT - TOP - BOTTOM);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(svg, r#"<text x="{LEFT}" y="20" font-size="13">{}</text>"#, escape(title));
    for i in 0..=4 {
        let y = y_max * f64::from(i) / 4.0;
        let (right, at, label_x) = (WIDTH - RIGHT, sy(y), LEFT - 6.0);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{right}" y1="{at}" y2="{at}" stroke="#ddd"/><text x="{label_x}" y="{}" text-anchor="end">{}</text>"##,
            at + 4.0,
            super::scale::figure(y)
        );
        let x = x_max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{:.1} M</text>"#,
            sx(x),
            HEIGHT - BOTTOM + 16.0,
            x / 1e6
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">events in the log</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 10.0
    );
    if let Some((a, b)) = fit {
        let _ = write!(
            svg,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="5 4"/>"##,
            sx(0.0),
            sy(a),
            sx(x_max),
            sy(a + b * x_max)
        );
    }
    let line: Vec<String> = points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
    let _ = write!(svg, r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="2"/>"##, line.join(" "));
    for &(x, y) in points {
        let _ = write!(svg, r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#1f77b4"/>"##, sx(x), sy(y));
    }
    svg.push_str("</svg>\n");
    svg
}

/// The next round number above `v` (1, 2 or 5 times a power of ten).
fn nice(v: f64) -> f64 {
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|&n| n >= v).unwrap_or(10.0 * power)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
