//! Check boxes in a page's pixels: small squares drawn as an outline, about the size of the
//! text beside them, empty or with a tick, a cross or a blot inside. The recognizer reads them
//! as stray characters ("□", "口", "V") or not at all; here they become selection marks in
//! their places, and what the recognizer made of them goes.

use horizon_layout::{marks, BBox, Word};
use image::GrayImage;

/// A box's side is at least this share of the text's usual height, and at most ...
const MIN_SIDE: f32 = 0.4;
const MAX_SIDE: f32 = 1.6;
/// ... and never under this many pixels.
const MIN_PIXELS: usize = 8;
/// Each side of the outline is dark along at least this share of its length.
const EDGE: f32 = 0.9;
/// Inside the outline, at least this share of the pixels dark is a mark; more than the
/// second is a filled square (a bullet), not a box.
const TICKED: f32 = 0.06;
const FILLED: f32 = 0.6;
/// What a recognizer may read a box as; a box read as other letters, or inside a word (the
/// CJK "口" of "入口处"), is a letter and stays one.
const BOX_LIKE: &str = "□■☐☑☒⊠口回囗区図田OoQ0DV[]|Il✓✔vXx×";

/// The check boxes of a straightened page image among its words (both in its pixels): the
/// words as they should be, with each box in its place as a selection mark.
pub fn place(image: &GrayImage, words: Vec<Word>) -> Vec<Word> {
    let heights: Vec<f32> = words
        .iter()
        .filter(|w| w.text.chars().count() >= 2)
        .map(|w| w.bbox[3] - w.bbox[1])
        .collect();
    let usual = horizon_layout::geom::median(heights);
    if usual <= 0.0 {
        return words;
    }
    let mut words = words;
    for (selected, bbox) in find(image, usual) {
        if let Some(kept) = without_box(&words, &bbox) {
            words = kept;
            marks::insert(&mut words, selected, bbox);
        }
    }
    words
}

/// The words with what lies inside `bbox` taken out, or `None` when that is more than a box
/// read as a character (a letter of a word).
fn without_box(words: &[Word], bbox: &BBox) -> Option<Vec<Word>> {
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        if horizon_layout::geom::common_area(&w.bbox, bbox) <= 0.0 {
            out.push(w.clone());
            continue;
        }
        // Where each character lies, taking them as equally wide.
        let chars: Vec<char> = w.text.chars().collect();
        let step = (w.bbox[2] - w.bbox[0]) / chars.len().max(1) as f32;
        let inside = |i: usize| {
            let centre = w.bbox[0] + step * (i as f32 + 0.5);
            centre >= bbox[0] && centre <= bbox[2]
        };
        let taken: Vec<usize> = (0..chars.len()).filter(|&i| inside(i)).collect();
        let kept: Vec<usize> = (0..chars.len()).filter(|&i| !inside(i)).collect();
        // A box stands apart from its label, or read with it as one word before it ("□No");
        // read after a word's letters, it frames the word's last character (a link's box
        // around a reference's number: "Table 1" read "TableI"), as inside a word it is one.
        let after_letters = taken.iter().any(|&i| kept.first().is_some_and(|&k| k < i));
        if after_letters || taken.iter().any(|&i| !BOX_LIKE.contains(chars[i])) {
            return None;
        }
        if let (Some(&first), Some(&last)) = (kept.first(), kept.last()) {
            out.push(Word {
                text: kept.iter().map(|&i| chars[i]).collect(),
                bbox: [
                    w.bbox[0] + step * first as f32,
                    w.bbox[1],
                    w.bbox[0] + step * (last + 1) as f32,
                    w.bbox[3],
                ],
                ..w.clone()
            });
        } else if w.line_end {
            // The box was the line's last word: the word before it ends the line now.
            if let Some(prev) = out.last_mut() {
                prev.line_end = true;
            }
        }
    }
    Some(out)
}

/// The boxes of a page whose text is `usual` pixels high: whether each is marked, and its box.
fn find(image: &GrayImage, usual: f32) -> Vec<(bool, BBox)> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let min_side = ((usual * MIN_SIDE) as usize).max(MIN_PIXELS);
    let max_side = (usual * MAX_SIDE) as usize;
    if w < min_side || h < min_side || max_side < min_side {
        return Vec::new();
    }
    let threshold = crate::rules::otsu(image);
    let raw = image.as_raw();
    let dark = |x: usize, y: usize| raw[y * w + x] < threshold;
    let mut seen = vec![false; w * h];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for y0 in 0..h {
        for x0 in 0..w {
            if seen[y0 * w + x0] || !dark(x0, y0) {
                continue;
            }
            // The dark component from here (8-connected): its bounding box.
            let (mut left, mut top, mut right, mut bottom) = (x0, y0, x0, y0);
            seen[y0 * w + x0] = true;
            stack.push((x0, y0));
            while let Some((x, y)) = stack.pop() {
                left = left.min(x);
                right = right.max(x);
                top = top.min(y);
                bottom = bottom.max(y);
                for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                        let i = ny * w + nx;
                        if !seen[i] && dark(nx, ny) {
                            seen[i] = true;
                            stack.push((nx, ny));
                        }
                    }
                }
            }
            let (bw, bh) = (right - left + 1, bottom - top + 1);
            let square = bw * 4 >= bh * 3 && bh * 4 >= bw * 3;
            if !square || bw.max(bh) > max_side || bw.min(bh) < min_side {
                continue;
            }
            if let Some(selected) = outline(&dark, [left, top, right, bottom]) {
                out.push((
                    selected,
                    [
                        left as f32,
                        top as f32,
                        (right + 1) as f32,
                        (bottom + 1) as f32,
                    ],
                ));
            }
        }
    }
    out
}

