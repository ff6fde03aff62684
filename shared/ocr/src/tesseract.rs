//! Tesseract, for the scripts the PP-OCR recognizer has no letter of (Hangul, Arabic, Cyrillic,
//! Hebrew, Devanagari, Thai): `libtesseract` (5.5.4, from the `tesserocr` wheel) bound at run
//! time through its C API, with Tesseract's LSTM script models and its script detector (`osd`)
//! from Debian's packages (`scripts/install-ocr`). Our detector finds the lines; Tesseract reads
//! each one as a single line, and gives its words with their boxes and confidences.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};

use horizon_layout::languages::Script;
use image::GrayImage;

use crate::Unavailable;

/// Tesseract's page segmentation modes and iterator levels (`publictypes.h`).
const PSM_OSD_ONLY: c_int = 0;
const PSM_SINGLE_LINE: c_int = 7;
const PSM_RAW_LINE: c_int = 13;
const RIL_WORD: c_int = 3;
/// Engine modes: the LSTM recognizer only; the default (OSD needs the legacy classifier).
const OEM_LSTM_ONLY: c_int = 1;
const OEM_DEFAULT: c_int = 3;

const HANGUL: &str = "Hangul";
const THAI: &str = "Thai";

/// Whether Tesseract's words of `models` split the text at each syllable or letter (Hangul,
/// Thai): its text of the line, spaced as the line is, then decides the words.
fn splits_words(models: &str) -> bool {
    models.split('+').any(|m| m == HANGUL || m == THAI)
}

/// The scripts read with Tesseract, each with its model (`tessdata/<name>.traineddata`), named
/// as Tesseract's detector names the script.
const MODELS: &[(Script, &str)] = &[
    (Script::Hangul, HANGUL),
    (Script::Arabic, "Arabic"),
    (Script::Cyrillic, "Cyrillic"),
    (Script::Hebrew, "Hebrew"),
    (Script::Devanagari, "Devanagari"),
    (Script::Thai, THAI),
    (Script::Armenian, "Armenian"),
    (Script::Bengali, "Bengali"),
    (Script::CanadianAboriginal, "Canadian_Aboriginal"),
    (Script::Ethiopic, "Ethiopic"),
    (Script::Georgian, "Georgian"),
    (Script::Gujarati, "Gujarati"),
    (Script::Gurmukhi, "Gurmukhi"),
    (Script::Kannada, "Kannada"),
    (Script::Khmer, "Khmer"),
    (Script::Lao, "Lao"),
    (Script::Malayalam, "Malayalam"),
    (Script::Myanmar, "Myanmar"),
    (Script::Oriya, "Oriya"),
    (Script::Sinhala, "Sinhala"),
    (Script::Tamil, "Tamil"),
    (Script::Telugu, "Telugu"),
    (Script::Thaana, "Thaana"),
    (Script::Tibetan, "Tibetan"),
];

/// The scripts whose models are here but which Tesseract's detector does not tell: it names
/// another (Georgian as Malayalam, Armenian as Latin, Amharic's Ethiopic as Devanagari,
/// Sinhala as Hebrew).
pub const UNDETECTED: &[Script] = &[
    Script::Armenian,
    Script::CanadianAboriginal,
    Script::Ethiopic,
    Script::Georgian,
    Script::Khmer,
    Script::Lao,
    Script::Myanmar,
    Script::Sinhala,
    Script::Thaana,
    Script::Tibetan,
];

/// The model of a script, when Tesseract reads it here.
pub fn model(script: Script) -> Option<&'static str> {
    MODELS.iter().find(|(s, _)| *s == script).map(|&(_, m)| m)
}

/// The model for a script Tesseract's detector names (Korean text, a mix of Hangul and Han,
/// included); `None` for the scripts PP-OCR reads.
fn detected_model(name: &str) -> Option<&'static str> {
    let name = if name == "Korean" { HANGUL } else { name };
    MODELS.iter().find(|(_, m)| *m == name).map(|&(_, m)| m)
}

type Api = *mut c_void;

