//! A small valid bundle (a district of one street, one community and two
//! grids), as files the tests change one at a time.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

pub const DISTRICT_TOML: &str = r#"
[district]
code = "130682"
name = "定州市"
name_en = "Dingzhou"
time_zone = "Asia/Shanghai"
levels = ["市", "镇/街道", "村/社区", "网格", "分片"]

[[categories]]
code = "public_safety"
name = "社会治安"
name_en = "Public safety"
field = "平安建设"

[[categories]]
code = "community_service"
name = "社区服务"
"#;

pub const DEPARTMENTS_CSV: &str = "code,name,name_en\ncivil_affairs,民政局,Civil affairs\nwater,水务局,Water\n";

pub const CATALOG_CSV: &str = "\
code,name,category,department,mode,skills,accept_within,resolve_within,feedback_window,points,admitted,emergency
CS-001,代购药品,community_service,civil_affairs,volunteer,errands;medicine,30m,4h,3d,5,yes,no
PS-001,治安巡查,public_safety,civil_affairs,self_handle,,1h,1d,3d,,是,
DP-001,管道维修,community_service,water,department,,2h,2d,3d,0,no,
";

pub const TEAMS_CSV: &str = "\
id,name,kind,scope,linked
TM-1,新江社区志愿队,community,130682-101-001,
TM-2,水务局后盾,backup_agency,130682-101,130682-101-001
";

pub const VOLUNTEERS_CSV: &str = "\
id,name,phone,team,home_grid,skills,open_orders_max,status,reason
V-1,张三,13800000001,TM-1,130682-101-001-001,errands、medicine,3,,
V-2,李四,,TM-1,130682-101-001-002,errands,,inactive,生病住院
";

pub const STAFF_CSV: &str = "\
subject,name,phone,role,place,department
gw-130682-101-001-001,王五,13900000000,grid_worker,130682-101-001-001,
dp-1,赵六,,department,,water
";

/// A rectangle in degrees, as a closed GeoJSON ring.
pub fn rect(west: f64, south: f64, east: f64, north: f64) -> Value {
    json!([[[west, south], [east, south], [east, north], [west, north], [west, south]]])
}

/// A feature with a polygon geometry.
pub fn feature(code: &str, name: &str, extra: Value, coordinates: Value) -> Value {
    let mut properties = json!({ "code": code, "name": name, "fid": 7 });
    if let (Some(p), Value::Object(extra)) = (properties.as_object_mut(), extra) {
        p.extend(extra);
    }
    json!({ "type": "Feature", "properties": properties, "geometry": { "type": "Polygon", "coordinates": coordinates } })
}

/// The tree's five features: district, street, community, two grids.
pub fn features() -> Vec<Value> {
    vec![
        feature("130682", "定州市", json!({}), rect(114.9, 38.4, 115.1, 38.6)),
        feature("130682-101", "北城区街道", json!({}), rect(114.9, 38.4, 115.0, 38.6)),
        feature("130682-101-001", "新江社区", json!({}), rect(114.9, 38.4, 115.0, 38.5)),
        feature("130682-101-001-001", "第1网格", json!({"kind": "comprehensive"}), rect(114.9, 38.4, 114.95, 38.45)),
        feature(
            "130682-101-001-002",
            "第2网格",
            json!({"kind": "unit", "class": 2, "property_form": "residential", "name_en": null}),
            rect(114.95, 38.4, 115.0, 38.45),
        ),
    ]
}

pub fn collection(features: Vec<Value>) -> String {
    serde_json::to_string_pretty(&json!({ "type": "FeatureCollection", "name": "grids", "features": features }))
        .expect("JSON")
}

/// The valid bundle's files, by name.
pub fn files() -> BTreeMap<&'static str, Vec<u8>> {
    BTreeMap::from([
        ("district.toml", DISTRICT_TOML.as_bytes().to_vec()),
        ("grids.geojson", collection(features()).into_bytes()),
        ("catalog.csv", CATALOG_CSV.as_bytes().to_vec()),
        ("departments.csv", DEPARTMENTS_CSV.as_bytes().to_vec()),
        ("teams.csv", TEAMS_CSV.as_bytes().to_vec()),
        ("volunteers.csv", VOLUNTEERS_CSV.as_bytes().to_vec()),
        ("staff.csv", STAFF_CSV.as_bytes().to_vec()),
    ])
}

/// Writes `files` into a new temporary directory.
pub fn write(files: &BTreeMap<&'static str, Vec<u8>>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_into(dir.path(), files);
    dir
}

pub fn write_into(dir: &Path, files: &BTreeMap<&'static str, Vec<u8>>) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("a bundle file is written");
    }
}

/// Reads the bundle `files` make, through a directory as the CLI does.
pub fn read(files: &BTreeMap<&'static str, Vec<u8>>) -> Result<gridloop_world::Bundle, Vec<gridloop_world::Problem>> {
    let dir = write(files);
    gridloop_world::read(dir.path(), gridloop_world::Encoding::Auto)
}

/// The problems as the CLI prints them, one a line.
pub fn printed(problems: &[gridloop_world::Problem]) -> String {
    problems.iter().map(|p| format!("{p}\n")).collect()
}
