//! Reading PDFs with PDFium (BSD-3-Clause/Apache-2.0, Google's PDF engine from Chromium), bound
//! at run time from `libpdfium.so` through `pdfium-render`. Chosen by measurement (the README's
//! "The extraction engine and its licence": best ground-truth similarity of the candidates,
//! 1.4× the speed of pdftotext, 57 MB peak on the worst file).
//!
//! A page gives its text layer as words with their boxes, font sizes and styles, the straight
//! lines drawn on it (table rules), and how much of it is covered by images; or its pixels, for
//! OCR. Coordinates are as the page is displayed: points, origin top-left, the page's rotation
//! and crop box applied.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use horizon_layout::geom::union;
use horizon_layout::marks;
use horizon_layout::{BBox, PageInput, Source, Unit, Word};
use image::GrayImage;
use pdfium_render::prelude::*;

use crate::Failure;

/// Limits applied while reading.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_pages: u32,
}

/// At most this many pixels are rendered for one page, whatever its size.
const MAX_RENDER_PIXELS: f32 = 16_000_000.0;

/// Pixels per point for a page `(w, h)` points large at `dpi`, less for one so large that it
/// would exceed [`MAX_RENDER_PIXELS`].
fn render_scale((w, h): (f32, f32), dpi: f32) -> f32 {
    let scale = dpi / 72.0;
    let pixels = w * h * scale * scale;
    if pixels > MAX_RENDER_PIXELS {
        scale * (MAX_RENDER_PIXELS / pixels).sqrt()
    } else {
        scale
    }
}

/// At most this many drawing objects (paths, pictures) of a page are looked at.
const MAX_PATHS: usize = 20_000;

/// At most this many rules of a page are kept (a drawing of a million line segments is no
/// table).
const MAX_RULES: usize = 5_000;

/// At most this many annotations of a page are looked at for form fields.
const MAX_FIELDS: usize = 2_000;

/// A rule is at least this long (points); shorter marks belong to figures.
const MIN_RULE: f32 = 6.0;
/// A drawn check box is a square this many points wide, at least and at most.
const MIN_BOX: f32 = 5.0;
const MAX_BOX: f32 = 20.0;
/// A figure is at least this wide and tall (points).
const MIN_FIGURE: f32 = 40.0;

static PDFIUM: OnceLock<Result<Pdfium, String>> = OnceLock::new();

/// The PDFium library, bound once per process. `hint` is the configured path
/// (`PDFIUM_LIB_PATH`); without one the library is looked for beside the executable and in
/// `/opt/lib` (a Lambda layer). `engine_unavailable` says where it looked.
pub fn pdfium(hint: Option<&str>) -> Result<&'static Pdfium, Failure> {
    PDFIUM
        .get_or_init(|| {
            let candidates: Vec<PathBuf> = match hint {
                Some(p) => vec![PathBuf::from(p)],
                None => {
                    let mut c = Vec::new();
                    if let Some(dir) = std::env::current_exe()
                        .ok()
                        .and_then(|e| e.parent().map(Path::to_path_buf))
                    {
                        c.push(Pdfium::pdfium_platform_library_name_at_path(&dir));
                    }
                    c.push(PathBuf::from("/opt/lib/libpdfium.so"));
                    c
                }
            };
            let mut reasons = Vec::new();
            for path in &candidates {
                match Pdfium::bind_to_library(path) {
                    Ok(bindings) => {
                        tracing::info!(path = %path.display(), "PDFium loaded");
                        return Ok(Pdfium::new(bindings));
                    }
                    Err(e) => reasons.push(format!("{}: {e}", path.display())),
                }
            }
            Err(format!(
                "PDFium library not found ({}); set PDFIUM_LIB_PATH or run scripts/install-pdfium",
                reasons.join("; ")
            ))
        })
        .as_ref()
        .map_err(|e| Failure::new("engine_unavailable", e.clone()))
}

/// The number of pages, or `None` when PDFium is missing or cannot open the file.
pub fn page_count(bytes: &[u8], hint: Option<&str>) -> Option<u32> {
    let pdfium = match pdfium(hint) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot count PDF pages");
            return None;
        }
    };
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        pdfium
            .load_pdf_from_byte_slice(bytes, None)
            .ok()
            .map(|doc| doc.pages().len() as u32)
    }))
    .ok()
    .flatten()
}

/// An open PDF.
pub struct Pdf<'a> {
    doc: PdfDocument<'a>,
    /// What the client should know about how the file was read (a repaired file, say).
    pub warnings: Vec<String>,
}

/// An entry of a document's outline (a bookmark).
#[derive(Debug, Clone, PartialEq)]
pub struct OutlineEntry {
    pub title: String,
    /// 0 at the top level.
    pub depth: u32,
    /// 1-based.
    pub page: Option<u32>,
}

/// At most this many outline entries are read.
const MAX_OUTLINE: usize = 5_000;

/// A page's text layer as read.
#[derive(Debug, Clone)]
pub struct TextLayer {
    pub page: PageInput,
    /// Characters that are not white space.
    pub chars: usize,
    /// Of those, how many map to no real character (no Unicode mapping, control or private-use
    /// codes, U+FFFD): a text layer made mostly of them is unusable.
    pub unmappable: usize,
    /// The share of the page covered by images (0–1).
    pub image_cover: f32,
}

impl TextLayer {
    /// The share of its characters that are real text (1 for an empty layer).
    pub fn mappable(&self) -> f32 {
        if self.chars == 0 {
            1.0
        } else {
            1.0 - self.unmappable as f32 / self.chars as f32
        }
    }
}

/// Opens a PDF. Errors carry the job's `error.code`: `encrypted`, `invalid_pdf`,
/// `too_many_pages`. A damaged file (cut short, no usable trailer or page tree) is repaired
/// when it can be, with a warning.
pub fn open<'a>(pdfium: &'a Pdfium, bytes: &'a [u8], limits: Limits) -> Result<Pdf<'a>, Failure> {
    let password = |e: &PdfiumError| {
        matches!(
            e,
            PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError)
        )
    };
    let mut warnings = Vec::new();
    let doc = match pdfium.load_pdf_from_byte_slice(bytes, None) {
        Ok(doc) => doc,
        Err(e) if password(&e) => {
            return Err(Failure::new(
                "encrypted",
                "the PDF is encrypted with a user password; only documents that open without one can be read",
            ))
        }
        Err(e) => {
            let mut repaired = None;
            for (fixed, note) in crate::repair::repair(bytes) {
                if let Ok(doc) = pdfium.load_pdf_from_byte_vec(fixed, None) {
                    warnings.push(note);
                    repaired = Some(doc);
                    break;
                }
            }
            repaired.ok_or_else(|| {
                Failure::new("invalid_pdf", format!("the file is not a readable PDF ({e})"))
            })?
        }
    };
    let count = doc.pages().len() as u32;
    if count > limits.max_pages {
        return Err(Failure::new(
            "too_many_pages",
            format!(
                "the PDF has {count} pages; the limit is {}",
                limits.max_pages
            ),
        ));
    }
    Ok(Pdf { doc, warnings })
}

