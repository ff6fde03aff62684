//! In-memory adapters for every port, so that use cases can be unit-tested without AWS (or
//! LocalStack). Each adapter stands in for one AWS adapter and keeps the semantics the use cases
//! rely on: conditional writes refuse with `Conflict` or `Stale` like DynamoDB's condition
//! checks, lists are newest first with cursors, expired records read as gone. What they simplify
//! is said on each one.
//!
//! [`Services::in_memory`] wires them all; the [`Memory`] it returns keeps typed handles, so a
//! test can read the messages queued, set the clock, or make writes lose their race:
//!
//! ```
//! # async fn demo() -> horizon_domain::Result<()> {
//! use horizon_app::{memory, Services};
//! let memory = Services::in_memory(memory::test_config()?);
//! memory.clock.advance(time::Duration::minutes(5));
//! memory.store.fail_next_replaces(2)?;
//! assert!(memory.queue.work()?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Every piece of state sits behind a `std::sync::Mutex`; a lock poisoned by a panicking thread
//! is reported as `StoreError::Internal`, never unwrapped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use time::OffsetDateTime;

use crate::config::Config;
use crate::limits::RateLimits;
use crate::ports::{
    AccountStore, Along, Blob, BlobStore, Clock, Counts, DashboardStore, DeliveryLog,
    DeliveryQueue, Fleet, IdempotencyRecord, JobFilter, JobStore, MetricsStore, PresignedPut,
    QueueDepth, QueueInfo, StoreError, StoreResult, SystemClock, UploadStore, WorkMessage,
    WorkQueue, COUNT_SCAN_CAP,
};
use crate::services::{Services, UploadCache};
use horizon_domain::deliveries::{Attempt, DeliveryMessage, Then};
use horizon_domain::keys::{ApiKey, KeyCache};
use horizon_domain::monitoring::{
    self, first_id_at, Counter, Heartbeat, ListName, MetricId, MetricKind, Search, Snapshot,
    Supervisor, Tally, Width,
};
use horizon_domain::{
    AccountId, Job, JobId, JobStatus, KeyId, Subscription, Upload, UploadId, WebhookId,
};

/// Locks `mutex`, turning a poisoned lock (a thread panicked while holding it) into an error.
fn lock<'a, T>(mutex: &'a Mutex<T>, what: &str) -> StoreResult<MutexGuard<'a, T>> {
    mutex.lock().map_err(|_| {
        StoreError::Internal(format!(
            "in-memory {what}: a thread panicked while holding its lock"
        ))
    })
}

/// Unix milliseconds: the precision the stores keep timestamps in.
fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A configuration for in-memory services: fixed local names for the table, bucket and queues,
/// every other setting at its default. Reads no environment variable.
pub fn test_config() -> horizon_domain::Result<Config> {
    Config::from_lookup(|name| {
        let value = match name {
            "HORIZON_TABLE" => "horizon-memory",
            "HORIZON_BUCKET" => "horizon-memory",
            "HORIZON_EXTRACT_QUEUE_URL" => "memory://queues/horizon-extract",
            "HORIZON_WEBHOOK_QUEUE_URL" => "memory://queues/horizon-webhooks",
            "HORIZON_WEBHOOK_DLQ_URL" => "memory://queues/horizon-webhooks-dlq",
            "HORIZON_MASTER" => "memory",
            _ => return None,
        };
        Some(value.to_owned())
    })
}

/// A new queued PDF job of account `acct_a`, made at `now` and kept for a day: what a unit test
/// starts from.
pub fn queued_job(now: OffsetDateTime) -> Job {
    use horizon_domain::JobType;
    Job::new_queued(
        JobId::new(now),
        JobType::ExtractPdf,
        AccountId("acct_a".into()),
        UploadId::new(now),
        now,
        time::Duration::days(1),
    )
}

// ---------------------------------------------------------------------------------------------
// Services

/// In-memory [`Services`] and typed handles on the adapters behind them.
pub struct Memory {
    pub services: Services,
    /// Behind `jobs`, `uploads`, `accounts`, `metrics`, `dashboard` and `delivery_log`.
    pub store: Arc<MemoryStore>,
    /// Behind `blobs` and `results`.
    pub blobs: Arc<MemoryBlobs>,
    /// Behind `queue` (work) and `deliveries` (webhooks).
    pub queue: Arc<MemoryQueue>,
    /// Behind `queues`.
    pub queues: Arc<MemoryQueues>,
    /// Behind `fleet`.
    pub fleet: Arc<MemoryFleet>,
    /// Behind `clock`, and what the store judges expiry by.
    pub clock: Arc<FixedClock>,
}

impl Services {
    /// Services for `config` with an in-memory adapter behind every port, the clock held still
    /// at the time of the call (to the millisecond). Nothing leaves the process.
    pub fn in_memory(config: Config) -> Memory {
        let clock = Arc::new(FixedClock::new(SystemClock.now()));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let blobs = Arc::new(MemoryBlobs::new());
        let queue = Arc::new(MemoryQueue::new());
        let queues = Arc::new(MemoryQueues::new());
        let fleet = Arc::new(MemoryFleet::new(store.clone()));
        let services = Services {
            jobs: store.clone(),
            uploads: store.clone(),
            accounts: store.clone(),
            metrics: store.clone(),
            dashboard: store.clone(),
            delivery_log: store.clone(),
            results: blobs.clone(),
            blobs: blobs.clone(),
            queue: queue.clone(),
            deliveries: queue.clone(),
            queues: queues.clone(),
            fleet: fleet.clone(),
            clock: clock.clone(),
            upload_cache: Arc::new(UploadCache::new(10_000)),
            key_cache: Arc::new(KeyCache::new(config.api.key_cache_ttl)),
            rate_limits: Arc::new(RateLimits::new(
                config.api.rate_per_second,
                config.api.rate_burst,
            )),
            config: Arc::new(config),
        };
        Memory {
            services,
            store,
            blobs,
            queue,
            queues,
            fleet,
            clock,
        }
    }
}

