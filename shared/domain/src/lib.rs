//! The domain: identifiers, jobs and their legal status transitions, chunks, uploads, accounts,
//! tags, API keys, webhook deliveries, the dashboard's measures and the address rules of webhook
//! receivers. Pure types and functions: no I/O here, and no dependency on another Horizon crate.

pub mod deliveries;
pub mod error;
pub mod keys;
pub mod monitoring;
pub mod net;

pub use error::{Error, Result};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// Prefixed ULID identifiers: `job_01H...`, `upl_01H...`. The prefix says what the id names; the
/// ULID makes ids unique and sortable by creation time.
macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id whose ULID carries the given creation time.
            pub fn new(at: OffsetDateTime) -> Self {
                Self(format!(
                    "{}{}",
                    $prefix,
                    ulid::Ulid::from_datetime(at.into())
                ))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            /// Accepts exactly `<prefix><26-character Crockford ULID>`; anything else (path
            /// separators, `..`, over-long strings) is refused before any storage call.
            fn from_str(s: &str) -> Result<Self, Error> {
                let bad = || Error::invalid_id($what, s);
                let rest = s.strip_prefix($prefix).ok_or_else(bad)?;
                if rest.len() != 26 {
                    return Err(bad());
                }
                let ulid = ulid::Ulid::from_string(rest).map_err(|_| bad())?;
                // Canonical (upper-case) form only, so one job has one id.
                if ulid.to_string() != rest {
                    return Err(bad());
                }
                Ok(Self(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(JobId, "job_", "job id");
prefixed_id!(UploadId, "upl_", "upload id");
prefixed_id!(WebhookId, "wh_", "webhook id");
prefixed_id!(KeyId, "key_", "key id");
prefixed_id!(DeliveryId, "msg_", "delivery id");

/// The account that owns jobs and uploads. Until API keys exist every caller is the default one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub String);

impl AccountId {
    pub fn default_account() -> Self {
        AccountId("acct_default".to_owned())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kinds of job the platform runs: reading a PDF, reading an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum JobType {
    #[serde(rename = "extract/pdf")]
    ExtractPdf,
    #[serde(rename = "extract/image")]
    ExtractImage,
}

impl JobType {
    pub const ALL: [JobType; 2] = [JobType::ExtractPdf, JobType::ExtractImage];

    pub fn as_str(self) -> &'static str {
        match self {
            JobType::ExtractPdf => "extract/pdf",
            JobType::ExtractImage => "extract/image",
        }
    }
}

impl FromStr for JobType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        JobType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownValue::new("job type", s))
    }
}

/// A name that is none of its kind's (a job status, a job type): what parsing a stored or
/// configured value can fail with. Requests never meet it: their values are checked where
/// they are read, and named in a `400`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is no {kind}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

impl UnknownValue {
    fn new(kind: &'static str, value: &str) -> UnknownValue {
        UnknownValue {
            kind,
            value: value.chars().take(64).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Processing,
    Completed,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }

    /// The legal transitions:
    /// - `queued → processing`: a worker claims the job;
    /// - `queued → failed`: cancelled, or could not be enqueued;
    /// - `processing → processing`: a worker takes over a job whose lease expired;
    /// - `processing → queued`: a job whose lease expired is put back on the queue;
    /// - `processing → completed | failed`: the worker finishes.
    ///
    /// Terminal states never change.
    pub fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Queued, Processing)
                | (Queued, Failed)
                | (Processing, Processing)
                | (Processing, Queued)
                | (Processing, Completed)
                | (Processing, Failed)
        )
    }

    /// Checks a transition, naming both ends when it is illegal.
    pub fn transition(self, next: JobStatus) -> Result<JobStatus, Error> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(Error::IllegalTransition {
                from: self.as_str(),
                to: next.as_str(),
            })
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownValue::new("job status", s))
    }
}

