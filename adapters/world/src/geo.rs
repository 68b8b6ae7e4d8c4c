//! `grids.geojson`: every node of the grid tree with its boundary, as QGIS
//! or a city GIS exports it. The collection is read as JSON values and each
//! feature checked on its own, so one bad feature is reported and the
//! others are still checked; geometries go through the `geojson` crate.

use std::collections::BTreeMap;

use geojson::{Geometry, GeometryValue, PolygonType, Position};
use gridloop_engine::grid::{GeoPoint, GridCode, GridNode, Level};
use gridloop_engine::world::{BOUNDARY_VERTICES_MAX, GRIDS_MAX, grid_kind, property_form};
use serde_json::{Map, Value};

use crate::polygon::{covers, distinct_vertices, self_crossing};
use crate::problem::{Place, Problem, Problems};
use crate::text::{name, quoted};

const FILE: &str = crate::GRIDS;

/// The nodes read, by code, each with its feature index.
pub(crate) type Nodes = BTreeMap<GridCode, (GridNode, usize)>;

/// What `grids.geojson` holds.
#[derive(Debug, Default)]
pub(crate) struct Grids {
    pub nodes: Nodes,
    /// Every code read, also of features that have other problems: a
    /// reference to one of them is not reported as unknown as well.
    pub seen: BTreeMap<GridCode, Level>,
}

impl Grids {
    /// Whether `code` is a node of the file.
    pub(crate) fn has(&self, code: &GridCode) -> bool {
        self.seen.contains_key(code)
    }
}

/// Reads the collection; `None` when it cannot be read as one at all.
pub(crate) fn read(text: &str, district: Option<&GridCode>, problems: &mut Problems) -> Option<Grids> {
    let features = collection(text, problems)?;
    let mut grids = Grids::default();
    let nodes = &mut grids.nodes;
    for (index, feature) in features.into_iter().enumerate() {
        let node = match self::feature(index, feature) {
            Ok(node) => node,
            Err((code, found)) => {
                if let Some(code) = code {
                    grids.seen.insert(code.clone(), code.level());
                }
                found.into_iter().for_each(|p| problems.push(p));
                continue;
            }
        };
        grids.seen.insert(node.code.clone(), node.code.level());
        if let Some((_, first)) = nodes.get(&node.code) {
            let why = format!("{} is also the code of feature {first}", node.code);
            problems.push(Problem::feature(index, Some(node.code.as_str()), Some("code"), why));
            continue;
        }
        nodes.insert(node.code.clone(), (node, index));
    }
    tree(&grids, district, problems);
    Some(grids)
}

/// The features of a `FeatureCollection` in WGS 84.
fn collection(text: &str, problems: &mut Problems) -> Option<Vec<Value>> {
    let fail = |problems: &mut Problems, why: &str| problems.push(Problem::file(FILE, why));
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            let place = Place::Line(e.line() as u64);
            problems.push(Problem { place, ..Problem::file(FILE, format!("is not valid JSON: {e}")) });
            return None;
        }
    };
    let Value::Object(mut top) = value else {
        fail(problems, "is not a GeoJSON FeatureCollection (an object with \"features\")");
        return None;
    };
    if top.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        fail(problems, "is not a GeoJSON FeatureCollection: its \"type\" must be \"FeatureCollection\"");
        return None;
    }
    if let Some(crs) = top.get("crs").filter(|crs| !crs.is_null() && !is_wgs84(crs)) {
        let named = crs.pointer("/properties/name").and_then(Value::as_str).unwrap_or("an unnamed system");
        let why = format!("is in {}, not WGS 84: export it from QGIS as EPSG:4326", quoted(named));
        fail(problems, &why);
        return None;
    }
    let Some(Value::Array(features)) = top.remove("features") else {
        fail(problems, "has no \"features\" array");
        return None;
    };
    if features.len() > GRIDS_MAX {
        fail(problems, &format!("has {} features; a district has at most {GRIDS_MAX} grids", features.len()));
        return None;
    }
    Some(features)
}

/// Whether a `crs` member names WGS 84 longitude/latitude.
fn is_wgs84(crs: &Value) -> bool {
    let Some(name) = crs.pointer("/properties/name").and_then(Value::as_str) else { return false };
    let name = name.trim().to_ascii_uppercase();
    name.ends_with("CRS84") || name.ends_with("EPSG::4326") || matches!(name.as_str(), "EPSG:4326" | "WGS84" | "WGS 84")
}