impl Pdf<'_> {
    pub fn page_count(&self) -> u32 {
        self.doc.pages().len() as u32
    }

    fn page(&self, number: u32) -> Result<PdfPage<'_>, Failure> {
        let index = number
            .checked_sub(1)
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(|| Failure::new("invalid_pdf", format!("there is no page {number}")))?;
        self.doc
            .pages()
            .get(index)
            .map_err(|e| Failure::new("invalid_pdf", format!("page {number} cannot be read ({e})")))
    }

    /// The text layer of page `number` (1-based): its words in PDFium's order, with boxes in
    /// display coordinates, and its rules.
    pub fn text_layer(&self, number: u32) -> Result<TextLayer, Failure> {
        let page = self.page(number)?;
        let view = View::of(&page);
        let text = page.text().map_err(|e| {
            Failure::new("invalid_pdf", format!("page {number} cannot be read ({e})"))
        })?;
        let mut words = Vec::new();
        let mut builder = WordBuilder::default();
        let (mut chars, mut unmappable) = (0, 0);
        let mut styles: Vec<(String, Style)> = Vec::new();
        for ch in text.chars().iter() {
            let generated = ch.is_generated().unwrap_or(false);
            let mut code = ch.unicode_value();
            if let Some(mark) = dingbat_mark(&ch, code) {
                code = mark as u32;
            }
            let c = char::from_u32(code).unwrap_or('\u{FFFD}');
            if c == '\r' || c == '\n' {
                builder.finish(&mut words, true);
                continue;
            }
            if generated && !builder.rotated && !builder.text.is_empty() {
                // PDFium guesses a space where letters stand apart; a gap narrower than any
                // word space (letter-spaced capitals, a superscript and its comma) is none.
                builder.space_pending = true;
                continue;
            }
            if generated || c.is_whitespace() {
                if builder.rotated {
                    builder.text.push(' ');
                } else {
                    builder.finish(&mut words, false);
                }
                continue;
            }
            let Ok(bounds) = ch.loose_bounds() else {
                continue;
            };
            let size = ch
                .matrix()
                .map(|m| ch.unscaled_font_size().value * m.c().hypot(m.d()))
                .unwrap_or_else(|_| ch.unscaled_font_size().value)
                .abs();
            let mut bbox = view.rect(&bounds);
            // The glyph's own box (the loose one adds bearings): where letters stand apart.
            let tight = ch.tight_bounds().ok().map(|t| view.rect(&t));
            if bbox[3] - bbox[1] > 2.5 * size.max(1.0) {
                if let Some(tight) = tight {
                    bbox = tight;
                }
            }
            if !view.shows(&bbox) {
                continue;
            }
            // PDFium marks a hyphen ending a line only on a hyphen-minus or a soft hyphen.
            let hyphen =
                code == 2 || (matches!(c, '-' | '\u{AD}') && ch.is_hyphen().unwrap_or(false));
            if !hyphen {
                chars += 1;
                if is_unmappable(code) {
                    unmappable += 1;
                }
            }
            let gap = tight.unwrap_or(bbox)[0] - builder.last_right;
            if builder.space_pending {
                builder.space_pending = false;
                if !(-0.05 * size..NO_SPACE_BELOW * size).contains(&gap) {
                    builder.finish(&mut words, false);
                }
            } else if !builder.rotated
                && (builder
                    .text
                    .chars()
                    .last()
                    .is_some_and(|prev| spaced_by_gap(prev, c, gap, size))
                    || builder.stands_apart_leftwards(c, tight.unwrap_or(bbox), size))
            {
                builder.finish(&mut words, false);
            }
            if builder.text.is_empty() {
                let rotation = ch.get_rotation_counter_clockwise_degrees();
                let rotated = (rotation.rem_euclid(180.0) - 0.0).abs() > 10.0
                    && (rotation.rem_euclid(180.0) - 180.0).abs() > 10.0;
                let name = ch.font_name();
                // A page sets a few fonts, each in many words: each is read once by its name
                // (which holds the subset's tag). A font without a name is read every time.
                let style = match styles.iter().find(|(n, _)| !n.is_empty() && *n == name) {
                    Some((_, style)) => *style,
                    None => {
                        let style = Style::of(&name, ch.font_weight(), ch.font_is_italic());
                        if !name.is_empty() {
                            styles.push((name, style));
                        }
                        style
                    }
                };
                builder.start(size, style, rotated);
            }
            if hyphen {
                builder.push('\u{2}', bbox, bbox);
                builder.finish(&mut words, true);
                continue;
            }
            if marks::state(c).is_some() {
                // A check box is a word of its own, even set against its label.
                builder.finish(&mut words, false);
                builder.start(size, Style::default(), false);
                builder.push(c, bbox, tight.unwrap_or(bbox));
                builder.finish(&mut words, false);
                builder.last_right = tight.unwrap_or(bbox)[2];
                continue;
            }
            if code == 0 || is_unmappable(code) {
                builder.push('\u{FFFD}', bbox, bbox);
            } else {
                builder.push(c, bbox, tight.unwrap_or(bbox));
            }
            builder.last_right = tight.unwrap_or(bbox)[2];
        }
        builder.finish(&mut words, true);
        field_marks(&page, &view, &mut words);
        let (width, height) = (page.width().value, page.height().value);
        let (rules, figures, image_cover, drawn) = drawings(&page, &view);
        drawn_marks(drawn, &mut words);
        Ok(TextLayer {
            page: PageInput {
                number,
                width,
                height,
                unit: Unit::Points,
                source: Source::Text,
                words,
                rules,
                figures,
                regions: Vec::new(),
            },
            chars,
            unmappable,
            image_cover,
        })
    }

    /// The document's outline (its bookmarks), in order: each entry's title, depth (0 at the
    /// top) and 1-based page, where it has one. At most [`MAX_OUTLINE`] entries.
    pub fn outline(&self) -> Vec<OutlineEntry> {
        self.doc
            .bookmarks()
            .iter()
            .take(MAX_OUTLINE)
            .filter_map(|b| {
                let title = b.title()?.trim().to_owned();
                let depth = std::iter::successors(b.parent(), |p| p.parent())
                    .take(16)
                    .count() as u32;
                let page = b
                    .destination()
                    .and_then(|d| d.page_index().ok())
                    .and_then(|i| u32::try_from(i).ok())
                    .map(|i| i + 1);
                (!title.is_empty()).then_some(OutlineEntry { title, depth, page })
            })
            .collect()
    }

    /// Page `number`'s width and height in points, as its text layer's boxes measure it.
    pub fn page_size(&self, number: u32) -> Result<(f32, f32), Failure> {
        let page = self.page(number)?;
        Ok((page.width().value.max(1.0), page.height().value.max(1.0)))
    }

    /// How many pixels [`Pdf::render`] would draw page `number` in, at `dpi`.
    pub fn render_pixels(&self, number: u32, dpi: f32) -> Result<u64, Failure> {
        let (w, h) = self.page_size(number)?;
        let scale = render_scale((w, h), dpi);
        Ok(((w * scale).round() * (h * scale).round()) as u64)
    }

    /// Page `number` rendered in grey at `dpi` (less for a page so large that it would exceed
    /// 16 million pixels), with the scale used (pixels per point).
    pub fn render(&self, number: u32, dpi: f32) -> Result<(GrayImage, f32), Failure> {
        let page = self.page(number)?;
        let scale = render_scale(
            (page.width().value.max(1.0), page.height().value.max(1.0)),
            dpi,
        );
        // PDFium draws images into grey bitmaps blank, so render in colour and take the luma.
        let config = PdfRenderConfig::new()
            .scale_page_by_factor(scale)
            .set_format(PdfBitmapFormat::BGRA)
            .set_reverse_byte_order(false)
            .render_annotations(true)
            .render_form_data(true);
        let bitmap = page.render_with_config(&config).map_err(|e| {
            Failure::new(
                "invalid_pdf",
                format!("page {number} cannot be rendered ({e})"),
            )
        })?;
        let (bw, bh) = (
            bitmap.width().max(0) as usize,
            bitmap.height().max(0) as usize,
        );
        let raw = bitmap.as_raw_bytes();
        drop(bitmap);
        let stride = raw.len().checked_div(bh).unwrap_or(0);
        let mut pixels = Vec::with_capacity(bw * bh);
        for row in raw.chunks(stride.max(1)).take(bh) {
            pixels.extend(row.chunks_exact(4).take(bw).map(|p| {
                // BGRA
                ((29 * p[0] as u32 + 150 * p[1] as u32 + 77 * p[2] as u32) >> 8) as u8
            }));
        }
        let image = GrayImage::from_raw(bw as u32, bh as u32, pixels).ok_or_else(|| {
            Failure::new(
                "invalid_pdf",
                format!("page {number} rendered to an unexpected bitmap"),
            )
        })?;
        Ok((image, scale))
    }
}

