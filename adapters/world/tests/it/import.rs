//! Importing into a command service on a memory store: the world as
//! events, volunteers registered, names and phones in the personal store;
//! a second import writes nothing; a changed bundle writes exactly its
//! changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{ActorId, ResidentId, StreamId, VolunteerId};
use gridloop_engine::personal::{Lookup, Person, PersonalStore};
use gridloop_engine::service::{Clock, CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_world::{Bundle, ImportSummary, WorldError, import};
use serde_json::json;

use crate::support::{collection, feature, features, files, rect};

/// A personal store in memory; `None` marks an erased record.
#[derive(Debug, Default)]
pub struct MemoryPersonal(Mutex<BTreeMap<ResidentId, Option<Person>>>);

impl PersonalStore for MemoryPersonal {
    fn put(&self, resident: &ResidentId, person: &Person) -> Result<(), Error> {
        self.0.lock().unwrap().insert(resident.clone(), Some(person.clone()));
        Ok(())
    }
    fn get(&self, resident: &ResidentId) -> Result<Lookup, Error> {
        Ok(match self.0.lock().unwrap().get(resident) {
            None => Lookup::Unknown,
            Some(None) => Lookup::Erased,
            Some(Some(person)) => Lookup::Found(person.clone()),
        })
    }
    fn erase(&self, resident: &ResidentId) -> Result<bool, Error> {
        Ok(self.0.lock().unwrap().insert(resident.clone(), None).is_some())
    }
}

pub struct Harness {
    pub store: MemoryStore,
    pub clock: Arc<ManualClock>,
    pub service: CommandService<MemoryStore>,
    pub personal: MemoryPersonal,
}

impl Harness {
    pub async fn new() -> Self {
        let store = MemoryStore::new();
        let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-01-05T08:00:00Z").unwrap()));
        let service = CommandService::open(store.clone(), clock.clone(), 7).await.expect("a service");
        Self { store, clock, service, personal: MemoryPersonal::default() }
    }

    pub async fn import(&self, bundle: &Bundle) -> ImportSummary {
        let operator = Actor::new(Role::Admin, "admin-1").unwrap();
        let mut last = (0, 0);
        let summary = import(&self.service, Some(&self.personal), bundle, operator, |done, total| last = (done, total))
            .await
            .unwrap_or_else(|e| panic!("{} ({})", e, e.code()));
        assert_eq!(last.0, last.1, "progress ends at its total");
        summary
    }

    /// The schema names of the events written since `from` (an index into the log).
    pub fn written_since(&self, from: usize) -> Vec<String> {
        let mut names: Vec<String> = self.store.snapshot()[from..].iter().map(|e| e.schema.name.clone()).collect();
        names.sort();
        names
    }
}

pub fn bundle(files: &BTreeMap<&'static str, Vec<u8>>) -> Bundle {
    crate::support::read(files).unwrap_or_else(|p| panic!("{}", crate::support::printed(&p)))
}

/// The bundle with DP-001 admitted, grid 130682-101-001-002 redrawn and V-1 exited.
pub fn changed_files() -> BTreeMap<&'static str, Vec<u8>> {
    let mut files = files();
    let catalog = crate::support::CATALOG_CSV.replace(",0,no,", ",0,yes,");
    files.insert("catalog.csv", catalog.into_bytes());
    let mut all = features();
    let extra = json!({"kind": "unit", "class": 2, "property_form": "residential"});
    all[4] = feature("130682-101-001-002", "第2网格", extra, rect(114.95, 38.4, 115.0, 38.44));
    files.insert("grids.geojson", collection(all).into_bytes());
    let volunteers =
        crate::support::VOLUNTEERS_CSV.replace("errands、medicine,3,,", "errands、medicine,3,exited,警示退出");
    files.insert("volunteers.csv", volunteers.into_bytes());
    files
}

