//! The volunteer aggregate: registration, skills, availability and the
//! points card (积分卡).

use gridloop_engine::Error;
use gridloop_engine::volunteer::{
    CHAT_ACCOUNT_BYTES_MAX, LINK_CODE_TTL, OPEN_ORDERS_LIMIT_MAX, POINTS_PER_CHANGE_MAX, SKILLS_MAX, Volunteer,
    VolunteerCommand, VolunteerEvent, link_code_hash,
};

use crate::support::*;

fn register_cmd() -> VolunteerCommand {
    VolunteerCommand::Register {
        team: team_id(1),
        home_grid: grid(GRID),
        skills: skills(&["elderly_care", "driving"]),
        open_orders_max: 3,
    }
}

fn register_with(
    home: &str,
    skill_list: std::collections::BTreeSet<gridloop_engine::ids::Skill>,
    open_orders_max: u32,
) -> VolunteerCommand {
    VolunteerCommand::Register { team: team_id(1), home_grid: grid(home), skills: skill_list, open_orders_max }
}

fn award(points: u64, reason: &str) -> VolunteerCommand {
    VolunteerCommand::AwardPoints { points, ticket: Some(tid(1)), reason: reason.into() }
}

fn redeem(points: u64, reward: &str) -> VolunteerCommand {
    VolunteerCommand::RedeemPoints { points, reward: reward.into() }
}

fn n_skills(n: usize) -> std::collections::BTreeSet<gridloop_engine::ids::Skill> {
    (0..n).map(|i| skill(&format!("skill_{i}"))).collect()
}

fn not_permitted(role: &'static str, command: &'static str) -> Error {
    Error::NotPermitted { role, command }
}

fn invalid(field: &'static str) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::Invalid { field: f, .. } if *f == field)
}

// ---- register

#[test]
fn a_dispatcher_registers_a_volunteer_who_starts_available() {
    let state = no_volunteer().when(&dispatcher(), register_cmd()).then(&[registered()]);
    assert_eq!(state.id, Some(vid(1)));
    assert_eq!(state.team, Some(team_id(1)));
    assert_eq!(state.home_grid, Some(grid(GRID)));
    assert_eq!(state.skills, skills(&["driving", "elderly_care"]));
    assert_eq!(state.open_orders_max, 3);
    assert!(state.available);
    assert_eq!((state.points_balance, state.points_awarded, state.points_redeemed, state.version), (0, 0, 0, 1));
}

#[test]
fn the_system_registers_an_imported_volunteer_in_a_sub_grid_with_the_limits() {
    no_volunteer()
        .when(&system(), register_with(SUB_GRID, n_skills(SKILLS_MAX), OPEN_ORDERS_LIMIT_MAX))
        .on(vid(77))
        .then(&[VolunteerEvent::Registered {
            volunteer: vid(77),
            team: team_id(1),
            home_grid: grid(SUB_GRID),
            skills: n_skills(SKILLS_MAX),
            open_orders_max: OPEN_ORDERS_LIMIT_MAX,
        }]);
    // No skills at all is fine too.
    no_volunteer().when(&system(), register_with(OTHER_GRID, n_skills(0), 1)).then(&[VolunteerEvent::Registered {
        volunteer: vid(1),
        team: team_id(1),
        home_grid: grid(OTHER_GRID),
        skills: n_skills(0),
        open_orders_max: 1,
    }]);
}

#[test]
fn registering_twice_is_refused() {
    given(&[registered()])
        .when(&dispatcher(), register_cmd())
        .then_error(Error::AlreadyExists { kind: "volunteer", id: "V-1".into() });
}

#[test]
fn a_volunteer_lives_in_a_known_grid_or_sub_grid() {
    for code in [DISTRICT, STREET, COMMUNITY] {
        no_volunteer().when(&dispatcher(), register_with(code, n_skills(1), 3)).then_refused(invalid("home grid"));
    }
    no_volunteer()
        .when(&dispatcher(), register_with(UNKNOWN_GRID, n_skills(1), 3))
        .then_error(Error::NotFound { kind: "grid", id: UNKNOWN_GRID.into() });
}

