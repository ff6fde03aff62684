//! The extraction engine the child process runs: a PDF's pages from their text layer or, where
//! that is missing or unusable (or when asked), from OCR of the rendered page; an image's pages
//! (a multi-page TIFF has several) from OCR; in the accurate mode, each page's regions from the
//! learned layout model and its tables' structure from the table model; then the layout
//! analysis of the whole document. Office, OpenDocument, EPUB, HTML and Markdown documents are
//! read with their own structure ([`horizon_formats`]), their pictures with OCR.

use std::path::PathBuf;

use horizon_layout::languages::Script;
use horizon_layout::{Document, PageInput, Unit};
use horizon_ocr::{Engine, Regions, Setup};
use horizon_pdf::images::ImagePages;
use horizon_pdf::{Failure, Limits, TextLayer};
use image::GrayImage;
use serde::{Deserialize, Serialize};

/// What a job gives the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    Pdf,
    Image,
    /// DOCX, PPTX, XLSX, ODT, EPUB, HTML or Markdown.
    Document,
}

impl Input {
    /// How a job of `job_type` reads a document of `content_type` (as its bytes showed it, when
    /// known).
    pub fn of(job_type: horizon_domain::JobType, content_type: Option<&str>) -> Input {
        use horizon_domain::JobType;
        match content_type {
            Some("application/pdf") => Input::Pdf,
            Some(t) if t.starts_with("image/") => Input::Image,
            Some(_) => Input::Document,
            None => match job_type {
                JobType::ExtractImage => Input::Image,
                JobType::ExtractPdf | JobType::ExtractDocument => Input::Pdf,
            },
        }
    }
}

/// When PDF pages are read with OCR (see the API's `options.ocr`).
pub use horizon_domain::OcrMode as Ocr;

/// Whether the learned layout and table models run (see the API's `options.mode`).
pub use horizon_domain::ExtractMode as Mode;

/// How the engine is set up for one document.
#[derive(Debug, Clone)]
pub struct Options {
    pub input: Input,
    pub ocr: Ocr,
    pub mode: Mode,
    pub max_pages: u32,
    /// The whole job's budget of pixels that the models read, in millions (see [`Budget`]).
    pub max_megapixels: u64,
    /// Which pages (1-based) to read.
    pub wanted: Option<String>,
    pub pdfium: Option<String>,
    /// Where `scripts/install-ocr` put ONNX Runtime and the models.
    pub ocr_dir: PathBuf,
    pub threads: usize,
    /// The scripts of the job's languages (none: found from the text).
    pub languages: Vec<Script>,
}

/// What came out of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extraction {
    pub document: Document,
    /// Pages read with OCR.
    pub ocr_pages: Vec<u32>,
    /// Pages on which nothing could be read.
    pub empty_pages: Vec<u32>,
    pub warnings: Vec<String>,
}

/// Pages are rendered at this resolution for OCR.
pub const OCR_DPI: f32 = 200.0;
/// Born-digital pages are rendered at this resolution for the layout model (which sees the
/// page at 608×800) and the table model (which sees a table at 488 pixels across at most).
pub const LAYOUT_DPI: f32 = 120.0;
/// A text layer with less than this share of real characters is not used.
const MIN_MAPPABLE: f32 = 0.5;

/// A page that a model reads costs at least this many pixels, the layout model's own input
/// (608×800): a model's run on a page the size of a stamp costs about as much as on a letter.
const PAGE_FLOOR: u64 = 608 * 800;

/// A job's budget of work, in pixels that the models read (pages × pixels): each page read with
/// OCR or the layout model costs its rendered or decoded pixels, and at least [`PAGE_FLOOR`]. A
/// page read from its text layer alone costs nothing. Where the cost is known from the file
/// (an image's pages, a PDF read with `ocr: always`), a document over the budget fails before
/// its first page; otherwise at the page that crosses it. Either way the job ends `failed` with
/// `over_budget`, and a worker is not held for hours by one document.
struct Budget {
    limit: u64,
    spent: u64,
}

