//! Ports: what the handlers need from the outside world, as small traits. The AWS adapters in
//! `horizon_aws` implement them; handlers depend only on these.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use horizon_domain::error::Error;
use horizon_domain::keys::ApiKey;
use horizon_domain::{
    AccountId, Chunk, Job, JobId, JobStatus, JobType, KeyId, Subscription, Upload, UploadId,
    WebhookId,
};

/// What an adapter behind a port fails with: the storage's and the queues' own errors, not the
/// API's. A use case handles some (a lost version check is read again; a create that finds its
/// item is the idempotent path) and passes the rest on, turned into an API [`Error`] by `?`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out or down: trying again later may succeed.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    /// A version-checked write lost the race: someone wrote since the read.
    #[error("stale write: {0}")]
    Stale(String),
    /// A conditional write found the item in another state: it exists already, or no longer is
    /// what the write expects.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The item or resource the operation needs is not there.
    #[error("not found: {0}")]
    NotFound(String),
    /// A request the store cannot serve as asked: a cursor that is not from this list.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A byte range past the end of an object.
    #[error("range not satisfiable: {0}")]
    Range(String),
    /// An object larger than the reader takes (found before its body was read).
    #[error("too large: {0}")]
    TooLarge(String),
    /// An account's limit that a write would pass (its active jobs).
    #[error("at its limit: {0}")]
    AtLimit(String),
    /// A bug, or stored data that does not read back.
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = std::result::Result<T, StoreError>;

impl StoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::Unavailable(m) => Error::Unavailable(m),
            StoreError::Stale(m) => Error::Stale(m),
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::NotFound(m) => Error::NotFound(m),
            StoreError::Invalid { field, message } => Error::field(field, message),
            StoreError::Range(m) => Error::RangeNotSatisfiable(m),
            StoreError::TooLarge(m) => Error::PayloadTooLarge(m),
            StoreError::AtLimit(detail) => Error::TooManyRequests {
                detail,
                retry_after: 5,
            },
            StoreError::Internal(m) => Error::Internal(m),
        }
    }
}

/// Stored data that a domain rule refuses (an id, a status, a timestamp that does not parse)
/// means the store is corrupt: an internal error, whatever the rule said.
impl From<Error> for StoreError {
    fn from(e: Error) -> StoreError {
        StoreError::Internal(e.to_string())
    }
}

/// A stored value that reads back as none of its kind's: the store holds what this version
/// does not know (a newer version's, or damage), which is the store's error, not the caller's.
impl From<horizon_domain::UnknownValue> for StoreError {
    fn from(e: horizon_domain::UnknownValue) -> StoreError {
        StoreError::Internal(format!("stored value: {e}"))
    }
}

/// Durable job state. Every write of an existing job is conditional on the version that was read.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job and what goes `along` with it, and counts it among its account's
    /// active jobs (queued or processing), in one transaction: all or nothing. `Conflict` if
    /// the id exists or the idempotency key is taken; `Stale` if the replaced job changed since
    /// it was read; `AtLimit` if the account has `limit` active jobs already (`None`: no
    /// limit, the job is still counted). The outbox takes a job off the count when it ends.
    async fn create_within(
        &self,
        job: &Job,
        along: Along<'_>,
        limit: Option<u32>,
    ) -> StoreResult<()>;
    /// [`JobStore::create_within`] without a limit.
    async fn create(&self, job: &Job, along: Along<'_>) -> StoreResult<()> {
        self.create_within(job, along, None).await
    }
    /// The job as last written (strongly consistent), or `None` when unknown or expired.
    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>>;
    /// Replaces the stored job with `job` if the stored version is still `job.version - 1`;
    /// `Stale` otherwise (someone else wrote in between: re-read and decide again). Only
    /// `jobs::update` calls it.
    async fn replace(&self, job: &Job) -> StoreResult<()>;
    /// [`JobStore::replace`] for a write that starts or stops the job processing: in the same
    /// transaction, its account's count of jobs processing changes with it, so the count is
    /// exact the moment the write lands (the per-account cap is held against it). `AtLimit`
    /// when a `Take` finds the account with `cap` processing already.
    async fn replace_counting(&self, job: &Job, change: ProcessingChange) -> StoreResult<()>;
    /// The account's jobs, newest first, that pass `filter`; at most `limit`, after the job
    /// `after` (a cursor from a previous page). Returns the page and the cursor of the next.
    async fn list(
        &self,
        account: &AccountId,
        filter: &JobFilter,
        after: Option<&JobId>,
        limit: usize,
    ) -> StoreResult<(Vec<Job>, Option<JobId>)>;
    /// What the request that first sent this idempotency key made (until the key expires).
    async fn idempotency(
        &self,
        account: &AccountId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    /// Active jobs that look abandoned, from the sparse index of active jobs: processing ones whose
    /// lease ended before `leased_before`, queued ones last written before `queued_before`; at
    /// most `limit`.
    async fn overdue(
        &self,
        queued_before: OffsetDateTime,
        leased_before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<JobId>>;
    /// Removes the job's record and its delivery log. Removing what is not there is no error.
    async fn delete(&self, id: &JobId) -> StoreResult<()>;
}

/// A page of [`JobStore::list`]: `jobs` cut at `limit`, with the cursor of the next page (the
/// last job's id) when more remain: `more` says so, as does a job past `limit`.
pub fn job_page(mut jobs: Vec<Job>, limit: usize, more: bool) -> (Vec<Job>, Option<JobId>) {
    let more = more || jobs.len() > limit;
    jobs.truncate(limit);
    let next = if more {
        jobs.last().map(|j| j.id().clone())
    } else {
        None
    };
    (jobs, next)
}

/// Filters for [`JobStore::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub tag: Option<String>,
}

