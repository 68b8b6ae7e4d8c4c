//! The demo's HTML report: one self-contained page that a dispatcher or an
//! auditor opens in a browser, on a desk or on a phone.
//!
//! The page shows, top to bottom:
//!
//! - a title and a subtitle (the district, the days, the moment the rates are
//!   as of);
//! - the rates table: one row per place, its ticket count, and each rate the
//!   city is judged by (办结率, 满意率, ...) as a percentage with one decimal,
//!   the `numerator/denominator` behind it in a tooltip, and "no data" where
//!   nothing was counted;
//! - one line chart per rate over the days, one line per street, each point
//!   with a tooltip (`中华街道 11-23: 97.3% (73/75)`), a day with no data
//!   breaking the line rather than dragging it to zero.
//!
//! [`render`] is pure: the same report gives the same bytes, with no clock,
//! no randomness and no hash-ordered maps. The page needs nothing from the
//! network (no CDN, no web fonts, no scripts): CSS is inline, charts are
//! inline SVG scaled by their `viewBox`, and every piece of caller text is
//! escaped.

use std::fmt::Write as _;

/// One row of the rates table: a place and its rates, each as (numerator, denominator).
#[derive(Debug, Clone)]
pub struct TableRow {
    pub place: String,
    pub tickets: u64,
    pub rates: Vec<(u64, u64)>,
}

/// One line of a chart: a label (a street's name) and one point per day; None = no data that day.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<Option<(u64, u64)>>,
}

/// One chart: a title and lines over the same days.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub days: Vec<String>,
    pub series: Vec<Series>,
}

/// The whole page: a title, a subtitle, the rates table (with one column
/// name per rate) and the charts.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub subtitle: String,
    pub columns: Vec<String>,
    pub rows: Vec<TableRow>,
    pub charts: Vec<Chart>,
}