/// A check box set in a symbol font (Wingdings, Wingdings 2), whose codes PDFium gives in the
/// private use area (U+F000 + the font's code): the ballot-box character it draws. The fonts'
/// other squares and circles are list bullets as often as boxes, and stay as they are.
fn dingbat_mark(ch: &PdfPageTextChar, code: u32) -> Option<char> {
    (0xF020..=0xF0FF)
        .contains(&code)
        .then(|| symbol_mark(&ch.font_name(), (code - 0xF000) as u8))
        .flatten()
}

/// The ballot box that `symbol` draws in the font named `font`, if it draws one.
fn symbol_mark(font: &str, symbol: u8) -> Option<char> {
    let font: String = font
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if font.contains("wingdings2") {
        match symbol {
            0xA3 => Some(marks::UNSELECTED),
            0x52 => Some('☑'),
            0x51 | 0x53 | 0x54 => Some('☒'),
            _ => None,
        }
    } else if font.contains("wingdings") {
        match symbol {
            0x6F | 0xA8 => Some(marks::UNSELECTED),
            0xFE => Some('☑'),
            0xFD | 0x78 => Some('☒'),
            _ => None,
        }
    } else {
        None
    }
}

/// The page's check boxes and radio buttons that are form fields, put among its words: their
/// state is the field's value, which the page's own content does not draw.
fn field_marks(page: &PdfPage, view: &View, words: &mut Vec<Word>) {
    for annotation in page.annotations().iter().take(MAX_FIELDS) {
        if annotation.is_hidden() {
            continue;
        }
        let Some(field) = annotation
            .as_widget_annotation()
            .and_then(|w| w.form_field())
        else {
            continue;
        };
        let off = |value: Option<String>| value.is_none_or(|v| v.is_empty() || v == "Off");
        let selected = match field {
            // A box whose "on" state is named other than "Yes" is ticked when its value is
            // that name (`is_checked` only knows "Yes").
            PdfFormField::Checkbox(f) => f.is_checked().unwrap_or(false) || !off(f.group_value()),
            // A group whose value is "Off" has none chosen.
            PdfFormField::RadioButton(f) => {
                f.is_checked().unwrap_or(false) && !off(f.group_value())
            }
            _ => continue,
        };
        let Ok(bounds) = annotation.bounds() else {
            continue;
        };
        let bbox = view.rect(&bounds);
        if view.shows(&bbox) {
            marks::insert(words, selected, bbox);
        }
    }
}

/// Codes that stand for no character: none, controls, private use, the replacement character.
fn is_unmappable(code: u32) -> bool {
    code == 0
        || code == 0xFFFD
        || (code < 0x20 && code != 9)
        || (0x7F..0xA0).contains(&code)
        || (0xE000..=0xF8FF).contains(&code)
        || (0xF0000..=0x10FFFF).contains(&code)
}

#[derive(Debug, Clone, Copy, Default)]
struct Style {
    bold: bool,
    italic: bool,
    mono: bool,
}

impl Style {
    /// From the font's name ("ABCDEF+Arial-BoldMT"), its weight and flags. PDFium's weight
    /// comes from the font descriptor's stem width and is absent for the standard fonts.
    fn of(name: &str, weight: Option<PdfFontWeight>, italic: bool) -> Style {
        let base = name.rsplit('+').next().unwrap_or(name).to_lowercase();
        // The weight PDFium gives comes from the stem width the font declares, which is often
        // wrong: a name that says regular wins over it.
        let regular = ["regu", "roma", "book", "light", "thin"].iter().any(|k| {
            base.rsplit(['-', ','])
                .next()
                .is_some_and(|style| style.contains(k))
        });
        let heavy = !regular
            && weight.is_some_and(|w| match w {
                PdfFontWeight::Weight600
                | PdfFontWeight::Weight700Bold
                | PdfFontWeight::Weight800
                | PdfFontWeight::Weight900 => true,
                PdfFontWeight::Custom(n) => n >= 600,
                _ => false,
            });
        Style {
            bold: heavy
                || ["bold", "black", "heavy", "semibold", "demi", "-medi", ".b", "-b"]
                    .iter()
                    .any(|k| base.contains(k))
                || base.ends_with("bd")
                // TeX's bold extended faces: CMBX10, SFBX1200, ECBX1000, CMSSBX10.
                || ["cmbx", "sfbx", "ecbx", "cmssbx", "cmb10"]
                    .iter()
                    .any(|k| base.starts_with(k)),
            italic: italic || base.contains("italic") || base.contains("oblique"),
            mono: [
                "mono",
                "courier",
                "consolas",
                "menlo",
                "typewriter",
                "cmtt",
                "inconsolata",
            ]
            .iter()
            .any(|k| base.contains(k)),
        }
    }
}

/// Collects characters into words.
#[derive(Default)]
struct WordBuilder {
    text: String,
    bbox: Option<BBox>,
    size: f32,
    style: Style,
    rotated: bool,
    /// PDFium put a space of its own after the last character.
    space_pending: bool,
    /// The right edge of the last character's glyph.
    last_right: f32,
    /// The left edges of the first and the last character, and those of the first and the
    /// last right-to-left letters: a right-to-left word whose letters go rightwards was drawn
    /// in visual order (where its letters stand apart; else its characters tell).
    first_left: f32,
    last_left: f32,
    first_rtl_left: Option<f32>,
    last_rtl_left: f32,
    /// The leftmost and the rightmost left edges of its right-to-left letters.
    rtl_span: Option<(f32, f32)>,
    /// Where in `text` each closing mark (a full stop, a comma) or bracket was put, and its
    /// left edge.
    marks: Vec<(usize, f32)>,
    /// The box of the last letter, which an accent drawn after it may sit over.
    last_letter: Option<BBox>,
    /// A spacing accent just pushed (where in `text`, its combining mark, its box), which may
    /// sit over the letter drawn next.
    accent: Option<(usize, char, BBox)>,
}

/// The combining mark of a spacing accent (a bar, tilde, circumflex, diaeresis, acute, grave,
/// dot, caron, breve, ring or cedilla drawn as a glyph of its own).
fn combining(c: char) -> Option<char> {
    Some(match c {
        '\u{AF}' | '\u{2C9}' => '\u{304}',
        '\u{2DC}' => '\u{303}',
        '\u{2C6}' => '\u{302}',
        '\u{A8}' => '\u{308}',
        '\u{B4}' | '\u{2CA}' => '\u{301}',
        '\u{2CB}' => '\u{300}',
        '\u{2D9}' => '\u{307}',
        '\u{2C7}' => '\u{30C}',
        '\u{2D8}' => '\u{306}',
        '\u{2DA}' => '\u{30A}',
        '\u{B8}' => '\u{327}',
        _ => return None,
    })
}

