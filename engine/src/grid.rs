//! The grid tree (网格): district → street/town → community/village → grid →
//! sub-grid, under one hierarchical coding (一套编码).
//!
//! A grid code is the district's 6-digit administrative code followed by one
//! segment per level below it, separated by `-`:
//!
//! ```text
//! 440802                 district   (区)
//! 440802-001             street     (街道/镇), 3 digits
//! 440802-001-002         community  (社区/村), 3 digits
//! 440802-001-002-015     grid       (网格), 3 digits
//! 440802-001-002-015-03  sub-grid   (分片), 2 digits
//! ```
//!
//! So a code's level is its segment count, its parent is the code without its
//! last segment, and "is this grid inside that community" is a prefix test.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The five levels of the tree, from the top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The district (区), the root: its code is the 6-digit administrative code.
    /// Its centre (管理中心) is the top tier.
    District,
    /// A street or town (街道/镇): the street tier's centre (分中心) dispatches here.
    Street,
    /// A community or village (社区/村): the community tier's station (网格化管理站) and
    /// its volunteer team.
    Community,
    /// A grid (网格): the unit a ticket is filed against, with its grid worker.
    Grid,
    /// A sub-grid (分片) within a grid; a ticket may be filed against one.
    SubGrid,
}

impl Level {
    /// The level's English name, used when the district names none of its own.
    pub fn name(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
            Level::Grid => "grid",
            Level::SubGrid => "sub-grid",
        }
    }
    fn from_depth(depth: usize) -> Level {
        [Level::District, Level::Street, Level::Community, Level::Grid, Level::SubGrid][depth]
    }
}

/// A validated grid code (see the module docs for the format).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GridCode(String);

/// The width of each segment, by depth: district, street, community, grid, sub-grid.
const SEGMENT_WIDTHS: [usize; 5] = [6, 3, 3, 3, 2];

impl GridCode {
    /// Parses and validates a code; the error names the segment that is wrong.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |part: &'static str, reason: &str| Error::BadGridCode {
            code: text.chars().take(40).collect(),
            part,
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(bad("district", "is missing"));
        }
        if text.len() > 24 {
            return Err(bad("whole", "is longer than any grid code (24 characters)"));
        }
        let segments: Vec<&str> = text.split('-').collect();
        if segments.len() > SEGMENT_WIDTHS.len() {
            return Err(bad("whole", "has more than 5 segments"));
        }
        for (depth, segment) in segments.iter().enumerate() {
            let part = Level::from_depth(depth).name();
            let width = SEGMENT_WIDTHS[depth];
            if segment.len() != width || !segment.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(part, &format!("must be {width} digits, found {segment:?}")));
            }
            if depth > 0 && segment.bytes().all(|b| b == b'0') {
                return Err(bad(part, "must not be all zeros"));
            }
        }
        Ok(Self(text.to_string()))
    }

    /// The code as text, e.g. `440802-001-002-015`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level of the tree the code is at, from its number of segments.
    pub fn level(&self) -> Level {
        Level::from_depth(self.0.matches('-').count())
    }

    /// The code one level up, or `None` for a district.
    pub fn parent(&self) -> Option<GridCode> {
        self.0.rsplit_once('-').map(|(head, _)| GridCode(head.to_string()))
    }

    /// The ancestor at `level` (itself when it is at that level), or `None`
    /// when `level` is below this code's own.
    pub fn at_level(&self, level: Level) -> Option<GridCode> {
        let depth = level as usize;
        let segments: Vec<&str> = self.0.split('-').collect();
        (depth < segments.len()).then(|| GridCode(segments[..=depth].join("-")))
    }

    /// Whether `self` lies inside `scope` (or is it).
    pub fn is_within(&self, scope: &GridCode) -> bool {
        self.0 == scope.0 || (self.0.starts_with(&scope.0) && self.0.as_bytes().get(scope.0.len()) == Some(&b'-'))
    }

    /// Builds the code of a child from this code and the child's number.
    pub fn child(&self, number: u32) -> Result<GridCode, Error> {
        let depth = self.0.matches('-').count() + 1;
        let width =
            *SEGMENT_WIDTHS.get(depth).ok_or_else(|| Error::invalid("grid code", "a sub-grid has no children"))?;
        GridCode::parse(&format!("{}-{:0width$}", self.0, number))
    }
}

impl TryFrom<String> for GridCode {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        GridCode::parse(&text)
    }
}

impl From<GridCode> for String {
    fn from(code: GridCode) -> String {
        code.0
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GridCode({})", self.0)
    }
}

