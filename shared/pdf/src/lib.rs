//! PDF reading for Horizon, apart from any cloud service so that it can be benchmarked and
//! fuzzed on its own: PDFium bound at run time ([`extract`]: a page's text layer as words with
//! boxes, its rules, its pixels), repair of damaged files ([`repair`]).

pub mod extract;
pub mod images;
pub mod preview;
pub mod repair;
pub mod sandbox;

use serde::{Deserialize, Serialize};

/// Why a PDF could not be read: a stable `code` (`invalid_pdf`, `encrypted`, `too_many_pages`,
/// `engine_unavailable`) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Failure {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

pub use extract::{open, page_count, pdfium, Limits, OutlineEntry, Pdf, TextLayer};
