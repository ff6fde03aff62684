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
    let (image, left) = image_ops::padded_crop(page, b, TESSERACT_MARGIN);
    match t.read_line(models, &image) {
        Ok(words) if !words.is_empty() => {
            let read = recognize::tesseract_line(l.source, b, &image, left, words);
            if always || surely_read(&read) > surely_read(l) {
                *l = read;
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, models, "a line not read with Tesseract"),
    }
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
        let (models, always) = match &self.others {
            Some((models, only)) => (models.clone(), *only),
            None if self.rec.only.is_none() && reads_poorly(lines) => match t.detect(page) {
                Ok(Some(found)) => (found.model.to_owned(), false),
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "script not detected");
                    return;
                }
            },
            None => return,
        };
        for l in lines.iter_mut().filter(|l| !l.vertical) {
            read_with(t, &models, page, found[l.source].bbox, l, always);
        }
        // Lines still read poorly on a page of a detected script may be in another one (Arabic
        // words on a Hebrew page): the detector looks at them alone.
        if self.others.is_some() {
            return;
        }
        let poor: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].vertical && lines[i].confidence < POORLY_READ)
            .collect();
        if poor.is_empty() {
            return;
        }
        let mut rest = GrayImage::from_pixel(page.width(), page.height(), image::Luma([255]));
        for &i in &poor {
            let b = found[lines[i].source].bbox;
            let (x, y) = (b[0].max(0.0) as i64, b[1].max(0.0) as i64);
            image::imageops::replace(&mut rest, &image_ops::crop(page, b), x, y);
        }
        let Ok(Some(tesseract::Detected { model, .. })) = t.detect(&rest) else {
            return;
        };
        if model == models {
            return;
        }
        for i in poor {
            read_with(
                t,
                model,
                page,
                found[lines[i].source].bbox,
                &mut lines[i],
                false,
            );
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
