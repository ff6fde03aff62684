//! Text recognition: each line is cut out, scaled to the model's height of 48 pixels and read in
//! batches of similar widths; the output, one distribution over the characters per step across
//! the line, is decoded greedily (CTC: repeats and blanks dropped). Where each character was read
//! gives the words' positions.

use horizon_layout::Word;
use image::{imageops, GrayImage};
use ort::value::TensorRef;

use crate::charset::{self, Mask};
use crate::detect::TextBox;
use crate::image_ops::crop;
use crate::{Line, Recognizer, Unavailable};

const HEIGHT: usize = 48;
/// Lines are read in batches of similar widths (sorted, so that little is padding) of at most
/// this many columns in all: on one thread a larger batch runs slower a line, as its tensors
/// outgrow the caches (8 lines of 1,600 pixels: 18% slower a line than one at a time).
const BATCH_COLUMNS: usize = 2048;
/// An accented letter read with at least this probability stays when a line is read with
/// English's characters (on 10 English pages: "für", "Hügel", "Galván", "Gómez" kept, none
/// invented; at 0.9 an "À" was).
const SURE_ACCENT: f32 = 0.99;
/// The least width a line is given: eight of the model's steps. PP-OCR pads every line to 320
/// (its training size), but a short line (a figure in a table, "$", "(665)") reads the same
/// padded to 64: on 10 pages at 200 dpi, 0.9494 similar against 0.9492 at 320, and a tenth
/// fewer columns to read (a fifth fewer for the accurate model, whose rereadings are mostly
/// short).
const MIN_WIDTH: usize = 64;
/// The widest line the model is given, in its pixels; wider ones are squeezed.
const MAX_WIDTH: usize = 3200;
/// A typical x-height is this share of the type's em (Helvetica 0.52, Times 0.45).
const X_HEIGHT_PER_EM: f32 = 0.52;
/// The least em a detected line's box height gives (its box holds ascenders, descenders and a
/// margin).
const BOX_PER_EM: f32 = 0.6;

/// A line as read, with the index of its box.
#[derive(Debug, Clone)]
pub struct Read {
    pub source: usize,
    pub bbox: [f32; 4],
    pub text: String,
    pub confidence: f32,
    pub words: Vec<Word>,
    /// The width of its strokes ÷ its x-height: larger in bold type.
    pub stroke: f32,
    /// Set vertically (read turned), and which way it was turned.
    pub vertical: bool,
    pub upward: bool,
    /// The same line read with English's characters only (when the recognizer was asked for
    /// it): taken instead when the page turns out to be English.
    pub english: Option<Box<Read>>,
    /// Read by Tesseract, whose confidence runs lower than the recognizer's for the same line.
    pub tesseract: bool,
}

impl Read {
    pub fn into_line(self) -> Line {
        Line {
            bbox: self.bbox,
            text: self.text,
            confidence: self.confidence,
            words: self.words,
        }
    }
}

fn fail(e: impl std::fmt::Display) -> Unavailable {
    Unavailable(format!("text recognition: {e}"))
}

