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
        board.query(&q, now()).expect("query").items.iter().map(|r| r.ticket.id.as_ref().expect("id").number()).collect()
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
