//! The working-day calendar as a city ships it: the example bundles'
//! `calendar/` files (the State Council's 2026 schedule, 2027 provisional)
//! read into the engine's calendar, deadlines counted on it checked
//! against the official schedule day by day, and a ticket of a
//! working-day item written with its deadline and the calendar's name.

use std::collections::BTreeMap;
use std::path::Path;

use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{ItemCode, ResidentId, TicketId};
use gridloop_engine::ticket::{Channel, Ticket, TicketCommand, TicketEvent, Urgency};
use gridloop_engine::time::Timestamp;
use gridloop_engine::workdays::Calendar;
use gridloop_world::{Encoding, read};

use crate::support::printed;

fn dingzhou() -> gridloop_world::Bundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/dingzhou");
    read(&dir, Encoding::Auto).unwrap_or_else(|p| panic!("{}", printed(&p)))
}

fn calendar() -> Calendar {
    dingzhou().world.calendar.expect("the example sets its calendar")
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("an instant")
}

/// (ordered at, working days, due at): the end (24:00 China time) of the
/// last working day, by the 2026 notice: 中秋 25–27 September, 国庆 1–7
/// October, make-up working days Sunday 20 September and Saturday 10
/// October.
const TABLE: [(&str, u32, &str); 8] = [
    // Wednesday 30 September, 10:00: 8, 9, 10 (a Saturday worked), 12, 13,
    // 14, 15 October.
    ("2026-09-30T02:00:00Z", 7, "2026-10-15T16:00:00Z"),
    // 23:30 on the 30th is still the 30th in China.
    ("2026-09-30T15:30:00Z", 7, "2026-10-15T16:00:00Z"),
    // 00:30 on 1 October: the holiday's first day; the count starts on the 8th.
    ("2026-09-30T16:30:00Z", 1, "2026-10-08T16:00:00Z"),
    // 15 working days from the 30th: 8 October to 27 October.
    ("2026-09-30T02:00:00Z", 15, "2026-10-27T16:00:00Z"),
    // Friday 18 September: Sunday the 20th is worked.
    ("2026-09-18T02:00:00Z", 1, "2026-09-20T16:00:00Z"),
    // Thursday 24 September: 中秋 Friday 25 to Sunday 27, then Monday 28.
    ("2026-09-24T02:00:00Z", 1, "2026-09-28T16:00:00Z"),
    // Friday 9 October: Saturday the 10th is worked.
    ("2026-10-09T02:00:00Z", 1, "2026-10-10T16:00:00Z"),
    // Thursday 31 December 2026: 元旦 2027 (provisional) on Friday, then
    // the weekend, then Monday 4 January.
    ("2026-12-31T02:00:00Z", 1, "2027-01-04T16:00:00Z"),
];

#[test]
fn working_day_deadlines_across_the_2026_national_day_holiday_fall_on_the_official_days() {
    let calendar = calendar();
    for (ordered, days, due) in TABLE {
        let counted = calendar.add_working_days(at(ordered), days).expect("counts");
        assert_eq!(counted.at, at(due), "{days} working days from {ordered}");
    }
}

#[test]
fn the_deadline_names_its_calendar_and_a_provisional_or_uncovered_year() {
    let calendar = calendar();
    let october = calendar.add_working_days(at("2026-09-30T02:00:00Z"), 7).expect("counts");
    assert_eq!(october.calendar, "中国法定节假日 2026–2027");
    let new_year = calendar.add_working_days(at("2026-12-31T02:00:00Z"), 1).expect("counts");
    assert!(new_year.calendar.contains("2027 provisional"), "{}", new_year.calendar);
    // Thursday 30 December 2027, 2 working days: Friday the 31st, then
    // (2028 not covered: weekdays only) Monday 3 January 2028.
    let beyond = calendar.add_working_days(at("2027-12-30T02:00:00Z"), 2).expect("counts");
    assert_eq!(beyond.at, at("2028-01-03T16:00:00Z"));
    assert!(beyond.calendar.contains("2028 not covered"), "{}", beyond.calendar);
    assert!(calendar.add_working_days(at("2026-09-30T02:00:00Z"), 0).is_err(), "zero working days is no limit");
}

#[test]
fn a_working_day_item_is_submitted_with_its_deadline_and_the_calendar_it_was_counted_on() {
    let bundle = dingzhou();
    let world = bundle.world.world().expect("the world builds");
    let item = world.catalog.items().find(|i| i.sla.resolve_working_days == Some(7)).expect("a 7-working-day item");
    let grid = world.grids.at_level(gridloop_engine::grid::Level::Grid).next().expect("a grid").code.clone();
    let submit = TicketCommand::Submit {
        item: ItemCode::new(item.code.as_str()).expect("code"),
        grid,
        resident: ResidentId::new("r-1").expect("id"),
        description: "路灯不亮".into(),
        urgency: Urgency::Normal,
        channel: Channel::Phone,
        location: None,
        photos: vec![],
    };
    let dispatcher = Actor::new(Role::Dispatcher, "d-1").expect("actor");
    let now = at("2026-09-30T02:00:00Z");
    let events = Ticket::default()
        .decide(&TicketId::from_number(1), &submit, &dispatcher, &world.context(now, false))
        .expect("submitted");
    let TicketEvent::Submitted { resolve_by, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(*resolve_by, at("2026-10-15T16:00:00Z"));
    assert_eq!(events.last(), Some(&TicketEvent::CountedInWorkingDays { calendar: "中国法定节假日 2026–2027".into() }));
}

#[test]
fn a_calendar_file_with_a_bad_date_a_weekday_make_up_day_or_another_year_names_each_problem() {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (name, bytes) in crate::support::files() {
        files.insert(name.to_string(), bytes);
    }
    let year = |year: &str, body: &str| {
        format!("name = \"中国法定节假日\"\nutc_offset = \"+08:00\"\nyear = {year}\nsource = \"test\"\n{body}")
    };
    files.insert(
        "calendar/2026.toml".into(),
        year("2026", "[[holidays]]\nname = \"国庆节\"\nfrom = \"2026-10-01\"\nto = \"2026-10-32\"\nworking_days = [\"2026-10-09\"]\n")
            .into_bytes(),
    );
    files.insert("calendar/2027.toml".into(), year("2028", "").into_bytes());
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let problems = printed(&gridloop_world::read_files(&refs, Encoding::Auto).expect_err("refused"));
    assert!(problems.contains("calendar/2026.toml") && problems.contains("2026-10-32"), "{problems}");
    assert!(problems.contains("calendar/2027.toml") && problems.contains("2028 is not the year"), "{problems}");
    // With the bad end fixed, the weekday make-up day is named.
    files.insert(
        "calendar/2026.toml".into(),
        year("2026", "[[holidays]]\nname = \"国庆节\"\nfrom = \"2026-10-01\"\nto = \"2026-10-07\"\nworking_days = [\"2026-10-09\"]\n")
            .into_bytes(),
    );
    files.remove("calendar/2027.toml");
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let problems = printed(&gridloop_world::read_files(&refs, Encoding::Auto).expect_err("refused"));
    assert!(problems.contains("2026-10-09 is a weekday"), "{problems}");
}