/// What an earlier request with the same idempotency key made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub job_id: JobId,
}

/// An idempotency key as a request sent it: kept with the job the request made, until
/// `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub account: AccountId,
    pub key: String,
    /// The request's fingerprint: the same key with another request is refused.
    pub request_hash: String,
    pub expires_at: OffsetDateTime,
}

/// What is written in one transaction with a new job.
#[derive(Debug, Clone, Copy)]
pub enum Along<'a> {
    Nothing,
    /// The idempotency key of the request that made the job (with the job's id): a crash
    /// cannot leave a key without its job, or a job its key does not name.
    Key(&'a IdempotencyKey),
    /// Another job's next version: a retry's original, noting the retry (`retried_by`). Two
    /// retries of one job cannot both land.
    Replacing(&'a Job),
}

/// How a write changes its account's count of jobs processing ([`JobStore::replace_counting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessingChange {
    /// A claim of a queued job: one more, within the cap when there is one.
    Take(Option<u32>),
    /// The job stops processing (finished, or back in the queue): one fewer.
    Release,
}

/// Accounts' API keys and account-level webhooks.
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()>;
    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Revokes the key with this id; `false` when there is none (or, given an `owner`, none of
    /// that account's).
    async fn revoke_key(&self, key_id: &KeyId, owner: Option<&AccountId>) -> StoreResult<bool>;
    async fn put_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()>;
    /// Replaces an existing subscription (to disable it, say).
    async fn update_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()>;
    async fn webhooks(&self, account: &AccountId) -> StoreResult<Vec<Subscription>>;
    /// One of the account's webhooks (one read, whatever the account has).
    async fn webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> StoreResult<Option<Subscription>>;
    /// Deletes one; `false` when the account has none with this id.
    async fn delete_webhook(&self, account: &AccountId, id: &WebhookId) -> StoreResult<bool>;
    /// The account's request bucket shared by every instance (`limits::RateLimits`), as last
    /// written; `None` before its first request.
    async fn rate_bucket(&self, account: &AccountId) -> StoreResult<Option<StoredBucket>>;
    /// Writes the account's request bucket if it is still at version `seen` (`None`: not
    /// written yet); `Conflict` when another instance wrote it meanwhile.
    async fn put_rate_bucket(
        &self,
        account: &AccountId,
        bucket: &StoredBucket,
        seen: Option<u64>,
    ) -> StoreResult<()>;
    /// Counts one failure of `client` (its network address) in `scope` (`keys`, `sign-in`)
    /// during `minute` (unix minutes), for every instance (`limits::Strikes`): the failures
    /// counted in that minute so far, this one included.
    async fn strike(&self, scope: &str, client: &str, minute: i64) -> StoreResult<u32>;
}

/// A token bucket as stored: its tokens when written, when that was, and its version (for the
/// compare-and-set).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBucket {
    pub tokens: f64,
    pub at: OffsetDateTime,
    pub version: u64,
}

