//! The board shows each ticket as the aggregate sees it, and answers the
//! dispatcher's filters, pages and queues.

use gridloop_engine::ticket::{EscalationReason, Offer, Rating, Status, TicketEvent, Tier};
use gridloop_engine::time::Timestamp;
use gridloop_projections::board::{Board, BoardStatus, DeadlineKind, Query, QueueOf, next_deadline};

use crate::support::*;

fn history() -> Log {
    let mut log = Log::default();
    // 1: offered to two volunteers.
    log.submit(1, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z").ticket(
        1,
        "2026-11-02T01:10:00Z",
        TicketEvent::Offered { round: 1, candidates: vec![vol(1), vol(2)], expires_at: t("2026-11-02T01:40:00Z") },
    );
    // 2: accepted by volunteer 1, in progress.
    log.submit(2, "2026-11-02T02:00:00Z", GRID_B, "CS-001", "2026-11-02T04:00:00Z", "2026-11-03T02:00:00Z")
        .ticket(2, "2026-11-02T02:10:00Z", accepted(vol(1)))
        .ticket(2, "2026-11-02T02:20:00Z", TicketEvent::Started { by: vol(1) });
    // 3: escalated to the street.
    log.submit(3, "2026-11-02T03:00:00Z", GRID_C, "SC-001", "2026-11-02T05:00:00Z", "2026-11-09T03:00:00Z").ticket(
        3,
        "2026-11-02T03:30:00Z",
        TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::Street,
            reason: EscalationReason::Emergency,
            note: String::new(),
            respond_by: None,
            resolve_by: None,
        },
    );
    // 4: resolved by volunteer 1, awaiting feedback.
    log.submit(4, "2026-11-02T04:00:00Z", GRID_A, "CS-001", "2026-11-02T06:00:00Z", "2026-11-04T04:00:00Z")
        .ticket(4, "2026-11-02T04:30:00Z", accepted(vol(1)))
        .ticket(4, "2026-11-02T06:00:00Z", resolved(vol(1), 45, "2026-11-05T06:00:00Z"));
    // 5: resolved and rated, waiting to be closed; 6: cancelled.
    log.submit(5, "2026-11-02T05:00:00Z", GRID_A, "CS-001", "2026-11-02T07:00:00Z", "2026-11-04T05:00:00Z")
        .ticket(5, "2026-11-02T05:30:00Z", accepted(vol(2)))
        .ticket(5, "2026-11-02T06:00:00Z", resolved(vol(2), 45, "2026-11-05T06:00:00Z"))
        .ticket(5, "2026-11-02T07:00:00Z", rated(Rating::Satisfied));
    log.submit(6, "2026-11-02T06:00:00Z", GRID_A, "CS-001", "2026-11-02T08:00:00Z", "2026-11-04T06:00:00Z").ticket(
        6,
        "2026-11-02T06:05:00Z",
        TicketEvent::Cancelled { reason: "不需要了".into() },
    );
    log
}

/// Every ticket on the board, open and final, in ticket-number order.
fn every(board: &Board) -> Vec<gridloop_engine::ticket::Ticket> {
    let mut all: Vec<_> = board.open_tickets().cloned().collect();
    all.extend(board.settled(None, usize::MAX).expect("cold rows"));
    all.sort_by_key(|t| t.id.as_ref().map(|id| id.number()));
    all
}

fn now() -> Timestamp {
    t("2026-11-02T08:00:00Z")
}

fn query() -> Query {
    Query { page: 1, per_page: 50, ..Query::default() }
}

