//! The bot speaks the district's own words: an offer in a district imported
//! from its bundle (`fixtures/worlds/dingzhou`) names the item and the place
//! as that bundle writes them, read from the world in the log.

use std::sync::Arc;

use gridloop_chatbot::notify;
use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{CommandId, ResidentId, StreamId, TicketId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Assignee, Channel, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};

fn envelope(key: &str, actor: &Actor, command: TicketCommand) -> CommandEnvelope {
    CommandEnvelope {
        command_id: CommandId::new(key).expect("a key"),
        correlation_id: None,
        actor: actor.clone(),
        command: Command::Ticket { id: TicketId::from_number(1), command },
        expected_version: None,
    }
}

#[tokio::test]
async fn an_offer_names_the_item_and_place_of_the_imported_district() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/dingzhou");
    let bundle = gridloop_world::read(&dir, gridloop_world::Encoding::Auto).expect("the example checks out");
    let now = Timestamp::parse("2026-12-07T01:00:00Z").expect("a time");
    let service =
        CommandService::open(MemoryStore::default(), Arc::new(ManualClock::new(now)), 1).await.expect("opens");
    let admin = Actor::new(Role::Admin, "operator").expect("an actor");
    gridloop_world::import(&service, None, &bundle, admin, |_, _| {}).await.expect("imports");
    let world = service.world();
    let item = world.catalog.items().find(|i| i.admitted && i.mode == HandlingMode::Volunteer).expect("an item");
    let entry = bundle.volunteers.values().next().expect("a volunteer");
    let grid = world.grids.get(&entry.home_grid).expect("the volunteer's grid");
    let dispatcher = Actor::new(Role::Dispatcher, "d-1").expect("an actor");
    let submit = TicketCommand::Submit {
        photos: vec![],
        item: item.code.clone(),
        grid: grid.code.clone(),
        resident: ResidentId::new("r-1").expect("an id"),
        description: "老人需要帮助".into(),
        urgency: Urgency::Normal,
        channel: Channel::Phone,
        location: None,
    };
    service.execute(envelope("s", &dispatcher, submit)).await.expect("submits");
    let triage = TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None };
    service.execute(envelope("t", &dispatcher, triage)).await.expect("triages");
    let offer = TicketCommand::Offer {
        candidates: vec![Assignee::Volunteer(entry.id.clone())],
        expires_at: now.plus(Millis::hours(1)),
    };
    service.execute(envelope("o", &dispatcher, offer)).await.expect("offers");
    let events = service.store().read_stream(&StreamId::ticket(&TicketId::from_number(1)), 1).await.expect("reads");
    let notices = notify::notices(&service, events.last().expect("the offer")).await.expect("notices");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let text = &notices[0].text;
    assert!(text.contains(&item.name) && text.contains(&grid.name), "{text}");
    assert!(item.code.as_str().starts_with("DZ-"), "the second example's own codes");
}
