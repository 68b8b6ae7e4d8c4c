//! References that must exist (`service::references`), and refused orders
//! that take no ticket number (`service::numbering`), through the command
//! service on a memory store: each refusal writes nothing.
//!
//! - An offer or assignment names a registered volunteer who is neither
//!   stood down nor gone, a team and a grid worker of the world, a
//!   department of the catalog.
//! - A duplicate's original exists, and no chain of duplicates leads back.
//! - A repeat of a command that ran answers as it did, even if what it
//!   named has changed since.
//! - A refused order takes no number; concurrent orders never share one.

use std::collections::BTreeMap;
use std::sync::Arc;

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{ActorId, CommandId, TicketId};
use gridloop_engine::service::numbering::TicketNumbers;
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock, Outcome};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::ticket::{Assignee, Status, TicketCommand};
use gridloop_engine::volunteer::VolunteerCommand;
use gridloop_engine::world::{StaffMember, Team, TeamKind};
use gridloop_engine::{Error, World};

use crate::support::*;

/// The test world with team TM-1 and grid worker gw-1.
fn service_on(store: MemoryStore) -> CommandService<MemoryStore> {
    let w = world();
    let team = Team {
        id: team_id(1),
        name: "一队".into(),
        name_en: "Team one".into(),
        kind: TeamKind::Community,
        scope: grid(COMMUNITY),
        linked: vec![],
    };
    let worker = ActorId::new(WORKER).expect("an actor id");
    let staff =
        StaffMember { subject: worker.clone(), role: Role::GridWorker, place: Some(grid(GRID)), department: None };
    let shared = World {
        grids: w.grids.clone(),
        catalog: w.catalog.clone(),
        teams: BTreeMap::from([(team_id(1), team)]),
        staff: BTreeMap::from([(worker, staff)]),
        ..World::default()
    };
    CommandService::new(store, Arc::new(shared), Arc::new(ManualClock::new(t0())), 1)
}

fn envelope(key: &str, actor: Actor, command: Command) -> CommandEnvelope {
    let command_id = CommandId::new(key).expect("a command id");
    CommandEnvelope { command_id, correlation_id: None, actor, command, expected_version: None }
}

fn on_ticket(
    service: &CommandService<MemoryStore>,
    key: &str,
    n: u64,
    actor: Actor,
    command: TicketCommand,
) -> Result<Outcome, Error> {
    block_on(service.execute(envelope(key, actor, Command::Ticket { id: tid(n), command })))
}

fn on_volunteer(service: &CommandService<MemoryStore>, key: &str, n: u64, command: VolunteerCommand) {
    let command = Command::Volunteer { id: vid(n), command };
    block_on(service.execute(envelope(key, dispatcher(), command))).expect("the volunteer command is taken");
}

fn register(service: &CommandService<MemoryStore>, n: u64) {
    let command = VolunteerCommand::Register {
        team: team_id(1),
        home_grid: grid(GRID),
        skills: skills(&["elderly_care"]),
        open_orders_max: 3,
    };
    on_volunteer(service, &format!("register-{n}"), n, command);
}

/// Given: tickets T-1..=T-n ordered and triaged for volunteers, V-1 registered.
fn given_triaged(n: u64) -> (MemoryStore, CommandService<MemoryStore>) {
    let store = MemoryStore::new();
    let service = service_on(store.clone());
    register(&service, 1);
    for t in 1..=n {
        on_ticket(&service, &format!("s{t}"), t, resident(), submit_cmd(VISIT, GRID)).expect("submitted");
        let triage = TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None };
        on_ticket(&service, &format!("t{t}"), t, dispatcher(), triage).expect("triaged");
    }
    (store, service)
}

fn offer(candidates: &[Assignee]) -> TicketCommand {
    TicketCommand::Offer { candidates: candidates.to_vec(), expires_at: offer_deadline() }
}

/// Then: refused with `expected`, and the log is as long as before.
#[track_caller]
fn then_refused_writing_nothing(store: &MemoryStore, result: Result<Outcome, Error>, expected: Error, before: usize) {
    assert_eq!(result.map(|o| o.events.len()), Err(expected));
    assert_eq!(store.snapshot().len(), before, "a refusal writes nothing");
}

