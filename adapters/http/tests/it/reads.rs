//! The projection-backed reads: every route's happy path on data written
//! through the write routes just before (read your writes), the filters,
//! paging bounds, who may read what, bad parameters and unknown volunteers.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::Level;
use gridloop_engine::ids::{CommandId, VolunteerId};
use gridloop_engine::service::{Clock, Command, CommandEnvelope};
use gridloop_engine::time::Millis;
use gridloop_engine::volunteer::VolunteerCommand;
use gridloop_http::reads::{Live, follow};
use serde_json::Value;

use crate::{DEPARTMENT_ITEM, Harness, VOLUNTEER_ITEM, code, harness};

/// The ticket ids of a list or queue answer, in order.
fn ids(answer: &Value) -> Vec<&str> {
    answer["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("an id")).collect()
}

/// Lists tickets as `who`, expecting 200.
async fn list(h: &Harness, who: &str, query: &str) -> Value {
    let (status, answer) = h.get(&format!("/api/v1/tickets?{query}"), who).await;
    assert_eq!(status, StatusCode::OK, "{query}: {answer}");
    answer
}

/// The neighbour's order, in the same grid.
async fn neighbours_order(h: &Harness) -> String {
    let body = format!(r#"{{"category":"{DEPARTMENT_ITEM}","grid":"{}","description":"a broken lamp"}}"#, h.grid);
    let (status, answer) = h.post("/api/v1/tickets", "neighbour", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["id"].as_str().expect("an id").to_string()
}

/// Drives a ticket offered to V-1 through accept, start and resolve.
async fn resolved_by_v1(h: &Harness) -> String {
    let id = h.offered().await;
    for (action, body) in [("accept", ""), ("start", ""), ("resolve", r#"{"result":"done","minutes_spent":40}"#)] {
        let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/{action}"), "volunteer", body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {answer}");
    }
    id
}

#[tokio::test]
async fn a_list_shows_what_was_just_written() {
    let h = harness().await;
    let first = h.offered().await;
    let second = h.order(VOLUNTEER_ITEM).await;
    let third = neighbours_order(&h).await;
    let all = list(&h, "auditor", "").await;
    assert_eq!(all["total"], 3, "{all}");
    assert_eq!(ids(&all), [first.as_str(), second.as_str(), third.as_str()]);
    let row = &all["items"][0];
    assert_eq!((row["status"].as_str(), row["tier"].as_str()), (Some("offered"), Some("grid")), "{row}");
    assert_eq!(row["grid"], h.grid.as_str());
    assert_eq!(row["item"], VOLUNTEER_ITEM);
    assert_eq!(row["next_deadline"]["kind"], "offer_expiry", "{row}");
    assert_eq!(row["overdue"], false);
    let (status, _) = h.post(&format!("/api/v1/tickets/{first}/accept"), "volunteer", "").await;
    assert_eq!(status, StatusCode::OK);
    let accepted = list(&h, "dispatcher", "status=accepted").await;
    assert_eq!(ids(&accepted), [first.as_str()], "the accept just written is seen");
    assert_eq!(accepted["items"][0]["holder"]["id"], "V-1");
}

#[tokio::test]
async fn filters_by_status_scope_and_holder() {
    let h = harness().await;
    let offered = h.offered().await;
    let submitted = h.order(VOLUNTEER_ITEM).await;
    let (status, _) = h.post(&format!("/api/v1/tickets/{offered}/accept"), "rival", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&list(&h, "auditor", "status=submitted").await), [submitted.as_str()]);
    assert_eq!(ids(&list(&h, "auditor", "holder=volunteer:V-2").await), [offered.as_str()]);
    assert!(ids(&list(&h, "auditor", "holder=volunteer:V-1").await).is_empty());
    let street = h.grid.at_level(Level::Street).expect("a street");
    assert_eq!(list(&h, "auditor", &format!("scope={street}")).await["total"], 2);
    let other = h.service.world().grids.children(&h.grid.at_level(Level::District).expect("a district"))[1].clone();
    assert_eq!(list(&h, "auditor", &format!("scope={other}")).await["total"], 0);
    let (status, body) = h.get(&format!("/api/v1/tickets?scope={street}"), "far_dispatcher").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"), "outside their place");
    assert_eq!(list(&h, "far_dispatcher", "").await["total"], 0, "a placed dispatcher sees only their place");
}

#[tokio::test]
async fn overdue_is_a_missed_deadline_and_stays_after_escalation() {
    let h = harness().await;
    let offered = h.offered().await;
    let submitted = h.order(VOLUNTEER_ITEM).await;
    assert_eq!(list(&h, "auditor", "overdue=true").await["total"], 0);
    h.clock.advance(Millis::minutes(31));
    let all = list(&h, "auditor", "overdue=true").await;
    assert_eq!((all["total"].as_u64(), all["overdue"].as_u64()), (Some(0), Some(0)), "an offer ran out: no miss");
    h.clock.advance(Millis::days(1));
    let late = list(&h, "auditor", "overdue=true").await;
    assert_eq!(ids(&late), [offered.as_str(), submitted.as_str()], "both untaken past their accept deadline");
    let unfiltered = list(&h, "auditor", "overdue=false").await;
    assert_eq!(
        (unfiltered["total"].as_u64(), unfiltered["overdue"].as_u64()),
        (Some(2), Some(2)),
        "false filters nothing"
    );
    // The timers' escalation gives the next tier a fresh deadline; the
    // policy then hands it to a department: it missed a deadline all the same.
    let path = format!("/api/v1/tickets/{submitted}");
    let (status, answer) = h.post(&format!("{path}/escalate"), "dispatcher", r#"{"reason":"timeout"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = h
        .post(
            &format!("{path}/assign"),
            "dispatcher",
            r#"{"to":{"kind":"department","id":"civil_affairs"},"reason":"派单"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, ticket) = h.get(&path, "auditor").await;
    let next = ticket["pending_deadlines"][0]["at"].as_str().expect("a pending deadline").to_string();
    assert!(next > h.clock.now().to_string(), "nothing pending has passed: {ticket}");
    assert_eq!(ticket["overdue"], true, "{ticket}");
    assert_eq!(ids(&list(&h, "auditor", "overdue=true").await), [offered.as_str(), submitted.as_str()]);
    let (_, queue) = h.get("/api/v1/queues/department/civil_affairs", "auditor").await;
    assert_eq!((queue["items"][0]["overdue"].as_bool(), queue["overdue"].as_u64()), (Some(true), Some(1)), "{queue}");
}

#[tokio::test]
async fn pages_are_bounded() {
    let h = harness().await;
    for _ in 0..3 {
        h.order(VOLUNTEER_ITEM).await;
    }
    let second = list(&h, "auditor", "per_page=2&page=2").await;
    assert_eq!(
        (second["total"].as_u64(), second["page"].as_u64(), second["per_page"].as_u64()),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(ids(&second), ["T-3"]);
    assert!(ids(&list(&h, "auditor", "per_page=2&page=9").await).is_empty());
    assert_eq!(list(&h, "auditor", "per_page=200").await["per_page"], 200);
    for bad in ["per_page=201", "per_page=0", "page=0", "page=100001", "per_page=-1", "page=two"] {
        let (status, body) = h.get(&format!("/api/v1/tickets?{bad}"), "auditor").await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn a_resident_lists_only_their_own_tickets() {
    let h = harness().await;
    let mine = h.order(VOLUNTEER_ITEM).await;
    let theirs = neighbours_order(&h).await;
    let own = list(&h, "resident", "").await;
    assert_eq!((ids(&own), own["total"].as_u64()), (vec![mine.as_str()], Some(1)));
    assert_eq!(ids(&list(&h, "neighbour", "").await), [theirs.as_str()]);
    assert_eq!(list(&h, "resident", &format!("scope={}", h.grid)).await["total"], 1, "filters cannot widen it");
}

#[tokio::test]
async fn bad_list_parameters_are_400() {
    let h = harness().await;
    let bad = [
        "status=lost",
        "scope=440802-099",
        "holder=volunteer",
        "holder=robot:R-1",
        "holder=volunteer:nobody",
        "overdue=maybe",
        "colour=red",
    ];
    for query in bad {
        let (status, body) = h.get(&format!("/api/v1/tickets?{query}"), "auditor").await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{query}: {body}");
    }
    let (status, body) = h.get("/api/v1/tickets?scope=440802-9", "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_grid_code"), "{body}");
    let long = "x".repeat(200);
    let (status, body) = h.get(&format!("/api/v1/tickets?status={long}"), "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{body}");
}

#[tokio::test]
async fn queues_hold_open_work_soonest_first() {
    let h = harness().await;
    let held = h.offered().await;
    let waiting = h.order(VOLUNTEER_ITEM).await;
    let (status, _) = h.post(&format!("/api/v1/tickets/{held}/accept"), "volunteer", "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, queue) = h.get("/api/v1/queues/volunteer/V-1", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!((ids(&queue), queue["total"].as_u64()), (vec![held.as_str()], Some(1)));
    assert_eq!((queue["items"][0]["queued"].as_str(), queue["held"].as_u64()), (Some("held"), Some(1)), "{queue}");
    let (status, queue) = h.get(&format!("/api/v1/queues/place/{}", h.grid), "auditor").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["total"], 2);
    assert!(ids(&queue).contains(&waiting.as_str()));
    let (status, queue) = h.get("/api/v1/queues/department/civil_affairs", "auditor").await;
    assert_eq!((status, queue["total"].as_u64()), (StatusCode::OK, Some(0)));
    let (status, body) = h.get("/api/v1/queues/robot/R-1", "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = h.get("/api/v1/queues/volunteer/V-1", "resident").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"));
}

#[tokio::test]
async fn a_volunteers_queue_lists_their_open_offers_with_their_expiry() {
    let h = harness().await;
    let offered = h.offered().await;
    let (status, queue) = h.get("/api/v1/queues/volunteer/V-1", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(ids(&queue), [offered.as_str()], "an offer before accepting anything: {queue}");
    let row = &queue["items"][0];
    assert_eq!((row["queued"].as_str(), row["offer"]["round"].as_u64()), (Some("offered"), Some(1)), "{row}");
    assert_eq!(row["offer"]["expires_at"], "2026-11-23T08:30:00.000Z");
    assert_eq!((queue["held"].as_u64(), queue["offered"].as_u64()), (Some(0), Some(1)));
    let (status, _) = h.post(&format!("/api/v1/tickets/{offered}/decline"), "rival", r#"{"reason":"busy"}"#).await;
    assert_eq!(status, StatusCode::OK);
    let (_, rival) = h.get("/api/v1/queues/volunteer/V-2", "dispatcher").await;
    assert_eq!(rival["total"], 0, "a declined offer leaves their queue: {rival}");
    h.clock.advance(Millis::minutes(30));
    let (_, queue) = h.get("/api/v1/queues/volunteer/V-1", "dispatcher").await;
    assert_eq!(queue["total"], 0, "an expired offer can no longer be accepted: {queue}");
}

#[tokio::test]
async fn rates_count_what_was_just_written() {
    let h = harness().await;
    resolved_by_v1(&h).await;
    h.order(VOLUNTEER_ITEM).await;
    let (status, answer) = h.get("/api/v1/metrics/rates?by=street&from=2026-11-23", "auditor").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let rows = answer["rows"].as_array().expect("rows");
    let street = h.grid.at_level(Level::Street).expect("a street");
    assert_eq!(rows[0]["key"], street.as_str(), "{answer}");
    let total = rows.last().expect("a total row");
    assert_eq!(total["key"], "all");
    assert_eq!(total["rates"]["submitted"], 2);
    assert_eq!(total["rates"]["completion"]["numerator"], 1, "{total}");
    assert_eq!(answer["as_of"], "2026-11-23T08:00:00.000Z");
    let (status, answer) = h.get("/api/v1/metrics/rates?to=2026-11-23T07:00:00Z", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["rows"][0]["rates"]["submitted"], 0, "submitted after `to`");
    for by in ["community", "grid", "department", "team", "category", "day", "week", "month"] {
        let (status, answer) = h.get(&format!("/api/v1/metrics/rates?by={by}"), "auditor").await;
        assert_eq!(status, StatusCode::OK, "{by}: {answer}");
    }
}

#[tokio::test]
async fn bad_rate_parameters_are_400_and_residents_403() {
    let h = harness().await;
    let bad = ["by=hour", "from=2026-13-01", "from=yesterday", "from=2026-11-23&to=2026-11-22", "scope=440802-099"];
    for query in bad {
        let (status, body) = h.get(&format!("/api/v1/metrics/rates?{query}"), "auditor").await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{query}: {body}");
    }
    let (status, body) = h.get("/api/v1/metrics/rates", "resident").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"));
}

#[tokio::test]
async fn a_volunteer_shows_points_months_and_load() {
    let h = harness().await;
    h.register_v1().await;
    resolved_by_v1(&h).await;
    let held = h.offered().await;
    let (status, _) = h.post(&format!("/api/v1/tickets/{held}/accept"), "volunteer", "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, account) = h.get("/api/v1/volunteers/V-1", "volunteer").await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["months"]["2026-11"]["services"], 1, "{account}");
    assert_eq!(account["months"]["2026-11"]["minutes"], 40);
    assert_eq!(account["points"]["balance"], 0);
    assert_eq!(account["profile"]["open_orders"], 1, "{account}");
    assert_eq!(account["profile"]["skills"][0], "elderly_care");
    let (status, body) = h.get("/api/v1/volunteers/V-99", "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = h.get("/api/v1/volunteers/V-1", "rival").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"));
    let (status, body) = h.get("/api/v1/volunteers/nobody", "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{body}");
}

#[tokio::test]
async fn volunteers_are_listed_by_grid_and_skill() {
    let h = harness().await;
    h.register_v1().await;
    let found = |answer: &Value| answer["items"].as_array().expect("items").len();
    let (status, answer) = h.get(&format!("/api/v1/volunteers?grid={}&skill=elderly_care", h.grid), "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((found(&answer), answer["items"][0]["id"].as_str()), (1, Some("V-1")));
    let (_, answer) = h.get("/api/v1/volunteers?skill=plumbing", "auditor").await;
    assert_eq!((found(&answer), answer["total"].as_u64()), (0, Some(0)));
    let (_, answer) = h.get("/api/v1/volunteers", "auditor").await;
    assert_eq!(answer["total"], 1, "the whole district by default");
    let (status, body) = h.get("/api/v1/volunteers?grid=440802-099", "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{body}");
    let (status, body) = h.get("/api/v1/volunteers", "resident").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"));
}

#[tokio::test]
async fn the_catalog_lists_every_item() {
    let h = harness().await;
    let (status, answer) = h.get("/api/v1/catalog", "resident").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let items = answer["items"].as_array().expect("items");
    assert_eq!(items.len(), h.service.world().catalog.items().count());
    let item = items.iter().find(|i| i["code"] == VOLUNTEER_ITEM).expect("the volunteer item");
    assert_eq!((item["mode"].as_str(), item["category"].as_str()), (Some("volunteer"), Some("information_collection")));
    assert_eq!(item["sla_minutes"]["accept"], 24 * 60, "{item}");
    assert_eq!(item["department"], "civil_affairs");
}

#[tokio::test]
async fn the_grid_tree_is_read_one_level_at_a_time() {
    let h = harness().await;
    let (status, answer) = h.get("/api/v1/grids", "resident").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["parent"]["level"], "district");
    let streets = answer["children"].as_array().expect("children");
    assert_eq!(streets.len(), 8, "{answer}");
    assert_eq!(streets[0]["level"], "street");
    let community = h.grid.at_level(Level::Community).expect("a community");
    let (status, answer) = h.get(&format!("/api/v1/grids?parent={community}"), "auditor").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let grids = answer["children"].as_array().expect("children");
    assert!(grids.iter().any(|g| g["code"] == h.grid.as_str() && g["level"] == "grid" && !g["kind"].is_null()));
    let (status, body) = h.get("/api/v1/grids?parent=440802-099", "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "{body}");
    let (status, body) = h.get("/api/v1/grids?parent=44", "auditor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn the_follower_keeps_up_until_stopped() {
    let h = harness().await;
    let live = Arc::new(Live::new(gridloop_http::Cold::default()).expect("resumes"));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(follow(live.clone(), h.store.clone(), stopped));
    h.order(VOLUNTEER_ITEM).await;
    let caught_up = async {
        while live.read().await.board.state().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), caught_up).await.expect("the follower folds the new ticket");
    stop.send(true).expect("the follower listens");
    let ended = tokio::time::timeout(Duration::from_secs(5), task).await.expect("it stops");
    ended.expect("no panic").expect("no error");
}

#[tokio::test]
async fn a_volunteer_redeems_points_within_the_balance_and_nobody_else_may() {
    let h = harness().await;
    h.register_v1().await;
    let award = CommandEnvelope {
        command_id: CommandId::new("award-1").expect("an id"),
        correlation_id: None,
        actor: Actor::new(Role::Dispatcher, "d-440802").expect("an actor"),
        command: Command::Volunteer {
            id: VolunteerId::from_number(1),
            command: VolunteerCommand::AwardPoints { points: 30, ticket: None, reason: "探访".into() },
        },
        expected_version: None,
    };
    h.service.execute(award).await.expect("awarded");
    let body = r#"{"points":20,"reward":"理发券"}"#;
    let (status, answer) = h.send("POST", "/api/v1/volunteers/V-1/redeem", Some("volunteer"), Some("r1"), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["schema"], "volunteer.points_redeemed/1");
    let (again, repeat) = h.send("POST", "/api/v1/volunteers/V-1/redeem", Some("volunteer"), Some("r1"), body).await;
    assert_eq!((again, &repeat), (StatusCode::OK, &answer), "the same key answers the same and spends once");
    let (status, over) = h.post("/api/v1/volunteers/V-1/redeem", "volunteer", body).await;
    assert_eq!((status, code(&over)), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_points"), "10 left");
    for who in ["rival", "resident", "auditor"] {
        let (status, answer) = h.post("/api/v1/volunteers/V-1/redeem", who, r#"{"points":1,"reward":"x"}"#).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {answer}");
    }
    let (status, _) = h.post("/api/v1/volunteers/V-1/redeem", "dispatcher", r#"{"points":5,"reward":"x"}"#).await;
    assert_eq!(status, StatusCode::OK, "a dispatcher redeems for the volunteer");
    let (status, account) = h.get("/api/v1/volunteers/V-1", "volunteer").await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["points"]["balance"], 5);
}

/// A log whose first event does not decode stops the follower with an error
/// naming the event, instead of being read again forever.
#[tokio::test]
async fn the_follower_stops_on_a_log_that_does_not_decode() {
    let store = gridloop_engine::store::MemoryStore::new();
    let at = gridloop_engine::time::Timestamp::parse("2026-11-02T00:00:00Z").expect("valid");
    let garbage = gridloop_engine::envelope::NewEvent {
        event_id: gridloop_engine::rng::SplitMix64::new(1).uuid_v7(at.as_millis()),
        occurred_at: at,
        actor: Actor::system(),
        command_id: CommandId::new("garbage-1").expect("valid"),
        correlation_id: gridloop_engine::ids::CorrelationId::new("garbage").expect("valid"),
        schema: gridloop_engine::envelope::Schema::parse("ticket.submitted/1").expect("valid"),
        payload: serde_json::json!({ "not": "a submission" }),
    };
    let stream = gridloop_engine::ids::StreamId::ticket(&gridloop_engine::ids::TicketId::from_number(1));
    let expected = gridloop_engine::store::ExpectedVersion::NoStream;
    gridloop_engine::store::EventStore::append(&store, &stream, expected, vec![garbage]).await.expect("appended");
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        follow(Arc::new(Live::new(gridloop_http::Cold::default()).expect("resumes")), store, stopped),
    )
    .await;
    let error = ended.expect("it stops by itself").expect_err("with an error");
    let message = error.to_string();
    assert_eq!(error.code(), "corrupt_log", "{message}");
    assert!(message.contains("ticket-T-1 v1 at position 1") && message.contains("ticket.submitted/1"), "{message}");
}