/// A finished job's chunks, stored apart from the job record and read a page at a time.
#[async_trait]
pub trait ResultStore: Send + Sync {
    async fn put_chunks(&self, job: &JobId, chunks: &[Chunk]) -> StoreResult<()>;
    /// Chunks `offset .. offset + limit` of the `total` the job has.
    async fn chunks(
        &self,
        job: &JobId,
        total: u32,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<Chunk>>;
    /// Stores the whole document as Markdown, under [`markdown_key`] in the blob store.
    async fn put_markdown(&self, job: &JobId, markdown: String) -> StoreResult<()>;
}

/// Chunks are kept in segments of this many, one JSON array each, so that a page of chunks
/// costs one or two small reads however large the result.
const SEGMENT: u32 = 500;

/// Where everything a job's result left in the blob store is kept: its chunks and Markdown.
pub fn results_prefix(job: &JobId) -> String {
    format!("results/{job}/")
}

fn segment_key(job: &JobId, segment: u32) -> String {
    format!("{}{segment:05}.json", results_prefix(job))
}

/// Results live in the blob store (S3, or memory in tests), the same way in each.
#[async_trait]
impl<B: BlobStore + ?Sized> ResultStore for B {
    async fn put_chunks(&self, job: &JobId, chunks: &[Chunk]) -> StoreResult<()> {
        for (i, segment) in chunks.chunks(SEGMENT as usize).enumerate() {
            let json = serde_json::to_vec(&segment)
                .map_err(|e| StoreError::Internal(format!("serialising chunks: {e}")))?;
            self.put(
                &segment_key(job, i as u32),
                Bytes::from(json),
                "application/json",
            )
            .await?;
        }
        Ok(())
    }

    async fn chunks(
        &self,
        job: &JobId,
        total: u32,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<Chunk>> {
        let end = offset.saturating_add(limit).min(total);
        let mut out = Vec::new();
        if offset >= end {
            return Ok(out);
        }
        for segment in offset / SEGMENT..=(end - 1) / SEGMENT {
            let key = segment_key(job, segment);
            let blob = self
                .get(&key)
                .await?
                .ok_or_else(|| StoreError::Internal(format!("result segment {key} is missing")))?;
            let chunks: Vec<Chunk> = serde_json::from_slice(&blob.bytes)
                .map_err(|e| StoreError::Internal(format!("result segment {key}: {e}")))?;
            let base = segment * SEGMENT;
            out.extend(chunks.into_iter().enumerate().filter_map(|(i, c)| {
                let index = base + i as u32;
                (index >= offset && index < end).then_some(c)
            }));
        }
        Ok(out)
    }

    async fn put_markdown(&self, job: &JobId, markdown: String) -> StoreResult<()> {
        self.put(&markdown_key(job), Bytes::from(markdown), MARKDOWN)
            .await
    }
}

/// Where a job's Markdown is kept in the blob store.
pub fn markdown_key(job: &JobId) -> String {
    format!("{}document.md", results_prefix(job))
}

/// The content type of a job's Markdown.
pub const MARKDOWN: &str = "text/markdown; charset=utf-8";

/// Upload records (the bytes are in the [`BlobStore`]).
#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Stores a new upload record; `Conflict` if the id exists.
    async fn put(&self, upload: &Upload) -> StoreResult<()>;
    async fn get(&self, id: &UploadId) -> StoreResult<Option<Upload>>;
    /// Replaces a pending upload with its checked, ready form; `Conflict` when it is no longer
    /// pending (another request completed it first).
    async fn complete(&self, upload: &Upload) -> StoreResult<()>;
    /// Removes the upload's record. Removing what is not there is no error.
    async fn delete(&self, id: &UploadId) -> StoreResult<()>;
}

/// The message that asks a worker to run a job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkMessage {
    pub job_id: String,
    /// The job's account, when the sender knew it: a worker that just found the account at
    /// its cap sets the job aside without reading anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A job read in parts: read this part of it (its index among the job's parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// A job read in parts: every part is read; assemble the whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assemble: bool,
}

impl WorkMessage {
    /// Read part `index` of job `job`.
    pub fn part(job: &JobId, index: usize) -> WorkMessage {
        WorkMessage {
            job_id: job.to_string(),
            part: Some(index as u32),
            ..Default::default()
        }
    }

