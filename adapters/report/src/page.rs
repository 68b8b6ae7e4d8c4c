//! The closed-loop report: one self-contained page that a dispatcher or an
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
//! - one line chart per rate over the days ([`chart::line_figure`]).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::chart::{self, Chart};
use crate::{Text, percent};

/// One row of the rates table: a place and its rates, each as (numerator, denominator).
#[derive(Debug, Clone)]
pub struct TableRow {
    /// The place's name (a street, a community, the district).
    pub place: String,
    /// How many tickets the place had in the period.
    pub tickets: u64,
    /// One (numerator, denominator) per column of the table, in its order.
    pub rates: Vec<(u64, u64)>,
}

/// The whole page: a title, a subtitle, the rates table (with one column
/// name per rate) and the charts.
#[derive(Debug, Clone)]
pub struct Report {
    /// The page's title (the district and the period).
    pub title: String,
    /// The line under it (how the figures were made).
    pub subtitle: String,
    /// The rates' names, one per column of the table.
    pub columns: Vec<String>,
    /// The table's rows, one per place.
    pub rows: Vec<TableRow>,
    /// The charts under the table.
    pub charts: Vec<Chart>,
}

/// The page's own styles, before the charts'. The font list names system
/// fonts that carry Chinese glyphs on each platform, so street names render
/// without a web font. The chart grid fills columns of at least 500px even
/// when they stay empty, so that a lone chart keeps a readable size instead
/// of stretching across a wide screen.
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
";

/// What narrow screens change, last so that it wins.
const CSS_NARROW: &str =
    "@media (max-width:640px){main{padding:10px}body{font-size:14px}.chart text{font-size:16px}}\n";

/// A self-contained HTML page: no external requests (no CDN, no web fonts,
/// no scripts needed), inline CSS, inline SVG.
pub fn render(report: &Report) -> String {
    let page = html! {
        (DOCTYPE) "\n"
        // `lang="zh-CN"` makes browsers pick Simplified Chinese glyph forms
        // for the street names; the English labels are unaffected.
        html lang="zh-CN" {
            "\n"
            (head(&report.title))
            body {
                "\n"
                main {
                    "\n"
                    h1 { (Text(&report.title)) } "\n"
                    @if !report.subtitle.is_empty() { p class="sub" { (Text(&report.subtitle)) } "\n" }
                    (table(&report.columns, &report.rows))
                    @if !report.charts.is_empty() {
                        section class="charts" {
                            "\n"
                            @for chart in &report.charts { (chart::line_figure(chart)) }
                        }
                        "\n"
                    }
                }
                "\n"
            }
            "\n"
        }
        "\n"
    };
    page.into_string()
}

/// The document head: the page's styles, then the charts'.
fn head(title: &str) -> Markup {
    html! {
        head {
            "\n"
            meta charset="utf-8"; "\n"
            meta name="viewport" content="width=device-width, initial-scale=1"; "\n"
            title { (Text(title)) } "\n"
            style { "\n" (PreEscaped(CSS)) (PreEscaped(chart::CSS)) (PreEscaped(CSS_NARROW)) }
            "\n"
        }
        "\n"
    }
}

/// The table, wrapped so that a phone scrolls it sideways instead of
/// squeezing the numbers.
fn table(columns: &[String], rows: &[TableRow]) -> Markup {
    html! {
        div class="table-wrap" {
            "\n"
            table {
                "\n"
                thead {
                    tr {
                        th scope="col" { "place" }
                        th scope="col" { "tickets" }
                        @for column in columns { th scope="col" { (Text(column)) } }
                    }
                }
                "\n"
                tbody {
                    "\n"
                    @for row in rows { (table_row(row, columns.len())) }
                }
                "\n"
            }
            "\n"
        }
        "\n"
    }
}

/// One row with exactly one cell per column, so that a row with a rate
/// missing still lines up; the missing rate shows as "no data".
fn table_row(row: &TableRow, width: usize) -> Markup {
    html! {
        tr {
            th scope="row" { (Text(&row.place)) }
            td { (row.tickets) }
            @for i in 0..width {
                @let (n, d) = row.rates.get(i).copied().unwrap_or((0, 0));
                td class=[(d == 0).then_some("nodata")] title=(format!("{n}/{d}")) { (percent(n, d)) }
            }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{Chart, Series};
    use crate::percent;

    const STREETS: [&str; 8] =
        ["中华街道", "寸金街道", "民主街道", "中山街道", "沙湾街道", "调顺街道", "南桥街道", "北桥街道"];

    fn days(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("11-{:02}", 1 + i)).collect()
    }

    fn chart(series: Vec<Series>, day_count: usize) -> Chart {
        Chart { title: "resolved".into(), labels: days(day_count), series }
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
                    labels: day_names.clone(),
                    series: series(4),
                },
                Chart {
                    title: "accepted (受理率) by street, per day".into(), labels: day_names, series: series(11)
                },
            ],
        }
    }

    #[test]
    fn caller_text_is_escaped_everywhere_it_lands() {
        let evil = "<script>x</script>\"'&";
        let mut r = report(
            vec![TableRow { place: evil.into(), tickets: 1, rates: vec![(1, 1)] }],
            vec![Chart {
                title: evil.into(),
                labels: vec![evil.into(), "d2".into()],
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
        let styles: Vec<_> = (0..30).map(crate::chart::stroke).collect();
        for (i, a) in styles.iter().enumerate() {
            assert!(!styles[i + 1..].contains(a), "series {i} looks like a later one");
        }
        let colours: Vec<_> = (0..9).map(|i| crate::chart::stroke(i).0).collect();
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
