//! Words into segments (runs of words on one line with ordinary spacing: a line of a paragraph,
//! a table cell, a heading) and segments into rows (segments that share a line across the page).

use crate::geom::{self, median, v_overlap_ratio};
use crate::model::{BBox, Word};
use crate::text::is_unspaced;

/// A gap between two words wider than this many font sizes ends a segment: ordinary (even
/// justified) word spacing stays well below it; table columns and page columns are wider.
pub const SEGMENT_GAP: f32 = 0.9;

/// The same where OCR placed the words: its boxes are rough (a short word's box may miss a
/// letter's width), so only a wider gap ends a segment by itself; narrower columns are found by
/// the white running through the lines around (see [`split_at_gutters`]).
pub const OCR_SEGMENT_GAP: f32 = 1.5;

/// ... but a list marker ("•", "1.") and its item's text may be this far apart, and a check box
/// and the words beside it.
pub const MARKER_GAP: f32 = 3.0;

/// ... and a currency sign and its amount this far (a sign at its column's left edge, the
/// amount set right), or this much further when the amount is a figure.
pub const CURRENCY_GAP: f32 = 8.0;
pub const CURRENCY_FIGURE_GAP: f32 = 16.0;

/// A run of words on one line with ordinary spacing.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub words: Vec<Word>,
    pub bbox: BBox,
    /// The median font size of its words.
    pub size: f32,
    pub bold: bool,
    pub italic: bool,
    pub mono: bool,
}

impl Segment {
    pub(crate) fn of(words: Vec<Word>) -> Segment {
        let bbox = geom::union_all(words.iter().map(|w| &w.bbox)).unwrap_or_default();
        let size = median(words.iter().map(|w| w.size).collect());
        let all = |f: fn(&Word) -> bool| words.iter().all(f);
        Segment {
            bold: all(|w| w.bold),
            italic: all(|w| w.italic),
            mono: all(|w| w.mono),
            bbox,
            size,
            words,
        }
    }

    /// Its words, space-separated.
    pub fn text(&self) -> String {
        join_words(&self.words)
    }

    pub fn chars(&self) -> usize {
        self.words
            .iter()
            .map(|w| w.text.chars().count())
            .sum::<usize>()
            + self.words.len()
            - 1.min(self.words.len())
    }

    /// Whether it is a number, an amount or a percentage, or the currency or percent sign set
    /// apart from one (a table's value cell).
    pub fn is_numeric(&self) -> bool {
        is_numeric(&self.text())
    }
}

/// Whether a text is a number, an amount or a percentage, or the currency or percent sign set
/// apart from one (a table's value cell).
pub(crate) fn is_numeric(t: &str) -> bool {
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    // A dash stands for nothing (zero) in a column of figures.
    let sign = !t.is_empty()
        && t.chars()
            .all(|c| "$€£¥%—–-".contains(c) || c.is_whitespace());
    sign || (digits > 0
        && letters <= 1
        && digits * 2 >= t.chars().filter(|c| !c.is_whitespace()).count())
}

/// Words joined by spaces, except between two characters of a script written without them
/// (Han, kana; not hangul). A line mostly of a right-to-left script reads from its right end
/// ([`crate::bidi`]).
pub fn join_words(words: &[Word]) -> String {
    let rtl = crate::text::mostly_rtl(words.iter().map(|w| w.text.as_str()));
    let texts: Vec<std::borrow::Cow<str>> = if rtl {
        crate::bidi::reading_order(words)
    } else {
        words.iter().map(|w| w.text.as_str().into()).collect()
    };
    let mut out = String::new();
    for text in texts {
        if let (Some(prev), Some(next)) = (out.chars().last(), text.chars().next()) {
            let joined = rtl && crate::bidi::joined(prev, &text);
            if !(joined || is_unspaced(prev) && is_unspaced(next)) {
                out.push(' ');
            }
        }
        out.push_str(&text);
    }
    out
}