/// Reads the boxes' lines in `image`. A vertical line is turned counter-clockwise to read (the
/// way CJK columns run, top to bottom), or clockwise with `upward` (Latin text set up a margin).
pub fn recognize(
    model: &mut Recognizer,
    image: &GrayImage,
    boxes: &[TextBox],
    upward: bool,
) -> Result<Vec<Read>, Unavailable> {
    // Cut out and scale each line; a box much taller than wide holds vertical text, turned to
    // read left to right.
    let crops: Vec<(GrayImage, bool, (f32, f32))> = boxes
        .iter()
        .map(|b| {
            let c = crop(image, b.bbox);
            let vertical = is_vertical(c.width() as f32, c.height() as f32);
            let c = match (vertical, upward) {
                (false, _) => c,
                (true, false) => imageops::rotate270(&c),
                (true, true) => imageops::rotate90(&c),
            };
            let x_height = x_height(&c);
            let width = ((HEIGHT as f32 * c.width() as f32 / c.height().max(1) as f32).ceil()
                as usize)
                .clamp(1, MAX_WIDTH);
            (
                imageops::resize(
                    &c,
                    width as u32,
                    HEIGHT as u32,
                    imageops::FilterType::Triangle,
                ),
                vertical,
                x_height,
            )
        })
        .collect();
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by_key(|&i| crops[i].0.width());
    let mut reads: Vec<Option<Read>> = vec![None; boxes.len()];
    let padded = |i: usize| (crops[i].0.width() as usize).max(MIN_WIDTH);
    for batch in batches(&order, padded) {
        let width = batch.iter().map(|&i| padded(i)).max().unwrap_or(MIN_WIDTH);
        let mut data = vec![0f32; batch.len() * 3 * HEIGHT * width];
        for (k, &i) in batch.iter().enumerate() {
            let c = &crops[i].0;
            let cw = c.width() as usize;
            for ch in 0..3 {
                let base = (k * 3 + ch) * HEIGHT * width;
                for (y, row) in c.as_raw().chunks(cw).enumerate() {
                    for (x, &p) in row.iter().enumerate() {
                        data[base + y * width + x] = p as f32 / 127.5 - 1.0;
                    }
                }
            }
        }
        let input =
            TensorRef::from_array_view(([batch.len(), 3, HEIGHT, width], &*data)).map_err(fail)?;
        let classes_of = Classes {
            chars: &model.chars,
            only: model.only.as_ref(),
            english: model.english.as_ref(),
        };
        let outputs = model.session.run(ort::inputs![input]).map_err(fail)?;
        let (shape, probs) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
        if shape.len() != 3 {
            return Err(fail(format!("unexpected output shape {shape:?}")));
        }
        let (steps, classes) = (shape[1] as usize, shape[2] as usize);
        for (k, &i) in batch.iter().enumerate() {
            let rows = &probs[k * steps * classes..(k + 1) * steps * classes];
            let (chars, english) = decode(rows, steps, classes, &classes_of);
            let vertical = crops[i].1;
            // From the model's steps back to the box: step t covers width/steps model pixels,
            // and the crop was scaled from the box's width to its own.
            let b = boxes[i].bbox;
            let scaled = crops[i].0.width() as f32;
            let per_step = width as f32 / steps.max(1) as f32;
            let to_x = |t: f32| b[0] + (t * per_step).min(scaled) / scaled * (b[2] - b[0]);
            let (x_height, stroke) = crops[i].2;
            let em = x_height / X_HEIGHT_PER_EM;
            let stroke = if x_height > 0.0 {
                stroke / x_height
            } else {
                0.0
            };
            let read = |chars: &[(String, usize, f32)]| Read {
                upward: vertical && upward,
                stroke,
                ..line(i, b, em, chars, vertical, &to_x)
            };
            reads[i] = Some(Read {
                english: english.map(|e| Box::new(read(&e))),
                tesseract: false,
                ..read(&chars)
            });
        }
    }
    Ok(reads.into_iter().flatten().collect())
}

/// `order`'s lines (sorted by width) in batches of at most [`BATCH_COLUMNS`] columns, each line
/// as wide as the batch's widest (`width` gives a line's); a line wider than that is alone.
fn batches(order: &[usize], width: impl Fn(usize) -> usize) -> Vec<&[usize]> {
    let mut out = Vec::new();
    let mut rest = order;
    while !rest.is_empty() {
        // Sorted by width: a batch's last line is its widest, and sets its width.
        let mut n = 1;
        while n < rest.len() && (n + 1) * width(rest[n]) <= BATCH_COLUMNS {
            n += 1;
        }
        let (batch, tail) = rest.split_at(n);
        out.push(batch);
        rest = tail;
    }
    out
}