impl Budget {
    fn new(megapixels: u64) -> Budget {
        Budget {
            limit: megapixels.saturating_mul(1_000_000),
            spent: 0,
        }
    }

    fn cost(pixels: u64) -> u64 {
        pixels.max(PAGE_FLOOR)
    }

    /// The document as a whole: `pages` pages that the models will read, of `pixels` in all.
    fn check_whole(&self, pages: &[(u32, u64)]) -> Result<(), Failure> {
        let total: u64 = pages.iter().map(|&(_, p)| Budget::cost(p)).sum();
        if total <= self.limit {
            return Ok(());
        }
        // The pages that fit, for the message's advice.
        let mut sum = 0;
        let fit = pages
            .iter()
            .take_while(|&&(_, p)| {
                sum += Budget::cost(p);
                sum <= self.limit
            })
            .count();
        Err(Failure::new(
            "over_budget",
            format!(
                "the {} pages to read come to {} megapixels for the models, above the job's budget of {}; about {fit} such pages fit in one job: read the document in parts with options.pages",
                pages.len(),
                mega(total),
                mega(self.limit)
            ),
        ))
    }

    /// Page `number`, read by a model at `pixels`.
    fn charge(&mut self, number: u32, pixels: u64) -> Result<(), Failure> {
        self.spent = self.spent.saturating_add(Budget::cost(pixels));
        if self.spent <= self.limit {
            return Ok(());
        }
        Err(Failure::new(
            "over_budget",
            format!(
                "page {number} brings the pixels read by the models to {} megapixels, above the job's budget of {}; read the document in parts with options.pages, from page {number} on",
                mega(self.spent),
                mega(self.limit)
            ),
        ))
    }
}

fn mega(pixels: u64) -> u64 {
    pixels.div_ceil(1_000_000)
}

fn pixels(image: &GrayImage) -> u64 {
    image.width() as u64 * image.height() as u64
}

/// Reads a document whole: its pages ([`read`]), then the layout analysis of all of them
/// ([`finish`]). `progress(done, total)` is told as pages are read. Errors carry the job's
/// `error.code`.
pub fn extract(
    bytes: &[u8],
    options: &Options,
    progress: &dyn Fn(u32, u32),
) -> Result<Extraction, Failure> {
    if options.input == Input::Document {
        return document(bytes, options, progress);
    }
    Ok(finish(
        read(bytes, options, progress)?,
        options.input,
        options.ocr,
    ))
}

/// Pictures smaller than this on either side are not read (icons, rules, bullets).
const MIN_PICTURE_SIDE: u32 = 32;

/// An Office, OpenDocument, EPUB, HTML or Markdown document: its structure as the format states
/// it, its pictures read with OCR (unless `ocr: never`) within the job's budget, the wanted
/// pages (slides, sheets) kept.
fn document(
    bytes: &[u8],
    options: &Options,
    progress: &dyn Fn(u32, u32),
) -> Result<Extraction, Failure> {
    progress(0, 1);
    let mut ocr = LazyOcr::new(options);
    let mut budget = Budget::new(options.max_megapixels);
    let mut over_budget = false;
    let mut read_pictures = 0u32;
    let mut failure: Option<Failure> = None;
    let mut see = |picture: &[u8]| -> Option<String> {
        if options.ocr == Ocr::Never || over_budget || failure.is_some() {
            return None;
        }
        let mut pages = ImagePages::open(picture, 1).ok()?;
        let (_, Some((image, scale))) = pages.next(&|_| true).ok()?? else {
            return None;
        };
        if image.width().min(image.height()) < MIN_PICTURE_SIDE {
            return None;
        }
        if budget.charge(1, pixels(&image)).is_err() {
            over_budget = true;
            return None;
        }
        match ocr.page(&image, 1, scale, Unit::Pixels) {
            Ok(page) => {
                read_pictures += 1;
                Some(horizon_layout::analyse(&[page]).text())
            }
            // A worker without its models is broken, not the document.
            Err(e) if e.code == "engine_unavailable" => {
                failure = Some(e);
                None
            }
            Err(_) => None,
        }
    };
    let read = horizon_formats::read(bytes, &mut see);
    if let Some(e) = failure {
        return Err(e);
    }
    let read = read.map_err(|e| Failure::new(e.code(), e.to_string()))?;
    let mut warnings = read.warnings;
    if over_budget {
        warnings.push(format!(
            "the document's pictures are larger than the job's budget of {} million pixels; those past it were not read with OCR",
            options.max_megapixels
        ));
    }
    let mut document = read.document;
    let count = document.pages.len() as u32;
    if options.max_pages > 0 && count > options.max_pages {
        let what = if read.format == horizon_formats::Format::Pptx {
            "slides"
        } else {
            "sheets"
        };
        return Err(Failure::new(
            "too_many_pages",
            format!(
                "the document has {count} {what}, more than the {} allowed",
                options.max_pages
            ),
        ));
    }
    if let Some(selection) = selection(options)? {
        document.pages.retain(|p| selection.contains(p.number));
    }
    tracing::debug!(
        format = read.format.name(),
        pictures = read_pictures,
        "document read"
    );
    progress(1, 1);
    Ok(Extraction {
        document,
        ocr_pages: Vec::new(),
        empty_pages: Vec::new(),
        warnings,
    })
}