/// One feature as a node, or everything wrong with it (and its code,
/// when that much could be read).
fn feature(index: usize, feature: Value) -> Result<GridNode, (Option<GridCode>, Vec<Problem>)> {
    let Value::Object(mut feature) = feature else {
        return Err((None, vec![Problem::feature(index, None, None, "is not a GeoJSON Feature object")]));
    };
    let props = match feature.remove("properties") {
        Some(Value::Object(props)) => props,
        _ => {
            return Err((None, vec![Problem::feature(index, None, None, "has no properties; it needs code and name")]));
        }
    };
    let mut found = Vec::new();
    let code = match text_property(&props, "code") {
        Ok(Some(text)) => GridCode::parse(&text)
            .map_err(|e| found.push(Problem::feature(index, None, Some("code"), format!("{}: {e}", quoted(&text)))))
            .ok(),
        Ok(None) => {
            found.push(Problem::feature(index, None, Some("code"), "is missing; every node has its grid code"));
            None
        }
        Err(why) => {
            found.push(Problem::feature(index, None, Some("code"), why));
            None
        }
    };
    let label = code.as_ref().map(GridCode::as_str);
    let mut problem = |property: Option<&str>, why: String| found.push(Problem::feature(index, label, property, why));
    let names = names(&props).map_err(|(property, why)| problem(Some(property), why));
    let attributes = code.as_ref().map(|c| attributes(&props, c.level()).map_err(|(p, why)| problem(Some(p), why)));
    let boundary = boundary(feature.remove("geometry")).map_err(|why| problem(None, why));
    match (code, names, attributes, boundary) {
        (Some(code), Ok((name, name_en)), Some(Ok((kind, property_form, management_class))), Ok(boundary))
            if found.is_empty() =>
        {
            Ok(GridNode { code, name, name_en, kind, property_form, management_class, boundary })
        }
        (code, ..) => Err((code, found)),
    }
}

/// A property as text: absent and null are `None`; a number is its digits
/// (a GIS may type a code column as a number).
fn text_property(props: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err("must be text".to_string()),
    }
}

/// The node's name (required) and English name.
fn names(props: &Map<String, Value>) -> Result<(String, String), (&'static str, String)> {
    let name_ = text_property(props, "name").map_err(|why| ("name", why))?;
    let name_ = name(name_.as_deref().unwrap_or(""), false).map_err(|why| ("name", why))?;
    let name_en = text_property(props, "name_en").map_err(|why| ("name_en", why))?;
    let name_en = name(name_en.as_deref().unwrap_or(""), true).map_err(|why| ("name_en", why))?;
    Ok((name_, name_en))
}

type Attributes = (Option<gridloop_engine::grid::GridKind>, Option<gridloop_engine::grid::PropertyForm>, Option<u8>);

/// A grid's kind (required), property form and management class; other
/// levels have none of them.
fn attributes(props: &Map<String, Value>, level: Level) -> Result<Attributes, (&'static str, String)> {
    let kind = text_property(props, "kind").map_err(|why| ("kind", why))?;
    let form = text_property(props, "property_form").map_err(|why| ("property_form", why))?;
    let class = text_property(props, "class").map_err(|why| ("class", why))?;
    if level != Level::Grid {
        let given = [("kind", &kind), ("property_form", &form), ("class", &class)];
        if let Some((property, _)) = given.iter().find(|(_, value)| value.is_some()) {
            return Err((property, format!("only grids have one; this is a {}", level.name())));
        }
        return Ok((None, None, None));
    }
    let kind = kind.ok_or(("kind", "is missing; a grid is comprehensive, unit or exclusive".to_string()))?;
    let kind = grid_kind(&kind)
        .ok_or_else(|| ("kind", format!("{} is not comprehensive, unit or exclusive", quoted(&kind))))?;
    let form = match form {
        None => None,
        Some(text) => Some(property_form(&text).ok_or_else(|| {
            (
                "property_form",
                format!("{} is not residential, commercial_industrial, urban_village or mixed", quoted(&text)),
            )
        })?),
    };
    let class = match class {
        None => None,
        Some(text) => Some(
            text.parse::<u8>()
                .ok()
                .filter(|c| (1..=3).contains(c))
                .ok_or_else(|| ("class", format!("{} is not 1, 2 or 3", quoted(&text))))?,
        ),
    };
    Ok((Some(kind), form, class))
}

