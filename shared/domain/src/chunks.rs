//! What a completed job gives: its chunks (the layout's), the result's totals, and the
//! progress of one still processing.

use serde::{Deserialize, Serialize};

/// A chunk is the layout's own: one definition of what a block is and how a piece of the
/// document reads.
pub use horizon_layout::chunk::{BlockRef, Chunk, SelectionMark, SelectionState, TableCell};
pub use horizon_layout::model::{Kind, Source};

/// What a completed job produced. The chunks themselves are kept apart (see
/// `ports::ResultStore`), so a job record stays small however large its result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    pub pages: u32,
    pub chunk_count: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The pages read with OCR.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ocr_pages: Vec<u32>,
    /// The size of the whole document as Markdown (`GET /v1/jobs/{jobId}/markdown`); absent for
    /// jobs finished before Markdown existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown_bytes: Option<u64>,
    /// The document's type, as its bytes showed it (`application/pdf`, `text/html`…); absent
    /// for jobs finished before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// How far a running job has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub pages_done: u32,
    pub pages_total: u32,
}