    /// Assemble job `job` from its parts.
    pub fn assembly(job: &JobId) -> WorkMessage {
        WorkMessage {
            job_id: job.to_string(),
            assemble: true,
            ..Default::default()
        }
    }
}

/// The queue of work for the extraction workers.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    async fn enqueue(&self, message: &WorkMessage) -> StoreResult<()> {
        self.enqueue_after(message, std::time::Duration::ZERO).await
    }
    /// Queues a message visible after `delay` (at most SQS's 15 minutes): a new message, whose
    /// receive count starts again.
    async fn enqueue_after(
        &self,
        message: &WorkMessage,
        delay: std::time::Duration,
    ) -> StoreResult<()>;
    /// Makes a received message (by its receipt handle) visible again after `delay`: the retry's
    /// back-off, instead of the queue's whole visibility timeout.
    async fn retry_later(
        &self,
        receipt_handle: &str,
        delay: std::time::Duration,
    ) -> StoreResult<()>;
}

/// The queue of webhook deliveries.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Queues a delivery, visible after `delay` (SQS allows at most 15 minutes; longer waits
    /// are re-queued by the dispatcher until `not_before`).
    async fn send(
        &self,
        message: &horizon_domain::deliveries::DeliveryMessage,
        delay: std::time::Duration,
    ) -> StoreResult<()>;
    /// Puts a delivery that will not be tried again on the dead-letter queue, for people to see.
    async fn dead_letter(
        &self,
        message: &horizon_domain::deliveries::DeliveryMessage,
    ) -> StoreResult<()>;
    /// Makes a received delivery message come back after `delay` instead of the queue's
    /// visibility timeout.
    async fn retry_later(
        &self,
        receipt_handle: &str,
        delay: std::time::Duration,
    ) -> StoreResult<()>;
}

/// Each delivery attempt of a job's webhooks, for its owner to read; each record also carries
/// what follows the attempt ([`horizon_domain::deliveries::Then`]), which the outbox carries out.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Records an attempt unless it is recorded already (one record per attempt, under
    /// [`horizon_domain::deliveries::Attempt::log_key`]): `false` when it was.
    async fn record(
        &self,
        job: &JobId,
        attempt: &horizon_domain::deliveries::Attempt,
    ) -> StoreResult<bool>;
    /// Whether the attempt this message stands for is recorded (it was made already).
    async fn recorded(
        &self,
        message: &horizon_domain::deliveries::DeliveryMessage,
    ) -> StoreResult<bool>;
    /// Oldest first.
    async fn attempts(&self, job: &JobId) -> StoreResult<Vec<horizon_domain::deliveries::Attempt>>;
}

/// One finished job, as the dashboard's metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobMeasure {
    pub failed: bool,
    /// From claim to finish.
    pub runtime_ms: u64,
    /// From creation to the first claim.
    pub wait_ms: u64,
}

/// What one write of a job adds to the dashboard's counts. A write is named by its job and the
/// version it made, and is counted once however often its stream record is processed.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub job: JobId,
    /// The version the write made.
    pub version: u64,
    /// Until when the write is remembered as applied (a day past the job's own expiry).
    pub keep_until: OffsetDateTime,
    /// The time buckets' field (`pushed`, `completed` or `failed`), the bucket time, and the
    /// pending gauge's change.
    pub tally: Option<(&'static str, OffsetDateTime, i64)>,
    /// A finished job's measure, for its job type and its queue (in that order).
    pub measure: Option<(String, String, JobMeasure)>,
    /// The change in its account's active jobs (queued or processing): -1 when it finishes (a
    /// new job is counted in its own write).
    pub active: Option<(AccountId, i64)>,
    /// The change in its account's jobs processing: -1 when a job processing is removed (it
    /// expired; a claim and a write that ends processing are counted in their own writes,
    /// `JobStore::replace_counting`). The per-account cap on jobs processing at once is held
    /// against it.
    pub processing: Option<(AccountId, i64)>,
}

