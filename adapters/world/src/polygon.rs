//! Plane geometry on integer micro-degrees: rings that cross themselves,
//! and whether a point lies in a polygon. Products of two coordinate
//! differences stay below 2^63 (differences are at most 3.6e8), so every
//! test but the tolerance is exact integer arithmetic.

use gridloop_engine::grid::GeoPoint;

/// How far (in micro-degrees, about 0.1 m) a point may lie from a
/// polygon's edge and still count as on it: a vertex that lies on the
/// district's edge in the city's GIS may move that much when rounded.
const ON_EDGE_TOLERANCE: f64 = 1.0;

/// The ring without its closing point and without consecutive repeats
/// (rounding to micro-degrees can merge neighbours).
pub(crate) fn distinct_vertices(ring: &[GeoPoint]) -> Vec<GeoPoint> {
    let mut out: Vec<GeoPoint> = Vec::with_capacity(ring.len());
    for &p in ring {
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// The cross product of `a - o` and `b - o`: its sign says on which side
/// of the line `o`→`a` the point `b` lies.
fn cross(o: GeoPoint, a: GeoPoint, b: GeoPoint) -> i64 {
    let (ax, ay) = (i64::from(a.lon) - i64::from(o.lon), i64::from(a.lat) - i64::from(o.lat));
    let (bx, by) = (i64::from(b.lon) - i64::from(o.lon), i64::from(b.lat) - i64::from(o.lat));
    ax * by - ay * bx
}

/// Whether `p`, known to be on the line through `a` and `b`, is on the segment.
fn within(a: GeoPoint, b: GeoPoint, p: GeoPoint) -> bool {
    (a.lon.min(b.lon)..=a.lon.max(b.lon)).contains(&p.lon) && (a.lat.min(b.lat)..=a.lat.max(b.lat)).contains(&p.lat)
}

fn degrees(p: GeoPoint) -> (f64, f64) {
    (f64::from(p.lon) / 1e6, f64::from(p.lat) / 1e6)
}

/// Where segments `ab` and `cd` meet (crossing or touching), in degrees.
fn meet(a: GeoPoint, b: GeoPoint, c: GeoPoint, d: GeoPoint) -> Option<(f64, f64)> {
    let (d1, d2, d3, d4) = (cross(c, d, a), cross(c, d, b), cross(a, b, c), cross(a, b, d));
    if d1.signum() * d2.signum() < 0 && d3.signum() * d4.signum() < 0 {
        let t = d1 as f64 / (d1 - d2) as f64;
        let ((ax, ay), (bx, by)) = (degrees(a), degrees(b));
        return Some((ax + t * (bx - ax), ay + t * (by - ay)));
    }
    let touching = [(d1, c, d, a), (d2, c, d, b), (d3, a, b, c), (d4, a, b, d)];
    touching.into_iter().find(|&(side, s, e, p)| side == 0 && within(s, e, p)).map(|(_, _, _, p)| degrees(p))
}

/// The point near which a ring (distinct vertices, not closed) crosses or
/// touches itself, if it does. Edges are swept in order of their western
/// end, so only edges whose longitudes overlap are compared: quadratic in
/// the worst case, bounded by the 2,000 vertices of a boundary.
pub(crate) fn self_crossing(ring: &[GeoPoint]) -> Option<(f64, f64)> {
    let n = ring.len();
    let edge = |i: usize| (ring[i], ring[(i + 1) % n]);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| ring[i].lon.min(ring[(i + 1) % n].lon));
    for (k, &i) in order.iter().enumerate() {
        let (a, b) = edge(i);
        for &j in &order[k + 1..] {
            let (c, d) = edge(j);
            if c.lon.min(d.lon) > a.lon.max(b.lon) {
                break;
            }
            let found = if (i + 1) % n == j {
                doubles_back(ring[i], ring[j], ring[(j + 1) % n])
            } else if (j + 1) % n == i {
                doubles_back(ring[j], ring[i], ring[(i + 1) % n])
            } else {
                meet(a, b, c, d)
            };
            if found.is_some() {
                return found;
            }
        }
    }
    None
}

/// Two consecutive edges `p`→`s`→`q` overlap when the second goes back
/// along the first (a spike, or a ring with no area).
fn doubles_back(p: GeoPoint, s: GeoPoint, q: GeoPoint) -> Option<(f64, f64)> {
    let dot = (i64::from(p.lon) - i64::from(s.lon)) * (i64::from(q.lon) - i64::from(s.lon))
        + (i64::from(p.lat) - i64::from(s.lat)) * (i64::from(q.lat) - i64::from(s.lat));
    (cross(s, p, q) == 0 && dot > 0).then(|| degrees(s))
}

/// Whether `p` lies inside `polygon` or on its boundary (within the
/// rounding tolerance). Inside is even–odd ray casting, as the engine's
/// `GridTree::locate` does it; the boundary is tested first because a
/// child's vertices usually lie on its parent's edge, where ray casting
/// may fall either way.
pub(crate) fn covers(polygon: &[GeoPoint], p: GeoPoint) -> bool {
    let n = polygon.len();
    (0..n).any(|i| near_segment(polygon[i], polygon[(i + 1) % n], p)) || gridloop_engine::grid::contains(polygon, p)
}

fn near_segment(a: GeoPoint, b: GeoPoint, p: GeoPoint) -> bool {
    let (ax, ay, bx, by) = (f64::from(a.lon), f64::from(a.lat), f64::from(b.lon), f64::from(b.lat));
    let (px, py) = (f64::from(p.lon), f64::from(p.lat));
    let (dx, dy) = (bx - ax, by - ay);
    let length2 = dx * dx + dy * dy;
    let t = if length2 == 0.0 { 0.0 } else { (((px - ax) * dx + (py - ay) * dy) / length2).clamp(0.0, 1.0) };
    let (nx, ny) = (ax + t * dx - px, ay + t * dy - py);
    nx * nx + ny * ny <= ON_EDGE_TOLERANCE * ON_EDGE_TOLERANCE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(points: &[(i32, i32)]) -> Vec<GeoPoint> {
        points.iter().map(|&(lon, lat)| GeoPoint { lon, lat }).collect()
    }

    #[test]
    fn a_square_does_not_cross_itself_and_a_bow_tie_does() {
        assert_eq!(self_crossing(&ring(&[(0, 0), (10, 0), (10, 10), (0, 10)])), None);
        let (x, y) = self_crossing(&ring(&[(0, 0), (10, 10), (10, 0), (0, 10)])).expect("a bow tie crosses");
        assert!((x - 5e-6).abs() < 1e-9 && (y - 5e-6).abs() < 1e-9, "{x},{y}");
    }

    #[test]
    fn spikes_and_flat_rings_are_crossings() {
        assert!(self_crossing(&ring(&[(0, 0), (10, 0), (5, 0)])).is_some());
        assert!(self_crossing(&ring(&[(0, 0), (10, 0), (10, 10), (10, 5), (0, 10)])).is_some());
    }

    #[test]
    fn a_vertex_on_the_edge_is_covered() {
        let square = ring(&[(0, 0), (10, 0), (10, 10), (0, 10)]);
        assert!(covers(&square, GeoPoint { lon: 10, lat: 5 }));
        assert!(covers(&square, GeoPoint { lon: 5, lat: 5 }));
        assert!(!covers(&square, GeoPoint { lon: 12, lat: 5 }));
    }
}
