//! What a completed job gives: its chunks (with table cells and check boxes), the result's
//! totals, and the progress of one still processing.

use serde::{Deserialize, Serialize};

/// A chunk's type and source are the layout's own: one definition of what a block is.
pub use horizon_layout::model::{Kind, Source};

/// One piece of the document: a heading, paragraphs of one section, a list, a table, a caption,
/// a page header, footer or number. `page` is 1-based; `segmentIndex` counts from 0 within a
/// page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    pub id: String,
    /// Plain text. A table's rows are lines with tab-separated cells; a list's items are lines.
    pub text: String,
    pub page: u32,
    pub segment_index: u32,
    /// `heading`, `paragraph`, `list`, `table`, `caption`, `code`, `header`, `footer`,
    /// `page_number`, `figure` (the words inside a chart or diagram), `formula` (a display
    /// equation, as its characters read).
    #[serde(rename = "type", default)]
    pub kind: Kind,
    /// The chunk as Markdown (headings with `#`, tables as pipe tables).
    #[serde(default)]
    pub markdown: String,
    /// `[x0, y0, x1, y1]`, origin top-left: page points for PDFs, pixels for images.
    #[serde(default)]
    pub bbox: [f64; 4],
    /// `text` (the PDF's text layer) or `ocr`.
    #[serde(default)]
    pub source: Source,
    /// OCR only: the mean recognition confidence of its characters, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The headings of the sections it sits in, outermost first.
    #[serde(default)]
    pub headings: Vec<String>,
    /// Headings: 1 (top) to 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// Tables: the cells, rows and columns from 0 (the header rows repeated in every chunk of a
    /// long table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<TableCell>,
    /// A table that continues over page breaks: the pages it spans, `page` first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<u32>,
    /// The check boxes and radio buttons in `text` (written there as ☐, and ☒ or ☑ when
    /// selected; `[ ]` and `[x]` in `markdown`), in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection_marks: Vec<SelectionMark>,
}

/// A check box or radio button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionMark {
    pub state: SelectionState,
    /// `[x0, y0, x1, y1]` on the page, as the chunk's `bbox`.
    pub bbox: [f64; 4],
}

/// Whether a check box is ticked or a radio button chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectionState {
    Selected,
    Unselected,
}

/// A table cell: a cell spanning several rows or columns is given once, at its first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableCell {
    pub row: u32,
    pub col: u32,
    pub row_span: u32,
    pub col_span: u32,
    pub text: String,
    /// Whether it belongs to the table's header rows.
    pub header: bool,
    /// `[x0, y0, x1, y1]` on the page, as the chunk's `bbox`, when the cell's place is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
}

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
}

/// How far a running job has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub pages_done: u32,
    pub pages_total: u32,
}