#[test]
fn an_offer_to_a_volunteer_who_was_never_registered_is_refused() {
    let (store, service) = given_triaged(1);
    let before = store.snapshot().len();
    let refused = on_ticket(&service, "o", 1, dispatcher(), offer(&[vol(1), vol(99)]));
    then_refused_writing_nothing(
        &store,
        refused,
        Error::UnknownReference { kind: "volunteer", id: "V-99".into() },
        before,
    );
    let ticket = block_on(service.ticket(&tid(1))).expect("reads");
    assert_eq!(ticket.status, Status::Triaged, "nobody holds or was offered the ticket");
    on_ticket(&service, "o", 1, dispatcher(), offer(&[vol(1)])).expect("an offer to V-1, who exists, is taken");
}

#[test]
fn an_offer_to_a_stood_down_or_exited_volunteer_is_refused() {
    let (store, service) = given_triaged(1);
    register(&service, 2);
    register(&service, 3);
    on_volunteer(&service, "down", 2, VolunteerCommand::Deactivate { reason: "住院".into() });
    on_volunteer(&service, "gone", 3, VolunteerCommand::Exit { reason: "搬走了".into() });
    let before = store.snapshot().len();
    let refused = on_ticket(&service, "o2", 1, dispatcher(), offer(&[vol(2)]));
    let stood_down = Error::AssigneeUnavailable { who: "volunteer V-2".into(), status: "stood down" };
    then_refused_writing_nothing(&store, refused, stood_down, before);
    let refused =
        on_ticket(&service, "o3", 1, dispatcher(), TicketCommand::Assign { to: vol(3), reason: "就近".into() });
    let exited = Error::AssigneeUnavailable { who: "volunteer V-3".into(), status: "exited" };
    then_refused_writing_nothing(&store, refused, exited, before);
    on_volunteer(&service, "back", 2, VolunteerCommand::Reactivate {});
    on_ticket(&service, "o2", 1, dispatcher(), offer(&[vol(2)])).expect("offered once V-2 is back");
}

#[test]
fn an_offer_or_assignment_to_an_unknown_team_grid_worker_or_department_is_refused() {
    let (store, service) = given_triaged(1);
    let before = store.snapshot().len();
    let cases = [
        (offer(&[team(9)]), Error::UnknownReference { kind: "team", id: "TM-9".into() }),
        (
            TicketCommand::Assign { to: worker("gw-9"), reason: "巡查".into() },
            Error::UnknownReference { kind: "grid worker", id: "gw-9".into() },
        ),
        (
            TicketCommand::Assign { to: dept("water_board"), reason: "分拨".into() },
            Error::UnknownReference { kind: "department", id: "water_board".into() },
        ),
    ];
    for (i, (command, expected)) in cases.into_iter().enumerate() {
        let refused = on_ticket(&service, &format!("x{i}"), 1, dispatcher(), command);
        then_refused_writing_nothing(&store, refused, expected, before);
    }
    on_ticket(&service, "team", 1, dispatcher(), offer(&[team(1)])).expect("TM-1 is in the world");
    let to_worker = TicketCommand::Assign { to: worker(WORKER), reason: "巡查".into() };
    on_ticket(&service, "worker", 1, dispatcher(), to_worker).expect("gw-1 is on the staff");
}

#[test]
fn a_duplicate_of_a_ticket_never_submitted_or_of_itself_is_refused() {
    let (store, service) = given_triaged(1);
    let before = store.snapshot().len();
    let dup = |of: u64| TicketCommand::MarkDuplicate { of: tid(of) };
    let refused = on_ticket(&service, "d", 1, dispatcher(), dup(42));
    then_refused_writing_nothing(
        &store,
        refused,
        Error::UnknownReference { kind: "ticket", id: "T-42".into() },
        before,
    );
    let refused = on_ticket(&service, "d", 1, dispatcher(), dup(1));
    then_refused_writing_nothing(
        &store,
        refused,
        Error::DuplicateCycle { ticket: "T-1".into(), of: "T-1".into() },
        before,
    );
}