/// Whether an accent's box sits over (or under) a letter's: centred within its width, off its
/// middle.
fn over(accent: &BBox, letter: &BBox) -> bool {
    let cx = (accent[0] + accent[2]) / 2.0;
    let (cy, ly) = ((accent[1] + accent[3]) / 2.0, (letter[1] + letter[3]) / 2.0);
    cx >= letter[0] && cx <= letter[2] && (cy - ly).abs() >= 0.2 * (letter[3] - letter[1])
}

/// A gap between glyphs narrower than this many font sizes separates no words (word spaces
/// are a quarter of the size or more, 0.22 at their tightest in justified text, and the
/// glyphs' side bearings add to them).
const NO_SPACE_BELOW: f32 = 0.12;

/// Whether a gap between two glyphs of a line is a word space that the PDF left out: Korean and
/// Thai text is often set without space glyphs (each syllable placed on its own), and
/// PDFium then guesses no space. A gap between the inks of two glyphs wider than
/// [`GAP_SPACE`] font sizes is one (the inks of one word's syllables stand closer).
fn spaced_by_gap(prev: char, next: char, gap: f32, size: f32) -> bool {
    let gapless =
        |c: char| horizon_layout::text::is_hangul(c) || ('\u{0E00}'..='\u{0E7F}').contains(&c);
    (gapless(prev) || gapless(next)) && gap >= GAP_SPACE * size
}

/// See [`spaced_by_gap`].
const GAP_SPACE: f32 = 0.3;

impl WordBuilder {
    /// In a right-to-left word, a right-to-left letter or a bracket that stands left of the
    /// whole word by more than [`GAP_SPACE`] sizes starts another one (a bracket drawn before
    /// the space in front of it). Figures and Latin letters run rightwards from their first
    /// one, which stands apart from the word by the rest of them. In any other word, a bracket
    /// or a closing mark drawn left of all of it was set right to left (the brackets round
    /// "(2019)" in a Hebrew line, drawn after the figures): it is a word of its own, which the
    /// line's reading order places ([`horizon_layout::bidi`]).
    fn stands_apart_leftwards(&self, c: char, glyph: BBox, size: f32) -> bool {
        let bracket = horizon_layout::text::mirrored(c).is_some();
        let Some(word) = self.bbox else {
            return false;
        };
        if self.first_rtl_left.is_some() {
            (horizon_layout::text::is_rtl(c) || bracket) && word[0] - glyph[2] > GAP_SPACE * size
        } else {
            (bracket || horizon_layout::text::is_closing_mark(c))
                && glyph[2] <= word[0] + 0.1 * size
        }
    }

    fn start(&mut self, size: f32, style: Style, rotated: bool) {
        self.size = size;
        self.style = style;
        self.rotated = rotated;
    }

    /// Adds a character. A spacing accent set over a letter (TeX draws \\bar{A} as "A" and a
    /// "¯" above it, or the accent first) becomes that letter's combining mark: "Ā", not "A¯".
    /// `b` is the character's box; `glyph`, the box of its ink, which tells where an accent
    /// sits.
    fn push(&mut self, c: char, b: BBox, glyph: BBox) {
        if self.text.is_empty() {
            self.first_left = glyph[0];
        }
        self.last_left = glyph[0];
        if horizon_layout::text::is_rtl(c) {
            self.first_rtl_left.get_or_insert(glyph[0]);
            self.last_rtl_left = glyph[0];
            let (lo, hi) = self.rtl_span.unwrap_or((glyph[0], glyph[0]));
            self.rtl_span = Some((lo.min(glyph[0]), hi.max(glyph[0])));
        }
        if horizon_layout::text::is_closing_mark(c) || horizon_layout::text::mirrored(c).is_some() {
            self.marks.push((self.text.len(), glyph[0]));
        }
        self.bbox = Some(match self.bbox {
            None => b,
            Some(a) => union(&a, &b),
        });
        if let Some(mark) = combining(c) {
            if self
                .last_letter
                .take()
                .is_some_and(|letter| over(&glyph, &letter))
            {
                self.text.push(mark);
                return;
            }
            self.accent = Some((self.text.len(), mark, glyph));
            self.text.push(c);
            return;
        }
        if let Some((at, mark, accent)) = self.accent.take() {
            // Nothing came between the accent and this letter.
            let next = self.text.get(at..).is_some_and(|t| t.chars().count() == 1);
            if next && over(&accent, &glyph) {
                self.text.truncate(at);
                self.text.push(c);
                self.text.push(mark);
                self.last_letter = None;
                return;
            }
        }
        self.text.push(c);
        self.last_letter = Some(glyph);
    }

    fn finish(&mut self, words: &mut Vec<Word>, line_end: bool) {
        let text = std::mem::take(&mut self.text);
        self.last_letter = None;
        self.accent = None;
        let bbox = self.bbox.take();
        let mut text = text.trim_end().to_owned();
        let first_rtl = self.first_rtl_left.take();
        let span = self.rtl_span.take();
        let marks = std::mem::take(&mut self.marks);
        if !self.rotated && horizon_layout::text::mostly_rtl([text.as_str()]) {
            // A closing mark or a bracket drawn beside the letters, in whatever order, goes where
            // it stands: left of them it ends the word, right of them it starts it.
            let (mut start, mut end) = (String::new(), String::new());
            if let Some((lo, hi)) = span {
                for &(at, left) in marks.iter().rev() {
                    let Some(c) = text.get(at..).and_then(|t| t.chars().next()) else {
                        continue;
                    };
                    let bracket = horizon_layout::text::mirrored(c);
                    if !(horizon_layout::text::is_closing_mark(c) || bracket.is_some())
                        || (lo..=hi).contains(&left)
                    {
                        continue;
                    }
                    text.remove(at);
                    // A bracket's glyph is drawn mirrored in a right-to-left word.
                    let c = bracket.unwrap_or(c);
                    if left < lo {
                        end.insert(0, c);
                    } else {
                        start.insert(0, c);
                    }
                }
            }
            let apart = 0.3 * self.size;
            let rightwards = match (first_rtl, span) {
                (Some(first), Some((lo, hi))) if hi - lo > apart => self.last_rtl_left > first,
                _ => self.last_left - self.first_left > apart,
            };
            if rightwards {
                // Arabic or Hebrew drawn glyph by glyph from the left (the page's visual
                // order) is put in reading order.
                text = horizon_layout::text::visual_to_logical(&text);
            }
            text = format!("{start}{text}{end}");
        }
        match bbox {
            Some(bbox)
                if !text.is_empty()
                    && bbox.iter().all(|v| v.is_finite())
                    && self.size.is_finite() =>
            {
                words.push(Word {
                    text,
                    bbox,
                    // Rotated text stands on its own; its "size" across the line is its width.
                    size: if self.rotated {
                        (bbox[2] - bbox[0]).max(1.0)
                    } else {
                        self.size.max(1.0)
                    },
                    bold: self.style.bold,
                    italic: self.style.italic,
                    mono: self.style.mono,
                    confidence: None,
                    line_end: line_end || self.rotated,
                })
            }
            _ => {
                if line_end {
                    if let Some(last) = words.last_mut() {
                        last.line_end = true;
                    }
                }
            }
        }
        self.rotated = false;
        self.space_pending = false;
    }
}

