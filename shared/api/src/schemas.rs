//! The OpenAPI schemas of the domain's types that the API shows as they are (a job's status, its
//! chunks, a delivery attempt, a problem): the wire format, described here so that the domain
//! knows nothing of it. Each mirrors its domain type field for field, with the same serde
//! names; a test below checks that every one names exactly what its type serialises.

#![allow(dead_code)] // schemas, never built

use serde::Serialize;
use utoipa::ToSchema;

/// The kinds of job the platform runs: reading a PDF, reading an image, reading any document
/// (by the type its bytes show).
#[derive(Serialize, ToSchema)]
pub enum JobType {
    #[serde(rename = "extract/pdf")]
    ExtractPdf,
    #[serde(rename = "extract/image")]
    ExtractImage,
    #[serde(rename = "extract/document")]
    ExtractDocument,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Processing,
    Completed,
    Failed,
}

/// How a document is read: `accurate` (the default) runs the learned layout and table-structure
/// models on every page; `fast` reads born-digital text without them, at the highest speed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExtractMode {
    Accurate,
    Fast,
}

/// When PDF pages are read with OCR: `auto` (the default) the pages without a usable text layer
/// (none, mostly characters that map to nothing, or a scan with a stray word on it); `always`
/// every page; `never` none.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    Auto,
    Always,
    Never,
}

/// The job events a webhook can subscribe to.
#[derive(Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "job.processing")]
    Processing,
    #[serde(rename = "job.completed")]
    Completed,
    #[serde(rename = "job.failed")]
    Failed,
}

/// Why a job failed: a stable machine-readable `code` and a message for people.
#[derive(Serialize, ToSchema)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

/// One piece of the document: a heading, paragraphs of one section, a list, a table, a caption,
/// a page header, footer or number. `page` is 1-based; `segmentIndex` counts from 0 within a
/// page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    pub id: String,
    /// Plain text. A table's rows are lines with tab-separated cells; a list's items are lines.
    pub text: String,
    pub page: u32,
    pub segment_index: u32,
    /// `heading`, `paragraph`, `list`, `table`, `caption`, `code`, `header`, `footer`,
    /// `page_number`, `figure` (the words inside a chart or diagram, or a picture's description
    /// and text), `formula` (a display equation, as its characters read), `footnote`, `note` (a
    /// slide's speaker notes).
    #[serde(rename = "type", default)]
    #[schema(value_type = String, example = "paragraph")]
    pub kind: String,
    /// The chunk as Markdown (headings with `#`, tables as pipe tables).
    #[serde(default)]
    pub markdown: String,
    /// `[x0, y0, x1, y1]`, origin top-left: page points for PDFs and slides, pixels for images;
    /// zero for documents without pages (DOCX, ODT, HTML, EPUB, Markdown, a sheet's blocks).
    #[serde(default)]
    pub bbox: [f64; 4],
    /// `text` (the file's own text: a PDF's text layer, an Office or web document's) or `ocr`.
    #[serde(default)]
    #[schema(value_type = String, example = "text")]
    pub source: String,
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
    /// A chunk gathered by `options.chunking` (`by_title`, `by_page`; its `type` then
    /// `composite` when it holds blocks of several types): the blocks it holds, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<BlockRef>,
}

/// One block of a gathered chunk: its id as the `block` chunking gives it, its type, page and
/// box.
#[derive(Serialize, ToSchema)]
pub struct BlockRef {
    pub id: String,
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "paragraph")]
    pub kind: String,
    pub page: u32,
    pub bbox: [f64; 4],
}

/// How a job's chunks are cut (`options.chunking`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chunking {
    #[serde(default)]
    pub strategy: ChunkStrategy,
    #[schema(minimum = 100, maximum = 20000)]
    pub max_chars: Option<u32>,
    #[schema(minimum = 0, maximum = 10000)]
    pub overlap_chars: Option<u32>,
}

/// `block`: one chunk per block (the default); `by_title`: a section's blocks gathered;
/// `by_page`: a page's blocks gathered.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChunkStrategy {
    Block,
    ByTitle,
    ByPage,
}

/// A check box or radio button.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionMark {
    pub state: SelectionState,
    /// `[x0, y0, x1, y1]` on the page, as the chunk's `bbox`.
    pub bbox: [f64; 4],
}

/// Whether a check box is ticked or a radio button chosen.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SelectionState {
    Selected,
    Unselected,
}

/// A table cell: a cell spanning several rows or columns is given once, at its first.
#[derive(Serialize, ToSchema)]
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

/// How far a running job has got.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub pages_done: u32,
    pub pages_total: u32,
}

/// One attempt in a job's delivery log (`GET /v1/jobs/{jobId}/webhooks`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub delivery_id: String,
    pub subscription_id: String,
    /// The receiver, without its path and query (where tokens live): `https://host/…`.
    pub url: String,
    pub event: EventType,
    pub attempt: u32,
    /// 0 for the delivery the job's write queued; `n` for its `n`th replay.
    #[serde(default)]
    pub replay: u32,
    pub at: String,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// `delivered`, `retrying`, `dead_lettered` or `disabled` (the receiver answered 410).
    pub outcome: String,
}

