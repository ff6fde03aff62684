//! The job table's stream, read as Lambda's DynamoDB event source mapping reads it for the
//! job-events function: shard by shard, in order, in batches; records of other items filtered
//! out (the mapping's filter); a batch's failure retried from the failed record, until the
//! record is [`MAX_RECORD_AGE`] old (the handler parks a poison record itself, and one still
//! failing near that age; in AWS the mapping's `MaximumRecordAgeInSeconds`). Where it got to
//! in each shard is kept in the table after every batch with a job in it, so a runner killed
//! and started again goes on from there.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::dynamodb::Event;
use horizon_app::Services;
use horizon_aws::stream::{passes_filter, StreamReader};
use horizon_job_events::JobEvents;
use tokio::sync::watch;

/// Records per batch (the mapping's `BatchSize`).
const BATCH_SIZE: i32 = 100;
/// The age at which a record still failing is given up (`MaximumRecordAgeInSeconds`), in
/// seconds.
const MAX_RECORD_AGE: i64 = 86_400;
/// Between reads of the shards with nothing new: 200 ms after a record with effects, doubling
/// up to [`IDLE_MAX`] while there are none. A write with effects made in this process (the
/// runner's API, workers and dispatchers: `horizon_aws::written::WRITTEN`) starts a read at once,
/// so the runner's own jobs see their effects in well under a second while an idle runner
/// costs LocalStack almost nothing; a write from another process waits at most `IDLE_MAX`.
const IDLE: Duration = Duration::from_millis(200);
const IDLE_MAX: Duration = Duration::from_secs(5);

/// Reads the stream until `stopped` turns true; a batch in hand is finished first.
pub async fn poll_stream(services: Services, mut stopped: watch::Receiver<bool>) {
    let sdk = horizon_aws::sdk_config().await;
    // Not metered: in AWS the event source mapping's reads and checkpoints are Lambda's own.
    let store = horizon_aws::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        services.config.stack.table.clone(),
        services.clock.clone(),
    );
    let reader = loop {
        match StreamReader::open(&sdk, store.clone()).await {
            Ok(reader) => break reader,
            Err(e) => {
                tracing::error!(error = %e, "the job table's stream cannot be read; job side effects wait");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
    };
    let handler = JobEvents::new(services);
    // Per shard: the iterator to read next (`None`: closed and read to its end), and how often
    // the record it points at has failed.
    let mut shards: HashMap<String, (Option<String>, u32)> = HashMap::new();
    let mut listed = std::time::Instant::now() - Duration::from_secs(60);
    let mut idle = IDLE;
    while !*stopped.borrow() {
        // New shards are rare (a table's stream starts one every few hours in AWS, never in
        // LocalStack): look for them every minute.
        if listed.elapsed() >= Duration::from_secs(60) {
            match reader.shards().await {
                Ok(ids) => {
                    let new: Vec<String> = ids
                        .into_iter()
                        .filter(|id| !shards.contains_key(id))
                        .collect();
                    for id in new {
                        match reader.start(&id).await {
                            Ok(it) => {
                                shards.insert(id, (Some(it), 0));
                            }
                            Err(e) => {
                                tracing::warn!(shard = %id, error = %e, "shard not opened; trying again")
                            }
                        }
                    }
                    listed = std::time::Instant::now();
                }
                Err(e) => tracing::warn!(error = %e, "stream shards not listed; trying again"),
            }
        }
        // Read again at once after a full batch (more may wait) or one with effects (their
        // sequels follow); otherwise wait: a batch of heartbeats and checkpoints is no news.
        let (mut more, mut handled_any) = (false, false);
        for (shard, (iterator, failures)) in shards.iter_mut() {
            let Some(it) = iterator.take() else {
                continue;
            };
            match read_shard(&reader, &handler, shard, it, failures).await {
                Ok((next, read, handled)) => {
                    *iterator = next;
                    more |= read >= BATCH_SIZE as usize || handled > 0;
                    handled_any |= handled > 0;
                }
                Err(e) => {
                    tracing::warn!(shard = %shard, error = %e, "stream read failed; reading again from the checkpoint");
                    *iterator = reader.start(shard).await.ok();
                }
            }
        }
        if handled_any {
            idle = IDLE;
        }
        if !more {
            tokio::select! {
                _ = tokio::time::sleep(idle) => idle = (idle * 2).min(IDLE_MAX),
                _ = horizon_aws::written::WRITTEN.notified() => idle = IDLE,
                _ = stopped.changed() => {}
            }
        }
    }
}

/// One batch of one shard: read, filter, handle, checkpoint. Returns the iterator to go on
/// with, how many records were read and how many of them were handed over.
async fn read_shard(
    reader: &StreamReader,
    handler: &JobEvents,
    shard: &str,
    iterator: String,
    failures: &mut u32,
) -> horizon_app::ports::StoreResult<(Option<String>, usize, usize)> {
    let batch = reader.read(iterator, BATCH_SIZE).await?;
    let read = batch.records.len();
    let last = batch
        .records
        .last()
        .and_then(|r| r.change.sequence_number.clone());
    let mut event = Event::default();
    event.records = batch.records.into_iter().filter(passes_filter).collect();
    if event.records.is_empty() {
        // Nothing to hand over. No checkpoint either: it would be a record of its own, read
        // next time, and so on for ever; on a restart these few records are read and skipped.
        return Ok((batch.next, read, 0));
    }
    let handled: Vec<Option<String>> = event
        .records
        .iter()
        .map(|r| r.change.sequence_number.clone())
        .collect();
    let written_at: Vec<Option<i64>> = event
        .records
        .iter()
        .map(horizon_aws::stream::written_at)
        .collect();
    let response = horizon_aws::meter::as_function("job-events", handler.handle(event)).await;
    let failed = response
        .batch_item_failures
        .into_iter()
        .find_map(|f| f.item_identifier);
    let Some(failed) = failed else {
        *failures = 0;
        if let Some(seq) = &last {
            reader.checkpoint(shard, seq).await?;
        }
        return Ok((batch.next, read, handled.len()));
    };
    *failures += 1;
    // The records before the failed one are done.
    let position = handled.iter().position(|s| s.as_deref() == Some(&failed));
    if let Some(Some(done)) = position.and_then(|p| p.checked_sub(1)).map(|p| &handled[p]) {
        reader.checkpoint(shard, done).await?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let age = position
        .and_then(|p| written_at[p])
        .map_or(0, |at| now - at);
    if age >= MAX_RECORD_AGE {
        tracing::error!(shard, sequence_number = %failed, age_s = age, "a stream record kept failing for a day; it is given up");
        *failures = 0;
        reader.checkpoint(shard, &failed).await?;
        return Ok((Some(reader.start(shard).await?), read, handled.len()));
    }
    tokio::time::sleep(Duration::from_millis(100 << (*failures).min(5))).await;
    Ok((Some(reader.at(shard, &failed).await?), read, handled.len()))
}
