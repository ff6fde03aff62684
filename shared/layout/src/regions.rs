//! What a learned layout model found on a page ([`Region`]s), fused with its words: a table
//! region read by a table-structure model becomes a table whose cells take the words inside
//! them; figure regions hold their labels; running heads and feet become page furniture.

use crate::blocks::Draft;
use crate::geom;
use crate::lines::Segment;
use crate::model::{BBox, Kind, PageInput, Region, RegionKind, Source, Table, Word};
use crate::tables::{self, Found};

/// A region overlapping a ruled table by more than this share of its area is that table (the
/// rules drawn on the page are exact).
const RULED: f32 = 0.3;
/// A word belongs to a region when its centre lies within this many font sizes of it.
const SLACK: f32 = 0.25;
/// The share of a table region's words whose centres the model's cells must hold.
const HELD: f32 = 0.9;
/// A picture's words cover at most this share of it.
const PICTURE_TEXT: f32 = 0.1;
/// A table's cells hold this many words each at most, on average.
const PROSE_WORDS: usize = 4;
/// A table holds text in at least this share of its cells.
const FILLED: f32 = 0.5;
/// A running head or foot by the model is set smaller than this share of the body's size.
const SMALL: f32 = 0.95;
/// A cell longer than this is running text; a table mostly of such cells is none.
const LONG_CELL: usize = 60;
/// A block is a formula when this share of it lies in an equation region.
const FORMULA: f32 = 0.7;
/// Two words are on one line when they share this much of the taller one's height.
const LINE: f32 = 0.6;

/// The page as the layout analysis takes it: on a scan, its figures are the model's figure
/// regions that are pictures: not tables, and mostly not text (the model also takes a form's
/// fields for a figure). A text layer's figures are where the PDF draws them, which is surer
/// than the model (it takes a formula set in display for a picture).
pub fn with_figures(page: &PageInput) -> PageInput {
    let mut page = page.clone();
    if page.source == Source::Text {
        return page;
    }
    let tables: Vec<BBox> = of(&page.regions, RegionKind::Table).collect();
    let text = |f: &BBox| -> f32 {
        page.words
            .iter()
            .filter(|w| {
                let (cx, cy) = geom::center(&w.bbox);
                geom::contains(f, cx, cy, 0.0)
            })
            .map(|w| geom::width(&w.bbox) * geom::height(&w.bbox))
            .sum()
    };
    let figures: Vec<BBox> = of(&page.regions, RegionKind::Figure)
        .filter(|f| tables.iter().all(|t| covered(f, t) <= 0.5))
        .filter(|f| text(f) <= PICTURE_TEXT * geom::width(f) * geom::height(f))
        .collect();
    page.figures.extend(figures);
    page
}

/// On a scan, the model's text regions (all but figures and tables): the columns it sees where
/// OCR's rough boxes may not show them. Its lines overhang their columns, and a stray mark read
/// in the gutter (a bracket, a box) may close it: a gutter narrower than a few font sizes is then
/// lost, and two columns read across.
pub struct Columns<'a>(Vec<&'a BBox>);

/// A line overhangs the model's region by at most this many font sizes to be drawn back into it.
const OVERHANG: f32 = 1.0;

impl<'a> Columns<'a> {
    /// The page's, or none on a text layer (its lines and gaps are exact).
    pub fn of(page: &'a PageInput) -> Option<Columns<'a>> {
        let texts: Vec<&BBox> = page
            .regions
            .iter()
            .filter(|r| !matches!(r.kind, RegionKind::Figure | RegionKind::Table))
            .map(|r| &r.bbox)
            .collect();
        (page.source != Source::Text && !texts.is_empty()).then_some(Columns(texts))
    }

    /// The regions that hold the centre of `b`, set in type of `size`.
    fn holding(&self, b: &BBox, size: f32) -> Vec<&'a BBox> {
        let (cx, cy) = geom::center(b);
        self.0
            .iter()
            .copied()
            .filter(|r| geom::contains(r, cx, cy, SLACK * size))
            .collect()
    }

