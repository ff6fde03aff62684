//! Reading order: a recursive XY-cut. A region is split into horizontal bands wherever nothing
//! crosses a horizontal line; consecutive bands that share a vertical gutter (columns running
//! on) are merged; a merged band with a gutter is split into columns, read left to right, each
//! read recursively. What can be split no further is a leaf: one column of text, read top to
//! bottom.
//!
//! A gap between the columns of a table looks like a gutter; it is not cut when the rows on its
//! two sides pair up line by line with short or numeric pieces (see [`looks_like_table`]).

use crate::geom::{self, median};
use crate::model::BBox;

/// What the reading order needs to know of each piece of a page.
#[derive(Debug, Clone, Copy)]
pub struct Atom {
    pub bbox: BBox,
    pub size: f32,
    pub chars: usize,
    pub numeric: bool,
    /// Its place in the source's order, where the source has one (a PDF's text layer).
    pub order: Option<usize>,
    /// A table found from rules (never a stamp up the margin, however narrow).
    pub table: bool,
}

/// A gutter narrower than this many font sizes is not one.
const MIN_GUTTER: f32 = 0.5;

/// The leaves of the page in reading order, each a list of atom indices. Lines of text set
/// vertically (a stamp up the margin, a rotated sidebar) would block every cut across the page:
/// they are read first, each a leaf of its own.
pub fn leaves(atoms: &[Atom]) -> Vec<Vec<usize>> {
    let em = median(atoms.iter().map(|a| a.size).collect()).max(1e-3);
    let vertical = |a: &Atom| {
        !a.table
            && geom::height(&a.bbox) > 3.0 * geom::width(&a.bbox)
            && geom::height(&a.bbox) > 8.0 * em
    };
    let mut out: Vec<Vec<usize>> = (0..atoms.len())
        .filter(|&i| vertical(&atoms[i]))
        .map(|i| vec![i])
        .collect();
    cut(
        atoms,
        (0..atoms.len()).filter(|&i| !vertical(&atoms[i])).collect(),
        &mut out,
        0,
    );
    out
}

fn cut(atoms: &[Atom], ids: Vec<usize>, out: &mut Vec<Vec<usize>>, depth: u32) {
    if ids.len() <= 1 || depth > 40 {
        if !ids.is_empty() {
            out.push(ids);
        }
        return;
    }
    let em = median(ids.iter().map(|&i| atoms[i].size).collect()).max(1e-3);
    let min_gap = MIN_GUTTER * em;
    let x0 = ids
        .iter()
        .map(|&i| atoms[i].bbox[0])
        .fold(f32::MAX, f32::min);
    let x1 = ids
        .iter()
        .map(|&i| atoms[i].bbox[2])
        .fold(f32::MIN, f32::max);

    // A gap that runs down the whole region splits it into columns at once.
    let whole: Vec<(f32, f32)> = free_intervals(atoms, &ids, x0, x1, min_gap)
        .into_iter()
        .filter(|&(a, b)| a > x0 && b < x1)
        .filter(|&g| !keeps_rows(atoms, &ids, g))
        .collect();
    if !whole.is_empty() {
        return columns(atoms, ids, &whole, out, depth);
    }

    // Horizontal bands: nothing crosses the line between two bands.
    let mut sorted = ids.clone();
    sorted.sort_by(|&a, &b| atoms[a].bbox[1].total_cmp(&atoms[b].bbox[1]));
    let mut bands: Vec<Vec<usize>> = Vec::new();
    let mut bottom = f32::MIN;
    for id in sorted {
        let b = atoms[id].bbox;
        match bands.last_mut() {
            Some(band) if b[1] < bottom => band.push(id),
            _ => bands.push(vec![id]),
        }
        bottom = bottom.max(b[3]);
    }

    // Consecutive bands that share a gutter run on as columns.
    // Each group: its atoms and the gutters its bands share.
    type Group = (Vec<usize>, Vec<(f32, f32)>);
    let mut groups: Vec<Group> = Vec::new();
    for band in bands {
        let free = free_intervals(atoms, &band, x0, x1, min_gap);
        let inner = has_inner(atoms, &band, &free);
        match groups.last_mut() {
            Some((members, gutters)) => {
                let shared = if gutters.is_empty() {
                    Vec::new()
                } else {
                    intersect(gutters, &free, min_gap)
                };
                let single = gutters.is_empty() && !inner;
                if !shared.is_empty() {
                    *gutters = shared;
                    members.extend(band);
                } else if single {
                    members.extend(band);
                } else {
                    let gutters = sided_only(atoms, &band, free);
                    groups.push((band, gutters));
                }
            }
            None => {
                let gutters = sided_only(atoms, &band, free);
                groups.push((band, gutters));
            }
        }
    }

    if groups.len() > 1 {
        for (members, _) in groups {
            cut(atoms, members, out, depth + 1);
        }
        return;
    }
    let Some((members, gutters)) = groups.pop() else {
        return;
    };
    // The gutters with text on both sides that are not the gaps of a table.
    let lo = members
        .iter()
        .map(|&i| atoms[i].bbox[0])
        .fold(f32::MAX, f32::min);
    let hi = members
        .iter()
        .map(|&i| atoms[i].bbox[2])
        .fold(f32::MIN, f32::max);
    let cuts: Vec<(f32, f32)> = gutters
        .into_iter()
        .filter(|&(a, b)| a > lo && b < hi)
        .filter(|&g| !keeps_rows(atoms, &members, g))
        .collect();
    if cuts.is_empty() {
        out.push(members);
        return;
    }
    columns(atoms, members, &cuts, out, depth);
}

