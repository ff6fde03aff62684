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
}

/// A gutter narrower than this many font sizes is not one.
const MIN_GUTTER: f32 = 0.5;

/// The leaves of the page in reading order, each a list of atom indices.
pub fn leaves(atoms: &[Atom]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    cut(atoms, (0..atoms.len()).collect(), &mut out, 0);
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
    let x0 = ids.iter().map(|&i| atoms[i].bbox[0]).fold(f32::MAX, f32::min);
    let x1 = ids.iter().map(|&i| atoms[i].bbox[2]).fold(f32::MIN, f32::max);

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
    let mut groups: Vec<(Vec<usize>, Vec<(f32, f32)>)> = Vec::new();
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
                    groups.push((band, if inner { free } else { Vec::new() }));
                }
            }
            None => groups.push((band, if inner { free } else { Vec::new() })),
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
    let lo = members.iter().map(|&i| atoms[i].bbox[0]).fold(f32::MAX, f32::min);
    let hi = members.iter().map(|&i| atoms[i].bbox[2]).fold(f32::MIN, f32::max);
    let cuts: Vec<(f32, f32)> = gutters
        .into_iter()
        .filter(|&(a, b)| a > lo && b < hi)
        .filter(|&g| !looks_like_table(atoms, &members, g))
        .collect();
    if cuts.is_empty() {
        out.push(members);
        return;
    }
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); cuts.len() + 1];
    for id in members {
        let cx = geom::center(&atoms[id].bbox).0;
        let col = cuts.iter().filter(|&&(a, _)| cx > a).count();
        columns[col].push(id);
    }
    for column in columns.into_iter().filter(|c| !c.is_empty()) {
        cut(atoms, column, out, depth + 1);
    }
}

/// The stretches of [x0, x1] that no atom of the band covers, at least `min_gap` wide.
fn free_intervals(atoms: &[Atom], band: &[usize], x0: f32, x1: f32, min_gap: f32) -> Vec<(f32, f32)> {
    let mut spans: Vec<(f32, f32)> = band.iter().map(|&i| (atoms[i].bbox[0], atoms[i].bbox[2])).collect();
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
    free.iter().any(|&(a, b)| {
        band.iter().any(|&i| atoms[i].bbox[2] <= a + 1e-3) && band.iter().any(|&i| atoms[i].bbox[0] >= b - 1e-3)
    })
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

/// Whether the gap `g` runs between the columns of a table rather than between columns of text:
/// the pieces on its two sides pair up line by line, and most pairs are short on both sides, or
/// numeric on the right (text columns are neither).
pub fn looks_like_table(atoms: &[Atom], members: &[usize], g: (f32, f32)) -> bool {
    let left: Vec<&Atom> = members.iter().map(|&i| &atoms[i]).filter(|a| a.bbox[2] <= g.0 + 1e-3).collect();
    let right: Vec<&Atom> = members.iter().map(|&i| &atoms[i]).filter(|a| a.bbox[0] >= g.1 - 1e-3).collect();
    let mut pairs = 0;
    let mut short = 0;
    let mut numeric = 0;
    for l in &left {
        // The nearest piece to its right on the same line.
        let partner = right
            .iter()
            .filter(|r| geom::v_overlap_ratio(&l.bbox, &r.bbox) >= 0.5)
            .min_by(|a, b| a.bbox[0].total_cmp(&b.bbox[0]));
        if let Some(r) = partner {
            pairs += 1;
            if l.chars < 20 && r.chars < 20 {
                short += 1;
            }
            if r.numeric {
                numeric += 1;
            }
        }
    }
    pairs >= 2 && (short * 10 >= pairs * 6 || numeric * 10 >= pairs * 6)
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