impl Memory {
    /// Processes the store's stream as the table's stream is processed: the effects of every job
    /// write so far ([`crate::outbox::apply`]) and what follows each delivery attempt recorded
    /// ([`crate::outbox::follow`]), oldest first. Returns how many records it read.
    pub async fn pump(&self) -> horizon_domain::Result<usize> {
        let mut read = 0;
        loop {
            let batch = std::mem::take(&mut self.store.state()?.stream);
            if batch.is_empty() {
                return Ok(read);
            }
            for written in &batch {
                match written {
                    Written::Job(before, Some(after)) => {
                        crate::outbox::apply(&self.services, before.as_ref(), after).await?;
                    }
                    Written::Job(Some(before), None) => {
                        if let Some(counts) = crate::outbox::removal(before) {
                            crate::outbox::commit(&self.services, &[counts]).await?;
                        }
                    }
                    Written::Job(None, None) => {}
                    Written::Attempt(then) => crate::outbox::follow(&self.services, then).await?,
                }
            }
            read += batch.len();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clock

/// Stands in for [`SystemClock`]: a clock that stands still until a test sets or advances it.
pub struct FixedClock {
    now: Mutex<OffsetDateTime>,
}

impl FixedClock {
    pub fn new(at: OffsetDateTime) -> Self {
        FixedClock {
            now: Mutex::new(at),
        }
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.guard() = at;
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self.guard();
        *now += by;
    }

    /// [`Clock::now`] cannot fail, so a poisoned lock is recovered rather than reported: it
    /// guards one `Copy` value, always written whole, so it never holds a half-made time.
    fn guard(&self) -> MutexGuard<'_, OffsetDateTime> {
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.guard()
    }
}

// ---------------------------------------------------------------------------------------------
// The table

/// Stands in for `horizon_aws::DynamoStore`, the one DynamoDB table: jobs, uploads,
/// idempotency keys, API keys and webhooks, the delivery log, and the dashboard's items (time
/// buckets, the pending gauge, metric counters and snapshots, heartbeats, monitored tags, paused
/// queues).
///
/// Records that carry an expiry are judged against the clock it is given, and an expired record
/// counts as removed at once (DynamoDB's TTL sweep lags; here it never does): reads do not see
/// it, and `create`/`put` may reuse its id. Heartbeats, delivery attempts, snapshot locks and
/// time buckets never expire here.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By id, which sorts by creation.
    jobs: BTreeMap<JobId, Job>,
    /// `replace` calls still to refuse with `Stale`, whatever the versions.
    stale_replaces: usize,
    uploads: HashMap<UploadId, Upload>,
    idempotency: HashMap<(AccountId, String), Claim>,
    /// API keys by hash.
    keys: HashMap<String, ApiKey>,
    /// Each account's webhooks, by subscription id.
    webhooks: HashMap<AccountId, BTreeMap<WebhookId, Subscription>>,
    /// Each job's delivery attempts, by the sort key DynamoDB gives them (time, delivery,
    /// attempt), so they read oldest first.
    attempts: HashMap<JobId, BTreeMap<String, Attempt>>,
    tallies: HashMap<(Width, i64), Tally>,
    pending: i64,
    /// Each account's active jobs (queued or processing), as applied writes count them.
    active: HashMap<AccountId, i64>,
    counters: BTreeMap<MetricId, Counter>,
    snapshots: BTreeMap<MetricId, Vec<Snapshot>>,
    snapshot_slots: BTreeSet<i64>,
    last_snapshot_ms: Option<i64>,
    /// By `<master>#<supervisor>#<queue>#<instance>`.
    heartbeats: BTreeMap<String, Heartbeat>,
    /// Monitored tags and since when (unix ms).
    monitored: BTreeMap<String, i64>,
    /// A monitored tag's jobs, with when each entry expires.
    tagged: HashMap<String, BTreeMap<JobId, OffsetDateTime>>,
    paused: BTreeMap<String, bool>,
    /// The table's stream: each job's write and each delivery attempt's record, oldest first,
    /// until pumped.
    stream: Vec<Written>,
    /// The writes whose effects were applied (job, version).
    applied: BTreeSet<(JobId, u64)>,
}

/// One record of the store's stream, as the table's stream has one for each item written.
#[allow(clippy::large_enum_variant)] // short-lived, one at a time: boxing buys nothing
enum Written {
    /// A job's write: the job before and after it.
    Job(Option<Job>, Option<Job>),
    /// A delivery attempt's record, and what follows it.
    Attempt(Then),
}

struct Claim {
    record: IdempotencyRecord,
    expires_at: OffsetDateTime,
}

impl MemoryStore {
    /// An empty store that judges expiry by `clock` (give it the services' clock).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// Makes the next `n` calls of [`JobStore::replace`] fail with `StoreError::Stale`, as if another
    /// writer had won each race (the stored job is left as it is): to test retries.
    pub fn fail_next_replaces(&self, n: usize) -> StoreResult<()> {
        self.state()?.stale_replaces = n;
        Ok(())
    }

    /// Every job stored, expired or not, oldest first: for assertions.
    pub fn all_jobs(&self) -> StoreResult<Vec<Job>> {
        Ok(self.state()?.jobs.values().cloned().collect())
    }

    fn state(&self) -> StoreResult<MutexGuard<'_, State>> {
        lock(&self.state, "store")
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

impl State {
    /// A job as stored, unless it has expired.
    fn live_job(&self, id: &JobId, now: OffsetDateTime) -> Option<&Job> {
        self.jobs.get(id).filter(|j| j.expires_at() > now)
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn create(&self, job: &Job, along: Along<'_>) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;
        if state.live_job(job.id(), now).is_some() {
            return Err(StoreError::Conflict(format!(
                "job {} exists already",
                job.id()
            )));
        }
        // Every condition is checked before anything is written: one transaction.
        match along {
            Along::Nothing => {}
            Along::Key(key) => {
                let slot = (key.account.clone(), key.key.clone());
                if state
                    .idempotency
                    .get(&slot)
                    .is_some_and(|c| c.expires_at > now)
                {
                    return Err(StoreError::Conflict(
                        "the idempotency key names another job".into(),
                    ));
                }
                state.idempotency.insert(
                    slot,
                    Claim {
                        record: IdempotencyRecord {
                            request_hash: key.request_hash.clone(),
                            job_id: job.id().clone(),
                        },
                        expires_at: key.expires_at,
                    },
                );
            }
            Along::Replacing(other) => {
                let stored = state.live_job(other.id(), now).map(Job::version);
                if stored.map(|v| v + 1) != Some(other.version()) {
                    return Err(StoreError::Stale(format!(
                        "job {} changed since it was read",
                        other.id()
                    )));
                }
                let before = state.jobs.insert(other.id().clone(), other.clone());
                state.stream.push(Written::Job(before, Some(other.clone())));
            }
        }
        state.jobs.insert(job.id().clone(), job.clone());
        state.stream.push(Written::Job(None, Some(job.clone())));
        Ok(())
    }

    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>> {
        let now = self.now();
        Ok(self.state()?.live_job(id, now).cloned())
    }

    async fn replace(&self, job: &Job) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;
        if state.stale_replaces > 0 {
            state.stale_replaces -= 1;
            return Err(StoreError::Stale(format!(
                "job {} (an injected lost race)",
                job.id()
            )));
        }
        let before = match state.live_job(job.id(), now) {
            Some(stored) if stored.version() + 1 == job.version() => stored.clone(),
            Some(stored) => {
                return Err(StoreError::Stale(format!(
                    "job {} is at version {}, not {}",
                    job.id(),
                    stored.version(),
                    job.version().saturating_sub(1)
                )))
            }
            None => return Err(StoreError::Stale(format!("job {} is gone", job.id()))),
        };
        state.jobs.insert(job.id().clone(), job.clone());
        state
            .stream
            .push(Written::Job(Some(before), Some(job.clone())));
        Ok(())
    }