/// Splits the atoms at the gutters `cuts` and reads each column, left to right.
fn columns(
    atoms: &[Atom],
    ids: Vec<usize>,
    cuts: &[(f32, f32)],
    out: &mut Vec<Vec<usize>>,
    depth: u32,
) {
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); cuts.len() + 1];
    for id in ids {
        let cx = geom::center(&atoms[id].bbox).0;
        let col = cuts.iter().filter(|&&(a, _)| cx > a).count();
        columns[col].push(id);
    }
    for column in columns.into_iter().filter(|c| !c.is_empty()) {
        cut(atoms, column, out, depth + 1);
    }
}

/// The stretches of [x0, x1] that no atom of the band covers, at least `min_gap` wide.
fn free_intervals(
    atoms: &[Atom],
    band: &[usize],
    x0: f32,
    x1: f32,
    min_gap: f32,
) -> Vec<(f32, f32)> {
    let mut spans: Vec<(f32, f32)> = band
        .iter()
        .map(|&i| (atoms[i].bbox[0], atoms[i].bbox[2]))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut free = Vec::new();
    let mut at = x0;
    for (a, b) in spans {
        if a - at >= min_gap {
            free.push((at, a));
        }
        at = at.max(b);
    }
    if x1 - at >= min_gap {
        free.push((at, x1));
    }
    free
}

/// Whether some free interval has atoms of the band on both sides.
fn has_inner(atoms: &[Atom], band: &[usize], free: &[(f32, f32)]) -> bool {
    free.iter().any(|&g| sided(atoms, band, g))
}

/// The free intervals of a band with atoms on both sides: the gutters it can share. A margin
/// (text on one side only) is none, or a line in the margin (a stray mark) would let a
/// full-width title share a "gutter" with the columns under it.
fn sided_only(atoms: &[Atom], band: &[usize], free: Vec<(f32, f32)>) -> Vec<(f32, f32)> {
    free.into_iter()
        .filter(|&g| sided(atoms, band, g))
        .collect()
}

/// Whether atoms of `ids` lie on both sides of the gap `g`.
fn sided(atoms: &[Atom], ids: &[usize], (a, b): (f32, f32)) -> bool {
    ids.iter().any(|&i| atoms[i].bbox[2] <= a + 1e-3)
        && ids.iter().any(|&i| atoms[i].bbox[0] >= b - 1e-3)
}

fn intersect(a: &[(f32, f32)], b: &[(f32, f32)], min_gap: f32) -> Vec<(f32, f32)> {
    let mut out = Vec::new();
    for &(a0, a1) in a {
        for &(b0, b1) in b {
            let (lo, hi) = (a0.max(b0), a1.min(b1));
            if hi - lo >= min_gap {
                out.push((lo, hi));
            }
        }
    }
    out
}

/// How the pieces on the two sides of a gap pair up, line by line. The counts of kinds of pairs
/// are weighted by the pairs' characters, so that a few long lines of text outweigh many tick
/// labels of a chart.
struct Pairing {
    pairs: usize,
    weight: usize,
    /// Both sides shorter than 20 characters.
    short: usize,
    /// At least one side shorter than 20 characters.
    one_short: usize,
    /// A number on the right.
    numeric: usize,
    /// Pairs whose source order is known, and of those, the ones it runs across (left, then
    /// right) rather than down each side.
    ordered: usize,
    across: usize,
}