    /// Splits each segment where its words pass from the regions of one column to those of
    /// another beside it: no region holds both words, and one holding the first lies left of one
    /// holding the second.
    pub fn split(&self, segments: Vec<Segment>) -> Vec<Segment> {
        let mut out = Vec::with_capacity(segments.len());
        for seg in segments {
            let places: Vec<Vec<&BBox>> = seg
                .words
                .iter()
                .map(|w| self.holding(&w.bbox, w.size))
                .collect();
            let beside = |i: usize| {
                let (a, b) = (&places[i - 1], &places[i]);
                let apart = seg.words[i].bbox[0] - seg.words[i - 1].bbox[2];
                apart > 0.25 * seg.size
                    && a.iter().all(|r| !b.contains(r))
                    && a.iter().any(|ra| {
                        b.iter().any(|rb| {
                            ra[2] <= rb[0] + seg.size && geom::h_overlap_ratio(ra, rb) < 0.1
                        })
                    })
            };
            let cuts: Vec<usize> = (1..seg.words.len()).filter(|&i| beside(i)).collect();
            if cuts.is_empty() {
                out.push(seg);
                continue;
            }
            let mut words = seg.words;
            let mut pieces = Vec::new();
            for &cut in cuts.iter().rev() {
                pieces.push(Segment::of(words.split_off(cut)));
            }
            pieces.push(Segment::of(words));
            out.extend(pieces.into_iter().rev());
        }
        out
    }

    /// A line's box for the reading order: drawn back within the regions holding it, on each
    /// side where it overhangs one by no more than [`OVERHANG`] font sizes.
    pub fn clip(&self, b: &BBox, size: f32) -> BBox {
        let mut out = *b;
        for r in self.holding(b, size) {
            if out[0] < r[0] && r[0] - out[0] <= OVERHANG * size {
                out[0] = r[0];
            }
            if out[2] > r[2] && out[2] - r[2] <= OVERHANG * size {
                out[2] = r[2];
            }
        }
        if out[0] >= out[2] {
            return *b;
        }
        out
    }
}

fn of(regions: &[Region], kind: RegionKind) -> impl Iterator<Item = BBox> + '_ {
    regions
        .iter()
        .filter(move |r| r.kind == kind)
        .map(|r| r.bbox)
}

/// The share of `a`'s area inside `b`.
fn covered(a: &BBox, b: &BBox) -> f32 {
    geom::common_area(a, b) / (geom::width(a) * geom::height(a)).max(1e-3)
}

/// Page furniture by the model: a piece in a running-head or running-foot region, in the
/// page's top or bottom `margin` (a share of its height), set smaller than the body's `em` and
/// not bold (the model also calls some captions, section headings and a first page's title
/// `header`).
pub fn furniture(page: &PageInput, piece: &Segment, em: f32, margin: f32) -> Option<Kind> {
    if piece.bold || piece.size > SMALL * em || crate::classify::is_caption(&piece.text()) {
        return None;
    }
    let (cx, cy) = geom::center(&piece.bbox);
    page.regions.iter().find_map(|r| {
        let kind = match r.kind {
            RegionKind::Header if cy < margin * page.height => Kind::Header,
            RegionKind::Footer if cy > (1.0 - margin) * page.height => Kind::Footer,
            _ => return None,
        };
        geom::contains(&r.bbox, cx, cy, 0.0).then_some(kind)
    })
}

/// A paragraph (or what looked like code) that lies in an equation region and reads like
/// mathematics (a relation, an operator, a Greek or mathematical letter: the model also takes
/// some titles for equations) is a formula.
pub fn formulas(page: &PageInput, drafts: &mut [Draft]) {
    for d in drafts
        .iter_mut()
        .filter(|d| matches!(d.kind, Kind::Paragraph | Kind::Code))
    {
        let inside =
            of(&page.regions, RegionKind::Equation).any(|e| covered(&d.bbox, &e) >= FORMULA);
        if inside && d.raw_text().chars().any(crate::classify::is_math) {
            d.kind = Kind::Formula;
        }
    }
}