/// A line's x-height (the height of most of its letters, column by column: capitals and
/// figures only when they are most of it) and the typical width of its strokes, in pixels.
/// Ink that runs in from the crop's top or bottom edge, short of its middle, is left out.
fn x_height(line: &GrayImage) -> (f32, f32) {
    let (w, h) = (line.width() as usize, line.height() as usize);
    if w == 0 || h == 0 {
        return (0.0, 0.0);
    }
    let raw = line.as_raw();
    let (lo, hi) = raw
        .iter()
        .fold((255u8, 0u8), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    if hi.saturating_sub(lo) < 40 {
        return (0.0, 0.0);
    }
    let threshold = ((lo as u32 + hi as u32) / 2) as u8;
    let dark = |x: usize, y: usize| raw[y * w + x] < threshold;
    let (mut tops, mut bottoms, mut extents) = (Vec::new(), Vec::new(), Vec::new());
    for x in 0..w {
        // Ink running in from the crop's edge, short of its middle, is a neighbouring line's
        // (its descenders above, its ascenders below); a tight crop's own letters run further.
        let from_top = (0..h).find(|&y| !dark(x, y)).unwrap_or(h);
        let from_top = if from_top < h / 2 { from_top } else { 0 };
        let from_bottom = (0..h).rev().find(|&y| !dark(x, y)).map_or(0, |y| y + 1);
        let from_bottom = if from_bottom > h - h / 2 {
            from_bottom
        } else {
            h
        };
        let top = (from_top..from_bottom).find(|&y| dark(x, y));
        let bottom = (from_top..from_bottom).rev().find(|&y| dark(x, y));
        if let (Some(t), Some(b)) = (top, bottom) {
            tops.push(t);
            bottoms.push(b);
            extents.push(b - t + 1);
        }
    }
    if extents.is_empty() {
        return (0.0, 0.0);
    }
    let median = |mut v: Vec<usize>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let x_height = median(extents);
    let (a, b) = (median(tops), median(bottoms));
    // Stroke width: the middle half of the runs of ink along the middle rows of the x-band.
    let mut runs = Vec::new();
    let (m0, m1) = (a + (b.saturating_sub(a)) / 4, b - (b.saturating_sub(a)) / 4);
    for y in m0..=m1.min(h - 1) {
        let mut run = 0;
        for x in 0..w {
            if dark(x, y) {
                run += 1;
            } else if run > 0 {
                runs.push(run);
                run = 0;
            }
        }
    }
    runs.sort_unstable();
    let middle =
        &runs[runs.len() / 4..(runs.len() * 3 / 4).max(runs.len() / 4 + 1).min(runs.len())];
    let stroke = if middle.is_empty() {
        0.0
    } else {
        middle.iter().sum::<usize>() as f32 / middle.len() as f32
    };
    (x_height as f32, stroke)
}

/// A recognizer's characters, and the masks it reads with.
struct Classes<'a> {
    chars: &'a [String],
    only: Option<&'a Mask>,
    english: Option<&'a Mask>,
}

/// A line's characters, each with its step and probability.
type Chars = Vec<(String, usize, f32)>;

/// Greedy CTC: the best class at each step (of the recognizer's `only` classes, when it has
/// them); repeats and blanks dropped. With the recognizer's `english` mask, the line read with
/// English's characters too.
fn decode(rows: &[f32], steps: usize, classes: usize, model: &Classes) -> (Chars, Option<Chars>) {
    let mut best = Vec::with_capacity(steps);
    let mut english = model.english.as_ref().map(|_| Vec::with_capacity(steps));
    for t in 0..steps {
        let row = &rows[t * classes..(t + 1) * classes];
        let top = match model.only {
            Some(mask) => mask.best(row),
            None => row
                .iter()
                .enumerate()
                .fold(
                    (0usize, f32::MIN),
                    |acc, (j, &v)| {
                        if v > acc.1 {
                            (j, v)
                        } else {
                            acc
                        }
                    },
                ),
        };
        if let (Some(out), Some(mask)) = (english.as_mut(), model.english) {
            // A name's accent, read with near certainty, stays in English text ("Güsten").
            let sure_accent = top.1 >= SURE_ACCENT
                && model
                    .chars
                    .get(top.0)
                    .is_some_and(|c| !c.is_empty() && c.chars().all(charset::accented));
            out.push(if mask.allows(top.0) || sure_accent {
                top
            } else {
                mask.best(row)
            });
        }
        best.push(top);
    }
    let collapse = |best: &[(usize, f32)]| {
        let mut out = Vec::new();
        let mut previous = 0usize;
        for (t, &(class, p)) in best.iter().enumerate() {
            if class != 0 && class != previous {
                if let Some(c) = model.chars.get(class) {
                    out.push((c.clone(), t, p));
                }
            }
            previous = class;
        }
        out
    };
    (collapse(&best), english.map(|e| collapse(&e)))
}

/// A word of the line in box `b` whose type's em is `em` (0: not measured), from `x0` to `x1`:
/// as high as the type round the line's middle (a vertical line's words take its box).
#[allow(clippy::too_many_arguments)]
fn word(
    b: [f32; 4],
    em: f32,
    vertical: bool,
    text: String,
    x0: f32,
    x1: f32,
    confidence: f32,
    last: bool,
) -> Word {
    // Where the x-height could not be measured (too faint), the box's height stands in.
    let box_height = if vertical { b[2] - b[0] } else { b[3] - b[1] };
    let size = if em >= 2.0 { em } else { 0.7 * box_height }.max(1.0);
    let cy = (b[1] + b[3]) / 2.0;
    Word {
        text,
        bbox: if vertical {
            b
        } else {
            [
                x0.max(b[0]),
                cy - 0.55 * size,
                x1.min(b[2]).max(x0 + 1.0),
                cy + 0.55 * size,
            ]
        },
        size,
        bold: false,
        italic: false,
        mono: false,
        confidence: Some(confidence),
        line_end: last,
    }
}