/// A document's pages as read, before the analysis of the whole document: what a part of a job
/// (a page range) hands on, to be joined with the other parts' ([`Reading::join`]) and
/// [`finish`]ed once, as if the document had been read in one piece.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    pub pages: Vec<PageInput>,
    pub ocr_pages: Vec<u32>,
    pub empty_pages: Vec<u32>,
    /// What the file itself gave cause for (a repaired PDF).
    pub warnings: Vec<String>,
    /// Scripts of the job's languages that OCR has no model for (known once OCR ran).
    pub unreadable: Vec<Script>,
}

impl Reading {
    /// The parts' readings, in page order, as one.
    pub fn join(parts: impl IntoIterator<Item = Reading>) -> Reading {
        let mut whole = Reading::default();
        for (i, part) in parts.into_iter().enumerate() {
            whole.pages.extend(part.pages);
            whole.ocr_pages.extend(part.ocr_pages);
            whole.empty_pages.extend(part.empty_pages);
            // Every part opened the same file: its warnings are the first part's.
            if i == 0 {
                whole.warnings = part.warnings;
            } else {
                for w in part.warnings {
                    if !whole.warnings.contains(&w) {
                        whole.warnings.push(w);
                    }
                }
            }
            for s in part.unreadable {
                if !whole.unreadable.contains(&s) {
                    whole.unreadable.push(s);
                }
            }
        }
        whole
    }
}

/// What a page is expected to cost to read, for dividing a long job into parts.
pub use horizon_domain::parts::PageCost;

/// What each wanted page of a document will cost to read, without reading it: an image's pages
/// and a PDF's pages without a usable text layer (or all, with `ocr: always`) are read with OCR;
/// a PDF's other pages with the layout model (accurate mode) or from their text alone.
/// `progress(done, total)` is told as pages are planned.
pub fn plan(
    bytes: &[u8],
    options: &Options,
    progress: &dyn Fn(u32, u32),
) -> Result<Vec<(u32, PageCost)>, Failure> {
    let selection = selection(options)?;
    let wanted = |n: u32| selection.as_ref().is_none_or(|sel| sel.contains(n));
    // The pages the models read, at their pixels: the whole job's budget is checked here.
    let mut sizes: Vec<(u32, u64)> = Vec::new();
    let mut out = Vec::new();
    match options.input {
        Input::Pdf => {
            let pdf = horizon_pdf::open(
                horizon_pdf::pdfium(options.pdfium.as_deref())?,
                bytes,
                Limits {
                    max_pages: options.max_pages,
                },
            )?;
            let numbers: Vec<u32> = (1..=pdf.page_count()).filter(|&n| wanted(n)).collect();
            for (done, &n) in numbers.iter().enumerate() {
                let layer = pdf.text_layer(n)?;
                progress(done as u32 + 1, numbers.len() as u32);
                let cost = if needs_ocr(&layer, options.ocr) {
                    sizes.push((n, pdf.render_pixels(n, OCR_DPI)?));
                    PageCost::Ocr
                } else if options.mode == Mode::Accurate && !layer.page.words.is_empty() {
                    sizes.push((n, pdf.render_pixels(n, LAYOUT_DPI)?));
                    PageCost::Layout
                } else {
                    PageCost::Text
                };
                out.push((n, cost));
            }
        }
        Input::Image => {
            let images = ImagePages::open(bytes, options.max_pages)?;
            for n in (1..=images.count).filter(|&n| wanted(n)) {
                sizes.push((n, images.pixels(n)));
                out.push((n, PageCost::Ocr));
            }
        }
        // Read whole, in one piece: its pictures are its only costly part.
        Input::Document => out.push((1, PageCost::Text)),
    }
    Budget::new(options.max_megapixels).check_whole(&sizes)?;
    Ok(out)
}