/// Splits the page's words, in the source's order, into segments. Words run on while the
/// source goes on along the same line; a run is then split where a gap is wider than
/// [`SEGMENT_GAP`] font sizes and than the line's own word spacing allows (justified text in a
/// narrow column spaces its words widely, and evenly), or wider than [`COLUMN_GAP`].
pub fn segments(words: &[Word]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut run: Vec<Word> = Vec::new();
    for word in words {
        if word.text.trim().is_empty() {
            continue;
        }
        if let Some(last) = run.last() {
            let size = last.size.max(word.size).max(1e-3);
            let gap = word.bbox[0] - last.bbox[2];
            // Right-to-left text drawn in reading order goes on leftwards, figures, brackets
            // and Latin names in it too.
            let leftwards = || {
                last.bbox[0] - word.bbox[2] > -0.5 * size
                    && crate::text::mostly_rtl(run.iter().chain([word]).map(|w| w.text.as_str()))
            };
            let same_line = !last.line_end
                && v_overlap_ratio(&last.bbox, &word.bbox) >= 0.5
                && (gap > -0.5 * size || leftwards());
            if !same_line {
                split_run(std::mem::take(&mut run), &mut out);
            }
        }
        run.push(word.clone());
    }
    split_run(run, &mut out);
    split_at_gutters(out)
}

/// A gap narrower than this many sizes is never taken for a gutter.
const GUTTER_MIN: f32 = 0.5;
/// How far above and below a line (in its sizes) a gutter must run clear.
const GUTTER_REACH: f32 = 8.0;

/// Splits a segment OCR read across a narrow gutter (it finds one line where two columns' lines
/// happen to meet) where a gap in it lines up with a column of white running through the lines
/// above and below: no word within [`GUTTER_REACH`] sizes covers the gap's middle, and words
/// end just left of it and start just right of it on at least two other lines each (the rows
/// of a small table).
fn split_at_gutters(segments: Vec<Segment>) -> Vec<Segment> {
    let boxes: Vec<BBox> = segments
        .iter()
        .flat_map(|s| s.words.iter().map(|w| w.bbox))
        .collect();
    let mut out = Vec::with_capacity(segments.len());
    for seg in segments {
        let size = seg.size.max(1e-3);
        // A text layer says where its lines end; only OCR guesses.
        let ocr = seg.words.iter().any(|w| w.confidence.is_some());
        let cuts: Vec<usize> = (1..seg.words.len())
            .filter(|_| ocr)
            .filter(|&i| {
                let (a, b) = (seg.words[i - 1].bbox[2], seg.words[i].bbox[0]);
                b - a >= GUTTER_MIN * size && is_gutter(&boxes, (a + b) / 2.0, &seg.bbox, size)
            })
            .collect();
        if cuts.is_empty() {
            out.push(seg);
            continue;
        }
        let mut words = seg.words;
        for &cut in cuts.iter().rev() {
            let tail = words.split_off(cut);
            out.push(Segment::of(tail));
        }
        out.push(Segment::of(words));
        let n = out.len();
        out[n - cuts.len() - 1..].reverse();
    }
    out
}

fn is_gutter(boxes: &[BBox], m: f32, line: &BBox, size: f32) -> bool {
    let (top, bottom) = (line[1] - GUTTER_REACH * size, line[3] + GUTTER_REACH * size);
    let near = boxes
        .iter()
        .filter(|b| b[3] > top && b[1] < bottom && v_overlap_ratio(b, line) < 0.5);
    let (mut left, mut right) = (0, 0);
    for b in near {
        if b[0] < m - 0.5 && b[2] > m + 0.5 {
            return false;
        }
        if b[2] <= m && b[2] >= m - 3.0 * size {
            left += 1;
        }
        if b[0] >= m && b[0] <= m + 3.0 * size {
            right += 1;
        }
    }
    left >= 2 && right >= 2
}

/// A currency sign set as a word of its own.
pub(crate) fn is_currency(text: &str) -> bool {
    matches!(text, "$" | "€" | "£" | "¥")
}

/// A figure as a table's cell holds one: digits with their separators, signs and brackets
/// ("1,250", "(73)", "4.5%").
fn is_figure(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || ",.()%-–—+".contains(c))
}

/// An amount as a table's cell holds one: a figure, with a currency sign before it or not, or a
/// dash standing for nothing.
fn is_amount(text: &str) -> bool {
    is_figure(text.trim_start_matches(['$', '€', '£', '¥'])) || matches!(text, "—" | "–" | "-")
}