#[test]
fn registration_bounds_skills_and_the_open_orders_limit() {
    no_volunteer()
        .when(&dispatcher(), register_with(GRID, n_skills(SKILLS_MAX + 1), 3))
        .then_refused(invalid("skills"));
    for limit in [0, OPEN_ORDERS_LIMIT_MAX + 1] {
        no_volunteer()
            .when(&dispatcher(), register_with(GRID, n_skills(1), limit))
            .then_refused(invalid("open orders limit"));
    }
}

#[test]
fn only_dispatchers_and_the_system_register_volunteers() {
    for who in every_actor() {
        let decided = no_volunteer().when(&who, register_cmd()).decide();
        match who.role {
            gridloop_engine::envelope::Role::Dispatcher | gridloop_engine::envelope::Role::System => {
                assert!(decided.is_ok(), "{who:?}: {decided:?}")
            }
            role => assert_eq!(decided, Err(not_permitted(role.name(), "register a volunteer")), "{who:?}"),
        }
    }
}

#[test]
fn commands_for_an_unregistered_volunteer_are_not_found() {
    let commands = [
        VolunteerCommand::ChangeSkills { skills: n_skills(1) },
        VolunteerCommand::ChangeAvailability { available: false },
        award(10, "探访"),
        redeem(1, "大米"),
    ];
    for command in commands {
        for who in [dispatcher(), system(), volunteer(9)] {
            no_volunteer()
                .when(&who, command.clone())
                .on(vid(9))
                .then_error(Error::NotFound { kind: "volunteer", id: "V-9".into() });
        }
    }
}

// ---- skills

#[test]
fn a_volunteer_changes_their_own_skills() {
    let state = given(&[registered()])
        .when(&volunteer(1), VolunteerCommand::ChangeSkills { skills: skills(&["plumbing"]) })
        .then(&[VolunteerEvent::SkillsChanged { skills: skills(&["plumbing"]) }]);
    assert_eq!(state.skills, skills(&["plumbing"]));
    // A dispatcher may too, and may clear them.
    let state = given(&[registered()])
        .when(&dispatcher(), VolunteerCommand::ChangeSkills { skills: n_skills(0) })
        .then(&[VolunteerEvent::SkillsChanged { skills: n_skills(0) }]);
    assert!(state.skills.is_empty());
}

#[test]
fn skills_stay_bounded() {
    given(&[registered()])
        .when(&volunteer(1), VolunteerCommand::ChangeSkills { skills: n_skills(SKILLS_MAX + 1) })
        .then_refused(invalid("skills"));
}

#[test]
fn only_the_volunteer_or_a_dispatcher_changes_skills_and_availability() {
    for who in
        [volunteer(2), team_account(1), grid_worker(), resident(), department(CIVIL_AFFAIRS), auditor(), system()]
    {
        given(&[registered()])
            .when(&who, VolunteerCommand::ChangeSkills { skills: n_skills(1) })
            .then_error(not_permitted(who.role.name(), "change skills"));
        given(&[registered()])
            .when(&who, VolunteerCommand::ChangeAvailability { available: false })
            .then_error(not_permitted(who.role.name(), "change availability"));
    }
}

// ---- availability

#[test]
fn a_volunteer_goes_off_duty_and_back() {
    let off = given(&[registered()])
        .when(&volunteer(1), VolunteerCommand::ChangeAvailability { available: false })
        .then(&[VolunteerEvent::AvailabilityChanged { available: false }]);
    assert!(!off.available);
    let on = given(&[registered(), VolunteerEvent::AvailabilityChanged { available: false }])
        .when(&dispatcher(), VolunteerCommand::ChangeAvailability { available: true })
        .then(&[VolunteerEvent::AvailabilityChanged { available: true }]);
    assert!(on.available);
    assert_eq!(on.version, 3);
}

// ---- points (积分)

#[test]
fn the_system_awards_points_for_a_ticket() {
    let state = given(&[registered()]).when(&system(), award(10, " 探访 ")).then(&[VolunteerEvent::PointsAwarded {
        points: 10,
        ticket: Some(tid(1)),
        reason: "探访".into(),
    }]);
    assert_eq!((state.points_balance, state.points_awarded, state.points_redeemed), (10, 10, 0));
}