/// From PDF user space (origin bottom-left, unrotated) to the page as displayed (points, origin
/// top-left, its rotation and crop box applied).
struct View {
    left: f32,
    bottom: f32,
    right: f32,
    top: f32,
    rotation: PdfPageRenderRotation,
    width: f32,
    height: f32,
}

impl View {
    fn of(page: &PdfPage) -> View {
        let (width, height) = (page.width().value, page.height().value);
        let rotation = page.rotation().unwrap_or(PdfPageRenderRotation::None);
        let b = page.boundaries().bounding().map(|b| b.bounds).ok();
        let (left, bottom, right, top) = match b {
            Some(r) => (
                r.left().value,
                r.bottom().value,
                r.right().value,
                r.top().value,
            ),
            None => match rotation {
                PdfPageRenderRotation::Degrees90 | PdfPageRenderRotation::Degrees270 => {
                    (0.0, 0.0, height, width)
                }
                _ => (0.0, 0.0, width, height),
            },
        };
        View {
            left,
            bottom,
            right,
            top,
            rotation,
            width,
            height,
        }
    }

    fn point(&self, x: f32, y: f32) -> (f32, f32) {
        match self.rotation {
            PdfPageRenderRotation::None => (x - self.left, self.top - y),
            PdfPageRenderRotation::Degrees90 => (y - self.bottom, x - self.left),
            PdfPageRenderRotation::Degrees180 => (self.right - x, y - self.bottom),
            PdfPageRenderRotation::Degrees270 => (self.top - y, self.right - x),
        }
    }

    fn rect(&self, r: &PdfRect) -> BBox {
        let (ax, ay) = self.point(r.left().value, r.bottom().value);
        let (bx, by) = self.point(r.right().value, r.top().value);
        [ax.min(bx), ay.min(by), ax.max(bx), ay.max(by)]
    }

    /// Whether a box lies (at least partly) on the visible page.
    fn shows(&self, b: &BBox) -> bool {
        b[2] > 0.0 && b[0] < self.width && b[3] > 0.0 && b[1] < self.height
    }
}

/// The page's straight rules (as thin rectangles), its figures (regions drawn with pictures,
/// curves or slanted lines), the share of it covered by images, and its drawn check boxes.
fn drawings(page: &PdfPage, view: &View) -> (Vec<BBox>, Vec<BBox>, f32, DrawnBoxes) {
    let mut found = Drawings::default();
    for object in page.objects().iter() {
        found.visit(&object, PdfMatrix::IDENTITY, view, 0);
    }
    let area = (view.width * view.height).max(1.0);
    let figures = regions(found.graphics, &found.rules, &found.boxes, view);
    let image_cover = (found.image_area / area).min(1.0);
    (found.rules, figures, image_cover, found.check_boxes)
}

/// Small squares drawn as outlines, the size of a check box, and the small strokes (ticks,
/// crosses) drawn on the page.
#[derive(Default)]
struct DrawnBoxes {
    squares: Vec<BBox>,
    strokes: Vec<BBox>,
}

/// Drawn check boxes, among the words as selection marks: a square with a stroke or a tick
/// or cross character inside is selected (the character goes). Squares that touch one another
/// are a grid, a square with no word beside it on its line a drawing, and a square round any
/// other character a frame: none of them is a box.
fn drawn_marks(drawn: DrawnBoxes, words: &mut Vec<Word>) {
    let DrawnBoxes { squares, strokes } = drawn;
    let inside = |outer: &BBox, b: &BBox| {
        let (x, y) = horizon_layout::geom::center(b);
        horizon_layout::geom::contains(outer, x, y, 0.0)
    };
    for (i, square) in squares.iter().enumerate() {
        let side = square[2] - square[0];
        let grid = squares
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && horizon_layout::geom::distance(square, other) < 2.0);
        let labelled = words.iter().any(|w| {
            horizon_layout::geom::v_overlap_ratio(&w.bbox, square) >= 0.5
                && !inside(square, &w.bbox)
                && horizon_layout::geom::distance(&w.bbox, square) < 4.0 * side
        });
        // A square round another character frames it: no box.
        let framed = words
            .iter()
            .any(|w| inside(square, &w.bbox) && !TICKS.contains(&w.text.as_str()));
        if grid || !labelled || framed {
            continue;
        }
        let mut selected = strokes.iter().any(|s| inside(square, s));
        let tick = words
            .iter()
            .position(|w| inside(square, &w.bbox) && TICKS.contains(&w.text.as_str()));
        if let Some(t) = tick {
            let gone = words.remove(t);
            if gone.line_end && t > 0 {
                words[t - 1].line_end = true;
            }
            selected = true;
        }
        marks::insert(words, selected, *square);
    }
}

/// Characters set inside a drawn box to tick it.
const TICKS: &[&str] = &["X", "x", "×", "✓", "✔", "✗", "✘"];

/// Graphics close together (4 points) are one figure; so are graphics inside the same box
/// drawn with straight lines, or touching the same rule (a chart's frame and axes join its
/// ticks, curves and markers; a rule that one picture touches, such as a header's line under a
/// logo, joins nothing). A figure is at least [`MIN_FIGURE`] points each way and smaller than
/// most of the page (a background or a scanned page is no figure).
fn regions(graphics: Vec<BBox>, rules: &[BBox], boxes: &[BBox], view: &View) -> Vec<BBox> {
    let mut groups = merge_near(graphics);
    let page = view.width * view.height;
    for frame in boxes.iter().filter(|b| area(b) < 0.6 * page) {
        let inside = |g: &BBox| {
            g[0] >= frame[0] - 1.0
                && g[1] >= frame[1] - 1.0
                && g[2] <= frame[2] + 1.0
                && g[3] <= frame[3] + 1.0
        };
        if groups.iter().any(inside) {
            let (within, rest): (Vec<BBox>, Vec<BBox>) = groups.into_iter().partition(inside);
            let group = within.iter().fold(*frame, |acc, g| union(&acc, g));
            groups = merge_near(rest.into_iter().chain([group]).collect());
        }
    }
    let mut joined = vec![false; rules.len()];
    let mut changed = true;
    while changed {
        changed = false;
        for (rule, done) in rules.iter().zip(joined.iter_mut()) {
            if *done {
                continue;
            }
            let (touching, rest): (Vec<BBox>, Vec<BBox>) =
                groups.iter().partition(|g| near(g, rule));
            if touching.len() < 2 {
                continue;
            }
            *done = true;
            changed = true;
            let group = touching.iter().fold(*rule, |acc, g| union(&acc, g));
            groups = merge_near(rest.into_iter().chain([group]).collect());
        }
    }
    groups
        .into_iter()
        .filter(|b| b[2] - b[0] >= MIN_FIGURE && b[3] - b[1] >= MIN_FIGURE && area(b) < 0.6 * page)
        .collect()
}

fn area(b: &BBox) -> f32 {
    (b[2] - b[0]) * (b[3] - b[1])
}

/// Boxes that touch or lie within 4 points of each other, merged until none do.
fn merge_near(mut boxes: Vec<BBox>) -> Vec<BBox> {
    let mut merged = true;
    while merged {
        merged = false;
        let mut out: Vec<BBox> = Vec::with_capacity(boxes.len());
        for b in boxes {
            if let Some(o) = out.iter_mut().find(|o| near(o, &b)) {
                *o = union(o, &b);
                merged = true;
            } else {
                out.push(b);
            }
        }
        boxes = out;
    }
    boxes
}