/// A gap this many font sizes wide always ends a segment.
pub const COLUMN_GAP: f32 = 3.0;

fn split_run(run: Vec<Word>, out: &mut Vec<Segment>) {
    if run.is_empty() {
        return;
    }
    // The white between neighbours, whichever way the line runs (right-to-left text drawn in
    // reading order goes leftwards).
    let gaps: Vec<f32> = run
        .windows(2)
        .map(|w| (w[1].bbox[0] - w[0].bbox[2]).max(w[0].bbox[0] - w[1].bbox[2]))
        .collect();
    let size = median(run.iter().map(|w| w.size).collect()).max(1e-3);
    let ocr = run.iter().any(|w| w.confidence.is_some());
    let segment_gap = if ocr { OCR_SEGMENT_GAP } else { SEGMENT_GAP };
    // The line's word spacing: its usual gap among those that could be spaces. Justified text
    // stretches all its spaces alike. On a text layer (whose gaps are exact; OCR's boxes are
    // rough), in each stretch of the line between gaps wider than a column's (a row's label
    // beside a justified paragraph in the next column), and without the gaps before amounts:
    // a table's figures may be set about a font size from their row's label and each other.
    let mut stretch = vec![0usize; gaps.len()];
    for i in 1..gaps.len() {
        let wide = !ocr && gaps[i - 1] > COLUMN_GAP * size && !is_currency(&run[i - 1].text);
        stretch[i] = stretch[i - 1] + usize::from(wide);
    }
    let mut spaces: Vec<Vec<f32>> = vec![Vec::new(); stretch.last().map_or(0, |s| s + 1)];
    for (i, &g) in gaps.iter().enumerate() {
        if g < 1.5 * size && (ocr || !is_amount(&run[i + 1].text)) {
            spaces[stretch[i]].push(g);
        }
    }
    let spacing: Vec<f32> = spaces
        .into_iter()
        .map(|s| {
            if ocr {
                median(s)
            } else {
                word_spacing(s, size)
            }
        })
        .collect();
    // Whether each word is followed by a figure.
    let before_figure: Vec<bool> = (0..run.len())
        .map(|i| run.get(i + 1).is_some_and(|w| is_figure(&w.text)))
        .collect();
    let mut current: Vec<Word> = Vec::new();
    for (i, word) in run.into_iter().enumerate() {
        if let Some(last) = current.last() {
            let gap = gaps[i - 1];
            // A list marker is followed by its item's indent; a currency sign in a table stands
            // apart from its amount.
            let marker = current.len() == 1
                && crate::classify::list_marker(&format!("{} x", last.text)).is_some();
            let currency = current.len() == 1 && is_currency(&last.text);
            // A form's check box stands apart from the option before it and its own label.
            let mark = crate::marks::of_word(&word.text).is_some()
                || crate::marks::of_word(&last.text).is_some();
            let widest = if currency && is_figure(&word.text) {
                CURRENCY_FIGURE_GAP * size
            } else if currency {
                CURRENCY_GAP * size
            } else if marker || mark {
                MARKER_GAP * size
            } else {
                (segment_gap * size)
                    .max(2.5 * spacing[stretch[i - 1]])
                    .min(COLUMN_GAP * size)
            };
            // A currency sign between two figures opens the second's amount ("17 $ 4,600":
            // shares, then an amount; "$ 16,517 $ 20,779": two amounts).
            let between_figures = is_currency(&word.text)
                && (is_figure(&last.text) || last.text == "%")
                && before_figure[i];
            if gap > widest || between_figures {
                out.push(Segment::of(std::mem::take(&mut current)));
            }
        }
        current.push(word);
    }
    if !current.is_empty() {
        out.push(Segment::of(current));
    }
}

/// The word spacing of a stretch of a text layer's line from its `gaps` that could be spaces:
/// their median, unless most of them are several times wider than the others, which are
/// spaces (a table's header row of one-word cells, one of two words: "Mean Sample Beta Delta
/// north").
/// Justified text stretches all its spaces alike (those after a sentence more), so a space
/// far narrower than the median is a space between words of one cell.
fn word_spacing(gaps: Vec<f32>, size: f32) -> f32 {
    let least = gaps
        .iter()
        .copied()
        .filter(|&g| g >= MIN_SPACE * size)
        .fold(f32::MAX, f32::min);
    let narrow: Vec<f32> = gaps.iter().copied().filter(|&g| g <= 2.0 * least).collect();
    let wide = gaps.iter().filter(|&&g| g > SPACE_KINDS * least).count();
    if 2 * wide > gaps.len() {
        median(narrow)
    } else {
        median(gaps)
    }
}