#[test]
fn statuses_as_the_board_shows_them() {
    let board: Board = history().fold();
    let statuses: Vec<BoardStatus> = every(&board).iter().map(BoardStatus::of).collect();
    assert_eq!(
        statuses,
        [
            BoardStatus::Offered,
            BoardStatus::InProgress,
            BoardStatus::Escalated(Tier::Street),
            BoardStatus::AwaitingFeedback,
            BoardStatus::Resolved,
            BoardStatus::Cancelled,
        ]
    );
    let one = board.get(&gridloop_engine::ids::TicketId::from_number(1)).expect("read").expect("ticket 1");
    assert_eq!(one.status, Status::Offered);
    assert_eq!(one.offer.as_ref().map(|o: &Offer| o.candidates.len()), Some(2));
}

#[test]
fn next_deadlines_by_status() {
    let board: Board = history().fold();
    let deadlines: Vec<Option<(DeadlineKind, Timestamp)>> = every(&board).iter().map(next_deadline).collect();
    assert_eq!(deadlines[0], Some((DeadlineKind::OfferExpiry, t("2026-11-02T01:40:00Z"))));
    assert_eq!(deadlines[1], Some((DeadlineKind::Resolve, t("2026-11-03T02:00:00Z"))));
    assert_eq!(deadlines[2], Some((DeadlineKind::Accept, t("2026-11-02T05:00:00Z"))));
    assert_eq!(deadlines[3], Some((DeadlineKind::Feedback, t("2026-11-05T06:00:00Z"))));
    assert_eq!(deadlines[5], None, "a cancelled ticket has no deadline");
}

#[test]
fn filters_by_status_place_holder_and_overdue() {
    let board: Board = history().fold();
    let numbers = |q: Query| -> Vec<u64> {
        board
            .query(&q, now())
            .expect("query")
            .items
            .iter()
            .map(|r| r.ticket.id.as_ref().expect("id").number())
            .collect()
    };
    assert_eq!(numbers(Query { status: Some("escalated".into()), ..query() }), [3]);
    assert_eq!(numbers(Query { scope: Some(grid("440802-001-001")), ..query() }), [1, 2, 4, 5, 6]);
    assert_eq!(numbers(Query { scope: Some(grid(GRID_B)), ..query() }), [2]);
    assert_eq!(numbers(Query { holder: Some(vol(1)), ..query() }), [2, 4]);
    assert_eq!(numbers(Query { overdue_as_of: Some(now()), ..query() }), [1, 3], "both missed their accept deadline");
    let page = board.query(&Query { status: Some("escalated".into()), ..query() }, now()).expect("query");
    assert_eq!((page.total, page.overdue), (1, 1), "the count beside a list: 3 is escalated and overdue");
    assert_eq!(numbers(Query { status: Some("offered".into()), holder: Some(vol(1)), ..query() }), Vec::<u64>::new());
}

#[test]
fn pages_are_stable_and_bounded() {
    let board: Board = history().fold();
    let page = |n| board.query(&Query { page: n, per_page: 4, ..query() }, now()).expect("query");
    let (first, second, third) = (page(1), page(2), page(3));
    assert_eq!((first.total, first.items.len(), second.items.len(), third.items.len()), (6, 4, 2, 0));
    let huge = board.query(&Query { per_page: 1_000_000, ..query() }, now()).expect("query");
    assert_eq!(huge.per_page, 200, "a page holds at most 200 rows");
}

#[test]
fn queues_hold_open_work_soonest_deadline_first() {
    let board: Board = history().fold();
    let mine: Vec<u64> = board
        .queue(&QueueOf::Holder(vol(1)), now())
        .iter()
        .map(|r| r.ticket.id.as_ref().expect("id").number())
        .collect();
    assert_eq!(mine, [2], "resolved tickets leave the holder's queue");
    let place: Vec<u64> = board
        .queue(&QueueOf::Place(grid("440802")), now())
        .iter()
        .map(|r| r.ticket.id.as_ref().expect("id").number())
        .collect();
    assert_eq!(place, [1, 3, 2, 4, 5], "ordered by next deadline, ties by number; cancelled 6 is not open");
}