/// The counters per job type and per queue, the time buckets and the pending gauge, changed only
/// through [`MetricsStore::apply`]: once per write of a job, never twice.
#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// Whether the write of `job` that made `version` has had its effects applied.
    async fn applied(&self, job: &JobId, version: u64) -> StoreResult<bool>;
    /// How many of the account's jobs are queued or processing, as the writes applied so far
    /// say (the concurrent-job quota); a count below zero (drift) reads as none.
    async fn active_jobs(&self, account: &AccountId) -> StoreResult<i64>;
    /// How many of the account's jobs are processing, as the writes applied so far say (the
    /// per-account cap on jobs processing at once).
    async fn processing_jobs(&self, account: &AccountId) -> StoreResult<i64>;
    /// Adds the counts of `writes` and marks each applied, in one step (DynamoDB transactions
    /// that hold the marks and the sums): a write applied already is left out. Returns how many
    /// this call applied.
    async fn apply(&self, writes: &[Counts]) -> StoreResult<usize>;
    /// What the table holds now, for the reconciler: the active jobs (queued or processing)
    /// and the jobs processing of each account, and how many are queued.
    async fn census(&self) -> StoreResult<Census>;
    /// The counts kept for what [`MetricsStore::census`] recounts: each account's active jobs
    /// and jobs processing (every account that has a count) and the pending gauge, with when
    /// each last changed.
    async fn kept_counts(&self) -> StoreResult<Vec<KeptCount>>;
    /// Sets a kept count to `to`, if it has not changed since it was read as `seen`; `false`
    /// when it had (it is left alone: a write came in between).
    async fn repair(&self, seen: &KeptCount, to: i64) -> StoreResult<bool>;
}

/// The active jobs in the table, as [`MetricsStore::census`] counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    pub active: std::collections::BTreeMap<AccountId, i64>,
    pub processing: std::collections::BTreeMap<AccountId, i64>,
    pub queued: i64,
}

/// Which count a [`KeptCount`] is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CountOf {
    /// An account's active jobs (its limit is held against it).
    Active(AccountId),
    /// An account's jobs processing (its cap on jobs processing at once is held against it).
    Processing(AccountId),
    /// The jobs queued, the dashboard's pending gauge.
    Pending,
}

/// A count as it is kept, and when it last changed (`None`: never, or before changes were
/// timed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCount {
    pub of: CountOf,
    pub value: i64,
    pub changed_at: Option<OffsetDateTime>,
}

/// A record of the table's stream that the outbox could not apply, parked with its content
/// so that it neither blocks the records behind it nor is lost: an operator replays it
/// (`horizon-local outbox replay`, the dashboard's outbox page) once its cause is fixed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkedRecord {
    /// The record's sequence number in the stream: its id while it is parked.
    pub id: String,
    /// The job the record is a write of, when it names one.
    pub job: Option<String>,
    /// Why it could not be applied (the last try's error).
    pub error: String,
    /// When it was parked (RFC 3339).
    pub parked_at: String,
    /// How often it was replayed and failed again.
    pub replays: u32,
    /// The record as the stream gave it (JSON): what a replay applies.
    pub content: String,
}

/// Each account's jobs that wait out of the queue while the account has its cap of jobs
/// processing (`fair`): oldest first, released to the queue as its jobs end.
#[async_trait]
pub trait WaitingList: Send + Sync {
    /// Puts a job on its account's list, with the message that will queue it again.
    async fn wait(&self, account: &AccountId, message: &WorkMessage) -> StoreResult<()>;
    /// The account's oldest waiting jobs' messages, at most `limit`.
    async fn waiting(&self, account: &AccountId, limit: usize) -> StoreResult<Vec<WorkMessage>>;
    /// Takes a job off its account's list: `true` when this call took it off, `false` when it
    /// was not there (another caller took it first).
    async fn unwait(&self, account: &AccountId, job: &str) -> StoreResult<bool>;
}

/// Where the outbox parks the records it cannot apply ([`ParkedRecord`]).
#[async_trait]
pub trait ParkedRecords: Send + Sync {
    /// Parks a record, or parks it again after a failed replay (its error and replays new).
    async fn park(&self, record: &ParkedRecord) -> StoreResult<()>;
    /// Parked records, oldest first, at most `limit`.
    async fn parked(&self, limit: usize) -> StoreResult<Vec<ParkedRecord>>;
    /// Asks for a parked record to be replayed: the request is a write of the record, which
    /// the outbox's consumer reads from the stream and applies as the record it holds.
    /// `false` when no such record is parked.
    async fn request_replay(&self, id: &str) -> StoreResult<bool>;
    /// A replayed record was applied: it leaves.
    async fn unpark(&self, id: &str) -> StoreResult<()>;
}

/// The most jobs a filtered count reads (see [`JobLists::count`]).
pub const COUNT_SCAN_CAP: u64 = 20_000;