/// Whether two boxes touch or lie within 4 points of each other.
fn near(a: &BBox, b: &BBox) -> bool {
    const NEAR: f32 = 4.0;
    a[0] <= b[2] + NEAR && b[0] <= a[2] + NEAR && a[1] <= b[3] + NEAR && b[1] <= a[3] + NEAR
}

#[derive(Default)]
struct Drawings {
    rules: Vec<BBox>,
    graphics: Vec<BBox>,
    /// Boxes drawn with straight lines (a chart's frame, a table's outline).
    boxes: Vec<BBox>,
    check_boxes: DrawnBoxes,
    image_area: f32,
    seen: usize,
}

impl Drawings {
    /// Adds a graphic, to the region it touches if there is one.
    fn graphic(&mut self, b: BBox) {
        if !b.iter().all(|v| v.is_finite()) {
            return;
        }
        match self.graphics.iter_mut().find(|g| near(g, &b)) {
            Some(g) => *g = union(g, &b),
            None => self.graphics.push(b),
        }
    }

    /// Looks at one object (`outer`: the matrices of the forms it sits in), and into forms.
    fn visit(&mut self, object: &PdfPageObject, outer: PdfMatrix, view: &View, depth: u32) {
        if self.seen > MAX_PATHS || self.rules.len() > MAX_RULES || depth > 8 {
            return;
        }
        if let Some(form) = object.as_x_object_form_object() {
            let inner = form.matrix().map(|m| m.multiply(outer)).unwrap_or(outer);
            for child in form.iter() {
                self.visit(&child, inner, view, depth + 1);
            }
            return;
        }
        if object.object_type() == PdfPageObjectType::Image {
            self.seen += 1;
            if let Ok(q) = object.bounds() {
                let r = q.to_rect();
                let (x0, y0) = outer.apply_to_points(r.left(), r.bottom());
                let (x1, y1) = outer.apply_to_points(r.right(), r.top());
                let b = view.rect(&PdfRect::new(y0, x0, y1, x1));
                let w = (b[2].min(view.width) - b[0].max(0.0)).max(0.0);
                let h = (b[3].min(view.height) - b[1].max(0.0)).max(0.0);
                self.image_area += w * h;
                self.graphic(b);
            }
            return;
        }
        if let Some(path) = object.as_path_object() {
            self.seen += 1;
            self.path(path, outer, view);
        }
    }

