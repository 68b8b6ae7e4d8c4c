//! Schema evolution: `fixtures/events/` keeps one golden payload per event
//! schema and version, `<schema>.v<version>.json`, loaded by this test
//! forever.
//!
//! - Every golden file decodes (old versions through their upcasters).
//! - A golden file of a current version re-encodes to exactly its bytes, so
//!   changing an event's shape without bumping its version (and writing the
//!   upcaster from the old one) fails here.
//! - Every current schema has its golden file. To add the files for a new
//!   schema or version, run this test with `GRIDLOOP_BLESS=1`; it writes
//!   only missing files, never rewrites one.

use std::collections::BTreeSet;
use std::path::PathBuf;

use gridloop_engine::emergency::EmergencyEvent;
use gridloop_engine::envelope::{EventPayload, Schema};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ticket::{
    Assignee, Channel, CloseReason, EscalationReason, ExpiryReason, Rating, TicketEvent, Tier, Urgency,
};
use gridloop_engine::volunteer::VolunteerEvent;
use gridloop_engine::world::WorldEvent;

use crate::support::*;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/events")
}

/// One sample of every event variant, at its current version.
fn samples() -> Vec<(Schema, serde_json::Value)> {
    let ticket = vec![
        TicketEvent::Submitted {
            photos: vec![gridloop_engine::blob::BlobHash::of(b"a photo of the hallway")],
            ticket: tid(1),
            item: item_code(VISIT),
            grid: grid(GRID),
            resident: Some(resident_id(RESIDENT)),
            description: NEED.into(),
            urgency: Urgency::Normal,
            channel: Channel::QrCode,
            location: Some(gridloop_engine::grid::GeoPoint { lon: 110_360_000, lat: 21_270_000 }),
            tier: Tier::Grid,
            accept_by: at(hours(2)),
            resolve_by: at(days(2)),
        },
        TicketEvent::Triaged { mode: gridloop_engine::catalog::HandlingMode::Volunteer, item: item_code(VISIT) },
        TicketEvent::SelfHandled { worker: gridloop_engine::ids::ActorId::new(WORKER).unwrap() },
        TicketEvent::Coordinated {
            done: "已清理一楼".into(),
            minutes_spent: 20,
            photos: vec![gridloop_engine::blob::BlobHash::of(b"the first floor, cleared")],
            children: vec![tid(2)],
        },
        TicketEvent::ChildSettled { child: tid(2) },
        TicketEvent::Offered { round: 1, candidates: vec![vol(1), team(2)], expires_at: at(mins(30)) },
        TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline },
        TicketEvent::Accepted { by: vol(1), round: 1 },
        TicketEvent::Declined { by: vol(2), round: 1, reason: "时间冲突".into() },
        TicketEvent::Started { by: vol(1) },
        TicketEvent::NoteAdded { text: "已联系居民".into() },
        TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::Community,
            reason: EscalationReason::Timeout,
            note: "期限已过".into(),
            respond_by: Some(at(hours(4))),
            resolve_by: Some(at(days(3))),
        },
        TicketEvent::Reassigned { to: Assignee::Department(CIVIL_AFFAIRS.parse().unwrap()), reason: "派单".into() },
        TicketEvent::Resolved {
            photos: vec![
                gridloop_engine::blob::BlobHash::of(b"after: the hallway light"),
                gridloop_engine::blob::BlobHash::of(b"after: the meter"),
            ],
            by: vol(1),
            result: "已上门探访".into(),
            minutes_spent: 60,
            feedback_by: at(days(3)),
        },
        TicketEvent::FeedbackGiven { rating: Rating::BasicallySatisfied, comment: "还行".into() },
        TicketEvent::Reopened { reason: "不满意".into(), resolve_by: at(days(2)), respond_by: Some(at(hours(2))) },
        TicketEvent::Closed { reason: CloseReason::NoFeedback },
        TicketEvent::Cancelled { reason: "不需要了".into() },
        TicketEvent::MarkedDuplicate { of: tid(2) },
        TicketEvent::Followed { resident: resident_id("r-2") },
        TicketEvent::Summoned { departments: vec![CIVIL_AFFAIRS.parse().unwrap()], report_by: at(days(1)) },
        TicketEvent::SummonsAnswered { department: CIVIL_AFFAIRS.parse().unwrap(), report: "已到场".into() },
        TicketEvent::CountedInWorkingDays { calendar: "中国法定节假日 2026–2027".into() },
        TicketEvent::Returned {
            by: Assignee::Department(URBAN_MANAGEMENT.parse().unwrap()),
            reason: "路灯不属本部门".into(),
            respond_by: at(hours(2)),
        },
        TicketEvent::ReturnOverruled {
            to: Assignee::Department(URBAN_MANAGEMENT.parse().unwrap()),
            note: "路灯属城管".into(),
        },
        TicketEvent::ExtensionAsked {
            by: Assignee::Department(URBAN_MANAGEMENT.parse().unwrap()),
            until: at(days(8)),
            reason: "需采购灯杆".into(),
        },
        TicketEvent::ExtensionGranted { resolve_by_before: at(days(5)), resolve_by: at(days(8)) },
        TicketEvent::ExtensionRefused { reason: "请按期办结".into() },
        TicketEvent::Urged { note: "居民再次来电".into() },
    ];
    let volunteer = [
        VolunteerEvent::Registered {
            volunteer: vid(1),
            team: team_id(1),
            home_grid: grid(GRID),
            skills: [skill("elderly_care")].into_iter().collect(),
            open_orders_max: 3,
        },
        VolunteerEvent::SkillsChanged { skills: [skill("tutoring")].into_iter().collect() },
        VolunteerEvent::AvailabilityChanged { available: false },
        VolunteerEvent::PointsAwarded { points: 10, ticket: Some(tid(1)), reason: "探访".into() },
        VolunteerEvent::PointsRedeemed { points: 5, reward: "理发券".into() },
        VolunteerEvent::LinkCodeIssued {
            code_hash: gridloop_engine::volunteer::link_code_hash("123456"),
            expires_at: at(days(1)),
        },
        VolunteerEvent::ChatLinked { account: "@alice:example.org".into() },
        VolunteerEvent::Transferred { team: team_id(2), home_grid: grid(GRID), open_orders_max: 2 },
        VolunteerEvent::Deactivated { reason: "外出务工".into() },
        VolunteerEvent::Reactivated {},
        VolunteerEvent::Exited { reason: "连续三个月未接单，警示后退出".into() },
    ];
    let world = world_samples();
    let emergency = [
        EmergencyEvent::Declared { place: GridCode::parse(STREET).unwrap(), reason: "台风".into() },
        EmergencyEvent::Lifted { reason: "台风过境".into() },
    ];
    let mut out: Vec<(Schema, serde_json::Value)> = ticket.iter().map(|e| (e.schema(), e.encode())).collect();
    out.extend(volunteer.iter().map(|e| (e.schema(), e.encode())));
    out.extend(emergency.iter().map(|e| (e.schema(), e.encode())));
    out.extend(world.iter().map(|e| (e.schema(), e.encode())));
    let weekly = gridloop_engine::weekly::WeeklyEvent::ReportSubmitted {
        grid: grid(GRID),
        week: gridloop_engine::weekly::IsoWeek::parse("2026-W48").unwrap(),
        community: GridCode::parse(COMMUNITY).unwrap(),
        revision: 1,
        narrative: "本周走访独居老人 12 户，路灯报修 2 件已办结。".into(),
        figures: gridloop_engine::weekly::WeeklyFigures {
            as_of: at(days(6)),
            submitted: 9,
            open: 2,
            resolved: 7,
            overdue: 1,
            escalated: 1,
            on_time: 6,
            resolve_due: 7,
            satisfied: 5,
            rated: 6,
            patrols: 4,
            visits: 12,
            found_on_patrol: 3,
            volunteer_services: 5,
            volunteer_minutes: 300,
            points_awarded: 50,
        },
    };
    out.push((weekly.schema(), weekly.encode()));
    out.extend(patrol_samples().iter().map(|e| (e.schema(), e.encode())));
    out
}

