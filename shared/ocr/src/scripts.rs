//! The scripts the PP-OCR recognizer has no letter of (Hangul, Arabic, Cyrillic, Hebrew,
//! Devanagari, Thai), read with Tesseract: which lines it reads, which reading is kept, and how
//! a page's script and orientation are found when the job names no language.

use horizon_layout::BBox;
use image::GrayImage;

use horizon_layout::languages::Script;

use crate::{charset, detect, image_ops, recognize, tesseract, Engine};

/// White round a line given to Tesseract, in pixels: it finds its text lines in what it is
/// given, and needs to see where one ends.
const TESSERACT_MARGIN: u32 = 10;

/// A line the recognizer reads with less confidence than this (its characters' mean) may be in
/// a script it has no letter of.
const POORLY_READ: f32 = 0.85;

/// A page of lines where the recognizer reads surely fewer characters than this for each line
/// height of their length (Latin text gives 2 to 3; a full-width character counts twice) may
/// be in a script it has no letter of: it drops the letters it has not.
const SPARSELY_READ: f32 = 1.0;

/// How many of a page's lines (its longest) are read with each model of a script Tesseract's
/// detector does not tell, to find which it is in.
const PROBE_LINES: usize = 2;

/// A model takes the page as in its script when it reads those lines, in its own script's
/// letters, at least this share as surely (characters × confidence) as the recognizer did...
const PROBE_SURE: f32 = 0.9;

/// ...and at least this many characters surely.
const PROBE_LETTERS: f32 = 8.0;

/// Reads the line in box `b` of `page` with Tesseract's `models`, and keeps the reading in `l`
/// when `always`, or when it reads more of the line surely than `l` does.
fn read_with(
    t: &mut tesseract::Tesseract,
    models: &str,
    page: &GrayImage,
    b: BBox,
    l: &mut recognize::Read,
    always: bool,
) {
    if let Some(read) = tesseract_read(t, models, page, b, l.source) {
        if always || surely_read(&read) > surely_read(l) {
            *l = read;
        }
    }
}

/// The line in box `b` (the page's `source`-th) of `page` as Tesseract's `models` read it;
/// `None` where they read nothing or fail.
fn tesseract_read(
    t: &mut tesseract::Tesseract,
    models: &str,
    page: &GrayImage,
    b: BBox,
    source: usize,
) -> Option<recognize::Read> {
    let (image, left) = image_ops::padded_crop(page, b, TESSERACT_MARGIN);
    match t.read_line(models, &image) {
        Ok(words) if !words.is_empty() => {
            Some(recognize::tesseract_line(source, b, &image, left, words))
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, models, "a line not read with Tesseract");
            None
        }
    }
}

/// Whether most of a text's letters are `script`'s own.
fn mostly_in(script: Script, text: &str) -> bool {
    charset::mostly(text, |c| charset::own_letter(script, c))
}

/// How many characters a line's text has, a full-width one (Han, kana, Hangul) counting twice.
fn letters(text: &str) -> f32 {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if horizon_layout::text::is_cjk(c) {
                2.0
            } else {
                1.0
            }
        })
        .sum()
}

/// How many of a line's characters are read surely: their number times their confidence.
fn surely_read(line: &recognize::Read) -> f32 {
    line.confidence * letters(&line.text)
}

/// Whether the recognizer reads a page poorly: with little confidence, or few characters for
/// the length of its lines.
fn reads_poorly(lines: &[recognize::Read]) -> bool {
    let flat = lines.iter().filter(|l| !l.vertical);
    let (sure, count, room) = flat.fold((0.0, 0.0, 0.0), |(sure, count, room), l| {
        let (w, h) = (l.bbox[2] - l.bbox[0], (l.bbox[3] - l.bbox[1]).max(1.0));
        (
            sure + surely_read(l),
            count + letters(&l.text),
            room + w / h,
        )
    });
    room > 0.0 && (sure < SPARSELY_READ * room || count > 0.0 && sure / count < POORLY_READ)
}

/// The lines not read surely (set flat).
fn poorly_read(lines: &[recognize::Read]) -> Vec<usize> {
    (0..lines.len())
        .filter(|&i| !lines[i].vertical && lines[i].confidence < POORLY_READ)
        .collect()
}

fn width(l: &recognize::Read) -> f32 {
    l.bbox[2] - l.bbox[0]
}

