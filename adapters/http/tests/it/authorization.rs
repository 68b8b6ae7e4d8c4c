//! The authorization table, generated from the router: every route the
//! route table serves ([`gridloop_http::openapi::accesses`]), called by
//! every role, from inside and from outside the place or relation the
//! route touches, answers as the engine's permit rule says. A new route is
//! in this test the moment it is in the router; its access is what it
//! declares there, and a handler that checks less (or more) than the rule
//! fails here.
//!
//! Inside and outside, per role: the resident who ordered the ticket and a
//! neighbour; a grid worker placed in the ticket's community and one in
//! another street; a dispatcher placed in the ticket's street and one in
//! another; a grid head of the ticket's grid and one of a far grid; an
//! official of the ticket's community and one of another street; the volunteer the ticket is offered to (living in its grid)
//! and one living elsewhere; a department the ticket has nothing to do
//! with; an auditor and an admin (no place).

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use gridloop_engine::Error;
use gridloop_engine::blob::{BlobHash, BlobStore as _, MemoryBlobs};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{CommandId, ResidentId, TicketId, VolunteerId};
use gridloop_engine::permit::{Access, Principal, Target, Write, permit};
use gridloop_engine::service::{Clock as _, Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::ticket::{Assignee, Channel, Ticket, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerCommand;
use gridloop_http::openapi::accesses;
use gridloop_http::{AppState, TokenTable, router};
use tower::ServiceExt as _;

/// The places of the test: the ticket's grid, its community and street,
/// and a grid, community and street elsewhere.
struct Places {
    grid: GridCode,
    community: GridCode,
    street: GridCode,
    far_grid: GridCode,
    far_community: GridCode,
    far_street: GridCode,
}

fn places(world: &gridloop_engine::World) -> Places {
    let grids = &world.grids;
    let grid = grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let street = grid.at_level(Level::Street).expect("a street");
    let far_grid =
        grids.at_level(Level::Grid).map(|n| n.code.clone()).find(|g| !g.is_within(&street)).expect("a far grid");
    Places {
        community: grid.at_level(Level::Community).expect("a community"),
        far_community: far_grid.at_level(Level::Community).expect("a community"),
        far_street: far_grid.at_level(Level::Street).expect("a street"),
        street,
        grid,
        far_grid,
    }
}

fn principals(p: &Places) -> Vec<(&'static str, Principal)> {
    let who = |role, id: &str, place: Option<&GridCode>| Principal {
        actor: Actor::new(role, id).expect("an actor"),
        place: place.cloned(),
    };
    vec![
        ("resident inside", who(Role::Resident, "r-1", None)),
        ("resident outside", who(Role::Resident, "r-2", None)),
        ("grid worker inside", who(Role::GridWorker, "gw-1", Some(&p.community))),
        ("grid worker outside", who(Role::GridWorker, "gw-2", Some(&p.far_community))),
        ("grid head inside", who(Role::GridHead, "gh-1", Some(&p.grid))),
        ("grid head outside", who(Role::GridHead, "gh-2", Some(&p.far_grid))),
        ("dispatcher inside", who(Role::Dispatcher, "d-1", Some(&p.street))),
        ("dispatcher outside", who(Role::Dispatcher, "d-2", Some(&p.far_street))),
        ("volunteer inside", who(Role::Volunteer, "V-1", None)),
        ("volunteer outside", who(Role::Volunteer, "V-2", None)),
        ("department outside", who(Role::Department, "civil_affairs", None)),
        ("official inside", who(Role::Official, "o-1", Some(&p.community))),
        ("official outside", who(Role::Official, "o-2", Some(&p.far_street))),
        ("auditor", who(Role::Auditor, "a-1", None)),
        ("admin", who(Role::Admin, "ops-1", None)),
    ]
}

fn envelope(key: &str, actor: Actor, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: CommandId::new(key).expect("an id"),
        correlation_id: None,
        actor,
        command,
        expected_version: None,
    }
}

/// The photo T-1's order names, as stored.
fn photo() -> Vec<u8> {
    let jpeg = include_bytes!("../../../../fixtures/photos/gps.jpg");
    gridloop_media::check(jpeg).expect("a photo").bytes
}

/// V-1 living in the ticket's grid, V-2 elsewhere; T-1 ordered for r-1 with
/// [`photo`] and offered to V-1.
async fn given_the_world(service: &CommandService<MemoryStore>, p: &Places) {
    let system = Actor::system();
    for (n, home) in [(1, &p.grid), (2, &p.far_grid)] {
        let register = VolunteerCommand::Register {
            team: gridloop_engine::ids::TeamId::from_number(1),
            home_grid: home.clone(),
            skills: Default::default(),
            open_orders_max: 3,
        };
        let command = Command::Volunteer { id: VolunteerId::from_number(n), command: register };
        service.execute(envelope(&format!("register-{n}"), system.clone(), command)).await.expect("registered");
    }
    let id = TicketId::from_number(1);
    let submit = TicketCommand::Submit {
        item: gridloop_engine::ids::ItemCode::new("IC-003").expect("an item"),
        grid: p.grid.clone(),
        resident: ResidentId::new("r-1").expect("a resident"),
        description: "a leaking tap".into(),
        urgency: Urgency::Normal,
        channel: Channel::Web,
        location: None,
        photos: vec![BlobHash::of(&photo())],
    };
    let offer = TicketCommand::Offer {
        candidates: vec![Assignee::Volunteer(VolunteerId::from_number(1))],
        expires_at: service.clock().now().plus(Millis::minutes(600)),
    };
    for (key, command) in [("submit", submit), ("offer", offer)] {
        let command = Command::Ticket { id: id.clone(), command };
        service.execute(envelope(key, Actor::new(Role::Dispatcher, "d-0").expect("actor"), command)).await.expect("ok");
    }
}

/// The route's path with its parameters filled in.
fn concrete(path: &str, p: &Places, token_id: &str) -> String {
    let action = if path.starts_with("/api/v1/emergency") {
        "declare"
    } else if path.starts_with("/api/v1/patrols/") {
        "start"
    } else {
        "note"
    };
    path.replace("/queues/{kind}/{id}", "/queues/volunteer/V-1")
        .replace("/volunteers/{id}", "/volunteers/V-1")
        .replace("/tokens/{id}", &format!("/tokens/{token_id}"))
        .replace("{id}", "T-1")
        .replace("{subject}", "gw-1")
        .replace("{action}", action)
        .replace("{kind}", "volunteer")
        .replace("{place}", p.street.as_str())
        .replace("{format}", "json")
        .replace("{service_code}", "IC-003")
        .replace("{service_request_id}", "T-1")
        .replace("{token}", "T-1")
        .replace("{hash}", &BlobHash::of(&photo()).to_hex())
        .replace("{grid}", p.grid.as_str())
        .replace("{community}", p.community.as_str())
        .replace("{week}", "2026-W48")
}

/// What the route touches, as the permit rule is asked about it.
enum Touches {
    District,
    Ticket,
    Volunteer,
    Holder,
    Place(GridCode),
}

fn touches(method: &str, path: &str, p: &Places) -> Touches {
    match (method, path) {
        (_, p2) if p2.contains("/tickets/{id}") => Touches::Ticket,
        (_, p2) if p2.starts_with("/api/v1/volunteers/{id}") => Touches::Volunteer,
        (_, p2) if p2.starts_with("/api/v1/queues/") => Touches::Holder,
        (_, p2) if p2.starts_with("/api/v1/emergency/") => Touches::Place(p.street.clone()),
        (_, p2) if p2.starts_with("/api/v1/reports/weekly/") => Touches::Place(p.grid.clone()),
        (_, p2) if p2.starts_with("/api/v1/reports/community/") => Touches::Place(p.community.clone()),
        // The grid worker's writes: a patrol in the ticket's grid, a
        // problem found there, T-1 (in it) coordinated.
        ("post", p2) if p2.starts_with("/api/v1/patrols/") || p2.starts_with("/api/v1/field/") => {
            Touches::Place(p.grid.clone())
        }
        ("post", "/api/v1/tickets" | "/api/v1/volunteers" | "/open311/v2/requests.{format}") => {
            Touches::Place(p.grid.clone())
        }
        _ => Touches::District,
    }
}

/// A body the route takes. An order names its resident unless a resident
/// orders (for themself: naming another is the engine's other rule).
fn body(method: &str, path: &str, p: &Places, token: &str, resident: bool) -> (String, &'static str) {
    let json = "application/json";
    let text = match (method, path) {
        ("post", "/api/v1/tickets") => {
            let named = if resident { "" } else { r#","resident":"r-1""# };
            format!(r#"{{"category":"IC-003","grid":"{}","description":"tap"{named}}}"#, p.grid)
        }
        ("post", "/open311/v2/requests.{format}") => {
            let named = if resident { "" } else { "&account_id=r-1" };
            let form = format!("api_key={token}&service_code=IC-003&address_id={}&description=tap{named}", p.grid);
            return (form, "application/x-www-form-urlencoded");
        }
        ("post", "/api/v1/tickets/{id}/{action}") => r#"{"text":"noted"}"#.into(),
        ("post", "/api/v1/volunteers/{id}/redeem") => r#"{"points":1,"reward":"tea"}"#.into(),
        ("post", "/api/v1/volunteers/{id}/deactivate" | "/api/v1/volunteers/{id}/exit") => {
            r#"{"reason":"away"}"#.into()
        }
        ("post", "/api/v1/volunteers/{id}/transfer") => {
            format!(r#"{{"team":"TM-1","home_grid":"{}","open_orders_max":2}}"#, p.grid)
        }
        ("post", "/api/v1/volunteers/{id}/skills") => r#"{"skills":["tea"]}"#.into(),
        ("post", "/api/v1/volunteers") => format!(r#"{{"id":"V-99","team":"TM-1","home_grid":"{}"}}"#, p.grid),
        ("post", "/api/v1/staff") => format!(r#"{{"subject":"gw-9","role":"grid_worker","place":"{}"}}"#, p.grid),
        ("post", "/api/v1/world/changes") => r#"{"changes":[]}"#.into(),
        ("post", "/api/v1/emergency/{place}/{action}") => r#"{"reason":"typhoon"}"#.into(),
        ("post", "/api/v1/tokens") => r#"{"role":"resident","subject":"r-9"}"#.into(),
        ("post", "/api/v1/reports/weekly/{grid}/{week}") => r#"{"narrative":"本周平稳"}"#.into(),
        ("post", "/api/v1/patrols/{action}") => format!(r#"{{"grid":"{}"}}"#, p.grid),
        ("post", "/api/v1/field/found") => {
            format!(r#"{{"category":"IC-003","grid":"{}","description":"a blocked drain"}}"#, p.grid)
        }
        ("post", "/api/v1/field/coordinate/{id}") => r#"{"done":"part","rest":"the rest"}"#.into(),
        _ => String::new(),
    };
    (text, json)
}

/// What the permit rule answers, and for a ticket action on a ticket
/// (`note` here) what the command's own role rule in `Ticket::decide` adds
/// (a photo upload acts on no ticket yet: the rule's roles alone).
fn expected(
    who: &Principal,
    access: Access,
    touches: &Touches,
    ticket: &Ticket,
    world: &gridloop_engine::World,
    now: Timestamp,
) -> Result<(), Error> {
    let v1 = VolunteerId::from_number(1);
    let holder = Assignee::Volunteer(v1.clone());
    let p = places(world);
    let target = match touches {
        Touches::District => Target::District,
        Touches::Ticket => Target::Ticket(ticket),
        Touches::Volunteer => Target::Volunteer { id: &v1, home: &p.grid },
        Touches::Holder => Target::Holder(&holder),
        Touches::Place(place) => Target::Place(place),
    };
    permit(who, access, target)?;
    if access == Access::Write(Write::TicketAction) && matches!(touches, Touches::Ticket) {
        let ctx = world.context(now, false);
        let note = TicketCommand::AddNote { text: "noted".into() };
        match ticket.decide(&TicketId::from_number(1), &note, &who.actor, &ctx) {
            Err(refused @ (Error::NotPermitted { .. } | Error::NotFound { .. })) => return Err(refused),
            _ => {}
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_route_answers_every_role_inside_and_outside_as_the_permit_rule_says() {
    let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let world = district.world.clone();
    let p = places(&world);
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
    let service = Arc::new(CommandService::new(MemoryStore::new(), world.clone(), clock.clone(), 7));
    given_the_world(&service, &p).await;
    let mut table = TokenTable::new();
    let mut tokens = Vec::new();
    for (name, who) in principals(&p) {
        let (token, entry) =
            TokenTable::issue(who.actor.role, who.actor.id.as_str(), who.place.clone()).expect("a token");
        table.insert(entry).expect("inserted");
        tokens.push((name, who, token));
    }
    // A token for the revoking route to revoke (the admin's own may not be).
    let (_, spare) = TokenTable::issue(Role::Resident, "r-spare", None).expect("a token");
    let spare_id = TokenTable::id_of(&blake3::Hash::from_hex(&spare.hash).expect("hex"));
    table.insert(spare).expect("inserted");
    let blobs = Arc::new(MemoryBlobs::new());
    blobs.put(photo()).await.expect("the photo is stored");
    let app = router(
        AppState::new(service.clone(), table, gridloop_http::Cold::default()).await.expect("state").with_blobs(blobs),
    );

    let routes = accesses();
    let documented = gridloop_http::openapi::operations();
    assert_eq!(routes.len(), documented.len(), "every documented operation declares its access");
    let mut mismatches = Vec::new();
    for (method, path, access) in &routes {
        let full = concrete(path, &p, &spare_id);
        let touched = touches(method, path, &p);
        let open311_post = path.starts_with("/open311") && method == "post";
        let (text, content_type) = body(method, path, &p, "", false);
        let anonymous = call(&app, method, &full, None, &text, content_type).await;
        let public = *access == Access::Public;
        if public == matches!(anonymous, 401 | 403) || anonymous >= 500 {
            mismatches.push(format!("{method} {full} without a token: {anonymous}"));
        }
        if public {
            continue;
        }
        for (name, who, token) in &tokens {
            let ticket = service.ticket(&TicketId::from_number(1)).await.expect("T-1");
            let want = expected(who, *access, &touched, &ticket, &world, clock.now());
            let (text, content_type) = body(method, path, &p, token, who.actor.role == Role::Resident);
            let header = if open311_post { None } else { Some(token.as_str()) };
            let status = call(&app, method, &full, header, &text, content_type).await;
            let ok = match &want {
                Ok(()) => !matches!(status, 401 | 403) && !(matches!(touched, Touches::Ticket) && status == 404),
                Err(Error::NotFound { .. }) => status == 404,
                Err(_) => status == 403,
            };
            if !ok || status >= 500 {
                mismatches.push(format!("{method} {full} as {name}: {status}, the rule says {want:?}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "routes answering otherwise than the permit rule:\n{}", mismatches.join("\n"));
}

/// One request; its status. An event stream's head is all that is read.
async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    content_type: &str,
) -> u16 {
    let mut request =
        Request::builder().method(method.to_uppercase().as_str()).uri(path).header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body.to_string())).expect("a request");
    app.clone().oneshot(request).await.expect("an answer").status().as_u16()
}