fn selection(options: &Options) -> Result<Option<horizon_domain::PageSelection>, Failure> {
    options
        .wanted
        .as_deref()
        .map(|w| {
            w.parse::<horizon_domain::PageSelection>()
                .map_err(|e| Failure::new("internal", format!("the page selection: {e}")))
        })
        .transpose()
}

/// Reads a document's wanted pages (see [`Reading`]). `progress(done, total)` is told as pages
/// are read.
pub fn read(
    bytes: &[u8],
    options: &Options,
    progress: &dyn Fn(u32, u32),
) -> Result<Reading, Failure> {
    let selection = selection(options)?;
    let wanted = |n: u32| selection.as_ref().is_none_or(|sel| sel.contains(n));
    let mut ocr = LazyOcr::new(options);
    let mut budget = Budget::new(options.max_megapixels);
    let mut out = Reading::default();
    match options.input {
        Input::Pdf => {
            let pdfium = horizon_pdf::pdfium(options.pdfium.as_deref())?;
            let pdf = horizon_pdf::open(
                pdfium,
                bytes,
                Limits {
                    max_pages: options.max_pages,
                },
            )?;
            out.warnings.extend(pdf.warnings.iter().cloned());
            let numbers: Vec<u32> = (1..=pdf.page_count()).filter(|&n| wanted(n)).collect();
            if options.ocr == Ocr::Always {
                let sizes = numbers
                    .iter()
                    .map(|&n| Ok((n, pdf.render_pixels(n, OCR_DPI)?)))
                    .collect::<Result<Vec<_>, Failure>>()?;
                budget.check_whole(&sizes)?;
            }
            progress(0, numbers.len() as u32);
            for (done, &n) in numbers.iter().enumerate() {
                let layer = pdf.text_layer(n)?;
                let page = if needs_ocr(&layer, options.ocr) {
                    let (image, scale) = pdf.render(n, OCR_DPI)?;
                    budget.charge(n, pixels(&image))?;
                    out.ocr_pages.push(n);
                    ocr.page(&image, n, 1.0 / scale, Unit::Points)?
                } else if options.mode == Mode::Accurate && !layer.page.words.is_empty() {
                    let (image, scale) = pdf.render(n, LAYOUT_DPI)?;
                    budget.charge(n, pixels(&image))?;
                    let mut page = layer.page;
                    ocr.regions(&image, &mut page, 1.0 / scale)?;
                    page
                } else {
                    layer.page
                };
                if page.words.is_empty() {
                    out.empty_pages.push(n);
                }
                out.pages.push(page);
                progress(done as u32 + 1, numbers.len() as u32);
            }
        }
        Input::Image => {
            // One page at a time: a TIFF may hold many, and only the wanted ones are decoded.
            let mut images = ImagePages::open(bytes, options.max_pages)?;
            let numbers: Vec<u32> = (1..=images.count).filter(|&n| wanted(n)).collect();
            let sizes: Vec<(u32, u64)> = numbers.iter().map(|&n| (n, images.pixels(n))).collect();
            budget.check_whole(&sizes)?;
            progress(0, numbers.len() as u32);
            let mut done = 0;
            while let Some((n, image)) = images.next(&wanted)? {
                let Some((image, scale)) = image else {
                    continue;
                };
                budget.charge(n, pixels(&image))?;
                let page = ocr.page(&image, n, scale, Unit::Pixels)?;
                out.ocr_pages.push(n);
                if page.words.is_empty() {
                    out.empty_pages.push(n);
                }
                out.pages.push(page);
                done += 1;
                progress(done, numbers.len() as u32);
            }
        }
        Input::Document => {
            return Err(Failure::new(
                "internal",
                "a document that is not a PDF or an image is read whole",
            ))
        }
    }
    if !out.ocr_pages.is_empty() {
        if let Some(engine) = ocr.engine.as_ref() {
            out.unreadable = engine.unreadable(&options.languages);
        }
    }
    Ok(out)
}