/// A page the recognizer reads poorly, with the script Tesseract's detector finds on it; then
/// the lines still read poorly, which may be in another one (Arabic words on a Hebrew page),
/// with the script the detector finds among them alone.
fn read_detected(
    t: &mut tesseract::Tesseract,
    page: &GrayImage,
    found: &[detect::TextBox],
    lines: &mut [recognize::Read],
) {
    let detected = |t: &mut tesseract::Tesseract, image: &GrayImage| match t.detect(image) {
        Ok(found) => found.map(|f| f.model),
        Err(e) => {
            tracing::warn!(error = %e, "script not detected");
            None
        }
    };
    let Some(model) = detected(t, page) else {
        return;
    };
    for l in lines.iter_mut().filter(|l| !l.vertical) {
        read_with(t, model, page, found[l.source].bbox, l, false);
    }
    let poor = poorly_read(lines);
    if poor.is_empty() {
        return;
    }
    let mut rest = GrayImage::from_pixel(page.width(), page.height(), image::Luma([255]));
    for &i in &poor {
        let b = found[lines[i].source].bbox;
        let (x, y) = (b[0].max(0.0) as i64, b[1].max(0.0) as i64);
        image::imageops::replace(&mut rest, &image_ops::crop(page, b), x, y);
    }
    match detected(t, &rest) {
        Some(other) if other != model => {
            for i in poor {
                read_with(
                    t,
                    other,
                    page,
                    found[lines[i].source].bbox,
                    &mut lines[i],
                    false,
                );
            }
        }
        _ => {}
    }
}

/// A page still read poorly may be in a script the detector does not tell (it names another):
/// its longest lines are read with each such script's model. A model takes the page when it
/// reads them in its own script's letters nearly as surely as the recognizer did, or more
/// ([`PROBE_SURE`]), and several characters surely ([`PROBE_LETTERS`]). The surest such model
/// reads the page again: a line keeps
/// that reading where it is mostly in the script's letters (the recognizer reads some of them
/// as Latin ones, Armenian's "ս" as "u", and is sure of them), else the surer one. The script
/// an earlier page was found in (`first`) is tried first, and alone where it reads them. The
/// models tried are unloaded; memory stays bounded. The script found, if any.
fn probe_undetected(
    t: &mut tesseract::Tesseract,
    page: &GrayImage,
    found: &[detect::TextBox],
    lines: &mut [recognize::Read],
    first: Option<Script>,
) -> Option<Script> {
    // The longest lines, however surely read: the recognizer reads some such scripts'
    // letters as Latin ones, and is sure of them.
    let mut longest: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].vertical).collect();
    longest.sort_by(|&a, &b| width(&lines[b]).total_cmp(&width(&lines[a])));
    let sample = &longest[..longest.len().min(PROBE_LINES)];
    let candidates = first.into_iter().chain(
        tesseract::UNDETECTED
            .iter()
            .copied()
            .filter(|&s| Some(s) != first),
    );
    let before: f32 = sample.iter().map(|&i| surely_read(&lines[i])).sum();
    let mut best: Option<(Script, &str, f32)> = None;
    for script in candidates {
        let Some(model) = tesseract::model(script).filter(|m| t.has(m)) else {
            continue;
        };
        // What the model reads surely in its own script's letters.
        let mut sure = 0.0;
        for &i in sample {
            let l = &lines[i];
            if let Some(read) = tesseract_read(t, model, page, found[l.source].bbox, l.source) {
                if mostly_in(script, &read.text) {
                    sure += surely_read(&read);
                }
            }
        }
        // About as surely as the recognizer's reading, or more: a model of another script
        // reads Latin letters, and the right one the recognizer's lookalikes, less surely. A
        // speck on a blank page reads as a letter or two: several sure characters are needed.
        let takes = sure >= PROBE_SURE * before && sure >= PROBE_LETTERS;
        if takes && sure > best.map_or(0.0, |b| b.2) {
            best = Some((script, model, sure));
        }
        if takes && Some(script) == first {
            break;
        }
        t.unload(model);
    }
    let (script, model, _) = best?;
    tracing::debug!(model, "script found by reading");
    for l in lines.iter_mut().filter(|l| !l.vertical) {
        if let Some(read) = tesseract_read(t, model, page, found[l.source].bbox, l.source) {
            if mostly_in(script, &read.text) || surely_read(&read) > surely_read(l) {
                *l = read;
            }
        }
    }
    Some(script)
}

impl Engine {
    /// The Tesseract models (`"Hangul+Cyrillic"`) of the scripts among `scripts` that the
    /// recognizer has no letter of, and whether every one of `scripts` is read so; `None` when
    /// there is none, or Tesseract is not installed.
    pub(crate) fn tesseract_models(&self, scripts: &[Script]) -> Option<(String, bool)> {
        let t = self.tesseract.as_ref()?;
        let read_by = |s: &Script| tesseract::model(*s).filter(|m| t.has(m));
        let mut models: Vec<&str> = Vec::new();
        for m in charset::unreadable(&self.rec.chars, scripts)
            .iter()
            .filter_map(read_by)
        {
            if !models.contains(&m) {
                models.push(m);
            }
        }
        let only = scripts.iter().all(|s| read_by(s).is_some());
        (!models.is_empty()).then(|| (models.join("+"), only))
    }