/// The line in box `b` of `image` as Tesseract read it, given its words in the line's own
/// pixels, whose left edge is `left`: its text is its words, in Tesseract's order (reading
/// order), and its confidence theirs, each weighed by its length.
pub fn tesseract_line(
    source: usize,
    b: [f32; 4],
    line_image: &GrayImage,
    left: f32,
    words: Vec<crate::tesseract::Read>,
) -> Read {
    let (x_height, stroke) = x_height(line_image);
    // The scripts Tesseract reads here are not all Latin's shape: Arabic's letters stand on a
    // thin band (its "x-height" is half an em's), so the line's box bounds the size from below
    // (a detected box is about 1.5 em high).
    let em = (x_height / X_HEIGHT_PER_EM).max(BOX_PER_EM * (b[3] - b[1]));
    let n = words.len();
    let letters: usize = words.iter().map(|w| w.text.chars().count()).sum();
    let confidence = words
        .iter()
        .map(|w| w.confidence * w.text.chars().count() as f32)
        .sum::<f32>()
        / letters.max(1) as f32;
    let text = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let words = words
        .into_iter()
        .enumerate()
        .map(|(k, w)| {
            let (x0, x1) = (left + w.bbox[0], left + w.bbox[2]);
            word(b, em, false, w.text, x0, x1, w.confidence, k + 1 == n)
        })
        .collect();
    Read {
        text,
        confidence,
        words,
        stroke: if x_height > 0.0 {
            stroke / x_height
        } else {
            0.0
        },
        tesseract: true,
        ..unread(source, b)
    }
}

/// Whether a line's box, `w` by `h` pixels, holds vertical text: much taller than wide.
fn is_vertical(w: f32, h: f32) -> bool {
    h > 1.5 * w && h > (2 * HEIGHT / 3) as f32
}

/// The line in box `b`, not read yet (Tesseract reads it): a line much taller than wide is
/// vertical, and Tesseract leaves it.
pub fn unread(source: usize, b: [f32; 4]) -> Read {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    Read {
        source,
        bbox: b,
        text: String::new(),
        confidence: 0.0,
        words: Vec::new(),
        stroke: 0.0,
        vertical: is_vertical(w, h),
        upward: false,
        english: None,
        tesseract: false,
    }
}

