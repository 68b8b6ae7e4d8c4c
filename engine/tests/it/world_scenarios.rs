//! The world aggregate (`world.rs`): given the world so far, when a batch of
//! changes is decided, then these events (or this refusal). And the command
//! service deciding tickets against the world in the log, as it stood.

use std::sync::Arc;

use gridloop_engine::Error;
use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::{GeoPoint, GridNode};
use gridloop_engine::ids::{CommandId, StreamId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Channel, TicketCommand, Urgency};
use gridloop_engine::world::{DistrictInfo, WorldChange, WorldCommand, WorldEvent, WorldState};

use crate::support::*;

fn admin() -> Actor {
    actor(Role::Admin, "operator")
}

/// The test world of `support::world()`, written as a desired world state.
fn desired() -> WorldState {
    let w = world();
    let mut state = WorldState {
        district: Some(DistrictInfo {
            code: grid(DISTRICT),
            name: "赤坎区".into(),
            name_en: "Chikan".into(),
            time_zone: "Asia/Shanghai".into(),
            levels: ["区", "街道", "社区", "网格", "分片"].map(String::from),
        }),
        ..WorldState::default()
    };
    for c in w.catalog.categories() {
        state.categories.insert(c.code.clone(), c.clone());
    }
    for d in w.catalog.departments() {
        state.departments.insert(d.code.clone(), d.clone());
    }
    for i in w.catalog.items() {
        state.items.insert(i.code.clone(), i.clone());
    }
    for code in [DISTRICT, STREET, COMMUNITY, GRID, SUB_GRID, OTHER_GRID, "440802-001-002", FAR_GRID] {
        let node = w.grids.get(&grid(code)).expect("in the test world").clone();
        state.grids.insert(node.code.clone(), node);
    }
    state
}

/// Decides the changes in chunks as an import does, folding each chunk in.
fn apply_all(mut state: WorldState, changes: Vec<WorldChange>) -> WorldState {
    for chunk in changes.chunks(64) {
        let events = state.decide(&WorldCommand { changes: chunk.to_vec() }, &admin(), &ctx(t0())).expect("valid");
        for e in &events {
            state.evolve(e);
        }
    }
    state
}

#[test]
fn a_whole_world_is_built_from_nothing_and_a_second_import_changes_nothing() {
    let target = desired();
    let changes = WorldState::default().changes_to(&target);
    assert!(matches!(changes[0], WorldChange::DefineDistrict { .. }), "the district comes first");
    let built = apply_all(WorldState::default(), changes);
    assert_eq!(built, target);
    let world = built.world().expect("a valid world");
    assert_eq!(world.grids.len(), 8);
    assert_eq!(world.catalog.items().count(), 4);
    assert_eq!(world.level_name(gridloop_engine::grid::Level::Street), "街道");
    assert!(built.changes_to(&target).is_empty(), "re-importing the same world changes nothing");
}

#[test]
fn admission_is_its_own_event_after_the_proposal() {
    let mut target = desired();
    target.items.retain(|code, _| code.as_str() == VISIT);
    let built = apply_all(WorldState::default(), WorldState::default().changes_to(&target));
    let mut admitted_later = target.clone();
    admitted_later.items.get_mut(&item_code(VISIT)).unwrap().admitted = false;
    let before = apply_all(WorldState::default(), WorldState::default().changes_to(&admitted_later));
    assert!(!before.items[&item_code(VISIT)].admitted);
    let changes = before.changes_to(&built);
    assert_eq!(changes, vec![WorldChange::AdmitItem { code: item_code(VISIT) }]);
    let events = before.decide(&WorldCommand { changes }, &admin(), &ctx(t0())).unwrap();
    assert_eq!(events, vec![WorldEvent::ItemAdmitted { code: item_code(VISIT) }]);
}

#[test]
fn only_the_operator_and_the_engine_change_the_world() {
    let change = WorldCommand { changes: WorldState::default().changes_to(&desired())[..1].to_vec() };
    for who in [dispatcher(), grid_worker(), volunteer(1), resident(), auditor()] {
        let refused = WorldState::default().decide(&change, &who, &ctx(t0()));
        assert!(matches!(refused, Err(Error::NotPermitted { .. })), "{who:?}: {refused:?}");
    }
    assert!(WorldState::default().decide(&change, &system(), &ctx(t0())).is_ok());
}

#[test]
fn a_grid_needs_its_parent_and_a_grid_with_children_cannot_retire() {
    let built = apply_all(WorldState::default(), WorldState::default().changes_to(&desired()));
    let orphan = GridNode { code: grid("440802-009-001"), ..built.grids[&grid(COMMUNITY)].clone() };
    let refused =
        built.decide(&WorldCommand { changes: vec![WorldChange::AddGrid { node: orphan }] }, &admin(), &ctx(t0()));
    assert!(matches!(&refused, Err(Error::Invalid { reason, .. }) if reason.contains("parent")), "{refused:?}");
    let retire = WorldCommand { changes: vec![WorldChange::RetireGrid { code: grid(GRID) }] };
    let refused = built.decide(&retire, &admin(), &ctx(t0()));
    assert!(matches!(&refused, Err(Error::Invalid { reason, .. }) if reason.contains(SUB_GRID)), "{refused:?}");
    // Retiring the sub-grid first, in the same command, makes it valid.
    let both = WorldCommand {
        changes: vec![WorldChange::RetireGrid { code: grid(SUB_GRID) }, WorldChange::RetireGrid { code: grid(GRID) }],
    };
    let events = built.decide(&both, &admin(), &ctx(t0())).expect("children first is valid");
    assert_eq!(events.len(), 2);
}