/// The narrowest gap, in font sizes, that is a space between words (narrower ones are
/// kerning, a thin space, or a word the text layer drew in pieces).
const MIN_SPACE: f32 = 0.2;

/// How many times wider than a line's narrowest space its usual gap must be for the line to
/// hold two kinds of gaps (a justified line's spaces differ less).
const SPACE_KINDS: f32 = 4.0;

/// The segments of `words` and all of them grouped into rows (see [`rows`]).
pub fn segment_rows(words: &[Word]) -> (Vec<Segment>, Vec<Vec<usize>>) {
    let segments = segments(words);
    let all: Vec<usize> = (0..segments.len()).collect();
    let rows = rows(&segments, &all);
    (segments, rows)
}

/// Groups segments (indices into `segments`) into rows: segments that share a line, each row
/// sorted left to right, rows top to bottom.
pub fn rows(segments: &[Segment], ids: &[usize]) -> Vec<Vec<usize>> {
    let mut sorted: Vec<usize> = ids.to_vec();
    sorted.sort_by(|&a, &b| {
        let (ca, cb) = (
            geom::center(&segments[a].bbox).1,
            geom::center(&segments[b].bbox).1,
        );
        ca.total_cmp(&cb)
    });
    let mut rows: Vec<(BBox, Vec<usize>)> = Vec::new();
    for id in sorted {
        let b = segments[id].bbox;
        match rows.last_mut() {
            Some((rb, members)) if v_overlap_ratio(rb, &b) >= 0.5 => {
                // The row's vertical extent stays that of its first members, so that a row
                // does not creep down the page.
                rb[0] = rb[0].min(b[0]);
                rb[2] = rb[2].max(b[2]);
                members.push(id);
            }
            _ => rows.push((b, vec![id])),
        }
    }
    rows.into_iter()
        .map(|(_, mut members)| {
            members.sort_by(|&a, &b| segments[a].bbox[0].total_cmp(&segments[b].bbox[0]));
            members
        })
        .collect()
}

/// Groups segments into rows as the source runs: consecutive segments (by index, the source's
/// order) on the same line, left to right, are a row. For a text layer, whose order keeps
/// formulas and sub- and superscripts as written.
pub fn stream_rows(segments: &[Segment], ids: &[usize]) -> Vec<Vec<usize>> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut rows: Vec<Vec<usize>> = Vec::new();
    for id in sorted {
        let b = &segments[id].bbox;
        match rows.last_mut() {
            Some(row)
                if row.last().is_some_and(|&l| {
                    v_overlap_ratio(&segments[l].bbox, b) >= 0.5
                        && b[0] >= segments[l].bbox[2] - 0.5 * segments[l].size
                }) =>
            {
                row.push(id)
            }
            _ => rows.push(vec![id]),
        }
    }
    rows
}