#[test]
fn a_holders_queue_lists_the_offers_open_to_them_beside_what_they_hold() {
    let board: Board = history().fold();
    // Ticket 1's offer to volunteers 1 and 2 runs until 01:40.
    let queue = |who, at| -> Vec<(u64, Option<u32>)> {
        board
            .queue(&QueueOf::Holder(who), t(at))
            .iter()
            .map(|r| (r.ticket.id.as_ref().expect("id").number(), r.offer.map(|o| o.round)))
            .collect()
    };
    assert_eq!(queue(vol(1), "2026-11-02T01:20:00Z"), [(1, Some(1)), (2, None)], "the offer first: it ends soonest");
    assert_eq!(queue(vol(2), "2026-11-02T01:20:00Z"), [(1, Some(1))], "an offer alone, before accepting anything");
    assert_eq!(queue(vol(1), "2026-11-02T01:40:00Z"), [(2, None)], "an expired offer can no longer be accepted");
    assert_eq!(queue(vol(3), "2026-11-02T01:20:00Z"), [], "not a candidate");
}

#[test]
fn counts_by_status_cover_every_ticket() {
    let board: Board = history().fold();
    let counts = board.counts_by_status();
    assert_eq!(counts.values().sum::<u64>(), 6);
    assert_eq!(counts["escalated"], 1);
}

#[test]
fn an_event_out_of_stream_order_is_refused() {
    let log = history();
    let mut board = Board::default();
    use gridloop_projections::runner::Projection;
    board.evolve(&log.events[0]).expect("submission");
    let later = log.events.iter().find(|e| e.stream == log.events[2].stream && e.version == 3).expect("ticket 2 v3");
    assert!(board.evolve(later).is_err(), "a gap in a stream is refused");
}

// ---------------------------------------------------------------------
// The cold-backed board against a plain fold of every ticket.

mod against_a_plain_fold {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use gridloop_engine::envelope::{Actor, RecordedEvent, Role};
    use gridloop_engine::grid::GridCode;
    use gridloop_engine::ids::{ResidentId, TicketId};
    use gridloop_engine::permit::{self, Principal};
    use gridloop_engine::rng::SplitMix64;
    use gridloop_engine::store::EventStore;
    use gridloop_engine::ticket::{Ticket, TicketEvent};
    use gridloop_engine::time::{Millis, Timestamp};
    use gridloop_projections::board::{Board, BoardStatus, Query};
    use gridloop_projections::cold::{Cold, ColdStore, MemoryCold};
    use gridloop_projections::runner::{Projection, Runner};
    use proptest::prelude::*;

    use crate::support::{random_history, team, vol};