/// The tables a structure model read in the page's table regions (but where a ruled table was
/// found), with the words not `used` yet inside their cells; those words are marked used. On a
/// text layer, a region over a table that the page's words make by their columns (`seen`) reads
/// it only where the model agrees with the words: the words' places are exact. Nowhere is a
/// reading taken that splits a line of a text layer's words between rows ([`whole_lines`]).
pub fn tables(
    page: &PageInput,
    ruled: &[Found],
    seen: &[Found],
    used: &mut [bool],
    em: f32,
) -> Vec<Found> {
    let mut found = Vec::new();
    for region in &page.regions {
        let Some(structure) = region.table.as_ref() else {
            continue;
        };
        let overlaps =
            |t: &BBox| covered(&region.bbox, t) > RULED || covered(t, &region.bbox) > RULED;
        if region.kind != RegionKind::Table || ruled.iter().any(|t| overlaps(&t.bbox)) {
            continue;
        }
        let within = |b: &BBox, i: usize, slack: f32| {
            let (cx, cy) = geom::center(&page.words[i].bbox);
            !used[i] && geom::contains(b, cx, cy, slack)
        };
        let read = if let Some(words) = seen.iter().find(|t| overlaps(&t.bbox)) {
            // The words' table's own words, when the model's region holds them all.
            let inside: Vec<usize> = (0..page.words.len())
                .filter(|&i| within(&words.bbox, i, 0.0))
                .collect();
            let held = inside.iter().all(|&i| within(&region.bbox, i, SLACK * em));
            // The model's reading, where it agrees with the words': their lines whole, their
            // columns, and at least their rows. Then its rows stand where the words' differ: a
            // header cell spanning two header rows, a row of empty cells under the header, a
            // first column whose cells span rows.
            held.then(|| fill(structure, page, &inside))
                .flatten()
                .filter(|t| t.rows >= words.table.rows && same_columns(t, &words.table))
                .map(|t| (t, inside))
        } else {
            let inside: Vec<usize> = (0..page.words.len())
                .filter(|&i| within(&region.bbox, i, SLACK * em))
                .collect();
            // Monospaced lines are code, whatever their columns.
            let mono = inside.iter().filter(|&&i| page.words[i].mono).count();
            if 2 * mono > inside.len() {
                continue;
            }
            // The model's cells, when they hold the words and read as a table's; on a text
            // layer (whose words' places are exact) else the words' own columns.
            fill(structure, page, &inside)
                .filter(tabular)
                .or_else(|| {
                    (page.source == Source::Text)
                        .then(|| aligned(structure, &page.words, &inside))
                        .flatten()
                })
                .map(|t| (t, inside))
        };
        if let Some((table, inside)) = read {
            let bbox = inside
                .iter()
                .fold(region.bbox, |b, &i| geom::union(&b, &page.words[i].bbox));
            for &i in &inside {
                used[i] = true;
            }
            found.push(Found {
                bbox,
                table,
                drawn: false,
            });
        }
    }
    found
}

/// Whether the model's reading of a table (`model`) puts the words of the words' own reading
/// (`words`) in the same columns as they do (each cell's in its first column), whatever their
/// rows. It may hold more: a header cell set between two rows, which the words' reading left
/// out of the table.
fn same_columns(model: &Table, words: &Table) -> bool {
    fn columns(t: &Table) -> Vec<Vec<&str>> {
        let mut words: Vec<Vec<&str>> = vec![Vec::new(); t.cols as usize];
        for c in &t.cells {
            words[c.col as usize].extend(c.text.split_whitespace());
        }
        for w in &mut words {
            w.sort_unstable();
        }
        words
    }
    // Whether the sorted `small` is a sub-multiset of the sorted `large`.
    fn within(small: &[&str], large: &[&str]) -> bool {
        let mut rest = large.iter();
        small.iter().all(|w| rest.any(|l| l == w))
    }
    model.cols == words.cols
        && columns(words)
            .iter()
            .zip(&columns(model))
            .all(|(w, m)| within(w, m))
}

/// Whether no line of words is split between the model's rows, its cells holding the words
/// as `taken`: each pair of words on one line shares a row of their cells (a cell spanning rows
/// shares each of them). Where one is, the model's rows have drifted off the words' (on a long
/// table at its resolution; a row under a short rule taken into the row over it).
fn whole_lines(structure: &Table, taken: &[Vec<usize>], words: &[Word]) -> bool {
    let cells = &structure.cells;
    let mut placed: Vec<(usize, usize)> = taken
        .iter()
        .enumerate()
        .flat_map(|(k, ids)| ids.iter().map(move |&i| (i, k)))
        .collect();
    // Top to bottom: a word's line-mates follow it until one starts below its bottom.
    placed.sort_by(|a, b| words[a.0].bbox[1].total_cmp(&words[b.0].bbox[1]));
    let rows = |k: usize| (cells[k].row, cells[k].row + cells[k].row_span);
    placed.iter().enumerate().all(|(n, &(i, a))| {
        let above_its_bottom = |&&(j, _): &&(usize, usize)| words[j].bbox[1] < words[i].bbox[3];
        placed[n + 1..]
            .iter()
            .take_while(above_its_bottom)
            .all(|&(j, b)| {
                let (u, v) = (&words[i].bbox, &words[j].bbox);
                let taller = geom::height(u).max(geom::height(v)).max(1e-3);
                let one_line = geom::overlap(u[1], u[3], v[1], v[3]) / taller >= LINE;
                let ((a0, a1), (b0, b1)) = (rows(a), rows(b));
                !one_line || (a0 < b1 && b0 < a1)
            })
    })
}

