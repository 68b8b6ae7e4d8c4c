//! A valid bundle reads, into the world, volunteers and personal data it
//! describes.

use gridloop_engine::envelope::Role;
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{ItemCode, ResidentId, VolunteerId};
use gridloop_world::{Status, describe, read_files};

use crate::support::{files, read};

#[test]
fn a_valid_bundle_reads() {
    let bundle = read(&files()).unwrap_or_else(|problems| panic!("{}", crate::support::printed(&problems)));
    let world = &bundle.world;
    assert_eq!(world.district.as_ref().map(|d| d.name.as_str()), Some("定州市"));
    assert_eq!(world.grids.len(), 5);
    assert_eq!(world.categories.len(), 2);
    assert_eq!(world.departments.len(), 2);
    assert_eq!(world.items.len(), 3);
    let admitted = |code: &str| world.items[&ItemCode::new(code).unwrap()].admitted;
    assert!(admitted("CS-001") && admitted("PS-001") && !admitted("DP-001"));
    let grid = &world.grids[&GridCode::parse("130682-101-001-002").unwrap()];
    assert_eq!((grid.management_class, grid.boundary.len()), (Some(2), 4));
    assert_eq!(grid.boundary[0].lon, 114_950_000);
    assert_eq!(world.teams.len(), 2);
    assert_eq!(world.staff.len(), 2);
    assert!(world.staff.values().any(|s| s.role == Role::Department));
    assert_eq!(world.routing, Some(Default::default()), "no routing.toml: the default policy");
    world.world().expect("the engine builds the world");

    let v2 = &bundle.volunteers[&VolunteerId::new("V-2").unwrap()];
    assert_eq!(v2.status, Status::Inactive { reason: "生病住院".into() });
    assert_eq!(v2.open_orders_max, 3, "the default limit");
    let v1 = &bundle.volunteers[&VolunteerId::new("V-1").unwrap()];
    assert_eq!(v1.skills.len(), 2, "errands、medicine is a list of two");
    assert_eq!(bundle.personal.len(), 4);
    let person = &bundle.personal[&ResidentId::new("volunteer:V-1").unwrap()];
    assert_eq!((person.name.as_str(), person.phone.as_str()), ("张三", "13800000001"));
    assert!(bundle.personal.contains_key(&ResidentId::new("staff:dp-1").unwrap()));
}

#[test]
fn reading_from_memory_is_reading_the_directory() {
    let files = files();
    let from_dir = read(&files).expect("reads");
    let in_memory: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    assert_eq!(read_files(&in_memory, gridloop_world::Encoding::Auto).expect("reads"), from_dir);
}

#[test]
fn a_routing_file_sets_the_policy() {
    let mut files = files();
    let routing = include_str!("../../../../fixtures/data/routing.toml").replace("offers_max = 5", "offers_max = 7");
    files.insert("routing.toml", routing.into_bytes());
    let bundle = read(&files).expect("reads");
    assert_eq!(bundle.world.routing.map(|r| r.offers_max), Some(7));
}

#[test]
fn the_description_names_the_district_and_counts_its_parts() {
    let text = describe(&read(&files()).expect("reads").world);
    for expected in [
        "District 130682 定州市 (Dingzhou), time zone Asia/Shanghai",
        "Grids: 1 市, 1 镇/街道, 1 村/社区, 2 网格, 0 分片 (0 retired)",
        "Catalog: 3 items (2 admitted, 0 withdrawn) in 2 categories",
        "community_service 社区服务: 2 items, 1 admitted",
        "Teams: 2 (1 community, 0 volunteer, 1 backup agency)",
        "Staff: 2 (1 grid worker, 1 department)",
        "offers to 5 at a time for 30m",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}
