//! A page's pieces into blocks: leaves of the reading order into rows; rows that line up in
//! columns into tables; the other rows into lines, and lines into paragraphs, list items,
//! captions and code.

use crate::classify::{is_caption, list_marker};
use crate::geom::{self, h_overlap_ratio, median};
use crate::lines::{self, Segment};
use crate::model::{BBox, Kind, Table, Word};
use crate::tables;

/// A line of text: the words of one row of a leaf, left to right.
#[derive(Debug, Clone)]
pub struct Line {
    pub words: Vec<Word>,
    pub bbox: BBox,
    pub size: f32,
    pub bold: bool,
    pub mono: bool,
    /// The leaf of the reading order it comes from.
    pub leaf: usize,
    /// Its first piece's place among the page's pieces in the source (`usize::MAX`: unknown).
    pub first: usize,
}

impl Line {
    pub fn of(segments: &[&Segment], leaf: usize) -> Line {
        let words: Vec<Word> = segments
            .iter()
            .flat_map(|s| s.words.iter().cloned())
            .collect();
        let chars = |s: &&&Segment| s.chars();
        let main = segments.iter().max_by_key(chars);
        Line {
            bbox: geom::union_all(segments.iter().map(|s| &s.bbox)).unwrap_or_default(),
            size: main.map(|s| s.size).unwrap_or(0.0),
            bold: segments.iter().all(|s| s.bold),
            mono: segments.iter().all(|s| s.mono),
            words,
            leaf,
            first: usize::MAX,
        }
    }

    pub fn text(&self) -> String {
        lines::join_words(&self.words)
    }
}

/// A block before its text is settled.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: Kind,
    pub lines: Vec<Line>,
    pub bbox: BBox,
    pub table: Option<Table>,
    /// List items: where each item starts in `lines`, and whether the list counts.
    pub item_starts: Vec<usize>,
    pub ordered: bool,
    pub level: Option<u8>,
}

impl Draft {
    pub fn of_lines(kind: Kind, lines: Vec<Line>) -> Draft {
        Draft {
            kind,
            bbox: geom::union_all(lines.iter().map(|l| &l.bbox)).unwrap_or_default(),
            lines,
            table: None,
            item_starts: Vec::new(),
            ordered: false,
            level: None,
        }
    }

    pub fn table(bbox: BBox, table: Table) -> Draft {
        Draft {
            kind: Kind::Table,
            lines: Vec::new(),
            bbox,
            table: Some(table),
            item_starts: Vec::new(),
            ordered: false,
            level: None,
        }
    }