/// The tables ruled by horizontal lines only (booktabs) among `ruled`, and the grids of one
/// column (a box drawn round a table, its sides its only rules down), are read by the table
/// model where it read their region: their rows come from their words' lines, so a cell set on
/// two lines split its row, where the model sees the table's rows and columns in its pixels.
/// Its reading is taken when its cells hold the words (the table's, and the region's not
/// `used` yet, which it then uses), however long they are: the rules already say it is a table.
pub fn read_open_tables(page: &PageInput, ruled: &mut [Found], used: &mut [bool], em: f32) {
    for found in ruled.iter_mut().filter(|f| !f.drawn || f.table.cols == 1) {
        let Some((region, structure)) = page.regions.iter().find_map(|r| {
            let over =
                covered(&r.bbox, &found.bbox) > RULED || covered(&found.bbox, &r.bbox) > RULED;
            r.table
                .as_ref()
                .filter(|_| r.kind == RegionKind::Table && over)
                .map(|t| (r.bbox, t))
        }) else {
            continue;
        };
        let ids: Vec<usize> = (0..page.words.len())
            .filter(|&i| {
                let (cx, cy) = geom::center(&page.words[i].bbox);
                geom::contains(&found.bbox, cx, cy, SLACK * em)
                    || (!used[i] && geom::contains(&region, cx, cy, SLACK * em))
            })
            .collect();
        // A header row found over the table's first rule may lie over the model's region too
        // (both saw the table begin at the rule): it heads the model's columns.
        let read = fill(structure, page, &ids).or_else(|| {
            let (over, held): (Vec<usize>, Vec<usize>) = ids
                .iter()
                .partition(|&&i| geom::center(&page.words[i].bbox).1 < region[1]);
            let mut table = fill(structure, page, &held)?;
            (!over.is_empty()).then(|| {
                head_with(&mut table, &page.words, &over);
                table
            })
        });
        if let Some(table) = read {
            for &i in &ids {
                used[i] = true;
                found.bbox = geom::union(&found.bbox, &page.words[i].bbox);
            }
            found.table = table;
        }
    }
}

/// A row of the words `ids` over `table`, as its first header row: each word under the column
/// whose cells' boxes stand nearest to it.
fn head_with(table: &mut Table, words: &[Word], ids: &[usize]) {
    let spans: Vec<(f32, f32)> = tables::column_spans(table)
        .into_iter()
        .map(|s| s.unwrap_or((f32::MAX, f32::MIN)))
        .collect();
    let mut under: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for &i in ids {
        let x = geom::center(&words[i].bbox).0;
        let off = |&(a, b): &(f32, f32)| geom::outside(a, b, x);
        if let Some(col) =
            (0..spans.len()).min_by(|&a, &b| off(&spans[a]).total_cmp(&off(&spans[b])))
        {
            under[col].push(i);
        }
    }
    for c in &mut table.cells {
        c.row += 1;
    }
    for (col, ids) in under.iter().enumerate() {
        let bbox = geom::union_all(ids.iter().map(|&i| &words[i].bbox));
        table.cells.push(crate::model::Cell {
            row: 0,
            col: col as u32,
            row_span: 1,
            col_span: 1,
            text: tables::cell_text(words, ids),
            header: true,
            bbox,
        });
    }
    table.cells.sort_by_key(|c| (c.row, c.col));
    table.rows += 1;
    table.header_rows += 1;
}

/// On a text layer, whose words' places are exact, the table the words `ids` make by their
/// columns, when it has about the columns the model saw (two signs that agree: the model alone
/// also takes code, formulas and lists of references for tables).
fn aligned(structure: &Table, words: &[Word], ids: &[usize]) -> Option<Table> {
    let words: Vec<Word> = ids.iter().map(|&i| words[i].clone()).collect();
    let (segments, rows) = crate::lines::segment_rows(&words);
    tables::aligned(&segments, &rows, true, false).filter(|t| {
        t.rows >= 2 && t.cols >= 2 && t.cols.abs_diff(structure.cols) <= 1 && tabular(t)
    })
}

