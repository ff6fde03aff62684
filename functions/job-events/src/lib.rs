//! The job-events function: the job table's stream is the outbox, and this is its one consumer.
//! A record is one write of a job (its old and new images): [`horizon_app::outbox::apply`]
//! applies everything that write causes (webhook deliveries, the dashboard's counts and lists);
//! or a webhook delivery attempt's record: [`horizon_app::outbox::follow`] queues the next
//! attempt or dead-letters the message.
//! Each job's records are handled in order (different jobs side by side); the earliest record
//! that fails is reported in `batchItemFailures`, so the event source mapping retries from there
//! (a record handled twice is applied once). The local runner calls the same
//! handler with the batches it reads from the stream.
//!
//! The mapping retries a failing record until it is a day old; nothing is given up. A record
//! that fails for a reason of its own (not an outage: it cannot be read, or applying it fails
//! [`POISON_TRIES`] times) is parked with its content ([`horizon_app::ports::ParkedRecords`])
//! so that the records behind it go on, and so is one still failing near the day's end. A
//! replay request on a parked record comes back through the stream and is applied here.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use horizon_app::outbox;
use horizon_app::ports::{Counts, ParkedRecord};
use horizon_app::Services;
use horizon_domain::{Error, Result};

/// How many jobs' records are applied at once.
const CONCURRENCY: usize = 16;
/// Tries of a record failing for a reason of its own before it is parked.
pub const POISON_TRIES: u32 = 3;
/// The age at which a record still failing (an outage that has lasted most of a day) is parked
/// rather than left to the mapping's limit (`MaximumRecordAgeInSeconds`, a day).
pub const PARK_AGE: time::Duration = time::Duration::hours(23);