/// One piece of the document: a heading, paragraphs of one section, a list, a table, a caption,
/// a page header, footer or number. `page` is 1-based; `segmentIndex` counts from 0 within a
/// page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    #[serde(rename = "type", default = "paragraph")]
    #[schema(example = "paragraph")]
    pub kind: String,
    /// The chunk as Markdown (headings with `#`, tables as pipe tables).
    #[serde(default)]
    pub markdown: String,
    /// `[x0, y0, x1, y1]`, origin top-left: page points for PDFs, pixels for images.
    #[serde(default)]
    pub bbox: [f64; 4],
    /// `text` (the PDF's text layer) or `ocr`.
    #[serde(default = "text_source")]
    #[schema(example = "text")]
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
}

/// A check box or radio button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionMark {
    pub state: SelectionState,
    /// `[x0, y0, x1, y1]` on the page, as the chunk's `bbox`.
    pub bbox: [f64; 4],
}

/// Whether a check box is ticked or a radio button chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SelectionState {
    Selected,
    Unselected,
}

fn paragraph() -> String {
    "paragraph".into()
}

fn text_source() -> String {
    "text".into()
}

/// A table cell: a cell spanning several rows or columns is given once, at its first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub pages_done: u32,
    pub pages_total: u32,
}

/// What the client asked of the extraction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOptions {
    /// Upper bound of a chunk's length, overriding the service's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chunk_chars: Option<u32>,
    /// Which pages to extract, e.g. `"1-3,7"`; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PageSelection>,
    /// When PDF pages are read with OCR (images always are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr: Option<OcrMode>,
    /// Whether the learned layout and table models run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ExtractMode>,
    /// The languages of the document (ISO 639-1 codes, lower-case, checked where the job is
    /// made): OCR reads with their scripts' characters only. Empty: found from the text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
}

/// How a document is read: `accurate` (the default) runs the learned layout and table-structure
/// models on every page; `fast` reads born-digital text without them, at the highest speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExtractMode {
    #[default]
    Accurate,
    Fast,
}

/// When PDF pages are read with OCR: `auto` (the default) the pages without a usable text layer
/// (none, mostly characters that map to nothing, or a scan with a stray word on it); `always`
/// every page; `never` none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    #[default]
    Auto,
    Always,
    Never,
}

/// A set of 1-based page ranges, parsed from text like `"1-3,7,10-"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSelection {
    text: String,
    ranges: Vec<(u32, Option<u32>)>,
}

impl PageSelection {
    pub fn contains(&self, page: u32) -> bool {
        self.ranges
            .iter()
            .any(|&(a, b)| page >= a && b.is_none_or(|b| page <= b))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for PageSelection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a page selection like \"1-3,7,10-\"");
        if s.len() > 200 || s.trim().is_empty() {
            return Err(bad());
        }
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let num = |t: &str| t.trim().parse::<u32>().ok().filter(|n| *n >= 1);
            let range = match part.split_once('-') {
                None => num(part).map(|n| (n, Some(n))),
                Some((a, "")) => num(a).map(|a| (a, None)),
                Some((a, b)) => match (num(a), num(b)) {
                    (Some(a), Some(b)) if a <= b => Some((a, Some(b))),
                    _ => None,
                },
            };
            ranges.push(range.ok_or_else(bad)?);
        }
        Ok(PageSelection {
            text: s.trim().to_owned(),
            ranges,
        })
    }
}

impl Serialize for PageSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PageSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The job events a webhook can subscribe to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum EventType {
    #[serde(rename = "job.processing")]
    Processing,
    #[serde(rename = "job.completed")]
    Completed,
    #[serde(rename = "job.failed")]
    Failed,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Processing => "job.processing",
            EventType::Completed => "job.completed",
            EventType::Failed => "job.failed",
        }
    }
}

/// A webhook subscription: where to send which events, and the `whsec_` secret deliveries are
/// signed with. The secret is stored for signing and never shown again after creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: String,
    pub created_at: String,
    /// Set when the receiver answered `410 Gone`: no more deliveries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// Why a job failed: a stable machine-readable `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