#[test]
fn a_dispatcher_awards_points_without_a_ticket_and_awards_add_up() {
    let state = given(&[registered(), awarded(10)])
        .when(
            &dispatcher(),
            VolunteerCommand::AwardPoints {
                points: POINTS_PER_CHANGE_MAX,
                ticket: None,
                reason: "年度优秀志愿者".into(),
            },
        )
        .then(&[VolunteerEvent::PointsAwarded {
            points: POINTS_PER_CHANGE_MAX,
            ticket: None,
            reason: "年度优秀志愿者".into(),
        }]);
    assert_eq!((state.points_balance, state.points_awarded), (10 + POINTS_PER_CHANGE_MAX, 10 + POINTS_PER_CHANGE_MAX));
}

#[test]
fn awards_are_bounded_and_explained() {
    for points in [0, POINTS_PER_CHANGE_MAX + 1] {
        given(&[registered()]).when(&system(), award(points, "探访")).then_refused(invalid("points"));
    }
    given(&[registered()]).when(&system(), award(5, "  ")).then_refused(invalid("reason"));
    given(&[registered()]).when(&system(), award(5, "a\u{1b}b")).then_refused(invalid("reason"));
}

#[test]
fn nobody_awards_themself_points() {
    for who in
        [volunteer(1), volunteer(2), team_account(1), grid_worker(), resident(), department(CIVIL_AFFAIRS), auditor()]
    {
        given(&[registered()]).when(&who, award(10, "探访")).then_error(not_permitted(who.role.name(), "award points"));
    }
}

#[test]
fn a_volunteer_redeems_points_for_a_reward() {
    let state = given(&[registered(), awarded(30)])
        .when(&volunteer(1), redeem(20, " 大米一袋 "))
        .then(&[VolunteerEvent::PointsRedeemed { points: 20, reward: "大米一袋".into() }]);
    assert_eq!((state.points_balance, state.points_awarded, state.points_redeemed), (10, 30, 20));
}

#[test]
fn the_whole_balance_can_be_redeemed() {
    let state = given(&[registered(), awarded(30), awarded(12)])
        .when(&dispatcher(), redeem(42, "体检套餐"))
        .then(&[VolunteerEvent::PointsRedeemed { points: 42, reward: "体检套餐".into() }]);
    assert_eq!(state.points_balance, 0);
}

#[test]
fn redeeming_beyond_the_balance_is_refused() {
    given(&[registered(), awarded(30)])
        .when(&volunteer(1), redeem(31, "大米"))
        .then_error(Error::InsufficientPoints { balance: 30, asked: 31 });
    given(&[registered()])
        .when(&volunteer(1), redeem(1, "大米"))
        .then_error(Error::InsufficientPoints { balance: 0, asked: 1 });
    let spent = [registered(), awarded(30), VolunteerEvent::PointsRedeemed { points: 25, reward: "油".into() }];
    given(&spent).when(&dispatcher(), redeem(6, "大米")).then_error(Error::InsufficientPoints { balance: 5, asked: 6 });
}

#[test]
fn redemptions_are_bounded_and_name_the_reward() {
    let rich = [registered(), awarded(POINTS_PER_CHANGE_MAX), awarded(POINTS_PER_CHANGE_MAX)];
    for points in [0, POINTS_PER_CHANGE_MAX + 1] {
        given(&rich).when(&volunteer(1), redeem(points, "大米")).then_refused(invalid("points"));
    }
    given(&rich).when(&volunteer(1), redeem(10, "")).then_refused(invalid("reward"));
}

#[test]
fn only_the_volunteer_or_a_dispatcher_redeems() {
    for who in
        [volunteer(2), team_account(1), grid_worker(), resident(), department(CIVIL_AFFAIRS), auditor(), system()]
    {
        given(&[registered(), awarded(30)])
            .when(&who, redeem(10, "大米"))
            .then_error(not_permitted(who.role.name(), "redeem points"));
    }
}

