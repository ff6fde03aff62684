//! Text extraction with PDFium (BSD-3-Clause/Apache-2.0, Google's PDF engine from Chromium), bound
//! at run time from `libpdfium.so` through `pdfium-render`. Chosen by measurement: see the README
//! and ../shared/notes/pdf-extraction.md (best ground-truth similarity of the candidates, 1.4× the
//! speed of pdftotext, 57 MB peak on the worst file).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pdfium_render::prelude::*;

use crate::chunk::PageText;
use crate::Failure;

/// What came out of a PDF.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extraction {
    pub pages: Vec<PageText>,
    /// 1-based numbers of pages that have no text layer (scans, pure images).
    pub pages_without_text: Vec<u32>,
    /// What the client should know about how the text was obtained (a repaired file, say).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Limits applied while extracting.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_pages: u32,
}

/// Which pages (1-based) to read, and whom to tell how far extraction has got (pages done,
/// pages to do).
pub struct Plan<'a> {
    pub wanted: &'a (dyn Fn(u32) -> bool + Sync),
    pub progress: &'a (dyn Fn(u32, u32) + Sync),
}

impl Default for Plan<'_> {
    fn default() -> Self {
        Plan {
            wanted: &|_| true,
            progress: &|_, _| {},
        }
    }
}

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

/// Extracts the text of every page. Errors carry the job's `error.code`: `encrypted`,
/// `invalid_pdf`, `too_many_pages`.
pub fn extract(
    pdfium: &Pdfium,
    bytes: &[u8],
    limits: Limits,
    plan: &Plan,
) -> Result<Extraction, Failure> {
    let password = |e: &PdfiumError| {
        matches!(
            e,
            PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError)
        )
    };
    let mut warnings = Vec::new();
    let candidates;
    let doc = match pdfium.load_pdf_from_byte_slice(bytes, None) {
        Ok(doc) => doc,
        Err(e) if password(&e) => {
            return Err(Failure::new(
                "encrypted",
                "the PDF is encrypted with a user password; only documents that open without one can be read",
            ))
        }
        Err(e) => {
            // A damaged file (cut short, no usable trailer or page tree) may still be read.
            candidates = crate::repair::repair(bytes);
            let mut repaired = None;
            for (fixed, note) in &candidates {
                if let Ok(doc) = pdfium.load_pdf_from_byte_slice(fixed, None) {
                    warnings.push(note.clone());
                    repaired = Some(doc);
                    break;
                }
            }
            repaired.ok_or_else(|| {
                Failure::new("invalid_pdf", format!("the file is not a readable PDF ({e})"))
            })?
        }
    };
    let pages = doc.pages();
    let count = pages.len() as u32;
    if count > limits.max_pages {
        return Err(Failure::new(
            "too_many_pages",
            format!(
                "the PDF has {count} pages; the limit is {}",
                limits.max_pages
            ),
        ));
    }
    let wanted = plan.wanted;
    let total = (1..=count).filter(|&n| wanted(n)).count() as u32;
    let mut out = Extraction {
        pages: Vec::with_capacity(total as usize),
        pages_without_text: Vec::new(),
        warnings,
    };
    (plan.progress)(0, total);
    for (index, page) in pages.iter().enumerate() {
        let number = index as u32 + 1;
        if !wanted(number) {
            continue;
        }
        let text = page.text().map(|t| t.all()).map_err(|e| {
            Failure::new("invalid_pdf", format!("page {number} cannot be read ({e})"))
        })?;
        if text.trim().is_empty() {
            out.pages_without_text.push(number);
        }
        out.pages.push(PageText { number, text });
        (plan.progress)(out.pages.len() as u32, total);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn reads_each_page_of_a_real_pdf() {
        let x = extract(
            engine(),
            &fixture("two-pages.pdf"),
            LIMITS,
            &Plan::default(),
        )
        .unwrap();
        assert_eq!(x.pages.len(), 2);
        assert_eq!(x.pages[0].number, 1);
        assert!(
            x.pages[0].text.contains("Horizon walking skeleton."),
            "{:?}",
            x.pages[0].text
        );
        assert!(x.pages[0].text.contains("hello to the extraction worker"));
        assert!(x.pages[1]
            .text
            .contains("The second page has its own text."));
        assert!(!x.pages[0].text.contains("second page"));
        assert!(x.pages_without_text.is_empty());
    }

    #[test]
    fn corrupt_and_non_pdf_bytes_fail_as_invalid_pdf() {
        for bytes in [fixture("corrupt.pdf"), b"%PDF-1.4\n".to_vec(), Vec::new()] {
            let e = extract(engine(), &bytes, LIMITS, &Plan::default()).unwrap_err();
            assert_eq!(e.code, "invalid_pdf", "{e:?}");
        }
    }

    fn text_of(name: &str) -> Extraction {
        extract(engine(), &fixture(name), LIMITS, &Plan::default())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    #[test]
    fn columns_come_out_one_after_the_other() {
        let x = text_of("two-columns.pdf");
        let t = &x.pages[0].text;
        let left = t.find("Left column ends here.").expect("left column");
        let right = t.find("Right column begins here.").expect("right column");
        assert!(left < right, "interleaved: {t}");
        assert!(t.contains("running text that belong"), "{t}");
    }

    #[test]
    fn non_latin_text_is_read() {
        assert!(text_of("chinese.pdf").pages[0]
            .text
            .contains("这是中文文本"));
    }

    #[test]
    fn an_empty_user_password_opens_a_real_one_does_not() {
        assert!(text_of("encrypted-empty-password.pdf").pages[0]
            .text
            .contains("Opened without a password"));
        let e = extract(
            engine(),
            &fixture("encrypted-user-password.pdf"),
            LIMITS,
            &Plan::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "encrypted");
    }

    #[test]
    fn pages_without_text_are_named() {
        let x = text_of("scanned-page.pdf");
        assert_eq!(x.pages.len(), 2);
        assert_eq!(x.pages_without_text, vec![2]);
    }

    #[test]
    fn a_file_cut_short_is_repaired_and_says_so() {
        let x = text_of("truncated.pdf");
        assert_eq!(x.pages.len(), 2);
        assert!(x.pages[0].text.contains("Horizon walking skeleton."));
        assert!(x.warnings[0].contains("damaged"), "{:?}", x.warnings);
    }

    #[test]
    fn a_page_selection_picks_pages_and_progress_is_reported() {
        let seen = std::sync::Mutex::new(Vec::new());
        let report = |done, total| seen.lock().unwrap().push((done, total));
        let plan = Plan {
            wanted: &|n| n == 2,
            progress: &report,
        };
        let x = extract(engine(), &fixture("two-pages.pdf"), LIMITS, &plan).unwrap();
        assert_eq!(x.pages.len(), 1);
        assert_eq!(x.pages[0].number, 2);
        assert_eq!(*seen.lock().unwrap(), vec![(0, 1), (1, 1)]);
    }

    #[test]
    fn page_limit_is_enforced() {
        let e = extract(
            engine(),
            &fixture("two-pages.pdf"),
            Limits { max_pages: 1 },
            &Plan::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "too_many_pages");
        assert!(e.message.contains("2 pages"), "{}", e.message);
    }
}