    /// The text of its words, lines apart.
    pub fn raw_text(&self) -> String {
        self.lines
            .iter()
            .map(Line::text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn chars(&self) -> usize {
        self.lines
            .iter()
            .flat_map(|l| &l.words)
            .map(|w| w.text.chars().count() + 1)
            .sum()
    }

    pub fn size(&self) -> f32 {
        median(self.lines.iter().map(|l| l.size).collect())
    }

    pub fn bold(&self) -> bool {
        !self.lines.is_empty() && self.lines.iter().all(|l| l.bold)
    }
}

/// The header lines set over each table that it was found without (see
/// [`tables::head_over`]) join it, leaving the drafts they were read in.
pub fn head_tables(drafts: &mut Vec<Draft>, em: f32) {
    for t in 0..drafts.len() {
        let Some(table) = drafts[t].table.take() else {
            continue;
        };
        // The words of the page's text but its lists, and where each is (draft, line, word).
        let mut words: Vec<Word> = Vec::new();
        let mut at: Vec<(usize, usize, usize)> = Vec::new();
        for (d, draft) in drafts
            .iter()
            .enumerate()
            .filter(|(_, d)| d.table.is_none() && d.item_starts.is_empty())
        {
            for (l, line) in draft.lines.iter().enumerate() {
                for (w, word) in line.words.iter().enumerate() {
                    words.push(word.clone());
                    at.push((d, l, w));
                }
            }
        }
        let mut found = tables::Found {
            bbox: drafts[t].bbox,
            table,
            drawn: false,
        };
        let mut used = vec![false; words.len()];
        tables::head_over(&mut found, &words, &mut used, em);
        drafts[t].bbox = found.bbox;
        drafts[t].table = Some(found.table);
        if !used.contains(&true) {
            continue;
        }
        for (&(d, l, w), _) in at.iter().zip(&used).rev().filter(|(_, &u)| u) {
            drafts[d].lines[l].words.remove(w);
        }
        for draft in drafts.iter_mut().filter(|d| d.table.is_none()) {
            draft.lines.retain(|l| !l.words.is_empty());
            for line in &mut draft.lines {
                line.bbox =
                    geom::union_all(line.words.iter().map(|w| &w.bbox)).unwrap_or(line.bbox);
            }
            draft.bbox = geom::union_all(draft.lines.iter().map(|l| &l.bbox)).unwrap_or(draft.bbox);
        }
    }
    drafts.retain(|d| d.table.is_some() || !d.lines.is_empty());
}

/// An item of a leaf in reading order: a line, or a table found among its rows.
enum Item {
    Line(Line),
    Table(BBox, Table),
}

/// The blocks of one page, in reading order: `leaves` are lists of indices into `segments`
/// (pieces of text, in the source's order) or, from `segments.len()` on, into `ruled` (tables
/// found from rules). Within a leaf, rows follow each other down the page; with `stream` (a
/// PDF's text layer), in the order the document gives them, which keeps formulas and the text
/// of figures as their author wrote them.
pub fn page_blocks(
    segments: &[Segment],
    ruled: Vec<tables::Found>,
    leaves: &[Vec<usize>],
    stream: bool,
) -> Vec<Draft> {
    let mut ruled: Vec<Option<tables::Found>> = ruled.into_iter().map(Some).collect();
    let mut items: Vec<Item> = Vec::new();
    for (leaf, ids) in leaves.iter().enumerate() {
        let segs: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| i < segments.len())
            .collect();
        let mut here: Vec<(f32, Item)> = Vec::new();
        let rows = if stream {
            lines::join_row_labels(segments, &lines::stream_rows(segments, &segs))
        } else {
            lines::rows(segments, &segs)
        };
        // Where an item goes: its top, or its first piece in the source.
        let key = |row: &[usize]| {
            if stream {
                row.iter().min().copied().unwrap_or(0) as f32
            } else {
                segments[row[0]].bbox[1]
            }
        };
        for &t in ids.iter().filter(|&&i| i >= segments.len()) {
            if let Some(found) = ruled.get_mut(t - segments.len()).and_then(Option::take) {
                let place = if stream {
                    // Just before the first row below it.
                    rows.iter()
                        .filter(|r| segments[r[0]].bbox[1] >= found.bbox[3])
                        .map(|r| key(r))
                        .fold(f32::MAX, f32::min)
                        - 0.5
                } else {
                    found.bbox[1]
                };
                here.push((place, Item::Table(found.bbox, found.table)));
            }
        }
        let mut r = 0;
        while r < rows.len() {
            // A run of rows with several pieces each (allowing single pieces between them) may be
            // a table.
            let mut end = r;
            while end < rows.len()
                && (rows[end].len() >= 2
                    || (end > r && end + 1 < rows.len() && rows[end + 1].len() >= 2))
            {
                if end > r
                    && gap(segments, &rows[end - 1], &rows[end]) > 2.5 * segments[rows[end][0]].size
                {
                    break;
                }
                end += 1;
            }
            if end - r >= 2 {
                if let Some(table) = tables::aligned(segments, &rows[r..end], false, stream) {
                    let bbox =
                        geom::union_all(rows[r..end].iter().flatten().map(|&s| &segments[s].bbox))
                            .unwrap_or_default();
                    let place = rows[r..end]
                        .iter()
                        .map(|row| key(row))
                        .fold(f32::MAX, f32::min);
                    here.push((place, Item::Table(bbox, table)));
                    r = end;
                    continue;
                }
            }
            let row: Vec<&Segment> = rows[r].iter().map(|&s| &segments[s]).collect();
            let mut line = Line::of(&row, leaf);
            line.first = rows[r].iter().copied().min().unwrap_or(usize::MAX);
            here.push((key(&rows[r]), Item::Line(line)));
            r += 1;
        }
        here.sort_by(|a, b| a.0.total_cmp(&b.0));
        items.extend(here.into_iter().map(|(_, item)| item));
    }
    group(items)
}

/// The vertical gap between two rows.
fn gap(segments: &[Segment], upper: &[usize], lower: &[usize]) -> f32 {
    let bottom = upper
        .iter()
        .map(|&s| segments[s].bbox[3])
        .fold(f32::MIN, f32::max);
    let top = lower
        .iter()
        .map(|&s| segments[s].bbox[1])
        .fold(f32::MAX, f32::min);
    top - bottom
}

/// Lines into blocks. A new block starts at a change of leaf (unless the line continues
/// straight below), a wide gap or a larger step than the usual line pitch, a change of size,
/// weight or font family, a list marker, a first-line indent, or after a short last line of a
/// justified paragraph. Indents and short lines are measured the way the lines read: from the
/// right in right-to-left text.
fn group(items: Vec<Item>) -> Vec<Draft> {
    let lines: Vec<&Line> = items
        .iter()
        .filter_map(|i| if let Item::Line(l) = i { Some(l) } else { None })
        .collect();
    let pitch = typical_pitch(&lines);
    let justified_end =
        [Reading { rtl: false }, Reading { rtl: true }].map(|r| justified_edge(&lines, r));
    // Each leaf's left and right edges.
    let mut edges: std::collections::HashMap<usize, (f32, f32)> = Default::default();
    for l in &lines {
        let e = edges.entry(l.leaf).or_insert((l.bbox[0], l.bbox[2]));
        *e = (e.0.min(l.bbox[0]), e.1.max(l.bbox[2]));
    }
    let mut out: Vec<Draft> = Vec::new();
    let mut current: Option<Draft> = None;
    let flush = |current: &mut Option<Draft>, out: &mut Vec<Draft>| {
        if let Some(d) = current.take() {
            out.push(finish(d));
        }
    };
    for item in items {
        let line = match item {
            Item::Table(bbox, table) => {
                flush(&mut current, &mut out);
                out.push(Draft::table(bbox, table));
                continue;
            }
            Item::Line(line) => line,
        };
        let text = line.text();
        let marker = list_marker(&text);
        // The line begins with a letter that may begin a sentence: a capital, a digit, or a
        // letter of a script without case.
        let capital = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || (c.is_alphabetic() && !c.is_lowercase()));
        if let Some(d) = current.as_mut() {
            let prev = d.lines.last().cloned();
            if let Some(prev) = prev {
                let dir = Reading::of([&prev, &line]);
                let (start, end) = (|l: &Line| dir.start(&l.bbox), |l: &Line| dir.end(&l.bbox));
                let size = prev.size.max(line.size).max(1e-3);
                let gap = line.bbox[1] - prev.bbox[3];
                let step = line.bbox[1] - prev.bbox[1];
                let below = line.bbox[1] >= prev.bbox[1] + 0.3 * size
                    && gap < 0.8 * size
                    && h_overlap_ratio(&prev.bbox, &line.bbox) > 0.3;
                // A paragraph cut off at the foot of a column goes on at the top of the next.
                let runs_on = line.leaf != prev.leaf
                    && d.kind == Kind::Paragraph
                    && !prev.text().trim_end().ends_with(['.', '!', '?', ':', ';'])
                    && text.chars().next().is_some_and(char::is_lowercase)
                    && (line.size - prev.size).abs() <= 0.1 * size
                    && line.bold == prev.bold
                    && line.bbox[1] < prev.bbox[1];
                let same_place = line.leaf == prev.leaf || below || runs_on;
                let item_start = d.item_starts.last().map(|&i| &d.lines[i]);
                let in_item = item_start.is_some();
                let text_x = item_start.map(item_text_x).unwrap_or(0.0);
                let first = &d.lines[0];
                let indent = !in_item
                    && (start(&prev) - start(first)).abs() < 0.5 * size
                    && start(&line) > start(&prev) + 0.8 * size
                    && start(&line) < start(&prev) + 4.0 * size;
                let ended = justified_end[dir.rtl as usize].is_some_and(|edge| {
                    end(&prev) < edge - 2.0 * size
                        && prev.text().trim_end().ends_with(['.', '!', '?', ':'])
                        && capital
                });
                // A line centred over text that fills its column: a heading or a title.
                let centred = d.lines.len() == 1
                    && line.leaf == prev.leaf
                    && edges.get(&line.leaf).is_some_and(|&(left, right)| {
                        let (l, r) = (prev.bbox[0] - left, right - prev.bbox[2]);
                        l > 2.0 * size
                            && r > 2.0 * size
                            && (l - r).abs() < 1.5 * size
                            && line.bbox[0] < prev.bbox[0] - 2.0 * size
                            && line.bbox[2] > right - 2.0 * size
                    });
                let new_block = !same_place
                    || centred
                    || (gap > 0.8 * size && !runs_on)
                    || (pitch.is_some_and(|p| step > 1.45 * p && (line.size - p).abs() < p)
                        && !runs_on)
                    || (line.size - prev.size).abs() > size_change(&prev) * size
                    || (line.bold != prev.bold && weight_counts(&prev, &line))
                    || line.mono != prev.mono
                    || (in_item && marker.is_none() && line.bbox[0] < text_x - 0.6 * size)
                    || (indent && !runs_on)
                    || ended;
                if marker.is_some() && !new_block && d.kind == Kind::List && line.bold == prev.bold
                {
                    // Another item of the same list.
                    d.item_starts.push(d.lines.len());
                    d.lines.push(line);
                    continue;
                }
                if !new_block && marker.is_none() {
                    d.lines.push(line);
                    continue;
                }
            }
        }
        flush(&mut current, &mut out);
        let mut d = Draft::of_lines(Kind::Paragraph, vec![line]);
        if let Some(m) = marker {
            d.kind = Kind::List;
            d.ordered = m.ordered;
            d.item_starts = vec![0];
        }
        current = Some(d);
    }
    flush(&mut current, &mut out);
    merge_lists(out)
}