/// What the dashboard reads and keeps: job lists across accounts, counts by time bucket,
/// metric counters and their snapshots, worker heartbeats, monitored tags, paused queues. None
/// of it reads more than a window at the top of an index or a handful of counter items, so its
/// cost does not grow with the number of jobs stored.
/// Each part is its own trait, kept by its own module of an adapter.
pub trait DashboardStore: JobLists + MetricHistory + Workers + TagIndex {}

impl<T: JobLists + MetricHistory + Workers + TagIndex + ?Sized> DashboardStore for T {}

/// The dashboard's job lists across accounts, their counts by time bucket and the pending
/// gauge.
#[async_trait]
pub trait JobLists: Send + Sync {
    /// A page of `list`, newest first, no older than `since` (unix ms), after the cursor `after`;
    /// `filter` narrows it. Returns the jobs with each one's cursor, and the cursor to go on
    /// from when more may follow (`None` at the end). A filter is checked job by job over a
    /// bounded read, so a page can come back short, even empty, with a cursor to go on from.
    async fn list(
        &self,
        list: horizon_domain::monitoring::ListName,
        since_ms: Option<i64>,
        filter: &horizon_domain::monitoring::Search,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<(Job, String)>, Option<String>)>;
    /// How many jobs of `list` match `filter` since `since_ms`, reading at most
    /// [`COUNT_SCAN_CAP`] jobs of the window: the count, and `false` when the cap cut it short
    /// (the count is then a lower bound).
    async fn count(
        &self,
        list: horizon_domain::monitoring::ListName,
        since_ms: Option<i64>,
        filter: &horizon_domain::monitoring::Search,
    ) -> StoreResult<(u64, bool)>;
    /// The sum of the time buckets of `width` from bucket `first` on.
    async fn tallies(
        &self,
        width: horizon_domain::monitoring::Width,
        first: i64,
    ) -> StoreResult<horizon_domain::monitoring::Tally>;
    /// Jobs queued or processing now.
    async fn pending_count(&self) -> StoreResult<i64>;
    /// The jobs that still exist among `ids`, in the order given.
    async fn jobs(&self, ids: &[JobId]) -> StoreResult<Vec<Job>>;
}

/// The metric counters of job types and queues, and their snapshots over time.
#[async_trait]
pub trait MetricHistory: Send + Sync {
    /// The metric counters since the last snapshot.
    async fn counters(&self) -> StoreResult<Vec<horizon_domain::monitoring::Counter>>;
    /// The kept snapshots of one metric, oldest first.
    async fn snapshots(
        &self,
        metric: &horizon_domain::monitoring::MetricId,
    ) -> StoreResult<Vec<horizon_domain::monitoring::Snapshot>>;
    /// The metrics that have snapshots or counters.
    async fn metric_names(
        &self,
        kind: horizon_domain::monitoring::MetricKind,
    ) -> StoreResult<Vec<String>>;
    /// Takes the snapshot of interval `slot`, unless another instance already took it: reads
    /// and resets every counter in one step each and appends a snapshot, keeping `keep`.
    /// `false` when this slot was taken already.
    async fn take_snapshot(&self, slot: i64, now: OffsetDateTime, keep: usize)
        -> StoreResult<bool>;
    /// When the last snapshot was taken (unix ms), if ever.
    async fn last_snapshot_at(&self) -> StoreResult<Option<i64>>;
}

/// The live workers' heartbeats, and the queues an operator paused.
#[async_trait]
pub trait Workers: Send + Sync {
    async fn beat(&self, heartbeat: &horizon_domain::monitoring::Heartbeat) -> StoreResult<()>;
    /// Heartbeats seen since `since_ms`.
    async fn heartbeats(
        &self,
        since_ms: i64,
    ) -> StoreResult<Vec<horizon_domain::monitoring::Heartbeat>>;
    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()>;
    /// The names of the paused queues.
    async fn paused(&self) -> StoreResult<Vec<String>>;
}