pub struct JobEvents {
    services: Services,
    /// Failed tries of the records that failed lately, by sequence number (one instance reads
    /// a shard at a time, so the count holds across its retries of the batch; a new instance
    /// starts again from nothing, which only delays a parking).
    failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl JobEvents {
    pub fn new(services: Services) -> Self {
        JobEvents {
            services,
            failures: Default::default(),
        }
    }

    /// One batch of stream records. The effects that may run side by side (webhook deliveries,
    /// monitored tags) run for each job's records in order, different jobs at once (at most
    /// [`CONCURRENCY`]); then the writes' counts are committed together (they share a few
    /// counter items). The earliest record that failed is reported; the
    /// stream gives it and everything after it again (a write already applied is skipped at the
    /// cost of one read).
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        use futures_util::StreamExt;
        let mut jobs: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, record) in event.records.iter().enumerate() {
            let key = match record.change.keys.get("pk") {
                Some(serde_dynamo::AttributeValue::S(pk)) => pk.clone(),
                _ => format!("#{i}"),
            };
            match jobs.iter_mut().find(|(k, _)| *k == key) {
                Some((_, records)) => records.push(i),
                None => jobs.push((key, vec![i])),
            }
        }
        let records = &event.records;
        let prepared = futures_util::stream::iter(jobs)
            .map(|(_, indexes)| async move {
                let mut out = Vec::new();
                for i in indexes {
                    let result = self.prepare(&records[i]).await;
                    let failed = result.is_err();
                    out.push((i, result));
                    if failed {
                        break;
                    }
                }
                out
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut prepared: Vec<(usize, Result<Option<Counts>>)> =
            prepared.into_iter().flatten().collect();
        prepared.sort_by_key(|(i, _)| *i);
        // The counts of every write before the first failure, committed together.
        // Where the stream is to go on from (the first record not applied), if not after the
        // batch.
        let mut again = None;
        let mut writes: Vec<(usize, Counts)> = Vec::new();
        for (i, result) in prepared {
            match result {
                Ok(Some(counts)) => writes.push((i, counts)),
                Ok(None) => {}
                Err(e) => {
                    // A record that fails for a reason of its own is parked, and the stream
                    // goes on after it (what came after it in this batch comes again).
                    again = match self.park_if_poison(&records[i], &e).await {
                        true => records.get(i + 1).map(|_| i + 1),
                        false => {
                            let seq = records[i].change.sequence_number.as_deref();
                            tracing::warn!(error = %e, sequence_number = ?seq, "stream record not applied; it will be retried");
                            Some(i)
                        }
                    };
                    break;
                }
            }
        }
        if let Some((first, _)) = writes.first() {
            let counts: Vec<Counts> = writes.iter().map(|(_, c)| c.clone()).collect();
            if let Err(e) = outbox::commit(&self.services, &counts).await {
                tracing::warn!(error = %e, "the batch's counts not committed; its records will be retried");
                again = Some(*first);
            }
        }
        let mut response = DynamoDbEventResponse::default();
        if let Some(i) = again {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = records[i].change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// Counts a failed try of `record` and parks it when it is poison: it failed
    /// [`POISON_TRIES`] times for a reason of its own, or it is still failing at [`PARK_AGE`].
    /// An outage's errors (`Unavailable`) are waited out: the record is retried. `true` when
    /// the record is parked and the stream may go on past it.
    async fn park_if_poison(&self, record: &EventRecord, error: &Error) -> bool {
        let seq = record.change.sequence_number.clone().unwrap_or_default();
        let tries = match self.failures.lock() {
            Ok(mut failures) => {
                if failures.len() > 10_000 {
                    failures.clear();
                }
                let tries = failures.entry(seq.clone()).or_default();
                *tries += 1;
                *tries
            }
            Err(_) => 1,
        };
        let now = self.services.clock.now();
        let age = horizon_aws::stream::written_at(record).map_or(0, |at| now.unix_timestamp() - at);
        let poison = match error {
            Error::Unavailable(_) => age >= PARK_AGE.whole_seconds(),
            _ => tries >= POISON_TRIES || age >= PARK_AGE.whole_seconds(),
        };
        if !poison {
            return false;
        }
        let parked = ParkedRecord {
            id: seq.clone(),
            job: horizon_aws::stream::job_of(record),
            error: error.to_string(),
            parked_at: horizon_domain::rfc3339(now),
            replays: 0,
            content: horizon_aws::stream::content(record),
        };
        match self.services.parked.park(&parked).await {
            Ok(()) => {
                tracing::error!(sequence_number = %seq, job_id = ?parked.job, tries, error = %error, "a stream record that keeps failing is parked; replay it with `horizon-local outbox replay` or the dashboard");
                if let Ok(mut failures) = self.failures.lock() {
                    failures.remove(&seq);
                }
                true
            }
            Err(e) => {
                tracing::error!(sequence_number = %seq, error = %e, "a poison record could not be parked; it is retried");
                false
            }
        }
    }

    /// A parked record asked to be replayed: applied as the record it holds, then unparked;
    /// when it fails again it stays parked, with the new error (no retry loop: the operator
    /// replays it again).
    async fn replay(&self, parked: ParkedRecord) -> Result<()> {
        let applied = async {
            let record = horizon_aws::stream::from_content(&parked.content)?;
            let change = horizon_aws::stream::change(&record)?;
            if matches!(change, horizon_aws::stream::Change::Replay(_)) {
                return Err(Error::Internal("a replay of a replay".into()));
            }
            if let Some(counts) = self.apply_change(change).await? {
                outbox::commit(&self.services, &[counts]).await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        match applied {
            Ok(()) => {
                tracing::info!(sequence_number = %parked.id, job_id = ?parked.job, "a parked record was replayed and applied");
                Ok(self.services.parked.unpark(&parked.id).await?)
            }
            Err(e) => {
                tracing::warn!(sequence_number = %parked.id, error = %e, "a parked record's replay failed; it stays parked");
                let again = ParkedRecord {
                    error: e.to_string(),
                    replays: parked.replays + 1,
                    parked_at: horizon_domain::rfc3339(self.services.clock.now()),
                    ..parked
                };
                Ok(self.services.parked.park(&again).await?)
            }
        }
    }

    /// A record's effects that may run beside other jobs'; the counts still to commit.
    async fn prepare(&self, record: &EventRecord) -> Result<Option<Counts>> {
        let change = horizon_aws::stream::change(record)
            .map_err(|e| Error::Internal(format!("a stream record that cannot be read: {e}")))?;
        if let horizon_aws::stream::Change::Replay(parked) = change {
            self.replay(parked).await?;
            return Ok(None);
        }
        self.apply_change(change).await
    }

    /// The effects of one change (all but the counts, which are returned to commit).
    async fn apply_change(&self, change: horizon_aws::stream::Change) -> Result<Option<Counts>> {
        use horizon_aws::stream::Change;
        let (before, after) = match change {
            Change::Job(before, Some(after)) => (before, after),
            Change::Attempt(then) => {
                outbox::follow(&self.services, &then).await?;
                return Ok(None);
            }
            Change::Replay(_) => return Ok(None), // handled by `prepare`
            Change::Job(Some(before), None) => {
                // Removed, by a delete or by its expiry: either way it leaves the lists.
                return Ok(outbox::removal(&before));
            }
            Change::Job(None, None) | Change::Other => return Ok(None), // no effects
        };
        let span = horizon_runtime::telemetry::job_span(after.id());
        span.record("account", tracing::field::display(after.account()));
        if let Ok(lag) =
            u64::try_from((self.services.clock.now() - after.updated_at()).whole_milliseconds())
        {
            tracing::debug!(parent: &span, version = after.version(), status = %after.status(), lag_ms = lag, "job write read from the stream");
        }
        tracing::Instrument::instrument(
            outbox::prepare(&self.services, before.as_ref(), &after),
            span,
        )
        .await
    }
}

/// Runs the function in Lambda: logging, configuration and clients once, then one call per batch.
pub async fn run() -> std::result::Result<(), lambda_runtime::Error> {
    horizon_runtime::telemetry::init();
    let handler = std::sync::Arc::new(JobEvents::new(horizon_aws::services::from_env().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Event>| {
            let handler = handler.clone();
            async move { Ok::<_, std::convert::Infallible>(handler.handle(event.payload).await) }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_app::events::DeliveryMessage;
    use horizon_app::ports::{DeliveryQueue, MetricsStore, StoreError, StoreResult};
    use horizon_domain::{rfc3339, AccountId, EventType, JobId, Subscription, WebhookId};
    use std::sync::Arc;
    use std::time::Duration;

    fn fixture(name: &str) -> Event {
        let path = format!(
            "{}/../../tests/fixtures/events/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// In-memory services whose clock reads a second after the fixtures' records were written.
    fn memory() -> horizon_app::memory::Memory {
        let memory = Services::in_memory(horizon_app::memory::test_config().unwrap());
        memory
            .clock
            .set(time::OffsetDateTime::from_unix_timestamp(1_795_600_803).unwrap());
        memory
    }

    /// Stores the jobs the records of `event` write, as they are after it (a job deleted since
    /// its write emits no webhook).
    async fn store_jobs(memory: &horizon_app::memory::Memory, event: &Event) {
        for record in &event.records {
            if let Ok(horizon_aws::stream::Change::Job(_, Some(job))) =
                horizon_aws::stream::change(record)
            {
                let _ = memory.services.jobs.delete(job.id()).await;
                let along = horizon_app::ports::Along::Nothing;
                memory.services.jobs.create(&job, along).await.unwrap();
            }
        }
    }

    /// Hands `event` to the handler as the event source mapping does: again from the record
    /// it reports, until it reports none (at most `rounds` times). Returns how many calls
    /// reported a failure.
    async fn until_done(handler: &JobEvents, mut event: Event, rounds: usize) -> usize {
        for round in 0..rounds {
            let response = handler.handle(event.clone()).await;
            let Some(failed) = response.batch_item_failures.first() else {
                return round;
            };
            let at = event
                .records
                .iter()
                .position(|r| r.change.sequence_number == failed.item_identifier)
                .unwrap();
            event.records.drain(..at);
        }
        panic!("still failing after {rounds} calls");
    }

    #[tokio::test]
    async fn a_batch_applies_each_write_once_and_stops_at_a_record_it_cannot_read() {
        let memory = memory();
        let handler = JobEvents::new(memory.services.clone());
        for _ in 0..2 {
            let response = handler.handle(fixture("job-events-stream.json")).await;
            assert!(response.batch_item_failures.is_empty());
        }
        // The job failed after a second of work: counted once, under its type and its queue.
        let counters = memory.services.dashboard.counters().await.unwrap();
        assert_eq!(counters.len(), 2, "{counters:?}");
        assert!(counters
            .iter()
            .all(|c| (c.processed, c.failed, c.runtime_ms) == (1, 1, 1000)));

        let response = handler.handle(fixture("job-events-malformed.json")).await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failed, [Some("100000000000000000002".to_owned())]);
    }

    /// Records that cannot be read are retried, then parked with their content after
    /// [`POISON_TRIES`] tries, each in turn: the stream goes on past them, nothing is dropped.
    #[tokio::test]
    async fn a_poison_record_is_parked_with_its_content_and_the_stream_goes_on() {
        let memory = memory();
        let handler = JobEvents::new(memory.services.clone());
        let event = fixture("job-events-malformed.json");
        let failures = until_done(&handler, event.clone(), 20).await;
        // Two failed tries, then the third parks it and the stream goes on from the next.
        assert_eq!(
            failures, POISON_TRIES as usize,
            "calls that reported a failure"
        );
        let parked = memory.services.parked.parked(10).await.unwrap();
        let ids: Vec<&str> = parked.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["100000000000000000002"]);
        // The record behind it (the job failing) was applied.
        let counters = memory.services.dashboard.counters().await.unwrap();
        assert!(
            !counters.is_empty() && counters.iter().all(|c| (c.processed, c.failed) == (1, 1)),
            "{counters:?}"
        );
        let first = &parked[0];
        assert_eq!(first.job.as_deref(), Some("job_01JQZZZZZZZZZZZZZZZZZZZZZY"));
        assert!(first.error.contains("cannot be read"), "{}", first.error);
        let kept = horizon_aws::stream::from_content(&first.content).unwrap();
        assert_eq!(
            serde_json::to_value(&kept).unwrap(),
            serde_json::to_value(&event.records[0]).unwrap()
        );
    }

    /// An outage's errors are waited out, however often they come: the record is retried,
    /// not parked, until it is nearly a day old; then it is parked rather than lost.
    #[tokio::test]
    async fn an_outage_is_waited_out_and_only_a_day_old_record_is_parked() {
        let memory = memory();
        let mut services = memory.services.clone();
        services.deliveries = Arc::new(Down(memory.services.clone()));
        let now = memory.services.clock.now();
        let account = AccountId("acct_fixture".into());
        memory
            .services
            .accounts
            .put_webhook(&account, &failed_hook(now))
            .await
            .unwrap();
        let handler = JobEvents::new(services);
        store_jobs(&memory, &fixture("job-events-stream.json")).await;
        for _ in 0..10 {
            let response = handler.handle(fixture("job-events-stream.json")).await;
            assert_eq!(response.batch_item_failures.len(), 1);
        }
        assert!(memory.services.parked.parked(10).await.unwrap().is_empty());
        memory.clock.advance(PARK_AGE);
        let response = handler.handle(fixture("job-events-stream.json")).await;
        assert!(response.batch_item_failures.is_empty());
        let parked = memory.services.parked.parked(10).await.unwrap();
        assert_eq!(parked.len(), 1);
        assert!(
            parked[0].error.contains("unavailable"),
            "{}",
            parked[0].error
        );
    }

    /// A parked record replayed (its replay request read from the stream) is applied once,
    /// and leaves; replayed while its cause lasts, it stays parked with the new error.
    #[tokio::test]
    async fn a_replayed_record_is_applied_once_and_leaves() {
        let memory = memory();
        let now = memory.services.clock.now();
        let account = AccountId("acct_fixture".into());
        memory
            .services
            .accounts
            .put_webhook(&account, &failed_hook(now))
            .await
            .unwrap();
        let broken = Arc::new(Broken {
            inner: memory.services.clone(),
            broken: std::sync::atomic::AtomicBool::new(true),
        });
        let mut services = memory.services.clone();
        services.deliveries = broken.clone();
        let handler = JobEvents::new(services);
        store_jobs(&memory, &fixture("job-events-stream.json")).await;
        let failures = until_done(&handler, fixture("job-events-stream.json"), 10).await;
        assert_eq!(failures, POISON_TRIES as usize - 1);
        assert!(memory.queue.deliveries().unwrap().is_empty());
        let parked = memory.services.parked.parked(10).await.unwrap();
        assert_eq!(parked.len(), 1);

        // Replayed while still broken: it stays, with the count of replays.
        let response = handler.handle(replay_request(&parked[0])).await;
        assert!(response.batch_item_failures.is_empty());
        let still = memory.services.parked.parked(10).await.unwrap();
        assert_eq!((still.len(), still[0].replays), (1, 1));

        broken
            .broken
            .store(false, std::sync::atomic::Ordering::SeqCst);
        for _ in 0..2 {
            let response = handler.handle(replay_request(&still[0])).await;
            assert!(response.batch_item_failures.is_empty());
        }
        assert!(memory.services.parked.parked(10).await.unwrap().is_empty());
        assert_eq!(memory.queue.deliveries().unwrap().len(), 1);
        let counters = memory.services.dashboard.counters().await.unwrap();
        assert!(counters.iter().all(|c| c.processed == 1), "{counters:?}");
    }

    /// The stream record of a replay request on `parked` (its item, `replayAt` set).
    fn replay_request(parked: &ParkedRecord) -> Event {
        let image = serde_json::json!({
            "pk": {"S": "OUTBOX#PARKED"},
            "sk": {"S": parked.id},
            "job": {"S": parked.job},
            "error": {"S": parked.error},
            "parkedAt": {"S": parked.parked_at},
            "replays": {"N": parked.replays.to_string()},
            "content": {"S": parked.content},
            "replayAt": {"S": "2026-11-24T00:00:04Z"},
        });
        serde_json::from_value(serde_json::json!({"Records": [{
            "eventID": "e-replay",
            "eventName": "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_795_600_803,
                "Keys": {"pk": {"S": "OUTBOX#PARKED"}, "sk": {"S": parked.id}},
                "NewImage": image,
                "SequenceNumber": "900000000000000000001",
                "SizeBytes": 512,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        }]}))
        .unwrap()
    }

    /// An account webhook on failed jobs, made at `now`.
    fn failed_hook(now: time::OffsetDateTime) -> Subscription {
        Subscription {
            id: WebhookId::new(now),
            url: "https://hooks.example.com/horizon".into(),
            events: vec![EventType::Failed],
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            created_at: rfc3339(now),
            disabled: false,
            previous: None,
        }
    }

    /// A delivery queue that is down (an outage: `Unavailable`).
    struct Down(Services);

    #[async_trait::async_trait]
    impl DeliveryQueue for Down {
        async fn send(&self, _: &DeliveryMessage, _: Duration) -> StoreResult<()> {
            Err(StoreError::Unavailable("SQS SendMessage: injected".into()))
        }
        async fn dead_letter(&self, message: &DeliveryMessage) -> StoreResult<()> {
            self.0.deliveries.dead_letter(message).await
        }
        async fn retry_later(&self, receipt: &str, delay: Duration) -> StoreResult<()> {
            self.0.deliveries.retry_later(receipt, delay).await
        }
    }

    /// A delivery queue that refuses every message while it is broken (a fault of the
    /// record's own, not an outage).
    struct Broken {
        inner: Services,
        broken: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl DeliveryQueue for Broken {
        async fn send(&self, message: &DeliveryMessage, delay: Duration) -> StoreResult<()> {
            if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Internal("refused: injected".into()));
            }
            self.inner.deliveries.send(message, delay).await
        }
        async fn dead_letter(&self, message: &DeliveryMessage) -> StoreResult<()> {
            self.inner.deliveries.dead_letter(message).await
        }
        async fn retry_later(&self, receipt: &str, delay: Duration) -> StoreResult<()> {
            self.inner.deliveries.retry_later(receipt, delay).await
        }
    }

    /// Stands in for the queue and the counters, and crashes once where a test says.
    struct Crashing {
        inner: Services,
        deliveries: std::sync::atomic::AtomicBool,
        counts: std::sync::atomic::AtomicBool,
    }

    impl Crashing {
        fn strikes(flag: &std::sync::atomic::AtomicBool) -> StoreResult<()> {
            match flag.swap(false, std::sync::atomic::Ordering::SeqCst) {
                true => Err(StoreError::Internal("crash injected".into())),
                false => Ok(()),
            }
        }
    }

    #[async_trait::async_trait]
    impl DeliveryQueue for Crashing {
        async fn send(&self, message: &DeliveryMessage, delay: Duration) -> StoreResult<()> {
            Crashing::strikes(&self.deliveries)?;
            self.inner.deliveries.send(message, delay).await
        }
        async fn dead_letter(&self, message: &DeliveryMessage) -> StoreResult<()> {
            Crashing::strikes(&self.deliveries)?;
            self.inner.deliveries.dead_letter(message).await
        }
        async fn retry_later(&self, receipt: &str, delay: Duration) -> StoreResult<()> {
            self.inner.deliveries.retry_later(receipt, delay).await
        }
    }

    #[async_trait::async_trait]
    impl MetricsStore for Crashing {
        async fn applied(&self, job: &JobId, version: u64) -> StoreResult<bool> {
            self.inner.metrics.applied(job, version).await
        }
        async fn active_jobs(&self, account: &AccountId) -> StoreResult<i64> {
            self.inner.metrics.active_jobs(account).await
        }
        async fn processing_jobs(&self, account: &AccountId) -> StoreResult<i64> {
            self.inner.metrics.processing_jobs(account).await
        }
        async fn apply(&self, writes: &[Counts]) -> StoreResult<usize> {
            Crashing::strikes(&self.counts)?;
            self.inner.metrics.apply(writes).await
        }
        async fn census(&self) -> StoreResult<horizon_app::ports::Census> {
            self.inner.metrics.census().await
        }
        async fn kept_counts(&self) -> StoreResult<Vec<horizon_app::ports::KeptCount>> {
            self.inner.metrics.kept_counts().await
        }
        async fn repair(&self, seen: &horizon_app::ports::KeptCount, to: i64) -> StoreResult<bool> {
            self.inner.metrics.repair(seen, to).await
        }
    }

    /// A consumer that crashes after the job's write and before each of its effects (the
    /// webhook delivery, the counts) reports the record, which comes again; the second time each
    /// effect is there once: one delivery id, the job counted once.
    #[tokio::test]
    async fn a_crash_before_each_effect_leaves_the_write_to_be_applied_once() {
        use std::sync::atomic::AtomicBool;
        for (deliveries, counts) in [(true, false), (false, true)] {
            let memory = memory();
            let now = memory.services.clock.now();
            let hook = failed_hook(now);
            let account = AccountId("acct_fixture".into());
            memory
                .services
                .accounts
                .put_webhook(&account, &hook)
                .await
                .unwrap();
            let crashing = Arc::new(Crashing {
                inner: memory.services.clone(),
                deliveries: AtomicBool::new(deliveries),
                counts: AtomicBool::new(counts),
            });
            let mut services = memory.services.clone();
            services.deliveries = crashing.clone();
            services.metrics = crashing.clone();
            let handler = JobEvents::new(services);
            store_jobs(&memory, &fixture("job-events-stream.json")).await;

            let crashed = handler.handle(fixture("job-events-stream.json")).await;
            assert_eq!(
                crashed.batch_item_failures.len(),
                1,
                "{deliveries} {counts}"
            );
            let again = handler.handle(fixture("job-events-stream.json")).await;
            assert!(again.batch_item_failures.is_empty());

            let ids: std::collections::BTreeSet<_> = memory
                .queue
                .deliveries()
                .unwrap()
                .into_iter()
                .map(|(m, _)| m.delivery_id)
                .collect();
            assert_eq!(ids.len(), 1, "{deliveries} {counts}: {ids:?}");
            let counters = memory.services.dashboard.counters().await.unwrap();
            assert!(
                counters.iter().all(|c| c.processed == 1),
                "{deliveries} {counts}: {counters:?}"
            );
        }
    }
}