#[tokio::test]
async fn an_import_writes_the_world_and_the_people_and_a_second_writes_nothing() {
    let h = Harness::new().await;
    let bundle = bundle(&files());
    let first = h.import(&bundle).await;
    let world_events = h.store.snapshot().iter().filter(|e| e.stream == StreamId::world()).count();
    assert_eq!(first.world_events, world_events);
    assert_eq!(
        world_events, 20,
        "district, 2 categories, 2 departments, routing, 5 grids, 3 items, 2 admissions, 2 teams, 2 staff"
    );
    assert_eq!((first.volunteers_registered, first.volunteers_changed, first.volunteers_unchanged), (2, 0, 0));
    assert_eq!(first.personal_written, 4);
    let world = h.service.world();
    assert_eq!(world.grids.len(), 5);
    assert_eq!(world.catalog.items().count(), 3);
    let v2 = h.service.volunteer(&VolunteerId::new("V-2").unwrap()).await.unwrap();
    assert_eq!(v2.inactive.as_deref(), Some("生病住院"));
    let key = ResidentId::new("staff:gw-130682-101-001-001").unwrap();
    assert!(matches!(h.personal.get(&key).unwrap(), Lookup::Found(p) if p.name == "王五"));

    let before = h.store.snapshot().len();
    let second = h.import(&bundle).await;
    assert!(second.wrote_nothing(), "{second:?}");
    assert_eq!(h.store.snapshot().len(), before);
    assert_eq!((second.world_commands, second.volunteers_unchanged, second.personal_unchanged), (0, 2, 4));
}

#[tokio::test]
async fn a_changed_bundle_writes_exactly_its_changes() {
    let h = Harness::new().await;
    h.import(&bundle(&files())).await;
    let before = h.store.snapshot().len();
    let summary = h.import(&bundle(&changed_files())).await;
    assert_eq!(h.written_since(before), ["volunteer.exited", "world.grid_redrawn", "world.item_admitted"]);
    assert_eq!((summary.world_events, summary.volunteers_exited, summary.volunteers_unchanged), (2, 1, 1));
    let exited = h.service.volunteer(&VolunteerId::new("V-1").unwrap()).await.unwrap();
    assert_eq!(exited.exited.as_deref(), Some("警示退出"));
    let admitted = h.store.snapshot().into_iter().find(|e| e.schema.name == "world.item_admitted" && e.version > 20);
    assert_eq!(
        admitted.map(|e| e.actor.id),
        Some(ActorId::new("admin-1").unwrap()),
        "who admitted it is the event's actor"
    );
    let again = h.store.snapshot().len();
    assert!(h.import(&bundle(&changed_files())).await.wrote_nothing());
    assert_eq!(h.store.snapshot().len(), again);
}

#[tokio::test]
async fn people_missing_from_the_bundle_are_reported_and_left_alone() {
    let h = Harness::new().await;
    h.import(&bundle(&files())).await;
    let mut fewer = files();
    let volunteers = crate::support::VOLUNTEERS_CSV.lines().filter(|l| !l.starts_with("V-2")).collect::<Vec<_>>();
    fewer.insert("volunteers.csv", volunteers.join("\n").into_bytes());
    fewer.insert("staff.csv", crate::support::STAFF_CSV.lines().take(2).collect::<Vec<_>>().join("\n").into_bytes());
    let before = h.store.snapshot().len();
    let summary = h.import(&bundle(&fewer)).await;
    assert!(summary.wrote_nothing(), "{summary:?}");
    assert_eq!(h.store.snapshot().len(), before);
    assert_eq!(summary.volunteers_not_in_bundle, [VolunteerId::new("V-2").unwrap()]);
    assert_eq!(summary.staff_not_in_bundle, [ActorId::new("dp-1").unwrap()]);
}

#[tokio::test]
async fn an_erased_person_is_not_written_again() {
    let h = Harness::new().await;
    h.import(&bundle(&files())).await;
    let key = ResidentId::new("volunteer:V-1").unwrap();
    h.personal.erase(&key).unwrap();
    let summary = h.import(&bundle(&files())).await;
    assert_eq!(summary.personal_written, 0);
    assert_eq!(h.personal.get(&key).unwrap(), Lookup::Erased);
    assert!(summary.notes.iter().any(|n| n.contains("volunteer:V-1 was erased")), "{:?}", summary.notes);
}

#[tokio::test]
async fn only_the_operator_imports() {
    let h = Harness::new().await;
    let dispatcher = Actor::new(Role::Dispatcher, "d-1").unwrap();
    let refused = import(&h.service, None, &bundle(&files()), dispatcher, |_, _| {}).await;
    assert!(matches!(&refused, Err(WorldError::NotOperator { .. })), "{refused:?}");
    assert_eq!(refused.unwrap_err().code(), "not_operator");
    assert!(h.store.snapshot().is_empty());
}

#[tokio::test]
async fn an_import_an_hour_later_is_stamped_an_hour_later() {
    let h = Harness::new().await;
    h.import(&bundle(&files())).await;
    h.clock.advance(Millis::hours(1));
    let before = h.store.snapshot().len();
    h.import(&bundle(&changed_files())).await;
    let later = h.store.snapshot()[before..].iter().all(|e| e.occurred_at == h.clock.now());
    assert!(later);
}
