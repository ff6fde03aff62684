//! Selection marks: check boxes and radio buttons. Whatever finds one (a ballot-box glyph in
//! the text layer, a form field, a square drawn on the page or seen in a scan) puts it among
//! the page's words as one of the ballot-box characters, in its place on its line. So it reads
//! where it stands ("☒ Yes ☐ No"), Markdown shows it as `[x]` / `[ ]`, and each chunk lists
//! the marks in its text with their state and box.

use crate::model::{BBox, Mark, Word};

/// The character a selected mark is written as when it has none of its own (a form field, a
/// drawn or scanned box).
pub const SELECTED: char = '☒';
/// ... and an unselected one.
pub const UNSELECTED: char = '☐';

/// Whether `c` is a selection mark, and if so whether it is selected.
pub fn state(c: char) -> Option<bool> {
    match c {
        '☐' => Some(false),
        '☑' | '☒' | '⊠' => Some(true),
        _ => None,
    }
}

/// Whether a word is a selection mark, and if so whether it is selected.
pub fn of_word(text: &str) -> Option<bool> {
    let mut chars = text.chars();
    let c = chars.next()?;
    chars.next().is_none().then(|| state(c)).flatten()
}

/// The number of selection marks in a text.
pub fn count(text: &str) -> usize {
    text.chars().filter(|&c| state(c).is_some()).count()
}

/// The selection marks among a page's words, in reading order (line by line, each left to
/// right).
pub fn on_page(words: &[Word]) -> Vec<Mark> {
    // (A comparison "same line, else higher" is no total order: sorting by it may panic.)
    let marks: Vec<Mark> = words
        .iter()
        .filter_map(|w| {
            of_word(&w.text).map(|selected| Mark {
                selected,
                bbox: w.bbox,
            })
        })
        .collect();
    crate::geom::in_lines(marks, |m| m.bbox)
}

/// A mark found apart from the text (a form field, a drawn or scanned box) as a word, put
/// among `words` in its place: before the first word to its right on its line, else after the
/// last word of its line, else before the first line below it. Where a mark is already (a
/// form field over the square its page draws), the first found stands.
pub fn insert(words: &mut Vec<Word>, selected: bool, bbox: BBox) {
    let area = |b: &BBox| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    let there = words.iter().any(|w| {
        of_word(&w.text).is_some()
            && crate::geom::common_area(&w.bbox, &bbox) >= 0.5 * area(&bbox).min(area(&w.bbox))
    });
    if there {
        return;
    }
    let mark = Word {
        text: if selected { SELECTED } else { UNSELECTED }.to_string(),
        bbox,
        size: bbox[3] - bbox[1],
        bold: false,
        italic: false,
        mono: false,
        confidence: None,
        line_end: false,
    };
    let on_line = |w: &Word| crate::geom::v_overlap_ratio(&w.bbox, &bbox) >= 0.5;
    let centre = (bbox[0] + bbox[2]) / 2.0;
    let right = words
        .iter()
        .enumerate()
        .filter(|(_, w)| on_line(w) && (w.bbox[0] + w.bbox[2]) / 2.0 > centre)
        .min_by(|a, b| a.1.bbox[0].total_cmp(&b.1.bbox[0]))
        .map(|(i, _)| i);
    if let Some(i) = right {
        words.insert(i, mark);
    } else if let Some(last) = words.iter().rposition(on_line) {
        // After the last word of its line: the mark ends the line now.
        let line_end = std::mem::take(&mut words[last].line_end);
        words.insert(last + 1, Word { line_end, ..mark });
    } else {
        let below = words.iter().position(|w| w.bbox[1] >= bbox[3]);
        let line_end = true;
        words.insert(below.unwrap_or(words.len()), Word { line_end, ..mark });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, bbox: BBox, line_end: bool) -> Word {
        Word {
            text: text.into(),
            bbox,
            size: 10.0,
            bold: false,
            italic: false,
            mono: false,
            confidence: None,
            line_end,
        }
    }

    #[test]
    fn ballot_boxes_are_marks_and_other_squares_are_not() {
        assert_eq!(of_word("☐"), Some(false));
        assert_eq!(of_word("☑"), Some(true));
        assert_eq!(of_word("☒"), Some(true));
        // Squares and circles are bullets as often as boxes: not marks.
        assert_eq!(of_word("□"), None);
        assert_eq!(of_word("○"), None);
        assert_eq!(of_word("☐☐"), None);
        assert_eq!(count("☒ Yes ☐ No"), 2);
    }

    #[test]
    fn a_found_mark_goes_in_its_place_on_its_line() {
        let mut words = vec![
            word("Agree:", [10.0, 0.0, 40.0, 10.0], false),
            word("Yes", [60.0, 0.0, 80.0, 10.0], false),
            word("No", [100.0, 0.0, 115.0, 10.0], true),
            word("Signed", [10.0, 20.0, 40.0, 30.0], true),
        ];
        insert(&mut words, true, [46.0, 0.5, 55.0, 9.5]);
        insert(&mut words, false, [86.0, 0.5, 95.0, 9.5]);
        insert(&mut words, false, [120.0, 0.5, 129.0, 9.5]);
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Agree:", "☒", "Yes", "☐", "No", "☐", "Signed"]);
        // The mark after the line's last word ends the line in its place.
        assert!(!words[4].line_end && words[5].line_end);
        // A mark on no line goes before the first line below it.
        insert(&mut words, true, [10.0, 12.0, 18.0, 19.0]);
        assert_eq!(words[6].text, "☒");
        // A second find of the same box adds nothing.
        insert(&mut words, false, [46.5, 0.5, 55.0, 9.5]);
        assert_eq!(words.len(), 8);
        let marks = on_page(&words);
        assert_eq!(
            marks.iter().map(|m| m.selected).collect::<Vec<_>>(),
            [true, false, false, true]
        );
        // Boxes whose lines drift (each overlapping its neighbour's, not the next's) sort
        // without a panic, top line first.
        let drifting: Vec<Word> = (0..40)
            .map(|i| {
                let (x, y) = ((i % 7) as f32 * 20.0, i as f32 * 4.0);
                word("☐", [x, y, x + 9.0, y + 9.0], false)
            })
            .collect();
        let sorted = on_page(&drifting);
        assert_eq!(sorted.len(), 40);
        assert_eq!(sorted[0].bbox[1], 0.0);
    }
}