/// Comprehensive grids cover residents; unit and exclusive grids cover one
/// organisation or a place like an industrial park, school or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    /// A grid of residents: homes and their everyday needs.
    Comprehensive,
    /// A grid covering one organisation or unit.
    Unit,
    /// A grid covering one exclusive place (an industrial park, school or
    /// market).
    Exclusive,
}

/// Luohu's classing of grids by property form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyForm {
    /// Mostly homes.
    Residential,
    /// Mostly shops, offices or industry.
    CommercialIndustrial,
    /// An urban village (城中村).
    UrbanVillage,
    /// No single form dominates.
    Mixed,
}

/// A point in integer micro-degrees (1e-6°, about 0.1 m), WGS84.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Longitude in micro-degrees, east positive (-180,000,000 to 180,000,000).
    pub lon: i32,
    /// Latitude in micro-degrees, north positive (-90,000,000 to 90,000,000).
    pub lat: i32,
}

impl GeoPoint {
    /// Refuses points off the globe.
    pub fn new(lon: i32, lat: i32) -> Result<Self, Error> {
        if !(-180_000_000..=180_000_000).contains(&lon) || !(-90_000_000..=90_000_000).contains(&lat) {
            return Err(Error::invalid("location", "longitude or latitude out of range"));
        }
        Ok(Self { lon, lat })
    }
}

/// One node of the tree, at any level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridNode {
    /// The node's code, which also places it in the tree.
    pub code: GridCode,
    /// The node's name as the district writes it (e.g. 中山街道).
    pub name: String,
    /// The node's name in English.
    pub name_en: String,
    /// Only grids (level `Grid`) have a kind, property form and class.
    pub kind: Option<GridKind>,
    /// A grid's property form (Luohu's classing), if the district records one.
    pub property_form: Option<PropertyForm>,
    /// Management class 1..=3, 1 the easiest.
    pub management_class: Option<u8>,
    /// A simple polygon, vertices in order, not closed (the last vertex joins
    /// the first).
    pub boundary: Vec<GeoPoint>,
}

/// The whole tree of one district.
#[derive(Clone, Debug, Default)]
pub struct GridTree {
    nodes: BTreeMap<GridCode, GridNode>,
    children: BTreeMap<GridCode, Vec<GridCode>>,
    root: Option<GridCode>,
}

impl GridTree {
    /// Builds the tree, checking that there is exactly one district, that
    /// every other node's parent exists, and that grid attributes are set
    /// only on grids.
    pub fn new(nodes: impl IntoIterator<Item = GridNode>) -> Result<Self, Error> {
        let mut tree = GridTree::default();
        for node in nodes {
            if node.code.level() == Level::District && tree.root.replace(node.code.clone()).is_some() {
                return Err(Error::invalid("grid tree", "has more than one district"));
            }
            if node.boundary.len() < 3 {
                return Err(Error::invalid("grid tree", format!("{} has no boundary polygon", node.code)));
            }
            let class_ok = node.management_class.is_none_or(|c| (1..=3).contains(&c));
            if node.kind.is_some() != (node.code.level() == Level::Grid) || !class_ok {
                return Err(Error::invalid(
                    "grid tree",
                    format!("{} has grid attributes at the wrong level", node.code),
                ));
            }
            if tree.nodes.insert(node.code.clone(), node).is_some() {
                return Err(Error::invalid("grid tree", "has a duplicate code"));
            }
        }
        let root = tree.root.clone().ok_or_else(|| Error::invalid("grid tree", "has no district"))?;
        for code in tree.nodes.keys() {
            if let Some(parent) = code.parent() {
                if !tree.nodes.contains_key(&parent) || !code.is_within(&root) {
                    return Err(Error::invalid("grid tree", format!("{code} has no parent in the tree")));
                }
                tree.children.entry(parent).or_default().push(code.clone());
            }
        }
        Ok(tree)
    }

    /// The district node at the root. Panics on an empty tree
    /// (`GridTree::default`); a tree from `GridTree::new` always has one.
    pub fn root(&self) -> &GridNode {
        &self.nodes[self.root.as_ref().expect("a built tree has a root")]
    }

    /// The node with this code, if it is in the tree.
    pub fn get(&self, code: &GridCode) -> Option<&GridNode> {
        self.nodes.get(code)
    }

    /// Looks a code up, as a `NotFound` error when it is not in the tree.
    pub fn require(&self, code: &GridCode) -> Result<&GridNode, Error> {
        self.get(code).ok_or_else(|| Error::not_found("grid", code))
    }