/// Monitored tags and the jobs filed under each.
#[async_trait]
pub trait TagIndex: Send + Sync {
    /// Monitored tags with when monitoring began (unix ms).
    async fn monitored(&self) -> StoreResult<Vec<(String, i64)>>;
    async fn monitor(&self, tag: &str, now: OffsetDateTime) -> StoreResult<()>;
    /// `false` when the tag was not monitored.
    async fn unmonitor(&self, tag: &str) -> StoreResult<bool>;
    /// Adds a job to a monitored tag's list, kept until `expires_at`.
    async fn tag_job(&self, tag: &str, job: &JobId, expires_at: OffsetDateTime) -> StoreResult<()>;
    /// A page of a monitored tag's jobs, newest first, created since `since_ms`, after `after`.
    async fn tagged(
        &self,
        tag: &str,
        since_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<JobId>, bool)>;
    async fn tagged_count(&self, tag: &str, since_ms: i64) -> StoreResult<u64>;
}

/// A queue's depth, as SQS reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and not yet deleted (being worked on, or waiting for a retry).
    pub in_flight: u64,
    pub delayed: u64,
}

/// The queues' own state.
#[async_trait]
pub trait QueueInfo: Send + Sync {
    async fn depth(&self, queue_url: &str) -> StoreResult<QueueDepth>;
    /// The redrive policy's `maxReceiveCount`, when the queue has one.
    async fn max_receive_count(&self, queue_url: &str) -> StoreResult<Option<u32>>;
    /// Deletes every message in the queue (SQS allows one purge a minute per queue: a second
    /// one sooner is a `Conflict`).
    async fn purge(&self, queue_url: &str) -> StoreResult<()>;
}

/// The worker functions (Horizon's supervisors) and how they are configured to consume their
/// queues; and pausing a queue's consumption.
#[async_trait]
pub trait Fleet: Send + Sync {
    async fn supervisors(&self) -> StoreResult<Vec<horizon_domain::monitoring::Supervisor>>;
    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()>;
}

/// A stored object.
#[derive(Debug, Clone)]
pub struct Blob {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

/// An object written to a file: its size, and its version (S3's ETag) where the store has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub size: u64,
    pub version: Option<String>,
}

/// A presigned PUT: the URL, and the headers the client must send with it (they are signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Object storage for uploads and large results.
#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> StoreResult<()>;
    /// The object, or `None` when there is none under `key`.
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>>;
    /// Bytes `first..=last` of the object (`last` beyond the end is clipped).
    async fn get_range(&self, key: &str, first: u64, last: u64) -> StoreResult<Option<Blob>>;
    /// Removes every object whose key starts with `prefix`; how many there were.
    async fn delete_prefix(&self, prefix: &str) -> StoreResult<usize>;
    /// The object, unless it has more than `limit` bytes: then [`StoreError::TooLarge`], found
    /// before its body is read.
    async fn get_limited(&self, key: &str, limit: u64) -> StoreResult<Option<Blob>>;
    /// Writes the object to the file `to` as it arrives (never held in memory whole), unless it
    /// has more than `limit` bytes ([`StoreError::TooLarge`], before its body is read); what
    /// was written, or `None` when there is no object under `key`.
    async fn download(
        &self,
        key: &str,
        to: &std::path::Path,
        limit: u64,
    ) -> StoreResult<Option<Downloaded>> {
        let Some(blob) = self.get_limited(key, limit).await? else {
            return Ok(None);
        };
        tokio::fs::write(to, &blob.bytes)
            .await
            .map_err(|e| StoreError::Internal(format!("writing {}: {e}", to.display())))?;
        Ok(Some(Downloaded {
            size: blob.bytes.len() as u64,
            version: None,
        }))
    }
    /// Copies the object `from` to `to`, with `content_type`, on the store's side, if it is
    /// still the version `version` that was downloaded ([`StoreError::Conflict`] otherwise).
    async fn copy(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
        version: Option<&str>,
    ) -> StoreResult<()> {
        let _ = version; // one process's memory: nothing changes it between the two
        let blob = self
            .get(from)
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("{from} is gone")))?;
        self.put(to, blob.bytes, content_type).await
    }
    /// A URL through which a plain HTTP client can PUT exactly `size` bytes (and, when given,
    /// of `content_type`) to the object, valid for `ttl`.
    async fn presign_put(
        &self,
        key: &str,
        ttl: std::time::Duration,
        size: u64,
        content_type: Option<&str>,
    ) -> StoreResult<PresignedPut>;
    /// A URL through which a plain HTTP client can GET the object, valid for `ttl`.
    async fn presign_get(
        &self,
        key: &str,
        content_type: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<String>;
}

/// The time, behind a trait so tests can hold it still.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    /// Now, to the millisecond: the precision timestamps are stored with.
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(now)
    }
}