/// One sample of every patrol event.
fn patrol_samples() -> Vec<gridloop_engine::patrol::PatrolEvent> {
    use gridloop_engine::patrol::{PatrolEvent, VisitKind};
    vec![
        PatrolEvent::Started { patrol: 1, grid: grid(GRID) },
        PatrolEvent::CheckedIn {
            patrol: 1,
            kind: VisitKind::Household,
            label: "3栋 201".into(),
            note: "独居老人, 一切正常".into(),
            point: Some(gridloop_engine::grid::GeoPoint { lon: 110_360_000, lat: 21_270_000 }),
        },
        PatrolEvent::Ended { patrol: 1, check_ins: 1, note: "无异常".into() },
    ]
}

/// One sample of every world event.
fn world_samples() -> Vec<WorldEvent> {
    use gridloop_engine::catalog::{Category, Department};
    use gridloop_engine::envelope::Role;
    use gridloop_engine::grid::{GeoPoint, GridKind, GridNode, PropertyForm};
    use gridloop_engine::ids::{ActorId, CategoryCode};
    use gridloop_engine::world::{DistrictInfo, StaffMember, Team, TeamKind};
    let district = GridCode::parse(DISTRICT).unwrap();
    let square = vec![
        GeoPoint { lon: 110_330_000, lat: 21_235_000 },
        GeoPoint { lon: 110_400_000, lat: 21_235_000 },
        GeoPoint { lon: 110_400_000, lat: 21_300_000 },
    ];
    let node = GridNode {
        code: grid(GRID),
        name: "新江社区第1网格".into(),
        name_en: "Xinjiang Grid 1".into(),
        kind: Some(GridKind::Comprehensive),
        property_form: Some(PropertyForm::Residential),
        management_class: Some(2),
        boundary: square.clone(),
    };
    let item = world().catalog.item(&item_code(VISIT)).unwrap().clone();
    let team = Team {
        id: team_id(1),
        name: "新江社区志愿服务队".into(),
        name_en: "Xinjiang Volunteer Team".into(),
        kind: TeamKind::BackupAgency,
        scope: district.clone(),
        linked: vec![GridCode::parse(COMMUNITY).unwrap()],
    };
    vec![
        WorldEvent::DistrictDefined {
            district: DistrictInfo {
                code: district.clone(),
                name: "赤坎区".into(),
                name_en: "Chikan".into(),
                time_zone: "Asia/Shanghai".into(),
                levels: ["区", "街道", "社区", "网格", "分片"].map(String::from),
            },
        },
        WorldEvent::CategoryDefined {
            category: Category {
                code: CategoryCode::new("community_service").unwrap(),
                name: "社区服务".into(),
                name_en: "Community service".into(),
                field: "民生服务".into(),
            },
        },
        WorldEvent::DepartmentDefined {
            department: Department {
                code: CIVIL_AFFAIRS.parse().unwrap(),
                name: "区民政局".into(),
                name_en: "Civil Affairs".into(),
            },
        },
        WorldEvent::ItemProposed { item: item.clone() },
        WorldEvent::ItemAdmitted { code: item.code.clone() },
        WorldEvent::AdmissionRevoked { code: item.code.clone() },
        WorldEvent::ItemRevised { item: item.clone() },
        WorldEvent::ItemWithdrawn { code: item.code.clone() },
        WorldEvent::GridAdded { node: node.clone() },
        WorldEvent::GridRedrawn { code: node.code.clone(), boundary: square },
        WorldEvent::GridRevised { node: node.clone() },
        WorldEvent::GridRetired { code: node.code.clone() },
        WorldEvent::TeamFormed { team: team.clone() },
        WorldEvent::TeamRevised { team },
        WorldEvent::TeamDisbanded { id: team_id(1) },
        WorldEvent::StaffAssigned {
            staff: StaffMember {
                subject: ActorId::new(WORKER).unwrap(),
                role: Role::GridWorker,
                place: Some(grid(GRID)),
                department: None,
            },
        },
        WorldEvent::StaffRemoved { subject: ActorId::new(WORKER).unwrap() },
        WorldEvent::RoutingSet { routing: gridloop_engine::routing::RoutingPolicy::default() },
        WorldEvent::CalendarSet { calendar: golden_calendar() },
    ]
}