#[test]
fn the_points_card_adds_up_over_a_history() {
    let mut state = Volunteer::default();
    let history = [
        registered(),
        awarded(10),
        awarded(25),
        VolunteerEvent::PointsRedeemed { points: 20, reward: "大米".into() },
        VolunteerEvent::SkillsChanged { skills: skills(&["first_aid"]) },
        awarded(5),
    ];
    for e in &history {
        state.evolve(e);
    }
    assert_eq!((state.points_awarded, state.points_redeemed, state.points_balance), (40, 20, 20));
    assert_eq!(state.points_balance, state.points_awarded - state.points_redeemed);
    assert_eq!(state.version, history.len() as u64);
}

// ---- chat links

fn issue(code: &str) -> VolunteerCommand {
    VolunteerCommand::IssueLinkCode { code_hash: link_code_hash(code) }
}

fn link(account: &str, code: &str) -> VolunteerCommand {
    VolunteerCommand::LinkChat { account: account.into(), code: code.into() }
}

fn code_issued(code: &str, expires_at: gridloop_engine::time::Timestamp) -> VolunteerEvent {
    VolunteerEvent::LinkCodeIssued { code_hash: link_code_hash(code), expires_at }
}

#[test]
fn a_dispatcher_issues_a_link_code_kept_only_as_its_hash_with_an_expiry() {
    let state = given(&[registered()])
        .when(&dispatcher(), issue("123456"))
        .then(&[code_issued("123456", t0().plus(LINK_CODE_TTL))]);
    let outstanding = state.link_code.expect("a code is outstanding");
    assert_ne!(outstanding.code_hash, "123456");
    assert_eq!(outstanding.code_hash.len(), 64);
    // The system may too; nobody else.
    given(&[registered()]).when(&system(), issue("123456")).then(&[code_issued("123456", t0().plus(LINK_CODE_TTL))]);
    for who in [volunteer(1), resident(), grid_worker(), department(CIVIL_AFFAIRS), auditor()] {
        given(&[registered()])
            .when(&who, issue("123456"))
            .then_error(not_permitted(who.role.name(), "issue a link code"));
    }
}

#[test]
fn a_link_code_hash_must_look_like_one_and_the_volunteer_must_exist() {
    for bad in ["123456", "", &"A".repeat(64), &"0".repeat(63)] {
        given(&[registered()])
            .when(&dispatcher(), VolunteerCommand::IssueLinkCode { code_hash: bad.to_string() })
            .then_refused(invalid("link code hash"));
    }
    no_volunteer().when(&dispatcher(), issue("123456")).then_refused(|e| matches!(e, Error::NotFound { .. }));
}

#[test]
fn the_bot_links_an_account_with_the_right_code_and_uses_it_up() {
    let issued = code_issued("123456", t0().plus(LINK_CODE_TTL));
    let state = given(&[registered(), issued.clone()])
        .when(&system(), link("@alice:example.org", "123456"))
        .then(&[VolunteerEvent::ChatLinked { account: "@alice:example.org".into() }]);
    assert_eq!(state.chat_account.as_deref(), Some("@alice:example.org"));
    assert_eq!(state.link_code, None);
    // Used once: the same code again finds nothing outstanding.
    given(&[registered(), issued, VolunteerEvent::ChatLinked { account: "@alice:example.org".into() }])
        .when(&system(), link("@mallory:example.org", "123456"))
        .then_refused(invalid("link code"));
}

#[test]
fn a_wrong_late_or_replaced_code_links_nothing() {
    let issued = code_issued("123456", t0().plus(LINK_CODE_TTL));
    given(&[registered(), issued.clone()]).when(&system(), link("@a:x", "654321")).then_refused(invalid("link code"));
    given(&[registered(), issued.clone()]).when(&system(), link("@a:x", "12345")).then_refused(invalid("link code"));
    given(&[registered()]).when(&system(), link("@a:x", "123456")).then_refused(invalid("link code"));
    // At the expiry instant the code is dead.
    given(&[registered(), issued.clone()])
        .when(&system(), link("@a:x", "123456"))
        .at(t0().plus(LINK_CODE_TTL))
        .then_refused(invalid("link code"));
    // A new code replaces the old one.
    given(&[registered(), issued, code_issued("222222", t0().plus(LINK_CODE_TTL))])
        .when(&system(), link("@a:x", "123456"))
        .then_refused(invalid("link code"));
}