    async fn list(
        &self,
        account: &AccountId,
        filter: &JobFilter,
        after: Option<&JobId>,
        limit: usize,
    ) -> StoreResult<(Vec<Job>, Option<JobId>)> {
        let now = self.now();
        let state = self.state()?;
        let page: Vec<Job> = state
            .jobs
            .values()
            .rev()
            .filter(|j| after.is_none_or(|after| j.id() < after))
            .filter(|j| j.account() == account && j.expires_at() > now)
            .filter(|j| filter.status.is_none_or(|s| j.status() == s))
            .filter(|j| filter.job_type.is_none_or(|t| j.job_type() == t))
            .filter(|j| filter.tag.as_ref().is_none_or(|t| j.tags().contains(t)))
            .take(limit.saturating_add(1))
            .cloned()
            .collect();
        Ok(crate::ports::job_page(page, limit, false))
    }

    async fn idempotency(
        &self,
        account: &AccountId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let now = self.now();
        Ok(self
            .state()?
            .idempotency
            .get(&(account.clone(), key.to_owned()))
            .filter(|c| c.expires_at > now)
            .map(|c| c.record.clone()))
    }

    /// Processing jobs whose lease ended by `leased_before` (then queued ones last written by
    /// `queued_before`), each group oldest first.
    async fn overdue(
        &self,
        queued_before: OffsetDateTime,
        leased_before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<JobId>> {
        let now = self.now();
        let state = self.state()?;
        let mut ids = Vec::new();
        for (status, before) in [
            (JobStatus::Processing, leased_before),
            (JobStatus::Queued, queued_before),
        ] {
            let mut due: Vec<(OffsetDateTime, &JobId)> = state
                .jobs
                .values()
                .filter(|j| j.status() == status && j.expires_at() > now)
                .map(|j| {
                    let at = match status {
                        JobStatus::Processing => j.lease_until().unwrap_or(j.updated_at()),
                        _ => j.updated_at(),
                    };
                    (at, j.id())
                })
                .filter(|(at, _)| *at <= before)
                .collect();
            due.sort();
            ids.extend(due.into_iter().map(|(_, id)| id.clone()));
        }
        ids.truncate(limit);
        Ok(ids)
    }

    async fn delete(&self, id: &JobId) -> StoreResult<()> {
        let mut state = self.state()?;
        if let Some(job) = state.jobs.remove(id) {
            state.stream.push(Written::Job(Some(job), None));
        }
        state.attempts.remove(id);
        state.applied.retain(|(job, _)| job != id);
        Ok(())
    }
}

#[async_trait]
impl UploadStore for MemoryStore {
    async fn put(&self, upload: &Upload) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;
        if state
            .uploads
            .get(&upload.id)
            .is_some_and(|u| u.expires_at > now)
        {
            return Err(StoreError::Conflict(format!(
                "upload {} exists already",
                upload.id
            )));
        }
        state.uploads.insert(upload.id.clone(), upload.clone());
        Ok(())
    }

    async fn get(&self, id: &UploadId) -> StoreResult<Option<Upload>> {
        let now = self.now();
        Ok(self
            .state()?
            .uploads
            .get(id)
            .filter(|u| u.expires_at > now)
            .cloned())
    }

    async fn complete(&self, upload: &Upload) -> StoreResult<()> {
        let now = self.now();
        let mut state = self.state()?;
        match state.uploads.get(&upload.id) {
            Some(stored) if stored.pending && stored.expires_at > now => {
                state.uploads.insert(upload.id.clone(), upload.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict(format!(
                "upload {} is no longer pending",
                upload.id
            ))),
        }
    }

    async fn delete(&self, id: &UploadId) -> StoreResult<()> {
        self.state()?.uploads.remove(id);
        Ok(())
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn put_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.state()?.keys.insert(key.hash.clone(), key.clone());
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.state()?.keys.get(hash).cloned())
    }

    async fn revoke_key(&self, key_id: &KeyId, owner: Option<&AccountId>) -> StoreResult<bool> {
        let mut state = self.state()?;
        let Some(key) = state.keys.values_mut().find(|k| k.id == *key_id) else {
            return Ok(false);
        };
        if owner.is_some_and(|owner| key.account != *owner) {
            return Ok(false);
        }
        key.revoked = true;
        Ok(true)
    }

    async fn put_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let mut state = self.state()?;
        let subs = state.webhooks.entry(account.clone()).or_default();
        if subs.contains_key(&sub.id) {
            return Err(StoreError::Conflict(format!(
                "webhook {} exists already",
                sub.id
            )));
        }
        subs.insert(sub.id.clone(), sub.clone());
        Ok(())
    }

    async fn update_webhook(&self, account: &AccountId, sub: &Subscription) -> StoreResult<()> {
        let mut state = self.state()?;
        match state
            .webhooks
            .get_mut(account)
            .and_then(|subs| subs.get_mut(&sub.id))
        {
            Some(stored) => {
                *stored = sub.clone();
                Ok(())
            }
            None => Err(StoreError::Conflict(format!(
                "no webhook {} to update",
                sub.id
            ))),
        }
    }