/// A calendar of one year: National Day 2026 off, two weekend days worked.
fn golden_calendar() -> gridloop_engine::workdays::Calendar {
    use gridloop_engine::workdays::{Calendar, Day, YearSchedule};
    let day = |text: &str| Day::parse(text).unwrap();
    let year = YearSchedule {
        year: 2026,
        source: "国务院办公厅关于2026年部分节假日安排的通知".into(),
        provisional: false,
        days_off: (1..=7).map(|d| day(&format!("2026-10-{d:02}"))).collect(),
        working_days: [day("2026-09-20"), day("2026-10-10")].into(),
    };
    Calendar { name: "中国法定节假日".into(), utc_offset_minutes: 480, years: [(2026, year)].into() }
}

fn file_of(schema: &Schema) -> PathBuf {
    golden_dir().join(format!("{}.v{}.json", schema.name, schema.version))
}

fn decode_any(schema: &Schema, payload: &serde_json::Value) -> Result<serde_json::Value, gridloop_engine::Error> {
    match schema.name.split('.').next() {
        Some("ticket") => TicketEvent::decode(schema, payload).map(|e| e.encode()),
        Some("volunteer") => VolunteerEvent::decode(schema, payload).map(|e| e.encode()),
        Some("emergency") => EmergencyEvent::decode(schema, payload).map(|e| e.encode()),
        Some("world") => WorldEvent::decode(schema, payload).map(|e| e.encode()),
        Some("weekly") => gridloop_engine::weekly::WeeklyEvent::decode(schema, payload).map(|e| e.encode()),
        Some("patrol") => gridloop_engine::patrol::PatrolEvent::decode(schema, payload).map(|e| e.encode()),
        _ => panic!("unknown schema kind {schema}"),
    }
}