/// A text layer's rows (as [`stream_rows`] groups them) with each row of one piece that comes
/// before rows set above it, and stands on the same line as a later row of several pieces, left
/// of all of it, moved to that row's start: a table's cell spanning rows is set in the middle
/// one, but comes first in the source.
pub fn join_row_labels(segments: &[Segment], rows: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut rows = rows.to_vec();
    for r in 0..rows.len().saturating_sub(1) {
        let [label] = rows[r][..] else { continue };
        let b = &segments[label].bbox;
        if segments[rows[r + 1][0]].bbox[3] > b[1] {
            continue;
        }
        let beside = (r + 1..rows.len()).find(|&k| {
            let first = &segments[rows[k][0]].bbox;
            rows[k].len() >= 2 && v_overlap_ratio(first, b) >= 0.5 && b[2] < first[0]
        });
        if let Some(k) = beside {
            rows[k].insert(0, label);
            rows[r].clear();
        }
    }
    rows.retain(|r| !r.is_empty());
    rows
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn word(text: &str, x0: f32, y0: f32, size: f32) -> Word {
        let w = text.chars().count() as f32 * size * 0.5;
        Word {
            text: text.into(),
            bbox: [x0, y0, x0 + w, y0 + size],
            size,
            bold: false,
            italic: false,
            mono: false,
            confidence: None,
            line_end: false,
        }
    }

    /// A line of words starting at x, at y, with ordinary spacing.
    pub fn line(text: &str, x: f32, y: f32, size: f32) -> Vec<Word> {
        let mut out = Vec::new();
        let mut x = x;
        for t in text.split(' ') {
            let w = word(t, x, y, size);
            x = w.bbox[2] + size * 0.3;
            out.push(w);
        }
        if let Some(last) = out.last_mut() {
            last.line_end = true;
        }
        out
    }

    /// OCR read as one line where two columns' lines meet across a narrow gutter.
    #[test]
    fn a_line_read_across_a_narrow_gutter_is_split_at_the_gutter() {
        let mut words = Vec::new();
        let ocr = |mut ws: Vec<Word>| {
            for w in &mut ws {
                w.confidence = Some(0.95);
            }
            ws
        };
        for i in 0..6 {
            let y = 100.0 + 12.0 * i as f32;
            // Left column ends by x = 195, right starts at 203: a gap of 0.8 sizes.
            let mut left = ocr(line("left text runs on here ok", 100.0, y, 10.0));
            let shift = 195.0 - left.last().unwrap().bbox[2];
            for w in &mut left {
                w.bbox[0] += shift;
                w.bbox[2] += shift;
            }
            let right = ocr(line("right text goes on", 203.0, y, 10.0));
            if i == 3 {
                left.last_mut().unwrap().line_end = false; // one line across both
            }
            words.extend(left);
            words.extend(right);
        }
        let segs = segments(&words);
        assert_eq!(
            segs.len(),
            12,
            "{:?}",
            segs.iter().map(Segment::text).collect::<Vec<_>>()
        );
        assert!(segs
            .iter()
            .all(|s| s.bbox[2] <= 196.0 || s.bbox[0] >= 202.0));
        // A gap as wide inside one column of text is a word space, not a gutter.
        let mut para = Vec::new();
        for i in 0..6 {
            let mut l = ocr(line(
                "some words of a paragraph set in a column",
                100.0,
                300.0 + 12.0 * i as f32,
                10.0,
            ));
            if i == 2 {
                for w in l.iter_mut().skip(3) {
                    w.bbox[0] += 5.0;
                    w.bbox[2] += 5.0;
                }
            }
            para.extend(l);
        }
        assert_eq!(segments(&para).len(), 6);
    }

    #[test]
    fn words_with_ordinary_spacing_make_one_segment_wide_gaps_split() {
        let mut words = line("Country", 72.0, 100.0, 10.0);
        words.extend(line("Continent", 200.0, 100.0, 10.0));
        words[0].line_end = false;
        let mut more = line("the quick brown fox", 72.0, 120.0, 10.0);
        words.append(&mut more);
        let segs = segments(&words);
        let texts: Vec<String> = segs.iter().map(Segment::text).collect();
        assert_eq!(texts, ["Country", "Continent", "the quick brown fox"]);
    }

    #[test]
    fn a_currency_sign_between_two_figures_opens_the_second_amount() {
        // "17" shares, then "$ 4,600"; and two amounts set close.
        for x in [117.0, 112.0] {
            let words = vec![
                word("17", 100.0, 100.0, 10.0),
                word("$", x, 100.0, 10.0),
                word("4,600", 140.0, 100.0, 10.0),
            ];
            let texts: Vec<String> = segments(&words).iter().map(Segment::text).collect();
            assert_eq!(texts, ["17", "$ 4,600"]);
        }
        // Not followed by a figure, it is the text's.
        let texts: Vec<String> = segments(&line("costs 17 $ more", 100.0, 100.0, 10.0))
            .iter()
            .map(Segment::text)
            .collect();
        assert_eq!(texts, ["costs 17 $ more"]);
    }

    #[test]
    fn justified_text_with_wide_even_spacing_stays_one_segment() {
        // A narrow justified line: every space stretched to about one font size.
        let mut words = Vec::new();
        let mut x = 72.0;
        for t in ["automatic", "segmentation", "of", "the", "brain", "in"] {
            let w = word(t, x, 100.0, 10.0);
            x = w.bbox[2] + 10.5;
            words.push(w);
        }
        assert_eq!(segments(&words).len(), 1);
    }

    #[test]
    fn a_table_row_set_about_a_font_size_apart_splits_at_its_columns() {
        // Cells 1.3 sizes apart, spaces inside a cell a quarter of one.
        let row = |cells: &[&str]| {
            let mut words = Vec::new();
            let mut x = 72.0;
            for cell in cells {
                for t in cell.split(' ') {
                    let w = word(t, x, 100.0, 10.0);
                    x = w.bbox[2] + 2.5;
                    words.push(w);
                }
                x += 13.0 - 2.5;
            }
            segments(&words)
                .iter()
                .map(Segment::text)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            row(&["0.084", "(144)", "$768", "—"]),
            ["0.084", "(144)", "$768", "—"]
        );
        assert_eq!(
            row(&["Total revenue", "1,250", "1,300"]),
            ["Total revenue", "1,250", "1,300"]
        );
        // A section's number a quad before its title is not a table's row.
        assert_eq!(row(&["1", "Introduction"]), ["1 Introduction"]);
        // A header row of one-word cells, where most gaps are between cells.
        assert_eq!(
            row(&["Mean", "Sample", "Beta", "Delta north"]),
            ["Mean", "Sample", "Beta", "Delta north"]
        );
        // One wide gap among spaces is a tab in a heading, not a column.
        assert_eq!(
            row(&["Item 1.", "Financial Statements"]),
            ["Item 1. Financial Statements"]
        );
    }

    #[test]
    fn rows_gather_segments_on_one_line() {
        let mut words = line("left one", 72.0, 100.0, 10.0);
        words.extend(line("right one", 300.0, 101.0, 10.0));
        words.extend(line("next", 72.0, 115.0, 10.0));
        let segs = segments(&words);
        let ids: Vec<usize> = (0..segs.len()).collect();
        assert_eq!(rows(&segs, &ids), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn numbers_and_cjk() {
        let segs = segments(&line("1,450", 0.0, 0.0, 10.0));
        assert!(segs[0].is_numeric());
        assert!(segments(&line("20.8%", 0.0, 0.0, 10.0))[0].is_numeric());
        assert!(!segments(&line("Q1 2026 results", 0.0, 0.0, 10.0))[0].is_numeric());
        let w = line("这是 中文", 0.0, 0.0, 10.0);
        assert_eq!(join_words(&w), "这是中文");
    }

    #[test]
    fn a_right_to_left_line_reads_from_its_right_end() {
        // Drawn left to right on the page: "עולם" then "שלום"; read: "שלום עולם".
        let w = line("עולם שלום", 0.0, 0.0, 10.0);
        assert_eq!(join_words(&w), "שלום עולם");
        // Drawn in reading order (right to left): one segment, the same text.
        let mut rtl = line("שלום", 100.0, 0.0, 10.0);
        rtl[0].line_end = false;
        rtl.extend(line("עולם", 76.0, 0.0, 10.0));
        let segs = segments(&rtl);
        assert_eq!(segs.len(), 1, "{segs:?}");
        assert_eq!(segs[0].text(), "שלום עולם");
        // A Latin name inside keeps its order; a column's width of white still splits.
        let w = line("עולם Tel Aviv שלום", 0.0, 0.0, 10.0);
        assert_eq!(join_words(&w), "שלום Tel Aviv עולם");
        // A number ending a sentence: its full stop stands left of it, and ends it in reading
        // order ("…in September 2023." in Arabic).
        let w = line(".2023 سبتمبر", 0.0, 0.0, 10.0);
        assert_eq!(join_words(&w), "سبتمبر 2023.");
        // A bracket drawn on its own shows its mirror image, and holds to what it encloses.
        let w = line("ובמתחרים). ) בשוק", 0.0, 0.0, 10.0);
        assert_eq!(join_words(&w), "בשוק (ובמתחרים).");
        let mut far = line("שלום", 300.0, 0.0, 10.0);
        far[0].line_end = false;
        far.extend(line("עולם", 40.0, 0.0, 10.0));
        assert_eq!(segments(&far).len(), 2);
    }
}