/// Whether a table's cells read as a table's: short (not lines of running text, as in a list
/// of references set in two columns beside its keys), and filling most of its grid (not words
/// scattered over a few of many cells, as code or a form).
fn tabular(table: &Table) -> bool {
    let texts: Vec<&str> = table
        .cells
        .iter()
        .map(|c| c.text.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    let long: usize = texts
        .iter()
        .map(|t| t.chars().count())
        .filter(|&n| n > LONG_CELL)
        .sum();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    !texts.is_empty()
        && 2 * long <= chars
        && words <= PROSE_WORDS * texts.len()
        && texts.len() as f32 >= FILLED * table.cells.len() as f32
}

/// The structure's cells filled with the words `ids`: each word goes to the cell that holds its
/// centre (the smallest, if several), else to the cell of the word before it on its line (the
/// model's cell boxes are coarse: a word at a cell's end falls outside), else to the one it
/// overlaps most, else to the nearest.
/// Rows left empty go. `None` when fewer than two rows and two columns hold words, when the
/// cells hold too few of the words, or (on a text layer) split a line of them between rows.
fn fill(structure: &Table, page: &PageInput, ids: &[usize]) -> Option<Table> {
    let words = &page.words;
    let taken = place(structure, words, ids)?;
    // (OCR's word boxes are not exact enough to tell their lines: some run over three.)
    if page.source == Source::Text && !whole_lines(structure, &taken, words) {
        return None;
    }
    build(structure, words, &taken)
}

/// The words `ids` of each of the structure's cells, as [`fill`] places them; `None` when the
/// cells hold too few of the words.
fn place(structure: &Table, words: &[Word], ids: &[usize]) -> Option<Vec<Vec<usize>>> {
    let boxes: Vec<BBox> = structure
        .cells
        .iter()
        .map(|c| c.bbox.unwrap_or([0.0; 4]))
        .collect();
    if ids.is_empty() || boxes.is_empty() {
        return None;
    }
    let area = |b: &BBox| geom::width(b) * geom::height(b);
    let mut taken: Vec<Vec<usize>> = vec![Vec::new(); boxes.len()];
    let mut held = 0;
    let mut cell_of: Vec<Option<usize>> = vec![None; words.len()];
    for &i in ids {
        let w = &words[i].bbox;
        let (cx, cy) = geom::center(w);
        let holding = (0..boxes.len())
            .filter(|&k| geom::contains(&boxes[k], cx, cy, 0.0))
            .min_by(|&a, &b| area(&boxes[a]).total_cmp(&area(&boxes[b])));
        let overlapping = || {
            (0..boxes.len())
                .map(|k| {
                    // (Apart on both axes is no overlap.)
                    let o = geom::overlap(w[0], w[2], boxes[k][0], boxes[k][2]).max(0.0)
                        * geom::overlap(w[1], w[3], boxes[k][1], boxes[k][3]).max(0.0);
                    (k, o)
                })
                .filter(|&(_, o)| o > 0.0)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k)
        };
        let nearest = || {
            (0..boxes.len()).min_by(|&a, &b| {
                geom::distance(w, &boxes[a]).total_cmp(&geom::distance(w, &boxes[b]))
            })
        };
        // The word before on the same line, when it is close: its cell.
        let before = || {
            let p = i.checked_sub(1)?;
            let (a, b) = (&words[p], &words[i]);
            let close = !a.line_end
                && geom::v_overlap_ratio(&a.bbox, &b.bbox) >= 0.5
                && b.bbox[0] - a.bbox[2] <= a.size.max(b.size);
            close.then_some(cell_of[p]).flatten()
        };
        held += usize::from(holding.is_some());
        if let Some(k) = holding
            .or_else(before)
            .or_else(overlapping)
            .or_else(nearest)
        {
            taken[k].push(i);
            cell_of[i] = Some(k);
        }
    }
    // The model's cells must hold the words: where many fall between them (its rows drift on
    // a long table at its resolution), the words' own rows and columns read it better.
    ((held as f32) >= HELD * ids.len() as f32).then_some(taken)
}