#[test]
fn a_redrawn_grid_and_a_revised_item_are_the_only_changes_written() {
    let built = apply_all(WorldState::default(), WorldState::default().changes_to(&desired()));
    let mut target = built.clone();
    let node = target.grids.get_mut(&grid(OTHER_GRID)).unwrap();
    node.boundary.push(GeoPoint { lon: 1_500, lat: 1_200 });
    target.items.get_mut(&item_code(VISIT)).unwrap().points = 20;
    let changes = built.changes_to(&target);
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(matches!(&changes[0], WorldChange::RedrawGrid { code, .. } if code == &grid(OTHER_GRID)));
    assert!(matches!(&changes[1], WorldChange::ReviseItem { item } if item.points == 20));
}

#[test]
fn an_item_naming_an_unknown_department_is_refused_and_nothing_else_in_the_batch_is_written() {
    let built = apply_all(WorldState::default(), WorldState::default().changes_to(&desired()));
    let mut bad = built.items[&item_code(VISIT)].clone();
    bad.code = item_code("CS-099");
    bad.department = dept_id("nobody");
    let good = WorldChange::WithdrawItem { code: item_code(FLYERS) };
    let refused = built.decide(
        &WorldCommand { changes: vec![good, WorldChange::ProposeItem { item: bad }] },
        &admin(),
        &ctx(t0()),
    );
    assert!(matches!(&refused, Err(Error::Invalid { reason, .. }) if reason.contains("department")), "{refused:?}");
}

/// The service decides a ticket against the world in the log: an item
/// proposed but not admitted goes to its department; once admitted (by a
/// later import), a new ticket goes to volunteers; the first ticket keeps
/// the world it was decided on.
#[test]
fn the_service_reads_the_world_from_the_log_as_it_changes() {
    block_on(async {
        let store = MemoryStore::default();
        let clock = Arc::new(ManualClock::new(t0()));
        let mut target = desired();
        target.items.get_mut(&item_code(VISIT)).unwrap().admitted = false;
        let importer = CommandService::open(store.clone(), clock.clone(), 1).await.unwrap();
        assert_eq!(importer.world().grids.len(), 0, "a fresh log holds an empty world");
        import(&importer, &target, "import-1").await;
        // A second service on the same log (another process) sees it at open.
        let service = CommandService::open(store.clone(), clock.clone(), 2).await.unwrap();
        assert_eq!(service.world().catalog.items().count(), 4);
        let refused = service.execute(submit(1, "s-1")).await;
        assert!(refused.is_ok(), "{refused:?}");
        let triage = |n, key: &str, mode| CommandEnvelope {
            command_id: CommandId::new(key).unwrap(),
            correlation_id: None,
            actor: dispatcher(),
            command: Command::Ticket { id: tid(n), command: TicketCommand::Triage { mode, item: None } },
            expected_version: None,
        };
        let err = service.execute(triage(1, "t-1", HandlingMode::Volunteer)).await.unwrap_err();
        assert_eq!(err.code(), "not_admitted", "{err:?}");
        target.items.get_mut(&item_code(VISIT)).unwrap().admitted = true;
        import(&importer, &target, "import-2").await;
        service.execute(submit(2, "s-2")).await.unwrap();
        service.execute(triage(2, "t-2", HandlingMode::Volunteer)).await.expect("admitted now");
        let world_events = store.read_stream(&StreamId::world(), 1).await.unwrap();
        let last = world_events.last().unwrap();
        assert_eq!((last.schema.name.as_str(), last.actor.role), ("world.item_admitted", Role::Admin));
    });
}

async fn import(service: &CommandService<MemoryStore>, target: &WorldState, key: &str) {
    let current = {
        let events = service.store().read_stream(&StreamId::world(), 1).await.unwrap();
        let mut state = WorldState::default();
        for e in &events {
            state.evolve(&e.decode().unwrap());
        }
        state
    };
    for (i, chunk) in current.changes_to(target).chunks(64).enumerate() {
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("{key}-{i}")).unwrap(),
            correlation_id: None,
            actor: admin(),
            command: Command::World { command: WorldCommand { changes: chunk.to_vec() } },
            expected_version: None,
        };
        service.execute(envelope).await.expect("the import is valid");
    }
}

fn submit(n: u64, key: &str) -> CommandEnvelope {
    CommandEnvelope {
        command_id: CommandId::new(key).unwrap(),
        correlation_id: None,
        actor: resident(),
        command: Command::Ticket {
            id: tid(n),
            command: TicketCommand::Submit {
                photos: vec![],
                item: item_code(VISIT),
                grid: grid(GRID),
                resident: resident_id("r-1"),
                description: "请帮忙探访老人".into(),
                urgency: Urgency::Normal,
                channel: Channel::QrCode,
                location: None,
            },
        },
        expected_version: None,
    }
}