    /// The children of a node, in code order.
    pub fn children(&self, code: &GridCode) -> &[GridCode] {
        self.children.get(code).map_or(&[], Vec::as_slice)
    }

    /// Every node at `level`, in code order.
    pub fn at_level(&self, level: Level) -> impl Iterator<Item = &GridNode> {
        self.nodes.values().filter(move |n| n.code.level() == level)
    }

    /// How many nodes the tree holds, at every level.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree has no nodes (only a default tree, never a built one).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The deepest node whose boundary contains the point, walking down from
    /// the district; `None` when the point is outside the district.
    pub fn locate(&self, point: GeoPoint) -> Option<&GridCode> {
        let mut here = self.root.as_ref()?;
        if !contains(&self.nodes[here].boundary, point) {
            return None;
        }
        while let Some(next) = self.children(here).iter().find(|c| contains(&self.nodes[*c].boundary, point)) {
            here = next;
        }
        Some(here)
    }

    /// The deepest node whose name appears in the address text, preferring
    /// the longest name; `None` when no name matches.
    pub fn match_address(&self, address: &str) -> Option<&GridCode> {
        self.nodes
            .values()
            .filter(|n| {
                !n.name.is_empty()
                    && (address.contains(&n.name) || (!n.name_en.is_empty() && address.contains(&n.name_en)))
            })
            .max_by_key(|n| (n.code.level(), n.name.chars().count(), std::cmp::Reverse(n.code.clone())))
            .map(|n| &n.code)
    }
}

/// Even–odd ray casting on integer coordinates. Points on an edge may fall
/// either way; boundaries of neighbouring grids are shared, so a point on a
/// shared edge resolves to one of them, deterministically. Public so that
/// a bundle's checks (`gridloop-world`) locate points as the engine does.
pub fn contains(polygon: &[GeoPoint], p: GeoPoint) -> bool {
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (a, b) = (polygon[i], polygon[j]);
        if (a.lat > p.lat) != (b.lat > p.lat) {
            // x of the edge at p.lat, compared without division.
            let lhs = (i64::from(p.lon) - i64::from(a.lon)) * (i64::from(b.lat) - i64::from(a.lat));
            let rhs = (i64::from(b.lon) - i64::from(a.lon)) * (i64::from(p.lat) - i64::from(a.lat));
            if (b.lat > a.lat && lhs < rhs) || (b.lat < a.lat && lhs > rhs) {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Whether the point lies on one of the polygon's edges, where
/// [`contains`] may answer either way.
pub fn on_boundary(polygon: &[GeoPoint], p: GeoPoint) -> bool {
    let Some(&last) = polygon.last() else { return false };
    let mut a = last;
    polygon.iter().any(|&b| {
        let (ax, ay, bx, by) = (i64::from(a.lon), i64::from(a.lat), i64::from(b.lon), i64::from(b.lat));
        let (px, py) = (i64::from(p.lon), i64::from(p.lat));
        a = b;
        let collinear = (bx - ax) * (py - ay) == (by - ay) * (px - ax);
        collinear && px >= ax.min(bx) && px <= ax.max(bx) && py >= ay.min(by) && py <= ay.max(by)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_know_their_level_and_parent() {
        let code = GridCode::parse("440802-001-002-015-03").unwrap();
        assert_eq!(code.level(), Level::SubGrid);
        assert_eq!(code.parent().unwrap().as_str(), "440802-001-002-015");
        assert_eq!(code.at_level(Level::Street).unwrap().as_str(), "440802-001");
        assert!(code.is_within(&GridCode::parse("440802-001").unwrap()));
        assert!(GridCode::parse("440802-0011").is_err());
    }

    #[test]
    fn bad_codes_name_the_bad_part() {
        let cases = [
            ("44080", "district"),
            ("440802-01", "street"),
            ("440802-001-0a2", "community"),
            ("440802-001-002-000", "grid"),
            ("440802-001-002-015-3", "sub-grid"),
            ("440802-001-002-015-03-01", "whole"),
        ];
        for (text, part) in cases {
            match GridCode::parse(text) {
                Err(Error::BadGridCode { part: p, .. }) => assert_eq!(p, part, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn ray_casting_finds_inside_and_outside() {
        let square = [(0, 0), (10, 0), (10, 10), (0, 10)].map(|(lon, lat)| GeoPoint { lon, lat });
        assert!(contains(&square, GeoPoint { lon: 5, lat: 5 }));
        assert!(!contains(&square, GeoPoint { lon: 15, lat: 5 }));
        assert!(!contains(&square, GeoPoint { lon: -1, lat: 5 }));
    }
}