    /// By subscription id, as DynamoDB returns them.
    async fn webhooks(&self, account: &AccountId) -> StoreResult<Vec<Subscription>> {
        Ok(self
            .state()?
            .webhooks
            .get(account)
            .map(|subs| subs.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> StoreResult<Option<Subscription>> {
        Ok(self
            .state()?
            .webhooks
            .get(account)
            .and_then(|subs| subs.get(id).cloned()))
    }

    async fn delete_webhook(&self, account: &AccountId, id: &WebhookId) -> StoreResult<bool> {
        Ok(self
            .state()?
            .webhooks
            .get_mut(account)
            .is_some_and(|subs| subs.remove(id).is_some()))
    }
}

#[async_trait]
impl DeliveryLog for MemoryStore {
    async fn record(&self, job: &JobId, attempt: &Attempt) -> StoreResult<bool> {
        let mut state = self.state()?;
        let log = state.attempts.entry(job.clone()).or_default();
        if log.contains_key(&attempt.log_key()) {
            return Ok(false);
        }
        log.insert(attempt.log_key(), attempt.clone());
        if let Some(then) = &attempt.then {
            state.stream.push(Written::Attempt(then.clone()));
        }
        Ok(true)
    }

    async fn recorded(&self, message: &DeliveryMessage) -> StoreResult<bool> {
        Ok(self
            .state()?
            .attempts
            .get(&message.job_id)
            .is_some_and(|log| log.contains_key(&message.log_key())))
    }

    async fn attempts(&self, job: &JobId) -> StoreResult<Vec<Attempt>> {
        let mut attempts: Vec<Attempt> = self
            .state()?
            .attempts
            .get(job)
            .map(|a| a.values().cloned().collect())
            .unwrap_or_default();
        attempts.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(attempts)
    }
}

#[async_trait]
impl MetricsStore for MemoryStore {
    async fn applied(&self, job: &JobId, version: u64) -> StoreResult<bool> {
        Ok(self.state()?.applied.contains(&(job.clone(), version)))
    }

    async fn active_jobs(&self, account: &AccountId) -> StoreResult<i64> {
        Ok(self.state()?.active.get(account).copied().unwrap_or(0))
    }

    /// Adds to the time buckets, the pending gauge and the job type's and queue's counters.
    async fn apply(&self, writes: &[Counts]) -> StoreResult<usize> {
        let mut applied = 0;
        for counts in writes {
            applied += usize::from(self.apply_one(counts)?);
        }
        Ok(applied)
    }
}

impl MemoryStore {
    fn apply_one(&self, counts: &Counts) -> StoreResult<bool> {
        let now_ms = millis(self.now());
        let mut state = self.state()?;
        if !state.applied.insert((counts.job.clone(), counts.version)) {
            return Ok(false);
        }
        if let Some((field, at, gauge)) = counts.tally {
            for width in [Width::Minute, Width::Hour] {
                let tally = state.tallies.entry((width, width.bucket(at))).or_default();
                match field {
                    "pushed" => tally.pushed += 1,
                    "completed" => tally.completed += 1,
                    // A failed job deleted: out of the failed count it was in.
                    "deleted" => tally.failed = tally.failed.saturating_sub(1),
                    _ => tally.failed += 1,
                }
            }
            state.pending += gauge;
        }
        if let Some((account, by)) = &counts.active {
            *state.active.entry(account.clone()).or_default() += by;
        }
        let Some((job_type, queue, m)) = &counts.measure else {
            return Ok(true);
        };
        for (kind, name) in [(MetricKind::Job, job_type), (MetricKind::Queue, queue)] {
            let metric = MetricId {
                kind,
                name: name.to_owned(),
            };
            let counter = state
                .counters
                .entry(metric.clone())
                .or_insert_with(|| Counter {
                    metric,
                    processed: 0,
                    failed: 0,
                    runtime_ms: 0,
                    wait_ms: 0,
                    since_ms: now_ms,
                });
            counter.processed += 1;
            counter.failed += u64::from(m.failed);
            counter.runtime_ms += m.runtime_ms;
            counter.wait_ms += m.wait_ms;
        }
        Ok(true)
    }
}

/// A dashboard list's sort key for `job`, if the job is in it: its id (lists by creation) or
/// its finishing time and id (lists by finish), as `aws::dashboard` indexes them.
fn list_key(list: ListName, job: &Job) -> Option<String> {
    let by_finish = || {
        format!(
            "{:013}#{}",
            millis(job.finished_at().unwrap_or(job.updated_at())),
            job.id()
        )
    };
    match (list, job.status()) {
        (ListName::Recent, _) => Some(job.id().to_string()),
        (ListName::Pending, s) if !s.is_terminal() => Some(job.id().to_string()),
        (ListName::Completed, JobStatus::Completed) | (ListName::Failed, JobStatus::Failed) => {
            Some(by_finish())
        }
        _ => None,
    }
}

/// Whether `job` passes a dashboard search (tags include the automatic ones; the text is
/// matched against the error's code and message, so jobs without an error never match it).
impl MemoryStore {
    /// Every live job of `list` since `since_ms` that passes `search`, with its sort key,
    /// newest first.
    fn list_entries(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        search: &Search,
    ) -> StoreResult<Vec<(Job, String)>> {
        let now = self.now();
        let (lower, upper) = search.key_range(list, since_ms);
        let state = self.state()?;
        let mut entries: Vec<(Job, String)> = state
            .jobs
            .values()
            .filter(|j| j.expires_at() > now && search.matches(j))
            .filter_map(|j| list_key(list, j).map(|key| (j, key)))
            .filter(|(_, key)| lower.as_ref().is_none_or(|lower| key >= lower))
            .filter(|(_, key)| upper.as_ref().is_none_or(|upper| key < upper))
            .map(|(j, key)| (j.clone(), key))
            .collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1));
        Ok(entries)
    }
}

/// Stands in for the dashboard's side of `DynamoStore`. Lists, counts and tag lists read every
/// job held (no index windows: there are only ever a test's few), with the same sort keys,
/// cursors and bounds; a snapshot resets the counters in one step under the lock.
#[async_trait]
impl DashboardStore for MemoryStore {
    async fn list(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        filter: &Search,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<(Job, String)>, Option<String>)> {
        if let Some(cursor) = after {
            JobId::from_str(cursor.rsplit('#').next().unwrap_or(cursor)).map_err(|_| {
                StoreError::invalid("starting_at", "is not a cursor from this list")
            })?;
        }
        let mut page: Vec<(Job, String)> = self
            .list_entries(list, since_ms, filter)?
            .into_iter()
            .filter(|(_, key)| after.is_none_or(|after| key.as_str() < after))
            .take(limit.saturating_add(1))
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more
            .then(|| page.last().map(|(_, key)| key.clone()))
            .flatten();
        Ok((page, next))
    }

    async fn count(
        &self,
        list: ListName,
        since_ms: Option<i64>,
        filter: &Search,
    ) -> StoreResult<(u64, bool)> {
        // Every job is read here; the cap applies to what is read, as in DynamoDB.
        let (lower, upper) = filter.key_range(list, since_ms);
        let window = self
            .list_entries(list, since_ms, &Search::default())?
            .into_iter()
            .filter(|(_, key)| lower.as_ref().is_none_or(|l| key >= l))
            .filter(|(_, key)| upper.as_ref().is_none_or(|u| key < u))
            .take(COUNT_SCAN_CAP as usize + 1)
            .collect::<Vec<_>>();
        let complete = window.len() as u64 <= COUNT_SCAN_CAP;
        let matched = window
            .iter()
            .take(COUNT_SCAN_CAP as usize)
            .filter(|(j, _)| filter.matches(j))
            .count() as u64;
        Ok((matched, complete))
    }

