//! What QGIS writes: single-part MultiPolygons and a `crs` member. A
//! projected `crs` is refused.

use serde_json::{Value, json};

use crate::support::{features, files, printed, read};

fn with(collection: Value) -> Vec<u8> {
    serde_json::to_vec(&collection).expect("JSON")
}

#[test]
fn a_single_part_multipolygon_in_crs84_reads_as_its_polygon() {
    let plain = read(&files()).expect("reads");
    let qgis: Vec<Value> = features()
        .into_iter()
        .map(|mut f| {
            let rings = f["geometry"]["coordinates"].take();
            f["geometry"] = json!({ "type": "MultiPolygon", "coordinates": [rings] });
            f
        })
        .collect();
    let crs = json!({ "type": "name", "properties": { "name": "urn:ogc:def:crs:OGC:1.3:CRS84" } });
    let mut files = files();
    files.insert("grids.geojson", with(json!({ "type": "FeatureCollection", "crs": crs, "features": qgis })));
    assert_eq!(read(&files).expect("QGIS's export reads"), plain);
}

#[test]
fn a_web_mercator_file_is_refused() {
    let crs = json!({ "type": "name", "properties": { "name": "urn:ogc:def:crs:EPSG::3857" } });
    let mut files = files();
    files.insert("grids.geojson", with(json!({ "type": "FeatureCollection", "crs": crs, "features": features() })));
    let text = printed(&read(&files).expect_err("refused"));
    assert_eq!(
        text,
        "grids.geojson: is in \"urn:ogc:def:crs:EPSG::3857\", not WGS 84: export it from QGIS as EPSG:4326\n"
    );
}

#[test]
fn holes_many_parts_and_grid_attributes_elsewhere_are_problems() {
    let mut all = features();
    let outer = json!([[114.9, 38.4], [114.95, 38.4], [114.95, 38.45], [114.9, 38.45], [114.9, 38.4]]);
    let hole = json!([[114.91, 38.41], [114.92, 38.41], [114.92, 38.42], [114.91, 38.41]]);
    all[3]["geometry"] = json!({ "type": "Polygon", "coordinates": [outer.clone(), hole] });
    all[4]["geometry"] = json!({ "type": "MultiPolygon", "coordinates": [[outer.clone()], [outer]] });
    all[2]["properties"]["kind"] = json!("unit");
    all[1]["properties"]["code"] = json!("130682-1");
    let mut files = files();
    files.insert("grids.geojson", with(json!({ "type": "FeatureCollection", "features": all })));
    let text = printed(&read(&files).expect_err("refused"));
    for line in [
        "grids.geojson: feature 1: property code: \"130682-1\": bad grid code",
        "grids.geojson: feature 2 (130682-101-001): property kind: only grids have one; this is a community\n",
        "grids.geojson: feature 3 (130682-101-001-001): has 1 holes (inner rings); a grid's polygon has none\n",
        "grids.geojson: feature 4 (130682-101-001-002): is a MultiPolygon of 2 parts; a grid is one polygon\n",
    ] {
        assert!(text.contains(line), "{line:?} is not among:\n{text}");
    }
}