    /// Straight, axis-aligned edges of a stroked path, or a filled path that is a thin bar, are
    /// rules; a path with curves or slanted lines is part of a figure.
    fn path(&mut self, path: &PdfPagePathObject, outer: PdfMatrix, view: &View) {
        let stroked = path.is_stroked().unwrap_or(false);
        let filled = path
            .fill_mode()
            .map(|m| m != PdfPathFillMode::None)
            .unwrap_or(false);
        if !stroked && !filled {
            return;
        }
        let Ok(matrix) = path.matrix() else {
            return;
        };
        let width = if stroked {
            let scale = (matrix.a() * matrix.d() - matrix.b() * matrix.c())
                .abs()
                .sqrt();
            (path.stroke_width().map(|w| w.value).unwrap_or(1.0) * scale).max(0.25)
        } else {
            0.0
        };
        let segments = path.segments().transform(matrix);
        let mut points: Vec<(f32, f32)> = Vec::new();
        let mut edges: Vec<((f32, f32), (f32, f32))> = Vec::new();
        let mut start: Option<(f32, f32)> = None;
        let mut curved = false;
        for s in segments.iter() {
            let (x, y) = s.point();
            let (x, y) = outer.apply_to_points(x, y);
            let p = view.point(x.value, y.value);
            match s.segment_type() {
                PdfPathSegmentType::MoveTo => start = Some(p),
                PdfPathSegmentType::LineTo => {
                    if let Some(prev) = points.last() {
                        edges.push((*prev, p));
                    }
                }
                _ => curved = true,
            }
            points.push(p);
            if s.is_close() {
                if let Some(first) = start {
                    edges.push((p, first));
                }
            }
        }
        if points.is_empty() {
            return;
        }
        if points.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()) {
            return;
        }
        let xs = points.iter().map(|p| p.0);
        let ys = points.iter().map(|p| p.1);
        let bbox = [
            xs.clone().fold(f32::MAX, f32::min),
            ys.clone().fold(f32::MAX, f32::min),
            xs.fold(f32::MIN, f32::max),
            ys.fold(f32::MIN, f32::max),
        ];
        let slanted = edges
            .iter()
            .filter(|((x0, y0), (x1, y1))| (x1 - x0).abs() >= 0.5 && (y1 - y0).abs() >= 0.5)
            .count();
        let (w, h) = (bbox[2] - bbox[0], bbox[3] - bbox[1]);
        if w.max(h) <= MAX_BOX {
            let white = || {
                path.fill_color()
                    .is_ok_and(|c| c.red().min(c.green()).min(c.blue()) >= 250)
            };
            if curved || slanted >= 1 {
                self.check_boxes.strokes.push(bbox);
            } else if stroked
                && edges.len() >= 4
                && w.min(h) >= MIN_BOX
                && (w - h).abs() <= 0.2 * w.max(h)
                && (!filled || white())
            {
                // An outlined square the size of a check box (empty or white inside).
                self.check_boxes.squares.push(bbox);
                return;
            }
        }
        // Curves, slanted lines and small marks (a chart's markers) draw figures.
        if curved || slanted >= 1 || w.max(h) < MIN_RULE {
            self.graphic(bbox);
            return;
        }
        if w >= MIN_FIGURE && h >= MIN_FIGURE {
            self.boxes.push(bbox);
        }
        if filled && !stroked {
            // A filled shape is a rule only when it is a thin bar.
            if w.min(h) <= 3.0 {
                self.rules.push(bbox);
            }
            return;
        }
        let half = width / 2.0;
        for ((x0, y0), (x1, y1)) in edges {
            if (y1 - y0).abs() < 0.5 && (x1 - x0).abs() >= MIN_RULE {
                self.rules
                    .push([x0.min(x1), y0 - half, x0.max(x1), y0 + half]);
            } else if (x1 - x0).abs() < 0.5 && (y1 - y0).abs() >= MIN_RULE {
                self.rules
                    .push([x0 - half, y0.min(y1), x0 + half, y0.max(y1)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_boxes_of_symbol_fonts_are_ballot_boxes_and_their_bullets_are_not() {
        assert_eq!(symbol_mark("ABCDEF+Wingdings-Regular", 0xA8), Some('☐'));
        assert_eq!(symbol_mark("Wingdings", 0xFE), Some('☑'));
        assert_eq!(symbol_mark("Wingdings 2", 0x52), Some('☑'));
        assert_eq!(symbol_mark("Wingdings2", 0xA3), Some('☐'));
        // Word's square and shadowed-box bullets.
        assert_eq!(symbol_mark("Wingdings", 0xA7), None);
        assert_eq!(symbol_mark("Wingdings", 0x71), None);
        assert_eq!(symbol_mark("Symbol", 0xA8), None);
    }

    #[test]
    fn a_font_is_bold_by_its_name_before_its_declared_weight() {
        let heavy = Some(PdfFontWeight::Custom(695));
        // URW's Palladio and Times clones declare stems that read as bold.
        assert!(!Style::of("ABCDEF+URWPalladioL-Roma", heavy, false).bold);
        assert!(!Style::of("NimbusRomNo9L-Regu", heavy, false).bold);
        assert!(Style::of("NimbusRomNo9L-Medi", None, false).bold);
        assert!(Style::of("Arial,Bold", None, false).bold);
        // TeX's bold extended faces say so only in their names.
        assert!(Style::of("XYZABC+CMBX10", Some(PdfFontWeight::Custom(570)), false).bold);
        assert!(!Style::of("CMR10", Some(PdfFontWeight::Custom(345)), false).bold);
        assert!(Style::of("Helvetica", heavy, false).bold);
    }

    fn built(chars: &[(char, BBox)]) -> String {
        let mut b = WordBuilder::default();
        for (c, glyph) in chars {
            b.push(*c, [glyph[0], 0.0, glyph[2], 12.0], *glyph);
        }
        b.text
    }

    #[test]
    fn hangul_set_without_space_glyphs_is_split_at_its_word_gaps() {
        // "0시 기준 현재": syllables 0.05 em apart within a word, 0.4 em between words.
        assert!(!spaced_by_gap('시', '기', 0.05 * 10.0, 10.0));
        assert!(spaced_by_gap('시', '기', 0.4 * 10.0, 10.0));
        assert!(spaced_by_gap('0', '시', 0.4 * 10.0, 10.0));
        // Thai too; Latin letter-spacing is not a word gap (PDFium guesses those spaces).
        assert!(spaced_by_gap('ก', 'ข', 0.5 * 10.0, 10.0));
        assert!(!spaced_by_gap('A', 'B', 0.5 * 10.0, 10.0));
    }

    #[test]
    fn korean_set_without_space_glyphs_keeps_its_word_spaces() {
        let bytes = fixture("korean.pdf");
        let pdf = open(engine(), &bytes, LIMITS).unwrap();
        let layer = pdf.text_layer(1).unwrap();
        assert_eq!(
            text(&layer),
            "0시 기준 현재 국내 확진자는 모두 열두 명입니다 서울과 부산에서 각각 세 명이 새로 확인되었습니다"
        );
    }

    #[test]
    fn arabic_drawn_in_reading_order_keeps_it_even_with_its_comma_drawn_first() {
        let finished = |chars: &[(char, f32)]| {
            let mut b = WordBuilder::default();
            b.start(10.0, Style::default(), false);
            for &(c, left) in chars {
                b.push(
                    c,
                    [left, 0.0, left + 5.0, 12.0],
                    [left, 2.0, left + 5.0, 10.0],
                );
            }
            let mut words = Vec::new();
            b.finish(&mut words, true);
            words.pop().map(|w| w.text).unwrap_or_default()
        };
        // "الماضي،": the comma (left of the word) first, then the letters leftwards.
        let word: Vec<(char, f32)> = std::iter::once(('\u{60C}', 0.0))
            .chain("الماضي".chars().zip([35.0, 30.0, 25.0, 20.0, 15.0, 10.0]))
            .collect();
        assert_eq!(finished(&word), "الماضي\u{60C}");
        // The same letters drawn from the left, in visual order, comma and all.
        let visual: Vec<(char, f32)> = "\u{60C}يضاملا"
            .chars()
            .zip((0..7).map(|i| i as f32 * 5.0))
            .collect();
        assert_eq!(finished(&visual), "الماضي\u{60C}");
        // In reading order with nothing out of place.
        let plain: Vec<(char, f32)> = "الماضي"
            .chars()
            .zip([35.0, 30.0, 25.0, 20.0, 15.0, 10.0])
            .collect();
        assert_eq!(finished(&plain), "الماضي");
        // "(ובמתחרים)." drawn from the right: its closing bracket shows as "(" and is drawn,
        // with the full stop, left of the letters.
        let hebrew: Vec<(char, f32)> = "ובמתחרים"
            .chars()
            .zip((0..8).map(|i| 60.0 - i as f32 * 5.0))
            .chain([('(', 20.0), ('.', 15.0)])
            .collect();
        assert_eq!(finished(&hebrew), "ובמתחרים).");
    }

    #[test]
    fn a_bracket_standing_apart_left_of_a_right_to_left_word_starts_another() {
        let mut b = WordBuilder::default();
        b.start(10.0, Style::default(), false);
        for (i, c) in "בשוק".chars().enumerate() {
            let left = 60.0 - i as f32 * 5.0;
            b.push(
                c,
                [left, 0.0, left + 5.0, 12.0],
                [left, 2.0, left + 5.0, 10.0],
            );
        }
        // Its opening bracket, four points (a space) left of the word: drawn next, with no
        // space between.
        assert!(b.stands_apart_leftwards(')', [38.0, 2.0, 41.0, 10.0], 10.0));
        // Figures run rightwards from their first one; a letter close by is the same word.
        assert!(!b.stands_apart_leftwards('1', [20.0, 2.0, 25.0, 10.0], 10.0));
        assert!(!b.stands_apart_leftwards('ה', [43.0, 2.0, 45.0, 10.0], 10.0));
    }

    #[test]
    fn a_bracket_drawn_left_of_a_figure_after_it_starts_another_word() {
        let mut b = WordBuilder::default();
        b.start(10.0, Style::default(), false);
        for (i, c) in "2019".chars().enumerate() {
            let left = 20.0 + i as f32 * 5.0;
            b.push(
                c,
                [left, 0.0, left + 5.0, 12.0],
                [left, 2.0, left + 5.0, 10.0],
            );
        }
        // "(2019)" set right to left: its closing bracket drawn at the figures' left.
        assert!(b.stands_apart_leftwards('(', [16.0, 2.0, 19.5, 10.0], 10.0));
        assert!(b.stands_apart_leftwards('.', [17.0, 8.0, 19.0, 10.0], 10.0));
        // Set left to right, it follows them.
        assert!(!b.stands_apart_leftwards(')', [40.0, 2.0, 43.0, 10.0], 10.0));
        assert!(!b.stands_apart_leftwards('5', [10.0, 2.0, 15.0, 10.0], 10.0));
    }

    /// The texts of the blocks of a fixture's first page, as the layout reads them.
    fn blocks_of(name: &str) -> Vec<String> {
        let bytes = fixture(name);
        let pdf = open(engine(), &bytes, LIMITS).unwrap();
        let page = pdf.text_layer(1).unwrap().page;
        let doc = horizon_layout::analyse(&[page]);
        doc.pages[0].blocks.iter().map(|b| b.text.clone()).collect()
    }

    #[test]
    fn arabic_printed_by_a_browser_reads_in_order_with_its_punctuation() {
        assert_eq!(
            blocks_of("arabic.pdf"),
            [
                "تقرير الربع الثالث",
                "ارتفعت الإيرادات في الربع الثالث بنسبة عشرة في المئة مقارنة بالعام الماضي، وذلك بفضل نمو المبيعات في الأسواق الجديدة.",
                "تعمل الشركة على توسيع شبكة التوزيع في المنطقة العربية خلال السنوات الخمس القادمة.",
                "بلغ عدد الموظفين 2500 موظف في نهاية شهر سبتمبر 2023.",
            ]
        );
    }

    #[test]
    fn brackets_round_right_to_left_words_read_the_right_way_round() {
        assert_eq!(
            blocks_of("hebrew.pdf"),
            [
                "דוח שנתי 2024",
                "החברה הגדילה את ההכנסות שלה ב־12% בשנה האחרונה, בעיקר בזכות מוצרי Cloud החדשים.",
                "האם נמשיך לצמוח? התשובה תלויה בשוק (ובמתחרים).",
                "נבחרו שלושה מועמדים (מתוך עשרה) לשלב הבא.",
                "تأسست الشركة (في دبي) عام 2010 وتوسعت لاحقا.",
                "המחקר פורסם (2019) ועודכן בגרסה (Cloud 2.0) לאחר מכן.",
                "صدر التقرير (2019) بنسخة (PDF) جديدة [12].",
            ]
        );
    }

    #[test]
    fn an_accent_set_over_a_letter_becomes_its_combining_mark() {
        // TeX's \bar{A}: the letter, then a macron drawn above it.
        let a = built(&[
            ('A', [0.0, 2.0, 7.0, 10.0]),
            ('\u{AF}', [1.0, 0.0, 6.0, 1.0]),
        ]);
        assert_eq!(a, "A\u{304}");
        // \tilde{n}: the tilde first.
        let n = built(&[
            ('\u{2DC}', [1.0, 0.0, 5.0, 1.5]),
            ('n', [0.0, 4.0, 6.0, 10.0]),
        ]);
        assert_eq!(n, "n\u{303}");
        // An accent written beside a letter, on the line, is a character of its own.
        let apart = built(&[
            ('l', [0.0, 2.0, 3.0, 10.0]),
            ('\u{B4}', [4.0, 2.0, 7.0, 5.0]),
        ]);
        assert_eq!(apart, "l\u{B4}");
    }

    fn view() -> View {
        View {
            left: 0.0,
            bottom: 0.0,
            right: 600.0,
            top: 800.0,
            rotation: PdfPageRenderRotation::None,
            width: 600.0,
            height: 800.0,
        }
    }

    #[test]
    fn a_chart_s_frame_joins_its_ticks_and_curve_into_one_figure() {
        // A frame of straight lines 200 × 150, a curve inside it from its left edge, ticks on its
        // bottom edge.
        let frame = [[100.0, 100.0, 300.0, 101.0], [100.0, 249.0, 300.0, 250.0]];
        let left = [99.5, 100.0, 100.5, 250.0];
        let boxes = [[100.0, 100.0, 300.0, 250.0]];
        let mut graphics = vec![[100.5, 180.0, 290.0, 200.0]];
        graphics.extend((0..5).map(|i| {
            let x = 120.0 + 40.0 * i as f32;
            [x, 246.0, x + 0.5, 249.0]
        }));
        let rules: Vec<BBox> = frame.iter().chain([&left]).copied().collect();
        let regions = regions(graphics.clone(), &rules, &boxes, &view());
        assert_eq!(regions, vec![[100.0, 100.0, 300.0, 250.0]]);
        // Without the drawn box, the rule the ticks share joins them to each other.
        let regions = super::regions(graphics, &rules, &[], &view());
        assert!(
            regions
                .iter()
                .any(|r| r[3] - r[1] >= 40.0 && r[2] - r[0] >= 150.0),
            "{regions:?}"
        );
    }

    #[test]
    fn a_rule_under_one_logo_makes_no_figure_of_the_header() {
        let logo = vec![[40.0, 20.0, 80.0, 60.0]];
        let rule = [[40.0, 61.0, 560.0, 62.0]];
        let regions = regions(logo, &rule, &[], &view());
        assert_eq!(regions, vec![[40.0, 20.0, 80.0, 60.0]]);
    }

    /// PDFium as the test scripts install it (`scripts/install-pdfium` sets PDFIUM_LIB_PATH).
    fn engine() -> &'static Pdfium {
        let path = std::env::var("PDFIUM_LIB_PATH").ok();
        pdfium(path.as_deref()).unwrap_or_else(|e| {
            panic!(
                "{}: run the tests through scripts/test, which installs PDFium",
                e.message
            )
        })
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const LIMITS: Limits = Limits { max_pages: 100 };

    fn text(layer: &TextLayer) -> String {
        layer
            .page
            .words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn words_come_with_boxes_sizes_and_styles() {
        let bytes = fixture("report.pdf");
        let pdf = open(engine(), &bytes, LIMITS).unwrap();
        assert_eq!(pdf.page_count(), 2);
        let layer = pdf.text_layer(1).unwrap();
        let t = text(&layer);
        assert!(t.contains("Annual Report 2026"), "{t}");
        let title = layer
            .page
            .words
            .iter()
            .find(|w| w.text == "Annual")
            .unwrap();
        assert!((title.size - 24.0).abs() < 0.5, "{title:?}");
        assert!(title.bold);
        let header = layer
            .page
            .words
            .iter()
            .find(|w| w.text == "Horizon")
            .unwrap();
        assert!(
            header.bbox[1] < 60.0,
            "the header is at the top: {header:?}"
        );
        assert!(!header.bold);
        assert!(
            layer.page.rules.len() >= 8,
            "the table's rules: {}",
            layer.page.rules.len()
        );
        assert_eq!(layer.mappable(), 1.0);
        assert!(layer.image_cover < 0.01);
    }

    #[test]
    fn corrupt_and_non_pdf_bytes_fail_as_invalid_pdf() {
        for bytes in [fixture("corrupt.pdf"), b"%PDF-1.4\n".to_vec(), Vec::new()] {
            let e = open(engine(), &bytes, LIMITS).err().unwrap();
            assert_eq!(e.code, "invalid_pdf", "{e:?}");
        }
    }

    #[test]
    fn an_empty_user_password_opens_a_real_one_does_not() {
        let bytes = fixture("encrypted-empty-password.pdf");
        let pdf = open(engine(), &bytes, LIMITS).unwrap();
        assert!(text(&pdf.text_layer(1).unwrap()).contains("Opened without a password"));
        let bytes = fixture("encrypted-user-password.pdf");
        assert_eq!(
            open(engine(), &bytes, LIMITS).err().unwrap().code,
            "encrypted"
        );
    }

    #[test]
    fn a_scan_has_no_text_but_an_image_and_renders() {
        let bytes = fixture("scan.pdf");
        let pdf = open(engine(), &bytes, LIMITS).unwrap();
        let layer = pdf.text_layer(1).unwrap();
        assert_eq!(layer.chars, 0);
        assert!(layer.image_cover > 0.9, "{}", layer.image_cover);
        let (image, scale) = pdf.render(1, 144.0).unwrap();
        assert!((scale - 2.0).abs() < 1e-3);
        assert_eq!(image.width(), (layer.page.width * 2.0).round() as u32);
        assert!(image.pixels().any(|p| p.0[0] < 100), "some ink");
    }

    #[test]
    fn a_text_layer_without_unicode_is_mostly_unmappable() {
        let bytes = fixture("garbled-text-layer.pdf");
        let pdf = open(engine(), &bytes, LIMITS).unwrap();
        let layer = pdf.text_layer(1).unwrap();
        assert!(layer.chars > 50);
        assert!(layer.mappable() < 0.5, "{}", layer.mappable());
    }

    #[test]
    fn a_file_cut_short_is_repaired_and_says_so() {
        let bytes = fixture("truncated.pdf");
        let pdf = open(engine(), &bytes, LIMITS).unwrap();
        assert_eq!(pdf.page_count(), 2);
        assert!(text(&pdf.text_layer(1).unwrap()).contains("Horizon walking skeleton."));
        assert!(pdf.warnings[0].contains("damaged"), "{:?}", pdf.warnings);
    }

    #[test]
    fn page_limit_is_enforced() {
        let bytes = fixture("two-pages.pdf");
        let e = open(engine(), &bytes, Limits { max_pages: 1 })
            .err()
            .unwrap();
        assert_eq!(e.code, "too_many_pages");
        assert!(e.message.contains("2 pages"), "{}", e.message);
    }
}
