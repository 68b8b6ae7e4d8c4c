//! Charts of rates over labelled points (days), as SVG figures built with
//! maud, for any page: [`line_figure`] draws one line per series,
//! [`bar_figure`] one bar per series and point.
//!
//! Each figure is a caption, an SVG scaled by its `viewBox` to the width of
//! its container, and an HTML legend that wraps on a narrow screen. Every
//! point has a tooltip (`中华街道 11-23: 97.3% (73/75)`); a point with no
//! data breaks a line rather than dragging it to zero, and draws no bar.
//! The CSS the figures expect is [`CSS`].

use maud::{Markup, html};

use crate::{Text, per_mille, percent};

/// One series of a chart: a label (a street's name) and one value per
/// point as (numerator, denominator); `None` = no data there.
#[derive(Debug, Clone)]
pub struct Series {
    /// What the legend calls the series (a street's name).
    pub label: String,
    /// One value per x label, as a rate's numerator and denominator, so the
    /// chart divides once and integers stay exact until then.
    pub points: Vec<Option<(u64, u64)>>,
}

/// One chart: a title, the labels of its points along the x axis (days),
/// and its series over those points.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The chart's heading.
    pub title: String,
    /// The x axis labels, one per point (days, weeks).
    pub labels: Vec<String>,
    /// The lines or bars drawn over those points.
    pub series: Vec<Series>,
}

/// The styles the figures need. The chart text grows on narrow screens
/// because the SVG is scaled down there.
pub const CSS: &str = "\
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
";

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
/// Space kept between two point labels, in view units.
const LABEL_GAP: f64 = 8.0;

/// Series colours, chosen to tell apart on white. Beyond ten series the
/// colours repeat with a dash pattern, so that no two lines look alike.
const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const DASHES: [&str; 3] = ["", "6 3", "2 3"];

/// The y axis: where it starts and how far apart its gridlines are, in per
/// mille. An axis from 50% is used only when every value is at least 50%,
/// because rates usually sit high and a full axis would flatten them. Bars
/// always start at 0%, since their length is what is read.
const AXES: [(u64, u64); 2] = [(500, 100), (0, 250)];

/// Where things go in one chart: the number of points and the y axis.
#[derive(Debug, Clone, Copy)]
struct Frame {
    points: usize,
    floor: u64,
    step: u64,
}

impl Frame {
    fn new(chart: &Chart, may_zoom: bool) -> Self {
        let lowest = chart
            .series
            .iter()
            .flat_map(|s| (0..chart.labels.len()).filter_map(|i| point(s, i)))
            .map(|(pm, _, _)| pm)
            .min();
        let full = AXES[AXES.len() - 1];
        let (floor, step) = match lowest {
            Some(low) if may_zoom => AXES.iter().copied().find(|(floor, _)| *floor <= low).unwrap_or(full),
            _ => full,
        };
        Frame { points: chart.labels.len(), floor, step }
    }

    fn plot_width(self) -> f64 {
        VIEW_W - LEFT - RIGHT
    }

    fn plot_height(self) -> f64 {
        VIEW_H - TOP - BOTTOM
    }

    /// The distance between two points; a single point gets the whole width.
    fn spacing(self) -> f64 {
        self.plot_width() / (self.points.max(2) - 1) as f64
    }

    /// A single point sits in the middle rather than on the axis.
    fn x(self, index: usize) -> f64 {
        if self.points == 1 { LEFT + self.plot_width() / 2.0 } else { LEFT + index as f64 * self.spacing() }
    }

    /// Values outside the axis (a rate above 100% from bad input) are drawn
    /// at its edge rather than outside the chart.
    fn y(self, per_mille: u64) -> f64 {
        let pm = per_mille.clamp(self.floor, 1000);
        TOP + (1000 - pm) as f64 / (1000 - self.floor) as f64 * self.plot_height()
    }
}

/// A series' value at one point, as (per mille, numerator, denominator); a
/// missing point or one with no denominator is no data.
fn point(series: &Series, index: usize) -> Option<(u64, u64, u64)> {
    let (n, d) = series.points.get(index).copied().flatten()?;
    per_mille(n, d).map(|pm| (pm, n, d))
}

/// Coordinates with one decimal: precise enough on any screen, and short.
fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// A line chart in its figure: caption, SVG, legend.
pub fn line_figure(chart: &Chart) -> Markup {
    let frame = Frame::new(chart, true);
    let series = html! {
        @for (index, s) in chart.series.iter().enumerate() { (lines(frame, &chart.labels, index, s)) }
    };
    figure(chart, frame, series)
}