/// A line's text and words from its characters.
fn line(
    source: usize,
    b: [f32; 4],
    em: f32,
    chars: &[(String, usize, f32)],
    vertical: bool,
    to_x: &impl Fn(f32) -> f32,
) -> Read {
    let text: String = chars
        .iter()
        .map(|c| c.0.as_str())
        .collect::<String>()
        .trim()
        .to_owned();
    let confidence = if chars.is_empty() {
        0.0
    } else {
        chars.iter().map(|c| c.2).sum::<f32>() / chars.len() as f32
    };
    let word = |text: String, x0: f32, x1: f32, conf: f32, last: bool| {
        word(b, em, vertical, text, x0, x1, conf, last)
    };
    let mut words = Vec::new();
    if vertical {
        if !text.is_empty() {
            words.push(word(text.clone(), b[0], b[2], confidence, true));
        }
    } else {
        // Words are the runs between spaces; a word starts half a step before its first
        // character and ends half a step after its last.
        let mut current: Vec<&(String, usize, f32)> = Vec::new();
        let mut groups: Vec<Vec<&(String, usize, f32)>> = Vec::new();
        for c in chars {
            if c.0.trim().is_empty() {
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            groups.push(current);
        }
        let n = groups.len();
        for (k, g) in groups.into_iter().enumerate() {
            let text: String = g.iter().map(|c| c.0.as_str()).collect();
            let first = g.first().map(|c| c.1).unwrap_or(0) as f32;
            let last = g.last().map(|c| c.1).unwrap_or(0) as f32;
            let conf = g.iter().map(|c| c.2).sum::<f32>() / g.len().max(1) as f32;
            words.push(word(
                text,
                to_x((first - 0.5).max(0.0)),
                to_x(last + 1.5),
                conf,
                k + 1 == n,
            ));
        }
    }
    Read {
        source,
        bbox: b,
        text,
        confidence,
        words,
        stroke: 0.0,
        vertical,
        upward: false,
        english: None,
        tesseract: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_lines_share_a_batch_and_long_ones_are_read_alone() {
        // Widths as padded, sorted: six of 320 columns fit 2,048; 700 × 2 fit, × 3 do not.
        let widths = [320, 320, 320, 320, 320, 320, 320, 700, 700, 700, 1600, 3200];
        let order: Vec<usize> = (0..widths.len()).collect();
        let sizes: Vec<usize> = batches(&order, |i| widths[i])
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, [6, 2, 2, 1, 1]);
        let all: Vec<usize> = batches(&order, |i| widths[i]).concat();
        assert_eq!(all, order, "every line once, in order");
        assert!(batches(&[], |_| 320).is_empty());
    }

    #[test]
    fn ctc_drops_blanks_and_repeats_and_words_get_their_places() {
        let chars: Vec<String> = ["", "a", "b", " "].iter().map(|s| s.to_string()).collect();
        // steps: a a _ b _ space _ a
        let best = [1, 1, 0, 2, 0, 3, 0, 1];
        let mut rows = vec![0.0f32; best.len() * 4];
        for (t, &c) in best.iter().enumerate() {
            rows[t * 4 + c] = 0.9;
        }
        let classes = Classes {
            chars: &chars,
            only: None,
            english: None,
        };
        let (d, english) = decode(&rows, best.len(), 4, &classes);
        let text: String = d.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(text, "ab a");
        assert!(english.is_none());
        let r = line(0, [0.0, 0.0, 80.0, 20.0], 15.0, &d, false, &|t| t * 10.0);
        assert_eq!(
            r.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(),
            ["ab", "a"]
        );
        assert!(r.words[0].bbox[2] <= r.words[1].bbox[0] + 10.0);
        assert!(r.words[1].line_end && !r.words[0].line_end);
        assert!((r.confidence - 0.9).abs() < 1e-6);
    }

    #[test]
    fn a_line_is_read_with_english_s_characters_too_or_with_the_job_s_only() {
        let chars: Vec<String> = ["", "a", "à", "n", " "]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // "à n" where "a" came a close second to "à".
        let mut rows = vec![0.0f32; 3 * 5];
        rows[2] = 0.6;
        rows[1] = 0.3;
        rows[5 + 4] = 0.9;
        rows[10 + 3] = 0.9;
        let text = |c: &Chars| c.iter().map(|c| c.0.as_str()).collect::<String>();
        let english = Mask::of(&chars, crate::charset::english);
        let all = Classes {
            chars: &chars,
            only: None,
            english: Some(&english),
        };
        let (first, alternative) = decode(&rows, 3, 5, &all);
        assert_eq!(text(&first), "à n");
        assert_eq!(alternative.as_ref().map(text).as_deref(), Some("a n"));
        let only = Classes {
            chars: &chars,
            only: Some(&english),
            english: None,
        };
        let (first, alternative) = decode(&rows, 3, 5, &only);
        assert_eq!(text(&first), "a n");
        assert!(alternative.is_none());
        // An accent read with near certainty (a name's) stays in the English reading.
        rows[2] = 0.995;
        rows[1] = 0.004;
        let (first, alternative) = decode(&rows, 3, 5, &all);
        assert_eq!(text(&first), "à n");
        assert_eq!(alternative.as_ref().map(text).as_deref(), Some("à n"));
    }

    #[test]
    fn a_line_s_x_height_leaves_out_its_neighbours_ink() {
        // Letters 4 pixels wide and 10 high in a crop 30 high; the line above's descenders run
        // in from the crop's top edge, 8 pixels down, over every other letter and between the
        // letters, where the line below's ascenders run in from the bottom edge too.
        let mut img = GrayImage::from_pixel(200, 30, image::Luma([250]));
        let ink = |img: &mut GrayImage, x: u32, ys: std::ops::Range<u32>| {
            for y in ys {
                img.put_pixel(x, y, image::Luma([10]));
            }
        };
        for letter in 0..20u32 {
            let x0 = letter * 10;
            for x in x0..x0 + 4 {
                ink(&mut img, x, 12..22);
                if letter % 2 == 0 {
                    ink(&mut img, x, 0..8);
                }
            }
            for x in x0 + 4..x0 + 10 {
                ink(&mut img, x, 0..5);
                ink(&mut img, x, 26..30);
            }
        }
        assert_eq!(x_height(&img).0, 10.0);
    }
}
