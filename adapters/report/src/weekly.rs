//! The weekly pages: the ranking (通报) of departments, streets or
//! communities, its CSV, and a grid head's weekly report (周报告).
//!
//! Each is a fragment (a `main` element) the HTTP server places in its page
//! shell, and [`standalone`] wraps one in a whole page with [`STYLE_CSS`]
//! inline for a file. The stylesheet carries the print rules: A4 portrait,
//! 15 mm margins, no screen-only controls, tables that do not split a row.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::chart::{Chart, Series, bar_figure};
use crate::{Text, percent};

/// The pages' stylesheet, screen and print (A4).
pub const STYLE_CSS: &str = include_str!("../assets/weekly.css");

/// A rate as (numerator, denominator).
pub type Ratio = (u64, u64);

/// A ranking, ready to show.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// The heading: `2026-W49 按期办结与满意度通报`.
    pub title: String,
    /// What is ranked, in words: 部门 / 街道 / 社区.
    pub ranked: String,
    /// The week, `2026-W49`, and its dates in words.
    pub week: String,
    /// When the rates were evaluated, in local time.
    pub as_of: String,
    /// Best first.
    pub rows: Vec<RankLine>,
}

/// One ranked department or place.
#[derive(Debug, Clone)]
pub struct RankLine {
    /// 1 for the best; ties share a rank.
    pub rank: u32,
    /// The department's or place's code.
    pub key: String,
    /// Its name (the code when the world names none).
    pub name: String,
    /// The week's tickets.
    pub submitted: u64,
    /// 按期办结率.
    pub on_time: Ratio,
    /// 满意率.
    pub satisfaction: Ratio,
    /// 办结率.
    pub completion: Ratio,
}

/// The ranking as a fragment: a table and a bar chart of both rates.
pub fn ranking_fragment(r: &Ranking) -> Markup {
    let chart = Chart {
        title: format!("{} · 按期办结率 / 满意率", r.ranked),
        labels: r.rows.iter().map(|l| l.name.clone()).collect(),
        series: vec![
            Series {
                label: "按期办结率 on time".into(), points: r.rows.iter().map(|l| some(l.on_time)).collect()
            },
            Series {
                label: "满意率 satisfaction".into(),
                points: r.rows.iter().map(|l| some(l.satisfaction)).collect(),
            },
        ],
    };
    html! {
        main.weekly data-test="ranking" {
            header.sheet-head {
                h1 { (Text(&r.title)) }
                p { (Text(&r.week)) " · " (Text(&r.ranked)) " · 截至 as of " (Text(&r.as_of)) }
            }
            table.rank {
                thead { tr {
                    th { "名次" } th { "名称 Name" } th { "编码 Code" } th.n { "件数 Tickets" }
                    th.n { "按期办结率 On time" } th.n { "满意率 Satisfied" } th.n { "办结率 Completed" }
                } }
                tbody {
                    @for l in &r.rows {
                        "\n"
                        tr data-test="rank-row" data-key=(l.key) {
                            td.n { (l.rank) } td { (Text(&l.name)) } td.code { (Text(&l.key)) } td.n { (l.submitted) }
                            td.n { (ratio(l.on_time)) } td.n { (ratio(l.satisfaction)) } td.n { (ratio(l.completion)) }
                        }
                    }
                }
            }
            @if r.rows.is_empty() { p.empty { "本周无工单 · No tickets this week" } }
            div.chart-box { (bar_figure(&chart)) }
            p.note { "按期办结率 = 按期办结 ÷ 应结案；满意率 = 满意与基本满意 ÷ 已评价。无数据者排在最后。" }
        }
    }
}

fn some(r: Ratio) -> Option<Ratio> {
    (r.1 > 0).then_some(r)
}

fn ratio(r: Ratio) -> String {
    match r.1 {
        0 => "无数据 no data".into(),
        _ => format!("{} ({}/{})", percent(r.0, r.1), r.0, r.1),
    }
}