impl Pairing {
    /// Whether pairs of a kind (their weight `n`) are most of them.
    fn most(&self, n: usize) -> bool {
        self.pairs >= 2 && n * 10 >= self.weight * 6
    }

    /// The source runs down each side: columns of text, a two-column index.
    fn down(&self) -> bool {
        self.ordered * 10 >= self.pairs * 8 && self.across * 2 < self.ordered
    }

    fn across(&self) -> bool {
        self.ordered * 10 >= self.pairs * 8 && self.across * 2 >= self.ordered
    }
}

/// Whether the gap `g` runs between the columns of a table rather than between columns of text:
/// the pieces on its two sides pair up line by line, and most pairs are numeric on the right
/// (text columns never are), or short on both sides, unless the source (where it gives an order)
/// runs down each side rather than across the gap (a two-column index, not a table).
pub fn looks_like_table(atoms: &[Atom], members: &[usize], g: (f32, f32)) -> bool {
    let p = pairing(atoms, members, g);
    p.most(p.numeric) || (p.most(p.short) && !p.down())
}

/// Whether the lines across the gap `g` belong together, so that it is no gutter: a table, or
/// labels beside their text (a bibliography's keys, a definition list) that the source reads
/// across.
pub fn keeps_rows(atoms: &[Atom], members: &[usize], g: (f32, f32)) -> bool {
    let p = pairing(atoms, members, g);
    looks_like_table(atoms, members, g) || (p.across() && p.most(p.one_short))
}