/// A bar chart in its figure: per point, one bar per series side by side,
/// on an axis from 0%.
pub fn bar_figure(chart: &Chart) -> Markup {
    let frame = Frame::new(chart, false);
    let series = html! {
        @for (index, s) in chart.series.iter().enumerate() { (bars(frame, chart, index, s)) }
    };
    figure(chart, frame, series)
}

/// The figure around a chart's series: caption, axes, "no data" when
/// nothing was counted, the series, the legend.
fn figure(chart: &Chart, frame: Frame, series: Markup) -> Markup {
    let empty = chart.series.iter().all(|s| (0..frame.points).all(|i| point(s, i).is_none()));
    let (x, y) = (num(LEFT + frame.plot_width() / 2.0), num(TOP + frame.plot_height() / 2.0));
    html! {
        figure {
            "\n"
            figcaption {
                (Text(&chart.title))
                @if frame.floor > 0 { " " span class="note" { "(y axis from " (frame.floor / 10) "%)" } }
            }
            "\n"
            svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {VIEW_W} {VIEW_H}"))
                width="100%" role="img" aria-label=(Text(&chart.title)) {
                "\n"
                (grid(frame))
                (point_labels(frame, &chart.labels))
                @if empty { text class="empty" x=(x) y=(y) text-anchor="middle" { "no data" } "\n" }
                (series)
            }
            "\n"
            (legend(&chart.series))
        }
        "\n"
    }
}

/// Horizontal gridlines with their percentages; the bottom one is the x
/// axis and is drawn darker.
fn grid(frame: Frame) -> Markup {
    let (x1, x2) = (num(LEFT), num(LEFT + frame.plot_width()));
    let levels = (frame.floor..=1000).step_by(frame.step.max(1) as usize);
    html! {
        g class="grid" {
            "\n"
            @for pm in levels {
                @let y = num(frame.y(pm));
                line class=[(pm == frame.floor).then_some("base")] x1=(x1) y1=(y) x2=(x2) y2=(y) {}
                text x=(num(LEFT - 6.0)) y=(y) dy="0.32em" text-anchor="end" { (pm / 10) "%" }
                "\n"
            }
        }
        "\n"
    }
}

/// The estimated width of a label in view units at the widest font: wide
/// (CJK) characters take a full em, others at most about two thirds (a
/// digit in common sans fonts).
fn text_width(text: &str) -> f64 {
    text.chars().map(|c| if c.len_utf8() >= 3 { 1.0 } else { 0.64 }).sum::<f64>() * WIDEST_FONT
}

/// Every how many points a label fits without touching its neighbour.
fn label_step(frame: Frame, labels: &[String]) -> usize {
    let widest = labels.iter().map(|d| text_width(d)).fold(0.0, f64::max) + LABEL_GAP;
    ((widest / frame.spacing()).ceil() as usize).max(1)
}

/// Where a label centred at `x` is anchored: at the chart's edge when it
/// would run off it, in the middle otherwise.
fn anchor(x: f64, label: &str) -> &'static str {
    let half = text_width(label) / 2.0;
    if x - half < 0.0 {
        "start"
    } else if x + half > VIEW_W {
        "end"
    } else {
        "middle"
    }
}

/// Point labels under the axis, thinned when there are too many to fit,
/// with a tick at every point.
fn point_labels(frame: Frame, labels: &[String]) -> Markup {
    let base = frame.y(frame.floor);
    let step = label_step(frame, labels);
    html! {
        g class="grid" {
            "\n"
            @for (i, label) in labels.iter().enumerate() {
                @let x = frame.x(i);
                line x1=(num(x)) y1=(num(base)) x2=(num(x)) y2=(num(base + 4.0)) {}
                @if i % step == 0 {
                    text x=(num(x)) y=(num(base + 20.0)) text-anchor=(anchor(x, label)) { (Text(label)) }
                }
                "\n"
            }
        }
        "\n"
    }
}

/// A series' colour and dash pattern, by its position in the chart.
pub(crate) fn stroke(index: usize) -> (&'static str, Option<&'static str>) {
    let dash = DASHES[(index / PALETTE.len()) % DASHES.len()];
    (PALETTE[index % PALETTE.len()], Some(dash).filter(|d| !d.is_empty()))
}

