//! The role × action matrix: for every action of the API and every role,
//! on a ticket in a state where the action makes sense, the callers the
//! domain allows get through and every other one is refused with 403 (or
//! 401 for no token). A refusal must be about who asks, so each action's
//! allowed callers are checked to succeed on the same setup.

use axum::http::StatusCode;

use crate::people::{people, registration};
use crate::{Harness, VOLUNTEER_ITEM, harness};

/// The callers, by the harness's token names.
const ROLES: [&str; 7] = ["resident", "grid_worker", "dispatcher", "volunteer", "department", "auditor", "admin"];

/// Where a ticket must be for an action to make sense.
#[derive(Clone, Copy, Debug)]
enum Setup {
    Submitted,
    Offered,
    Accepted,
    Resolved,
    Rated,
    AtStreet,
}

/// (action, setup, body, the roles allowed).
const ACTIONS: [(&str, Setup, &str, &[&str]); 16] = [
    ("triage", Setup::Submitted, r#"{"mode":"volunteer"}"#, &["grid_worker", "dispatcher"]),
    (
        "offer",
        Setup::Submitted,
        r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#,
        &["dispatcher"],
    ),
    ("accept", Setup::Offered, r#"{"by":{"kind":"volunteer","id":"V-1"}}"#, &["dispatcher", "volunteer"]),
    (
        "decline",
        Setup::Offered,
        r#"{"by":{"kind":"volunteer","id":"V-1"},"reason":"busy"}"#,
        &["dispatcher", "volunteer"],
    ),
    ("start", Setup::Accepted, "", &["dispatcher", "volunteer"]),
    // A volunteer notes a ticket offered to them; a department one it holds
    // or is summoned to (not this one).
    ("note", Setup::Offered, r#"{"text":"noted"}"#, &["grid_worker", "dispatcher", "volunteer"]),
    ("escalate", Setup::Submitted, r#"{"reason":"whistle","note":"up"}"#, &["dispatcher"]),
    ("assign", Setup::Submitted, r#"{"to":{"kind":"department","id":"civil_affairs"},"reason":"r"}"#, &["dispatcher"]),
    ("resolve", Setup::Accepted, r#"{"result":"fixed","minutes_spent":30}"#, &["dispatcher", "volunteer"]),
    ("feedback", Setup::Resolved, r#"{"rating":"satisfied","comment":""}"#, &["resident", "dispatcher"]),
    ("reopen", Setup::Resolved, r#"{"text":"not fixed"}"#, &["dispatcher"]),
    ("close", Setup::Rated, "", &["dispatcher"]),
    ("cancel", Setup::Submitted, r#"{"text":"no longer needed"}"#, &["resident", "dispatcher"]),
    ("mark-duplicate", Setup::Submitted, r#"{"of":"T-1"}"#, &["dispatcher"]),
    ("summon", Setup::AtStreet, r#"{"departments":["civil_affairs"]}"#, &["dispatcher"]),
    ("self-handle", Setup::Submitted, "", &["grid_worker"]),
];

async fn ticket_in(h: &Harness, setup: Setup) -> String {
    h.register_v1().await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let act = |action: &'static str, who: &'static str, body: &'static str| {
        let path = format!("/api/v1/tickets/{id}/{action}");
        async move {
            let (status, answer) = h.post(&path, who, body).await;
            assert_eq!(status, StatusCode::OK, "setting up with {action}: {answer}");
        }
    };
    let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
    match setup {
        Setup::Submitted => {}
        Setup::Offered => act("offer", "dispatcher", offer).await,
        Setup::Accepted | Setup::Resolved | Setup::Rated => {
            act("offer", "dispatcher", offer).await;
            act("accept", "volunteer", "").await;
            if !matches!(setup, Setup::Accepted) {
                act("resolve", "volunteer", r#"{"result":"fixed","minutes_spent":30}"#).await;
            }
            if matches!(setup, Setup::Rated) {
                act("feedback", "resident", r#"{"rating":"satisfied","comment":""}"#).await;
            }
        }
        Setup::AtStreet => {
            act("escalate", "dispatcher", r#"{"reason":"whistle","note":"to the community"}"#).await;
            act("escalate", "dispatcher", r#"{"reason":"whistle","note":"to the street"}"#).await;
        }
    }
    id
}

#[tokio::test]
async fn every_role_is_allowed_or_refused_every_action_as_the_domain_says() {
    let h = harness().await;
    let mut checked = 0;
    for (action, setup, body, allowed) in ACTIONS {
        // A minute per action refills every token's rate (the setups order
        // as the resident more often than its burst allows).
        h.clock.advance(gridloop_engine::time::Millis::minutes(1));
        for role in ROLES {
            let id = ticket_in(&h, setup).await;
            let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/{action}"), role, body).await;
            if allowed.contains(&role) {
                assert_eq!(status, StatusCode::OK, "{role} may {action}: {answer}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} may not {action}: {answer}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ACTIONS.len() * ROLES.len());
}

#[tokio::test]
async fn ordering_reading_and_history_follow_the_roles_too() {
    let h = harness().await;
    // Everyone orders for resident r-1 (the resident token's own id): grid
    // workers and dispatchers order on a resident's behalf.
    let body = format!(
        r#"{{"category":"{VOLUNTEER_ITEM}","grid":"{}","description":"a leaking tap","resident":"r-1"}}"#,
        h.grid
    );
    for role in ROLES {
        let (status, answer) = h.post("/api/v1/tickets", role, &body).await;
        let may_order = ["resident", "grid_worker", "dispatcher"].contains(&role);
        let expected = if may_order { StatusCode::CREATED } else { StatusCode::FORBIDDEN };
        assert_eq!(status, expected, "{role} ordering: {answer}");
    }
    let id = h.order(VOLUNTEER_ITEM).await;
    for role in ROLES {
        let (status, answer) = h.get(&format!("/api/v1/tickets/{id}/history"), role).await;
        let may_read = ["dispatcher", "auditor"].contains(&role);
        let expected = if may_read { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status, expected, "{role} reading the history: {answer}");
    }
    let (status, _) = h.send("POST", &format!("/api/v1/tickets/{id}/note"), None, None, r#"{"text":"x"}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token, no action");
}

/// The people and world routes × every role: who registers and changes
/// volunteers, who reads the world, and who changes it.
#[tokio::test]
async fn people_and_world_routes_follow_the_roles() {
    let p = people().await;
    let h = &p.h;
    let (status, answer) = h.post("/api/v1/volunteers", "admin", &registration("V-1", &h.grid)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let readers: &[&str] = &["dispatcher", "auditor", "admin"];
    let keepers: &[&str] = &["dispatcher", "admin"];
    for (n, role) in ROLES.into_iter().enumerate() {
        let id = format!("V-{}", 200 + n);
        let staff = format!(r#"{{"subject":"au-{n}","role":"auditor","name":"钱七"}}"#);
        let department = format!(
            r#"{{"changes":[{{"change":"define_department","department":{{"code":"dept_{n}","name":"部门","name_en":""}}}}]}}"#
        );
        let posts = [
            ("/api/v1/volunteers".to_string(), registration(&id, &h.grid), keepers, StatusCode::CREATED),
            (
                "/api/v1/volunteers/V-1/skills".into(),
                r#"{"skills":["repairs"]}"#.into(),
                &["dispatcher", "admin", "volunteer"][..],
                StatusCode::OK,
            ),
            ("/api/v1/volunteers/V-1/deactivate".into(), r#"{"reason":"away"}"#.into(), keepers, StatusCode::OK),
            ("/api/v1/volunteers/V-1/reactivate".into(), String::new(), keepers, StatusCode::OK),
            ("/api/v1/world/changes".into(), department, &["admin"][..], StatusCode::OK),
            ("/api/v1/staff".into(), staff, &["admin"][..], StatusCode::CREATED),
            // The admin's own iteration assigned au-{n} just above.
            (format!("/api/v1/staff/au-{n}/token"), String::new(), &["admin"][..], StatusCode::CREATED),
        ];
        for (path, body, allowed, success) in posts {
            let (status, answer) = h.post(&path, role, &body).await;
            let expected = if allowed.contains(&role) { success } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "{role} POST {path}: {answer}");
        }
        for path in ["/api/v1/world", "/api/v1/teams", "/api/v1/departments", "/api/v1/staff"] {
            let (status, answer) = h.get(path, role).await;
            let expected = if readers.contains(&role) { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "{role} GET {path}: {answer}");
        }
    }
}