/// The ranking as CSV for a spreadsheet: UTF-8 with a byte-order mark (so
/// Excel in a Chinese locale reads it as UTF-8), CRLF line ends, every
/// field quoted, rates as numerator, denominator and percentage.
pub fn ranking_csv(r: &Ranking) -> String {
    let mut out = String::from("\u{feff}");
    let header = [
        "rank 名次",
        "code 编码",
        "name 名称",
        "tickets 件数",
        "on_time 按期办结",
        "due 应结案",
        "on_time_rate 按期办结率",
        "satisfied 满意",
        "rated 已评价",
        "satisfaction_rate 满意率",
        "completed 办结",
        "completion_rate 办结率",
    ];
    push_row(&mut out, header.iter().map(|s| s.to_string()));
    for l in &r.rows {
        let rate = |x: Ratio| if x.1 == 0 { String::new() } else { percent(x.0, x.1) };
        push_row(
            &mut out,
            [
                l.rank.to_string(),
                l.key.clone(),
                l.name.clone(),
                l.submitted.to_string(),
                l.on_time.0.to_string(),
                l.on_time.1.to_string(),
                rate(l.on_time),
                l.satisfaction.0.to_string(),
                l.satisfaction.1.to_string(),
                rate(l.satisfaction),
                l.completion.0.to_string(),
                rate(l.completion),
            ]
            .into_iter(),
        );
    }
    out
}