/// The C API's functions this module calls.
struct Calls {
    create: unsafe extern "C" fn() -> Api,
    delete: unsafe extern "C" fn(Api),
    init: unsafe extern "C" fn(Api, *const c_char, *const c_char, c_int) -> c_int,
    set_psm: unsafe extern "C" fn(Api, c_int),
    set_variable: unsafe extern "C" fn(Api, *const c_char, *const c_char) -> c_int,
    set_image: unsafe extern "C" fn(Api, *const u8, c_int, c_int, c_int, c_int),
    set_resolution: unsafe extern "C" fn(Api, c_int),
    recognize: unsafe extern "C" fn(Api, *mut c_void) -> c_int,
    text: unsafe extern "C" fn(Api) -> *mut c_char,
    iterator: unsafe extern "C" fn(Api) -> *mut c_void,
    iterator_delete: unsafe extern "C" fn(*mut c_void),
    iterator_next: unsafe extern "C" fn(*mut c_void, c_int) -> c_int,
    iterator_text: unsafe extern "C" fn(*mut c_void, c_int) -> *mut c_char,
    iterator_confidence: unsafe extern "C" fn(*mut c_void, c_int) -> f32,
    page_iterator: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    bounding_box: unsafe extern "C" fn(
        *mut c_void,
        c_int,
        *mut c_int,
        *mut c_int,
        *mut c_int,
        *mut c_int,
    ) -> c_int,
    delete_text: unsafe extern "C" fn(*mut c_char),
    detect: unsafe extern "C" fn(Api, *mut c_int, *mut f32, *mut *const c_char, *mut f32) -> c_int,
}

/// A word Tesseract read: its text, its box in the image given, its confidence (0–1).
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub text: String,
    pub bbox: [f32; 4],
    pub confidence: f32,
}

/// The library, and one engine per model set, each loaded the first time it is needed and kept
/// (loading a model reads it whole).
pub struct Tesseract {
    calls: Calls,
    tessdata: CString,
    dir: PathBuf,
    engines: HashMap<String, Api>,
    /// Keeps the library mapped while the engines live.
    _library: libloading::Library,
}

// The engines are used from one thread at a time (`&mut self`), which the C API allows.
unsafe impl Send for Tesseract {}

impl Drop for Tesseract {
    fn drop(&mut self) {
        for (_, api) in self.engines.drain() {
            // SAFETY: each engine was made by `create` and is deleted once.
            unsafe { (self.calls.delete)(api) };
        }
    }
}

fn fail(e: impl std::fmt::Display) -> Unavailable {
    Unavailable(format!("Tesseract: {e}"))
}

impl Tesseract {
    /// Loads `dir/lib/tesseract/libtesseract.so`; the models are in `dir/tessdata`.
    pub fn load(dir: &Path) -> Result<Tesseract, Unavailable> {
        let path = dir.join("lib/tesseract/libtesseract.so");
        // SAFETY: loading runs the library's initialisers, which only set up its own state.
        let library = unsafe { libloading::Library::new(&path) }
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        macro_rules! call {
            ($name:literal) => {
                // SAFETY: the symbol is the C API's function of that name, with the signature
                // `capi.h` gives it (Tesseract 5).
                *unsafe { library.get(concat!($name, "\0").as_bytes()) }
                    .map_err(|e| fail(format!("{}: {e}", $name)))?
            };
        }
        let calls = Calls {
            create: call!("TessBaseAPICreate"),
            delete: call!("TessBaseAPIDelete"),
            init: call!("TessBaseAPIInit2"),
            set_psm: call!("TessBaseAPISetPageSegMode"),
            set_variable: call!("TessBaseAPISetVariable"),
            set_image: call!("TessBaseAPISetImage"),
            set_resolution: call!("TessBaseAPISetSourceResolution"),
            recognize: call!("TessBaseAPIRecognize"),
            text: call!("TessBaseAPIGetUTF8Text"),
            iterator: call!("TessBaseAPIGetIterator"),
            iterator_delete: call!("TessResultIteratorDelete"),
            iterator_next: call!("TessResultIteratorNext"),
            iterator_text: call!("TessResultIteratorGetUTF8Text"),
            iterator_confidence: call!("TessResultIteratorConfidence"),
            page_iterator: call!("TessResultIteratorGetPageIterator"),
            bounding_box: call!("TessPageIteratorBoundingBox"),
            delete_text: call!("TessDeleteText"),
            detect: call!("TessBaseAPIDetectOrientationScript"),
        };
        let tessdata = dir.join("tessdata");
        let tessdata = CString::new(tessdata.to_string_lossy().as_bytes()).map_err(fail)?;
        Ok(Tesseract {
            calls,
            tessdata,
            dir: dir.to_owned(),
            engines: HashMap::new(),
            _library: library,
        })
    }

