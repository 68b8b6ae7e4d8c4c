//! gridloop-report: gridloop's HTML pages, as `maud` templates.
//!
//! Templates are checked when they compile and escape every piece of caller
//! text; they render pure: the same input gives the same bytes, with no
//! clock, no randomness and no hash-ordered maps. Pages need nothing from
//! the network (no CDN, no web fonts, no scripts): CSS is inline and charts
//! are inline SVG scaled by their `viewBox`.
//!
//! # Map
//!
//! - [`chart`]: line and bar charts of rates over labelled points (days),
//!   as SVG figures any page can place.
//! - [`page`]: the closed-loop report (`report.html`): a rates table per
//!   place and the charts.
//! - [`weekly`]: the weekly ranking (通报) as a table, chart and CSV, and a
//!   grid head's weekly report (周报告), with A4 print rules.
//!
//! Templates write a newline where the hand-written page had one (`"\n"`
//! between elements): one table row, gridline or point per line, so that a
//! page diffs and greps line by line.
//!
//! The crate knows no store and no projection: callers hand it rows and
//! series of (numerator, denominator), so the binary and the HTTP server
//! can render the same pages.
#![warn(missing_docs, unreachable_pub)]

pub mod chart;
pub mod page;
pub mod weekly;

pub use chart::{Chart, Series};
pub use page::{Report, TableRow, render};

use maud::Render;

/// Caller text, escaped for element content and quoted attribute values
/// alike. maud escapes `&`, `<`, `>` and `"`; the apostrophe is escaped too,
/// so that text stays inert even if a template ever quotes with `'`.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a>(pub &'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        for c in self.0.chars() {
            match c {
                '&' => buffer.push_str("&amp;"),
                '<' => buffer.push_str("&lt;"),
                '>' => buffer.push_str("&gt;"),
                '"' => buffer.push_str("&quot;"),
                '\'' => buffer.push_str("&#39;"),
                _ => buffer.push(c),
            }
        }
    }
}

/// Per mille rounded half up, or `None` when nothing was counted. The
/// arithmetic is widened so that no count, however large, overflows.
pub fn per_mille(numerator: u64, denominator: u64) -> Option<u64> {
    if denominator == 0 {
        return None;
    }
    let (n, d) = (u128::from(numerator), u128::from(denominator));
    Some(u64::try_from((n * 1000 + d / 2) / d).unwrap_or(u64::MAX))
}

/// The percentage people read, with one decimal; a rate with no
/// denominator is "no data", never 0% or 100%, because nothing happened.
pub fn percent(numerator: u64, denominator: u64) -> String {
    match per_mille(numerator, denominator) {
        None => "no data".into(),
        Some(pm) => format!("{}.{}%", pm / 10, pm % 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_every_special_character() {
        assert_eq!(Text(r#"a&b<c>d"e'f"#).render().into_string(), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(Text("中华街道").render().into_string(), "中华街道");
    }

    #[test]
    fn percentages_have_one_decimal_rounded_half_up() {
        assert_eq!(percent(973, 1000), "97.3%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 1), "100.0%");
        assert_eq!(percent(0, 7), "0.0%");
        assert_eq!(percent(1, 2000), "0.1%", "0.05% rounds half up");
        assert_eq!(percent(u64::MAX, u64::MAX), "100.0%", "no overflow");
        assert_eq!(percent(0, 0), "no data");
    }
}
