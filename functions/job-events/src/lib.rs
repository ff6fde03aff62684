//! The job-events function: the job table's stream is the outbox, and this is its one consumer.
//! A record is one write of a job (its old and new images): [`horizon_app::outbox::apply`]
//! applies everything that write causes (webhook deliveries, the dashboard's counts and lists);
//! or a webhook delivery attempt's record: [`horizon_app::outbox::follow`] queues the next
//! attempt or dead-letters the message.
//! Each job's records are handled in order (different jobs side by side); the earliest record
//! that fails is reported in `batchItemFailures`, so the event source mapping retries from there
//! (a record handled twice is applied once). The local runner calls the same
//! handler with the batches it reads from the stream.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use horizon_app::outbox;
use horizon_app::ports::Counts;
use horizon_app::Services;
use horizon_domain::{Error, Result};

/// How many jobs' records are applied at once.
const CONCURRENCY: usize = 16;

pub struct JobEvents {
    services: Services,
}

impl JobEvents {
    pub fn new(services: Services) -> Self {
        JobEvents { services }
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
        let mut failed = None;
        let mut writes: Vec<(usize, Counts)> = Vec::new();
        for (i, result) in prepared {
            match result {
                Ok(Some(counts)) => writes.push((i, counts)),
                Ok(None) => {}
                Err(e) => {
                    failed = Some((i, e));
                    break;
                }
            }
        }
        if let Some((first, _)) = writes.first() {
            let counts: Vec<Counts> = writes.iter().map(|(_, c)| c.clone()).collect();
            if let Err(e) = outbox::commit(&self.services, &counts).await {
                failed = Some((*first, e));
            }
        }
        let mut response = DynamoDbEventResponse::default();
        if let Some((i, e)) = failed {
            let seq = records[i].change.sequence_number.clone();
            tracing::warn!(error = %e, sequence_number = ?seq, "stream record not applied; it will be retried");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = seq;
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// A record's effects that may run beside other jobs'; the counts still to commit.
    async fn prepare(&self, record: &EventRecord) -> Result<Option<Counts>> {
        use horizon_aws::stream::Change;
        let change = horizon_aws::stream::change(record)
            .map_err(|e| Error::Internal(format!("a stream record that cannot be read: {e}")))?;
        let (before, after) = match change {
            Change::Job(before, Some(after)) => (before, after),
            Change::Attempt(then) => {
                outbox::follow(&self.services, &then).await?;
                return Ok(None);
            }
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

    #[tokio::test]
    async fn a_batch_applies_each_write_once_and_stops_at_a_record_it_cannot_read() {
        let memory = Services::in_memory(horizon_app::memory::test_config().unwrap());
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
    }

    #[async_trait::async_trait]
    impl MetricsStore for Crashing {
        async fn applied(&self, job: &JobId, version: u64) -> StoreResult<bool> {
            self.inner.metrics.applied(job, version).await
        }
        async fn active_jobs(&self, account: &AccountId) -> StoreResult<i64> {
            self.inner.metrics.active_jobs(account).await
        }
        async fn apply(&self, writes: &[Counts]) -> StoreResult<usize> {
            Crashing::strikes(&self.counts)?;
            self.inner.metrics.apply(writes).await
        }
    }

    /// A consumer that crashes after the job's write and before each of its effects (the
    /// webhook delivery, the counts) reports the record, which comes again; the second time each
    /// effect is there once: one delivery id, the job counted once.
    #[tokio::test]
    async fn a_crash_before_each_effect_leaves_the_write_to_be_applied_once() {
        use std::sync::atomic::AtomicBool;
        for (deliveries, counts) in [(true, false), (false, true)] {
            let memory = Services::in_memory(horizon_app::memory::test_config().unwrap());
            let now = memory.services.clock.now();
            let hook = Subscription {
                id: WebhookId::new(now),
                url: "https://hooks.example.com/horizon".into(),
                events: vec![EventType::Failed],
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
                created_at: rfc3339(now),
                disabled: false,
            };
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