#[test]
fn every_current_schema_has_a_golden_file_that_it_still_writes() {
    let bless = std::env::var_os("GRIDLOOP_BLESS").is_some();
    for (schema, payload) in samples() {
        let path = file_of(&schema);
        if !path.exists() && bless {
            let text = serde_json::to_string_pretty(&payload).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!("{schema} has no golden file {}: run this test with GRIDLOOP_BLESS=1 to write it", path.display())
        });
        let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
        let reencoded =
            decode_any(&schema, &golden).unwrap_or_else(|e| panic!("{schema}: golden file no longer decodes: {e}"));
        assert_eq!(
            reencoded, golden,
            "{schema} changed shape: give it a new version and an upcaster from this one (see ticket_schema_version)"
        );
    }
}

#[test]
fn every_golden_file_of_any_version_still_decodes() {
    let current: BTreeSet<String> = samples().iter().map(|(s, _)| s.to_string()).collect();
    let mut old_versions = 0;
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".json").unwrap_or_else(|| panic!("{name}: golden files are JSON"));
        let (schema_name, version) =
            stem.rsplit_once(".v").unwrap_or_else(|| panic!("{name}: expected <schema>.v<n>.json"));
        let schema = Schema::parse(&format!("{schema_name}/{version}")).unwrap();
        let payload: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        decode_any(&schema, &payload).unwrap_or_else(|e| panic!("{name} does not decode any more: {e}"));
        old_versions += u32::from(!current.contains(&schema.to_string()));
    }
    assert!(old_versions >= 2, "the version-1 files of escalated and reopened are kept");
}