/// How much the type size may change within a block: little in a text layer, which states it;
/// more when OCR measured it on a short line.
fn size_change(line: &Line) -> f32 {
    if line.words.first().is_some_and(|w| w.confidence.is_some()) {
        0.3
    } else {
        0.15
    }
}

/// Whether a change of weight between two lines starts a block: always in a text layer; from
/// OCR, which measures weight roughly, only where the bolder line is also short (a heading
/// rather than a line of the paragraph).
fn weight_counts(prev: &Line, line: &Line) -> bool {
    let ocr = line.words.first().is_some_and(|w| w.confidence.is_some());
    let bolder = if line.bold { line } else { prev };
    let other = if line.bold { prev } else { line };
    !ocr || geom::width(&bolder.bbox) < 0.7 * geom::width(&other.bbox)
}

/// Which way lines read, for measuring indents and line ends: a right-to-left line starts at
/// its right edge. Its `start` and `end` grow along the reading (mirrored for right to left).
#[derive(Clone, Copy)]
struct Reading {
    rtl: bool,
}

impl Reading {
    /// Mostly right-to-left letters read right to left.
    fn of<'a>(lines: impl IntoIterator<Item = &'a Line>) -> Reading {
        let words = lines.into_iter().flat_map(|l| &l.words);
        Reading {
            rtl: crate::text::mostly_rtl(words.map(|w| w.text.as_str())),
        }
    }

    fn start(self, b: &BBox) -> f32 {
        if self.rtl {
            -b[2]
        } else {
            b[0]
        }
    }

    fn end(self, b: &BBox) -> f32 {
        if self.rtl {
            -b[0]
        } else {
            b[2]
        }
    }
}