/// The whole document from its pages as read: the warnings of what could not be read, and the
/// layout analysis across every page (running heads, tables and words that go on over a page,
/// the heading hierarchy).
pub fn finish(reading: Reading, input: Input, ocr: Ocr) -> Extraction {
    let mut warnings = reading.warnings;
    if !reading.empty_pages.is_empty() {
        let how = if input == Input::Image || ocr != Ocr::Never {
            "no text was found on"
        } else {
            "no text layer on (OCR was turned off for)"
        };
        warnings.push(format!(
            "{how} page(s) {}; they give no chunks",
            list(&reading.empty_pages)
        ));
    }
    if !reading.ocr_pages.is_empty() && !reading.unreadable.is_empty() {
        let names: Vec<String> = reading
            .unreadable
            .iter()
            .map(|s| format!("{s:?}"))
            .collect();
        warnings.push(format!(
            "OCR has no model for the {} script; page(s) {} may read little or nothing of it",
            names.join(", "),
            list(&reading.ocr_pages)
        ));
    }
    Extraction {
        document: horizon_layout::analyse(&reading.pages),
        ocr_pages: reading.ocr_pages,
        empty_pages: reading.empty_pages,
        warnings,
    }
}

/// Whether a PDF page is read with OCR: always, never, or (`auto`) when its text layer is
/// missing, mostly characters that map to nothing, or a stray word or two on a scanned image.
pub fn needs_ocr(layer: &TextLayer, mode: Ocr) -> bool {
    match mode {
        Ocr::Always => true,
        Ocr::Never => false,
        Ocr::Auto => {
            layer.chars == 0
                || layer.mappable() < MIN_MAPPABLE
                || (layer.chars < 20 && layer.image_cover > 0.3)
        }
    }
}

/// The pages of a PDF that `auto` reads with OCR.
pub fn ocr_candidates(bytes: &[u8], pdfium: Option<&str>) -> Result<Vec<u32>, Failure> {
    let pdf = horizon_pdf::open(
        horizon_pdf::pdfium(pdfium)?,
        bytes,
        Limits {
            max_pages: u32::MAX,
        },
    )?;
    let mut out = Vec::new();
    for n in 1..=pdf.page_count() {
        if needs_ocr(&pdf.text_layer(n)?, Ocr::Auto) {
            out.push(n);
        }
    }
    Ok(out)
}

fn list(pages: &[u32]) -> String {
    pages
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The OCR engine, loaded on first use (a born-digital PDF never loads it), and the layout
/// models alone for born-digital pages. Both are kept in the process for its next document
/// ([`LOADED`]).
struct LazyOcr<'a> {
    options: &'a Options,
    engine: Option<Engine>,
    regions: Option<Option<Regions>>,
}

/// What [`LazyOcr`] loaded, for the next document read in this process with the same models.
struct Loaded {
    models: (PathBuf, usize, Mode),
    engine: Option<Engine>,
    regions: Option<Option<Regions>>,
}

static LOADED: std::sync::Mutex<Option<Loaded>> = std::sync::Mutex::new(None);

/// Lets go of the models kept for the next document (a command that reads one document and
/// ends: Tesseract's exit handlers complain of models still loaded).
pub fn unload() {
    if let Ok(mut loaded) = LOADED.lock() {
        *loaded = None;
    }
}