/// RFC 9457 problem details (`application/problem+json`).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// A field-level complaint inside a `400` problem.
#[derive(Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use horizon_domain as domain;
    use serde_json::Value;
    use utoipa::PartialSchema;

    /// The names a schema gives: an object's properties, or an enum's values.
    fn schema_names<T: PartialSchema>() -> BTreeSet<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        match (&schema["properties"], &schema["enum"]) {
            (Value::Object(p), _) => p.keys().cloned().collect(),
            (_, Value::Array(values)) => values
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            _ => panic!("neither an object nor an enum: {schema}"),
        }
    }

    /// The names `values` serialise to: an object's keys, or the strings themselves.
    fn serialised<T: serde::Serialize>(values: &[T]) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for v in values {
            match serde_json::to_value(v).unwrap() {
                Value::Object(o) => names.extend(o.keys().cloned()),
                Value::String(s) => {
                    names.insert(s);
                }
                other => panic!("unexpected {other}"),
            }
        }
        names
    }

    fn chunk() -> domain::Chunk {
        domain::Chunk {
            id: "chunk_001".into(),
            text: "Total\t3".into(),
            page: 1,
            segment_index: 0,
            kind: domain::Kind::Table,
            markdown: "| Total | 3 |".into(),
            bbox: [1.0, 2.0, 3.0, 4.0],
            source: domain::Source::Ocr,
            confidence: Some(0.9),
            headings: vec!["Results".into()],
            level: Some(2),
            cells: vec![cell()],
            pages: vec![1, 2],
            selection_marks: vec![mark()],
            blocks: vec![block()],
        }
    }

    fn block() -> domain::BlockRef {
        domain::BlockRef {
            id: "chunk_001".into(),
            kind: domain::Kind::Paragraph,
            page: 1,
            bbox: [1.0, 2.0, 3.0, 4.0],
        }
    }

    fn chunking() -> horizon_layout::retrieval::Chunking {
        horizon_layout::retrieval::Chunking {
            strategy: horizon_layout::retrieval::Strategy::ByTitle,
            max_chars: Some(1000),
            overlap_chars: Some(100),
        }
    }

    fn cell() -> domain::TableCell {
        domain::TableCell {
            row: 0,
            col: 0,
            row_span: 1,
            col_span: 2,
            text: "Total".into(),
            header: true,
            bbox: Some([1.0, 2.0, 3.0, 4.0]),
        }
    }

    fn mark() -> domain::SelectionMark {
        domain::SelectionMark {
            state: domain::SelectionState::Selected,
            bbox: [1.0, 2.0, 3.0, 4.0],
        }
    }

    /// Each schema names exactly what its domain type serialises (every optional field given):
    /// the document cannot promise a field the API does not send, nor miss one it does.
    #[test]
    fn each_schema_names_what_its_domain_type_serialises() {
        use domain::{EventType as E, ExtractMode as X, JobStatus as S, OcrMode as O};
        let checks: Vec<(&str, BTreeSet<String>, BTreeSet<String>)> = vec![
            (
                "JobStatus",
                schema_names::<super::JobStatus>(),
                serialised(&S::ALL),
            ),
            (
                "JobType",
                schema_names::<super::JobType>(),
                serialised(&domain::JobType::ALL),
            ),
            (
                "ExtractMode",
                schema_names::<super::ExtractMode>(),
                serialised(&[X::Accurate, X::Fast]),
            ),
            (
                "OcrMode",
                schema_names::<super::OcrMode>(),
                serialised(&[O::Auto, O::Always, O::Never]),
            ),
            (
                "EventType",
                schema_names::<super::EventType>(),
                serialised(&[E::Processing, E::Completed, E::Failed]),
            ),
            (
                "SelectionState",
                schema_names::<super::SelectionState>(),
                serialised(&[
                    domain::SelectionState::Selected,
                    domain::SelectionState::Unselected,
                ]),
            ),
            (
                "JobError",
                schema_names::<super::JobError>(),
                serialised(&[domain::JobError::new("c", "m")]),
            ),
            (
                "Progress",
                schema_names::<super::Progress>(),
                serialised(&[domain::Progress {
                    pages_done: 1,
                    pages_total: 2,
                }]),
            ),
            (
                "Chunk",
                schema_names::<super::Chunk>(),
                serialised(&[chunk()]),
            ),
            (
                "TableCell",
                schema_names::<super::TableCell>(),
                serialised(&[cell()]),
            ),
            (
                "SelectionMark",
                schema_names::<super::SelectionMark>(),
                serialised(&[mark()]),
            ),
            (
                "BlockRef",
                schema_names::<super::BlockRef>(),
                serialised(&[block()]),
            ),
            (
                "Chunking",
                schema_names::<super::Chunking>(),
                serialised(&[chunking()]),
            ),
            (
                "ChunkStrategy",
                schema_names::<super::ChunkStrategy>(),
                serialised(&{
                    use horizon_layout::retrieval::Strategy as C;
                    [C::Block, C::ByTitle, C::ByPage]
                }),
            ),
            (
                "Attempt",
                schema_names::<super::Attempt>(),
                serialised(&[attempt()]),
            ),
            (
                "Problem",
                schema_names::<super::Problem>(),
                serialised(&[domain::Error::field("f", "m").problem("/x")]),
            ),
            (
                "FieldError",
                schema_names::<super::FieldError>(),
                serialised(&[domain::error::FieldError {
                    field: "f".into(),
                    message: "m".into(),
                }]),
            ),
        ];
        for (name, schema, sent) in checks {
            assert_eq!(
                schema, sent,
                "{name}: the schema's names, then what is sent"
            );
        }
    }

    fn attempt() -> domain::deliveries::Attempt {
        domain::deliveries::Attempt {
            delivery_id: "msg_1".into(),
            subscription_id: "wh_1".into(),
            url: "https://example.com/…".into(),
            event: domain::EventType::Completed,
            attempt: 1,
            replay: 0,
            at: "2026-12-05T08:00:00Z".into(),
            status_code: Some(200),
            latency_ms: 12,
            error: Some("none".into()),
            outcome: "delivered".into(),
            message: None,
            then: None,
        }
    }
}
