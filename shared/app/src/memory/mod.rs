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
    AccountStore, Along, Blob, BlobStore, Census, Clock, CountOf, Counts, DashboardStore,
    DeliveryLog, DeliveryQueue, Fleet, IdempotencyRecord, JobFilter, JobStore, KeptCount,
    MetricsStore, ParkedRecord, ParkedRecords, PresignedPut, ProcessingChange, QueueDepth,
    QueueInfo, StoreError, StoreResult, StoredBucket, SystemClock, UploadStore, WaitingList,
    WorkMessage, WorkQueue, COUNT_SCAN_CAP,
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
    /// Behind `jobs`, `uploads`, `accounts`, `metrics`, `parked`, `dashboard` and `delivery_log`.
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
            parked: store.clone(),
            waiting: store.clone(),
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
            bad_keys: Arc::new(crate::limits::Strikes::new(
                "keys",
                config.api.bad_keys_per_minute,
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
    /// Each account's jobs processing, as applied writes count them.
    processing: HashMap<AccountId, i64>,
    /// When each kept count (an account's active jobs, the pending gauge) last changed.
    changed: HashMap<CountOf, OffsetDateTime>,
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
    /// The outbox's parked records by id, and whether a replay was asked for.
    parked: BTreeMap<String, (ParkedRecord, bool)>,
    /// Jobs waiting for their account's cap, by account and job id (oldest first).
    waiting: BTreeMap<(AccountId, String), WorkMessage>,
    /// Each account's shared request bucket.
    rate_buckets: HashMap<AccountId, StoredBucket>,
    /// Whether the request buckets and strike counts answer as if the table could not be
    /// reached.
    rate_buckets_down: bool,
    /// Failures per scope, client and minute (`limits::Strikes`).
    strikes: HashMap<(String, String, i64), u32>,
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

mod accounts;
mod dashboard;
mod deliveries;
mod jobs;
mod lambda;
mod outbox;
mod s3;
mod sqs;
#[cfg(test)]
mod tests;
mod uploads;
mod waiting;

pub use lambda::MemoryFleet;
pub use s3::MemoryBlobs;
pub use sqs::{MemoryQueue, MemoryQueues};
