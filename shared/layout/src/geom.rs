//! Rectangles: `[x0, y0, x1, y1]`, origin top-left.

use crate::model::BBox;

pub fn width(b: &BBox) -> f32 {
    b[2] - b[0]
}

pub fn height(b: &BBox) -> f32 {
    b[3] - b[1]
}

pub fn union(a: &BBox, b: &BBox) -> BBox {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// The smallest rectangle around all of them (`None` for none).
pub fn union_all<'a>(boxes: impl IntoIterator<Item = &'a BBox>) -> Option<BBox> {
    boxes.into_iter().fold(None, |acc, b| {
        Some(match acc {
            None => *b,
            Some(a) => union(&a, b),
        })
    })
}

/// How much two intervals overlap (negative: the gap between them).
pub fn overlap(a0: f32, a1: f32, b0: f32, b1: f32) -> f32 {
    a1.min(b1) - a0.max(b0)
}

/// How far `x` lies outside the span from `a` to `b` (0 within it).
pub fn outside(a: f32, b: f32, x: f32) -> f32 {
    (a - x).max(x - b).max(0.0)
}

/// `items` in reading order, line by line, each line left to right: sorted by their tops, then
/// those that share a line (half the height of the line's first) ordered across.
pub fn in_lines<T>(mut items: Vec<T>, bbox: impl Fn(&T) -> BBox) -> Vec<T> {
    items.sort_by(|a, b| bbox(a)[1].total_cmp(&bbox(b)[1]));
    let mut rows: Vec<Vec<T>> = Vec::new();
    for item in items {
        match rows.last_mut() {
            Some(row) if v_overlap_ratio(&bbox(&row[0]), &bbox(&item)) >= 0.5 => row.push(item),
            _ => rows.push(vec![item]),
        }
    }
    for row in &mut rows {
        row.sort_by(|a, b| bbox(a)[0].total_cmp(&bbox(b)[0]));
    }
    rows.into_iter().flatten().collect()
}

/// The area two boxes share (0 when they do not meet).
pub fn common_area(a: &BBox, b: &BBox) -> f32 {
    overlap(a[0], a[2], b[0], b[2]).max(0.0) * overlap(a[1], a[3], b[1], b[3]).max(0.0)
}

/// Vertical overlap as a share of the smaller height.
pub fn v_overlap_ratio(a: &BBox, b: &BBox) -> f32 {
    let o = overlap(a[1], a[3], b[1], b[3]);
    let h = height(a).min(height(b)).max(1e-3);
    o / h
}

/// Horizontal overlap as a share of the narrower width.
pub fn h_overlap_ratio(a: &BBox, b: &BBox) -> f32 {
    let o = overlap(a[0], a[2], b[0], b[2]);
    let w = width(a).min(width(b)).max(1e-3);
    o / w
}

/// The gap between two rectangles (0 when they touch or overlap).
pub fn distance(a: &BBox, b: &BBox) -> f32 {
    let dx = (a[0] - b[2]).max(b[0] - a[2]).max(0.0);
    let dy = (a[1] - b[3]).max(b[1] - a[3]).max(0.0);
    dx.hypot(dy)
}

pub fn center(b: &BBox) -> (f32, f32) {
    ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
}

/// Whether the point lies in the rectangle grown by `slack` on every side.
pub fn contains(b: &BBox, x: f32, y: f32, slack: f32) -> bool {
    x >= b[0] - slack && x <= b[2] + slack && y >= b[1] - slack && y <= b[3] + slack
}

/// The median of the values (0 for none).
pub fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}
