//! A job: its type and status, what was asked (options, webhooks), its state machine, and
//! what a store keeps of it.

use std::fmt;
use std::str::FromStr;

use crate::parts::Part;
use crate::selection::PageSelection;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::chunks::{JobResult, Progress};
use crate::error::Error;
use crate::ids::{AccountId, JobId, UploadId, WebhookId};
use crate::tags::RESERVED_TAG_PREFIXES;

/// The kinds of job the platform runs: reading a PDF, reading an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobType {
    #[serde(rename = "extract/pdf")]
    ExtractPdf,
    #[serde(rename = "extract/image")]
    ExtractImage,
    /// Any document we read: a PDF, an image, or an Office, OpenDocument, HTML, EPUB or
    /// Markdown file, by the type its bytes show.
    #[serde(rename = "extract/document")]
    ExtractDocument,
}

impl JobType {
    pub const ALL: [JobType; 3] = [
        JobType::ExtractPdf,
        JobType::ExtractImage,
        JobType::ExtractDocument,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobType::ExtractPdf => "extract/pdf",
            JobType::ExtractImage => "extract/image",
            JobType::ExtractDocument => "extract/document",
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// How the chunks are cut: by block (the default), by section or by page, to a size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking: Option<horizon_layout::retrieval::Chunking>,
}

/// How a document is read: `accurate` (the default) runs the learned layout and table-structure
/// models on every page; `fast` reads born-digital text without them, at the highest speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtractMode {
    #[default]
    Accurate,
    Fast,
}

/// When PDF pages are read with OCR: `auto` (the default) the pages without a usable text layer
/// (none, mostly characters that map to nothing, or a scan with a stray word on it); `always`
/// every page; `never` none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    #[default]
    Auto,
    Always,
    Never,
}

/// The job events a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// During a rotation, the secret this one replaced and until when deliveries are signed
    /// with it too (Standard Webhooks allows several signatures), so that receivers can move
    /// to the new one without a delivery they cannot verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSecret>,
}

/// A secret replaced by a rotation, still signed with until `until` (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub secret: String,
    pub until: String,
}

impl Subscription {
    /// The secrets a delivery at `now` is signed with: the subscription's, then, while a
    /// rotation lasts, the one it replaced.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let Some(p) = self
            .previous
            .as_ref()
            .filter(|p| p.until > crate::rfc3339(now))
        {
            secrets.push(p.secret.as_str());
        }
        secrets
    }

    /// The subscription with `secret` in its place; the one it had is still signed with for
    /// `overlap` after `now`.
    pub fn rotated(
        &self,
        secret: String,
        now: OffsetDateTime,
        overlap: time::Duration,
    ) -> Subscription {
        Subscription {
            previous: Some(PreviousSecret {
                secret: self.secret.clone(),
                until: crate::rfc3339(now + overlap),
            }),
            secret,
            ..self.clone()
        }
    }
}

/// Why a job failed: a stable machine-readable `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub(crate) id: JobId,
    pub(crate) job_type: JobType,
    pub(crate) account: AccountId,
    pub(crate) upload_id: UploadId,
    pub(crate) status: JobStatus,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
    pub(crate) version: u64,
    /// How many times a worker has claimed the job.
    pub(crate) attempts: u32,
    /// While `processing`: the claim holds until this instant; after it another worker may take over.
    pub(crate) lease_until: Option<OffsetDateTime>,
    /// The client's tags (the dashboard adds automatic ones).
    pub(crate) tags: Vec<String>,
    /// The client's metadata, returned as given.
    pub(crate) metadata: Option<serde_json::Value>,
    pub(crate) options: JobOptions,
    /// Job-level webhook subscriptions.
    pub(crate) webhooks: Vec<Subscription>,
    pub(crate) progress: Option<Progress>,
    pub(crate) result: Option<JobResult>,
    pub(crate) error: Option<JobError>,
    /// The job's record disappears after this instant (DynamoDB TTL).
    pub(crate) expires_at: OffsetDateTime,
    /// When a worker last claimed it.
    pub(crate) started_at: Option<OffsetDateTime>,
    /// When it became `completed` or `failed`.
    pub(crate) finished_at: Option<OffsetDateTime>,
    /// The failed job this one retries (the dashboard's retry).
    pub(crate) retry_of: Option<JobId>,
    /// The retries made of this job, oldest first.
    pub(crate) retried_by: Vec<Retry>,
    /// Its changes of status, oldest first (at most [`HISTORY_MAX`]: the first, then the latest).
    pub(crate) history: Vec<HistoryStep>,
    /// A long job's parts (see [`crate::parts`]); none when it is read in one piece.
    pub(crate) parts: Vec<Part>,
}

fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The most steps a job's history keeps: the first one and the latest ones.
pub const HISTORY_MAX: usize = 40;

/// One change of a job's status: to what, when, on which attempt, and (a claim) by which worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub parts: Vec<Part>,
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
            parts: r.parts,
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
            parts: Vec::new(),
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
            // A job read in parts is taken over part by part, never whole.
            JobStatus::Processing => {
                self.parts.is_empty() && self.lease_until.is_none_or(|until| until <= now)
            }
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