/// A self-contained HTML page: no external requests (no CDN, no web fonts, no scripts needed), inline CSS, inline SVG.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(32 * 1024);
    head(&mut out, &report.title);
    let _ = write!(out, "<main>\n<h1>{}</h1>\n", escape(&report.title));
    if !report.subtitle.is_empty() {
        let _ = writeln!(out, "<p class=\"sub\">{}</p>", escape(&report.subtitle));
    }
    table(&mut out, &report.columns, &report.rows);
    if !report.charts.is_empty() {
        out.push_str("<section class=\"charts\">\n");
        for chart in &report.charts {
            figure(&mut out, chart);
        }
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// Escapes text for both element content and quoted attribute values, so
/// one function serves every place caller text lands.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Per mille rounded half up, or `None` when nothing was counted. The
/// arithmetic is widened so that no count, however large, overflows.
fn per_mille(numerator: u64, denominator: u64) -> Option<u64> {
    if denominator == 0 {
        return None;
    }
    let (n, d) = (u128::from(numerator), u128::from(denominator));
    Some(u64::try_from((n * 1000 + d / 2) / d).unwrap_or(u64::MAX))
}

/// The percentage people read, with one decimal; a rate with no
/// denominator is "no data", never 0% or 100%, because nothing happened.
fn percent(numerator: u64, denominator: u64) -> String {
    match per_mille(numerator, denominator) {
        None => "no data".into(),
        Some(pm) => format!("{}.{}%", pm / 10, pm % 10),
    }
}

// ---------------------------------------------------------------------------
// The page around the content.
// ---------------------------------------------------------------------------

/// The styles. The font list names system fonts that carry Chinese glyphs
/// on each platform, so street names render without a web font. The chart
/// text grows on narrow screens because the SVG is scaled down there. The
/// chart grid fills columns of at least 500px even when they stay empty, so
/// that a lone chart keeps a readable size instead of stretching across a
/// wide screen.
const CSS: &str = "\
*{box-sizing:border-box}
body{margin:0;background:#f5f6f8;color:#1b1d21;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",\"PingFang SC\",\
\"Hiragino Sans GB\",\"Microsoft YaHei\",\"Noto Sans CJK SC\",\"Noto Sans SC\",\"WenQuanYi Micro Hei\",sans-serif}
main{max-width:1200px;margin:0 auto;padding:16px}
h1{font-size:1.45em;margin:0 0 2px}
.sub{margin:0 0 14px;color:#555}
.table-wrap{overflow-x:auto;background:#fff;border:1px solid #dde1e6;border-radius:6px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 12px;text-align:right;white-space:nowrap;border-bottom:1px solid #eceef1}
thead th{background:#f0f2f5;font-weight:600}
thead th:first-child,tbody th{text-align:left}
tbody th{font-weight:500}
tbody tr:last-child>*{border-bottom:0}
td[title]{cursor:help}
.nodata{color:#8a8f98;font-style:italic}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,500px),1fr));gap:16px;margin-top:16px}
figure{margin:0;min-width:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px}
figcaption{font-weight:600;margin-bottom:4px}
.note{font-weight:400;color:#666;font-size:.88em}
svg.chart{display:block;width:100%;height:auto}
.chart text{font-size:12px;fill:#555}
.chart .empty{font-size:16px;fill:#8a8f98}
.grid line{stroke:#e4e7eb}
.grid line.base{stroke:#9aa0a8}
.series polyline{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.series circle{stroke:#fff;stroke-width:1}
.chart:has(.series:hover) .series:not(:hover){opacity:.2}
.legend{list-style:none;margin:8px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:2px 16px;font-size:.9em}
.legend li{display:flex;align-items:center;gap:6px;white-space:nowrap}
.legend svg{flex:none}
@media (max-width:640px){main{padding:10px}body{font-size:14px}.chart text{font-size:16px}}
";

/// The document head. `lang="zh-CN"` makes browsers pick Simplified
/// Chinese glyph forms for the street names; the English labels are unaffected.
fn head(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = write!(out, "<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n", escape(title));
}

// ---------------------------------------------------------------------------
// The rates table.
// ---------------------------------------------------------------------------

/// The table, wrapped so that a phone scrolls it sideways instead of
/// squeezing the numbers.
fn table(out: &mut String, columns: &[String], rows: &[TableRow]) {
    out.push_str(
        "<div class=\"table-wrap\">\n<table>\n<thead><tr><th scope=\"col\">place</th><th scope=\"col\">tickets</th>",
    );
    for column in columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(column));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        table_row(out, row, columns.len());
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// One row with exactly one cell per column, so that a row with a rate
/// missing still lines up; the missing rate shows as "no data".
fn table_row(out: &mut String, row: &TableRow, width: usize) {
    let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>{}</td>", escape(&row.place), row.tickets);
    for i in 0..width {
        let (n, d) = row.rates.get(i).copied().unwrap_or((0, 0));
        let class = if d == 0 { " class=\"nodata\"" } else { "" };
        let _ = write!(out, "<td{class} title=\"{n}/{d}\">{}</td>", percent(n, d));
    }
    out.push_str("</tr>\n");
}

// ---------------------------------------------------------------------------
// The charts.
// ---------------------------------------------------------------------------

/// The SVG's own coordinate system; the browser scales it to the width of
/// the figure, so these are proportions, not pixels.
const VIEW_W: f64 = 440.0;
const VIEW_H: f64 = 250.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 26.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// The largest font size the CSS gives chart text (on a phone); labels are
/// spaced for it so that they never overlap at any screen width.
const WIDEST_FONT: f64 = 16.0;
/// Space kept between two day labels, in view units.
const LABEL_GAP: f64 = 8.0;

/// Line colours, chosen to tell apart on white. Beyond ten series the colours
/// repeat with a dash pattern, so that no two lines look alike.
const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const DASHES: [&str; 3] = ["", "6 3", "2 3"];

/// The y axis: where it starts and how far apart its gridlines are, in per
/// mille. An axis from 50% is used only when every value is at least 50%,
/// because rates usually sit high and a full axis would flatten them.
const AXES: [(u64, u64); 2] = [(500, 100), (0, 250)];

/// Where things go in one chart: the number of days and the y axis.
#[derive(Debug, Clone, Copy)]
struct Frame {
    days: usize,
    floor: u64,
    step: u64,
}

impl Frame {
    fn new(chart: &Chart) -> Self {
        let lowest = chart
            .series
            .iter()
            .flat_map(|s| (0..chart.days.len()).filter_map(|i| point(s, i)))
            .map(|(pm, _, _)| pm)
            .min();
        let (floor, step) = match lowest {
            None => AXES[AXES.len() - 1],
            Some(low) => AXES.iter().copied().find(|(floor, _)| *floor <= low).unwrap_or(AXES[AXES.len() - 1]),
        };
        Frame { days: chart.days.len(), floor, step }
    }

    fn plot_width(self) -> f64 {
        VIEW_W - LEFT - RIGHT
    }

    fn plot_height(self) -> f64 {
        VIEW_H - TOP - BOTTOM
    }

    /// The distance between two days; a single day gets the whole width.
    fn spacing(self) -> f64 {
        self.plot_width() / (self.days.max(2) - 1) as f64
    }

    /// A single day sits in the middle rather than on the axis.
    fn x(self, day: usize) -> f64 {
        if self.days == 1 { LEFT + self.plot_width() / 2.0 } else { LEFT + day as f64 * self.spacing() }
    }

    /// Values outside the axis (a rate above 100% from bad input) are drawn
    /// at its edge rather than outside the chart.
    fn y(self, per_mille: u64) -> f64 {
        let pm = per_mille.clamp(self.floor, 1000);
        TOP + (1000 - pm) as f64 / (1000 - self.floor) as f64 * self.plot_height()
    }
}

/// A series' value on one day, as (per mille, numerator, denominator); a
/// missing point or one with no denominator is no data.
fn point(series: &Series, day: usize) -> Option<(u64, u64, u64)> {
    let (n, d) = series.points.get(day).copied().flatten()?;
    per_mille(n, d).map(|pm| (pm, n, d))
}

/// Coordinates with one decimal: precise enough on any screen, and short.
fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// One chart in its figure: caption, SVG, legend.
fn figure(out: &mut String, chart: &Chart) {
    let frame = Frame::new(chart);
    let _ = write!(out, "<figure>\n<figcaption>{}", escape(&chart.title));
    if frame.floor > 0 {
        let _ = write!(out, " <span class=\"note\">(y axis from {}%)</span>", frame.floor / 10);
    }
    out.push_str("</figcaption>\n");
    let _ = writeln!(
        out,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {VIEW_W} {VIEW_H}\" \
         width=\"100%\" role=\"img\" aria-label=\"{}\">",
        escape(&chart.title)
    );
    grid(out, frame);
    day_labels(out, frame, &chart.days);
    if chart.series.iter().all(|s| (0..frame.days).all(|i| point(s, i).is_none())) {
        let (x, y) = (num(LEFT + frame.plot_width() / 2.0), num(TOP + frame.plot_height() / 2.0));
        let _ = writeln!(out, "<text class=\"empty\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">no data</text>");
    }
    for (index, series) in chart.series.iter().enumerate() {
        lines(out, frame, &chart.days, index, series);
    }
    out.push_str("</svg>\n");
    legend(out, &chart.series);
    out.push_str("</figure>\n");
}

/// Horizontal gridlines with their percentages; the bottom one is the x
/// axis and is drawn darker.
fn grid(out: &mut String, frame: Frame) {
    out.push_str("<g class=\"grid\">\n");
    let (x1, x2) = (num(LEFT), num(LEFT + frame.plot_width()));
    let mut pm = frame.floor;
    while pm <= 1000 {
        let y = num(frame.y(pm));
        let class = if pm == frame.floor { " class=\"base\"" } else { "" };
        let _ = writeln!(
            out,
            "<line{class} x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\"/>\
             <text x=\"{}\" y=\"{y}\" dy=\"0.32em\" text-anchor=\"end\">{}%</text>",
            num(LEFT - 6.0),
            pm / 10
        );
        pm += frame.step;
    }
    out.push_str("</g>\n");
}

/// The estimated width of a label in view units at the widest font: wide
/// (CJK) characters take a full em, others at most about two thirds (a
/// digit in common sans fonts).
fn text_width(text: &str) -> f64 {
    text.chars().map(|c| if c.len_utf8() >= 3 { 1.0 } else { 0.64 }).sum::<f64>() * WIDEST_FONT
}

/// Every how many days a label fits without touching its neighbour.
fn label_step(frame: Frame, days: &[String]) -> usize {
    let widest = days.iter().map(|d| text_width(d)).fold(0.0, f64::max) + LABEL_GAP;
    ((widest / frame.spacing()).ceil() as usize).max(1)
}

/// Day labels under the axis, thinned when there are too many to fit, with
/// a tick at every day. A label that would run off the chart's edge is
/// anchored at that edge instead of centred.
fn day_labels(out: &mut String, frame: Frame, days: &[String]) {
    out.push_str("<g class=\"grid\">\n");
    let base = frame.y(frame.floor);
    let step = label_step(frame, days);
    for (i, day) in days.iter().enumerate() {
        let x = frame.x(i);
        let _ = write!(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>", num(x), num(base), num(base + 4.0));
        if i % step != 0 {
            out.push('\n');
            continue;
        }
        let half = text_width(day) / 2.0;
        let anchor = if x - half < 0.0 {
            "start"
        } else if x + half > VIEW_W {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            num(x),
            num(base + 20.0),
            escape(day)
        );
    }
    out.push_str("</g>\n");
}

/// A series' colour and dash pattern, by its position in the chart.
fn stroke(index: usize) -> (&'static str, &'static str) {
    (PALETTE[index % PALETTE.len()], DASHES[(index / PALETTE.len()) % DASHES.len()])
}

/// The stretches of consecutive days with data; a day without data ends a
/// stretch, so that the line breaks there instead of falling to zero.
fn runs(frame: Frame, series: &Series) -> Vec<Vec<usize>> {
    let mut runs = vec![Vec::new()];
    for day in 0..frame.days {
        if point(series, day).is_some() {
            runs.last_mut().expect("runs is never empty").push(day);
        } else if !runs.last().expect("runs is never empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

/// One series: a polyline per stretch of two days or more (a lone day is a
/// dot), then a dot per day with its tooltip, drawn last so dots sit on top.
fn lines(out: &mut String, frame: Frame, days: &[String], index: usize, series: &Series) {
    let (colour, dash) = stroke(index);
    let dash = if dash.is_empty() { String::new() } else { format!(" stroke-dasharray=\"{dash}\"") };
    out.push_str("<g class=\"series\">\n");
    for run in runs(frame, series).iter().filter(|run| run.len() >= 2) {
        let points: Vec<String> = run
            .iter()
            .filter_map(|&day| {
                point(series, day).map(|(pm, _, _)| format!("{},{}", num(frame.x(day)), num(frame.y(pm))))
            })
            .collect();
        let _ = writeln!(out, "<polyline points=\"{}\" stroke=\"{colour}\"{dash}/>", points.join(" "));
    }
    for (day, label) in days.iter().enumerate() {
        let Some((pm, n, d)) = point(series, day) else { continue };
        let tip = format!("{} {}: {} ({n}/{d})", series.label, label, percent(n, d));
        let _ = writeln!(
            out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{colour}\"><title>{}</title></circle>",
            num(frame.x(day)),
            num(frame.y(pm)),
            escape(&tip)
        );
    }
    out.push_str("</g>\n");
}

/// The legend, in HTML so that it wraps on a narrow screen; each swatch is
/// a short stroke drawn exactly like its line.
fn legend(out: &mut String, series: &[Series]) {
    if series.is_empty() {
        return;
    }
    out.push_str("<ul class=\"legend\">\n");
    for (index, s) in series.iter().enumerate() {
        let (colour, dash) = stroke(index);
        let dash = if dash.is_empty() { String::new() } else { format!(" stroke-dasharray=\"{dash}\"") };
        let _ = writeln!(
            out,
            "<li><svg width=\"24\" height=\"10\" viewBox=\"0 0 24 10\" aria-hidden=\"true\">\
             <line x1=\"1\" y1=\"5\" x2=\"23\" y2=\"5\" stroke=\"{colour}\" stroke-width=\"2.5\"{dash}/>\
             <circle cx=\"12\" cy=\"5\" r=\"3\" fill=\"{colour}\"/></svg>{}</li>",
            escape(&s.label)
        );
    }
    out.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREETS: [&str; 8] =
        ["中华街道", "寸金街道", "民主街道", "中山街道", "沙湾街道", "调顺街道", "南桥街道", "北桥街道"];

    fn days(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("11-{:02}", 1 + i)).collect()
    }

    fn chart(series: Vec<Series>, day_count: usize) -> Chart {
        Chart { title: "resolved".into(), days: days(day_count), series }
    }

    fn report(rows: Vec<TableRow>, charts: Vec<Chart>) -> Report {
        Report {
            title: "赤坎区".into(),
            subtitle: "7 days".into(),
            columns: vec!["accepted".into(), "resolved".into()],
            rows,
            charts,
        }
    }

    /// A deterministic district-shaped sample: 8 streets over 7 days, with a
    /// day of no data, a gap, and a row with nothing counted.
    fn sample() -> Report {
        let day_names: Vec<String> = (23..30).map(|d| format!("11-{d}")).collect();
        let rows = STREETS
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let t = 90 + 7 * i as u64;
                let rates =
                    if i == 7 { vec![(0, 0); 6] } else { (0..6).map(|j| (t - (i as u64 + j) % 9, t)).collect() };
                TableRow { place: (*s).into(), tickets: if i == 7 { 0 } else { t }, rates }
            })
            .chain(std::iter::once(TableRow {
                place: "赤坎区 (all)".into(), tickets: 814, rates: vec![(771, 814); 6]
            }))
            .collect();
        let series = |spread: u64| -> Vec<Series> {
            STREETS
                .iter()
                .enumerate()
                .map(|(i, s)| Series {
                    label: (*s).into(),
                    points: (0..7u64)
                        .map(|d| {
                            let total = 12 + (i as u64 * 3 + d * 5) % 9;
                            let missing = (i as u64 * 7 + d * 3) % spread;
                            (!(i == 3 && d == 4)).then(|| (total - missing.min(total), total))
                        })
                        .collect(),
                })
                .collect()
        };
        Report {
            title: "赤坎区 (440802) closed-loop rates".into(),
            subtitle: "tickets ordered 11-23 to 11-29, as of 2026-11-29T10:35:00.000Z".into(),
            columns: ["accepted", "resolved", "on time", "satisfied", "in-grid", "closed"].map(String::from).to_vec(),
            rows,
            charts: vec![
                Chart {
                    title: "on time (按期办结率) by street, per day".into(),
                    days: day_names.clone(),
                    series: series(4),
                },
                Chart { title: "accepted (受理率) by street, per day".into(), days: day_names, series: series(11) },
            ],
        }
    }

    #[test]
    fn escape_replaces_every_special_character() {
        assert_eq!(escape(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(escape("中华街道"), "中华街道");
    }

    #[test]
    fn caller_text_is_escaped_everywhere_it_lands() {
        let evil = "<script>x</script>\"'&";
        let mut r = report(
            vec![TableRow { place: evil.into(), tickets: 1, rates: vec![(1, 1)] }],
            vec![Chart {
                title: evil.into(),
                days: vec![evil.into(), "d2".into()],
                series: vec![Series { label: evil.into(), points: vec![Some((1, 2)), Some((1, 1))] }],
            }],
        );
        r.title = evil.into();
        r.subtitle = evil.into();
        r.columns = vec![evil.into()];
        let html = render(&r);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("\"'&"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;&quot;&#39;&amp;"));
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
    }

    #[test]
    fn rate_cells_show_the_percentage_with_the_fraction_as_tooltip() {
        let html = render(&report(
            vec![TableRow { place: "中华街道".into(), tickets: 75, rates: vec![(73, 75), (2, 3)] }],
            vec![],
        ));
        assert!(html.contains("<td title=\"73/75\">97.3%</td>"), "{html}");
        assert!(html.contains("<td title=\"2/3\">66.7%</td>"), "{html}");
    }

    #[test]
    fn a_zero_denominator_is_no_data_never_a_percentage() {
        assert_eq!(percent(0, 0), "no data");
        let html =
            render(&report(vec![TableRow { place: "北桥街道".into(), tickets: 0, rates: vec![(0, 0)] }], vec![]));
        let row = html.lines().find(|l| l.contains("北桥街道")).expect("the row is rendered");
        assert_eq!(row.matches("no data").count(), 2, "the zero rate and the missing one: {row}");
        assert!(!row.contains('%'), "{row}");
    }

    #[test]
    fn a_chart_with_no_data_says_so_and_draws_nothing() {
        let s = Series { label: "中华街道".into(), points: vec![None, Some((0, 0)), None] };
        let html = render(&report(vec![], vec![chart(vec![s], 3)]));
        assert!(html.contains(">no data</text>"), "{html}");
        assert!(!html.contains("<polyline") && !html.contains("<title>中华街道"), "{html}");
    }

    #[test]
    fn a_gap_breaks_the_line_into_two_polylines() {
        let points = vec![Some((9, 10)), Some((8, 10)), None, Some((7, 10)), Some((10, 10))];
        let html = render(&report(vec![], vec![chart(vec![Series { label: "寸金街道".into(), points }], 5)]));
        assert_eq!(html.matches("<polyline").count(), 2, "{html}");
        assert_eq!(html.matches("<title>寸金街道").count(), 4, "one dot per day with data, none at zero");
    }

    #[test]
    fn a_zero_denominator_day_is_a_gap_too() {
        let points = vec![Some((9, 10)), Some((8, 10)), Some((0, 0)), Some((7, 10)), Some((10, 10))];
        let html = render(&report(vec![], vec![chart(vec![Series { label: "s".into(), points }], 5)]));
        assert_eq!(html.matches("<polyline").count(), 2, "{html}");
    }

    #[test]
    fn points_carry_a_tooltip_with_label_day_rate_and_fraction() {
        let s = Series { label: "中华街道".into(), points: vec![Some((73, 75))] };
        let html = render(&report(vec![], vec![chart(vec![s], 1)]));
        assert!(html.contains("<title>中华街道 11-01: 97.3% (73/75)</title>"), "{html}");
    }

    #[test]
    fn the_y_axis_zooms_to_50_only_when_every_value_is_at_least_50() {
        let high = Series { label: "a".into(), points: vec![Some((1, 2)), Some((1, 1))] };
        let html = render(&report(vec![], vec![chart(vec![high.clone()], 2)]));
        assert!(html.contains(">50%</text>") && html.contains(">60%</text>") && !html.contains(">25%</text>"));
        assert!(html.contains("(y axis from 50%)"));
        let low = Series { label: "b".into(), points: vec![Some((49, 100)), None] };
        let html = render(&report(vec![], vec![chart(vec![high, low], 2)]));
        for label in ["0%", "25%", "50%", "75%", "100%"] {
            assert!(html.contains(&format!(">{label}</text>")), "{label}");
        }
        assert!(!html.contains("y axis from"));
    }

    #[test]
    fn day_labels_are_thinned_when_many() {
        let html = render(&report(vec![], vec![chart(vec![], 7)]));
        assert_eq!(html.matches(">11-").count(), 7);
        let html = render(&report(vec![], vec![chart(vec![], 30)]));
        let shown = html.matches(">11-").count();
        assert!((2..=10).contains(&shown), "{shown} of 30 labels shown");
        assert!(html.contains(">11-01</text>"), "the first day is always labelled");
    }

    #[test]
    fn series_get_distinct_styles() {
        let styles: Vec<_> = (0..30).map(stroke).collect();
        for (i, a) in styles.iter().enumerate() {
            assert!(!styles[i + 1..].contains(a), "series {i} looks like a later one");
        }
        let colours: Vec<_> = (0..9).map(|i| stroke(i).0).collect();
        assert!(colours.iter().enumerate().all(|(i, c)| !colours[i + 1..].contains(c)), "9 distinct colours");
    }

    #[test]
    fn the_page_is_self_contained_utf8_and_scales() {
        let html = render(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("viewBox=\"0 0 440 250\" width=\"100%\""));
        assert!(html.contains("中华街道"));
        let rest = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!rest.contains("http://") && !rest.contains("https://"), "no external request");
        assert!(!rest.contains("<script") && !rest.contains("<link") && !rest.contains("url("));
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(render(&sample()), render(&sample()));
    }

    #[test]
    fn an_empty_report_still_renders_a_page() {
        let html = render(&Report {
            title: String::new(),
            subtitle: String::new(),
            columns: vec![],
            rows: vec![],
            charts: vec![chart(vec![], 0)],
        });
        assert!(html.ends_with("</html>\n"));
    }
}