impl Drop for LazyOcr<'_> {
    fn drop(&mut self) {
        if let Ok(mut loaded) = LOADED.lock() {
            *loaded = Some(Loaded {
                models: self.models(),
                engine: self.engine.take(),
                regions: self.regions.take(),
            });
        }
    }
}

impl<'a> LazyOcr<'a> {
    fn new(options: &'a Options) -> LazyOcr<'a> {
        let mut ocr = LazyOcr {
            options,
            engine: None,
            regions: None,
        };
        let kept = LOADED.lock().ok().and_then(|mut l| l.take());
        if let Some(kept) = kept.filter(|k| k.models == ocr.models()) {
            ocr.engine = kept.engine.map(|mut engine| {
                engine.new_document();
                engine
            });
            ocr.regions = kept.regions;
        }
        ocr
    }

    fn models(&self) -> (PathBuf, usize, Mode) {
        (
            self.options.ocr_dir.clone(),
            self.options.threads,
            self.options.mode,
        )
    }

    fn setup(&self) -> Setup {
        let mut setup = Setup::in_dir(&self.options.ocr_dir, self.options.threads);
        if self.options.mode == Mode::Fast {
            setup.layout = None;
            setup.table = None;
        }
        setup
    }

    /// The regions of a born-digital `page` rendered as `image` at `1 / scale` pixels per
    /// point, with the tables its words make that the layout model did not see; none when the
    /// layout model is not installed or fails on the page (the page is then read without it).
    fn regions(
        &mut self,
        image: &GrayImage,
        page: &mut PageInput,
        scale: f32,
    ) -> Result<(), Failure> {
        if self.regions.is_none() {
            let loaded = Regions::load(&self.setup())
                .map_err(|e| Failure::new("engine_unavailable", e.0))?;
            self.regions = Some(loaded);
        }
        let Some(Some(models)) = self.regions.as_mut() else {
            return Ok(());
        };
        match models.find(image, scale) {
            Ok(regions) => {
                page.regions = regions;
                models.read_unseen_tables(page, image, scale);
            }
            Err(e) => {
                tracing::warn!(error = %e, page = page.number, "page layout not known; read without it")
            }
        }
        Ok(())
    }

    fn page(
        &mut self,
        image: &GrayImage,
        number: u32,
        scale: f32,
        unit: Unit,
    ) -> Result<PageInput, Failure> {
        if self.engine.is_none() {
            let setup = self.setup();
            self.engine =
                Some(Engine::load(&setup).map_err(|e| Failure::new("engine_unavailable", e.0))?);
        }
        let engine = self
            .engine
            .as_mut()
            .ok_or_else(|| Failure::new("engine_unavailable", "OCR did not load"))?;
        engine.read_scripts(&self.options.languages);
        engine
            .page(image, number, scale, unit)
            .map_err(|e| Failure::new("ocr_failed", format!("page {number}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_counts_pages_times_pixels_with_a_floor_per_page() {
        let budget = Budget::new(10);
        // Ten tiny pages cost ten model runs: 4.9 megapixels.
        let tiny: Vec<(u32, u64)> = (1..=10).map(|n| (n, 64 * 64)).collect();
        assert!(budget.check_whole(&tiny).is_ok());
        // Twenty-one of them do not fit; the message says how many would.
        let many: Vec<(u32, u64)> = (1..=21).map(|n| (n, 64 * 64)).collect();
        let e = budget.check_whole(&many).unwrap_err();
        assert_eq!(e.code, "over_budget");
        assert!(
            e.message.contains("21 pages") && e.message.contains("about 20 such pages"),
            "{}",
            e.message
        );

        // Page by page: three scanned letters at 200 dpi (3.74 megapixels each) cross 10 at the
        // third, and the message names it.
        let mut running = Budget::new(10);
        let letter = 1700 * 2200;
        assert!(running.charge(1, letter).is_ok());
        assert!(running.charge(2, letter).is_ok());
        let e = running.charge(3, letter).unwrap_err();
        assert_eq!(e.code, "over_budget");
        assert!(e.message.contains("page 3"), "{}", e.message);
    }
}
