//! The grammar, table-driven: each row is a message and what it must parse to.

use gridloop_chatbot::grammar::{Lang, language};
use gridloop_chatbot::{ChatCommand as C, Parsed, parse};
use gridloop_engine::ids::TicketId;

fn t(n: u64) -> TicketId {
    TicketId::from_number(n)
}

fn cmd(c: C) -> Parsed {
    Parsed::Command(c)
}

fn done(n: u64, minutes: u32, result: &str) -> Parsed {
    cmd(C::Done { ticket: t(n), minutes, result: result.into() })
}

#[test]
fn the_table() {
    let long_reason = "很".repeat(201);
    let max_reason = "很".repeat(200);
    let too_long = format!("accept T-1 {}", " ".repeat(500));
    let long_decline = format!("decline 1 {long_reason}");
    let rows: Vec<(&str, Parsed)> = vec![
        // Chinese, as in the issue.
        ("接单 T-1024", cmd(C::Accept(t(1024)))),
        ("拒绝 T-1024 原因", cmd(C::Decline(t(1024), "原因".into()))),
        ("到达 T-1024", cmd(C::Start(t(1024)))),
        ("完成 T-1024 2小时 已修好", done(1024, 120, "已修好")),
        ("我的", cmd(C::Mine)),
        ("积分", cmd(C::Points)),
        ("帮助", cmd(C::Help)),
        ("绑定 123456", cmd(C::Link("123456".into()))),
        // English, as in the issue.
        ("accept T-1024", cmd(C::Accept(t(1024)))),
        ("decline T-1024 too far away", cmd(C::Decline(t(1024), "too far away".into()))),
        ("start T-1024", cmd(C::Start(t(1024)))),
        ("done T-1024 2h fixed", done(1024, 120, "fixed")),
        ("mine", cmd(C::Mine)),
        ("points", cmd(C::Points)),
        ("help", cmd(C::Help)),
        ("link 123456", cmd(C::Link("123456".into()))),
        // Case, spacing, prefixes.
        ("ACCEPT t-1024", cmd(C::Accept(t(1024)))),
        ("  Accept    T-1024   ", cmd(C::Accept(t(1024)))),
        ("接单 1024", cmd(C::Accept(t(1024)))),
        ("accept T1024", cmd(C::Accept(t(1024)))),
        ("接单1024", cmd(C::Accept(t(1024)))),
        ("/accept 7", cmd(C::Accept(t(7)))),
        ("decline 5", cmd(C::Decline(t(5), String::new()))),
        ("拒绝 5   人在外地  ", cmd(C::Decline(t(5), "人在外地".into()))),
        // Full-width letters, digits, space and hyphen.
        ("ＡＣＣＥＰＴ　Ｔ－１０２４", cmd(C::Accept(t(1024)))),
        ("接单　Ｔ－１０２４", cmd(C::Accept(t(1024)))),
        ("绑定　１２３４５６", cmd(C::Link("123456".into()))),
        ("完成　Ｔ－１０２４　２小时　已修好", done(1024, 120, "已修好")),
        ("accept T−1024", cmd(C::Accept(t(1024)))),
        // Free text keeps what was typed (full-width stays full-width).
        ("done 9 30m Ｆｉｘｅｄ the tap", done(9, 30, "Ｆｉｘｅｄ the tap")),
        // Durations.
        ("done T-1024 90m fixed", done(1024, 90, "fixed")),
        ("done T-1024 90min fixed", done(1024, 90, "fixed")),
        ("完成 T-1024 90分钟 已修好", done(1024, 90, "已修好")),
        ("完成 T-1024 2小时30分 已修好", done(1024, 150, "已修好")),
        ("完成 T-1024 2小时30分钟已修好", done(1024, 150, "已修好")),
        ("done T-1024 2h30m fixed", done(1024, 150, "fixed")),
        ("done T-1024 2h30 fixed", done(1024, 150, "fixed")),
        ("done T-1024 2h 30m fixed", done(1024, 150, "fixed")),
        ("完成 T-1024 2小时 30分钟 已修好", done(1024, 150, "已修好")),
        ("done T-1024 2h 3 taps fixed", done(1024, 120, "3 taps fixed")),
        ("done T-1024 2h 30mx", done(1024, 120, "30mx")),
        ("done T-1024 2hours fixed", done(1024, 120, "fixed")),
        ("DONE T-1024 2H Fixed", done(1024, 120, "Fixed")),
        ("完成 T-1024 2小时已修好", done(1024, 120, "已修好")),
        // Missing parts.
        ("接单", Parsed::Help),
        ("accept", Parsed::Help),
        ("完成 T-1024 已修好", Parsed::Help),
        ("done T-1024 2h", Parsed::Help),
        ("done T-1024", Parsed::Help),
        ("绑定", Parsed::Help),
        // Not whole numbers, out of range, malformed.
        ("done T-1024 1.5h fixed", Parsed::Help),
        ("done T-1024 0m fixed", Parsed::Help),
        ("done T-1024 2h90m fixed", Parsed::Help),
        ("done T-1024 99999h fixed", Parsed::Help),
        ("done T-1024 2hx fixed", Parsed::Help),
        ("accept T-01024", Parsed::Help),
        ("accept V-1024", Parsed::Help),
        ("accept T-", Parsed::Help),
        ("link 12345", Parsed::Help),
        ("link 1234567", Parsed::Help),
        ("link abcdef", Parsed::Help),
        // Extra words where none belong.
        ("接单 1024 1025", Parsed::Help),
        ("mine please", Parsed::Help),
        ("积分 多少", Parsed::Help),
        // Garbage.
        ("", Parsed::Help),
        ("   ", Parsed::Help),
        ("你好", Parsed::Help),
        ("hello bot", Parsed::Help),
        ("accept1024", Parsed::Help),
        ("acceptance T-1", Parsed::Help),
        ("🙂", Parsed::Help),
        // Bounds.
        (&too_long, Parsed::Help),
        (&long_decline, Parsed::Help),
    ];
    assert!(rows.len() >= 40);
    for (input, expected) in &rows {
        assert_eq!(&parse(input), expected, "input {input:?}");
    }
    assert_eq!(parse(&format!("拒绝 1 {max_reason}")), cmd(C::Decline(t(1), max_reason.clone())));
}

#[test]
fn replies_follow_the_language_of_the_command_word() {
    assert_eq!(language("接单 T-1"), Lang::Zh);
    assert_eq!(language("accept T-1 谢谢"), Lang::En);
    assert_eq!(language("ＡＣＣＥＰＴ 1"), Lang::En);
    assert_eq!(language("你好"), Lang::Zh);
    assert_eq!(language("hello"), Lang::En);
}