#[test]
fn duplicates_that_would_lead_back_to_the_ticket_are_refused() {
    let (store, service) = given_triaged(4);
    let dup = |of: u64| TicketCommand::MarkDuplicate { of: tid(of) };
    on_ticket(&service, "d1", 1, dispatcher(), dup(2)).expect("T-1 repeats T-2");
    let before = store.snapshot().len();
    let refused = on_ticket(&service, "d2", 2, dispatcher(), dup(1));
    then_refused_writing_nothing(
        &store,
        refused,
        Error::DuplicateCycle { ticket: "T-2".into(), of: "T-1".into() },
        before,
    );
    // A longer chain: T-1 → T-2 → T-3, then T-3 → T-1 would close it.
    on_ticket(&service, "d2b", 2, dispatcher(), dup(3)).expect("T-2 repeats T-3");
    let before = store.snapshot().len();
    let refused = on_ticket(&service, "d3", 3, dispatcher(), dup(1));
    then_refused_writing_nothing(
        &store,
        refused,
        Error::DuplicateCycle { ticket: "T-3".into(), of: "T-1".into() },
        before,
    );
    on_ticket(&service, "d4", 4, dispatcher(), dup(1)).expect("T-4 repeats T-1, which leads to T-3, not back");
}

#[test]
fn a_repeat_answers_as_the_first_run_even_if_the_volunteer_was_stood_down_since() {
    let (store, service) = given_triaged(1);
    let first = on_ticket(&service, "o", 1, dispatcher(), offer(&[vol(1)])).expect("offered");
    on_volunteer(&service, "down", 1, VolunteerCommand::Deactivate { reason: "住院".into() });
    let before = store.snapshot().len();
    let again = on_ticket(&service, "o", 1, dispatcher(), offer(&[vol(1)])).expect("the repeat is answered");
    assert!(again.is_duplicate() && again.events == first.events, "{again:?}");
    assert_eq!(store.snapshot().len(), before);
}

fn submit_numbered(
    numbers: &TicketNumbers,
    service: &CommandService<MemoryStore>,
    key: &str,
    item: &str,
) -> Result<TicketId, Error> {
    let command_id = CommandId::new(key).expect("a command id");
    block_on(numbers.submit(service, command_id, resident(), submit_cmd(item, GRID)))
}

#[test]
fn a_refused_order_takes_no_ticket_number() {
    let store = MemoryStore::new();
    let service = service_on(store.clone());
    let numbers = block_on(TicketNumbers::scan(&store)).expect("scans");
    assert_eq!(submit_numbered(&numbers, &service, "a", VISIT), Ok(tid(1)));
    let refused = submit_numbered(&numbers, &service, "b", UNKNOWN_ITEM);
    assert!(matches!(refused, Err(Error::NotFound { .. })), "{refused:?}");
    let bad_text = match submit_cmd(VISIT, GRID) {
        TicketCommand::Submit { item, grid, resident, urgency, channel, location, .. } => {
            let description = "\u{FFFE}".to_string();
            TicketCommand::Submit { photos: vec![], item, grid, resident, description, urgency, channel, location }
        }
        _ => unreachable!(),
    };
    let refused = block_on(numbers.submit(&service, CommandId::new("c").expect("id"), resident(), bad_text));
    assert!(matches!(refused, Err(Error::Invalid { .. })), "{refused:?}");
    assert_eq!(submit_numbered(&numbers, &service, "d", VISIT), Ok(tid(2)), "the next good order is T-2: no gap");
}

#[test]
fn concurrent_orders_never_share_a_number_and_leave_no_gap() {
    let store = MemoryStore::new();
    let service = Arc::new(service_on(store.clone()));
    let numbers = Arc::new(block_on(TicketNumbers::scan(&store)).expect("scans"));
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let (service, numbers) = (service.clone(), numbers.clone());
            std::thread::spawn(move || {
                (0..12)
                    .filter_map(|i| {
                        // Every third order is refused (an unknown item).
                        let item = if i % 3 == 2 { UNKNOWN_ITEM } else { VISIT };
                        submit_numbered(&numbers, &service, &format!("{thread}-{i}"), item).ok()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut taken: Vec<u64> =
        threads.into_iter().flat_map(|t| t.join().expect("no panic")).map(|id| id.number()).collect();
    taken.sort_unstable();
    assert_eq!(taken, (1..=32).collect::<Vec<_>>(), "32 good orders numbered 1 to 32, each once");
}

#[test]
fn the_tickets_own_refusal_comes_before_an_unknown_reference() {
    let (store, service) = given_triaged(1);
    let before = store.snapshot().len();
    let refused = on_ticket(&service, "r", 1, resident(), offer(&[vol(99)]));
    then_refused_writing_nothing(&store, refused, Error::NotPermitted { role: "resident", command: "offer" }, before);
}