    async fn tallies(&self, width: Width, first: i64) -> StoreResult<Tally> {
        let state = self.state()?;
        let mut sum = Tally::default();
        for ((w, bucket), tally) in &state.tallies {
            if *w == width && *bucket >= first {
                sum.pushed += tally.pushed;
                sum.completed += tally.completed;
                sum.failed += tally.failed;
            }
        }
        Ok(sum)
    }

    async fn pending_count(&self) -> StoreResult<i64> {
        Ok(self.state()?.pending.max(0))
    }

    async fn counters(&self) -> StoreResult<Vec<Counter>> {
        Ok(self.state()?.counters.values().cloned().collect())
    }

    async fn snapshots(&self, metric: &MetricId) -> StoreResult<Vec<Snapshot>> {
        Ok(self
            .state()?
            .snapshots
            .get(metric)
            .cloned()
            .unwrap_or_default())
    }

    async fn metric_names(&self, kind: MetricKind) -> StoreResult<Vec<String>> {
        let state = self.state()?;
        let names: BTreeSet<String> = state
            .counters
            .keys()
            .chain(state.snapshots.keys())
            .filter(|m| m.kind == kind)
            .map(|m| m.name.clone())
            .collect();
        Ok(names.into_iter().collect())
    }

    async fn take_snapshot(
        &self,
        slot: i64,
        now: OffsetDateTime,
        keep: usize,
    ) -> StoreResult<bool> {
        let mut state = self.state()?;
        if !state.snapshot_slots.insert(slot) {
            return Ok(false);
        }
        let State {
            counters,
            snapshots,
            ..
        } = &mut *state;
        for counter in counters.values_mut() {
            let taken = counter.clone();
            counter.processed = 0;
            counter.failed = 0;
            counter.runtime_ms = 0;
            counter.wait_ms = 0;
            counter.since_ms = millis(now);
            let kept = snapshots.remove(&taken.metric).unwrap_or_default();
            snapshots.insert(
                taken.metric.clone(),
                monitoring::rotate(kept, taken.snapshot(now), keep),
            );
        }
        state.last_snapshot_ms = Some(millis(now));
        Ok(true)
    }

    async fn last_snapshot_at(&self) -> StoreResult<Option<i64>> {
        Ok(self.state()?.last_snapshot_ms)
    }

    async fn beat(&self, hb: &Heartbeat) -> StoreResult<()> {
        let key = format!(
            "{}#{}#{}#{}",
            hb.master, hb.supervisor, hb.queue, hb.instance
        );
        self.state()?.heartbeats.insert(key, hb.clone());
        Ok(())
    }

    async fn heartbeats(&self, since_ms: i64) -> StoreResult<Vec<Heartbeat>> {
        Ok(self
            .state()?
            .heartbeats
            .values()
            .filter(|hb| hb.seen_at_ms >= since_ms)
            .cloned()
            .collect())
    }

    async fn monitored(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(self
            .state()?
            .monitored
            .iter()
            .map(|(tag, since)| (tag.clone(), *since))
            .collect())
    }

    /// Already monitored: unchanged (it keeps its first `since`).
    async fn monitor(&self, tag: &str, now: OffsetDateTime) -> StoreResult<()> {
        self.state()?
            .monitored
            .entry(tag.to_owned())
            .or_insert_with(|| millis(now));
        Ok(())
    }

    async fn unmonitor(&self, tag: &str) -> StoreResult<bool> {
        Ok(self.state()?.monitored.remove(tag).is_some())
    }

    async fn tag_job(&self, tag: &str, job: &JobId, expires_at: OffsetDateTime) -> StoreResult<()> {
        self.state()?
            .tagged
            .entry(tag.to_owned())
            .or_default()
            .insert(job.clone(), expires_at);
        Ok(())
    }

    async fn tagged(
        &self,
        tag: &str,
        since_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<JobId>, bool)> {
        let after = after
            .map(|cursor| {
                JobId::from_str(cursor).map_err(|_| {
                    StoreError::invalid("starting_at", "is not a job id from this list")
                })
            })
            .transpose()?;
        let now = self.now();
        let lower = first_id_at(since_ms);
        let limit = limit.clamp(1, 1000);
        let state = self.state()?;
        let mut ids: Vec<JobId> = state
            .tagged
            .get(tag)
            .into_iter()
            .flat_map(|jobs| jobs.iter().rev())
            .filter(|(id, expires)| **expires > now && id.as_str() >= lower.as_str())
            .filter(|(id, _)| after.as_ref().is_none_or(|after| *id < after))
            .map(|(id, _)| id.clone())
            .take(limit + 1)
            .collect();
        let more = ids.len() > limit;
        ids.truncate(limit);
        Ok((ids, more))
    }

    async fn tagged_count(&self, tag: &str, since_ms: i64) -> StoreResult<u64> {
        let now = self.now();
        let lower = first_id_at(since_ms);
        Ok(self
            .state()?
            .tagged
            .get(tag)
            .map(|jobs| {
                jobs.iter()
                    .filter(|(id, expires)| **expires > now && id.as_str() >= lower.as_str())
                    .count() as u64
            })
            .unwrap_or(0))
    }

    async fn jobs(&self, ids: &[JobId]) -> StoreResult<Vec<Job>> {
        let now = self.now();
        let state = self.state()?;
        Ok(ids
            .iter()
            .filter_map(|id| state.live_job(id, now).cloned())
            .collect())
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        self.state()?.paused.insert(queue.to_owned(), paused);
        Ok(())
    }