fn pairing(atoms: &[Atom], members: &[usize], g: (f32, f32)) -> Pairing {
    let left: Vec<&Atom> = members
        .iter()
        .map(|&i| &atoms[i])
        .filter(|a| a.bbox[2] <= g.0 + 1e-3)
        .collect();
    let right: Vec<&Atom> = members
        .iter()
        .map(|&i| &atoms[i])
        .filter(|a| a.bbox[0] >= g.1 - 1e-3)
        .collect();
    let mut p = Pairing {
        pairs: 0,
        weight: 0,
        short: 0,
        one_short: 0,
        numeric: 0,
        ordered: 0,
        across: 0,
    };
    let same_line = |a: &Atom, b: &Atom| geom::v_overlap_ratio(&a.bbox, &b.bbox) >= 0.5;
    for l in &left {
        // Only the piece next to the gap pairs across it: not one further left on its line.
        if left
            .iter()
            .any(|k| k.bbox[2] > l.bbox[2] && same_line(k, l))
        {
            continue;
        }
        // The pieces to its right on the same line, nearest first.
        let mut row: Vec<&&Atom> = right.iter().filter(|r| same_line(l, r)).collect();
        row.sort_by(|a, b| a.bbox[0].total_cmp(&b.bbox[0]));
        if let Some(r) = row.first() {
            let w = l.chars + r.chars;
            p.pairs += 1;
            p.weight += w;
            if l.chars < 20 && r.chars < 20 {
                p.short += w;
            }
            if l.chars < 20 || r.chars < 20 {
                p.one_short += w;
            }
            if row.iter().any(|r| r.numeric) {
                p.numeric += w;
            }
            if let (Some(a), Some(b)) = (l.order, r.order) {
                p.ordered += 1;
                if b == a + 1 {
                    p.across += 1;
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(x0: f32, y0: f32, x1: f32, chars: usize) -> Atom {
        Atom {
            bbox: [x0, y0, x1, y0 + 10.0],
            size: 10.0,
            chars,
            numeric: false,
            order: None,
            table: false,
        }
    }

    /// Two columns of lines at the same heights under a full-width title.
    #[test]
    fn columns_under_a_title_are_read_one_after_the_other() {
        let mut atoms = vec![atom(72.0, 50.0, 540.0, 40)];
        for i in 0..5 {
            let y = 80.0 + 14.0 * i as f32;
            atoms.push(atom(72.0, y, 290.0, 45));
            atoms.push(atom(320.0, y, 540.0, 45));
        }
        let order: Vec<usize> = leaves(&atoms).concat();
        assert_eq!(order, vec![0, 1, 3, 5, 7, 9, 2, 4, 6, 8, 10]);
    }

    /// A paragraph break at the same height in both columns does not make the page read across.
    #[test]
    fn aligned_paragraph_gaps_do_not_interleave_columns() {
        let mut atoms = Vec::new();
        for (i, y) in [80.0, 94.0, 130.0, 144.0].into_iter().enumerate() {
            atoms.push(atom(72.0, y, 290.0, 45));
            atoms.push(atom(320.0, y, if i == 3 { 400.0 } else { 540.0 }, 45));
        }
        let order: Vec<usize> = leaves(&atoms).concat();
        assert_eq!(order, vec![0, 2, 4, 6, 1, 3, 5, 7]);
    }

    /// A speck in the margin (OCR's reading of a stray mark) beside the upper half of the
    /// columns makes no column of its own: the columns still read down whole.
    #[test]
    fn a_speck_in_the_margin_does_not_split_the_columns_in_two() {
        let mut atoms = vec![
            atom(72.0, 20.0, 250.0, 30),
            atom(450.0, 20.0, 540.0, 9),
            atom(90.0, 50.0, 520.0, 40),
            atom(40.0, 120.0, 44.0, 1),
        ];
        for i in 0..8 {
            let y = 80.0 + 14.0 * i as f32;
            // The lower half of the left column starts a little further left.
            let x = if i < 4 { 72.0 } else { 50.0 };
            atoms.push(atom(x, y, 290.0, 45));
            atoms.push(atom(300.0, y + 3.0, 540.0, 45));
        }
        let order: Vec<usize> = leaves(&atoms).concat();
        let left: Vec<usize> = (0..8).map(|i| 4 + 2 * i).collect();
        let right: Vec<usize> = (0..8).map(|i| 5 + 2 * i).collect();
        let pos = |id: usize| order.iter().position(|&o| o == id).unwrap();
        assert!(
            left.iter().all(|&l| right.iter().all(|&r| pos(l) < pos(r))),
            "{order:?}"
        );
    }

    #[test]
    fn a_table_band_is_not_cut_into_its_columns() {
        let mut atoms = Vec::new();
        for i in 0..4 {
            let y = 100.0 + 14.0 * i as f32;
            atoms.push(atom(72.0, y, 150.0, 9));
            atoms.push(atom(250.0, y, 300.0, 5));
            atoms.push(atom(400.0, y, 450.0, 6));
        }
        let leaves = leaves(&atoms);
        assert_eq!(leaves.len(), 1, "{leaves:?}");
    }

    /// Short entries in two columns: a table when the source runs across, an index when it
    /// runs down each column.
    #[test]
    fn the_source_order_tells_a_table_from_columns_of_short_entries() {
        let mut across = Vec::new();
        let mut down = Vec::new();
        for i in 0..6 {
            let y = 100.0 + 14.0 * i as f32;
            for (k, x) in [(0, 72.0), (1, 330.0)] {
                let mut a = atom(x, y, x + 90.0, 12);
                a.order = Some(2 * i + k);
                across.push(a);
                a.order = Some(k * 6 + i);
                down.push(a);
            }
        }
        let ids: Vec<usize> = (0..12).collect();
        assert!(looks_like_table(&across, &ids, (162.0, 330.0)));
        assert!(!looks_like_table(&down, &ids, (162.0, 330.0)));
    }

    #[test]
    fn a_stamp_up_the_margin_does_not_block_the_columns() {
        let mut atoms = vec![Atom {
            bbox: [14.0, 60.0, 30.0, 400.0],
            size: 30.0,
            chars: 40,
            numeric: false,
            order: None,
            table: false,
        }];
        atoms.push(atom(40.0, 50.0, 540.0, 80));
        for i in 0..5 {
            let y = 80.0 + 14.0 * i as f32;
            atoms.push(atom(40.0, y, 290.0, 45));
            atoms.push(atom(320.0, y, 540.0, 45));
        }
        let order: Vec<usize> = leaves(&atoms).concat();
        assert_eq!(order, vec![0, 1, 2, 4, 6, 8, 10, 3, 5, 7, 9, 11]);
    }

    #[test]
    fn a_full_width_block_between_two_column_parts_keeps_its_place() {
        let atoms = vec![
            atom(72.0, 80.0, 290.0, 45),
            atom(320.0, 80.0, 540.0, 45),
            atom(72.0, 120.0, 540.0, 60),
            atom(72.0, 160.0, 290.0, 45),
            atom(320.0, 160.0, 540.0, 45),
        ];
        let order: Vec<usize> = leaves(&atoms).concat();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }
}