    fn log_of(seed: u64, steps: u32) -> Vec<RecordedEvent> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async { random_history(seed, steps).await.read_all(1, usize::MAX).await.expect("read") })
    }

    /// The oracle: every ticket ever seen, folded in memory, and the board's
    /// answers as a plain filter over them.
    struct Oracle(BTreeMap<u64, Ticket>);

    /// One row as compared: number, status, overdue.
    type Seen = (u64, BoardStatus, bool);

    impl Oracle {
        fn of(log: &[RecordedEvent]) -> Self {
            let mut tickets: BTreeMap<u64, Ticket> = BTreeMap::new();
            for event in log.iter().filter(|e| e.stream.kind() == "ticket") {
                let number = TicketId::new(event.stream.id()).expect("id").number();
                let payload: TicketEvent = event.decode().expect("decodes");
                tickets.entry(number).or_default().evolve(&payload, event.occurred_at);
            }
            Self(tickets)
        }

        fn query(&self, q: &Query, now: Timestamp) -> (Vec<Seen>, u64, u64) {
            let at = q.overdue_as_of.unwrap_or(now);
            let per_page = q.per_page.clamp(1, 200) as usize;
            let kept: Vec<(Seen, &Ticket)> = self
                .0
                .iter()
                .map(|(n, t)| ((*n, BoardStatus::of(t), t.overdue(at)), t))
                .filter(|((_, status, _), t)| {
                    q.status.as_deref().is_none_or(|s| status.name() == s)
                        && q.scope.as_ref().is_none_or(|s| t.grid.as_ref().is_some_and(|g| g.is_within(s)))
                        && q.holder.as_ref().is_none_or(|h| t.holder.as_ref() == Some(h))
                        && q.resident.as_ref().is_none_or(|r| t.resident.as_ref() == Some(r))
                        && q.reach.as_ref().is_none_or(|who| permit::visible(who, t))
                })
                .collect();
            let overdue = kept.iter().filter(|((_, _, o), _)| *o).count() as u64;
            let listed: Vec<Seen> =
                kept.into_iter().map(|(seen, _)| seen).filter(|s| q.overdue_as_of.is_none() || s.2).collect();
            let skip = (q.page.max(1) as usize - 1) * per_page;
            let total = listed.len() as u64;
            (listed.into_iter().skip(skip).take(per_page).collect(), total, overdue)
        }
    }

    /// A random query over what the history holds.
    fn random_query(rng: &mut SplitMix64, oracle: &Oracle, start: Timestamp, end: Timestamp) -> Query {
        let places: Vec<GridCode> = oracle
            .0
            .values()
            .filter_map(|t| t.grid.clone())
            .flat_map(|g| std::iter::successors(Some(g), GridCode::parent).collect::<Vec<_>>())
            .collect();
        let place = |rng: &mut SplitMix64| (!places.is_empty() && rng.chance(700)).then(|| rng.pick(&places).clone());
        let resident = |rng: &mut SplitMix64| format!("r-{}", 1 + rng.below(oracle.0.len() as u64 + 1));
        let reach = match rng.below(7) {
            0 => Some(Principal { actor: Actor::new(Role::Resident, &resident(rng)).expect("actor"), place: None }),
            1 => {
                let id = format!("V-{}", 1 + rng.below(3));
                Some(Principal { actor: Actor::new(Role::Volunteer, &id).expect("actor"), place: None })
            }
            2 => Some(Principal { actor: Actor::new(Role::Dispatcher, "d-1").expect("actor"), place: place(rng) }),
            3 => Some(Principal { actor: Actor::new(Role::GridWorker, "w-1").expect("actor"), place: place(rng) }),
            4 => Some(Principal { actor: Actor::new(Role::Auditor, "a-1").expect("actor"), place: None }),
            _ => None,
        };
        let span = u64::try_from(end.as_millis() - start.as_millis()).unwrap_or(0) + 2 * 86_400_000;
        Query {
            status: rng.chance(400).then(|| rng.pick(&BoardStatus::ALL).name().to_string()),
            scope: if rng.chance(500) { place(rng) } else { None },
            holder: rng.chance(200).then(|| rng.pick(&[vol(1), vol(2), vol(3), team(1), team(2)]).clone()),
            resident: rng.chance(150).then(|| ResidentId::new(resident(rng)).expect("resident")),
            overdue_as_of: rng.chance(300).then(|| start.plus(Millis(rng.below(span)))),
            reach,
            page: 1 + rng.below(4) as u32,
            per_page: 1 + rng.below(8) as u32,
        }
    }

    fn seen(board: &Board, q: &Query, now: Timestamp) -> (Vec<Seen>, u64, u64) {
        let page = board.query(q, now).expect("query");
        let rows =
            page.items.iter().map(|r| (r.ticket.id.as_ref().expect("id").number(), r.status, r.overdue)).collect();
        (rows, page.total, page.overdue)
    }

    /// Every answer of `board` equals the oracle's, on `queries` random
    /// queries at instants across the history (before its end too).
    fn same_answers(board: &Board, log: &[RecordedEvent], seed: u64, queries: u32) {
        let oracle = Oracle::of(log);
        let (start, end) = (log[0].occurred_at, log.last().expect("events").occurred_at);
        let last = oracle.0.keys().last().copied().unwrap_or(0);
        for number in 1..=last + 1 {
            let got = board.get(&TicketId::from_number(number)).expect("get").map(|t| t.into_owned());
            assert_eq!(got.as_ref(), oracle.0.get(&number), "seed {seed}: get {number}");
        }
        let mut rng = SplitMix64::new(seed ^ 0x5eed);
        let span = u64::try_from(end.as_millis() - start.as_millis()).unwrap_or(0);
        for i in 0..queries {
            // Mostly now after the last event, as a live clock reads; some
            // instants inside the history.
            let now = if rng.chance(800) {
                end.plus(Millis(rng.below(3 * 86_400_000)))
            } else {
                start.plus(Millis(rng.below(span + 1)))
            };
            let q = random_query(&mut rng, &oracle, start, end);
            let expected = oracle.query(&q, now);
            assert_eq!(seen(board, &q, now), expected, "seed {seed}: query {i} {q:?} at {now:?}");
            // The same query walking the final tickets' rows rather than
            // their grids' ranges (what a district's 1,500 grids do).
            let rows = board.clone().with_grid_ranges_max(0);
            assert_eq!(seen(&rows, &q, now), expected, "seed {seed}: query {i} over the rows {q:?} at {now:?}");
            let all = oracle.0.values().filter(|t| t.overdue(now));
            let open = all.clone().filter(|t| !t.status.is_final()).count() as u64;
            let counts = board.overdue_counts(now).expect("counts");
            assert_eq!((counts.all, counts.open), (all.count() as u64, open), "seed {seed}: overdue counts at {now:?}");
        }
        let mut by_status: BTreeMap<&'static str, u64> = BTreeMap::new();
        for ticket in oracle.0.values() {
            *by_status.entry(BoardStatus::of(ticket).name()).or_default() += 1;
        }
        assert_eq!(board.counts_by_status(), by_status, "seed {seed}: counts by status");
        assert_eq!(board.len(), oracle.0.len(), "seed {seed}: len");
        let open: Vec<&Ticket> = oracle.0.values().filter(|t| !t.status.is_final()).collect();
        assert_eq!(board.open_tickets().collect::<Vec<_>>(), open, "seed {seed}: memory holds the open tickets only");
    }

    /// Folds `log` into a board attached to `cold`, committing at random
    /// points so that some rows are on the store and some pending.
    fn folded(log: &[RecordedEvent], cold: &Cold, seed: u64) -> Board {
        let mut board = Board::default();
        board.attach(cold);
        let mut rng = SplitMix64::new(seed);
        for event in log {
            board.evolve(event).expect("folds");
            if rng.chance(20) {
                cold.commit(vec![]).expect("commits");
            }
        }
        board
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Over random histories the cold-backed board answers `get`,
        /// `query` (random filters, reach, pages, overdue as of any
        /// instant), `overdue_counts` and `counts_by_status` exactly as a
        /// plain fold of every ticket.
        #[test]
        fn the_cold_backed_board_answers_as_a_plain_fold(seed in any::<u64>(), steps in 30u32..220) {
            let log = log_of(seed, steps);
            let board = folded(&log, &Cold::default(), seed);
            same_answers(&board, &log, seed, 60);
        }
    }

    /// After many closed tickets, memory holds only the open ones (and the
    /// snapshot with it), and a board resumed from a committed snapshot and
    /// its cold rows, after a crash that lost what was pending, answers as
    /// the plain fold.
    #[test]
    fn memory_holds_the_open_work_and_a_resumed_board_answers_the_same() {
        for seed in [3u64, 17, 2026] {
            let log = log_of(seed, 1_500);
            let oracle = Oracle::of(&log);
            let finals = oracle.0.values().filter(|t| t.status.is_final()).count();
            assert!(finals >= 10, "seed {seed}: the history closes tickets ({finals})");
            let store: Arc<dyn ColdStore> = Arc::new(MemoryCold::default());
            let cold = Cold::new(store.clone());
            let mut runner = Runner::<Board>::resume_cold(&cold).expect("resumes");
            let (saved_at, crash_at) = (log.len() / 2, log.len() * 3 / 4);
            for event in &log[..crash_at] {
                runner.evolve(event).expect("folds");
                if event.position == log[saved_at].position {
                    cold.commit(vec![(Board::NAME, runner.snapshot())]).expect("commits");
                    runner.mark_saved();
                }
            }
            let snapshot: serde_json::Value = serde_json::from_slice(&runner.snapshot()).expect("json");
            let open = snapshot["state"]["open"].as_object().map_or(0, |o| o.len());
            assert_eq!(open, runner.state().open_len(), "seed {seed}: the snapshot holds the open tickets only");
            // A crash: the pending rows and the state in memory are lost.
            drop(runner);
            let cold = Cold::new(store);
            let mut resumed = Runner::<Board>::resume_cold(&cold).expect("resumes");
            assert_eq!(resumed.checkpoint(), log[saved_at].position, "seed {seed}: resumed at the committed snapshot");
            for event in &log {
                resumed.evolve(event).expect("folds");
            }
            same_answers(resumed.state(), &log, seed, 200);
        }
    }
}