    async fn paused(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .state()?
            .paused
            .iter()
            .filter(|(_, paused)| **paused)
            .map(|(queue, _)| queue.clone())
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Objects

/// Stands in for [`horizon_aws::S3Blobs`], the bucket: objects by key, and results stored in it
/// the way S3Blobs stores them (chunks in JSON segments of 500, Markdown under
/// [`crate::ports::markdown_key`]). Presigned URLs are `memory://` addresses that name the key
/// but cannot be fetched.
#[derive(Default)]
pub struct MemoryBlobs {
    objects: Mutex<BTreeMap<String, Blob>>,
}

impl MemoryBlobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys stored, in order: for assertions.
    pub fn keys(&self) -> StoreResult<Vec<String>> {
        Ok(self.objects()?.keys().cloned().collect())
    }

    fn objects(&self) -> StoreResult<MutexGuard<'_, BTreeMap<String, Blob>>> {
        lock(&self.objects, "blob store")
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn delete_prefix(&self, prefix: &str) -> StoreResult<usize> {
        let mut objects = self.objects()?;
        let before = objects.len();
        objects.retain(|key, _| !key.starts_with(prefix));
        Ok(before - objects.len())
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> StoreResult<()> {
        self.objects()?.insert(
            key.to_owned(),
            Blob {
                bytes,
                content_type: Some(content_type.to_owned()),
            },
        );
        Ok(())
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        Ok(self.objects()?.get(key).cloned())
    }

    /// `RangeNotSatisfiable` when `first` is past the end or after `last` (S3 answers 416 to
    /// the former; callers check ranges before asking).
    async fn get_range(&self, key: &str, first: u64, last: u64) -> StoreResult<Option<Blob>> {
        let Some(blob) = self.objects()?.get(key).cloned() else {
            return Ok(None);
        };
        let len = blob.bytes.len() as u64;
        if first >= len || first > last {
            return Err(StoreError::Range(format!(
                "bytes {first}-{last} of {key} ({len} bytes)"
            )));
        }
        let end = last.min(len - 1) + 1;
        Ok(Some(Blob {
            bytes: blob.bytes.slice(first as usize..end as usize),
            content_type: blob.content_type,
        }))
    }

    async fn get_limited(&self, key: &str, limit: u64) -> StoreResult<Option<Blob>> {
        match self.objects()?.get(key) {
            Some(blob) if blob.bytes.len() as u64 > limit => Err(StoreError::TooLarge(format!(
                "{key} has {} bytes; the limit is {limit}",
                blob.bytes.len()
            ))),
            found => Ok(found.cloned()),
        }
    }

    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        size: u64,
        content_type: Option<&str>,
    ) -> StoreResult<PresignedPut> {
        let mut headers = vec![("content-length".to_owned(), size.to_string())];
        headers.extend(content_type.map(|t| ("content-type".to_owned(), t.to_owned())));
        Ok(PresignedPut {
            url: format!(
                "memory://blobs/{key}?method=PUT&expires-in={}",
                ttl.as_secs()
            ),
            headers,
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        _content_type: &str,
        ttl: Duration,
    ) -> StoreResult<String> {
        Ok(format!(
            "memory://blobs/{key}?method=GET&expires-in={}",
            ttl.as_secs()
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Queues

/// Stands in for `horizon_aws::SqsWorkQueue` and `horizon_aws::SqsDeliveryQueue`: records what
/// is sent, for a test to read. Nothing consumes the messages; delays and visibility changes
/// are recorded, not waited for; dead-lettering needs no dead-letter queue configured.
#[derive(Default)]
pub struct MemoryQueue {
    sent: Mutex<Sent>,
}

#[derive(Default)]
struct Sent {
    work: Vec<WorkMessage>,
    retried: Vec<(String, Duration)>,
    deliveries: Vec<(DeliveryMessage, Duration)>,
    dead_letters: Vec<DeliveryMessage>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// The work messages enqueued, oldest first.
    pub fn work(&self) -> StoreResult<Vec<WorkMessage>> {
        Ok(self.sent()?.work.clone())
    }

    /// The receipt handles made visible again, with their delays.
    pub fn retried(&self) -> StoreResult<Vec<(String, Duration)>> {
        Ok(self.sent()?.retried.clone())
    }

    /// The webhook deliveries queued, with their delays, oldest first.
    pub fn deliveries(&self) -> StoreResult<Vec<(DeliveryMessage, Duration)>> {
        Ok(self.sent()?.deliveries.clone())
    }

    /// The deliveries dead-lettered, oldest first.
    pub fn dead_letters(&self) -> StoreResult<Vec<DeliveryMessage>> {
        Ok(self.sent()?.dead_letters.clone())
    }

    fn sent(&self) -> StoreResult<MutexGuard<'_, Sent>> {
        lock(&self.sent, "queue")
    }
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn enqueue(&self, message: &WorkMessage) -> StoreResult<()> {
        self.sent()?.work.push(message.clone());
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> StoreResult<()> {
        self.sent()?
            .retried
            .push((receipt_handle.to_owned(), delay));
        Ok(())
    }
}

#[async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn send(&self, message: &DeliveryMessage, delay: Duration) -> StoreResult<()> {
        self.sent()?.deliveries.push((message.clone(), delay));
        Ok(())
    }

    async fn dead_letter(&self, message: &DeliveryMessage) -> StoreResult<()> {
        self.sent()?.dead_letters.push(message.clone());
        Ok(())
    }
}

/// Stands in for `horizon_aws::dashboard::SqsQueues`: each queue's depth and redrive limit are
/// whatever a test set (a queue never set is empty and has no redrive policy); they do not
/// follow the messages a [`MemoryQueue`] records.
#[derive(Default)]
pub struct MemoryQueues {
    queues: Mutex<HashMap<String, (QueueDepth, Option<u32>)>>,
}

impl MemoryQueues {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_depth(&self, queue_url: &str, depth: QueueDepth) -> StoreResult<()> {
        lock(&self.queues, "queue attributes")?
            .entry(queue_url.to_owned())
            .or_default()
            .0 = depth;
        Ok(())
    }

    pub fn set_max_receive_count(&self, queue_url: &str, count: Option<u32>) -> StoreResult<()> {
        lock(&self.queues, "queue attributes")?
            .entry(queue_url.to_owned())
            .or_default()
            .1 = count;
        Ok(())
    }
}

#[async_trait]
impl QueueInfo for MemoryQueues {
    async fn depth(&self, queue_url: &str) -> StoreResult<QueueDepth> {
        Ok(lock(&self.queues, "queue attributes")?
            .get(queue_url)
            .map(|q| q.0)
            .unwrap_or_default())
    }

    async fn max_receive_count(&self, queue_url: &str) -> StoreResult<Option<u32>> {
        Ok(lock(&self.queues, "queue attributes")?
            .get(queue_url)
            .and_then(|q| q.1))
    }

    async fn purge(&self, queue_url: &str) -> StoreResult<()> {
        if let Some(q) = lock(&self.queues, "queue attributes")?.get_mut(queue_url) {
            q.0 = QueueDepth::default();
        }
        Ok(())
    }
}

/// Stands in for the local runner's `LocalFleet` and `horizon_aws`'s `LambdaFleet`: the supervisors are
/// whatever a test set (none at first), each enabled unless the dashboard store has its queue
/// paused; pausing writes that flag in the store, as both real fleets do.
pub struct MemoryFleet {
    store: Arc<dyn DashboardStore>,
    supervisors: Mutex<Vec<Supervisor>>,
}

impl MemoryFleet {
    pub fn new(store: Arc<dyn DashboardStore>) -> Self {
        MemoryFleet {
            store,
            supervisors: Mutex::new(Vec::new()),
        }
    }

    pub fn set_supervisors(&self, supervisors: Vec<Supervisor>) -> StoreResult<()> {
        *lock(&self.supervisors, "fleet")? = supervisors;
        Ok(())
    }
}

#[async_trait]
impl Fleet for MemoryFleet {
    async fn supervisors(&self) -> StoreResult<Vec<Supervisor>> {
        let paused = self.store.paused().await?;
        let mut supervisors = lock(&self.supervisors, "fleet")?.clone();
        for s in &mut supervisors {
            s.enabled = !paused.contains(&s.queue);
        }
        Ok(supervisors)
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> StoreResult<()> {
        self.store.set_paused(queue, paused).await
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{self, Step};
    use horizon_domain::deliveries::Scope;
    use horizon_domain::Error;
    use horizon_domain::{rfc3339, EventType, JobError, JobResult};

    fn memory() -> Memory {
        Services::in_memory(test_config().unwrap())
    }

    fn new_job(m: &Memory) -> Job {
        queued_job(m.clock.now())
    }

    fn subscription(m: &Memory, events: Vec<EventType>) -> Subscription {
        Subscription {
            id: WebhookId::new(m.clock.now()),
            url: "https://hooks.example.com/horizon".into(),
            events,
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            created_at: rfc3339(m.clock.now()),
            disabled: false,
        }
    }

    fn lease() -> time::Duration {
        time::Duration::minutes(5)
    }

    /// Claims the job, as a worker does.
    async fn claim(m: &Memory, id: &JobId) -> Job {
        jobs::update(&m.services, id, None, |current, now| {
            let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
            let next = job.claimed(now, lease())?;
            Ok(Step::Write(next.clone(), next))
        })
        .await
        .unwrap()
    }

    /// Finishes the job, as a worker does: completed, or failed with `error`.
    async fn finish(m: &Memory, id: &JobId, error: Option<JobError>) -> Job {
        jobs::update(&m.services, id, None, |current, now| {
            let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
            let next = match &error {
                Some(e) => job.failed(e.clone(), now)?,
                None => job.completed(
                    JobResult {
                        pages: 1,
                        ..JobResult::default()
                    },
                    now,
                )?,
            };
            Ok(Step::Write(next.clone(), next))
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn submit_stores_files_and_queues_the_job() {
        let m = memory();
        let s = &m.services;
        s.dashboard
            .monitor("type:extract/pdf", m.clock.now())
            .await
            .unwrap();
        let job = new_job(&m);
        jobs::submit(s, &job, Along::Nothing).await.unwrap();
        // The job's side effects follow from its write, through the stream.
        assert_eq!(s.dashboard.pending_count().await.unwrap(), 0);
        assert_eq!(m.pump().await.unwrap(), 1);

        assert_eq!(s.jobs.get(job.id()).await.unwrap(), Some(job.clone()));
        assert_eq!(
            m.queue.work().unwrap(),
            [WorkMessage {
                job_id: job.id().to_string()
            }]
        );
        let (tagged, more) = s
            .dashboard
            .tagged("type:extract/pdf", 0, None, 10)
            .await
            .unwrap();
        assert_eq!((tagged, more), (vec![job.id().clone()], false));
        assert_eq!(s.dashboard.pending_count().await.unwrap(), 1);

        // The same id again is refused, and nothing more is queued.
        assert!(matches!(
            jobs::submit(s, &job, Along::Nothing).await,
            Err(Error::Conflict(_))
        ));
        assert_eq!(m.queue.work().unwrap().len(), 1);
    }

    /// An account at its limit of active jobs gets a 429 for the next one, until one finishes;
    /// another account, and an operator's retry, are not held back.
    #[tokio::test]
    async fn new_jobs_wait_while_the_account_has_its_limit_active() {
        let mut config = test_config().unwrap();
        config.jobs.max_active = 2;
        let m = Services::in_memory(config);
        let s = &m.services;
        let (first, second) = (new_job(&m), new_job(&m));
        for job in [&first, &second] {
            jobs::submit(s, job, Along::Nothing).await.unwrap();
        }
        m.pump().await.unwrap();
        let third = new_job(&m);
        match jobs::submit(s, &third, Along::Nothing).await {
            Err(Error::TooManyRequests {
                detail,
                retry_after,
            }) => {
                assert!(detail.contains("2 jobs queued or processing"), "{detail}");
                assert!(retry_after > 0);
            }
            other => panic!("a third active job was let in: {other:?}"),
        }
        assert_eq!(s.jobs.get(third.id()).await.unwrap(), None);
        let elsewhere = Job::new_queued(
            JobId::new(m.clock.now()),
            horizon_domain::JobType::ExtractPdf,
            AccountId("acct_b".into()),
            UploadId::new(m.clock.now()),
            m.clock.now(),
            time::Duration::days(1),
        );
        jobs::submit(s, &elsewhere, Along::Nothing).await.unwrap();

        // One finishes (failed: it is also retried): room for one more, counted once however
        // often its write is read.
        jobs::update(s, first.id(), None, |current, now| {
            let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
            Ok(Step::Write(job.failed(JobError::new("x", "y"), now)?, ()))
        })
        .await
        .unwrap();
        m.pump().await.unwrap();
        assert_eq!(s.metrics.active_jobs(first.account()).await.unwrap(), 1);
        jobs::retry(s, first.id()).await.unwrap();
        jobs::submit(s, &third, Along::Nothing).await.unwrap();
    }

    #[tokio::test]
    async fn update_reads_again_after_a_lost_race() {
        let m = memory();
        let job = new_job(&m);
        jobs::submit(&m.services, &job, Along::Nothing)
            .await
            .unwrap();
        m.store.fail_next_replaces(2).unwrap();

        let mut decided = 0;
        let written = jobs::update(&m.services, job.id(), None, |current, now| {
            decided += 1;
            let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
            Ok(Step::Write(job.touched(now), job.version()))
        })
        .await
        .unwrap();

        assert_eq!(decided, 3, "two lost races, then the write");
        assert_eq!(written, 1, "each try decided on the stored version");
        let stored = m.services.jobs.get(job.id()).await.unwrap().unwrap();
        assert_eq!(stored.version(), job.version() + 1);
    }

    #[tokio::test]
    async fn update_gives_up_when_every_try_loses() {
        let m = memory();
        let job = new_job(&m);
        jobs::submit(&m.services, &job, Along::Nothing)
            .await
            .unwrap();
        m.store.fail_next_replaces(100).unwrap();

        let mut decided = 0;
        let outcome = jobs::update(&m.services, job.id(), None, |current, now| {
            decided += 1;
            let job = current.ok_or_else(|| Error::NotFound("job".into()))?;
            Ok(Step::Write(job.touched(now), ()))
        })
        .await;

        assert!(matches!(outcome, Err(Error::Stale(_))), "{outcome:?}");
        assert!(decided > 1, "it tried again before giving up");
        let stored = m.services.jobs.get(job.id()).await.unwrap().unwrap();
        assert_eq!(stored, job, "nothing was written");
    }

    #[tokio::test]
    async fn completing_a_job_counts_it_and_queues_its_webhook() {
        let m = memory();
        let s = &m.services;
        let job = new_job(&m)
            .with_webhook(subscription(&m, vec![EventType::Completed]), m.clock.now())
            .unwrap();
        jobs::submit(s, &job, Along::Nothing).await.unwrap();
        claim(&m, job.id()).await;
        m.pump().await.unwrap();
        // Not subscribed to `job.processing`: the claim queued nothing.
        assert!(m.queue.deliveries().unwrap().is_empty());

        m.clock.advance(time::Duration::seconds(2));
        let done = finish(&m, job.id(), None).await;
        assert_eq!(done.status(), JobStatus::Completed);
        assert!(
            m.queue.deliveries().unwrap().is_empty(),
            "not before the stream is read"
        );
        m.pump().await.unwrap();

        let counters = s.dashboard.counters().await.unwrap();
        let of = |kind, name: &str| {
            counters
                .iter()
                .find(|c| c.metric.kind == kind && c.metric.name == name)
                .cloned()
        };
        let by_type = of(MetricKind::Job, "extract/pdf").expect("a counter for the job type");
        assert_eq!((by_type.processed, by_type.failed), (1, 0));
        assert_eq!(by_type.runtime_ms, 2000);
        let by_queue = of(MetricKind::Queue, "horizon-extract").expect("a counter for the queue");
        assert_eq!(by_queue.processed, 1);

        let deliveries = m.queue.deliveries().unwrap();
        assert_eq!(deliveries.len(), 1);
        let (message, delay) = &deliveries[0];
        assert_eq!(*delay, Duration::ZERO);
        assert_eq!(message.job_id, *job.id());
        assert_eq!(message.subscription_id, job.webhooks()[0].id);
        assert_eq!(
            (message.scope, message.event),
            (Scope::Job, EventType::Completed)
        );
        assert_eq!(message.attempt, 1);

        let events: Vec<String> = m
            .blobs
            .keys()
            .unwrap()
            .into_iter()
            .filter(|k| k.starts_with("events/"))
            .collect();
        assert_eq!(events, [message.body_key.as_str()]);
        let body = s.blobs.get(&message.body_key).await.unwrap().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(body["type"], "job.completed");
        assert_eq!(body["data"]["jobId"], job.id().to_string());
        assert_eq!(body["data"]["status"], "completed");

        // The store's own dashboard counts followed the writes.
        let now = m.clock.now();
        let tally = s
            .dashboard
            .tallies(Width::Minute, Width::Minute.bucket(now) - 5)
            .await
            .unwrap();
        assert_eq!((tally.pushed, tally.completed, tally.failed), (1, 1, 0));
        assert_eq!(s.dashboard.pending_count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn retrying_a_failed_job_queues_a_new_one_and_notes_it() {
        let m = memory();
        let s = &m.services;
        let job = new_job(&m);
        jobs::submit(s, &job, Along::Nothing).await.unwrap();
        claim(&m, job.id()).await;
        let failed = finish(&m, job.id(), Some(JobError::new("timeout", "too slow"))).await;
        assert_eq!(failed.status(), JobStatus::Failed);

        m.clock.advance(time::Duration::seconds(1));
        let retry = jobs::retry(s, job.id()).await.unwrap();

        assert_ne!(retry.id(), job.id());
        assert_eq!(retry.retry_of(), Some(job.id()));
        assert_eq!(retry.status(), JobStatus::Queued);
        assert_eq!(s.jobs.get(retry.id()).await.unwrap(), Some(retry.clone()));
        let queued: Vec<String> = m
            .queue
            .work()
            .unwrap()
            .into_iter()
            .map(|w| w.job_id)
            .collect();
        assert_eq!(queued, [job.id().to_string(), retry.id().to_string()]);

        let original = s.jobs.get(job.id()).await.unwrap().unwrap();
        assert_eq!(original.status(), JobStatus::Failed);
        assert_eq!(original.version(), failed.version() + 1);
        assert_eq!(original.retried_by().len(), 1);
        assert_eq!(original.retried_by()[0].id, retry.id().to_string());
        assert_eq!(original.retried_by()[0].status, JobStatus::Queued);

        // Only failed jobs are retried.
        assert!(matches!(
            jobs::retry(s, retry.id()).await,
            Err(Error::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn the_job_store_keeps_the_ports_promises() {
        let m = memory();
        let s = &m.services;
        let account = AccountId("acct_a".into());
        let mut made = Vec::new();
        for _ in 0..3 {
            let job = new_job(&m);
            s.jobs.create(&job, Along::Nothing).await.unwrap();
            made.push(job);
            m.clock.advance(time::Duration::milliseconds(5));
        }
        let first = &made[0];
        assert!(matches!(
            s.jobs.create(first, Along::Nothing).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.jobs.get(&JobId::new(m.clock.now())).await.unwrap(), None);

        // Versioned writes: only the next version of what is stored.
        let skipped = first.touched(m.clock.now()).touched(m.clock.now());
        assert!(matches!(
            s.jobs.replace(&skipped).await,
            Err(StoreError::Stale(_))
        ));
        s.jobs.replace(&first.touched(m.clock.now())).await.unwrap();
        assert!(matches!(
            s.jobs.replace(&first.touched(m.clock.now())).await,
            Err(StoreError::Stale(_))
        ));

        // Newest first, a page at a time.
        let filter = JobFilter::default();
        let (page, next) = s.jobs.list(&account, &filter, None, 2).await.unwrap();
        let ids: Vec<&JobId> = page.iter().map(|j| j.id()).collect();
        assert_eq!(ids, [made[2].id(), made[1].id()]);
        assert_eq!(next.as_ref(), Some(made[1].id()));
        let (page, next) = s
            .jobs
            .list(&account, &filter, next.as_ref(), 2)
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].id(), first.id());
        assert_eq!(next, None);
        let other = AccountId("acct_b".into());
        assert!(s
            .jobs
            .list(&other, &filter, None, 2)
            .await
            .unwrap()
            .0
            .is_empty());

        // Idempotency keys and retries written with their job: tests/contract.rs, which runs
        // on these adapters too (tests/contracts.rs).

        // Past their retention, jobs read as gone.
        m.clock.advance(time::Duration::days(2));
        assert_eq!(s.jobs.get(first.id()).await.unwrap(), None);
        assert!(s
            .jobs
            .list(&account, &filter, None, 10)
            .await
            .unwrap()
            .0
            .is_empty());
    }
}