#[test]
fn only_the_bot_links_and_accounts_are_bounded() {
    let issued = code_issued("123456", t0().plus(LINK_CODE_TTL));
    for who in [volunteer(1), dispatcher(), resident(), auditor()] {
        given(&[registered(), issued.clone()])
            .when(&who, link("@a:x", "123456"))
            .then_error(not_permitted(who.role.name(), "link a chat account"));
    }
    for bad in [String::new(), "@a b:x".into(), format!("@{}:x", "a".repeat(CHAT_ACCOUNT_BYTES_MAX))] {
        given(&[registered(), issued.clone()])
            .when(&system(), link(&bad, "123456"))
            .then_refused(invalid("chat account"));
    }
}

#[test]
fn linking_again_moves_the_link_to_the_new_account() {
    let state = given(&[
        registered(),
        code_issued("123456", t0().plus(LINK_CODE_TTL)),
        VolunteerEvent::ChatLinked { account: "@old:x".into() },
        code_issued("222222", t0().plus(LINK_CODE_TTL)),
    ])
    .when(&system(), link("@new:x", "222222"))
    .then(&[VolunteerEvent::ChatLinked { account: "@new:x".into() }]);
    assert_eq!(state.chat_account.as_deref(), Some("@new:x"));
}

// ---- transfer, stand down, exit (the warning-and-exit mechanism, 警示退出)

#[test]
fn a_dispatcher_transfers_a_volunteer_and_the_same_transfer_again_writes_nothing() {
    let transfer = VolunteerCommand::Transfer { team: team_id(2), home_grid: grid(OTHER_GRID), open_orders_max: 2 };
    let moved = VolunteerEvent::Transferred { team: team_id(2), home_grid: grid(OTHER_GRID), open_orders_max: 2 };
    let state = given(&[registered()]).when(&dispatcher(), transfer.clone()).then(std::slice::from_ref(&moved));
    assert_eq!((state.team, state.home_grid, state.open_orders_max), (Some(team_id(2)), Some(grid(OTHER_GRID)), 2));
    given(&[registered(), moved]).when(&dispatcher(), transfer).then(&[]);
}

#[test]
fn a_stood_down_volunteer_is_not_active_until_reactivated() {
    let down = VolunteerEvent::Deactivated { reason: "外出务工".into() };
    let state = given(&[registered()])
        .when(&dispatcher(), VolunteerCommand::Deactivate { reason: "外出务工".into() })
        .then(std::slice::from_ref(&down));
    assert!(!state.is_active());
    let state = given(&[registered(), down])
        .when(&dispatcher(), VolunteerCommand::Reactivate {})
        .then(&[VolunteerEvent::Reactivated {}]);
    assert!(state.is_active());
}

#[test]
fn an_exited_volunteer_takes_no_change_but_keeps_the_points_earned() {
    let exited = VolunteerEvent::Exited { reason: "连续三个月未接单".into() };
    let transfer = VolunteerCommand::Transfer { team: team_id(2), home_grid: grid(GRID), open_orders_max: 2 };
    given(&[registered(), exited.clone()]).when(&dispatcher(), transfer).then_error(Error::IllegalTransition {
        command: "change a volunteer",
        status: "a volunteer who has left for good",
    });
    given(&[registered(), exited.clone()]).when(&system(), award(5, "探访")).then(&[VolunteerEvent::PointsAwarded {
        points: 5,
        ticket: Some(tid(1)),
        reason: "探访".into(),
    }]);
    // Who may not act hears that first, not that the volunteer has gone.
    given(&[registered(), exited])
        .when(&volunteer(1), VolunteerCommand::Exit { reason: "x".into() })
        .then_error(not_permitted("volunteer", "exit a volunteer"));
}