/// Where an item's text starts after its marker.
fn item_text_x(line: &Line) -> f32 {
    line.words.get(1).map(|w| w.bbox[0]).unwrap_or(line.bbox[0])
}

/// Settles a block's kind from its first line: a caption, code.
fn finish(mut d: Draft) -> Draft {
    d.bbox = geom::union_all(d.lines.iter().map(|l| &l.bbox)).unwrap_or(d.bbox);
    if d.kind == Kind::Paragraph {
        let text = d.lines.first().map(Line::text).unwrap_or_default();
        if is_caption(&text) {
            d.kind = Kind::Caption;
        } else if d.lines.iter().all(|l| l.mono) {
            d.kind = Kind::Code;
        }
    }
    d
}

/// Consecutive list blocks of the same kind (bullets or numbers) close together are one list.
fn merge_lists(drafts: Vec<Draft>) -> Vec<Draft> {
    let mut out: Vec<Draft> = Vec::new();
    for d in drafts {
        if let Some(prev) = out.last_mut() {
            let close = d.bbox[1] - prev.bbox[3] < 1.2 * prev.size().max(d.size());
            if prev.kind == Kind::List && d.kind == Kind::List && prev.ordered == d.ordered && close
            {
                let base = prev.lines.len();
                prev.item_starts
                    .extend(d.item_starts.iter().map(|i| i + base));
                prev.lines.extend(d.lines);
                prev.bbox = geom::union(&prev.bbox, &d.bbox);
                continue;
            }
        }
        out.push(d);
    }
    out
}

/// The usual distance from one line's top to the next in a paragraph.
fn typical_pitch(lines: &[&Line]) -> Option<f32> {
    let steps: Vec<f32> = lines
        .windows(2)
        .filter(|w| {
            w[0].leaf == w[1].leaf && (w[0].size - w[1].size).abs() < 0.1 * w[0].size.max(1e-3)
        })
        .map(|w| w[1].bbox[1] - w[0].bbox[1])
        .filter(|s| *s > 0.0)
        .collect();
    (steps.len() >= 3).then(|| median(steps))
}

/// The edge most lines end at (the right one, or for right-to-left text the left one, as
/// [`Reading::end`] measures it), when the text is justified.
fn justified_edge(lines: &[&Line], dir: Reading) -> Option<f32> {
    if lines.len() < 4 {
        return None;
    }
    let edge = median(lines.iter().map(|l| dir.end(&l.bbox)).collect());
    let size = median(lines.iter().map(|l| l.size).collect());
    let at_edge = lines
        .iter()
        .filter(|l| (dir.end(&l.bbox) - edge).abs() < size)
        .count();
    (at_edge * 10 >= lines.len() * 6).then_some(edge)
}