fn push_row(out: &mut String, fields: impl Iterator<Item = String>) {
    let fields: Vec<String> = fields.map(|f| csv_field(&f)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// One quoted field. A field a spreadsheet would read as a formula (it
/// starts with `=`, `+`, `-`, `@`) gets a leading apostrophe, so a name
/// typed into the world can never run in the reader's spreadsheet.
fn csv_field(text: &str) -> String {
    let guarded = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// A grid's week, ready to show.
#[derive(Debug, Clone, Default)]
pub struct WeekSheet {
    /// The grid's code.
    pub grid: String,
    /// The grid's name, and its community's.
    pub place: String,
    /// `2026-W49`.
    pub week: String,
    /// The week's dates in words (`2026-11-30 — 2026-12-06`).
    pub dates: String,
    /// When the figures were taken, local time.
    pub as_of: String,
    /// The rates, labelled.
    pub rates: Vec<(String, Ratio)>,
    /// Tickets by where they stood, labelled.
    pub by_status: Vec<(String, u64)>,
    /// Tickets by category, labelled.
    pub by_category: Vec<(String, u64)>,
    /// Patrols, visits, found on patrol; `patrols_recorded` false when the
    /// log holds no patrol records at all.
    pub patrols: (u64, u64, u64),
    /// Whether the log records patrols.
    pub patrols_recorded: bool,
    /// Overdue matters (ticket ids).
    pub overdue: Vec<String>,
    /// Escalated matters (ticket ids).
    pub escalated: Vec<String>,
    /// Volunteers: id, services, minutes, points.
    pub volunteers: Vec<(String, u32, u64, u64)>,
    /// The submitted report, if any: revision, who, when, narrative.
    pub submitted: Option<(u32, String, String, String)>,
}

/// A grid's week as a fragment: the figures, then the head's narrative
/// (or that none was submitted yet).
pub fn weekly_fragment(w: &WeekSheet) -> Markup {
    html! {
        main.weekly data-test="weekly" data-grid=(w.grid) data-week=(w.week) {
            header.sheet-head {
                h1 { "网格长周报告 · Grid head's weekly report" }
                p { (Text(&w.place)) " · " (Text(&w.grid)) }
                p { (Text(&w.week)) " (" (Text(&w.dates)) ") · 数据截至 figures as of " (Text(&w.as_of)) }
            }
            section.block { h2 { "指标 Rates" } (pairs_ratio(&w.rates)) }
            div.cols {
                section.block { h2 { "工单状态 Tickets by status" } (pairs(&w.by_status)) }
                section.block { h2 { "工单类别 By category" } (pairs(&w.by_category)) }
            }
            section.block data-test="patrols" {
                h2 { "巡查走访 Patrols and visits" }
                table.kv { tbody {
                    tr { th { "巡查次数 Patrols" } td.n { (w.patrols.0) } }
                    tr { th { "走访打卡 Visits" } td.n { (w.patrols.1) } }
                    tr { th { "巡查发现 Found on patrol" } td.n { (w.patrols.2) } }
                } }
                @if !w.patrols_recorded { p.note { "本周本网格无巡查记录 · No patrols recorded in this grid this week." } }
            }
            div.cols {
                section.block data-test="overdue" { h2 { "超期事项 Overdue" } (ids(&w.overdue)) }
                section.block data-test="escalated" { h2 { "上报事项 Escalated" } (ids(&w.escalated)) }
            }
            section.block data-test="volunteers" {
                h2 { "志愿服务与积分 Volunteers' service and points" }
                @if w.volunteers.is_empty() { p.empty { "本周无 · None this week" } }
                @else {
                    table { thead { tr { th { "志愿者 Volunteer" } th.n { "服务 Services" } th.n { "分钟 Minutes" } th.n { "积分 Points" } } }
                        tbody { @for (id, services, minutes, points) in &w.volunteers {
                            tr { td.code { (Text(id)) } td.n { (services) } td.n { (minutes) } td.n { (points) } }
                        } } }
                }
            }
            section.block.narrative data-test="narrative" {
                h2 { "网格长说明 The head's narrative" }
                @match &w.submitted {
                    Some((revision, by, at, narrative)) => {
                        p.meta { "第 " (revision) " 版 revision · " (Text(by)) " · " (Text(at)) }
                        p.text data-test="narrative-text" { (Text(narrative)) }
                    }
                    None => { p.empty data-test="not-submitted" { "尚未提交 · Not submitted yet" } }
                }
            }
        }
    }
}

fn pairs(rows: &[(String, u64)]) -> Markup {
    html! {
        @if rows.is_empty() { p.empty { "本周无 · None this week" } }
        @else { table.kv { tbody { @for (label, n) in rows { tr { th { (Text(label)) } td.n { (n) } } } } } }
    }
}

fn pairs_ratio(rows: &[(String, Ratio)]) -> Markup {
    html! { table.kv { tbody { @for (label, r) in rows { tr { th { (Text(label)) } td.n { (ratio(*r)) } } } } } }
}

fn ids(list: &[String]) -> Markup {
    html! {
        @if list.is_empty() { p.empty { "无 · None" } }
        @else { ul.ids { @for id in list { li { (Text(id)) } } } }
    }
}

/// A fragment as a whole page, with the stylesheet inline: for a file
/// (`gridloop report weekly --html FILE`).
pub fn standalone(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (Text(title)) }
                style { (PreEscaped(crate::chart::CSS)) (PreEscaped(STYLE_CSS)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking() -> Ranking {
        Ranking {
            title: "2026-W49 通报".into(),
            ranked: "社区".into(),
            week: "2026-W49".into(),
            as_of: "2026-12-07 08:00".into(),
            rows: vec![RankLine {
                rank: 1,
                key: "440802-001-001".into(),
                name: "=HYPERLINK(\"x\") <b>".into(),
                submitted: 3,
                on_time: (2, 3),
                satisfaction: (0, 0),
                completion: (3, 3),
            }],
        }
    }

    #[test]
    fn csv_has_a_bom_crlf_quoted_fields_and_no_formulas() {
        let csv = ranking_csv(&ranking());
        assert!(csv.starts_with('\u{feff}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(lines.len(), 3, "header, one row, the final line end");
        assert_eq!(
            lines[1],
            "\"1\",\"440802-001-001\",\"'=HYPERLINK(\"\"x\"\") <b>\",\"3\",\"2\",\"3\",\"66.7%\",\"0\",\"0\",\"\",\"3\",\"100.0%\""
        );
    }

    #[test]
    fn pages_escape_names_and_say_no_data() {
        let html = ranking_fragment(&ranking()).into_string();
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
        assert!(html.contains("无数据 no data"));
        let page = standalone("t", weekly_fragment(&WeekSheet { grid: "g".into(), ..WeekSheet::default() }));
        assert!(page.contains("@page{size:A4 portrait"));
        assert!(page.contains("not-submitted"));
    }
}
