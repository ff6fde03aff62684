//! PDFium (BSD-3-Clause/Apache-2.0, Google's PDF engine from Chromium), bound at run time from
//! `libpdfium.so` through `pdfium-render`: loaded once per process, shared by the functions that
//! read PDFs.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pdfium_render::prelude::Pdfium;

static PDFIUM: OnceLock<Result<Pdfium, String>> = OnceLock::new();

/// The PDFium library. `hint` is the configured path (`PDFIUM_LIB_PATH`); without one the library
/// is looked for beside the executable and in `/opt/lib` (a Lambda layer). `Err` says where it looked.
pub fn pdfium(hint: Option<&str>) -> Result<&'static Pdfium, String> {
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
        .map_err(Clone::clone)
}

/// The number of pages, or `None` when PDFium is missing or cannot open the file.
pub fn page_count(bytes: &[u8], hint: Option<&str>) -> Option<u32> {
    let pdfium = match pdfium(hint) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot count PDF pages");
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