    /// Whether the model `name` is installed.
    pub fn has(&self, name: &str) -> bool {
        self.dir
            .join("tessdata")
            .join(format!("{name}.traineddata"))
            .exists()
    }

    /// Unloads the engine for `models`, if it is loaded (it is loaded again when next used).
    pub fn unload(&mut self, models: &str) {
        if let Some(api) = self.engines.remove(models) {
            // SAFETY: made by `create`, removed from the map, so deleted once.
            unsafe { (self.calls.delete)(api) };
        }
    }

    /// The engine for `models` (`"Hangul"`, `"Cyrillic+Arabic"`), loaded the first time.
    fn engine(&mut self, models: &str, mode: c_int, psm: c_int) -> Result<Api, Unavailable> {
        if let Some(&api) = self.engines.get(models) {
            // SAFETY: a live engine.
            unsafe { (self.calls.set_psm)(api, psm) };
            return Ok(api);
        }
        let language = CString::new(models).map_err(fail)?;
        // SAFETY: `create` gives a fresh engine; `init` reads the named models from the
        // directory; both strings outlive the calls.
        let api = unsafe { (self.calls.create)() };
        if api.is_null() {
            return Err(fail("no engine"));
        }
        let status =
            unsafe { (self.calls.init)(api, self.tessdata.as_ptr(), language.as_ptr(), mode) };
        if status != 0 {
            // SAFETY: made above, never used again.
            unsafe { (self.calls.delete)(api) };
            return Err(fail(format!(
                "the models {models} did not load from {}",
                self.tessdata.to_string_lossy()
            )));
        }
        unsafe { (self.calls.set_psm)(api, psm) };
        if psm == PSM_OSD_ONLY {
            // The detector looks at pages of a few lines too (it skips those with fewer than
            // 50 characters unless told).
            unsafe {
                (self.calls.set_variable)(api, c"min_characters_to_try".as_ptr(), c"10".as_ptr());
                // Its own copy of the image has no resolution, and a warning says so.
                (self.calls.set_variable)(api, c"user_defined_dpi".as_ptr(), c"300".as_ptr());
            }
        }
        if splits_words(models) {
            // Spaces where the line has them, not after each syllable (Tesseract's own
            // configuration for Korean and Thai does the same; in a right-to-left line, it
            // would lose the last space).
            unsafe {
                (self.calls.set_variable)(api, c"preserve_interword_spaces".as_ptr(), c"1".as_ptr())
            };
        }
        self.engines.insert(models.to_owned(), api);
        Ok(api)
    }

    /// Gives `image` to an engine (8-bit grey, rows packed).
    fn set_image(&self, api: Api, image: &GrayImage) {
        let (w, h) = image.dimensions();
        // SAFETY: the buffer holds w × h bytes and lives until the engine is given another
        // image or reads this one (both within the caller's borrow of `image`).
        unsafe {
            (self.calls.set_image)(
                api,
                image.as_raw().as_ptr(),
                w as c_int,
                h as c_int,
                1,
                w as c_int,
            );
            (self.calls.set_resolution)(api, 300);
        }
    }

    /// Reads `line`, an image of one line of text, with `models`: its words, in the line's
    /// pixels, in reading order (right to left along a right-to-left line), as Tesseract gives
    /// them.
    pub fn read_line(&mut self, models: &str, line: &GrayImage) -> Result<Vec<Read>, Unavailable> {
        let words = self.read_line_as(models, line, PSM_SINGLE_LINE)?;
        if !words.is_empty() {
            return Ok(words);
        }
        // Tesseract finds no line in some images of one (the tops of the next line's letters
        // along the bottom edge): it is then read as it is, as one line.
        self.read_line_as(models, line, PSM_RAW_LINE)
    }

