//! Tables: ruled ones from the lines drawn on the page (a grid of horizontal and vertical
//! rules, or horizontal rules only, as in booktabs), and whitespace-aligned ones from rows of
//! segments that line up in columns.

use crate::geom;
use crate::lines::{join_words, Segment};
use crate::model::{BBox, Block, Cell, Kind, PageLayout, Table, Word};
use crate::order::{looks_like_table, Atom};

/// A table found on a page, with the region it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub bbox: BBox,
    pub table: Table,
    /// Its cells are drawn: rules across and down bound them (not horizontal rules alone, as in
    /// booktabs, whose rows are its words' lines).
    pub drawn: bool,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    /// For a horizontal rule: y, and its extent x0..x1; for a vertical one: x, and y0..y1.
    at: f32,
    from: f32,
    to: f32,
}

/// Finds ruled tables among `words` (the page's words) and `rules` (thin rectangles); on a
/// `scan`, a box drawn round a table is no grid. Returns the tables and, for each word, whether
/// a table took it.
pub fn ruled(rules: &[BBox], words: &[Word], em: f32, scan: bool) -> (Vec<Found>, Vec<bool>) {
    let mut used = vec![false; words.len()];
    let mut found = Vec::new();
    if rules.is_empty() || words.is_empty() {
        return (found, used);
    }
    let thick = (0.6 * em).max(1.0);
    let tol = (0.35 * em).max(1.0);
    let mut hs = Vec::new();
    let mut vs = Vec::new();
    for r in rules {
        let (w, h) = (geom::width(r), geom::height(r));
        if h <= thick && w >= 1.5 * em {
            hs.push(Rule {
                at: (r[1] + r[3]) / 2.0,
                from: r[0],
                to: r[2],
            });
        } else if w <= thick && h >= 0.6 * em {
            vs.push(Rule {
                at: (r[0] + r[2]) / 2.0,
                from: r[1],
                to: r[3],
            });
        }
    }
    let hs = merge_collinear(hs, tol);
    let vs = merge_collinear(vs, tol);
    // Lines of text that run across a region's edge show it is no table (rules under words of
    // running text, a box drawn through a paragraph).
    let lines = crate::lines::segments(words);
    // A region is no table either when most of its lines go on beside it (a column of a larger
    // table, set apart by rules under its totals).
    let crossed = |b: &BBox| {
        let level = |l: &Segment| {
            let cy = (l.bbox[1] + l.bbox[3]) / 2.0;
            cy > b[1] && cy < b[3]
        };
        let across = |l: &Segment| {
            let cuts = |x: f32| l.bbox[0] < x - tol && l.bbox[2] > x + tol;
            cuts(b[0]) || cuts(b[2])
        };
        let inside: Vec<&Segment> = lines
            .iter()
            .filter(|l| level(l) && l.bbox[0] >= b[0] - tol && l.bbox[2] <= b[2] + tol)
            .collect();
        let beside = inside
            .iter()
            .filter(|i| {
                lines.iter().any(|o| {
                    (o.bbox[2] < b[0] - tol || o.bbox[0] > b[2] + tol)
                        && geom::v_overlap_ratio(&i.bbox, &o.bbox) >= 0.5
                })
            })
            .count();
        lines.iter().any(|l| level(l) && across(l))
            || (!inside.is_empty() && beside * 2 > inside.len())
    };

    // Connected groups of rules: a horizontal and a vertical rule are connected where they cross
    // or touch.
    let n = hs.len() + vs.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], i: usize) -> usize {
        let mut i = i;
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for (i, h) in hs.iter().enumerate() {
        for (j, v) in vs.iter().enumerate() {
            if v.at >= h.from - tol
                && v.at <= h.to + tol
                && h.at >= v.from - tol
                && h.at <= v.to + tol
            {
                let (a, b) = (find(&mut parent, i), find(&mut parent, hs.len() + j));
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, (Vec<Rule>, Vec<Rule>)> = Default::default();
    for i in 0..n {
        let root = find(&mut parent, i);
        let entry = groups.entry(root).or_default();
        if i < hs.len() {
            entry.0.push(hs[i]);
        } else {
            entry.1.push(vs[i - hs.len()]);
        }
    }
    let mut lone_h = Vec::new();
    for (_, (h, v)) in groups {
        // On a scan, a box drawn round a table (its only vertical rules at its sides, a rule
        // under its header) draws no columns: its horizontal rules bound it as booktabs' do,
        // and the table model reads it. (A box of two rules across is a frame: a chart's
        // legend. On a text layer such a box is mostly a form's, whose sections it keeps.)
        let (left, right) = (
            h.iter().map(|r| r.from).fold(f32::MAX, f32::min),
            h.iter().map(|r| r.to).fold(f32::MIN, f32::max),
        );
        let framed = scan
            && h.len() >= 3
            && v.iter()
                .all(|r| (r.at - left).abs() <= tol || (r.at - right).abs() <= tol);
        if h.len() >= 2 && v.len() >= 2 && !framed {
            if let Some(t) = grid(&h, &v, words, &used, tol, em).filter(|t| !crossed(&t.bbox)) {
                for (i, w) in words.iter().enumerate() {
                    let (cx, cy) = geom::center(&w.bbox);
                    used[i] |= geom::contains(&t.bbox, cx, cy, 0.0);
                }
                found.push(t);
            }
        } else if v.is_empty() || framed {
            lone_h.extend(h);
        }
    }
    found.extend(booktabs(lone_h, words, &mut used, tol, &crossed));
    (found, used)
}

/// Joins rules on the same line that touch or overlap.
fn merge_collinear(mut rules: Vec<Rule>, tol: f32) -> Vec<Rule> {
    rules.sort_by(|a, b| a.at.total_cmp(&b.at).then(a.from.total_cmp(&b.from)));
    let mut out: Vec<Rule> = Vec::new();
    for r in rules {
        if let Some(last) = out
            .iter_mut()
            .rev()
            .find(|l| (l.at - r.at).abs() <= tol && r.from <= l.to + tol && r.to >= l.from - tol)
        {
            last.from = last.from.min(r.from);
            last.to = last.to.max(r.to);
            continue;
        }
        out.push(r);
    }
    out
}

/// Positions closer than `tol` are one.
fn cluster(mut values: Vec<f32>, tol: f32) -> Vec<f32> {
    values.sort_by(f32::total_cmp);
    let mut out: Vec<f32> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some(last) if v - *last <= tol => *last = (*last + v) / 2.0,
            _ => out.push(v),
        }
    }
    out
}

/// A table from a grid of rules: its rows and columns lie between the rules; a cell spans
/// neighbouring grid cells where the rule between them is missing.
fn grid(
    hs: &[Rule],
    vs: &[Rule],
    words: &[Word],
    used: &[bool],
    tol: f32,
    em: f32,
) -> Option<Found> {
    let mut ys = cluster(hs.iter().map(|h| h.at).collect(), tol);
    let mut xs = cluster(vs.iter().map(|v| v.at).collect(), tol);
    // The outer border may be missing on a side: the rules' ends close the grid.
    let (left, right) = (
        hs.iter().map(|h| h.from).fold(f32::MAX, f32::min),
        hs.iter().map(|h| h.to).fold(f32::MIN, f32::max),
    );
    let (top, bottom) = (
        vs.iter().map(|v| v.from).fold(f32::MAX, f32::min),
        vs.iter().map(|v| v.to).fold(f32::MIN, f32::max),
    );
    if xs.first().is_some_and(|&x| x - left > em) {
        xs.insert(0, left);
    }
    if xs.last().is_some_and(|&x| right - x > em) {
        xs.push(right);
    }
    if ys.first().is_some_and(|&y| y - top > em) {
        ys.insert(0, top);
    }
    if ys.last().is_some_and(|&y| bottom - y > em) {
        ys.push(bottom);
    }
    if xs.len() < 2 || ys.len() < 2 {
        return None;
    }
    let (rows, cols) = (ys.len() - 1, xs.len() - 1);
    // A grid of tens of thousands of cells is a drawing, not a table.
    if rows * cols < 2 || rows * cols > 10_000 {
        return None;
    }
    let covers = |rules: &[Rule], at: f32, from: f32, to: f32| {
        let need = 0.6 * (to - from);
        let covered: f32 = rules
            .iter()
            .filter(|r| (r.at - at).abs() <= tol)
            .map(|r| geom::overlap(r.from, r.to, from, to).max(0.0))
            .sum();
        covered >= need
    };
    // Spanning cells: grow right while no vertical rule separates, then down while no
    // horizontal rule separates the whole width.
    let mut owner = vec![vec![usize::MAX; cols]; rows];
    let mut spans: Vec<(usize, usize, usize, usize)> = Vec::new(); // r, c, rs, cs
    for r in 0..rows {
        for c in 0..cols {
            if owner[r][c] != usize::MAX {
                continue;
            }
            let mut cs = 1;
            while c + cs < cols
                && owner[r][c + cs] == usize::MAX
                && !covers(vs, xs[c + cs], ys[r], ys[r + 1])
            {
                cs += 1;
            }
            let mut rs = 1;
            while r + rs < rows
                && (c..c + cs).all(|k| {
                    owner[r + rs][k] == usize::MAX && !covers(hs, ys[r + rs], xs[k], xs[k + 1])
                })
            {
                rs += 1;
            }
            for row in owner.iter_mut().skip(r).take(rs) {
                for slot in row.iter_mut().skip(c).take(cs) {
                    *slot = spans.len();
                }
            }
            spans.push((r, c, rs, cs));
        }
    }
    let bbox = [xs[0], ys[0], xs[cols], ys[rows]];
    let mut texts: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (i, w) in words.iter().enumerate() {
        let (cx, cy) = geom::center(&w.bbox);
        if used[i] || !geom::contains(&bbox, cx, cy, 0.0) {
            continue;
        }
        let r = ys.iter().filter(|&&y| y < cy).count().clamp(1, rows) - 1;
        let c = xs.iter().filter(|&&x| x < cx).count().clamp(1, cols) - 1;
        texts[owner[r][c]].push(i);
    }
    let filled = texts.iter().filter(|t| !t.is_empty()).count();
    if filled < 2 {
        return None;
    }
    let mut table = Table {
        rows: rows as u32,
        cols: cols as u32,
        header_rows: 0,
        cells: spans
            .iter()
            .zip(&texts)
            .map(|(&(r, c, rs, cs), ids)| Cell {
                row: r as u32,
                col: c as u32,
                row_span: rs as u32,
                col_span: cs as u32,
                text: cell_text(words, ids),
                header: false,
                bbox: None,
            })
            .collect(),
    };
    // Which grid rows are set in bold, before empty rows go.
    let bold: Vec<bool> = (0..rows)
        .map(|row| {
            let ids: Vec<usize> = spans
                .iter()
                .zip(&texts)
                .filter(|((r, ..), _)| *r == row)
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect();
            !ids.is_empty() && ids.iter().all(|&i| words[i].bold)
        })
        .collect();
    let kept = drop_empty_rows(&mut table);
    mark_header(&mut table, |row| {
        kept.get(row).is_some_and(|&r| bold[r as usize])
    });
    Some(Found {
        bbox,
        table,
        drawn: true,
    })
}

/// Tables ruled by horizontal lines only (a top rule, a rule under the header, a bottom rule):
/// the region between rules of the same extent, when what lies between is tabular.
fn booktabs(
    mut hs: Vec<Rule>,
    words: &[Word],
    used: &mut [bool],
    tol: f32,
    crossed: &dyn Fn(&BBox) -> bool,
) -> Vec<Found> {
    hs.sort_by(|a, b| a.at.total_cmp(&b.at));
    let mut out = Vec::new();
    let mut taken = vec![false; hs.len()];
    for i in 0..hs.len() {
        if taken[i] {
            continue;
        }
        // Rules below this one with about the same extent.
        let same: Vec<usize> = (i..hs.len())
            .filter(|&j| {
                !taken[j]
                    && geom::overlap(hs[i].from, hs[i].to, hs[j].from, hs[j].to)
                        >= 0.85 * (hs[i].to - hs[i].from).max(hs[j].to - hs[j].from)
            })
            .collect();
        if same.len() < 2 {
            continue;
        }
        let (top, bottom) = (hs[same[0]].at, hs[*same.last().unwrap_or(&i)].at);
        let mut bbox = [hs[i].from - tol, top, hs[i].to + tol, bottom];
        // The rule under the first row (which may not span the table: not under a cell
        // spanning rows).
        let next = hs[same[0] + 1..]
            .iter()
            .find(|r| geom::overlap(r.from, r.to, hs[i].from, hs[i].to) > 0.0);
        let above = next.and_then(|next| header_above(&hs[same[0]], next, words, used, tol));
        if let Some(y) = above {
            bbox[1] = y;
        }
        if crossed(&bbox) {
            continue;
        }
        let inside: Vec<usize> = (0..words.len())
            .filter(|&k| {
                !used[k] && {
                    let (cx, cy) = geom::center(&words[k].bbox);
                    geom::contains(&bbox, cx, cy, 0.0)
                }
            })
            .collect();
        if inside.is_empty() {
            continue;
        }
        let (segments, rows) = crate::lines::segment_rows(
            &inside.iter().map(|&k| words[k].clone()).collect::<Vec<_>>(),
        );
        let Some(mut table) = aligned(&segments, &rows, true, false) else {
            continue;
        };
        // The header: the rows above the second rule (the first, when the header is above it).
        let second = hs[same[usize::from(above.is_none())]].at;
        let header = rows
            .iter()
            .take_while(|r| r.iter().all(|&s| segments[s].bbox[3] <= second + tol))
            .count();
        // Header lines may have been merged into one row: no more header rows than the rows
        // before the first with figures.
        let plain = (0..table.rows)
            .take_while(|&r| {
                table
                    .cells
                    .iter()
                    .filter(|c| c.row == r)
                    .all(|c| !c.text.chars().any(|ch| ch.is_ascii_digit()))
            })
            .count();
        let header = header.min(plain.max(1));
        if same.len() >= 3 && header > 0 && header < table.rows as usize {
            table.header_rows = header as u32;
            for c in &mut table.cells {
                c.header = c.row < table.header_rows;
            }
        }
        for &k in &inside {
            used[k] = true;
        }
        for &j in &same {
            taken[j] = true;
        }
        out.push(Found {
            bbox: [bbox[0] + tol, bbox[1], bbox[2] - tol, bottom],
            table,
            drawn: false,
        });
    }
    out
}

/// The top of a header row set over a table's `first` rule, in a table ruled under each of its
/// rows, its header too, but not over it: the line just over that rule, as near to it as the
/// first row is to the `second` rule, within the rules' width, its words over two of the first
/// row's columns or more, and no caption.
fn header_above(
    first: &Rule,
    second: &Rule,
    words: &[Word],
    used: &[bool],
    tol: f32,
) -> Option<f32> {
    let between = |lo: f32, hi: f32| -> Vec<Word> {
        words
            .iter()
            .zip(used)
            .filter(|(w, &u)| {
                let (cx, cy) = geom::center(&w.bbox);
                !u && cx >= first.from - tol && cx <= first.to + tol && cy > lo && cy < hi
            })
            .map(|(w, _)| w.clone())
            .collect()
    };
    // The first row: one line between the first two rules.
    let (segments, rows) = crate::lines::segment_rows(&between(first.at, second.at));
    let [row] = rows.as_slice() else {
        return None;
    };
    let span = |segments: &[crate::lines::Segment], row: &[usize]| {
        row.iter().fold((f32::MAX, f32::MIN), |(t, b), &s| {
            (t.min(segments[s].bbox[1]), b.max(segments[s].bbox[3]))
        })
    };
    let (row_top, row_bottom) = span(&segments, row);
    let gap = second.at - row_bottom;
    let height = row_bottom - row_top;
    let (over, rows_over) =
        crate::lines::segment_rows(&between(first.at - gap - 2.0 * height, first.at));
    let last = rows_over.last()?;
    let (top, bottom) = span(&over, last);
    let text: Vec<String> = last.iter().map(|&s| over[s].text()).collect();
    let near = (first.at - bottom - gap).abs() <= tol + 0.25 * height;
    // Its words stand over two of the first row's pieces or more (its columns).
    let mut under: Vec<usize> = last
        .iter()
        .flat_map(|&s| &over[s].words)
        .filter_map(|w| {
            let x = geom::center(&w.bbox).0;
            row.iter().copied().min_by(|&a, &b| {
                let off = |s: usize| geom::outside(segments[s].bbox[0], segments[s].bbox[2], x);
                off(a).total_cmp(&off(b))
            })
        })
        .collect();
    under.sort_unstable();
    under.dedup();
    (near && under.len() >= 2 && !crate::classify::is_caption(&text.join(" "))).then_some(top - tol)
}

/// A header cell set on several lines gives several rows; they are one row when they lead a
/// table of figures (before its first row with a figure), sit close together and fill the same
/// columns.
fn merge_header_lines(table: &mut Table, extents: &[(f32, f32)], size: f32) {
    let numeric = |t: &str| {
        t.chars().any(|c| c.is_ascii_digit())
            && t.chars().filter(|c| c.is_alphabetic()).count() <= 1
    };
    let plain = |table: &Table, row: u32| {
        table
            .cells
            .iter()
            .filter(|c| c.row == row)
            .all(|c| !numeric(&c.text))
    };
    let Some(first_figures) = (0..table.rows).find(|&r| !plain(table, r)) else {
        return; // a table of text: its rows are its own
    };
    let layout = |table: &Table, r: u32| {
        let mut cols: Vec<(u32, u32)> = table
            .cells
            .iter()
            .filter(|c| c.row == r)
            .map(|c| (c.col, c.col_span))
            .collect();
        cols.sort();
        cols
    };
    let mut extents = extents.to_vec();
    let mut limit = first_figures;
    let mut r = 0;
    while r + 1 < limit && (r as usize + 1) < extents.len() {
        let gap = extents[r as usize + 1].0 - extents[r as usize].1;
        let below = layout(table, r + 1);
        if gap > HEADER_LINE_GAP * size || below.iter().any(|c| !layout(table, r).contains(c)) {
            r += 1;
            continue;
        }
        // Row r + 1's text joins row r's, cell by cell; the rows below move up.
        let moved: Vec<Cell> = table
            .cells
            .iter()
            .filter(|c| c.row == r + 1)
            .cloned()
            .collect();
        table.cells.retain(|c| c.row != r + 1);
        for m in moved {
            if let Some(c) = table
                .cells
                .iter_mut()
                .find(|c| c.row == r && c.col == m.col)
            {
                c.text = format!("{} {}", c.text, m.text);
            }
        }
        for c in table.cells.iter_mut().filter(|c| c.row > r + 1) {
            c.row -= 1;
        }
        table.rows -= 1;
        extents[r as usize].1 = extents[r as usize].1.max(extents[r as usize + 1].1);
        extents.remove(r as usize + 1);
        limit -= 1;
    }
}

/// The text of a cell: its words in lines, top to bottom.
pub(crate) fn cell_text(words: &[Word], ids: &[usize]) -> String {
    let mut ws: Vec<&Word> = ids.iter().map(|&i| &words[i]).collect();
    ws.sort_by(|a, b| a.bbox[1].total_cmp(&b.bbox[1]));
    let mut lines: Vec<Vec<Word>> = Vec::new();
    for w in ws {
        match lines.last_mut() {
            Some(line)
                if line
                    .last()
                    .is_some_and(|l| geom::v_overlap_ratio(&l.bbox, &w.bbox) >= 0.5) =>
            {
                line.push(w.clone())
            }
            _ => lines.push(vec![w.clone()]),
        }
    }
    lines
        .iter_mut()
        .map(|l| {
            l.sort_by(|a, b| a.bbox[0].total_cmp(&b.bbox[0]));
            join_words(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Drops the rows that hold no text and that no cell spans into (the thin rows between double
/// rules); gives the rows kept, by their former numbers.
pub(crate) fn drop_empty_rows(table: &mut Table) -> Vec<u32> {
    let covered = |r: u32| {
        table
            .cells
            .iter()
            .any(|c| c.row < r && r < c.row + c.row_span)
    };
    let empty: Vec<u32> = (0..table.rows)
        .filter(|&r| {
            !covered(r)
                && table
                    .cells
                    .iter()
                    .filter(|c| c.row == r)
                    .all(|c| c.text.is_empty() && c.row_span == 1)
        })
        .collect();
    if empty.is_empty() || empty.len() as u32 == table.rows {
        return (0..table.rows).collect();
    }
    table.cells.retain(|c| !empty.contains(&c.row));
    for c in &mut table.cells {
        c.row -= empty.iter().filter(|&&r| r < c.row).count() as u32;
    }
    table.rows -= empty.len() as u32;
    (0..table.rows + empty.len() as u32)
        .filter(|r| !empty.contains(r))
        .collect()
}

/// The first row is a header when it is bold, or when it has no numbers while the body does.
pub(crate) fn mark_header(table: &mut Table, bold_row: impl Fn(usize) -> bool) {
    // A value: digits with separators, signs and units, no words.
    let numeric = |t: &str| {
        t.chars().any(|c| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_digit() || c.is_whitespace() || ",.%$€£¥()+-–—/".contains(c))
    };
    let first: Vec<&Cell> = table.cells.iter().filter(|c| c.row == 0).collect();
    let body: Vec<&Cell> = table.cells.iter().filter(|c| c.row > 0).collect();
    let body_numbers = body.iter().filter(|c| numeric(&c.text)).count();
    let header = table.rows > 1
        && (bold_row(0)
            || (first.iter().all(|c| !numeric(&c.text)) && body_numbers * 3 >= body.len().max(1)));
    if header {
        table.header_rows = 1;
        for c in &mut table.cells {
            c.header = c.row == 0;
        }
    }
    header_down(table);
}

/// A header cell that spans rows down makes them header rows too ("Method" over two rows beside
/// "Accuracy" and its "Train" and "Test" below it).
pub(crate) fn header_down(table: &mut Table) {
    let rows = table
        .cells
        .iter()
        .filter(|c| c.row < table.header_rows)
        .map(|c| c.row + c.row_span)
        .max()
        .unwrap_or(0)
        .min(table.rows);
    if rows > table.header_rows {
        table.header_rows = rows;
        for c in &mut table.cells {
            c.header = c.row < rows;
        }
    }
}

/// A table from rows of segments that line up in columns (`force`: the region is known to be a
/// table, so fewer rows do). `None` when they do not make one.
/// `stream`: `segments` are in the source's order, which tells rows (across) from columns (down).
pub fn aligned(
    segments: &[Segment],
    rows: &[Vec<usize>],
    force: bool,
    stream: bool,
) -> Option<Table> {
    let multi: Vec<&Vec<usize>> = rows.iter().filter(|r| r.len() >= 2).collect();
    if multi.is_empty() {
        return None;
    }
    // Columns from the rows with the most common number of pieces (a header cell that spans
    // several columns does not merge them).
    let mut counts = std::collections::BTreeMap::new();
    for r in &multi {
        *counts.entry(r.len()).or_insert(0) += 1;
    }
    let mode = counts
        .iter()
        .max_by_key(|(n, c)| (**c, **n))
        .map(|(n, _)| *n)
        .unwrap_or(2);
    // The pieces' spans (left, right) in the rows with that many pieces, or with another number.
    let spans = |mode_rows: bool| -> Vec<(f32, f32)> {
        multi
            .iter()
            .filter(|r| (r.len() == mode) == mode_rows)
            .flat_map(|r| {
                r.iter()
                    .map(|&s| (segments[s].bbox[0], segments[s].bbox[2]))
            })
            .collect()
    };
    let mut columns: Vec<(f32, f32)> = merge_spans(spans(true))
        .into_iter()
        .map(|(a, b, _)| (a, b))
        .collect();
    // Pieces of the other rows that lie clear of those columns make columns of their own where
    // two rows or more have one (a first column whose cells span rows, set once a few rows).
    let clear: Vec<(f32, f32)> = spans(false)
        .into_iter()
        .filter(|&(a, b)| columns.iter().all(|c| geom::overlap(c.0, c.1, a, b) <= 0.0))
        .collect();
    columns.extend(
        merge_spans(clear)
            .into_iter()
            .filter(|&(_, _, n)| n >= 2)
            .map(|(a, b, _)| (a, b)),
    );
    columns.sort_by(|a, b| a.0.total_cmp(&b.0));
    if columns.len() < 2 {
        return None;
    }
    let enough = force || multi.len() >= 3 || (multi.len() >= 2 && columns.len() >= 3);
    if !enough {
        return None;
    }
    if !force {
        // Text in columns is not a table: the pieces must pair up short or numeric.
        let atoms: Vec<Atom> = multi
            .iter()
            .flat_map(|r| r.iter())
            .map(|&s| Atom {
                bbox: segments[s].bbox,
                size: segments[s].size,
                chars: segments[s].chars(),
                numeric: segments[s].is_numeric(),
                order: stream.then_some(s),
                table: false,
            })
            .collect();
        let ids: Vec<usize> = (0..atoms.len()).collect();
        let gap = (columns[0].1, columns[1].0);
        if !looks_like_table(&atoms, &ids, gap) {
            return None;
        }
    }
    // Each piece goes to the columns it overlaps (spanning them), or the nearest.
    let mut table = Table {
        rows: rows.len() as u32,
        cols: columns.len() as u32,
        header_rows: 0,
        cells: Vec::new(),
    };
    for (r, row) in rows.iter().enumerate() {
        let mut cells: Vec<Cell> = Vec::new();
        for (b, text) in row
            .iter()
            .flat_map(|&s| split_at_columns(&segments[s], &columns))
        {
            let hit: Vec<usize> = (0..columns.len())
                .filter(|&c| geom::overlap(columns[c].0, columns[c].1, b[0], b[2]) > 0.0)
                .collect();
            let (first, span) = match (hit.first(), hit.last()) {
                (Some(&f), Some(&l)) => (f, l - f + 1),
                _ => {
                    let cx = geom::center(&b).0;
                    let nearest = (0..columns.len())
                        .min_by(|&a, &c| {
                            let d = |k: usize| {
                                (geom::center(&[columns[k].0, 0.0, columns[k].1, 0.0]).0 - cx).abs()
                            };
                            d(a).total_cmp(&d(c))
                        })
                        .unwrap_or(0);
                    (nearest, 1)
                }
            };
            match cells.iter_mut().find(|c| c.col as usize == first) {
                Some(cell) => {
                    cell.text.push(' ');
                    cell.text.push_str(&text);
                    cell.bbox = cell.bbox.map(|c| geom::union(&c, &b));
                }
                None => cells.push(Cell {
                    row: r as u32,
                    col: first as u32,
                    row_span: 1,
                    col_span: span as u32,
                    text,
                    header: false,
                    bbox: Some(b),
                }),
            }
        }
        table.cells.extend(cells);
    }
    signs_to_figures(&mut table);
    let bold_first = rows
        .first()
        .is_some_and(|r| r.iter().all(|&s| segments[s].bold));
    let size = crate::geom::median(rows.iter().flatten().map(|&s| segments[s].size).collect());
    let tops: Vec<(f32, f32)> = rows
        .iter()
        .map(|r| {
            (
                r.iter()
                    .map(|&s| segments[s].bbox[1])
                    .fold(f32::MAX, f32::min),
                r.iter()
                    .map(|&s| segments[s].bbox[3])
                    .fold(f32::MIN, f32::max),
            )
        })
        .collect();
    merge_header_lines(&mut table, &tops, size);
    mark_header(&mut table, |row| row == 0 && bold_first);
    Some(table)
}

/// Spans (left, right) merged where they overlap, left to right, each with how many spans it
/// holds.
fn merge_spans(mut spans: Vec<(f32, f32)>) -> Vec<(f32, f32, usize)> {
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f32, f32, usize)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a < last.1 => {
                last.1 = last.1.max(b);
                last.2 += 1;
            }
            _ => merged.push((a, b, 1)),
        }
    }
    merged
}

/// Header lines set right over a table and within its width, that the table was found
/// without (a header spaced like a heading, above a table read from its columns or its
/// pixels): the lines of short pieces, up to [`HEAD_LINES`] of them, each within
/// [`HEAD_GAP`] font sizes of the one below, become its first rows. A caption, a line wider
/// than the table, running text or a title over the whole table ends them; a piece alone on its
/// line heads some columns but not the first. Their words are then `used`.
pub fn head_over(found: &mut Found, words: &[Word], used: &mut [bool], em: f32) {
    let Some(columns) = column_spans(&found.table)
        .into_iter()
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let (x0, x1) = (found.bbox[0] - em, found.bbox[2] + em);
    let mut top = found.bbox[1];
    let mut taken: Vec<usize> = Vec::new();
    let mut pieces: Vec<(BBox, String)> = Vec::new();
    for _ in 0..HEAD_LINES {
        let free = |i: usize| !used[i] && !taken.contains(&i);
        // The words whose middle is above the top and whose foot comes near it, and their lines.
        let near: Vec<usize> = (0..words.len())
            .filter(|&i| {
                let b = &words[i].bbox;
                free(i) && geom::center(b).1 < top && b[3] > top - HEAD_GAP * em
            })
            .collect();
        let Some(band) = geom::union_all(near.iter().map(|&i| &words[i].bbox)) else {
            break;
        };
        let line: Vec<usize> = (0..words.len())
            .filter(|&i| free(i) && geom::v_overlap_ratio(&words[i].bbox, &band) >= 0.5)
            .collect();
        let within = line
            .iter()
            .all(|&i| words[i].bbox[0] >= x0 && words[i].bbox[2] <= x1);
        let line_words: Vec<Word> = line.iter().map(|&i| words[i].clone()).collect();
        // Its pieces, split where the white between two columns runs through them (heads of
        // one word each, set as far apart as a loose line's words).
        let line_pieces: Vec<(BBox, String)> = crate::lines::segments(&line_words)
            .iter()
            .flat_map(|s| split_at_columns(s, &columns))
            .collect();
        // Short pieces of words and figures, not a formula's (its operators and relations; a
        // Greek letter heads columns too) nor a glyph the text layer cannot name.
        let heads = line_pieces.iter().all(|(_, text)| {
            text.chars().count() <= HEAD_CHARS
                && !crate::classify::is_caption(text)
                && !text.chars().any(|c| {
                    c == char::REPLACEMENT_CHARACTER
                        || (crate::classify::is_math(c) && !c.is_alphabetic())
                })
        });
        // A piece alone on its line heads some columns ("Three Months Ended"); over the
        // first column too, it is the table's title.
        let title = line_pieces.len() == 1
            && columns.first().is_some_and(|c| {
                geom::overlap(c.0, c.1, line_pieces[0].0[0], line_pieces[0].0[2]) > 0.0
            });
        if line.is_empty() || !within || !heads || title {
            break;
        }
        top = geom::union_all(line.iter().map(|&i| &words[i].bbox)).map_or(top, |b| b[1]);
        taken.extend(line);
        pieces.extend(line_pieces);
    }
    if pieces.len() < 2 {
        return;
    }
    let table_top = found.bbox[1];
    prepend_header(&mut found.table, &columns, pieces, table_top);
    for &i in &taken {
        used[i] = true;
        found.bbox = geom::union(&found.bbox, &words[i].bbox);
    }
}

/// The most header lines [`head_over`] takes over a table.
const HEAD_LINES: usize = 3;
/// The widest gap, in font sizes, between a table and a header line over it (or between two).
const HEAD_GAP: f32 = 1.0;
/// The longest piece, in characters, a header line over a table holds.
const HEAD_CHARS: usize = 40;
/// How much of its height a piece set between two header lines shares with the one above.
const STRADDLE: f32 = 0.2;
/// The widest gap between the two lines of one header cell, in font sizes (in [`head_over`]'s
/// header lines, in the height of the lower line).
const HEADER_LINE_GAP: f32 = 0.6;

/// Each column's span across the page, from the boxes of its cells that span no other column
/// (`None` for a column without any).
pub(crate) fn column_spans(table: &Table) -> Vec<Option<(f32, f32)>> {
    (0..table.cols)
        .map(|col| {
            table
                .cells
                .iter()
                .filter(|c| c.col == col && c.col_span == 1)
                .filter_map(|c| c.bbox)
                .map(|b| (b[0], b[2]))
                .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        })
        .collect()
}

/// `pieces` (their boxes and text) over `table` as its first header rows: pieces that share a
/// line make a row, each piece under the columns it overlaps or else the nearest. A line set
/// between two (overlapping the line above, in columns that line leaves empty) shares the row
/// above, and spans the row below too where that row leaves its columns empty: "Notes" set
/// between "Cost median" and "Revenue" (the table's first row, when its own foot reaches below
/// `top`, the table's). The table's own header rows stay so when they hold no figures.
fn prepend_header(
    table: &mut Table,
    columns: &[(f32, f32)],
    mut pieces: Vec<(BBox, String)>,
    top: f32,
) {
    pieces.sort_by(|a, b| a.0[1].total_cmp(&b.0[1]));
    // Each row's pieces, and whether each was set between two rows.
    let mut lines: Vec<Vec<(BBox, String, bool)>> = Vec::new();
    for (bbox, text) in pieces {
        match lines.last_mut() {
            Some(row) if geom::v_overlap_ratio(&row[0].0, &bbox) >= 0.5 => {
                row.push((bbox, text, false))
            }
            _ => lines.push(vec![(bbox, text, false)]),
        }
    }
    let mut k = 1;
    while k < lines.len() {
        let between = lines[k].iter().all(|(p, _, _)| {
            lines[k - 1]
                .iter()
                .any(|(q, _, _)| geom::v_overlap_ratio(p, q) >= STRADDLE)
                && lines[k - 1]
                    .iter()
                    .all(|(q, _, _)| geom::overlap(p[0], p[2], q[0], q[2]) <= 0.0)
        });
        if between {
            let row = lines.remove(k);
            lines[k - 1].extend(row.into_iter().map(|(p, t, _)| (p, t, true)));
        } else {
            k += 1;
        }
    }
    // Each row's cells: a piece under the columns it overlaps that no piece before it took, or
    // the nearest free one; with none left, it joins the piece before it.
    let mut rows: Vec<Vec<(Cell, bool)>> = Vec::new();
    for (r, line) in lines.into_iter().enumerate() {
        let mut filled = vec![false; columns.len()];
        let mut cells: Vec<(Cell, bool)> = Vec::new();
        for (bbox, text, between) in line {
            let over: Vec<usize> = (0..columns.len())
                .filter(|&c| geom::overlap(columns[c].0, columns[c].1, bbox[0], bbox[2]) > 0.0)
                .collect();
            let x = geom::center(&bbox).0;
            let off = |c: &usize| geom::outside(columns[*c].0, columns[*c].1, x);
            let nearest = (0..columns.len())
                .filter(|&c| !filled[c])
                .min_by(|p, q| off(p).total_cmp(&off(q)));
            let span = over.first().zip(over.last()).map(|(a, b)| (*a, *b));
            let Some((c0, c1)) = span
                .or(nearest.map(|c| (c, c)))
                .filter(|&(c0, c1)| filled[c0..=c1].iter().all(|f| !f))
                .or(nearest.map(|c| (c, c)))
            else {
                if let Some((last, _)) = cells.last_mut() {
                    last.text = format!("{} {text}", last.text);
                }
                continue;
            };
            filled[c0..=c1].fill(true);
            let cell = Cell {
                row: r as u32,
                col: c0 as u32,
                row_span: 1,
                col_span: (c1 - c0 + 1) as u32,
                text,
                header: true,
                bbox: Some(bbox),
            };
            cells.push((cell, between));
        }
        rows.push(cells);
    }
    let columns_of = |c: &Cell| c.col..c.col + c.col_span;
    let meets = |a: &Cell, b: &Cell| columns_of(a).any(|x| columns_of(b).contains(&x));
    // A cell set on two lines ("June 25," over "2022"): a line right under another, each of
    // whose pieces heads the same columns as a piece of the line above or columns it leaves
    // empty, joins it.
    let mut r = 0;
    while r + 1 < rows.len() {
        let bottom = rows[r]
            .iter()
            .filter_map(|(c, _)| c.bbox)
            .map(|b| b[3])
            .fold(f32::MIN, f32::max);
        let close = rows[r + 1]
            .iter()
            .filter_map(|(c, _)| c.bbox)
            .all(|b| b[1] - bottom <= HEADER_LINE_GAP * geom::height(&b));
        let fits = rows[r + 1].iter().all(|(below, _)| {
            rows[r]
                .iter()
                .all(|(above, _)| columns_of(above) == columns_of(below) || !meets(above, below))
        });
        if !(close && fits) {
            r += 1;
            continue;
        }
        for (mut below, between) in rows.remove(r + 1) {
            match rows[r]
                .iter_mut()
                .find(|(above, _)| columns_of(above) == columns_of(&below))
            {
                Some((above, _)) => {
                    above.text = format!("{} {}", above.text, below.text);
                    above.bbox = above.bbox.zip(below.bbox).map(|(a, b)| geom::union(&a, &b));
                }
                None => {
                    below.row = r as u32;
                    rows[r].push((below, between));
                }
            }
        }
        for (k, row) in rows.iter_mut().enumerate() {
            for (c, _) in row {
                c.row = k as u32;
            }
        }
    }
    let own_header = table
        .cells
        .iter()
        .filter(|c| c.row < table.header_rows)
        .all(|c| c.text.is_empty() || !crate::lines::is_numeric(&c.text));
    if !own_header {
        table.header_rows = 0;
    }
    let n = rows.len() as u32;
    for c in &mut table.cells {
        c.row += n;
    }
    // A piece set between two rows spans the one below where it leaves the piece's columns
    // empty.
    for r in 0..rows.len() {
        for k in 0..rows[r].len() {
            let (cell, between) = &rows[r][k];
            if !*between {
                continue;
            }
            let down = if r + 1 < rows.len() {
                rows[r + 1].iter().all(|(below, _)| !meets(cell, below))
            } else {
                // The table's first row; its foot reaches below the table's top.
                cell.bbox.is_some_and(|b| b[3] > top)
                    && table
                        .cells
                        .iter()
                        .filter(|c| c.row <= n && n < c.row + c.row_span && meets(cell, c))
                        .all(|c| c.text.is_empty() && c.row == n && c.row_span == 1)
            };
            if down {
                let cell = cell.clone();
                table
                    .cells
                    .retain(|c| !(c.row == n && r + 1 == rows.len() && meets(&cell, c)));
                rows[r][k].0.row_span = 2;
            }
        }
    }
    // Empty cells where no piece stands (nor one above it spans down).
    let mut cells: Vec<Cell> = rows.into_iter().flatten().map(|(c, _)| c).collect();
    for r in 0..n {
        for col in 0..columns.len() as u32 {
            let covered = cells
                .iter()
                .any(|c| c.row <= r && r < c.row + c.row_span && columns_of(c).contains(&col));
            if !covered {
                cells.push(Cell {
                    row: r,
                    col,
                    row_span: 1,
                    col_span: 1,
                    text: String::new(),
                    header: true,
                    bbox: None,
                });
            }
        }
    }
    table.cells.extend(cells);
    table.rows += n;
    table.header_rows += n;
    let header_rows = table.header_rows;
    for c in &mut table.cells {
        c.header = c.row < header_rows;
    }
    table.cells.sort_by_key(|c| (c.row, c.col));
    header_down(table);
}

/// A currency sign ending a cell goes to the next cell of its row that holds text, when the
/// rest has a figure or a dash: the sign is set at its column's left edge, which lies nearer
/// the figure before it.
pub(crate) fn signs_to_figures(table: &mut Table) {
    table.cells.sort_by_key(|c| (c.row, c.col));
    let filled: Vec<usize> = (0..table.cells.len())
        .filter(|&k| !table.cells[k].text.is_empty())
        .collect();
    for pair in filled.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if table.cells[a].row != table.cells[b].row {
            continue;
        }
        let sign = table.cells[a]
            .text
            .rsplit_once(' ')
            .filter(|(rest, last)| {
                crate::lines::is_currency(last)
                    && rest.chars().any(|c| c.is_ascii_digit() || c == '—')
            })
            .map(|(rest, last)| (rest.to_string(), last.to_string()));
        if let Some((rest, last)) = sign {
            table.cells[a].text = rest;
            table.cells[b].text = format!("{last} {}", table.cells[b].text);
        }
    }
}

/// A segment's pieces (their boxes and text), split where a gap between its words wider than
/// a space holds the white between two `columns`: two cells set close (a dash in one column,
/// a figure in the next) read as one segment, where a header spanning columns is set with
/// spaces.
fn split_at_columns(segment: &Segment, columns: &[(f32, f32)]) -> Vec<(BBox, String)> {
    let words = &segment.words;
    let cut = |i: usize| {
        let (a, b) = (words[i - 1].bbox[2], words[i].bbox[0]);
        b - a >= CELL_GAP * segment.size && columns.windows(2).any(|w| a <= w[1].0 && b >= w[0].1)
    };
    let starts: Vec<usize> = (1..words.len()).filter(|&i| cut(i)).collect();
    let ends = starts.iter().copied().chain([words.len()]);
    [0].into_iter()
        .chain(starts.iter().copied())
        .zip(ends)
        .map(|(a, b)| {
            let part = &words[a..b];
            let bbox = geom::union_all(part.iter().map(|w| &w.bbox)).unwrap_or(segment.bbox);
            (bbox, crate::lines::join_words(part))
        })
        .collect()
}

/// A gap between words this many font sizes wide is wider than a space.
const CELL_GAP: f32 = 0.6;

/// A table that ends one page and, with as many columns, opens the next (before any other
/// text but page furniture) goes on there: the second's rows are added to the first (its header
/// rows left out when they repeat the first's), and the first records the pages it spans. The
/// first must reach into the lower part of its page and the second start in the upper part of
/// its own, as a table broken by the page does.
pub fn join_continued(pages: &mut [PageLayout]) {
    /// The share of the page's height the first table must reach below, and the second start
    /// above.
    const BROKEN: f32 = 0.5;
    // The table still open at the end of the pages so far: its page and block.
    let mut open: Option<(usize, usize)> = None;
    for i in 0..pages.len() {
        let running: Vec<usize> = (0..pages[i].blocks.len())
            .filter(|&b| !pages[i].blocks[b].kind.is_furniture())
            .collect();
        if let (Some((p, b)), Some(&first)) = (open, running.first()) {
            let height = pages[i].height;
            let next = &pages[i].blocks[first];
            let joins = next.kind == Kind::Table
                && next.bbox[1] < BROKEN * height
                && matches!(
                    (&pages[p].blocks[b].table, &next.table),
                    (Some(a), Some(n)) if a.cols == n.cols
                );
            if joins {
                let next = pages[i].blocks.remove(first);
                let numbers = (pages[p].number, pages[i].number);
                append(&mut pages[p].blocks[b], next, numbers);
                // A page that holds nothing else leaves the table open for the next.
                if running.len() == 1 {
                    continue;
                }
            }
        }
        open = pages[i]
            .blocks
            .iter()
            .rposition(|b| !b.kind.is_furniture())
            .filter(|&b| {
                let block = &pages[i].blocks[b];
                block.kind == Kind::Table && block.bbox[3] > BROKEN * pages[i].height
            })
            .map(|b| (i, b));
    }
}

/// `next`'s rows after `block`'s; `numbers`: the pages they are on.
fn append(block: &mut Block, next: Block, numbers: (u32, u32)) {
    let (Some(table), Some(more)) = (block.table.as_mut(), next.table) else {
        return;
    };
    // Its first rows go when they repeat the first table's (the column heads set again atop
    // the page, marked as header rows or not).
    let (ours, theirs) = (table.grid(), more.grid());
    let heads = more.header_rows.max(1) as usize;
    let skip = (0..heads.min(theirs.len()))
        .take_while(|&r| ours.get(r) == theirs.get(r))
        .count() as u32;
    let offset = table.rows;
    for cell in more.cells.into_iter().filter(|c| c.row >= skip) {
        table.cells.push(Cell {
            row: cell.row - skip + offset,
            header: false,
            ..cell
        });
    }
    table.rows += more.rows - skip;
    if block.pages.is_empty() {
        block.pages.push(numbers.0);
    }
    block.pages.push(numbers.1);
    block.text = table.text();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::tests::{line, word};

    /// A page of `blocks` (kind, text or table rows, top, bottom), 792 high.
    fn layout(number: u32, blocks: Vec<(Kind, Vec<Vec<&str>>, f32, f32)>) -> PageLayout {
        PageLayout {
            marks: Vec::new(),
            number,
            width: 612.0,
            height: 792.0,
            unit: crate::model::Unit::Points,
            source: crate::model::Source::Text,
            blocks: blocks
                .into_iter()
                .map(|(kind, rows, y0, y1)| {
                    let mut b = Block::text_only(kind, rows.concat().join(" "));
                    b.bbox = [72.0, y0, 540.0, y1];
                    if kind == Kind::Table {
                        let cells = rows
                            .iter()
                            .enumerate()
                            .flat_map(|(r, row)| {
                                row.iter().enumerate().map(move |(c, t)| Cell {
                                    row: r as u32,
                                    col: c as u32,
                                    row_span: 1,
                                    col_span: 1,
                                    text: t.to_string(),
                                    header: r == 0,
                                    bbox: None,
                                })
                            })
                            .collect();
                        b.table = Some(Table {
                            rows: rows.len() as u32,
                            cols: rows[0].len() as u32,
                            header_rows: 1,
                            cells,
                        });
                    }
                    b
                })
                .collect(),
        }
    }

    #[test]
    fn a_table_broken_by_the_page_is_one_table_over_both_pages() {
        let mut pages = vec![
            layout(
                1,
                vec![
                    (Kind::Paragraph, vec![vec!["Before."]], 72.0, 90.0),
                    (
                        Kind::Table,
                        vec![vec!["Name", "Value"], vec!["a", "1"], vec!["b", "2"]],
                        400.0,
                        740.0,
                    ),
                    (Kind::PageNumber, vec![vec!["1"]], 760.0, 770.0),
                ],
            ),
            layout(
                2,
                vec![
                    (Kind::Header, vec![vec!["Report"]], 20.0, 30.0),
                    // The header row repeated, then more rows.
                    (
                        Kind::Table,
                        vec![vec!["Name", "Value"], vec!["c", "3"]],
                        72.0,
                        120.0,
                    ),
                    (Kind::Paragraph, vec![vec!["After."]], 150.0, 170.0),
                ],
            ),
        ];
        join_continued(&mut pages);
        let table = &pages[0].blocks[1];
        assert_eq!(table.pages, vec![1, 2]);
        assert_eq!(
            table.table.as_ref().unwrap().grid(),
            vec![
                vec!["Name", "Value"],
                vec!["a", "1"],
                vec!["b", "2"],
                vec!["c", "3"]
            ]
        );
        assert_eq!(table.text, "Name\tValue\na\t1\nb\t2\nc\t3");
        let kinds: Vec<Kind> = pages[1].blocks.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, vec![Kind::Header, Kind::Paragraph]);
    }

    #[test]
    fn tables_apart_or_of_other_shapes_stay_apart() {
        let table = |cols: usize, y0: f32, y1: f32| {
            (Kind::Table, vec![vec!["x"; cols], vec!["1"; cols]], y0, y1)
        };
        // Other columns; a paragraph before the second; the first ends high on its page.
        for second in [
            vec![table(3, 72.0, 120.0)],
            vec![
                (Kind::Paragraph, vec![vec!["Text."]], 60.0, 70.0),
                table(2, 72.0, 120.0),
            ],
        ] {
            let n = second.len();
            let mut pages = vec![layout(1, vec![table(2, 400.0, 740.0)]), layout(2, second)];
            join_continued(&mut pages);
            assert!(pages[0].blocks[0].pages.is_empty());
            assert_eq!(pages[1].blocks.len(), n);
        }
        let mut pages = vec![
            layout(1, vec![table(2, 100.0, 300.0)]),
            layout(2, vec![table(2, 72.0, 120.0)]),
        ];
        join_continued(&mut pages);
        assert!(pages[0].blocks[0].pages.is_empty());
        assert_eq!(pages[1].blocks.len(), 1);
    }

    fn hline(x0: f32, x1: f32, y: f32) -> BBox {
        [x0, y - 0.25, x1, y + 0.25]
    }

    fn vline(x: f32, y0: f32, y1: f32) -> BBox {
        [x - 0.25, y0, x + 0.25, y1]
    }

    #[test]
    fn a_full_grid_gives_rows_and_cells_whatever_the_order_of_the_words() {
        let data = [
            ["Country", "Capital"],
            ["Indonesia", "Jakarta"],
            ["Germany", "Berlin"],
        ];
        let mut rules = Vec::new();
        for r in 0..=3 {
            rules.push(hline(72.0, 372.0, 100.0 + 20.0 * r as f32));
        }
        for x in [72.0, 222.0, 372.0] {
            rules.push(vline(x, 100.0, 160.0));
        }
        // Column by column, as some producers write them.
        let mut words = Vec::new();
        for c in 0..2 {
            for (r, row) in data.iter().enumerate() {
                words.extend(line(
                    row[c],
                    80.0 + 150.0 * c as f32,
                    105.0 + 20.0 * r as f32,
                    10.0,
                ));
            }
        }
        for w in words.iter_mut().take(1) {
            w.bold = true;
        }
        words[3].bold = true;
        let (found, used) = ruled(&rules, &words, 10.0, false);
        assert_eq!(found.len(), 1);
        assert!(used.iter().all(|u| *u));
        let t = &found[0].table;
        assert_eq!((t.rows, t.cols, t.header_rows), (3, 2, 1));
        assert_eq!(
            t.grid(),
            vec![
                vec!["Country", "Capital"],
                vec!["Indonesia", "Jakarta"],
                vec!["Germany", "Berlin"]
            ]
        );
    }

    #[test]
    fn a_missing_inner_rule_makes_a_spanning_cell() {
        let mut rules = vec![
            hline(0.0, 300.0, 0.0),
            hline(0.0, 300.0, 20.0),
            hline(0.0, 300.0, 40.0),
        ];
        rules.push(vline(0.0, 0.0, 40.0));
        rules.push(vline(300.0, 0.0, 40.0));
        rules.push(vline(150.0, 20.0, 40.0)); // only in the second row
        let mut words = line("Total", 10.0, 5.0, 10.0);
        words.extend(line("a", 10.0, 25.0, 10.0));
        words.extend(line("b", 160.0, 25.0, 10.0));
        let (found, _) = ruled(&rules, &words, 10.0, false);
        let t = &found[0].table;
        assert_eq!((t.rows, t.cols), (2, 2));
        let total = t.cells.iter().find(|c| c.text == "Total").unwrap();
        assert_eq!(total.col_span, 2);
    }

    #[test]
    fn a_box_around_a_paragraph_is_not_a_table() {
        let rules = vec![
            hline(0.0, 300.0, 0.0),
            hline(0.0, 300.0, 40.0),
            vline(0.0, 0.0, 40.0),
            vline(300.0, 0.0, 40.0),
        ];
        let words = line("Just a note in a box.", 10.0, 10.0, 10.0);
        assert!(ruled(&rules, &words, 10.0, false).0.is_empty());
    }

    #[test]
    fn cells_set_close_across_columns_are_split_and_a_currency_sign_goes_with_its_figure() {
        // Figures set right in their columns: "—" close to "65,071" in the next column; the
        // total's second "$" nearer the figure before it than its own.
        let rows: [&[(&str, f32)]; 5] = [
            &[("Item", 72.0), ("2022", 180.0), ("2021", 220.0)],
            &[("Revenue", 72.0), ("1,200", 175.0), ("1,450", 215.0)],
            &[("Cost", 72.0), ("980", 185.0), ("1,010", 215.0)],
            &[("Other", 72.0), ("—", 195.0), ("65,071", 210.0)],
            &[
                ("Total", 72.0),
                ("$", 150.0),
                ("1,655", 175.0),
                ("$", 203.0),
                ("2,180", 215.0),
            ],
        ];
        let mut words = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            for &(text, x) in *row {
                words.push(word(text, x, 100.0 + 14.0 * r as f32, 10.0));
            }
            if let Some(last) = words.last_mut() {
                last.line_end = true;
            }
        }
        let (segs, rows) = crate::lines::segment_rows(&words);
        let t = aligned(&segs, &rows, false, false).expect("a table");
        assert_eq!(t.cols, 3);
        assert_eq!(t.grid()[3], vec!["Other", "—", "65,071"]);
        assert_eq!(t.grid()[4], vec!["Total", "$ 1,655", "$ 2,180"]);
    }

    #[test]
    fn whitespace_columns_of_numbers_are_a_table_text_columns_are_not() {
        let mut words = Vec::new();
        let data = [
            ["Region", "Q1", "Q2"],
            ["North", "1,200", "1,450"],
            ["Europe", "980", "1,010"],
            ["Asia", "640", "720"],
        ];
        for (r, row) in data.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                words.extend(line(
                    cell,
                    72.0 + 150.0 * c as f32,
                    100.0 + 14.0 * r as f32,
                    10.0,
                ));
            }
        }
        let segs = crate::lines::segments(&words);
        let ids: Vec<usize> = (0..segs.len()).collect();
        let rows = crate::lines::rows(&segs, &ids);
        let t = aligned(&segs, &rows, false, false).expect("a table");
        assert_eq!((t.rows, t.cols, t.header_rows), (4, 3, 1));
        assert_eq!(t.grid()[2], vec!["Europe", "980", "1,010"]);

        let mut words = Vec::new();
        for r in 0..4 {
            words.extend(line(
                "running text that goes on and on in the left column",
                72.0,
                100.0 + 14.0 * r as f32,
                10.0,
            ));
            words.extend(line(
                "and more running text in the right column of the page",
                330.0,
                100.0 + 14.0 * r as f32,
                10.0,
            ));
        }
        let segs = crate::lines::segments(&words);
        let ids: Vec<usize> = (0..segs.len()).collect();
        let rows = crate::lines::rows(&segs, &ids);
        assert!(aligned(&segs, &rows, false, false).is_none());
    }

    #[test]
    fn rules_under_words_of_running_text_make_no_table() {
        // Underlined blanks in a form: the rules' stretch is crossed by lines of text.
        let rules = vec![
            hline(250.0, 360.0, 112.0),
            hline(250.0, 360.0, 140.0),
            hline(250.0, 360.0, 168.0),
        ];
        let mut words = Vec::new();
        for (i, y) in [100.0, 128.0, 156.0].into_iter().enumerate() {
            words.extend(line("For the quarterly period ended", 72.0, y, 10.0));
            words.extend(line(
                if i == 0 { "June 25, 2022" } else { "to" },
                260.0,
                y,
                10.0,
            ));
            words.extend(line("and more words after the blank", 370.0, y, 10.0));
        }
        // ... and a run of text crosses it.
        words.extend(line(
            "a long line of text that runs right across the underlined blanks",
            72.0,
            132.0,
            10.0,
        ));
        assert!(ruled(&rules, &words, 10.0, false).0.is_empty());
    }

    #[test]
    fn booktabs_rules_bound_a_table() {
        let rules = vec![
            hline(72.0, 400.0, 90.0),
            hline(72.0, 400.0, 112.0),
            hline(72.0, 400.0, 150.0),
        ];
        let mut words = Vec::new();
        for (r, row) in [["Model", "Score"], ["Alpha", "0.91"], ["Beta", "0.87"]]
            .iter()
            .enumerate()
        {
            let y = if r == 0 {
                95.0
            } else {
                105.0 + 18.0 * r as f32
            };
            words.extend(line(row[0], 80.0, y, 10.0));
            words.extend(line(row[1], 300.0, y, 10.0));
        }
        let (found, used) = ruled(&rules, &words, 10.0, false);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(used.iter().all(|u| *u));
        let t = &found[0].table;
        assert_eq!((t.rows, t.cols, t.header_rows), (3, 2, 1));
        assert!(!found[0].drawn);
        // A box drawn round the same table draws no columns: its words make them.
        let mut boxed = rules.clone();
        boxed.extend([vline(72.0, 90.0, 150.0), vline(400.0, 90.0, 150.0)]);
        let (found, _) = ruled(&boxed, &words, 10.0, true);
        assert_eq!(found.len(), 1, "{found:?}");
        let t = &found[0].table;
        assert_eq!((t.rows, t.cols, t.header_rows), (3, 2, 1));
        assert!(!found[0].drawn);
        // (On a text layer its box stands, as a form's sections.)
        let (found, _) = ruled(&boxed, &words, 10.0, false);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].drawn);
        // A rule down between its columns draws them.
        boxed.push(vline(250.0, 90.0, 150.0));
        let (found, _) = ruled(&boxed, &words, 10.0, true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].table.cols, 2);
        assert!(found[0].drawn);
    }

    #[test]
    fn a_header_cell_spanning_down_makes_its_rows_header_rows() {
        let cell = |row, col, row_span, col_span| Cell {
            row,
            col,
            row_span,
            col_span,
            text: "x".into(),
            header: row == 0,
            bbox: None,
        };
        // "Method" over two rows beside "Accuracy" over "Train" and "Test".
        let mut t = Table {
            rows: 3,
            cols: 3,
            header_rows: 1,
            cells: vec![
                cell(0, 0, 2, 1),
                cell(0, 1, 1, 2),
                cell(1, 1, 1, 1),
                cell(1, 2, 1, 1),
                cell(2, 0, 1, 1),
                cell(2, 1, 1, 1),
                cell(2, 2, 1, 1),
            ],
        };
        header_down(&mut t);
        assert_eq!(t.header_rows, 2);
        assert_eq!(
            t.cells.iter().map(|c| c.header).collect::<Vec<_>>(),
            [true, true, true, true, false, false, false]
        );
        // A body cell spanning down changes nothing.
        t.cells[4].row_span = 1;
        let before = t.clone();
        header_down(&mut t);
        assert_eq!(t, before);
    }

    #[test]
    fn header_lines_over_a_table_become_its_header_rows() {
        // Five columns; the table was found from "Revenue" down. Over it, "Cost of median
        // sales" heads three columns and "Notes" and "Mean" are set between two lines.
        let cols = [
            (50.0, 130.0),
            (190.0, 250.0),
            (260.0, 320.0),
            (330.0, 390.0),
            (400.0, 460.0),
        ];
        let cell = |row: u32, col: usize, text: &str| Cell {
            row,
            col: col as u32,
            row_span: 1,
            col_span: 1,
            text: text.into(),
            header: false,
            bbox: (!text.is_empty()).then(|| {
                let y = 63.0 + 20.0 * row as f32;
                [cols[col].0, y, cols[col].1, y + 14.0]
            }),
        };
        let mut cells: Vec<Cell> = ["", "Revenue", "Total", "Sales", ""]
            .iter()
            .enumerate()
            .map(|(c, t)| cell(0, c, t))
            .collect();
        cells.extend(
            ["Group", "$425", "—", "0.233", "$158"]
                .iter()
                .enumerate()
                .map(|(c, t)| cell(1, c, t)),
        );
        let mut found = Found {
            bbox: [50.0, 63.0, 460.0, 97.0],
            table: Table {
                rows: 2,
                cols: 5,
                header_rows: 0,
                cells,
            },
            drawn: false,
        };
        let mut words = line("Cost of median sales", 215.0, 43.0, 14.0);
        words.push(word("Notes", 91.0, 53.0, 14.0));
        words.push(word("Mean", 401.0, 53.0, 14.0));
        // Running text above, a line's gap away, stays out.
        words.extend(line("The segments grew in the year.", 50.0, 10.0, 14.0));
        let mut used = vec![false; words.len()];
        head_over(&mut found, &words, &mut used, 14.0);
        let t = &found.table;
        assert_eq!((t.rows, t.header_rows), (3, 2));
        let spans: Vec<(&str, u32, u32, u32, u32)> = t
            .cells
            .iter()
            .filter(|c| c.row == 0)
            .map(|c| {
                (
                    c.text.as_str(),
                    c.col,
                    c.row_span,
                    c.col_span,
                    u32::from(c.header),
                )
            })
            .collect();
        assert_eq!(
            spans,
            [
                ("Notes", 0, 2, 1, 1),
                ("Cost of median sales", 1, 1, 3, 1),
                ("Mean", 4, 2, 1, 1)
            ]
        );
        assert_eq!(t.grid()[1], ["", "Revenue", "Total", "Sales", ""]);
        assert_eq!(t.grid()[2][0], "Group");
        assert_eq!(used.iter().filter(|&&u| u).count(), 6);
        assert!(found.bbox[1] <= 43.0);
    }

    #[test]
    fn a_caption_or_a_title_over_a_table_is_no_header() {
        let cols = [(50.0, 130.0), (190.0, 250.0), (260.0, 320.0)];
        let cells: Vec<Cell> = (0..2u32)
            .flat_map(|r| {
                cols.iter().enumerate().map(move |(c, &(a, b))| Cell {
                    row: r,
                    col: c as u32,
                    row_span: 1,
                    col_span: 1,
                    text: "1.5".into(),
                    header: false,
                    bbox: Some([a, 63.0 + 20.0 * r as f32, b, 77.0 + 20.0 * r as f32]),
                })
            })
            .collect();
        let found = Found {
            bbox: [50.0, 63.0, 320.0, 97.0],
            table: Table {
                rows: 2,
                cols: 3,
                header_rows: 0,
                cells,
            },
            drawn: false,
        };
        for over in [
            line("Table 3: Revenue by segment", 50.0, 49.0, 14.0),
            line("Revenue by segment", 60.0, 49.0, 14.0),
        ] {
            let mut f = found.clone();
            let mut used = vec![false; over.len()];
            head_over(&mut f, &over, &mut used, 14.0);
            assert_eq!(f, found);
            assert!(used.iter().all(|&u| !u));
        }
    }
}