    /// Lines in a script the recognizer has no letter of, read again with Tesseract: with the
    /// models of the job's languages when it named such a script, else (it named none) with the
    /// script Tesseract's detector finds on a page the recognizer reads poorly. Tesseract's
    /// reading of a line is kept when the job named only such scripts, else when it reads more
    /// of it surely (the recognizer drops the letters it has not, and is sure of the rest).
    /// Where Tesseract fails, the recognizer's reading stays.
    pub(crate) fn read_other_scripts(
        &mut self,
        page: &GrayImage,
        found: &[detect::TextBox],
        lines: &mut [recognize::Read],
    ) {
        let Some(t) = self.tesseract.as_mut() else {
            return;
        };
        match &self.others {
            Some((models, only)) => {
                for l in lines.iter_mut().filter(|l| !l.vertical) {
                    read_with(t, models, page, found[l.source].bbox, l, *only);
                }
            }
            None if self.rec.only.is_none() && reads_poorly(lines) => {
                read_detected(t, page, found, lines);
                // A page of English words read poorly is a poor scan, not another script.
                let english =
                    charset::is_english(lines.iter().flat_map(|l| l.text.split_whitespace()));
                if reads_poorly(lines) && !english {
                    let found_before = self.found_by_reading;
                    self.found_by_reading =
                        probe_undetected(t, page, found, lines, found_before).or(found_before);
                }
            }
            None => {}
        }
    }

    /// How far a page is turned (quarter turns clockwise), the orientation model's answer
    /// `turns` checked by Tesseract's detector where the page may be in a script the model did
    /// not learn (it takes upright Hebrew for upside down): the job named one, or the model
    /// would turn the page. The detector's answer is taken when it finds such a script, and is
    /// sure of the page's orientation.
    pub(crate) fn turns_by_script(&mut self, image: &GrayImage, turns: u8) -> u8 {
        let Some(t) = self.tesseract.as_mut() else {
            return turns;
        };
        if turns == 0 && self.others.is_none() {
            return turns;
        }
        match t.detect(image) {
            Ok(Some(tesseract::Detected {
                turns: Some(found), ..
            })) => found,
            Ok(_) => turns,
            Err(e) => {
                tracing::warn!(error = %e, "script not detected");
                turns
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, confidence: f32, bbox: BBox) -> recognize::Read {
        recognize::Read {
            text: text.into(),
            confidence,
            ..recognize::unread(0, bbox)
        }
    }

    #[test]
    fn a_reading_is_in_a_script_when_most_of_its_letters_are_that_script_s_own() {
        assert!(mostly_in(
            Script::Armenian,
            "Այստեղ ապրում է մոտ 3 միլիոն մարդ:"
        ));
        // Armenian's model reading Latin lookalikes, or mostly Latin words: not Armenian.
        assert!(!mostly_in(Script::Armenian, "Supn: the Cloud է"));
        assert!(!mostly_in(Script::Georgian, "12 345 ..."));
    }

    #[test]
    fn a_page_reads_poorly_with_little_confidence_or_few_characters_for_its_lines() {
        let b = [0.0, 0.0, 1000.0, 40.0];
        // English: 2 to 3 sure characters per line height.
        let english = "The committee met on Tuesday to discuss the budget for next year";
        assert!(!reads_poorly(&[line(english, 0.95, b)]));
        // Chinese: 20 characters across a shorter line, each counting twice.
        let chinese = "这是中文文本第二行文字这是中文文本第二行文字";
        assert!(!reads_poorly(&[line(
            chinese,
            0.95,
            [0.0, 0.0, 800.0, 40.0]
        )]));
        // Russian, read by a recognizer without Cyrillic: it kept a full stop, surely.
        assert!(reads_poorly(&[line(".", 0.98, b)]));
        // Korean read as Chinese characters it is unsure of.
        assert!(reads_poorly(&[line("冬8乒是卫型9早曰2章10人外刻", 0.6, b)]));
        // No line: nothing to judge.
        assert!(!reads_poorly(&[]));
    }

    #[test]
    fn the_reading_kept_is_the_one_that_reads_more_of_the_line_surely() {
        let b = [0.0, 0.0, 1000.0, 40.0];
        let dropped = line(",      .", 0.92, b);
        let read = line(
            "приняты на рынке, а продажи за рубежом постоянно растут.",
            0.96,
            b,
        );
        assert!(surely_read(&read) > surely_read(&dropped));
        // Hangul syllables count as wide as the Chinese characters a recognizer without
        // Hangul reads them as.
        assert_eq!(letters("올해 회사"), letters("是卫 型早"));
    }
}