/// The structure's cells with the words `taken` for each; `None` when fewer than two rows and
/// two columns hold words.
fn build(structure: &Table, words: &[Word], taken: &[Vec<usize>]) -> Option<Table> {
    let mut table = structure.clone();
    for (cell, ids) in table.cells.iter_mut().zip(taken) {
        cell.text = tables::cell_text(words, ids);
    }
    tables::drop_empty_rows(&mut table);
    let filled = |f: &dyn Fn(&crate::model::Cell) -> u32| {
        let mut seen: Vec<u32> = table
            .cells
            .iter()
            .filter(|c| !c.text.is_empty())
            .map(f)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    if filled(&|c| c.row) < 2 || filled(&|c| c.col) < 2 {
        return None;
    }
    if table.header_rows == 0 {
        let bold = |row: usize| {
            let ids: Vec<usize> = table
                .cells
                .iter()
                .zip(taken)
                .filter(|(c, _)| c.row as usize == row)
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect();
            !ids.is_empty() && ids.iter().all(|&i| words[i].bold)
        };
        let bold_first = bold(0);
        tables::mark_header(&mut table, |_| bold_first);
    } else {
        // (The model's header; `mark_header` extends its own.)
        tables::header_down(&mut table);
    }
    tables::signs_to_figures(&mut table);
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::segments;
    use crate::lines::tests::{line, word};
    use crate::model::{Cell, Unit};

    fn cell(row: u32, col: u32, bbox: BBox) -> Cell {
        Cell {
            row,
            col,
            row_span: 1,
            col_span: 1,
            text: String::new(),
            header: false,
            bbox: Some(bbox),
        }
    }

    /// A table's grid: "Name" and "Value" over the rows of `body`.
    fn name_value(body: &[[&str; 2]]) -> Vec<Vec<String>> {
        std::iter::once(["Name", "Value"])
            .chain(body.iter().copied())
            .map(|row| row.map(String::from).to_vec())
            .collect()
    }

    /// The words of [`name_value`]`(&[["alpha", "1.5"], ["beta", "2.25"]])`, each in its cell
    /// of [`structure`].
    fn name_value_words() -> Vec<Word> {
        vec![
            word("Name", 105.0, 104.0, 10.0),
            word("Value", 205.0, 104.0, 10.0),
            word("alpha", 105.0, 124.0, 10.0),
            word("1.5", 205.0, 124.0, 10.0),
            word("beta", 105.0, 144.0, 10.0),
            word("2.25", 205.0, 144.0, 10.0),
        ]
    }

    /// A 3×2 structure over [100, 100, 300, 160], rows 20 high, columns 100 wide.
    fn structure() -> Table {
        let mut cells = Vec::new();
        for r in 0..3u32 {
            for c in 0..2u32 {
                let (x, y) = (100.0 + 100.0 * c as f32, 100.0 + 20.0 * r as f32);
                cells.push(cell(r, c, [x, y, x + 100.0, y + 20.0]));
            }
        }
        Table {
            rows: 3,
            cols: 2,
            header_rows: 0,
            cells,
        }
    }

    /// A table region over [`structure`].
    fn table_region() -> Region {
        Region {
            kind: RegionKind::Table,
            bbox: [100.0, 100.0, 300.0, 160.0],
            score: 0.9,
            table: Some(structure()),
        }
    }

    fn page(words: Vec<Word>, regions: Vec<Region>) -> PageInput {
        PageInput {
            number: 1,
            width: 612.0,
            height: 792.0,
            unit: Unit::Points,
            source: Source::Ocr,
            words,
            rules: Vec::new(),
            figures: Vec::new(),
            regions,
        }
    }

    #[test]
    fn a_table_region_takes_the_words_in_its_cells_and_leaves_the_rest() {
        let words = vec![
            word("Name", 105.0, 104.0, 10.0),
            word("Value", 205.0, 104.0, 10.0),
            word("alpha", 105.0, 124.0, 10.0),
            word("1.5", 205.0, 124.0, 10.0),
            word("beta", 105.0, 144.0, 10.0),
            // Overhangs its cell: still the cell it overlaps most.
            word("2.25", 290.0, 144.0, 10.0),
            // Below the region: the body's.
            word("After", 105.0, 300.0, 10.0),
        ];
        let p = page(words, vec![table_region()]);
        let mut used = vec![false; p.words.len()];
        let found = tables(&p, &[], &[], &mut used, 10.0);
        assert_eq!(found.len(), 1);
        let t = &found[0].table;
        assert_eq!(t.grid(), name_value(&[["alpha", "1.5"], ["beta", "2.25"]]));
        // A header of words over a body of numbers.
        assert_eq!(t.header_rows, 1);
        assert_eq!(used, vec![true, true, true, true, true, true, false]);
    }

    #[test]
    fn on_a_text_layer_the_model_reads_the_words_table_only_where_it_agrees_with_their_lines() {
        // The words' own table (as their columns made it): "alpha" and its row under the
        // header joined to it, two rows where the model sees three.
        let words = name_value_words();
        let texts = [["Name alpha", "Value 1.5"], ["beta", "2.25"]];
        let mut joined = structure();
        joined.rows = 2;
        joined.cells.retain(|c| c.row < 2);
        for c in &mut joined.cells {
            c.text = texts[c.row as usize][c.col as usize].into();
        }
        let seen = |table: Table| Found {
            bbox: [105.0, 104.0, 225.0, 154.0],
            table,
            drawn: false,
        };
        let mut p = page(words, vec![table_region()]);
        p.source = Source::Text;
        let read = |p: &PageInput, seen: &Found| {
            let mut used = vec![false; p.words.len()];
            let found = tables(p, &[], std::slice::from_ref(seen), &mut used, 10.0);
            (found, used)
        };
        let (found, used) = read(&p, &seen(joined.clone()));
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].table.grid(),
            name_value(&[["alpha", "1.5"], ["beta", "2.25"]])
        );
        assert!(used.iter().all(|u| *u));

        // The model's rows drifted: "alpha" falls in its cell's row, "1.5" (on the same line)
        // in the next. The words' table stands (nothing is read here; its words stay free).
        p.words[2].bbox = [105.0, 133.5, 130.0, 143.5];
        p.words[3].bbox = [205.0, 136.0, 220.0, 146.0];
        let (found, used) = read(&p, &seen(joined.clone()));
        assert!(found.is_empty(), "{found:?}");
        assert!(used.iter().all(|u| !*u));

        // The model's columns hold other words than the words' own: theirs stand too.
        let mut p = page(p.words.clone(), vec![table_region()]);
        p.source = Source::Text;
        p.words[2].bbox = [105.0, 124.0, 130.0, 134.0];
        p.words[3].bbox = [205.0, 124.0, 220.0, 134.0];
        assert_eq!(read(&p, &seen(joined.clone())).0.len(), 1);
        let mut other = joined;
        other.cells[0].text = "Name".into();
        other.cells[1].text = "alpha Value 1.5".into();
        assert!(read(&p, &seen(other)).0.is_empty());
    }

    #[test]
    fn on_a_scan_the_model_reads_a_table_ruled_across_only_whose_cells_take_two_lines() {
        // Rules over, under the header and under [`structure`]; "alpha one" set on two lines
        // in its cell, which the rules' table takes for two rows.
        let rules = vec![
            [100.0, 99.5, 300.0, 100.5],
            [100.0, 119.5, 300.0, 120.5],
            [100.0, 159.5, 300.0, 160.5],
        ];
        let words = vec![
            word("Name", 105.0, 105.0, 10.0),
            word("Value", 205.0, 105.0, 10.0),
            word("alpha", 105.0, 122.0, 10.0),
            word("1.5", 205.0, 126.0, 10.0),
            word("one", 105.0, 130.0, 10.0),
            word("beta", 105.0, 145.0, 10.0),
            word("2.25", 205.0, 145.0, 10.0),
        ];
        let mut p = page(words, vec![table_region()]);
        p.rules = rules;
        let read = |p: &PageInput| {
            let (mut found, mut used) =
                tables::ruled(&p.rules, &p.words, 10.0, p.source != Source::Text);
            read_open_tables(p, &mut found, &mut used, 10.0);
            assert!(used.iter().all(|u| *u));
            found
        };
        let found = read(&p);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].table.grid(),
            name_value(&[["alpha\none", "1.5"], ["beta", "2.25"]])
        );
        // And on a text layer, where the rules' table took the two lines for two rows.
        p.source = Source::Text;
        assert_eq!(read(&p)[0].table.rows, 3);
        p.regions.clear();
        assert_eq!(read(&p)[0].table.rows, 4);
    }

    #[test]
    fn a_box_drawn_round_a_table_is_read_in_the_model_s_columns() {
        // Its only rules down are its sides: a grid of one column, where the model sees two.
        let mut p = page(name_value_words(), vec![table_region()]);
        p.source = Source::Text;
        p.rules = vec![
            [100.0, 99.5, 300.0, 100.5],
            [100.0, 119.5, 300.0, 120.5],
            [100.0, 159.5, 300.0, 160.5],
            [99.5, 100.0, 100.5, 160.0],
            [299.5, 100.0, 300.5, 160.0],
        ];
        let (mut found, mut used) = tables::ruled(&p.rules, &p.words, 10.0, false);
        assert_eq!(found[0].table.cols, 1);
        read_open_tables(&p, &mut found, &mut used, 10.0);
        assert_eq!(
            found[0].table.grid(),
            name_value(&[["alpha", "1.5"], ["beta", "2.25"]])
        );
    }

    #[test]
    fn a_header_over_a_table_s_first_rule_heads_the_model_s_columns() {
        // A rule under each row, the header's too, none over it; the model's region begins at
        // the first rule, as the rules' table would.
        let mut words = vec![
            word("Name", 105.0, 85.0, 10.0),
            word("Value", 205.0, 85.0, 10.0),
        ];
        for (i, (a, b)) in [("alpha", "1.5"), ("beta", "2.25"), ("gamma", "3.5")]
            .into_iter()
            .enumerate()
        {
            let y = 105.0 + 20.0 * i as f32;
            words.extend([word(a, 105.0, y, 10.0), word(b, 205.0, y, 10.0)]);
        }
        let mut p = page(words, vec![table_region()]);
        p.source = Source::Text;
        p.rules = [100.0, 120.0, 140.0, 160.0]
            .map(|y| [100.0, y - 0.5, 300.0, y + 0.5])
            .to_vec();
        let (mut found, mut used) = tables::ruled(&p.rules, &p.words, 10.0, false);
        assert_eq!(found.len(), 1);
        assert!(found[0].bbox[1] < 85.0, "the header is the table's");
        read_open_tables(&p, &mut found, &mut used, 10.0);
        let t = &found[0].table;
        assert_eq!(
            t.grid(),
            name_value(&[["alpha", "1.5"], ["beta", "2.25"], ["gamma", "3.5"]])
        );
        assert_eq!(t.header_rows, 1);
        assert!(used.iter().all(|u| *u));
        // Without the model, the rules' table has it as its header row.
        let (found, _) = tables::ruled(&p.rules, &p.words, 10.0, false);
        assert_eq!(found[0].table.grid()[0], vec!["Name", "Value"]);
        assert_eq!(found[0].table.header_rows, 1);
    }

    #[test]
    fn a_word_past_its_cell_s_box_goes_with_the_word_before_it() {
        // The model's boxes are tight round the text it saw: "R" ends its line past the box of
        // "radius," (and lies apart from every box on both axes, which is no overlap).
        let words = vec![
            word("Name", 105.0, 104.0, 10.0),
            word("key", 130.0, 104.0, 10.0),
            word("Value", 205.0, 104.0, 10.0),
            word("unit", 235.0, 104.0, 10.0),
            word("radius,", 105.0, 124.0, 10.0),
            word("R", 142.0, 124.0, 10.0),
            word("1.5", 205.0, 124.0, 10.0),
            word("beta", 105.0, 144.0, 10.0),
            word("one", 130.0, 144.0, 10.0),
            word("2.25", 205.0, 144.0, 10.0),
        ];
        let mut s = structure();
        s.cells[2].bbox = Some([100.0, 120.0, 140.0, 140.0]);
        let region = Region {
            table: Some(s),
            ..table_region()
        };
        let p = page(words, vec![region]);
        let mut used = vec![false; p.words.len()];
        let found = tables(&p, &[], &[], &mut used, 10.0);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].table.grid(),
            vec![
                vec!["Name key", "Value unit"],
                vec!["radius, R", "1.5"],
                vec!["beta one", "2.25"],
            ]
        );
    }

    #[test]
    fn a_region_with_words_in_one_column_only_is_no_table() {
        let words = vec![
            word("alpha", 105.0, 104.0, 10.0),
            word("beta", 105.0, 124.0, 10.0),
        ];
        let p = page(words, vec![table_region()]);
        let mut used = vec![false; 2];
        assert!(tables(&p, &[], &[], &mut used, 10.0).is_empty());
        assert_eq!(used, vec![false, false]);
    }

    #[test]
    fn cells_of_running_text_are_no_table() {
        // Keys beside long references, as a bibliography sets them.
        let mut words = Vec::new();
        for (r, key) in ["[AB01]", "[CD02]", "[EF03]"].iter().enumerate() {
            let y = 104.0 + 20.0 * r as f32;
            words.push(word(key, 105.0, y, 2.0));
            for k in 0..20 {
                words.push(word("reference", 205.0 + 4.5 * k as f32, y, 1.0));
            }
        }
        let p = page(words, vec![table_region()]);
        let mut used = vec![false; p.words.len()];
        assert!(tables(&p, &[], &[], &mut used, 10.0).is_empty());
    }

    #[test]
    fn a_paragraph_in_an_equation_region_is_a_formula() {
        let draft = |text: &str, y: f32| {
            let pieces = segments(&line(text, 150.0, y, 10.0));
            let line = crate::blocks::Line::of(&pieces.iter().collect::<Vec<_>>(), 0);
            Draft::of_lines(Kind::Paragraph, vec![line])
        };
        let equation = Region {
            kind: RegionKind::Equation,
            bbox: [140.0, 95.0, 420.0, 125.0],
            score: 0.9,
            table: None,
        };
        let p = page(Vec::new(), vec![equation]);
        let mut drafts = vec![
            draft("E = m c²", 100.0),
            // A title the model took for an equation.
            draft("STATEMENTS OF CASH FLOWS (Unaudited)", 100.0),
            draft("a = b", 200.0),
        ];
        formulas(&p, &mut drafts);
        let kinds: Vec<Kind> = drafts.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, vec![Kind::Formula, Kind::Paragraph, Kind::Paragraph]);
    }

    #[test]
    fn running_heads_are_furniture_only_in_the_margins() {
        let head = |y: f32| Region {
            kind: RegionKind::Header,
            bbox: [50.0, y, 500.0, y + 20.0],
            score: 0.8,
            table: None,
        };
        let p = page(Vec::new(), vec![head(20.0), head(400.0)]);
        let piece =
            |y: f32, size: f32| segments(&line("Journal of Tests", 60.0, y, size))[0].clone();
        assert_eq!(
            furniture(&p, &piece(25.0, 8.0), 10.0, 0.1),
            Some(Kind::Header)
        );
        // Out of the margin, or a heading set as large as the body or larger: not furniture.
        assert_eq!(furniture(&p, &piece(405.0, 8.0), 10.0, 0.1), None);
        assert_eq!(furniture(&p, &piece(22.0, 10.0), 10.0, 0.1), None);
        assert_eq!(furniture(&p, &piece(22.0, 16.0), 10.0, 0.1), None);
    }
}