/// The boundary of a Polygon, or of a MultiPolygon of one part: one closed
/// ring of 3 to 2,000 distinct vertices that does not cross itself.
fn boundary(geometry: Option<Value>) -> Result<Vec<GeoPoint>, String> {
    let geometry = match geometry {
        None | Some(Value::Null) => return Err("has no geometry".to_string()),
        Some(value) => serde_json::from_value::<Geometry>(value).map_err(|e| format!("has a bad geometry: {e}"))?,
    };
    let rings: PolygonType = match geometry.value {
        GeometryValue::Polygon { coordinates } => coordinates,
        GeometryValue::MultiPolygon { mut coordinates } if coordinates.len() == 1 => coordinates.remove(0),
        GeometryValue::MultiPolygon { coordinates } => {
            return Err(format!("is a MultiPolygon of {} parts; a grid is one polygon", coordinates.len()));
        }
        other => return Err(format!("is a {}; a grid's geometry is a Polygon", other.type_name())),
    };
    match rings.len() {
        0 => return Err("has a polygon with no ring".to_string()),
        1 => {}
        n => return Err(format!("has {} holes (inner rings); a grid's polygon has none", n - 1)),
    }
    ring(&rings[0])
}

fn ring(positions: &[Position]) -> Result<Vec<GeoPoint>, String> {
    if positions.len() > BOUNDARY_VERTICES_MAX + 1 {
        return Err(format!(
            "the ring has {} points; a boundary has at most {BOUNDARY_VERTICES_MAX}",
            positions.len() - 1
        ));
    }
    let points = positions.iter().enumerate().map(|(i, p)| point(i, p)).collect::<Result<Vec<_>, _>>()?;
    let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
        return Err("the ring has no points".to_string());
    };
    if first != last {
        return Err(format!("the ring is not closed: its last point {} is not its first, {}", show(last), show(first)));
    }
    let vertices = distinct_vertices(&points);
    if vertices.len() < 3 || vertices.len() > BOUNDARY_VERTICES_MAX {
        return Err(format!(
            "the ring has {} distinct vertices; a boundary has 3 to {BOUNDARY_VERTICES_MAX}",
            vertices.len()
        ));
    }
    if let Some((lon, lat)) = self_crossing(&vertices) {
        return Err(format!("the ring crosses itself near {lon:.5},{lat:.5}"));
    }
    Ok(vertices)
}

/// A position in integer micro-degrees; a projected coordinate (metres) is
/// out of range and named as such.
fn point(index: usize, position: &Position) -> Result<GeoPoint, String> {
    let coordinates = position.as_slice();
    let (&lon, &lat) = (coordinates.first().unwrap_or(&f64::NAN), coordinates.get(1).unwrap_or(&f64::NAN));
    let in_range = (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat);
    if !in_range {
        return Err(format!("point {index} ({lon},{lat}) is not a longitude,latitude in degrees (WGS 84)"));
    }
    GeoPoint::new((lon * 1e6).round() as i32, (lat * 1e6).round() as i32).map_err(|e| e.to_string())
}

/// A point as a sentence shows it: longitude,latitude in degrees.
pub(crate) fn show(p: GeoPoint) -> String {
    format!("{:.6},{:.6}", f64::from(p.lon) / 1e6, f64::from(p.lat) / 1e6)
}

/// Checks across features: codes under the district's, every parent
/// present, the district itself present, every vertex inside the district.
fn tree(grids: &Grids, district: Option<&GridCode>, problems: &mut Problems) {
    let nodes = &grids.nodes;
    let root = district.and_then(|code| nodes.get(code));
    if let Some(code) = district.filter(|c| !grids.has(c)) {
        problems.push(Problem::file(FILE, format!("has no feature for the district itself (code {code})")));
    }
    for (code, (node, index)) in nodes {
        let problem = |why: String| Problem::feature(*index, Some(code.as_str()), Some("code"), why);
        if let Some(district) = district.filter(|d| !code.is_within(d)) {
            problems.push(problem(format!("does not start with the district's code {district}")));
            continue;
        }
        if let Some(parent) = code.parent().filter(|p| !grids.has(p)) {
            problems.push(problem(format!("its parent {parent} is not in the file")));
        }
        let Some((root, _)) = root.filter(|(r, _)| r.code != *code) else { continue };
        if let Some((k, &p)) = node.boundary.iter().enumerate().find(|(_, p)| !covers(&root.boundary, **p)) {
            let why = format!("vertex {k} ({}) lies outside the district's boundary", show(p));
            problems.push(Problem::feature(*index, Some(code.as_str()), None, why));
        }
    }
}