    fn read_line_as(
        &mut self,
        models: &str,
        line: &GrayImage,
        psm: c_int,
    ) -> Result<Vec<Read>, Unavailable> {
        let api = self.engine(models, OEM_LSTM_ONLY, psm)?;
        self.set_image(api, line);
        // SAFETY: the engine has an image; the iterator and each text are freed with the calls
        // the C API gives for them, and the line image outlives the recognition.
        unsafe {
            if (self.calls.recognize)(api, std::ptr::null_mut()) != 0 {
                return Err(fail("the line could not be read"));
            }
            let text = (self.calls.text)(api);
            if text.is_null() {
                return Ok(Vec::new());
            }
            let spaced = plain(&CStr::from_ptr(text).to_string_lossy());
            (self.calls.delete_text)(text);
            let it = (self.calls.iterator)(api);
            if it.is_null() {
                return Ok(Vec::new());
            }
            let mut words = Vec::new();
            loop {
                let text = (self.calls.iterator_text)(it, RIL_WORD);
                if !text.is_null() {
                    let s = plain(&CStr::from_ptr(text).to_string_lossy());
                    (self.calls.delete_text)(text);
                    let (mut l, mut t, mut r, mut b) = (0, 0, 0, 0);
                    let page = (self.calls.page_iterator)(it);
                    let boxed =
                        (self.calls.bounding_box)(page, RIL_WORD, &mut l, &mut t, &mut r, &mut b);
                    let confidence = (self.calls.iterator_confidence)(it, RIL_WORD);
                    if !s.is_empty() && boxed != 0 {
                        words.push(Read {
                            text: s,
                            bbox: [l as f32, t as f32, r as f32, b as f32],
                            confidence: (confidence / 100.0).clamp(0.0, 1.0),
                        });
                    }
                }
                if (self.calls.iterator_next)(it, RIL_WORD) == 0 {
                    break;
                }
            }
            (self.calls.iterator_delete)(it);
            Ok(if splits_words(models) {
                spaced_as(words, &spaced)
            } else {
                words
            })
        }
    }

    /// The script of a page image, by Tesseract's detector, as the model that reads it here,
    /// and how far the page is turned; `None` for a script PP-OCR reads.
    pub fn detect(&mut self, page: &GrayImage) -> Result<Option<Detected>, Unavailable> {
        if !self.has("osd") {
            return Ok(None);
        }
        let api = self.engine("osd", OEM_DEFAULT, PSM_OSD_ONLY)?;
        // The detector tells scripts apart at 300 dpi, not at 150 (Korean there reads as
        // Cyrillic, Hindi as Bengali): a page smaller than a letter or A4 page at 300 dpi is
        // scaled up to one, at most three times.
        let (w, h) = page.dimensions();
        let scale = (OSD_PAGE / w.max(h).max(1) as f32).clamp(1.0, 3.0);
        let scaled;
        let page = if scale > 1.1 {
            scaled = image::imageops::resize(
                page,
                (w as f32 * scale) as u32,
                (h as f32 * scale) as u32,
                image::imageops::FilterType::Triangle,
            );
            &scaled
        } else {
            page
        };
        self.set_image(api, page);
        let (mut degrees, mut sure_of_turn, mut sure) = (0, 0f32, 0f32);
        let mut name: *const c_char = std::ptr::null();
        // SAFETY: the engine has an image; `name` points into the detector's own table.
        let found = unsafe {
            (self.calls.detect)(api, &mut degrees, &mut sure_of_turn, &mut name, &mut sure)
        };
        if found == 0 || name.is_null() {
            return Ok(None);
        }
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        tracing::debug!(script = %name, confidence = sure, degrees, sure_of_turn, "script detected");
        // Any script it names is tried, however unsure (Korean pages give it 0 to 0.3): a line
        // keeps Tesseract's reading only where that reads more of it surely. Its orientation is
        // taken only when it is sure of both.
        Ok(detected_model(&name)
            .filter(|m| self.has(m))
            .map(|model| Detected {
                model,
                turns: (sure >= SURE_OF_SCRIPT && sure_of_turn >= SURE_OF_TURN)
                    .then_some((degrees.rem_euclid(360) / 90) as u8),
            }))
    }
}