/// An event for a final ticket (the fold does not rely on the engine
/// refusing them) reads its row back, evolves it and writes it cold again,
/// indexes and counts with it.
#[test]
fn an_event_for_a_final_ticket_thaws_and_refreezes_it() {
    use gridloop_engine::envelope::{Actor, Role};
    use gridloop_engine::ids::{ResidentId, TicketId};
    use gridloop_engine::permit::Principal;
    let mut log = history();
    let follower = ResidentId::new("r-follows").expect("resident");
    log.ticket(6, "2026-11-02T07:00:00Z", TicketEvent::Followed { resident: follower.clone() });
    let board: Board = log.fold();
    let six = board.get(&TicketId::from_number(6)).expect("read").expect("ticket 6");
    assert_eq!((six.status, six.followers.clone()), (Status::Cancelled, vec![follower]));
    assert_eq!(board.open_tickets().count(), 5, "still final, still cold");
    let reach = Principal { actor: Actor::new(Role::Resident, "r-follows").expect("actor"), place: None };
    let page = board.query(&Query { reach: Some(reach), ..query() }, now()).expect("query");
    let numbers: Vec<u64> = page.items.iter().map(|r| r.ticket.id.as_ref().expect("id").number()).collect();
    assert_eq!((numbers, page.total), (vec![6], 1), "the follower's index entry was written with it");
    assert_eq!(board.counts_by_status()["cancelled"], 1, "counted once");
}

/// `BoardStatus::ALL` holds every status once, in declaration order: a new
/// status that is not added to it fails to compile here (the match), and
/// every name reads back as its status.
#[test]
fn every_board_status_is_listed_once_and_its_name_reads_back() {
    use gridloop_projections::board::BoardStatus;
    fn order(status: BoardStatus) -> usize {
        match status {
            BoardStatus::Submitted => 0,
            BoardStatus::Triaged => 1,
            BoardStatus::Offered => 2,
            BoardStatus::Accepted => 3,
            BoardStatus::InProgress => 4,
            BoardStatus::Escalated(_) => 5,
            BoardStatus::AwaitingFeedback => 6,
            BoardStatus::Resolved => 7,
            BoardStatus::Reopened => 8,
            BoardStatus::Closed => 9,
            BoardStatus::Cancelled => 10,
            BoardStatus::Duplicate => 11,
            BoardStatus::Returned => 12,
        }
    }
    for (i, status) in BoardStatus::ALL.into_iter().enumerate() {
        assert_eq!(order(status), i, "{status:?} in its place");
        assert_eq!(BoardStatus::named(status.name()), Some(status), "{} reads back", status.name());
    }
    assert_eq!(BoardStatus::named("Closed"), None, "names are exact");
}