impl JobError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The most webhook subscriptions one job may have, and one account (every event fans out to
/// each, with retries: the caps bound what one tenant can make the dispatchers do).
pub const MAX_JOB_WEBHOOKS: usize = 10;
pub const MAX_ACCOUNT_WEBHOOKS: usize = 25;

/// A job as stored. `version` increases with every write; every write is conditional on the
/// version it read, so concurrent writers cannot lose each other's updates.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    id: JobId,
    job_type: JobType,
    account: AccountId,
    upload_id: UploadId,
    status: JobStatus,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    version: u64,
    /// How many times a worker has claimed the job.
    attempts: u32,
    /// While `processing`: the claim holds until this instant; after it another worker may take over.
    lease_until: Option<OffsetDateTime>,
    /// The client's tags (the dashboard adds automatic ones).
    tags: Vec<String>,
    /// The client's metadata, returned as given.
    metadata: Option<serde_json::Value>,
    options: JobOptions,
    /// Job-level webhook subscriptions.
    webhooks: Vec<Subscription>,
    progress: Option<Progress>,
    result: Option<JobResult>,
    error: Option<JobError>,
    /// The job's record disappears after this instant (DynamoDB TTL).
    expires_at: OffsetDateTime,
    /// When a worker last claimed it.
    started_at: Option<OffsetDateTime>,
    /// When it became `completed` or `failed`.
    finished_at: Option<OffsetDateTime>,
    /// The failed job this one retries (the dashboard's retry).
    retry_of: Option<JobId>,
    /// The retries made of this job, oldest first.
    retried_by: Vec<Retry>,
    /// Its changes of status, oldest first (at most [`HISTORY_MAX`]: the first, then the latest).
    history: Vec<HistoryStep>,
}

fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The most steps a job's history keeps: the first one and the latest ones.
pub const HISTORY_MAX: usize = 40;

/// One change of a job's status: to what, when, on which attempt, and (a claim) by which worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryStep {
    pub status: JobStatus,
    /// Unix milliseconds.
    pub at: i64,
    pub attempt: u32,
    /// The worker that claimed it (a Lambda execution environment, or the local runner's pid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// A job's fields as a store keeps them: what an adapter reads back and restores with
/// `Job::from(record)`. Nothing else builds a job from its parts; changes go through the
/// transitions of [`Job`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: JobId,
    pub job_type: JobType,
    pub account: AccountId,
    pub upload_id: UploadId,
    pub status: JobStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: u64,
    /// How many times a worker has claimed the job.
    pub attempts: u32,
    /// While `processing`: the claim holds until this instant; after it another worker may take over.
    pub lease_until: Option<OffsetDateTime>,
    /// The client's tags (the dashboard adds automatic ones).
    pub tags: Vec<String>,
    /// The client's metadata, returned as given.
    pub metadata: Option<serde_json::Value>,
    pub options: JobOptions,
    /// Job-level webhook subscriptions.
    pub webhooks: Vec<Subscription>,
    pub progress: Option<Progress>,
    pub result: Option<JobResult>,
    pub error: Option<JobError>,
    /// The job's record disappears after this instant (DynamoDB TTL).
    pub expires_at: OffsetDateTime,
    /// When a worker last claimed it.
    pub started_at: Option<OffsetDateTime>,
    /// When it became `completed` or `failed`.
    pub finished_at: Option<OffsetDateTime>,
    /// The failed job this one retries (the dashboard's retry).
    pub retry_of: Option<JobId>,
    /// The retries made of this job, oldest first.
    pub retried_by: Vec<Retry>,
    pub history: Vec<HistoryStep>,
}

impl From<JobRecord> for Job {
    fn from(r: JobRecord) -> Job {
        Job {
            id: r.id,
            job_type: r.job_type,
            account: r.account,
            upload_id: r.upload_id,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            attempts: r.attempts,
            lease_until: r.lease_until,
            tags: r.tags,
            metadata: r.metadata,
            options: r.options,
            webhooks: r.webhooks,
            progress: r.progress,
            result: r.result,
            error: r.error,
            expires_at: r.expires_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            retry_of: r.retry_of,
            retried_by: r.retried_by,
            history: r.history,
        }
    }
}

/// One retry of a failed job: the new job, its status when last seen, and when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    pub id: String,
    pub status: JobStatus,
    /// Unix seconds.
    pub retried_at: i64,
}