/// A script Tesseract's detector found on a page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detected {
    /// The model that reads it.
    pub model: &'static str,
    /// How far the page's content is turned clockwise, in quarter turns, when the detector is
    /// sure of it.
    pub turns: Option<u8>,
}

/// A text without Tesseract's directional marks (it marks each left-to-right run inside a
/// right-to-left line) and without the white round it.
fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The words spaced as the line's text is: Tesseract's words split Hangul and Thai text at
/// every syllable or letter, while its text of the line, with `preserve_interword_spaces`, has spaces
/// only where the line has them. Words that make one of the text's words are joined (their
/// boxes and confidences too); where the two do not match, the words stay as they are.
fn spaced_as(words: Vec<Read>, text: &str) -> Vec<Read> {
    let mut out: Vec<Read> = Vec::new();
    let mut next = words.iter();
    for token in text.split_whitespace() {
        let mut joined: Option<Read> = None;
        while joined.as_ref().map_or(0, |j| j.text.len()) < token.len() {
            let Some(w) = next.next() else {
                return words;
            };
            joined = Some(match joined {
                None => w.clone(),
                Some(j) => {
                    let (a, b) = (j.text.chars().count() as f32, w.text.chars().count() as f32);
                    Read {
                        text: j.text + &w.text,
                        bbox: [
                            j.bbox[0].min(w.bbox[0]),
                            j.bbox[1].min(w.bbox[1]),
                            j.bbox[2].max(w.bbox[2]),
                            j.bbox[3].max(w.bbox[3]),
                        ],
                        confidence: (j.confidence * a + w.confidence * b) / (a + b).max(1.0),
                    }
                }
            });
        }
        match joined {
            Some(j) if j.text == token => out.push(j),
            _ => return words,
        }
    }
    if next.next().is_some() {
        return words;
    }
    out
}

/// Tesseract's detector's confidence in a script (a ratio of its scores), and in the page's
/// orientation, at which the orientation is taken (upright and turned pages of Hebrew and Thai
/// give 18 to 40 for the script and the orientation; a Latin page 2 and 5, and some turned
/// ones under 1 for the orientation).
const SURE_OF_SCRIPT: f32 = 1.0;

/// The longer side, in pixels, of the page images the detector is given (11 inches at 300 dpi).
const OSD_PAGE: f32 = 3300.0;

const SURE_OF_TURN: f32 = 2.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, x0: f32, x1: f32) -> Read {
        Read {
            text: text.into(),
            bbox: [x0, 0.0, x1, 10.0],
            confidence: 0.9,
        }
    }

    #[test]
    fn words_split_at_each_syllable_are_joined_as_the_line_s_text_spaces_them() {
        let words = vec![
            word("올해", 16.0, 64.0),
            word("회", 75.0, 147.0),
            word("사", 106.0, 131.0),
            word("의", 130.0, 150.0),
            word("12", 358.0, 382.0),
            word("퍼", 388.0, 406.0),
        ];
        let joined = spaced_as(words.clone(), "올해 회사의 12퍼");
        let texts: Vec<&str> = joined.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["올해", "회사의", "12퍼"]);
        assert_eq!(joined[1].bbox, [75.0, 0.0, 150.0, 10.0]);
        assert_eq!(joined[2].bbox, [358.0, 0.0, 406.0, 10.0]);
        // A text that the words do not make leaves them as they are.
        assert_eq!(spaced_as(words.clone(), "올해 회사"), words);
        assert_eq!(spaced_as(words.clone(), "올해 회사와 12퍼"), words);
    }

    #[test]
    fn directional_marks_are_dropped() {
        assert_eq!(plain("\u{200E}Cloud\u{200F} החדשים. "), "Cloud החדשים.");
    }
}