/// The stretches of consecutive points with data; a point without data
/// ends a stretch, so that the line breaks there instead of falling to zero.
fn runs(frame: Frame, series: &Series) -> Vec<Vec<usize>> {
    let mut runs = vec![Vec::new()];
    for index in 0..frame.points {
        if point(series, index).is_some() {
            runs.last_mut().expect("runs is never empty").push(index);
        } else if !runs.last().expect("runs is never empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

/// The tooltip of a point: `中华街道 11-23: 97.3% (73/75)`.
fn tip(series: &Series, label: &str, n: u64, d: u64) -> String {
    format!("{} {}: {} ({n}/{d})", series.label, label, percent(n, d))
}

/// One series as a line: a polyline per stretch of two points or more (a
/// lone point is a dot), then a dot per point with its tooltip, drawn last
/// so dots sit on top.
fn lines(frame: Frame, labels: &[String], index: usize, series: &Series) -> Markup {
    let (colour, dash) = stroke(index);
    let polylines: Vec<String> = runs(frame, series)
        .iter()
        .filter(|run| run.len() >= 2)
        .map(|run| {
            let at =
                |&i: &usize| point(series, i).map(|(pm, _, _)| format!("{},{}", num(frame.x(i)), num(frame.y(pm))));
            run.iter().filter_map(at).collect::<Vec<_>>().join(" ")
        })
        .collect();
    html! {
        g class="series" {
            "\n"
            @for points in &polylines {
                polyline points=(points) stroke=(colour) stroke-dasharray=[dash] {}
                "\n"
            }
            @for (i, label) in labels.iter().enumerate() {
                @if let Some((pm, n, d)) = point(series, i) {
                    circle cx=(num(frame.x(i))) cy=(num(frame.y(pm))) r="3.5" fill=(colour) {
                        title { (Text(&tip(series, label, n, d))) }
                    }
                    "\n"
                }
            }
        }
        "\n"
    }
}

/// One series as bars: at each point with data, this series' slot of the
/// point's width, from the axis up to its value, with its tooltip.
fn bars(frame: Frame, chart: &Chart, index: usize, series: &Series) -> Markup {
    let (colour, _) = stroke(index);
    let slot = frame.spacing().min(frame.plot_width() / 2.0) * 0.8 / chart.series.len().max(1) as f64;
    let base = frame.y(frame.floor);
    html! {
        g class="series" {
            "\n"
            @for (i, label) in chart.labels.iter().enumerate() {
                @if let Some((pm, n, d)) = point(series, i) {
                    @let left = frame.x(i) - slot * chart.series.len() as f64 / 2.0 + slot * index as f64;
                    @let top = frame.y(pm);
                    rect x=(num(left)) y=(num(top)) width=(num(slot)) height=(num(base - top)) fill=(colour) {
                        title { (Text(&tip(series, label, n, d))) }
                    }
                    "\n"
                }
            }
        }
        "\n"
    }
}

/// The legend, in HTML so that it wraps on a narrow screen; each swatch is
/// a short stroke drawn exactly like its line.
fn legend(series: &[Series]) -> Markup {
    html! {
        @if !series.is_empty() {
            ul class="legend" {
                "\n"
                @for (index, s) in series.iter().enumerate() {
                    @let (colour, dash) = stroke(index);
                    li {
                        svg width="24" height="10" viewBox="0 0 24 10" aria-hidden="true" {
                            line x1="1" y1="5" x2="23" y2="5" stroke=(colour) stroke-width="2.5"
                                stroke-dasharray=[dash] {}
                            circle cx="12" cy="5" r="3" fill=(colour) {}
                        }
                        (Text(&s.label))
                    }
                    "\n"
                }
            }
            "\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: Vec<Series>) -> Chart {
        Chart { title: "on time".into(), labels: vec!["11-01".into(), "11-02".into(), "11-03".into()], series }
    }

    #[test]
    fn bars_stand_from_zero_with_a_tooltip_and_none_where_no_data() {
        let a = Series { label: "中华街道".into(), points: vec![Some((9, 10)), None, Some((0, 0))] };
        let b = Series { label: "寸金街道".into(), points: vec![Some((1, 2)), Some((3, 4)), Some((1, 1))] };
        let html = bar_figure(&chart(vec![a, b])).into_string();
        assert_eq!(html.matches("<rect").count(), 4, "one bar per point with data: {html}");
        assert!(html.contains("<title>中华街道 11-01: 90.0% (9/10)</title>"), "{html}");
        assert!(html.contains(">0%</text>") && !html.contains("y axis from"), "bars start at 0%: {html}");
        let base = num(Frame { points: 3, floor: 0, step: 250 }.y(0));
        let full = html.split("<rect").find(|r| r.contains("(1/1)")).expect("the full bar");
        assert!(full.contains(&format!("y=\"{}\"", num(TOP))), "100% reaches the top: {full}");
        assert!(full.contains(&format!("height=\"{}\"", num(VIEW_H - TOP - BOTTOM))), "down to {base}: {full}");
    }

    #[test]
    fn a_bar_chart_with_no_data_says_so() {
        let html = bar_figure(&chart(vec![Series { label: "s".into(), points: vec![None; 3] }])).into_string();
        assert!(html.contains(">no data</text>") && !html.contains("<rect"), "{html}");
    }
}