impl Job {
    // Reading a job: its fields are private, so that only the transitions below change it.
    pub fn id(&self) -> &JobId {
        &self.id
    }

    pub fn job_type(&self) -> JobType {
        self.job_type
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn upload_id(&self) -> &UploadId {
        &self.upload_id
    }

    pub fn status(&self) -> JobStatus {
        self.status
    }

    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// How many times a worker has claimed the job.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// While `processing`: the claim holds until this instant; after it another worker may take over.
    pub fn lease_until(&self) -> Option<OffsetDateTime> {
        self.lease_until
    }

    /// The client's tags (the dashboard adds automatic ones).
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The client's metadata, returned as given.
    pub fn metadata(&self) -> Option<&serde_json::Value> {
        self.metadata.as_ref()
    }

    pub fn options(&self) -> &JobOptions {
        &self.options
    }

    /// Job-level webhook subscriptions.
    pub fn webhooks(&self) -> &[Subscription] {
        &self.webhooks
    }

    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    pub fn result(&self) -> Option<&JobResult> {
        self.result.as_ref()
    }

    pub fn error(&self) -> Option<&JobError> {
        self.error.as_ref()
    }

    /// The job's record disappears after this instant (DynamoDB TTL).
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// When a worker last claimed it.
    pub fn started_at(&self) -> Option<OffsetDateTime> {
        self.started_at
    }

    /// When it became `completed` or `failed`.
    pub fn finished_at(&self) -> Option<OffsetDateTime> {
        self.finished_at
    }

    /// The failed job this one retries (the dashboard's retry).
    pub fn retry_of(&self) -> Option<&JobId> {
        self.retry_of.as_ref()
    }

    /// The retries made of this job, oldest first.
    pub fn retried_by(&self) -> &[Retry] {
        &self.retried_by
    }

    pub fn history(&self) -> &[HistoryStep] {
        &self.history
    }

    pub fn new_queued(
        id: JobId,
        job_type: JobType,
        account: AccountId,
        upload_id: UploadId,
        now: OffsetDateTime,
        retention: time::Duration,
    ) -> Job {
        Job {
            id,
            job_type,
            account,
            upload_id,
            status: JobStatus::Queued,
            created_at: now,
            updated_at: now,
            version: 1,
            attempts: 0,
            lease_until: None,
            tags: Vec::new(),
            metadata: None,
            options: JobOptions::default(),
            webhooks: Vec::new(),
            progress: None,
            result: None,
            error: None,
            // DynamoDB's TTL counts whole seconds.
            expires_at: (now + retention)
                .replace_nanosecond(0)
                .unwrap_or(now + retention),
            started_at: None,
            finished_at: None,
            retry_of: None,
            retried_by: Vec::new(),
            history: vec![HistoryStep {
                status: JobStatus::Queued,
                at: millis(now),
                attempt: 0,
                worker: None,
            }],
        }
    }

    /// The new job as its client asked for it: its tags, metadata, options and own webhooks.
    pub fn as_requested(
        mut self,
        tags: Vec<String>,
        metadata: Option<serde_json::Value>,
        options: JobOptions,
        webhooks: Vec<Subscription>,
    ) -> Job {
        self.tags = tags;
        self.metadata = metadata;
        self.options = options;
        self.webhooks = webhooks;
        self
    }

    /// When the job looks abandoned if it is still active: a processing job at the end of its
    /// lease, a queued one `grace` after it was last written. `None` once finished.
    pub fn overdue_at(&self, grace: time::Duration) -> Option<OffsetDateTime> {
        match self.status {
            JobStatus::Queued => Some(self.updated_at + grace),
            JobStatus::Processing => Some(self.lease_until.unwrap_or(self.updated_at)),
            JobStatus::Completed | JobStatus::Failed => None,
        }
    }

    /// Whether a worker may claim the job now: it is queued, or its holder's lease ran out.
    pub fn claimable(&self, now: OffsetDateTime) -> bool {
        match self.status {
            JobStatus::Queued => true,
            JobStatus::Processing => self.lease_until.is_none_or(|until| until <= now),
            JobStatus::Completed | JobStatus::Failed => false,
        }
    }

    /// The job after a worker's claim: `processing`, leased until `now + lease`.
    pub fn claimed(&self, now: OffsetDateTime, lease: time::Duration) -> Result<Job, Error> {
        if !self.claimable(now) {
            return Err(Error::Conflict(format!(
                "job {} is {} and cannot be claimed",
                self.id, self.status
            )));
        }
        let mut next = self.advanced(JobStatus::Processing, now)?;
        next.attempts += 1;
        next.lease_until = Some(now + lease);
        next.started_at = Some(now);
        Ok(next)
    }

    /// [`Job::claimed`] by the worker named `worker`, which its history keeps.
    pub fn claimed_by(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        worker: &str,
    ) -> Result<Job, Error> {
        let mut next = self.claimed(now, lease)?;
        if let Some(step) = next.history.last_mut() {
            step.worker = Some(worker.to_owned());
        }
        Ok(next)
    }

    /// The job handed back to the queue (its worker hit a transient error, or its lease expired).
    pub fn requeued(&self, now: OffsetDateTime) -> Result<Job, Error> {
        let mut next = self.advanced(JobStatus::Queued, now)?;
        next.lease_until = None;
        Ok(next)
    }

    pub fn completed(&self, result: JobResult, now: OffsetDateTime) -> Result<Job, Error> {
        let mut next = self.advanced(JobStatus::Completed, now)?;
        next.result = Some(result);
        next.lease_until = None;
        next.progress = None;
        next.finished_at = Some(now);
        Ok(next)
    }

    pub fn failed(&self, error: JobError, now: OffsetDateTime) -> Result<Job, Error> {
        let mut next = self.advanced(JobStatus::Failed, now)?;
        next.error = Some(error);
        next.lease_until = None;
        next.progress = None;
        next.finished_at = Some(now);
        Ok(next)
    }

    /// The job written again unchanged (a queued job the reaper queues again), so that it is
    /// overdue only after another grace period.
    pub fn touched(&self, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.updated_at = now;
        next.version = self.version + 1;
        next
    }

    /// A new queued job that runs this failed one again: same upload, options, tags, metadata
    /// and webhooks, `retry_of` this one.
    pub fn retry(
        &self,
        id: JobId,
        now: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<Job, Error> {
        if self.status != JobStatus::Failed {
            return Err(Error::Conflict(format!(
                "job {} is {}; only failed jobs can be retried",
                self.id, self.status
            )));
        }
        let mut next = Job::new_queued(
            id,
            self.job_type,
            self.account.clone(),
            self.upload_id.clone(),
            now,
            retention,
        );
        next.tags = self.tags.clone();
        next.metadata = self.metadata.clone();
        next.options = self.options.clone();
        next.webhooks = self.webhooks.clone();
        next.retry_of = Some(self.id.clone());
        Ok(next)
    }

    /// This failed job, noting that `retry` now runs it again (not a status change).
    pub fn retried_as(&self, retry: &Job, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.retried_by.push(Retry {
            id: retry.id.to_string(),
            status: retry.status,
            retried_at: now.unix_timestamp(),
        });
        next.updated_at = now;
        next.version = self.version + 1;
        next
    }

    /// The running job with new progress (not a status change).
    /// The job with its progress, and its lease renewed for `lease` from now: a worker that
    /// makes progress keeps its job however long the document.
    pub fn with_progress(
        &self,
        progress: Progress,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Job {
        let mut next = self.clone();
        next.progress = Some(progress);
        if next.status == JobStatus::Processing {
            next.lease_until = Some(now + lease);
        }
        next.updated_at = now;
        next.version = self.version + 1;
        next
    }

    /// The job with one more webhook subscription (not a status change).
    /// `Conflict` when the job has [`MAX_JOB_WEBHOOKS`] already: every event fans out to each.
    pub fn with_webhook(&self, sub: Subscription, now: OffsetDateTime) -> Result<Job, Error> {
        if self.webhooks.len() >= MAX_JOB_WEBHOOKS {
            return Err(Error::Conflict(format!(
                "job {} has {MAX_JOB_WEBHOOKS} webhooks, the most a job may have",
                self.id
            )));
        }
        let mut next = self.clone();
        next.webhooks.push(sub);
        next.updated_at = now;
        next.version = self.version + 1;
        Ok(next)
    }

    /// The job with one of its webhook subscriptions disabled (its receiver answered 410 Gone;
    /// not a status change).
    pub fn without_webhook(&self, subscription: &WebhookId, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        for s in next.webhooks.iter_mut().filter(|s| s.id == *subscription) {
            s.disabled = true;
        }
        next.updated_at = now;
        next.version = self.version + 1;
        next
    }

    /// The tags the service gives the job itself, in the reserved namespaces: its type,
    /// upload and account, and the job it retries.
    pub fn auto_tags(&self) -> Vec<String> {
        let [account, upload, kind, retry_of] = RESERVED_TAG_PREFIXES;
        let mut tags = vec![
            format!("{kind}{}", self.job_type.as_str()),
            format!("{upload}{}", self.upload_id),
            format!("{account}{}", self.account),
        ];
        if let Some(of) = &self.retry_of {
            tags.push(format!("{retry_of}{of}"));
        }
        tags
    }

    fn advanced(&self, status: JobStatus, now: OffsetDateTime) -> Result<Job, Error> {
        let mut next = self.clone();
        next.status = self.status.transition(status)?;
        next.updated_at = now;
        next.version = self.version + 1;
        next.history.push(HistoryStep {
            status,
            at: millis(now),
            attempt: next.attempts + u32::from(status == JobStatus::Processing),
            worker: None,
        });
        if next.history.len() > HISTORY_MAX {
            next.history.remove(1);
        }
        Ok(next)
    }
}

/// A stored upload: the bytes live in the blob store under [`upload_blob_key`].
///
/// An upload made through a presigned URL starts `pending`: its bytes are not ours to check until
/// the client has PUT them. On first use its type is decided from the bytes and it becomes ready
/// (see `horizon_app::uploads::resolve`); until then `content_type`, `size` and `sha256` are unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: UploadId,
    pub account: AccountId,
    pub pending: bool,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub filename: Option<String>,
    /// Images: pixel dimensions.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// PDFs: the page count, when PDFium could open the file.
    pub pages: Option<u32>,
    pub created_at: OffsetDateTime,
    /// The record disappears after this instant (DynamoDB TTL), like the bytes (S3 lifecycle).
    pub expires_at: OffsetDateTime,
}

impl Upload {
    pub fn blob_key(&self) -> String {
        upload_blob_key(&self.id)
    }

    /// Where a presigned upload's client PUTs its bytes. They are read from there once, checked,
    /// and the bytes checked written to [`Upload::blob_key`]: nothing a client can write is read
    /// after the check.
    pub fn incoming_key(&self) -> String {
        format!("{}.incoming", upload_blob_key(&self.id))
    }
}

pub fn upload_blob_key(id: &UploadId) -> String {
    format!("uploads/{id}")
}

/// Where an upload's thumbnails are kept, one object per size.
pub fn thumbnails_prefix(id: &UploadId) -> String {
    format!("thumbs/{id}/")
}

/// The one rule for a tag, wherever one is written (a job's tags, a list's filter, a monitored
/// tag): 1 to 64 characters of ASCII letters, digits and `_ - . : / @`. The OpenAPI document's
/// pattern for a tag says the same (`views::Tag`, checked by a test).
pub const TAG_PATTERN: &str = r"^[A-Za-z0-9_.:/@-]{1,64}$";

/// The namespaces of the tags the service gives every job itself (see [`Job::auto_tags`]): a
/// client's tag may not use them, so that another account cannot pose as one of them.
pub const RESERVED_TAG_PREFIXES: [&str; 4] = ["account:", "upload:", "type:", "retry_of:"];

/// Checks a tag against [`TAG_PATTERN`]; the error says what a tag may hold.
pub fn check_tag(tag: &str) -> Result<(), &'static str> {
    let ok = (1..=64).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/@".contains(c));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of letters, digits and _ - . : / @")
    }
}