/// Whether the square `[left, top, right, bottom]` (inclusive pixels) is drawn as a box: each
/// side dark along nearly its whole length. Then whether something is drawn inside it.
fn outline(dark: &impl Fn(usize, usize) -> bool, b: [usize; 4]) -> Option<bool> {
    let [left, top, right, bottom] = b;
    let side = (right - left).min(bottom - top) + 1;
    let band = (side / 6).max(2);
    let along = |n: usize, hit: &dyn Fn(usize) -> bool| {
        (0..n).filter(|&i| hit(i)).count() as f32 >= EDGE * n as f32
    };
    let (bw, bh) = (right - left + 1, bottom - top + 1);
    let row_dark = |y0: usize, x: usize| (y0..y0 + band).any(|y| dark(x, y));
    let col_dark = |x0: usize, y: usize| (x0..x0 + band).any(|x| dark(x, y));
    let edges = along(bw, &|i| row_dark(top, left + i))
        && along(bw, &|i| row_dark(bottom + 1 - band, left + i))
        && along(bh, &|i| col_dark(left, top + i))
        && along(bh, &|i| col_dark(right + 1 - band, top + i));
    if !edges {
        return None;
    }
    // Inside the outline's band and a pixel more.
    let inset = band + 1;
    if bw <= 2 * inset || bh <= 2 * inset {
        return None;
    }
    let (mut inked, mut all) = (0usize, 0usize);
    for y in top + inset..=bottom - inset {
        for x in left + inset..=right - inset {
            all += 1;
            inked += dark(x, y) as usize;
        }
    }
    let share = inked as f32 / all.max(1) as f32;
    (share <= FILLED).then_some(share >= TICKED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A white page with text-like blots and boxes of side 20 drawn at the given places.
    fn page(boxes: &[(u32, u32, &str)]) -> GrayImage {
        let mut img = GrayImage::from_pixel(300, 100, Luma([240]));
        for &(x0, y0, inside) in boxes {
            for i in 0..20 {
                for t in 0..2 {
                    img.put_pixel(x0 + i, y0 + t, Luma([20]));
                    img.put_pixel(x0 + i, y0 + 19 - t, Luma([20]));
                    img.put_pixel(x0 + t, y0 + i, Luma([20]));
                    img.put_pixel(x0 + 19 - t, y0 + i, Luma([20]));
                }
            }
            match inside {
                "cross" => {
                    for i in 5..15 {
                        img.put_pixel(x0 + i, y0 + i, Luma([20]));
                        img.put_pixel(x0 + i + 1, y0 + i, Luma([20]));
                        img.put_pixel(x0 + 19 - i, y0 + i, Luma([20]));
                        img.put_pixel(x0 + 18 - i, y0 + i, Luma([20]));
                    }
                }
                "filled" => {
                    for y in 2..18 {
                        for x in 2..18 {
                            img.put_pixel(x0 + x, y0 + y, Luma([20]));
                        }
                    }
                }
                _ => {}
            }
        }
        img
    }

    fn word(text: &str, bbox: BBox, line_end: bool) -> Word {
        Word {
            text: text.into(),
            bbox,
            size: 22.0,
            bold: false,
            italic: false,
            mono: false,
            confidence: Some(0.9),
            line_end,
        }
    }

    #[test]
    fn boxes_become_marks_in_place_and_what_was_read_of_them_goes() {
        let img = page(&[(10, 40, "cross"), (100, 40, ""), (200, 40, "filled")]);
        let words = vec![
            word("Yes", [35.0, 38.0, 80.0, 62.0], false),
            // The recognizer read the empty box and its label as one word.
            word("□No", [98.0, 38.0, 160.0, 62.0], false),
            word("More", [225.0, 38.0, 290.0, 62.0], true),
        ];
        let placed = place(&img, words);
        let texts: Vec<&str> = placed.iter().map(|w| w.text.as_str()).collect();
        // The filled square is a bullet, not a box.
        assert_eq!(texts, ["☒", "Yes", "☐", "No", "More"]);
        assert!(placed[3].bbox[0] >= 118.0, "{:?}", placed[3].bbox);
    }

    #[test]
    fn a_box_read_at_the_end_of_a_word_frames_its_last_character() {
        // A link's box around a reference's number, read with the word before it.
        let img = page(&[(100, 40, "cross")]);
        let words = vec![word("TableI", [20.0, 38.0, 120.0, 62.0], true)];
        let placed = place(&img, words.clone());
        assert_eq!(placed, words);
    }

    #[test]
    fn a_square_read_inside_a_word_is_a_letter() {
        let img = page(&[(100, 40, "")]);
        let words = vec![word("入口处", [80.0, 38.0, 140.0, 62.0], true)];
        let placed = place(&img, words.clone());
        assert_eq!(placed, words);
    }
}