/// Checks a tag a client gives a job: the rule, outside the reserved namespaces.
pub fn check_client_tag(tag: &str) -> Result<(), String> {
    check_tag(tag).map_err(str::to_owned)?;
    match RESERVED_TAG_PREFIXES.iter().find(|p| tag.starts_with(*p)) {
        Some(prefix) => Err(format!(
            "must not start with {prefix:?}: the service gives every job its own tags there"
        )),
        None => Ok(()),
    }
}

/// RFC 3339 in UTC with second precision, as the API shows every timestamp.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_stored_name_is_an_unknown_value_of_its_kind() {
        assert_eq!("failed".parse::<JobStatus>(), Ok(JobStatus::Failed));
        let e = "sleeping".parse::<JobStatus>().unwrap_err();
        assert_eq!((e.kind, e.value.as_str()), ("job status", "sleeping"));
        assert_eq!(
            "extract/word".parse::<JobType>().unwrap_err().kind,
            "job type"
        );
    }
    use time::macros::datetime;

    #[test]
    fn page_selections() {
        let sel: PageSelection = "1-3, 7,10-".parse().unwrap();
        for (page, inside) in [
            (1, true),
            (3, true),
            (4, false),
            (7, true),
            (9, false),
            (10, true),
            (999, true),
        ] {
            assert_eq!(sel.contains(page), inside, "page {page}");
        }
        for bad in ["", "0", "3-1", "a", "1-b", "-3", "1,,2"] {
            assert!(bad.parse::<PageSelection>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_illegal_transition_is_rejected() {
        use JobStatus::*;
        let legal = [
            (Queued, Processing),
            (Queued, Failed),
            (Processing, Processing),
            (Processing, Queued),
            (Processing, Completed),
            (Processing, Failed),
        ];
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                let expected = legal.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                match from.transition(to) {
                    Ok(next) => assert!(expected && next == to, "{from} -> {to} accepted"),
                    Err(Error::IllegalTransition { from: f, to: t }) => {
                        assert!(!expected, "{from} -> {to} refused");
                        assert_eq!((f, t), (from.as_str(), to.as_str()));
                    }
                    Err(other) => panic!("unexpected error {other:?}"),
                }
            }
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in [JobStatus::Completed, JobStatus::Failed] {
            assert!(from.is_terminal());
            for to in JobStatus::ALL {
                assert!(from.transition(to).is_err(), "{from} -> {to}");
            }
        }
    }

    fn job(now: OffsetDateTime) -> Job {
        Job::new_queued(
            JobId::new(now),
            JobType::ExtractPdf,
            AccountId::default_account(),
            UploadId::new(now),
            now,
            time::Duration::hours(24),
        )
    }

    /// A job's history is its timeline: each change of status with its time and attempt, and
    /// the worker of each claim; a long one keeps its first step and its latest.
    #[test]
    fn the_history_keeps_each_step_and_who_claimed() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let lease = time::Duration::minutes(5);
        let later = |s: i64| now + time::Duration::seconds(s);
        let j = job(now)
            .claimed_by(later(1), lease, "w1")
            .unwrap()
            .requeued(later(2))
            .unwrap()
            .claimed_by(later(3), lease, "w2")
            .unwrap()
            .failed(JobError::new("x", "y"), later(4))
            .unwrap();
        let steps: Vec<(JobStatus, i64, u32, Option<&str>)> = j
            .history()
            .iter()
            .map(|h| (h.status, h.at, h.attempt, h.worker.as_deref()))
            .collect();
        let ms = |s: i64| (now.unix_timestamp() + s) * 1000;
        assert_eq!(
            steps,
            [
                (JobStatus::Queued, ms(0), 0, None),
                (JobStatus::Processing, ms(1), 1, Some("w1")),
                (JobStatus::Queued, ms(2), 1, None),
                (JobStatus::Processing, ms(3), 2, Some("w2")),
                (JobStatus::Failed, ms(4), 2, None),
            ]
        );
        let mut long = job(now);
        for i in 0..HISTORY_MAX as i64 {
            long = long
                .claimed_by(later(2 * i + 1), lease, "w")
                .unwrap()
                .requeued(later(2 * i + 2))
                .unwrap();
        }
        assert_eq!(long.history().len(), HISTORY_MAX);
        assert_eq!(long.history()[0].status, JobStatus::Queued);
        assert_eq!(long.history()[0].at, ms(0), "the first step stays");
        assert_eq!(
            long.history().last().unwrap().at,
            ms(2 * HISTORY_MAX as i64)
        );
    }

    #[test]
    fn claim_leases_and_bumps_version_and_attempts() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let j = job(now);
        let c = j.claimed(now, time::Duration::minutes(5)).unwrap();
        assert_eq!(c.status, JobStatus::Processing);
        assert_eq!(c.version, 2);
        assert_eq!(c.attempts, 1);
        assert_eq!(c.lease_until, Some(now + time::Duration::minutes(5)));
        // A live lease cannot be taken; an expired one can.
        assert!(c
            .claimed(now + time::Duration::minutes(1), time::Duration::minutes(5))
            .is_err());
        let again = c
            .claimed(now + time::Duration::minutes(6), time::Duration::minutes(5))
            .unwrap();
        assert_eq!(again.attempts, 2);
        assert_eq!(again.version, 3);
    }

    #[test]
    fn finished_jobs_cannot_be_claimed_or_finished_again() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let done = job(now)
            .claimed(now, time::Duration::minutes(5))
            .unwrap()
            .completed(JobResult::default(), now)
            .unwrap();
        assert!(!done.claimable(now + time::Duration::days(1)));
        assert!(done.failed(JobError::new("x", "y"), now).is_err());
        assert!(done.completed(JobResult::default(), now).is_err());
        // A queued job cannot complete without being claimed first.
        assert!(job(now).completed(JobResult::default(), now).is_err());
    }

    #[test]
    fn ids_round_trip_and_refuse_malformed_input() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let id = JobId::new(now);
        assert!(id.as_str().starts_with("job_"));
        assert_eq!(id.as_str().parse::<JobId>().unwrap(), id);
        for bad in [
            "",
            "job_",
            "job_../../etc/passwd",
            "upl_01JAAAAAAAAAAAAAAAAAAAAAAA",
            "job_01jaaaaaaaaaaaaaaaaaaaaaaa",
            "job_01JAAAAAAAAAAAAAAAAAAAAAAAA",
            &format!("job_{}", "A".repeat(500)),
            "job_01JAAAAAAAAAAAAAAAAAAAAA/A",
        ] {
            assert!(bad.parse::<JobId>().is_err(), "{bad:?} accepted");
        }
        let a = JobId::new(now);
        let b = JobId::new(now);
        assert_ne!(a, b, "two ids made in the same millisecond collide");
    }

    #[test]
    fn only_failed_jobs_are_retried_and_the_retry_copies_the_request() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let mut original = job(now);
        original.tags = vec!["batch-7".into()];
        original.metadata = Some(serde_json::json!({"k": 1}));
        assert!(original
            .retry(JobId::new(now), now, time::Duration::hours(1))
            .is_err());
        let failed = original
            .claimed(now, time::Duration::minutes(5))
            .unwrap()
            .failed(JobError::new("x", "y"), now)
            .unwrap();
        let retry = failed
            .retry(JobId::new(now), now, time::Duration::hours(1))
            .unwrap();
        assert_eq!(retry.status, JobStatus::Queued);
        assert_eq!(retry.retry_of.as_ref(), Some(&failed.id));
        assert_eq!((retry.attempts, retry.version), (0, 1));
        assert_eq!(retry.tags, failed.tags);
        assert_eq!(retry.metadata, failed.metadata);
        assert_eq!(retry.upload_id, failed.upload_id);
        let noted = failed.retried_as(&retry, now);
        assert_eq!(noted.status, JobStatus::Failed);
        assert_eq!(noted.version, failed.version + 1);
        assert_eq!(noted.retried_by.len(), 1);
        assert_eq!(noted.retried_by[0].id, retry.id.to_string());
        assert_eq!(noted.retried_by[0].status, JobStatus::Queued);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = datetime!(2026-11-23 10:00:01.5 +02:00);
        assert_eq!(rfc3339(t), "2026-11-23T08:00:01.500Z");
    }
}
